//! Diagnosis of traceback text: the crash, its culprit, the goroutines that
//! matter, and findings.

use gosleuth_model::{CrashKind, Finding, Severity};
use gosleuth_traceback::{
    CreatedBy, Dump, Frame, Goroutine, GroupOptions, Trace, TraceFormat, Truncation, group,
};
use regex::Regex;

use crate::funcs::{self, MapOp};
use crate::report::*;
use crate::texts;

/// One input's scanned text.
pub struct TextEvidence<'a> {
    /// The input's name for messages.
    pub input: &'a str,
    /// What the scanner found.
    pub dump: &'a Dump,
}

/// Filters and grouping for goroutine views.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    /// Keep groups whose state contains this text (case-insensitive).
    pub state: Option<String>,
    /// Keep groups with a frame whose function or file matches.
    pub matching: Option<Regex>,
    /// Keep groups of at least this many goroutines.
    pub min_count: u64,
    /// Group only identical arguments too.
    pub exact: bool,
    /// Include argument lists in frames.
    pub with_args: bool,
}

/// Where the crash of an input comes from.
pub(crate) struct Located<'a> {
    pub input: &'a str,
    pub dump: &'a Dump,
    pub trace: &'a Trace,
}

/// Picks the trace a report is about: the first crash of all inputs, else
/// the first trace with goroutines.
pub(crate) fn primary<'a>(evidence: &[TextEvidence<'a>]) -> Option<Located<'a>> {
    let all = || {
        evidence
            .iter()
            .flat_map(|e| e.dump.traces.iter().map(move |t| (e, t)))
    };
    let is_crash = |t: &Trace| {
        matches!(
            t.format,
            TraceFormat::Crash | TraceFormat::RecoveredLog | TraceFormat::Race
        )
    };
    all()
        .find(|(_, t)| is_crash(t))
        .or_else(|| all().find(|(_, t)| !t.goroutines.is_empty()))
        .or_else(|| all().next())
        .map(|(e, t)| Located {
            input: e.input,
            dump: e.dump,
            trace: t,
        })
}

/// The goroutine a trace is about.
pub(crate) fn crashing_goroutine(trace: &Trace, dump: &Dump) -> Option<u64> {
    match trace.format {
        TraceFormat::Race => trace
            .races
            .first()
            .and_then(|r| r.accesses.first())
            .and_then(|a| a.goroutine),
        TraceFormat::Debug1 => None,
        TraceFormat::Dump | TraceFormat::SignalDump => trace
            .goroutines
            .iter()
            .find(|g| g.id != 0 && dump.str(g.state) == "running")
            .map(|g| g.id),
        TraceFormat::Crash | TraceFormat::RecoveredLog => {
            trace.goroutines.iter().find(|g| g.id != 0).map(|g| g.id)
        }
    }
}

/// The frames of the crashing goroutine (or the first race access).
fn crash_frames<'d>(trace: &Trace, dump: &'d Dump, goroutine: Option<u64>) -> (&'d [Frame], u32) {
    if trace.format == TraceFormat::Race
        && let Some(a) = trace.races.first().and_then(|r| r.accesses.first())
    {
        return (&dump.stack(a.stack).frames, a.args_start);
    }
    if let Some(g) = goroutine.and_then(|id| trace.goroutines.iter().find(|g| g.id == id)) {
        return (&dump.stack(g.stack).frames, g.args_start);
    }
    if let Some(st) = trace.system_stack {
        return (&dump.stack(st).frames, u32::MAX);
    }
    (&[], u32::MAX)
}

/// Index of the frame really responsible: the first frame below the last
/// panic/throw/sigpanic frame that is neither runtime, standard library nor
/// a recover helper. `None` when the text has no such frame with a known
/// file (a trace cut before it, a crash inside the runtime).
pub fn culprit_index(dump: &Dump, frames: &[Frame]) -> Option<usize> {
    let start = frames
        .iter()
        .rposition(|f| funcs::is_panic_marker(dump.str(f.function)))
        .map_or(0, |i| i + 1);
    for (i, f) in frames.iter().enumerate().skip(start) {
        let name = dump.str(f.function);
        if name.is_empty() {
            continue;
        }
        if funcs::is_runtime(name) || funcs::is_std(name) || funcs::is_recover_helper(name) {
            continue;
        }
        return f.file.is_some().then_some(i);
    }
    None
}

/// The crash kind from the message the runtime printed.
pub fn kind_from_message(message: &str, signal_addr: Option<u64>) -> Option<CrashKind> {
    let m = message.trim();
    let m = m.strip_prefix("runtime error: ").map_or(m, |rest| rest);
    Some(match m {
        "assignment to entry in nil map" => CrashKind::NilMapWrite,
        "concurrent map writes" | "small map with no empty slot (concurrent map writes?)" => {
            CrashKind::ConcurrentMapWrites
        }
        "concurrent map read and map write" => CrashKind::ConcurrentMapReadWrite,
        "concurrent map iteration and map write" => CrashKind::ConcurrentMapIterationWrite,
        "concurrent map clone and map write" => CrashKind::ConcurrentMapCloneWrite,
        "close of closed channel" => CrashKind::CloseOfClosedChannel,
        "close of nil channel" => CrashKind::CloseOfNilChannel,
        "send on closed channel" => CrashKind::SendOnClosedChannel,
        "all goroutines are asleep - deadlock!" => CrashKind::Deadlock,
        "stack overflow" => CrashKind::StackOverflow,
        "integer divide by zero" => CrashKind::DivideByZero,
        "sync: negative WaitGroup counter" => CrashKind::NegativeWaitgroupCounter,
        "sync: unlock of unlocked mutex"
        | "sync: Unlock of unlocked RWMutex"
        | "sync: RUnlock of unlocked RWMutex" => CrashKind::UnlockOfUnlockedMutex,
        "fault" => CrashKind::InvalidMemoryAddress,
        _ if m.starts_with("invalid memory address or nil pointer dereference") => {
            match signal_addr {
                Some(a) if a >= 0x1000 => CrashKind::InvalidMemoryAddress,
                _ => CrashKind::NilPointerDereference,
            }
        }
        _ if m.starts_with("index out of range") => CrashKind::IndexOutOfRange,
        _ if m.starts_with("slice bounds out of range")
            || m.starts_with("cannot convert slice with length") =>
        {
            CrashKind::SliceBoundsOutOfRange
        }
        _ if m.starts_with("interface conversion:") => CrashKind::TypeAssertion,
        _ if m.starts_with("no goroutines (main called runtime.Goexit) - deadlock!") => {
            CrashKind::Deadlock
        }
        _ if m.starts_with("out of memory") || m.starts_with("runtime: out of memory") => {
            CrashKind::OutOfMemory
        }
        _ => return None,
    })
}

/// The kind of the crash a trace shows.
fn crash_kind(trace: &Trace, dump: &Dump, frames: &[Frame]) -> CrashKind {
    let addr = trace
        .signal
        .as_ref()
        .and_then(|s| s.addr)
        .or(trace.fault_address);
    match trace.format {
        TraceFormat::Race => return CrashKind::DataRace,
        TraceFormat::Debug1 => return CrashKind::GoroutineDump,
        _ => {}
    }
    if let Some(p) = trace.panics.first() {
        // A user value that merely starts with a runtime word is still the
        // program's own panic.
        return kind_from_message(&p.message, addr).unwrap_or_else(|| {
            if p.message.starts_with("runtime error: ") {
                CrashKind::Other
            } else {
                CrashKind::CustomPanic
            }
        });
    }
    if let Some(f) = trace.fatal.first() {
        if let Some(k) = kind_from_message(f, addr) {
            return k;
        }
        if trace
            .notes
            .iter()
            .any(|n| n.starts_with("goroutine stack exceeds"))
        {
            return CrashKind::StackOverflow;
        }
        return CrashKind::Other;
    }
    if trace
        .notes
        .iter()
        .any(|n| n.starts_with("goroutine stack exceeds"))
    {
        return CrashKind::StackOverflow;
    }
    if let Some(s) = &trace.signal {
        if s.fatal
            && matches!(
                s.name.as_str(),
                "SIGQUIT" | "SIGABRT" | "SIGTERM" | "SIGINT"
            )
        {
            return CrashKind::GoroutineDump;
        }
        if s.name == "SIGSEGV" || s.name == "SIGBUS" || s.name == "0xb" || s.name == "0x7" {
            return match addr {
                Some(a) if a >= 0x1000 => CrashKind::InvalidMemoryAddress,
                _ => CrashKind::NilPointerDereference,
            };
        }
    }
    // No message survived (the paste starts at the goroutine header): infer
    // from the frames at the top of the crashing goroutine.
    let names: Vec<&str> = frames
        .iter()
        .take(6)
        .map(|f| dump.str(f.function))
        .collect();
    let throws = names.iter().any(|n| {
        matches!(
            *n,
            "runtime.throw" | "runtime.fatal" | "internal/runtime/maps.fatal"
        )
    });
    if throws {
        if let Some(op) = names.iter().find_map(|n| funcs::map_operation(n)) {
            return match op {
                MapOp::Read => CrashKind::ConcurrentMapReadWrite,
                MapOp::Iterate => CrashKind::ConcurrentMapIterationWrite,
                MapOp::Clone => CrashKind::ConcurrentMapCloneWrite,
                _ => CrashKind::ConcurrentMapWrites,
            };
        }
        return CrashKind::Other;
    }
    if names
        .iter()
        .any(|n| *n == "runtime.sigpanic" || *n == "runtime.panicmem")
    {
        return CrashKind::NilPointerDereference;
    }
    CrashKind::GoroutineDump
}

fn frame_view(dump: &Dump, f: &Frame, args: Option<&str>, role: FrameRole) -> FrameView {
    FrameView {
        function: dump.str(f.function).to_string(),
        file: f.file.map(|s| dump.str(s).to_string()),
        line: f.line,
        offset: f.offset,
        inlined: f.inlined,
        args: args.map(str::to_string),
        role,
        parent_goroutine: None,
    }
}

fn created_view(dump: &Dump, c: &CreatedBy) -> FrameView {
    let name = dump.str(c.function);
    FrameView {
        function: name.to_string(),
        file: c.file.map(|s| dump.str(s).to_string()),
        line: c.line,
        offset: None,
        inlined: false,
        args: None,
        role: role_of(name, false, false),
        parent_goroutine: c.parent,
    }
}

fn role_of(name: &str, culprit: bool, called_by_dispatch: bool) -> FrameRole {
    if name.is_empty() {
        FrameRole::Unknown
    } else if culprit {
        FrameRole::Culprit
    } else if funcs::is_panic_marker(name) {
        FrameRole::PanicMachinery
    } else if funcs::is_runtime(name) {
        FrameRole::Runtime
    } else if funcs::is_recover_helper(name) {
        FrameRole::RecoverHelper
    } else if let Some(fw) = funcs::framework_of(name) {
        FrameRole::Framework(fw)
    } else if funcs::is_std(name) {
        FrameRole::Std
    } else if called_by_dispatch {
        FrameRole::Middleware
    } else {
        FrameRole::User
    }
}

/// Frames with their roles.
pub(crate) fn frame_views(
    dump: &Dump,
    frames: &[Frame],
    args_start: u32,
    culprit: Option<usize>,
    with_args: bool,
) -> Vec<FrameView> {
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let dispatch_below = frames
                .get(i + 1)
                .is_some_and(|next| funcs::is_dispatch(dump.str(next.function)));
            let role = role_of(dump.str(f.function), culprit == Some(i), dispatch_below);
            let args = if with_args {
                dump.frame_args(args_start, i)
            } else {
                None
            };
            frame_view(dump, f, args, role)
        })
        .collect()
}

/// Groups the goroutines of a trace for display.
pub fn goroutine_view(
    input: &str,
    dump: &Dump,
    trace: &Trace,
    filter: &GroupFilter,
    crashing: Option<u64>,
) -> GoroutineView {
    let groups = group(dump, trace, &GroupOptions::new(filter.exact, crashing));
    let state_filter = filter.state.as_ref().map(|s| s.to_ascii_lowercase());
    let mut view = GoroutineView {
        input: input.to_string(),
        total: trace.goroutine_count(),
        focus: match trace.format {
            TraceFormat::Dump | TraceFormat::SignalDump | TraceFormat::Debug1 => "running",
            TraceFormat::Race => "raced",
            TraceFormat::Crash | TraceFormat::RecoveredLog => "crashed",
        },
        ..GoroutineView::default()
    };
    for g in groups {
        let stack = dump.stack(g.stack);
        let state = dump.str(g.state);
        let keep = g.count >= filter.min_count
            && state_filter
                .as_ref()
                .is_none_or(|s| state.to_ascii_lowercase().contains(s.as_str()))
            && filter.matching.as_ref().is_none_or(|re| {
                stack.frames.iter().any(|f| {
                    re.is_match(dump.str(f.function))
                        || f.file.is_some_and(|s| re.is_match(dump.str(s)))
                })
            });
        if !keep {
            view.hidden_groups += 1;
            continue;
        }
        let first: &Goroutine = &trace.goroutines[g.members[0]];
        view.shown += g.count;
        view.groups.push(GroupView {
            count: g.count,
            state: state.to_string(),
            wait_minutes: g.wait_minutes,
            locked_to_thread: g.locked_to_thread,
            created_by: g.created_by.as_ref().map(|c| created_view(dump, c)),
            ids: g
                .members
                .iter()
                .map(|&m| trace.goroutines[m].id)
                .filter(|&id| id != 0)
                .take(8)
                .collect(),
            frames: frame_views(
                dump,
                &stack.frames,
                first.args_start,
                None,
                filter.with_args,
            ),
            elided: stack.elided.map(|e| (e.at as usize, e.count)),
            crashing: crashing
                .is_some_and(|id| g.members.iter().any(|&m| trace.goroutines[m].id == id)),
            labels: first.labels.map(|l| dump.str(l).to_string()),
        });
    }
    view
}

/// Builds the crash description of the primary trace.
pub(crate) fn crash_of(located: &Located<'_>, with_args: bool) -> Crash {
    let Located { input, dump, trace } = *located;
    let goroutine = crashing_goroutine(trace, dump);
    let (frames, args_start) = crash_frames(trace, dump, goroutine);
    let kind = crash_kind(trace, dump, frames);
    let culprit = if kind == CrashKind::GoroutineDump {
        None
    } else {
        culprit_index(dump, frames)
    };
    let stack = frame_views(dump, frames, args_start, culprit, with_args);
    let g = goroutine.and_then(|id| trace.goroutines.iter().find(|g| g.id == id));
    let (message, headline) = if let Some(p) = trace.panics.first() {
        let head = match trace.recovered_by.as_deref() {
            Some("net/http") => format!("http: panic serving ...: {}", p.message),
            _ => format!("panic: {}", p.message),
        };
        (Some(p.message.clone()), Some(head))
    } else if let Some(f) = trace.fatal.first() {
        (Some(f.clone()), Some(format!("fatal error: {f}")))
    } else if trace.format == TraceFormat::Race {
        (
            Some("DATA RACE".to_string()),
            Some("WARNING: DATA RACE".to_string()),
        )
    } else if let Some(s) = trace.signal.as_ref().filter(|s| s.fatal) {
        (None, Some(format!("{}: {}", s.name, s.description)))
    } else {
        (None, None)
    };
    Crash {
        kind,
        message,
        headline,
        goroutine,
        state: g.map(|g| dump.str(g.state).to_string()),
        culprit: culprit.map(|i| stack[i].clone()),
        culprit_index: culprit,
        panics: trace
            .panics
            .iter()
            .map(|p| PanicView {
                message: p.message.clone(),
                recovered: p.recovered,
                repanicked: p.repanicked,
            })
            .collect(),
        signal: trace
            .signal
            .as_ref()
            .filter(|s| !s.fatal || s.addr.is_some())
            .map(|s| SignalView {
                name: s.name.clone(),
                addr: s.addr,
                pc: s.pc,
                code: s.code,
            }),
        stack,
        created_by: g
            .and_then(|g| g.created_by.as_ref())
            .map(|c| created_view(dump, c)),
        recovered_by: trace.recovered_by.clone(),
        input: input.to_string(),
        line: trace.first_line,
    }
}

/// Findings about the crash and the goroutines of the primary trace.
pub(crate) fn findings(located: &Located<'_>, crash: &Crash, view: &GoroutineView) -> Vec<Finding> {
    let Located { dump, trace, .. } = *located;
    let mut out = Vec::new();
    out.extend(crash_finding(crash));
    out.extend(path_finding(crash));
    out.extend(signal_finding(crash));
    if crash.kind == CrashKind::NilMapWrite {
        out.push(texts::nil_map_write(crash));
    }
    if matches!(
        crash.kind,
        CrashKind::ConcurrentMapWrites
            | CrashKind::ConcurrentMapReadWrite
            | CrashKind::ConcurrentMapIterationWrite
            | CrashKind::ConcurrentMapCloneWrite
    ) {
        out.extend(concurrent_map_findings(dump, trace, crash));
    }
    if crash.panics.len() > 1 || crash.panics.iter().any(|p| p.repanicked) {
        out.push(texts::panic_chain(crash));
    }
    if let Some(by) = &crash.recovered_by {
        out.push(texts::recovered(crash, by));
    }
    if crash.kind == CrashKind::StackOverflow {
        out.extend(recursion_finding(crash));
    }
    if crash.kind == CrashKind::Deadlock {
        out.push(deadlock_finding(view));
    }
    if crash.kind == CrashKind::DataRace {
        out.extend(race_finding(dump, trace));
    }
    if trace.system_stack.is_some() && crash.culprit.is_none() && trace.goroutines.is_empty() {
        out.push(texts::runtime_internal(crash));
    }
    out.extend(dump_findings(view, trace));
    out.extend(truncation_finding(dump, trace));
    out
}

fn crash_finding(crash: &Crash) -> Option<Finding> {
    if crash.kind == CrashKind::GoroutineDump {
        return None;
    }
    let goroutine = crash
        .goroutine
        .map_or("The crashing goroutine".to_string(), |g| {
            format!("Goroutine {g}")
        });
    let what = match (&crash.headline, crash.kind) {
        (_, CrashKind::DataRace) => "had a data race reported".to_string(),
        (Some(h), _) => format!("crashed with `{h}`"),
        (None, k) => format!("crashed ({k}; the message line is not in the input)"),
    };
    let place = match &crash.culprit {
        Some(c) => format!(
            " The responsible frame — the first below the panic machinery that is not runtime, standard library or a recover helper — is {} at {}.",
            c.function,
            c.location()
        ),
        None => " No application frame is in the text (only runtime or library frames, or the trace was cut before one).".to_string(),
    };
    let title = match &crash.culprit {
        Some(c) => format!("{} in {} ({})", crash.kind, c.function, c.short_location()),
        None => format!("{}", crash.kind),
    };
    Some(
        Finding::new(
            "crash",
            Severity::Critical,
            title,
            format!("{goroutine} {what}.{place}"),
            texts::kind_meaning(crash.kind),
        )
        .with_evidence(format!("{}:{}", crash.input, crash.line)),
    )
}

fn path_finding(crash: &Crash) -> Option<Finding> {
    let ci = crash.culprit_index?;
    let below = &crash.stack[ci + 1..];
    let depth = below.len();
    let middleware: Vec<&str> = below
        .iter()
        .filter(|f| f.role == FrameRole::Middleware)
        .map(|f| f.function.as_str())
        .collect();
    let mut frameworks: Vec<(&str, usize)> = Vec::new();
    for f in below {
        if let FrameRole::Framework(name) = f.role {
            match frameworks.iter_mut().find(|(n, _)| *n == name) {
                Some((_, c)) => *c += 1,
                None => frameworks.push((name, 1)),
            }
        }
    }
    if depth == 0 && crash.created_by.is_none() {
        return None;
    }
    let entry = match (crash.stack.last(), &crash.created_by) {
        (_, Some(c)) => format!(
            "the goroutine was started by {} ({}{})",
            c.function,
            c.short_location(),
            c.parent_goroutine
                .map(|p| format!(", in goroutine {p}"))
                .unwrap_or_default()
        ),
        (Some(last), None) => format!("its entry point is {}", last.function),
        (None, None) => "its entry point is unknown".to_string(),
    };
    let mut observation = format!(
        "{} is {} frame{} above the bottom of the stack; {entry}.",
        crash.stack[ci].function,
        depth,
        if depth == 1 { "" } else { "s" }
    );
    if !middleware.is_empty() {
        observation.push_str(&format!(
            " The call passed {} handler/middleware layer{}: {}.",
            middleware.len(),
            if middleware.len() == 1 { "" } else { "s" },
            middleware
                .iter()
                .rev()
                .copied()
                .collect::<Vec<_>>()
                .join(" → ")
        ));
    }
    if !frameworks.is_empty() {
        let list: Vec<String> = frameworks
            .iter()
            .map(|(n, c)| format!("{n} ({c} frame{})", if *c == 1 { "" } else { "s" }))
            .collect();
        observation.push_str(&format!(" Framework frames: {}.", list.join(", ")));
    }
    let meaning = if middleware.is_empty() && frameworks.is_empty() {
        "The frames below the culprit show how execution got there; the bug is at the culprit or in what its callers passed to it.".to_string()
    } else {
        "The layers below the culprit only carried the request to it: the fault is in the culprit's own code or in the state it was given (for a nil map or pointer, in the constructor that built that state), not in the middleware or framework.".to_string()
    };
    Some(Finding::new(
        "call-path",
        Severity::Info,
        "How execution reached the culprit",
        observation,
        meaning,
    ))
}

fn signal_finding(crash: &Crash) -> Option<Finding> {
    let s = crash.signal.as_ref()?;
    let addr = s.addr?;
    let (observation, meaning, severity) = texts::fault_address(s, addr, crash);
    Some(Finding::new(
        "fault-address",
        severity,
        format!("{} at address {:#x}", s.name, addr),
        observation,
        meaning,
    ))
}

/// For concurrent map faults: every other goroutine of the dump inside a
/// map operation, with its own first application frame.
fn concurrent_map_findings(dump: &Dump, trace: &Trace, crash: &Crash) -> Vec<Finding> {
    let mut parties = Vec::new();
    for g in &trace.goroutines {
        if Some(g.id) == crash.goroutine {
            continue;
        }
        let frames = &dump.stack(g.stack).frames;
        let Some((pos, op)) = frames
            .iter()
            .enumerate()
            .find_map(|(i, f)| funcs::map_operation(dump.str(f.function)).map(|op| (i, op)))
        else {
            continue;
        };
        let caller = frames[pos..].iter().find(|f| {
            let n = dump.str(f.function);
            !n.is_empty() && !funcs::is_runtime(n) && !funcs::is_std(n)
        });
        parties.push((
            g.id,
            op,
            dump.str(frames[pos].function).to_string(),
            caller.map(|f| {
                format!(
                    "{} ({}:{})",
                    dump.str(f.function),
                    f.file.map_or("?", |s| dump.str(s)),
                    f.line
                )
            }),
        ));
    }
    let mut out = Vec::new();
    if !parties.is_empty() {
        let list: Vec<String> = parties
            .iter()
            .map(|(id, op, func, caller)| {
                format!(
                    "goroutine {id} is in a map {} ({func}){}",
                    op.as_str(),
                    caller
                        .as_ref()
                        .map(|c| format!(" called from {c}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        out.push(
            Finding::new(
                "concurrent-map-parties",
                Severity::Critical,
                format!("{} other goroutine{} inside a map operation", parties.len(), if parties.len() == 1 { "" } else { "s" }),
                format!("Besides the crashing goroutine, {}.", list.join("; ")),
                "These are the candidates for the other side of the race. If one of them touches the same map as the culprit (same variable or field), that pair is the bug: guard both accesses with the same mutex, or give the map a single owner goroutine.".to_string(),
            ),
        );
    } else if trace.goroutines.len() <= 1 {
        out.push(texts::map_fault_single_goroutine(crash));
    } else {
        out.push(Finding::new(
            "concurrent-map-parties",
            Severity::Warning,
            "No other goroutine is inside a map operation",
            format!(
                "The dump holds {} goroutines, but none besides the crashing one is in map code now.",
                trace.goroutines.len()
            ),
            "The other writer finished its map operation between the detection and the dump. Look for goroutines that touch the same map at the culprit's call sites, or run the program with -race to catch both accesses.".to_string(),
        ));
    }
    out
}

fn recursion_finding(crash: &Crash) -> Option<Finding> {
    // Count frames by function+line: a recursion repeats the same few.
    let mut counts: Vec<(&str, u32, usize)> = Vec::new();
    for f in &crash.stack {
        if f.role == FrameRole::Runtime || f.role == FrameRole::PanicMachinery {
            continue;
        }
        match counts
            .iter_mut()
            .find(|(n, l, _)| *n == f.function && *l == f.line)
        {
            Some((_, _, c)) => *c += 1,
            None => counts.push((&f.function, f.line, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.2));
    let top: Vec<&(&str, u32, usize)> = counts.iter().filter(|c| c.2 > 1).take(3).collect();
    if top.is_empty() {
        return None;
    }
    let list: Vec<String> = top
        .iter()
        .map(|(n, l, c)| format!("{n} (line {l}) ×{c}"))
        .collect();
    Some(Finding::new(
        "recursion",
        Severity::Critical,
        format!("Unbounded recursion through {}", top[0].0),
        format!(
            "Of the {} frames printed, these repeat: {}.",
            crash.stack.len(),
            list.join(", ")
        ),
        "The same calls repeat until the stack limit: a recursion without a reachable base case (or a cycle in the data it walks). The repeating frames are the cycle to break.".to_string(),
    ))
}

fn deadlock_finding(view: &GoroutineView) -> Finding {
    let list: Vec<String> = view
        .groups
        .iter()
        .map(|g| {
            let place = g
                .frames
                .iter()
                .find(|f| {
                    matches!(
                        f.role,
                        FrameRole::User | FrameRole::Middleware | FrameRole::Culprit
                    )
                })
                .or(g.frames.first())
                .map(|f| format!("{} ({})", f.function, f.short_location()))
                .unwrap_or_else(|| "?".into());
            format!(
                "{} goroutine{} [{}] at {}",
                g.count,
                if g.count == 1 { "" } else { "s" },
                g.state,
                place
            )
        })
        .collect();
    Finding::new(
        "deadlock",
        Severity::Critical,
        "Every goroutine is blocked",
        format!("Blocked: {}.", list.join("; ")),
        "No goroutine can wake another: each waits for a channel partner, a lock or a WaitGroup that nothing will release. Pair each wait with the goroutine that should end it; a missing send/close, a Wait before the goroutines were started, or a lock taken twice are the usual causes.".to_string(),
    )
}

fn race_finding(dump: &Dump, trace: &Trace) -> Vec<Finding> {
    let mut out = Vec::new();
    for (n, report) in trace.races.iter().enumerate() {
        let describe = |s: &gosleuth_traceback::RaceSection| {
            let frames = &dump.stack(s.stack).frames;
            let at = culprit_index(dump, frames)
                .map(|i| &frames[i])
                .or(frames.first())
                .map(|f| {
                    format!(
                        "{} ({}:{})",
                        dump.str(f.function),
                        f.file.map_or("?", |x| dump.str(x)),
                        f.line
                    )
                })
                .unwrap_or_else(|| "an unknown place".into());
            let who = s
                .goroutine
                .map_or("an unknown goroutine".into(), |g| format!("goroutine {g}"));
            format!("{} by {who} at {at}", s.what.to_lowercase())
        };
        let accesses: Vec<String> = report.accesses.iter().map(describe).collect();
        if accesses.is_empty() {
            continue;
        }
        out.push(Finding::new(
            "data-race",
            Severity::Critical,
            format!("Data race {}", n + 1),
            format!("{}{}.", accesses.join(", racing with "), report
                .accesses
                .first()
                .and_then(|a| a.addr)
                .map(|a| format!(" (address {a:#x})"))
                .unwrap_or_default()),
            "Two goroutines touched the same memory without synchronisation and at least one wrote. Both stacks point at the accesses; protect them with the same mutex, or pass ownership through a channel. On a map this race is what later shows up as `concurrent map writes`.".to_string(),
        ));
    }
    out
}

fn dump_findings(view: &GoroutineView, trace: &Trace) -> Vec<Finding> {
    let mut out = Vec::new();
    let total = view.total.max(1);
    for g in &view.groups {
        if g.crashing {
            continue;
        }
        let blocked = !matches!(
            g.state.as_str(),
            "running" | "runnable" | "syscall" | "" | "idle"
        );
        let top_app = g
            .frames
            .iter()
            .find(|f| matches!(f.role, FrameRole::User | FrameRole::Middleware))
            .or_else(|| g.frames.iter().find(|f| f.role == FrameRole::Std));
        let Some(site) = top_app else { continue };
        let is_lock = g.state.contains("Mutex")
            || g.state.contains("RWMutex")
            || (g.state == "semacquire"
                && g.frames.iter().any(|f| {
                    f.function.contains("Mutex).Lock") || f.function.contains("Mutex).RLock")
                }));
        let waited = g
            .wait_minutes
            .map(|(lo, hi)| {
                if lo == hi {
                    format!(", waiting {hi} min")
                } else {
                    format!(", waiting {lo}-{hi} min")
                }
            })
            .unwrap_or_default();
        if is_lock && g.count >= 10 {
            out.push(Finding::new(
                "lock-pileup",
                Severity::Warning,
                format!("{} goroutines wait for one lock at {}", g.count, site.short_location()),
                format!(
                    "{} goroutines are in [{}] at {} ({}){waited}.",
                    g.count, g.state, site.function, site.location()
                ),
                "Many goroutines queue on the same Lock call: the lock is held too long (I/O or a slow call under the lock), or its holder is itself blocked. Find the goroutine inside the critical section (not waiting on the lock) and what it waits for; shorten the critical section or shard the lock.".to_string(),
            ));
        } else if blocked && g.count >= 100 && (g.count * 20 >= total || g.count >= 1000) {
            out.push(Finding::new(
                "goroutine-leak-suspect",
                Severity::Warning,
                format!("{} goroutines blocked at {}", g.count, site.short_location()),
                format!(
                    "{} of {} goroutines ({:.0}%) are in [{}] at {} ({}){waited}{}.",
                    g.count,
                    view.total,
                    100.0 * g.count as f64 / total as f64,
                    g.state,
                    site.function,
                    site.location(),
                    g.created_by.as_ref().map(|c| format!(", created by {}", c.function)).unwrap_or_default()
                ),
                "This many goroutines parked on one line usually means a leak: a channel nobody will send on or close, a select without a cancellation case, a request goroutine never given a context deadline. Compare two dumps taken minutes apart: a leak grows.".to_string(),
            ));
        }
    }
    if trace.format == TraceFormat::Debug1
        && let Some(total) = trace.debug1_total
    {
        let sum = trace.goroutine_count();
        if sum != total {
            out.push(Finding::new(
                "debug1-total-mismatch",
                Severity::Info,
                "Record counts do not add up to the profile total",
                format!("The header says total {total}; the records add up to {sum}."),
                "Goroutines started or ended while the profile was written, or the text was cut."
                    .to_string(),
            ));
        }
    }
    out
}

fn truncation_finding(_dump: &Dump, trace: &Trace) -> Option<Finding> {
    let complete = trace.goroutines.iter().filter(|g| g.complete).count();
    match trace.truncation {
        Truncation::Complete => None,
        Truncation::MidGoroutine => Some(Finding::new(
            "truncated",
            Severity::Warning,
            "The trace is cut",
            format!(
                "The input ends inside goroutine {} (after {} complete goroutine{}).",
                trace.goroutines.last().map_or(0, |g| g.id),
                complete,
                if complete == 1 { "" } else { "s" }
            ),
            "Frames after the cut are missing: the culprit or the other goroutines may be among them. Get the full log (kubectl logs --previous, journalctl -u UNIT -o cat) rather than a pasted excerpt.".to_string(),
        )),
        Truncation::CutByRuntimeAt64MiB => Some(Finding::new(
            "dump-cut-at-64mib",
            Severity::Warning,
            "The goroutine dump was cut by the runtime at 64 MiB",
            format!(
                "The input is exactly 64 MiB, the size at which the runtime stops writing the dump: it holds {complete} complete goroutines, and the goroutines after the cut are missing."
            ),
            "/debug/pprof/goroutine?debug=2 stops writing when its buffer reaches 64 MiB, so counts taken from it are too low and whole stacks may be missing. Use /debug/pprof/goroutine?debug=1 (aggregated, never cut) or the goroutine profile (/debug/pprof/goroutine, then `gosleuth profile top`) for the full counts.".to_string(),
        )),
    }
}
