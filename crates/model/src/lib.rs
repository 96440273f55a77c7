//! Shared vocabulary of gosleuth: the words every evidence crate, the
//! diagnosis and the renderers agree on.
//!
//! Brief overview:
//! - [`ArtifactKind::sniff`] recognises an input by its first bytes.
//! - [`CrashKind`] names what went wrong, in the vocabulary of the
//!   `gosleuth.analysis/v1` JSON schema.
//! - [`Finding`] is one observation with its meaning, the unit of every report.
//! - [`runtime_map_role`] says which Go runtime functions work on maps and
//!   how, for every kind of evidence and both map implementations.
//! - [`Addr`] and [`GoroutineId`] keep addresses and ids from being mixed up
//!   with other numbers.
//!
//! This crate parses nothing beyond magic bytes and does no I/O.

#![deny(missing_docs)]

mod artifact;
mod crash;
mod finding;
mod maps;

pub use artifact::ArtifactKind;
pub use crash::CrashKind;
pub use finding::{Finding, Severity};
pub use maps::{MapOperation, MapRole, runtime_map_role};

/// An address in the address space of a Go process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Addr(pub u64);

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A goroutine id as the runtime prints it (`goroutine 18 [running]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoroutineId(pub u64);

impl std::fmt::Display for GoroutineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
