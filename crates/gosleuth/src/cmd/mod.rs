//! One module per subcommand; each takes its clap `Args` and an [`Output`].

pub mod analyze;
pub mod binary;
pub mod core;
pub mod goroutines;
pub mod profile;

use crate::cli::{Cli, Command};
use crate::failure::CmdResult;
use crate::output::Output;

pub fn run(cli: Cli) -> CmdResult {
    let mut out = Output::new(cli.format, cli.color);
    match cli.command {
        Command::Analyze(args) => analyze::run(args, &mut out)?,
        Command::Goroutines(args) => goroutines::run(args, &mut out)?,
        Command::Binary(args) => binary::run(args, &mut out)?,
        Command::Profile(args) => profile::run(args, &mut out)?,
        Command::Core(args) => core::run(args, &mut out)?,
    }
    out.finish()?;
    Ok(())
}
