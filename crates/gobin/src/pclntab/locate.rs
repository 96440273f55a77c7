//! Finding the pclntab and the bases it needs (text start, `go:func.*`).
//!
//! Order (`reference/go-binary.md` §1–2): section `.gopclntab`, then
//! `.data.rel.ro.gopclntab` (PIE ≤1.25), then the symbols
//! `runtime.pclntab`/`runtime.epclntab`, then a scan of the loaded segments
//! for a header that passes the sanity checks of [`Pclntab::parse`].
//! The text base and `go:func.*` come from `runtime.firstmoduledata`, found
//! as the word pair (`pcHeader`, `funcnametab.ptr`) pointing at the table —
//! this works on stripped binaries and with external linking, where `.text`
//! starts with C code before `runtime.text`.

use super::{Bases, Pclntab, Version};
use crate::elf::{Bytes, Elf};
use crate::error::{Error, ErrorKind, Pos, Result};

/// How the pclntab was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundBy {
    /// By section name.
    Section,
    /// By the `runtime.pclntab` symbol.
    Symbol,
    /// By scanning the loaded segments for a valid header.
    Scan,
}

/// A located pclntab with how it and its bases were found.
#[derive(Debug, Clone)]
pub(crate) struct Located<'a> {
    pub tab: Pclntab<'a>,
    pub found_by: FoundBy,
    pub moduledata: Option<u64>,
}

const MAGICS: [u32; 4] = [0xfffffffb, 0xfffffffa, 0xfffffff0, 0xfffffff1];

/// Finds and parses the pclntab of `elf`.
pub(crate) fn locate<'a>(elf: &Elf<'a>) -> Result<Located<'a>> {
    let mut first_err = None;
    let mut candidates: Vec<(&'static str, u64, &'a [u8], FoundBy)> = Vec::new();
    for name in [".gopclntab", ".data.rel.ro.gopclntab"] {
        if let Some((addr, data)) = elf.section(name) {
            candidates.push((name, addr, data, FoundBy::Section));
        }
    }
    for (name, addr, data, found_by) in candidates {
        match finish(elf, name, addr, data, found_by) {
            Ok(l) => return Ok(l),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let [Some(start), Some(end)] = elf.symbols(["runtime.pclntab", "runtime.epclntab"])
        && let Some(data) = end
            .checked_sub(start)
            .and_then(|len| elf.memory().read(start, len))
    {
        match finish(elf, "runtime.pclntab", start, data, FoundBy::Symbol) {
            Ok(l) => return Ok(l),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if first_err.is_none()
        && let Some(l) = scan(elf)
    {
        return Ok(l);
    }
    Err(first_err.unwrap_or_else(|| Error::new(ErrorKind::NoPclntab, Pos::Unknown)))
}

fn finish<'a>(
    elf: &Elf<'a>,
    name: &'static str,
    addr: u64,
    data: &'a [u8],
    found_by: FoundBy,
) -> Result<Located<'a>> {
    let mem = elf.memory().clone();
    let plain = Pclntab::parse(data, name, addr, Bases::default(), mem.clone())?;
    let (bases, moduledata) = find_bases(elf, &plain);
    let tab = Pclntab::parse(data, name, addr, bases, mem)?;
    Ok(Located {
        tab,
        found_by,
        moduledata,
    })
}

/// Scans the loaded segments for a header that parses and whose first
/// functions have increasing entries.
fn scan<'a>(elf: &Elf<'a>) -> Option<Located<'a>> {
    let endian = elf.endian();
    for (seg_addr, seg) in elf.memory().segments() {
        let mut off = 0usize;
        while off + 8 <= seg.len() {
            let b = Bytes::new(seg, endian);
            let m = b.u32(off).unwrap_or(0);
            if MAGICS.contains(&m) && seg[off + 4] == 0 && seg[off + 5] == 0 {
                let addr = seg_addr + off as u64;
                if let Ok(l) = finish(elf, "pclntab", addr, &seg[off..], FoundBy::Scan)
                    && plausible(&l.tab)
                {
                    return Some(Located {
                        found_by: FoundBy::Scan,
                        ..l
                    });
                }
            }
            off += 8;
        }
    }
    None
}

fn plausible(tab: &Pclntab<'_>) -> bool {
    if tab.is_empty() {
        return false;
    }
    let n = tab.len().min(64);
    let mut prev = 0;
    for i in 0..=n {
        match tab.entry_at(i) {
            Some(e) if e >= prev => prev = e,
            _ => return false,
        }
    }
    tab.func(0).ok().and_then(|f| f.name()).is_some()
}

/// Text base and `go:func.*` from `runtime.firstmoduledata`, falling back
/// to symbols and then to the header / `.text`.
fn find_bases(elf: &Elf<'_>, tab: &Pclntab<'_>) -> (Bases, Option<u64>) {
    let mut bases = Bases::default();
    let md = find_moduledata(elf, tab);
    if let Some((_, text, gofunc)) = md {
        bases.text = Some(text);
        bases.gofunc = gofunc;
    }
    if tab.version() >= Version::Go118 && (bases.text.is_none() || bases.gofunc.is_none()) {
        let [text, gofunc_new, gofunc_old] =
            elf.symbols(["runtime.text", "go:func.*", "go.func.*"]);
        bases.text = bases.text.or(text);
        bases.gofunc = bases.gofunc.or(gofunc_new).or(gofunc_old);
    }
    if bases.text.is_none() && tab.version() >= Version::Go118 && tab.text_start() == 0 {
        bases.text = elf.section_range(".text").map(|r| r.0);
    }
    (bases, md.map(|m| m.0))
}

/// Finds moduledata: (address, text, gofunc).
fn find_moduledata(elf: &Elf<'_>, tab: &Pclntab<'_>) -> Option<(u64, u64, Option<u64>)> {
    if tab.version() == Version::Go12 {
        return None;
    }
    let ps = tab.ptr_size();
    let psu = usize::from(ps);
    let hdr = tab.address();
    let nametab = hdr + tab.funcnametab as u64;
    let check = |data: &[u8], base: u64| -> Option<(u64, u64, Option<u64>)> {
        let b = Bytes::new(data, elf.endian());
        let mut off = 0usize;
        while off + 2 * psu <= data.len() {
            if b.word(off, ps) == Some(hdr) && b.word(off + psu, ps) == Some(nametab) {
                let w = |i: usize| b.word(off + i * psu, ps);
                if tab.version() >= Version::Go118 {
                    let (minpc, maxpc, text) = (w(20)?, w(21)?, w(22)?);
                    let first = text + u64::from(tab.bytes().u32(tab.functab)?);
                    let end = text + u64::from(tab.bytes().u32(tab.functab + tab.len() * 8)?);
                    if minpc == first && maxpc == end {
                        let gi = if tab.version() >= Version::Go120 {
                            40
                        } else {
                            38
                        };
                        let gofunc = w(gi).filter(|g| elf.memory().read(*g, 1).is_some());
                        return Some((base + off as u64, text, gofunc));
                    }
                } else {
                    return Some((base + off as u64, w(22)?, None));
                }
            }
            off += psu;
        }
        None
    };
    for name in [".go.module", ".noptrdata", ".data", ".data.rel.ro"] {
        if let Some((addr, data)) = elf.section(name)
            && let Some(r) = check(data, addr)
        {
            return Some(r);
        }
    }
    // No usable section headers: try every loaded segment.
    if elf.section_range(".noptrdata").is_none() {
        for (addr, data) in elf.memory().segments() {
            if let Some(r) = check(data, addr) {
                return Some(r);
            }
        }
    }
    None
}
