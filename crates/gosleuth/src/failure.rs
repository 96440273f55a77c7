//! How a command fails, which decides the exit status.

use std::io;

/// Why a command could not finish.
///
/// The split matters to scripts: exit status 2 means "the artifact you gave
/// me cannot be used" (fix the input), 1 means "gosleuth itself failed"
/// (report a bug).
#[derive(Debug)]
pub enum Failure {
    /// The input is missing, unreadable, or not any artifact gosleuth knows.
    BadInput(anyhow::Error),
    /// Anything else: a bug, or the output could not be written.
    Internal(anyhow::Error),
}

impl Failure {
    pub fn bad_input(err: impl Into<anyhow::Error>) -> Self {
        Failure::BadInput(err.into())
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Failure::Internal(err.into())
    }

    /// True when the failure is only that stdout was closed by the reader
    /// (`| head`): the user got what they wanted.
    pub fn is_broken_pipe(&self) -> bool {
        let err = match self {
            Failure::BadInput(e) | Failure::Internal(e) => e,
        };
        err.chain().any(|cause| {
            cause
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
        })
    }
}

impl From<io::Error> for Failure {
    /// Errors writing the report are internal (or a broken pipe).
    fn from(err: io::Error) -> Self {
        Failure::Internal(err.into())
    }
}

pub type CmdResult = Result<(), Failure>;
