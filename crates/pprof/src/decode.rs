//! Bytes in, [`Profile`] out: gzip, profile.proto (via prost), validation
//! with located errors, and the fallback to legacy formats.

use std::borrow::Cow;
use std::io::Read;

use prost::Message;

use crate::error::{Error, ErrorKind, Pos, Result};
use crate::hash::FxHashMap;
use crate::model::{Function, Label, Line, Location, Mapping, Profile, Samples, StrId, ValueType};
use crate::{legacy, proto, wire};

/// Largest decompressed size accepted (gzip bombs): 8 GiB, well above any
/// real profile.
const MAX_INFLATED: u64 = 8 << 30;

/// Undoes gzip if the bytes start with its magic; returns them unchanged
/// otherwise.
pub fn gunzip(data: &[u8]) -> Result<Cow<'_, [u8]>> {
    if data.len() < 2 || data[0] != 0x1f || data[1] != 0x8b {
        return Ok(Cow::Borrowed(data));
    }
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(1 << 30));
    let mut dec = flate2::read::MultiGzDecoder::new(data).take(MAX_INFLATED);
    dec.read_to_end(&mut out).map_err(|e| {
        Error::new(
            ErrorKind::Gzip(e.to_string()),
            Pos::at(out.len() as u64, "decompressed output"),
        )
    })?;
    Ok(Cow::Owned(out))
}

impl Profile {
    /// Decodes a profile: gzipped or raw profile.proto, or one of the
    /// legacy formats Go produces or produced (binary CPU profile,
    /// `heap profile:` text, `threadcreate`/`goroutine profile:` count text,
    /// `--- mutex:`/`--- contention:` text). Errors name the field and byte
    /// offset (in the decompressed bytes) of the first problem.
    pub fn decode(data: &[u8]) -> Result<Profile> {
        let data = gunzip(data)?;
        let data: &[u8] = &data;
        if data.is_empty() {
            return Err(Error::new(ErrorKind::Empty, Pos::default()));
        }
        match Profile::decode_proto(data) {
            Ok(p) => Ok(p),
            Err(proto_err) => match legacy::parse(data) {
                Ok(p) => Ok(p),
                Err(e) if e.kind == ErrorKind::Unrecognized => {
                    if looks_like_proto(data) {
                        Err(proto_err)
                    } else {
                        Err(e)
                    }
                }
                Err(e) => Err(e),
            },
        }
    }

    /// Decodes an uncompressed profile.proto message only.
    pub fn decode_proto(data: &[u8]) -> Result<Profile> {
        if data.is_empty() {
            return Err(Error::new(ErrorKind::Empty, Pos::default()));
        }
        let sample_ranges = wire::check_top(data)?;
        let msg = match proto::ProfileHead::decode(data) {
            Ok(m) => m,
            Err(e) => {
                // prost says what but not where: walk the bytes to find it.
                wire::check(data)?;
                return Err(Error::new(ErrorKind::Wire(e.to_string()), Pos::default()));
            }
        };
        from_proto(msg, data, &sample_ranges).map_err(|mut e| {
            if e.at.offset.is_none()
                && let Some(steps) = steps_of(&e.at.path)
            {
                e.at.offset = wire::locate(data, &steps);
            }
            e
        })
    }
}

/// Whether the first byte is a plausible key of a `Profile` field and the
/// start is not plain text.
fn looks_like_proto(data: &[u8]) -> bool {
    let head = &data[..data.len().min(512)];
    if head
        .iter()
        .all(|&c| c >= 0x20 || matches!(c, b'\n' | b'\r' | b'\t'))
    {
        return false;
    }
    let k = data[0];
    let no = k >> 3;
    (1..=15).contains(&no) && matches!(k & 7, 0 | 2)
}

/// Turns a field path such as `sample[12].location_id[3]` into wire steps
/// for [`wire::locate`].
fn steps_of(path: &str) -> Option<Vec<(u64, usize)>> {
    let mut steps = Vec::new();
    let mut parent = "";
    for part in path.split('.') {
        let (name, idx) = match part.find('[') {
            Some(b) => (&part[..b], part[b + 1..part.len() - 1].parse().ok()?),
            None => (part, 0),
        };
        let no = match (parent, name) {
            ("", "sample_type") => 1,
            ("", "sample") => 2,
            ("", "mapping") => 3,
            ("", "location") => 4,
            ("", "function") => 5,
            ("", "string_table") => 6,
            ("", "drop_frames") => 7,
            ("", "keep_frames") => 8,
            ("", "period_type") => 11,
            ("", "comment") => 13,
            ("", "default_sample_type") => 14,
            ("", "doc_url") => 15,
            ("sample_type" | "period_type", "type") => 1,
            ("sample_type" | "period_type", "unit") => 2,
            ("sample", "location_id") => 1,
            ("sample", "value") => 2,
            ("sample", "label") => 3,
            ("label", "key") => 1,
            ("label", "str") => 2,
            ("label", "num_unit") => 4,
            ("mapping", "id") => 1,
            ("mapping", "filename") => 5,
            ("mapping", "build_id") => 6,
            ("location", "id") => 1,
            ("location", "line") => 4,
            ("line", "function_id") => 1,
            ("function", "id") => 1,
            ("function", "name") => 2,
            ("function", "system_name") => 3,
            ("function", "filename") => 4,
            _ => return None,
        };
        steps.push((no, idx));
        parent = name;
    }
    Some(steps)
}

/// Maps the profile's ids to dense indices: a table when ids are small
/// (Go writes index+1), a hash map otherwise.
struct IdMap {
    dense: Vec<u32>,
    sparse: FxHashMap<u64, u32>,
}

const NONE: u32 = u32::MAX;

impl IdMap {
    fn build(ids: impl Iterator<Item = u64>, n: usize, table: &str) -> Result<IdMap> {
        let mut m = IdMap {
            dense: vec![NONE; n + 1],
            sparse: FxHashMap::default(),
        };
        for (i, id) in ids.enumerate() {
            let at = || Pos::path(format!("{table}[{i}].id"));
            if id == 0 {
                return Err(Error::new(ErrorKind::ZeroId, at()));
            }
            let slot = if (id as usize) < m.dense.len() && id <= n as u64 {
                &mut m.dense[id as usize]
            } else {
                m.sparse.entry(id).or_insert(NONE)
            };
            if *slot != NONE {
                return Err(Error::new(ErrorKind::DuplicateId(id), at()));
            }
            *slot = i as u32;
        }
        Ok(m)
    }

    #[inline]
    fn get(&self, id: u64) -> Option<u32> {
        let v = if (id as usize) < self.dense.len() {
            self.dense[id as usize]
        } else {
            *self.sparse.get(&id)?
        };
        (v != NONE).then_some(v)
    }
}

/// One sample's fields, decoded by hand into reused buffers.
#[derive(Default)]
struct RawSample {
    location_id: Vec<u64>,
    value: Vec<i64>,
    label: Vec<proto::Label>,
}

/// Reads a packed-or-not repeated varint field into `out`.
#[inline]
fn repeated_varint(buf: &[u8], pos: &mut usize, wt: u64, out: &mut impl FnMut(u64)) -> Option<()> {
    match wt {
        0 => out(wire::varint(buf, pos)?),
        2 => {
            let len = wire::varint(buf, pos)? as usize;
            let end = pos.checked_add(len).filter(|&e| e <= buf.len())?;
            while *pos < end {
                out(wire::varint(&buf[..end], pos)?);
            }
        }
        _ => return None,
    }
    Some(())
}

/// Decodes one `Sample` message (prost's semantics: packed or unpacked
/// scalars, unknown fields skipped, last scalar wins in a label).
fn decode_sample(buf: &[u8], s: &mut RawSample) -> Option<()> {
    s.location_id.clear();
    s.value.clear();
    s.label.clear();
    let mut pos = 0;
    while pos < buf.len() {
        let key = wire::varint(buf, &mut pos)?;
        let (no, wt) = (key >> 3, key & 7);
        match no {
            1 => repeated_varint(buf, &mut pos, wt, &mut |v| s.location_id.push(v))?,
            2 => repeated_varint(buf, &mut pos, wt, &mut |v| s.value.push(v as i64))?,
            3 if wt == 2 => {
                let len = wire::varint(buf, &mut pos)? as usize;
                let end = pos.checked_add(len).filter(|&e| e <= buf.len())?;
                let mut l = proto::Label::default();
                let body = &buf[..end];
                while pos < end {
                    let k = wire::varint(body, &mut pos)?;
                    if k & 7 != 0 {
                        if k >> 3 <= 4 {
                            return None;
                        }
                        skip(body, &mut pos, k & 7)?;
                        continue;
                    }
                    let v = wire::varint(body, &mut pos)? as i64;
                    match k >> 3 {
                        1 => l.key = v,
                        2 => l.str = v,
                        3 => l.num = v,
                        4 => l.num_unit = v,
                        _ => {}
                    }
                }
                s.label.push(l);
            }
            3 => return None,
            _ => skip(buf, &mut pos, wt)?,
        }
    }
    Some(())
}

fn skip(buf: &[u8], pos: &mut usize, wt: u64) -> Option<()> {
    match wt {
        0 => {
            wire::varint(buf, pos)?;
        }
        1 => *pos = pos.checked_add(8).filter(|&e| e <= buf.len())?,
        5 => *pos = pos.checked_add(4).filter(|&e| e <= buf.len())?,
        2 => {
            let len = wire::varint(buf, pos)? as usize;
            *pos = pos.checked_add(len).filter(|&e| e <= buf.len())?;
        }
        _ => return None,
    }
    Some(())
}

fn from_proto(
    msg: proto::ProfileHead,
    data: &[u8],
    sample_ranges: &[(usize, usize)],
) -> Result<Profile> {
    let proto::ProfileHead {
        sample_type,
        mapping,
        location,
        function,
        string_table,
        drop_frames,
        keep_frames,
        time_nanos,
        duration_nanos,
        period_type,
        period,
        comment,
        default_sample_type,
        doc_url,
    } = msg;

    // Strings: interned, so that equal names get equal ids whatever the
    // producer's table looks like.
    if string_table.first().map(|s| !s.is_empty()).unwrap_or(true) {
        return Err(Error::new(
            ErrorKind::StringTableStart,
            Pos::path("string_table[0]"),
        ));
    }
    let mut strings = crate::model::Strings::new();
    let remap: Vec<StrId> = string_table
        .iter()
        .map(|s| strings.intern(&String::from_utf8_lossy(s)))
        .collect();
    drop(string_table);
    let s = |idx: i64, path: &dyn Fn() -> String| -> Result<StrId> {
        if idx < 0 || idx as usize >= remap.len() {
            return Err(Error::new(
                ErrorKind::StringIndex {
                    index: idx,
                    len: remap.len(),
                },
                Pos::path(path()),
            ));
        }
        Ok(remap[idx as usize])
    };

    let mut sample_types = Vec::with_capacity(sample_type.len());
    for (i, vt) in sample_type.iter().enumerate() {
        sample_types.push(ValueType {
            ty: s(vt.r#type, &|| format!("sample_type[{i}].type"))?,
            unit: s(vt.unit, &|| format!("sample_type[{i}].unit"))?,
        });
    }
    let period_type = match period_type {
        Some(vt) => ValueType {
            ty: s(vt.r#type, &|| "period_type.type".into())?,
            unit: s(vt.unit, &|| "period_type.unit".into())?,
        },
        None => ValueType::default(),
    };

    let mapping_ids = IdMap::build(mapping.iter().map(|m| m.id), mapping.len(), "mapping")?;
    let mut mappings = Vec::with_capacity(mapping.len());
    for (i, m) in mapping.iter().enumerate() {
        mappings.push(Mapping {
            id: m.id,
            start: m.memory_start,
            limit: m.memory_limit,
            offset: m.file_offset,
            file: s(m.filename, &|| format!("mapping[{i}].filename"))?,
            build_id: s(m.build_id, &|| format!("mapping[{i}].build_id"))?,
            has_functions: m.has_functions,
            has_filenames: m.has_filenames,
            has_line_numbers: m.has_line_numbers,
            has_inline_frames: m.has_inline_frames,
        });
    }

    let function_ids = IdMap::build(function.iter().map(|f| f.id), function.len(), "function")?;
    let mut functions = Vec::with_capacity(function.len());
    for (i, f) in function.iter().enumerate() {
        let name = s(f.name, &|| format!("function[{i}].name"))?;
        let system_name = s(f.system_name, &|| format!("function[{i}].system_name"))?;
        functions.push(Function {
            id: f.id,
            name,
            system_name,
            filename: s(f.filename, &|| format!("function[{i}].filename"))?,
            start_line: f.start_line,
            display: 0,
        });
    }
    drop(function);

    let location_ids = IdMap::build(location.iter().map(|l| l.id), location.len(), "location")?;
    let mut locations = Vec::with_capacity(location.len());
    for (i, l) in location.into_iter().enumerate() {
        let mut lines = Vec::with_capacity(l.line.len());
        for (j, ln) in l.line.iter().enumerate() {
            // pprof rejects a line without a resolvable function
            // ("location id: N has a line with nil function").
            let f = function_ids.get(ln.function_id).ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownId(ln.function_id),
                    Pos::path(format!("location[{i}].line[{j}].function_id")),
                )
            })?;
            lines.push(Line {
                function: f,
                line: ln.line,
                column: ln.column,
            });
        }
        locations.push(Location {
            id: l.id,
            // An unknown mapping id is tolerated, as pprof does: the
            // location simply has no mapping.
            mapping: if l.mapping_id == 0 {
                None
            } else {
                mapping_ids.get(l.mapping_id)
            },
            address: l.address,
            lines,
            is_folded: l.is_folded,
        });
    }

    let n_values = sample_types.len();
    if n_values == 0 && !sample_ranges.is_empty() {
        return Err(Error::new(ErrorKind::NoSampleTypes, Pos::path("sample[0]")));
    }
    let mut samples = Samples::new(n_values);
    // A location id takes at least one byte: a bound for the reservation
    // that the input's size guarantees.
    let sample_bytes: usize = sample_ranges.iter().map(|r| r.1 - r.0).sum();
    samples.reserve(sample_ranges.len(), sample_bytes / 2);
    let mut locs: Vec<u32> = Vec::new();
    let mut labels: Vec<Label> = Vec::new();
    let mut smp = RawSample::default();
    for (i, &(start, end)) in sample_ranges.iter().enumerate() {
        if decode_sample(&data[start..end], &mut smp).is_none() {
            // Locate the problem precisely.
            wire::check(data)?;
            return Err(Error::new(
                ErrorKind::Wire("malformed sample".into()),
                Pos::at(start as u64, format!("sample[{i}]")),
            ));
        }
        if smp.value.len() != n_values {
            return Err(Error::new(
                ErrorKind::ValueCount {
                    got: smp.value.len(),
                    want: n_values,
                },
                Pos::path(format!("sample[{i}]")),
            ));
        }
        locs.clear();
        for (j, &id) in smp.location_id.iter().enumerate() {
            let l = location_ids.get(id).ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownId(id),
                    Pos::path(format!("sample[{i}].location_id[{j}]")),
                )
            })?;
            locs.push(l);
        }
        labels.clear();
        for (j, l) in smp.label.iter().enumerate() {
            let key = s(l.key, &|| format!("sample[{i}].label[{j}].key"))?;
            if l.str != 0 {
                labels.push(Label {
                    key,
                    str: s(l.str, &|| format!("sample[{i}].label[{j}].str"))?,
                    num: 0,
                    unit: 0,
                });
            } else if l.num != 0 || l.num_unit != 0 {
                labels.push(Label {
                    key,
                    str: 0,
                    num: l.num,
                    unit: s(l.num_unit, &|| format!("sample[{i}].label[{j}].num_unit"))?,
                });
            }
        }
        samples.push(&locs, &smp.value, &labels);
    }

    let mut comments = Vec::with_capacity(comment.len());
    for (i, &c) in comment.iter().enumerate() {
        comments.push(s(c, &|| format!("comment[{i}]"))?);
    }
    let mut p = Profile {
        sample_types,
        samples,
        mappings,
        locations,
        functions,
        drop_frames: s(drop_frames, &|| "drop_frames".into())?,
        keep_frames: s(keep_frames, &|| "keep_frames".into())?,
        time_nanos,
        duration_nanos,
        period_type,
        period,
        comments,
        default_sample_type: s(default_sample_type, &|| "default_sample_type".into())?,
        doc_url: s(doc_url, &|| "doc_url".into())?,
        strings,
    };
    p.set_display_names();
    Ok(p)
}

impl Profile {
    /// Computes [`Function::display`] for every function, as pprof's
    /// symbolization step leaves names (`internal/symbolizer`:
    /// `demangleSingleFunction` with the default "simple" mode): a name that
    /// is empty or equal to the system name is replaced by the system name,
    /// with parameters and template arguments removed when it looks like
    /// demangled C++. Go names pass through unchanged except generic
    /// instantiations outside a method receiver (`pkg.F[...]`), whose `(...)`
    /// groups pprof also strips.
    pub fn set_display_names(&mut self) {
        for i in 0..self.functions.len() {
            let f = self.functions[i];
            let name = self.strings.get(f.name);
            let sys = self.strings.get(f.system_name);
            let display = if !name.is_empty() && name != sys {
                f.name
            } else {
                let simplified = simplify_demangled(sys);
                match simplified {
                    Cow::Borrowed(_) => f.system_name,
                    Cow::Owned(s) => self.strings.intern(&s),
                }
            };
            self.functions[i].display = display;
        }
    }
}

/// pprof's `looksLikeDemangledCPlusPlus` + `removeMatching` for the default
/// demangler options (NoParams, NoTemplateParams). C++ mangled names
/// (`_Z...`) are not demangled by gosleuth; they stay as written.
fn simplify_demangled(name: &str) -> Cow<'_, str> {
    if name.contains(".<") || name.contains("]).") {
        return Cow::Borrowed(name);
    }
    if !(name.contains(['<', '>', '[', ']']) || name.contains("::")) {
        return Cow::Borrowed(name);
    }
    let a = remove_matching(name, b'(', b')');
    let b = remove_matching(&a, b'<', b'>');
    if b == name {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(b)
    }
}

fn remove_matching(name: &str, start: u8, end: u8) -> String {
    let mut name = name.as_bytes().to_vec();
    let mut nesting: i64 = 0;
    let mut first = 0usize;
    let mut current = 0usize;
    while current < name.len() {
        let Some(idx) = name[current..].iter().position(|&c| c == start || c == end) else {
            break;
        };
        current += idx;
        if name[current] == start {
            nesting += 1;
            if nesting == 1 {
                first = current;
            }
        } else {
            nesting -= 1;
            if nesting < 0 {
                return String::from_utf8_lossy(&name).into_owned();
            }
            if nesting == 0 {
                name.drain(first..=current);
                current = first;
                continue;
            }
        }
        current += 1;
    }
    String::from_utf8_lossy(&name).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(p: &proto::Profile) -> Vec<u8> {
        p.encode_to_vec()
    }

    fn strings(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn minimal() -> proto::Profile {
        proto::Profile {
            sample_type: vec![proto::ValueType { r#type: 1, unit: 2 }],
            sample: vec![proto::Sample {
                location_id: vec![1],
                value: vec![5],
                label: vec![],
            }],
            location: vec![proto::Location {
                id: 1,
                line: vec![proto::Line {
                    function_id: 1,
                    line: 3,
                    column: 0,
                }],
                ..Default::default()
            }],
            function: vec![proto::Function {
                id: 1,
                name: 3,
                system_name: 3,
                filename: 0,
                start_line: 0,
            }],
            string_table: strings(&["", "samples", "count", "main.main"]),
            ..Default::default()
        }
    }

    #[test]
    fn decodes_minimal_profile() {
        let p = Profile::decode(&encode(&minimal())).unwrap();
        assert_eq!(p.samples.len(), 1);
        assert_eq!(p.func_name(0), "main.main");
        assert_eq!(p.sample_type_names(), vec!["samples"]);
    }

    #[test]
    fn unknown_location_id_is_located() {
        let mut m = minimal();
        m.sample.push(proto::Sample {
            location_id: vec![1, 9],
            value: vec![1],
            label: vec![],
        });
        let bytes = encode(&m);
        let err = Profile::decode(&bytes).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownId(9));
        assert_eq!(err.at.path, "sample[1].location_id[1]");
        let off = err.at.offset.unwrap() as usize;
        // The packed run of sample[1] is [1, 9]: the offset points at 9.
        assert_eq!(bytes[off], 9);
    }

    #[test]
    fn bad_string_index_is_located() {
        let mut m = minimal();
        m.function[0].filename = 77;
        let bytes = encode(&m);
        let err = Profile::decode(&bytes).unwrap_err();
        assert_eq!(err.kind, ErrorKind::StringIndex { index: 77, len: 4 });
        assert_eq!(err.at.path, "function[0].filename");
        let off = err.at.offset.unwrap() as usize;
        assert_eq!(bytes[off], 0x20); // key of field 4, varint
    }

    #[test]
    fn value_count_mismatch() {
        let mut m = minimal();
        m.sample[0].value.push(1);
        let err = Profile::decode(&encode(&m)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ValueCount { got: 2, want: 1 });
        assert_eq!(err.at.path, "sample[0]");
        assert!(err.at.offset.is_some());
    }

    #[test]
    fn duplicate_and_zero_ids() {
        let mut m = minimal();
        m.function.push(m.function[0]);
        let err = Profile::decode(&encode(&m)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::DuplicateId(1));
        assert_eq!(err.at.path, "function[1].id");
        let mut m = minimal();
        m.location[0].id = 0;
        let err = Profile::decode(&encode(&m)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ZeroId);
    }

    #[test]
    fn gzip_and_raw_are_both_read() {
        use std::io::Write;
        let raw = encode(&minimal());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(Profile::decode(&gz).unwrap().samples.len(), 1);
        let err = Profile::decode(&gz[..gz.len() / 2]).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Gzip(_)));
    }

    #[test]
    fn pprof_demangle_heuristic() {
        assert_eq!(simplify_demangled("main.main"), "main.main");
        assert_eq!(simplify_demangled("main.(*T[...]).M"), "main.(*T[...]).M");
        assert_eq!(simplify_demangled("ns::f(int)"), "ns::f");
        assert_eq!(simplify_demangled("ns::v<int>::f(a<b>)"), "ns::v::f");
        assert_eq!(simplify_demangled("com.x.<init>"), "com.x.<init>");
    }
}
