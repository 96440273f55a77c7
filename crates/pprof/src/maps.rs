//! The map lens: how much of a profile goes to Go maps, through which
//! operation, and which of the user's functions cause it.
//!
//! CPU (and mutex/block/goroutine) profiles keep runtime frames, so a
//! sample is map work when the runtime part of its stack (from the leaf up
//! to the first non-runtime frame) contains a map function of either era:
//!
//! - classic maps (Go ≤ 1.23, `runtime/map.go`): `runtime.mapaccess*`,
//!   `mapassign*`, `mapdelete*`, `mapiterinit`/`mapiternext`, `hashGrow`,
//!   `growWork*`, `evacuate*`, `makemap*`, `makeBucketArray`, `mapclear`;
//! - Swiss tables (Go 1.24+, `internal/runtime/maps`): every
//!   `internal/runtime/maps.*` function, plus the runtime's linkname
//!   wrappers that keep the classic names (`runtime.mapaccess2_faststr` is
//!   `internal/runtime/maps.runtime_mapaccess2_faststr`) and the iterator
//!   entry points `runtime.mapIterStart`/`mapIterNext`.
//!
//! The operation is growth when a growth function is on the stack, else
//! the one of the outermost map entry point (the one the user's code
//! called); the sample is attributed to the first non-runtime frame above
//! it.
//!
//! Heap profiles are different: `runtime/pprof` removes the leading
//! runtime frames of every allocation stack (`protomem.go`, `hideRuntime`),
//! so `makemap` and `hashGrow` never appear there. The allocating frame is
//! the user's function at the line that made or grew the map; the lens
//! recognises such lines from their source text, through a
//! [`SourceLines`] the caller provides (gosleuth reads the files named in
//! the profile, or under `--source`).

use crate::hash::FxHashMap;
use crate::model::Profile;

/// A map operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MapOp {
    /// Lookups: `v := m[k]`, `v, ok := m[k]`.
    Read,
    /// Assignments: `m[k] = v`.
    Write,
    /// `delete(m, k)`.
    Delete,
    /// `for k, v := range m`.
    Iterate,
    /// Growth: rehashing into a bigger table.
    Grow,
    /// `make(map...)`, map literals.
    Make,
    /// `clear(m)`.
    Clear,
}

impl MapOp {
    /// The word used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            MapOp::Read => "read",
            MapOp::Write => "write",
            MapOp::Delete => "delete",
            MapOp::Iterate => "iterate",
            MapOp::Grow => "grow",
            MapOp::Make => "make",
            MapOp::Clear => "clear",
        }
    }
}

/// Which map implementation the profile shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapEra {
    /// Buckets and overflow chains (Go ≤ 1.23, or `GOEXPERIMENT=noswissmap`).
    Classic,
    /// Swiss tables (Go 1.24+).
    Swiss,
    /// No map frames seen.
    Unknown,
}

impl MapEra {
    /// The word used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            MapEra::Classic => "classic",
            MapEra::Swiss => "swiss",
            MapEra::Unknown => "unknown",
        }
    }
}

/// Whether a function belongs to the runtime (frames skipped when looking
/// for the user's caller).
pub fn is_runtime(name: &str) -> bool {
    name.starts_with("runtime.")
        || name.starts_with("internal/runtime/")
        || name.starts_with("runtime/internal/")
}

/// What a runtime function means for maps: the operation of a map entry
/// point, growth, or other map internals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Entry(MapOp),
    Grow,
    Internal,
}

/// The lens's view of the shared table: `maps.Clone` makes a map.
fn classify(name: &str) -> Option<Role> {
    use gosleuth_model::{MapOperation as Op, MapRole};
    Some(match gosleuth_model::runtime_map_role(name)? {
        MapRole::Entry(op) => Role::Entry(match op {
            Op::Read => MapOp::Read,
            Op::Write => MapOp::Write,
            Op::Delete => MapOp::Delete,
            Op::Iterate => MapOp::Iterate,
            Op::Make | Op::Clone => MapOp::Make,
            Op::Clear => MapOp::Clear,
        }),
        MapRole::Grow => Role::Grow,
        MapRole::Internal => Role::Internal,
    })
}

/// One (caller, operation) pair of the lens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapCaller {
    /// First non-runtime function above the map code (`(runtime)` if none).
    pub caller: String,
    /// Operation.
    pub op: MapOp,
    /// The map entry point called (`runtime.mapaccess2_faststr`), or the
    /// source line for heap profiles.
    pub via: String,
    /// Value in the lens's column.
    pub value: i64,
    /// Second value (objects, for heap lenses; 0 otherwise).
    pub value2: i64,
}

/// The map lens of one profile.
#[derive(Debug, Clone)]
pub struct MapLens {
    /// Type of the value column used (`cpu`, `alloc_space`...).
    pub sample_type: String,
    /// Its unit.
    pub unit: String,
    /// Type of the second column (`alloc_objects` for heap), if any.
    pub sample_type2: Option<String>,
    /// Σ value over all samples.
    pub total: i64,
    /// Σ value over map samples.
    pub map_total: i64,
    /// Σ second value over map samples.
    pub map_total2: i64,
    /// Map implementation seen.
    pub era: MapEra,
    /// Per operation, descending.
    pub by_op: Vec<(MapOp, i64)>,
    /// Per caller and operation, descending.
    pub callers: Vec<MapCaller>,
    /// Heap lenses: whether source lines were available (without them
    /// nothing can be attributed).
    pub source_used: bool,
}

/// Source text for the heap lens: the text of line `line` of `file`
/// (as the profile names it), if available.
pub trait SourceLines {
    /// Line `line` (1-based) of `file`.
    fn line(&self, file: &str, line: i64) -> Option<String>;
    /// The whole file, for finding declarations (optional).
    fn file(&self, _file: &str) -> Option<String> {
        None
    }
}

/// No source available.
pub struct NoSource;

impl SourceLines for NoSource {
    fn line(&self, _: &str, _: i64) -> Option<String> {
        None
    }
}

/// Whether a profile holds allocation data (heap/allocs).
pub fn is_heap(p: &Profile) -> bool {
    p.sample_types
        .iter()
        .any(|t| matches!(p.str(t.ty), "alloc_space" | "inuse_space" | "space"))
}

/// Computes the map lens on value column `index`. For heap profiles the
/// objects column matching `index` (`alloc_objects` for `alloc_space`) is
/// summed as the second value.
pub fn lens(p: &Profile, index: usize, src: &dyn SourceLines) -> MapLens {
    if is_heap(p) {
        heap_lens(p, index, src)
    } else {
        stack_lens(p, index)
    }
}

fn stack_lens(p: &Profile, index: usize) -> MapLens {
    let roles: Vec<Option<Role>> = p
        .functions
        .iter()
        .map(|f| classify(p.str(f.display)))
        .collect();
    let runtime: Vec<bool> = p
        .functions
        .iter()
        .map(|f| is_runtime(p.str(f.display)))
        .collect();
    let swiss_fn: Vec<bool> = p
        .functions
        .iter()
        .map(|f| {
            p.str(f.display).starts_with("internal/runtime/maps.")
                || p.str(f.filename).contains("internal/runtime/maps/")
        })
        .collect();
    let mut total = 0i64;
    let mut map_total = 0i64;
    let mut by_op: FxHashMap<MapOp, i64> = FxHashMap::default();
    let mut by_caller: FxHashMap<(String, MapOp, String), i64> = FxHashMap::default();
    let mut era = MapEra::Unknown;
    for s in p.samples.iter() {
        let w = s.values[index];
        total = total.wrapping_add(w);
        if w == 0 {
            continue;
        }
        // Walk leaf to root over frames (innermost line first).
        let mut entry: Option<(MapOp, u32)> = None;
        let mut grow = false;
        let mut any_map = false;
        let mut caller: Option<u32> = None;
        let mut swiss = false;
        'walk: for &l in s.locs {
            for ln in &p.locations[l as usize].lines {
                let f = ln.function as usize;
                if !runtime[f] {
                    caller = Some(ln.function);
                    break 'walk;
                }
                if let Some(role) = roles[f] {
                    any_map = true;
                    swiss |= swiss_fn[f];
                    match role {
                        Role::Entry(op) => entry = Some((op, ln.function)),
                        Role::Grow => grow = true,
                        Role::Internal => {}
                    }
                }
            }
        }
        if !any_map {
            continue;
        }
        if era != MapEra::Swiss {
            era = if swiss {
                MapEra::Swiss
            } else {
                MapEra::Classic
            };
        }
        let op = if grow {
            MapOp::Grow
        } else {
            entry.map(|e| e.0).unwrap_or(MapOp::Read)
        };
        let via = entry
            .map(|e| p.func_name(e.1).to_string())
            .unwrap_or_else(|| "(map internals)".into());
        let caller = caller
            .map(|f| p.func_name(f).to_string())
            .unwrap_or_else(|| "(runtime)".into());
        map_total = map_total.wrapping_add(w);
        *by_op.entry(op).or_default() += w;
        *by_caller.entry((caller, op, via)).or_default() += w;
    }
    finish(
        p,
        index,
        None,
        total,
        map_total,
        0,
        era,
        by_op,
        by_caller.into_iter().map(|(k, v)| (k, (v, 0))).collect(),
        false,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    p: &Profile,
    index: usize,
    index2: Option<usize>,
    total: i64,
    map_total: i64,
    map_total2: i64,
    era: MapEra,
    by_op: FxHashMap<MapOp, i64>,
    by_caller: FxHashMap<(String, MapOp, String), (i64, i64)>,
    source_used: bool,
) -> MapLens {
    let mut by_op: Vec<(MapOp, i64)> = by_op.into_iter().collect();
    by_op.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut callers: Vec<MapCaller> = by_caller
        .into_iter()
        .map(|((caller, op, via), (value, value2))| MapCaller {
            caller,
            op,
            via,
            value,
            value2,
        })
        .collect();
    callers.sort_by(|a, b| {
        b.value
            .cmp(&a.value)
            .then_with(|| a.caller.cmp(&b.caller))
            .then(a.op.cmp(&b.op))
            .then_with(|| a.via.cmp(&b.via))
    });
    MapLens {
        sample_type: p.str(p.sample_types[index].ty).to_string(),
        unit: p.str(p.sample_types[index].unit).to_string(),
        sample_type2: index2.map(|i| p.str(p.sample_types[i].ty).to_string()),
        total,
        map_total,
        map_total2,
        era,
        by_op,
        callers,
        source_used,
    }
}

/// Classifies a Go source line that allocates, for heap profiles:
/// `make(map...)` and map literals are `make`; an index assignment on a
/// name known to be a map is `write` (where growth allocates).
pub fn classify_source_line(line: &str, map_names: &[String]) -> Option<MapOp> {
    let code = line.split("//").next().unwrap_or(line);
    if code.contains("make(map[")
        || code.contains("map[") && code.contains("]{") && !code.contains("[]map[")
    {
        return Some(MapOp::Make);
    }
    // NAME[...] = / op= / ++ / --, NAME possibly a selector (s.cache).
    let trimmed = code.trim();
    let bytes = trimmed.as_bytes();
    let mut i = 0;
    while i < bytes.len()
        && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
    {
        i += 1;
    }
    if i == 0 || i >= bytes.len() || bytes[i] != b'[' {
        return None;
    }
    let name = &trimmed[..i];
    let last = name.rsplit('.').next().unwrap_or(name);
    // Find the matching bracket, then an assignment operator.
    let mut depth = 0;
    let mut j = i;
    while j < bytes.len() {
        match bytes[j] {
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        j += 1;
    }
    let rest = trimmed.get(j + 1..)?.trim_start();
    let assigns = (rest.starts_with('=') && !rest.starts_with("=="))
        || rest.starts_with("++")
        || rest.starts_with("--")
        || (rest.len() > 1
            && rest.as_bytes()[1] == b'='
            && b"+-*/%&|^".contains(&rest.as_bytes()[0]));
    if assigns && map_names.iter().any(|m| m == last || m == name) {
        return Some(MapOp::Write);
    }
    None
}

/// Names declared with a map type in Go source text: `x := make(map...`,
/// `var x map[...]`, struct fields `x map[...]`, `x = map[...]{`.
pub fn map_names(source: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or(line);
        let Some(at) = code.find("map[") else {
            continue;
        };
        let before = code[..at].trim_end();
        let before = before
            .strip_suffix("make(")
            .map(str::trim_end)
            .unwrap_or(before);
        let before = before
            .strip_suffix(":=")
            .or_else(|| before.strip_suffix('='))
            .map(str::trim_end)
            .unwrap_or(before);
        let name: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !name.is_empty() && name != "var" && name != "func" && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

fn heap_lens(p: &Profile, index: usize, src: &dyn SourceLines) -> MapLens {
    let ty = p.str(p.sample_types[index].ty).to_string();
    let want2 = if ty.ends_with("space") {
        ty.replace("space", "objects")
    } else {
        ty.replace("objects", "space")
    };
    let index2 = p.sample_types.iter().position(|t| p.str(t.ty) == want2);
    let mut names_cache: FxHashMap<u32, Vec<String>> = FxHashMap::default();
    let mut line_cache: FxHashMap<(u32, i64), Option<MapOp>> = FxHashMap::default();
    let mut total = 0i64;
    let mut map_total = 0i64;
    let mut map_total2 = 0i64;
    let mut by_op: FxHashMap<MapOp, i64> = FxHashMap::default();
    let mut by_caller: FxHashMap<(String, MapOp, String), (i64, i64)> = FxHashMap::default();
    let mut source_used = false;
    for s in p.samples.iter() {
        let w = s.values[index];
        let w2 = index2.map(|i| s.values[i]).unwrap_or(0);
        total = total.wrapping_add(w);
        if w == 0 {
            continue;
        }
        // The first non-runtime frame allocated (runtime frames are
        // already stripped by runtime/pprof; skip any left).
        let mut first = None;
        'walk: for &l in s.locs {
            for ln in &p.locations[l as usize].lines {
                if !is_runtime(p.func_name(ln.function)) {
                    first = Some(*ln);
                    break 'walk;
                }
            }
        }
        let Some(ln) = first else { continue };
        let f = &p.functions[ln.function as usize];
        let file = p.str(f.filename);
        if file.is_empty() || ln.line == 0 {
            continue;
        }
        let op = *line_cache.entry((f.filename, ln.line)).or_insert_with(|| {
            let text = src.line(file, ln.line)?;
            let names = names_cache
                .entry(f.filename)
                .or_insert_with(|| src.file(file).map(|t| map_names(&t)).unwrap_or_default());
            classify_source_line(&text, names)
        });
        if src.line(file, ln.line).is_some() {
            source_used = true;
        }
        let Some(op) = op else { continue };
        // An index assignment allocates when the map grows; if the stored
        // value or the key is built on the same line, those allocations
        // are on the line too and cannot be told apart: call it a write.
        let op = if op == MapOp::Write {
            let text = src.line(file, ln.line).unwrap_or_default();
            let rhs = text.split_once('=').map(|x| x.1).unwrap_or("");
            let key = text.split_once('[').map(|x| x.1).unwrap_or("");
            let allocates = |t: &str| {
                [
                    "&", "{", "make(", "new(", "append(", "+", "string(", "fmt.", "strconv.",
                ]
                .iter()
                .any(|m| t.contains(m))
            };
            if allocates(rhs) || allocates(key.split(']').next().unwrap_or("")) {
                MapOp::Write
            } else {
                MapOp::Grow
            }
        } else {
            op
        };
        let caller = p.func_name(ln.function).to_string();
        let base = file.rsplit('/').next().unwrap_or(file);
        let via = format!("{base}:{}", ln.line);
        map_total = map_total.wrapping_add(w);
        map_total2 = map_total2.wrapping_add(w2);
        *by_op.entry(op).or_default() += w;
        let e = by_caller.entry((caller, op, via)).or_default();
        e.0 += w;
        e.1 += w2;
    }
    finish(
        p,
        index,
        index2,
        total,
        map_total,
        map_total2,
        MapEra::Unknown,
        by_op,
        by_caller,
        source_used,
    )
}

/// A caller whose map figure changed between a base and a new profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapGrowth {
    /// Caller.
    pub caller: String,
    /// Operation.
    pub op: MapOp,
    /// Value in the base profile.
    pub base: i64,
    /// Value in the new profile.
    pub new: i64,
}

/// Compares two lenses per (caller, operation): what grew, largest growth
/// first (then what shrank).
pub fn compare(base: &MapLens, new: &MapLens) -> Vec<MapGrowth> {
    let mut m: FxHashMap<(String, MapOp), (i64, i64)> = FxHashMap::default();
    for c in &base.callers {
        m.entry((c.caller.clone(), c.op)).or_default().0 += c.value;
    }
    for c in &new.callers {
        m.entry((c.caller.clone(), c.op)).or_default().1 += c.value;
    }
    let mut v: Vec<MapGrowth> = m
        .into_iter()
        .map(|((caller, op), (base, new))| MapGrowth {
            caller,
            op,
            base,
            new,
        })
        .filter(|g| g.base != g.new)
        .collect();
    v.sort_by(|a, b| {
        (b.new - b.base)
            .cmp(&(a.new - a.base))
            .then_with(|| a.caller.cmp(&b.caller))
            .then(a.op.cmp(&b.op))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_both_eras() {
        assert_eq!(
            classify("runtime.mapaccess2_faststr"),
            Some(Role::Entry(MapOp::Read))
        );
        assert_eq!(
            classify("runtime.mapassign_fast64"),
            Some(Role::Entry(MapOp::Write))
        );
        assert_eq!(classify("runtime.evacuate_faststr"), Some(Role::Grow));
        assert_eq!(
            classify("runtime.mapiternext"),
            Some(Role::Entry(MapOp::Iterate))
        );
        assert_eq!(
            classify("runtime.mapIterNext"),
            Some(Role::Entry(MapOp::Iterate))
        );
        assert_eq!(
            classify("internal/runtime/maps.(*table).grow"),
            Some(Role::Grow)
        );
        assert_eq!(
            classify("internal/runtime/maps.(*Iter).Next"),
            Some(Role::Entry(MapOp::Iterate))
        );
        assert_eq!(
            classify("internal/runtime/maps.runtime_mapassign_faststr"),
            Some(Role::Entry(MapOp::Write))
        );
        assert_eq!(
            classify("internal/runtime/maps.ctrlGroup.matchH2"),
            Some(Role::Internal)
        );
        assert_eq!(classify("runtime.mallocgc"), None);
        assert_eq!(classify("main.main"), None);
    }

    #[test]
    fn source_lines() {
        let names = map_names(
            "type S struct {\n\tcache map[string]int\n}\nfunc f() {\n\tm := make(map[int]int)\n}",
        );
        assert_eq!(names, vec!["cache".to_string(), "m".to_string()]);
        assert_eq!(
            classify_source_line("\tm := make(map[int]int, 8)", &names),
            Some(MapOp::Make)
        );
        assert_eq!(
            classify_source_line("\ts.cache[k] = v", &names),
            Some(MapOp::Write)
        );
        assert_eq!(classify_source_line("\tm[k]++", &names), Some(MapOp::Write));
        assert_eq!(classify_source_line("\tbuf[i] = 1", &names), None);
        assert_eq!(classify_source_line("\tx := m[k]", &names), None);
    }
}
