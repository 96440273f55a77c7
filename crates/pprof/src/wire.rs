//! A walker over the protobuf wire format of `profile.proto` that knows the
//! schema's shape, for the two things `prost` cannot say: *where* a message
//! is broken (byte offset and field path) and where a given field starts.
//!
//! It is used only on the error path, and for the cheap top-level checks
//! prost does not make (concatenated profiles), so its speed matters little.

use crate::error::{Error, ErrorKind, Pos};

/// Wire types of protobuf.
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

/// What a field of the schema holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A scalar varint (int64, uint64, bool).
    Scalar,
    /// A repeated scalar varint, packed or not.
    Repeated,
    /// Bytes / string.
    Bytes,
    /// An embedded message of the given type.
    Message(Msg),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Msg {
    Profile,
    ValueType,
    Sample,
    Label,
    Mapping,
    Location,
    Line,
    Function,
}

fn field(msg: Msg, no: u64) -> Option<(&'static str, Kind)> {
    use Kind::{Bytes, Message, Repeated, Scalar};
    Some(match (msg, no) {
        (Msg::Profile, 1) => ("sample_type", Message(Msg::ValueType)),
        (Msg::Profile, 2) => ("sample", Message(Msg::Sample)),
        (Msg::Profile, 3) => ("mapping", Message(Msg::Mapping)),
        (Msg::Profile, 4) => ("location", Message(Msg::Location)),
        (Msg::Profile, 5) => ("function", Message(Msg::Function)),
        (Msg::Profile, 6) => ("string_table", Bytes),
        (Msg::Profile, 7) => ("drop_frames", Scalar),
        (Msg::Profile, 8) => ("keep_frames", Scalar),
        (Msg::Profile, 9) => ("time_nanos", Scalar),
        (Msg::Profile, 10) => ("duration_nanos", Scalar),
        (Msg::Profile, 11) => ("period_type", Message(Msg::ValueType)),
        (Msg::Profile, 12) => ("period", Scalar),
        (Msg::Profile, 13) => ("comment", Repeated),
        (Msg::Profile, 14) => ("default_sample_type", Scalar),
        (Msg::Profile, 15) => ("doc_url", Scalar),
        (Msg::ValueType, 1) => ("type", Scalar),
        (Msg::ValueType, 2) => ("unit", Scalar),
        (Msg::Sample, 1) => ("location_id", Repeated),
        (Msg::Sample, 2) => ("value", Repeated),
        (Msg::Sample, 3) => ("label", Message(Msg::Label)),
        (Msg::Label, 1) => ("key", Scalar),
        (Msg::Label, 2) => ("str", Scalar),
        (Msg::Label, 3) => ("num", Scalar),
        (Msg::Label, 4) => ("num_unit", Scalar),
        (Msg::Mapping, 1..=10) => (
            [
                "id",
                "memory_start",
                "memory_limit",
                "file_offset",
                "filename",
                "build_id",
                "has_functions",
                "has_filenames",
                "has_line_numbers",
                "has_inline_frames",
            ][no as usize - 1],
            Scalar,
        ),
        (Msg::Location, 1) => ("id", Scalar),
        (Msg::Location, 2) => ("mapping_id", Scalar),
        (Msg::Location, 3) => ("address", Scalar),
        (Msg::Location, 4) => ("line", Message(Msg::Line)),
        (Msg::Location, 5) => ("is_folded", Scalar),
        (Msg::Line, 1) => ("function_id", Scalar),
        (Msg::Line, 2) => ("line", Scalar),
        (Msg::Line, 3) => ("column", Scalar),
        (Msg::Function, 1) => ("id", Scalar),
        (Msg::Function, 2) => ("name", Scalar),
        (Msg::Function, 3) => ("system_name", Scalar),
        (Msg::Function, 4) => ("filename", Scalar),
        (Msg::Function, 5) => ("start_line", Scalar),
        _ => return None,
    })
}

fn repeated(msg: Msg, no: u64) -> bool {
    matches!(
        (msg, no),
        (Msg::Profile, 1..=6) | (Msg::Profile, 13) | (Msg::Sample, 1..=3) | (Msg::Location, 4)
    )
}

/// Reads a varint at `*pos`, advancing it.
pub(crate) fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if i == 9 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

fn wire_err(offset: usize, path: &str, what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Wire(what.into()), Pos::at(offset as u64, path))
}

/// Walks a whole `Profile` message and returns the first structural
/// problem, with its offset and field path, or `Ok` if prost should accept
/// the bytes. Also detects concatenated profiles like pprof does.
pub fn check(buf: &[u8]) -> Result<(), Error> {
    walk(buf, 0, buf.len(), Msg::Profile, "", true)
}

/// The cheap part of [`check`]: the top level only (field keys, lengths,
/// concatenation), run on every decode. Returns the byte ranges of the
/// `sample` messages, which the decoder reads itself.
pub fn check_top(buf: &[u8]) -> Result<Vec<(usize, usize)>, Error> {
    walk(buf, 0, buf.len(), Msg::Profile, "", false)?;
    let mut ranges = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos).expect("checked");
        match (key & 7) as u8 {
            VARINT => {
                varint(buf, &mut pos).expect("checked");
            }
            I64 => pos += 8,
            I32 => pos += 4,
            _ => {
                let len = varint(buf, &mut pos).expect("checked") as usize;
                if key >> 3 == 2 {
                    ranges.push((pos, pos + len));
                }
                pos += len;
            }
        }
    }
    Ok(ranges)
}

fn walk(
    buf: &[u8],
    start: usize,
    end: usize,
    msg: Msg,
    prefix: &str,
    recurse: bool,
) -> Result<(), Error> {
    let mut pos = start;
    let mut counts: [usize; 16] = [0; 16];
    let mut elems: [usize; 16] = [0; 16];
    let mut time_nanos_seen = false;
    while pos < end {
        let key_at = pos;
        let key = varint(&buf[..end], &mut pos)
            .ok_or_else(|| wire_err(key_at, prefix, "truncated field key"))?;
        let no = key >> 3;
        let wt = (key & 7) as u8;
        if no == 0 {
            return Err(wire_err(key_at, prefix, "field number 0"));
        }
        let known = field(msg, no);
        let idx = if no < 16 {
            let c = counts[no as usize];
            counts[no as usize] += 1;
            c
        } else {
            0
        };
        let is_rep_scalar = matches!(known, Some((_, Kind::Repeated)));
        let elem0 = if no < 16 { elems[no as usize] } else { 0 };
        let path = if is_rep_scalar {
            join(prefix, known.map(|k| k.0).unwrap_or("field"))
        } else if !recurse && matches!(known, Some((_, Kind::Message(_)))) && wt == LEN {
            // Built lazily below only if something is wrong.
            String::new()
        } else {
            match known {
                Some((name, _)) if repeated(msg, no) => join(prefix, &format!("{name}[{idx}]")),
                Some((name, _)) => join(prefix, name),
                None => join(prefix, &format!("field {no}")),
            }
        };
        match wt {
            VARINT => {
                let path = if is_rep_scalar {
                    if no < 16 {
                        elems[no as usize] += 1;
                    }
                    format!("{path}[{elem0}]")
                } else {
                    path
                };
                let v = varint(&buf[..end], &mut pos)
                    .ok_or_else(|| wire_err(key_at, &path, "truncated varint"))?;
                if let Some((_, kind)) = known
                    && !matches!(kind, Kind::Scalar | Kind::Repeated)
                {
                    return Err(wire_err(
                        key_at,
                        &path,
                        "varint where a message or bytes is expected",
                    ));
                }
                if msg == Msg::Profile && no == 9 {
                    if time_nanos_seen {
                        return Err(Error::new(
                            ErrorKind::Concatenated,
                            Pos::at(key_at as u64, path),
                        ));
                    }
                    time_nanos_seen = v != 0;
                }
            }
            I64 | I32 => {
                let n = if wt == I64 { 8 } else { 4 };
                if known.is_some() {
                    return Err(wire_err(
                        key_at,
                        &path,
                        "fixed-width value where a varint is expected",
                    ));
                }
                if end - pos < n {
                    return Err(wire_err(key_at, &path, "truncated fixed-width value"));
                }
                pos += n;
            }
            LEN => {
                let len_at = pos;
                let len = varint(&buf[..end], &mut pos)
                    .ok_or_else(|| wire_err(len_at, &path, "truncated length"))?;
                if len > (end - pos) as u64 {
                    let path = if path.is_empty() {
                        let name = known.map(|(n, _)| n).unwrap_or("field");
                        format!("{name}[{idx}]")
                    } else {
                        path
                    };
                    return Err(wire_err(
                        len_at,
                        &path,
                        format!(
                            "length {len} past the end of the enclosing message ({} bytes left)",
                            end - pos
                        ),
                    ));
                }
                let body = pos;
                let body_end = pos + len as usize;
                match known {
                    Some((_, Kind::Message(sub))) if recurse => {
                        walk(buf, body, body_end, sub, &path, true)?
                    }
                    Some((_, Kind::Message(_))) => {}
                    Some((_, Kind::Repeated)) if recurse => {
                        let mut p = body;
                        let mut i = elem0;
                        while p < body_end {
                            let at = p;
                            varint(&buf[..body_end], &mut p).ok_or_else(|| {
                                wire_err(at, &format!("{path}[{i}]"), "truncated packed varint")
                            })?;
                            i += 1;
                        }
                        if no < 16 {
                            elems[no as usize] = i;
                        }
                    }
                    Some((_, Kind::Scalar)) => {
                        return Err(wire_err(
                            key_at,
                            &path,
                            "length-delimited value where a varint is expected",
                        ));
                    }
                    _ => {}
                }
                pos = body_end;
            }
            3 | 4 => {
                // Groups: prost skips them only when well nested; treat as
                // an error like pprof's decoder does.
                return Err(wire_err(
                    key_at,
                    &path,
                    format!("unsupported wire type {wt} (group)"),
                ));
            }
            _ => return Err(wire_err(key_at, &path, format!("unknown wire type {wt}"))),
        }
    }
    if pos != end {
        return Err(wire_err(end, prefix, "message overruns its length"));
    }
    Ok(())
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The byte offset where the `index`-th occurrence of a field starts, with
/// repeated scalars counted element by element (packed or not). `steps` is
/// a path of (field number, index) pairs from the top-level `Profile`.
/// Returns `None` if the bytes do not contain it (they always do for a
/// message prost accepted and a path built from its content).
pub fn locate(buf: &[u8], steps: &[(u64, usize)]) -> Option<u64> {
    let mut start = 0usize;
    let mut end = buf.len();
    for (depth, &(want, index)) in steps.iter().enumerate() {
        let last = depth + 1 == steps.len();
        let mut pos = start;
        let mut seen = 0usize;
        let mut found = None;
        while pos < end {
            let key_at = pos;
            let key = varint(&buf[..end], &mut pos)?;
            let no = key >> 3;
            let wt = (key & 7) as u8;
            match wt {
                VARINT => {
                    varint(&buf[..end], &mut pos)?;
                    if no == want {
                        if seen == index {
                            found = Some((key_at, key_at, key_at));
                            break;
                        }
                        seen += 1;
                    }
                }
                I64 => pos = pos.checked_add(8)?,
                I32 => pos = pos.checked_add(4)?,
                LEN => {
                    let len = varint(&buf[..end], &mut pos)? as usize;
                    let body = pos;
                    let body_end = body.checked_add(len)?;
                    if body_end > end {
                        return None;
                    }
                    if no == want {
                        if last && is_packed_scalar(steps, depth) {
                            // Count elements inside the packed run.
                            let mut p = body;
                            while p < body_end {
                                let at = p;
                                varint(&buf[..body_end], &mut p)?;
                                if seen == index {
                                    return Some(at as u64);
                                }
                                seen += 1;
                            }
                        } else {
                            if seen == index {
                                found = Some((key_at, body, body_end));
                                break;
                            }
                            seen += 1;
                        }
                    }
                    pos = body_end;
                }
                _ => return None,
            }
        }
        let (key_at, body, body_end) = found?;
        if last {
            return Some(key_at as u64);
        }
        start = body;
        end = body_end;
    }
    Some(start as u64)
}

/// Whether the last step names a repeated scalar field (which may be packed).
fn is_packed_scalar(steps: &[(u64, usize)], depth: usize) -> bool {
    let field = steps[depth].0;
    match depth {
        0 => field == 13,
        1 => steps[0].0 == 2 && (field == 1 || field == 2),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_length_reports_offset_and_path() {
        // Profile { sample_type: ValueType { type: 1, unit: 2 } } with the
        // length claiming 9 bytes where 4 follow.
        let buf = [0x0a, 0x09, 0x08, 0x01, 0x10, 0x02];
        let err = check(&buf).unwrap_err();
        assert_eq!(err.at, Pos::at(1, "sample_type[0]"));
        assert!(matches!(err.kind, ErrorKind::Wire(_)));
    }

    #[test]
    fn bad_nested_varint_is_located_inside_the_sample() {
        // sample[0] { location_id: packed [1, <truncated>] }
        let buf = [0x12, 0x04, 0x0a, 0x02, 0x01, 0x80];
        let err = check(&buf).unwrap_err();
        assert_eq!(err.at, Pos::at(5, "sample[0].location_id[1]"));
    }

    #[test]
    fn concatenated_profiles_are_detected() {
        // time_nanos = 5 twice.
        let buf = [0x48, 0x05, 0x48, 0x05];
        let err = check(&buf).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Concatenated);
        assert_eq!(err.at.offset, Some(2));
    }

    #[test]
    fn locate_counts_packed_and_unpacked_elements() {
        // sample[0] {}, sample[1] { location_id: 7 (unpacked), location_id: packed [8, 9] }
        let buf = [
            0x12, 0x00, // sample[0]
            0x12, 0x06, // sample[1], 6 bytes
            0x08, 0x07, // location_id 7
            0x0a, 0x02, 0x08, 0x09, // packed [8, 9]
        ];
        assert_eq!(locate(&buf, &[(2, 1)]), Some(2));
        assert_eq!(locate(&buf, &[(2, 1), (1, 0)]), Some(4));
        assert_eq!(locate(&buf, &[(2, 1), (1, 2)]), Some(9));
        assert_eq!(locate(&buf, &[(2, 2)]), None);
    }
}
