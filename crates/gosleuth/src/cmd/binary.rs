//! `gosleuth binary`: what a Go executable says about itself.
//!
//! `info` (build info like `go version -m` plus container facts), `symbolize`
//! (addresses → functions, files, lines, inlined chains) and `funcs` (the
//! function table). JSON schemas: docs/json-binary.md.

use std::io::{BufRead, Write};

use anyhow::{Context, anyhow};
use gosleuth_gobin::{Binary, Frame, Module, Summary};

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

fn open(exe: &str) -> Result<crate::input::Bytes, Failure> {
    let input = Input::open(exe)?;
    if !input.head().starts_with(b"\x7fELF") {
        return Err(Failure::bad_input(anyhow!(
            "{exe} is not an ELF executable (gosleuth reads ELF Go binaries)"
        )));
    }
    input.into_bytes()
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

/// Addresses are handled in chunks. Within a chunk they are sorted, split
/// among threads, symbolized and formatted in address order (neighbours
/// share a function: its decoded tables and names stay in cache), then the
/// formatted entries are written in input order.
const CHUNK: usize = 1 << 17;

fn symbolize(exe: &str, addrs: Vec<String>, out: &mut Output) -> CmdResult {
    let bytes = open(exe)?;
    let bin = parse(exe, &bytes)?;
    let tab = bin
        .pclntab()
        .with_context(|| exe.to_string())
        .map_err(Failure::bad_input)?;
    // The output is plain text or JSON without colour codes and can be
    // hundreds of megabytes: write it to stdout directly rather than
    // through the colour-stripping stream of `Output`.
    out.writer().flush()?;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut state = Emit {
        json: matches!(out.format, Format::Json),
        written: 0,
        errors: 0,
        pool: Vec::new(),
    };
    if state.json {
        w.write_all(b"[")?;
    }
    if !addrs.is_empty() {
        for chunk in addrs.chunks(CHUNK) {
            let lines: Vec<&[u8]> = chunk.iter().map(|s| s.as_bytes()).collect();
            state.chunk(tab, &lines, &mut w)?;
        }
    } else {
        let stdin = std::io::stdin();
        let mut reader = std::io::BufReader::with_capacity(1 << 20, stdin.lock());
        let mut text: Vec<u8> = Vec::with_capacity(CHUNK * 12);
        let mut ends: Vec<usize> = Vec::with_capacity(CHUNK);
        loop {
            let before = text.len();
            let n = reader
                .read_until(b'\n', &mut text)
                .context("reading addresses from standard input")
                .map_err(Failure::bad_input)?;
            if n > 0 {
                if text[before..].trim_ascii().is_empty() {
                    text.truncate(before);
                } else {
                    ends.push(text.len());
                }
            }
            if ends.len() == CHUNK || (n == 0 && !ends.is_empty()) {
                let mut start = 0;
                let lines: Vec<&[u8]> = ends
                    .iter()
                    .map(|&e| {
                        let l = &text[start..e];
                        start = e;
                        l
                    })
                    .collect();
                state.chunk(tab, &lines, &mut w)?;
                text.clear();
                ends.clear();
            }
            if n == 0 {
                break;
            }
        }
    }
    if state.json {
        w.write_all(b"\n]\n")?;
    }
    w.flush()?;
    if state.errors > 0 {
        warn(format!(
            "{} address(es) could not be parsed or resolved",
            state.errors
        ));
    }
    Ok(())
}

struct Emit {
    json: bool,
    /// Entries written so far (for JSON commas).
    written: usize,
    errors: usize,
    /// Output buffers of the previous chunk, one per part.
    pool: Vec<Vec<u8>>,
}

/// What one thread made of its run of addresses: the formatted entries,
/// where each input line's entry is, and how many failed.
type Part = (Vec<u8>, Vec<(u32, Span)>, usize);

/// Where the formatted entry of one input line is: the part (thread) that
/// made it and its byte range in that part's buffer.
#[derive(Clone, Copy, Default)]
struct Span {
    part: u32,
    start: u32,
    end: u32,
}

impl Emit {
    fn chunk(
        &mut self,
        tab: &gosleuth_gobin::Pclntab<'_>,
        lines: &[&[u8]],
        w: &mut dyn Write,
    ) -> CmdResult {
        use rayon::prelude::*;
        // (address, input index); unparsable lines sort last.
        let mut order: Vec<(u64, u32)> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (parse_addr(l).map_or(u64::MAX, |pc| pc), i as u32))
            .collect();
        order.sort_unstable();
        let threads = rayon::current_num_threads().max(1);
        let per = order.len().div_ceil(threads).max(1);
        let json = self.json;
        let mut pool = std::mem::take(&mut self.pool);
        pool.resize_with(order.len().div_ceil(per), Vec::new);
        let parts: Vec<Part> = order
            .par_chunks(per)
            .zip(pool.into_par_iter())
            .enumerate()
            .map(|(part, (run, mut buf))| {
                let mut sym = gosleuth_gobin::Symbolizer::new(tab);
                let mut frames = Vec::with_capacity(8);
                buf.clear();
                let mut spans = Vec::with_capacity(run.len());
                let mut errors = 0;
                for &(pc, i) in run {
                    // u64::MAX marks unparsable lines (and 0xffffffffffffffff).
                    // The line itself is read only then: it is far away in
                    // memory, the address is not.
                    let (pc, raw) = if pc == u64::MAX {
                        let raw = lines[i as usize].trim_ascii();
                        (parse_addr(raw), raw)
                    } else {
                        (Some(pc), &b""[..])
                    };
                    frames.clear();
                    let failed = match pc {
                        Some(pc) => sym.frames_into(pc, &mut frames).is_err(),
                        None => false,
                    };
                    let bad = pc.is_none() || failed;
                    errors += usize::from(bad);
                    let start = buf.len() as u32;
                    if json {
                        json_entry(&mut buf, raw, pc, &frames, bad);
                    } else {
                        text_entry(&mut buf, raw, pc, &frames);
                    }
                    let end = buf.len() as u32;
                    spans.push((
                        i,
                        Span {
                            part: part as u32,
                            start,
                            end,
                        },
                    ));
                }
                (buf, spans, errors)
            })
            .collect();
        let mut spans = vec![Span::default(); lines.len()];
        for (_, s, errors) in &parts {
            self.errors += errors;
            for &(i, span) in s {
                spans[i as usize] = span;
            }
        }
        for s in &spans {
            if json {
                w.write_all(if self.written == 0 { b"\n" } else { b",\n" })?;
            }
            self.written += 1;
            w.write_all(&parts[s.part as usize].0[s.start as usize..s.end as usize])?;
        }
        // Keep the buffers: fresh ones cost a page fault per 4 KiB.
        self.pool = parts.into_iter().map(|p| p.0).collect();
        Ok(())
    }
}

fn json_entry(b: &mut Vec<u8>, raw: &[u8], pc: Option<u64>, frames: &[Frame<'_>], bad: bool) {
    b.extend_from_slice(b"{\"address\":\"");
    match pc {
        Some(pc) => push_hex(b, pc),
        None => json_escape_into(b, &String::from_utf8_lossy(raw)),
    }
    b.extend_from_slice(b"\",\"frames\":[");
    for (k, f) in frames.iter().enumerate() {
        if k > 0 {
            b.push(b',');
        }
        b.extend_from_slice(b"{\"function\":\"");
        json_escape_into(b, f.function);
        b.extend_from_slice(b"\",\"file\":\"");
        json_escape_into(b, f.file);
        b.extend_from_slice(b"\",\"line\":");
        push_dec(b, u64::from(f.line));
        b.extend_from_slice(b",\"offset\":");
        push_dec(b, f.offset);
        if f.inlined {
            b.extend_from_slice(b",\"inlined\":true");
        }
        b.push(b'}');
    }
    b.push(b']');
    if bad {
        b.extend_from_slice(b",\"error\":\"");
        b.extend_from_slice(if pc.is_none() {
            b"not a hexadecimal address"
        } else {
            b"corrupted function table entry"
        });
        b.push(b'"');
    }
    b.push(b'}');
}

fn text_entry(b: &mut Vec<u8>, raw: &[u8], pc: Option<u64>, frames: &[Frame<'_>]) {
    let push_addr = |b: &mut Vec<u8>| match pc {
        Some(pc) => push_hex(b, pc),
        None => b.extend_from_slice(raw),
    };
    if frames.is_empty() {
        push_addr(b);
        b.extend_from_slice(b" ?\n");
        return;
    }
    for f in frames {
        push_addr(b);
        b.push(b' ');
        b.extend_from_slice(f.function.as_bytes());
        if !f.inlined {
            b.push(b'+');
            push_hex(b, f.offset);
        }
        b.push(b' ');
        b.extend_from_slice(f.file.as_bytes());
        b.push(b':');
        push_dec(b, u64::from(f.line));
        if f.inlined {
            b.extend_from_slice(b" (inlined)");
        }
        b.push(b'\n');
    }
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

fn push_hex(b: &mut Vec<u8>, v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    b.extend_from_slice(b"0x");
    let n = if v == 0 {
        1
    } else {
        (64 - v.leading_zeros()).div_ceil(4)
    };
    for i in (0..n).rev() {
        b.push(DIGITS[((v >> (i * 4)) & 0xf) as usize]);
    }
}

fn push_dec(b: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    b.extend_from_slice(&tmp[i..]);
}

fn json_escape_into(b: &mut Vec<u8>, s: &str) {
    for &c in s.as_bytes() {
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
    json_escape_into(&mut b, v);
    b.push(b'"');
    s.push_str(&String::from_utf8_lossy(&b));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_and_escapes() {
        let mut b = Vec::new();
        push_hex(&mut b, 0);
        b.push(b' ');
        push_hex(&mut b, 0x4a1b2c);
        b.push(b' ');
        push_dec(&mut b, 0);
        b.push(b' ');
        push_dec(&mut b, 1234567);
        b.push(b' ');
        json_escape_into(&mut b, "a\"b\\c\n");
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "0x0 0x4a1b2c 0 1234567 a\\\"b\\\\c\\u000a"
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
