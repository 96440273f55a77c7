//! Feeding the scanner: whole buffers, streams, and large inputs split
//! across threads.
//!
//! A large goroutine dump is cut into blocks where a blank line is followed
//! by `goroutine N [`: a goroutine boundary, where no scanner state except
//! "inside some trace" crosses. Such blocks are scanned by fresh scanners in
//! parallel and their results stitched in order. A block that cannot start
//! at a boundary (a prefixed log with no clean `\n\ngoroutine`) is scanned
//! by the scanner of the block before it, in order, so nothing is lost.
//! Streaming reads a bounded batch of blocks at a time: memory stays a few
//! blocks whatever the size of the input.

use std::io::{self, Read};

use rayon::prelude::*;

use crate::ScanOptions;
use crate::model::*;
use crate::scanner::Scanner;

/// Blocks are about this big.
const BLOCK: usize = 4 << 20;
/// The longest line kept whole; longer ones are cut (a hostile input with no
/// newline must not make us buffer gigabytes).
const MAX_LINE: usize = 64 << 20;
/// Skipped lines kept with their reason across parts.
const MAX_SKIPPED_KEPT: usize = 100;

/// Scans a whole input held in memory (a mapped file, a test string).
pub fn scan(input: &[u8], opts: &ScanOptions) -> Dump {
    scan_with_progress(input, opts, &mut |_| {})
}

/// Like [`scan`], calling `done(n)` whenever the first `n` bytes of the
/// input will not be read again. A caller that mapped a large file can
/// release those pages (`madvise(MADV_DONTNEED)`), so the scan's resident
/// memory stays a few blocks whatever the size of the file: nothing in the
/// returned [`Dump`] borrows from the input.
///
/// Batches are pipelined: while the blocks of one batch are scanned, the
/// results of the batch before are stitched and `done` is called for it, so
/// neither leaves a core idle.
pub fn scan_with_progress(
    input: &[u8],
    opts: &ScanOptions,
    done: &mut (dyn FnMut(usize) + Send),
) -> Dump {
    let total = input.len() as u64;
    let ended_mid_line = !input.is_empty() && !input.ends_with(b"\n");
    if input.len() < opts.parallel_threshold.max(BLOCK) {
        let mut scanner = Scanner::new(opts.clone());
        feed_lines(&mut scanner, input);
        return scanner.finish(total, ended_mid_line);
    }
    let mut driver = Driver::new(opts.clone());
    let mut rest = input;
    let mut independent = true;
    let mut batch: Vec<(&[u8], bool)> = Vec::new();
    // A batch scanned but not yet stitched, with the input offset it ends at.
    let mut scanned: Option<Scanned<'_>> = None;
    let mut stitch = |driver: &mut Driver, scanned: Option<Scanned<'_>>| {
        if let Some((blocks, scanners, end)) = scanned {
            driver.stitch(&blocks, scanners);
            done(end);
        }
    };
    while !rest.is_empty() {
        let (end, next_independent) = cut(rest, false);
        batch.push((&rest[..end], independent));
        independent = next_independent;
        rest = &rest[end..];
        if batch.len() >= batch_len() || rest.is_empty() {
            let blocks = std::mem::take(&mut batch);
            let previous = scanned.take();
            let (scanners, ()) = rayon::join(
                || scan_blocks(opts, &blocks),
                || stitch(&mut driver, previous),
            );
            scanned = Some((blocks, scanners, input.len() - rest.len()));
        }
    }
    stitch(&mut driver, scanned);
    driver.finish(total, ended_mid_line)
}

/// Blocks of a batch, their fresh scanners, and where the batch ends.
type Scanned<'a> = (Vec<(&'a [u8], bool)>, Vec<Option<Scanner>>, usize);

/// Scans a stream in bounded memory. Errors are those of the reader.
pub fn scan_reader<R: Read>(mut reader: R, opts: &ScanOptions) -> io::Result<Dump> {
    let mut driver = Driver::new(opts.clone());
    // Buffers are reused from batch to batch: allocating fresh ones costs a
    // page fault and a zeroing per 4 KiB, as much as parsing them.
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut carry: Vec<u8> = Vec::new();
    let mut total: u64 = 0;
    let mut independent = true;
    let mut eof = false;
    let mut last_byte = b'\n';
    let want = BLOCK + BLOCK / 2;
    while !eof || !carry.is_empty() {
        let mut blocks: Vec<(Vec<u8>, usize, bool)> = Vec::new();
        while blocks.len() < batch_len() && (!eof || !carry.is_empty()) {
            let mut buf = pool.pop().unwrap_or_default();
            let size = want.max(carry.len() + BLOCK);
            if buf.len() < size {
                buf.resize(size, 0);
            }
            buf[..carry.len()].copy_from_slice(&carry);
            let mut filled = carry.len();
            carry.clear();
            while filled < size && !eof {
                let n = loop {
                    match reader.read(&mut buf[filled..size]) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                };
                filled += n;
                total += n as u64;
                eof = n == 0;
            }
            if filled == 0 {
                pool.push(buf);
                break;
            }
            last_byte = buf[filled - 1];
            let (end, next_independent) = if eof {
                (filled, true)
            } else {
                match cut(&buf[..filled], true) {
                    // No newline in the whole buffer: a giant line. Keep
                    // reading it, up to MAX_LINE, then cut it by force.
                    (0, _) if filled < MAX_LINE => {
                        carry.extend_from_slice(&buf[..filled]);
                        pool.push(buf);
                        continue;
                    }
                    (0, _) => (filled, false),
                    cut => cut,
                }
            };
            carry.extend_from_slice(&buf[end..filled]);
            blocks.push((buf, end, independent));
            independent = next_independent;
        }
        if !blocks.is_empty() {
            let views: Vec<(&[u8], bool)> =
                blocks.iter().map(|(b, len, i)| (&b[..*len], *i)).collect();
            driver.batch(&views);
        }
        pool.extend(blocks.into_iter().map(|(b, _, _)| b));
    }
    let ended_mid_line = total > 0 && last_byte != b'\n';
    Ok(driver.finish(total, ended_mid_line))
}

fn batch_len() -> usize {
    (rayon::current_num_threads() * 2).max(2)
}

/// Finds where to end a block taken from the start of `buf`: just before a
/// `goroutine` header that follows a blank line, in the second half of the
/// block; else after the last newline. Returns the end and whether the next
/// block starts at a goroutine boundary. `streaming` leaves the tail beyond
/// BLOCK for the next read.
fn cut(buf: &[u8], streaming: bool) -> (usize, bool) {
    let limit = if streaming {
        buf.len()
    } else {
        buf.len().min(BLOCK)
    };
    if limit == buf.len() && !streaming {
        return (buf.len(), true);
    }
    // Look for a boundary near the end, so that little is carried over
    // (and copied) into the next block; goroutines are a few KiB apart.
    let from = limit - (limit / 8).min(limit);
    if let Some(i) = memchr::memmem::rfind(&buf[from..limit], b"\n\ngoroutine ") {
        return (from + i + 2, true);
    }
    match memchr::memrchr(b'\n', &buf[..limit]) {
        Some(i) => (i + 1, false),
        None => (0, false),
    }
}

fn feed_lines(scanner: &mut Scanner, block: &[u8]) {
    let (json, links) = dirt_signs(block);
    scanner.expect_dirt(json, links);
    scanner.feed(block);
}

/// Scans the independent blocks of a batch in parallel, each with a fresh
/// scanner (they start at a goroutine boundary); dependent blocks get `None`
/// and are left for [`Driver::stitch`].
fn scan_blocks(opts: &ScanOptions, blocks: &[(&[u8], bool)]) -> Vec<Option<Scanner>> {
    blocks
        .par_iter()
        .map(|(data, independent)| {
            independent.then(|| {
                let mut s = Scanner::new(opts.clone());
                feed_lines(&mut s, data);
                s
            })
        })
        .collect()
}

/// Whether `block` may hold JSON-escaped traces (a `\n` escape or `{"`) and Markdown
/// links (`](http`): one pass for the three bytes that start or end them,
/// instead of one search per sign.
fn dirt_signs(block: &[u8]) -> (bool, bool) {
    let (mut json, mut links) = (false, false);
    for i in memchr::memchr3_iter(b'\\', b'"', b']', block) {
        match block[i] {
            b'\\' => json |= block.get(i + 1) == Some(&b'n'),
            b'"' => json |= i > 0 && block[i - 1] == b'{',
            _ => links |= block[i + 1..].starts_with(b"(http"),
        }
        // Once one sign is found, the other is searched for directly: a
        // JSON log has quotes everywhere.
        if json {
            links = links || memchr::memmem::find(&block[i..], b"](http").is_some();
            break;
        }
        if links {
            let rest = &block[i..];
            json = memchr::memmem::find(rest, b"\\n").is_some()
                || memchr::memmem::find(rest, b"{\"").is_some();
            break;
        }
    }
    (json, links)
}

/// Runs batches of blocks and stitches their results in order.
struct Driver {
    opts: ScanOptions,
    /// The scanner of the last block, still open: a dependent block goes on
    /// with it.
    open: Option<Scanner>,
    merged: Merger,
}

impl Driver {
    fn new(opts: ScanOptions) -> Self {
        Driver {
            opts,
            open: None,
            merged: Merger::default(),
        }
    }

    fn batch(&mut self, blocks: &[(&[u8], bool)]) {
        let fresh = scan_blocks(&self.opts, blocks);
        self.stitch(blocks, fresh);
    }

    /// Takes the results of [`scan_blocks`] in order, scanning the
    /// dependent blocks with the scanner of the block before them.
    fn stitch(&mut self, blocks: &[(&[u8], bool)], fresh: Vec<Option<Scanner>>) {
        for ((data, _), scanned) in blocks.iter().zip(fresh) {
            match scanned {
                Some(s) => {
                    if let Some(prev) = self.open.replace(s) {
                        self.merged.push(prev.finish(0, false));
                    }
                }
                None => {
                    let mut s = self
                        .open
                        .take()
                        .unwrap_or_else(|| Scanner::new(self.opts.clone()));
                    feed_lines(&mut s, data);
                    self.open = Some(s);
                }
            }
        }
    }

    fn finish(mut self, total: u64, ended_mid_line: bool) -> Dump {
        if let Some(last) = self.open.take() {
            self.merged.push(last.finish(total, ended_mid_line));
        }
        let mut dump = self.merged.dump;
        dump.bytes = total;
        dump
    }
}

/// Appends scanned parts, remapping their strings, stacks and arguments.
#[derive(Default)]
struct Merger {
    dump: Dump,
    started: bool,
}

impl Merger {
    fn push(&mut self, part: Dump) {
        if !self.started {
            self.started = true;
            self.dump = part;
            return;
        }
        let line_offset = self.dump.lines;
        let syms: Vec<Sym> = (0..part.strings.len() as u32)
            .map(|i| self.dump.strings.intern(part.strings.get(Sym(i))))
            .collect();
        let map_sym = |s: Sym| syms.get(s.0 as usize).copied().unwrap_or(s);
        let stacks: Vec<StackId> = part
            .stacks
            .iter()
            .map(|st| {
                let remapped = Stack {
                    frames: st
                        .frames
                        .iter()
                        .map(|f| Frame {
                            function: map_sym(f.function),
                            file: f.file.map(map_sym),
                            ..*f
                        })
                        .collect(),
                    elided: st.elided,
                };
                self.dump.intern_stack(remapped)
            })
            .collect();
        let map_stack = |s: StackId| stacks.get(s.0 as usize).copied().unwrap_or(s);
        // Arguments: append the arena; spans move by the arena's length.
        let span_base = self.dump.arg_spans.len();
        let text_base = self.dump.arg_text.len();
        let args_fit = u32::try_from(span_base + part.arg_spans.len()).is_ok()
            && u32::try_from(text_base + part.arg_text.len()).is_ok();
        if args_fit {
            self.dump.arg_text.push_str(&part.arg_text);
            self.dump.arg_spans.extend(
                part.arg_spans
                    .iter()
                    .map(|[a, b]| [a + text_base as u32, b + text_base as u32]),
            );
        }
        let map_args = |a: u32| {
            if a == u32::MAX || !args_fit {
                u32::MAX
            } else {
                a + span_base as u32
            }
        };
        let map_created = |c: CreatedBy| CreatedBy {
            function: map_sym(c.function),
            file: c.file.map(map_sym),
            ..c
        };
        let mut traces = part.traces.into_iter();
        let mut first = traces.next();
        // A part that starts with a bare goroutine continues the trace the
        // previous part left open.
        if let (Some(t), Some(prev)) = (&first, self.dump.traces.last()) {
            let continues = self.dump.last_trace_open
                && t.first_line == 1
                && t.format == TraceFormat::Dump
                && t.panics.is_empty()
                && t.fatal.is_empty()
                && prev.format != TraceFormat::Race
                && prev.format != TraceFormat::Debug1;
            if continues {
                let t = first.take().expect("checked");
                let prev = self.dump.traces.last_mut().expect("checked");
                prev.last_line = t.last_line + line_offset;
                prev.truncation = t.truncation;
                prev.registers.extend(t.registers);
                prev.exit_status = t.exit_status.or(prev.exit_status);
                for g in t.goroutines {
                    prev.goroutines.push(remap_goroutine(
                        g,
                        line_offset,
                        &map_sym,
                        &map_stack,
                        &map_args,
                        &map_created,
                    ));
                }
            }
        }
        for t in first.into_iter().chain(traces) {
            let trace = Trace {
                first_line: t.first_line + line_offset,
                last_line: t.last_line + line_offset,
                goroutines: t
                    .goroutines
                    .into_iter()
                    .map(|g| {
                        remap_goroutine(
                            g,
                            line_offset,
                            &map_sym,
                            &map_stack,
                            &map_args,
                            &map_created,
                        )
                    })
                    .collect(),
                system_stack: t.system_stack.map(map_stack),
                races: t
                    .races
                    .into_iter()
                    .map(|r| RaceReport {
                        accesses: r
                            .accesses
                            .into_iter()
                            .map(|s| remap_section(s, line_offset, &map_stack, &map_args))
                            .collect(),
                        creations: r
                            .creations
                            .into_iter()
                            .map(|s| remap_section(s, line_offset, &map_stack, &map_args))
                            .collect(),
                    })
                    .collect(),
                panics: t
                    .panics
                    .into_iter()
                    .map(|p| PanicMessage {
                        line: p.line + line_offset,
                        ..p
                    })
                    .collect(),
                ..t
            };
            self.dump.traces.push(trace);
        }
        for mut s in part.skipped {
            if self.dump.skipped.len() >= MAX_SKIPPED_KEPT {
                break;
            }
            s.line += line_offset;
            self.dump.skipped.push(s);
        }
        self.dump.skipped_total += part.skipped_total;
        self.dump.lines += part.lines;
        self.dump.last_trace_open = part.last_trace_open;
    }
}

fn remap_goroutine(
    g: Goroutine,
    line_offset: u64,
    map_sym: &impl Fn(Sym) -> Sym,
    map_stack: &impl Fn(StackId) -> StackId,
    map_args: &impl Fn(u32) -> u32,
    map_created: &impl Fn(CreatedBy) -> CreatedBy,
) -> Goroutine {
    Goroutine {
        state: map_sym(g.state),
        labels: g.labels.map(map_sym),
        stack: map_stack(g.stack),
        created_by: g.created_by.map(map_created),
        args_start: map_args(g.args_start),
        line: g.line + line_offset,
        ancestors: g
            .ancestors
            .into_iter()
            .map(|a| Ancestor {
                stack: map_stack(a.stack),
                created_by: a.created_by.map(map_created),
                ..a
            })
            .collect(),
        ..g
    }
}

fn remap_section(
    s: RaceSection,
    line_offset: u64,
    map_stack: &impl Fn(StackId) -> StackId,
    map_args: &impl Fn(u32) -> u32,
) -> RaceSection {
    RaceSection {
        stack: map_stack(s.stack),
        args_start: map_args(s.args_start),
        line: s.line + line_offset,
        ..s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump_text(goroutines: usize) -> Vec<u8> {
        let mut text = b"panic: boom\n\n".to_vec();
        for i in 0..goroutines {
            let stack = i % 7;
            text.extend_from_slice(
                format!(
                    "goroutine {} [chan receive, {} minutes]:\nmain.worker{stack}(0xc000{i:06x})\n\t/go/src/app/main.go:{} +0x2c\nmain.main.func1()\n\t/go/src/app/main.go:99 +0x10\ncreated by main.main in goroutine 1\n\t/go/src/app/main.go:100 +0x55\n\n",
                    i + 1,
                    i % 3,
                    10 + stack
                )
                .as_bytes(),
            );
        }
        text
    }

    /// Replaying recorded goroutine bodies gives what reading every line
    /// gives, also around bodies that must not be replayed.
    #[test]
    fn replayed_bodies_agree_with_line_by_line() {
        let mut text = dump_text(300);
        let odd = "goroutine 9001 [select]:\nmain.worker1(0x1)\n\t/go/src/app/main.go:11 +0x2c\nnot traceback text\nmain.main.func1()\n\t/go/src/app/main.go:99 +0x10\ncreated by main.main in goroutine 1\n\t/go/src/app/main.go:100 +0x55\n\ngoroutine 9002 [select]:\nmain.worker1(0x1)\n\t/go/src/app/main.go:11 +0x2c\n...2 frames elided...\ncreated by main.main\n\ngoroutine 9003 [select]:\nmain.worker1(0x1)\n\t/go/src/app/main.go:11 +0x2c\n...2 frames elided...\ncreated by main.main\n\n";
        text.extend_from_slice(odd.as_bytes());
        for i in 0..40 {
            // Runs of identical bodies, broken by one that differs.
            let line = if i % 7 == 6 { 12 } else { 11 };
            text.extend_from_slice(
                format!(
                    "goroutine {} [chan receive]:\nmain.worker(...)\n\t/go/src/app/main.go:{line}\nmain.main.func1()\n\t/go/src/app/main.go:99 +0x10\ncreated by main.main in goroutine 1\n\t/go/src/app/main.go:100 +0x55\n\n",
                    i + 10_000
                )
                .as_bytes(),
            );
        }
        text.extend_from_slice(&dump_text(50)[13..]);
        for cut in [text.len(), text.len() - 7, text.len() / 2, 1000] {
            let text = &text[..cut];
            for keep_args in [false, true] {
                let opts = ScanOptions {
                    keep_args,
                    ..ScanOptions::default()
                };
                let mut whole = Scanner::new(opts.clone());
                whole.expect_dirt(false, false);
                whole.feed(text);
                let whole = whole.finish(text.len() as u64, !text.ends_with(b"\n"));
                let mut lines = Scanner::new(opts);
                lines.expect_dirt(false, false);
                let mut pieces: Vec<&[u8]> = text.split(|&c| c == b'\n').collect();
                if text.ends_with(b"\n") {
                    // `split` yields an empty last piece that is no line.
                    pieces.pop();
                }
                for l in pieces {
                    lines.line(l);
                }
                let lines = lines.finish(text.len() as u64, !text.ends_with(b"\n"));
                assert_eq!(whole.traces, lines.traces);
                assert_eq!(whole.stacks, lines.stacks);
                assert_eq!(whole.skipped, lines.skipped);
                assert_eq!(whole.lines, lines.lines);
            }
        }
    }

    #[test]
    fn parallel_and_sequential_scans_agree() {
        let text = dump_text(60_000);
        assert!(text.len() > 2 * BLOCK);
        let sequential = {
            let mut s = Scanner::new(ScanOptions::default());
            feed_lines(&mut s, &text);
            s.finish(text.len() as u64, false)
        };
        let opts = ScanOptions {
            parallel_threshold: 0,
            ..ScanOptions::default()
        };
        let parallel = scan(&text, &opts);
        let streamed = scan_reader(&text[..], &opts).unwrap();
        for d in [&parallel, &streamed] {
            assert_eq!(d.traces.len(), 1);
            let (a, b) = (&sequential.traces[0], &d.traces[0]);
            assert_eq!(a.goroutines.len(), b.goroutines.len());
            assert_eq!(a.panics, b.panics);
            assert_eq!(a.last_line, b.last_line);
            for (x, y) in a.goroutines.iter().zip(&b.goroutines) {
                assert_eq!(
                    (x.id, x.line, x.wait_minutes),
                    (y.id, y.line, y.wait_minutes)
                );
                assert_eq!(sequential.stack(x.stack), d.stack(y.stack));
                assert_eq!(sequential.str(x.state), d.str(y.state));
                assert_eq!(
                    sequential.frame_args(x.args_start, 0),
                    d.frame_args(y.args_start, 0)
                );
            }
        }
    }
}
