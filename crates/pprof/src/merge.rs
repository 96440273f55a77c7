//! Merging, scaling and comparing profiles with pprof's semantics
//! (`profile/merge.go`, `internal/driver/fetch.go`): samples with the same
//! stack and labels are summed; `-base` subtracts a base profile;
//! `-diff_base` additionally marks the base samples (`pprof::base=true`)
//! so that percentages are relative to the base; `-normalize` scales the
//! new profile to the base's totals first.

use crate::error::{Error, ErrorKind, Pos, Result};
use crate::hash::FxHashMap;
use crate::model::{
    Function, Label, Line, Location, Mapping, Profile, Samples, Strings, ValueType,
};

fn incompatible(msg: String) -> Error {
    Error::new(ErrorKind::Incompatible(msg), Pos::default())
}

fn vt(p: &Profile, v: ValueType) -> String {
    format!("{}/{}", p.str(v.ty), p.str(v.unit))
}

/// pprof's `compatible`: same period type and same sample types.
pub fn compatible(a: &Profile, b: &Profile) -> Result<()> {
    if vt(a, a.period_type) != vt(b, b.period_type) {
        return Err(incompatible(format!(
            "period types {} and {}",
            vt(a, a.period_type),
            vt(b, b.period_type)
        )));
    }
    let ta: Vec<String> = a.sample_types.iter().map(|&t| vt(a, t)).collect();
    let tb: Vec<String> = b.sample_types.iter().map(|&t| vt(b, t)).collect();
    if ta != tb {
        return Err(incompatible(format!(
            "sample types [{}] and [{}]",
            ta.join(" "),
            tb.join(" ")
        )));
    }
    Ok(())
}

#[derive(Hash, PartialEq, Eq)]
struct MappingKey {
    size: u64,
    offset: u64,
    build_id_or_file: String,
}

#[derive(Hash, PartialEq, Eq)]
struct FunctionKey {
    start_line: i64,
    name: String,
    system_name: String,
    filename: String,
}

#[derive(Hash, PartialEq, Eq)]
struct LocationKey {
    addr: u64,
    mapping: u64,
    lines: Vec<(u32, i64, i64)>,
    is_folded: bool,
}

struct Merger {
    out: Profile,
    mappings: FxHashMap<MappingKey, u32>,
    functions: FxHashMap<FunctionKey, u32>,
    locations: FxHashMap<LocationKey, u32>,
    samples: FxHashMap<Vec<u64>, usize>,
    /// Merged samples (locations, values, labels), in first-seen order.
    rows: Vec<(Vec<u32>, Vec<i64>, Vec<Label>)>,
}

impl Merger {
    fn map_str(&mut self, src: &Profile, id: u32) -> u32 {
        if id == 0 {
            0
        } else {
            self.out.strings.intern(src.str(id))
        }
    }

    fn add(&mut self, src: &Profile) {
        // Per-source id maps.
        let mut mapping_map: Vec<Option<(u32, i64)>> = vec![None; src.mappings.len()];
        let mut function_map: Vec<Option<u32>> = vec![None; src.functions.len()];
        let mut location_map: Vec<Option<u32>> = vec![None; src.locations.len()];
        if self.out.mappings.is_empty() && !src.mappings.is_empty() {
            self.map_mapping(src, 0, &mut mapping_map);
        }
        let mut key: Vec<u64> = Vec::new();
        let mut labels: Vec<Label> = Vec::new();
        let mut locs: Vec<u32> = Vec::new();
        for s in src.samples.iter() {
            if s.values.iter().all(|&v| v == 0) {
                continue;
            }
            locs.clear();
            for &l in s.locs {
                let nl = self.map_location(
                    src,
                    l,
                    &mut location_map,
                    &mut mapping_map,
                    &mut function_map,
                );
                locs.push(nl);
            }
            labels.clear();
            for l in s.labels {
                labels.push(Label {
                    key: self.map_str(src, l.key),
                    str: self.map_str(src, l.str),
                    num: l.num,
                    unit: self.map_str(src, l.unit),
                });
            }
            // Key: locations, then labels grouped by key (stable within a
            // key, like pprof's per-key value lists).
            let mut sorted = labels.clone();
            sorted.sort_by_key(|l| (!l.is_str(), l.key));
            key.clear();
            key.extend(locs.iter().map(|&l| l as u64 + 1));
            key.push(0);
            for l in &sorted {
                key.push(l.key as u64);
                key.push(l.str as u64);
                key.push(l.num as u64);
                key.push(l.unit as u64);
            }
            match self.samples.get(&key) {
                Some(&i) => {
                    let row = &mut self.rows[i].1;
                    for (a, b) in row.iter_mut().zip(s.values) {
                        *a = a.wrapping_add(*b);
                    }
                }
                None => {
                    self.samples.insert(key.clone(), self.rows.len());
                    self.rows
                        .push((locs.clone(), s.values.to_vec(), labels.clone()));
                }
            }
        }
    }

    fn map_mapping(&mut self, src: &Profile, m: u32, map: &mut [Option<(u32, i64)>]) -> (u32, i64) {
        if let Some(x) = map[m as usize] {
            return x;
        }
        let sm = &src.mappings[m as usize];
        let size = sm.limit.wrapping_sub(sm.start);
        let size = size.wrapping_add(0xfff);
        let size = size - size % 0x1000;
        let bid = src.str(sm.build_id);
        let key = MappingKey {
            size,
            offset: sm.offset,
            build_id_or_file: if !bid.is_empty() {
                bid.to_string()
            } else {
                src.str(sm.file).to_string()
            },
        };
        if let Some(&nm) = self.mappings.get(&key) {
            let delta = (self.out.mappings[nm as usize].start as i64).wrapping_sub(sm.start as i64);
            map[m as usize] = Some((nm, delta));
            return (nm, delta);
        }
        let nm = self.out.mappings.len() as u32;
        let file = self.map_str(src, sm.file);
        let build_id = self.map_str(src, sm.build_id);
        self.out.mappings.push(Mapping {
            id: nm as u64 + 1,
            file,
            build_id,
            ..sm.clone()
        });
        self.mappings.insert(key, nm);
        map[m as usize] = Some((nm, 0));
        (nm, 0)
    }

    fn map_function(&mut self, src: &Profile, f: u32, map: &mut [Option<u32>]) -> u32 {
        if let Some(x) = map[f as usize] {
            return x;
        }
        let sf = src.functions[f as usize];
        let key = FunctionKey {
            start_line: sf.start_line,
            name: src.str(sf.name).to_string(),
            system_name: src.str(sf.system_name).to_string(),
            filename: src.str(sf.filename).to_string(),
        };
        let nf = match self.functions.get(&key) {
            Some(&nf) => nf,
            None => {
                let nf = self.out.functions.len() as u32;
                let func = Function {
                    id: nf as u64 + 1,
                    name: self.map_str(src, sf.name),
                    system_name: self.map_str(src, sf.system_name),
                    filename: self.map_str(src, sf.filename),
                    start_line: sf.start_line,
                    display: self.map_str(src, sf.display),
                };
                self.out.functions.push(func);
                self.functions.insert(key, nf);
                nf
            }
        };
        map[f as usize] = Some(nf);
        nf
    }

    fn map_location(
        &mut self,
        src: &Profile,
        l: u32,
        map: &mut [Option<u32>],
        mmap: &mut [Option<(u32, i64)>],
        fmap: &mut [Option<u32>],
    ) -> u32 {
        if let Some(x) = map[l as usize] {
            return x;
        }
        let sl = &src.locations[l as usize];
        let (mapping, delta) = match sl.mapping {
            Some(m) => {
                let (nm, d) = self.map_mapping(src, m, mmap);
                (Some(nm), d)
            }
            None => (None, 0),
        };
        let address = (sl.address as i64).wrapping_add(delta) as u64;
        let lines: Vec<Line> = sl
            .lines
            .iter()
            .map(|ln| Line {
                function: self.map_function(src, ln.function, fmap),
                line: ln.line,
                column: ln.column,
            })
            .collect();
        let key = LocationKey {
            addr: match mapping {
                Some(m) => address.wrapping_sub(self.out.mappings[m as usize].start),
                None => address,
            },
            mapping: mapping.map(|m| m as u64 + 1).unwrap_or(0),
            lines: lines
                .iter()
                .map(|l| (l.function, l.line, l.column))
                .collect(),
            is_folded: sl.is_folded,
        };
        let nl = match self.locations.get(&key) {
            Some(&nl) => nl,
            None => {
                let nl = self.out.locations.len() as u32;
                self.out.locations.push(Location {
                    id: nl as u64 + 1,
                    mapping,
                    address,
                    lines,
                    is_folded: sl.is_folded,
                });
                self.locations.insert(key, nl);
                nl
            }
        };
        map[l as usize] = Some(nl);
        nl
    }
}

/// Merges profiles of the same type (pprof's `profile.Merge`): samples
/// with equal stacks and labels are summed, all-zero samples dropped,
/// mappings/functions/locations deduplicated.
pub fn merge(srcs: &[&Profile]) -> Result<Profile> {
    let Some(first) = srcs.first() else {
        return Err(Error::option("no profiles to merge"));
    };
    for s in &srcs[1..] {
        compatible(first, s)?;
    }
    let mut out = Profile {
        strings: Strings::new(),
        samples: Samples::new(first.sample_types.len()),
        ..Default::default()
    };
    let mut time = 0i64;
    let mut duration = 0i64;
    let mut period = 0i64;
    let mut comments: Vec<String> = Vec::new();
    let mut default_type = String::new();
    let mut doc_url = String::new();
    for s in srcs {
        if time == 0 || s.time_nanos < time {
            time = s.time_nanos;
        }
        duration = duration.wrapping_add(s.duration_nanos);
        if period == 0 || period < s.period {
            period = s.period;
        }
        for &c in &s.comments {
            let c = s.str(c).to_string();
            if !comments.contains(&c) {
                comments.push(c);
            }
        }
        if default_type.is_empty() {
            default_type = s.str(s.default_sample_type).to_string();
        }
        if doc_url.is_empty() {
            doc_url = s.str(s.doc_url).to_string();
        }
    }
    out.sample_types = first
        .sample_types
        .iter()
        .map(|t| ValueType {
            ty: out.strings.intern(first.str(t.ty)),
            unit: out.strings.intern(first.str(t.unit)),
        })
        .collect();
    out.period_type = ValueType {
        ty: out.strings.intern(first.str(first.period_type.ty)),
        unit: out.strings.intern(first.str(first.period_type.unit)),
    };
    out.drop_frames = out.strings.intern(first.str(first.drop_frames));
    out.keep_frames = out.strings.intern(first.str(first.keep_frames));
    out.time_nanos = time;
    out.duration_nanos = duration;
    out.period = period;
    out.comments = comments.iter().map(|c| out.strings.intern(c)).collect();
    out.default_sample_type = out.strings.intern(&default_type);
    out.doc_url = out.strings.intern(&doc_url);
    let mut m = Merger {
        out,
        mappings: FxHashMap::default(),
        functions: FxHashMap::default(),
        locations: FxHashMap::default(),
        samples: FxHashMap::default(),
        rows: Vec::new(),
    };
    for s in srcs {
        m.add(s);
    }
    let Merger { mut out, rows, .. } = m;
    let total_locs = rows.iter().map(|r| r.0.len()).sum();
    out.samples.reserve(rows.len(), total_locs);
    for (locs, values, labels) in rows {
        // pprof merges again if summing produced all-zero samples.
        if values.iter().all(|&v| v == 0) {
            continue;
        }
        out.samples.push(&locs, &values, &labels);
    }
    Ok(out)
}

/// pprof's `ScaleN`: multiplies each value column by its ratio (rounded),
/// keeping only samples with a non-zero value in a scaled column.
pub fn scale_n(p: &mut Profile, ratios: &[f64]) {
    if ratios.iter().all(|&r| r == 1.0) {
        return;
    }
    let n = p.samples.len();
    let mut keep = vec![false; n];
    for (i, k) in keep.iter_mut().enumerate() {
        let vals = p.samples.values_mut(i);
        for (v, &r) in vals.iter_mut().zip(ratios) {
            if r != 1.0 {
                let x = (*v as f64 * r).round() as i64;
                *v = x;
                *k |= x != 0;
            }
        }
    }
    p.samples
        .retain_map(|i, s| keep[i].then_some(0..s.locs.len()));
}

/// pprof's `Normalize`: scales `p` so that each column's sum equals the
/// base's.
pub fn normalize(p: &mut Profile, base: &Profile) -> Result<()> {
    compatible(p, base)?;
    let n = p.sample_types.len();
    let mut bv = vec![0i64; n];
    let mut sv = vec![0i64; n];
    for s in base.samples.iter() {
        for (a, v) in bv.iter_mut().zip(s.values) {
            *a = a.wrapping_add(*v);
        }
    }
    for s in p.samples.iter() {
        for (a, v) in sv.iter_mut().zip(s.values) {
            *a = a.wrapping_add(*v);
        }
    }
    let ratios: Vec<f64> = (0..n)
        .map(|i| {
            if sv[i] == 0 {
                0.0
            } else {
                bv[i] as f64 / sv[i] as f64
            }
        })
        .collect();
    scale_n(p, &ratios);
    Ok(())
}

/// Adds a string label to every sample (pprof's `SetLabel`, replacing any
/// value for that key).
pub fn set_label(p: &mut Profile, key: &str, value: &str) {
    let k = p.strings.intern(key);
    let v = p.strings.intern(value);
    let old = std::mem::replace(&mut p.samples, Samples::new(p.sample_types.len()));
    let mut labels: Vec<Label> = Vec::new();
    for s in old.iter() {
        labels.clear();
        labels.extend(
            s.labels
                .iter()
                .copied()
                .filter(|l| !(l.is_str() && l.key == k)),
        );
        labels.push(Label {
            key: k,
            str: v,
            num: 0,
            unit: 0,
        });
        p.samples.push(s.locs, s.values, &labels);
    }
}

/// Removes a string label from every sample (pprof's `RemoveLabel`).
pub fn remove_label(p: &mut Profile, key: &str) {
    let Some(k) = p.strings.lookup(key) else {
        return;
    };
    let old = std::mem::replace(&mut p.samples, Samples::new(p.sample_types.len()));
    let mut labels: Vec<Label> = Vec::new();
    for s in old.iter() {
        labels.clear();
        labels.extend(
            s.labels
                .iter()
                .copied()
                .filter(|l| !(l.is_str() && l.key == k)),
        );
        p.samples.push(s.locs, s.values, &labels);
    }
}

/// How a base profile is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BaseOptions {
    /// `-diff_base` (percentages relative to the base) rather than `-base`.
    pub diff_base: bool,
    /// `-normalize`: scale the new profile to the base's totals first.
    pub normalize: bool,
}

/// `new − base` as pprof's `fetchProfiles` builds it.
pub fn subtract_base(mut new: Profile, mut base: Profile, o: BaseOptions) -> Result<Profile> {
    compatible(&new, &base)?;
    if o.diff_base {
        set_label(&mut base, "pprof::base", "true");
    }
    if o.normalize {
        normalize(&mut new, &base)?;
    }
    let ratios = vec![-1.0; base.sample_types.len()];
    scale_n(&mut base, &ratios);
    merge(&[&new, &base])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(values: &[(u64, i64)]) -> Profile {
        use crate::proto;
        use prost::Message;
        let mut m = proto::Profile {
            sample_type: vec![proto::ValueType { r#type: 1, unit: 2 }],
            string_table: ["", "samples", "count", "a", "b"]
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect(),
            ..Default::default()
        };
        for f in 1..=2u64 {
            m.function.push(proto::Function {
                id: f,
                name: 2 + f as i64,
                ..Default::default()
            });
            m.location.push(proto::Location {
                id: f,
                line: vec![proto::Line {
                    function_id: f,
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
        for &(loc, v) in values {
            m.sample.push(proto::Sample {
                location_id: vec![loc],
                value: vec![v],
                label: vec![],
            });
        }
        Profile::decode(&m.encode_to_vec()).unwrap()
    }

    #[test]
    fn merge_sums_equal_stacks() {
        let a = tiny(&[(1, 2), (2, 3)]);
        let b = tiny(&[(1, 5)]);
        let m = merge(&[&a, &b]).unwrap();
        assert_eq!(m.samples.len(), 2);
        assert_eq!(m.samples.get(0).values, &[7]);
    }

    #[test]
    fn base_subtracts_and_diff_base_keeps_base_apart() {
        let new = tiny(&[(1, 10)]);
        let base = tiny(&[(1, 4), (2, 6)]);
        let d = subtract_base(new.clone(), base.clone(), BaseOptions::default()).unwrap();
        assert_eq!(d.total(0), 6 + 6);
        let d = subtract_base(
            new,
            base,
            BaseOptions {
                diff_base: true,
                normalize: false,
            },
        )
        .unwrap();
        assert_eq!(d.samples.len(), 3);
        assert_eq!(d.total(0), 10); // base samples only
    }
}
