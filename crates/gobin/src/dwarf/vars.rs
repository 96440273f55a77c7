//! Variables, constants and functions in DWARF, and location expressions.
//!
//! Globals are CU-level `DW_TAG_variable`s with a `DW_OP_addr` location.
//! Package constants are `DW_TAG_constant` with `DW_AT_const_value`
//! (`runtime._Grunning`, `runtime.waitReasonChanReceive`, ...).
//! Functions are `DW_TAG_subprogram` with `DW_AT_frame_base =
//! DW_OP_call_frame_cfa`; their parameters (`DW_AT_variable_parameter` = 1
//! for results) and locals use `DW_OP_fbreg` (unoptimized builds) or
//! location lists with registers and `DW_OP_piece` (optimized builds).

use gimli::constants::*;

use super::types::die_pos;
use super::{Dwarf, R, dwarf_err, ref_offset};
use crate::error::{Error, Pos, Result};

use super::types::TypeRef;

/// A package-level variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// Name (`runtime.allgs`).
    pub name: String,
    /// Address, when the location is a plain `DW_OP_addr`.
    pub address: Option<u64>,
    /// Type.
    pub ty: Option<TypeRef>,
}

/// A package-level constant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constant {
    /// Name (`runtime.waitReasonChanReceive`).
    pub name: String,
    /// Value (wide enough for both `int64` and `uint64` constants).
    pub value: i128,
    /// Type.
    pub ty: Option<TypeRef>,
}

/// A function with code (`DW_TAG_subprogram` with a PC range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDie {
    /// Name.
    pub name: String,
    /// First PC.
    pub low_pc: u64,
    /// One past the last PC.
    pub high_pc: u64,
    /// `.debug_info` offset of the DIE.
    pub die: u64,
}

/// What a function-level variable is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariableRole {
    /// A parameter.
    Param,
    /// A named result (`DW_AT_variable_parameter`).
    Result,
    /// A local variable.
    Local,
}

/// Where a variable lives: one expression, a PC-ranged list, or nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    kind: LocKind,
    unit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum LocKind {
    None,
    Expr(Vec<u8>),
    List(Vec<(u64, u64, Vec<u8>)>),
}

impl Location {
    /// Whether there is no location at all (optimized away everywhere).
    pub fn is_none(&self) -> bool {
        matches!(self.kind, LocKind::None)
    }

    /// Whether the location depends on the PC (a location list).
    pub fn is_list(&self) -> bool {
        matches!(self.kind, LocKind::List(_))
    }

    /// The DWARF expression valid at `pc`, if any.
    pub fn expression_at(&self, pc: u64) -> Option<&[u8]> {
        match &self.kind {
            LocKind::None => None,
            LocKind::Expr(e) => Some(e),
            LocKind::List(l) => l
                .iter()
                .find(|(b, e, _)| *b <= pc && pc < *e)
                .map(|(_, _, x)| x.as_slice()),
        }
    }

    /// The PC ranges of a location list (empty for a single expression).
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        match &self.kind {
            LocKind::List(l) => l.iter().map(|(b, e, _)| (*b, *e)).collect(),
            _ => Vec::new(),
        }
    }
}

/// A variable of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalVariable {
    /// Name (`~r0` for unnamed results, `&x` for heap-moved variables).
    pub name: String,
    /// Type.
    pub ty: Option<TypeRef>,
    /// Parameter, result or local.
    pub role: VariableRole,
    /// Where it lives.
    pub location: Location,
    /// `DW_AT_decl_line`.
    pub decl_line: Option<u64>,
    /// PC ranges of the enclosing lexical block or inlined call; empty
    /// means the whole function.
    pub scope: Vec<(u64, u64)>,
    /// Name of the inlined function this variable belongs to, if it comes
    /// from an inlined call.
    pub inlined_from: Option<String>,
}

/// What evaluating a location needs from a stopped thread or a core.
pub trait LocationContext {
    /// Value of DWARF register `reg` (amd64: 0 rax ... 7 rsp, 16 rip;
    /// arm64: 0–30 x0–x30, 31 sp).
    fn register(&self, reg: u16) -> Option<u64>;
    /// Canonical frame address of the frame (Go's frame base): SP at the
    /// call, i.e. `sp + pcsp delta + ptr size` on amd64.
    fn cfa(&self) -> Option<u64>;
    /// Reads a little integer of `size` bytes (≤ 8) at `addr`.
    fn read_memory(&self, addr: u64, size: u8) -> Option<u64>;
}

/// Where one piece of a value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PieceLocation {
    /// Optimized away.
    Empty,
    /// In a register (DWARF number).
    Register(u16),
    /// In memory.
    Address(u64),
    /// A known value with no location.
    Value(u64),
    /// Constant bytes.
    Bytes(Vec<u8>),
}

/// One piece of a (possibly split) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Size in bits; `None` means the whole value.
    pub size_bits: Option<u64>,
    /// Where it is.
    pub location: PieceLocation,
}

impl<'d> Dwarf<'d> {
    /// A global variable by name.
    pub fn global(&self, name: &str) -> Result<Global> {
        let off = self
            .index()?
            .globals
            .get(name)
            .copied()
            .ok_or_else(|| Error::not_found("global variable", name))?;
        self.with_entry(off, |unit, e| {
            let ty = e
                .attr_value(DW_AT_type)
                .and_then(|v| ref_offset(unit, v))
                .map(TypeRef);
            let address = match e.attr_value(DW_AT_location) {
                Some(gimli::AttributeValue::Exprloc(expr)) => self.static_address(unit, expr.0),
                _ => None,
            };
            Ok(Global {
                name: name.to_string(),
                address,
                ty,
            })
        })
    }

    /// Names of all global variables.
    pub fn global_names(&self) -> Result<impl Iterator<Item = &'d str>> {
        Ok(self.index()?.globals.keys().map(String::as_str))
    }

    fn static_address(&self, unit: &gimli::Unit<R<'d>>, expr: R<'d>) -> Option<u64> {
        let mut eval = gimli::Evaluation::new(expr, unit.encoding());
        let mut r = eval.evaluate().ok()?;
        loop {
            match r {
                gimli::EvaluationResult::Complete => break,
                gimli::EvaluationResult::RequiresRelocatedAddress(a) => {
                    r = eval.resume_with_relocated_address(a).ok()?
                }
                gimli::EvaluationResult::RequiresIndexedAddress { index, .. } => {
                    let a = self.dwarf.address(unit, index).ok()?;
                    r = eval.resume_with_indexed_address(a).ok()?
                }
                _ => return None,
            }
        }
        match eval.result().as_slice() {
            [p] => match p.location {
                gimli::Location::Address { address } => Some(address),
                _ => None,
            },
            _ => None,
        }
    }

    /// A constant by name.
    pub fn constant(&self, name: &str) -> Result<Constant> {
        let off = self
            .index()?
            .constants
            .get(name)
            .copied()
            .ok_or_else(|| Error::not_found("constant", name))?;
        self.constant_at(off, name)
    }

    fn constant_at(&self, off: u64, name: &str) -> Result<Constant> {
        self.with_entry(off, |unit, e| {
            let value = match e.attr_value(DW_AT_const_value) {
                Some(gimli::AttributeValue::Sdata(v)) => i128::from(v),
                Some(gimli::AttributeValue::Udata(v)) => i128::from(v),
                Some(gimli::AttributeValue::Data1(v)) => i128::from(v),
                Some(gimli::AttributeValue::Data2(v)) => i128::from(v),
                Some(gimli::AttributeValue::Data4(v)) => i128::from(v),
                Some(gimli::AttributeValue::Data8(v)) => i128::from(v),
                _ => return Err(Error::bad("constant without value", off, die_pos(off))),
            };
            Ok(Constant {
                name: name.to_string(),
                value,
                ty: e
                    .attr_value(DW_AT_type)
                    .and_then(|v| ref_offset(unit, v))
                    .map(TypeRef),
            })
        })
    }

    /// All constants whose name starts with `prefix` (`runtime.waitReason`),
    /// sorted by value then name.
    pub fn constants_with_prefix(&self, prefix: &str) -> Result<Vec<Constant>> {
        let mut out = Vec::new();
        for (name, &off) in &self.index()?.constants {
            if name.starts_with(prefix) {
                out.push(self.constant_at(off, name)?);
            }
        }
        out.sort_by(|a, b| a.value.cmp(&b.value).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    fn function_die(&self, off: u64) -> Result<FunctionDie> {
        self.with_entry(off, |unit, e| {
            let low = e
                .attr_value(DW_AT_low_pc)
                .and_then(|v| self.dwarf.attr_address(unit, v).ok().flatten())
                .unwrap_or(0);
            let high = match e.attr_value(DW_AT_high_pc) {
                Some(gimli::AttributeValue::Udata(n)) => low.wrapping_add(n),
                Some(v) => self
                    .dwarf
                    .attr_address(unit, v)
                    .ok()
                    .flatten()
                    .unwrap_or(low),
                None => low,
            };
            Ok(FunctionDie {
                name: self.attr_str(unit, e, DW_AT_name).unwrap_or_default(),
                low_pc: low,
                high_pc: high,
                die: off,
            })
        })
    }

    /// The function (with code) containing `pc`.
    pub fn function_at(&self, pc: u64) -> Result<Option<FunctionDie>> {
        let r = &self.index()?.function_ranges;
        let i = r.partition_point(|(low, _, _)| *low <= pc);
        match i.checked_sub(1).map(|i| r[i]) {
            Some((low, high, off)) if low <= pc && pc < high => self.function_die(off).map(Some),
            _ => Ok(None),
        }
    }

    /// A function by name (the concrete DIE with code when there is one).
    pub fn function(&self, name: &str) -> Result<FunctionDie> {
        let (off, _) = self
            .index()?
            .functions
            .get(name)
            .copied()
            .ok_or_else(|| Error::not_found("function", name))?;
        self.function_die(off)
    }

    /// Parameters, results and locals of a function, including those of
    /// lexical blocks and inlined calls (with their scope ranges).
    pub fn variables(&self, func: &FunctionDie) -> Result<Vec<LocalVariable>> {
        let ui = self.unit_of(func.die)?;
        let unit = self.unit(ui)?;
        let uo = gimli::DebugInfoOffset(func.die as usize)
            .to_unit_offset(&unit.header)
            .ok_or_else(|| Error::bad("DIE offset", func.die, die_pos(func.die)))?;
        let mut tree = unit
            .entries_tree(Some(uo))
            .map_err(|e| dwarf_err(e, ".debug_info", func.die))?;
        let root = tree.root()?;
        let mut out = Vec::new();
        self.collect_vars(ui, unit, root, &[], None, 0, &mut out)?;
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn collect_vars(
        &self,
        ui: usize,
        unit: &gimli::Unit<R<'d>>,
        node: gimli::EntriesTreeNode<'_, '_, R<'d>>,
        scope: &[(u64, u64)],
        inlined_from: Option<&str>,
        depth: usize,
        out: &mut Vec<LocalVariable>,
    ) -> Result<()> {
        if depth > 64 {
            return Ok(());
        }
        let mut children = node.children();
        while let Some(child) = children.next()? {
            let e = child.entry().clone();
            match e.tag() {
                DW_TAG_formal_parameter | DW_TAG_variable => {
                    out.push(self.local(ui, unit, &e, scope, inlined_from)?);
                }
                DW_TAG_lexical_block | DW_TAG_inlined_subroutine => {
                    let ranges = self.die_ranges(unit, &e);
                    let name = if e.tag() == DW_TAG_inlined_subroutine {
                        self.origin_name(unit, &e)
                    } else {
                        None
                    };
                    let inl = name.as_deref().or(inlined_from);
                    let sc = if ranges.is_empty() {
                        scope.to_vec()
                    } else {
                        ranges
                    };
                    self.collect_vars(ui, unit, child, &sc, inl, depth + 1, out)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn die_ranges(
        &self,
        unit: &gimli::Unit<R<'d>>,
        e: &gimli::DebuggingInformationEntry<R<'d>>,
    ) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if let Ok(mut it) = self.dwarf.die_ranges(unit, e) {
            while let Ok(Some(r)) = it.next() {
                out.push((r.begin, r.end));
                if out.len() > 4096 {
                    break;
                }
            }
        }
        out
    }

    /// Name through `DW_AT_abstract_origin` (or the entry's own).
    fn origin_name(
        &self,
        unit: &gimli::Unit<R<'d>>,
        e: &gimli::DebuggingInformationEntry<R<'d>>,
    ) -> Option<String> {
        if let Some(n) = self.attr_str(unit, e, DW_AT_name) {
            return Some(n);
        }
        let off = ref_offset(unit, e.attr_value(DW_AT_abstract_origin)?)?;
        self.with_entry(off, |u, o| Ok(self.attr_str(u, o, DW_AT_name)))
            .ok()
            .flatten()
    }

    fn local(
        &self,
        ui: usize,
        unit: &gimli::Unit<R<'d>>,
        e: &gimli::DebuggingInformationEntry<R<'d>>,
        scope: &[(u64, u64)],
        inlined_from: Option<&str>,
    ) -> Result<LocalVariable> {
        // Attributes missing here (inlined copies) come from the abstract
        // origin.
        let origin = e
            .attr_value(DW_AT_abstract_origin)
            .and_then(|v| ref_offset(unit, v));
        let from_origin = |at: gimli::DwAt| -> Option<gimli::AttributeValue<R<'d>>> {
            let off = origin?;
            self.with_entry(off, |u, o| {
                Ok(o.attr_value(at).map(|v| match v {
                    gimli::AttributeValue::UnitRef(r) => gimli::AttributeValue::DebugInfoRef(
                        gimli::DebugInfoOffset(r.to_unit_section_offset(u).0),
                    ),
                    v => v,
                }))
            })
            .ok()
            .flatten()
        };
        let name = self.origin_name(unit, e).unwrap_or_default();
        let ty = e
            .attr_value(DW_AT_type)
            .or_else(|| from_origin(DW_AT_type))
            .and_then(|v| ref_offset(unit, v))
            .map(TypeRef);
        let is_result = matches!(
            e.attr_value(DW_AT_variable_parameter)
                .or_else(|| from_origin(DW_AT_variable_parameter)),
            Some(gimli::AttributeValue::Flag(true))
        );
        let role = match (e.tag(), is_result) {
            (DW_TAG_formal_parameter, false) => VariableRole::Param,
            (DW_TAG_formal_parameter, true) => VariableRole::Result,
            _ => VariableRole::Local,
        };
        let decl_line = e
            .attr(DW_AT_decl_line)
            .and_then(|a| a.udata_value())
            .or_else(|| from_origin(DW_AT_decl_line).and_then(|v| v.udata_value()));
        let kind = match e.attr_value(DW_AT_location) {
            None => LocKind::None,
            Some(gimli::AttributeValue::Exprloc(x)) => LocKind::Expr(x.0.slice().to_vec()),
            Some(v) => match self.dwarf.attr_locations(unit, v)? {
                None => LocKind::None,
                Some(mut it) => {
                    let mut l = Vec::new();
                    while let Some(entry) = it.next()? {
                        l.push((
                            entry.range.begin,
                            entry.range.end,
                            entry.data.0.slice().to_vec(),
                        ));
                        if l.len() > 1 << 16 {
                            break;
                        }
                    }
                    LocKind::List(l)
                }
            },
        };
        Ok(LocalVariable {
            name,
            ty,
            role,
            location: Location { kind, unit: ui },
            decl_line,
            scope: scope.to_vec(),
            inlined_from: inlined_from.map(str::to_string),
        })
    }

    /// Evaluates `loc` at `pc`: `Ok(None)` when the variable has no
    /// location there (optimized away), else its pieces.
    pub fn evaluate(
        &self,
        loc: &Location,
        pc: u64,
        ctx: &dyn LocationContext,
    ) -> Result<Option<Vec<Piece>>> {
        let Some(bytes) = loc.expression_at(pc) else {
            return Ok(None);
        };
        let unit = self.unit(loc.unit)?;
        let endian = self.data.endian;
        let expr = gimli::EndianSlice::new(bytes, endian);
        let mut eval = gimli::Evaluation::new(expr, unit.encoding());
        let unavailable = |what: &'static str| {
            Error::new(crate::error::ErrorKind::Unmapped { what }, Pos::Addr(pc))
        };
        let mut r = eval.evaluate()?;
        for _ in 0..10_000 {
            r = match r {
                gimli::EvaluationResult::Complete => break,
                gimli::EvaluationResult::RequiresMemory { address, size, .. } => {
                    let v = ctx
                        .read_memory(address, size)
                        .ok_or_else(|| unavailable("memory for a location expression"))?;
                    eval.resume_with_memory(gimli::Value::Generic(v))?
                }
                gimli::EvaluationResult::RequiresRegister { register, .. } => {
                    let v = ctx
                        .register(register.0)
                        .ok_or_else(|| unavailable("register for a location expression"))?;
                    eval.resume_with_register(gimli::Value::Generic(v))?
                }
                gimli::EvaluationResult::RequiresFrameBase => {
                    let cfa = ctx.cfa().ok_or_else(|| unavailable("frame base (CFA)"))?;
                    eval.resume_with_frame_base(cfa)?
                }
                gimli::EvaluationResult::RequiresCallFrameCfa => {
                    let cfa = ctx.cfa().ok_or_else(|| unavailable("CFA"))?;
                    eval.resume_with_call_frame_cfa(cfa)?
                }
                gimli::EvaluationResult::RequiresRelocatedAddress(a) => {
                    eval.resume_with_relocated_address(a)?
                }
                gimli::EvaluationResult::RequiresIndexedAddress { index, .. } => {
                    let a = self.dwarf.address(unit, index)?;
                    eval.resume_with_indexed_address(a)?
                }
                _ => return Err(unavailable("unsupported location operation")),
            };
        }
        if !matches!(r, gimli::EvaluationResult::Complete) {
            return Err(unavailable("location expression did not finish"));
        }
        let pieces = eval
            .result()
            .into_iter()
            .map(|p| Piece {
                size_bits: p.size_in_bits,
                location: match p.location {
                    gimli::Location::Empty => PieceLocation::Empty,
                    gimli::Location::Register { register } => PieceLocation::Register(register.0),
                    gimli::Location::Address { address } => PieceLocation::Address(address),
                    gimli::Location::Value { value } => {
                        PieceLocation::Value(value.to_u64(u64::MAX).unwrap_or(0))
                    }
                    gimli::Location::Bytes { value } => {
                        PieceLocation::Bytes(value.slice().to_vec())
                    }
                    _ => PieceLocation::Empty,
                },
            })
            .collect();
        Ok(Some(pieces))
    }
}
