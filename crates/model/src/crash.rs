//! The kinds of crash gosleuth tells apart.

use serde::Serialize;

/// What kind of failure a trace shows, in the vocabulary of the
/// `gosleuth.analysis/v1` schema (`crash.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CrashKind {
    /// `panic: assignment to entry in nil map`.
    NilMapWrite,
    /// `fatal error: concurrent map writes`.
    ConcurrentMapWrites,
    /// `fatal error: concurrent map read and map write`.
    ConcurrentMapReadWrite,
    /// `fatal error: concurrent map iteration and map write`.
    ConcurrentMapIterationWrite,
    /// `fatal error: concurrent map clone and map write`.
    ConcurrentMapCloneWrite,
    /// `invalid memory address or nil pointer dereference` at a small address.
    NilPointerDereference,
    /// A fault at an address that is not near zero.
    InvalidMemoryAddress,
    /// `index out of range [i] with length n`.
    IndexOutOfRange,
    /// `slice bounds out of range ...`.
    SliceBoundsOutOfRange,
    /// `close of closed channel`.
    CloseOfClosedChannel,
    /// `close of nil channel`.
    CloseOfNilChannel,
    /// `send on closed channel`.
    SendOnClosedChannel,
    /// `all goroutines are asleep - deadlock!` and its relatives.
    Deadlock,
    /// A panic with a value of the program's own.
    CustomPanic,
    /// `goroutine stack exceeds ... limit` / `stack overflow`.
    StackOverflow,
    /// `runtime: out of memory` and allocation limits.
    OutOfMemory,
    /// A race detector report.
    DataRace,
    /// `interface conversion: ...`.
    TypeAssertion,
    /// `integer divide by zero`.
    DivideByZero,
    /// `sync: negative WaitGroup counter`.
    NegativeWaitgroupCounter,
    /// `sync: unlock of unlocked mutex` and the RWMutex variants.
    UnlockOfUnlockedMutex,
    /// A goroutine dump with no crash in it.
    GoroutineDump,
    /// Any other panic or fatal error.
    Other,
}

impl CrashKind {
    /// The schema's name for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            CrashKind::NilMapWrite => "nil_map_write",
            CrashKind::ConcurrentMapWrites => "concurrent_map_writes",
            CrashKind::ConcurrentMapReadWrite => "concurrent_map_read_write",
            CrashKind::ConcurrentMapIterationWrite => "concurrent_map_iteration_write",
            CrashKind::ConcurrentMapCloneWrite => "concurrent_map_clone_write",
            CrashKind::NilPointerDereference => "nil_pointer_dereference",
            CrashKind::InvalidMemoryAddress => "invalid_memory_address",
            CrashKind::IndexOutOfRange => "index_out_of_range",
            CrashKind::SliceBoundsOutOfRange => "slice_bounds_out_of_range",
            CrashKind::CloseOfClosedChannel => "close_of_closed_channel",
            CrashKind::CloseOfNilChannel => "close_of_nil_channel",
            CrashKind::SendOnClosedChannel => "send_on_closed_channel",
            CrashKind::Deadlock => "deadlock",
            CrashKind::CustomPanic => "custom_panic",
            CrashKind::StackOverflow => "stack_overflow",
            CrashKind::OutOfMemory => "out_of_memory",
            CrashKind::DataRace => "data_race",
            CrashKind::TypeAssertion => "type_assertion",
            CrashKind::DivideByZero => "divide_by_zero",
            CrashKind::NegativeWaitgroupCounter => "negative_waitgroup_counter",
            CrashKind::UnlockOfUnlockedMutex => "unlock_of_unlocked_mutex",
            CrashKind::GoroutineDump => "goroutine_dump",
            CrashKind::Other => "other",
        }
    }

    /// Whether the kind is one of the map faults (nil map write or a
    /// concurrent-use fatal error).
    pub fn is_map_fault(self) -> bool {
        matches!(
            self,
            CrashKind::NilMapWrite
                | CrashKind::ConcurrentMapWrites
                | CrashKind::ConcurrentMapReadWrite
                | CrashKind::ConcurrentMapIterationWrite
                | CrashKind::ConcurrentMapCloneWrite
        )
    }
}

impl std::fmt::Display for CrashKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
