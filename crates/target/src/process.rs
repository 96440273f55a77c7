//! A stopped Go process: the runtime's layout in this executable, its
//! globals, its Ms and threads, and (lazily) its goroutines.

use std::sync::{Mutex, OnceLock};

use gosleuth_gobin::Binary;

use crate::error::{Error, ErrorKind, Result};
use crate::goroutines::{self, Goroutine};
use crate::layout::{GoVersion, Layout, LayoutSource};
use crate::memory::{Memory, Reader};
use crate::target::{Arch, Target, Thread};

/// Addresses of runtime globals (runtime addresses, bias applied).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Globals {
    /// `runtime.allgs` (a `[]*g` header).
    pub allgs: Option<u64>,
    /// `runtime.allm` (an `*m`).
    pub allm: Option<u64>,
    /// `runtime.firstmoduledata`.
    pub firstmoduledata: Option<u64>,
    /// `runtime.waitReasonStrings` and its length.
    pub wait_reason_strings: Option<(u64, u64)>,
}

/// One `runtime.m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MInfo {
    /// Address of the `m`.
    pub addr: u64,
    /// `m.id` (the `m=` of tracebacks).
    pub id: i64,
    /// `m.procid`: the kernel thread id.
    pub procid: u64,
    /// `m.g0`.
    pub g0: u64,
    /// `m.gsignal`.
    pub gsignal: u64,
    /// `m.curg`.
    pub curg: u64,
    /// `m.throwing` (0 none, 1 user `fatal`, 2+ runtime `throw`), when the
    /// release has it.
    pub throwing: Option<u32>,
    /// `m.dying`.
    pub dying: i32,
    /// `m.caughtsig`: the goroutine running when a fatal signal arrived.
    pub caughtsig: u64,
}

/// What a thread was running when the process stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadInfo {
    /// Index in [`Target::threads`].
    pub index: usize,
    /// Kernel thread id.
    pub id: u64,
    /// The `g` in the thread's TLS slot (may be `g0` or `gsignal`).
    pub g: u64,
    /// Its `m`, when the `g` could be read.
    pub m: Option<MInfo>,
}

impl ThreadInfo {
    /// The user goroutine the thread runs (`m.curg`), if any.
    pub fn curg(&self) -> Option<u64> {
        self.m.as_ref().map(|m| m.curg).filter(|&g| g != 0)
    }

    /// Whether the thread is on its `g0` (scheduler) or `gsignal` stack.
    pub fn on_system_stack(&self) -> bool {
        self.m
            .as_ref()
            .is_some_and(|m| self.g == m.g0 || self.g == m.gsignal)
    }
}

/// A stopped Go process.
pub struct Process<'t, 'data> {
    target: &'t dyn Target<'data>,
    arch: Arch,
    ptr: u8,
    bias: u64,
    version: Option<GoVersion>,
    layout: Layout,
    globals: Globals,
    wait_reasons: Vec<String>,
    warnings: Mutex<Vec<String>>,
    threads: OnceLock<Vec<ThreadInfo>>,
    goroutines: OnceLock<std::result::Result<Vec<Goroutine>, Error>>,
}

impl std::fmt::Debug for Process<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("arch", &self.arch)
            .field("version", &self.version)
            .field("layout", &self.layout.source)
            .finish()
    }
}

impl<'t, 'data> Process<'t, 'data> {
    /// Locates the runtime in `target`.
    pub fn new(target: &'t dyn Target<'data>) -> Result<Self> {
        let bin = target.binary();
        let elf = bin.elf();
        let arch = Arch::from_goarch(elf.goarch()).ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported(format!("architecture {}", elf.goarch())),
                "",
            )
        })?;
        let bias = target.load_bias();
        let mut warnings = target.warnings();
        let dwarf = bin.dwarf().ok();
        let version = bin
            .build_info()
            .ok()
            .and_then(|b| GoVersion::parse(&b.go_version))
            .or_else(|| {
                let d = dwarf.as_ref()?;
                let units = d.compile_units().ok()?;
                units.iter().find_map(|u| GoVersion::parse(&u.producer))
            });
        let (layout, globals, wait_reasons) = match &dwarf {
            Some(d) => {
                let layout = Layout::from_dwarf(d)
                    .map_err(|e| Error::new(ErrorKind::NoRuntime(e.0), "runtime types in DWARF"))?;
                let addr = |name: &str| {
                    d.global(name)
                        .ok()
                        .and_then(|g| g.address)
                        .map(|a| a.wrapping_add(bias))
                };
                let wrs = d.global("runtime.waitReasonStrings").ok().and_then(|g| {
                    let a = g.address?.wrapping_add(bias);
                    let t = d.underlying(g.ty?).ok()?;
                    match t.kind {
                        gosleuth_gobin::TypeKind::Array { len, .. } => Some((a, len)),
                        _ => None,
                    }
                });
                let globals = Globals {
                    allgs: addr("runtime.allgs"),
                    allm: addr("runtime.allm"),
                    firstmoduledata: addr("runtime.firstmoduledata"),
                    wait_reason_strings: wrs,
                };
                (layout, globals, Vec::new())
            }
            None => {
                let v = version.ok_or_else(|| {
                    Error::new(
                        ErrorKind::NoRuntime(
                            "no DWARF and no Go version in the build information".into(),
                        ),
                        "",
                    )
                })?;
                let layout = Layout::builtin(v).ok_or_else(|| {
                    Error::new(
                        ErrorKind::NoRuntime(format!(
                            "no DWARF (stripped executable) and no built-in layout for {v}"
                        )),
                        "",
                    )
                })?;
                if layout.source == LayoutSource::Nearest {
                    warnings.push(format!(
                        "stripped executable built by {v}: runtime offsets are taken from the nearest release gosleuth knows and may be wrong"
                    ));
                }
                let globals = Globals {
                    firstmoduledata: bin.moduledata_address().map(|a| a.wrapping_add(bias)),
                    ..Globals::default()
                };
                (layout, globals, Vec::new())
            }
        };
        let mut p = Process {
            target,
            arch,
            ptr: elf.ptr_size(),
            bias,
            version,
            layout,
            globals,
            wait_reasons,
            warnings: Mutex::new(warnings),
            threads: OnceLock::new(),
            goroutines: OnceLock::new(),
        };
        if p.globals.allgs.is_none() {
            p.globals.allgs = goroutines::scan_allgs(&p);
            if p.globals.allgs.is_none() {
                p.warn("runtime.allgs not found (no symbols and no matching slice in .bss): only goroutines running on threads are listed");
            }
        }
        p.wait_reasons = goroutines::wait_reason_strings(&p);
        Ok(p)
    }

    /// The backend.
    pub fn target(&self) -> &'t dyn Target<'data> {
        self.target
    }

    /// The executable.
    pub fn binary(&self) -> &'t Binary<'data> {
        self.target.binary()
    }

    /// Memory.
    pub fn memory(&self) -> &'t dyn Memory {
        self.target.memory()
    }

    /// A reader over memory.
    pub fn reader(&self) -> Reader<'t> {
        Reader::new(self.target.memory(), false, self.ptr)
    }

    /// Architecture.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Pointer size.
    pub fn ptr_size(&self) -> u8 {
        self.ptr
    }

    /// PIE load bias.
    pub fn bias(&self) -> u64 {
        self.bias
    }

    /// The Go release that built the executable.
    pub fn go_version(&self) -> Option<GoVersion> {
        self.version
    }

    /// The runtime layout in use.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Runtime globals found.
    pub fn globals(&self) -> &Globals {
        &self.globals
    }

    /// The threads.
    pub fn raw_threads(&self) -> &'t [Thread] {
        self.target.threads()
    }

    /// Wait reason names by number (`runtime.waitReasonStrings`).
    pub fn wait_reasons(&self) -> &[String] {
        &self.wait_reasons
    }

    /// Records a warning (shown with results).
    pub fn warn(&self, w: impl Into<String>) {
        let w = w.into();
        if let Ok(mut ws) = self.warnings.lock()
            && !ws.contains(&w)
            && ws.len() < 1000
        {
            ws.push(w);
        }
    }

    /// Warnings gathered so far (from the target and from reading).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// Reads an `m`.
    pub fn read_m(&self, addr: u64) -> Result<MInfo> {
        let r = self.reader();
        let l = &self.layout.m;
        let at = |what: &str| format!("m.{what} of the m at {addr:#x}");
        let word = |off: u64, what: &str| {
            r.ptr(addr.wrapping_add(off))
                .map_err(|e| Error::mem(e, at(what)))
        };
        Ok(MInfo {
            addr,
            id: r
                .int(addr.wrapping_add(l.id), 8)
                .map_err(|e| Error::mem(e, at("id")))?,
            procid: word(l.procid, "procid")?,
            g0: word(l.g0, "g0")?,
            gsignal: word(l.gsignal, "gsignal")?,
            curg: word(l.curg, "curg")?,
            throwing: match l.throwing {
                Some((o, size)) => Some(
                    r.uint(addr.wrapping_add(o), size)
                        .map_err(|e| Error::mem(e, at("throwing")))? as u32,
                ),
                None => None,
            },
            dying: r
                .int(addr.wrapping_add(l.dying), 4)
                .map_err(|e| Error::mem(e, at("dying")))? as i32,
            caughtsig: word(l.caughtsig, "caughtsig")?,
        })
    }

    /// Every thread with the `g` and `m` it was running.
    pub fn threads(&self) -> &[ThreadInfo] {
        self.threads.get_or_init(|| goroutines::thread_infos(self))
    }

    /// All `m`s: those of the threads, and those on the `runtime.allm` list.
    pub fn ms(&self) -> Vec<MInfo> {
        let mut out: Vec<MInfo> = Vec::new();
        let mut push = |m: MInfo| {
            if !out.iter().any(|x| x.addr == m.addr) {
                out.push(m);
            }
        };
        for t in self.threads() {
            if let Some(m) = &t.m {
                push(m.clone());
            }
        }
        if let Some(allm) = self.globals.allm {
            let r = self.reader();
            let mut p = r.ptr(allm).unwrap_or(0);
            let mut n = 0;
            while p != 0 && n < 100_000 {
                let Ok(m) = self.read_m(p) else { break };
                let next = r.ptr(p.wrapping_add(self.layout.m.alllink)).unwrap_or(0);
                push(m);
                p = next;
                n += 1;
            }
        }
        out.sort_by_key(|m| m.id);
        out
    }

    /// The goroutines (dead ones left out), read on first use.
    pub fn goroutines(&self) -> Result<&[Goroutine]> {
        self.goroutines
            .get_or_init(|| goroutines::read_all(self))
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    /// A goroutine by id.
    pub fn goroutine(&self, id: u64) -> Result<&Goroutine> {
        self.goroutines()?
            .iter()
            .find(|g| g.id == id)
            .ok_or_else(|| Error::not_found(format!("no goroutine {id}")))
    }

    /// The executable's address for a runtime address (undoes the PIE
    /// bias).
    pub fn to_link(&self, addr: u64) -> u64 {
        addr.wrapping_sub(self.bias)
    }
}
