//! `gosleuth analyze`: every artifact in, one diagnosis out.
//!
//! One straight line: open the inputs (the only I/O), recognise each by
//! content, hand it to its evidence crate, diagnose, render.

use std::path::PathBuf;

use anyhow::anyhow;

use gosleuth_diagnose::{
    DiagnoseOptions, Report, SourceLine, TextEvidence, analyze_text, attach_source,
};
use gosleuth_model::ArtifactKind;
use gosleuth_traceback::{Dump, ScanOptions};

use crate::failure::{CmdResult, Failure};
use crate::input::Input;
use crate::output::{Output, warn};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Artifacts to analyse (`-` reads standard input). Each is recognised by
    /// its content: traceback text (also inside logs), goroutine dumps, race
    /// reports.
    #[arg(required = true, value_name = "PATH")]
    pub inputs: Vec<String>,

    /// Go source tree, to quote the culprit's line and name the map of a nil
    /// map write. Paths printed in the trace are matched by their trailing
    /// components.
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,

    /// Show each frame's arguments as printed.
    #[arg(long)]
    pub args: bool,
}

pub fn run(args: Args, out: &mut Output) -> CmdResult {
    let mut texts: Vec<(String, Dump)> = Vec::new();
    let mut unusable: Vec<String> = Vec::new();
    for name in &args.inputs {
        let input = Input::open(name)?;
        match ArtifactKind::sniff(input.head()) {
            ArtifactKind::Text => {
                let name = input.name().to_string();
                let mut scan_options = ScanOptions::default();
                // Arguments cost memory on huge dumps; keep them only to show.
                scan_options.keep_args = args.args;
                let dump = crate::input::scan_text(input, &scan_options)?;
                if dump.traces.is_empty() {
                    unusable.push(format!(
                        "{name}: no Go panic, fatal error, goroutine dump or race report in {} line{}",
                        dump.lines,
                        if dump.lines == 1 { "" } else { "s" }
                    ));
                }
                texts.push((name, dump));
            }
            other => unusable.push(format!(
                "{}: {} is not something `analyze` reads yet",
                input.name(),
                describe(other)
            )),
        }
    }
    let usable = texts.iter().any(|(_, d)| !d.traces.is_empty());
    if !usable {
        return Err(Failure::bad_input(anyhow!("{}", unusable.join("\n"))));
    }
    for u in &unusable {
        warn(u);
    }
    let evidence: Vec<TextEvidence<'_>> = texts
        .iter()
        .map(|(name, dump)| TextEvidence { input: name, dump })
        .collect();
    let mut options = DiagnoseOptions::default();
    options.with_args = args.args;
    let mut report = analyze_text(&evidence, &options);
    if let Some(root) = &args.source {
        add_source(&mut report, root);
    }
    let colored = out.colored();
    let format = out.render_format();
    gosleuth_render::write_report(&report, format, colored, out.writer())?;
    Ok(())
}

fn describe(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::ElfExecutable => "an ELF executable",
        ArtifactKind::ElfCore => "an ELF core dump",
        ArtifactKind::Pprof => "a pprof profile",
        ArtifactKind::LegacyTextProfile | ArtifactKind::LegacyCpuProfile => "a legacy profile",
        _ => "binary data of an unknown format",
    }
}

/// Reads the culprit's file from the source tree and attaches its line.
fn add_source(report: &mut Report, root: &std::path::Path) {
    let Some(culprit) = report.crash.as_ref().and_then(|c| c.culprit.clone()) else {
        return;
    };
    let Some(printed) = culprit.file.as_deref() else {
        return;
    };
    let found = gosleuth_source::candidate_paths(root, printed)
        .into_iter()
        .find(|p| p.is_file());
    let Some(path) = found else {
        warn(format!(
            "--source: {printed} not found under {} (tried its trailing path components)",
            root.display()
        ));
        return;
    };
    let Ok(src) = std::fs::read(&path) else {
        warn(format!("--source: cannot read {}", path.display()));
        return;
    };
    let text = src
        .split(|&b| b == b'\n')
        .nth(culprit.line.saturating_sub(1) as usize)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .unwrap_or_default();
    let writes = gosleuth_source::map_writes_on_line(&src, culprit.line);
    let receiver_field = match writes.as_slice() {
        [w] => receiver_field(&src, &path, culprit.line, &w.operand),
        _ => None,
    };
    // Quote the statement itself (without a trailing comment) when the
    // grammar found one on the line.
    let text = writes.first().map_or(text, |w| w.statement.clone());
    attach_source(
        report,
        &SourceLine {
            path: path.display().to_string(),
            text,
            index_writes: writes
                .into_iter()
                .map(|w| (w.operand, w.index_expression))
                .collect(),
            receiver_field,
        },
    );
}

/// When the map written is `recv.field` in a method, finds the struct's
/// declaration and every place of its package (the culprit's directory)
/// that creates the struct without the field.
fn receiver_field(
    src: &[u8],
    path: &std::path::Path,
    line: u32,
    operand: &str,
) -> Option<gosleuth_diagnose::ReceiverField> {
    let (recv, type_name) = gosleuth_source::receiver_at_line(src, line)?;
    let field = operand.strip_prefix(&format!("{recv}."))?;
    if field.contains(['.', '[', '(']) {
        return None;
    }
    let dir = path.parent()?;
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "go"))
        .collect();
    files.sort();
    let mut rf = gosleuth_diagnose::ReceiverField {
        type_name: type_name.clone(),
        field: field.to_string(),
        ..Default::default()
    };
    for file in files {
        let Ok(text) = std::fs::read(&file) else {
            continue;
        };
        if rf.field_type.is_none() {
            rf.field_type = gosleuth_source::struct_field_type(&text, &type_name, field);
        }
        for m in gosleuth_source::creations_missing_field(&text, &type_name, field) {
            rf.creations
                .push((file.display().to_string(), m.line, m.function, m.expression));
        }
    }
    Some(rf)
}
