//! Where the runtime keeps what the analysis reads: field offsets of
//! `runtime.g`, `runtime.m`, `runtime._panic`, the runtime type descriptor
//! and `runtime.moduledata`, and the addresses of `runtime.allgs` & co.
//!
//! Offsets come from the executable's DWARF whenever it has some
//! (`Layout::from_dwarf`): they move between releases (`gobuf.ret` went
//! away in 1.25, `_panic.argp` in 1.26) and DWARF always knows. Stripped
//! executables (`-ldflags=-s -w`) carry no DWARF; for them
//! [`Layout::builtin`] has tables for the releases the fixtures cover,
//! generated from those releases' own DWARF and checked against it by the
//! `builtin_layouts_match_dwarf` test, and the globals are found by
//! scanning memory (see `goroutines.rs`).

use gosleuth_gobin::{Dwarf, TypeKind};

/// A Go release, `1.26.8` → `(1, 26, 8)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct GoVersion {
    /// Major (1).
    pub major: u32,
    /// Minor (26).
    pub minor: u32,
    /// Patch (8), 0 when not given.
    pub patch: u32,
}

impl GoVersion {
    /// Parses `go1.26.8`, `go1.23`, `go1.24rc1`, `devel go1.27-...`.
    pub fn parse(s: &str) -> Option<GoVersion> {
        let i = s.find("go1.")?;
        let rest = &s[i + 2..];
        let mut nums = rest
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<u32>().ok());
        let major = nums.next()??;
        let minor = nums.next()??;
        // Only a patch directly after "1.NN." counts.
        let after = &rest[format!("{major}.{minor}").len()..];
        let patch = after
            .strip_prefix('.')
            .and_then(|p| {
                p.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|d| d.parse().ok())
            })
            .unwrap_or(0);
        Some(GoVersion {
            major,
            minor,
            patch,
        })
    }

    /// Whether this is at least `1.minor`.
    pub fn at_least(&self, minor: u32) -> bool {
        self.major > 1 || (self.major == 1 && self.minor >= minor)
    }
}

impl std::fmt::Display for GoVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "go{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Offsets in `runtime.g`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct GLayout {
    pub stack_lo: u64,
    pub stack_hi: u64,
    pub panic: u64,
    pub defer: u64,
    pub m: u64,
    pub sched_sp: u64,
    pub sched_pc: u64,
    pub sched_g: u64,
    pub sched_lr: u64,
    pub sched_bp: u64,
    pub syscallsp: u64,
    pub syscallpc: u64,
    /// 1.23+.
    pub syscallbp: Option<u64>,
    /// `atomicstatus` (or its `value` field).
    pub atomicstatus: u64,
    pub goid: u64,
    pub waitsince: u64,
    pub waitreason: u64,
    /// 1.21+.
    pub parent_goid: Option<u64>,
    pub gopc: u64,
    pub startpc: u64,
    pub lockedm: u64,
    pub sig: u64,
    pub sigcode0: u64,
    pub sigcode1: u64,
    pub sigpc: u64,
    pub labels: Option<u64>,
}

/// Offsets in `runtime.m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct MLayout {
    pub g0: u64,
    pub curg: u64,
    pub gsignal: u64,
    pub procid: u64,
    pub id: u64,
    /// `throwing` (`throwType`, 1.21+) and its size.
    pub throwing: Option<(u64, u64)>,
    pub dying: u64,
    pub caughtsig: u64,
    pub alllink: u64,
    pub lockedg: u64,
}

/// Offsets in `runtime._panic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct PanicLayout {
    pub arg: u64,
    pub link: u64,
    pub recovered: u64,
    pub goexit: Option<u64>,
    pub repanicked: Option<u64>,
}

/// Offsets in the runtime type descriptor (`internal/abi.Type`, formerly
/// `runtime._type`) and the interface table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct TypeLayout {
    pub size: u64,
    pub tflag: u64,
    pub kind: u64,
    pub str_: u64,
    /// Offset of the concrete type pointer in an itab.
    pub itab_type: u64,
}

/// Offsets in `runtime.moduledata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct ModuleLayout {
    pub types: u64,
    pub etypes: u64,
    pub next: u64,
}

/// Everything the analysis needs to know about the runtime's data
/// structures in one executable.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    /// `runtime.g`.
    pub g: GLayout,
    /// `runtime.m`.
    pub m: MLayout,
    /// `runtime._panic`.
    pub panic: PanicLayout,
    /// Type descriptors.
    pub ty: TypeLayout,
    /// `runtime.moduledata`.
    pub module: ModuleLayout,
    /// Where the offsets come from.
    pub source: LayoutSource,
}

/// How a [`Layout`] was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayoutSource {
    /// From the executable's DWARF.
    #[default]
    Dwarf,
    /// From gosleuth's table for this Go release (stripped executable).
    Builtin,
    /// From the table of the nearest release gosleuth knows (stripped
    /// executable of an unknown release): may be wrong.
    Nearest,
}

/// Why a layout could not be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutError(pub String);

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

struct Q<'a, 'd> {
    dwarf: &'a Dwarf<'d>,
}

impl Q<'_, '_> {
    fn off(&self, ty: &str, path: &str) -> Result<u64, LayoutError> {
        self.dwarf
            .offset_of(ty, path)
            .map(|(o, _)| o)
            .map_err(|e| LayoutError(format!("{ty}.{path}: {e}")))
    }

    fn opt(&self, ty: &str, path: &str) -> Option<u64> {
        self.dwarf.offset_of(ty, path).ok().map(|(o, _)| o)
    }

    /// Offset of a field that is either a plain integer or an atomic
    /// wrapper struct with a `value` field.
    fn atomic(&self, ty: &str, path: &str) -> Result<u64, LayoutError> {
        let (o, t) = self
            .dwarf
            .offset_of(ty, path)
            .map_err(|e| LayoutError(format!("{ty}.{path}: {e}")))?;
        let under = self
            .dwarf
            .underlying(t.id)
            .map_err(|e| LayoutError(format!("{ty}.{path}: {e}")))?;
        if let TypeKind::Struct { .. } = under.kind
            && let Some(f) = under.field("value")
        {
            return Ok(o + f.offset);
        }
        Ok(o)
    }

    fn first_of(&self, ty: &[&str], path: &[&str]) -> Result<u64, LayoutError> {
        for t in ty {
            for p in path {
                if let Some(o) = self.opt(t, p) {
                    return Ok(o);
                }
            }
        }
        Err(LayoutError(format!("none of {ty:?} has a field {path:?}")))
    }
}

impl Layout {
    /// Reads the layout from DWARF.
    pub fn from_dwarf(dwarf: &Dwarf<'_>) -> Result<Layout, LayoutError> {
        let q = Q { dwarf };
        let g = "runtime.g";
        let m = "runtime.m";
        let p = "runtime._panic";
        let gl = GLayout {
            stack_lo: q.off(g, "stack.lo")?,
            stack_hi: q.off(g, "stack.hi")?,
            panic: q.off(g, "_panic")?,
            defer: q.off(g, "_defer")?,
            m: q.off(g, "m")?,
            sched_sp: q.off(g, "sched.sp")?,
            sched_pc: q.off(g, "sched.pc")?,
            sched_g: q.off(g, "sched.g")?,
            sched_lr: q.off(g, "sched.lr")?,
            sched_bp: q.off(g, "sched.bp")?,
            syscallsp: q.off(g, "syscallsp")?,
            syscallpc: q.off(g, "syscallpc")?,
            syscallbp: q.opt(g, "syscallbp"),
            atomicstatus: q.atomic(g, "atomicstatus")?,
            goid: q.off(g, "goid")?,
            waitsince: q.off(g, "waitsince")?,
            waitreason: q.off(g, "waitreason")?,
            parent_goid: q.opt(g, "parentGoid"),
            gopc: q.off(g, "gopc")?,
            startpc: q.off(g, "startpc")?,
            lockedm: q.off(g, "lockedm")?,
            sig: q.off(g, "sig")?,
            sigcode0: q.off(g, "sigcode0")?,
            sigcode1: q.off(g, "sigcode1")?,
            sigpc: q.off(g, "sigpc")?,
            labels: q.opt(g, "labels"),
        };
        let throwing = dwarf.offset_of(m, "throwing").ok().map(|(o, t)| {
            let size = dwarf
                .underlying(t.id)
                .ok()
                .and_then(|t| t.size)
                .unwrap_or(4);
            (o, size)
        });
        let ml = MLayout {
            g0: q.off(m, "g0")?,
            curg: q.off(m, "curg")?,
            gsignal: q.off(m, "gsignal")?,
            procid: q.off(m, "procid")?,
            id: q.off(m, "id")?,
            throwing,
            dying: q.off(m, "dying")?,
            caughtsig: q.off(m, "caughtsig")?,
            alllink: q.off(m, "alllink")?,
            lockedg: q.off(m, "lockedg")?,
        };
        let pl = PanicLayout {
            arg: q.off(p, "arg")?,
            link: q.off(p, "link")?,
            recovered: q.off(p, "recovered")?,
            goexit: q.opt(p, "goexit"),
            repanicked: q.opt(p, "repanicked"),
        };
        let types = ["internal/abi.Type", "runtime._type"];
        let ty = TypeLayout {
            size: q.first_of(&types, &["Size_", "size"])?,
            tflag: q.first_of(&types, &["TFlag", "tflag"])?,
            kind: q.first_of(&types, &["Kind_", "kind"])?,
            str_: q.first_of(&types, &["Str", "str"])?,
            itab_type: q.first_of(&["internal/abi.ITab", "runtime.itab"], &["Type", "_type"])?,
        };
        let md = "runtime.moduledata";
        let module = ModuleLayout {
            types: q.off(md, "types")?,
            etypes: q.off(md, "etypes")?,
            next: q.off(md, "next")?,
        };
        Ok(Layout {
            g: gl,
            m: ml,
            panic: pl,
            ty,
            module,
            source: LayoutSource::Dwarf,
        })
    }

    /// The built-in layout for a Go release on amd64/arm64 (64-bit), for
    /// executables without DWARF.
    pub fn builtin(version: GoVersion) -> Option<Layout> {
        crate::layout_tables::lookup(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        let v = GoVersion::parse("go1.26.8").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (1, 26, 8));
        let v = GoVersion::parse("Go cmd/compile go1.23.9; regabi").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (1, 23, 9));
        let v = GoVersion::parse("go1.24rc1").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (1, 24, 0));
        assert!(GoVersion::parse("devel +abc").is_none());
        assert!(v.at_least(24) && !v.at_least(25));
    }
}
