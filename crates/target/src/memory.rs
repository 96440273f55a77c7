//! The one seam between the analysis and a backend: reading bytes at an
//! address. Cores serve it from `PT_LOAD` segments spliced over the
//! executable; a live session would serve it from the debugger.

use std::fmt;

/// Why bytes could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemErrorKind {
    /// No mapping covers the address.
    Unmapped,
    /// A mapping covers it but its bytes are not in the core (the kernel
    /// did not dump them, `p_filesz < p_memsz`) and the executable does not
    /// hold them either.
    NotDumped,
    /// The core file ends before the bytes its headers promise.
    Truncated,
    /// A read larger than the sanity limit was asked for.
    TooLarge,
}

impl fmt::Display for MemErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemErrorKind::Unmapped => "not mapped",
            MemErrorKind::NotDumped => "not dumped in the core",
            MemErrorKind::Truncated => "cut off (core file truncated)",
            MemErrorKind::TooLarge => "too large to read",
        })
    }
}

/// A failed read: what and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemError {
    /// First address that could not be read.
    pub addr: u64,
    /// Length of the whole read asked for.
    pub len: u64,
    /// Why.
    pub kind: MemErrorKind,
}

impl MemError {
    /// An error of `kind` for a read of `len` bytes failing at `addr`.
    pub fn new(kind: MemErrorKind, addr: u64, len: u64) -> Self {
        MemError { addr, len, kind }
    }
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory at {:#x} ({} bytes) is {}",
            self.addr, self.len, self.kind
        )
    }
}

impl std::error::Error for MemError {}

/// Read-only access to a target's address space.
pub trait Memory: Sync {
    /// Fills `buf` with the bytes at `addr`, or fails without a partial
    /// result.
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError>;

    /// The bytes at `addr..addr+len` without copying, when the backend
    /// holds them contiguously (a mapped core does). `None` means "use
    /// [`Memory::read_at`]", not "unreadable".
    fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let _ = (addr, len);
        None
    }
}

/// Largest single read the analysis performs (strings, arrays, stacks are
/// read in pieces no larger than this).
pub const MAX_READ: usize = 64 << 20;

/// Typed little reads on top of a [`Memory`], in the target's byte order
/// and pointer size.
#[derive(Clone, Copy)]
pub struct Reader<'m> {
    mem: &'m dyn Memory,
    big_endian: bool,
    ptr_size: u8,
}

impl fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("big_endian", &self.big_endian)
            .field("ptr_size", &self.ptr_size)
            .finish()
    }
}

impl<'m> Reader<'m> {
    /// A reader over `mem`.
    pub fn new(mem: &'m dyn Memory, big_endian: bool, ptr_size: u8) -> Self {
        Reader {
            mem,
            big_endian,
            ptr_size,
        }
    }

    /// The memory read from.
    pub fn memory(&self) -> &'m dyn Memory {
        self.mem
    }

    /// Pointer size in bytes.
    pub fn ptr_size(&self) -> u8 {
        self.ptr_size
    }

    /// Whether the target is big-endian.
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }

    /// Fills `buf`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        if let Some(s) = self.mem.slice(addr, buf.len()) {
            buf.copy_from_slice(s);
            return Ok(());
        }
        self.mem.read_at(addr, buf)
    }

    /// `len` bytes at `addr` (bounded by [`MAX_READ`]).
    pub fn bytes(&self, addr: u64, len: u64) -> Result<Vec<u8>, MemError> {
        if len > MAX_READ as u64 {
            return Err(MemError::new(MemErrorKind::TooLarge, addr, len));
        }
        let mut v = vec![0u8; len as usize];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// An unsigned integer of `size` bytes (1, 2, 4 or 8).
    pub fn uint(&self, addr: u64, size: u64) -> Result<u64, MemError> {
        let mut b = [0u8; 8];
        let n = size.clamp(1, 8) as usize;
        self.read(addr, &mut b[..n])?;
        Ok(self.decode(&b[..n]))
    }

    /// Decodes up to 8 bytes in the target's byte order.
    pub fn decode(&self, b: &[u8]) -> u64 {
        let mut v = 0u64;
        if self.big_endian {
            for &x in b.iter().take(8) {
                v = (v << 8) | u64::from(x);
            }
        } else {
            for (i, &x) in b.iter().take(8).enumerate() {
                v |= u64::from(x) << (8 * i);
            }
        }
        v
    }

    /// A signed integer of `size` bytes, sign-extended.
    pub fn int(&self, addr: u64, size: u64) -> Result<i64, MemError> {
        let v = self.uint(addr, size)?;
        let bits = (size.clamp(1, 8) * 8) as u32;
        Ok(if bits == 64 {
            v as i64
        } else {
            ((v << (64 - bits)) as i64) >> (64 - bits)
        })
    }

    /// A `u8`.
    pub fn u8(&self, addr: u64) -> Result<u8, MemError> {
        self.uint(addr, 1).map(|v| v as u8)
    }

    /// A `u32`.
    pub fn u32(&self, addr: u64) -> Result<u32, MemError> {
        self.uint(addr, 4).map(|v| v as u32)
    }

    /// A `u64`.
    pub fn u64(&self, addr: u64) -> Result<u64, MemError> {
        self.uint(addr, 8)
    }

    /// A pointer-sized word.
    pub fn ptr(&self, addr: u64) -> Result<u64, MemError> {
        self.uint(addr, u64::from(self.ptr_size))
    }

    /// Whether `len` bytes at `addr` can be read.
    pub fn readable(&self, addr: u64, len: u64) -> bool {
        if len == 0 {
            return true;
        }
        if self.mem.slice(addr, len as usize).is_some() {
            return true;
        }
        if len <= 64 {
            let mut b = [0u8; 64];
            return self.mem.read_at(addr, &mut b[..len as usize]).is_ok();
        }
        // Check both ends and every page in between without copying much.
        let mut b = [0u8; 1];
        let mut a = addr;
        let end = addr.saturating_add(len);
        while a < end {
            if self.mem.read_at(a, &mut b).is_err() {
                return false;
            }
            a = (a | 0xfff).saturating_add(1);
        }
        self.mem.read_at(end - 1, &mut b).is_ok()
    }
}

/// Memory over a list of `(address, bytes)` regions, for tests and for
/// building targets out of pieces.
#[derive(Debug, Default, Clone)]
pub struct VecMemory {
    regions: Vec<(u64, Vec<u8>)>,
}

impl VecMemory {
    /// Empty memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a region (regions must not overlap).
    pub fn add(&mut self, addr: u64, bytes: Vec<u8>) {
        self.regions.push((addr, bytes));
        self.regions.sort_by_key(|r| r.0);
    }
}

impl Memory for VecMemory {
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        match self.slice(addr, buf.len()) {
            Some(s) => {
                buf.copy_from_slice(s);
                Ok(())
            }
            None => Err(MemError::new(
                MemErrorKind::Unmapped,
                addr,
                buf.len() as u64,
            )),
        }
    }

    fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let i = self.regions.partition_point(|r| r.0 <= addr);
        let (start, data) = self.regions.get(i.checked_sub(1)?)?;
        let off = usize::try_from(addr - start).ok()?;
        data.get(off..off.checked_add(len)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_decodes_little_and_big_endian_and_signs() {
        let mut m = VecMemory::new();
        m.add(0x1000, vec![0xfe, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
        let le = Reader::new(&m, false, 8);
        assert_eq!(le.u32(0x1000).unwrap(), 0xffff_fffe);
        assert_eq!(le.int(0x1000, 4).unwrap(), -2);
        assert_eq!(le.int(0x1000, 1).unwrap(), -2);
        let be = Reader::new(&m, true, 8);
        assert_eq!(be.u32(0x1004).unwrap(), 0x0102_0304);
        let err = le.u64(0x1004).unwrap_err();
        assert_eq!(err.kind, MemErrorKind::Unmapped);
        assert_eq!(err.addr, 0x1004);
        assert!(le.readable(0x1000, 8));
        assert!(!le.readable(0x1000, 9));
    }

    #[test]
    fn oversized_reads_are_refused() {
        let m = VecMemory::new();
        let r = Reader::new(&m, false, 8);
        assert_eq!(
            r.bytes(0, u64::MAX).unwrap_err().kind,
            MemErrorKind::TooLarge
        );
    }
}
