//! Go values read through DWARF, under limits.
//!
//! A value is read from where DWARF says it lives: memory (`DW_OP_fbreg`,
//! `DW_OP_addr`, a spill slot) or registers and constants assembled from
//! `DW_OP_piece`s (optimised builds). Its Go shape is decided from the
//! typedef chain's `DW_AT_go_kind` and the underlying type: strings,
//! slices, interfaces and maps are structs or pointers in DWARF that Go
//! reads differently.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use gosleuth_gobin::{Dwarf, GoKind, Type, TypeKind, TypeRef};

use crate::error::{Error, ErrorKind, Result};
use crate::maps::MapValue;
use crate::memory::MemError;
use crate::process::Process;

/// How much of a value to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadLimits {
    /// How many pointers to follow from the value asked for.
    pub max_depth: usize,
    /// Bytes of a string to read.
    pub max_string: usize,
    /// Elements of an array or slice, fields of a struct.
    pub max_elems: usize,
    /// Entries of a map (`usize::MAX` for all of them).
    pub max_map_entries: usize,
    /// Buckets or groups of a map to visit at most (bounds the work a
    /// corrupted header can cause).
    pub max_map_buckets: usize,
    /// Values loaded in total by one request.
    pub max_values: usize,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_depth: 2,
            max_string: 256,
            max_elems: 64,
            max_map_entries: 64,
            max_map_buckets: 1 << 20,
            max_values: 200_000,
        }
    }
}

impl LoadLimits {
    /// Every entry of maps, longer strings and slices (`--all`).
    pub fn all() -> Self {
        LoadLimits {
            max_string: 1 << 16,
            max_elems: 1 << 20,
            max_map_entries: usize::MAX,
            max_values: 50_000_000,
            ..LoadLimits::default()
        }
    }
}

/// A Go value.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Its static type's name (`map[string]int`, `*main.User`).
    pub type_name: String,
    /// Where it lives, when it is in memory.
    pub addr: Option<u64>,
    /// What it is.
    pub kind: ValueKind,
}

/// The shape and contents of a value.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// `bool`.
    Bool(bool),
    /// Signed integers.
    Int(i64),
    /// Unsigned integers and `uintptr`.
    Uint(u64),
    /// `float32`, `float64`.
    Float(f64),
    /// `complex64`, `complex128`.
    Complex(f64, f64),
    /// A string.
    String {
        /// Data pointer.
        data: u64,
        /// Length in bytes.
        len: u64,
        /// The bytes read (at most the string limit), lossily decoded.
        text: String,
    },
    /// A pointer, and what it points to when followed.
    Pointer {
        /// The address (0 for nil).
        target: u64,
        /// The pointee, if followed.
        pointee: Option<Box<Value>>,
    },
    /// `unsafe.Pointer`.
    UnsafePointer(u64),
    /// A struct's fields in order.
    Struct(Vec<(String, Value)>),
    /// An array: its length and the elements loaded.
    Array {
        /// Length.
        len: u64,
        /// Elements (fewer than `len` when truncated).
        elems: Vec<Value>,
    },
    /// A slice.
    Slice {
        /// Data pointer (0 for a nil slice).
        data: u64,
        /// Length.
        len: u64,
        /// Capacity.
        cap: u64,
        /// Elements loaded.
        elems: Vec<Value>,
    },
    /// An interface: nil when `type_addr` is 0.
    Interface {
        /// Address of the dynamic type descriptor.
        type_addr: u64,
        /// Name of the dynamic type.
        dynamic_type: Option<String>,
        /// The data word.
        data: u64,
        /// The dynamic value, when it could be typed.
        value: Option<Box<Value>>,
    },
    /// A channel.
    Chan {
        /// Address of the `hchan` (0 for nil).
        addr: u64,
        /// Buffered elements.
        len: u64,
        /// Buffer size.
        cap: u64,
        /// Closed.
        closed: bool,
    },
    /// A func value.
    Func {
        /// Address of the `funcval` (0 for nil).
        addr: u64,
        /// Code entry.
        entry: u64,
        /// Function name.
        name: Option<String>,
    },
    /// A map.
    Map(Box<MapValue>),
    /// Could not be read.
    Unreadable(String),
    /// No location at this PC.
    OptimizedAway,
}

impl Value {
    pub(crate) fn unreadable(
        type_name: impl Into<String>,
        addr: Option<u64>,
        why: impl Into<String>,
    ) -> Value {
        Value {
            type_name: type_name.into(),
            addr,
            kind: ValueKind::Unreadable(why.into()),
        }
    }

    /// The map inside, if this is a map (or a pointer to one, followed).
    pub fn as_map(&self) -> Option<&MapValue> {
        match &self.kind {
            ValueKind::Map(m) => Some(m),
            _ => None,
        }
    }
}

/// Where the bytes of a value are.
#[derive(Debug, Clone)]
pub(crate) enum Src {
    /// In memory.
    Mem(u64),
    /// Assembled from registers/constants; `None` bytes are unavailable.
    Buf(Rc<Vec<Option<u8>>>, usize),
}

impl Src {
    pub(crate) fn at(&self, off: u64) -> Src {
        match self {
            Src::Mem(a) => Src::Mem(a.wrapping_add(off)),
            Src::Buf(b, o) => Src::Buf(b.clone(), o.saturating_add(off as usize)),
        }
    }

    fn addr(&self) -> Option<u64> {
        match self {
            Src::Mem(a) => Some(*a),
            Src::Buf(..) => None,
        }
    }
}

/// The Go shape of a DWARF type.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    Bool,
    Int,
    Uint,
    Float,
    Complex,
    String,
    Slice {
        elem: Option<TypeRef>,
    },
    Interface {
        eface: bool,
    },
    Map {
        key: Option<TypeRef>,
        elem: Option<TypeRef>,
        header: Option<TypeRef>,
    },
    Chan {
        hchan: Option<TypeRef>,
    },
    Pointer {
        target: TypeRef,
    },
    UnsafePointer,
    Func,
    Struct {
        fields: Vec<gosleuth_gobin::Field>,
    },
    Array {
        elem: TypeRef,
        len: u64,
    },
    Other,
}

/// A resolved type.
#[derive(Debug, Clone)]
pub(crate) struct TypeInfo {
    pub name: String,
    pub size: u64,
    pub shape: Shape,
}

/// Reads values of one process through its DWARF.
pub struct Inspector<'p, 't, 'data> {
    pub(crate) p: &'p Process<'t, 'data>,
    pub(crate) dwarf: Dwarf<'t>,
    pub(crate) limits: LoadLimits,
    types: RefCell<HashMap<TypeRef, Rc<TypeInfo>>>,
    by_name: RefCell<HashMap<String, Option<TypeRef>>>,
    budget: RefCell<usize>,
}

impl std::fmt::Debug for Inspector<'_, '_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspector")
            .field("limits", &self.limits)
            .finish()
    }
}

fn mem(e: MemError, at: &str) -> Error {
    Error::mem(e, at.to_string())
}

impl<'p, 't, 'data> Inspector<'p, 't, 'data> {
    /// An inspector over `p`'s DWARF. Fails on executables without DWARF
    /// (stripped): they carry no variable or type information.
    pub fn new(p: &'p Process<'t, 'data>, limits: LoadLimits) -> Result<Self> {
        let dwarf = p.binary().dwarf().map_err(|e| {
            Error::new(
                ErrorKind::Unsupported(format!(
                    "no variables without DWARF (the executable is stripped?): {e}"
                )),
                "",
            )
        })?;
        Ok(Inspector {
            p,
            dwarf,
            limits,
            types: RefCell::new(HashMap::new()),
            by_name: RefCell::new(HashMap::new()),
            budget: RefCell::new(limits.max_values),
        })
    }

    /// The process.
    pub fn process(&self) -> &'p Process<'t, 'data> {
        self.p
    }

    /// The DWARF view.
    pub fn dwarf(&self) -> &Dwarf<'t> {
        &self.dwarf
    }

    /// The limits in force.
    pub fn limits(&self) -> LoadLimits {
        self.limits
    }

    /// Changes the limits (and refills the value budget).
    pub fn set_limits(&mut self, limits: LoadLimits) {
        self.limits = limits;
        *self.budget.borrow_mut() = limits.max_values;
    }

    pub(crate) fn type_ref_by_name(&self, name: &str) -> Option<TypeRef> {
        if let Some(t) = self.by_name.borrow().get(name) {
            return *t;
        }
        let t = self.dwarf.type_by_name(name).ok().map(|t| t.id);
        self.by_name.borrow_mut().insert(name.to_string(), t);
        t
    }

    pub(crate) fn raw_type(&self, id: TypeRef) -> Result<Type> {
        Ok(self.dwarf.type_at(id)?)
    }

    /// Resolves the Go shape of a type.
    pub(crate) fn info(&self, id: TypeRef) -> Result<Rc<TypeInfo>> {
        if let Some(t) = self.types.borrow().get(&id) {
            return Ok(t.clone());
        }
        let declared = self.dwarf.type_at(id)?;
        let name = declared.name.clone();
        // Walk the typedef chain, keeping the first Go kind and key/elem.
        let mut go_kind = declared.go_kind.filter(|k| k.0 != 0);
        let mut key = declared.key;
        let mut elem = declared.elem;
        let mut t = declared;
        for _ in 0..64 {
            match t.kind {
                TypeKind::Typedef { target: Some(next) } => {
                    t = self.dwarf.type_at(next)?;
                    go_kind = go_kind.or(t.go_kind.filter(|k| k.0 != 0));
                    key = key.or(t.key);
                    elem = elem.or(t.elem);
                }
                _ => break,
            }
        }
        let size = t.size.unwrap_or(0);
        let shape = match (go_kind, &t.kind) {
            (Some(GoKind::MAP), TypeKind::Pointer { target }) => Shape::Map {
                key,
                elem,
                header: *target,
            },
            (Some(GoKind::CHAN), TypeKind::Pointer { target }) => Shape::Chan { hchan: *target },
            (Some(GoKind::INTERFACE), TypeKind::Struct { fields }) => Shape::Interface {
                eface: fields.first().is_some_and(|f| f.name == "_type"),
            },
            (_, TypeKind::Struct { fields })
                if go_kind == Some(GoKind::STRING) || t.name == "string" =>
            {
                let _ = fields;
                Shape::String
            }
            (_, TypeKind::Struct { fields })
                if go_kind == Some(GoKind::SLICE) || t.name.starts_with("[]") =>
            {
                let elem = elem.or_else(|| {
                    let arr = fields.iter().find(|f| f.name == "array")?;
                    match self.dwarf.type_at(arr.ty).ok()?.kind {
                        TypeKind::Pointer { target } => target,
                        _ => None,
                    }
                });
                Shape::Slice { elem }
            }
            (_, TypeKind::Struct { fields })
                if fields.len() == 2
                    && fields[1].name == "data"
                    && (fields[0].name == "_type" || fields[0].name == "tab") =>
            {
                Shape::Interface {
                    eface: fields[0].name == "_type",
                }
            }
            (_, TypeKind::Struct { fields }) => Shape::Struct {
                fields: fields.clone(),
            },
            (_, TypeKind::Base { encoding }) => match *encoding {
                0x02 => Shape::Bool,
                0x03 => Shape::Complex,
                0x04 => Shape::Float,
                0x05 | 0x06 => Shape::Int,
                0x07 | 0x08 => Shape::Uint,
                _ => Shape::Other,
            },
            (Some(GoKind::UNSAFE_POINTER), TypeKind::Pointer { .. }) => Shape::UnsafePointer,
            (_, TypeKind::Pointer { target: None }) => Shape::UnsafePointer,
            (
                _,
                TypeKind::Pointer {
                    target: Some(target),
                },
            ) => Shape::Pointer { target: *target },
            (_, TypeKind::Func) => Shape::Func,
            (_, TypeKind::Array { elem, len }) => Shape::Array {
                elem: *elem,
                len: *len,
            },
            _ => Shape::Other,
        };
        let info = Rc::new(TypeInfo { name, size, shape });
        self.types.borrow_mut().insert(id, info.clone());
        Ok(info)
    }

    fn spend(&self) -> bool {
        let mut b = self.budget.borrow_mut();
        if *b == 0 {
            return false;
        }
        *b -= 1;
        true
    }

    /// Reads `len` bytes of a value source.
    pub(crate) fn bytes(&self, src: &Src, len: u64) -> Result<Vec<u8>> {
        match src {
            Src::Mem(a) => self
                .p
                .reader()
                .bytes(*a, len)
                .map_err(|e| mem(e, "a value")),
            Src::Buf(b, o) => {
                let end = o
                    .checked_add(len as usize)
                    .filter(|&e| e <= b.len())
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::Unsupported("value smaller than its type".into()),
                            "",
                        )
                    })?;
                b[*o..end]
                    .iter()
                    .map(|x| {
                        x.ok_or_else(|| {
                            Error::new(ErrorKind::Unsupported("partly optimized away".into()), "")
                        })
                    })
                    .collect()
            }
        }
    }

    pub(crate) fn uint(&self, src: &Src, size: u64) -> Result<u64> {
        let b = self.bytes(src, size.clamp(1, 8))?;
        Ok(self.p.reader().decode(&b))
    }

    pub(crate) fn word(&self, src: &Src) -> Result<u64> {
        self.uint(src, u64::from(self.p.ptr_size()))
    }

    /// Loads a value of type `ty` from memory at `addr`.
    pub fn load_at(&self, ty: TypeRef, addr: u64) -> Value {
        self.load(ty, &Src::Mem(addr), 0)
    }

    /// Loads a value of type `ty` held in `bytes` (e.g. an interface word).
    pub fn load_bytes(&self, ty: TypeRef, bytes: &[u8]) -> Value {
        let buf: Vec<Option<u8>> = bytes.iter().map(|&b| Some(b)).collect();
        self.load(ty, &Src::Buf(Rc::new(buf), 0), 0)
    }

    pub(crate) fn load(&self, ty: TypeRef, src: &Src, depth: usize) -> Value {
        let info = match self.info(ty) {
            Ok(i) => i,
            Err(e) => return Value::unreadable("?", src.addr(), e.to_string()),
        };
        if !self.spend() {
            return Value::unreadable(&info.name, src.addr(), "value limit reached");
        }
        match self.load_info(&info, src, depth) {
            Ok(kind) => Value {
                type_name: info.name.clone(),
                addr: src.addr(),
                kind,
            },
            Err(e) => Value::unreadable(&info.name, src.addr(), e.to_string()),
        }
    }

    fn load_info(&self, info: &TypeInfo, src: &Src, depth: usize) -> Result<ValueKind> {
        let r = self.p.reader();
        let ps = u64::from(self.p.ptr_size());
        let lim = self.limits;
        Ok(match &info.shape {
            Shape::Bool => ValueKind::Bool(self.uint(src, 1)? != 0),
            Shape::Int => {
                let size = info.size.clamp(1, 8);
                let v = self.uint(src, size)?;
                let bits = (size * 8) as u32;
                ValueKind::Int(if bits == 64 {
                    v as i64
                } else {
                    ((v << (64 - bits)) as i64) >> (64 - bits)
                })
            }
            Shape::Uint => ValueKind::Uint(self.uint(src, info.size.clamp(1, 8))?),
            Shape::Float => match info.size {
                4 => ValueKind::Float(f64::from(f32::from_bits(self.uint(src, 4)? as u32))),
                _ => ValueKind::Float(f64::from_bits(self.uint(src, 8)?)),
            },
            Shape::Complex => match info.size {
                8 => ValueKind::Complex(
                    f64::from(f32::from_bits(self.uint(src, 4)? as u32)),
                    f64::from(f32::from_bits(self.uint(&src.at(4), 4)? as u32)),
                ),
                _ => ValueKind::Complex(
                    f64::from_bits(self.uint(src, 8)?),
                    f64::from_bits(self.uint(&src.at(8), 8)?),
                ),
            },
            Shape::String => {
                let data = self.word(src)?;
                let len = self.word(&src.at(ps))?;
                let n = len.min(lim.max_string as u64);
                let text = if n == 0 {
                    String::new()
                } else {
                    let b = r.bytes(data, n).map_err(|e| mem(e, "string data"))?;
                    String::from_utf8_lossy(&b).into_owned()
                };
                ValueKind::String { data, len, text }
            }
            Shape::Slice { elem } => {
                let data = self.word(src)?;
                let len = self.word(&src.at(ps))?;
                let cap = self.word(&src.at(2 * ps))?;
                if len > cap {
                    return Err(Error::corrupt(
                        format!("slice length {len} > capacity {cap}"),
                        "a slice",
                    ));
                }
                let mut elems = Vec::new();
                if let (Some(et), true) = (elem, data != 0) {
                    let esize = self.info(*et)?.size;
                    for i in 0..len.min(lim.max_elems as u64) {
                        elems.push(self.load(
                            *et,
                            &Src::Mem(data.wrapping_add(i.wrapping_mul(esize))),
                            depth,
                        ));
                    }
                }
                ValueKind::Slice {
                    data,
                    len,
                    cap,
                    elems,
                }
            }
            Shape::Array { elem, len } => {
                let esize = self.info(*elem)?.size;
                let mut elems = Vec::new();
                for i in 0..(*len).min(lim.max_elems as u64) {
                    elems.push(self.load(*elem, &src.at(i.wrapping_mul(esize)), depth));
                }
                ValueKind::Array { len: *len, elems }
            }
            Shape::Struct { fields } => {
                let mut out = Vec::new();
                for f in fields.iter().take(lim.max_elems.max(16)) {
                    out.push((f.name.clone(), self.load(f.ty, &src.at(f.offset), depth)));
                }
                ValueKind::Struct(out)
            }
            Shape::Pointer { target } => {
                let p = self.word(src)?;
                let pointee = if p != 0 && depth < lim.max_depth {
                    Some(Box::new(self.load(*target, &Src::Mem(p), depth + 1)))
                } else {
                    None
                };
                ValueKind::Pointer { target: p, pointee }
            }
            Shape::UnsafePointer => ValueKind::UnsafePointer(self.word(src)?),
            Shape::Func => {
                let fv = self.word(src)?;
                let (entry, name) = if fv != 0 {
                    let entry = r.ptr(fv).map_err(|e| mem(e, "funcval.fn"))?;
                    let name = self
                        .p
                        .binary()
                        .func_at(self.p.to_link(entry))
                        .ok()
                        .flatten()
                        .and_then(|f| f.name().map(str::to_string));
                    (entry, name)
                } else {
                    (0, None)
                };
                ValueKind::Func {
                    addr: fv,
                    entry,
                    name,
                }
            }
            Shape::Chan { hchan } => {
                let h = self.word(src)?;
                if h == 0 {
                    ValueKind::Chan {
                        addr: 0,
                        len: 0,
                        cap: 0,
                        closed: false,
                    }
                } else {
                    let t = match hchan {
                        Some(t) => Some(self.dwarf.underlying(*t)?),
                        None => None,
                    };
                    let off = |n: &str, d: u64| {
                        t.as_ref().and_then(|t| t.field(n)).map_or(d, |f| f.offset)
                    };
                    ValueKind::Chan {
                        addr: h,
                        len: r
                            .ptr(h.wrapping_add(off("qcount", 0)))
                            .map_err(|e| mem(e, "hchan.qcount"))?,
                        cap: r
                            .ptr(h.wrapping_add(off("dataqsiz", ps)))
                            .map_err(|e| mem(e, "hchan.dataqsiz"))?,
                        closed: r
                            .u32(h.wrapping_add(off("closed", 28)))
                            .map_err(|e| mem(e, "hchan.closed"))?
                            != 0,
                    }
                }
            }
            Shape::Interface { eface } => {
                let first = self.word(src)?;
                let data = self.word(&src.at(ps))?;
                let type_addr = if *eface || first == 0 {
                    first
                } else {
                    r.ptr(first.wrapping_add(self.p.layout().ty.itab_type))
                        .map_err(|e| mem(e, "itab type"))?
                };
                if type_addr == 0 {
                    ValueKind::Interface {
                        type_addr: 0,
                        dynamic_type: None,
                        data,
                        value: None,
                    }
                } else {
                    let rt = self.p.rtype(type_addr).ok();
                    let value = rt.as_ref().and_then(|rt| {
                        let off = rt.types_offset?;
                        let dt = self.dwarf.type_by_runtime_offset(off).ok()??;
                        Some(Box::new(if rt.direct_iface {
                            let b = data.to_le_bytes();
                            self.load_bytes_depth(dt.id, &b[..ps as usize], depth)
                        } else {
                            self.load(dt.id, &Src::Mem(data), depth)
                        }))
                    });
                    ValueKind::Interface {
                        type_addr,
                        dynamic_type: rt.map(|t| t.name),
                        data,
                        value,
                    }
                }
            }
            Shape::Map { key, elem, header } => {
                let h = self.word(src)?;
                ValueKind::Map(Box::new(
                    self.load_map(&info.name, h, *key, *elem, *header, depth),
                ))
            }
            Shape::Other => {
                return Err(Error::new(
                    ErrorKind::Unsupported(format!("type {}", info.name)),
                    "",
                ));
            }
        })
    }

    fn load_bytes_depth(&self, ty: TypeRef, bytes: &[u8], depth: usize) -> Value {
        let buf: Vec<Option<u8>> = bytes.iter().map(|&b| Some(b)).collect();
        self.load(ty, &Src::Buf(Rc::new(buf), 0), depth)
    }
}
