//! `gosleuth goroutines`: the grouped goroutine view.

use crate::failure::CmdResult;
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Goroutine dump or traceback (`-` reads standard input).
    #[arg(value_name = "PATH")]
    pub input: String,
}

pub fn run(_args: Args, _out: &mut Output) -> CmdResult {
    todo!("goroutines")
}
