//! Go types in DWARF: named types are `DW_TAG_typedef "pkg.T"` over their
//! underlying type; strings, slices, interfaces are structs tagged with
//! `DW_AT_go_kind`; maps are a typedef `map[K]V` (with `DW_AT_go_key` /
//! `DW_AT_go_elem`) over a pointer to the runtime header struct
//! (`hash<K,V>` classic, `map<K,V>` Swiss).

use gimli::constants::*;

use super::{Dwarf, R, go_at, ref_offset};
use crate::error::{Error, Pos, Result};

/// A type, by its `.debug_info` offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeRef(pub u64);

/// `reflect.Kind` as carried by `DW_AT_go_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GoKind(pub u8);

impl GoKind {
    /// `reflect.Bool`.
    pub const BOOL: GoKind = GoKind(1);
    /// `reflect.Int`.
    pub const INT: GoKind = GoKind(2);
    /// `reflect.Array`.
    pub const ARRAY: GoKind = GoKind(17);
    /// `reflect.Chan`.
    pub const CHAN: GoKind = GoKind(18);
    /// `reflect.Func`.
    pub const FUNC: GoKind = GoKind(19);
    /// `reflect.Interface`.
    pub const INTERFACE: GoKind = GoKind(20);
    /// `reflect.Map`.
    pub const MAP: GoKind = GoKind(21);
    /// `reflect.Pointer`.
    pub const POINTER: GoKind = GoKind(22);
    /// `reflect.Slice`.
    pub const SLICE: GoKind = GoKind(23);
    /// `reflect.String`.
    pub const STRING: GoKind = GoKind(24);
    /// `reflect.Struct`.
    pub const STRUCT: GoKind = GoKind(25);
    /// `reflect.UnsafePointer`.
    pub const UNSAFE_POINTER: GoKind = GoKind(26);

    /// The `reflect.Kind` name (`map`, `slice`, ...).
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 27] = [
            "invalid",
            "bool",
            "int",
            "int8",
            "int16",
            "int32",
            "int64",
            "uint",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "uintptr",
            "float32",
            "float64",
            "complex64",
            "complex128",
            "array",
            "chan",
            "func",
            "interface",
            "map",
            "ptr",
            "slice",
            "string",
            "struct",
            "unsafe.Pointer",
        ];
        NAMES.get(usize::from(self.0)).copied().unwrap_or("unknown")
    }
}

/// A struct member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Field type.
    pub ty: TypeRef,
    /// Byte offset in the struct.
    pub offset: u64,
    /// An embedded field (`DW_AT_go_embedded_field`).
    pub embedded: bool,
}

/// The shape of a type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypeKind {
    /// Integers, floats, bools, complex (`DW_TAG_base_type`); `encoding`
    /// is the `DW_ATE_*` value.
    Base {
        /// `DW_ATE_*`.
        encoding: u8,
    },
    /// A pointer; `target` is `None` for `unsafe.Pointer`.
    Pointer {
        /// Pointee.
        target: Option<TypeRef>,
    },
    /// A struct (also strings, slices, interfaces, map internals).
    Struct {
        /// Members in order.
        fields: Vec<Field>,
    },
    /// A fixed-size array.
    Array {
        /// Element type.
        elem: TypeRef,
        /// Number of elements.
        len: u64,
    },
    /// A named type over its underlying type (also `map[K]V`, `chan T`).
    Typedef {
        /// Underlying type.
        target: Option<TypeRef>,
    },
    /// A function type.
    Func,
    /// Anything else, with its DWARF tag.
    Other {
        /// `DW_TAG_*`.
        tag: u16,
    },
}

/// A type as DWARF describes it, with Go's attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    /// Where it is.
    pub id: TypeRef,
    /// Name (`main.Point`, `[]int`, `map[string]int`, `*hash<string,int>`).
    pub name: String,
    /// Byte size, when given.
    pub size: Option<u64>,
    /// Shape.
    pub kind: TypeKind,
    /// `DW_AT_go_kind`.
    pub go_kind: Option<GoKind>,
    /// `DW_AT_go_key` (maps).
    pub key: Option<TypeRef>,
    /// `DW_AT_go_elem` (maps, slices, chans).
    pub elem: Option<TypeRef>,
    /// `DW_AT_go_runtime_type`: offset of the runtime type descriptor from
    /// `moduledata.types` (not an address).
    pub runtime_type: Option<u64>,
    /// `DW_AT_go_dict_index` (generic shape types).
    pub dict_index: Option<u64>,
}

impl Type {
    /// The struct fields, empty for non-structs.
    pub fn fields(&self) -> &[Field] {
        match &self.kind {
            TypeKind::Struct { fields } => fields,
            _ => &[],
        }
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields().iter().find(|f| f.name == name)
    }
}

impl<'d> Dwarf<'d> {
    /// The type at `id`.
    pub fn type_at(&self, id: TypeRef) -> Result<Type> {
        self.with_entry(id.0, |unit, e| {
            let udata = |at| e.attr(at).and_then(|a| a.udata_value());
            let reference = |at| {
                e.attr_value(at)
                    .and_then(|v| ref_offset(unit, v))
                    .map(TypeRef)
            };
            let name = self.attr_str(unit, e, DW_AT_name).unwrap_or_default();
            let kind = match e.tag() {
                DW_TAG_base_type => TypeKind::Base {
                    encoding: match e.attr_value(DW_AT_encoding) {
                        Some(gimli::AttributeValue::Encoding(enc)) => enc.0,
                        _ => 0,
                    },
                },
                DW_TAG_pointer_type => TypeKind::Pointer {
                    target: reference(DW_AT_type),
                },
                DW_TAG_typedef => TypeKind::Typedef {
                    target: reference(DW_AT_type),
                },
                DW_TAG_subroutine_type => TypeKind::Func,
                DW_TAG_structure_type | DW_TAG_union_type => TypeKind::Struct {
                    fields: self.members(unit, e)?,
                },
                DW_TAG_array_type => {
                    let elem = reference(DW_AT_type).ok_or_else(|| {
                        Error::bad("array without element type", id.0, die_pos(id.0))
                    })?;
                    TypeKind::Array {
                        elem,
                        len: self.array_len(unit, e)?,
                    }
                }
                t => TypeKind::Other { tag: t.0 },
            };
            Ok(Type {
                id,
                name,
                size: udata(DW_AT_byte_size),
                kind,
                go_kind: e
                    .attr(go_at::KIND)
                    .and_then(|a| a.udata_value())
                    .map(|k| GoKind(k as u8)),
                key: reference(go_at::KEY),
                elem: reference(go_at::ELEM),
                runtime_type: e
                    .attr_value(go_at::RUNTIME_TYPE)
                    .and_then(super::runtime_type_value),
                dict_index: udata(go_at::DICT_INDEX),
            })
        })
    }

    fn members(
        &self,
        unit: &gimli::Unit<R<'d>>,
        e: &gimli::DebuggingInformationEntry<R<'d>>,
    ) -> Result<Vec<Field>> {
        let mut fields = Vec::new();
        let mut tree = unit.entries_tree(Some(e.offset()))?;
        let root = tree.root()?;
        let mut children = root.children();
        while let Some(child) = children.next()? {
            let m = child.entry();
            if m.tag() != DW_TAG_member {
                continue;
            }
            let offset = match m.attr_value(DW_AT_data_member_location) {
                Some(gimli::AttributeValue::Udata(o)) => o,
                Some(gimli::AttributeValue::Data1(o)) => u64::from(o),
                Some(gimli::AttributeValue::Data2(o)) => u64::from(o),
                Some(gimli::AttributeValue::Data4(o)) => u64::from(o),
                Some(gimli::AttributeValue::Data8(o)) => o,
                Some(gimli::AttributeValue::Sdata(o)) => o as u64,
                _ => 0,
            };
            let Some(ty) = m.attr_value(DW_AT_type).and_then(|v| ref_offset(unit, v)) else {
                continue;
            };
            fields.push(Field {
                name: self.attr_str(unit, m, DW_AT_name).unwrap_or_default(),
                ty: TypeRef(ty),
                offset,
                embedded: matches!(
                    m.attr_value(go_at::EMBEDDED_FIELD),
                    Some(gimli::AttributeValue::Flag(true))
                ),
            });
        }
        Ok(fields)
    }

    fn array_len(
        &self,
        unit: &gimli::Unit<R<'d>>,
        e: &gimli::DebuggingInformationEntry<R<'d>>,
    ) -> Result<u64> {
        let mut tree = unit.entries_tree(Some(e.offset()))?;
        let root = tree.root()?;
        let mut children = root.children();
        while let Some(child) = children.next()? {
            let s = child.entry();
            if s.tag() != DW_TAG_subrange_type {
                continue;
            }
            if let Some(n) = s.attr(DW_AT_count).and_then(|a| a.udata_value()) {
                return Ok(n);
            }
            if let Some(u) = s.attr(DW_AT_upper_bound).and_then(|a| a.sdata_value()) {
                return Ok(u.saturating_add(1).max(0) as u64);
            }
        }
        Ok(0)
    }

    /// The type named `name` (`runtime.g`, `[]string`, `map[string]int`).
    pub fn type_by_name(&self, name: &str) -> Result<Type> {
        let off = self
            .index()?
            .types
            .get(name)
            .copied()
            .ok_or_else(|| Error::not_found("type", name))?;
        self.type_at(TypeRef(off))
    }

    /// The DWARF type of a runtime type descriptor, by its offset from
    /// `moduledata.types` (`DW_AT_go_runtime_type`).
    pub fn type_by_runtime_offset(&self, offset: u64) -> Result<Option<Type>> {
        match self.index()?.runtime_types.get(&offset) {
            Some(&off) => self.type_at(TypeRef(off)).map(Some),
            None => Ok(None),
        }
    }

    /// Follows typedefs to the underlying type.
    pub fn underlying(&self, id: TypeRef) -> Result<Type> {
        let mut t = self.type_at(id)?;
        for _ in 0..64 {
            match t.kind {
                TypeKind::Typedef { target: Some(next) } => t = self.type_at(next)?,
                _ => return Ok(t),
            }
        }
        Err(Error::bad("typedef chain too long", id.0, die_pos(id.0)))
    }

    /// Offset and type of a field path inside a type: `offset_of("runtime.g",
    /// "sched.sp")` is the offset of `g.sched.sp`. Typedefs are followed at
    /// each step; pointers are not (the path stays inside one object).
    pub fn offset_of(&self, type_name: &str, path: &str) -> Result<(u64, Type)> {
        let t = self.type_by_name(type_name)?;
        self.field_path(t.id, path)
    }

    /// Like [`Dwarf::offset_of`], from a type reference. Returns the
    /// field's declared type (typedef not followed).
    pub fn field_path(&self, ty: TypeRef, path: &str) -> Result<(u64, Type)> {
        if path.is_empty() {
            return Ok((0, self.type_at(ty)?));
        }
        let mut t = self.underlying(ty)?;
        let mut offset = 0u64;
        let mut declared = ty;
        for part in path.split('.') {
            let f = t
                .field(part)
                .cloned()
                .ok_or_else(|| Error::not_found("field", format!("{}.{part}", t.name)))?;
            offset = offset.wrapping_add(f.offset);
            declared = f.ty;
            t = self.underlying(f.ty)?;
        }
        Ok((offset, self.type_at(declared)?))
    }

    /// All type names in the index.
    pub fn type_names(&self) -> Result<impl Iterator<Item = &'d str>> {
        Ok(self.index()?.types.keys().map(String::as_str))
    }
}

pub(crate) fn die_pos(off: u64) -> Pos {
    Pos::Section {
        name: ".debug_info",
        offset: off,
    }
}
