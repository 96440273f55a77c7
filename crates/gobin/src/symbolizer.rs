//! Symbolizing many PCs: the per-function pc-value tables are decoded once
//! and kept while consecutive PCs fall in the same function, so sorted
//! batches cost one table decode per function instead of one per PC. File
//! names, the function name and inline tree entries (with the table values
//! at their call site) are resolved once per function too.
//!
//! [`Symbolizer::resolve`] goes one step further for batches: PCs in a row
//! whose frames are equal (same function, inline tree index, file and line)
//! share one [`Chain`], so a batch of a million PCs resolves a few hundred
//! thousand chains and the caller formats each PC from its chain.

use std::collections::HashMap;

use crate::error::Result;
use crate::pclntab::pcvalue::PcRange;
use crate::pclntab::{Func, InlinedCall, PCDATA_INL_TREE_INDEX, Pclntab};
use crate::symbolize::Frame;

/// The pcfile, pcln and inline-tree-index table values at one PC (None
/// where a table has no value there).
type TableValues = [Option<i32>; 3];

struct Cached<'a, 't> {
    func: Func<'a, 't>,
    name: &'a str,
    file: Vec<PcRange>,
    line: Vec<PcRange>,
    inl: Vec<PcRange>,
    /// File names by file number, resolved on first use.
    files: Vec<Option<&'a str>>,
    /// Inline tree entries by index, read on first use, with their call
    /// site and the table values there.
    calls: Vec<Option<(InlinedCall<'a>, u64, TableValues)>>,
    /// Last run found in `file`, `line`, `inl`: `hints[0]` follows the PCs
    /// asked for, `hints[1]` the call sites of inlined frames.
    hints: [[usize; 3]; 2],
}

/// Table sizes above which per-number caches are not kept (corrupted
/// tables could ask for huge ones).
const MAX_CACHED_INDEX: i32 = 1 << 16;

/// Bound on the inlined frames of one PC: a corrupted tree could loop.
const MAX_INLINE_DEPTH: usize = 1024;

/// The value of a decoded pc-value table at `pc`, starting at the run found
/// last time: increasing PCs (sorted input) usually fall in the same run or
/// a few after it.
#[inline]
fn lookup_near(ranges: &[PcRange], pc: u64, hint: &mut usize) -> Option<i32> {
    let mut i = *hint;
    if i < ranges.len() && ranges[i].start <= pc {
        for _ in 0..4 {
            let r = &ranges[i];
            if pc < r.end {
                *hint = i;
                return Some(r.value);
            }
            i += 1;
            if i == ranges.len() {
                return None;
            }
        }
    }
    let i = ranges.partition_point(|r| r.end <= pc);
    let r = ranges.get(i)?;
    *hint = i;
    (r.start <= pc).then_some(r.value)
}

/// One frame of a [`Chain`]: a [`Frame`] without what depends on the PC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainFrame<'a> {
    /// Function name as the symbol table spells it.
    pub function: &'a str,
    /// Source file, `?` when the table has none.
    pub file: &'a str,
    /// Source line, 0 when unknown.
    pub line: u32,
    /// Whether this frame was inlined into the next one.
    pub inlined: bool,
}

impl<'a> ChainFrame<'a> {
    /// The [`Frame`] of this chain frame at `pc` in a function entered at
    /// `entry`.
    pub fn at(&self, entry: u64, pc: u64) -> Frame<'a> {
        Frame {
            function: self.function,
            file: self.file,
            line: self.line,
            entry,
            offset: pc.wrapping_sub(entry),
            inlined: self.inlined,
        }
    }
}

/// The frames shared by some PCs of a batch (see [`Chains`]).
#[derive(Debug, Clone, Copy)]
pub struct Chain<'c, 'a> {
    /// Entry PC of the physical function: a PC's offset is `pc - entry`.
    pub entry: u64,
    /// Resolving failed on a corrupted function table entry or inline tree
    /// (where [`Symbolizer::frames_into`] returns an error): the frames are
    /// those found before the failure.
    pub corrupted: bool,
    /// [`FRAME`] words per frame (see [`Chains`]).
    words: &'c [u32],
    base: &'a [u8],
    others: &'c [&'a str],
}

/// One frame of a [`Chain`] with its strings as bytes, as a formatter
/// copies them (no UTF-8 check: they were `str`s when the chain was made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameText<'a> {
    /// Function name.
    pub function: &'a [u8],
    /// Source file, `?` when the table has none.
    pub file: &'a [u8],
    /// Source line, 0 when unknown.
    pub line: u32,
    /// Whether this frame was inlined into the next one.
    pub inlined: bool,
}

impl<'c, 'a> Chain<'c, 'a> {
    /// Number of frames.
    #[inline]
    pub fn len(&self) -> usize {
        self.words.len() / FRAME
    }

    /// Whether the chain has no frame.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    #[inline]
    fn text(&self, at: u32, len: u32) -> &'a [u8] {
        let s = if len == OTHER {
            self.others.get(at as usize).map(|s| s.as_bytes())
        } else {
            self.base.get(at as usize..at as usize + len as usize)
        };
        s.unwrap_or(b"?")
    }

    /// The frames, innermost first, with their strings as bytes.
    #[inline]
    pub fn frame_texts(&self) -> impl ExactSizeIterator<Item = FrameText<'a>> + 'c {
        let chain = *self;
        self.words.chunks_exact(FRAME).map(move |w| FrameText {
            function: chain.text(w[0], w[2] & 0xffff),
            file: chain.text(w[1], w[2] >> 16),
            line: w[3] & !INLINED,
            inlined: w[3] & INLINED != 0,
        })
    }

    /// Where the names of the frames start (function, file, function, ...),
    /// computed without the checks of [`Chain::frame_texts`]: for asking
    /// the CPU to load them ahead of use. The pointers are for that only;
    /// they may point anywhere when the chain is not from these chains.
    #[inline]
    pub fn name_starts(&self) -> impl Iterator<Item = *const u8> + 'c {
        let (base, others) = (self.base.as_ptr(), self.others);
        let start = move |at: u32, len: u32| {
            if len == OTHER {
                others.get(at as usize).map_or(base, |s| s.as_ptr())
            } else {
                base.wrapping_add(at as usize)
            }
        };
        self.words
            .chunks_exact(FRAME)
            .flat_map(move |w| [start(w[0], w[2] & 0xffff), start(w[1], w[2] >> 16)])
    }

    /// The frames, innermost first, as [`Symbolizer::frames_into`] gives
    /// them.
    pub fn frames(&self) -> impl ExactSizeIterator<Item = ChainFrame<'a>> + 'c {
        self.frame_texts().map(|f| ChainFrame {
            function: std::str::from_utf8(f.function).unwrap_or("?"),
            file: std::str::from_utf8(f.file).unwrap_or("?"),
            line: f.line,
            inlined: f.inlined,
        })
    }
}

/// Flag bit of the line word (lines come from `i32`s clamped at 0).
const INLINED: u32 = 1 << 31;
/// Flag bit of the head word.
const CORRUPTED: u32 = 1 << 16;
/// Words of a chain head.
const HEAD: usize = 3;
/// Words of a frame.
const FRAME: usize = 4;
/// The length of a string that is not a position in the table's bytes: its
/// position is an index into [`Chains::others`].
const OTHER: u32 = 0xffff;

/// Chains of frames built by [`Symbolizer::resolve`], kept compact so that
/// formatting PCs in input order (random chains) touches few cache lines:
/// a chain is one run of `u32` words, its id is the offset of that run
/// (ids are not consecutive). Strings are where the pclntab holds them:
/// a frame names each by its position and length there, so that a
/// formatter goes from a chain straight to the bytes (one cache miss less
/// than through a table of strings), and building a chain hashes nothing.
///
/// Layout of a chain: `frame count | CORRUPTED`, entry (low, high word),
/// then per frame: function position, file position, `function length |
/// file length << 16` and `line | INLINED`. A string outside the table's
/// bytes, or longer than 64 KiB, has length [`OTHER`] and its position is
/// an index into `others`.
#[derive(Debug, Clone, Default)]
pub struct Chains<'a> {
    words: Vec<u32>,
    /// The bytes positions point into (the pclntab's).
    base: &'a [u8],
    others: Vec<&'a str>,
    /// Index in `others` by (address, length).
    other_ids: HashMap<(usize, usize), u32>,
    count: usize,
}

impl<'a> Chains<'a> {
    /// The id [`Symbolizer::resolve`] gives PCs that no function contains.
    pub const NONE: u32 = u32::MAX;

    /// No chains.
    pub fn new() -> Self {
        Chains::default()
    }

    /// Number of chains.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no chains.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Removes every chain, keeping the memory.
    pub fn clear(&mut self) {
        self.words.clear();
        self.others.clear();
        self.other_ids.clear();
        self.count = 0;
    }

    /// The first word of chain `id`, for callers that ask the CPU to load
    /// it ahead of [`Chains::get`]; `head(id + k)` is `k` words further
    /// into the chain.
    #[inline]
    pub fn head(&self, id: u32) -> Option<&u32> {
        self.words.get(id as usize)
    }

    /// Chain `id`; `None` for [`Chains::NONE`] and ids not made here.
    #[inline]
    pub fn get(&self, id: u32) -> Option<Chain<'_, 'a>> {
        let at = id as usize;
        let head = self.words.get(at..at + HEAD)?;
        let n = (head[0] & 0xffff) as usize;
        Some(Chain {
            entry: u64::from(head[1]) | u64::from(head[2]) << 32,
            corrupted: head[0] & CORRUPTED != 0,
            words: self.words.get(at + HEAD..at + HEAD + FRAME * n)?,
            base: self.base,
            others: &self.others,
        })
    }

    /// Bytes of memory held.
    pub fn capacity_bytes(&self) -> usize {
        self.words.capacity() * 4
            + self.others.capacity() * size_of::<&str>()
            + self.other_ids.capacity() * (size_of::<(usize, usize)>() + 4)
    }

    /// Position and length of `s`: in `base` when it is there.
    #[inline]
    fn position(&mut self, s: &'a str) -> (u32, u32) {
        let at = (s.as_ptr() as usize).wrapping_sub(self.base.as_ptr() as usize);
        if at <= self.base.len()
            && s.len() <= self.base.len() - at
            && s.len() < OTHER as usize
            && let Ok(at) = u32::try_from(at)
        {
            return (at, s.len() as u32);
        }
        let key = (s.as_ptr() as usize, s.len());
        let id = *self.other_ids.entry(key).or_insert_with(|| {
            self.others.push(s);
            (self.others.len() - 1) as u32
        });
        (id, OTHER)
    }

    /// Starts a chain; returns its id, or `None` when the words are full.
    fn begin(&mut self, entry: u64) -> Option<u32> {
        // The most a chain can take, so that every offset fits an id.
        const MAX: usize = HEAD + FRAME * (MAX_INLINE_DEPTH + 1);
        let id = u32::try_from(self.words.len())
            .ok()
            .filter(|id| (*id as usize) + MAX < u32::MAX as usize)?;
        self.words
            .extend_from_slice(&[0, entry as u32, (entry >> 32) as u32]);
        Some(id)
    }

    #[inline]
    fn frame(&mut self, f: ChainFrame<'a>) {
        let (function, function_len) = self.position(f.function);
        let (file, file_len) = self.position(f.file);
        let line = f.line.min(!INLINED) | if f.inlined { INLINED } else { 0 };
        self.words
            .extend_from_slice(&[function, file, function_len | file_len << 16, line]);
    }

    fn end(&mut self, id: u32, corrupted: bool) {
        let at = id as usize;
        let n = (self.words.len() - at - HEAD) / FRAME;
        self.words[at] = n as u32 | if corrupted { CORRUPTED } else { 0 };
        self.count += 1;
    }
}

impl<'a> Cached<'a, '_> {
    #[inline]
    fn file_name(&mut self, n: Option<i32>) -> &'a str {
        let Some(n) = n else {
            return "?";
        };
        if !(0..MAX_CACHED_INDEX).contains(&n) {
            return self.func.file_name(n).unwrap_or("?");
        }
        let i = n as usize;
        if self.files.len() <= i {
            self.files.resize(i + 1, None);
        }
        if let Some(f) = self.files[i] {
            return f;
        }
        let f = self.func.file_name(n).unwrap_or("?");
        self.files[i] = Some(f);
        f
    }

    /// Values of the pcfile, pcln and inline tree index tables at `pc`,
    /// starting from the runs of hint set `h`.
    #[inline]
    fn values(&mut self, pc: u64, h: usize) -> TableValues {
        let [hf, hl, hi] = &mut self.hints[h];
        [
            lookup_near(&self.file, pc, hf),
            lookup_near(&self.line, pc, hl),
            if self.inl.is_empty() {
                None
            } else {
                lookup_near(&self.inl, pc, hi)
            },
        ]
    }

    /// The PCs around the last PC looked up with hint set 0 where the
    /// three tables keep the values they have there: `[from, until)`, or
    /// `None` when a table had no value there.
    #[inline]
    fn same_values(&self, values: &TableValues) -> Option<(u64, u64)> {
        let [hf, hl, hi] = self.hints[0];
        let mut from = self.func.entry();
        let mut until = self.func.next_entry();
        let runs = [
            (&self.file, hf, values[0]),
            (&self.line, hl, values[1]),
            (&self.inl, hi, values[2]),
        ];
        for (ranges, hint, value) in runs {
            if ranges.is_empty() {
                continue;
            }
            value?;
            let r = ranges.get(hint)?;
            from = from.max(r.start);
            until = until.min(r.end);
        }
        Some((from, until))
    }

    /// Inline tree entry `idx`, its call site and the table values there
    /// (looked up with hint set `h`).
    fn call(&mut self, idx: i32, h: usize) -> Result<(InlinedCall<'a>, u64, TableValues)> {
        let read = |c: &mut Self| -> Result<_> {
            let call = crate::pclntab::inline_entry(&c.func, idx)?;
            let site = c.func.entry().wrapping_add(call.parent_pc as i64 as u64);
            Ok((call, site, c.values(site, h)))
        };
        if idx >= MAX_CACHED_INDEX {
            return read(self);
        }
        let i = idx as usize;
        if self.calls.len() <= i {
            self.calls.resize(i + 1, None);
        }
        if let Some(c) = self.calls[i] {
            return Ok(c);
        }
        let c = read(self)?;
        self.calls[i] = Some(c);
        Ok(c)
    }

    /// Emits the frames at `pc`, innermost first, given the table values
    /// at `pc`; later lookups (call sites) use hint set `h`. On an error,
    /// the frames emitted so far stand.
    fn walk(
        &mut self,
        pc: u64,
        values: [Option<i32>; 3],
        h: usize,
        mut emit: impl FnMut(ChainFrame<'a>),
    ) -> Result<()> {
        let [mut file, mut line, mut inl] = values;
        let mut p = pc;
        for _ in 0..MAX_INLINE_DEPTH {
            let Some(idx) = inl.filter(|i| *i >= 0) else {
                break;
            };
            let (call, site, outer) = self.call(idx, h)?;
            emit(ChainFrame {
                function: call.name,
                file: self.file_name(file),
                line: line.map_or(0, |l| l.max(0) as u32),
                inlined: true,
            });
            if site == p {
                break;
            }
            p = site;
            [file, line, inl] = outer;
        }
        emit(ChainFrame {
            function: self.name,
            file: self.file_name(file),
            line: line.map_or(0, |l| l.max(0) as u32),
            inlined: false,
        });
        Ok(())
    }
}

/// Where a PC is, for [`Symbolizer::locate`].
enum At {
    /// In no function.
    Nowhere,
    /// In the cached function.
    Cached,
    /// In function `index`, whose table entry is corrupted.
    Corrupted(usize, crate::error::Error),
}

/// Turns PCs into frames, reusing decoded tables between calls. Not
/// `Sync`: use one per thread.
pub struct Symbolizer<'a, 't> {
    tab: &'t Pclntab<'a>,
    cached: Option<Cached<'a, 't>>,
}

impl<'a, 't> Symbolizer<'a, 't> {
    /// A symbolizer over `tab`.
    pub fn new(tab: &'t Pclntab<'a>) -> Self {
        Symbolizer { tab, cached: None }
    }

    /// The functab slot of the function containing `pc`.
    #[inline]
    fn index_of(&self, pc: u64) -> Option<usize> {
        let Some(c) = &self.cached else {
            return self.tab.find_index(pc);
        };
        // Sorted input mostly stays in the cached function: skip the search.
        if c.func.entry() <= pc && pc < c.func.next_entry() {
            return Some(c.func.index());
        }
        // Or in one of the next few functions.
        if c.func.next_entry() <= pc {
            let first = c.func.index() + 1;
            for i in first..(first + 8).min(self.tab.len()) {
                match (self.tab.entry_at(i), self.tab.entry_at(i + 1)) {
                    (Some(e), Some(n)) if e <= pc => {
                        if pc < n {
                            return Some(i);
                        }
                    }
                    _ => break,
                }
            }
        }
        self.tab.find_index(pc)
    }

    /// Makes the function containing `pc` the cached one.
    fn locate(&mut self, pc: u64) -> At {
        let Some(index) = self.index_of(pc) else {
            return At::Nowhere;
        };
        if matches!(&self.cached, Some(c) if c.func.index() == index) {
            return At::Cached;
        }
        let func = match self.tab.func(index) {
            Ok(f) => f,
            Err(e) => return At::Corrupted(index, e),
        };
        // Reuse the vectors of the previous function.
        let (mut file, mut line, mut inl, mut files, mut calls) = match self.cached.take() {
            Some(c) => (c.file, c.line, c.inl, c.files, c.calls),
            None => Default::default(),
        };
        file.clear();
        file.extend(func.pcfile_ranges());
        line.clear();
        line.extend(func.pcln_ranges());
        inl.clear();
        inl.extend(func.pcdata_ranges(PCDATA_INL_TREE_INDEX));
        files.clear();
        calls.clear();
        self.cached = Some(Cached {
            name: func.name().unwrap_or("?"),
            func,
            file,
            line,
            inl,
            files,
            calls,
            hints: [[0; 3]; 2],
        });
        At::Cached
    }

    /// Appends the frames at `pc` (as given, no `-1`) to `out`, innermost
    /// first. Appends nothing when no function contains `pc`.
    pub fn frames_into(&mut self, pc: u64, out: &mut Vec<Frame<'a>>) -> Result<()> {
        match self.locate(pc) {
            At::Nowhere => return Ok(()),
            At::Corrupted(_, e) => return Err(e),
            At::Cached => {}
        }
        let Some(c) = self.cached.as_mut() else {
            return Ok(());
        };
        let entry = c.func.entry();
        let values = c.values(pc, 0);
        c.walk(pc, values, 0, |f| out.push(f.at(entry, pc)))
    }

    /// Frames at `pc` in a new vector.
    pub fn frames(&mut self, pc: u64) -> Result<Vec<Frame<'a>>> {
        let mut out = Vec::new();
        self.frames_into(pc, &mut out)?;
        Ok(out)
    }

    /// Resolves many PCs at once: calls `each` with one chain id per PC of
    /// `pcs`, in order, naming a chain of `chains` (made as needed), or
    /// [`Chains::NONE`] when no function contains the PC. A chain's frames
    /// are those [`Symbolizer::frames_into`] gives for each of its PCs,
    /// with the offset `pc - entry`; where `frames_into` fails the chain is
    /// marked corrupted.
    ///
    /// Consecutive PCs with equal frames share a chain: give the PCs in
    /// ascending order and each function's tables are decoded once and
    /// most PCs cost a few comparisons. Any order gives the same frames.
    ///
    /// Returns how many PCs were resolved: all of them, unless `chains`
    /// filled its 2^32 words (about 16 GiB, more than a billion chains),
    /// in which case it stops there.
    pub fn resolve(
        &mut self,
        pcs: impl IntoIterator<Item = u64>,
        chains: &mut Chains<'a>,
        mut each: impl FnMut(u32),
    ) -> usize {
        // The chain of the previous PC and what it was made from: the
        // function and its table values at the PC (None: the function's
        // table entry is corrupted).
        let mut last: Option<(usize, Option<TableValues>, u32)> = None;
        // The PCs whose frames are those of the last chain, found from the
        // table runs that hold at its PC: ascending PCs skip every lookup
        // while they stay there.
        let mut same: Option<(u64, u64)> = None;
        let mut resolved = 0;
        // Chains made from another table keep their base: this table's
        // strings then fall outside it and go to `others`, still right.
        if chains.words.is_empty() {
            chains.base = self.tab.data();
        }
        for pc in pcs {
            if let (Some((from, until)), Some((_, _, id))) = (same, last)
                && from <= pc
                && pc < until
            {
                each(id);
                resolved += 1;
                continue;
            }
            same = None;
            let (index, values) = match self.locate(pc) {
                At::Nowhere => {
                    each(Chains::NONE);
                    resolved += 1;
                    continue;
                }
                At::Corrupted(index, _) => (index, None),
                At::Cached => match self.cached.as_mut() {
                    Some(c) => (c.func.index(), Some(c.values(pc, 0))),
                    None => {
                        each(Chains::NONE);
                        resolved += 1;
                        continue;
                    }
                },
            };
            if let Some(c) = self.cached.as_ref()
                && let Some(v) = &values
                && c.func.index() == index
            {
                same = c.same_values(v);
            }
            if let Some((i, v, id)) = last
                && i == index
                && v == values
            {
                each(id);
                resolved += 1;
                continue;
            }
            let entry = match self.cached.as_ref() {
                Some(c) if values.is_some() => c.func.entry(),
                _ => self.tab.entry_at(index).unwrap_or(0),
            };
            let Some(id) = chains.begin(entry) else {
                return resolved;
            };
            let corrupted = match (values, self.cached.as_mut()) {
                (Some(values), Some(c)) => c.walk(pc, values, 1, |f| chains.frame(f)).is_err(),
                _ => true,
            };
            chains.end(id, corrupted);
            last = Some((index, values, id));
            each(id);
            resolved += 1;
        }
        resolved
    }
}
