//! Runtime type descriptors (`internal/abi.Type`): the dynamic type of an
//! interface value or a panic argument, by name and kind, without DWARF.
//!
//! The name is an `abi.Name` at `moduledata.types + Str` (a flag byte, a
//! uvarint length, the bytes); `TFlagExtraStar` means the stored name has
//! a `*` to drop. "Direct interface" (the interface word *is* the value)
//! moved from `Kind_` bit 5 to `TFlag` bit 5 in Go 1.26
//! (`internal/abi/type.go`).

use crate::error::{Error, Result};
use crate::process::Process;

/// `reflect.Kind` numbers.
#[allow(missing_docs)]
pub mod kind {
    pub const BOOL: u8 = 1;
    pub const INT: u8 = 2;
    pub const INT8: u8 = 3;
    pub const INT16: u8 = 4;
    pub const INT32: u8 = 5;
    pub const INT64: u8 = 6;
    pub const UINT: u8 = 7;
    pub const UINT8: u8 = 8;
    pub const UINT16: u8 = 9;
    pub const UINT32: u8 = 10;
    pub const UINT64: u8 = 11;
    pub const UINTPTR: u8 = 12;
    pub const FLOAT32: u8 = 13;
    pub const FLOAT64: u8 = 14;
    pub const COMPLEX64: u8 = 15;
    pub const COMPLEX128: u8 = 16;
    pub const ARRAY: u8 = 17;
    pub const CHAN: u8 = 18;
    pub const FUNC: u8 = 19;
    pub const INTERFACE: u8 = 20;
    pub const MAP: u8 = 21;
    pub const POINTER: u8 = 22;
    pub const SLICE: u8 = 23;
    pub const STRING: u8 = 24;
    pub const STRUCT: u8 = 25;
    pub const UNSAFE_POINTER: u8 = 26;
}

/// A runtime type descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RType {
    /// Address of the descriptor.
    pub addr: u64,
    /// Name as `reflect.Type.String` gives it (`main.Mismatch`, `*os.File`).
    pub name: String,
    /// `reflect.Kind`.
    pub kind: u8,
    /// Values of this type are stored in the interface word itself.
    pub direct_iface: bool,
    /// Size of a value.
    pub size: u64,
    /// Offset of the descriptor from its module's `types` (what DWARF's
    /// `DW_AT_go_runtime_type` holds).
    pub types_offset: Option<u64>,
}

impl Process<'_, '_> {
    /// The `[types, etypes)` range of the module holding `addr`.
    fn module_types(&self, addr: u64) -> Option<(u64, u64)> {
        let r = self.reader();
        let l = &self.layout().module;
        let mut md = self.globals().firstmoduledata?;
        for _ in 0..64 {
            let types = r.ptr(md.wrapping_add(l.types)).ok()?;
            let etypes = r.ptr(md.wrapping_add(l.etypes)).ok()?;
            if types <= addr && addr < etypes {
                return Some((types, etypes));
            }
            md = r.ptr(md.wrapping_add(l.next)).ok()?;
            if md == 0 {
                break;
            }
        }
        None
    }

    /// Reads the runtime type descriptor at `addr`.
    pub fn rtype(&self, addr: u64) -> Result<RType> {
        let r = self.reader();
        let l = &self.layout().ty;
        let at = || format!("runtime type descriptor at {addr:#x}");
        let tflag = r
            .u8(addr.wrapping_add(l.tflag))
            .map_err(|e| Error::mem(e, at()))?;
        let kind_raw = r
            .u8(addr.wrapping_add(l.kind))
            .map_err(|e| Error::mem(e, at()))?;
        let size = r
            .ptr(addr.wrapping_add(l.size))
            .map_err(|e| Error::mem(e, at()))?;
        let str_off = r
            .int(addr.wrapping_add(l.str_), 4)
            .map_err(|e| Error::mem(e, at()))?;
        let direct_iface = if self.go_version().is_some_and(|v| v.at_least(26)) {
            tflag & 0x20 != 0
        } else {
            kind_raw & 0x20 != 0
        };
        let module = self.module_types(addr);
        let name = match module {
            Some((types, _)) => {
                let mut n = read_name(self, types.wrapping_add(str_off as u64))
                    .map_err(|e| Error::mem(e, at()))?;
                if tflag & 2 != 0 && n.starts_with('*') {
                    n.remove(0);
                }
                n
            }
            None => format!("<type at {addr:#x}>"),
        };
        Ok(RType {
            addr,
            name,
            kind: kind_raw & 0x1f,
            direct_iface,
            size,
            types_offset: module.map(|(types, _)| addr.wrapping_sub(types)),
        })
    }
}

/// An `abi.Name`: flag byte, uvarint length, bytes.
fn read_name(p: &Process<'_, '_>, addr: u64) -> Result<String, crate::memory::MemError> {
    let r = p.reader();
    let mut len = 0u64;
    let mut shift = 0;
    let mut i = 1;
    loop {
        let b = r.u8(addr.wrapping_add(i))?;
        len |= u64::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 || shift > 28 {
            break;
        }
        shift += 7;
    }
    let b = r.bytes(addr.wrapping_add(i), len.min(4096))?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}
