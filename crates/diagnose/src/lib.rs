//! Diagnosis: from evidence to a [`Report`] of findings.
//!
//! Brief overview:
//! - [`analyze_text`] diagnoses scanned traceback text: the crash kind, the
//!   crashing goroutine, the frame really responsible (the culprit), the
//!   goroutines that matter, and [`Finding`](gosleuth_model::Finding)s that
//!   say what each observation means.
//! - [`goroutine_view`] groups goroutines for display, with filters.
//! - [`funcs`] knows Go function names: standard library (by its real
//!   package list), runtime, panic machinery, recover helpers, frameworks.
//!
//! Pure: no bytes are parsed and nothing is printed here; evidence crates
//! parse, `gosleuth-render` prints.

#![deny(missing_docs)]

mod binary;
mod core_dump;
pub mod funcs;
pub mod profile;
mod report;
mod texts;
mod traceback;

pub use binary::{BinaryFacts, attach_binary};
pub use core_dump::{CoreFacts, CoreMap, attach_core};
pub use report::*;
pub use traceback::{GroupFilter, TextEvidence, culprit_index, goroutine_view, kind_from_message};

/// The goroutine a trace is about: the one that panicked, the `[running]`
/// one of a dump, the first access of a race report.
pub fn crashing_goroutine_of(
    trace: &gosleuth_traceback::Trace,
    dump: &gosleuth_traceback::Dump,
) -> Option<u64> {
    traceback::crashing_goroutine(trace, dump)
}

use gosleuth_traceback::TraceFormat;

/// How to diagnose.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DiagnoseOptions {
    /// Show argument lists in frames.
    pub with_args: bool,
}

/// Diagnoses the traceback text of one or more inputs.
pub fn analyze_text(evidence: &[TextEvidence<'_>], opts: &DiagnoseOptions) -> Report {
    let mut report = Report::default();
    for e in evidence {
        let goroutines: u64 = e.dump.traces.iter().map(|t| t.goroutine_count()).sum();
        let kinds: Vec<&str> = e
            .dump
            .traces
            .iter()
            .map(|t| format_name(t.format))
            .collect();
        let kind = match kinds.as_slice() {
            [] => "text (no trace found)".to_string(),
            [one] => one.to_string(),
            many => {
                let mut uniq: Vec<&str> = many.to_vec();
                uniq.dedup();
                uniq.join(", ")
            }
        };
        report.inputs.push(InputSummary {
            name: e.input.to_string(),
            kind,
            detail: format!(
                "{} trace{}, {} goroutine{}, {} line{}",
                e.dump.traces.len(),
                plural(e.dump.traces.len() as u64),
                goroutines,
                plural(goroutines),
                e.dump.lines,
                plural(e.dump.lines)
            ),
        });
        if e.dump.skipped_total > 0 {
            let first = e
                .dump
                .skipped
                .first()
                .map(|s| format!(" (first at line {}: {})", s.line, s.reason))
                .unwrap_or_default();
            report.warnings.push(format!(
                "{}: skipped {} line{} inside traces that were not traceback text{first}",
                e.input,
                e.dump.skipped_total,
                plural(e.dump.skipped_total)
            ));
        }
        if e.dump.traces.is_empty() {
            report.warnings.push(format!(
                "{}: no Go traceback, goroutine dump or race report found",
                e.input
            ));
        }
    }
    let Some(located) = traceback::primary(evidence) else {
        return report;
    };
    let crash = traceback::crash_of(&located, opts.with_args);
    let view = goroutine_view(
        located.input,
        located.dump,
        located.trace,
        &GroupFilter {
            with_args: opts.with_args,
            ..GroupFilter::default()
        },
        crash.goroutine,
    );
    report.findings = traceback::findings(&located, &crash, &view);
    for e in evidence {
        for t in &e.dump.traces {
            let c = traceback::crash_of(
                &traceback::Located {
                    input: e.input,
                    dump: e.dump,
                    trace: t,
                },
                false,
            );
            report.traces.push(TraceSummary {
                input: e.input.to_string(),
                first_line: t.first_line,
                last_line: t.last_line,
                kind: c.kind,
                message: c.message,
                goroutines: t.goroutine_count(),
            });
        }
    }
    if report.traces.len() > 1 {
        let list: Vec<String> = report
            .traces
            .iter()
            .map(|t| format!("{} at {}:{}", t.kind, t.input, t.first_line))
            .collect();
        report.findings.push(gosleuth_model::Finding::new(
            "several-traces",
            gosleuth_model::Severity::Info,
            format!("{} traces in the input", report.traces.len()),
            format!("Found: {}.", list.join("; ")),
            "The report describes the first crash; the others are listed so that repeated or different crashes are not missed (a crash loop repeats the same trace).".to_string(),
        ));
    }
    report.crash = Some(crash);
    report.goroutines = Some(view);
    report.findings.sort_by_key(|f| f.severity);
    report
}

fn constructor_finding(rf: &ReceiverField) -> gosleuth_model::Finding {
    use gosleuth_model::{Finding, Severity};
    let ty = rf.field_type.as_deref().unwrap_or("map[K]V");
    let init = format!("{}: make({ty})", rf.field);
    if rf.creations.is_empty() {
        return Finding::new(
            "nil-map-field",
            Severity::Warning,
            format!("`{}.{}` is a map field left nil", rf.type_name, rf.field),
            format!(
                "The map is the field `{}` ({ty}) of `{}`; no struct literal, new() or var in the source tree creates a `{}` without it.",
                rf.field, rf.type_name, rf.type_name
            ),
            format!(
                "The value may be created in another package, by a zero-value copy, or the field was reset to nil later. Search for `{}{{` and `.{} = nil`.",
                rf.type_name, rf.field
            ),
        );
    }
    let sites: Vec<String> = rf
        .creations
        .iter()
        .map(|(file, line, func, expr)| format!("{func} ({file}:{line}): `{expr}`"))
        .collect();
    let first = &rf.creations[0];
    let mut finding = Finding::new(
        "nil-map-constructor",
        Severity::Critical,
        format!(
            "{} creates `{}` without `{}`",
            first.2, rf.type_name, rf.field
        ),
        format!(
            "`{}.{}` ({ty}) is the map written; {} create{} a `{}` without setting it: {}.",
            rf.type_name,
            rf.field,
            if rf.creations.len() == 1 {
                "this place"
            } else {
                "these places"
            },
            if rf.creations.len() == 1 { "s" } else { "" },
            rf.type_name,
            sites.join("; ")
        ),
        format!(
            "That is the root cause: the value leaves its constructor with a nil map, and the first write through any method panics. Initialise the field where the value is built (`{init}`), or make the map before the first write."
        ),
    );
    for (file, line, _, _) in &rf.creations {
        finding = finding.with_evidence(format!("{file}:{line}"));
    }
    finding
}

fn format_name(f: TraceFormat) -> &'static str {
    match f {
        TraceFormat::Crash => "traceback",
        TraceFormat::RecoveredLog => "recovered panic log",
        TraceFormat::Dump => "goroutine dump",
        TraceFormat::SignalDump => "signal goroutine dump",
        TraceFormat::Debug1 => "goroutine profile (debug=1)",
        TraceFormat::Race => "race report",
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Adds profiles to a report: their summaries and their findings.
pub fn attach_profiles(
    report: &mut Report,
    summaries: Vec<profile::ProfileSummary>,
    findings: Vec<gosleuth_model::Finding>,
) {
    report.profiles.extend(summaries);
    report.findings.extend(findings);
    report.findings.sort_by_key(|f| f.severity);
}

/// The culprit's source line, read by the caller from a source tree.
#[derive(Debug, Clone, Default)]
pub struct SourceLine {
    /// Where the file was found.
    pub path: String,
    /// The line's text.
    pub text: String,
    /// Index expressions written on the line: (operand, whole expression).
    pub index_writes: Vec<(String, String)>,
    /// When the written map is a field of the method's receiver
    /// (`s.cache`): the struct type, the field and its declared type.
    pub receiver_field: Option<ReceiverField>,
}

/// A map that is a field of a struct, and where values of the struct are
/// created without it.
#[derive(Debug, Clone, Default)]
pub struct ReceiverField {
    /// `UserService`.
    pub type_name: String,
    /// `cache`.
    pub field: String,
    /// `map[string]*User`, when the declaration was found.
    pub field_type: Option<String>,
    /// Creations without the field: (file, line, function, expression).
    pub creations: Vec<(String, u32, String, String)>,
}

/// Adds what the culprit's source line shows to a report: the line itself,
/// and for a nil map write the map expression that was written.
pub fn attach_source(report: &mut Report, source: &SourceLine) {
    let Some(crash) = &report.crash else {
        return;
    };
    let Some(culprit) = &crash.culprit else {
        return;
    };
    let line = culprit.line;
    let quoted = source.text.trim();
    if crash.kind == gosleuth_model::CrashKind::NilMapWrite {
        if let Some(f) = report.findings.iter_mut().find(|f| f.id == "nil-map-write") {
            match source.index_writes.as_slice() {
                [] => f.observation.push_str(&format!(
                    " Line {line} of {} reads `{quoted}`, but holds no map index write; the write may be inlined from a helper.",
                    source.path
                )),
                [(operand, expr)] => {
                    f.title = format!("`{operand}` is a nil map");
                    f.observation.push_str(&format!(
                        " Line {line} of {}: `{quoted}` — the map written is `{operand}` (the index expression `{expr}`).",
                        source.path
                    ));
                }
                many => {
                    let list: Vec<String> = many.iter().map(|(o, _)| format!("`{o}`")).collect();
                    f.observation.push_str(&format!(
                        " Line {line} of {}: `{quoted}` — one of these maps is nil: {}.",
                        source.path,
                        list.join(", ")
                    ));
                }
            }
            f.evidence.push(format!("{}:{line}", source.path));
            f.meaning = f.meaning.replace(
                "; give --source DIR to see the map expression on the culprit line",
                "",
            );
        }
        if let Some(rf) = &source.receiver_field {
            report.findings.push(constructor_finding(rf));
            report.findings.sort_by_key(|f| f.severity);
        }
    } else if let Some(f) = report.findings.iter_mut().find(|f| f.id == "crash") {
        f.observation
            .push_str(&format!(" Line {line} reads `{quoted}`."));
        f.evidence.push(format!("{}:{line}", source.path));
    }
}
