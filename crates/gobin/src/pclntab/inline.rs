//! Inline trees (`FUNCDATA_InlTree` indexed by `PCDATA_InlTreeIndex`):
//! `runtime/symtabinl.go` (`inlinedCall`, `inlineUnwinder`).
//!
//! Entry layouts: Go 1.12–1.19, 20 bytes `{parent i16, funcID u8, _ u8,
//! file i32, line i32, func_ i32 (nameOff), parentPc i32}`; Go 1.20+,
//! 16 bytes `{funcID u8, _ [3]u8, nameOff i32, parentPc i32, startLine i32}`.
//! Both carry `parentPc`, the offset from the physical function's entry of
//! an instruction whose position is the call site, which is how the runtime
//! walks the chain since 1.12 in both layouts.

use super::{Pclntab, Version};
use crate::elf::Bytes;
use crate::error::{Error, ErrorKind, Pos, Result};

/// One inline tree entry: a call that the compiler inlined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InlinedCall<'a> {
    /// The inlined function's name.
    pub name: &'a str,
    /// `abi.FuncID` of the inlined function.
    pub func_id: u8,
    /// Offset from the physical function's entry of an instruction located
    /// at the call site (in the caller).
    pub parent_pc: i32,
    /// Line of the inlined function's `func` keyword (Go 1.20+).
    pub start_line: Option<i32>,
}

/// Reads entry `idx` of the inline tree at address `tree`.
pub(super) fn read<'a>(tab: &Pclntab<'a>, tree: u64, idx: i32) -> Result<InlinedCall<'a>> {
    let size: u64 = if tab.version() >= Version::Go120 {
        16
    } else {
        20
    };
    let addr = tree.wrapping_add(size.wrapping_mul(idx as u64));
    let raw = tab.memory().read(addr, size).ok_or_else(|| {
        Error::new(
            ErrorKind::Unmapped {
                what: "inline tree entry",
            },
            Pos::Addr(addr),
        )
    })?;
    let b = Bytes::new(raw, tab.endian());
    let entry = if tab.version() >= Version::Go120 {
        (b.u8(0), b.i32(4), b.i32(8), b.i32(12).map(Some))
    } else {
        (b.u8(2), b.i32(12), b.i32(16), Some(None))
    };
    let (Some(func_id), Some(name_off), Some(parent_pc), Some(start_line)) = entry else {
        return Err(Error::truncated("inline tree entry", Pos::Addr(addr)));
    };
    let name = tab
        .name_at(name_off)
        .ok_or_else(|| Error::bad("inline tree name offset", name_off as u64, Pos::Addr(addr)))?;
    Ok(InlinedCall {
        name,
        func_id,
        parent_pc,
        start_line,
    })
}
