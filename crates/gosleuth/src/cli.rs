//! Command-line flags: what the user can ask for, validated and nothing more.
//! Building parsers, renderers and inputs from them happens in `cmd`.

use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd;

const ABOUT: &str = "Go incident investigation in one binary: tracebacks, goroutine dumps, \
pprof profiles, Go executables and core dumps, linked into one diagnosis.";

const LONG_ABOUT: &str = "\
gosleuth takes the artifacts of a Go incident and tells you what happened, which of your
frames is responsible, and what each piece of evidence means.

Start with `gosleuth analyze`: give it anything you have (a panic pasted from a log, a
SIGQUIT or /debug/pprof/goroutine dump, a profile, the executable, a core) and it
recognises each input by its content, not its name.";

const AFTER_HELP: &str = "\
Examples:
  gosleuth analyze crash.log                      diagnose a panic or fatal error
  kubectl logs pod/api --previous | gosleuth analyze -
  gosleuth goroutines dump.txt --min-count 100    where are thousands of goroutines stuck?
  gosleuth analyze crash.log --format json        the same report for scripts (schema in docs/)

Exit status: 0 analysed, 2 unusable input, 1 internal failure.";

#[derive(Debug, Parser)]
#[command(
    name = "gosleuth",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Output format: human text, one JSON object (versioned schema, see
    /// docs/), Markdown for tickets, or a standalone HTML page.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// When to colour text output. `auto` colours a terminal only and honours
    /// NO_COLOR and CLICOLOR_FORCE.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

// The variants differ in size (pprof's options are many), but a Command is
// parsed once per process: boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose an incident from any mix of artifacts.
    ///
    /// Each input is recognised by content: panic tracebacks and fatal errors
    /// (also inside log lines, JSON fields, CRI/journald prefixes), SIGQUIT and
    /// /debug/pprof/goroutine?debug=1|2 dumps, race detector reports. Reports
    /// the crash kind, the crashing goroutine, the frame that is really
    /// responsible, the goroutines that matter, and what each finding means.
    Analyze(cmd::analyze::Args),

    /// Group the goroutines of a dump by identical stack, panicparse-style.
    ///
    /// Readable at 100,000 goroutines: one entry per distinct stack with its
    /// count, state, wait times and creator; crashing goroutine first.
    Goroutines(cmd::goroutines::Args),

    /// Inspect a Go executable: build info, functions, address → source.
    ///
    /// Reads the pclntab, build info and DWARF of any Go ELF binary
    /// (stripped or not, PIE or not, cgo, amd64 or arm64, Go 1.16+) without a
    /// Go toolchain.
    Binary(cmd::binary::Args),

    /// Query pprof profiles with `go tool pprof`'s figures, much faster.
    ///
    /// `top`, `peek`, `tree`, `traces`, `list`, `diff --base`, flame graphs,
    /// `export` back to profile.proto, and `maps`: the share of CPU or
    /// allocation in Go map code, by operation and by your function that
    /// causes it. pprof's options work on every subcommand.
    Profile(cmd::profile::Args),

    /// Post-mortem of a Go core dump, without Delve: goroutines, stacks,
    /// the crash, variables and maps.
    ///
    /// `gosleuth core EXE CORE` summarises (Go version, signal, crashing
    /// goroutine and its stack, panic value or fatal message, goroutines by
    /// state and grouped); subcommands `goroutines`, `bt GOID`,
    /// `locals GOID FRAME`, `print [GOID FRAME] EXPR`, `maps`, `threads`.
    Core(cmd::core::Args),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Md,
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
