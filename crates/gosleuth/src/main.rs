//! `gosleuth`: the command-line front end.
//!
//! This crate is glue: it parses flags, maps input files (the only place that
//! does I/O on artifacts), hands bytes to the evidence crates, and turns the
//! outcome into an exit status. It knows no artifact format itself.
//!
//! Exit statuses: 0 analysed, 2 unusable input (the message says what and
//! where), 1 internal failure. A closed pipe on stdout (`gosleuth ... | head`)
//! is a success, not an error.

mod cli;
mod cmd;
mod failure;
mod input;
mod output;
mod symbols;

use std::process::ExitCode;

use clap::Parser;

use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let outcome = cmd::run(cli);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) if failure.is_broken_pipe() => ExitCode::SUCCESS,
        Err(Failure::BadInput(err)) => {
            eprintln!("gosleuth: unusable input: {err:#}");
            ExitCode::from(2)
        }
        Err(Failure::Internal(err)) => {
            eprintln!("gosleuth: internal error: {err:#}");
            ExitCode::from(1)
        }
    }
}
