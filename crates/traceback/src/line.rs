//! Classifying one line of traceback text.
//!
//! Pure functions from a line (prefix already removed) to what it is. The
//! grammar follows `runtime/traceback.go` (`goroutineheader`, `printFuncName`,
//! `printcreatedby1`), `runtime/panic.go` (`printpanics`) and
//! `runtime/pprof/pprof.go` (`printCountProfile`); see
//! `../shared/reference/traceback-format.md`. Where Go's output allows
//! it, we match from the end of the line (file lines end in `:LINE +0xOFF`),
//! because the start of a line may carry dirt and paths may contain spaces.

/// What one line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    Blank,
    Header(Header<'a>),
    /// `goroutine running on other thread; stack unavailable`.
    StackUnavailable,
    /// `panic: ...`, `chained` when indented (a later panic of the chain).
    Panic {
        message: &'a [u8],
        recovered: bool,
        repanicked: bool,
        chained: bool,
    },
    /// `fatal error: ...`.
    Fatal(&'a [u8]),
    /// `[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x..]`.
    Signal(SignalFields<'a>),
    /// `SIGQUIT: quit` (fatal signal header).
    FatalSignal {
        name: &'a [u8],
        description: &'a [u8],
    },
    /// `PC=0x4854e1 m=0 sigcode=0 [addr=0x..]`.
    SignalPc(SignalFields<'a>),
    /// `unexpected fault address 0x...`.
    UnexpectedFault(u64),
    /// `runtime: ...` diagnostic lines printed before a throw.
    RuntimeNote(&'a [u8]),
    /// `runtime stack:`.
    RuntimeStack,
    /// `[originating from goroutine N]:`.
    Ancestor(u64),
    Function {
        name: &'a [u8],
        args: &'a [u8],
    },
    File {
        path: &'a [u8],
        line: u32,
        offset: Option<u32>,
    },
    /// `created by F` / `created by F in goroutine N`.
    CreatedBy {
        function: &'a [u8],
        parent: Option<u64>,
    },
    /// `...additional frames elided...` / `...N frames elided...`.
    Elided(Option<u32>),
    /// `http: panic serving ADDR: MESSAGE` (net/http's recovery log).
    HttpPanicServing(&'a [u8]),
    /// klog / controller-runtime `Observed a panic: VALUE (TEXT)`.
    ObservedPanic(&'a [u8]),
    /// `==================` around race reports.
    RaceRule,
    /// `WARNING: DATA RACE`.
    RaceWarning,
    /// `Read at 0x.. by goroutine N:` and friends.
    RaceAccess {
        what: &'a [u8],
        addr: Option<u64>,
        goroutine: Option<u64>,
    },
    /// `Goroutine N (running) created at:`.
    RaceCreated {
        goroutine: u64,
        state: &'a [u8],
    },
    /// `Found N data race(s)`.
    RaceFound,
    /// `goroutine profile: total N`.
    Debug1Total(u64),
    /// `N @ 0x... 0x...`.
    Debug1Record(u64),
    /// `# labels: {...}`.
    Debug1Labels(&'a [u8]),
    /// `#\t0x4dd656\tmain.f+0x16\t/src/main.go:118`.
    Debug1Frame {
        function: &'a [u8],
        offset: Option<u32>,
        path: &'a [u8],
        line: u32,
    },
    /// `#\t0x4dd656` with no symbol.
    Debug1BarePc,
    /// A register of a fatal-signal dump (`rip    0x4854e1`).
    Register {
        name: &'a [u8],
        value: u64,
    },
    /// `exit status 2`.
    ExitStatus(i32),
    /// `-----` between the stacks of several Ms in a crash dump.
    Separator,
    Other,
}

/// A parsed goroutine header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Header<'a> {
    pub id: u64,
    pub state: &'a [u8],
    pub wait_minutes: Option<u32>,
    pub locked: bool,
    pub leaked: bool,
    pub durable: bool,
    pub scan: bool,
    pub bubble: Option<u64>,
    pub labels: Option<&'a [u8]>,
    pub m: Option<Option<u32>>,
}

/// `key=value` fields of signal lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SignalFields<'a> {
    pub name: &'a [u8],
    pub description: &'a [u8],
    pub code: Option<u64>,
    pub addr: Option<u64>,
    pub pc: Option<u64>,
    pub m: Option<u32>,
}

pub(crate) fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

fn strip<'a>(b: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    b.strip_prefix(prefix)
}

/// Parses a decimal number that makes up the whole slice.
pub(crate) fn parse_dec(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    Some(v)
}

/// Parses `0x...` (or bare hex when `allow_bare`) making up the whole slice.
pub(crate) fn parse_hex(b: &[u8]) -> Option<u64> {
    let digits = b.strip_prefix(b"0x").or_else(|| b.strip_prefix(b"0X"))?;
    parse_bare_hex(digits)
}

fn parse_bare_hex(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

/// Leading decimal digits of `b` and the rest.
fn take_dec(b: &[u8]) -> Option<(u64, &[u8])> {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    Some((parse_dec(&b[..n])?, &b[n..]))
}

/// Classifies a line whose log prefix (if any) was already removed.
pub(crate) fn classify(raw: &[u8]) -> Line<'_> {
    if let Some(file) = plain_file_line(raw) {
        return file;
    }
    let indent = raw.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    let t = trim(raw);
    let Some(&first) = t.first() else {
        return Line::Blank;
    };
    let keyword = match first {
        b'g' => classify_g(t),
        b'p' => classify_panic(t, indent > 0),
        b'f' => strip(t, b"fatal error: ")
            .or_else(|| (t == b"fatal error:").then_some(&b""[..]))
            .map(Line::Fatal),
        b'[' => classify_bracket(t),
        b'c' => classify_created_by(t),
        b'.' => classify_elided(t),
        b'r' => classify_r(t),
        b'S' => classify_fatal_signal(t),
        b'P' => strip(t, b"PC=")
            .map(|_| Line::SignalPc(parse_signal_fields(t)))
            .or_else(|| classify_race_access(t)),
        b'W' => {
            if t == b"WARNING: DATA RACE" {
                Some(Line::RaceWarning)
            } else {
                classify_race_access(t)
            }
        }
        b'R' | b'A' => classify_race_access(t),
        b'G' => classify_race_created(t),
        b'=' => (t.len() >= 10 && t.iter().all(|&c| c == b'=')).then_some(Line::RaceRule),
        b'#' => classify_debug1(t),
        b'0'..=b'9' => classify_debug1_record(t),
        b'e' => strip(t, b"exit status ")
            .and_then(parse_dec)
            .and_then(|v| i32::try_from(v).ok())
            .map(Line::ExitStatus),
        b'u' => strip(t, b"unexpected fault address ")
            .and_then(|rest| parse_hex(trim(rest)))
            .map(Line::UnexpectedFault),
        b'-' => (t.len() >= 3 && t.iter().all(|&c| c == b'-')).then_some(Line::Separator),
        b'h' => strip(t, b"http: panic serving ").map(|rest| {
            // `ADDR: MESSAGE`; the address may contain colons but not ": ".
            let msg = find(rest, b": ").map_or(rest, |i| &rest[i + 2..]);
            Line::HttpPanicServing(msg)
        }),
        b'O' => strip(t, b"Observed a panic: ").map(Line::ObservedPanic),
        b'F' => strip(t, b"Found ")
            .and_then(take_dec)
            .filter(|(_, rest)| *rest == b" data race(s)")
            .map(|_| Line::RaceFound),
        _ => None,
    };
    if let Some(line) = keyword {
        return line;
    }
    // A function line ends with `)`, a file line with a digit (line,
    // offset or pc): try the likely one only.
    let found = if t.ends_with(b")") {
        classify_function(t)
    } else {
        classify_file(t)
    };
    found.unwrap_or(Line::Other)
}

/// Finds `needle` in a short haystack (one line). Building a memmem
/// searcher per call costs more than the search itself on lines of a
/// hundred bytes; a first-byte memchr and a compare is faster.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(p) = memchr::memchr(first, &hay[from..]) {
        let at = from + p;
        if hay[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn classify_g(t: &[u8]) -> Option<Line<'_>> {
    let rest = strip(t, b"goroutine ")?;
    if rest.first().is_some_and(u8::is_ascii_digit) {
        return parse_header(rest).map(Line::Header);
    }
    if rest.starts_with(b"running on other thread") {
        return Some(Line::StackUnavailable);
    }
    if let Some(total) = strip(rest, b"profile: total ") {
        return parse_dec(trim(total)).map(Line::Debug1Total);
    }
    None
}

/// Parses what follows `goroutine `: `18 [chan receive, 5 minutes]:` and
/// the variants listed in traceback-format.md §3.
fn parse_header(rest: &[u8]) -> Option<Header<'_>> {
    let (id, mut rest) = take_dec(rest)?;
    let mut header = Header {
        id,
        ..Header::default()
    };
    // ` gp=0x.. m=N mp=0x..` (Go 1.22+ at GOTRACEBACK>=system or in a throw).
    while let Some(r) = rest.strip_prefix(b" ") {
        if r.first() == Some(&b'[') {
            rest = r;
            break;
        }
        let end = r.iter().position(|&c| c == b' ').unwrap_or(r.len());
        let token = &r[..end];
        if let Some(m) = token.strip_prefix(b"m=") {
            header.m = Some(if m == b"nil" {
                None
            } else {
                parse_dec(m).and_then(|v| u32::try_from(v).ok())
            });
        } else if !(token.starts_with(b"gp=") || token.starts_with(b"mp=")) {
            return None;
        }
        rest = &r[end..];
    }
    let inner = rest.strip_prefix(b"[")?;
    // The bracket closes at `]:` at the end, or at `] {` when Go 1.27 prints
    // labels after it: `goroutine 1 [running] {k: v}:`.
    let body = inner.strip_suffix(b":").unwrap_or(inner);
    let body = trim(body);
    let (status_part, labels_after) = if body.ends_with(b"}") {
        match find(body, b"] {") {
            Some(i) => (&body[..i], Some(&body[i + 2..])),
            None => (body.strip_suffix(b"]")?, None),
        }
    } else {
        (body.strip_suffix(b"]")?, None)
    };
    header.labels = labels_after;
    let mut status_part = status_part;
    // Go 1.26 with GODEBUG=tracebacklabels=1: `[running labels:{...}]`.
    if let Some(i) = find(status_part, b" labels:{") {
        header.labels = Some(&status_part[i + 8..]);
        status_part = &status_part[..i];
    }
    let mut parts = status_part.split(|&c| c == b',');
    let mut state = trim(parts.next().unwrap_or_default());
    loop {
        if let Some(s) = state.strip_suffix(b" (leaked)") {
            header.leaked = true;
            state = s;
        } else if let Some(s) = state.strip_suffix(b" (scan)") {
            header.scan = true;
            state = s;
        } else if let Some(s) = state.strip_suffix(b" (durable)") {
            header.durable = true;
            state = s;
        } else {
            break;
        }
    }
    header.state = state;
    for part in parts {
        let part = trim(part);
        if part == b"locked to thread" {
            header.locked = true;
        } else if let Some(m) = part.strip_suffix(b" minutes") {
            header.wait_minutes = parse_dec(m).and_then(|v| u32::try_from(v).ok());
        } else if let Some(b) =
            strip(part, b"synctest bubble ").or_else(|| strip(part, b"synctest group "))
        {
            header.bubble = parse_dec(b);
        }
    }
    Some(header)
}

fn classify_panic(t: &[u8], indented: bool) -> Option<Line<'_>> {
    let msg = strip(t, b"panic: ")?;
    let (msg, recovered, repanicked) =
        if let Some(m) = msg.strip_suffix(b" [recovered, repanicked]") {
            (m, true, true)
        } else if let Some(m) = msg.strip_suffix(b" [recovered]") {
            (m, true, false)
        } else {
            (msg, false, false)
        };
    Some(Line::Panic {
        message: msg,
        recovered,
        repanicked,
        chained: indented,
    })
}

fn classify_bracket(t: &[u8]) -> Option<Line<'_>> {
    if let Some(rest) = strip(t, b"[signal ") {
        let rest = rest.strip_suffix(b"]").unwrap_or(rest);
        return Some(Line::Signal(parse_signal_fields(rest)));
    }
    if let Some(rest) = strip(t, b"[originating from goroutine ") {
        let (id, _) = take_dec(rest)?;
        return Some(Line::Ancestor(id));
    }
    None
}

/// `SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4b0400`,
/// `0xb code=0x1 addr=0x0 pc=0x40cc2a` or `PC=0x.. m=0 sigcode=0 addr=0x..`.
fn parse_signal_fields(s: &[u8]) -> SignalFields<'_> {
    let mut f = SignalFields::default();
    const KEYS: [&[u8]; 6] = [b"code=", b"addr=", b"pc=", b"PC=", b"m=", b"sigcode="];
    let first_kv = (0..s.len())
        .find(|&i| (i == 0 || s[i - 1] == b' ') && KEYS.iter().any(|k| s[i..].starts_with(k)))
        .unwrap_or(s.len());
    let head = trim(&s[..first_kv]);
    match find(head, b": ") {
        Some(i) => {
            f.name = &head[..i];
            f.description = &head[i + 2..];
        }
        None => f.name = head.strip_suffix(b":").unwrap_or(head),
    }
    for kv in s[first_kv..].split(|&c| c == b' ') {
        let Some(eq) = kv.iter().position(|&c| c == b'=') else {
            continue;
        };
        let (key, value) = (&kv[..eq], &kv[eq + 1..]);
        match key {
            b"code" | b"sigcode" => f.code = parse_hex(value).or_else(|| parse_dec(value)),
            b"addr" => f.addr = parse_hex(value),
            b"pc" | b"PC" => f.pc = parse_hex(value),
            b"m" => f.m = parse_dec(value).and_then(|v| u32::try_from(v).ok()),
            _ => {}
        }
    }
    f
}

fn classify_fatal_signal(t: &[u8]) -> Option<Line<'_>> {
    // `SIGQUIT: quit`, `SIGSEGV: segmentation violation`, `SIGABRT: abort`.
    let colon = find(t, b": ")?;
    let name = &t[..colon];
    if name.len() < 4 || !name.starts_with(b"SIG") || !name[3..].iter().all(u8::is_ascii_uppercase)
    {
        return None;
    }
    Some(Line::FatalSignal {
        name,
        description: &t[colon + 2..],
    })
}

fn classify_created_by(t: &[u8]) -> Option<Line<'_>> {
    let rest = strip(t, b"created by ")?;
    let (function, parent) = match find(rest, b" in goroutine ") {
        Some(i) => (&rest[..i], parse_dec(trim(&rest[i + 14..]))),
        None => (rest, None),
    };
    if function.is_empty() || function.contains(&b' ') {
        return None;
    }
    Some(Line::CreatedBy { function, parent })
}

fn classify_elided(t: &[u8]) -> Option<Line<'_>> {
    if t == b"...additional frames elided..." {
        return Some(Line::Elided(None));
    }
    let rest = strip(t, b"...")?;
    let (n, rest) = take_dec(rest)?;
    (rest == b" frames elided...").then(|| Line::Elided(u32::try_from(n).ok()))
}

fn classify_r(t: &[u8]) -> Option<Line<'_>> {
    if t == b"runtime stack:" {
        return Some(Line::RuntimeStack);
    }
    if let Some(note) = strip(t, b"runtime: ") {
        return Some(Line::RuntimeNote(note));
    }
    classify_register(t)
}

/// `rax    0x0` (amd64), `r0      0x0` / `lr ..` (arm64).
fn classify_register(t: &[u8]) -> Option<Line<'_>> {
    // Register names are at most 7 characters: look no further.
    let head = &t[..t.len().min(8)];
    let sp = head.iter().position(|&c| c == b' ' || c == b'\t')?;
    let name = &t[..sp];
    if name.is_empty() || name.len() > 7 || !name.iter().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let value = parse_hex(trim(&t[sp..]))?;
    Some(Line::Register { name, value })
}

/// Race report access lines:
/// `Read at 0x00c000012345 by goroutine 7:`, `Previous write at 0x.. by main goroutine:`,
/// `Atomic write at ...`, and the old `Read by goroutine 13:`.
fn classify_race_access(t: &[u8]) -> Option<Line<'_>> {
    let body = t.strip_suffix(b":")?;
    let by = find(body, b" by ")?;
    let (head, who) = (&body[..by], &body[by + 4..]);
    let (what, addr) = match find(head, b" at ") {
        Some(i) => (&head[..i], parse_hex(&head[i + 4..])),
        None => (head, None),
    };
    let lower = what.to_ascii_lowercase();
    if !(lower.ends_with(b"read") || lower.ends_with(b"write") || lower.ends_with(b")")) {
        return None;
    }
    let goroutine = if who == b"main goroutine" {
        Some(1)
    } else {
        Some(parse_dec(strip(who, b"goroutine ")?)?)
    };
    Some(Line::RaceAccess {
        what,
        addr,
        goroutine,
    })
}

fn classify_race_created(t: &[u8]) -> Option<Line<'_>> {
    let rest = strip(t, b"Goroutine ")?;
    let (goroutine, rest) = take_dec(rest)?;
    let rest = strip(rest, b" (")?;
    let close = rest.iter().position(|&c| c == b')')?;
    if &rest[close..] != b") created at:" {
        return None;
    }
    Some(Line::RaceCreated {
        goroutine,
        state: &rest[..close],
    })
}

fn classify_debug1(t: &[u8]) -> Option<Line<'_>> {
    let rest = &t[1..];
    if let Some(labels) = strip(trim(rest), b"labels: ") {
        return Some(Line::Debug1Labels(labels));
    }
    // `#\t0x4dd656\tmain.blocked.func5.1+0x16\t/src/app/main.go:118`; the
    // tabwriter pads with tabs, pastes turn them into spaces.
    let rest = trim(rest);
    let pc_end = rest
        .iter()
        .position(|&c| c == b' ' || c == b'\t')
        .unwrap_or(rest.len());
    parse_hex(&rest[..pc_end])?;
    let rest = trim(&rest[pc_end..]);
    if rest.is_empty() {
        return Some(Line::Debug1BarePc);
    }
    let fn_end = rest.iter().position(|&c| c == b' ' || c == b'\t')?;
    let func_off = &rest[..fn_end];
    let loc = trim(&rest[fn_end..]);
    let (function, offset) = match func_off.iter().rposition(|&c| c == b'+') {
        Some(i) if func_off[i + 1..].starts_with(b"0x") => (
            &func_off[..i],
            parse_hex(&func_off[i + 1..]).and_then(|v| u32::try_from(v).ok()),
        ),
        _ => (func_off, None),
    };
    let colon = loc.iter().rposition(|&c| c == b':')?;
    let line = parse_dec(&loc[colon + 1..]).and_then(|v| u32::try_from(v).ok())?;
    Some(Line::Debug1Frame {
        function,
        offset,
        path: &loc[..colon],
        line,
    })
}

fn classify_debug1_record(t: &[u8]) -> Option<Line<'_>> {
    let (count, rest) = take_dec(t)?;
    let rest = strip(rest, b" @")?;
    if !(rest.is_empty() || rest.starts_with(b" 0x")) {
        return None;
    }
    Some(Line::Debug1Record(count))
}

/// The common form of a file line, as the runtime writes it at the default
/// GOTRACEBACK: `\t/path/file.go:123 +0x1d` (or without the offset). Parsed
/// from the end in one pass; anything else goes to [`classify_file`].
/// Half the lines of a dump are file lines, so this is the hot path.
pub(crate) fn plain_file_line(raw: &[u8]) -> Option<Line<'_>> {
    let s = raw.strip_prefix(b"\t")?;
    let mut end = s.len();
    let mut offset = None;
    let mut i = end;
    while i > 0 && s[i - 1].is_ascii_hexdigit() {
        i -= 1;
    }
    if i >= 4 && &s[i - 4..i] == b" +0x" {
        offset = Some(parse_bare_hex(&s[i..end]).and_then(|v| u32::try_from(v).ok())?);
        end = i - 4;
    }
    let mut j = end;
    while j > 0 && s[j - 1].is_ascii_digit() {
        j -= 1;
    }
    if j == end || j < 2 || s[j - 1] != b':' {
        return None;
    }
    let line = parse_dec(&s[j..end]).and_then(|v| u32::try_from(v).ok())?;
    let path = &s[..j - 1];
    // The line starts with the runtime's single tab, so no log prefix hides
    // in the path (blanks inside it are real: `C:/Program Files/...`).
    if path.first().is_none_or(|c| c.is_ascii_whitespace()) {
        return None;
    }
    if !(path.ends_with(b".go") || path.ends_with(b".s") || looks_like_path(path)) {
        return None;
    }
    Some(Line::File { path, line, offset })
}

/// A file line of the form [`plain_file_line`] reads whose path is already
/// known (the file seen at the same depth of the previous stack): its line
/// number and offset, parsed forward without searching. `None` when the
/// line is not exactly `\tPATH:LINE +0xOFF` (or `\tPATH:LINE`) with at most 9
/// digits of line and 8 of offset; [`plain_file_line`] then decides. For
/// every line this accepts, `plain_file_line` returns the same path, line and
/// offset.
pub(crate) fn file_line_with_path(raw: &[u8], path: &[u8]) -> Option<(u32, Option<u32>)> {
    let rest = raw
        .strip_prefix(b"\t")?
        .strip_prefix(path)?
        .strip_prefix(b":")?;
    if path.first().is_none_or(|c| c.is_ascii_whitespace())
        || !(path.ends_with(b".go") || path.ends_with(b".s") || looks_like_path(path))
    {
        return None;
    }
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let line = rest[..digits]
        .iter()
        .fold(0u32, |v, &c| v * 10 + u32::from(c - b'0'));
    let rest = &rest[digits..];
    if rest.is_empty() {
        return Some((line, None));
    }
    let hex = rest.strip_prefix(b" +0x")?;
    if hex.is_empty() || hex.len() > 8 {
        return None;
    }
    let mut offset = 0u32;
    for &c in hex {
        offset = offset << 4 | char::from(c).to_digit(16)?;
    }
    Some((line, Some(offset)))
}

/// `\t/path/to/file.go:123 +0x1d fp=0x.. sp=0x.. pc=0x..`, tabs possibly
/// lost or turned into spaces. Matched from the end because paths may
/// contain spaces (`C:/Program Files/Go/src/...`).
pub(crate) fn classify_file(t: &[u8]) -> Option<Line<'_>> {
    let mut s = t;
    // `fp=0x.. sp=0x.. pc=0x..` (GOTRACEBACK>=system) ends the line.
    if let Some(i) = find(s, b" fp=0x") {
        s = &s[..i];
    } else if let Some(i) = find(s, b" sp=0x") {
        s = &s[..i];
    }
    let mut offset = None;
    if let Some(i) = memchr::memrchr(b' ', s)
        && let Some(hex) = s[i + 1..].strip_prefix(b"+0x")
    {
        offset = Some(parse_bare_hex(hex).and_then(|v| u32::try_from(v).ok())?);
        s = trim(&s[..i]);
    }
    let colon = memchr::memrchr(b':', s)?;
    let line = parse_dec(&s[colon + 1..]).and_then(|v| u32::try_from(v).ok())?;
    let mut path = &s[..colon];
    // A log prefix that was not removed sits before the path, separated by
    // a tab or a run of spaces; a path itself has neither.
    if memchr::memchr2(b' ', b'\t', path).is_some()
        && let Some(i) = path
            .windows(2)
            .rposition(|w| w[0] == b'\t' || w[1] == b'\t' || w == b"  ")
    {
        path = trim(&path[i..]);
    }
    if path.is_empty() || !looks_like_path(path) {
        return None;
    }
    Some(Line::File { path, line, offset })
}

fn looks_like_path(p: &[u8]) -> bool {
    p.contains(&b'/')
        || p.contains(&b'\\')
        || p == b"<autogenerated>"
        || p == b"?"
        || p.ends_with(b".go")
        || p.ends_with(b".s")
        || p.ends_with(b".c")
}

/// `pkg.Func(args)`: the argument list opens at the first `(` that does not
/// follow a `.` (a method's receiver is `pkg.(*T).M`), and the line ends
/// with `)`. One forward pass over the name checks it too.
const NAME_PLAIN: u8 = 0;
const NAME_DOT: u8 = 1;
const NAME_PAREN: u8 = 2;
const NAME_BAD: u8 = 3;

/// Byte classes inside a function name: blanks, quotes and `=` never occur
/// in one (they mark a log line that merely ends with `)`).
static NAME_CLASS: [u8; 256] = {
    let mut t = [NAME_PLAIN; 256];
    t[b'.' as usize] = NAME_DOT;
    t[b'(' as usize] = NAME_PAREN;
    t[b' ' as usize] = NAME_BAD;
    t[b'\t' as usize] = NAME_BAD;
    t[b'"' as usize] = NAME_BAD;
    t[b'=' as usize] = NAME_BAD;
    t
};

pub(crate) fn classify_function(t: &[u8]) -> Option<Line<'_>> {
    if !t.ends_with(b")") || t.len() < 3 {
        return None;
    }
    let first = t[0];
    if !(first.is_ascii_alphanumeric() || first == b'_' || first >= 0x80) {
        return None;
    }
    // The argument list opens at the first `(` not preceded by `.`. One pass
    // over the name with a byte-class table: function lines are a third of
    // a dump, and a table lookup beats a chain of compares (and a memchr
    // per condition on such short slices).
    let mut dot = false;
    let mut open = None;
    for i in 1..t.len() {
        match NAME_CLASS[t[i] as usize] {
            NAME_PLAIN => {}
            NAME_DOT => dot = true,
            NAME_PAREN if t[i - 1] != b'.' => {
                open = Some(i);
                break;
            }
            NAME_PAREN => {}
            _ => return None,
        }
    }
    let open = open?;
    let name = &t[..open];
    if open > 4096 || !(dot || name == b"panic") {
        return None;
    }
    Some(Line::Function {
        name,
        args: &t[open + 1..t.len() - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &str) -> Header<'_> {
        match classify(s.as_bytes()) {
            Line::Header(h) => h,
            other => panic!("not a header: {other:?}"),
        }
    }

    #[test]
    fn headers_of_every_era() {
        let h = header("goroutine 18 [chan receive, 5 minutes, locked to thread]:");
        assert_eq!(
            (h.id, h.state, h.wait_minutes, h.locked),
            (18, &b"chan receive"[..], Some(5), true)
        );
        let h = header("goroutine 8 gp=0x14000003880 m=0 mp=0x104c4a880 [running]:");
        assert_eq!((h.id, h.state, h.m), (8, &b"running"[..], Some(Some(0))));
        let h = header("goroutine 9 gp=0xc000003880 m=nil [GC worker (idle)]:");
        assert_eq!((h.state, h.m), (&b"GC worker (idle)"[..], Some(None)));
        let h = header(r#"goroutine 1 [running labels:{"request": "abc 1"}]:"#);
        assert_eq!(
            (h.state, h.labels),
            (&b"running"[..], Some(&br#"{"request": "abc 1"}"#[..]))
        );
        let h = header(r#"goroutine 1 [running] {request: "abc 1", user: bob}:"#);
        assert_eq!(h.labels, Some(&br#"{request: "abc 1", user: bob}"#[..]));
        let h = header("goroutine 7 [chan receive (leaked)]:");
        assert!(h.leaked);
        let h = header("goroutine 7 [select (durable), synctest bubble 3]:");
        assert_eq!(
            (h.durable, h.bubble, h.state),
            (true, Some(3), &b"select"[..])
        );
    }

    #[test]
    fn frames() {
        assert_eq!(
            classify(b"main.(*Server).Put(0x7f43?, {0x4d55a5?, 0x0?}, 0x2a)"),
            Line::Function {
                name: b"main.(*Server).Put",
                args: b"0x7f43?, {0x4d55a5?, 0x0?}, 0x2a"
            }
        );
        assert_eq!(
            classify(b"\t/go/src/x/main.go:42 +0x1d fp=0xc0 sp=0xc1 pc=0x44"),
            Line::File {
                path: b"/go/src/x/main.go",
                line: 42,
                offset: Some(0x1d)
            }
        );
        assert_eq!(
            classify(b"        C:/Program Files/Go/src/runtime/panic.go:1053 +0x18"),
            Line::File {
                path: b"C:/Program Files/Go/src/runtime/panic.go",
                line: 1053,
                offset: Some(0x18)
            }
        );
        assert_eq!(
            classify(b"panic({0x4b5fc0, 0xc420014100})"),
            Line::Function {
                name: b"panic",
                args: b"{0x4b5fc0, 0xc420014100}"
            }
        );
        assert_eq!(classify(b"Starting server (v1.2)"), Line::Other);
        assert_eq!(
            classify(b"created by main.main in goroutine 1"),
            Line::CreatedBy {
                function: b"main.main",
                parent: Some(1)
            }
        );
        assert_eq!(classify(b"...12 frames elided..."), Line::Elided(Some(12)));
    }

    #[test]
    fn file_lines_with_a_known_path_agree_with_plain_file_line() {
        let path = b"/go/src/app/main.go";
        for raw in [
            &b"\t/go/src/app/main.go:42 +0x1d"[..],
            b"\t/go/src/app/main.go:42",
            b"\t/go/src/app/main.go:7 +0xFFFFffff",
            b"\t/go/src/app/main.go:999999999 +0x0",
            b"\t/go/src/app/main.go:1234567890 +0x1",
            b"\t/go/src/app/main.go:42 +0x123456789",
            b"\t/go/src/app/main.go:42 +0x",
            b"\t/go/src/app/main.go:42 +0x1d\r",
            b"\t/go/src/app/main.go:42 +0x1d fp=0x1 sp=0x2 pc=0x3",
            b"\t/go/src/app/main.go:1:42 +0x1d",
            b"\t/go/src/app/main.go:",
            b"\t/go/src/app/main.go",
            b"\t/go/src/app/main.go.go:42 +0x1d",
            b"/go/src/app/main.go:42 +0x1d",
        ] {
            if let Some((line, offset)) = file_line_with_path(raw, path) {
                assert_eq!(
                    plain_file_line(raw),
                    Some(Line::File { path, line, offset }),
                    "{}",
                    String::from_utf8_lossy(raw)
                );
            }
        }
        assert_eq!(
            file_line_with_path(b"\t/go/src/app/main.go:42 +0x1d", path),
            Some((42, Some(0x1d)))
        );
        assert_eq!(
            file_line_with_path(b"\t/go/src/app/main.go:42", path),
            Some((42, None))
        );
        assert_eq!(file_line_with_path(b"\t main.go:42", b" main.go"), None);
    }

    #[test]
    fn crash_lines() {
        assert_eq!(
            classify(b"panic: boom [recovered]"),
            Line::Panic {
                message: b"boom",
                recovered: true,
                repanicked: false,
                chained: false
            }
        );
        match classify(b"[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x4b0400]") {
            Line::Signal(f) => {
                assert_eq!(
                    (f.name, f.description, f.addr, f.pc),
                    (
                        &b"SIGSEGV"[..],
                        &b"segmentation violation"[..],
                        Some(0x18),
                        Some(0x4b0400)
                    )
                );
            }
            other => panic!("{other:?}"),
        }
        match classify(b"[signal 0xb code=0x1 addr=0x0 pc=0x40cc2a]") {
            Line::Signal(f) => assert_eq!((f.name, f.addr), (&b"0xb"[..], Some(0))),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            classify(b"http: panic serving 127.0.0.1:43210: assignment to entry in nil map"),
            Line::HttpPanicServing(b"assignment to entry in nil map")
        );
    }

    #[test]
    fn race_and_debug1() {
        assert_eq!(
            classify(b"Previous write at 0x00c000012345 by main goroutine:"),
            Line::RaceAccess {
                what: b"Previous write",
                addr: Some(0xc000012345),
                goroutine: Some(1)
            }
        );
        assert_eq!(
            classify(b"Read by goroutine 13:"),
            Line::RaceAccess {
                what: b"Read",
                addr: None,
                goroutine: Some(13)
            }
        );
        assert_eq!(
            classify(b"Goroutine 7 (running) created at:"),
            Line::RaceCreated {
                goroutine: 7,
                state: b"running"
            }
        );
        assert_eq!(
            classify(b"1200 @ 0x47dbae 0x415619"),
            Line::Debug1Record(1200)
        );
        assert_eq!(
            classify(b"#\t0x4dd656\tmain.blocked.func5.1+0x16\t/src/app/main.go:118"),
            Line::Debug1Frame {
                function: b"main.blocked.func5.1",
                offset: Some(0x16),
                path: b"/src/app/main.go",
                line: 118
            }
        );
    }
}
