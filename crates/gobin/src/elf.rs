//! The ELF container: sections, symbols, loaded segments, architecture.
//!
//! Everything is read through `object` over the caller's borrowed bytes;
//! nothing is copied except decompressed DWARF sections (on demand).

use std::borrow::Cow;

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionKind};

use crate::error::{Error, ErrorKind, Pos, Result};

/// Byte order of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Little-endian (amd64, arm64, ...).
    Little,
    /// Big-endian (s390x, ppc64, ...).
    Big,
}

impl Endian {
    pub(crate) fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    }
    pub(crate) fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }
    pub(crate) fn u64(self, b: [u8; 8]) -> u64 {
        match self {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        }
    }
}

/// Reads fixed-size integers out of a byte slice with bounds checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bytes<'a> {
    pub data: &'a [u8],
    pub endian: Endian,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8], endian: Endian) -> Self {
        Bytes { data, endian }
    }
    #[inline]
    pub fn get<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        let end = off.checked_add(N)?;
        let s = self.data.get(off..end)?;
        let mut b = [0u8; N];
        b.copy_from_slice(s);
        Some(b)
    }
    #[inline]
    pub fn u8(&self, off: usize) -> Option<u8> {
        self.data.get(off).copied()
    }
    #[inline]
    pub fn u32(&self, off: usize) -> Option<u32> {
        self.get::<4>(off).map(|b| self.endian.u32(b))
    }
    #[inline]
    pub fn i32(&self, off: usize) -> Option<i32> {
        self.u32(off).map(|v| v as i32)
    }
    #[inline]
    pub fn u64(&self, off: usize) -> Option<u64> {
        self.get::<8>(off).map(|b| self.endian.u64(b))
    }
    /// A pointer-sized word (4 or 8 bytes).
    #[inline]
    pub fn word(&self, off: usize, ptr_size: u8) -> Option<u64> {
        if ptr_size == 8 {
            self.u64(off)
        } else {
            self.u32(off).map(u64::from)
        }
    }
}

/// The address space of the program as the loader would build it, from the
/// file's `PT_LOAD` segments (only the bytes present in the file: `.bss`
/// reads fail instead of returning zeros).
#[derive(Debug, Clone, Default)]
pub struct Memory<'data> {
    /// (start address, bytes) sorted by address.
    segments: Vec<(u64, &'data [u8])>,
}

impl<'data> Memory<'data> {
    /// Reads `len` bytes at `addr`, if one segment holds them all.
    pub fn read(&self, addr: u64, len: u64) -> Option<&'data [u8]> {
        let i = self.segments.partition_point(|(start, _)| *start <= addr);
        let (start, data) = *self.segments.get(i.checked_sub(1)?)?;
        let off = usize::try_from(addr - start).ok()?;
        let end = off.checked_add(usize::try_from(len).ok()?)?;
        data.get(off..end)
    }

    /// The bytes from `addr` to the end of its segment.
    pub fn read_to_end(&self, addr: u64) -> Option<&'data [u8]> {
        let i = self.segments.partition_point(|(start, _)| *start <= addr);
        let (start, data) = *self.segments.get(i.checked_sub(1)?)?;
        let off = usize::try_from(addr - start).ok()?;
        data.get(off..)
    }

    /// The address of `bytes` if they lie inside one of the segments (used
    /// to turn a table found by scanning the file into an address).
    pub fn addr_of(&self, bytes: &[u8]) -> Option<u64> {
        let p = bytes.as_ptr() as usize;
        self.segments.iter().find_map(|(start, data)| {
            let s = data.as_ptr() as usize;
            (p >= s && p < s + data.len()).then(|| start + (p - s) as u64)
        })
    }

    /// The loaded segments, `(address, bytes)`.
    pub fn segments(&self) -> impl Iterator<Item = (u64, &'data [u8])> + '_ {
        self.segments.iter().copied()
    }
}

/// One section header, in the terms callers need.
#[derive(Debug, Clone)]
pub struct SectionInfo<'data> {
    /// Section name.
    pub name: &'data str,
    /// Virtual address (0 for non-allocated sections such as DWARF).
    pub address: u64,
    /// Size in memory.
    pub size: u64,
    /// Whether the section is `SHF_COMPRESSED`.
    pub compressed: bool,
}

/// A parsed ELF file over borrowed bytes.
pub struct Elf<'data> {
    file: object::File<'data, &'data [u8]>,
    data: &'data [u8],
    endian: Endian,
    memory: Memory<'data>,
}

impl std::fmt::Debug for Elf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elf")
            .field("len", &self.data.len())
            .field("endian", &self.endian)
            .finish()
    }
}

impl<'data> Elf<'data> {
    /// Parses the ELF headers (file, section and program headers only).
    pub fn parse(data: &'data [u8]) -> Result<Self> {
        if !data.starts_with(b"\x7fELF") {
            return Err(Error::new(
                ErrorKind::UnsupportedFormat("not an ELF file (only ELF is read)"),
                Pos::File(0),
            ));
        }
        let file = object::File::parse(data)
            .map_err(|e| Error::new(ErrorKind::Elf(e.to_string()), Pos::File(0)))?;
        let endian = if file.is_little_endian() {
            Endian::Little
        } else {
            Endian::Big
        };
        let mut segments = Vec::new();
        for seg in file.segments() {
            if let Ok(bytes) = seg.data()
                && !bytes.is_empty()
            {
                segments.push((seg.address(), bytes));
            }
        }
        segments.sort_by_key(|s| s.0);
        Ok(Elf {
            file,
            data,
            endian,
            memory: Memory { segments },
        })
    }

    /// The whole file.
    pub fn data(&self) -> &'data [u8] {
        self.data
    }

    /// Byte order.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// Pointer size in bytes.
    pub fn ptr_size(&self) -> u8 {
        if self.file.is_64() { 8 } else { 4 }
    }

    /// The loaded address space.
    pub fn memory(&self) -> &Memory<'data> {
        &self.memory
    }

    /// Go's name for the architecture (`GOARCH`), or the ELF machine name.
    pub fn goarch(&self) -> &'static str {
        use object::Architecture as A;
        match self.file.architecture() {
            A::X86_64 => "amd64",
            A::X86_64_X32 => "amd64p32",
            A::I386 => "386",
            A::Aarch64 => "arm64",
            A::Arm => "arm",
            A::PowerPc64 if self.endian == Endian::Little => "ppc64le",
            A::PowerPc64 => "ppc64",
            A::Riscv64 => "riscv64",
            A::S390x => "s390x",
            A::Mips64 if self.endian == Endian::Little => "mips64le",
            A::Mips64 => "mips64",
            A::Mips if self.endian == Endian::Little => "mipsle",
            A::Mips => "mips",
            A::LoongArch64 => "loong64",
            A::Wasm32 => "wasm",
            _ => "unknown",
        }
    }

    /// Whether the file is position independent (`ET_DYN`).
    pub fn is_pie(&self) -> bool {
        self.file.kind() == object::ObjectKind::Dynamic
    }

    /// Whether the file has a symbol table (`.symtab`).
    pub fn has_symtab(&self) -> bool {
        self.file.symbols().next().is_some()
    }

    /// Entry point address.
    pub fn entry(&self) -> u64 {
        self.file.entry()
    }

    /// All section headers.
    pub fn sections(&self) -> Vec<SectionInfo<'data>> {
        self.file
            .sections()
            .filter_map(|s| {
                let name = s.name().ok()?;
                let compressed = s
                    .compressed_file_range()
                    .map(|r| r.format != object::CompressionFormat::None)
                    .unwrap_or(false);
                Some(SectionInfo {
                    name,
                    address: s.address(),
                    size: s.size(),
                    compressed,
                })
            })
            .collect()
    }

    /// The file bytes and address of a section, if it has file data.
    pub fn section(&self, name: &str) -> Option<(u64, &'data [u8])> {
        let s = self.file.section_by_name(name)?;
        if s.kind() == SectionKind::UninitializedData {
            return None;
        }
        let data = s.data().ok()?;
        Some((s.address(), data))
    }

    /// Address and size of a section.
    pub fn section_range(&self, name: &str) -> Option<(u64, u64)> {
        let s = self.file.section_by_name(name)?;
        Some((s.address(), s.size()))
    }

    /// A section's uncompressed contents (`SHF_COMPRESSED` undone), with a
    /// sanity bound on the declared size so that a corrupted header cannot
    /// make us allocate gigabytes.
    pub fn section_uncompressed(&self, name: &'static str) -> Result<Option<Cow<'data, [u8]>>> {
        let Some(s) = self.file.section_by_name(name) else {
            return Ok(None);
        };
        let at = Pos::Section { name, offset: 0 };
        let c = s
            .compressed_data()
            .map_err(|e| Error::new(ErrorKind::Elf(e.to_string()), at.clone()))?;
        if c.format != object::CompressionFormat::None {
            // zlib and zstd cannot expand beyond ~1032:1 (zlib's maximum).
            let limit = (c.data.len() as u64)
                .saturating_mul(1100)
                .saturating_add(4096);
            if c.uncompressed_size > limit {
                return Err(Error::bad(
                    "compressed section size",
                    c.uncompressed_size,
                    at,
                ));
            }
        }
        c.decompress()
            .map(Some)
            .map_err(|e| Error::new(ErrorKind::Decompress(e.to_string()), at))
    }

    /// The first `n` bytes of a section's uncompressed contents, inflating
    /// only what is needed, and whether the section is compressed.
    pub fn section_head(&self, name: &str, n: usize) -> Option<(Vec<u8>, bool)> {
        let s = self.file.section_by_name(name)?;
        let c = s.compressed_data().ok()?;
        match c.format {
            object::CompressionFormat::None => Some((c.data.get(..n)?.to_vec(), false)),
            object::CompressionFormat::Zlib => {
                let mut out = Vec::with_capacity(n);
                let mut z = flate2::Decompress::new(true);
                z.decompress_vec(c.data, &mut out, flate2::FlushDecompress::Sync)
                    .ok()?;
                (out.len() >= n.min(c.uncompressed_size as usize)).then_some((out, true))
            }
            _ => {
                let data = c.decompress().ok()?;
                Some((data.get(..n)?.to_vec(), true))
            }
        }
    }

    /// Address of the first symbol named `name` (linear scan of `.symtab`).
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.file.symbol_by_name(name).map(|s| s.address())
    }

    /// Addresses of several symbols in one scan of `.symtab`.
    pub fn symbols<const N: usize>(&self, names: [&str; N]) -> [Option<u64>; N] {
        let mut out = [None; N];
        let mut left = N;
        for sym in self.file.symbols() {
            let Ok(name) = sym.name() else { continue };
            if let Some(i) = names.iter().position(|n| *n == name)
                && out[i].is_none()
            {
                out[i] = Some(sym.address());
                left -= 1;
                if left == 0 {
                    break;
                }
            }
        }
        out
    }

    /// Text symbols (`STT_FUNC` in an executable section), for `nm`-like
    /// listings: (address, size, name).
    pub fn text_symbols(&self) -> Vec<(u64, u64, &'data str)> {
        self.file
            .symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text)
            .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?)))
            .collect()
    }

    /// The raw `.note.go.buildid` string (`actionID/contentID...`).
    pub fn go_build_id(&self) -> Option<&'data str> {
        let (_, data) = self.section(".note.go.buildid")?;
        let b = Bytes::new(data, self.endian);
        let namesz = b.u32(0)? as usize;
        let descsz = b.u32(4)? as usize;
        let name_end = 12usize.checked_add(namesz.checked_add(3)? & !3)?;
        let desc = data.get(name_end..name_end.checked_add(descsz)?)?;
        std::str::from_utf8(desc).ok()
    }

    /// The GNU build ID (`.note.gnu.build-id`), as lowercase hex.
    pub fn gnu_build_id(&self) -> Option<String> {
        let id = self.file.build_id().ok()??;
        Some(id.iter().map(|b| format!("{b:02x}")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_reads_stay_inside_one_segment() {
        let a = [1u8, 2, 3, 4];
        let b = [9u8; 8];
        let m = Memory {
            segments: vec![(0x1000, &a[..]), (0x2000, &b[..])],
        };
        assert_eq!(m.read(0x1001, 2), Some(&a[1..3]));
        assert_eq!(m.read(0x1002, 3), None, "runs past the segment");
        assert_eq!(m.read(0xfff, 1), None, "before the first segment");
        assert_eq!(m.read(0x1004, 1), None, "in the gap");
        assert_eq!(m.read(0x2007, 1), Some(&b[7..]));
        assert_eq!(m.read(u64::MAX, u64::MAX), None);
        assert_eq!(m.addr_of(&b[3..]), Some(0x2003));
        assert_eq!(m.read_to_end(0x1003), Some(&a[3..]));
    }

    #[test]
    fn errors_say_where() {
        let e = Error::truncated(
            "pclntab header",
            Pos::Section {
                name: ".gopclntab",
                offset: 0x1a40,
            },
        );
        assert_eq!(
            e.to_string(),
            "truncated pclntab header at .gopclntab+0x1a40"
        );
        let e = Elf::parse(b"\x7fELF\x02\x01\x01").unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Elf(_)), "{e}");
        assert!(e.to_string().ends_with("at file offset 0x0"), "{e}");
    }
}
