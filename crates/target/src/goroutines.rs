//! Goroutines from `runtime.allgs`, with the fields the runtime's own
//! traceback prints (`runtime/traceback.go: goroutineheader`), and threads
//! mapped to their `m` and current `g`.

use crate::error::{Error, Result};
use crate::memory::Reader;
use crate::process::{MInfo, Process, ThreadInfo};
use crate::target::Arch;

/// `_Gscan`: set while the GC scans a stack.
pub const G_SCAN: u32 = 0x1000;

/// Goroutine statuses (`runtime/runtime2.go`), stable across releases.
#[allow(missing_docs)]
pub mod status {
    pub const IDLE: u32 = 0;
    pub const RUNNABLE: u32 = 1;
    pub const RUNNING: u32 = 2;
    pub const SYSCALL: u32 = 3;
    pub const WAITING: u32 = 4;
    pub const DEAD: u32 = 6;
    pub const COPYSTACK: u32 = 8;
    pub const PREEMPTED: u32 = 9;
    /// Go 1.26+.
    pub const LEAKED: u32 = 10;
    /// Go 1.26+.
    pub const DEADEXTRA: u32 = 11;
}

/// A saved register context (`runtime.gobuf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gobuf {
    /// Stack pointer (0: nothing saved).
    pub sp: u64,
    /// Program counter.
    pub pc: u64,
    /// Frame pointer.
    pub bp: u64,
    /// Link register (arm64).
    pub lr: u64,
}

/// The signal that turned into a panic on this goroutine (`g.sig`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GSignal {
    /// Signal number.
    pub signo: u32,
    /// `si_code`.
    pub code: u64,
    /// Fault address.
    pub addr: u64,
    /// PC of the faulting instruction.
    pub pc: u64,
}

/// One goroutine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goroutine {
    /// Address of the `g`.
    pub addr: u64,
    /// `goid`.
    pub id: u64,
    /// Status without the scan bit.
    pub status: u32,
    /// The GC was scanning its stack.
    pub scan: bool,
    /// Wait reason as the runtime prints it (empty unless waiting).
    pub wait_reason: String,
    /// The raw wait reason number.
    pub wait_reason_code: u8,
    /// `waitsince` (nanotime), 0 when unknown.
    pub wait_since: i64,
    /// Saved context (`g.sched`).
    pub sched: Gobuf,
    /// Context saved on entering a system call (`g.syscallsp`...).
    pub syscall: Gobuf,
    /// Stack bounds `[lo, hi)`.
    pub stack: (u64, u64),
    /// `g.m` (0 when not on an M).
    pub m: u64,
    /// `m.id` of `g.m`.
    pub m_id: Option<i64>,
    /// Innermost active panic (`g._panic`).
    pub panic: u64,
    /// `g._defer`.
    pub defer: u64,
    /// PC of the `go` statement that created it.
    pub gopc: u64,
    /// Entry of its function.
    pub startpc: u64,
    /// Creator's id (Go 1.21+).
    pub parent_id: Option<u64>,
    /// Locked to a thread (`g.lockedm != 0`).
    pub locked: bool,
    /// Signal that caused a panic on it, if any.
    pub signal: Option<GSignal>,
    /// Index of the thread running it, if it is running.
    pub thread: Option<usize>,
    /// A runtime goroutine (`isSystemGoroutine`).
    pub system: bool,
    /// `g.labels` (pointer), 0 when none.
    pub labels: u64,
}

impl Goroutine {
    /// The state as a traceback header shows it: the wait reason for
    /// waiting goroutines, else the status name.
    pub fn state(&self) -> &str {
        if (self.status == status::WAITING || self.status == status::LEAKED)
            && !self.wait_reason.is_empty()
        {
            return &self.wait_reason;
        }
        status_name(self.status)
    }

    /// Whether the goroutine is on a thread right now.
    pub fn is_running(&self) -> bool {
        self.status == status::RUNNING
    }
}

/// The runtime's name of a status (`gStatusStrings`).
pub fn status_name(s: u32) -> &'static str {
    match s {
        status::IDLE => "idle",
        status::RUNNABLE => "runnable",
        status::RUNNING => "running",
        status::SYSCALL => "syscall",
        status::WAITING => "waiting",
        5 => "moribund_unused",
        status::DEAD => "dead",
        7 => "enqueue_unused",
        status::COPYSTACK => "copystack",
        status::PREEMPTED => "preempted",
        status::LEAKED => "leaked",
        status::DEADEXTRA => "waiting for cgo callback",
        _ => "???",
    }
}

/// Reads a Go string header `{ptr, len}` at `addr` (length bounded).
pub(crate) fn read_go_string(r: &Reader<'_>, addr: u64, max: u64) -> Option<String> {
    let p = r.ptr(addr).ok()?;
    let n = r.ptr(addr.wrapping_add(u64::from(r.ptr_size()))).ok()?;
    if n > max {
        return None;
    }
    if n == 0 {
        return Some(String::new());
    }
    let b = r.bytes(p, n).ok()?;
    Some(String::from_utf8_lossy(&b).into_owned())
}

/// `runtime.waitReasonStrings`: from DWARF, or found by scanning the data
/// sections for the array whose entry 1 is "GC assist marking" (the same
/// in every release since 1.11).
pub(crate) fn wait_reason_strings(p: &Process<'_, '_>) -> Vec<String> {
    let r = p.reader();
    let ps = u64::from(p.ptr_size());
    let (addr, len) = match p.globals().wait_reason_strings {
        Some(x) => x,
        None => match scan_wait_reasons(p) {
            Some(a) => (a, 256),
            None => {
                p.warn("runtime.waitReasonStrings not found: wait reasons are shown as numbers");
                return Vec::new();
            }
        },
    };
    let mut out = Vec::new();
    for i in 0..len.min(256) {
        match read_go_string(&r, addr.wrapping_add(i * 2 * ps), 128) {
            Some(s) if i == 0 || !s.is_empty() => out.push(s),
            _ => break,
        }
    }
    out
}

fn data_ranges(p: &Process<'_, '_>) -> Vec<(u64, u64)> {
    let bin = p.binary();
    let mut out = Vec::new();
    for name in [".data", ".noptrdata", ".bss", ".noptrbss"] {
        if let Some((a, n)) = bin.elf().section_range(name) {
            out.push((a.wrapping_add(p.bias()), n));
        }
    }
    out
}

fn scan_wait_reasons(p: &Process<'_, '_>) -> Option<u64> {
    let r = p.reader();
    let ps = u64::from(p.ptr_size());
    let needle = b"GC assist marking";
    for (start, len) in data_ranges(p) {
        let Ok(bytes) = r.bytes(start, len.min(64 << 20)) else {
            continue;
        };
        let mut i = 0usize;
        while i + 4 * ps as usize <= bytes.len() {
            let w = |o: usize| r.decode(&bytes[o..o + ps as usize]);
            // entry 0 = "" (any pointer, length 0), entry 1 = needle
            if w(i + ps as usize) == 0 && w(i + 3 * ps as usize) == needle.len() as u64 {
                let ptr = w(i + 2 * ps as usize);
                if let Ok(s) = r.bytes(ptr, needle.len() as u64)
                    && s == needle
                {
                    return Some(start + i as u64);
                }
            }
            i += ps as usize;
        }
    }
    None
}

/// Finds `runtime.allgs` in a stripped executable: a `[]*g` header in
/// `.bss` whose first element is goroutine 1 with sane stack bounds.
pub(crate) fn scan_allgs(p: &Process<'_, '_>) -> Option<u64> {
    let r = p.reader();
    let ps = u64::from(p.ptr_size());
    let bin = p.binary();
    let (start, len) = bin.elf().section_range(".bss")?;
    let start = start.wrapping_add(p.bias());
    let bytes = r.bytes(start, len.min(64 << 20)).ok()?;
    let mut i = 0usize;
    while i + 3 * ps as usize <= bytes.len() {
        let w = |o: usize| r.decode(&bytes[o..o + ps as usize]);
        let (ptr, n, cap) = (w(i), w(i + ps as usize), w(i + 2 * ps as usize));
        if ptr != 0
            && ptr % ps == 0
            && n > 0
            && n <= cap
            && cap <= 50_000_000
            && let Ok(g1) = r.ptr(ptr)
            && let Ok(g) = read_g(p, g1)
            && g.id == 1
            && g.stack.0 < g.stack.1
            && g.stack.1 - g.stack.0 <= 1 << 30
        {
            return Some(start + i as u64);
        }
        i += ps as usize;
    }
    None
}

/// Reads one `g` (no thread mapping yet).
pub(crate) fn read_g(p: &Process<'_, '_>, addr: u64) -> Result<Goroutine> {
    let r = p.reader();
    let l = &p.layout().g;
    let at = |what: &str| format!("g.{what} of the g at {addr:#x}");
    let word = |off: u64, what: &str| {
        r.ptr(addr.wrapping_add(off))
            .map_err(|e| Error::mem(e, at(what)))
    };
    let raw_status = r
        .u32(addr.wrapping_add(l.atomicstatus))
        .map_err(|e| Error::mem(e, at("atomicstatus")))?;
    let status = raw_status & !G_SCAN;
    let code = r.u8(addr.wrapping_add(l.waitreason)).unwrap_or(0);
    let wait_reason = if status == status::WAITING || status == status::LEAKED {
        match p.wait_reasons().get(usize::from(code)) {
            Some(s) => s.clone(),
            None if code != 0 => format!("wait reason {code}"),
            None => String::new(),
        }
    } else {
        String::new()
    };
    let sig = r.u32(addr.wrapping_add(l.sig)).unwrap_or(0);
    let m = word(l.m, "m")?;
    let m_id = if m != 0 {
        r.int(m.wrapping_add(p.layout().m.id), 8).ok()
    } else {
        None
    };
    Ok(Goroutine {
        addr,
        id: word(l.goid, "goid")?,
        status,
        scan: raw_status & G_SCAN != 0,
        wait_reason,
        wait_reason_code: code,
        wait_since: r.int(addr.wrapping_add(l.waitsince), 8).unwrap_or(0),
        sched: Gobuf {
            sp: word(l.sched_sp, "sched.sp")?,
            pc: word(l.sched_pc, "sched.pc")?,
            bp: word(l.sched_bp, "sched.bp")?,
            lr: word(l.sched_lr, "sched.lr")?,
        },
        syscall: Gobuf {
            sp: word(l.syscallsp, "syscallsp")?,
            pc: word(l.syscallpc, "syscallpc")?,
            bp: match l.syscallbp {
                Some(o) => word(o, "syscallbp")?,
                None => 0,
            },
            lr: 0,
        },
        stack: (word(l.stack_lo, "stack.lo")?, word(l.stack_hi, "stack.hi")?),
        m,
        m_id,
        panic: word(l.panic, "_panic")?,
        defer: word(l.defer, "_defer")?,
        gopc: word(l.gopc, "gopc")?,
        startpc: word(l.startpc, "startpc")?,
        parent_id: match l.parent_goid {
            Some(o) => Some(word(o, "parentGoid")?),
            None => None,
        },
        locked: word(l.lockedm, "lockedm")? != 0,
        signal: (sig != 0).then(|| GSignal {
            signo: sig,
            code: r.ptr(addr.wrapping_add(l.sigcode0)).unwrap_or(0),
            addr: r.ptr(addr.wrapping_add(l.sigcode1)).unwrap_or(0),
            pc: r.ptr(addr.wrapping_add(l.sigpc)).unwrap_or(0),
        }),
        thread: None,
        system: false,
        labels: l
            .labels
            .and_then(|o| r.ptr(addr.wrapping_add(o)).ok())
            .unwrap_or(0),
    })
}

/// Whether a goroutine started at `startpc` is a runtime goroutine, as
/// `runtime.isSystemGoroutine` decides (by function name, since FuncID
/// numbers move between releases).
fn is_system(p: &Process<'_, '_>, startpc: u64) -> bool {
    let Ok(Some(f)) = p.binary().func_at(p.to_link(startpc)) else {
        return false;
    };
    let name = f.name().unwrap_or("");
    if matches!(
        name,
        "runtime.main" | "runtime.handleAsyncEvent" | "runtime.corostart"
    ) {
        return false;
    }
    name.starts_with("runtime.")
}

/// Reads every goroutine of `runtime.allgs`.
pub(crate) fn read_all(p: &Process<'_, '_>) -> Result<Vec<Goroutine>> {
    let r = p.reader();
    let ps = u64::from(p.ptr_size());
    let threads = p.threads();
    let mut gs: Vec<u64> = Vec::new();
    if let Some(allgs) = p.globals().allgs {
        let at = || format!("runtime.allgs at {allgs:#x}");
        let ptr = r.ptr(allgs).map_err(|e| Error::mem(e, at()))?;
        let len = r
            .ptr(allgs.wrapping_add(ps))
            .map_err(|e| Error::mem(e, at()))?;
        let cap = r
            .ptr(allgs.wrapping_add(2 * ps))
            .map_err(|e| Error::mem(e, at()))?;
        if len > cap || len > 50_000_000 {
            return Err(Error::corrupt(
                format!("allgs length {len}, capacity {cap}"),
                at(),
            ));
        }
        // Read the array in one go, or what of it is readable.
        match r.bytes(ptr, len.saturating_mul(ps)) {
            Ok(b) => gs.extend(b.chunks_exact(ps as usize).map(|c| r.decode(c))),
            Err(e) => {
                p.warn(format!(
                    "runtime.allgs array ({len} goroutines) cannot be read whole ({e}): reading what is there"
                ));
                for i in 0..len {
                    match r.ptr(ptr.wrapping_add(i * ps)) {
                        Ok(g) => gs.push(g),
                        Err(_) => break,
                    }
                }
            }
        }
    }
    // Goroutines running on threads, in case allgs is missing or stale.
    for t in threads {
        for g in [t.curg(), Some(t.g)].into_iter().flatten() {
            if g != 0 && !gs.contains(&g) {
                let is_system_g = t.m.as_ref().is_some_and(|m| g == m.g0 || g == m.gsignal);
                if !is_system_g {
                    gs.push(g);
                }
            }
        }
    }
    let mut out = Vec::with_capacity(gs.len());
    let mut bad = 0usize;
    let include_deadextra = p.go_version().is_some_and(|v| v.at_least(26));
    for (i, &addr) in gs.iter().enumerate() {
        if addr == 0 {
            continue;
        }
        let mut g = match read_g(p, addr) {
            Ok(g) => g,
            Err(e) => {
                bad += 1;
                if bad <= 3 {
                    p.warn(format!(
                        "goroutine #{i} of allgs at {addr:#x} is unreadable: {e}"
                    ));
                }
                continue;
            }
        };
        if g.status == status::DEAD || (include_deadextra && g.status == status::DEADEXTRA) {
            continue;
        }
        if g.status > 11 || g.stack.0 > g.stack.1 {
            bad += 1;
            if bad <= 3 {
                p.warn(format!(
                    "goroutine #{i} of allgs at {addr:#x} looks corrupt (status {:#x}, stack {:#x}-{:#x}): skipped",
                    g.status, g.stack.0, g.stack.1
                ));
            }
            continue;
        }
        g.system = is_system(p, g.startpc);
        g.thread = threads
            .iter()
            .find(|t| t.curg() == Some(addr) || (t.g == addr && !t.on_system_stack()))
            .map(|t| t.index);
        out.push(g);
    }
    if bad > 3 {
        p.warn(format!(
            "{bad} goroutines of allgs were unreadable or corrupt in all"
        ));
    }
    Ok(out)
}

/// Threads with their TLS `g` and `m`.
pub(crate) fn thread_infos(p: &Process<'_, '_>) -> Vec<ThreadInfo> {
    let r = p.reader();
    let mut out = Vec::new();
    for (index, t) in p.raw_threads().iter().enumerate() {
        let candidates = match p.arch() {
            // Static pure-Go binaries keep g at -8(FS); ABIInternal code
            // also has it in R14.
            Arch::Amd64 => [r.ptr(t.regs.tls.wrapping_sub(8)).ok(), t.regs.get(14)],
            // arm64 keeps g in R28.
            Arch::Arm64 => [t.regs.get(28), None],
        };
        let mut info = ThreadInfo {
            index,
            id: t.id,
            g: 0,
            m: None,
        };
        for g in candidates.into_iter().flatten() {
            if g == 0 {
                continue;
            }
            let Ok(m) = r.ptr(g.wrapping_add(p.layout().g.m)) else {
                continue;
            };
            if m == 0 {
                continue;
            }
            let Ok(mi) = p.read_m(m) else { continue };
            // The g must belong to its m: g0, gsignal or curg, and the m
            // must be this thread.
            let belongs = g == mi.g0 || g == mi.gsignal || g == mi.curg;
            if belongs && (mi.procid == t.id || mi.procid == 0) {
                info.g = g;
                info.m = Some(mi);
                break;
            }
        }
        if info.m.is_none() {
            // Fall back on m.procid.
            if let Some(m) = p.ms_from_allm().into_iter().find(|m| m.procid == t.id) {
                info.g = m.curg;
                info.m = Some(m);
            }
        }
        out.push(info);
    }
    out
}

impl Process<'_, '_> {
    /// The `m`s on the `runtime.allm` list only (used before threads are
    /// known).
    pub(crate) fn ms_from_allm(&self) -> Vec<MInfo> {
        let mut out = Vec::new();
        let Some(allm) = self.globals().allm else {
            return out;
        };
        let r = self.reader();
        let mut p = r.ptr(allm).unwrap_or(0);
        while p != 0 && out.len() < 100_000 {
            let Ok(m) = self.read_m(p) else { break };
            let next = r.ptr(p.wrapping_add(self.layout().m.alllink)).unwrap_or(0);
            if out.iter().any(|x: &MInfo| x.addr == m.addr) {
                break;
            }
            out.push(m);
            p = next;
        }
        out
    }
}

/// `created by F in goroutine N` and where the `go` statement is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedBy<'data> {
    /// The function containing the `go` statement (physical function,
    /// like the runtime prints it).
    pub function: &'data str,
    /// Its file.
    pub file: &'data str,
    /// Line of the `go` statement.
    pub line: u32,
    /// The creating goroutine, Go 1.21+.
    pub parent: Option<u64>,
}

impl<'t, 'data> Process<'t, 'data> {
    /// Who created `g` (`runtime.printcreatedby`); `None` for goroutine 1
    /// and goroutines without a creator.
    pub fn created_by(&self, g: &Goroutine) -> Option<CreatedBy<'data>> {
        if g.gopc == 0 || g.id == 1 {
            return None;
        }
        let pc = self.to_link(g.gopc);
        let f = self.binary().func_at(pc).ok()??;
        let trace = if pc > f.entry() { pc - 1 } else { pc };
        Some(CreatedBy {
            function: f.name()?,
            file: f.file(trace).unwrap_or("?"),
            line: f.line(trace).map_or(0, |l| l.max(0) as u32),
            parent: g.parent_id.filter(|&p| p != 0),
        })
    }
}

/// Appends one frame as the runtime's traceback prints it, without the
/// final newline: `name(...)` then `\tfile:line` for an inlined frame,
/// `name()` then `\tfile:line +0x1d` otherwise, with no offset at the
/// function's entry (the runtime prints it only when `pc > entry`).
pub fn write_traceback_frame(
    out: &mut String,
    function: &str,
    file: &str,
    line: u32,
    offset: u64,
    inlined: bool,
) {
    use std::fmt::Write as _;
    out.push_str(&traceback_name(function));
    out.push_str(if inlined { "(...)\n\t" } else { "()\n\t" });
    out.push_str(file);
    let _ = write!(out, ":{line}");
    if !inlined && offset != 0 {
        let _ = write!(out, " +{offset:#x}");
    }
}

/// Appends the `created by` lines of a goroutine, final newline included.
pub fn write_created_by(
    out: &mut String,
    function: &str,
    parent: Option<u64>,
    file: &str,
    line: u32,
) {
    use std::fmt::Write as _;
    out.push_str("created by ");
    out.push_str(&traceback_name(function));
    if let Some(p) = parent {
        let _ = write!(out, " in goroutine {p}");
    }
    let _ = writeln!(out, "\n\t{file}:{line}");
}

/// A function name as the runtime's traceback prints it: `runtime.gopanic`
/// is `panic`, and generic shape arguments are shown as `[...]`
/// (`runtime.funcNamePiecesForPrint`).
pub fn traceback_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name == "runtime.gopanic" {
        return "panic".into();
    }
    let Some(i) = name.find('[') else {
        return name.into();
    };
    match name.rfind(']') {
        Some(j) if j > i => format!("{}[...]{}", &name[..i], &name[j + 1..]).into(),
        _ => name.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_print_like_the_runtime() {
        let mut s = String::new();
        write_traceback_frame(
            &mut s,
            "main.(*S).run[...]",
            "/go/src/x/main.go",
            12,
            0x1d,
            false,
        );
        s.push('\n');
        write_traceback_frame(&mut s, "main.helper", "/go/src/x/main.go", 30, 0x40, true);
        s.push('\n');
        // At the function's entry the runtime prints no offset.
        write_traceback_frame(
            &mut s,
            "runtime.gopanic",
            "/usr/local/go/src/runtime/panic.go",
            700,
            0,
            false,
        );
        s.push('\n');
        write_created_by(&mut s, "main.main", Some(1), "/go/src/x/main.go", 9);
        assert_eq!(
            s,
            "main.(*S).run[...]()\n\t/go/src/x/main.go:12 +0x1d\n\
             main.helper(...)\n\t/go/src/x/main.go:30\n\
             panic()\n\t/usr/local/go/src/runtime/panic.go:700\n\
             created by main.main in goroutine 1\n\t/go/src/x/main.go:9\n"
        );
        assert_eq!(
            traceback_name("main.Map[go.shape.int,go.shape.string].Get"),
            "main.Map[...].Get"
        );
    }
}
