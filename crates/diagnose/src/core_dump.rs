//! What a core dump adds to a diagnosis: the maps the crash touched, read
//! from the dead process's memory. For a nil map write that is the
//! variable or field whose header pointer is 0x0, with its static type;
//! for concurrent map faults, the map's writing flag and every goroutine
//! that was inside a map operation on the same map (by header address).
//!
//! The caller reads the core (through `gosleuth-target`) and fills
//! [`CoreFacts`]; the crash itself comes from the traceback text, or from
//! the goroutines of the core rendered as the runtime would print them.

use gosleuth_model::{CrashKind, Finding, Severity};

use crate::report::Report;

/// Facts read from a core dump and its executable.
#[derive(Debug, Clone, Default)]
pub struct CoreFacts {
    /// Input name of the core.
    pub name: String,
    /// Input name of the executable that read it.
    pub executable: String,
    /// `go1.26.8`, from the binary's `runtime.buildVersion`.
    pub go_version: Option<String>,
    /// `amd64`.
    pub arch: String,
    /// Threads in the core.
    pub threads: usize,
    /// Goroutines in the core.
    pub goroutines: usize,
    /// The goroutine that crashed, by the runtime's own state.
    pub crashing_goroutine: Option<u64>,
    /// The signal that started the crash, as `SIGSEGV addr=0x0 pc=0x...`.
    pub cause_signal: Option<String>,
    /// Maps reachable from the crashing goroutine's frames.
    pub maps: Vec<CoreMap>,
    /// What could not be read (missing memory, stripped binary...).
    pub warnings: Vec<String>,
}

/// One map of the crashing goroutine, with its header and health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMap {
    /// The expression reaching it in its frame (`s.cache`), or a
    /// description for the map a runtime map function works on.
    pub expr: String,
    /// Goroutine and frame index it was found in.
    pub goroutine: Option<u64>,
    /// See `goroutine`.
    pub frame_index: Option<usize>,
    /// The frame's function.
    pub function: Option<String>,
    /// Static type (`map[string]*main.User`).
    pub type_name: String,
    /// Header address; 0 for a nil map.
    pub header: u64,
    /// `classic` (hmap, Go ≤ 1.23) or `swiss` (Go ≥ 1.24).
    pub era: Option<String>,
    /// Entries (`len`).
    pub count: u64,
    /// A nil map.
    pub nil: bool,
    /// A grow was in progress.
    pub growing: bool,
    /// The writing flag was set.
    pub writing: bool,
    /// Inconsistencies found walking it.
    pub problems: Vec<String>,
    /// Goroutines inside a map operation on this same map.
    pub goroutines_in_map_ops: Vec<u64>,
}

impl CoreMap {
    /// Whether the map was found in a frame of the program (not in the
    /// runtime's map code, whose argument is the same map seen from below).
    pub fn in_program_frame(&self) -> bool {
        self.function
            .as_deref()
            .is_some_and(|f| !f.starts_with("runtime.") && !f.starts_with("internal/runtime/"))
    }

    fn describe(&self) -> String {
        let mut s = format!("{} ({})", self.expr, self.type_name);
        if let Some(f) = &self.function {
            s.push_str(&format!(" in {f}"));
        }
        if let (Some(g), Some(i)) = (self.goroutine, self.frame_index) {
            s.push_str(&format!(", goroutine {g} frame {i}"));
        }
        s
    }
}

/// Adds the core's facts and findings to a report.
pub fn attach_core(report: &mut Report, facts: CoreFacts) {
    let kind = report.crash.as_ref().map(|c| c.kind);
    let culprit = report
        .crash
        .as_ref()
        .and_then(|c| c.culprit.as_ref())
        .map(|c| c.function.clone());
    let mut findings = Vec::new();
    if let (Some(text_g), Some(core_g)) = (
        report.crash.as_ref().and_then(|c| c.goroutine),
        facts.crashing_goroutine,
    ) && text_g != core_g
    {
        findings.push(Finding::new(
            "core-mismatch",
            Severity::Warning,
            "The core's crashing goroutine is not the trace's",
            format!(
                "The trace says goroutine {text_g} crashed; in {} the runtime's panicking goroutine is {core_g}.",
                facts.name
            ),
            "The core and the trace probably come from different crashes (or different processes): read each on its own.",
        ));
    }
    match kind {
        Some(CrashKind::NilMapWrite) => {
            match nil_map_finding(&facts, culprit.as_deref()) {
                Some(f) => findings.push(f),
                None => findings.push(Finding::new(
                    "core-nil-map-unnamed",
                    Severity::Info,
                    "The core cannot name the nil map",
                    format!(
                        "No map variable or field of {} in {} reads as nil: the optimiser kept the map's owner only in registers that were reused before the crash (DWARF says \"optimised away\").",
                        culprit.as_deref().unwrap_or("the crashing goroutine's frames"),
                        facts.name
                    ),
                    "The map written is still the one on the culprit line. Give --source DIR to name its expression and the constructor that left it nil, or read a core of a build with -gcflags=all=-N -l, where every variable stays in memory.",
                )),
            }
        }
        Some(
            CrashKind::ConcurrentMapWrites
            | CrashKind::ConcurrentMapReadWrite
            | CrashKind::ConcurrentMapIterationWrite
            | CrashKind::ConcurrentMapCloneWrite,
        ) => findings.extend(concurrent_map_findings(&facts)),
        _ => {}
    }
    // Maps in bad health the crash kind does not already explain.
    for m in &facts.maps {
        if !m.problems.is_empty() && m.in_program_frame() {
            findings.push(
                Finding::new(
                    "core-map-inconsistent",
                    Severity::Warning,
                    format!("The map {} looks inconsistent", m.expr),
                    format!("{}: {}.", m.describe(), m.problems.join("; ")),
                    "Its header or tables do not agree with each other: memory corruption, a concurrent write caught half-way, or memory the core did not keep.",
                )
                .with_evidence(format!("{} header {:#x}", facts.name, m.header)),
            );
        }
    }
    report.findings.extend(findings);
    report.findings.sort_by_key(|f| f.severity);
    for w in &facts.warnings {
        report.warnings.push(format!("{}: {w}", facts.name));
    }
    report.cores.push(facts);
}

/// The nil map the write went to: the map variable or field of the
/// culprit's frame whose header is 0x0, else of any program frame.
fn nil_map_finding(facts: &CoreFacts, culprit: Option<&str>) -> Option<Finding> {
    let nil: Vec<&CoreMap> = facts
        .maps
        .iter()
        .filter(|m| m.nil && m.in_program_frame())
        .collect();
    let chosen = nil
        .iter()
        .find(|m| culprit.is_some_and(|c| m.function.as_deref() == Some(c)))
        .or_else(|| nil.first())?;
    let others: Vec<String> = nil
        .iter()
        .filter(|m| !std::ptr::eq(**m, *chosen))
        .map(|m| m.describe())
        .collect();
    let mut observation = format!(
        "In the core, {} has header pointer 0x0: a nil map of static type {}.",
        chosen.describe(),
        chosen.type_name
    );
    if !others.is_empty() {
        observation.push_str(&format!(" Also nil there: {}.", others.join(", ")));
    }
    let target = chosen
        .expr
        .rsplit_once('.')
        .map_or(chosen.expr.as_str(), |(_, f)| f);
    Some(
        Finding::new(
            "core-nil-map",
            Severity::Critical,
            format!("The nil map is {} ({})", chosen.expr, chosen.type_name),
            observation,
            format!(
                "This is the map the write went to, read from the dead process's memory: it was declared but never made. Initialise {target} with make({}) where its owner is created (or before the first write).",
                chosen.type_name
            ),
        )
        .with_evidence(format!("{} ({})", facts.name, facts.executable)),
    )
}

/// The map of a concurrent map fault: its writing flag and every goroutine
/// inside a map operation on it.
fn concurrent_map_findings(facts: &CoreFacts) -> Vec<Finding> {
    // One finding per map (by header), the best-named instance of each.
    let mut seen: Vec<u64> = Vec::new();
    let mut out = Vec::new();
    let mut by_header: Vec<&CoreMap> = facts.maps.iter().filter(|m| !m.nil).collect();
    // Program frames name the map better than the runtime's argument.
    by_header.sort_by_key(|m| !m.in_program_frame());
    for m in by_header {
        if seen.contains(&m.header) {
            continue;
        }
        let others: Vec<u64> = m
            .goroutines_in_map_ops
            .iter()
            .copied()
            .filter(|&g| Some(g) != facts.crashing_goroutine)
            .collect();
        if !m.writing && m.goroutines_in_map_ops.is_empty() {
            continue;
        }
        seen.push(m.header);
        let list = |gs: &[u64]| {
            gs.iter()
                .map(|g| g.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut observation = format!(
            "In the core, the map {} at {:#x} ({}, {} entries{}) has its writing flag {}.",
            m.describe(),
            m.header,
            m.era.as_deref().unwrap_or("unknown layout"),
            m.count,
            if m.growing { ", growing" } else { "" },
            if m.writing { "set" } else { "clear" }
        );
        if m.goroutines_in_map_ops.is_empty() {
            observation.push_str(" No goroutine is inside a map operation on it any more.");
        } else {
            observation.push_str(&format!(
                " Goroutines inside a map operation on it: {}.",
                list(&m.goroutines_in_map_ops)
            ));
        }
        let meaning = if others.is_empty() {
            "The writer that raced with the crashing goroutine had already left the map when the process died (the runtime checks the flag after the fact); look for every goroutine that writes this map and guard them with one sync.Mutex (or use sync.Map).".to_string()
        } else {
            format!(
                "Goroutine{} {} {} using the same map (same header address) at the moment of the crash: these are the unsynchronised accesses. Guard every access with one sync.Mutex/RWMutex, or give each goroutine its own map.",
                if others.len() == 1 { "" } else { "s" },
                list(&others),
                if others.len() == 1 { "was" } else { "were" }
            )
        };
        let mut finding = Finding::new(
            "core-concurrent-map",
            Severity::Critical,
            format!(
                "{} goroutine{} inside map operations on {}",
                m.goroutines_in_map_ops.len(),
                if m.goroutines_in_map_ops.len() == 1 {
                    " was"
                } else {
                    "s were"
                },
                m.expr
            ),
            observation,
            meaning,
        );
        for g in &m.goroutines_in_map_ops {
            finding = finding.with_evidence(format!("goroutine {g}"));
        }
        out.push(finding);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Crash, FrameRole, FrameView};

    fn report(kind: CrashKind, culprit: &str) -> Report {
        Report {
            crash: Some(Crash {
                kind,
                message: None,
                headline: None,
                goroutine: Some(7),
                state: None,
                culprit: Some(FrameView {
                    function: culprit.into(),
                    file: None,
                    line: 0,
                    offset: None,
                    inlined: false,
                    args: None,
                    role: FrameRole::Culprit,
                    parent_goroutine: None,
                }),
                culprit_index: None,
                panics: Vec::new(),
                signal: None,
                stack: Vec::new(),
                created_by: None,
                recovered_by: None,
                input: "trace".into(),
                line: 1,
            }),
            ..Report::default()
        }
    }

    fn map(expr: &str, function: &str, header: u64) -> CoreMap {
        CoreMap {
            expr: expr.into(),
            goroutine: Some(7),
            frame_index: Some(2),
            function: Some(function.into()),
            type_name: "map[string]*main.User".into(),
            header,
            nil: header == 0,
            ..CoreMap::default()
        }
    }

    #[test]
    fn nil_map_names_the_culprit_frame_variable() {
        let mut r = report(CrashKind::NilMapWrite, "main.(*UserService).Save");
        let facts = CoreFacts {
            name: "core".into(),
            crashing_goroutine: Some(7),
            maps: vec![
                map(
                    "the map runtime.mapassign_faststr works on",
                    "runtime.mapassign_faststr",
                    0,
                ),
                map("other", "main.elsewhere", 0),
                map("s.cache", "main.(*UserService).Save", 0),
            ],
            ..CoreFacts::default()
        };
        attach_core(&mut r, facts);
        let f = r.findings.iter().find(|f| f.id == "core-nil-map").unwrap();
        assert!(f.title.contains("s.cache"), "{}", f.title);
        assert!(f.observation.contains("0x0"));
        assert!(f.observation.contains("Also nil there: other"));
        assert_eq!(r.cores.len(), 1);
    }

    #[test]
    fn nil_map_without_program_frame_map_gives_nothing() {
        let mut r = report(CrashKind::NilMapWrite, "main.f");
        let facts = CoreFacts {
            maps: vec![map("m", "runtime.mapassign", 0)],
            ..CoreFacts::default()
        };
        attach_core(&mut r, facts);
        assert!(r.findings.iter().all(|f| f.id != "core-nil-map"));
    }

    #[test]
    fn concurrent_map_lists_other_goroutines_once_per_header() {
        let mut r = report(CrashKind::ConcurrentMapWrites, "main.writer");
        let mut a = map("m", "main.writer", 0xc000100000);
        a.writing = true;
        a.goroutines_in_map_ops = vec![7, 9];
        let mut b = a.clone();
        b.function = Some("runtime.mapassign_fast64".into());
        let facts = CoreFacts {
            crashing_goroutine: Some(7),
            maps: vec![b, a],
            ..CoreFacts::default()
        };
        attach_core(&mut r, facts);
        let fs: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.id == "core-concurrent-map")
            .collect();
        assert_eq!(fs.len(), 1);
        assert!(fs[0].observation.contains("writing flag set"));
        assert!(
            fs[0].meaning.contains("Goroutine 9 was"),
            "{}",
            fs[0].meaning
        );
        assert!(fs[0].observation.contains("in main.writer"));
    }

    #[test]
    fn unnamed_nil_map_says_why() {
        let mut r = report(CrashKind::NilMapWrite, "main.f");
        attach_core(&mut r, CoreFacts::default());
        assert!(r.findings.iter().any(|f| f.id == "core-nil-map-unnamed"));
    }

    #[test]
    fn mismatched_goroutine_is_flagged() {
        let mut r = report(CrashKind::CustomPanic, "main.f");
        attach_core(
            &mut r,
            CoreFacts {
                crashing_goroutine: Some(3),
                ..CoreFacts::default()
            },
        );
        assert!(r.findings.iter().any(|f| f.id == "core-mismatch"));
    }
}
