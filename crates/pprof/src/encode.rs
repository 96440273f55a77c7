//! [`Profile`] back to profile.proto, gzipped like Go writes it, so that
//! `go tool pprof` reads what gosleuth exports.

use std::io::Write;

use prost::Message;

use crate::model::{Profile, StrId};
use crate::proto;

impl Profile {
    /// The wire message. Strings keep their ids (the table is already
    /// deduplicated, index 0 is ""); functions keep the name written in
    /// the input (not the display name).
    pub fn to_proto(&self) -> proto::Profile {
        let s = |id: StrId| id as i64;
        let vt = |v: crate::model::ValueType| proto::ValueType {
            r#type: s(v.ty),
            unit: s(v.unit),
        };
        let mut sample = Vec::with_capacity(self.samples.len());
        for smp in self.samples.iter() {
            sample.push(proto::Sample {
                location_id: smp
                    .locs
                    .iter()
                    .map(|&l| self.locations[l as usize].id)
                    .collect(),
                value: smp.values.to_vec(),
                label: smp
                    .labels
                    .iter()
                    .map(|l| proto::Label {
                        key: s(l.key),
                        str: s(l.str),
                        num: l.num,
                        num_unit: s(l.unit),
                    })
                    .collect(),
            });
        }
        proto::Profile {
            sample_type: self.sample_types.iter().map(|&t| vt(t)).collect(),
            sample,
            mapping: self
                .mappings
                .iter()
                .map(|m| proto::Mapping {
                    id: m.id,
                    memory_start: m.start,
                    memory_limit: m.limit,
                    file_offset: m.offset,
                    filename: s(m.file),
                    build_id: s(m.build_id),
                    has_functions: m.has_functions,
                    has_filenames: m.has_filenames,
                    has_line_numbers: m.has_line_numbers,
                    has_inline_frames: m.has_inline_frames,
                })
                .collect(),
            location: self
                .locations
                .iter()
                .map(|l| proto::Location {
                    id: l.id,
                    mapping_id: l.mapping.map(|m| self.mappings[m as usize].id).unwrap_or(0),
                    address: l.address,
                    line: l
                        .lines
                        .iter()
                        .map(|ln| proto::Line {
                            function_id: self.functions[ln.function as usize].id,
                            line: ln.line,
                            column: ln.column,
                        })
                        .collect(),
                    is_folded: l.is_folded,
                })
                .collect(),
            function: self
                .functions
                .iter()
                .map(|f| proto::Function {
                    id: f.id,
                    name: s(f.name),
                    system_name: s(f.system_name),
                    filename: s(f.filename),
                    start_line: f.start_line,
                })
                .collect(),
            string_table: self.strings.iter().map(|x| x.as_bytes().to_vec()).collect(),
            drop_frames: s(self.drop_frames),
            keep_frames: s(self.keep_frames),
            time_nanos: self.time_nanos,
            duration_nanos: self.duration_nanos,
            period_type: if self.period_type == Default::default() {
                None
            } else {
                Some(vt(self.period_type))
            },
            period: self.period,
            comment: self.comments.iter().map(|&c| s(c)).collect(),
            default_sample_type: s(self.default_sample_type),
            doc_url: s(self.doc_url),
        }
    }

    /// Uncompressed profile.proto bytes.
    pub fn encode_raw(&self) -> Vec<u8> {
        self.to_proto().encode_to_vec()
    }

    /// Gzipped profile.proto bytes, as `runtime/pprof` and pprof write.
    pub fn encode(&self) -> Vec<u8> {
        let raw = self.encode_raw();
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(raw.len() / 4),
            flate2::Compression::default(),
        );
        gz.write_all(&raw).expect("writing to a Vec cannot fail");
        gz.finish().expect("writing to a Vec cannot fail")
    }
}

/// Assigns fresh ids (index + 1) to mappings, locations and functions,
/// for profiles built from legacy formats or filters.
pub fn renumber(p: &mut Profile) {
    for (i, m) in p.mappings.iter_mut().enumerate() {
        m.id = i as u64 + 1;
    }
    for (i, l) in p.locations.iter_mut().enumerate() {
        l.id = i as u64 + 1;
    }
    for (i, f) in p.functions.iter_mut().enumerate() {
        f.id = i as u64 + 1;
    }
}

#[cfg(test)]
mod tests {
    use crate::model::Profile;

    #[test]
    fn round_trip_keeps_samples() {
        let text = b"threadcreate profile: total 2\n1 @ 0x10 0x20\n1 @ 0x10\n";
        let p = Profile::decode(text).unwrap();
        let q = Profile::decode(&p.encode()).unwrap();
        assert_eq!(q.samples.len(), 2);
        assert_eq!(q.sample_type_names(), ["threadcreate"]);
        assert_eq!(q.locations.len(), p.locations.len());
    }
}
