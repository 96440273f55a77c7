//! Undoing what log systems and pastes do to traceback text.
//!
//! - Log prefixes (timestamps, journald `host unit[pid]: `, CRI
//!   `2026-..Z stderr F `, plugin names): learned from the first line that
//!   carries an unmistakable anchor (`goroutine N [`, `panic: `), generalised
//!   to a [`PrefixTemplate`] in which digit runs and blank runs may vary, then
//!   removed from the following lines. The PID of a journald prefix and the
//!   clock of a timestamp change from line to line; the shape does not.
//! - Markdown auto-links (`[k8s.io/x.F({0x1](http://k8s.io/x.F(%7B0x1), 0x2}`):
//!   undone by checking that the URL spells the link text.
//! - Traces inside JSON string fields (`"stacktrace": "goroutine 1 [running]:\n..."`):
//!   found, decoded and handed back as lines.

use std::borrow::Cow;

/// The shape of a log prefix: literal bytes, with runs of digits and runs
/// of blanks allowed to differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrefixTemplate {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Digits,
    Blank,
    Byte(u8),
}

impl PrefixTemplate {
    /// Generalises a prefix seen before an anchor. Returns `None` for an
    /// empty prefix.
    pub(crate) fn learn(prefix: &[u8]) -> Option<PrefixTemplate> {
        if prefix.is_empty() {
            return None;
        }
        let mut tokens = Vec::with_capacity(prefix.len());
        let mut i = 0;
        while i < prefix.len() {
            let c = prefix[i];
            let run = |pred: fn(&u8) -> bool| prefix[i..].iter().take_while(|c| pred(c)).count();
            if c.is_ascii_digit() {
                i += run(u8::is_ascii_digit);
                tokens.push(Token::Digits);
            } else if c == b' ' || c == b'\t' {
                i += run(|c| *c == b' ' || *c == b'\t');
                tokens.push(Token::Blank);
            } else {
                tokens.push(Token::Byte(c));
                i += 1;
            }
        }
        Some(PrefixTemplate { tokens })
    }

    /// Removes the prefix from `line` if the line starts with this shape.
    pub(crate) fn strip<'a>(&self, line: &'a [u8]) -> Option<&'a [u8]> {
        let mut i = 0;
        for (n, token) in self.tokens.iter().enumerate() {
            match *token {
                Token::Digits => {
                    let run = line[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                    if run == 0 {
                        return None;
                    }
                    i += run;
                }
                Token::Blank => {
                    let run = line[i..]
                        .iter()
                        .take_while(|&&c| c == b' ' || c == b'\t')
                        .count();
                    // The last blank of a prefix separates it from the
                    // content; content may itself start with blanks (file
                    // lines), which are fine to eat. An empty blank run is
                    // allowed only at the very end (`F ` before a blank line).
                    if run == 0 && n + 1 != self.tokens.len() {
                        return None;
                    }
                    i += run;
                }
                Token::Byte(b) => {
                    if line.get(i) != Some(&b) {
                        return None;
                    }
                    i += 1;
                }
            }
        }
        Some(&line[i..])
    }
}

/// Undoes Markdown auto-linking: `[TEXT](http://URL)` where URL spells TEXT
/// (percent-encoded) becomes TEXT. Returns `None` when there is nothing to
/// undo.
pub(crate) fn delink(line: &[u8]) -> Option<Vec<u8>> {
    crate::line::find(line, b"](http")?;
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    let mut changed = false;
    while let Some(rel) = crate::line::find(&line[i..], b"](http") {
        let close = i + rel;
        let url_start = close + 1;
        // Try each `[` before the `]`, nearest first: link texts may contain
        // brackets themselves (`kubelet[123]`, `F[...]`).
        let mut matched = None;
        for open in (i..close).rev().filter(|&o| line[o] == b'[') {
            if let Some(url_end) = url_spells(&line[url_start..], &line[open + 1..close]) {
                matched = Some((open, url_start + url_end));
                break;
            }
        }
        match matched {
            Some((open, end)) => {
                out.extend_from_slice(&line[i..open]);
                out.extend_from_slice(&line[open + 1..close]);
                i = end;
                changed = true;
            }
            None => {
                out.extend_from_slice(&line[i..url_start]);
                i = url_start;
            }
        }
    }
    out.extend_from_slice(&line[i..]);
    changed.then_some(out)
}

/// If `url` is `(http[s]://` + TEXT percent-encoded + `)`, returns the index
/// just past the `)`.
fn url_spells(url: &[u8], text: &[u8]) -> Option<usize> {
    let mut u = url.strip_prefix(b"(")?;
    let scheme = if u.starts_with(b"https://") {
        8
    } else if u.starts_with(b"http://") {
        7
    } else {
        return None;
    };
    u = &u[scheme..];
    let mut ui = 0;
    for &t in text {
        let c = *u.get(ui)?;
        if c == b'%' {
            let hex = u.get(ui + 1..ui + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            if v != t {
                return None;
            }
            ui += 3;
        } else {
            if c != t {
                return None;
            }
            ui += 1;
        }
    }
    // Some linkers drop a trailing slash or add one; accept an optional `/`.
    if u.get(ui) == Some(&b'/') && u.get(ui + 1) == Some(&b')') {
        ui += 1;
    }
    (u.get(ui) == Some(&b')')).then_some(1 + scheme + ui + 1)
}

/// A JSON string literal found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonString {
    /// The key this string is the value of (`"panic": "..."`), if any.
    pub key: Option<String>,
    /// The decoded value.
    pub value: String,
}

/// Whether a line may hold a trace inside a JSON string: an escaped
/// newline and a trace word.
pub(crate) fn may_hold_json_trace(line: &[u8]) -> bool {
    // Most lines have no backslash at all: one memchr decides.
    memchr::memchr(b'\\', line).is_some()
        && crate::line::find(line, b"\\n").is_some()
        && (crate::line::find(line, b"goroutine ").is_some()
            || crate::line::find(line, b"panic: ").is_some())
}

/// Outcome of scanning a line for JSON strings.
pub(crate) enum JsonScan {
    /// All strings closed on this line.
    Complete(Vec<JsonString>),
    /// The last string is still open at the end of the line: the text was
    /// wrapped (a raw newline inside a string). Holds the strings so far,
    /// the last one decoded up to the end of the line, for when no more
    /// input comes.
    Open(Vec<JsonString>),
}

/// Finds the JSON string literals of `text` and decodes them.
pub(crate) fn json_strings(text: &[u8]) -> JsonScan {
    let (strings, closed) = json_strings_partial(text);
    if closed {
        JsonScan::Complete(strings)
    } else {
        JsonScan::Open(strings)
    }
}

fn json_strings_partial(text: &[u8]) -> (Vec<JsonString>, bool) {
    let mut out = Vec::new();
    let mut i = 0;
    let mut last_string: Option<(usize, String)> = None;
    while let Some(rel) = memchr::memchr(b'"', &text[i..]) {
        let start = i + rel;
        match decode_json_string(&text[start + 1..]) {
            (value, Some(used)) => {
                let end = start + 1 + used;
                // A string directly followed by `:` is a key.
                let after = text[end..]
                    .iter()
                    .skip_while(|c| c.is_ascii_whitespace())
                    .copied()
                    .next();
                if after == Some(b':') {
                    last_string = Some((end, value));
                } else {
                    let key = last_string
                        .take()
                        .filter(|(key_end, _)| {
                            text[*key_end..start]
                                .iter()
                                .all(|&c| c == b':' || c.is_ascii_whitespace())
                        })
                        .map(|(_, k)| k);
                    out.push(JsonString { key, value });
                }
                i = end;
            }
            (value, None) => {
                let key = last_string.take().map(|(_, k)| k);
                out.push(JsonString { key, value });
                return (out, false);
            }
        }
    }
    (out, true)
}

/// Decodes a JSON string body up to its closing quote. Returns the value
/// and how many bytes (including the closing quote) were consumed; `None`
/// for the count when the string does not close (the value then holds what
/// was decoded up to the end).
fn decode_json_string(b: &[u8]) -> (String, Option<usize>) {
    let mut out: Vec<u8> = Vec::new();
    let closed = decode_json_into(b, &mut out);
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

fn decode_json_into(b: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i + 1),
            b'\\' => {
                let esc = *b.get(i + 1)?;
                i += 2;
                match esc {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'/' => out.push(b'/'),
                    b'\\' => out.push(b'\\'),
                    b'"' => out.push(b'"'),
                    b'u' => {
                        let hex = std::str::from_utf8(b.get(i..i + 4)?).ok()?;
                        let mut cp = u32::from_str_radix(hex, 16).ok()?;
                        i += 4;
                        if (0xd800..0xdc00).contains(&cp)
                            && b.get(i..i + 2) == Some(b"\\u")
                            && let Some(lo) = b
                                .get(i + 2..i + 6)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .filter(|lo| (0xdc00..0xe000).contains(lo))
                        {
                            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                            i += 6;
                        }
                        let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    other => {
                        out.push(b'\\');
                        out.push(other);
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    None
}

/// The message of a one-object-per-line JSON log (`{"log":"panic: x\n",
/// "stream":"stderr",...}` from Docker, `"MESSAGE"` from journald, `"msg"` /
/// `"message"` from structured loggers), decoded. `None` when the line is not
/// such an object or the field does not hold traceback text.
pub(crate) fn json_log_message(line: &[u8]) -> Option<String> {
    let t = line.trim_ascii();
    if !(t.starts_with(b"{\"") && t.ends_with(b"}")) {
        return None;
    }
    let JsonScan::Complete(strings) = json_strings(t) else {
        return None;
    };
    // A field holding a whole multi-line trace (`"stack": "goroutine 1
    // [...]:\n..."`) is handled as such, not as one log message.
    let holds_trace = |v: &str| {
        v.trim_end().contains('\n') && (v.contains("goroutine ") || v.contains("panic: "))
    };
    if strings.iter().any(|s| holds_trace(&s.value)) {
        return None;
    }
    strings
        .into_iter()
        .find(|s| {
            matches!(
                s.key.as_deref(),
                Some("log" | "MESSAGE" | "message" | "msg")
            )
        })
        .map(|s| s.value)
}

/// Removes a trailing `\r` (CRLF input).
pub(crate) fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Lossless view of bytes as text for messages.
pub(crate) fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_with_changing_pid_and_clock() {
        let t = PrefixTemplate::learn(b"Nov 03 22:23:35 ubuntu22-1 kubelet[209221]: ").unwrap();
        assert_eq!(
            t.strip(b"Nov 03 22:23:36 ubuntu22-1 kubelet[2092219]: goroutine 1 [running]:"),
            Some(&b"goroutine 1 [running]:"[..])
        );
        assert_eq!(t.strip(b"goroutine 1 [running]:"), None);
    }

    #[test]
    fn markdown_autolinks_are_undone() {
        let line = b"x: [k8s.io/a/b.F({0x45](http://k8s.io/a/b.F(%7B0x45), 0xc0}, {0x1})";
        assert_eq!(
            delink(line).unwrap(),
            b"x: k8s.io/a/b.F({0x45, 0xc0}, {0x1})"
        );
        let line = b"kubelet[22]:         [k8s.io/a/q.go:464](http://k8s.io/a/q.go:464) +0x8b2";
        assert_eq!(
            delink(line).unwrap(),
            b"kubelet[22]:         k8s.io/a/q.go:464 +0x8b2"
        );
        assert_eq!(delink(b"see [docs](http://example.com/other)"), None);
    }

    #[test]
    fn json_fields_are_decoded_with_keys() {
        let line = br#"ts	ERROR	x	{"panic": "boom", "stacktrace": "goroutine 1 [running]:\nmain.f()\n\t/a.go:1 +0x1"}"#;
        let JsonScan::Complete(strings) = json_strings(line) else {
            panic!("open")
        };
        assert_eq!(strings[0].key.as_deref(), Some("panic"));
        assert_eq!(strings[0].value, "boom");
        assert_eq!(
            strings[1].value,
            "goroutine 1 [running]:\nmain.f()\n\t/a.go:1 +0x1"
        );
        let JsonScan::Open(open) = json_strings(br#"{"stack": "goroutine 1 [run"#) else {
            panic!("closed")
        };
        assert_eq!(
            (open[0].key.as_deref(), open[0].value.as_str()),
            (Some("stack"), "goroutine 1 [run")
        );
    }
}
