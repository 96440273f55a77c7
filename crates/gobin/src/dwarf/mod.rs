//! DWARF as the gc toolchain emits it (`cmd/link/internal/ld/dwarf.go`,
//! `cmd/internal/dwarf`): one compilation unit per package, Go's own
//! attributes (`DW_AT_go_kind` 0x2900 ...), DWARF 4 up to Go 1.24 and
//! DWARF 5 from Go 1.25, every section `SHF_COMPRESSED` (zlib).
//!
//! [`DwarfData`] owns the decompressed sections (borrowing those stored
//! uncompressed) and a name index built on the first name query; a
//! [`Dwarf`] view borrows it and answers queries. Everything handed out is
//! owned data keyed by [`TypeRef`] (a `.debug_info` offset), so callers can
//! keep results without lifetimes.

mod lines;
mod types;
mod vars;

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use gimli::{DebuggingInformationEntry, RunTimeEndian, SectionId};

use crate::elf::{Elf, Endian};
use crate::error::{Error, ErrorKind, Pos, Result};

pub use lines::LineRow;
pub use types::{Field, GoKind, Type, TypeKind, TypeRef};
pub use vars::{
    Constant, FunctionDie, Global, LocalVariable, Location, LocationContext, Piece, PieceLocation,
    VariableRole,
};

pub(crate) type R<'a> = gimli::EndianSlice<'a, RunTimeEndian>;

/// Go's DWARF attributes (`cmd/internal/dwarf/dwarf_defs.go`).
pub(crate) mod go_at {
    use gimli::DwAt;
    pub const KIND: DwAt = DwAt(0x2900);
    pub const KEY: DwAt = DwAt(0x2901);
    pub const ELEM: DwAt = DwAt(0x2902);
    pub const EMBEDDED_FIELD: DwAt = DwAt(0x2903);
    pub const RUNTIME_TYPE: DwAt = DwAt(0x2904);
    pub const PACKAGE_NAME: DwAt = DwAt(0x2905);
    pub const DICT_INDEX: DwAt = DwAt(0x2906);
}

/// Presence and version of DWARF, read cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DwarfInfo {
    /// Version of the first compilation unit (4 or 5 for Go).
    pub version: u16,
    /// Whether `.debug_info` is compressed.
    pub compressed: bool,
}

/// One compilation unit (a Go package, or a C file in cgo binaries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileUnit {
    /// Index among the units, in section order.
    pub index: usize,
    /// `.debug_info` offset of the unit header.
    pub offset: u64,
    /// `DW_AT_name` (the package path for Go).
    pub name: String,
    /// `DW_AT_producer`, e.g. `Go cmd/compile go1.26.8; regabi`.
    pub producer: String,
    /// `DW_AT_language` (22 = Go).
    pub language: u16,
    /// `DW_AT_go_package_name`.
    pub package_name: Option<String>,
    /// DWARF version of the unit.
    pub version: u16,
}

/// Name index over all units (offsets only).
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub units: Vec<CompileUnit>,
    pub types: HashMap<String, u64>,
    pub globals: HashMap<String, u64>,
    pub constants: HashMap<String, u64>,
    /// name → (DIE offset, has a PC range).
    pub functions: HashMap<String, (u64, bool)>,
    /// (low_pc, high_pc, DIE offset) sorted by low_pc.
    pub function_ranges: Vec<(u64, u64, u64)>,
    pub runtime_types: HashMap<u64, u64>,
}

/// Owned DWARF sections of a binary, plus the lazily built index.
pub(crate) struct DwarfData<'data> {
    sections: gimli::DwarfSections<Cow<'data, [u8]>>,
    endian: RunTimeEndian,
    index: OnceLock<Result<Index>>,
}

impl<'data> DwarfData<'data> {
    pub(crate) fn load(elf: &Elf<'data>) -> Result<Self> {
        if elf.section_range(".debug_info").is_none() {
            return Err(Error::new(ErrorKind::NoDwarf, Pos::Unknown));
        }
        let sections = gimli::DwarfSections::load(|id: SectionId| -> Result<Cow<'data, [u8]>> {
            Ok(elf
                .section_uncompressed(id.name())?
                .unwrap_or(Cow::Borrowed(&[][..])))
        })?;
        let endian = match elf.endian() {
            Endian::Little => RunTimeEndian::Little,
            Endian::Big => RunTimeEndian::Big,
        };
        Ok(DwarfData {
            sections,
            endian,
            index: OnceLock::new(),
        })
    }

    /// Version of the first unit without decompressing the whole section.
    pub(crate) fn probe(elf: &Elf<'_>) -> Option<DwarfInfo> {
        let (head, compressed) = elf.section_head(".debug_info", 16)?;
        let e = elf.endian();
        let len32 = e.u32(head.get(0..4)?.try_into().ok()?);
        let vo = if len32 == 0xffff_ffff { 12 } else { 4 };
        let version = e.u16(head.get(vo..vo + 2)?.try_into().ok()?);
        Some(DwarfInfo {
            version,
            compressed,
        })
    }

    pub(crate) fn view(&self) -> Dwarf<'_> {
        let dwarf = self
            .sections
            .borrow(|s| gimli::EndianSlice::new(s, self.endian));
        Dwarf {
            data: self,
            dwarf,
            units: OnceCell::new(),
            lines: OnceCell::new(),
        }
    }
}

/// A view of a binary's DWARF: compilation units, lines, types, variables.
///
/// Cheap to create ([`crate::Binary::dwarf`]); keeps parsed unit headers
/// while it lives. Not `Sync` (use one view per thread).
pub struct Dwarf<'d> {
    data: &'d DwarfData<'d>,
    dwarf: gimli::Dwarf<R<'d>>,
    units: OnceCell<Vec<OnceCell<gimli::Unit<R<'d>>>>>,
    lines: OnceCell<Vec<OnceCell<Vec<lines::LineRange>>>>,
}

impl From<gimli::Error> for Error {
    fn from(e: gimli::Error) -> Self {
        Error::new(ErrorKind::Dwarf(e), Pos::Unknown)
    }
}

pub(crate) fn dwarf_err(e: gimli::Error, section: &'static str, offset: u64) -> Error {
    Error::new(
        ErrorKind::Dwarf(e),
        Pos::Section {
            name: section,
            offset,
        },
    )
}

impl<'d> Dwarf<'d> {
    /// The underlying gimli view, for queries this API does not cover.
    pub fn gimli(&self) -> &gimli::Dwarf<R<'d>> {
        &self.dwarf
    }

    pub(crate) fn index(&self) -> Result<&'d Index> {
        self.data
            .index
            .get_or_init(|| build_index(&self.dwarf))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// All compilation units.
    pub fn compile_units(&self) -> Result<&'d [CompileUnit]> {
        Ok(&self.index()?.units)
    }

    /// The parsed gimli unit number `i`.
    pub(crate) fn unit(&self, i: usize) -> Result<&gimli::Unit<R<'d>>> {
        let idx = self.index()?;
        let cells = self
            .units
            .get_or_init(|| idx.units.iter().map(|_| OnceCell::new()).collect());
        let cell = cells
            .get(i)
            .ok_or_else(|| Error::bad("compilation unit index", i as u64, Pos::Unknown))?;
        if let Some(u) = cell.get() {
            return Ok(u);
        }
        let off = idx.units[i].offset;
        let header = self
            .dwarf
            .debug_info
            .header_from_offset(gimli::DebugInfoOffset(off as usize))
            .map_err(|e| dwarf_err(e, ".debug_info", off))?;
        let unit = self
            .dwarf
            .unit(header)
            .map_err(|e| dwarf_err(e, ".debug_info", off))?;
        Ok(cell.get_or_init(|| unit))
    }

    /// The unit index holding `.debug_info` offset `off`.
    pub(crate) fn unit_of(&self, off: u64) -> Result<usize> {
        let units = &self.index()?.units;
        let i = units.partition_point(|u| u.offset <= off);
        i.checked_sub(1).ok_or_else(|| {
            Error::bad(
                "DIE offset",
                off,
                Pos::Section {
                    name: ".debug_info",
                    offset: off,
                },
            )
        })
    }

    /// Runs `f` on the DIE at `.debug_info` offset `off`.
    pub(crate) fn with_entry<T>(
        &self,
        off: u64,
        f: impl FnOnce(&gimli::Unit<R<'d>>, &DebuggingInformationEntry<R<'d>>) -> Result<T>,
    ) -> Result<T> {
        let ui = self.unit_of(off)?;
        let unit = self.unit(ui)?;
        let uo = gimli::DebugInfoOffset(off as usize)
            .to_unit_offset(&unit.header)
            .ok_or_else(|| {
                Error::bad(
                    "DIE offset",
                    off,
                    Pos::Section {
                        name: ".debug_info",
                        offset: off,
                    },
                )
            })?;
        let entry = unit
            .entry(uo)
            .map_err(|e| dwarf_err(e, ".debug_info", off))?;
        f(unit, &entry)
    }

    /// A string attribute of an entry.
    pub(crate) fn attr_str(
        &self,
        unit: &gimli::Unit<R<'d>>,
        entry: &DebuggingInformationEntry<R<'d>>,
        at: gimli::DwAt,
    ) -> Option<String> {
        let v = entry.attr_value(at)?;
        let s = self.dwarf.attr_string(unit, v).ok()?;
        Some(String::from_utf8_lossy(s.slice()).into_owned())
    }
}

/// `DW_AT_go_runtime_type`: the linker writes it with `DW_FORM_addr`
/// (an offset from `moduledata.types`, not an address) or a data form.
pub(crate) fn runtime_type_value(v: gimli::AttributeValue<R<'_>>) -> Option<u64> {
    match v {
        gimli::AttributeValue::Addr(a) => Some(a),
        v => v.udata_value(),
    }
}

/// A `.debug_info` offset as a number (Go emits no `.debug_types`).
pub(crate) fn info_offset(o: gimli::UnitSectionOffset<usize>) -> Option<u64> {
    Some(o.0 as u64)
}

/// Global `.debug_info` offset of a reference attribute.
pub(crate) fn ref_offset(
    unit: &gimli::Unit<R<'_>>,
    v: gimli::AttributeValue<R<'_>>,
) -> Option<u64> {
    match v {
        gimli::AttributeValue::UnitRef(o) => info_offset(o.to_unit_section_offset(unit)),
        gimli::AttributeValue::DebugInfoRef(d) => Some(d.0 as u64),
        _ => None,
    }
}

fn build_index(dwarf: &gimli::Dwarf<R<'_>>) -> Result<Index> {
    use gimli::constants::*;
    let mut idx = Index::default();
    let mut headers = dwarf.units();
    let mut entry = DebuggingInformationEntry::null();
    loop {
        let header = match headers.next() {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) => return Err(dwarf_err(e, ".debug_info", 0)),
        };
        let uoff = info_offset(header.offset()).unwrap_or(0);
        let unit = dwarf
            .unit(header)
            .map_err(|e| dwarf_err(e, ".debug_info", uoff))?;
        let mut cu = CompileUnit {
            index: idx.units.len(),
            offset: uoff,
            name: String::new(),
            producer: String::new(),
            language: 0,
            package_name: None,
            version: unit.header.version(),
        };
        let mut raw = unit
            .entries_raw(None)
            .map_err(|e| dwarf_err(e, ".debug_info", uoff))?;
        while !raw.is_empty() {
            let depth = raw.next_depth();
            let has = raw
                .read_entry(&mut entry)
                .map_err(|e| dwarf_err(e, ".debug_info", uoff + raw.next_offset().0 as u64))?;
            if !has {
                continue;
            }
            let off = info_offset(entry.offset().to_unit_section_offset(&unit)).unwrap_or(0);
            let name = || {
                entry
                    .attr_value(DW_AT_name)
                    .and_then(|v| dwarf.attr_string(&unit, v).ok())
                    .map(|s| String::from_utf8_lossy(s.slice()).into_owned())
            };
            match entry.tag() {
                DW_TAG_compile_unit => {
                    cu.name = name().unwrap_or_default();
                    cu.producer = entry
                        .attr_value(DW_AT_producer)
                        .and_then(|v| dwarf.attr_string(&unit, v).ok())
                        .map(|s| String::from_utf8_lossy(s.slice()).into_owned())
                        .unwrap_or_default();
                    if let Some(gimli::AttributeValue::Language(l)) =
                        entry.attr_value(DW_AT_language)
                    {
                        cu.language = l.0;
                    }
                    cu.package_name = entry
                        .attr_value(go_at::PACKAGE_NAME)
                        .and_then(|v| dwarf.attr_string(&unit, v).ok())
                        .map(|s| String::from_utf8_lossy(s.slice()).into_owned());
                }
                DW_TAG_base_type
                | DW_TAG_pointer_type
                | DW_TAG_structure_type
                | DW_TAG_typedef
                | DW_TAG_array_type
                | DW_TAG_subroutine_type
                | DW_TAG_union_type
                | DW_TAG_enumeration_type
                | DW_TAG_unspecified_type => {
                    if let Some(rt) = entry
                        .attr(go_at::RUNTIME_TYPE)
                        .and_then(|a| a.udata_value())
                    {
                        idx.runtime_types.entry(rt).or_insert(off);
                    }
                    if let Some(n) = name() {
                        idx.types.entry(n).or_insert(off);
                    }
                }
                DW_TAG_variable if depth == 1 => {
                    if let Some(n) = name() {
                        idx.globals.entry(n).or_insert(off);
                    }
                }
                DW_TAG_constant => {
                    if let Some(n) = name() {
                        idx.constants.entry(n).or_insert(off);
                    }
                }
                DW_TAG_subprogram => {
                    if let Some(n) = name() {
                        let low = entry
                            .attr_value(DW_AT_low_pc)
                            .and_then(|v| dwarf.attr_address(&unit, v).ok().flatten());
                        let high = entry.attr_value(DW_AT_high_pc);
                        if let (Some(low), Some(high)) = (low, high) {
                            let high = match high {
                                gimli::AttributeValue::Udata(n) => Some(low.wrapping_add(n)),
                                v => dwarf.attr_address(&unit, v).ok().flatten(),
                            };
                            if let Some(high) = high {
                                idx.function_ranges.push((low, high, off));
                                let slot = idx.functions.entry(n).or_insert((off, true));
                                if !slot.1 {
                                    *slot = (off, true);
                                }
                            }
                        } else {
                            idx.functions.entry(n).or_insert((off, false));
                        }
                    }
                }
                _ => {}
            }
        }
        idx.units.push(cu);
    }
    idx.function_ranges.sort_unstable();
    Ok(idx)
}
