//! The in-memory query model: interned strings, dense indices instead of
//! ids, samples stored column-wise.
//!
//! Every table is a `Vec` indexed by a dense `u32`; the profile's own ids are
//! kept (`id` fields) only to write the profile back. A location keeps its
//! inlined frames as the profile gives them: one [`Location`] with several
//! [`Line`]s, `lines[0]` the innermost. Samples live in flat arrays (one
//! allocation per column for a million samples, not three per sample).

use crate::hash::FxHashMap;

/// Index into [`Strings`]. 0 is always the empty string.
pub type StrId = u32;

/// Deduplicated strings.
#[derive(Debug, Clone, Default)]
pub struct Strings {
    list: Vec<Box<str>>,
    index: FxHashMap<Box<str>, StrId>,
}

impl Strings {
    /// A table holding only "".
    pub fn new() -> Strings {
        let mut s = Strings::default();
        s.intern("");
        s
    }

    /// The id of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> StrId {
        if let Some(&id) = self.index.get(s) {
            return id;
        }
        let id = self.list.len() as StrId;
        let b: Box<str> = s.into();
        self.list.push(b.clone());
        self.index.insert(b, id);
        id
    }

    /// The id of `s` if it is in the table.
    pub fn lookup(&self, s: &str) -> Option<StrId> {
        self.index.get(s).copied()
    }

    /// The string of an id (`""` for an id out of range, which the model
    /// never produces).
    #[inline]
    pub fn get(&self, id: StrId) -> &str {
        self.list.get(id as usize).map(|s| &**s).unwrap_or("")
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether only "" is present (or not even that).
    pub fn is_empty(&self) -> bool {
        self.list.len() <= 1
    }

    /// All strings in id order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|s| &**s)
    }
}

/// A (type, unit) pair such as `cpu/nanoseconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ValueType {
    /// Type name.
    pub ty: StrId,
    /// Unit name.
    pub unit: StrId,
}

/// A mapped executable region.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mapping {
    /// The profile's id.
    pub id: u64,
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub limit: u64,
    /// File offset of `start`.
    pub offset: u64,
    /// Path of the mapped file.
    pub file: StrId,
    /// GNU build ID (hex) or empty.
    pub build_id: StrId,
    /// All locations in the mapping are symbolized.
    pub has_functions: bool,
    /// Flags as the producer set them.
    pub has_filenames: bool,
    /// Flags as the producer set them.
    pub has_line_numbers: bool,
    /// Flags as the producer set them.
    pub has_inline_frames: bool,
}

/// A function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Function {
    /// The profile's id.
    pub id: u64,
    /// Name as written in the profile.
    pub name: StrId,
    /// System (mangled) name as written.
    pub system_name: StrId,
    /// Source file.
    pub filename: StrId,
    /// Line of the `func` keyword (Go 1.20+) or 0.
    pub start_line: i64,
    /// The name reports use: pprof's demangling step applied (for Go
    /// profiles, the name itself except for C++-looking names).
    pub display: StrId,
}

/// One frame of a location: a function at a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Line {
    /// Index into [`Profile::functions`].
    pub function: u32,
    /// Source line, 0 if unknown.
    pub line: i64,
    /// Source column, 0 if unknown (Go never sets it).
    pub column: i64,
}

/// A program counter with its (possibly inlined) frames.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The profile's id.
    pub id: u64,
    /// Index into [`Profile::mappings`].
    pub mapping: Option<u32>,
    /// The address (a call PC, i.e. return address − 1, except at a CPU
    /// sample's leaf).
    pub address: u64,
    /// Frames, innermost first; the last one is the physical function.
    pub lines: Vec<Line>,
    /// Whether the producer folded several frames into this location.
    pub is_folded: bool,
}

/// A sample label: a string label when `str != 0`, else numeric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Label {
    /// Key.
    pub key: StrId,
    /// String value, or 0 for a numeric label.
    pub str: StrId,
    /// Numeric value.
    pub num: i64,
    /// Unit of a numeric value, or 0.
    pub unit: StrId,
}

impl Label {
    /// Whether this is a string label.
    pub fn is_str(&self) -> bool {
        self.str != 0
    }
}

/// All samples, column-wise.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    n_values: usize,
    values: Vec<i64>,
    loc_start: Vec<usize>,
    locs: Vec<u32>,
    label_start: Vec<usize>,
    labels: Vec<Label>,
}

/// One sample, borrowed from [`Samples`].
#[derive(Debug, Clone, Copy)]
pub struct SampleRef<'a> {
    /// Location indices, leaf first.
    pub locs: &'a [u32],
    /// One value per sample type.
    pub values: &'a [i64],
    /// Labels.
    pub labels: &'a [Label],
}

impl Samples {
    /// An empty set for profiles with `n_values` sample types.
    pub fn new(n_values: usize) -> Samples {
        Samples {
            n_values,
            values: Vec::new(),
            loc_start: vec![0],
            locs: Vec::new(),
            label_start: vec![0],
            labels: Vec::new(),
        }
    }

    /// Reserves room for `n` samples with `locs` locations in all.
    pub fn reserve(&mut self, n: usize, locs: usize) {
        self.values.reserve(n * self.n_values);
        self.loc_start.reserve(n);
        self.label_start.reserve(n);
        self.locs.reserve(locs);
    }

    /// Values per sample.
    pub fn n_values(&self) -> usize {
        self.n_values
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.loc_start.len() - 1
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a sample. `values.len()` must equal [`Samples::n_values`].
    pub fn push(&mut self, locs: &[u32], values: &[i64], labels: &[Label]) {
        debug_assert_eq!(values.len(), self.n_values);
        self.locs.extend_from_slice(locs);
        self.loc_start.push(self.locs.len());
        self.values.extend_from_slice(values);
        self.labels.extend_from_slice(labels);
        self.label_start.push(self.labels.len());
    }

    /// Sample `i`.
    #[inline]
    pub fn get(&self, i: usize) -> SampleRef<'_> {
        SampleRef {
            locs: &self.locs[self.loc_start[i]..self.loc_start[i + 1]],
            values: &self.values[i * self.n_values..(i + 1) * self.n_values],
            labels: &self.labels[self.label_start[i]..self.label_start[i + 1]],
        }
    }

    /// Value `index` of sample `i`.
    #[inline]
    pub fn value(&self, i: usize, index: usize) -> i64 {
        self.values[i * self.n_values + index]
    }

    /// All samples in order.
    pub fn iter(&self) -> impl Iterator<Item = SampleRef<'_>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Mutable values of sample `i`.
    pub fn values_mut(&mut self, i: usize) -> &mut [i64] {
        let n = self.n_values;
        &mut self.values[i * n..(i + 1) * n]
    }

    /// Keeps only the samples for which `keep(i)` is true, transforming the
    /// location list of the kept ones with `locs` (which may shorten it).
    pub fn retain_map(
        &mut self,
        mut keep: impl FnMut(usize, SampleRef<'_>) -> Option<std::ops::Range<usize>>,
    ) {
        let mut out = Samples::new(self.n_values);
        out.reserve(self.len(), self.locs.len());
        for i in 0..self.len() {
            let s = self.get(i);
            if let Some(r) = keep(i, s) {
                out.push(&s.locs[r], s.values, s.labels);
            }
        }
        *self = out;
    }
}

/// A profile, ready for queries.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// All strings.
    pub strings: Strings,
    /// One per value column.
    pub sample_types: Vec<ValueType>,
    /// Samples.
    pub samples: Samples,
    /// Mappings; by pprof's convention the first is the main binary.
    pub mappings: Vec<Mapping>,
    /// Locations.
    pub locations: Vec<Location>,
    /// Functions.
    pub functions: Vec<Function>,
    /// Regular expression of frames to drop (with their callees).
    pub drop_frames: StrId,
    /// Regular expression of frames to keep despite `drop_frames`.
    pub keep_frames: StrId,
    /// Collection time, Unix ns.
    pub time_nanos: i64,
    /// Profile duration, ns.
    pub duration_nanos: i64,
    /// Kind of events between samples.
    pub period_type: ValueType,
    /// Events between samples.
    pub period: i64,
    /// Free-form comments.
    pub comments: Vec<StrId>,
    /// Type name of the preferred value column, or 0.
    pub default_sample_type: StrId,
    /// Documentation link, or 0.
    pub doc_url: StrId,
}

impl Profile {
    /// The string of an id.
    #[inline]
    pub fn str(&self, id: StrId) -> &str {
        self.strings.get(id)
    }

    /// Type names of the value columns, in order.
    pub fn sample_type_names(&self) -> Vec<&str> {
        self.sample_types.iter().map(|t| self.str(t.ty)).collect()
    }

    /// The value column pprof shows when none is asked for: the one named
    /// by `default_sample_type`, else the last.
    pub fn default_sample_index(&self) -> usize {
        if self.default_sample_type != 0 {
            let want = self.str(self.default_sample_type);
            if let Some(i) = self
                .sample_types
                .iter()
                .position(|t| self.str(t.ty) == want)
            {
                return i;
            }
        }
        self.sample_types.len().saturating_sub(1)
    }

    /// Resolves `-sample_index` as pprof does: empty → default, a number in
    /// range, or a type name (`inuse_` prefix optional for legacy `space`
    /// and `objects` profiles).
    pub fn sample_index(&self, spec: &str) -> crate::Result<usize> {
        if self.sample_types.is_empty() {
            return Err(crate::Error::option("profile has no samples"));
        }
        if spec.is_empty() {
            return Ok(self.default_sample_index());
        }
        if let Ok(i) = spec.parse::<i64>() {
            if i < 0 || i as usize >= self.sample_types.len() {
                return Err(crate::Error::option(format!(
                    "sample_index {spec} is outside the range [0..{}]",
                    self.sample_types.len() - 1
                )));
            }
            return Ok(i as usize);
        }
        let no_inuse = spec.strip_prefix("inuse_").unwrap_or(spec);
        for (i, t) in self.sample_types.iter().enumerate() {
            let name = self.str(t.ty);
            if name == spec || name == no_inuse {
                return Ok(i);
            }
        }
        Err(crate::Error::option(format!(
            "sample_index {spec:?} must be one of: [{}]",
            self.sample_type_names().join(" ")
        )))
    }

    /// The file name of the first mapping (pprof's "File:" header).
    pub fn main_file(&self) -> &str {
        self.mappings
            .first()
            .map(|m| self.str(m.file))
            .unwrap_or("")
    }

    /// Whether any sample carries `pprof::base=true` (a `-diff_base`
    /// comparison).
    pub fn has_diff_base(&self) -> bool {
        let Some(key) = self.strings.lookup("pprof::base") else {
            return false;
        };
        let Some(t) = self.strings.lookup("true") else {
            return false;
        };
        self.samples
            .iter()
            .any(|s| s.labels.iter().any(|l| l.key == key && l.str == t))
    }

    /// Sum over samples of `|value[index]|` (pprof's `computeTotal`): with
    /// diff-base samples present, only theirs count.
    pub fn total(&self, index: usize) -> i64 {
        let base = self
            .strings
            .lookup("pprof::base")
            .zip(self.strings.lookup("true"));
        let mut total: i64 = 0;
        let mut diff_total: i64 = 0;
        for s in self.samples.iter() {
            let v = s.values[index].wrapping_abs();
            total = total.wrapping_add(v);
            if let Some((k, t)) = base
                && s.labels.iter().any(|l| l.key == k && l.str == t)
            {
                diff_total = diff_total.wrapping_add(v);
            }
        }
        if diff_total > 0 { diff_total } else { total }
    }

    /// The name of a location line's function as reports show it.
    #[inline]
    pub fn func_name(&self, f: u32) -> &str {
        self.str(self.functions[f as usize].display)
    }
}
