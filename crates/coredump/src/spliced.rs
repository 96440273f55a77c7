//! The address space of the dead process, put back together.
//!
//! A core holds the anonymous memory (heap, stacks, `.data`/`.bss`) but,
//! with the default `coredump_filter`, only the first page of each
//! file-backed mapping: text, read-only data and the pclntab must come from
//! the executable. Like Delve's `SplicedMemory` (`pkg/proc/core/core.go`),
//! the executable's `PT_LOAD` bytes (shifted by the PIE load bias) lie
//! underneath and the core's `PT_LOAD` bytes on top; a read falling in
//! neither fails ("not dumped"/"not mapped"), it never returns zeros.

use gosleuth_target::{MemError, MemErrorKind, Memory};

/// Where a region's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A `PT_LOAD` segment of the core.
    Core,
    /// A `PT_LOAD` segment of the executable.
    Executable,
}

/// One region of bytes at an address.
#[derive(Debug, Clone, Copy)]
pub struct Region<'data> {
    /// First address.
    pub start: u64,
    /// Bytes available from `start` on.
    pub data: &'data [u8],
    /// Where they come from.
    pub source: Source,
}

impl Region<'_> {
    fn end(&self) -> u64 {
        self.start.saturating_add(self.data.len() as u64)
    }
}

/// A mapping the core describes whose bytes are (partly) absent, for
/// telling "not dumped" and "truncated" apart from "not mapped".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hole {
    /// First address without bytes.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// Why the bytes are missing.
    pub kind: MemErrorKind,
}

/// Core memory over executable memory.
#[derive(Debug, Default, Clone)]
pub struct SplicedMemory<'data> {
    core: Vec<Region<'data>>,
    exe: Vec<Region<'data>>,
    holes: Vec<Hole>,
}

impl<'data> SplicedMemory<'data> {
    /// Builds the address space from the core's regions (which must not
    /// overlap one another), the executable's regions and the holes.
    pub fn new(
        mut core: Vec<Region<'data>>,
        mut exe: Vec<Region<'data>>,
        mut holes: Vec<Hole>,
    ) -> Self {
        core.retain(|r| !r.data.is_empty());
        exe.retain(|r| !r.data.is_empty());
        core.sort_by_key(|r| r.start);
        exe.sort_by_key(|r| r.start);
        holes.sort_by_key(|h| h.start);
        // Drop overlaps a corrupted core could carry: keep the first.
        let mut kept: Vec<Region<'data>> = Vec::with_capacity(core.len());
        for r in core {
            match kept.last() {
                Some(p) if r.start < p.end() => continue,
                _ => kept.push(r),
            }
        }
        SplicedMemory {
            core: kept,
            exe,
            holes,
        }
    }

    /// The regions, core first then executable.
    pub fn regions(&self) -> impl Iterator<Item = &Region<'data>> {
        self.core.iter().chain(self.exe.iter())
    }

    fn find(list: &[Region<'data>], addr: u64) -> Option<Region<'data>> {
        let i = list.partition_point(|r| r.start <= addr);
        let r = *list.get(i.checked_sub(1)?)?;
        (addr < r.end()).then_some(r)
    }

    fn next_core_start(&self, addr: u64) -> u64 {
        let i = self.core.partition_point(|r| r.start <= addr);
        self.core.get(i).map_or(u64::MAX, |r| r.start)
    }

    fn miss(&self, addr: u64, len: u64) -> MemError {
        let kind = self
            .holes
            .iter()
            .find(|h| h.start <= addr && addr < h.end)
            .map_or(MemErrorKind::Unmapped, |h| h.kind);
        MemError::new(kind, addr, len)
    }

    /// The region holding `addr` (core first), with its bytes from `addr`.
    fn at(&self, addr: u64) -> Option<&'data [u8]> {
        if let Some(r) = Self::find(&self.core, addr) {
            return r.data.get((addr - r.start) as usize..);
        }
        let r = Self::find(&self.exe, addr)?;
        let bytes = r.data.get((addr - r.start) as usize..)?;
        // A core region starting inside wins from its start on.
        let limit = self.next_core_start(addr).saturating_sub(addr);
        Some(
            &bytes[..bytes
                .len()
                .min(usize::try_from(limit).unwrap_or(usize::MAX))],
        )
    }
}

impl Memory for SplicedMemory<'_> {
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let len = buf.len() as u64;
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr
                .checked_add(done as u64)
                .ok_or_else(|| MemError::new(MemErrorKind::Unmapped, addr, len))?;
            let Some(bytes) = self.at(a) else {
                let mut e = self.miss(a, len);
                e.len = len;
                return Err(e);
            };
            if bytes.is_empty() {
                return Err(self.miss(a, len));
            }
            let n = bytes.len().min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&bytes[..n]);
            done += n;
        }
        Ok(())
    }

    fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let bytes = self.at(addr)?;
        bytes.get(..len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_bytes_win_and_reads_cross_regions() {
        let exe = [1u8; 32];
        let core = [2u8; 8];
        let m = SplicedMemory::new(
            vec![Region {
                start: 0x1008,
                data: &core,
                source: Source::Core,
            }],
            vec![Region {
                start: 0x1000,
                data: &exe,
                source: Source::Executable,
            }],
            vec![],
        );
        let mut b = [0u8; 24];
        m.read_at(0x1000, &mut b).unwrap();
        assert_eq!(&b[..8], &[1; 8]);
        assert_eq!(&b[8..16], &[2; 8]);
        assert_eq!(&b[16..], &[1; 8]);
        assert!(m.slice(0x1000, 16).is_none());
        assert_eq!(m.slice(0x1008, 8), Some(&core[..]));
    }

    #[test]
    fn missing_bytes_say_why() {
        let core = [2u8; 8];
        let m = SplicedMemory::new(
            vec![Region {
                start: 0x1000,
                data: &core,
                source: Source::Core,
            }],
            vec![],
            vec![Hole {
                start: 0x1008,
                end: 0x2000,
                kind: MemErrorKind::NotDumped,
            }],
        );
        let mut b = [0u8; 16];
        let e = m.read_at(0x1000, &mut b).unwrap_err();
        assert_eq!(
            (e.addr, e.kind, e.len),
            (0x1008, MemErrorKind::NotDumped, 16)
        );
        let e = m.read_at(0x5000, &mut b).unwrap_err();
        assert_eq!(e.kind, MemErrorKind::Unmapped);
        let e = m.read_at(u64::MAX - 4, &mut b).unwrap_err();
        assert_eq!(e.kind, MemErrorKind::Unmapped);
    }
}
