//! The line-by-line state machine that turns text into [`Trace`]s.
//!
//! States, in the words of the runtime's output:
//! - *idle*: outside any trace; only a trace start is looked for
//!   (`panic:`, `fatal error:`, `goroutine N [`, `SIGQUIT:`,
//!   `WARNING: DATA RACE`, `goroutine profile: total N`, ...). Everything
//!   else is somebody else's log line and is passed over silently.
//! - *header*: a trace started; panic chain, signal and notes are collected
//!   until the first goroutine. Lines that continue a multi-line panic value
//!   (Go ≤ 1.22 prints them raw) are appended to the message.
//! - *stack* (`Target`): inside a goroutine, the `runtime stack:` section, a
//!   race report section or an ancestor block; function lines and file lines
//!   pair into frames.
//!
//! A trace ends at a blank-line-separated start of another trace, at `exit
//! status N`, at the end of a race report, or at the end of input.

use crate::ScanOptions;
use crate::dirt::{self, JsonScan, PrefixTemplate};
use crate::line::{self, Line};
use crate::model::*;

/// Where frames currently go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    None,
    /// The last goroutine of the trace.
    Goroutine,
    /// `runtime stack:`.
    SystemStack,
    /// The last section of the last race report (access or creation).
    RaceSection {
        creation: bool,
    },
    /// The last ancestor of the last goroutine.
    Ancestor,
}

/// A function line waiting for its file line.
#[derive(Debug, Clone, Copy)]
struct PendingFunction {
    function: Sym,
    inlined: bool,
}

struct TraceBuilder {
    trace: Trace,
    /// False while the only evidence is a line found in the middle of
    /// another line (`... recovered panic: x`): dropped unless goroutines
    /// follow.
    confirmed: bool,
    target: Target,
    frames: Vec<Frame>,
    frame_args: Vec<u32>,
    elided: Option<Elision>,
    pending_function: Option<PendingFunction>,
    /// `created by` waiting for its file line.
    pending_created_by: bool,
    /// A blank line ended the header; no more message continuations.
    header_closed: bool,
    /// A `-----` line was seen: with GOTRACEBACK=crash every M prints its
    /// own `SIGQUIT: quit` section after one, and they are one event.
    after_separator: bool,
}

impl TraceBuilder {
    fn new(first_line: u64, confirmed: bool) -> Self {
        TraceBuilder {
            trace: Trace {
                first_line,
                last_line: first_line,
                ..Trace::default()
            },
            confirmed,
            target: Target::None,
            frames: Vec::new(),
            frame_args: Vec::new(),
            elided: None,
            pending_function: None,
            pending_created_by: false,
            header_closed: false,
            after_separator: false,
        }
    }

    /// Whether the trace already holds stacks, so that a new `panic:` or
    /// `fatal error:` must be a new trace rather than part of the header.
    fn has_body(&self) -> bool {
        !self.trace.goroutines.is_empty()
            || self.trace.system_stack.is_some()
            || !self.trace.races.is_empty()
            || self.target != Target::None
    }
}

/// The scanner. Feed it lines with [`Scanner::line`], then call
/// [`Scanner::finish`].
pub(crate) struct Scanner {
    opts: ScanOptions,
    dump: Dump,
    prefix: Option<PrefixTemplate>,
    current: Option<TraceBuilder>,
    line_no: u64,
    /// A JSON string still open at the end of the previous line.
    json_pending: Option<Vec<u8>>,
    unknown_function: Sym,
    keep_args: bool,
    /// Whether the text being fed may hold JSON-escaped traces or Markdown
    /// links: decided once per block with one SIMD search, so that clean
    /// dumps pay nothing per line for dirt they do not have.
    may_have_json: bool,
    may_have_links: bool,
    /// Function and file symbols by frame depth in the previous stack.
    recent_functions: Vec<Sym>,
    recent_files: Vec<Sym>,
    /// A header line was just handled (see [`Scanner::feed`]).
    header_seen: bool,
    /// The body of the last goroutine recorded, if any.
    memo: BodyMemo,
    /// The body being recorded: where it starts in the block and the line
    /// number of its header.
    recording: Option<(usize, u64)>,
    /// Only lines whose effect depends on nothing but their text were seen
    /// since the recording started.
    recording_pure: bool,
}

/// The text of a goroutine's body (its lines after the header, up to the
/// blank line) in the block being fed, and the state it left: a following
/// goroutine with byte-identical body gets the same state without its
/// lines being read again. Consecutive goroutines started by one loop and
/// parked in one place print the very same lines.
#[derive(Default)]
struct BodyMemo {
    valid: bool,
    start: usize,
    end: usize,
    lines: u64,
    frames: Vec<Frame>,
    pending_function: Option<PendingFunction>,
    pending_created_by: bool,
    elided: Option<Elision>,
    created_by: Option<CreatedBy>,
}

/// The most bytes a JSON string may span across physical lines before we
/// give up on it (a hostile or broken log must not grow memory unbounded).
const MAX_JSON_PENDING: usize = 16 << 20;

impl Scanner {
    pub(crate) fn new(opts: ScanOptions) -> Self {
        let mut dump = Dump::default();
        let unknown_function = dump.strings.intern("");
        Scanner {
            keep_args: opts.keep_args,
            opts,
            dump,
            prefix: None,
            current: None,
            line_no: 0,
            json_pending: None,
            unknown_function,
            may_have_json: true,
            may_have_links: true,
            recent_functions: Vec::new(),
            recent_files: Vec::new(),
            header_seen: false,
            memo: BodyMemo::default(),
            recording: None,
            recording_pure: false,
        }
    }

    /// Feeds a block of lines. Same as feeding its lines one by one with
    /// [`Scanner::line`], except that a goroutine body identical to the
    /// previous one recorded in this block is taken over whole.
    pub(crate) fn feed(&mut self, block: &[u8]) {
        self.memo.valid = false;
        self.recording = None;
        self.header_seen = false;
        let mut start = 0;
        while start < block.len() {
            let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
            let raw = &block[start..end];
            if raw.is_empty() {
                self.end_recording(start);
            }
            self.line(raw);
            start = end + 1;
            if self.header_seen {
                self.header_seen = false;
                start = self.after_header(block, start.min(block.len()));
            }
        }
    }

    /// Whether goroutine bodies may be recorded and replayed: clean text
    /// (the fast path's conditions) without arguments kept.
    fn memo_allowed(&self) -> bool {
        self.prefix.is_none()
            && !self.may_have_json
            && !self.may_have_links
            && self.json_pending.is_none()
            && !self.keep_args
            && self
                .current
                .as_ref()
                .is_some_and(|b| b.target == Target::Goroutine)
    }

    /// Right after a goroutine header whose body starts at `pos`: replays
    /// the recorded body if the text is the same, else starts recording.
    /// Returns where feeding goes on.
    fn after_header(&mut self, block: &[u8], pos: usize) -> usize {
        self.recording = None;
        if !self.memo_allowed() {
            return pos;
        }
        let b = self.current.as_mut().expect("memo_allowed checked it");
        let fresh = b.frames.is_empty()
            && b.pending_function.is_none()
            && !b.pending_created_by
            && b.elided.is_none()
            && b.frame_args.is_empty();
        if !fresh {
            return pos;
        }
        let m = &self.memo;
        let len = m.end - m.start;
        if m.valid && block.len() - pos >= len && block[pos..pos + len] == block[m.start..m.end] {
            b.frames.extend_from_slice(&m.frames);
            b.pending_function = m.pending_function;
            b.pending_created_by = m.pending_created_by;
            b.elided = m.elided;
            if let Some(g) = b.trace.goroutines.last_mut() {
                g.created_by = m.created_by;
            }
            self.line_no += m.lines;
            b.trace.last_line = self.line_no;
            return pos + len;
        }
        self.recording = Some((pos, self.line_no));
        self.recording_pure = true;
        pos
    }

    /// An empty line starts at `pos`: the body being recorded ends there.
    fn end_recording(&mut self, pos: usize) {
        let Some((start, header_line)) = self.recording.take() else {
            return;
        };
        if !self.recording_pure || !self.memo_allowed() {
            return;
        }
        let b = self.current.as_ref().expect("memo_allowed checked it");
        let m = &mut self.memo;
        m.valid = true;
        m.start = start;
        m.end = pos;
        m.lines = self.line_no - header_line;
        m.frames.clear();
        m.frames.extend_from_slice(&b.frames);
        m.pending_function = b.pending_function;
        m.pending_created_by = b.pending_created_by;
        m.elided = b.elided;
        m.created_by = b.trace.goroutines.last().and_then(|g| g.created_by);
    }

    /// Tells the scanner what the next lines may contain (see the fields).
    pub(crate) fn expect_dirt(&mut self, json: bool, links: bool) {
        self.may_have_json = json || self.json_pending.is_some();
        self.may_have_links = links;
    }

    /// Feeds one physical line, without its `\n`.
    pub(crate) fn line(&mut self, raw: &[u8]) {
        self.line_no += 1;
        if self.frame_line_fast(raw) {
            return;
        }
        let raw = dirt::strip_cr(raw);
        if let Some(mut pending) = self.json_pending.take() {
            // A raw line break inside a JSON string is a wrap made by some
            // log viewer: the two halves belong together without a newline.
            pending.extend_from_slice(raw);
            self.json_line(pending);
            return;
        }
        if self.may_have_json {
            // One JSON object per line (Docker's json-file driver, journald
            // `-o json`, structured loggers): the message field is the line.
            if let Some(message) = dirt::json_log_message(raw) {
                let message = message.strip_suffix('\n').unwrap_or(&message);
                for l in message.split('\n') {
                    let l = l.strip_suffix('\r').unwrap_or(l);
                    if dirt::may_hold_json_trace(l.as_bytes()) {
                        self.json_line(l.as_bytes().to_vec());
                    } else {
                        self.text_line(l.as_bytes());
                    }
                }
                return;
            }
            if dirt::may_hold_json_trace(raw) {
                self.json_line(raw.to_vec());
                return;
            }
        }
        match self.may_have_links.then(|| dirt::delink(raw)).flatten() {
            Some(clean) => self.text_line(&clean),
            None => self.text_line(raw),
        }
    }

    /// The hot path: a function or file line inside a goroutine of clean
    /// text (no log prefix, no JSON, no links), which is nearly every line
    /// of a big dump. Consecutive goroutines started by one loop share their
    /// frames, so the function line is first compared with the name seen at
    /// the same depth in the previous stack: a match needs no scan and no
    /// hash. Anything unusual returns false and takes the general path, which
    /// gives the same result.
    #[inline]
    fn frame_line_fast(&mut self, raw: &[u8]) -> bool {
        if self.prefix.is_some()
            || self.may_have_json
            || self.may_have_links
            || self.json_pending.is_some()
        {
            return false;
        }
        let Some(b) = self.current.as_mut() else {
            return false;
        };
        if b.target == Target::None || b.pending_created_by {
            return false;
        }
        b.trace.last_line = self.line_no;
        match raw.first() {
            Some(b'\t') => {
                if b.pending_function.is_none() {
                    return false;
                }
                // The file at this depth of the previous stack is usually
                // this one: then only the numbers after it are read.
                let depth = b.frames.len();
                let hint = self.recent_files.get(depth).copied();
                let known = hint.and_then(|h| {
                    line::file_line_with_path(raw, self.dump.strings.get(h).as_bytes())
                        .map(|(line, offset)| (h, line, offset))
                });
                let (file, line, offset) = match known {
                    Some(known) => known,
                    None => {
                        let Some(Line::File { path, line, offset }) = line::plain_file_line(raw)
                        else {
                            return false;
                        };
                        let file = self.dump.strings.intern_bytes_hinted(path, hint);
                        remember(&mut self.recent_files, depth, file);
                        (file, line, offset)
                    }
                };
                let p = b.pending_function.take().expect("checked above");
                b.frames.push(Frame {
                    function: p.function,
                    file: Some(file),
                    line,
                    offset,
                    inlined: p.inlined,
                });
                true
            }
            Some(c) if c.is_ascii_alphabetic() && raw.last() == Some(&b')') && !self.keep_args => {
                if b.pending_function.is_some() {
                    return false;
                }
                let depth = b.frames.len();
                let hint = self.recent_functions.get(depth).copied();
                let known = hint.filter(|&h| {
                    let name = self.dump.strings.get(h).as_bytes();
                    raw.len() > name.len() + 1 && raw[name.len()] == b'(' && raw.starts_with(name)
                });
                let (function, name_len) = match known {
                    Some(h) => (h, self.dump.strings.get(h).len()),
                    None => {
                        let Some(Line::Function { name, .. }) = line::classify_function(raw) else {
                            return false;
                        };
                        if name.starts_with(b"created by ") || name.starts_with(b"goroutine ") {
                            return false;
                        }
                        let sym = self.dump.strings.intern_bytes(name);
                        remember(&mut self.recent_functions, depth, sym);
                        (sym, name.len())
                    }
                };
                let inlined = &raw[name_len..] == b"(...)";
                b.pending_function = Some(PendingFunction { function, inlined });
                true
            }
            _ => false,
        }
    }

    fn json_line(&mut self, text: Vec<u8>) {
        self.json_text(text, false);
    }

    /// `at_end`: no more input will come, so an open string ends here.
    fn json_text(&mut self, text: Vec<u8>, at_end: bool) {
        let strings = match dirt::json_strings(&text) {
            JsonScan::Open(_) if !at_end && text.len() < MAX_JSON_PENDING => {
                self.json_pending = Some(text);
                return;
            }
            JsonScan::Open(strings) | JsonScan::Complete(strings) => strings,
        };
        {
            {
                let holds_trace = |s: &str| {
                    s.contains('\n') && (s.contains("goroutine ") || s.contains("panic: "))
                };
                if !strings.iter().any(|s| holds_trace(&s.value)) {
                    self.text_line(&text);
                    return;
                }
                let panic_value = strings
                    .iter()
                    .find(|s| s.key.as_deref() == Some("panic") && !s.value.contains('\n'))
                    .map(|s| s.value.clone());
                for s in strings.iter().filter(|s| holds_trace(&s.value)) {
                    let saved_prefix = self.prefix.take();
                    if let Some(value) = &panic_value
                        && !s.value.contains("panic: ")
                    {
                        self.finish_trace();
                        let mut builder = TraceBuilder::new(self.line_no, true);
                        builder.trace.format = TraceFormat::RecoveredLog;
                        builder.trace.recovered_by = Some("log field \"panic\"".into());
                        builder.trace.panics.push(PanicMessage {
                            message: value.clone(),
                            recovered: false,
                            repanicked: false,
                            line: self.line_no,
                        });
                        builder.header_closed = true;
                        self.current = Some(builder);
                    }
                    for l in s.value.split('\n') {
                        self.text_line(l.as_bytes());
                    }
                    self.prefix = saved_prefix;
                }
            }
        }
    }

    /// Classifies a line (removing a log prefix if it has one) and feeds
    /// it to the state machine.
    fn text_line(&mut self, raw: &[u8]) {
        if let Some(template) = &self.prefix
            && let Some(rest) = template.strip(raw)
        {
            self.recording_pure = false;
            let kind = line::classify(rest);
            if kind != Line::Other {
                self.handle(kind, true, rest);
                return;
            }
        }
        let kind = line::classify(raw);
        if kind != Line::Other {
            self.handle(kind, true, raw);
            return;
        }
        if let Some((at, kind)) = find_anchor(raw) {
            self.recording_pure = false;
            // For a file line the anchor is the blank run before the path,
            // so the prefix ends where it begins either way.
            self.prefix = PrefixTemplate::learn(&raw[..at]);
            self.handle(kind, false, &raw[at..]);
            return;
        }
        self.handle(Line::Other, true, raw);
    }

    fn builder(&mut self) -> Option<&mut TraceBuilder> {
        self.current.as_mut()
    }

    fn start_trace(&mut self, confirmed: bool) -> &mut TraceBuilder {
        self.finish_trace();
        self.current
            .insert(TraceBuilder::new(self.line_no, confirmed))
    }

    /// Dispatches a classified line. `at_start` is false when the line's
    /// content began in the middle of a line that did not match the learned
    /// prefix (an anchor found by search).
    fn handle(&mut self, kind: Line<'_>, at_start: bool, text: &[u8]) {
        let line_no = self.line_no;
        // Inside a goroutine body these depend on their text alone.
        if !matches!(
            kind,
            Line::Function { .. } | Line::File { .. } | Line::CreatedBy { .. } | Line::Elided(_)
        ) {
            self.recording_pure = false;
        }
        if let Some(b) = self.current.as_mut() {
            b.trace.last_line = line_no;
        }
        match kind {
            Line::Blank => {
                if let Some(b) = self.builder() {
                    b.header_closed = true;
                }
                self.close_target();
            }
            Line::Header(h) => {
                let new_trace = match &self.current {
                    None => true,
                    Some(b) => matches!(b.trace.format, TraceFormat::Debug1 | TraceFormat::Race),
                };
                if new_trace {
                    let b = self.start_trace(true);
                    b.trace.format = TraceFormat::Dump;
                }
                self.close_target();
                let state = self.dump.strings.intern_bytes(h.state);
                let labels = h.labels.map(|l| self.dump.strings.intern_bytes(l));
                let b = self.current.as_mut().expect("trace started above");
                b.confirmed = true;
                b.header_closed = true;
                b.trace.goroutines.push(Goroutine {
                    id: h.id,
                    state,
                    wait_minutes: h.wait_minutes,
                    flags: HeaderFlags {
                        locked_to_thread: h.locked,
                        leaked: h.leaked,
                        durable: h.durable,
                        scan: h.scan,
                    },
                    synctest_bubble: h.bubble,
                    labels,
                    m: h.m,
                    stack: StackId(u32::MAX),
                    created_by: None,
                    args_start: u32::MAX,
                    line: line_no,
                    stack_unavailable: false,
                    count: 1,
                    complete: false,
                    ancestors: Vec::new(),
                });
                b.target = Target::Goroutine;
                self.header_seen = true;
            }
            Line::StackUnavailable => {
                if let Some(g) = self.builder().and_then(|b| b.trace.goroutines.last_mut()) {
                    g.stack_unavailable = true;
                }
            }
            Line::Function { name, args } => self.function_line(name, args, text),
            Line::File { path, line, offset } => self.file_line(path, line, offset, text),
            Line::CreatedBy { function, parent } => {
                let Some(b) = self.current.as_ref() else {
                    return;
                };
                if !matches!(b.target, Target::Goroutine | Target::Ancestor) {
                    self.skip(text, "`created by` outside a goroutine");
                    return;
                }
                self.flush_pending_function();
                let function = self.dump.strings.intern_bytes(function);
                let b = self.current.as_mut().expect("checked");
                let created = CreatedBy {
                    function,
                    file: None,
                    line: 0,
                    parent,
                };
                match b.target {
                    Target::Ancestor => {
                        if let Some(a) = b
                            .trace
                            .goroutines
                            .last_mut()
                            .and_then(|g| g.ancestors.last_mut())
                        {
                            a.created_by = Some(created);
                        }
                    }
                    _ => {
                        if let Some(g) = b.trace.goroutines.last_mut() {
                            g.created_by = Some(created);
                        }
                    }
                }
                b.pending_created_by = true;
            }
            Line::Elided(count) => {
                self.flush_pending_function();
                if let Some(b) = self.builder()
                    && b.target != Target::None
                {
                    b.elided = Some(Elision {
                        at: b.frames.len() as u32,
                        count,
                    });
                }
            }
            Line::Panic {
                message,
                recovered,
                repanicked,
                chained,
            } => {
                let needs_new = match &self.current {
                    None => true,
                    Some(b) => b.has_body() && !(chained && b.trace.goroutines.is_empty()),
                };
                if needs_new {
                    if !at_start && self.inside_stack() {
                        self.skip(text, "panic text inside a goroutine");
                        return;
                    }
                    let b = self.start_trace(at_start);
                    b.trace.format = TraceFormat::Crash;
                }
                let b = self.current.as_mut().expect("trace exists");
                b.header_closed = false;
                b.trace.panics.push(PanicMessage {
                    message: dirt::lossy(message).into_owned(),
                    recovered,
                    repanicked,
                    line: line_no,
                });
            }
            Line::Fatal(message) => {
                let message = dirt::lossy(message).into_owned();
                let needs_new = match &self.current {
                    None => true,
                    Some(b) => b.has_body() && !b.trace.fatal.contains(&message),
                };
                if needs_new {
                    if !at_start && self.inside_stack() {
                        self.skip(text, "fatal error text inside a goroutine");
                        return;
                    }
                    let b = self.start_trace(at_start);
                    b.trace.format = TraceFormat::Crash;
                }
                let b = self.current.as_mut().expect("trace exists");
                b.header_closed = false;
                if b.trace.format == TraceFormat::Dump || b.trace.format == TraceFormat::SignalDump
                {
                    b.trace.format = TraceFormat::Crash;
                }
                if !b.trace.fatal.contains(&message) {
                    b.trace.fatal.push(message);
                }
            }
            Line::Signal(f) => {
                if self.current.is_none() {
                    self.start_trace(at_start);
                }
                let b = self.current.as_mut().expect("trace exists");
                if b.trace.signal.is_none() {
                    b.trace.signal = Some(signal_from(&f, false));
                }
            }
            Line::FatalSignal { name, description } => {
                if !at_start && self.inside_stack() {
                    self.skip(text, "signal text inside a goroutine");
                    return;
                }
                let continues = self.current.as_ref().is_some_and(|b| {
                    (!b.has_body() && b.trace.signal.is_none())
                        || (b.after_separator
                            && b.trace
                                .signal
                                .as_ref()
                                .is_some_and(|s| s.name.as_bytes() == name))
                });
                if continues && self.current.as_ref().is_some_and(|b| b.after_separator) {
                    // Another M's section of the same crash dump.
                    return;
                }
                if !continues {
                    let b = self.start_trace(at_start);
                    b.trace.format = TraceFormat::SignalDump;
                }
                let b = self.current.as_mut().expect("trace exists");
                if b.trace.panics.is_empty() && b.trace.fatal.is_empty() {
                    b.trace.format = TraceFormat::SignalDump;
                }
                b.trace.signal = Some(Signal {
                    name: dirt::lossy(name).into_owned(),
                    description: dirt::lossy(description).into_owned(),
                    fatal: true,
                    ..Signal::default()
                });
            }
            Line::SignalPc(f) => {
                if let Some(b) = self.builder() {
                    let s = b.trace.signal.get_or_insert_with(Signal::default);
                    s.pc = f.pc.or(s.pc);
                    s.code = f.code.or(s.code);
                    s.addr = f.addr.or(s.addr);
                    s.m = f.m.or(s.m);
                    s.fatal = true;
                }
            }
            Line::UnexpectedFault(addr) => {
                if self.current.as_ref().is_none_or(TraceBuilder::has_body) {
                    self.start_trace(false);
                }
                if let Some(b) = self.builder() {
                    b.trace.fault_address = Some(addr);
                }
            }
            Line::RuntimeNote(note) => {
                let interesting = note.starts_with(b"goroutine stack exceeds")
                    || note.starts_with(b"out of memory")
                    || note.starts_with(b"sp=");
                if self.current.is_none() {
                    if !interesting {
                        return;
                    }
                    self.start_trace(false);
                }
                let b = self.current.as_mut().expect("trace exists");
                if !b.has_body() {
                    b.trace.notes.push(dirt::lossy(note).into_owned());
                }
            }
            Line::RuntimeStack => {
                if self.current.is_none() {
                    self.start_trace(at_start);
                }
                self.close_target();
                let b = self.current.as_mut().expect("trace exists");
                b.confirmed = true;
                b.header_closed = true;
                b.target = Target::SystemStack;
            }
            Line::Ancestor(id) => {
                self.close_target();
                if let Some(b) = self.builder()
                    && let Some(g) = b.trace.goroutines.last_mut()
                {
                    g.ancestors.push(Ancestor {
                        id,
                        stack: StackId(u32::MAX),
                        created_by: None,
                    });
                    b.target = Target::Ancestor;
                }
            }
            Line::HttpPanicServing(message) | Line::ObservedPanic(message) => {
                if !at_start && self.inside_stack() {
                    self.skip(text, "recovered-panic log line inside a goroutine");
                    return;
                }
                let by = if matches!(kind, Line::HttpPanicServing(_)) {
                    "net/http"
                } else {
                    "klog (HandleCrash)"
                };
                let message = if by == "net/http" {
                    message
                } else {
                    observed_panic_text(message)
                };
                let b = self.start_trace(at_start);
                b.trace.format = TraceFormat::RecoveredLog;
                b.trace.recovered_by = Some(by.into());
                b.trace.panics.push(PanicMessage {
                    message: dirt::lossy(message).into_owned(),
                    recovered: false,
                    repanicked: false,
                    line: line_no,
                });
                b.header_closed = true;
            }
            Line::RaceRule => {
                self.close_target();
            }
            Line::RaceWarning => {
                let continues = self
                    .current
                    .as_ref()
                    .is_some_and(|b| b.trace.format == TraceFormat::Race);
                if !continues {
                    let b = self.start_trace(true);
                    b.trace.format = TraceFormat::Race;
                }
                self.close_target();
                let b = self.current.as_mut().expect("trace exists");
                b.trace.races.push(RaceReport::default());
            }
            Line::RaceAccess {
                what,
                addr,
                goroutine,
            } => self.race_section(dirt::lossy(what).into_owned(), addr, goroutine, None, text),
            Line::RaceCreated { goroutine, state } => self.race_section(
                "created".into(),
                None,
                Some(goroutine),
                Some(dirt::lossy(state).into_owned()),
                text,
            ),
            Line::RaceFound => {
                if self
                    .current
                    .as_ref()
                    .is_some_and(|b| b.trace.format == TraceFormat::Race)
                {
                    self.finish_trace();
                }
            }
            Line::Debug1Total(total) => {
                let b = self.start_trace(true);
                b.trace.format = TraceFormat::Debug1;
                b.trace.debug1_total = Some(total);
            }
            Line::Debug1Record(count) => {
                let in_debug1 = self
                    .current
                    .as_ref()
                    .is_some_and(|b| b.trace.format == TraceFormat::Debug1);
                if !in_debug1 {
                    let b = self.start_trace(at_start);
                    b.trace.format = TraceFormat::Debug1;
                }
                self.close_target();
                let empty = self.unknown_function;
                let b = self.current.as_mut().expect("trace exists");
                b.confirmed = true;
                b.trace.goroutines.push(Goroutine {
                    id: 0,
                    state: empty,
                    wait_minutes: None,
                    flags: HeaderFlags::default(),
                    synctest_bubble: None,
                    labels: None,
                    m: None,
                    stack: StackId(u32::MAX),
                    created_by: None,
                    args_start: u32::MAX,
                    line: line_no,
                    stack_unavailable: false,
                    count,
                    complete: false,
                    ancestors: Vec::new(),
                });
                b.target = Target::Goroutine;
            }
            Line::Debug1Labels(labels) => {
                let sym = self.dump.strings.intern_bytes(labels);
                if let Some(g) = self.builder().and_then(|b| b.trace.goroutines.last_mut()) {
                    g.labels = Some(sym);
                }
            }
            Line::Debug1Frame {
                function,
                offset,
                path,
                line,
            } => {
                if self.current.as_ref().map(|b| b.target) != Some(Target::Goroutine) {
                    return;
                }
                let function = self.dump.strings.intern_bytes(function);
                let file = Some(self.dump.strings.intern_bytes(path));
                let b = self.current.as_mut().expect("checked");
                b.frames.push(Frame {
                    function,
                    file,
                    line,
                    offset,
                    inlined: false,
                });
            }
            Line::Debug1BarePc => {}
            Line::Register { name, value } => {
                if let Some(b) = self.builder()
                    && (b.target == Target::None || b.trace.signal.is_some())
                {
                    b.trace
                        .registers
                        .push((dirt::lossy(name).into_owned(), value));
                }
            }
            Line::ExitStatus(code) => {
                if let Some(b) = self.builder() {
                    b.trace.exit_status = Some(code);
                }
                self.finish_trace();
            }
            Line::Separator => {
                self.close_target();
                if let Some(b) = self.builder() {
                    b.after_separator = true;
                }
            }
            Line::Other => self.other_line(text),
        }
    }

    fn inside_stack(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|b| b.target != Target::None)
    }

    fn other_line(&mut self, text: &[u8]) {
        let Some(b) = self.current.as_mut() else {
            return;
        };
        // Go ≤ 1.22 prints a multi-line panic value raw: its continuation
        // lines come before the blank line that precedes the goroutine.
        if !b.header_closed
            && !b.has_body()
            && b.trace.signal.is_none()
            && let Some(p) = b.trace.panics.last_mut()
        {
            p.message.push('\n');
            p.message.push_str(&dirt::lossy(text));
            return;
        }
        if b.target != Target::None || !b.trace.goroutines.is_empty() {
            self.skip(text, "not traceback text");
        }
    }

    fn skip(&mut self, text: &[u8], why: &str) {
        self.recording_pure = false;
        self.dump.skipped_total += 1;
        if self.dump.skipped.len() < self.opts.max_skipped {
            let shown: String = dirt::lossy(text).chars().take(120).collect();
            self.dump.skipped.push(Skipped {
                line: self.line_no,
                reason: format!("{why}: {shown:?}"),
            });
        }
    }

    fn function_line(&mut self, name: &[u8], args: &[u8], text: &[u8]) {
        let Some(b) = self.current.as_ref() else {
            return;
        };
        if b.target == Target::None {
            if !b.trace.goroutines.is_empty() {
                self.skip(text, "function line outside a goroutine");
            }
            return;
        }
        self.flush_pending_function();
        let depth = self.current.as_ref().map_or(0, |b| b.frames.len());
        let function = self
            .dump
            .strings
            .intern_bytes_hinted(name, self.recent_functions.get(depth).copied());
        remember(&mut self.recent_functions, depth, function);
        let inlined = args == b"...";
        let arg_index = if self.keep_args {
            self.dump.push_args(args)
        } else {
            None
        };
        let b = self.current.as_mut().expect("checked");
        b.pending_created_by = false;
        b.pending_function = Some(PendingFunction { function, inlined });
        if let Some(i) = arg_index {
            b.frame_args.push(i);
        }
    }

    fn file_line(&mut self, path: &[u8], line_number: u32, offset: Option<u32>, text: &[u8]) {
        let Some(b) = self.current.as_ref() else {
            return;
        };
        if b.target == Target::None {
            if !b.trace.goroutines.is_empty() {
                self.skip(text, "file line outside a goroutine");
            }
            return;
        }
        let depth = b.frames.len();
        let file_sym = self
            .dump
            .strings
            .intern_bytes_hinted(path, self.recent_files.get(depth).copied());
        remember(&mut self.recent_files, depth, file_sym);
        let file = Some(file_sym);
        let unknown = self.unknown_function;
        let keep_args = self.keep_args;
        let b = self.current.as_mut().expect("checked");
        if b.pending_created_by {
            b.pending_created_by = false;
            let created = match b.target {
                Target::Ancestor => b
                    .trace
                    .goroutines
                    .last_mut()
                    .and_then(|g| g.ancestors.last_mut())
                    .and_then(|a| a.created_by.as_mut()),
                _ => b
                    .trace
                    .goroutines
                    .last_mut()
                    .and_then(|g| g.created_by.as_mut()),
            };
            if let Some(c) = created {
                c.file = file;
                c.line = line_number;
            }
            return;
        }
        let (function, inlined) = match b.pending_function.take() {
            Some(p) => (p.function, p.inlined),
            // A file line with no function line before it: the function
            // line was lost. Keep the location, never pair it with the
            // previous function.
            None => {
                if keep_args && let Some(i) = self.dump.push_args(b"") {
                    b.frame_args.push(i);
                }
                (unknown, false)
            }
        };
        let b = self.current.as_mut().expect("checked");
        b.frames.push(Frame {
            function,
            file,
            line: line_number,
            offset,
            inlined,
        });
    }

    fn flush_pending_function(&mut self) {
        if let Some(b) = self.current.as_mut()
            && let Some(p) = b.pending_function.take()
        {
            b.frames.push(Frame {
                function: p.function,
                file: None,
                line: 0,
                offset: None,
                inlined: p.inlined,
            });
        }
    }

    fn race_section(
        &mut self,
        what: String,
        addr: Option<u64>,
        goroutine: Option<u64>,
        state: Option<String>,
        text: &[u8],
    ) {
        let in_race = self
            .current
            .as_ref()
            .is_some_and(|b| b.trace.format == TraceFormat::Race && !b.trace.races.is_empty());
        if !in_race {
            self.skip(text, "race report section outside a race report");
            return;
        }
        self.close_target();
        let line_no = self.line_no;
        let b = self.current.as_mut().expect("checked");
        b.confirmed = true;
        let creation = state.is_some();
        let section = RaceSection {
            what,
            addr,
            goroutine,
            state,
            stack: StackId(u32::MAX),
            args_start: u32::MAX,
            line: line_no,
        };
        let report = b.trace.races.last_mut().expect("checked non-empty");
        if creation {
            report.creations.push(section);
        } else {
            report.accesses.push(section);
        }
        b.target = Target::RaceSection { creation };
    }

    /// Ends the stack being collected and stores it where it belongs.
    fn close_target(&mut self) {
        self.flush_pending_function();
        let Some(b) = self.current.as_mut() else {
            return;
        };
        let target = std::mem::replace(&mut b.target, Target::None);
        b.pending_created_by = false;
        if target == Target::None {
            return;
        }
        let elided = b.elided.take();
        let args_start = b.frame_args.first().copied().unwrap_or(u32::MAX);
        b.frame_args.clear();
        let id = self.dump.intern_frames(&b.frames, elided);
        b.frames.clear();
        match target {
            Target::None => {}
            Target::Goroutine => {
                if let Some(g) = b.trace.goroutines.last_mut() {
                    g.stack = id;
                    g.args_start = args_start;
                    g.complete = true;
                }
            }
            Target::SystemStack => b.trace.system_stack = Some(id),
            Target::RaceSection { creation } => {
                if let Some(r) = b.trace.races.last_mut() {
                    let list = if creation {
                        &mut r.creations
                    } else {
                        &mut r.accesses
                    };
                    if let Some(s) = list.last_mut() {
                        s.stack = id;
                        s.args_start = args_start;
                    }
                }
            }
            Target::Ancestor => {
                if let Some(a) = b
                    .trace
                    .goroutines
                    .last_mut()
                    .and_then(|g| g.ancestors.last_mut())
                {
                    a.stack = id;
                }
            }
        }
    }

    fn finish_trace(&mut self) {
        self.close_target();
        let Some(b) = self.current.take() else {
            return;
        };
        if !b.confirmed {
            return;
        }
        let mut trace = b.trace;
        if trace.format == TraceFormat::Crash
            && trace.panics.is_empty()
            && trace.fatal.is_empty()
            && trace.signal.as_ref().is_some_and(|s| s.fatal)
        {
            trace.format = TraceFormat::SignalDump;
        }
        if trace.format == TraceFormat::Crash
            && trace.panics.is_empty()
            && trace.fatal.is_empty()
            && trace.signal.is_none()
            && trace.fault_address.is_none()
        {
            trace.format = TraceFormat::Dump;
        }
        self.dump.traces.push(trace);
    }

    /// Ends the input. `ended_mid_line` is true when the last line had no
    /// newline: the input was cut.
    pub(crate) fn finish(mut self, total_bytes: u64, ended_mid_line: bool) -> Dump {
        if let Some(pending) = self.json_pending.take() {
            self.json_text(pending, true);
        }
        let mut incomplete = ended_mid_line;
        if let Some(b) = self.current.as_ref() {
            incomplete |= b.pending_function.is_some() || b.pending_created_by;
        }
        let open_target = self
            .current
            .as_ref()
            .map(|b| b.target)
            .unwrap_or(Target::None);
        self.dump.last_trace_open = self.current.is_some();
        self.finish_trace();
        if let Some(last) = self.dump.traces.last_mut() {
            if incomplete && open_target != Target::None {
                if let Some(g) = last
                    .goroutines
                    .last_mut()
                    .filter(|_| open_target == Target::Goroutine)
                {
                    g.complete = false;
                }
                last.truncation = Truncation::MidGoroutine;
            }
            // runtime/pprof writeGoroutineStacks stops at exactly 64 MiB,
            // wherever in the text that falls: inside a line, right after
            // one (the input then ends as cleanly as a whole dump does), or
            // on the blank line between two goroutines. A buffer filled to
            // the byte is the runtime's own sign that the dump did not fit,
            // so the size alone decides; the last goroutine is whole only
            // when its separating blank line made it in.
            if total_bytes == 64 << 20
                && matches!(last.format, TraceFormat::Dump | TraceFormat::SignalDump)
            {
                last.truncation = Truncation::CutByRuntimeAt64MiB;
                if open_target == Target::Goroutine
                    && let Some(g) = last.goroutines.last_mut()
                {
                    g.complete = false;
                }
            }
        }
        self.dump.lines = self.line_no;
        self.dump.bytes = total_bytes;
        self.dump
    }
}

/// Records `sym` as the one seen at `depth` (bounded: deep recursions do not
/// grow the cache past a few hundred frames).
fn remember(cache: &mut Vec<Sym>, depth: usize, sym: Sym) {
    if depth < cache.len() {
        cache[depth] = sym;
    } else if depth == cache.len() && depth < 256 {
        cache.push(sym);
    }
}

fn signal_from(f: &line::SignalFields<'_>, fatal: bool) -> Signal {
    Signal {
        name: dirt::lossy(f.name).into_owned(),
        description: dirt::lossy(f.description).into_owned(),
        code: f.code,
        addr: f.addr,
        pc: f.pc,
        m: f.m,
        fatal,
    }
}

/// klog prints `Observed a panic: VALUE (TEXT)` where TEXT is `%v` of the
/// value: the message a traceback would show.
fn observed_panic_text(v: &[u8]) -> &[u8] {
    let v = line::trim(v);
    if v.ends_with(b")") {
        // Find the ` (` that opens the final parenthesis group.
        let mut depth = 0usize;
        for i in (0..v.len()).rev() {
            match v[i] {
                b')' => depth += 1,
                b'(' => {
                    depth -= 1;
                    if depth == 0 {
                        if i > 0 && v[i - 1] == b' ' {
                            return &v[i + 1..v.len() - 1];
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    v
}

/// Anchors that may start trace content in the middle of a line, after a
/// log prefix the scanner has not learned yet.
const ANCHORS: [&[u8]; 11] = [
    b"goroutine ",
    b"panic: ",
    b"fatal error: ",
    b"[signal ",
    b"SIGQUIT: ",
    b"WARNING: DATA RACE",
    b"http: panic serving ",
    b"Observed a panic: ",
    b"runtime stack:",
    b"created by ",
    b"\t",
];

/// Finds the earliest anchor inside `raw` (not at its start) whose rest
/// classifies as traceback text.
fn find_anchor(raw: &[u8]) -> Option<(usize, Line<'_>)> {
    let mut best: Option<(usize, Line<'_>)> = None;
    for anchor in ANCHORS {
        let mut from = 1;
        while from < raw.len() {
            let Some(rel) = line::find(&raw[from..], anchor) else {
                break;
            };
            let at = from + rel;
            if best.as_ref().is_some_and(|(b, _)| *b <= at) {
                break;
            }
            let kind = line::classify(&raw[at..]);
            let useful = match (&kind, anchor) {
                (Line::Other | Line::Blank, _) => false,
                // After a tab only a file line counts (not, say, a function
                // name that happens to follow a tab in a log field).
                (Line::File { .. }, b"\t") => true,
                (_, b"\t") => false,
                _ => true,
            };
            if useful {
                best = Some((at, kind));
                break;
            }
            from = at + 1;
        }
    }
    best
}
