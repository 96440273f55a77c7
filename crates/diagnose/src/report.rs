//! The diagnosis as data: what renderers print, in every format.

use gosleuth_model::{CrashKind, Finding};

/// The whole diagnosis of one `gosleuth analyze` run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One entry per input, in the order given.
    pub inputs: Vec<InputSummary>,
    /// The crash, if any input shows one (or a dump's running goroutine).
    pub crash: Option<Crash>,
    /// Goroutines of the trace the crash comes from (or the first dump).
    pub goroutines: Option<GoroutineView>,
    /// Observations with their meaning, most severe first.
    pub findings: Vec<Finding>,
    /// Every trace found, for inputs holding several.
    pub traces: Vec<TraceSummary>,
    /// What could not be used, said plainly.
    pub warnings: Vec<String>,
    /// Profiles given to the analysis.
    pub profiles: Vec<crate::profile::ProfileSummary>,
    /// Executables given to the analysis.
    pub binaries: Vec<crate::BinaryFacts>,
    /// Core dumps given to the analysis (with their executable).
    pub cores: Vec<crate::CoreFacts>,
}

/// What one input was and what was read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSummary {
    /// The name as given (`-` is `<stdin>`).
    pub name: String,
    /// `traceback`, `goroutine dump`, `pprof profile`, ...
    pub kind: String,
    /// One line of detail (`2 traces, 3,021 goroutines, 1,204 lines`).
    pub detail: String,
}

/// One trace of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSummary {
    /// Input name.
    pub input: String,
    /// 1-based lines of the input.
    pub first_line: u64,
    /// See `first_line`.
    pub last_line: u64,
    /// Kind of crash or `goroutine_dump`.
    pub kind: CrashKind,
    /// The message, if any.
    pub message: Option<String>,
    /// Goroutines in it.
    pub goroutines: u64,
}

/// The crash: what, where, and who.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// What went wrong.
    pub kind: CrashKind,
    /// The text after `panic: ` / `fatal error: ` of the original panic
    /// (the first of a `[recovered]` chain).
    pub message: Option<String>,
    /// The line as the runtime printed it (`fatal error: concurrent map writes`).
    pub headline: Option<String>,
    /// The crashing goroutine.
    pub goroutine: Option<u64>,
    /// Its state as printed.
    pub state: Option<String>,
    /// The frame really responsible.
    pub culprit: Option<FrameView>,
    /// Index of the culprit in `stack`.
    pub culprit_index: Option<usize>,
    /// The panic chain, oldest first (one entry for a plain panic).
    pub panics: Vec<PanicView>,
    /// The signal, when one caused the crash.
    pub signal: Option<SignalView>,
    /// The crashing goroutine's frames, innermost first, with their roles.
    pub stack: Vec<FrameView>,
    /// Who created the crashing goroutine.
    pub created_by: Option<FrameView>,
    /// Who recovered and logged the panic, if it was recovered.
    pub recovered_by: Option<String>,
    /// Input the crash was read from.
    pub input: String,
    /// 1-based line of the trace in that input.
    pub line: u64,
}

/// One panic of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicView {
    /// The value as printed.
    pub message: String,
    /// Recovered, then another panic followed.
    pub recovered: bool,
    /// Recovered and re-panicked with the same value (Go 1.25+ marks it).
    pub repanicked: bool,
}

/// A signal line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalView {
    /// `SIGSEGV` (or a number from old Go).
    pub name: String,
    /// The faulting address.
    pub addr: Option<u64>,
    /// The faulting PC.
    pub pc: Option<u64>,
    /// `code=`.
    pub code: Option<u64>,
}

/// What a frame is, for the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameRole {
    /// Runtime internals (`runtime.*`, `internal/runtime/...`).
    Runtime,
    /// Where the panic or throw began (`panic`, `runtime.throw`, `sigpanic`).
    PanicMachinery,
    /// Standard library.
    Std,
    /// A recover-and-repanic helper.
    RecoverHelper,
    /// A framework a request passes through (the name says which).
    Framework(&'static str),
    /// A handler or middleware of the application, called by a dispatch frame.
    Middleware,
    /// The frame really responsible.
    Culprit,
    /// Application or library code.
    User,
    /// The function line was lost.
    Unknown,
}

impl FrameRole {
    /// A short word for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameRole::Runtime => "runtime",
            FrameRole::PanicMachinery => "panic",
            FrameRole::Std => "stdlib",
            FrameRole::RecoverHelper => "recover helper",
            FrameRole::Framework(_) => "framework",
            FrameRole::Middleware => "middleware",
            FrameRole::Culprit => "culprit",
            FrameRole::User => "app",
            FrameRole::Unknown => "unknown",
        }
    }
}

/// A frame as reports show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameView {
    /// Function as printed.
    pub function: String,
    /// File as printed.
    pub file: Option<String>,
    /// Line, 0 when unknown.
    pub line: u32,
    /// `+0x..`.
    pub offset: Option<u32>,
    /// Printed as an inlined call.
    pub inlined: bool,
    /// Arguments as printed, when kept.
    pub args: Option<String>,
    /// What the frame is.
    pub role: FrameRole,
    /// `in goroutine N` of a `created by` frame.
    pub parent_goroutine: Option<u64>,
}

impl FrameView {
    /// `file:line`, or the function alone when the file is unknown.
    pub fn location(&self) -> String {
        match &self.file {
            Some(f) => format!("{f}:{}", self.line),
            None => "(file unknown)".to_string(),
        }
    }

    /// `main.go:42`: the file's last element and the line.
    pub fn short_location(&self) -> String {
        match &self.file {
            Some(f) => {
                let base = f.rsplit(['/', '\\']).next().unwrap_or(f);
                format!("{base}:{}", self.line)
            }
            None => "?".to_string(),
        }
    }
}

/// Grouped goroutines of one trace.
#[derive(Debug, Clone, Default)]
pub struct GoroutineView {
    /// Input the goroutines come from.
    pub input: String,
    /// All goroutines the trace describes (sum of counts).
    pub total: u64,
    /// Goroutines in the groups shown (after filters).
    pub shown: u64,
    /// The groups, crashing goroutine first, then by relevance.
    pub groups: Vec<GroupView>,
    /// Groups left out by filters.
    pub hidden_groups: usize,
    /// What the highlighted group's goroutine did: `crashed`, `running`
    /// (a dump's running goroutine) or `raced`.
    pub focus: &'static str,
}

/// One group of goroutines with the same stack.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// How many goroutines.
    pub count: u64,
    /// State or wait reason.
    pub state: String,
    /// Shortest and longest wait, in minutes.
    pub wait_minutes: Option<(u32, u32)>,
    /// Locked to their OS thread.
    pub locked_to_thread: bool,
    /// Who created them.
    pub created_by: Option<FrameView>,
    /// Some member ids (the first few in input order).
    pub ids: Vec<u64>,
    /// The shared stack, innermost first.
    pub frames: Vec<FrameView>,
    /// Frames left out by the runtime: position and count.
    pub elided: Option<(usize, Option<u32>)>,
    /// The group holds the crashing goroutine.
    pub crashing: bool,
    /// pprof labels of the first member, if any.
    pub labels: Option<String>,
}
