//! What a scan returns: traces, goroutines, stacks and frames.
//!
//! Strings that repeat (function names, files, states) are interned once per
//! [`Dump`] and referred to by [`Sym`]; identical stacks are stored once and
//! referred to by [`StackId`]. A dump of 100,000 goroutines parked in twenty
//! places therefore holds twenty stacks, not two million frames.

use rustc_hash::FxHashMap;

/// An interned string of a [`Dump`]; resolve it with [`Dump::str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(pub(crate) u32);

/// A distinct stack of a [`Dump`]; resolve it with [`Dump::stack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StackId(pub(crate) u32);

/// Interned strings, looked up by their raw bytes so that the hot path
/// needs no UTF-8 check (input that is not UTF-8, such as Latin-1 logs, is
/// converted lossily once, when first seen).
#[derive(Debug, Default, Clone)]
pub struct Interner {
    map: FxHashMap<Box<[u8]>, Sym>,
    strings: Vec<Box<str>>,
}

impl Interner {
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        self.intern_bytes(s.as_bytes())
    }

    pub(crate) fn intern_bytes(&mut self, b: &[u8]) -> Sym {
        if let Some(&sym) = self.map.get(b) {
            return sym;
        }
        let sym = Sym(self.strings.len() as u32);
        self.strings.push(String::from_utf8_lossy(b).into());
        self.map.insert(b.into(), sym);
        sym
    }

    /// Like [`Interner::intern_bytes`], trying `hint` first: consecutive
    /// goroutines of a dump were often started by the same loop and share
    /// their frames, so comparing with the symbol seen at the same depth in
    /// the previous goroutine saves the hash lookup most of the time.
    pub(crate) fn intern_bytes_hinted(&mut self, b: &[u8], hint: Option<Sym>) -> Sym {
        if let Some(h) = hint
            && self.get(h).as_bytes() == b
        {
            return h;
        }
        self.intern_bytes(b)
    }

    pub(crate) fn get(&self, sym: Sym) -> &str {
        self.strings.get(sym.0 as usize).map_or("", |s| s)
    }

    pub(crate) fn lookup(&self, s: &str) -> Option<Sym> {
        self.map.get(s.as_bytes()).copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.strings.len()
    }
}

/// One frame of a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The function as printed (`main.(*UserService).Save`, `panic`,
    /// `main.Apply[...]`). Empty when the function line was lost and only
    /// the file line survived.
    pub function: Sym,
    /// The source file as printed, `None` when the file line is missing
    /// (truncated input).
    pub file: Option<Sym>,
    /// Line number, 0 when unknown.
    pub line: u32,
    /// `+0x1d`: the PC's offset from the function entry. `None` for inlined
    /// frames, for a PC at the entry, and when not printed.
    pub offset: Option<u32>,
    /// The frame was printed as `f(...)`: an inlined call.
    pub inlined: bool,
}

/// Frames left out by the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Elision {
    /// Index in [`Stack::frames`] where the gap is.
    pub at: u32,
    /// `...N frames elided...` (Go 1.21+) gives the count;
    /// `...additional frames elided...` (older) does not.
    pub count: Option<u32>,
}

/// A stack as printed, innermost frame first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Stack {
    /// The frames, innermost first.
    pub frames: Vec<Frame>,
    /// Where the runtime left frames out, if it did.
    pub elided: Option<Elision>,
}

/// `created by F in goroutine N` with its location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CreatedBy {
    /// The function containing the `go` statement.
    pub function: Sym,
    /// Its file, when printed.
    pub file: Option<Sym>,
    /// Its line, 0 when unknown.
    pub line: u32,
    /// The creating goroutine (`in goroutine N`, Go 1.21+).
    pub parent: Option<u64>,
}

/// Flags from the goroutine header beyond the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderFlags {
    /// `, locked to thread`.
    pub locked_to_thread: bool,
    /// ` (leaked)` (Go 1.26+ goroutine leak detection).
    pub leaked: bool,
    /// ` (durable)` (synctest, Go 1.25+).
    pub durable: bool,
    /// ` (scan)`: the GC was scanning the stack.
    pub scan: bool,
}

/// One goroutine of a trace, or one record of a `debug=1` goroutine
/// profile (then `count` says how many goroutines share it and `id` is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goroutine {
    /// The goroutine id; 0 for `debug=1` records and the g0 stack.
    pub id: u64,
    /// The state or wait reason as printed (`chan receive`, `running`,
    /// `IO wait`); empty for `debug=1` records.
    pub state: Sym,
    /// `, N minutes` of waiting.
    pub wait_minutes: Option<u32>,
    /// Further header flags.
    pub flags: HeaderFlags,
    /// `synctest bubble N` / `synctest group N`.
    pub synctest_bubble: Option<u64>,
    /// pprof labels, as printed (`{"request": "abc"}`), if any.
    pub labels: Option<Sym>,
    /// `m=N` from a `gp=.. m=.. mp=..` header; `Some(None)` for `m=nil`.
    pub m: Option<Option<u32>>,
    /// The stack.
    pub stack: StackId,
    /// Who started it.
    pub created_by: Option<CreatedBy>,
    /// Index of this goroutine's first argument list in [`Dump::args`];
    /// frame `i` has its arguments at `args_start + i`. `u32::MAX` when
    /// arguments were not kept.
    pub args_start: u32,
    /// 1-based line of the header in the input.
    pub line: u64,
    /// `goroutine running on other thread; stack unavailable`.
    pub stack_unavailable: bool,
    /// How many goroutines this entry stands for: 1, or a `debug=1` count.
    pub count: u64,
    /// False when the input ended inside this goroutine.
    pub complete: bool,
    /// Stacks of ancestor goroutines (`GODEBUG=tracebackancestors`).
    pub ancestors: Vec<Ancestor>,
}

/// `[originating from goroutine N]:` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ancestor {
    /// The ancestor goroutine.
    pub id: u64,
    /// Its stack when it created the next one.
    pub stack: StackId,
    /// Who created it.
    pub created_by: Option<CreatedBy>,
}

/// A `panic:` line of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicMessage {
    /// The value as printed after `panic: `, continuation lines joined with
    /// `\n`, without the `[recovered]` suffix.
    pub message: String,
    /// ` [recovered]`: a deferred call recovered it and then panicked again.
    pub recovered: bool,
    /// ` [recovered, repanicked]` (Go 1.25+): re-panicked with the same value.
    pub repanicked: bool,
    /// 1-based input line.
    pub line: u64,
}

/// A `[signal SIGSEGV: segmentation violation code=.. addr=.. pc=..]` line
/// or a fatal signal header (`SIGQUIT: quit` + `PC=.. m=.. sigcode=..`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Signal {
    /// `SIGSEGV`, or the number as printed by old Go (`0xb`).
    pub name: String,
    /// `segmentation violation`.
    pub description: String,
    /// `code=`/`sigcode=`.
    pub code: Option<u64>,
    /// `addr=`: the faulting address.
    pub addr: Option<u64>,
    /// `pc=`/`PC=`.
    pub pc: Option<u64>,
    /// `m=` of a fatal signal header.
    pub m: Option<u32>,
    /// The signal killed the process (`SIGQUIT: quit` form) rather than
    /// being turned into a panic (`[signal ...]` form).
    pub fatal: bool,
}

/// One access (or creation) section of a race report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaceSection {
    /// `Read`, `Write`, `Previous write`, `Atomic read`, ... or `created`.
    pub what: String,
    /// The address raced on (absent in very old reports).
    pub addr: Option<u64>,
    /// The goroutine; `main goroutine` is 1.
    pub goroutine: Option<u64>,
    /// For creation sections: `running` or `finished`.
    pub state: Option<String>,
    /// The stack of the access.
    pub stack: StackId,
    /// Index of the first argument list (see [`Goroutine::args_start`]).
    pub args_start: u32,
    /// 1-based line of the section header.
    pub line: u64,
}

/// One `WARNING: DATA RACE` report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RaceReport {
    /// Access sections, in order: the current access first.
    pub accesses: Vec<RaceSection>,
    /// `Goroutine N (running) created at:` sections.
    pub creations: Vec<RaceSection>,
}

/// What kind of text a trace is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceFormat {
    /// An unrecovered panic or fatal error, as printed on stderr.
    #[default]
    Crash,
    /// A panic recovered and logged with its stack (`http: panic serving`,
    /// klog `Observed a panic`, a JSON log field).
    RecoveredLog,
    /// A goroutine dump with no crash: `runtime.Stack(buf, true)`,
    /// `/debug/pprof/goroutine?debug=2`, or a dump fragment.
    Dump,
    /// A SIGQUIT (or other fatal signal) dump.
    SignalDump,
    /// `/debug/pprof/goroutine?debug=1`: aggregated records.
    Debug1,
    /// A race detector report.
    Race,
}

/// How a trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Truncation {
    /// The trace ended cleanly.
    #[default]
    Complete,
    /// The input ended inside a goroutine.
    MidGoroutine,
    /// The input is a goroutine dump of exactly 64 MiB: the cut
    /// `/debug/pprof/goroutine?debug=2` makes when the dump does not fit.
    /// The text may end anywhere, even between two goroutines.
    CutByRuntimeAt64MiB,
}

/// One trace found in the input: a crash, a dump, or a race report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trace {
    /// What kind of text it is.
    pub format: TraceFormat,
    /// 1-based first and last input lines.
    pub first_line: u64,
    /// See `first_line`.
    pub last_line: u64,
    /// The `panic:` chain, oldest first.
    pub panics: Vec<PanicMessage>,
    /// `fatal error:` messages, repeated ones folded (several Ms can print
    /// the same throw).
    pub fatal: Vec<String>,
    /// The signal line, if any.
    pub signal: Option<Signal>,
    /// `unexpected fault address 0x..`.
    pub fault_address: Option<u64>,
    /// Who recovered and logged the panic (`net/http`, `klog`, a JSON log
    /// field), for [`TraceFormat::RecoveredLog`].
    pub recovered_by: Option<String>,
    /// Other runtime lines before the goroutines (`runtime: goroutine stack
    /// exceeds 1000000000-byte limit`, ...).
    pub notes: Vec<String>,
    /// The goroutines (or `debug=1` records), in input order.
    pub goroutines: Vec<Goroutine>,
    /// The `runtime stack:` section (a throw on the system stack), if any.
    pub system_stack: Option<StackId>,
    /// Race reports.
    pub races: Vec<RaceReport>,
    /// `goroutine profile: total N` of a `debug=1` profile.
    pub debug1_total: Option<u64>,
    /// Registers of a fatal-signal dump, as printed.
    pub registers: Vec<(String, u64)>,
    /// `exit status N` printed by `go run`/`go test`.
    pub exit_status: Option<i32>,
    /// How the trace ended.
    pub truncation: Truncation,
}

impl Trace {
    /// How many goroutines the trace describes: the sum of `debug=1`
    /// counts, the distinct goroutines of race reports, or the headers.
    pub fn goroutine_count(&self) -> u64 {
        if self.format == TraceFormat::Race {
            let mut ids: Vec<u64> = self
                .races
                .iter()
                .flat_map(|r| r.accesses.iter().chain(&r.creations))
                .filter_map(|s| s.goroutine)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            return ids.len() as u64;
        }
        self.goroutines.iter().map(|g| g.count).sum()
    }

    /// The panic that started it all: the first of the chain.
    pub fn first_panic(&self) -> Option<&PanicMessage> {
        self.panics.first()
    }
}

/// A line the scanner could not use inside a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based input line.
    pub line: u64,
    /// Why, with the line quoted (shortened).
    pub reason: String,
}

/// Everything found in one input.
#[derive(Debug, Clone, Default)]
pub struct Dump {
    pub(crate) strings: Interner,
    pub(crate) stacks: Vec<Stack>,
    /// Stacks by the hash of their frames: looked up with borrowed frames,
    /// so a goroutine whose stack is already known allocates nothing.
    pub(crate) stack_index: FxHashMap<u64, Vec<StackId>>,
    /// The stack interned last: the next goroutine often has the same one,
    /// and comparing with it costs less than hashing.
    pub(crate) last_stack: Option<StackId>,
    /// Argument lists of frames as printed (`0xc000010000, {0x4d55a5, 0x5}`),
    /// one arena for all, indexed through `arg_spans` from
    /// [`Goroutine::args_start`]: one allocation instead of millions.
    pub(crate) arg_text: String,
    pub(crate) arg_spans: Vec<[u32; 2]>,
    /// The traces, in input order.
    pub traces: Vec<Trace>,
    /// Lines inside traces that could not be understood (at most
    /// [`crate::ScanOptions::max_skipped`] kept; `skipped_total` counts all).
    pub skipped: Vec<Skipped>,
    /// Number of skipped lines, kept or not.
    pub skipped_total: u64,
    /// Lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// The last trace was still open when the input (or the block) ended.
    pub(crate) last_trace_open: bool,
}

impl Dump {
    /// The text of an interned string.
    pub fn str(&self, sym: Sym) -> &str {
        self.strings.get(sym)
    }

    /// A stack by id.
    pub fn stack(&self, id: StackId) -> &Stack {
        static EMPTY: Stack = Stack {
            frames: Vec::new(),
            elided: None,
        };
        self.stacks.get(id.0 as usize).unwrap_or(&EMPTY)
    }

    /// All distinct stacks.
    pub fn stacks(&self) -> &[Stack] {
        &self.stacks
    }

    /// The argument list printed for frame `index` of a goroutine whose
    /// arguments start at `args_start`.
    pub fn frame_args(&self, args_start: u32, index: usize) -> Option<&str> {
        if args_start == u32::MAX {
            return None;
        }
        let [start, end] = *self.arg_spans.get(args_start as usize + index)?;
        self.arg_text.get(start as usize..end as usize)
    }

    /// Stores one argument list; `None` once the arena is full (4 GiB).
    pub(crate) fn push_args(&mut self, args: &[u8]) -> Option<u32> {
        let index = u32::try_from(self.arg_spans.len()).ok()?;
        let start = u32::try_from(self.arg_text.len()).ok()?;
        let end = u32::try_from(self.arg_text.len() + args.len()).ok()?;
        match std::str::from_utf8(args) {
            Ok(s) => self.arg_text.push_str(s),
            Err(_) => {
                let lossy = String::from_utf8_lossy(args);
                let end = u32::try_from(self.arg_text.len() + lossy.len()).ok()?;
                self.arg_text.push_str(&lossy);
                self.arg_spans.push([start, end]);
                return Some(index);
            }
        }
        self.arg_spans.push([start, end]);
        Some(index)
    }

    pub(crate) fn intern_stack(&mut self, stack: Stack) -> StackId {
        self.intern_frames(&stack.frames, stack.elided)
    }

    /// Interns the stack made of `frames` and `elided`, copying the frames
    /// only when the stack is new.
    pub(crate) fn intern_frames(&mut self, frames: &[Frame], elided: Option<Elision>) -> StackId {
        use std::hash::{Hash, Hasher};
        if let Some(last) = self.last_stack
            && let Some(known) = self.stacks.get(last.0 as usize)
            && known.elided == elided
            && known.frames == frames
        {
            return last;
        }
        let mut h = rustc_hash::FxHasher::default();
        frames.hash(&mut h);
        elided.hash(&mut h);
        let key = h.finish();
        let candidates = self.stack_index.entry(key).or_default();
        for &id in candidates.iter() {
            let known = &self.stacks[id.0 as usize];
            if known.frames == frames && known.elided == elided {
                self.last_stack = Some(id);
                return id;
            }
        }
        let id = StackId(self.stacks.len() as u32);
        candidates.push(id);
        self.last_stack = Some(id);
        self.stacks.push(Stack {
            frames: frames.to_vec(),
            elided,
        });
        id
    }

    /// Finds a string already interned (for lookups such as "is there a
    /// frame named X" without allocating).
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        self.strings.lookup(s)
    }

    /// Number of distinct strings.
    pub fn string_count(&self) -> usize {
        self.strings.len()
    }
}
