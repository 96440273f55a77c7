//! `gosleuth binary`: what a Go executable says about itself.
//!
//! `info` (build info like `go version -m` plus container facts), `symbolize`
//! (addresses → functions, files, lines, inlined chains) and `funcs` (the
//! function table). JSON schemas: docs/json-binary.md.

use std::io::{Read, Write};

use anyhow::{Context, anyhow};
use gosleuth_gobin::{Binary, Module, Summary};

use crate::cli::Format;
use crate::failure::{CmdResult, Failure};
use crate::input::Input;
use crate::output::{Output, warn};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Build information (what `go version -m` prints) plus architecture,
    /// PIE, stripped, DWARF, pclntab format, text size and function count.
    Info {
        /// The Go executable.
        #[arg(value_name = "EXE")]
        exe: String,
    },
    /// Turn addresses into function, file:line, +offset and the inlined
    /// chain (innermost frame first).
    ///
    /// Addresses are hexadecimal (`0x` optional), taken from the arguments or,
    /// when there are none, from standard input one per line. They are used
    /// as given: subtract 1 from return addresses yourself, as
    /// `go tool addr2line` expects too.
    Symbolize {
        /// The Go executable.
        #[arg(value_name = "EXE")]
        exe: String,
        /// Addresses (hex); standard input when absent.
        #[arg(value_name = "ADDR")]
        addrs: Vec<String>,
    },
    /// List functions with address, size and source file.
    Funcs {
        /// The Go executable.
        #[arg(value_name = "EXE")]
        exe: String,
        /// Only functions whose name matches this regular expression.
        #[arg(value_name = "REGEX")]
        pattern: Option<String>,
    },
}

pub fn run(args: Args, out: &mut Output) -> CmdResult {
    match args.command {
        Sub::Info { exe } => info(&exe, out),
        Sub::Symbolize { exe, addrs } => symbolize(&exe, addrs, out),
        Sub::Funcs { exe, pattern } => funcs(&exe, pattern.as_deref(), out),
    }
}

/// Maps the executable (a zstd-compressed one, as fixtures are stored, is
/// decompressed in memory).
fn open(exe: &str) -> Result<crate::input::Bytes, Failure> {
    let (bytes, _) = crate::input::open_bytes(Input::open(exe)?)?;
    if !bytes.starts_with(b"\x7fELF") {
        return Err(Failure::bad_input(anyhow!(
            "{exe} is not an ELF executable (gosleuth reads ELF Go binaries)"
        )));
    }
    Ok(bytes)
}

fn parse<'a>(exe: &str, bytes: &'a [u8]) -> Result<Binary<'a>, Failure> {
    Binary::parse(bytes)
        .with_context(|| exe.to_string())
        .map_err(Failure::bad_input)
}

// ---------------------------------------------------------------- info

fn info(exe: &str, out: &mut Output) -> CmdResult {
    let bytes = open(exe)?;
    let bin = parse(exe, &bytes)?;
    let bi = bin.build_info();
    let pclntab = bin.pclntab();
    if let (Err(b), Err(p)) = (&bi, &pclntab) {
        return Err(Failure::bad_input(anyhow!(
            "{exe}: not a Go binary ({b}; {p})"
        )));
    }
    let summary = bin.summary();
    let tab_info = pclntab.as_ref().ok().map(|t| {
        (
            t.section(),
            t.address(),
            bin.pclntab_found_by().ok(),
            t.quantum(),
        )
    });
    let dwarf = bin.dwarf_info();
    if let Err(e) = &bi {
        warn(format!("{exe}: {e}"));
    }
    if let Err(e) = &pclntab {
        warn(format!("{exe}: {e}"));
    }
    let json = matches!(out.format, Format::Json);
    let w = out.writer();
    if json {
        let mut v = serde_json::json!({
            "schema": "gosleuth.binary.info/v1",
            "file": exe,
            "arch": summary.arch,
            "ptr_size": summary.ptr_size,
            "endian": endian(&summary),
            "pie": summary.pie,
            "stripped": summary.stripped,
            "dwarf": dwarf.map(|d| serde_json::json!({"version": d.version, "compressed": d.compressed})),
            "pclntab": tab_info.map(|(section, addr, by, quantum)| serde_json::json!({
                "format": summary.pclntab_version.map(|v| v.as_str()),
                "section": section,
                "address": hex(addr),
                "found_by": by.map(found_by),
                "pc_quantum": quantum,
            })),
            "text": summary.text_start.map(|s| serde_json::json!({
                "start": hex(s),
                "size": summary.text_size,
            })),
            "functions": summary.functions,
            "go_build_id": summary.go_build_id,
            "gnu_build_id": summary.gnu_build_id,
        });
        if let Ok(bi) = &bi {
            let obj = v.as_object_mut().expect("json object");
            obj.insert("go_version".into(), bi.go_version.clone().into());
            obj.insert("path".into(), bi.path.clone().into());
            obj.insert("main".into(), bi.main.as_ref().map(module_json).into());
            obj.insert(
                "deps".into(),
                bi.deps.iter().map(module_json).collect::<Vec<_>>().into(),
            );
            obj.insert(
                "settings".into(),
                bi.settings
                    .iter()
                    .map(|s| serde_json::json!({"key": s.key, "value": s.value}))
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        serde_json::to_writer_pretty(&mut *w, &v).map_err(Failure::internal)?;
        writeln!(w)?;
        return Ok(());
    }
    if let Ok(bi) = &bi {
        w.write_all(bi.go_version_m(exe).as_bytes())?;
        writeln!(w)?;
    }
    let row = |w: &mut dyn Write, k: &str, v: String| writeln!(w, "{k:<14}{v}");
    row(
        w,
        "arch",
        format!(
            "{} ({}-bit, {})",
            summary.arch,
            u32::from(summary.ptr_size) * 8,
            endian(&summary)
        ),
    )?;
    row(w, "pie", yes_no(summary.pie).into())?;
    row(
        w,
        "stripped",
        if summary.stripped {
            "yes (no symbol table)".into()
        } else {
            "no".into()
        },
    )?;
    row(
        w,
        "dwarf",
        match dwarf {
            Some(d) => format!(
                "version {}{}",
                d.version,
                if d.compressed { " (compressed)" } else { "" }
            ),
            None => "none".into(),
        },
    )?;
    if let Some((section, addr, by, quantum)) = tab_info {
        row(
            w,
            "pclntab",
            format!(
                "Go {}+ layout, {} at {} (found by {}), PC quantum {}",
                summary.pclntab_version.map(|v| v.as_str()).unwrap_or("?"),
                section,
                hex(addr),
                by.map(found_by).unwrap_or("?"),
                quantum
            ),
        )?;
    }
    if let (Some(start), Some(size)) = (summary.text_start, summary.text_size) {
        row(w, "text", format!("{} + {} bytes", hex(start), size))?;
    }
    if let Some(n) = summary.functions {
        row(w, "functions", n.to_string())?;
    }
    if let Some(id) = &summary.go_build_id {
        row(w, "go build id", id.clone())?;
    }
    if let Some(id) = &summary.gnu_build_id {
        row(w, "gnu build id", id.clone())?;
    }
    Ok(())
}

fn module_json(m: &Module) -> serde_json::Value {
    serde_json::json!({
        "path": m.path,
        "version": m.version,
        "sum": m.sum,
        "replace": m.replace.as_deref().map(module_json),
    })
}

fn endian(s: &Summary) -> &'static str {
    match s.endian {
        gosleuth_gobin::Endian::Little => "little-endian",
        gosleuth_gobin::Endian::Big => "big-endian",
    }
}

fn found_by(f: gosleuth_gobin::FoundBy) -> &'static str {
    match f {
        gosleuth_gobin::FoundBy::Section => "section",
        gosleuth_gobin::FoundBy::Symbol => "symbol",
        gosleuth_gobin::FoundBy::Scan => "scan",
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

// ---------------------------------------------------------------- funcs

fn funcs(exe: &str, pattern: Option<&str>, out: &mut Output) -> CmdResult {
    let re = pattern
        .map(regex::Regex::new)
        .transpose()
        .context("bad REGEX")
        .map_err(Failure::bad_input)?;
    let bytes = open(exe)?;
    let bin = parse(exe, &bytes)?;
    let tab = bin
        .pclntab()
        .with_context(|| exe.to_string())
        .map_err(Failure::bad_input)?;
    let json = matches!(out.format, Format::Json);
    let w = out.writer();
    let mut first = true;
    if json {
        write!(
            w,
            "{{\"schema\":\"gosleuth.binary.funcs/v1\",\"file\":{},\"functions\":[",
            serde_json::Value::from(exe)
        )?;
    }
    for func in tab.funcs() {
        let func = match func {
            Ok(f) => f,
            Err(e) => {
                warn(format!("{exe}: skipped a function: {e}"));
                continue;
            }
        };
        let name = func.name().unwrap_or("?");
        if re.as_ref().is_some_and(|re| !re.is_match(name)) {
            continue;
        }
        let size = func.size();
        let file = func.file(func.entry()).unwrap_or("?");
        if json {
            if !first {
                w.write_all(b",")?;
            }
            first = false;
            let mut s = String::with_capacity(128);
            s.push_str("\n{\"name\":");
            json_str(&mut s, name);
            s.push_str(&format!(
                ",\"address\":\"{:#x}\",\"size\":{size},\"file\":",
                func.entry()
            ));
            json_str(&mut s, file);
            match func.start_line() {
                Some(l) => s.push_str(&format!(",\"start_line\":{l}}}")),
                None => s.push_str(",\"start_line\":null}"),
            }
            w.write_all(s.as_bytes())?;
        } else {
            writeln!(w, "{:#x} {size:>8} {name} {file}", func.entry())?;
        }
    }
    if json {
        w.write_all(b"\n]}\n")?;
    }
    Ok(())
}

// ---------------------------------------------------------------- symbolize

/// Standard input is mapped when it is a file, else read, in windows of
/// about `CHUNK` bytes; the complete lines of a window are parsed in
/// parallel and handled in batches of up to `BATCH` addresses (a whole
/// input of a million addresses is one window and one batch).
///
/// A batch's addresses are put in buckets by their high bits (a bucket
/// covers 2^(32 - index bits) bytes of address space, 4 KiB for a million
/// addresses) in two parallel passes over the input (count, then fill),
/// each as a 32-bit key: offset in the bucket, input index. Runs of
/// buckets with about as many addresses make the parts, a few per thread.
/// Each part, on its own thread, sorts its buckets (small, in cache),
/// resolves its addresses in address order (each function's tables are
/// decoded once and addresses with equal frames share a chain,
/// `gosleuth_gobin::Chains`), writing the chain ids in that order, then
/// points each entry's slot at its chain in one tight pass (stores to
/// random slots are cheap on their own and slow when mixed with
/// resolving). Addresses spread too far for buckets are sorted as
/// (address, index) pairs instead. Then the entries are formatted from
/// their chains in input order, with the chains and their strings
/// prefetched a few dozen entries ahead, in blocks formatted in parallel
/// and written while the next blocks are formatted.
const BATCH: usize = 1 << 20;

/// Bytes of standard input parsed at a time.
const CHUNK: usize = 16 << 20;

/// Addresses per formatted block.
const BLOCK: usize = 1 << 11;

/// Parts of a batch per thread: more than one, so that a thread slowed
/// down by other work on the machine does not hold up the others.
const PARTS_PER_THREAD: usize = 2;

fn symbolize(exe: &str, addrs: Vec<String>, out: &mut Output) -> CmdResult {
    let bytes = open(exe)?;
    let bin = parse(exe, &bytes)?;
    let tab = bin
        .pclntab()
        .with_context(|| exe.to_string())
        .map_err(Failure::bad_input)?;
    // The output is plain text or JSON without colour codes and can be
    // hundreds of megabytes: write it to stdout directly rather than
    // through the colour-stripping stream of `Output`, in large blocks.
    out.writer().flush()?;
    let stdout = std::io::stdout();
    let mut run = Run::new(tab, matches!(out.format, Format::Json));
    if run.json {
        (&stdout).write_all(b"[")?;
    }
    let mut lines = Lines::default();
    if !addrs.is_empty() {
        for a in &addrs {
            lines.push(a.as_bytes());
        }
        run.batches(&lines, &stdout)?;
    } else if let Some(map) = map_stdin() {
        // A regular file: mapped, no copy; handled in windows of about
        // `CHUNK` bytes ending at a line end, to keep the entries of one
        // window in memory at a time, and the pages of each window given
        // back once it is done.
        let mut pieces = Vec::new();
        let (mut at, mut released) = (0, 0);
        while at < map.len() {
            let text = &map[at..];
            let end = if text.len() <= CHUNK {
                text.len()
            } else {
                memchr::memchr(b'\n', &text[CHUNK..]).map_or(text.len(), |k| CHUNK + k + 1)
            };
            lines.clear();
            parse_lines(&text[..end], &mut lines, &mut pieces);
            run.batches(&lines, &stdout)?;
            at += end;
            released = crate::input::release_pages(&map, released..at);
        }
    } else {
        let mut stdin = std::io::stdin().lock();
        let mut buf: Vec<u8> = Vec::new();
        let mut pieces = Vec::new();
        let mut want = CHUNK;
        let mut eof = false;
        while !eof {
            let room = want.saturating_sub(buf.len());
            let got = (&mut stdin)
                .take(room as u64)
                .read_to_end(&mut buf)
                .context("reading addresses from standard input")
                .map_err(Failure::bad_input)?;
            eof = got < room;
            // The complete lines; at the end, all of it.
            let end = if eof {
                buf.len()
            } else {
                buf.iter().rposition(|&c| c == b'\n').map_or(0, |k| k + 1)
            };
            if end == 0 {
                // A line longer than a chunk: read more of it.
                want = buf.len() + CHUNK;
                continue;
            }
            want = CHUNK;
            lines.clear();
            parse_lines(&buf[..end], &mut lines, &mut pieces);
            run.batches(&lines, &stdout)?;
            buf.drain(..end);
        }
    }
    if run.json {
        (&stdout).write_all(b"\n]\n")?;
    }
    (&stdout).flush()?;
    if run.errors > 0 {
        warn(format!(
            "{} address(es) could not be parsed or resolved",
            run.errors
        ));
    }
    Ok(())
}

/// Standard input mapped, when it is a non-empty regular file.
fn map_stdin() -> Option<memmap2::Mmap> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() == 0 {
        return None;
    }
    let map = crate::input::map_file(&file).ok()?;
    let _ = map.advise(memmap2::Advice::Sequential);
    Some(map)
}

/// Input entries.
#[derive(Default)]
struct Lines {
    /// The address of each entry (0 for unparsable ones).
    pcs: Vec<u64>,
    /// Unparsable entries in input order: index, and their trimmed text
    /// as a range of `bad_text`.
    bad: Vec<(u32, u32, u32)>,
    bad_text: Vec<u8>,
}

impl Lines {
    fn clear(&mut self) {
        self.pcs.clear();
        self.bad.clear();
        self.bad_text.clear();
    }

    /// One address as given.
    fn push(&mut self, text: &[u8]) {
        let text = text.trim_ascii();
        let pc = parse_addr(text).unwrap_or_else(|| {
            self.bad_entry(self.pcs.len(), text);
            0
        });
        self.pcs.push(pc);
    }

    /// Records that entry `index` is the unparsable `text` (its address
    /// reads 0).
    fn bad_entry(&mut self, index: usize, text: &[u8]) {
        let start = self.bad_text.len() as u32;
        self.bad_text.extend_from_slice(text);
        self.bad
            .push((index as u32, start, self.bad_text.len() as u32));
    }

    /// Parses the lines of `text` into `pcs` (which has room for one
    /// address per line), keeping unparsable lines in `self`; returns how
    /// many entries were written (blank lines make none).
    fn parse_into(&mut self, mut text: &[u8], pcs: &mut [u64]) -> usize {
        let mut used = 0;
        while !text.is_empty() && used < pcs.len() {
            if let Some((pc, n)) = fast_line(text) {
                pcs[used] = pc;
                used += 1;
                text = &text[n..];
                continue;
            }
            let k = memchr::memchr(b'\n', text).map_or(text.len(), |k| k + 1);
            let line = text[..k].trim_ascii();
            text = &text[k..];
            if line.is_empty() {
                continue;
            }
            pcs[used] = parse_addr(line).unwrap_or_else(|| {
                self.bad_entry(used, line);
                0
            });
            used += 1;
        }
        used
    }
}

/// Parses the lines of `text` into `lines`, in parallel pieces split at
/// line ends, each writing its addresses straight into its share of
/// `lines.pcs` (`pieces` holds the pieces' unparsable lines).
fn parse_lines(text: &[u8], lines: &mut Lines, pieces: &mut Vec<Lines>) {
    use rayon::prelude::*;
    let n = if text.len() < 1 << 16 {
        1
    } else {
        rayon::current_num_threads().max(1) * 4
    };
    let mut bounds = vec![0];
    for k in 1..n {
        let from = (k * text.len() / n).max(bounds[bounds.len() - 1]);
        let end = memchr::memchr(b'\n', &text[from..]).map_or(text.len(), |p| from + p + 1);
        bounds.push(end);
    }
    bounds.push(text.len());
    // At most one entry per line of each piece.
    let most: Vec<usize> = bounds
        .par_windows(2)
        .map(|w| {
            let piece = &text[w[0]..w[1]];
            memchr::memchr_iter(b'\n', piece).count()
                + usize::from(piece.last().is_some_and(|&c| c != b'\n'))
        })
        .collect();
    let base = lines.pcs.len();
    lines
        .pcs
        .par_extend(rayon::iter::repeat_n(0, most.iter().sum()));
    let mut shares = Vec::with_capacity(n);
    let mut rest = &mut lines.pcs[base..];
    for &m in &most {
        let (share, after) = rest.split_at_mut(m);
        shares.push(share);
        rest = after;
    }
    pieces.resize_with(n, Lines::default);
    let used: Vec<usize> = pieces
        .par_iter_mut()
        .zip(shares.into_par_iter())
        .zip(bounds.par_windows(2))
        .map(|((p, share), w)| {
            p.clear();
            p.parse_into(&text[w[0]..w[1]], share)
        })
        .collect();
    // Close the gaps that blank lines left, and gather the unparsable ones.
    let mut to = base;
    let mut from = base;
    for ((p, &used), &m) in pieces.iter().zip(&used).zip(&most) {
        let at = (to - base) as u32;
        lines.pcs.copy_within(from..from + used, to);
        lines.bad.extend(p.bad.iter().map(|&(i, s, e)| {
            let t = lines.bad_text.len() as u32;
            (base as u32 + at + i, t + s, t + e)
        }));
        lines.bad_text.extend_from_slice(&p.bad_text);
        to += used;
        from += m;
    }
    lines.pcs.truncate(to);
}

/// Value of each hex digit, 0xff for other bytes.
const HEX: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'0'..=b'9' => c as u8 - b'0',
            b'a'..=b'f' => c as u8 - b'a' + 10,
            b'A'..=b'F' => c as u8 - b'A' + 10,
            _ => 0xff,
        };
        c += 1;
    }
    t
};

/// The common line: `0x` and 1 to 16 lower- or upper-case hex digits, then
/// a newline. Returns the address and the bytes used.
#[inline]
fn fast_line(s: &[u8]) -> Option<(u64, usize)> {
    if s.len() < 4 || s[0] != b'0' || s[1] | 0x20 != b'x' {
        return None;
    }
    let mut v = 0u64;
    let mut i = 2;
    let end = s.len().min(18);
    while i < end {
        let d = HEX[s[i] as usize];
        if d > 15 {
            break;
        }
        v = v << 4 | u64::from(d);
        i += 1;
    }
    (i > 2 && s.get(i) == Some(&b'\n')).then_some((v, i + 1))
}

/// The entries of one batch: `bad` indices are relative to `pcs`.
struct Entries<'l> {
    pcs: &'l [u64],
    bad: &'l [(u32, u32, u32)],
    bad_text: &'l [u8],
}

/// One part of a batch (a range of addresses) and its buffers.
#[derive(Default)]
struct Part<'a> {
    /// Addresses and their input index, when they are too far apart for
    /// buckets.
    pairs: Vec<(u64, u32)>,
    /// The chain of each address of the part, in address order.
    ids: Vec<u32>,
    chains: gosleuth_gobin::Chains<'a>,
}

impl<'a> Part<'a> {
    /// Resolves the ascending addresses `pcs` of part `k` into its chains,
    /// then points the slot of each address (its input index from
    /// `indices`, in the same order) at its chain in one tight pass.
    fn resolve(
        &mut self,
        tab: &gosleuth_gobin::Pclntab<'a>,
        pcs: impl Iterator<Item = u64>,
        indices: impl Iterator<Item = usize>,
        k: usize,
        part_bits: u32,
        slots: &[std::sync::atomic::AtomicU32],
    ) {
        self.chains.clear();
        self.ids.clear();
        let ids = &mut self.ids;
        gosleuth_gobin::Symbolizer::new(tab).resolve(pcs, &mut self.chains, |id| ids.push(id));
        for (i, &id) in indices.zip(&self.ids) {
            if let Some(slot) = slot_of(id, k, part_bits)
                && let Some(s) = slots.get(i)
            {
                s.store(slot, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

/// Slot of an address in no function.
const NO_SLOT: u32 = u32::MAX;

/// Most buckets of a batch (see [`Run::batch`]): 64 Ki buckets of 4 KiB
/// for a batch of a million addresses span 256 MiB of text.
const MAX_BUCKETS: u64 = 1 << 16;

/// The slot of chain `id` of part `part`: `None` for no chain, or for an
/// id too large for a slot (a part of more than 2^(32 - part_bits) chain
/// words), which leaves the entry unresolved.
#[inline]
fn slot_of(id: u32, part: usize, part_bits: u32) -> Option<u32> {
    (id != gosleuth_gobin::Chains::NONE && id < u32::MAX >> part_bits)
        .then(|| id << part_bits | part as u32)
}

/// State and reusable buffers of one `symbolize` run.
struct Run<'t, 'a> {
    tab: &'t gosleuth_gobin::Pclntab<'a>,
    json: bool,
    /// Entries written so far (for JSON commas).
    written: usize,
    errors: usize,
    parts: Vec<Part<'a>>,
    /// The batch's sort keys, bucket after bucket.
    keys: Vec<u32>,
    /// Chain of each entry of the batch, in input order: chain `id` of
    /// part `p` is `id << part_bits | p`, or [`NO_SLOT`].
    slots: Vec<std::sync::atomic::AtomicU32>,
    /// Output buffers: being written, and free.
    bufs: Vec<Vec<u8>>,
    bad: Vec<(u32, u32, u32)>,
}

impl<'t, 'a> Run<'t, 'a> {
    fn new(tab: &'t gosleuth_gobin::Pclntab<'a>, json: bool) -> Self {
        Run {
            tab,
            json,
            written: 0,
            errors: 0,
            parts: Vec::new(),
            keys: Vec::new(),
            slots: Vec::new(),
            bufs: Vec::new(),
            bad: Vec::new(),
        }
    }

    /// Symbolizes and writes `lines` in batches of up to `BATCH`.
    fn batches(&mut self, lines: &Lines, out: &std::io::Stdout) -> CmdResult {
        let mut bad = std::mem::take(&mut self.bad);
        for start in (0..lines.pcs.len()).step_by(BATCH) {
            let end = (start + BATCH).min(lines.pcs.len());
            bad.clear();
            let from = lines.bad.partition_point(|b| (b.0 as usize) < start);
            bad.extend(
                lines.bad[from..]
                    .iter()
                    .take_while(|b| (b.0 as usize) < end)
                    .map(|&(i, s, e)| (i - start as u32, s, e)),
            );
            let entries = Entries {
                pcs: &lines.pcs[start..end],
                bad: &bad,
                bad_text: &lines.bad_text,
            };
            self.batch(&entries, out)?;
        }
        self.bad = bad;
        Ok(())
    }

    fn batch(&mut self, e: &Entries, out: &std::io::Stdout) -> CmdResult {
        use rayon::prelude::*;
        use std::sync::atomic::AtomicU32;
        let n = e.pcs.len();
        let threads = rayon::current_num_threads().max(1);
        // The input split in one chunk per thread, and the addresses of
        // chunk `c` with their input index.
        let chunk = n.div_ceil(threads).max(1);
        let addresses = |c: usize| {
            let (start, end) = ((c * chunk).min(n), ((c + 1) * chunk).min(n));
            let mut bad = e.bad[e.bad.partition_point(|b| (b.0 as usize) < start)..]
                .iter()
                .peekable();
            e.pcs[start..end]
                .iter()
                .enumerate()
                .map(move |(i, &pc)| (start + i, pc))
                .filter(move |&(i, _)| bad.next_if(|b| b.0 as usize == i).is_none())
        };
        let (lo, hi) = (0..threads)
            .into_par_iter()
            .map(|c| addresses(c).fold((u64::MAX, 0), |(lo, hi), (_, pc)| (lo.min(pc), hi.max(pc))))
            .reduce(|| (u64::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
        let nparts = if n < 1 << 14 {
            1
        } else {
            (threads * PARTS_PER_THREAD).next_power_of_two()
        };
        let part_bits = nparts.trailing_zeros();
        // A key is `offset << index_bits | index`: the address's offset in
        // its bucket, and its input index.
        let index_bits = u32::BITS - (n.max(2) as u32 - 1).leading_zeros();
        let offset_bits = u32::BITS - index_bits;
        let index_mask = (1u32 << index_bits) - 1;
        let buckets = hi
            .checked_sub(lo)
            .map_or(0, |span| (span >> offset_bits).saturating_add(1));
        self.parts.resize_with(nparts, Part::default);
        self.slots.clear();
        self.slots
            .par_extend((0..n).into_par_iter().map(|_| AtomicU32::new(NO_SLOT)));
        let (tab, slots) = (self.tab, &self.slots);
        if buckets <= MAX_BUCKETS {
            let buckets = buckets as usize;
            let bucket_of = |pc: u64| ((pc - lo) >> offset_bits) as usize;
            // Count the addresses of each bucket in each chunk, give each
            // (bucket, chunk) its share of the keys in bucket order, and
            // fill the shares in parallel.
            let counts: Vec<Vec<u32>> = (0..threads)
                .into_par_iter()
                .map(|c| {
                    let mut count = vec![0; buckets];
                    for (_, pc) in addresses(c) {
                        count[bucket_of(pc)] += 1;
                    }
                    count
                })
                .collect();
            // First key of each bucket, and of each part (a run of buckets
            // with about as many keys as every other part).
            let mut starts = Vec::with_capacity(buckets + 1);
            let mut total = 0;
            for b in 0..buckets {
                starts.push(total);
                total += counts.iter().map(|c| c[b] as usize).sum::<usize>();
            }
            starts.push(total);
            let mut part_buckets = vec![0];
            for k in 1..nparts {
                let want = k * total / nparts;
                let b = starts.partition_point(|&s| s < want).min(buckets);
                part_buckets.push(b.max(part_buckets[k - 1]));
            }
            part_buckets.push(buckets);
            self.keys.clear();
            self.keys.resize(total, 0);
            let mut shares: Vec<Vec<&mut [u32]>> = (0..threads).map(|_| Vec::new()).collect();
            let mut rest = &mut self.keys[..];
            for b in 0..buckets {
                for (c, count) in counts.iter().enumerate() {
                    let (share, after) = rest.split_at_mut(count[b] as usize);
                    shares[c].push(share);
                    rest = after;
                }
            }
            shares
                .into_par_iter()
                .enumerate()
                .for_each(|(c, mut shares)| {
                    let mut filled = vec![0; buckets];
                    let offset_mask = (1u64 << offset_bits) - 1;
                    for (i, pc) in addresses(c) {
                        let b = bucket_of(pc);
                        shares[b][filled[b]] =
                            (((pc - lo) & offset_mask) as u32) << index_bits | i as u32;
                        filled[b] += 1;
                    }
                });
            // Each part: sort its buckets, resolve them in address order
            // (chain ids in that order), then point each entry's slot at
            // its chain.
            let mut part_keys = Vec::with_capacity(nparts);
            let mut rest = &mut self.keys[..];
            for k in 0..nparts {
                let len = starts[part_buckets[k + 1]] - starts[part_buckets[k]];
                let (keys, after) = rest.split_at_mut(len);
                part_keys.push(keys);
                rest = after;
            }
            let starts = &starts;
            self.parts
                .par_iter_mut()
                .zip(part_keys)
                .enumerate()
                .for_each(|(k, (part, keys))| {
                    let (first, last) = (part_buckets[k], part_buckets[k + 1]);
                    let base = starts[first];
                    let range = |b: usize| starts[b] - base..starts[b + 1] - base;
                    for b in first..last {
                        keys[range(b)].sort_unstable();
                    }
                    let keys = &*keys;
                    let pcs = (first..last).flat_map(|b| {
                        let start = lo + ((b as u64) << offset_bits);
                        keys[range(b)]
                            .iter()
                            .map(move |key| start + u64::from(key >> index_bits))
                    });
                    let indices = keys.iter().map(|key| (key & index_mask) as usize);
                    part.resolve(tab, pcs, indices, k, part_bits, slots);
                });
        } else {
            // Addresses too far apart for buckets: each part takes its
            // range of addresses (quantiles of a sample) and sorts them.
            let mut sample: Vec<u64> = e.pcs.iter().step_by((n / 4096).max(1)).copied().collect();
            sample.sort_unstable();
            let mut splits = vec![lo];
            for k in 1..nparts {
                splits.push(sample[k * sample.len() / nparts].max(lo));
            }
            splits.push(hi.saturating_add(1));
            self.parts.par_iter_mut().enumerate().for_each(|(k, part)| {
                let (from, to) = (splits[k], splits[k + 1]);
                let last = k + 1 == nparts;
                let mine = |pc: u64| from <= pc && (pc < to || last);
                part.pairs.clear();
                part.pairs.extend(
                    (0..threads)
                        .flat_map(addresses)
                        .filter(|&(_, pc)| mine(pc))
                        .map(|(i, pc)| (pc, i as u32)),
                );
                part.pairs.sort_unstable();
                let pairs = std::mem::take(&mut part.pairs);
                let (pcs, indices) = (
                    pairs.iter().map(|p| p.0),
                    pairs.iter().map(|p| p.1 as usize),
                );
                part.resolve(tab, pcs, indices, k, part_bits, slots);
                part.pairs = pairs;
            });
        }
        // Format blocks in parallel, write each group of blocks while the
        // next one is formatted.
        let group = 2 * threads;
        let blocks: Vec<std::ops::Range<usize>> = (0..n)
            .step_by(BLOCK)
            .map(|s| s..(s + BLOCK).min(n))
            .collect();
        let mut pending: Vec<Vec<u8>> = Vec::new();
        let fmt = Formatter {
            json: self.json,
            written: self.written,
            entries: e,
            slots: &self.slots,
            parts: &self.parts,
            part_bits,
        };
        for blocks in blocks.chunks(group) {
            let mut current: Vec<(Vec<u8>, usize)> = blocks
                .iter()
                .map(|_| (self.bufs.pop().unwrap_or_default(), 0))
                .collect();
            let (written, ()) = rayon::join(
                || pending.iter().try_for_each(|b| (&*out).write_all(b)),
                || {
                    current.par_iter_mut().zip(blocks.par_iter()).for_each(
                        |((buf, errors), range)| {
                            buf.clear();
                            *errors = fmt.block(range.clone(), buf);
                        },
                    )
                },
            );
            written?;
            self.bufs.append(&mut pending);
            for (buf, errors) in current {
                self.errors += errors;
                pending.push(buf);
            }
        }
        for b in &pending {
            (&*out).write_all(b)?;
        }
        self.bufs.append(&mut pending);
        self.written += n;
        Ok(())
    }
}

/// Formats entries of a batch from their chains.
struct Formatter<'r, 'a> {
    json: bool,
    /// Entries written before the batch.
    written: usize,
    entries: &'r Entries<'r>,
    slots: &'r [std::sync::atomic::AtomicU32],
    parts: &'r [Part<'a>],
    part_bits: u32,
}

impl<'a> Formatter<'_, 'a> {
    /// The chains holding the chain of `slot`, and its id there.
    #[inline]
    fn locate(&self, slot: u32) -> Option<(&gosleuth_gobin::Chains<'a>, u32)> {
        if slot == NO_SLOT {
            return None;
        }
        let part = self
            .parts
            .get((slot & ((1 << self.part_bits) - 1)) as usize)?;
        Some((&part.chains, slot >> self.part_bits))
    }

    /// The chain of `slot`.
    #[inline]
    fn chain(&self, slot: u32) -> Option<gosleuth_gobin::Chain<'_, 'a>> {
        let (chains, id) = self.locate(slot)?;
        chains.get(id)
    }

    /// Loads the chains of `group` into `chains` and prefetches their
    /// strings.
    fn load<'s, const N: usize>(
        &'s self,
        group: std::ops::Range<usize>,
        chains: &mut [Option<gosleuth_gobin::Chain<'s, 'a>>; N],
    ) {
        use std::sync::atomic::Ordering::Relaxed;
        for (c, s) in chains.iter_mut().zip(self.slots.get(group).unwrap_or(&[])) {
            *c = self.chain(s.load(Relaxed));
            for name in c.iter().flat_map(|c| c.name_starts()) {
                prefetch(name);
            }
        }
    }

    /// Word `k` of the chain of `slot`.
    #[inline]
    fn word(&self, slot: u32, k: u32) -> Option<&u32> {
        let (chains, id) = self.locate(slot)?;
        chains.head(id.checked_add(k)?)
    }

    /// Appends the entries `range` to `b`; returns how many are errors.
    fn block(&self, range: std::ops::Range<usize>, b: &mut Vec<u8>) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        let e = self.entries;
        let mut bad = e.bad[e.bad.partition_point(|x| (x.0 as usize) < range.start)..]
            .iter()
            .peekable();
        let mut errors = 0;
        let mut hex = [0u8; 18];
        // Entries are formatted in groups, each chain prefetched two groups
        // ahead and its strings one group ahead, so that the cache misses
        // of random chains overlap with formatting instead of stalling it.
        const GROUP: usize = 32;
        let mut next = [None; GROUP];
        let group_at = |start: usize| start..(start + GROUP).min(range.end);
        let prefetch_heads = |start: usize| {
            for s in self.slots.get(group_at(start)).unwrap_or(&[]) {
                // A chain of three frames is 60 bytes: often two lines.
                let slot = s.load(Relaxed);
                for k in [0, 14] {
                    if let Some(w) = self.word(slot, k) {
                        prefetch(w);
                    }
                }
            }
        };
        prefetch_heads(range.start);
        prefetch_heads(range.start + GROUP);
        self.load(group_at(range.start), &mut next);
        for start in range.clone().step_by(GROUP) {
            let group = group_at(start);
            let chains = next;
            prefetch_heads(start + 2 * GROUP);
            self.load(group_at(start + GROUP), &mut next);
            for (i, chain) in group.zip(chains) {
                if self.json {
                    b.extend_from_slice(if self.written + i == 0 { b"\n" } else { b",\n" });
                }
                if let Some(&(_, s, end)) = bad.next_if(|x| x.0 as usize == i) {
                    let raw = e.bad_text.get(s as usize..end as usize).unwrap_or(&[]);
                    errors += 1;
                    if self.json {
                        b.extend_from_slice(b"{\"address\":\"");
                        json_escape_into(b, String::from_utf8_lossy(raw).as_bytes());
                        b.extend_from_slice(
                            b"\",\"frames\":[],\"error\":\"not a hexadecimal address\"}",
                        );
                    } else {
                        b.extend_from_slice(raw);
                        b.extend_from_slice(b" ?\n");
                    }
                    continue;
                }
                let pc = e.pcs[i];
                let addr = format_hex(&mut hex, pc);
                errors += usize::from(chain.is_some_and(|c| c.corrupted));
                if self.json {
                    json_entry(b, addr, pc, chain);
                } else {
                    text_entry(b, addr, pc, chain);
                }
            }
        }
        errors
    }
}

fn json_entry(b: &mut Vec<u8>, addr: &[u8], pc: u64, chain: Option<gosleuth_gobin::Chain<'_, '_>>) {
    b.extend_from_slice(b"{\"address\":\"");
    b.extend_from_slice(addr);
    b.extend_from_slice(b"\",\"frames\":[");
    let Some(chain) = chain else {
        b.extend_from_slice(b"]}");
        return;
    };
    let mut dec = [0u8; 20];
    let offset = format_dec(&mut dec, pc.wrapping_sub(chain.entry));
    for (k, f) in chain.frame_texts().enumerate() {
        b.extend_from_slice(if k > 0 {
            b",{\"function\":\""
        } else {
            b"{\"function\":\""
        });
        json_escape_into(b, f.function);
        b.extend_from_slice(b"\",\"file\":\"");
        json_escape_into(b, f.file);
        b.extend_from_slice(b"\",\"line\":");
        push_dec(b, u64::from(f.line));
        b.extend_from_slice(b",\"offset\":");
        b.extend_from_slice(offset);
        b.extend_from_slice(if f.inlined {
            b",\"inlined\":true}"
        } else {
            b"}"
        });
    }
    b.push(b']');
    if chain.corrupted {
        b.extend_from_slice(b",\"error\":\"corrupted function table entry\"");
    }
    b.push(b'}');
}

fn text_entry(b: &mut Vec<u8>, addr: &[u8], pc: u64, chain: Option<gosleuth_gobin::Chain<'_, '_>>) {
    let Some(chain) = chain.filter(|c| !c.is_empty()) else {
        b.extend_from_slice(addr);
        b.extend_from_slice(b" ?\n");
        return;
    };
    let mut hex = [0u8; 18];
    let offset = format_hex(&mut hex, pc.wrapping_sub(chain.entry));
    for f in chain.frame_texts() {
        b.extend_from_slice(addr);
        b.push(b' ');
        b.extend_from_slice(f.function);
        if !f.inlined {
            b.push(b'+');
            b.extend_from_slice(offset);
        }
        b.push(b' ');
        b.extend_from_slice(f.file);
        b.push(b':');
        push_dec(b, u64::from(f.line));
        b.extend_from_slice(if f.inlined { b" (inlined)\n" } else { b"\n" });
    }
}

/// Asks the CPU to start loading the cache line at `p`.
#[inline(always)]
fn prefetch<T: ?Sized>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch changes no state the program can observe and
    // cannot fault, whatever the address; SSE is part of x86-64's baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

fn parse_addr(s: &[u8]) -> Option<u64> {
    let s = s.trim_ascii();
    let h = s
        .strip_prefix(b"0x")
        .or_else(|| s.strip_prefix(b"0X"))
        .unwrap_or(s);
    if h.is_empty() || h.len() > 16 {
        return None;
    }
    let mut v = 0u64;
    for &c in h {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = v << 4 | u64::from(d);
    }
    Some(v)
}

/// `v` as `0x` and lower-case hex digits, in `buf`.
#[inline]
fn format_hex(buf: &mut [u8; 18], v: u64) -> &[u8] {
    // Each nibble of a 32-bit half spread into its own byte, then all
    // eight mapped to digits at once: a few instructions instead of a
    // table lookup per digit (two numbers per address printed).
    fn digits(half: u32) -> [u8; 8] {
        let mut x = u64::from(half);
        x = (x | x << 16) & 0x0000_ffff_0000_ffff;
        x = (x | x << 8) & 0x00ff_00ff_00ff_00ff;
        x = (x | x << 4) & 0x0f0f_0f0f_0f0f_0f0f;
        // 1 in the bytes holding 10..15, which go to 'a'..'f'.
        let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
        (x + 0x3030_3030_3030_3030 + letters * (b'a' - b'0' - 10) as u64).to_be_bytes()
    }
    let n = (u64::BITS - v.leading_zeros()).max(1).div_ceil(4) as usize;
    buf[2..10].copy_from_slice(&digits((v >> 32) as u32));
    buf[10..18].copy_from_slice(&digits(v as u32));
    // The digits end the buffer; `0x` goes over the leading zeros.
    buf[16 - n] = b'0';
    buf[17 - n] = b'x';
    &buf[16 - n..]
}

/// Decimal digits of `00` to `99`.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// `v` in decimal, in `buf`, two digits at a time.
#[inline]
fn format_dec(buf: &mut [u8; 20], mut v: u64) -> &[u8] {
    let mut i = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[2 * pair..2 * pair + 2]);
    }
    if v >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[2 * v as usize..2 * v as usize + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    &buf[i..]
}

#[inline]
fn push_dec(b: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 20];
    b.extend_from_slice(format_dec(&mut tmp, v));
}

/// Appends `s` (UTF-8) escaped for a JSON string.
fn json_escape_into(b: &mut Vec<u8>, s: &[u8]) {
    // Names rarely need escaping: copy them whole when they do not.
    let plain = s
        .iter()
        .fold(true, |ok, &c| ok & (c >= 0x20 && c != b'"' && c != b'\\'));
    if plain {
        b.extend_from_slice(s);
        return;
    }
    for &c in s {
        match c {
            b'"' => b.extend_from_slice(b"\\\""),
            b'\\' => b.extend_from_slice(b"\\\\"),
            c if c < 0x20 => {
                b.extend_from_slice(b"\\u00");
                b.push(b"0123456789abcdef"[(c >> 4) as usize]);
                b.push(b"0123456789abcdef"[(c & 0xf) as usize]);
            }
            c => b.push(c),
        }
    }
}

fn json_str(s: &mut String, v: &str) {
    let mut b = Vec::with_capacity(v.len() + 2);
    b.push(b'"');
    json_escape_into(&mut b, v.as_bytes());
    b.push(b'"');
    s.push_str(&String::from_utf8_lossy(&b));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_and_escapes() {
        let mut b = Vec::new();
        let mut hex = [0u8; 18];
        b.extend_from_slice(format_hex(&mut hex, 0));
        b.push(b' ');
        b.extend_from_slice(format_hex(&mut hex, 0x4a1b2c));
        b.push(b' ');
        b.extend_from_slice(format_hex(&mut hex, u64::MAX));
        b.push(b' ');
        b.extend_from_slice(format_hex(&mut hex, 0xfedc_ba98_7654_3210));
        b.push(b' ');
        b.extend_from_slice(format_hex(&mut hex, 0xa));
        b.push(b' ');
        push_dec(&mut b, 9);
        b.push(b' ');
        push_dec(&mut b, 10);
        b.push(b' ');
        push_dec(&mut b, 100);
        b.push(b' ');
        push_dec(&mut b, u64::MAX);
        b.push(b' ');
        push_dec(&mut b, 0);
        b.push(b' ');
        push_dec(&mut b, 1234567);
        b.push(b' ');
        json_escape_into(&mut b, b"a\"b\\c\n");
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "0x0 0x4a1b2c 0xffffffffffffffff 0xfedcba9876543210 0xa 9 10 100 18446744073709551615 0 1234567 a\\\"b\\\\c\\u000a"
        );
    }

    #[test]
    fn parses_addresses() {
        assert_eq!(parse_addr(b"0x4a1b2c"), Some(0x4a1b2c));
        assert_eq!(parse_addr(b" 4A1B2C\r"), Some(0x4a1b2c));
        assert_eq!(parse_addr(b"zz"), None);
        assert_eq!(parse_addr(b"0x"), None);
        assert_eq!(parse_addr(b"0x11112222333344445"), None);
        assert_eq!(parse_addr(b"0xffffffffffffffff"), Some(u64::MAX));
    }
}
