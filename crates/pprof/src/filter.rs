//! Sample and frame filters with pprof's semantics
//! (`profile/filter.go`, `profile/prune.go`, `internal/driver/driver_focus.go`):
//! `-focus`, `-ignore`, `-hide`, `-show`, `-show_from`, `-tagfocus`,
//! `-tagignore`, and the profile's own `drop_frames`/`keep_frames`.
//!
//! Filters rewrite the profile in place, as pprof does: hidden frames are
//! removed from their locations, filtered samples disappear.

use regex::Regex;

use crate::error::{Error, Result};
use crate::hash::FxHashMap;
use crate::model::{Profile, SampleRef};
use crate::units;

/// Which filters matched something; pprof warns "X expression matched no
/// samples" for those that did not.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    /// `focus` matched.
    pub focus: bool,
    /// `ignore` matched.
    pub ignore: bool,
    /// `hide` matched.
    pub hide: bool,
    /// `show` matched.
    pub show: bool,
    /// `show_from` matched.
    pub show_from: bool,
    /// `tagfocus` matched.
    pub tagfocus: bool,
    /// `tagignore` matched.
    pub tagignore: bool,
}

/// The frame and tag filters of a query, as pprof's flags spell them.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub struct FilterOptions {
    /// Keep samples with a frame matching this (function name, file, or
    /// mapping file).
    pub focus: Option<String>,
    /// Drop samples with a frame matching this.
    pub ignore: Option<String>,
    /// Remove matching frames from stacks.
    pub hide: Option<String>,
    /// Keep only matching frames in stacks.
    pub show: Option<String>,
    /// Drop frames above (callers of) the outermost matching frame.
    pub show_from: Option<String>,
    /// Keep samples whose labels match (`key=regex,...`, `regex`, or a
    /// numeric range `32kb:1mb`).
    pub tagfocus: Option<String>,
    /// Drop samples whose labels match.
    pub tagignore: Option<String>,
}

impl FilterOptions {
    /// Whether any filter is set.
    pub fn is_empty(&self) -> bool {
        self.focus.is_none()
            && self.ignore.is_none()
            && self.hide.is_none()
            && self.show.is_none()
            && self.show_from.is_none()
            && self.tagfocus.is_none()
            && self.tagignore.is_none()
    }

    /// The active filters as pprof lists them in its legend
    /// (`focus=...`), in its order.
    pub fn legend(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (k, o) in [
            ("focus", &self.focus),
            ("ignore", &self.ignore),
            ("hide", &self.hide),
            ("show", &self.show),
            ("show_from", &self.show_from),
            ("tagfocus", &self.tagfocus),
            ("tagignore", &self.tagignore),
        ] {
            if let Some(x) = o
                && !x.is_empty()
            {
                v.push(format!("{k}={x}"));
            }
        }
        v
    }
}

fn compile(name: &str, v: &Option<String>) -> Result<Option<Regex>> {
    match v {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => Regex::new(s)
            .map(Some)
            .map_err(|e| Error::option(format!("parsing {name} regexp: {e}"))),
    }
}

/// Applies all filters in pprof's order (`applyFocus`).
pub fn apply(p: &mut Profile, o: &FilterOptions) -> Result<Matched> {
    let focus = compile("focus", &o.focus)?;
    let ignore = compile("ignore", &o.ignore)?;
    let hide = compile("hide", &o.hide)?;
    let show = compile("show", &o.show)?;
    let show_from = compile("show_from", &o.show_from)?;
    let units = num_label_units(p);
    let tagfocus = TagFilter::compile("tagfocus", o.tagfocus.as_deref(), &units, p)?;
    let tagignore = TagFilter::compile("tagignore", o.tagignore.as_deref(), &units, p)?;
    let mut m = Matched::default();
    (m.focus, m.ignore, m.hide, m.show) = filter_samples_by_name(
        p,
        focus.as_ref(),
        ignore.as_ref(),
        hide.as_ref(),
        show.as_ref(),
    );
    if let Some(rx) = &show_from {
        m.show_from = apply_show_from(p, rx);
    }
    (m.tagfocus, m.tagignore) = filter_samples_by_tag(p, tagfocus.as_ref(), tagignore.as_ref());
    Ok(m)
}

/// Per-function and per-mapping regex matches, computed once.
struct NameMatch {
    func: Vec<bool>,
    mapping: Vec<bool>,
}

impl NameMatch {
    fn new(p: &Profile, rx: &Regex) -> NameMatch {
        NameMatch {
            func: p
                .functions
                .iter()
                .map(|f| rx.is_match(p.str(f.display)) || rx.is_match(p.str(f.filename)))
                .collect(),
            mapping: p
                .mappings
                .iter()
                .map(|m| rx.is_match(p.str(m.file)))
                .collect(),
        }
    }

    fn location(&self, p: &Profile, l: usize) -> bool {
        let loc = &p.locations[l];
        loc.lines.iter().any(|ln| self.func[ln.function as usize])
            || loc.mapping.is_some_and(|m| self.mapping[m as usize])
    }
}

fn filter_samples_by_name(
    p: &mut Profile,
    focus: Option<&Regex>,
    ignore: Option<&Regex>,
    hide: Option<&Regex>,
    show: Option<&Regex>,
) -> (bool, bool, bool, bool) {
    let (mut fm, mut im, mut hm, mut hnm) = (false, false, false, false);
    if focus.is_none() && ignore.is_none() && hide.is_none() && show.is_none() {
        return (true, im, hm, hnm);
    }
    let focus = focus.map(|r| NameMatch::new(p, r));
    let ignore = ignore.map(|r| NameMatch::new(p, r));
    let hide = hide.map(|r| NameMatch::new(p, r));
    let show = show.map(|r| NameMatch::new(p, r));
    // 0: neither, 1: focused, 2: ignored
    let mut state = vec![0u8; p.locations.len()];
    let mut hidden = vec![false; p.locations.len()];
    let mut any_hidden = false;
    for l in 0..p.locations.len() {
        if ignore.as_ref().is_some_and(|m| m.location(p, l)) {
            im = true;
            state[l] = 2;
        } else if focus.as_ref().is_none_or(|m| m.location(p, l)) {
            fm = true;
            state[l] = 1;
        }
        if let Some(h) = &hide
            && h.location(p, l)
        {
            hm = true;
            let loc = &mut p.locations[l];
            if loc.mapping.is_some_and(|m| h.mapping[m as usize]) {
                loc.lines.clear();
            } else {
                loc.lines.retain(|ln| !h.func[ln.function as usize]);
            }
            if loc.lines.is_empty() {
                hidden[l] = true;
                any_hidden = true;
            }
        }
        if let Some(s) = &show {
            let loc = &mut p.locations[l];
            if !loc.mapping.is_some_and(|m| s.mapping[m as usize]) {
                loc.lines.retain(|ln| s.func[ln.function as usize]);
            }
            if loc.lines.is_empty() {
                hidden[l] = true;
                any_hidden = true;
            } else {
                hnm = true;
            }
        }
    }
    let mut buf: Vec<u32> = Vec::new();
    let mut out = crate::model::Samples::new(p.samples.n_values());
    for s in p.samples.iter() {
        let mut focused = false;
        let mut ignored = false;
        for &l in s.locs {
            match state[l as usize] {
                1 => focused = true,
                2 => {
                    ignored = true;
                    break;
                }
                _ => {}
            }
        }
        if ignored || !focused {
            continue;
        }
        if any_hidden {
            buf.clear();
            buf.extend(s.locs.iter().copied().filter(|&l| !hidden[l as usize]));
            if buf.is_empty() {
                continue;
            }
            out.push(&buf, s.values, s.labels);
        } else {
            out.push(s.locs, s.values, s.labels);
        }
    }
    p.samples = out;
    (fm, im, hm, hnm)
}

/// `-show_from`: cut each stack above the outermost frame matching.
fn apply_show_from(p: &mut Profile, rx: &Regex) -> bool {
    let nm = NameMatch::new(p, rx);
    let mut matched = false;
    let mut show = vec![false; p.locations.len()];
    for (loc, shown) in p.locations.iter_mut().zip(show.iter_mut()) {
        if loc.mapping.is_some_and(|m| nm.mapping[m as usize]) {
            *shown = true;
            matched = true;
            continue;
        }
        if let Some(i) = loc
            .lines
            .iter()
            .rposition(|ln| nm.func[ln.function as usize])
        {
            loc.lines.truncate(i + 1);
            *shown = true;
            matched = true;
        }
    }
    p.samples.retain_map(|_, s| {
        let i = s.locs.iter().rposition(|&l| show[l as usize])?;
        Some(0..i + 1)
    });
    matched
}

/// pprof's `NumLabelUnits`: the unit of each numeric label key.
pub fn num_label_units(p: &Profile) -> FxHashMap<String, String> {
    let mut units: FxHashMap<String, String> = FxHashMap::default();
    let mut keys: Vec<u32> = Vec::new();
    for s in p.samples.iter() {
        for l in s.labels.iter().filter(|l| !l.is_str()) {
            if !keys.contains(&l.key) {
                keys.push(l.key);
            }
            if l.unit != 0 {
                units
                    .entry(p.str(l.key).to_string())
                    .or_insert_with(|| p.str(l.unit).to_string());
            }
        }
    }
    for k in keys {
        let key = p.str(k);
        if units.get(key).is_none_or(|u| u.is_empty()) {
            let u = match key {
                "alignment" | "request" => "bytes",
                other => other,
            };
            units.insert(key.to_string(), u.to_string());
        }
    }
    units
}

/// A compiled `-tagfocus`/`-tagignore`.
enum TagFilter {
    /// `key=re1,re2`: any value of `key` matches any regex.
    KeyRegex(u32, Vec<Regex>),
    /// `re1,re2`: every regex matches some `key:value`.
    AnyRegex(Vec<Regex>),
    /// Numeric range on one key or on all keys.
    Range(Option<String>, NumRange),
    /// A key that no sample has: matches nothing.
    Never,
}

struct NumRange {
    lo: Option<f64>,
    hi: Option<f64>,
    unit: String,
    units: FxHashMap<String, String>,
}

impl NumRange {
    fn matches(&self, v: i64, key: &str) -> bool {
        let u = self.units.get(key).map(|s| s.as_str()).unwrap_or("");
        let (sv, su) = units::scale(v, u, &self.unit);
        su == self.unit && self.lo.is_none_or(|lo| sv >= lo) && self.hi.is_none_or(|hi| sv <= hi)
    }
}

/// pprof's `parseTagFilterRange`: `32kb`, `:64kb`, `4mb:`, `12kb:64mb`.
fn parse_range(filter: &str, units: &FxHashMap<String, String>) -> Option<NumRange> {
    let rx = Regex::new(r"([+-]?[[:digit:]]+)([[:alpha:]]+)?").expect("valid");
    let caps: Vec<regex::Captures<'_>> = rx.captures_iter(filter).take(2).collect();
    let first = caps.first()?;
    let v: i64 = first[1].parse().ok()?;
    let u1 = first.get(2).map(|m| m.as_str()).unwrap_or("");
    let (sv, unit) = units::scale(v, u1, u1);
    let whole = first.get(0).expect("match").as_str();
    let mk = |lo, hi| NumRange {
        lo,
        hi,
        unit: unit.clone(),
        units: units.clone(),
    };
    if caps.len() == 1 {
        return if filter == whole {
            Some(mk(Some(sv), Some(sv)))
        } else if filter == format!("{whole}:") {
            Some(mk(Some(sv), None))
        } else if filter == format!(":{whole}") {
            Some(mk(None, Some(sv)))
        } else {
            None
        };
    }
    let second = &caps[1];
    if filter != format!("{whole}:{}", second.get(0).expect("match").as_str()) {
        return None;
    }
    let v2: i64 = second[1].parse().ok()?;
    let u2 = second.get(2).map(|m| m.as_str()).unwrap_or("");
    let (sv2, unit2) = units::scale(v2, u2, &unit);
    if unit != unit2 {
        return None;
    }
    Some(mk(Some(sv), Some(sv2)))
}

impl TagFilter {
    fn compile(
        name: &str,
        value: Option<&str>,
        units: &FxHashMap<String, String>,
        p: &Profile,
    ) -> Result<Option<TagFilter>> {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let (key, value) = match value.split_once('=') {
            Some((k, v)) => (Some(k), v),
            None => (None, value),
        };
        if let Some(r) = parse_range(value, units) {
            return Ok(Some(TagFilter::Range(key.map(str::to_string), r)));
        }
        let mut rxs = Vec::new();
        for part in value.split(',') {
            rxs.push(
                Regex::new(part)
                    .map_err(|e| Error::option(format!("parsing {name} regexp: {e}")))?,
            );
        }
        Ok(Some(match key {
            None => TagFilter::AnyRegex(rxs),
            Some(k) => match p.strings.lookup(k) {
                Some(id) => TagFilter::KeyRegex(id, rxs),
                None => TagFilter::Never,
            },
        }))
    }

    fn matches(&self, p: &Profile, s: &SampleRef<'_>) -> bool {
        match self {
            TagFilter::Never => false,
            TagFilter::KeyRegex(key, rxs) => s
                .labels
                .iter()
                .filter(|l| l.is_str() && l.key == *key)
                .any(|l| rxs.iter().any(|r| r.is_match(p.str(l.str)))),
            TagFilter::AnyRegex(rxs) => rxs.iter().all(|r| {
                s.labels
                    .iter()
                    .filter(|l| l.is_str())
                    .any(|l| r.is_match(&format!("{}:{}", p.str(l.key), p.str(l.str))))
            }),
            TagFilter::Range(key, range) => s.labels.iter().filter(|l| !l.is_str()).any(|l| {
                let k = p.str(l.key);
                key.as_deref().is_none_or(|want| want == k) && range.matches(l.num, k)
            }),
        }
    }
}

fn filter_samples_by_tag(
    p: &mut Profile,
    focus: Option<&TagFilter>,
    ignore: Option<&TagFilter>,
) -> (bool, bool) {
    if focus.is_none() && ignore.is_none() {
        return (true, false);
    }
    let (mut fm, mut im) = (false, false);
    let keep: Vec<bool> = p
        .samples
        .iter()
        .map(|s| {
            let focused = focus.is_none_or(|f| f.matches(p, &s));
            let ignored = ignore.is_some_and(|f| f.matches(p, &s));
            fm |= focused;
            im |= ignored;
            focused && !ignored
        })
        .collect();
    p.samples
        .retain_map(|i, s| keep[i].then_some(0..s.locs.len()));
    (fm, im)
}

/// pprof's `simplifyFunc`: the name up to its first `(` that is not part
/// of `(anonymous namespace)` or `operator()`.
fn simplify_func(f: &str) -> &str {
    let name = f.strip_prefix('.').unwrap_or(f);
    let mut from = 0;
    while let Some(i) = find_bracket(&name[from..]) {
        let (start, len, reserved) = i;
        let start = from + start;
        if !reserved {
            return &name[..start];
        }
        from = start + len;
    }
    name
}

/// Next `(`, `(anonymous namespace)` or `operator()`: (index, length,
/// whether reserved).
fn find_bracket(s: &str) -> Option<(usize, usize, bool)> {
    let mut best: Option<(usize, usize, bool)> = None;
    for (pat, reserved) in [
        ("(anonymous namespace)", true),
        ("operator()", true),
        ("(", false),
    ] {
        if let Some(i) = s.find(pat) {
            // Leftmost; at equal start the alternation order of pprof's
            // regexp wins (reserved names first).
            if best.is_none_or(|b| i < b.0) {
                best = Some((i, pat.len(), reserved));
            }
        }
    }
    best
}

/// Applies the profile's `drop_frames`/`keep_frames` (pprof's
/// `RemoveUninteresting`, done right after loading).
pub fn remove_uninteresting(p: &mut Profile) -> Result<()> {
    if p.drop_frames == 0 {
        return Ok(());
    }
    let drop = Regex::new(&format!("^({})$", p.str(p.drop_frames))).map_err(|e| {
        Error::option(format!(
            "failed to compile regexp {}: {e}",
            p.str(p.drop_frames)
        ))
    })?;
    let keep = if p.keep_frames != 0 {
        Some(
            Regex::new(&format!("^({})$", p.str(p.keep_frames))).map_err(|e| {
                Error::option(format!(
                    "failed to compile regexp {}: {e}",
                    p.str(p.keep_frames)
                ))
            })?,
        )
    } else {
        None
    };
    let prune_fn: Vec<bool> = p
        .functions
        .iter()
        .map(|f| {
            let name = simplify_func(p.str(f.display));
            drop.is_match(name) && keep.as_ref().is_none_or(|k| !k.is_match(name))
        })
        .collect();
    let mut prune = vec![false; p.locations.len()];
    let mut beneath = vec![false; p.locations.len()];
    let mut any = false;
    for (l, loc) in p.locations.iter_mut().enumerate() {
        let hit = loc.lines.iter().rposition(|ln| {
            p.functions[ln.function as usize].display != 0 && prune_fn[ln.function as usize]
        });
        if let Some(i) = hit {
            any = true;
            beneath[l] = true;
            if i == loc.lines.len() - 1 {
                prune[l] = true;
            } else {
                loc.lines.drain(..=i);
            }
        }
    }
    if !any {
        return Ok(());
    }
    p.samples.retain_map(|_, s| {
        let mut found_user = false;
        for i in (0..s.locs.len()).rev() {
            let l = s.locs[i] as usize;
            if !prune[l] && !beneath[l] {
                found_user = true;
                continue;
            }
            if !found_user {
                continue;
            }
            if prune[l] {
                return Some(i + 1..s.locs.len());
            }
            return Some(i..s.locs.len());
        }
        Some(0..s.locs.len())
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplify_like_pprof() {
        assert_eq!(simplify_func("main.(*T).M"), "main.");
        assert_eq!(simplify_func("runtime.mallocgc"), "runtime.mallocgc");
        assert_eq!(
            simplify_func("(anonymous namespace)::f(int)"),
            "(anonymous namespace)::f"
        );
        assert_eq!(simplify_func("A::operator()(int)"), "A::operator()");
        assert_eq!(simplify_func(".foo"), "foo");
    }

    #[test]
    fn ranges() {
        let mut u = FxHashMap::default();
        u.insert("bytes".to_string(), "bytes".to_string());
        let r = parse_range("32kb:1mb", &u).unwrap();
        assert!(r.matches(64 * 1024, "bytes"));
        assert!(!r.matches(16 * 1024, "bytes"));
        assert!(parse_range("foo", &u).is_none());
        assert!(parse_range("a1", &u).is_none());
    }
}
