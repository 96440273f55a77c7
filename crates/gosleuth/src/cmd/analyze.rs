//! `gosleuth analyze`: every artifact in, one diagnosis out.

use std::path::PathBuf;

use crate::failure::CmdResult;
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Artifacts to analyse (`-` reads standard input).
    #[arg(required = true, value_name = "PATH")]
    pub inputs: Vec<String>,

    /// Go source tree, to quote the culprit line and point at the map
    /// expression of a nil map write.
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
}

pub fn run(_args: Args, _out: &mut Output) -> CmdResult {
    todo!("analyze")
}
