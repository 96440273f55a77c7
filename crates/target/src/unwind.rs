//! Stack unwinding with pclntab frame sizes (`pcsp`), the way the runtime's
//! own `unwinder` does it (`runtime/traceback.go`), plus what a debugger
//! needs beyond it: starting from a thread's registers, crossing from the
//! system stack back to the goroutine (`systemstack`, `morestack`), and
//! through a signal frame (`sigtramp`) by reading the interrupted context
//! from the `ucontext` the kernel pushed.

use std::collections::HashMap;

use gosleuth_gobin::{Binary, FuncFlag};

use crate::goroutines::{Goroutine, status};
use crate::memory::Reader;
use crate::process::Process;
use crate::target::{Arch, Registers};

/// One source-level frame of a stack, innermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'data> {
    /// Function as the symbol table names it.
    pub function: &'data str,
    /// Source file.
    pub file: &'data str,
    /// Source line.
    pub line: u32,
    /// Entry of the physical function (runtime address).
    pub entry: u64,
    /// `pc - entry` of the physical frame (the `+0x1d` of tracebacks).
    pub offset: u64,
    /// Inlined into the next frame (printed `f(...)` by the runtime).
    pub inlined: bool,
    /// Index into [`Stack::physical`].
    pub physical: u32,
}

/// One machine frame: what evaluating a variable of it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysicalFrame {
    /// PC: a return address, or the exact instruction for the innermost
    /// frame of a thread and frames interrupted by a signal.
    pub pc: u64,
    /// The PC looked up for lines and variables (`pc - 1` for return
    /// addresses, like the runtime's `symPC`).
    pub lookup_pc: u64,
    /// Stack pointer in the frame.
    pub sp: u64,
    /// Canonical frame address: SP before the call (DWARF frame base).
    pub cfa: u64,
    /// Registers, when known (innermost frame of a thread, frames right
    /// after a signal).
    pub regs: Option<Registers>,
    /// The frame ran on the thread's system stack (`g0` or `gsignal`).
    pub system_stack: bool,
    /// The frame was interrupted by this signal (its context comes from
    /// the signal frame the kernel pushed).
    pub signal: Option<i32>,
}

/// Where the unwinding started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackSource {
    /// From the registers of a thread (index in the target's threads).
    Thread(usize),
    /// From the context saved on entering a system call.
    Syscall,
    /// From the context saved when the goroutine was parked (`g.sched`).
    Sched,
    /// Nothing to start from.
    None,
}

/// A goroutine's (or thread's) stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack<'data> {
    /// Frames, innermost first, inlined calls expanded.
    pub frames: Vec<Frame<'data>>,
    /// Machine frames.
    pub physical: Vec<PhysicalFrame>,
    /// Where unwinding started.
    pub source: StackSource,
    /// Why unwinding stopped before reaching the top of the stack, if it
    /// did.
    pub stopped: Option<String>,
}

impl Stack<'_> {
    fn empty(source: StackSource, why: impl Into<String>) -> Self {
        Stack {
            frames: Vec::new(),
            physical: Vec::new(),
            source,
            stopped: Some(why.into()),
        }
    }
}

/// Limits of one unwind.
#[derive(Debug, Clone, Copy)]
pub struct UnwindOptions {
    /// Maximum number of machine frames.
    pub max_frames: usize,
}

impl Default for UnwindOptions {
    fn default() -> Self {
        UnwindOptions { max_frames: 4096 }
    }
}

/// What the unwinder knows about one function, cached by entry.
#[derive(Debug, Clone)]
struct FuncInfo<'data> {
    name: &'data str,
    entry: u64,
    end: u64,
    flag: FuncFlag,
    pcsp: Vec<(u64, u64, i32)>,
}

/// Caches function data and symbolization across unwinds. One per thread.
#[derive(Default)]
pub struct UnwindCache<'data> {
    funcs: HashMap<u64, Option<std::sync::Arc<FuncInfo<'data>>>>,
    by_entry: HashMap<u64, std::sync::Arc<FuncInfo<'data>>>,
    symbols: HashMap<u64, Vec<gosleuth_gobin::Frame<'data>>>,
}

impl std::fmt::Debug for UnwindCache<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnwindCache")
            .field("funcs", &self.funcs.len())
            .field("symbols", &self.symbols.len())
            .finish()
    }
}

impl<'data> UnwindCache<'data> {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Function containing link-time `pc`.
    fn func(&mut self, bin: &Binary<'data>, pc: u64) -> Option<std::sync::Arc<FuncInfo<'data>>> {
        if let Some(f) = self.funcs.get(&pc) {
            return f.clone();
        }
        let found = match bin.func_at(pc) {
            Ok(Some(f)) => {
                let entry = f.entry();
                if let Some(fi) = self.by_entry.get(&entry) {
                    Some(fi.clone())
                } else {
                    let fi = std::sync::Arc::new(FuncInfo {
                        name: f.name().unwrap_or("?"),
                        entry,
                        end: f.end(),
                        flag: f.flag(),
                        pcsp: f.pcsp_ranges().map(|r| (r.start, r.end, r.value)).collect(),
                    });
                    self.by_entry.insert(entry, fi.clone());
                    Some(fi)
                }
            }
            _ => None,
        };
        if self.funcs.len() > 1 << 20 {
            self.funcs.clear();
        }
        self.funcs.insert(pc, found.clone());
        found
    }

    fn symbolize(&mut self, bin: &Binary<'data>, pc: u64) -> &[gosleuth_gobin::Frame<'data>] {
        if self.symbols.len() > 1 << 20 {
            self.symbols.clear();
        }
        self.symbols
            .entry(pc)
            .or_insert_with(|| bin.frames(pc).unwrap_or_default())
    }
}

fn sp_delta(f: &FuncInfo<'_>, pc: u64) -> Option<i32> {
    let i = f.pcsp.partition_point(|r| r.1 <= pc);
    let r = f.pcsp.get(i)?;
    (r.0 <= pc).then_some(r.2)
}

/// The register state the walk carries.
#[derive(Debug, Clone)]
struct State {
    pc: u64,
    sp: u64,
    bp: u64,
    lr: u64,
    /// pc is an exact instruction, not a return address.
    trap: bool,
    regs: Option<Registers>,
    /// The context was interrupted by this signal.
    signal: Option<i32>,
}

/// Stack bounds the walk may be on.
#[derive(Debug, Clone, Copy, Default)]
struct Stacks {
    /// The goroutine being unwound (0 for a thread's own stack).
    g: (u64, u64),
    g0: (u64, u64),
    gsignal: (u64, u64),
}

fn within(b: (u64, u64), sp: u64) -> bool {
    b.0 < b.1 && b.0 <= sp && sp <= b.1
}

/// Context to jump to when the system stack has been unwound.
#[derive(Debug, Clone, Copy, Default)]
struct Jump {
    sched: Option<(u64, u64, u64, u64)>, // pc, sp, bp, lr
}

struct Walker<'a, 't, 'data> {
    p: &'a Process<'t, 'data>,
    r: Reader<'t>,
    cache: &'a mut UnwindCache<'data>,
    opts: UnwindOptions,
}

impl<'data> Walker<'_, '_, 'data> {
    fn walk(
        &mut self,
        mut st: State,
        stacks: Stacks,
        jump: Jump,
        source: StackSource,
    ) -> Stack<'data> {
        let bin = self.p.binary();
        let bias = self.p.bias();
        let ps = u64::from(self.p.ptr_size());
        let arch = self.p.arch();
        let mut out = Stack {
            frames: Vec::new(),
            physical: Vec::new(),
            source,
            stopped: None,
        };
        let mut jumped = false;
        let mut innermost = true;
        let mut last_sp = 0u64;
        for _ in 0..self.opts.max_frames {
            let on_system = !jumped
                && !within(stacks.g, st.sp)
                && (within(stacks.g0, st.sp) || within(stacks.gsignal, st.sp));
            let link_pc = st.pc.wrapping_sub(bias);
            let Some(f) = self.cache.func(bin, link_pc) else {
                out.stopped = Some(format!("pc {:#x} is not in any Go function", st.pc));
                break;
            };
            let lookup = if st.trap || link_pc <= f.entry {
                link_pc
            } else {
                link_pc - 1
            };
            // Jumps from the system stack back to the goroutine.
            let mut pc_for_sp = link_pc;
            let flag = f.flag;
            if on_system && let Some((spc, ssp, sbp, slr)) = jump.sched {
                if f.name == "runtime.morestack" {
                    // morestack never returns: continue at curg.sched.
                    st = State {
                        pc: spc,
                        sp: ssp,
                        bp: sbp,
                        lr: slr,
                        trap: false,
                        regs: None,
                        signal: None,
                    };
                    jumped = true;
                    continue;
                }
                if f.name == "runtime.systemstack" && ssp != 0 {
                    self.push(&mut out, &f, st.pc, lookup, &st, true, 0);
                    // The frame continues on the goroutine stack.
                    st.sp = ssp;
                    st.bp = sbp;
                    st.regs = None;
                    jumped = true;
                    let Some(delta) = sp_delta(&f, pc_for_sp) else {
                        out.stopped = Some("no frame size for runtime.systemstack".into());
                        break;
                    };
                    let cfa = st.sp.wrapping_add(delta as u64).wrapping_add(match arch {
                        Arch::Amd64 => ps,
                        _ => 0,
                    });
                    if let Some(p) = out.physical.last_mut() {
                        p.cfa = cfa;
                    }
                    match self.caller(&mut st, cfa, arch, ps, false) {
                        Ok(()) => {
                            innermost = false;
                            last_sp = 0;
                            continue;
                        }
                        Err(e) => {
                            out.stopped = Some(e);
                            break;
                        }
                    }
                }
            }
            if pc_for_sp >= f.end {
                pc_for_sp = lookup;
            }
            let Some(delta) = sp_delta(&f, pc_for_sp) else {
                self.push(&mut out, &f, st.pc, lookup, &st, on_system, st.sp);
                out.stopped = Some(format!("no frame size for {} at {:#x}", f.name, st.pc));
                break;
            };
            let cfa = st.sp.wrapping_add(delta as u64).wrapping_add(match arch {
                Arch::Amd64 => ps,
                _ => 0,
            });
            self.push(&mut out, &f, st.pc, lookup, &st, on_system, cfa);
            if st.sp < last_sp {
                out.stopped = Some(format!("stack pointer went backwards at {}", f.name));
                break;
            }
            last_sp = st.sp;
            // Signal frame: continue in the interrupted context.
            if f.name == "runtime.sigtramp" && arch == Arch::Amd64 {
                match self.ucontext(cfa) {
                    Some(next) => {
                        st = next;
                        innermost = false;
                        last_sp = 0;
                        continue;
                    }
                    None => {
                        out.stopped =
                            Some("signal frame: the interrupted context cannot be read".into());
                        break;
                    }
                }
            }
            if flag.has(FuncFlag::TOP_FRAME) {
                break;
            }
            if flag.has(FuncFlag::SP_WRITE) && !innermost {
                // Context switches (gogo, mcall on g0, ...): the runtime
                // stops here too.
                if !(f.name == "runtime.mcall" || f.name.starts_with("runtime.mstart")) {
                    out.stopped = Some(format!("{} switches stacks", f.name));
                }
                break;
            }
            if f.name == "runtime.mcall" || f.name == "runtime.morestack" {
                // Bottom of a g0 stack.
                break;
            }
            let injected = matches!(
                f.name,
                "runtime.sigpanic" | "runtime.asyncPreempt" | "runtime.debugCallV2"
            );
            let was_innermost = innermost;
            innermost = false;
            match arch {
                Arch::Amd64 => {
                    if let Err(e) = self.caller(&mut st, cfa, arch, ps, injected) {
                        out.stopped = Some(e);
                        break;
                    }
                }
                _ => {
                    // LR machines: the return address is in LR for a leaf
                    // innermost frame, else saved at 0(SP).
                    let lr = if was_innermost && st.trap && delta == 0 {
                        st.lr
                    } else {
                        match self.r.ptr(st.sp) {
                            Ok(v) => v,
                            Err(e) => {
                                out.stopped = Some(format!("return address: {e}"));
                                break;
                            }
                        }
                    };
                    if lr == 0 {
                        break;
                    }
                    st = State {
                        pc: lr,
                        sp: cfa,
                        bp: self.r.ptr(cfa.wrapping_sub(ps)).unwrap_or(0),
                        lr: 0,
                        trap: injected,
                        regs: None,
                        signal: None,
                    };
                }
            }
            if st.pc == 0 {
                break;
            }
            let inside = within(stacks.g, st.sp)
                || within(stacks.g0, st.sp)
                || within(stacks.gsignal, st.sp)
                || (stacks.g == (0, 0) && stacks.g0 == (0, 0));
            if !inside {
                out.stopped = Some(format!(
                    "stack pointer {:#x} is outside the goroutine's stack",
                    st.sp
                ));
                break;
            }
        }
        if out.physical.len() >= self.opts.max_frames && out.stopped.is_none() {
            out.stopped = Some(format!("more than {} frames", self.opts.max_frames));
        }
        out
    }

    /// amd64: the caller's state from a frame whose CFA is `cfa`.
    fn caller(
        &mut self,
        st: &mut State,
        cfa: u64,
        _arch: Arch,
        ps: u64,
        injected: bool,
    ) -> Result<(), String> {
        let ra = self
            .r
            .ptr(cfa.wrapping_sub(ps))
            .map_err(|e| format!("return address: {e}"))?;
        // The saved frame pointer sits below the return address when the
        // frame has one; it is only a hint.
        let bp = self.r.ptr(cfa.wrapping_sub(2 * ps)).unwrap_or(0);
        *st = State {
            pc: ra,
            sp: cfa,
            bp,
            lr: 0,
            trap: injected,
            regs: None,
            signal: None,
        };
        Ok(())
    }

    /// amd64 Linux: the kernel's `rt_sigframe` starts with the restorer's
    /// address, then the `ucontext`; at `sigtramp`'s CFA lies the
    /// `ucontext`, whose `uc_mcontext.gregs` (at +40) are r8..r15, rdi, rsi,
    /// rbp, rbx, rdx, rax, rcx, rsp, rip.
    fn ucontext(&mut self, uc: u64) -> Option<State> {
        let g = uc.wrapping_add(40);
        let reg = |i: u64| self.r.u64(g.wrapping_add(8 * i)).ok();
        let order: [(u64, u16); 17] = [
            (13, 0),
            (12, 1),
            (14, 2),
            (11, 3),
            (9, 4),
            (8, 5),
            (10, 6),
            (15, 7),
            (0, 8),
            (1, 9),
            (2, 10),
            (3, 11),
            (4, 12),
            (5, 13),
            (6, 14),
            (7, 15),
            (16, 16),
        ];
        let dwarf: Vec<(u16, u64)> = order
            .iter()
            .filter_map(|&(i, d)| Some((d, reg(i)?)))
            .collect();
        let pc = reg(16)?;
        let sp = reg(15)?;
        let bp = reg(10)?;
        if pc == 0 || sp == 0 {
            return None;
        }
        // The siginfo follows the kernel's 304-byte ucontext.
        let signo = self
            .r
            .u32(uc.wrapping_add(304))
            .ok()
            .map(|v| v as i32)
            .filter(|s| (1..65).contains(s));
        Some(State {
            pc,
            sp,
            bp,
            lr: 0,
            trap: true,
            regs: Some(Registers {
                pc,
                sp,
                bp,
                lr: 0,
                tls: 0,
                dwarf,
            }),
            signal: signo,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        out: &mut Stack<'data>,
        f: &FuncInfo<'data>,
        pc: u64,
        lookup: u64,
        st: &State,
        system: bool,
        cfa: u64,
    ) {
        let bias = self.p.bias();
        let physical = out.physical.len() as u32;
        out.physical.push(PhysicalFrame {
            pc,
            lookup_pc: lookup.wrapping_add(bias),
            sp: st.sp,
            cfa,
            regs: st.regs.clone(),
            system_stack: system,
            signal: st.signal,
        });
        let offset = pc.wrapping_sub(bias).wrapping_sub(f.entry);
        let syms = self.cache.symbolize(self.p.binary(), lookup);
        if syms.is_empty() {
            out.frames.push(Frame {
                function: f.name,
                file: "?",
                line: 0,
                entry: f.entry.wrapping_add(bias),
                offset,
                inlined: false,
                physical,
            });
        }
        for s in syms {
            out.frames.push(Frame {
                function: s.function,
                file: s.file,
                line: s.line,
                entry: s.entry.wrapping_add(bias),
                offset,
                inlined: s.inlined,
                physical,
            });
        }
    }
}

fn stack_of(p: &Process<'_, '_>, g: u64) -> (u64, u64) {
    if g == 0 {
        return (0, 0);
    }
    let r = p.reader();
    let l = &p.layout().g;
    match (
        r.ptr(g.wrapping_add(l.stack_lo)),
        r.ptr(g.wrapping_add(l.stack_hi)),
    ) {
        (Ok(lo), Ok(hi)) if lo < hi => (lo, hi),
        _ => (0, 0),
    }
}

fn sched_of(p: &Process<'_, '_>, g: u64) -> Option<(u64, u64, u64, u64)> {
    let r = p.reader();
    let l = &p.layout().g;
    let sp = r.ptr(g.wrapping_add(l.sched_sp)).ok()?;
    Some((
        r.ptr(g.wrapping_add(l.sched_pc)).ok()?,
        sp,
        r.ptr(g.wrapping_add(l.sched_bp)).ok()?,
        r.ptr(g.wrapping_add(l.sched_lr)).ok()?,
    ))
}

impl<'t, 'data> Process<'t, 'data> {
    /// Unwinds a goroutine's stack.
    pub fn unwind(
        &self,
        g: &Goroutine,
        cache: &mut UnwindCache<'data>,
        opts: UnwindOptions,
    ) -> Stack<'data> {
        let mut w = Walker {
            p: self,
            r: self.reader(),
            cache,
            opts,
        };
        let mut stacks = Stacks {
            g: g.stack,
            ..Stacks::default()
        };
        // In a system call the runtime saved where it entered it, and its
        // traceback starts there; the thread itself is in the kernel (see
        // `unwind_thread` for its stack).
        if g.status == status::SYSCALL && g.syscall.sp != 0 {
            let st = State {
                pc: g.syscall.pc,
                sp: g.syscall.sp,
                bp: g.syscall.bp,
                lr: 0,
                trap: false,
                regs: None,
                signal: None,
            };
            return w.walk(st, stacks, Jump::default(), StackSource::Syscall);
        }
        if let Some(ti) = g.thread.and_then(|i| self.threads().get(i)) {
            let t = &self.raw_threads()[ti.index];
            if let Some(m) = &ti.m {
                stacks.g0 = stack_of(self, m.g0);
                stacks.gsignal = stack_of(self, m.gsignal);
            }
            let jump = Jump {
                sched: sched_of(self, g.addr),
            };
            let st = State {
                pc: t.regs.pc,
                sp: t.regs.sp,
                bp: t.regs.bp,
                lr: t.regs.lr,
                trap: true,
                regs: Some(t.regs.clone()),
                signal: None,
            };
            let s = w.walk(st, stacks, jump, StackSource::Thread(ti.index));
            if !s.frames.is_empty() || g.sched.sp == 0 {
                return s;
            }
        }
        if g.sched.sp == 0 {
            return Stack::empty(
                StackSource::None,
                if g.is_running() {
                    "running on a thread the core does not show; stack unavailable"
                } else {
                    "no saved context (g.sched.sp is 0)"
                },
            );
        }
        let st = State {
            pc: g.sched.pc,
            sp: g.sched.sp,
            bp: g.sched.bp,
            lr: g.sched.lr,
            trap: false,
            regs: None,
            signal: None,
        };
        w.walk(st, stacks, Jump::default(), StackSource::Sched)
    }

    /// Unwinds a thread's own stack from its registers (through the system
    /// stack, a signal frame, and on into the goroutine it runs).
    pub fn unwind_thread(
        &self,
        index: usize,
        cache: &mut UnwindCache<'data>,
        opts: UnwindOptions,
    ) -> Stack<'data> {
        let Some(t) = self.raw_threads().get(index) else {
            return Stack::empty(StackSource::None, "no such thread");
        };
        let info = self.threads().get(index);
        let mut stacks = Stacks::default();
        let mut jump = Jump::default();
        if let Some(m) = info.and_then(|i| i.m.as_ref()) {
            stacks.g0 = stack_of(self, m.g0);
            stacks.gsignal = stack_of(self, m.gsignal);
            if m.curg != 0 {
                stacks.g = stack_of(self, m.curg);
                jump.sched = sched_of(self, m.curg);
            }
        }
        let mut w = Walker {
            p: self,
            r: self.reader(),
            cache,
            opts,
        };
        let st = State {
            pc: t.regs.pc,
            sp: t.regs.sp,
            bp: t.regs.bp,
            lr: t.regs.lr,
            trap: true,
            regs: Some(t.regs.clone()),
            signal: None,
        };
        w.walk(st, stacks, jump, StackSource::Thread(index))
    }
}
