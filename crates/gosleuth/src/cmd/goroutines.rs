//! `gosleuth goroutines`: the grouped goroutine view.

use anyhow::anyhow;
use regex::Regex;

use gosleuth_diagnose::{GroupFilter, goroutine_view};
use gosleuth_model::ArtifactKind;
use gosleuth_traceback::ScanOptions;

use crate::failure::{CmdResult, Failure};
use crate::input::Input;
use crate::output::{Output, warn};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Goroutine dump or traceback (`-` reads standard input).
    #[arg(value_name = "PATH")]
    pub input: String,

    /// Only groups whose state contains this text (`chan receive`, `Lock`).
    #[arg(long, value_name = "TEXT")]
    pub state: Option<String>,

    /// Only groups with a frame whose function or file matches.
    #[arg(long = "match", value_name = "REGEX")]
    pub matching: Option<String>,

    /// Only groups of at least N goroutines.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_count: u64,

    /// Group only goroutines whose arguments are identical too.
    #[arg(long)]
    pub exact: bool,

    /// Show each frame's arguments.
    #[arg(long)]
    pub args: bool,
}

pub fn run(args: Args, out: &mut Output) -> CmdResult {
    let matching = args
        .matching
        .as_deref()
        .map(Regex::new)
        .transpose()
        .map_err(|e| Failure::bad_input(anyhow!("--match: {e}")))?;
    let input = Input::open(&args.input)?;
    if ArtifactKind::sniff(input.head()) != ArtifactKind::Text {
        return Err(Failure::bad_input(anyhow!(
            "{} is not text: `goroutines` reads goroutine dumps and tracebacks",
            input.name()
        )));
    }
    let name = input.name().to_string();
    let mut opts = ScanOptions::default();
    opts.keep_args = args.args || args.exact;
    let dump = crate::input::scan_text(input, &opts)?;
    let Some(trace) = dump
        .traces
        .iter()
        .max_by_key(|t| (t.goroutine_count(), std::cmp::Reverse(t.first_line)))
        .filter(|t| t.goroutine_count() > 0)
    else {
        return Err(Failure::bad_input(anyhow!(
            "{name}: no goroutines found in {} lines",
            dump.lines
        )));
    };
    if dump.traces.len() > 1 {
        warn(format!(
            "{name} holds {} traces; showing the one with the most goroutines (lines {}-{})",
            dump.traces.len(),
            trace.first_line,
            trace.last_line
        ));
    }
    let crashing = gosleuth_diagnose::crashing_goroutine_of(trace, &dump);
    let filter = GroupFilter {
        state: args.state,
        matching,
        min_count: args.min_count,
        exact: args.exact,
        with_args: args.args || args.exact,
    };
    let view = goroutine_view(&name, &dump, trace, &filter, crashing);
    let colored = out.colored();
    let format = out.render_format();
    gosleuth_render::write_goroutines(&view, format, colored, out.writer())?;
    Ok(())
}
