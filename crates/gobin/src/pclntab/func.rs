//! `_func` records (`runtime/runtime2.go`), whose field widths vary by
//! layout generation (`debug/gosym: funcData.field`).

use super::inline::InlinedCall;
use super::pcvalue::{self, PcValueIter};
use super::{FUNCDATA_INL_TREE, PCDATA_INL_TREE_INDEX, Pclntab, Version};
use crate::error::{Error, Result};

/// `abi.FuncFlag` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FuncFlag(pub u8);

impl FuncFlag {
    /// `FuncFlagTopFrame`: the function is the outermost frame of a stack
    /// (`runtime.goexit`, `runtime.mstart`, ...); unwinding stops here.
    pub const TOP_FRAME: u8 = 1;
    /// `FuncFlagSPWrite`: the function writes SP arbitrarily; the stack
    /// above it cannot be unwound.
    pub const SP_WRITE: u8 = 2;
    /// `FuncFlagAsm`: written in assembly.
    pub const ASM: u8 = 4;

    /// Whether `bit` is set.
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// One function of the pclntab.
#[derive(Debug, Clone)]
pub struct Func<'a, 't> {
    tab: &'t Pclntab<'a>,
    index: usize,
    /// Offset of the record in the table data.
    off: usize,
    entry: u64,
    next_entry: u64,
    name_off: i32,
    args: i32,
    deferreturn: u32,
    pcsp: u32,
    pcfile: u32,
    pcln: u32,
    npcdata: u32,
    cu_offset: u32,
    start_line: Option<i32>,
    func_id: u8,
    flag: u8,
    nfuncdata: u8,
    /// Offset of the pcdata array in the table data.
    pcdata: usize,
}

impl<'a, 't> Func<'a, 't> {
    pub(super) fn parse(
        tab: &'t Pclntab<'a>,
        index: usize,
        off: usize,
        entry: u64,
        next_entry: u64,
    ) -> Result<Self> {
        let b = tab.bytes();
        let trunc = || Error::truncated("_func record", tab.pos(off));
        let u32_at = |o: usize| b.u32(off + o).ok_or_else(trunc);
        let u8_at = |o: usize| b.u8(off + o).ok_or_else(trunc);
        // Offset of nameOff: after the entry (u32 from 1.18 on, else a
        // pointer).
        let p = if tab.version() >= Version::Go118 {
            4
        } else {
            usize::from(tab.ptr_size())
        };
        if tab.version() >= Version::Go118 {
            let entry_off = u32_at(0)?;
            let expect = entry.wrapping_sub(tab.text_start());
            if u64::from(entry_off) != expect {
                return Err(Error::bad(
                    "_func entry offset",
                    u64::from(entry_off),
                    tab.pos(off),
                ));
            }
        } else {
            let e = b.word(off, tab.ptr_size()).ok_or_else(trunc)?;
            if e != entry {
                return Err(Error::bad("_func entry", e, tab.pos(off)));
            }
        }
        let name_off = u32_at(p)? as i32;
        let args = u32_at(p + 4)? as i32;
        let deferreturn = u32_at(p + 8)?;
        let pcsp = u32_at(p + 12)?;
        let pcfile = u32_at(p + 16)?;
        let pcln = u32_at(p + 20)?;
        let npcdata = u32_at(p + 24)?;
        let (cu_offset, start_line, tail) = match tab.version() {
            Version::Go12 => (0, None, p + 28),
            Version::Go116 | Version::Go118 => (u32_at(p + 28)?, None, p + 32),
            Version::Go120 => (u32_at(p + 28)?, Some(u32_at(p + 32)? as i32), p + 36),
        };
        let func_id = u8_at(tail)?;
        let flag = if tab.version() >= Version::Go116 {
            u8_at(tail + 1)?
        } else {
            0
        };
        let nfuncdata = u8_at(tail + 3)?;
        let pcdata = off + tail + 4;
        if npcdata > 1 << 16 {
            return Err(Error::bad(
                "_func npcdata",
                u64::from(npcdata),
                tab.pos(off + p + 24),
            ));
        }
        Ok(Func {
            tab,
            index,
            off,
            entry,
            next_entry,
            name_off,
            args,
            deferreturn,
            pcsp,
            pcfile,
            pcln,
            npcdata,
            cu_offset,
            start_line,
            func_id,
            flag,
            nfuncdata,
            pcdata,
        })
    }

    /// Index in the function table.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Entry PC.
    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// Entry of the next function: the end of this one including alignment
    /// padding.
    pub fn next_entry(&self) -> u64 {
        self.next_entry
    }

    /// End of the function's code (exclusive), from the end of its line
    /// table: what `nm -size` reports, without the padding up to the next
    /// function. Falls back to [`Func::next_entry`].
    pub fn end(&self) -> u64 {
        self.tab
            .pctable(self.pcln)
            .and_then(|t| pcvalue::table_end(t, self.entry, self.tab.quantum()))
            .filter(|&e| e > self.entry && e <= self.next_entry)
            .unwrap_or(self.next_entry)
    }

    /// Bytes of code: [`Func::end`] minus the entry.
    pub fn size(&self) -> u64 {
        self.end().saturating_sub(self.entry)
    }

    /// The function's symbol name (raw, e.g. `main.(*T).m`).
    pub fn name(&self) -> Option<&'a str> {
        self.tab.name_at(self.name_off)
    }

    /// Size of the arguments in bytes (`args`; negative for some assembly).
    pub fn args(&self) -> i32 {
        self.args
    }

    /// Offset of the deferreturn call, 0 if none.
    pub fn deferreturn(&self) -> u32 {
        self.deferreturn
    }

    /// `abi.FuncID` (values shift between Go versions: match names instead).
    pub fn func_id(&self) -> u8 {
        self.func_id
    }

    /// `abi.FuncFlag` bits.
    pub fn flag(&self) -> FuncFlag {
        FuncFlag(self.flag)
    }

    /// Line of the `func` keyword (Go 1.20+).
    pub fn start_line(&self) -> Option<i32> {
        self.start_line
    }

    /// Offset into the cutab of this function's compilation unit.
    pub fn cu_offset(&self) -> u32 {
        self.cu_offset
    }

    /// Number of pcdata tables.
    pub fn npcdata(&self) -> u32 {
        self.npcdata
    }

    /// Number of funcdata slots.
    pub fn nfuncdata(&self) -> u8 {
        self.nfuncdata
    }

    fn value(&self, table: u32, pc: u64) -> Option<i32> {
        let t = self.tab.pctable(table)?;
        pcvalue::value_at(t, self.entry, self.tab.quantum(), pc)
    }

    /// Ranges of a pc-value table of this function.
    fn ranges(&self, table: u32) -> PcValueIter<'a> {
        PcValueIter::new(
            self.tab.pctable(table).unwrap_or(&[]),
            self.entry,
            self.tab.quantum(),
        )
    }

    /// SP offset from the entry state at `pc` (pcsp): the frame size the
    /// unwinder adds to SP. Use the real PC, not PC−1.
    pub fn sp_delta(&self, pc: u64) -> Option<i32> {
        self.value(self.pcsp, pc)
    }

    /// Largest SP delta over the function (`funcMaxSPDelta`).
    pub fn max_sp_delta(&self) -> i32 {
        self.ranges(self.pcsp).map(|r| r.value).max().unwrap_or(0)
    }

    /// The pcsp table as ranges.
    pub fn pcsp_ranges(&self) -> PcValueIter<'a> {
        self.ranges(self.pcsp)
    }

    /// The pcln table as ranges.
    pub fn pcln_ranges(&self) -> PcValueIter<'a> {
        self.ranges(self.pcln)
    }

    /// The pcfile table as ranges (values are file numbers for
    /// [`Func::file_name`]).
    pub fn pcfile_ranges(&self) -> PcValueIter<'a> {
        self.ranges(self.pcfile)
    }

    /// Source line of the instruction at `pc` (innermost inlined position).
    pub fn line(&self, pc: u64) -> Option<i32> {
        self.value(self.pcln, pc)
    }

    /// File number at `pc`.
    pub fn file_no(&self, pc: u64) -> Option<i32> {
        self.value(self.pcfile, pc)
    }

    /// Source file of the instruction at `pc`.
    pub fn file(&self, pc: u64) -> Option<&'a str> {
        self.file_name(self.file_no(pc)?)
    }

    /// A file name by file number.
    pub fn file_name(&self, fileno: i32) -> Option<&'a str> {
        self.tab.file_name(self.cu_offset, fileno)
    }

    /// The offset (into pctab) of pcdata table `n`, 0 when absent.
    pub fn pcdata_table(&self, n: usize) -> u32 {
        if n as u32 >= self.npcdata {
            return 0;
        }
        self.tab.bytes().u32(self.pcdata + 4 * n).unwrap_or(0)
    }

    /// Value of pcdata table `n` at `pc`.
    pub fn pcdata(&self, n: usize, pc: u64) -> Option<i32> {
        let t = self.pcdata_table(n);
        if t == 0 {
            return None;
        }
        self.value(t, pc)
    }

    /// Ranges of pcdata table `n`.
    pub fn pcdata_ranges(&self, n: usize) -> PcValueIter<'a> {
        self.ranges(self.pcdata_table(n))
    }

    /// Address of funcdata `n`, or `None` when nil or unknown.
    pub fn funcdata(&self, n: usize) -> Option<u64> {
        if n >= usize::from(self.nfuncdata) {
            return None;
        }
        let b = self.tab.bytes();
        let base = self.pcdata + 4 * self.npcdata as usize;
        if self.tab.version() >= Version::Go118 {
            let off = b.u32(base + 4 * n)?;
            if off == u32::MAX {
                return None;
            }
            Some(self.tab.gofunc()?.wrapping_add(u64::from(off)))
        } else {
            // Pointer-aligned absolute pointers (by address).
            let ps = usize::from(self.tab.ptr_size());
            let mut p = base;
            if ps == 8 && (self.tab.address().wrapping_add(p as u64)) & 4 != 0 {
                p += 4;
            }
            let v = b.word(p + ps * n, self.tab.ptr_size())?;
            (v != 0).then_some(v)
        }
    }

    /// The inline tree entry active at `pc`, if `pc` is in inlined code.
    pub fn inlined_call(&self, pc: u64) -> Option<Result<InlinedCall<'a>>> {
        let idx = self.pcdata(PCDATA_INL_TREE_INDEX, pc)?;
        if idx < 0 {
            return None;
        }
        Some(self.inline_tree_entry(idx))
    }

    pub(crate) fn inline_tree_entry(&self, idx: i32) -> Result<InlinedCall<'a>> {
        let tree = self.funcdata(FUNCDATA_INL_TREE).ok_or_else(|| {
            Error::new(
                crate::error::ErrorKind::Unmapped {
                    what: "inline tree (FUNCDATA_InlTree)",
                },
                self.tab.pos(self.off),
            )
        })?;
        super::inline::read(self.tab, tree, idx)
    }

    /// The pclntab this function belongs to.
    pub fn table(&self) -> &'t Pclntab<'a> {
        self.tab
    }
}
