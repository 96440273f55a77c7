//! Rendering what `gosleuth core` reads from a core dump: the summary,
//! goroutine stacks (in traceback form, which gosleuth's own traceback
//! parser reads back), frames, variables and values (Go-like text, or the
//! `gosleuth.core.*/v1` JSON documents of docs/json-core.md), and maps with
//! their header and health.

use std::io::{self, Write};

use serde_json::{Map, Value as Json, json};

use gosleuth_target::{
    Crash, CreatedBy, Frame, Goroutine, MapHeader, MapSummary, MapValue, Role, Stack, StackSource,
    Value, ValueKind, Variable, signal_name, traceback_name, write_created_by,
    write_traceback_frame,
};

use crate::{Format, Paint};

/// Schema names.
pub const SUMMARY_SCHEMA: &str = "gosleuth.core.summary/v1";
/// Schema of `core ... goroutines --format json`.
pub const GOROUTINES_SCHEMA: &str = "gosleuth.core.goroutines/v1";
/// Schema of `core ... bt`.
pub const BACKTRACE_SCHEMA: &str = "gosleuth.core.backtrace/v1";
/// Schema of `core ... locals`.
pub const LOCALS_SCHEMA: &str = "gosleuth.core.locals/v1";
/// Schema of `core ... print`.
pub const VALUE_SCHEMA: &str = "gosleuth.core.value/v1";
/// Schema of `core ... maps`.
pub const MAPS_SCHEMA: &str = "gosleuth.core.maps/v1";
/// Schema of `core ... threads`.
pub const THREADS_SCHEMA: &str = "gosleuth.core.threads/v1";

/// Facts about the inputs, shown in headers.
#[derive(Debug, Clone)]
pub struct CoreInfo {
    /// Core file name as given.
    pub core: String,
    /// Executable name as given.
    pub executable: String,
    /// Go release.
    pub go_version: Option<String>,
    /// `amd64`.
    pub arch: String,
    /// Threads in the core.
    pub threads: usize,
    /// Where runtime offsets came from (`DWARF`, `built-in table`...).
    pub layout: String,
    /// Whether variables can be read (DWARF present).
    pub has_dwarf: bool,
    /// Warnings to show.
    pub warnings: Vec<String>,
}

/// A goroutine with its stack.
#[derive(Debug, Clone, Copy)]
pub struct GoroutineStack<'a, 'd> {
    /// The goroutine.
    pub g: &'a Goroutine,
    /// Its stack.
    pub stack: &'a Stack<'d>,
    /// Its creator.
    pub created_by: Option<&'a CreatedBy<'d>>,
    /// Kernel thread id when running on one.
    pub thread: Option<u64>,
}

/// Text formats other than text and JSON put the text in a code block.
fn wrap_text(format: Format, out: &mut dyn Write, text: &str) -> io::Result<()> {
    match format {
        Format::Markdown => writeln!(out, "```\n{}```", text),
        Format::Html => writeln!(
            out,
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>gosleuth core</title></head><body><pre>{}</pre></body></html>",
            html_escape(text)
        ),
        _ => write!(out, "{text}"),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn write_json(out: &mut dyn Write, doc: &Json) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc)?;
    writeln!(out)
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

// ---------------------------------------------------------------- values

/// A Go-like one-line (or, for big maps, multi-line) rendering of a value.
pub fn format_value(v: &Value) -> String {
    let mut s = String::new();
    fmt_value(v, &mut s, 0, true);
    s
}

fn quote(text: &str, len: u64) -> String {
    let mut q = String::with_capacity(text.len() + 2);
    q.push('"');
    for c in text.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            c if c.is_control() => q.push_str(&format!("\\x{:02x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    let shown = text.len() as u64;
    if len > shown {
        q.push_str(&format!("...+{} more", len - shown));
    }
    q
}

fn fmt_value(v: &Value, s: &mut String, indent: usize, top: bool) {
    use std::fmt::Write as _;
    match &v.kind {
        ValueKind::Bool(b) => {
            let _ = write!(s, "{b}");
        }
        ValueKind::Int(i) => {
            let _ = write!(s, "{i}");
        }
        ValueKind::Uint(u) => {
            let _ = write!(s, "{u}");
        }
        ValueKind::Float(f) => {
            let _ = write!(s, "{f}");
        }
        ValueKind::Complex(re, im) => {
            let _ = write!(s, "({re}{im:+}i)");
        }
        ValueKind::String { text, len, .. } => s.push_str(&quote(text, *len)),
        ValueKind::UnsafePointer(p) => {
            let _ = write!(s, "unsafe.Pointer({p:#x})");
        }
        ValueKind::Pointer { target, pointee } => {
            if *target == 0 {
                s.push_str("nil");
            } else if let Some(p) = pointee {
                let _ = write!(s, "*");
                fmt_value(p, s, indent, false);
            } else {
                let _ = write!(s, "({})({target:#x})", v.type_name);
            }
        }
        ValueKind::Struct(fields) => {
            let _ = write!(s, "{} {{", v.type_name);
            for (i, (n, f)) in fields.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                let _ = write!(s, "{n}: ");
                fmt_value(f, s, indent, false);
            }
            s.push('}');
        }
        ValueKind::Array { len, elems } => {
            let _ = write!(s, "{} [", v.type_name);
            list(elems, *len, s, indent);
            s.push(']');
        }
        ValueKind::Slice {
            data,
            len,
            cap,
            elems,
        } => {
            if *data == 0 && *len == 0 {
                let _ = write!(s, "{} nil", v.type_name);
            } else {
                let _ = write!(s, "{} len: {len}, cap: {cap}, [", v.type_name);
                list(elems, *len, s, indent);
                s.push(']');
            }
        }
        ValueKind::Interface {
            type_addr,
            dynamic_type,
            value,
            data,
        } => {
            if *type_addr == 0 {
                let _ = write!(s, "{} nil", v.type_name);
            } else {
                let dt = dynamic_type.as_deref().unwrap_or("?");
                let _ = write!(s, "{}({dt}) ", v.type_name);
                match value {
                    Some(inner) => fmt_value(inner, s, indent, false),
                    None => {
                        let _ = write!(s, "{data:#x}");
                    }
                }
            }
        }
        ValueKind::Chan {
            addr,
            len,
            cap,
            closed,
        } => {
            if *addr == 0 {
                let _ = write!(s, "{} nil", v.type_name);
            } else {
                let _ = write!(
                    s,
                    "{} {addr:#x} (len {len}, cap {cap}{})",
                    v.type_name,
                    if *closed { ", closed" } else { "" }
                );
            }
        }
        ValueKind::Func { addr, name, entry } => {
            if *addr == 0 {
                s.push_str("nil");
            } else {
                match name {
                    Some(n) => s.push_str(n),
                    None => {
                        let _ = write!(s, "func@{entry:#x}");
                    }
                }
            }
        }
        ValueKind::Map(m) => fmt_map(m, s, indent, top),
        ValueKind::Unreadable(why) => {
            let _ = write!(s, "({} unreadable: {why})", v.type_name);
        }
        ValueKind::OptimizedAway => s.push_str("(optimized away)"),
    }
}

fn list(elems: &[Value], len: u64, s: &mut String, indent: usize) {
    for (i, e) in elems.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        fmt_value(e, s, indent, false);
    }
    if (elems.len() as u64) < len {
        if !elems.is_empty() {
            s.push_str(", ");
        }
        s.push_str(&format!("...+{} more", len - elems.len() as u64));
    }
}

fn fmt_map(m: &MapValue, s: &mut String, indent: usize, top: bool) {
    use std::fmt::Write as _;
    if m.addr == 0 {
        let _ = write!(s, "{} nil", m.type_name);
        return;
    }
    let _ = write!(s, "{} ", m.type_name);
    if m.count == 0 && m.entries.is_empty() {
        let _ = write!(s, "[] (empty, header {:#x})", m.addr);
        return;
    }
    let multi = top && m.entries.len() > 8;
    s.push('[');
    let pad = "\t".repeat(indent + 1);
    for (i, (k, v)) in m.entries.iter().enumerate() {
        if multi {
            s.push('\n');
            s.push_str(&pad);
        } else if i > 0 {
            s.push_str(", ");
        }
        fmt_value(k, s, indent + 1, false);
        s.push_str(": ");
        fmt_value(v, s, indent + 1, false);
        if multi {
            s.push(',');
        }
    }
    let more = m.count.saturating_sub(m.entries.len() as u64);
    if more > 0 {
        if multi {
            s.push('\n');
            s.push_str(&pad);
        } else if !m.entries.is_empty() {
            s.push_str(", ");
        }
        let _ = write!(s, "...+{more} more");
    }
    if multi {
        s.push('\n');
        s.push_str(&"\t".repeat(indent));
    }
    s.push(']');
}

/// A value as plain JSON: numbers, strings and bools as themselves,
/// structs as objects, arrays and slices as arrays, maps as map documents,
/// pointers, interfaces, channels and funcs as small objects.
pub fn value_json(v: &Value) -> Json {
    match &v.kind {
        ValueKind::Bool(b) => json!(b),
        ValueKind::Int(i) => json!(i),
        ValueKind::Uint(u) => json!(u),
        ValueKind::Float(f) => json!(f),
        ValueKind::Complex(re, im) => json!({"real": re, "imag": im}),
        ValueKind::String { text, len, .. } => {
            if (text.len() as u64) < *len {
                json!({"string": text, "len": len, "truncated": true})
            } else {
                json!(text)
            }
        }
        ValueKind::UnsafePointer(p) => json!({"pointer": hex(*p)}),
        ValueKind::Pointer { target, pointee } => {
            if *target == 0 {
                Json::Null
            } else {
                let mut o = Map::new();
                o.insert("pointer".into(), json!(hex(*target)));
                o.insert("type".into(), json!(v.type_name));
                if let Some(p) = pointee {
                    o.insert("target".into(), value_json(p));
                }
                Json::Object(o)
            }
        }
        ValueKind::Struct(fields) => {
            let mut o = Map::new();
            for (n, f) in fields {
                o.insert(n.clone(), value_json(f));
            }
            Json::Object(o)
        }
        ValueKind::Array { elems, .. } => Json::Array(elems.iter().map(value_json).collect()),
        ValueKind::Slice {
            data, len, elems, ..
        } => {
            if *data == 0 && *len == 0 {
                Json::Null
            } else {
                Json::Array(elems.iter().map(value_json).collect())
            }
        }
        ValueKind::Interface {
            type_addr,
            dynamic_type,
            value,
            data,
        } => {
            if *type_addr == 0 {
                Json::Null
            } else {
                json!({
                    "dynamic_type": dynamic_type,
                    "value": value.as_ref().map(|v| value_json(v)),
                    "data": hex(*data),
                })
            }
        }
        ValueKind::Chan {
            addr,
            len,
            cap,
            closed,
        } => {
            if *addr == 0 {
                Json::Null
            } else {
                json!({"chan": hex(*addr), "len": len, "cap": cap, "closed": closed})
            }
        }
        ValueKind::Func { addr, entry, name } => {
            if *addr == 0 {
                Json::Null
            } else {
                json!({"func": name, "entry": hex(*entry)})
            }
        }
        ValueKind::Map(m) => map_json(m),
        ValueKind::Unreadable(why) => json!({"unreadable": why}),
        ValueKind::OptimizedAway => json!({"unreadable": "optimized away"}),
    }
}

/// A map as the `core` JSON documents show it: `{"type", "nil", "count",
/// "entries": [[K, V], ...], "header": {...}, "health": {...}}`.
pub fn map_json(m: &MapValue) -> Json {
    let header = match &m.header {
        None => Json::Null,
        Some(MapHeader::Classic(h)) => json!({
            "era": "classic",
            "address": hex(m.addr),
            "count": h.count,
            "flags": h.flags,
            "B": h.b,
            "noverflow": h.noverflow,
            "hash0": h.hash0,
            "buckets": hex(h.buckets),
            "oldbuckets": hex(h.oldbuckets),
            "nevacuate": h.nevacuate,
            "extra": hex(h.extra),
        }),
        Some(MapHeader::Swiss(h)) => json!({
            "era": "swiss",
            "address": hex(m.addr),
            "used": h.used,
            "seed": h.seed,
            "dir_ptr": hex(h.dir_ptr),
            "dir_len": h.dir_len,
            "global_depth": h.global_depth,
            "global_shift": h.global_shift,
            "writing": h.writing,
            "tombstone_possible": h.tombstone_possible,
            "clear_seq": h.clear_seq,
            "tables": h.tables.iter().map(|t| json!({
                "address": hex(t.addr),
                "index": t.index,
                "directory_entries": t.dir_entries,
                "used": t.used,
                "capacity": t.capacity,
                "growth_left": t.growth_left,
                "local_depth": t.local_depth,
                "groups": t.groups,
            })).collect::<Vec<_>>(),
        }),
    };
    json!({
        "type": m.type_name,
        "nil": m.addr == 0,
        "address": hex(m.addr),
        "count": m.count,
        "entries": m.entries.iter().map(|(k, v)| json!([value_json(k), value_json(v)])).collect::<Vec<_>>(),
        "complete": m.complete,
        "header": header,
        "health": {
            "nil": m.health.nil,
            "growing": m.health.growing,
            "same_size_grow": m.health.same_size_grow,
            "writing": m.health.writing,
            "iterator": m.health.iterator,
            "found": m.health.found,
            "problems": m.health.problems,
        },
    })
}

// ---------------------------------------------------------------- stacks

/// JSON wire form of a frame (borrowed: a core of 100,000 goroutines
/// writes millions of them).
#[derive(serde::Serialize)]
struct FrameWire<'a> {
    function: &'a str,
    file: &'a str,
    line: u32,
    offset: u64,
    inlined: bool,
    pc: Option<String>,
    system_stack: bool,
}

#[derive(serde::Serialize)]
struct CreatedWire<'a> {
    function: &'a str,
    file: &'a str,
    line: u32,
    goroutine: Option<u64>,
}

#[derive(serde::Serialize)]
struct GoroutineWire<'a> {
    id: u64,
    status: &'a str,
    wait_reason: Option<&'a str>,
    state: &'a str,
    system: bool,
    locked_to_thread: bool,
    m: Option<i64>,
    thread: Option<u64>,
    address: String,
    created_by: Option<CreatedWire<'a>>,
    stack_source: &'static str,
    stack_note: Option<&'a str>,
    frames: Vec<FrameWire<'a>>,
}

fn goroutine_wire<'a>(gs: &GoroutineStack<'a, 'a>) -> GoroutineWire<'a> {
    let g = gs.g;
    GoroutineWire {
        id: g.id,
        status: gosleuth_target::status_name(g.status),
        wait_reason: (!g.wait_reason.is_empty()).then_some(g.wait_reason.as_str()),
        state: g.state(),
        system: g.system,
        locked_to_thread: g.locked,
        m: g.m_id,
        thread: gs.thread,
        address: hex(g.addr),
        created_by: gs.created_by.map(|c| CreatedWire {
            function: c.function,
            file: c.file,
            line: c.line,
            goroutine: c.parent,
        }),
        stack_source: source_name(gs.stack.source),
        stack_note: gs.stack.stopped.as_deref(),
        frames: gs
            .stack
            .frames
            .iter()
            .map(|f| {
                let p = gs.stack.physical.get(f.physical as usize);
                FrameWire {
                    function: f.function,
                    file: f.file,
                    line: f.line,
                    offset: f.offset,
                    inlined: f.inlined,
                    pc: p.map(|p| hex(p.pc)),
                    system_stack: p.is_some_and(|p| p.system_stack),
                }
            })
            .collect(),
    }
}

fn frame_json(f: &Frame<'_>, stack: &Stack<'_>) -> Json {
    let p = stack.physical.get(f.physical as usize);
    json!({
        "function": f.function,
        "file": f.file,
        "line": f.line,
        "offset": f.offset,
        "inlined": f.inlined,
        "pc": p.map(|p| hex(p.pc)),
        "system_stack": p.is_some_and(|p| p.system_stack),
    })
}

fn goroutine_json(gs: &GoroutineStack<'_, '_>, with_frames: bool) -> Json {
    let g = gs.g;
    let mut o = json!({
        "id": g.id,
        "status": gosleuth_target::status_name(g.status),
        "wait_reason": if g.wait_reason.is_empty() { Json::Null } else { json!(g.wait_reason) },
        "state": g.state(),
        "system": g.system,
        "locked_to_thread": g.locked,
        "m": g.m_id,
        "thread": gs.thread,
        "address": hex(g.addr),
        "created_by": gs.created_by.map(|c| json!({
            "function": c.function,
            "file": c.file,
            "line": c.line,
            "goroutine": c.parent,
        })),
        "stack_source": source_name(gs.stack.source),
        "stack_note": gs.stack.stopped,
    });
    if with_frames {
        o["frames"] = Json::Array(
            gs.stack
                .frames
                .iter()
                .map(|f| frame_json(f, gs.stack))
                .collect(),
        );
    }
    o
}

fn source_name(s: StackSource) -> &'static str {
    match s {
        StackSource::Thread(_) => "thread registers",
        StackSource::Syscall => "system call entry",
        StackSource::Sched => "saved context",
        StackSource::None => "none",
    }
}

fn header_line(gs: &GoroutineStack<'_, '_>) -> String {
    let g = gs.g;
    let mut state = g.state().to_string();
    if g.locked {
        state.push_str(", locked to thread");
    }
    let mut extra = Vec::new();
    if let Some(m) = g.m_id {
        extra.push(format!("m={m}"));
    }
    if let Some(t) = gs.thread {
        extra.push(format!("thread={t}"));
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" {}", extra.join(" "))
    };
    format!("goroutine {}{extra} [{state}]:", g.id)
}

/// A goroutine's stack the way the runtime prints it (readable by
/// `gosleuth goroutines` and `gosleuth analyze`).
fn traceback_text(gs: &GoroutineStack<'_, '_>, paint: Paint, color: bool) -> String {
    let mut s = String::with_capacity(64 * (gs.stack.frames.len() + 2));
    let header = header_line(gs);
    if color {
        s.push_str(&paint.bold(&header));
    } else {
        s.push_str(&header);
    }
    s.push('\n');
    let mut last_system = false;
    let mut last_physical = u32::MAX;
    for f in &gs.stack.frames {
        let phys = gs.stack.physical.get(f.physical as usize);
        let system = phys.is_some_and(|p| p.system_stack);
        let signal = phys
            .and_then(|p| p.signal)
            .filter(|_| f.physical != last_physical);
        let note = if let Some(sig) = signal {
            Some(format!(
                "--- interrupted by {} ({} stack) ---",
                signal_name(sig),
                if system { "system" } else { "goroutine" }
            ))
        } else if last_system && !system {
            Some("--- goroutine stack ---".to_string())
        } else {
            None
        };
        if let Some(n) = note {
            s.push_str(&paint.dim(&n));
            s.push('\n');
        }
        last_system = system;
        last_physical = f.physical;
        let start = s.len();
        write_traceback_frame(&mut s, f.function, f.file, f.line, f.offset, f.inlined);
        if system && color {
            let plain = s.split_off(start);
            for (i, part) in plain.split('\n').enumerate() {
                if i > 0 {
                    s.push('\n');
                }
                s.push_str(&paint.dim(part));
            }
        }
        s.push('\n');
    }
    if let Some(why) = &gs.stack.stopped
        && !why.is_empty()
    {
        s.push_str(&paint.yellow(&format!("\t... unwinding stopped: {why}")));
        s.push('\n');
    }
    if let Some(c) = gs.created_by {
        write_created_by(&mut s, c.function, c.parent, c.file, c.line);
    }
    s
}

fn warnings_text(info: &CoreInfo, paint: Paint) -> String {
    let mut s = String::new();
    for w in &info.warnings {
        s.push_str(&paint.yellow(&format!("warning: {w}\n")));
    }
    s
}

/// Writes `core EXE CORE goroutines` one goroutine at a time, so that a
/// core with 100,000 goroutines never holds all their stacks at once.
pub struct GoroutineListWriter<'o> {
    format: Format,
    paint: Paint,
    color: bool,
    out: &'o mut dyn Write,
    count: usize,
}

impl<'o> GoroutineListWriter<'o> {
    /// Starts the list.
    pub fn begin(
        info: &CoreInfo,
        format: Format,
        colored: bool,
        out: &'o mut dyn Write,
    ) -> io::Result<Self> {
        match format {
            Format::Json => {
                let head = json!({
                    "schema": GOROUTINES_SCHEMA,
                    "core": info.core,
                    "executable": info.executable,
                    "go_version": info.go_version,
                });
                let head = serde_json::to_string(&head)?;
                // Open the object, leave it open for the goroutines array.
                write!(out, "{},\"goroutines\":[", &head[..head.len() - 1])?;
            }
            Format::Markdown => writeln!(out, "```")?,
            Format::Html => write!(
                out,
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>gosleuth core goroutines</title></head><body><pre>"
            )?,
            Format::Text => {}
        }
        let color = colored && format == Format::Text;
        Ok(GoroutineListWriter {
            format,
            paint: Paint::new(color),
            color,
            out,
            count: 0,
        })
    }

    /// Writes one goroutine.
    pub fn item(&mut self, gs: &GoroutineStack<'_, '_>) -> io::Result<()> {
        match self.format {
            Format::Json => {
                if self.count > 0 {
                    write!(self.out, ",")?;
                }
                // One write per goroutine: serde_json writes in tiny pieces.
                let buf = serde_json::to_vec(&goroutine_wire(gs))?;
                self.out.write_all(&buf)?;
            }
            Format::Html => {
                if self.count > 0 {
                    writeln!(self.out)?;
                }
                write!(
                    self.out,
                    "{}",
                    html_escape(&traceback_text(gs, self.paint, false))
                )?;
            }
            _ => {
                if self.count > 0 {
                    writeln!(self.out)?;
                }
                self.out
                    .write_all(traceback_text(gs, self.paint, self.color).as_bytes())?;
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Ends the list.
    pub fn end(self, info: &CoreInfo) -> io::Result<()> {
        match self.format {
            Format::Json => {
                let w = serde_json::to_string(&info.warnings)?;
                writeln!(self.out, "],\"warnings\":{w}}}")
            }
            Format::Markdown => {
                write!(self.out, "{}", warnings_text(info, self.paint))?;
                writeln!(self.out, "```")
            }
            Format::Html => {
                write!(
                    self.out,
                    "{}",
                    html_escape(&warnings_text(info, self.paint))
                )?;
                writeln!(self.out, "</pre></body></html>")
            }
            Format::Text => write!(self.out, "{}", warnings_text(info, self.paint)),
        }
    }
}

/// `core EXE CORE bt GOID`.
pub fn write_backtrace(
    info: &CoreInfo,
    gs: &GoroutineStack<'_, '_>,
    format: Format,
    colored: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if format == Format::Json {
        let mut g = goroutine_json(gs, false);
        g["frames"] = Json::Array(
            gs.stack
                .frames
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let mut j = frame_json(f, gs.stack);
                    j["index"] = json!(i);
                    if let Some(p) = gs.stack.physical.get(f.physical as usize) {
                        j["sp"] = json!(hex(p.sp));
                        j["cfa"] = json!(hex(p.cfa));
                        j["signal"] = json!(p.signal.map(signal_name));
                    }
                    j
                })
                .collect(),
        );
        return write_json(
            out,
            &json!({"schema": BACKTRACE_SCHEMA, "goroutine": g, "warnings": info.warnings}),
        );
    }
    let paint = Paint::new(colored && format == Format::Text);
    let mut s = format!(
        "{}  {}\n",
        paint.bold(&header_line(gs)),
        paint.dim(&format!("(from {})", source_name(gs.stack.source)))
    );
    let width = gs
        .stack
        .frames
        .iter()
        .map(|f| traceback_name(f.function).len() + if f.inlined { 5 } else { 0 })
        .max()
        .unwrap_or(0)
        .min(70);
    for (i, f) in gs.stack.frames.iter().enumerate() {
        let p = gs.stack.physical.get(f.physical as usize);
        let mut name = traceback_name(f.function).into_owned();
        if f.inlined {
            name.push_str(" (inl)");
        }
        let mut line = format!(
            "{i:>3}  {name:<width$}  {}:{}",
            f.file,
            f.line,
            width = width
        );
        if let Some(p) = p {
            if !f.inlined {
                line.push_str(&format!("  pc={:#x} sp={:#x}", p.pc, p.sp));
            }
            if let Some(sig) = p.signal {
                line.push_str(&format!("  [interrupted by {}]", signal_name(sig)));
            }
        }
        let system = p.is_some_and(|p| p.system_stack);
        s.push_str(&if system { paint.dim(&line) } else { line });
        s.push('\n');
    }
    if let Some(why) = &gs.stack.stopped {
        s.push_str(&paint.yellow(&format!("     unwinding stopped: {why}\n")));
    }
    if let Some(c) = gs.created_by {
        s.push_str(&format!(
            "     created by {}{} at {}:{}\n",
            traceback_name(c.function),
            c.parent
                .map(|p| format!(" in goroutine {p}"))
                .unwrap_or_default(),
            c.file,
            c.line
        ));
    }
    s.push_str(&warnings_text(info, paint));
    wrap_text(format, out, &s)
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Arg => "arg",
        Role::Result => "result",
        Role::Local => "local",
    }
}

/// `core EXE CORE locals GOID FRAME`.
pub fn write_locals(
    info: &CoreInfo,
    gs: &GoroutineStack<'_, '_>,
    frame: usize,
    vars: &[Variable],
    format: Format,
    colored: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let f = gs.stack.frames.get(frame);
    if format == Format::Json {
        return write_json(
            out,
            &json!({
                "schema": LOCALS_SCHEMA,
                "goroutine": gs.g.id,
                "frame": {
                    "index": frame,
                    "function": f.map(|f| f.function),
                    "file": f.map(|f| f.file),
                    "line": f.map(|f| f.line),
                    "inlined": f.map(|f| f.inlined),
                },
                "variables": vars.iter().map(|v| json!({
                    "name": v.name,
                    "role": role_name(v.role),
                    "type": v.value.type_name,
                    "address": v.value.addr.map(hex),
                    "decl_line": v.decl_line,
                    "value": value_json(&v.value),
                })).collect::<Vec<_>>(),
                "warnings": info.warnings,
            }),
        );
    }
    let paint = Paint::new(colored && format == Format::Text);
    let mut s = String::new();
    if let Some(f) = f {
        s.push_str(&paint.bold(&format!(
            "goroutine {} frame {frame}: {}{}\n",
            gs.g.id,
            traceback_name(f.function),
            if f.inlined { " (inlined)" } else { "" }
        )));
        s.push_str(&paint.dim(&format!("\t{}:{}\n", f.file, f.line)));
    }
    if vars.is_empty() {
        s.push_str("  (no variables: none in DWARF for this frame at this PC)\n");
    }
    for v in vars {
        s.push_str(&format!(
            "  {:<6} {} {} = {}\n",
            role_name(v.role),
            v.name,
            paint.dim(&v.value.type_name),
            format_value(&v.value)
        ));
    }
    s.push_str(&warnings_text(info, paint));
    wrap_text(format, out, &s)
}

/// `core EXE CORE print [GOID FRAME] EXPR`.
pub fn write_value(
    info: &CoreInfo,
    expr: &str,
    v: &Value,
    format: Format,
    colored: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if format == Format::Json {
        let mut doc = match &v.kind {
            ValueKind::Map(m) => map_json(m),
            _ => json!({"type": v.type_name, "value": value_json(v)}),
        };
        if let Json::Object(o) = &mut doc {
            o.insert("schema".into(), json!(VALUE_SCHEMA));
            o.insert("expr".into(), json!(expr));
            if let Some(a) = v.addr {
                o.insert("variable_address".into(), json!(hex(a)));
            }
            o.insert("warnings".into(), json!(info.warnings));
        }
        return write_json(out, &doc);
    }
    let paint = Paint::new(colored && format == Format::Text);
    let mut s = format!("{expr} = {}\n", format_value(v));
    if let ValueKind::Map(m) = &v.kind {
        s.push_str(&paint.dim(&format!("  {}\n", map_health_line(m))));
    }
    s.push_str(&warnings_text(info, paint));
    wrap_text(format, out, &s)
}

fn map_health_line(m: &MapValue) -> String {
    if m.addr == 0 {
        return "nil map: reading is fine, writing panics (assignment to entry in nil map)".into();
    }
    let mut parts = vec![format!("header {:#x}", m.addr)];
    match &m.header {
        Some(MapHeader::Classic(h)) => {
            parts.push(format!(
                "classic hmap: count {}, B {}, flags {:#x}, noverflow {}",
                h.count, h.b, h.flags, h.noverflow
            ));
            if h.oldbuckets != 0 {
                parts.push(format!(
                    "growing ({}; {} of {} old buckets evacuated)",
                    if m.health.same_size_grow {
                        "same size"
                    } else {
                        "doubling"
                    },
                    h.nevacuate,
                    if m.health.same_size_grow {
                        1u64 << h.b
                    } else {
                        (1u64 << h.b) / 2
                    }
                ));
            }
        }
        Some(MapHeader::Swiss(h)) => {
            let dups = h.tables.iter().filter(|t| t.dir_entries > 1).count();
            parts.push(format!(
                "swiss map: used {}, {} directory entries, {} tables{}, global depth {}",
                h.used,
                h.dir_len,
                if h.dir_len == 0 {
                    "small map (one group)".to_string()
                } else {
                    h.tables.len().to_string()
                },
                if dups > 0 {
                    format!(" ({dups} shared by several directory entries)")
                } else {
                    String::new()
                },
                h.global_depth
            ));
        }
        None => {}
    }
    if m.health.writing {
        parts.push("WRITING FLAG SET: a write was in progress".into());
    }
    if m.health.iterator {
        parts.push("iterator active".into());
    }
    for p in &m.health.problems {
        parts.push(format!("problem: {p}"));
    }
    parts.join("; ")
}

/// `core EXE CORE maps`.
pub fn write_maps(
    info: &CoreInfo,
    maps: &[(MapSummary, Option<&MapValue>)],
    format: Format,
    colored: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if format == Format::Json {
        return write_json(
            out,
            &json!({
                "schema": MAPS_SCHEMA,
                "maps": maps.iter().map(|(m, v)| {
                    let mut j = json!({
                        "location": m.location,
                        "expr": m.expr,
                        "goroutine": m.frame.map(|f| f.0),
                        "frame": m.frame.map(|f| f.1),
                        "type": m.type_name,
                        "nil": m.nil,
                        "header_address": hex(m.header),
                        "era": m.era,
                        "count": m.count,
                        "growing": m.growing,
                        "writing": m.writing,
                        "problems": m.problems,
                        "goroutines_in_map_ops": m.goroutines_in_map_ops,
                    });
                    if let Some(v) = v {
                        j["map"] = map_json(v);
                    }
                    j
                }).collect::<Vec<_>>(),
                "warnings": info.warnings,
            }),
        );
    }
    let paint = Paint::new(colored && format == Format::Text);
    let mut s = String::new();
    if maps.is_empty() {
        s.push_str(if info.has_dwarf {
            "no maps reachable from the crashing goroutine's frames or package variables\n"
        } else {
            "no maps: the executable has no DWARF (stripped), so variables cannot be read\n"
        });
    }
    for (m, v) in maps {
        let mut head = format!("{}  {}", m.location, paint.dim(&m.type_name));
        if m.nil {
            head.push_str(&format!("  {}", paint.red("nil (header pointer 0x0)")));
        } else {
            head.push_str(&format!(
                "  len {} at {:#x}{}",
                m.count,
                m.header,
                m.era
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
        s.push_str(&head);
        s.push('\n');
        if let Some(v) = v {
            s.push_str(&paint.dim(&format!("    {}\n", map_health_line(v))));
            if !v.entries.is_empty() {
                let mut t = String::new();
                fmt_map(v, &mut t, 1, true);
                s.push_str(&format!("    {t}\n"));
            }
        } else {
            let mut flags = Vec::new();
            if m.growing {
                flags.push("growing".to_string());
            }
            if m.writing {
                flags.push("writing flag set".to_string());
            }
            flags.extend(m.problems.iter().cloned());
            if !flags.is_empty() {
                s.push_str(&format!("    {}\n", flags.join("; ")));
            }
        }
        if !m.goroutines_in_map_ops.is_empty() {
            s.push_str(&paint.yellow(&format!(
                "    goroutines inside a map operation on this map: {}\n",
                m.goroutines_in_map_ops
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    s.push_str(&warnings_text(info, paint));
    wrap_text(format, out, &s)
}

/// The crash part of the summary.
#[derive(Debug, Clone)]
pub struct SummaryView<'a, 'd> {
    /// The crash.
    pub crash: &'a Crash,
    /// The crashing goroutine, if any.
    pub crashing: Option<GoroutineStack<'a, 'd>>,
    /// Goroutine count by state, most first.
    pub states: Vec<(String, u64)>,
    /// The grouped goroutines.
    pub groups: &'a gosleuth_diagnose::GoroutineView,
    /// Total goroutines.
    pub total: usize,
}

/// `core EXE CORE`.
pub fn write_summary(
    info: &CoreInfo,
    view: &SummaryView<'_, '_>,
    format: Format,
    colored: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let c = view.crash;
    let sig_json = |n: i32, code: Option<u64>, addr: Option<u64>, pc: Option<u64>| json!({"number": n, "name": signal_name(n), "code": code, "addr": addr.map(hex), "pc": pc.map(hex)});
    if format == Format::Json {
        let groups = {
            let mut buf = Vec::new();
            crate::json::write_goroutines(view.groups, &mut buf)?;
            serde_json::from_slice::<Json>(&buf).unwrap_or(Json::Null)
        };
        return write_json(
            out,
            &json!({
                "schema": SUMMARY_SCHEMA,
                "core": info.core,
                "executable": info.executable,
                "go_version": info.go_version,
                "arch": info.arch,
                "threads": info.threads,
                "layout": info.layout,
                "crash": {
                    "goroutine": c.goroutine,
                    "core_signal": c.core_signal.map(|s| sig_json(s.signo, Some(s.code as u64), s.addr, None)),
                    "cause_signal": c.cause_signal.map(|s| sig_json(s.signo, s.code, s.addr, s.pc)),
                    "panics": c.panics.iter().map(|p| json!({
                        "message": p.text,
                        "type": p.rtype.as_ref().map(|t| &t.name),
                        "recovered": p.recovered,
                        "repanicked": p.repanicked,
                        "goexit": p.goexit,
                    })).collect::<Vec<_>>(),
                    "fatal": c.fatal,
                    "stack": view.crashing.as_ref().map(|g| goroutine_json(g, true)),
                },
                "goroutines": view.total,
                "states": view.states.iter().map(|(s, n)| json!({"state": s, "count": n})).collect::<Vec<_>>(),
                "groups": groups.get("groups").cloned().unwrap_or(Json::Null),
                "warnings": info.warnings,
            }),
        );
    }
    let paint = Paint::new(colored && format == Format::Text);
    let mut s = String::new();
    s.push_str(&format!(
        "{} {}\n",
        paint.heading("Core dump"),
        paint.dim(&format!("{} (executable {})", info.core, info.executable))
    ));
    s.push_str(&format!(
        "  {} linux/{}, {} threads, {} goroutines; runtime layout from {}{}\n",
        info.go_version.as_deref().unwrap_or("Go (version unknown)"),
        info.arch,
        info.threads,
        view.total,
        info.layout,
        if info.has_dwarf {
            ""
        } else {
            " (no DWARF: stacks only, no variables)"
        }
    ));
    if let Some(sg) = c.core_signal {
        let mut line = format!("  core dumped on {}", signal_name(sg.signo));
        if let Some(a) = sg.addr {
            line.push_str(&format!(" at {a:#x}"));
        }
        if let Some(cause) = c.cause_signal {
            line.push_str(&format!(", started by {}", signal_name(cause.signo)));
            if let Some(a) = cause.addr.filter(|_| matches!(cause.signo, 7 | 11)) {
                line.push_str(&format!(" (fault address {a:#x}"));
                if let Some(pc) = cause.pc {
                    line.push_str(&format!(", pc {pc:#x}"));
                }
                line.push(')');
            }
        }
        s.push_str(&line);
        s.push('\n');
    }
    s.push('\n');
    s.push_str(&format!("{}\n", paint.heading("Crash")));
    for (i, p) in c.panics.iter().enumerate() {
        let mut line = if i == 0 {
            format!("panic: {}", p.text)
        } else {
            format!("\tpanic: {}", p.text)
        };
        if p.recovered {
            line.push_str(if p.repanicked {
                " [recovered, repanicked]"
            } else {
                " [recovered]"
            });
        }
        if let Some(t) = &p.rtype {
            line.push_str(&paint.dim(&format!("   (dynamic type {})", t.name)));
        }
        s.push_str(&paint.red(&line));
        s.push('\n');
    }
    if let Some(f) = &c.fatal {
        s.push_str(&paint.red(&format!("fatal error: {f}")));
        s.push('\n');
    }
    if c.panics.is_empty() && c.fatal.is_none() {
        match c.cause_signal {
            Some(cs) => s.push_str(&format!(
                "no panic: the process was killed by {} (a signal dump under GOTRACEBACK=crash)\n",
                signal_name(cs.signo)
            )),
            None => s.push_str("no panic or fatal error found\n"),
        }
    }
    match &view.crashing {
        Some(g) => {
            s.push('\n');
            s.push_str(&traceback_text(g, paint, colored && format == Format::Text));
        }
        None => s.push_str("no goroutine was running the crash (idle thread)\n"),
    }
    s.push('\n');
    s.push_str(&format!(
        "{} {}\n",
        paint.heading("States"),
        view.states
            .iter()
            .map(|(st, n)| format!("{st} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s.push('\n');
    wrap_text(format, out, &s)?;
    if format == Format::Text {
        crate::text::write_goroutines(view.groups, paint, out)?;
        let w = warnings_text(info, paint);
        write!(out, "{w}")?;
    }
    Ok(())
}

/// `core EXE CORE threads`.
pub fn write_threads(
    info: &CoreInfo,
    threads: &[(u64, Option<i64>, Option<u64>, Stack<'_>)],
    format: Format,
    colored: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if format == Format::Json {
        return write_json(
            out,
            &json!({
                "schema": THREADS_SCHEMA,
                "threads": threads.iter().map(|(id, m, g, stack)| json!({
                    "id": id,
                    "m": m,
                    "goroutine": g,
                    "frames": stack.frames.iter().map(|f| frame_json(f, stack)).collect::<Vec<_>>(),
                    "stack_note": stack.stopped,
                })).collect::<Vec<_>>(),
                "warnings": info.warnings,
            }),
        );
    }
    let paint = Paint::new(colored && format == Format::Text);
    let mut s = String::new();
    for (i, (id, m, g, stack)) in threads.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&paint.bold(&format!(
            "thread {id}{}{}{}:\n",
            m.map(|m| format!(" m={m}")).unwrap_or_default(),
            g.map(|g| format!(" running goroutine {g}")).unwrap_or_default(),
            if i == 0 { " (dumped core)" } else { "" }
        )));
        for f in &stack.frames {
            let p = stack.physical.get(f.physical as usize);
            let mut line = format!(
                "  {}{}  {}:{}",
                traceback_name(f.function),
                if f.inlined { " (inl)" } else { "" },
                f.file,
                f.line
            );
            if let Some(sig) = p.and_then(|p| p.signal) {
                line.push_str(&format!("  [interrupted by {}]", signal_name(sig)));
            }
            s.push_str(&line);
            s.push('\n');
        }
        if let Some(w) = &stack.stopped {
            s.push_str(&paint.dim(&format!("  ... {w}\n")));
        }
    }
    s.push_str(&warnings_text(info, paint));
    wrap_text(format, out, &s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(type_name: &str, kind: ValueKind) -> Value {
        Value {
            type_name: type_name.into(),
            addr: None,
            kind,
        }
    }

    #[test]
    fn values_render_like_go() {
        let s = v(
            "main.User",
            ValueKind::Struct(vec![
                (
                    "ID".into(),
                    v(
                        "string",
                        ValueKind::String {
                            data: 1,
                            len: 5,
                            text: "u-7".into(),
                        },
                    ),
                ),
                ("N".into(), v("int", ValueKind::Int(-3))),
            ]),
        );
        assert_eq!(format_value(&s), "main.User {ID: \"u-7\"...+2 more, N: -3}");
        assert_eq!(
            value_json(&s),
            json!({"ID": {"string": "u-7", "len": 5, "truncated": true}, "N": -3})
        );
        let nil = MapValue {
            type_name: "map[string]int".into(),
            addr: 0,
            key_type: None,
            elem_type: None,
            header: None,
            count: 0,
            entries: vec![],
            complete: true,
            health: Default::default(),
        };
        assert_eq!(
            format_value(&v("map[string]int", ValueKind::Map(Box::new(nil.clone())))),
            "map[string]int nil"
        );
        let j = map_json(&nil);
        assert_eq!(j["nil"], json!(true));
        assert_eq!(j["type"], json!("map[string]int"));
        assert_eq!(j["entries"], json!([]));
    }
}
