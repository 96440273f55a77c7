//! Go executables, read without a Go toolchain: build information, the
//! pclntab (functions, files, lines, frame sizes, inline trees) and DWARF
//! (types, variables, constants, locations).
//!
//! Brief overview:
//! - [`Binary::parse`] takes the bytes of an ELF file (the caller maps it)
//!   and reads only its headers; every table is found and checked on first
//!   use and kept.
//! - [`Binary::build_info`] gives what `go version -m` prints ([`BuildInfo`]).
//! - [`Binary::pclntab`] gives the [`Pclntab`]: [`Func`] by address or name,
//!   pc-value tables (`pcsp` frame size for unwinding, `pcfile`, `pcln`,
//!   `pcdata`), funcdata and inline trees, for the 1.2, 1.16, 1.18 and 1.20
//!   layouts, on stripped (`-ldflags=-s -w`), PIE and externally linked
//!   binaries, amd64 and arm64.
//! - [`Binary::frames`] turns a PC into [`Frame`]s, innermost inlined frame
//!   first; [`Symbolizer`] does the same for many PCs quickly, and
//!   [`Symbolizer::resolve`] resolves a whole batch into shared [`Chains`].
//! - [`Binary::dwarf`] gives a [`Dwarf`] view: compilation units, line
//!   tables, Go types ([`Type`], [`TypeKind`], struct field offsets by
//!   path), global variables with addresses, constants
//!   (`runtime.waitReason*`), function parameters and locals with their
//!   location expressions, and an evaluator for those expressions.
//!
//! ```no_run
//! # fn demo(bytes: &[u8]) -> Result<(), gosleuth_gobin::Error> {
//! let bin = gosleuth_gobin::Binary::parse(bytes)?;
//! println!("{}", bin.build_info()?.go_version);
//! for frame in bin.frames(0x4a1b2c)? {
//!     println!("{} {}:{} +{:#x}", frame.function, frame.file, frame.line, frame.offset);
//! }
//! # Ok(()) }
//! ```
//!
//! This crate does no I/O and never panics on malformed input: every
//! failure is an [`Error`] saying what and where (`.gopclntab+0x1a40`).
//! Memory of a running process or core is the `target` crate's business;
//! this one reads only the file.

#![deny(missing_docs)]

mod buildinfo;
// gimli names its DW_* constants as in the DWARF standard.
#[allow(non_upper_case_globals)]
mod dwarf;
mod elf;
mod error;
mod pclntab;
mod symbolize;
mod symbolizer;

use std::collections::HashMap;
use std::sync::OnceLock;

pub use buildinfo::{BuildInfo, BuildSetting, ModinfoError, Module, parse_modinfo};
pub use dwarf::{
    CompileUnit, Constant, Dwarf, DwarfInfo, Field, FunctionDie, Global, GoKind, LineRow,
    LocalVariable, Location, LocationContext, Piece, PieceLocation, Type, TypeKind, TypeRef,
    VariableRole,
};
pub use elf::{Elf, Endian, Memory, SectionInfo};
pub use error::{Error, ErrorKind, Pos, Result};
pub use pclntab::pcvalue::{PcRange, PcValueIter};
pub use pclntab::{FoundBy, Func, FuncFlag, InlinedCall, Pclntab, Version};
pub use symbolize::Frame;
pub use symbolizer::{Chain, ChainFrame, Chains, FrameText, Symbolizer};

/// A Go executable over borrowed bytes.
pub struct Binary<'data> {
    elf: Elf<'data>,
    pclntab: OnceLock<Result<pclntab::Located<'data>>>,
    names: OnceLock<HashMap<&'data str, usize>>,
    dwarf: OnceLock<Result<dwarf::DwarfData<'data>>>,
}

impl std::fmt::Debug for Binary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binary").field("elf", &self.elf).finish()
    }
}

/// A summary of the binary (what `gosleuth binary info` shows besides the
/// build information).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// `GOARCH` name of the ELF machine.
    pub arch: &'static str,
    /// Pointer size in bytes.
    pub ptr_size: u8,
    /// Byte order.
    pub endian: Endian,
    /// Position independent (`ET_DYN`).
    pub pie: bool,
    /// No `.symtab`.
    pub stripped: bool,
    /// DWARF version of the first compilation unit, if there is DWARF.
    pub dwarf_version: Option<u16>,
    /// pclntab layout, if found.
    pub pclntab_version: Option<Version>,
    /// How the pclntab was found.
    pub pclntab_found_by: Option<FoundBy>,
    /// Start of Go text (`runtime.text`).
    pub text_start: Option<u64>,
    /// Size of Go text: end of the last function minus text start.
    pub text_size: Option<u64>,
    /// Number of functions in the pclntab.
    pub functions: Option<usize>,
    /// `.note.go.buildid`.
    pub go_build_id: Option<String>,
    /// `.note.gnu.build-id` as hex.
    pub gnu_build_id: Option<String>,
}

impl<'data> Binary<'data> {
    /// Parses the ELF headers of `data`. Nothing else is read yet.
    pub fn parse(data: &'data [u8]) -> Result<Self> {
        Ok(Binary {
            elf: Elf::parse(data)?,
            pclntab: OnceLock::new(),
            names: OnceLock::new(),
            dwarf: OnceLock::new(),
        })
    }

    /// The ELF container.
    pub fn elf(&self) -> &Elf<'data> {
        &self.elf
    }

    fn located(&self) -> Result<&pclntab::Located<'data>> {
        self.pclntab
            .get_or_init(|| pclntab::locate(&self.elf))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The pclntab, found and checked on first use.
    pub fn pclntab(&self) -> Result<&Pclntab<'data>> {
        self.located().map(|l| &l.tab)
    }

    /// How the pclntab was found.
    pub fn pclntab_found_by(&self) -> Result<FoundBy> {
        self.located().map(|l| l.found_by)
    }

    /// Address of `runtime.firstmoduledata`, when it was found.
    pub fn moduledata_address(&self) -> Option<u64> {
        self.located().ok().and_then(|l| l.moduledata)
    }

    /// The build information (`go version -m`).
    pub fn build_info(&self) -> Result<BuildInfo> {
        buildinfo::read(&self.elf)
    }

    /// The function containing `pc`.
    pub fn func_at(&self, pc: u64) -> Result<Option<Func<'data, '_>>> {
        let tab = self.pclntab()?;
        tab.find(pc).transpose()
    }

    /// The function named `name` (exact symbol name).
    pub fn func_by_name(&self, name: &str) -> Result<Option<Func<'data, '_>>> {
        let tab = self.pclntab()?;
        let names = self.names.get_or_init(|| {
            let mut m = HashMap::with_capacity(tab.len());
            for i in 0..tab.len() {
                if let Some(n) = tab.func(i).ok().and_then(|f| f.name()) {
                    m.entry(n).or_insert(i);
                }
            }
            m
        });
        names.get(name).map(|&i| tab.func(i)).transpose()
    }

    /// Frames at `pc` (used as given), innermost inlined frame first; empty
    /// when no Go function contains `pc`.
    pub fn frames(&self, pc: u64) -> Result<Vec<Frame<'data>>> {
        symbolize::frames(self.pclntab()?, pc)
    }

    /// Frames for a return address found on a stack: looks up `pc - 1` (the
    /// call instruction) like the runtime's `symPC`, but reports offsets
    /// from `pc`.
    pub fn frames_for_return_address(&self, pc: u64) -> Result<Vec<Frame<'data>>> {
        let mut frames = symbolize::frames(self.pclntab()?, pc.wrapping_sub(1))?;
        for f in &mut frames {
            f.offset = f.offset.wrapping_add(1);
        }
        Ok(frames)
    }

    /// Resolves the `pc=` of a traceback's `[signal ... pc=0x...]` line: the
    /// faulting instruction itself (no `-1`), innermost frame first.
    pub fn resolve_signal_pc(&self, pc: u64) -> Result<Vec<Frame<'data>>> {
        self.frames(pc)
    }

    /// SP delta (frame size so far) at `pc` from the function's pcsp table:
    /// what an unwinder adds to SP to find the caller's frame.
    pub fn sp_delta(&self, pc: u64) -> Result<Option<i32>> {
        Ok(self.func_at(pc)?.and_then(|f| f.sp_delta(pc)))
    }

    /// A fast symbolizer for many PCs.
    pub fn symbolizer(&self) -> Result<Symbolizer<'data, '_>> {
        Ok(Symbolizer::new(self.pclntab()?))
    }

    /// DWARF, decompressed on first use.
    pub fn dwarf(&self) -> Result<Dwarf<'_>> {
        let data = self
            .dwarf
            .get_or_init(|| dwarf::DwarfData::load(&self.elf))
            .as_ref()
            .map_err(Clone::clone)?;
        Ok(data.view())
    }

    /// Whether DWARF sections are present, and their version, read from
    /// the first unit header only (no full decompression).
    pub fn dwarf_info(&self) -> Option<DwarfInfo> {
        dwarf::DwarfData::probe(&self.elf)
    }

    /// Architecture, PIE, stripped, DWARF and pclntab facts.
    pub fn summary(&self) -> Summary {
        let tab = self.pclntab().ok();
        let (text_start, text_size) = match tab {
            Some(t) if !t.is_empty() => {
                let start = t.entry_at(0);
                let end = t.func(t.len() - 1).ok().map(|f| f.end());
                (start, start.zip(end).map(|(s, e)| e.saturating_sub(s)))
            }
            _ => (None, None),
        };
        Summary {
            arch: self.elf.goarch(),
            ptr_size: self.elf.ptr_size(),
            endian: self.elf.endian(),
            pie: self.elf.is_pie(),
            stripped: !self.elf.has_symtab(),
            dwarf_version: self.dwarf_info().map(|d| d.version),
            pclntab_version: tab.map(|t| t.version()),
            pclntab_found_by: self.pclntab_found_by().ok(),
            text_start,
            text_size,
            functions: tab.map(|t| t.len()),
            go_build_id: self.elf.go_build_id().map(str::to_string),
            gnu_build_id: self.elf.gnu_build_id(),
        }
    }
}
