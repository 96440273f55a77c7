//! PC → frames (inlined chain innermost first), the way the Go runtime's
//! `inlineUnwinder` walks it (`runtime/symtabinl.go`).

use crate::error::Result;
use crate::pclntab::{Func, Pclntab};

/// One source-level frame at a PC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Function name as the symbol table spells it (`main.(*T).m`,
    /// `main.sum[go.shape.int]`).
    pub function: &'a str,
    /// Source file, `?` when the table has none.
    pub file: &'a str,
    /// Source line, 0 when unknown.
    pub line: u32,
    /// Entry PC of the physical (outermost, non-inlined) function.
    pub entry: u64,
    /// `pc - entry`: the `+0x1d` of tracebacks. Inlined frames carry the
    /// same offset (tracebacks print none for them).
    pub offset: u64,
    /// Whether this frame was inlined into the next one.
    pub inlined: bool,
}

/// Appends the frames at `pc` in `func` to `out`, innermost first. The PC is
/// used as given: for a return address pass `pc - 1` (see
/// [`crate::Binary::frames_for_return_address`]).
pub fn frames_in<'a>(func: &Func<'a, '_>, pc: u64, out: &mut Vec<Frame<'a>>) -> Result<()> {
    let entry = func.entry();
    let offset = pc.wrapping_sub(entry);
    let mut p = pc;
    // Bound the walk: a corrupted tree could loop.
    for _ in 0..1024 {
        let Some(call) = func.inlined_call(p) else {
            break;
        };
        let call = call?;
        out.push(Frame {
            function: call.name,
            file: func.file(p).unwrap_or("?"),
            line: func.line(p).map_or(0, |l| l.max(0) as u32),
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
    out.push(Frame {
        function: func.name().unwrap_or("?"),
        file: func.file(p).unwrap_or("?"),
        line: func.line(p).map_or(0, |l| l.max(0) as u32),
        entry,
        offset,
        inlined: false,
    });
    Ok(())
}

/// Frames at `pc`, or an empty vector when no function contains it.
pub fn frames<'a>(tab: &Pclntab<'a>, pc: u64) -> Result<Vec<Frame<'a>>> {
    let mut out = Vec::new();
    if let Some(f) = tab.find(pc) {
        frames_in(&f?, pc, &mut out)?;
    }
    Ok(out)
}
