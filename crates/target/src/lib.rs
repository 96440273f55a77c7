//! The Go runtime as seen from outside: goroutines, stacks, the crash,
//! values and maps, read from any stopped Go process through one seam.
//!
//! Brief overview:
//! - [`Memory`] and [`Target`] are what a backend provides (a core file
//!   today: `gosleuth-coredump`; a live Delve session later): the
//!   executable, bytes at addresses, threads and their registers.
//! - [`Process::new`] locates the runtime: struct offsets from the
//!   executable's DWARF ([`Layout`]), or built-in tables for stripped
//!   executables; `runtime.allgs`, `runtime.allm`, wait reason names.
//! - [`Process::goroutines`] lists every [`Goroutine`] with its status,
//!   wait reason and creator; [`Process::unwind`] walks its [`Stack`] with
//!   pclntab frame sizes, from saved contexts or thread registers, through
//!   `systemstack`, `morestack`, `sigpanic` and signal frames, inlined calls
//!   expanded.
//! - [`Process::crash`] finds the goroutine that crashed and why: the
//!   signal, the panic chain with each value and its dynamic type, the
//!   `throw`/`fatal` message.
//! - [`Inspector`] reads values through DWARF: locals and arguments of a
//!   frame, package variables, expressions (`s.cache`, `*p`, `x[3]`), all
//!   Go kinds, and maps of both eras (classic `hmap`, Swiss tables) with
//!   their header and health, under [`LoadLimits`].
//!
//! ```no_run
//! # fn demo<'d>(target: &dyn gosleuth_target::Target<'d>) -> Result<(), gosleuth_target::Error> {
//! use gosleuth_target::{Process, UnwindCache, UnwindOptions};
//! let p = Process::new(target)?;
//! let mut cache = UnwindCache::new();
//! for g in p.goroutines()? {
//!     let stack = p.unwind(g, &mut cache, UnwindOptions::default());
//!     println!("goroutine {} [{}]: {} frames", g.id, g.state(), stack.frames.len());
//! }
//! # Ok(()) }
//! ```
//!
//! This crate knows no backend and does no I/O. Reads are bounded and
//! checked: corrupted memory gives errors and partial results, never a
//! panic.

#![deny(missing_docs)]

mod crash;
mod error;
mod expr;
mod goroutines;
mod layout;
mod layout_tables;
mod maps;
mod memory;
mod process;
mod rtype;
mod summary;
mod target;
mod unwind;
mod value;
mod vars;

pub use crash::{CauseSignal, Crash, PanicInfo};
pub use error::{Error, ErrorKind, Result};
pub use expr::{Expr, Key, parse as parse_expr};
pub use goroutines::{
    CreatedBy, G_SCAN, GSignal, Gobuf, Goroutine, status, status_name, traceback_name,
    write_created_by, write_traceback_frame,
};
pub use layout::{
    GLayout, GoVersion, Layout, LayoutError, LayoutSource, MLayout, ModuleLayout, PanicLayout,
    TypeLayout,
};
pub use maps::{HmapHeader, MapHeader, MapHealth, MapValue, SwissHeader, SwissTable};
pub use memory::{MAX_READ, MemError, MemErrorKind, Memory, Reader, VecMemory};
pub use process::{Globals, MInfo, Process, ThreadInfo};
pub use rtype::{RType, kind};
pub use summary::{
    FrameSummary, GoroutineSummary, MapSummary, SignalSummary, Summary, is_map_op, is_std_variable,
};
pub use target::{Arch, Registers, SignalInfo, Target, Thread, signal_name};
pub use unwind::{Frame, PhysicalFrame, Stack, StackSource, UnwindCache, UnwindOptions};
pub use value::{Inspector, LoadLimits, Value, ValueKind};
pub use vars::{Role, Variable};
