//! What a diagnosis needs from a stopped process, as plain owned data: the
//! crash (signal, panic values, fatal message, crashing goroutine and its
//! frames), every goroutine with its frames and state, and the maps the
//! crash touches with their health — including which other goroutines
//! were inside a map operation on the same map (by header address), the
//! evidence for concurrent map misuse.

use gosleuth_gobin::TypeRef;

use crate::error::Result;
use crate::goroutines::Goroutine;
use crate::maps::MapValue;
use crate::process::Process;
use crate::target::signal_name;
use crate::unwind::{Stack, UnwindCache, UnwindOptions};
use crate::value::{Inspector, LoadLimits, Shape, Value, ValueKind};

/// A signal, by number and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalSummary {
    /// Number.
    pub number: i32,
    /// `SIGSEGV`.
    pub name: String,
    /// `si_code`, when known.
    pub code: Option<u64>,
    /// Faulting address, when known.
    pub addr: Option<u64>,
    /// Faulting PC, when known.
    pub pc: Option<u64>,
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSummary {
    /// Function (symbol name).
    pub function: String,
    /// File.
    pub file: String,
    /// Line.
    pub line: u32,
    /// `pc - entry`.
    pub offset: u64,
    /// An inlined call.
    pub inlined: bool,
    /// Ran on the system stack (g0/gsignal).
    pub system_stack: bool,
}

/// One goroutine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoroutineSummary {
    /// Id.
    pub id: u64,
    /// Status name (`running`, `waiting`...).
    pub status: String,
    /// State as tracebacks print it (the wait reason when waiting).
    pub state: String,
    /// Wait reason, when waiting.
    pub wait_reason: Option<String>,
    /// A runtime goroutine.
    pub system: bool,
    /// Locked to a thread.
    pub locked: bool,
    /// `m.id` when on an M.
    pub m: Option<i64>,
    /// Kernel thread id when running on one.
    pub thread: Option<u64>,
    /// Frames, innermost first.
    pub frames: Vec<FrameSummary>,
    /// Why the stack is incomplete, if it is.
    pub stack_note: Option<String>,
    /// `created by`.
    pub created_by: Option<FrameSummary>,
    /// Creator goroutine.
    pub parent: Option<u64>,
    /// Map operations on its stack: (runtime function, header address when
    /// known).
    pub map_ops: Vec<(String, Option<u64>)>,
}

/// A map the crash touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSummary {
    /// Where it was found: `goroutine 7 frame 2 main.(*UserService).Save: s.cache`.
    pub location: String,
    /// The expression reaching it in that frame (`s.cache`).
    pub expr: String,
    /// Goroutine and frame index it was found in (None for package
    /// variables).
    pub frame: Option<(u64, usize)>,
    /// Static type (`map[string]*main.User`).
    pub type_name: String,
    /// Header address; 0 for a nil map.
    pub header: u64,
    /// `classic` or `swiss`.
    pub era: Option<String>,
    /// `len`.
    pub count: u64,
    /// Nil map.
    pub nil: bool,
    /// Grow in progress.
    pub growing: bool,
    /// Writing flag set.
    pub writing: bool,
    /// Problems found walking it.
    pub problems: Vec<String>,
    /// Other goroutines inside a map operation on this same map.
    pub goroutines_in_map_ops: Vec<u64>,
}

/// Everything a diagnosis needs, owned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Go release (`go1.26.8`).
    pub go_version: Option<String>,
    /// `amd64`.
    pub arch: String,
    /// Number of threads.
    pub threads: usize,
    /// The signal the core was dumped for.
    pub core_signal: Option<SignalSummary>,
    /// The signal that started the crash.
    pub cause_signal: Option<SignalSummary>,
    /// The goroutine that crashed.
    pub crashing_goroutine: Option<u64>,
    /// Panic values (as printed), oldest first, with their dynamic types.
    pub panics: Vec<(String, Option<String>, bool)>,
    /// Fatal error message.
    pub fatal: Option<String>,
    /// Goroutines.
    pub goroutines: Vec<GoroutineSummary>,
    /// Maps reachable from the crashing goroutine's frames.
    pub maps: Vec<MapSummary>,
    /// Warnings (missing memory, stripped binary...).
    pub warnings: Vec<String>,
}

impl Summary {
    /// The crash and every goroutine as the runtime prints them on the way
    /// down (`panic: ...` or `fatal error: ...`, the signal line, then one
    /// `goroutine N [state]:` section each, the crashing goroutine first),
    /// so that the traceback parser and the diagnosis read a core the way
    /// they read a log. Arguments are not printed (`()`), inlined calls are
    /// `(...)` as in real tracebacks.
    pub fn traceback_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        for (i, (text, _, recovered)) in self.panics.iter().enumerate() {
            let indent = if i == 0 { "" } else { "\t" };
            let _ = writeln!(
                s,
                "{indent}panic: {text}{}",
                if *recovered { " [recovered]" } else { "" }
            );
        }
        if let Some(msg) = &self.fatal {
            let _ = writeln!(s, "fatal error: {msg}");
        }
        // Go prints the signal line for panics a signal caused (and for
        // fatal signals); not for the SIGABRT GOTRACEBACK=crash raises.
        if let Some(sig) = &self.cause_signal {
            let _ = write!(s, "[signal {}", sig.name);
            if let Some(code) = sig.code {
                let _ = write!(s, " code={code:#x}");
            }
            if let Some(addr) = sig.addr {
                let _ = write!(s, " addr={addr:#x}");
            }
            if let Some(pc) = sig.pc {
                let _ = write!(s, " pc={pc:#x}");
            }
            s.push_str("]\n");
        }
        let crashing = self
            .goroutines
            .iter()
            .filter(|g| Some(g.id) == self.crashing_goroutine);
        let rest = self
            .goroutines
            .iter()
            .filter(|g| Some(g.id) != self.crashing_goroutine);
        for g in crashing.chain(rest) {
            let _ = write!(s, "\ngoroutine {} [{}", g.id, g.state);
            if g.locked {
                s.push_str(", locked to thread");
            }
            s.push_str("]:\n");
            for f in &g.frames {
                crate::goroutines::write_traceback_frame(
                    &mut s,
                    &f.function,
                    &f.file,
                    f.line,
                    f.offset,
                    f.inlined,
                );
                s.push('\n');
            }
            if let Some(c) = &g.created_by {
                crate::goroutines::write_created_by(&mut s, &c.function, g.parent, &c.file, c.line);
            }
        }
        s
    }
}

/// Runtime functions that carry out or grow a map operation (whose frame
/// names the map it works on), from the shared table.
pub fn is_map_op(function: &str) -> bool {
    matches!(
        gosleuth_model::runtime_map_role(function),
        Some(gosleuth_model::MapRole::Entry(_) | gosleuth_model::MapRole::Grow)
    )
}

fn frame_summary(f: &crate::unwind::Frame<'_>, stack: &Stack<'_>) -> FrameSummary {
    FrameSummary {
        function: f.function.to_string(),
        file: f.file.to_string(),
        line: f.line,
        offset: f.offset,
        inlined: f.inlined,
        system_stack: stack
            .physical
            .get(f.physical as usize)
            .is_some_and(|p| p.system_stack),
    }
}

fn sig(number: i32, code: Option<u64>, addr: Option<u64>, pc: Option<u64>) -> SignalSummary {
    SignalSummary {
        number,
        name: signal_name(number),
        code,
        addr,
        pc,
    }
}

impl<'t, 'data> Process<'t, 'data> {
    /// Builds the [`Summary`]. Map health needs DWARF; without it the maps
    /// list is empty and a warning says why.
    pub fn summary(&self) -> Result<Summary> {
        let crash = self.crash()?;
        let gs = self.goroutines()?;
        let mut cache = UnwindCache::new();
        let stacks: Vec<Stack<'data>> = gs
            .iter()
            .map(|g| self.unwind(g, &mut cache, UnwindOptions::default()))
            .collect();
        let ins = Inspector::new(
            self,
            LoadLimits {
                max_map_entries: 0,
                ..LoadLimits::default()
            },
        )
        .ok();
        let mut out = Summary {
            go_version: self.go_version().map(|v| v.to_string()),
            arch: self.arch().name().to_string(),
            threads: self.raw_threads().len(),
            core_signal: crash
                .core_signal
                .map(|s| sig(s.signo, Some(s.code as u64), s.addr, None)),
            cause_signal: crash
                .cause_signal
                .map(|s| sig(s.signo, s.code, s.addr, s.pc)),
            crashing_goroutine: crash.goroutine,
            panics: crash
                .panics
                .iter()
                .map(|p| {
                    (
                        p.text.clone(),
                        p.rtype.as_ref().map(|t| t.name.clone()),
                        p.recovered,
                    )
                })
                .collect(),
            fatal: crash.fatal.clone(),
            ..Summary::default()
        };
        for (g, stack) in gs.iter().zip(&stacks) {
            out.goroutines.push(GoroutineSummary {
                id: g.id,
                status: crate::goroutines::status_name(g.status).to_string(),
                state: g.state().to_string(),
                wait_reason: (!g.wait_reason.is_empty()).then(|| g.wait_reason.clone()),
                system: g.system,
                locked: g.locked,
                m: g.m_id,
                thread: g
                    .thread
                    .and_then(|i| self.raw_threads().get(i))
                    .map(|t| t.id),
                frames: stack
                    .frames
                    .iter()
                    .map(|f| frame_summary(f, stack))
                    .collect(),
                stack_note: stack.stopped.clone(),
                created_by: self.created_by(g).map(|c| FrameSummary {
                    function: c.function.to_string(),
                    file: c.file.to_string(),
                    line: c.line,
                    offset: 0,
                    inlined: false,
                    system_stack: false,
                }),
                parent: g.parent_id.filter(|&p| p != 0),
                map_ops: ins
                    .as_ref()
                    .map(|ins| ins.map_ops(stack))
                    .unwrap_or_else(|| {
                        stack
                            .frames
                            .iter()
                            .filter(|f| is_map_op(f.function))
                            .map(|f| (f.function.to_string(), None))
                            .collect()
                    }),
            });
        }
        match &ins {
            Some(ins) => {
                if let Some(id) = crash.goroutine
                    && let Some(i) = gs.iter().position(|g| g.id == id)
                {
                    out.maps = ins.crash_maps(&gs[i], &stacks[i]);
                }
                // Which goroutines operate on each of these maps.
                for m in &mut out.maps {
                    if m.header == 0 {
                        continue;
                    }
                    for (g, stack) in gs.iter().zip(&stacks) {
                        let on = out
                            .goroutines
                            .iter()
                            .find(|s| s.id == g.id)
                            .is_some_and(|s| s.map_ops.iter().any(|(_, h)| *h == Some(m.header)))
                            || ins.stack_mentions(stack, m.header);
                        if on && !m.goroutines_in_map_ops.contains(&g.id) {
                            m.goroutines_in_map_ops.push(g.id);
                        }
                    }
                }
            }
            None => out.warnings.push(
                "no DWARF: variables and map health are not available (stripped executable)".into(),
            ),
        }
        out.warnings.extend(self.warnings());
        Ok(out)
    }
}

impl Inspector<'_, '_, '_> {
    /// The map operations on a stack with the header each works on, read
    /// from the runtime function's `h`/`m` argument when DWARF can.
    pub fn map_ops(&self, stack: &Stack<'_>) -> Vec<(String, Option<u64>)> {
        let mut out = Vec::new();
        for (i, f) in stack.frames.iter().enumerate() {
            if !is_map_op(f.function) || f.inlined {
                continue;
            }
            let header = self
                .map_op_target(stack, i)
                .map(|(h, _)| h)
                .filter(|&h| h != 0);
            out.push((f.function.to_string(), header));
        }
        out
    }

    /// The map a runtime map function works on: its header address and the
    /// map type (from the `t`/`typ` argument's runtime type).
    pub(crate) fn map_op_target(
        &self,
        stack: &Stack<'_>,
        frame: usize,
    ) -> Option<(u64, Option<TypeRef>)> {
        let places = self.frame_places(stack, frame).ok()?;
        let mut header = None;
        let mut map_type = None;
        for (name, _, _, place) in &places {
            let Some(src) = &place.src else { continue };
            match name.as_str() {
                "h" | "m" => {
                    let info = self.info(place.ty).ok()?;
                    if let Shape::Pointer { .. } = info.shape {
                        // 0 is a nil map (a write to it is the panic).
                        header = self.word(src).ok();
                    }
                }
                "t" | "typ" => {
                    let tp = self.word(src).ok()?;
                    let rt = self.p.rtype(tp).ok()?;
                    map_type = rt
                        .types_offset
                        .and_then(|o| self.dwarf.type_by_runtime_offset(o).ok().flatten())
                        .map(|t| t.id);
                }
                _ => {}
            }
        }
        header.map(|h| (h, map_type))
    }

    /// Whether any frame of a map operation on `stack` holds `header`
    /// somewhere in its stack frame or its argument spill area (register
    /// arguments are spilled into the caller's frame, just above the return
    /// address, when the function grows its stack or is preempted).
    pub(crate) fn stack_mentions(&self, stack: &Stack<'_>, header: u64) -> bool {
        let r = self.p.reader();
        let ps = u64::from(self.p.ptr_size());
        for f in &stack.frames {
            if !is_map_op(f.function) || f.inlined {
                continue;
            }
            let Some(p) = stack.physical.get(f.physical as usize) else {
                continue;
            };
            if p.cfa <= p.sp || p.cfa - p.sp > 64 << 10 {
                continue;
            }
            let args = self
                .p
                .binary()
                .func_at(self.p.to_link(p.lookup_pc))
                .ok()
                .flatten()
                .map_or(0, |f| f.args().clamp(0, 256) as u64);
            if let Ok(b) = r.bytes(p.sp, (p.cfa - p.sp).saturating_add(args))
                && b.chunks_exact(ps as usize).any(|c| r.decode(c) == header)
            {
                return true;
            }
        }
        false
    }

    /// Maps reachable from a goroutine's frames: map operations' targets,
    /// and the map variables (and map fields of struct variables and their
    /// pointees) of the frames above them.
    pub fn crash_maps(&self, g: &Goroutine, stack: &Stack<'_>) -> Vec<MapSummary> {
        let mut out: Vec<MapSummary> = Vec::new();
        let push = |out: &mut Vec<MapSummary>, m: MapSummary| {
            let dup = out
                .iter()
                .any(|x| x.header == m.header && x.expr == m.expr && x.frame == m.frame);
            if !dup {
                out.push(m);
            }
        };
        for (i, f) in stack.frames.iter().enumerate() {
            let loc = |expr: &str| format!("goroutine {} frame {i} {}: {expr}", g.id, f.function);
            if is_map_op(f.function) && !f.inlined {
                if let Some((h, ty)) = self.map_op_target(stack, i) {
                    let mv = match ty.and_then(|t| self.info(t).ok()) {
                        Some(info) => match info.shape {
                            Shape::Map { key, elem, header } => {
                                self.load_map(&info.name, h, key, elem, header, 0)
                            }
                            _ => continue,
                        },
                        None => continue,
                    };
                    let expr = format!("the map {} works on", f.function);
                    push(
                        &mut out,
                        map_summary(&mv, loc(&expr), expr, Some((g.id, i))),
                    );
                }
                continue;
            }
            let Ok(vars) = self.frame_variables(stack, i) else {
                continue;
            };
            for v in vars {
                let mut found = Vec::new();
                collect_maps(&v.value, &v.name, 0, &mut found);
                for (expr, mv) in found {
                    push(
                        &mut out,
                        map_summary(mv, loc(&expr), expr.clone(), Some((g.id, i))),
                    );
                }
            }
        }
        out
    }

    /// Every map among the package variables (and their fields); with
    /// `std` false, those of standard-library packages are left out.
    pub fn global_maps(&self, std: bool) -> Vec<MapSummary> {
        let mut out = Vec::new();
        for name in self.program_globals().unwrap_or_default() {
            if !std && is_std_variable(&name) {
                continue;
            }
            let Ok(place) = self.global_place(&name) else {
                continue;
            };
            // Cheap filter: only types that are or contain maps.
            if !self.may_hold_map(place.ty, 0) {
                continue;
            }
            let Some(src) = &place.src else { continue };
            let v = self.load(place.ty, src, 0);
            let mut found = Vec::new();
            collect_maps(&v, &name, 0, &mut found);
            for (expr, mv) in found {
                out.push(map_summary(
                    mv,
                    format!("package variable {expr}"),
                    expr.clone(),
                    None,
                ));
            }
        }
        out
    }

    fn may_hold_map(&self, ty: TypeRef, depth: usize) -> bool {
        if depth > 3 {
            return false;
        }
        match self.info(ty).map(|i| i.shape.clone()) {
            Ok(Shape::Map { .. }) => true,
            Ok(Shape::Struct { fields }) => {
                fields.iter().any(|f| self.may_hold_map(f.ty, depth + 1))
            }
            Ok(Shape::Pointer { target }) => self.may_hold_map(target, depth + 1),
            _ => false,
        }
    }

    /// Loads the map value at `addr` of map type `ty` (for `print` of a
    /// header address).
    pub fn load_map_at(&self, ty: TypeRef, header: u64) -> Option<MapValue> {
        let info = self.info(ty).ok()?;
        match info.shape {
            Shape::Map {
                key,
                elem,
                header: h,
            } => Some(self.load_map(&info.name, header, key, elem, h, 0)),
            _ => None,
        }
    }
}

fn collect_maps<'v>(v: &'v Value, path: &str, depth: usize, out: &mut Vec<(String, &'v MapValue)>) {
    if depth > 3 {
        return;
    }
    match &v.kind {
        ValueKind::Map(m) => out.push((path.to_string(), m)),
        ValueKind::Struct(fields) => {
            for (n, f) in fields {
                collect_maps(f, &format!("{path}.{n}"), depth + 1, out);
            }
        }
        ValueKind::Pointer {
            pointee: Some(p), ..
        } => collect_maps(p, path, depth + 1, out),
        ValueKind::Interface { value: Some(p), .. } => collect_maps(p, path, depth + 1, out),
        _ => {}
    }
}

fn map_summary(
    m: &MapValue,
    location: String,
    expr: String,
    frame: Option<(u64, usize)>,
) -> MapSummary {
    MapSummary {
        location,
        expr,
        frame,
        type_name: m.type_name.clone(),
        header: m.addr,
        era: m.era().map(str::to_string),
        count: m.count,
        nil: m.health.nil,
        growing: m.health.growing,
        writing: m.health.writing,
        problems: m.health.problems.clone(),
        goroutines_in_map_ops: Vec::new(),
    }
}

/// Whether a package variable belongs to the standard library: its package
/// path has no dot in its first element (`unicode.X`, `net/http.X`, but not
/// `github.com/x/y.X` or `main.X`).
pub fn is_std_variable(name: &str) -> bool {
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let pkg_end = name[last_slash..]
        .find('.')
        .map_or(name.len(), |i| last_slash + i);
    let pkg = &name[..pkg_end];
    let first = pkg.split('/').next().unwrap_or("");
    pkg != "main" && !first.contains('.')
}
