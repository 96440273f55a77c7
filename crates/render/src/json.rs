//! JSON: the `gosleuth.analysis/v1` and `gosleuth.goroutines/v1` wire
//! formats, documented in docs/json-analysis.md. Wire structs are private
//! and separate from the report model, so the model can change without
//! breaking the contract.

use std::io::{self, Write};

use serde::Serialize;

use gosleuth_diagnose::{Crash, FrameView, GoroutineView, GroupView, Report};
use gosleuth_model::Finding;

/// Schema name and version of `gosleuth analyze --format json`.
pub const ANALYSIS_SCHEMA: &str = "gosleuth.analysis/v1";
/// Schema name and version of `gosleuth goroutines --format json`.
pub const GOROUTINES_SCHEMA: &str = "gosleuth.goroutines/v1";

#[derive(Serialize)]
struct Analysis<'a> {
    schema: &'static str,
    crash: Option<CrashJson<'a>>,
    goroutines: GoroutinesJson<'a>,
    findings: &'a [Finding],
    inputs: Vec<InputJson<'a>>,
    traces: Vec<TraceJson<'a>>,
    warnings: &'a [String],
    profiles: &'a [gosleuth_diagnose::profile::ProfileSummary],
    binaries: Vec<BinaryJson<'a>>,
    cores: Vec<CoreJson<'a>>,
}

#[derive(Serialize)]
struct CoreJson<'a> {
    name: &'a str,
    executable: &'a str,
    go_version: Option<&'a str>,
    arch: &'a str,
    threads: usize,
    goroutines: usize,
    crashing_goroutine: Option<u64>,
    cause_signal: Option<&'a str>,
    maps: Vec<CoreMapJson<'a>>,
}

#[derive(Serialize)]
struct CoreMapJson<'a> {
    expr: &'a str,
    goroutine: Option<u64>,
    frame: Option<usize>,
    function: Option<&'a str>,
    #[serde(rename = "type")]
    type_name: &'a str,
    header: String,
    era: Option<&'a str>,
    count: u64,
    nil: bool,
    growing: bool,
    writing: bool,
    problems: &'a [String],
    goroutines_in_map_ops: &'a [u64],
}

#[derive(Serialize)]
struct BinaryJson<'a> {
    name: &'a str,
    go_version: Option<&'a str>,
    package_path: Option<&'a str>,
    main_module: Option<ModuleJson<'a>>,
    arch: &'a str,
    pie: bool,
    stripped: bool,
    dwarf_version: Option<u16>,
    functions: Option<usize>,
    settings: std::collections::BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
struct ModuleJson<'a> {
    path: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
struct InputJson<'a> {
    name: &'a str,
    kind: &'a str,
    detail: &'a str,
}

#[derive(Serialize)]
struct TraceJson<'a> {
    input: &'a str,
    first_line: u64,
    last_line: u64,
    kind: &'static str,
    message: Option<&'a str>,
    goroutines: u64,
}

#[derive(Serialize)]
struct CrashJson<'a> {
    kind: &'static str,
    message: Option<&'a str>,
    goroutine: Option<u64>,
    culprit: Option<FrameJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    panics: Vec<PanicJson<'a>>,
    headline: Option<&'a str>,
    state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<SignalJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovered_by: Option<&'a str>,
    created_by: Option<FrameJson<'a>>,
    stack: Vec<FrameJson<'a>>,
    input: &'a str,
    line: u64,
}

#[derive(Serialize)]
struct PanicJson<'a> {
    message: &'a str,
    recovered: bool,
    repanicked: bool,
}

#[derive(Serialize)]
struct SignalJson<'a> {
    name: &'a str,
    addr: Option<String>,
    pc: Option<String>,
    code: Option<u64>,
}

#[derive(Serialize)]
struct FrameJson<'a> {
    function: &'a str,
    file: Option<&'a str>,
    line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    inlined: bool,
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    framework: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    goroutine: Option<u64>,
}

#[derive(Serialize)]
struct GoroutinesJson<'a> {
    total: u64,
    groups: Vec<GroupJson<'a>>,
}

#[derive(Serialize)]
struct GroupJson<'a> {
    count: u64,
    state: &'a str,
    frames: Vec<FrameJson<'a>>,
    wait_minutes: Option<[u32; 2]>,
    locked_to_thread: bool,
    created_by: Option<FrameJson<'a>>,
    ids: &'a [u64],
    crashing: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    elided: Option<ElidedJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<&'a str>,
}

#[derive(Serialize)]
struct ElidedJson {
    at: usize,
    count: Option<u32>,
}

#[derive(Serialize)]
struct GoroutinesDoc<'a> {
    schema: &'static str,
    input: &'a str,
    total: u64,
    shown: u64,
    hidden_groups: usize,
    groups: Vec<GroupJson<'a>>,
}

fn frame(f: &FrameView) -> FrameJson<'_> {
    let framework = match f.role {
        gosleuth_diagnose::FrameRole::Framework(n) => Some(n),
        _ => None,
    };
    FrameJson {
        function: &f.function,
        file: f.file.as_deref(),
        line: f.line,
        offset: f.offset,
        inlined: f.inlined,
        role: f.role.as_str(),
        framework,
        args: f.args.as_deref(),
        goroutine: f.parent_goroutine,
    }
}

fn group(g: &GroupView) -> GroupJson<'_> {
    GroupJson {
        count: g.count,
        state: &g.state,
        frames: g.frames.iter().map(frame).collect(),
        wait_minutes: g.wait_minutes.map(|(a, b)| [a, b]),
        locked_to_thread: g.locked_to_thread,
        created_by: g.created_by.as_ref().map(frame),
        ids: &g.ids,
        crashing: g.crashing,
        elided: g.elided.map(|(at, count)| ElidedJson { at, count }),
        labels: g.labels.as_deref(),
    }
}

fn crash(c: &Crash) -> CrashJson<'_> {
    CrashJson {
        kind: c.kind.as_str(),
        message: c.message.as_deref(),
        goroutine: c.goroutine,
        culprit: c.culprit.as_ref().map(frame),
        panics: if c.panics.len() > 1 || c.panics.iter().any(|p| p.recovered) {
            c.panics
                .iter()
                .map(|p| PanicJson {
                    message: &p.message,
                    recovered: p.recovered,
                    repanicked: p.repanicked,
                })
                .collect()
        } else {
            Vec::new()
        },
        headline: c.headline.as_deref(),
        state: c.state.as_deref(),
        signal: c.signal.as_ref().map(|s| SignalJson {
            name: &s.name,
            addr: s.addr.map(|a| format!("{a:#x}")),
            pc: s.pc.map(|a| format!("{a:#x}")),
            code: s.code,
        }),
        recovered_by: c.recovered_by.as_deref(),
        created_by: c.created_by.as_ref().map(frame),
        stack: c.stack.iter().map(frame).collect(),
        input: &c.input,
        line: c.line,
    }
}

/// Writes `gosleuth.analysis/v1`.
pub fn write_report(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let doc = Analysis {
        schema: ANALYSIS_SCHEMA,
        crash: report.crash.as_ref().map(crash),
        goroutines: match &report.goroutines {
            Some(v) => GoroutinesJson {
                total: v.total,
                groups: v.groups.iter().map(group).collect(),
            },
            None => GoroutinesJson {
                total: 0,
                groups: Vec::new(),
            },
        },
        findings: &report.findings,
        inputs: report
            .inputs
            .iter()
            .map(|i| InputJson {
                name: &i.name,
                kind: &i.kind,
                detail: &i.detail,
            })
            .collect(),
        traces: report
            .traces
            .iter()
            .map(|t| TraceJson {
                input: &t.input,
                first_line: t.first_line,
                last_line: t.last_line,
                kind: t.kind.as_str(),
                message: t.message.as_deref(),
                goroutines: t.goroutines,
            })
            .collect(),
        warnings: &report.warnings,
        profiles: &report.profiles,
        binaries: report
            .binaries
            .iter()
            .map(|b| BinaryJson {
                name: &b.name,
                go_version: b.go_version.as_deref(),
                package_path: b.package_path.as_deref(),
                main_module: b
                    .main_module
                    .as_ref()
                    .map(|(path, version)| ModuleJson { path, version }),
                arch: &b.arch,
                pie: b.pie,
                stripped: b.stripped,
                dwarf_version: b.dwarf_version,
                functions: b.functions,
                settings: b
                    .settings
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
            })
            .collect(),
        cores: report
            .cores
            .iter()
            .map(|c| CoreJson {
                name: &c.name,
                executable: &c.executable,
                go_version: c.go_version.as_deref(),
                arch: &c.arch,
                threads: c.threads,
                goroutines: c.goroutines,
                crashing_goroutine: c.crashing_goroutine,
                cause_signal: c.cause_signal.as_deref(),
                maps: c
                    .maps
                    .iter()
                    .map(|m| CoreMapJson {
                        expr: &m.expr,
                        goroutine: m.goroutine,
                        frame: m.frame_index,
                        function: m.function.as_deref(),
                        type_name: &m.type_name,
                        header: format!("{:#x}", m.header),
                        era: m.era.as_deref(),
                        count: m.count,
                        nil: m.nil,
                        growing: m.growing,
                        writing: m.writing,
                        problems: &m.problems,
                        goroutines_in_map_ops: &m.goroutines_in_map_ops,
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

/// Writes `gosleuth.goroutines/v1`.
pub fn write_goroutines(view: &GoroutineView, out: &mut dyn Write) -> io::Result<()> {
    let doc = GoroutinesDoc {
        schema: GOROUTINES_SCHEMA,
        input: &view.input,
        total: view.total,
        shown: view.shown,
        hidden_groups: view.hidden_groups,
        groups: view.groups.iter().map(group).collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
