//! Errors: what could not be read, and what was being read when it failed
//! (`g.stack.hi of goroutine 17 at 0xc000123450`).

use std::fmt;

use crate::memory::MemError;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Target memory could not be read.
    Memory(MemError),
    /// The executable could not be read.
    Binary(gosleuth_gobin::Error),
    /// The runtime's structures could not be located (no DWARF and no
    /// built-in layout, or a global missing).
    NoRuntime(String),
    /// Memory holds something that cannot be right.
    Corrupt(String),
    /// A name (goroutine, frame, variable, field) does not exist.
    NotFound(String),
    /// Something this crate does not handle.
    Unsupported(String),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Memory(e) => write!(f, "{e}"),
            ErrorKind::Binary(e) => write!(f, "{e}"),
            ErrorKind::NoRuntime(s) => write!(f, "cannot locate the Go runtime: {s}"),
            ErrorKind::Corrupt(s) => write!(f, "corrupt: {s}"),
            ErrorKind::NotFound(s) => write!(f, "{s}"),
            ErrorKind::Unsupported(s) => write!(f, "unsupported: {s}"),
        }
    }
}

/// An error with what was being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// What was being read (empty when the kind says it all).
    pub at: String,
}

impl Error {
    /// An error of `kind` while reading `at`.
    pub fn new(kind: ErrorKind, at: impl Into<String>) -> Self {
        Error {
            kind,
            at: at.into(),
        }
    }

    /// Memory error while reading `at`.
    pub fn mem(e: MemError, at: impl Into<String>) -> Self {
        Error::new(ErrorKind::Memory(e), at)
    }

    /// Not found.
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound(what.into()), "")
    }

    /// Corrupt data while reading `at`.
    pub fn corrupt(what: impl Into<String>, at: impl Into<String>) -> Self {
        Error::new(ErrorKind::Corrupt(what.into()), at)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{} (reading {})", self.kind, self.at)
        }
    }
}

impl std::error::Error for Error {}

impl From<gosleuth_gobin::Error> for Error {
    fn from(e: gosleuth_gobin::Error) -> Self {
        Error::new(ErrorKind::Binary(e), "")
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
