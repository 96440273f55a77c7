//! The Go pclntab: function table, names, files, pc-value tables and
//! inline trees (`runtime/symtab.go`, `debug/gosym/pclntab.go`).
//!
//! Layouts by magic (see `reference/go-binary.md` §2–§5):
//! `0xfffffffb` Go 1.2–1.15, `0xfffffffa` 1.16–1.17, `0xfffffff0` 1.18–1.19,
//! `0xfffffff1` 1.20 and later. Nothing is decoded up front: the header is
//! checked, then each query reads only the bytes it needs.

mod func;
mod inline;
mod locate;
pub mod pcvalue;

pub use func::{Func, FuncFlag};
pub use inline::InlinedCall;
pub use locate::FoundBy;
pub(crate) use locate::{Located, locate};

/// Entry `idx` of `func`'s inline tree.
pub(crate) fn inline_entry<'a>(func: &Func<'a, '_>, idx: i32) -> Result<InlinedCall<'a>> {
    func.inline_tree_entry(idx)
}

use crate::elf::{Bytes, Endian, Memory};
use crate::error::{Error, ErrorKind, Pos, Result};

/// pclntab layout generation, named after the first Go release using it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// Go 1.2–1.15 (magic `0xfffffffb`).
    Go12,
    /// Go 1.16–1.17 (magic `0xfffffffa`).
    Go116,
    /// Go 1.18–1.19 (magic `0xfffffff0`).
    Go118,
    /// Go 1.20 and later (magic `0xfffffff1`).
    Go120,
}

impl Version {
    /// The Go releases using this layout, for display (`1.20+`).
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Go12 => "1.2",
            Version::Go116 => "1.16",
            Version::Go118 => "1.18",
            Version::Go120 => "1.20",
        }
    }

    fn from_magic(magic: u32) -> Option<Version> {
        match magic {
            0xfffffffb => Some(Version::Go12),
            0xfffffffa => Some(Version::Go116),
            0xfffffff0 => Some(Version::Go118),
            0xfffffff1 => Some(Version::Go120),
            _ => None,
        }
    }
}

/// PCDATA table index of the inline tree index (`abi.PCDATA_InlTreeIndex`).
pub const PCDATA_INL_TREE_INDEX: usize = 2;
/// FUNCDATA index of the inline tree (`abi.FUNCDATA_InlTree`).
pub const FUNCDATA_INL_TREE: usize = 3;

/// The parsed pclntab header and the locations of its tables.
#[derive(Debug, Clone)]
pub struct Pclntab<'a> {
    data: &'a [u8],
    section: &'static str,
    addr: u64,
    version: Version,
    endian: Endian,
    quantum: u8,
    ptr_size: u8,
    nfunc: usize,
    nfiles: u32,
    text_start: u64,
    funcnametab: usize,
    cutab: usize,
    filetab: usize,
    pctab: usize,
    /// Start of the functab (and, 1.16+, of the `_func` records, whose
    /// offsets are relative to it).
    functab: usize,
    functab_entry_size: usize,
    /// Base of `funcdata` offsets (`moduledata.gofunc`, 1.18+).
    gofunc: Option<u64>,
    memory: Memory<'a>,
}

/// Where to find the text base and `go:func.*` when the header does not
/// say (filled from symbols or moduledata by [`locate`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Bases {
    pub text: Option<u64>,
    pub gofunc: Option<u64>,
}

impl<'a> Pclntab<'a> {
    /// Parses the header at the start of `data` (which runs to the end of
    /// the section holding it). `section` names it in errors; `addr` is its
    /// virtual address; `memory` is used for funcdata (inline trees).
    pub(crate) fn parse(
        data: &'a [u8],
        section: &'static str,
        addr: u64,
        bases: Bases,
        memory: Memory<'a>,
    ) -> Result<Self> {
        let at = |offset: u64| Pos::Section {
            name: section,
            offset,
        };
        if data.len() < 8 {
            return Err(Error::truncated("pclntab header", at(0)));
        }
        let le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let be = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        let (version, endian) = match (Version::from_magic(le), Version::from_magic(be)) {
            (Some(v), _) => (v, Endian::Little),
            (None, Some(v)) => (v, Endian::Big),
            (None, None) => return Err(Error::new(ErrorKind::BadPclntabMagic(le), at(0))),
        };
        let quantum = data[6];
        let ptr_size = data[7];
        if data[4] != 0 || data[5] != 0 {
            return Err(Error::bad(
                "pclntab header padding",
                u64::from(data[4]),
                at(4),
            ));
        }
        if !matches!(quantum, 1 | 2 | 4) {
            return Err(Error::bad("pclntab PC quantum", u64::from(quantum), at(6)));
        }
        if !matches!(ptr_size, 4 | 8) {
            return Err(Error::bad(
                "pclntab pointer size",
                u64::from(ptr_size),
                at(7),
            ));
        }
        let b = Bytes::new(data, endian);
        let ps = usize::from(ptr_size);
        let word = |i: usize| -> Result<u64> {
            let off = 8 + i * ps;
            b.word(off, ptr_size)
                .ok_or_else(|| Error::truncated("pclntab header", at(off as u64)))
        };
        let len = data.len() as u64;
        let table = |i: usize, what: &'static str| -> Result<usize> {
            let v = word(i)?;
            if v > len {
                return Err(Error::bad(what, v, at((8 + i * ps) as u64)));
            }
            Ok(v as usize)
        };
        let mut t = Pclntab {
            data,
            section,
            addr,
            version,
            endian,
            quantum,
            ptr_size,
            nfunc: 0,
            nfiles: 0,
            text_start: 0,
            funcnametab: 0,
            cutab: 0,
            filetab: 0,
            pctab: 0,
            functab: 0,
            functab_entry_size: 2 * ps,
            gofunc: bases.gofunc,
            memory,
        };
        let nfunc = word(0)?;
        match version {
            Version::Go12 => {
                t.functab = 8 + ps;
                // filetab offset (u32) follows the nfunc+1 functab pairs.
                let ft_off = nfunc
                    .checked_mul(2 * ps as u64)
                    .and_then(|v| v.checked_add((8 + ps + ps) as u64))
                    .filter(|v| *v <= len)
                    .ok_or_else(|| Error::bad("pclntab function count", nfunc, at(8)))?;
                let filetab = b
                    .u32(ft_off as usize)
                    .ok_or_else(|| Error::truncated("pclntab filetab offset", at(ft_off)))?;
                if u64::from(filetab) >= len {
                    return Err(Error::bad(
                        "pclntab filetab offset",
                        u64::from(filetab),
                        at(ft_off),
                    ));
                }
                t.filetab = filetab as usize;
                t.nfiles = b.u32(t.filetab).unwrap_or(0);
            }
            Version::Go116 => {
                t.nfiles = word(1)? as u32;
                t.funcnametab = table(2, "pclntab funcnametab offset")?;
                t.cutab = table(3, "pclntab cutab offset")?;
                t.filetab = table(4, "pclntab filetab offset")?;
                t.pctab = table(5, "pclntab pctab offset")?;
                t.functab = table(6, "pclntab functab offset")?;
            }
            Version::Go118 | Version::Go120 => {
                t.nfiles = word(1)? as u32;
                t.text_start = word(2)?;
                t.funcnametab = table(3, "pclntab funcnametab offset")?;
                t.cutab = table(4, "pclntab cutab offset")?;
                t.filetab = table(5, "pclntab filetab offset")?;
                t.pctab = table(6, "pclntab pctab offset")?;
                t.functab = table(7, "pclntab functab offset")?;
                t.functab_entry_size = 8;
            }
        }
        // The functab must hold nfunc+1 entries.
        let need = nfunc
            .checked_add(1)
            .and_then(|n| n.checked_mul(t.functab_entry_size as u64))
            .and_then(|n| n.checked_add(t.functab as u64));
        match need {
            Some(end) if end <= len => {}
            _ => return Err(Error::bad("pclntab function count", nfunc, at(8))),
        }
        t.nfunc = nfunc as usize;
        if version >= Version::Go118 {
            // Text base: a symbol or moduledata beats the header, which is 0
            // from Go 1.26 on and does not account for external linking.
            if let Some(text) = bases.text {
                t.text_start = text;
            }
        }
        Ok(t)
    }

    /// Parses a pclntab from raw bytes found at `address`, with no ELF
    /// around it: the text base is the header's (1.18–1.25) and funcdata
    /// (inline trees) is unavailable. For tools that carved the table out
    /// of memory, and for fuzzing.
    pub fn from_bytes(data: &'a [u8], address: u64) -> Result<Self> {
        Pclntab::parse(
            data,
            "pclntab",
            address,
            Bases::default(),
            Memory::default(),
        )
    }

    /// Layout generation.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Name of the section holding the table (or `pclntab` when found by
    /// scanning).
    pub fn section(&self) -> &'static str {
        self.section
    }

    /// Virtual address of the header.
    pub fn address(&self) -> u64 {
        self.addr
    }

    /// Size in bytes of the data following the header start.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// PC quantum (instruction alignment): 1 on amd64, 4 on arm64.
    pub fn quantum(&self) -> u8 {
        self.quantum
    }

    /// Pointer size of the target.
    pub fn ptr_size(&self) -> u8 {
        self.ptr_size
    }

    /// Byte order of the target.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// Number of functions.
    pub fn len(&self) -> usize {
        self.nfunc
    }

    /// Whether the table has no functions.
    pub fn is_empty(&self) -> bool {
        self.nfunc == 0
    }

    /// Number of source files (header field).
    pub fn nfiles(&self) -> u32 {
        self.nfiles
    }

    /// The text base that 1.18+ function offsets are relative to.
    pub fn text_start(&self) -> u64 {
        self.text_start
    }

    /// Base address of `go:func.*` (1.18+ funcdata offsets), when known.
    pub fn gofunc(&self) -> Option<u64> {
        self.gofunc
    }

    /// The table's bytes (names and file names are slices of them).
    pub(crate) fn data(&self) -> &'a [u8] {
        self.data
    }

    pub(crate) fn bytes(&self) -> Bytes<'a> {
        Bytes::new(self.data, self.endian)
    }

    pub(crate) fn pos(&self, offset: usize) -> Pos {
        Pos::Section {
            name: self.section,
            offset: offset as u64,
        }
    }

    pub(crate) fn memory(&self) -> &Memory<'a> {
        &self.memory
    }

    /// Entry PC of functab slot `i` (`i == len()` gives the end of text).
    #[inline]
    pub fn entry_at(&self, i: usize) -> Option<u64> {
        let off = self.functab + i * self.functab_entry_size;
        let b = self.bytes();
        if self.version >= Version::Go118 {
            Some(self.text_start.wrapping_add(u64::from(b.u32(off)?)))
        } else {
            b.word(off, self.ptr_size)
        }
    }

    /// Offset of the `_func` record of slot `i` within the table data.
    fn func_offset(&self, i: usize) -> Result<usize> {
        let off = self.functab + i * self.functab_entry_size;
        let b = self.bytes();
        let v = if self.version >= Version::Go118 {
            b.u32(off + 4).map(u64::from)
        } else {
            b.word(off + usize::from(self.ptr_size), self.ptr_size)
        }
        .ok_or_else(|| Error::truncated("functab entry", self.pos(off)))?;
        // ≤1.15 offsets are from the table start, later from the functab.
        let base = if self.version == Version::Go12 {
            0
        } else {
            self.functab as u64
        };
        let abs = base
            .checked_add(v)
            .filter(|a| *a < self.data.len() as u64)
            .ok_or_else(|| Error::bad("functab func offset", v, self.pos(off)))?;
        Ok(abs as usize)
    }

    /// The function at functab slot `i`.
    pub fn func(&self, i: usize) -> Result<Func<'a, '_>> {
        if i >= self.nfunc {
            return Err(Error::bad("function index", i as u64, Pos::Unknown));
        }
        let off = self.func_offset(i)?;
        let entry = self
            .entry_at(i)
            .ok_or_else(|| Error::truncated("functab entry", self.pos(self.functab)))?;
        let next = self.entry_at(i + 1).unwrap_or(entry);
        Func::parse(self, i, off, entry, next)
    }

    /// The functab slot of the function containing `pc`.
    #[inline]
    pub fn find_index(&self, pc: u64) -> Option<usize> {
        if self.nfunc == 0 {
            return None;
        }
        let first = self.entry_at(0)?;
        let end = self.entry_at(self.nfunc)?;
        if pc < first || pc >= end {
            return None;
        }
        // Last entry <= pc.
        let (mut lo, mut hi) = (0usize, self.nfunc);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.entry_at(mid)? <= pc {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }

    /// The function containing `pc`.
    pub fn find(&self, pc: u64) -> Option<Result<Func<'a, '_>>> {
        self.find_index(pc).map(|i| self.func(i))
    }

    /// All functions in address order.
    pub fn funcs(&self) -> impl Iterator<Item = Result<Func<'a, '_>>> + '_ {
        (0..self.nfunc).map(move |i| self.func(i))
    }

    /// A NUL-terminated string at `off` in the table data.
    pub(crate) fn cstr(&self, off: usize) -> Option<&'a str> {
        let s = self.data.get(off..)?;
        let n = s.iter().position(|&c| c == 0)?;
        std::str::from_utf8(&s[..n]).ok()
    }

    /// A function name by its `nameOff`.
    pub(crate) fn name_at(&self, name_off: i32) -> Option<&'a str> {
        let off = usize::try_from(name_off).ok()?;
        self.cstr(self.funcnametab.checked_add(off)?)
    }

    /// The pc-value table at `off` (relative to pctab), as a slice running
    /// to the end of the data.
    pub(crate) fn pctable(&self, off: u32) -> Option<&'a [u8]> {
        if off == 0 {
            return None;
        }
        self.data.get(self.pctab.checked_add(off as usize)?..)
    }

    /// The file name for file number `fileno` of a function in compilation
    /// unit `cu_offset`.
    pub(crate) fn file_name(&self, cu_offset: u32, fileno: i32) -> Option<&'a str> {
        let fileno = usize::try_from(fileno).ok()?;
        let b = self.bytes();
        match self.version {
            Version::Go12 => {
                if fileno == 0 || fileno >= self.nfiles as usize {
                    return None;
                }
                let off = b.u32(self.filetab.checked_add(fileno.checked_mul(4)?)?)?;
                self.cstr(off as usize)
            }
            _ => {
                let idx = (cu_offset as usize).checked_add(fileno)?;
                let off = b.u32(self.cutab.checked_add(idx.checked_mul(4)?)?)?;
                if off == u32::MAX {
                    return None;
                }
                self.cstr(self.filetab.checked_add(off as usize)?)
            }
        }
    }
}
