//! Variables: the locals and arguments of a frame, evaluated from their
//! DWARF locations at the frame's PC, and package variables by name.
//!
//! Optimised builds describe most variables with location lists; where the
//! list does not cover the PC the variable is "optimized away" there. A
//! variable in a register is only readable in a frame whose registers are
//! known (the innermost frame of a thread, a frame interrupted by a signal):
//! Go's ABI has no callee-saved registers to recover further up. A local
//! the compiler moved to the heap is named `&x` in DWARF; it is shown as
//! `x`, read through the pointer.

use std::rc::Rc;

use gosleuth_gobin::{LocationContext, PieceLocation, TypeRef, VariableRole};

use crate::error::{Error, ErrorKind, Result};
use crate::unwind::{PhysicalFrame, Stack};
use crate::value::{Inspector, Shape, Src, Value, ValueKind};

/// A variable of a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Name.
    pub name: String,
    /// Argument, result or local.
    pub role: Role,
    /// Its value (or why it cannot be read).
    pub value: Value,
    /// Declaration line.
    pub decl_line: Option<u64>,
}

/// What a variable is to its function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A parameter.
    Arg,
    /// A named or unnamed result.
    Result,
    /// A local variable.
    Local,
}

/// A variable found in DWARF and where its bytes are.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub ty: TypeRef,
    pub src: Option<Src>,
    /// Why there is no source (optimized away, unreadable).
    pub why: Option<String>,
}

struct Ctx<'a> {
    phys: &'a PhysicalFrame,
    r: crate::memory::Reader<'a>,
}

/// `(name, role, decl_line, place)` of one variable of a frame.
pub(crate) type FramePlace = (String, Role, Option<u64>, Place);

impl LocationContext for Ctx<'_> {
    fn register(&self, reg: u16) -> Option<u64> {
        if let Some(regs) = &self.phys.regs {
            return regs.get(reg);
        }
        // Without registers only the stack pointer is known.
        (reg == 7).then_some(self.phys.sp)
    }

    fn cfa(&self) -> Option<u64> {
        (self.phys.cfa != 0).then_some(self.phys.cfa)
    }

    fn read_memory(&self, addr: u64, size: u8) -> Option<u64> {
        self.r.uint(addr, u64::from(size)).ok()
    }
}

impl Inspector<'_, '_, '_> {
    /// Variables of frame `index` of `stack` (arguments first, then locals,
    /// in declaration order).
    pub fn frame_variables(&self, stack: &Stack<'_>, index: usize) -> Result<Vec<Variable>> {
        let places = self.frame_places(stack, index)?;
        Ok(places
            .into_iter()
            .map(|(name, role, decl_line, place)| Variable {
                value: self.load_place(&place),
                name,
                role,
                decl_line,
            })
            .collect())
    }

    pub(crate) fn load_place(&self, place: &Place) -> Value {
        match &place.src {
            Some(src) => self.load(place.ty, src, 0),
            None => {
                let name = self
                    .info(place.ty)
                    .map(|i| i.name.clone())
                    .unwrap_or_default();
                match place.why.as_deref() {
                    Some("optimized away") | None => Value {
                        type_name: name,
                        addr: None,
                        kind: ValueKind::OptimizedAway,
                    },
                    Some(w) => Value::unreadable(name, None, w),
                }
            }
        }
    }

    /// `(name, role, decl_line, place)` of each variable of a frame.
    pub(crate) fn frame_places(&self, stack: &Stack<'_>, index: usize) -> Result<Vec<FramePlace>> {
        let frame = stack.frames.get(index).ok_or_else(|| {
            Error::not_found(format!(
                "no frame {index} (the stack has {})",
                stack.frames.len()
            ))
        })?;
        let phys = stack
            .physical
            .get(frame.physical as usize)
            .ok_or_else(|| Error::not_found("frame without machine frame"))?;
        let pc = self.p.to_link(phys.lookup_pc);
        let func = self.dwarf.function_at(pc)?.ok_or_else(|| {
            Error::not_found(format!("no DWARF for {} at {pc:#x}", frame.function))
        })?;
        let vars = self.dwarf.variables(&func)?;
        let ctx = Ctx {
            phys,
            r: self.p.reader(),
        };
        let mut out = Vec::new();
        for v in vars {
            let mine = if frame.inlined {
                v.inlined_from.as_deref() == Some(frame.function)
            } else {
                v.inlined_from.is_none()
            };
            if !mine {
                continue;
            }
            if !v.scope.is_empty() && !v.scope.iter().any(|&(lo, hi)| lo <= pc && pc < hi) {
                continue;
            }
            let Some(ty) = v.ty else { continue };
            let role = match v.role {
                VariableRole::Param => Role::Arg,
                VariableRole::Result => Role::Result,
                VariableRole::Local => Role::Local,
            };
            let mut place = match self.dwarf.evaluate(&v.location, pc, &ctx) {
                Ok(None) => Place {
                    ty,
                    src: None,
                    why: Some("optimized away".into()),
                },
                Ok(Some(pieces)) => self.pieces_to_place(ty, &pieces, phys),
                Err(e) => Place {
                    ty,
                    src: None,
                    why: Some(e.to_string()),
                },
            };
            let mut name = v.name.clone();
            // `&x`: x lives on the heap; read it through the pointer.
            if let Some(real) = v.name.strip_prefix('&') {
                name = real.to_string();
                if let Ok(info) = self.info(ty)
                    && let Shape::Pointer { target } = info.shape
                {
                    place = match &place.src {
                        Some(src) => match self.word(src) {
                            Ok(p) => Place {
                                ty: target,
                                src: Some(Src::Mem(p)),
                                why: None,
                            },
                            Err(e) => Place {
                                ty: target,
                                src: None,
                                why: Some(e.to_string()),
                            },
                        },
                        None => Place {
                            ty: target,
                            src: None,
                            why: place.why.clone(),
                        },
                    };
                }
            }
            out.push((name, role, v.decl_line, place));
        }
        // Arguments first, like the runtime prints them.
        out.sort_by_key(|(_, role, _, _)| match role {
            Role::Arg => 0,
            Role::Result => 1,
            Role::Local => 2,
        });
        Ok(out)
    }

    fn pieces_to_place(
        &self,
        ty: TypeRef,
        pieces: &[gosleuth_gobin::Piece],
        phys: &PhysicalFrame,
    ) -> Place {
        if let [p] = pieces
            && p.size_bits.is_none()
        {
            match &p.location {
                PieceLocation::Address(a) => {
                    return Place {
                        ty,
                        src: Some(Src::Mem(*a)),
                        why: None,
                    };
                }
                PieceLocation::Empty => {
                    return Place {
                        ty,
                        src: None,
                        why: Some("optimized away".into()),
                    };
                }
                _ => {}
            }
        }
        let size = self.info(ty).map(|i| i.size).unwrap_or(0) as usize;
        let r = self.p.reader();
        let mut buf: Vec<Option<u8>> = Vec::with_capacity(size);
        for p in pieces {
            let n = p
                .size_bits
                .map_or(size.saturating_sub(buf.len()), |b| (b as usize).div_ceil(8));
            let n = n.min(1 << 16);
            match &p.location {
                PieceLocation::Register(reg) => {
                    let v = phys.regs.as_ref().and_then(|rs| rs.get(*reg));
                    for i in 0..n {
                        buf.push(v.map(|v| if i < 8 { (v >> (8 * i)) as u8 } else { 0 }));
                    }
                }
                PieceLocation::Address(a) => match r.bytes(*a, n as u64) {
                    Ok(b) => buf.extend(b.into_iter().map(Some)),
                    Err(_) => buf.extend(std::iter::repeat_n(None, n)),
                },
                PieceLocation::Value(v) => {
                    for i in 0..n {
                        buf.push(Some(if i < 8 { (v >> (8 * i)) as u8 } else { 0 }));
                    }
                }
                PieceLocation::Bytes(b) => {
                    for i in 0..n {
                        buf.push(b.get(i).copied());
                    }
                }
                PieceLocation::Empty => buf.extend(std::iter::repeat_n(None, n)),
            }
        }
        if buf.iter().all(Option::is_none) {
            let in_regs = pieces
                .iter()
                .any(|p| matches!(p.location, PieceLocation::Register(_)));
            return Place {
                ty,
                src: None,
                why: Some(if in_regs && phys.regs.is_none() {
                    "in a register, unknown in this frame".into()
                } else {
                    "optimized away".into()
                }),
            };
        }
        Place {
            ty,
            src: Some(Src::Buf(Rc::new(buf), 0)),
            why: None,
        }
    }

    /// A package variable by full name (`main.cache`, `net/http.DefaultClient`).
    pub fn global(&self, name: &str) -> Result<Value> {
        let place = self.global_place(name)?;
        Ok(self.load_place(&place))
    }

    pub(crate) fn global_place(&self, name: &str) -> Result<Place> {
        let g = self.dwarf.global(name).map_err(|_| {
            Error::new(
                ErrorKind::NotFound(format!("no package variable {name}")),
                "",
            )
        })?;
        let ty =
            g.ty.ok_or_else(|| Error::not_found(format!("{name} has no type in DWARF")))?;
        let addr = g
            .address
            .ok_or_else(|| Error::not_found(format!("{name} has no address in DWARF")))?;
        Ok(Place {
            ty,
            src: Some(Src::Mem(addr.wrapping_add(self.p.bias()))),
            why: None,
        })
    }

    /// Names of the package variables of the program (`main.*` and other
    /// non-runtime packages), sorted.
    pub fn program_globals(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .dwarf
            .global_names()?
            .filter(|n| {
                !n.starts_with("runtime.")
                    && !n.starts_with("internal/")
                    && !n.starts_with("go:")
                    && !n.starts_with("type:")
                    && !n.contains("..")
            })
            .map(str::to_string)
            .collect();
        names.sort();
        Ok(names)
    }
}
