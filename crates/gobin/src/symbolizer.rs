//! Symbolizing many PCs: the per-function pc-value tables are decoded once
//! and kept while consecutive PCs fall in the same function, so sorted
//! batches cost one table decode per function instead of one per PC. File
//! names, the function name and inline tree entries are resolved once per
//! function too.

use crate::error::Result;
use crate::pclntab::pcvalue::PcRange;
use crate::pclntab::{Func, InlinedCall, PCDATA_INL_TREE_INDEX, Pclntab};
use crate::symbolize::Frame;

struct Cached<'a, 't> {
    func: Func<'a, 't>,
    name: &'a str,
    file: Vec<PcRange>,
    line: Vec<PcRange>,
    inl: Vec<PcRange>,
    /// File names by file number, resolved on first use.
    files: Vec<Option<&'a str>>,
    /// Inline tree entries by index, read on first use.
    calls: Vec<Option<InlinedCall<'a>>>,
    /// Last run found in `file`, `line`, `inl`.
    hints: [usize; 3],
}

/// Table sizes above which per-number caches are not kept (corrupted
/// tables could ask for huge ones).
const MAX_CACHED_INDEX: i32 = 1 << 16;

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

impl<'a> Cached<'a, '_> {
    #[inline]
    fn file_at(&mut self, pc: u64) -> &'a str {
        let Some(n) = lookup_near(&self.file, pc, &mut self.hints[0]) else {
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

    #[inline]
    fn line_at(&mut self, pc: u64) -> u32 {
        lookup_near(&self.line, pc, &mut self.hints[1]).map_or(0, |l| l.max(0) as u32)
    }

    fn call(&mut self, idx: i32) -> Result<InlinedCall<'a>> {
        if idx >= MAX_CACHED_INDEX {
            return crate::pclntab::inline_entry(&self.func, idx);
        }
        let i = idx as usize;
        if self.calls.len() <= i {
            self.calls.resize(i + 1, None);
        }
        if let Some(c) = self.calls[i] {
            return Ok(c);
        }
        let c = crate::pclntab::inline_entry(&self.func, idx)?;
        self.calls[i] = Some(c);
        Ok(c)
    }
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

    /// Appends the frames at `pc` (as given, no `-1`) to `out`, innermost
    /// first. Appends nothing when no function contains `pc`.
    pub fn frames_into(&mut self, pc: u64, out: &mut Vec<Frame<'a>>) -> Result<()> {
        // Sorted input mostly stays in the cached function: skip the search.
        let index = match &self.cached {
            Some(c) if c.func.entry() <= pc && pc < c.func.next_entry() => c.func.index(),
            // Or in one of the next few functions.
            Some(c) if c.func.next_entry() <= pc => {
                let mut i = c.func.index() + 1;
                loop {
                    match (self.tab.entry_at(i), self.tab.entry_at(i + 1)) {
                        (Some(e), Some(n)) if i < self.tab.len() && e <= pc && pc < n => break i,
                        (Some(e), Some(_))
                            if i < self.tab.len() && e <= pc && i < c.func.index() + 8 =>
                        {
                            i += 1
                        }
                        _ => match self.tab.find_index(pc) {
                            Some(i) => break i,
                            None => return Ok(()),
                        },
                    }
                }
            }
            _ => match self.tab.find_index(pc) {
                Some(i) => i,
                None => return Ok(()),
            },
        };
        let hit = matches!(&self.cached, Some(c) if c.func.index() == index);
        if !hit {
            let func = self.tab.func(index)?;
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
                hints: [0; 3],
            });
        }
        let Some(c) = self.cached.as_mut() else {
            return Ok(());
        };
        let entry = c.func.entry();
        let offset = pc.wrapping_sub(entry);
        let mut p = pc;
        if !c.inl.is_empty() {
            for _ in 0..1024 {
                let Some(idx) = lookup_near(&c.inl, p, &mut c.hints[2]).filter(|i| *i >= 0) else {
                    break;
                };
                let call = c.call(idx)?;
                out.push(Frame {
                    function: call.name,
                    file: c.file_at(p),
                    line: c.line_at(p),
                    entry,
                    offset,
                    inlined: true,
                });
                let next = entry.wrapping_add(call.parent_pc as i64 as u64);
                if next == p {
                    break;
                }
                p = next;
            }
        }
        out.push(Frame {
            function: c.name,
            file: c.file_at(p),
            line: c.line_at(p),
            entry,
            offset,
            inlined: false,
        });
        Ok(())
    }

    /// Frames at `pc` in a new vector.
    pub fn frames(&mut self, pc: u64) -> Result<Vec<Frame<'a>>> {
        let mut out = Vec::new();
        self.frames_into(pc, &mut out)?;
        Ok(out)
    }
}
