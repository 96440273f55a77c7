//! What a backend (a core file, later a live debugger session) offers the
//! analysis: the executable, memory and threads. Everything above —
//! goroutines, stacks, values, maps — is written once against
//! `&dyn Target`.

use gosleuth_gobin::Binary;

use crate::memory::Memory;

/// The architectures the unwinder knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Arch {
    /// x86-64.
    Amd64,
    /// AArch64.
    Arm64,
}

impl Arch {
    /// From the `GOARCH` name.
    pub fn from_goarch(name: &str) -> Option<Arch> {
        match name {
            "amd64" => Some(Arch::Amd64),
            "arm64" => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// `GOARCH` name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// DWARF number of the stack pointer.
    pub fn dwarf_sp(self) -> u16 {
        match self {
            Arch::Amd64 => 7,
            Arch::Arm64 => 31,
        }
    }

    /// DWARF number of the frame pointer.
    pub fn dwarf_bp(self) -> u16 {
        match self {
            Arch::Amd64 => 6,
            Arch::Arm64 => 29,
        }
    }

    /// Whether return addresses live in a link register (arm64) rather
    /// than on the stack (amd64).
    pub fn has_link_register(self) -> bool {
        matches!(self, Arch::Arm64)
    }
}

/// Registers of a thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registers {
    /// Program counter.
    pub pc: u64,
    /// Stack pointer.
    pub sp: u64,
    /// Frame pointer (RBP / X29).
    pub bp: u64,
    /// Link register (arm64 X30), 0 on amd64.
    pub lr: u64,
    /// Thread pointer: `fs_base` on amd64, `tpidr_el0` on arm64 (0 when
    /// unknown).
    pub tls: u64,
    /// General registers by DWARF number, for location expressions.
    pub dwarf: Vec<(u16, u64)>,
}

impl Registers {
    /// Register `n` by DWARF number.
    pub fn get(&self, n: u16) -> Option<u64> {
        self.dwarf.iter().find(|(r, _)| *r == n).map(|(_, v)| *v)
    }
}

/// An OS thread of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// Kernel thread id (LWP), what `runtime.m.procid` holds on Linux.
    pub id: u64,
    /// Its registers.
    pub regs: Registers,
    /// The signal it was stopped with, when known (`pr_cursig`).
    pub signal: Option<i32>,
}

/// The signal that stopped or killed the process (a core's `NT_SIGINFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalInfo {
    /// Signal number.
    pub signo: i32,
    /// `si_code`.
    pub code: i32,
    /// Faulting address for SIGSEGV/SIGBUS/SIGILL/SIGFPE.
    pub addr: Option<u64>,
}

/// Linux signal names (amd64/arm64 numbering).
pub fn signal_name(signo: i32) -> String {
    const NAMES: [&str; 32] = [
        "SIG0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(signo)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("signal {signo}"), |s| s.to_string())
}

/// A stopped Go process as the analysis sees it.
pub trait Target<'data>: Sync {
    /// The executable.
    fn binary(&self) -> &Binary<'data>;
    /// Its memory.
    fn memory(&self) -> &dyn Memory;
    /// Its threads; the first one is the thread that stopped it (the one
    /// that dumped core).
    fn threads(&self) -> &[Thread];
    /// The signal that stopped it, if the backend knows.
    fn signal(&self) -> Option<SignalInfo> {
        None
    }
    /// What the executable's addresses must be shifted by to get runtime
    /// addresses (PIE load bias); 0 for position-dependent executables.
    fn load_bias(&self) -> u64 {
        0
    }
    /// Problems met while opening the target (missing memory, mismatches)
    /// that results built on it inherit.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}
