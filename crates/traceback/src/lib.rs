//! Reading Go traceback text: panics, fatal errors, goroutine dumps
//! (SIGQUIT, `runtime.Stack`, `/debug/pprof/goroutine?debug=1|2`) and race
//! detector reports, from Go 1.5 to 1.27, clean or dirty.
//!
//! Brief overview:
//! - [`scan`] reads bytes already in memory; [`scan_reader`] streams any
//!   `io::Read` in bounded memory and parses large inputs on several threads.
//! - Both return a [`Dump`]: the [`Trace`]s found (several traces in one log
//!   are each reported), with their panic chain, signal, [`Goroutine`]s and
//!   race reports. Identical stacks are stored once ([`Dump::stack`]).
//! - [`group`] buckets goroutines by identical stack, panicparse-style.
//!
//! Real input is dirty: log prefixes (timestamps, journald, CRI), traces
//! inside JSON log fields, CRLF, tabs turned into spaces, Markdown
//! auto-links, truncation mid-frame, unrelated lines interleaved. The scanner
//! never fails on such input: what it cannot use it lists in
//! [`Dump::skipped`] and carries on.
//!
//! This crate judges nothing: which frame is the culprit and what a crash
//! means is for `gosleuth-diagnose`.
//!
//! ```
//! let text = b"panic: assignment to entry in nil map\n\ngoroutine 1 [running]:\nmain.main()\n\t/go/src/app/main.go:7 +0x2c\n";
//! let dump = gosleuth_traceback::scan(text, &Default::default());
//! let trace = &dump.traces[0];
//! assert_eq!(trace.panics[0].message, "assignment to entry in nil map");
//! let frame = dump.stack(trace.goroutines[0].stack).frames[0];
//! assert_eq!(dump.str(frame.function), "main.main");
//! assert_eq!(frame.line, 7);
//! ```

#![deny(missing_docs)]

mod dirt;
mod group;
mod line;
mod model;
mod parallel;
mod scanner;

pub use group::{Group, GroupOptions, group};
pub use model::{
    Ancestor, CreatedBy, Dump, Elision, Frame, Goroutine, HeaderFlags, PanicMessage, RaceReport,
    RaceSection, Signal, Skipped, Stack, StackId, Sym, Trace, TraceFormat, Truncation,
};
pub use parallel::{scan, scan_reader, scan_with_progress};

/// How to scan.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScanOptions {
    /// Keep each frame's argument list (needed for `--exact` grouping and
    /// to show arguments; costs memory on huge dumps).
    pub keep_args: bool,
    /// How many skipped lines to keep with their reason.
    pub max_skipped: usize,
    /// Inputs larger than this are parsed on several threads.
    pub parallel_threshold: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            keep_args: true,
            max_skipped: 100,
            parallel_threshold: 8 << 20,
        }
    }
}
