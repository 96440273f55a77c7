//! Opening artifacts: the only place that touches input files.
//!
//! Every input is first peeked at (its first bytes, after undoing gzip), so
//! that it can be recognised by content rather than by name. Then a command
//! either streams it (traceback text, which can be gigabytes and must parse in
//! bounded memory) or maps it (binary formats that need random access).

use std::fs::File;
use std::io::{self, BufReader, Chain, Cursor, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use flate2::read::MultiGzDecoder;

use gosleuth_model::ArtifactKind;

use crate::failure::Failure;

/// How many bytes are peeked at for recognising an input. Enough for a log
/// with a long preamble before the first `goroutine` line to still be seen
/// as text, and for ELF and protobuf headers.
pub const HEAD_LEN: usize = 64 * 1024;

/// Where an input comes from.
#[derive(Debug)]
enum Origin {
    Stdin,
    File(PathBuf),
}

/// An opened input: its name for messages, its first bytes (decompressed),
/// and the means to read the rest.
pub struct Input {
    name: String,
    origin: Origin,
    gzipped: bool,
    head: Vec<u8>,
    rest: Box<dyn Read + Send>,
}

impl Input {
    /// Opens `arg`, a path or `-` for standard input, and peeks at it.
    pub fn open(arg: &str) -> Result<Input, Failure> {
        if arg == "-" {
            return Self::from_reader("<stdin>".into(), Origin::Stdin, Box::new(io::stdin()));
        }
        let path = Path::new(arg);
        let file = File::open(path)
            .with_context(|| format!("cannot open {arg}"))
            .map_err(Failure::bad_input)?;
        if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(Failure::bad_input(anyhow::anyhow!(
                "{arg} is a directory, not an artifact"
            )));
        }
        Self::from_reader(
            arg.to_string(),
            Origin::File(path.to_path_buf()),
            Box::new(file),
        )
    }

    fn from_reader(
        name: String,
        origin: Origin,
        raw: Box<dyn Read + Send>,
    ) -> Result<Input, Failure> {
        let mut raw = BufReader::with_capacity(256 * 1024, raw);
        let mut magic = [0u8; 2];
        let got = read_up_to(&mut raw, &mut magic)
            .with_context(|| format!("cannot read {name}"))
            .map_err(Failure::bad_input)?;
        let raw: Box<dyn Read + Send> = Box::new(Cursor::new(magic[..got].to_vec()).chain(raw));
        let gzipped = got == 2 && magic == [0x1f, 0x8b];
        let mut rest: Box<dyn Read + Send> = if gzipped {
            Box::new(MultiGzDecoder::new(raw))
        } else {
            raw
        };
        let mut head = vec![0u8; HEAD_LEN];
        let n = read_up_to(&mut rest, &mut head)
            .with_context(|| {
                if gzipped {
                    format!("cannot decompress {name} (gzip)")
                } else {
                    format!("cannot read {name}")
                }
            })
            .map_err(Failure::bad_input)?;
        head.truncate(n);
        Ok(Input {
            name,
            origin,
            gzipped,
            head,
            rest,
        })
    }

    /// The name to use in messages: the path as given, or `<stdin>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first bytes of the (decompressed) content, at most [`HEAD_LEN`].
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Whether the content arrived gzip-compressed.
    #[allow(dead_code)]
    pub fn gzipped(&self) -> bool {
        self.gzipped
    }

    /// The whole content as a stream, starting with the peeked bytes.
    pub fn into_reader(self) -> Chain<Cursor<Vec<u8>>, Box<dyn Read + Send>> {
        Cursor::new(self.head).chain(self.rest)
    }

    /// The whole content in memory for random access: a read-only map of the
    /// file when it is a plain file, else the decompressed or piped bytes.
    pub fn into_bytes(self) -> Result<Bytes, Failure> {
        if let (Origin::File(path), false) = (&self.origin, self.gzipped) {
            let file = File::open(path)
                .with_context(|| format!("cannot open {}", self.name))
                .map_err(Failure::bad_input)?;
            let map = map_file(&file)
                .with_context(|| format!("cannot map {}", self.name))
                .map_err(Failure::bad_input)?;
            return Ok(Bytes::Mapped(map));
        }
        let name = self.name.clone();
        let mut all = Vec::with_capacity(self.head.len());
        self.into_reader()
            .read_to_end(&mut all)
            .with_context(|| format!("cannot read {name}"))
            .map_err(Failure::bad_input)?;
        Ok(Bytes::Owned(all))
    }
}

/// Scans traceback text in bounded memory: a plain file is mapped and its
/// pages released as the scan passes them (parallel, no copy); anything
/// else (stdin, gzip) is streamed.
pub fn scan_text(
    input: Input,
    opts: &gosleuth_traceback::ScanOptions,
) -> Result<gosleuth_traceback::Dump, Failure> {
    let name = input.name().to_string();
    if let (Origin::File(path), false) = (&input.origin, input.gzipped) {
        let file = File::open(path)
            .with_context(|| format!("cannot open {name}"))
            .map_err(Failure::bad_input)?;
        let map = map_file(&file)
            .with_context(|| format!("cannot map {name}"))
            .map_err(Failure::bad_input)?;
        let _ = map.advise(memmap2::Advice::Sequential);
        let mut released = 0usize;
        let dump = gosleuth_traceback::scan_with_progress(&map, opts, &mut |done| {
            // Give back the pages behind us: resident memory stays a few
            // blocks, not the size of the dump.
            released = release_pages(&map, released..done);
        });
        return Ok(dump);
    }
    gosleuth_traceback::scan_reader(input.into_reader(), opts)
        .map_err(|e| Failure::bad_input(anyhow::anyhow!("cannot read {name}: {e}")))
}

/// Content held for random access.
pub enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// Reads until `buf` is full or the stream ends; returns how much was read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Whether an input starts as a zstd frame (how the crashlab fixtures store
/// cores and executables).
pub fn is_zstd(head: &[u8]) -> bool {
    head.starts_with(&ZSTD_MAGIC)
}

/// Reads an input for random access and recognises it; zstd-compressed
/// files are decompressed in memory first (other inputs stay mapped).
pub fn open_bytes(input: Input) -> Result<(Bytes, ArtifactKind), Failure> {
    let name = input.name().to_string();
    if is_zstd(input.head()) {
        let bytes = input.into_bytes()?;
        let mut dec = ruzstd::decoding::StreamingDecoder::new(&bytes[..])
            .map_err(|e| Failure::bad_input(anyhow::anyhow!("{name}: bad zstd data: {e}")))?;
        let mut raw = Vec::new();
        io::Read::read_to_end(&mut dec, &mut raw)
            .map_err(|e| Failure::bad_input(anyhow::anyhow!("{name}: bad zstd data: {e}")))?;
        let kind = ArtifactKind::sniff(&raw[..raw.len().min(64)]);
        return Ok((Bytes::Owned(raw), kind));
    }
    let kind = ArtifactKind::sniff(input.head());
    Ok((input.into_bytes()?, kind))
}

/// Maps `file` read-only.
pub fn map_file(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and gosleuth never writes the file. If
    // another process truncates it while we read, we may get SIGBUS; that
    // is the accepted cost of not copying multi-gigabyte cores, the same
    // trade ripgrep and Delve make.
    unsafe { memmap2::Mmap::map(file) }
}

/// Drops the whole pages of `range` of a map made by [`map_file`] from
/// this process's resident set: for inputs read once, front to back, so
/// that peak memory stays a few windows rather than the size of the file.
/// The pages stay in the page cache, and any later access reads the same
/// bytes again, so references into the range stay valid. `range.start`
/// must be where the previous call ended (or 0); returns where this one
/// ends: `range.end` rounded down to a page, or the end of the map.
pub fn release_pages(map: &memmap2::Mmap, range: std::ops::Range<usize>) -> usize {
    const PAGE: usize = 4096;
    let end = if range.end >= map.len() {
        map.len()
    } else {
        range.end / PAGE * PAGE
    };
    let range = range.start..end;
    if range.is_empty() {
        return range.start.max(end);
    }
    // SAFETY: the map is a private, read-only mapping of a file gosleuth
    // never writes; MADV_DONTNEED only drops page table entries, and the
    // next access reads the file again.
    let _ = unsafe {
        map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, range.start, range.len())
    };
    end
}
