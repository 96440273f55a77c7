//! Errors that say what is wrong with a profile and where.

use std::fmt;

/// Where in the input a problem was found.
///
/// `offset` is a byte offset into the *decompressed* profile.proto message
/// (or the legacy text/binary), when it could be established; `path` names
/// the field in the message tree, `sample[12].location_id[3]`, or the line
/// of a legacy text profile, `line 7`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pos {
    /// Byte offset in the decompressed input.
    pub offset: Option<u64>,
    /// Field path (`function[3].name`) or text position (`line 7`).
    pub path: String,
}

impl Pos {
    /// A position with a path only; the offset is filled in later if it
    /// can be recovered.
    pub fn path(path: impl Into<String>) -> Pos {
        Pos {
            offset: None,
            path: path.into(),
        }
    }

    /// A position at a byte offset with a path.
    pub fn at(offset: u64, path: impl Into<String>) -> Pos {
        Pos {
            offset: Some(offset),
            path: path.into(),
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.offset, self.path.is_empty()) {
            (Some(o), false) => write!(f, "{} (byte offset {o})", self.path),
            (Some(o), true) => write!(f, "byte offset {o}"),
            (None, false) => write!(f, "{}", self.path),
            (None, true) => write!(f, "start of input"),
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is empty.
    Empty,
    /// The gzip container is broken.
    Gzip(String),
    /// The protobuf wire format is broken (truncated varint, length past the
    /// end, bad wire type...).
    Wire(String),
    /// A string-table index is outside the table.
    StringIndex {
        /// The index found.
        index: i64,
        /// The size of the string table.
        len: usize,
    },
    /// The string table does not start with "".
    StringTableStart,
    /// An id of 0 where ids must be non-zero.
    ZeroId,
    /// Two entries of one table have the same id.
    DuplicateId(u64),
    /// A reference to an id that is not in its table.
    UnknownId(u64),
    /// A sample has a different number of values than there are sample types.
    ValueCount {
        /// Values in the sample.
        got: usize,
        /// Sample types in the profile.
        want: usize,
    },
    /// Samples but no sample types.
    NoSampleTypes,
    /// Several profiles concatenated in one message (`time_nanos` twice).
    Concatenated,
    /// Not a format gosleuth reads.
    Unrecognized,
    /// A legacy format that gosleuth recognises but does not read (C++ and
    /// Java profiler text formats).
    UnsupportedFormat(&'static str),
    /// A legacy profile whose content is malformed.
    Malformed(String),
    /// Profiles that cannot be merged or compared.
    Incompatible(String),
    /// A query option that does not apply to this profile (unknown sample
    /// index, bad regular expression...).
    Option(String),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Empty => write!(f, "empty input"),
            ErrorKind::Gzip(e) => write!(f, "broken gzip stream: {e}"),
            ErrorKind::Wire(e) => write!(f, "broken protobuf: {e}"),
            ErrorKind::StringIndex { index, len } => write!(
                f,
                "string index {index} outside the string table of {len} entries"
            ),
            ErrorKind::StringTableStart => write!(f, "string table does not start with \"\""),
            ErrorKind::ZeroId => write!(f, "id 0 is reserved"),
            ErrorKind::DuplicateId(id) => write!(f, "duplicate id {id}"),
            ErrorKind::UnknownId(id) => write!(f, "reference to unknown id {id}"),
            ErrorKind::ValueCount { got, want } => write!(
                f,
                "sample has {got} values but the profile has {want} sample types"
            ),
            ErrorKind::NoSampleTypes => write!(f, "samples without sample type information"),
            ErrorKind::Concatenated => write!(f, "concatenated profiles (time_nanos set twice)"),
            ErrorKind::Unrecognized => write!(
                f,
                "not a profile: neither profile.proto nor a legacy profile format"
            ),
            ErrorKind::UnsupportedFormat(name) => write!(
                f,
                "{name}: a legacy profile format of non-Go profilers that gosleuth does not read \
                 (convert it with `go tool pprof -proto`)"
            ),
            ErrorKind::Malformed(e) => write!(f, "malformed profile: {e}"),
            ErrorKind::Incompatible(e) => write!(f, "incompatible profiles: {e}"),
            ErrorKind::Option(e) => write!(f, "{e}"),
        }
    }
}

/// An error with the place it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Where.
    pub at: Pos,
}

impl Error {
    /// An error at a position.
    pub fn new(kind: ErrorKind, at: Pos) -> Error {
        Error { kind, at }
    }

    /// An error about options or inputs as a whole, with no position.
    pub fn option(msg: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Option(msg.into()),
            at: Pos::default(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at == Pos::default() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{} at {}", self.kind, self.at)
        }
    }
}

impl std::error::Error for Error {}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
