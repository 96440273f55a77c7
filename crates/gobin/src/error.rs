//! Errors: what went wrong and where in the binary.

use std::fmt;

/// Where in the binary an error happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pos {
    /// No better position is known (e.g. "the file has no pclntab").
    Unknown,
    /// A byte offset in the file.
    File(u64),
    /// An offset from the start of a section (or of a table found by
    /// scanning, named like a section: `pclntab`).
    Section {
        /// Section name, e.g. `.gopclntab`.
        name: &'static str,
        /// Offset from the section start.
        offset: u64,
    },
    /// A virtual address in the program's address space.
    Addr(u64),
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pos::Unknown => f.write_str("unknown position"),
            Pos::File(off) => write!(f, "file offset {off:#x}"),
            Pos::Section { name, offset } => write!(f, "{name}+{offset:#x}"),
            Pos::Addr(addr) => write!(f, "address {addr:#x}"),
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The ELF container is malformed (message from the `object` crate).
    Elf(String),
    /// The file is not a format gobin reads (e.g. not ELF).
    UnsupportedFormat(&'static str),
    /// No pclntab was found by section, symbol or scan.
    NoPclntab,
    /// The pclntab header has an unknown magic number.
    BadPclntabMagic(u32),
    /// A structure extends past the end of the data holding it.
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// A field holds a value that cannot be right.
    BadValue {
        /// The field.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// An address is not backed by file data.
    Unmapped {
        /// What was being read.
        what: &'static str,
    },
    /// No `.go.buildinfo` blob was found.
    NoBuildInfo,
    /// The binary carries no DWARF.
    NoDwarf,
    /// A compressed section could not be decompressed.
    Decompress(String),
    /// gimli reported a DWARF error.
    Dwarf(gimli::Error),
    /// A name (type, variable, constant, function, field) is not present.
    NotFound {
        /// What kind of thing was looked up.
        what: &'static str,
        /// The name asked for.
        name: String,
    },
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Elf(msg) => write!(f, "malformed ELF: {msg}"),
            ErrorKind::UnsupportedFormat(msg) => write!(f, "unsupported format: {msg}"),
            ErrorKind::NoPclntab => f.write_str("no Go pclntab found (not a Go binary?)"),
            ErrorKind::BadPclntabMagic(m) => write!(f, "unknown pclntab magic {m:#010x}"),
            ErrorKind::Truncated { what } => write!(f, "truncated {what}"),
            ErrorKind::BadValue { what, value } => write!(f, "bad {what} {value:#x}"),
            ErrorKind::Unmapped { what } => write!(f, "{what} is not in any loaded segment"),
            ErrorKind::NoBuildInfo => f.write_str("no Go build information (.go.buildinfo)"),
            ErrorKind::NoDwarf => f.write_str("no DWARF debug information"),
            ErrorKind::Decompress(msg) => write!(f, "cannot decompress: {msg}"),
            ErrorKind::Dwarf(e) => write!(f, "DWARF: {}", e),
            ErrorKind::NotFound { what, name } => write!(f, "no {what} named {name:?}"),
        }
    }
}

/// An error with its position in the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    at: Pos,
}

impl Error {
    /// An error of `kind` at `at`.
    pub fn new(kind: ErrorKind, at: Pos) -> Self {
        Error { kind, at }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Where it went wrong.
    pub fn pos(&self) -> &Pos {
        &self.at
    }

    pub(crate) fn truncated(what: &'static str, at: Pos) -> Self {
        Error::new(ErrorKind::Truncated { what }, at)
    }

    pub(crate) fn bad(what: &'static str, value: u64, at: Pos) -> Self {
        Error::new(ErrorKind::BadValue { what, value }, at)
    }

    pub(crate) fn not_found(what: &'static str, name: impl Into<String>) -> Self {
        Error::new(
            ErrorKind::NotFound {
                what,
                name: name.into(),
            },
            Pos::Unknown,
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Pos::Unknown => write!(f, "{}", self.kind),
            _ => write!(f, "{} at {}", self.kind, self.at),
        }
    }
}

impl std::error::Error for Error {}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
