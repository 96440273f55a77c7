//! What the Go executable adds to a diagnosis: the build it is (Go version,
//! main module, settings), the function at a signal's faulting PC, and
//! whether it is the binary that printed the trace.

use gosleuth_model::{Finding, Severity};

use crate::report::{FrameView, Report};

/// Facts read from an executable by the caller (through `gosleuth-gobin`).
#[derive(Debug, Clone, Default)]
pub struct BinaryFacts {
    /// Input name.
    pub name: String,
    /// `go1.26.8`.
    pub go_version: Option<String>,
    /// Main package path (`path` line of `go version -m`).
    pub package_path: Option<String>,
    /// Main module path and version.
    pub main_module: Option<(String, String)>,
    /// Dependency module paths.
    pub deps: Vec<String>,
    /// `amd64`, `arm64`.
    pub arch: String,
    /// Position-independent executable.
    pub pie: bool,
    /// No symbol table.
    pub stripped: bool,
    /// DWARF version, when DWARF is present.
    pub dwarf_version: Option<u16>,
    /// Functions in the pclntab.
    pub functions: Option<usize>,
    /// Build settings (`key`, `value`).
    pub settings: Vec<(String, String)>,
    /// The frames at the crash signal's `pc=`, innermost first, when the
    /// trace has one.
    pub signal_frames: Vec<FrameView>,
    /// Whether the trace's culprit function exists in this binary (`None`
    /// when there is no culprit to look for).
    pub has_culprit: Option<bool>,
}

impl BinaryFacts {
    /// A build setting.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Adds the executable's facts and findings to a report.
pub fn attach_binary(report: &mut Report, facts: BinaryFacts) {
    let mut findings = Vec::new();
    if let (Some(crash), Some(frame)) = (&report.crash, facts.signal_frames.first()) {
        let pc = crash.signal.as_ref().and_then(|s| s.pc).unwrap_or(0);
        let chain = facts
            .signal_frames
            .iter()
            .map(|f| {
                format!(
                    "{} ({}){}",
                    f.function,
                    f.location(),
                    if f.inlined { " inlined" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join(", called from ");
        let in_trace = crash.stack.iter().any(|f| f.function == frame.function);
        findings.push(Finding::new(
            "signal-pc",
            if in_trace { Severity::Info } else { Severity::Critical },
            format!("The faulting instruction is in {}", frame.function),
            format!("The signal's pc={pc:#x} is in {chain}, according to {}.", facts.name),
            if in_trace {
                "This is the instruction that faulted; it agrees with the top application frame of the trace.".to_string()
            } else {
                "The trace does not show this function (it was cut, or the fault happened in a frame the runtime hides): this is where the bad access happened.".to_string()
            },
        ));
    }
    if facts.has_culprit == Some(false) {
        let culprit = report
            .crash
            .as_ref()
            .and_then(|c| c.culprit.as_ref())
            .map(|c| c.function.clone())
            .unwrap_or_default();
        findings.push(Finding::new(
            "binary-mismatch",
            Severity::Warning,
            "The executable does not contain the culprit",
            format!("{} has no function {culprit}.", facts.name),
            "This is probably not the binary that crashed (another version or build): addresses, variables and source lines read from it would not match the trace. Use the exact build that ran.".to_string(),
        ));
    }
    if let (Some(culprit), Some((module, _))) = (
        report.crash.as_ref().and_then(|c| c.culprit.as_ref()),
        facts.main_module.as_ref(),
    ) {
        let in_main = |f: &str| {
            f.starts_with(module.as_str())
                || (module == "command-line-arguments" && f.starts_with("main."))
        };
        if !in_main(&culprit.function) && !culprit.function.starts_with("main.") {
            let own = report.crash.as_ref().and_then(|c| {
                c.stack
                    .iter()
                    .skip(c.culprit_index.map_or(0, |i| i + 1))
                    .find(|f| in_main(&f.function) || f.function.starts_with("main."))
            });
            if let Some(own) = own {
                findings.push(Finding::new(
                    "first-own-frame",
                    Severity::Info,
                    format!("Your module's first frame is {}", own.function),
                    format!(
                        "The culprit {} belongs to a dependency; the first frame of the main module {module} is {} at {}.",
                        culprit.function,
                        own.function,
                        own.location()
                    ),
                    "The fault shows up inside a library, but the call that handed it bad input (or used it concurrently) is in your code at that frame.".to_string(),
                ));
            }
        }
    }
    if facts.setting("-race") == Some("true") {
        findings.push(Finding::new(
            "race-build",
            Severity::Info,
            "The executable is a -race build",
            format!("{} was built with -race.", facts.name),
            "The race detector was on: data races print a report instead of silently corrupting state, and the program runs several times slower with more memory.".to_string(),
        ));
    }
    if facts.setting("vcs.modified") == Some("true") {
        findings.push(Finding::new(
            "dirty-build",
            Severity::Info,
            "Built from a modified working tree",
            format!(
                "vcs.modified=true at revision {}.",
                facts.setting("vcs.revision").unwrap_or("?")
            ),
            "The source at that revision is not exactly what ran: line numbers may point at changed code.".to_string(),
        ));
    }
    report.findings.extend(findings);
    report.findings.sort_by_key(|f| f.severity);
    report.binaries.push(facts);
}
