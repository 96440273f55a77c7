//! Why the process died: which goroutine, which signal, the panic chain
//! with each value and its dynamic type, the `throw`/`fatal` message.
//!
//! Under `GOTRACEBACK=crash` the core is always dumped for the SIGABRT the
//! runtime raises in `crash()`; the signal that started it all is the
//! goroutine's `g.sig` (a fault turned into a panic by `sigpanic`) or the
//! outermost signal frame on the dumping thread's stack (a SIGQUIT).

use crate::error::Result;
use crate::goroutines::{GSignal, Goroutine, read_go_string};
use crate::process::Process;
use crate::rtype::{RType, kind};
use crate::target::SignalInfo;
use crate::unwind::{Stack, UnwindCache, UnwindOptions};

/// One panic of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicInfo {
    /// Address of the `runtime._panic`.
    pub addr: u64,
    /// The argument's dynamic type pointer (0 for `panic(nil)`).
    pub type_addr: u64,
    /// The argument's data word.
    pub data: u64,
    /// Its dynamic type, when readable.
    pub rtype: Option<RType>,
    /// The value as the runtime would print it, when it is a basic value
    /// (strings, numbers, bools); `(T) 0xADDR` otherwise.
    pub text: String,
    /// A deferred call recovered it.
    pub recovered: bool,
    /// It was a `runtime.Goexit`.
    pub goexit: bool,
    /// It re-panicked (Go 1.25+).
    pub repanicked: bool,
}

/// What ended the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// The signal the core was dumped for (`NT_SIGINFO`).
    pub core_signal: Option<SignalInfo>,
    /// The signal that started the crash, if one did: a fault turned into
    /// a panic (from `g.sig`) or a fatal signal such as SIGQUIT (from the
    /// dumping thread's signal frames).
    pub cause_signal: Option<CauseSignal>,
    /// Index of the thread that dumped core.
    pub thread: Option<usize>,
    /// The goroutine that crashed, if one did.
    pub goroutine: Option<u64>,
    /// The panic chain, oldest first.
    pub panics: Vec<PanicInfo>,
    /// The `fatal error:` message of a `throw`/`fatal`.
    pub fatal: Option<String>,
    /// `m.throwing` of the crashing M (1 user `fatal`, 2+ runtime `throw`).
    pub throwing: Option<u32>,
}

/// A signal that caused the crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CauseSignal {
    /// Signal number.
    pub signo: i32,
    /// `si_code`, when known.
    pub code: Option<u64>,
    /// Faulting address, when known.
    pub addr: Option<u64>,
    /// PC of the faulting instruction, when known.
    pub pc: Option<u64>,
}

/// Functions whose `s string` argument is the fatal error message.
const FATAL_FUNCS: [&str; 8] = [
    "runtime.throw",
    "runtime.fatal",
    "internal/runtime/maps.fatal",
    "runtime.fatalthrow",
    "sync.fatal",
    "sync.throw",
    "internal/sync.fatal",
    "internal/sync.throw",
];

impl<'data> Process<'_, 'data> {
    /// Analyses the crash.
    pub fn crash(&self) -> Result<Crash> {
        let threads = self.threads();
        let gs = self.goroutines()?;
        let mut out = Crash {
            core_signal: self.target().signal(),
            cause_signal: None,
            thread: (!threads.is_empty()).then_some(0),
            goroutine: None,
            panics: Vec::new(),
            fatal: None,
            throwing: None,
        };
        // 1. The dumping thread's goroutine.
        let mut crashing: Option<&Goroutine> = threads.first().and_then(|t| {
            let m = t.m.as_ref()?;
            let g = if m.caughtsig != 0 && gs.iter().any(|g| g.addr == m.caughtsig) {
                m.caughtsig
            } else {
                m.curg
            };
            gs.iter().find(|x| x.addr == g)
        });
        // The dumping thread's M was the one dying: if it ran no user
        // goroutine (a fatal signal on an idle M), nothing else crashed.
        let dumping_m_dying = threads
            .first()
            .and_then(|t| t.m.as_ref())
            .is_some_and(|m| m.dying > 0 || m.throwing.unwrap_or(0) > 0);
        // 2. An M that is throwing or dying.
        if crashing.is_none() && !dumping_m_dying {
            for m in self.ms() {
                if (m.throwing.unwrap_or(0) > 0 || m.dying > 0)
                    && let Some(g) = gs.iter().find(|g| g.addr == m.curg && m.curg != 0)
                {
                    crashing = Some(g);
                    break;
                }
            }
        }
        // 3. A goroutine with an active panic.
        if crashing.is_none() && !dumping_m_dying {
            crashing = gs
                .iter()
                .filter(|g| g.panic != 0)
                .max_by_key(|g| (g.is_running(), std::cmp::Reverse(g.id)));
        }
        let mut cache = UnwindCache::new();
        let thread_stack = out
            .thread
            .map(|i| self.unwind_thread(i, &mut cache, UnwindOptions::default()));
        if let Some(g) = crashing {
            out.goroutine = Some(g.id);
            if let Some(m) = self.ms().into_iter().find(|m| m.addr == g.m) {
                out.throwing = m.throwing;
            }
            out.panics = self.panic_chain(g.panic);
            if let Some(s) = g.signal {
                out.cause_signal = Some(cause_from_g(s));
            }
            let stack = self.unwind(g, &mut cache, UnwindOptions::default());
            out.fatal = self.fatal_message(&stack);
        }
        if let Some(ts) = &thread_stack {
            if out.fatal.is_none() && out.panics.is_empty() {
                out.fatal = self.fatal_message(ts);
            }
            if out.cause_signal.is_none() {
                // The outermost signal other than the runtime's own SIGABRT.
                let sig = ts
                    .physical
                    .iter()
                    .rev()
                    .find_map(|f| f.signal)
                    .filter(|&s| s != 6);
                out.cause_signal = sig.map(|signo| CauseSignal {
                    signo,
                    code: None,
                    addr: None,
                    pc: None,
                });
            }
        }
        Ok(out)
    }

    /// The panic chain starting at `g._panic`, oldest first.
    pub fn panic_chain(&self, mut p: u64) -> Vec<PanicInfo> {
        let r = self.reader();
        let l = &self.layout().panic;
        let ps = u64::from(self.ptr_size());
        let mut out = Vec::new();
        let mut seen = Vec::new();
        while p != 0 && out.len() < 100 && !seen.contains(&p) {
            seen.push(p);
            let type_addr = r.ptr(p.wrapping_add(l.arg)).unwrap_or(0);
            let data = r.ptr(p.wrapping_add(l.arg + ps)).unwrap_or(0);
            let flag =
                |o: Option<u64>| o.is_some_and(|o| r.u8(p.wrapping_add(o)).unwrap_or(0) != 0);
            let rtype = (type_addr != 0)
                .then(|| self.rtype(type_addr).ok())
                .flatten();
            let text = match &rtype {
                None if type_addr == 0 => "nil".to_string(),
                None => format!("(<type at {type_addr:#x}>) {data:#x}"),
                Some(t) => self.basic_text(t, data),
            };
            out.push(PanicInfo {
                addr: p,
                type_addr,
                data,
                rtype,
                text,
                recovered: flag(Some(l.recovered)),
                goexit: flag(l.goexit),
                repanicked: flag(l.repanicked),
            });
            p = r.ptr(p.wrapping_add(l.link)).unwrap_or(0);
        }
        out.reverse();
        out
    }

    /// Prints an interface value of a basic type the way the runtime's
    /// `printpanicval` does; other types as `(T) 0xADDR`.
    pub fn basic_text(&self, t: &RType, data: u64) -> String {
        let r = self.reader();
        let plain = !t.name.contains('.');
        let wrap = |v: String| if plain { v } else { format!("{}({v})", t.name) };
        if t.direct_iface {
            return format!("({}) {data:#x}", t.name);
        }
        let v = match t.kind {
            kind::STRING => read_go_string(&r, data, 1 << 16).map(|s| {
                if plain {
                    s
                } else {
                    format!("{}(\"{s}\")", t.name)
                }
            }),
            kind::BOOL => r.u8(data).ok().map(|b| wrap((b != 0).to_string())),
            kind::INT | kind::INT8 | kind::INT16 | kind::INT32 | kind::INT64 => {
                r.int(data, t.size).ok().map(|v| wrap(v.to_string()))
            }
            kind::UINT
            | kind::UINT8
            | kind::UINT16
            | kind::UINT32
            | kind::UINT64
            | kind::UINTPTR => r.uint(data, t.size).ok().map(|v| wrap(v.to_string())),
            kind::FLOAT64 => r
                .u64(data)
                .ok()
                .map(|v| wrap(format_float(f64::from_bits(v)))),
            kind::FLOAT32 => r
                .u32(data)
                .ok()
                .map(|v| wrap(format_float(f64::from(f32::from_bits(v))))),
            _ => None,
        };
        v.unwrap_or_else(|| format!("({}) {data:#x}", t.name))
    }

    /// The message of a `throw`/`fatal` on this stack: the `s string`
    /// argument, found in the frame of the function that took it (the
    /// closure `systemstack` runs keeps a copy in the frame).
    pub fn fatal_message(&self, stack: &Stack<'_>) -> Option<String> {
        let r = self.reader();
        let ps = u64::from(self.ptr_size());
        for f in &stack.frames {
            if f.inlined || !FATAL_FUNCS.contains(&f.function) {
                continue;
            }
            let phys = stack.physical.get(f.physical as usize)?;
            if phys.cfa <= phys.sp || phys.cfa - phys.sp > 4096 {
                continue;
            }
            let mut a = phys.sp;
            while a.saturating_add(2 * ps) <= phys.cfa {
                if let (Ok(ptr), Ok(len)) = (r.ptr(a), r.ptr(a.wrapping_add(ps)))
                    && (4..=512).contains(&len)
                    && self.in_executable(ptr)
                    && let Ok(b) = r.bytes(ptr, len)
                    && let Ok(s) = std::str::from_utf8(&b)
                    && s.chars().all(|c| !c.is_control())
                    && s.chars().any(|c| c.is_ascii_alphabetic())
                {
                    return Some(s.to_string());
                }
                a += ps;
            }
        }
        None
    }

    /// Whether `addr` lies in the executable's loaded (file-backed) image.
    pub fn in_executable(&self, addr: u64) -> bool {
        let a = self.to_link(addr);
        self.binary()
            .elf()
            .memory()
            .segments()
            .any(|(start, data)| start <= a && a < start.saturating_add(data.len() as u64))
    }
}

fn cause_from_g(s: GSignal) -> CauseSignal {
    CauseSignal {
        signo: s.signo as i32,
        code: Some(s.code),
        addr: Some(s.addr),
        pc: Some(s.pc),
    }
}

/// Formats a float like Go's `print` (`+1.250000e+000`).
fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let s = format!("{v:+.6e}");
    // Rust: +1.250000e0 → Go: +1.250000e+000
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>3}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::format_float;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(format_float(1.25), "+1.250000e+000");
        assert_eq!(format_float(-0.001), "-1.000000e-003");
    }
}
