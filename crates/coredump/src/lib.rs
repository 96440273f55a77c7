//! ELF core dumps of Go programs, read without a debugger.
//!
//! Brief overview:
//! - [`Core::parse`] reads a core's headers and notes: threads with their
//!   registers (`NT_PRSTATUS`, the dumping thread first), the process
//!   (`NT_PRPSINFO`), the dumping signal (`NT_SIGINFO`), mapped files
//!   (`NT_FILE`), the auxiliary vector (`NT_AUXV`) and the `PT_LOAD`
//!   segments. A truncated core yields what it holds, and
//!   [`Core::warnings`] names what is missing.
//! - [`CoreTarget::open`] puts a core and its executable together: a
//!   [`SplicedMemory`] (core bytes over the executable's, relocated for PIE)
//!   and the threads, as a read-only [`gosleuth_target::Target`] on which
//!   goroutines, stacks, values and maps are read.
//!
//! ```no_run
//! # fn demo(core: &[u8], exe: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let target = gosleuth_coredump::CoreTarget::open(core, exe)?;
//! let process = gosleuth_target::Process::new(&target)?;
//! for g in process.goroutines()?.iter() {
//!     println!("goroutine {} [{}]", g.id, g.state());
//! }
//! # Ok(()) }
//! ```
//!
//! Bytes come from the caller (the binary maps the files); nothing here
//! does I/O or panics on malformed input.

#![deny(missing_docs)]

mod notes;
mod spliced;

use std::fmt;

use object::Endianness;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};

use gosleuth_gobin::Binary;
use gosleuth_target::{Arch, MemErrorKind, Memory, SignalInfo, Target, Thread};

pub use notes::{MappedFile, ProcessInfo};
pub use spliced::{Hole, Region, Source, SplicedMemory};

/// What went wrong opening a core.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not an ELF file.
    NotElf,
    /// An ELF file, but not a core (`e_type` given).
    NotCore(u16),
    /// A core this crate does not read (32-bit, big-endian, other machine).
    Unsupported(String),
    /// The ELF or program headers are cut off or malformed.
    BadHeaders(String),
    /// The executable could not be read.
    Executable(gosleuth_gobin::Error),
}

/// An error with the file offset it happened at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What.
    pub kind: ErrorKind,
    /// File offset in the core (0 when not specific).
    pub offset: u64,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::NotElf => write!(f, "not an ELF file"),
            ErrorKind::NotCore(t) => write!(f, "not a core dump (ELF type {t})"),
            ErrorKind::Unsupported(s) => write!(f, "unsupported core: {s}"),
            ErrorKind::BadHeaders(s) => {
                write!(f, "malformed core at offset {:#x}: {s}", self.offset)
            }
            ErrorKind::Executable(e) => write!(f, "executable: {e}"),
        }
    }
}

impl std::error::Error for Error {}

fn err(kind: ErrorKind, offset: u64) -> Error {
    Error { kind, offset }
}

/// One `PT_LOAD` segment of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    /// Virtual address.
    pub vaddr: u64,
    /// Size in memory.
    pub memsz: u64,
    /// Bytes the kernel wrote (`p_filesz`).
    pub filesz: u64,
    /// File offset.
    pub offset: u64,
    /// Of `filesz`, how many bytes the file actually holds.
    pub present: u64,
    /// `PF_R|PF_W|PF_X`.
    pub flags: u32,
}

/// A parsed ELF core.
#[derive(Debug, Clone)]
pub struct Core<'data> {
    data: &'data [u8],
    /// Architecture.
    pub arch: Arch,
    /// Threads, the dumping thread first.
    pub threads: Vec<Thread>,
    /// `NT_PRPSINFO`.
    pub process: Option<ProcessInfo>,
    /// `NT_SIGINFO`: the signal the core was dumped for.
    pub signal: Option<SignalInfo>,
    /// `NT_FILE`.
    pub files: Vec<MappedFile>,
    /// `NT_AUXV` pairs.
    pub auxv: Vec<(u64, u64)>,
    /// Delve's header note (`dlv dump` cores), if any.
    pub delve_header: Option<String>,
    /// `PT_LOAD` segments.
    pub segments: Vec<LoadSegment>,
    warnings: Vec<String>,
}

/// `AT_ENTRY`.
const AT_ENTRY: u64 = 9;

impl<'data> Core<'data> {
    /// Reads the headers and notes of a core.
    pub fn parse(data: &'data [u8]) -> Result<Self, Error> {
        if !data.starts_with(b"\x7fELF") {
            return Err(err(ErrorKind::NotElf, 0));
        }
        if data.get(4) != Some(&2) {
            return Err(err(
                ErrorKind::Unsupported("only 64-bit cores are read".into()),
                4,
            ));
        }
        let header = elf::FileHeader64::<Endianness>::parse(data)
            .map_err(|e| err(ErrorKind::BadHeaders(e.to_string()), 0))?;
        let endian = header
            .endian()
            .map_err(|e| err(ErrorKind::BadHeaders(e.to_string()), 5))?;
        if endian != Endianness::Little {
            return Err(err(
                ErrorKind::Unsupported("big-endian cores are not read".into()),
                5,
            ));
        }
        let e_type = header.e_type(endian);
        if e_type != elf::ET_CORE {
            return Err(err(ErrorKind::NotCore(e_type.0), 16));
        }
        let arch = match header.e_machine(endian) {
            elf::EM_X86_64 => Arch::Amd64,
            elf::EM_AARCH64 => Arch::Arm64,
            m => {
                return Err(err(
                    ErrorKind::Unsupported(format!("machine {m} (only amd64 and arm64)")),
                    18,
                ));
            }
        };
        let phdrs = header
            .program_headers(endian, data)
            .map_err(|e| err(ErrorKind::BadHeaders(e.to_string()), header.e_phoff(endian)))?;
        let mut core = Core {
            data,
            arch,
            threads: Vec::new(),
            process: None,
            signal: None,
            files: Vec::new(),
            auxv: Vec::new(),
            delve_header: None,
            segments: Vec::new(),
            warnings: Vec::new(),
        };
        let len = data.len() as u64;
        let mut cut = 0u64;
        let mut tls: Vec<u64> = Vec::new();
        for ph in phdrs {
            let (offset, filesz) = (ph.p_offset(endian), ph.p_filesz(endian));
            let present = filesz.min(len.saturating_sub(offset));
            match ph.p_type(endian) {
                elf::PT_LOAD => {
                    cut += filesz - present;
                    core.segments.push(LoadSegment {
                        vaddr: ph.p_vaddr(endian),
                        memsz: ph.p_memsz(endian),
                        filesz,
                        offset,
                        present,
                        flags: ph.p_flags(endian).0,
                    });
                }
                elf::PT_NOTE => {
                    let bytes =
                        &data[offset.min(len) as usize..(offset.min(len) + present) as usize];
                    let (notes, clean) = notes::split(bytes, false);
                    if !clean || present < filesz {
                        core.warnings.push(format!(
                            "the note segment at offset {offset:#x} is cut off: only {} notes read (thread registers or the signal may be missing)",
                            notes.len()
                        ));
                    }
                    for n in notes {
                        core.note(n, &mut tls);
                    }
                }
                _ => {}
            }
        }
        if cut > 0 {
            core.warnings.push(format!(
                "the core file is truncated: {} of its memory segments' bytes are missing ({} bytes in the file, headers promise {})",
                human(cut),
                len,
                len + cut
            ));
        }
        if core.threads.is_empty() {
            core.warnings.push(
                "no thread (NT_PRSTATUS) in the core: no registers for running goroutines".into(),
            );
        }
        if arch == Arch::Arm64 {
            for (t, v) in core.threads.iter_mut().zip(tls) {
                t.regs.tls = v;
            }
        }
        Ok(core)
    }

    fn note(&mut self, n: notes::Note<'_>, tls: &mut Vec<u64>) {
        let owner_ok = matches!(n.name, b"CORE" | b"" | b"LINUX");
        if !owner_ok {
            return;
        }
        match n.kind {
            notes::NT_PRSTATUS if n.name != b"LINUX" => match notes::prstatus(n.desc, self.arch) {
                Some(t) => self.threads.push(t),
                None => self.warnings.push(format!(
                    "an NT_PRSTATUS note of {} bytes is too short",
                    n.desc.len()
                )),
            },
            notes::NT_PRPSINFO => self.process = notes::prpsinfo(n.desc),
            notes::NT_SIGINFO => self.signal = notes::siginfo(n.desc),
            notes::NT_FILE => match notes::files(n.desc) {
                Some(f) => self.files = f,
                None => self.warnings.push("the NT_FILE note is malformed".into()),
            },
            notes::NT_AUXV => self.auxv = notes::auxv(n.desc),
            notes::NT_DELVE_HEADER => {
                self.delve_header = Some(String::from_utf8_lossy(n.desc).into_owned())
            }
            notes::NT_ARM_TLS if n.name == b"LINUX" => {
                if let Some(b) = n.desc.get(..8) {
                    tls.push(u64::from_le_bytes(b.try_into().unwrap_or_default()));
                }
            }
            _ => {}
        }
    }

    /// Problems found while reading the core.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The whole core file.
    pub fn data(&self) -> &'data [u8] {
        self.data
    }

    /// The bytes of a segment that the file holds.
    pub fn segment_bytes(&self, s: &LoadSegment) -> &'data [u8] {
        let len = self.data.len() as u64;
        let start = s.offset.min(len);
        &self.data[start as usize..(start + s.present) as usize]
    }

    /// `AT_ENTRY` from the auxiliary vector.
    pub fn entry(&self) -> Option<u64> {
        self.auxv
            .iter()
            .find(|(t, _)| *t == AT_ENTRY)
            .map(|(_, v)| *v)
    }
}

fn human(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

/// The executable, parsed here or lent by the caller (who may reuse its
/// decompressed DWARF across cores).
enum Exe<'m, 'exe> {
    Owned(Box<Binary<'exe>>),
    Borrowed(&'m Binary<'exe>),
}

impl<'exe> Exe<'_, 'exe> {
    fn get(&self) -> &Binary<'exe> {
        match self {
            Exe::Owned(b) => b,
            Exe::Borrowed(b) => b,
        }
    }
}

/// A core and its executable as a read-only [`Target`]. `'m` is the
/// lifetime of the memory (core and executable bytes), `'exe` that of the
/// parsed executable's data.
pub struct CoreTarget<'m, 'exe> {
    core: Core<'m>,
    binary: Exe<'m, 'exe>,
    memory: SplicedMemory<'m>,
    bias: u64,
    warnings: Vec<String>,
}

impl fmt::Debug for CoreTarget<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreTarget")
            .field("arch", &self.core.arch)
            .field("threads", &self.core.threads.len())
            .field("bias", &self.bias)
            .finish()
    }
}

impl<'data> CoreTarget<'data, 'data> {
    /// Opens `core` with its executable `exe`.
    pub fn open(core: &'data [u8], exe: &'data [u8]) -> Result<Self, Error> {
        let binary = Binary::parse(exe).map_err(|e| err(ErrorKind::Executable(e), 0))?;
        Self::build(core, Exe::Owned(Box::new(binary)))
    }
}

impl<'m, 'exe: 'm> CoreTarget<'m, 'exe> {
    /// Opens `core` with an executable already parsed (its tables and
    /// DWARF are reused).
    pub fn open_with(core: &'m [u8], binary: &'m Binary<'exe>) -> Result<Self, Error> {
        Self::build(core, Exe::Borrowed(binary))
    }

    fn build(core: &'m [u8], binary: Exe<'m, 'exe>) -> Result<Self, Error> {
        let core = Core::parse(core)?;
        let mut warnings: Vec<String> = core.warnings().to_vec();
        let elf = binary.get().elf();
        match Arch::from_goarch(elf.goarch()) {
            Some(a) if a == core.arch => {}
            _ => warnings.push(format!(
                "the executable is {} but the core is {}: this is not the program that dumped core",
                elf.goarch(),
                core.arch.name()
            )),
        }
        let bias = if elf.is_pie() {
            match core.entry() {
                Some(e) => e.wrapping_sub(elf.entry()),
                None => {
                    warnings.push(
                        "position-independent executable but no AT_ENTRY in the core: assuming it was loaded at its link address".into(),
                    );
                    0
                }
            }
        } else {
            0
        };
        // The executable's loaded segments (file bytes only).
        let exe_regions: Vec<Region<'m>> = elf
            .memory()
            .segments()
            .map(|(addr, data)| Region {
                start: addr.wrapping_add(bias),
                data,
                source: Source::Executable,
            })
            .collect();
        let mut core_regions = Vec::new();
        let mut holes = Vec::new();
        for s in &core.segments {
            let bytes = core.segment_bytes(s);
            core_regions.push(Region {
                start: s.vaddr,
                data: bytes,
                source: Source::Core,
            });
            let end = s.vaddr.saturating_add(s.memsz);
            let have = s.vaddr.saturating_add(s.present);
            let written = s.vaddr.saturating_add(s.filesz);
            if have < written {
                holes.push(Hole {
                    start: have,
                    end: written.min(end),
                    kind: MemErrorKind::Truncated,
                });
            }
            if written < end {
                holes.push(Hole {
                    start: written,
                    end,
                    kind: MemErrorKind::NotDumped,
                });
            }
        }
        let memory = SplicedMemory::new(core_regions, exe_regions, holes);
        // Same executable? The core usually holds the first page of the
        // executable's mapping (ELF header, program headers, notes).
        if let Some((start, first)) = elf.memory().segments().next() {
            let addr = start.wrapping_add(bias);
            let from_core = core
                .segments
                .iter()
                .find(|s| s.vaddr <= addr && addr < s.vaddr + s.present)
                .map(|s| {
                    let b = core.segment_bytes(s);
                    &b[(addr - s.vaddr) as usize..]
                });
            if let Some(c) = from_core {
                let n = c.len().min(first.len()).min(4096);
                if n > 0 && c[..n] != first[..n] {
                    warnings.push(format!(
                        "the executable's first page differs from the copy in the core at {addr:#x}: this is probably not the executable that dumped core (results will be wrong)"
                    ));
                }
            }
        }
        Ok(CoreTarget {
            core,
            binary,
            memory,
            bias,
            warnings,
        })
    }

    /// The parsed core.
    pub fn core(&self) -> &Core<'m> {
        &self.core
    }

    /// The spliced memory.
    pub fn spliced(&self) -> &SplicedMemory<'m> {
        &self.memory
    }
}

impl<'m, 'exe: 'm> Target<'exe> for CoreTarget<'m, 'exe> {
    fn binary(&self) -> &Binary<'exe> {
        self.binary.get()
    }

    fn memory(&self) -> &dyn Memory {
        &self.memory
    }

    fn threads(&self) -> &[Thread] {
        &self.core.threads
    }

    fn signal(&self) -> Option<SignalInfo> {
        self.core.signal
    }

    fn load_bias(&self) -> u64 {
        self.bias
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}
