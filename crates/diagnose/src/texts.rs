//! The words of findings: what each kind of crash means and what to do.
//! Kept apart from the rules so the rules read as logic.

use gosleuth_model::{CrashKind, Finding, Severity};

use crate::report::{Crash, SignalView};

/// What a crash kind means and where to look next.
pub fn kind_meaning(kind: CrashKind) -> String {
    let s = match kind {
        CrashKind::NilMapWrite => {
            "A map was written before it was ever created: its value is nil. Reading, len, range and delete on a nil map are all allowed, so the program ran until the first write. The map is usually a struct field whose constructor (or struct literal) forgot make(map[K]V); initialise it there, or make it before the first write."
        }
        CrashKind::ConcurrentMapWrites => {
            "Two goroutines wrote the same map at the same time. Go maps are not safe for concurrent use; the runtime detected it and killed the process (a fatal error, not a panic: recover cannot catch it). Guard every access with one sync.Mutex/RWMutex, give the map a single owner goroutine, or use sync.Map."
        }
        CrashKind::ConcurrentMapReadWrite => {
            "A goroutine read a map while another goroutine was writing it. Go maps are not safe for concurrent use, even when only one side writes; the runtime killed the process. Guard reads and writes with the same sync.RWMutex (RLock for reads), or give the map one owner."
        }
        CrashKind::ConcurrentMapIterationWrite => {
            "A goroutine ranged over a map while another goroutine wrote it. Iteration is a read that lasts the whole loop; hold the map's read lock for the loop (or iterate over a copy taken under the lock)."
        }
        CrashKind::ConcurrentMapCloneWrite => {
            "maps.Clone (or a copy) ran while another goroutine wrote the map. Take the map's lock around the clone."
        }
        CrashKind::NilPointerDereference => {
            "A nil pointer was dereferenced: a method called on a nil receiver, a field of a nil struct pointer, or *p with p == nil. Find which value is nil on the culprit line and where it should have been set: an ignored error from a constructor, a map lookup or type assertion that returned the zero value, a field never initialised."
        }
        CrashKind::InvalidMemoryAddress => {
            "Memory was accessed at an address that is neither nil nor valid. Plain Go code cannot produce one: look for unsafe, cgo, a data race on an interface/slice/string header (a torn write), or memory reused after free."
        }
        CrashKind::IndexOutOfRange => {
            "An index was outside a slice, array or string; the message gives the index and the length. Check the length before indexing, and look at why the data was shorter than the code assumed (empty input, an off-by-one, a concurrent shrink)."
        }
        CrashKind::SliceBoundsOutOfRange => {
            "A slice expression's bounds were beyond the length or capacity (or low > high); the message gives the bounds. Validate lengths before slicing, particularly of external input."
        }
        CrashKind::CloseOfClosedChannel => {
            "A channel was closed twice. Only the owner (the sending side) should close a channel, exactly once; use sync.Once, or make one goroutine responsible for closing."
        }
        CrashKind::CloseOfNilChannel => {
            "close was called on a nil channel: the channel was never made. Make it in the constructor, or check for nil before closing."
        }
        CrashKind::SendOnClosedChannel => {
            "A goroutine sent on a channel that was already closed: whoever closed it did not wait for all senders to stop. Close only after every sender is done (sync.WaitGroup), or stop senders through a separate done channel/context and never close the data channel from the receiving side."
        }
        CrashKind::Deadlock => {
            "Every goroutine was blocked and none could wake another, so the runtime stopped the program. See what each goroutine waits for below: a channel operation without a partner, a WaitGroup never Done, a lock never released."
        }
        CrashKind::CustomPanic => {
            "The program (or a library) called panic with its own value. The culprit is where panic was called (or the closest application frame); the message says why it gave up."
        }
        CrashKind::StackOverflow => {
            "A goroutine's stack grew past the runtime's limit (1 GB on 64-bit): almost always unbounded recursion, sometimes a cycle in a data structure being walked recursively (a String method calling itself through fmt, a parent pointer loop). The repeating frames show the cycle."
        }
        CrashKind::OutOfMemory => {
            "The runtime could not get more memory from the OS. Take a heap profile before the crash (or look at the container's memory limit and GOMEMLIMIT); the allocations that grow without bound are the cause, not the frame that happened to ask last."
        }
        CrashKind::DataRace => {
            "The race detector saw two goroutines touch the same memory without synchronisation, at least one of them writing. The two stacks are the two sides of the race."
        }
        CrashKind::TypeAssertion => {
            "A type assertion x.(T) failed: the dynamic type was not T (or x was nil). Use the two-value form v, ok := x.(T), or a type switch, where the type can vary."
        }
        CrashKind::DivideByZero => {
            "An integer division or modulo by zero. Check the divisor; it often comes from an empty collection (len == 0) or a zero configuration value."
        }
        CrashKind::NegativeWaitgroupCounter => {
            "sync.WaitGroup.Done was called more often than Add: a Done on a path that did not Add, or Add called after the goroutine started and finished."
        }
        CrashKind::UnlockOfUnlockedMutex => {
            "Unlock was called on a mutex that was not locked: a double Unlock (often a deferred Unlock plus an explicit one), or an Unlock on a copy of the mutex (a struct holding it passed by value)."
        }
        CrashKind::GoroutineDump => {
            "A goroutine dump, not a crash: the process was alive when it was taken. The groups below show where goroutines are and how many."
        }
        CrashKind::Other => {
            "A runtime failure outside gosleuth's catalogue; the message says what the runtime saw. Crashes inside the runtime with no application frame usually mean memory corruption (unsafe, cgo, a data race) or a runtime bug."
        }
        _ => "A failure of a kind gosleuth does not describe yet.",
    };
    s.to_string()
}

/// The nil-map-write finding: only writes panic.
pub fn nil_map_write(crash: &Crash) -> Finding {
    let at = crash
        .culprit
        .as_ref()
        .map(|c| format!(" The write is at {} ({}).", c.function, c.location()))
        .unwrap_or_default();
    Finding::new(
        "nil-map-write",
        Severity::Critical,
        "A nil map was written",
        format!("`assignment to entry in nil map`: the map's header pointer is nil (0x0).{at}"),
        "Only a write panics: reads (m[k] returns the zero value), len (0), range (no iterations) and delete (no-op) all work on a nil map, which is why the code around it looked healthy. Find where the map's owner is built — the constructor or struct literal that did not call make — and initialise it there; give --source DIR to see the map expression on the culprit line.".to_string(),
    )
}

/// A `[recovered]` chain.
pub fn panic_chain(crash: &Crash) -> Finding {
    let chain: Vec<String> = crash
        .panics
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mark = if p.repanicked {
                " [recovered, repanicked]"
            } else if p.recovered {
                " [recovered]"
            } else {
                ""
            };
            format!("{}. `{}`{mark}", i + 1, p.message)
        })
        .collect();
    let same = crash
        .panics
        .windows(2)
        .all(|w| w[0].message == w[1].message);
    let meaning = if same || crash.panics.iter().any(|p| p.repanicked) {
        "The same value was recovered and panicked again, typically by a recover-log-repanic helper (test runner, HandleCrash, tracing span End). The first panic is the real one; the helper only reported it."
    } else {
        "A deferred function recovered the first panic and then panicked itself. The first panic is the original failure (the culprit is below it); the later one happened in cleanup code, which may hide the first if only the last line is read."
    };
    Finding::new(
        "panic-chain",
        Severity::Warning,
        format!("{} panics in a chain", crash.panics.len()),
        format!("Panics, oldest first: {}.", chain.join(" ")),
        meaning.to_string(),
    )
}

/// A panic recovered and logged by a server or framework.
pub fn recovered(crash: &Crash, by: &str) -> Finding {
    Finding::new(
        "recovered-panic",
        Severity::Warning,
        format!("The panic was recovered and logged by {by}"),
        format!(
            "{by} caught the panic and logged its stack; the process kept running.",
        ),
        match by {
            "net/http" => "net/http recovers panics in handlers: the client got a closed connection with no response, and the server went on. Such panics repeat silently on every matching request, and any lock held or state half-updated at the time of the panic stays that way. Treat each `http: panic serving` line as a crash.",
            _ => "A recovery handler caught this panic. The process survived, but the operation failed, and state touched before the panic may be half-updated.",
        }
        .to_string(),
    )
    .with_evidence(format!("{}:{}", crash.input, crash.line))
}

/// What a SIGSEGV address says.
pub fn fault_address(s: &SignalView, addr: u64, crash: &Crash) -> (String, String, Severity) {
    let at = crash
        .culprit
        .as_ref()
        .map(|c| format!(" in {} ({})", c.function, c.location()))
        .unwrap_or_default();
    if addr == 0 {
        (
            format!("{} with addr=0x0{at}.", s.name),
            "Address 0 is the nil pointer itself: a nil pointer, interface or func value was dereferenced or called — often a method on a nil receiver whose first access is at offset 0.".to_string(),
            Severity::Critical,
        )
    } else if addr < 0x1000 {
        (
            format!("{} with addr={addr:#x}{at}.", s.name),
            format!(
                "A small address is a field of a nil struct pointer: the code read or wrote the field at offset {addr:#x} ({addr}) of a struct through a pointer that is nil. Find the struct type on the culprit line whose field sits at that offset; that pointer is the nil one."
            ),
            Severity::Critical,
        )
    } else {
        (
            format!("{} with addr={addr:#x}{at}.", s.name),
            "The address is far from zero: not a plain nil dereference. Suspect unsafe pointer arithmetic, cgo memory, or a torn interface/slice header from a data race.".to_string(),
            Severity::Warning,
        )
    }
}

/// A concurrent map fault whose dump shows only the crashing goroutine.
pub fn map_fault_single_goroutine(crash: &Crash) -> Finding {
    Finding::new(
        "concurrent-map-single-goroutine",
        Severity::Warning,
        "Only the crashing goroutine is in the dump",
        format!(
            "The trace holds only goroutine {}; the goroutine it raced with is not printed.",
            crash.goroutine.map_or("?".into(), |g| g.to_string())
        ),
        "Since Go 1.26 a map fatal error prints only the current goroutine unless GOTRACEBACK=all (older Go printed all goroutines). To see the other party: run with GOTRACEBACK=all (or crash, for a core dump), or reproduce under the race detector (go test -race / go build -race), which reports both stacks.".to_string(),
    )
}

/// A crash inside the runtime with no goroutine header at all.
pub fn runtime_internal(crash: &Crash) -> Finding {
    Finding::new(
        "runtime-internal-crash",
        Severity::Critical,
        "Crash inside the Go runtime",
        format!(
            "The only stack is the runtime's own system stack{}; no application frame is in the text.",
            crash
                .stack
                .iter()
                .find(|f| f.function.starts_with("runtime.") && !f.function.contains("throw") && !f.function.contains("sigpanic"))
                .map(|f| format!(" ({} ...)", f.function))
                .unwrap_or_default()
        ),
        "Do not blame the application frame printed next to it: a fault inside the garbage collector or scheduler means the heap was corrupted earlier (unsafe, cgo writing out of bounds, a data race on pointers) or a runtime bug. Run the program with -race, check cgo code with sanitizers, and try the latest Go patch release.".to_string(),
    )
}
