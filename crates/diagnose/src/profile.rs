//! Findings from pprof profiles: hot map operations with the user caller
//! named, map growth allocation, and leak-like growth against a base
//! profile; plus a small summary (the top entries) for the `profile`
//! section of `gosleuth analyze`.
//!
//! Pure: profiles come decoded (`gosleuth-pprof`), source lines through the
//! [`SourceLines`] the caller provides.

use gosleuth_model::{Finding, Severity};
use gosleuth_pprof::maps::{self, MapLens, MapOp, SourceLines};
use gosleuth_pprof::units;
use gosleuth_pprof::{Profile, Query, QueryOptions};

/// A profile given to the diagnosis.
pub struct ProfileEvidence<'a> {
    /// Input name, for evidence references.
    pub name: &'a str,
    /// The profile (already combined with `drop_frames` applied).
    pub profile: &'a Profile,
    /// A base profile of the same kind (`--base`), for growth checks.
    pub base: Option<&'a Profile>,
    /// Source text, for the heap map lens.
    pub source: &'a dyn SourceLines,
}

/// One row of the summary's top list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopEntry {
    /// Function.
    pub function: String,
    /// Flat value.
    pub flat: i64,
    /// Cumulative value.
    pub cum: i64,
}

/// What a profile is, in a few numbers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProfileSummary {
    /// Input name.
    pub input: String,
    /// Value column shown (pprof's default).
    pub sample_type: String,
    /// Its unit.
    pub unit: String,
    /// Σ|value|.
    pub total: i64,
    /// Profile duration, ns (0 if unknown).
    pub duration_nanos: i64,
    /// Top functions by flat value.
    pub top: Vec<TopEntry>,
    /// Value in map code (map lens), when there is any.
    pub map_total: i64,
}

/// The summary of a profile: default value column, total, top `n`.
pub fn profile_summary(e: &ProfileEvidence<'_>, n: usize) -> Option<ProfileSummary> {
    let mut o = QueryOptions::new();
    o.node_count = Some(n);
    let mut q = Query::new(e.profile.clone(), o).ok()?;
    let top = q.top();
    let lens = maps::lens(&q.profile, q.index, e.source);
    Some(ProfileSummary {
        input: e.name.to_string(),
        sample_type: top.header.sample_type.clone(),
        unit: top.format.sample_unit.clone(),
        total: top.summary.total,
        duration_nanos: e.profile.duration_nanos,
        top: top
            .rows
            .iter()
            .map(|r| TopEntry {
                function: r.name.clone(),
                flat: r.flat,
                cum: r.cum,
            })
            .collect(),
        map_total: lens.map_total,
    })
}

fn pct(v: i64, t: i64) -> String {
    units::percentage(v, t).trim().to_string()
}

/// All profile findings.
pub fn profile_findings(e: &ProfileEvidence<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let p = e.profile;
    if p.sample_types.is_empty() {
        return out;
    }
    if maps::is_heap(p) {
        if let Some(f) = map_growth_allocation(e) {
            out.push(f);
        }
        if let Some(f) = e.base.and_then(|base| leak_like_growth(e, base)) {
            out.push(f);
        }
    } else if let Some(f) = hot_map_operations(e) {
        out.push(f);
    }
    out
}

/// What to do about map time, by operation.
fn advice(op: MapOp) -> &'static str {
    match op {
        MapOp::Read => {
            "lookups dominate: hashing the key is most of the cost, so prefer small keys (ints, \
             structs of ints) over long strings, look a key up once instead of repeatedly, and \
             consider a slice indexed by a dense id when keys are small integers"
        }
        MapOp::Write => {
            "assignments dominate: reuse values instead of re-inserting, batch updates, and \
             pre-size maps with make(map[K]V, n) when the final size is known"
        }
        MapOp::Grow => {
            "growth dominates: the map is rehashed as it fills; pre-size it with \
             make(map[K]V, n), or reuse it with clear(m) instead of building a new one each time"
        }
        MapOp::Iterate => {
            "iteration dominates: ranging over a big map touches every slot; keep a slice of \
             the entries you iterate, or iterate less often"
        }
        MapOp::Delete => {
            "deletes dominate: many deletes leave tombstones; rebuild or clear(m) the map \
             instead of deleting entries one by one"
        }
        MapOp::Make => "map creation dominates: allocate maps once and reuse them with clear(m)",
        MapOp::Clear => "clearing dominates: clear smaller maps, or clear less often",
    }
}

fn top_callers(lens: &MapLens, n: usize, fv: &dyn Fn(i64) -> String) -> String {
    lens.callers
        .iter()
        .take(n)
        .map(|c| {
            format!(
                "{} {} via {} ({}, {} of map time)",
                c.caller,
                c.op.as_str(),
                c.via,
                fv(c.value),
                pct(c.value, lens.map_total)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn hot_map_operations(e: &ProfileEvidence<'_>) -> Option<Finding> {
    let p = e.profile;
    let index = p.default_sample_index();
    let lens = maps::lens(p, index, e.source);
    if lens.total <= 0 || lens.map_total * 10 < lens.total || lens.callers.is_empty() {
        return None;
    }
    let unit = lens.unit.to_lowercase();
    let fv = |v: i64| units::label(v, &unit);
    let share = pct(lens.map_total, lens.total);
    let top = &lens.callers[0];
    let (op, _) = lens.by_op[0];
    let severity = if lens.map_total * 4 >= lens.total {
        Severity::Warning
    } else {
        Severity::Info
    };
    let observation = format!(
        "{share} of {} ({} of {}) is spent in Go map code ({} maps). {} of that comes from {} \
         via {} ({}). Callers: {}. By operation: {}.",
        lens.sample_type,
        fv(lens.map_total),
        fv(lens.total),
        lens.era.as_str(),
        pct(top.value, lens.map_total),
        top.caller,
        top.via,
        top.op.as_str(),
        top_callers(&lens, 5, &fv),
        lens.by_op
            .iter()
            .map(|(o, v)| format!("{} {}", o.as_str(), pct(*v, lens.map_total)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let meaning = format!(
        "Map operations are a hot spot, and {} is where to start: {}. Check with \
         `gosleuth profile peek '{}'` which lines call into the map, and compare a profile \
         after the change with `gosleuth profile maps --base`.",
        top.caller,
        advice(op),
        regex_escape(&top.caller)
    );
    Some(
        Finding::new(
            "profile-hot-map-operations",
            severity,
            format!(
                "{share} of {} in map operations, mostly {}",
                lens.sample_type, top.caller
            ),
            observation,
            meaning,
        )
        .with_evidence(e.name.to_string())
        .with_evidence(top.caller.clone()),
    )
}

fn regex_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

fn heap_index(p: &Profile, prefer: &str) -> usize {
    p.sample_index(prefer)
        .unwrap_or_else(|_| p.default_sample_index())
}

fn map_growth_allocation(e: &ProfileEvidence<'_>) -> Option<Finding> {
    let p = e.profile;
    let index = heap_index(p, "alloc_space");
    let lens = maps::lens(p, index, e.source);
    if lens.total <= 0 || lens.map_total * 10 < lens.total || lens.callers.is_empty() {
        return None;
    }
    let fv = |v: i64| units::label(v, "bytes");
    let top = &lens.callers[0];
    let observation = format!(
        "{} of {} ({} of {}{}) is allocated on lines that create or fill maps. Top: {} at {} \
         ({}, {}). Callers: {}.",
        pct(lens.map_total, lens.total),
        lens.sample_type,
        fv(lens.map_total),
        fv(lens.total),
        if lens.map_total2 > 0 {
            format!(", {} objects", lens.map_total2)
        } else {
            String::new()
        },
        top.caller,
        top.via,
        top.op.as_str(),
        fv(top.value),
        top_callers(&lens, 5, &fv)
    );
    let meaning = format!(
        "Maps allocate when they are made and each time they grow (the runtime doubles the \
         table and rehashes). If the map in {} only ever grows, it is a likely leak: bound it \
         (evict old entries, use an LRU) or clear it; if its size is known, pre-size it with \
         make(map[K]V, n). heap profiles hide the runtime frames, so these figures come from \
         the source lines ({}); allocations of the stored values on the same line are included.",
        top.caller, top.via
    );
    Some(
        Finding::new(
            "profile-map-growth-allocation",
            if lens.map_total * 2 >= lens.total {
                Severity::Warning
            } else {
                Severity::Info
            },
            format!(
                "{} of allocation from maps in {}",
                pct(lens.map_total, lens.total),
                top.caller
            ),
            observation,
            meaning,
        )
        .with_evidence(e.name.to_string())
        .with_evidence(format!("{} {}", top.caller, top.via)),
    )
}

fn leak_like_growth(e: &ProfileEvidence<'_>, base: &Profile) -> Option<Finding> {
    let p = e.profile;
    let ni = p.sample_index("inuse_space").ok()?;
    let bi = base.sample_index("inuse_space").ok()?;
    let now: i64 = p.total(ni);
    let before: i64 = base.total(bi);
    let grew = now - before;
    // Leak-like: in-use memory at least 1 MiB and 50% more than the base.
    if grew < (1 << 20) || grew * 2 < before {
        return None;
    }
    let mut o = QueryOptions::new();
    o.sample_index = "inuse_space".into();
    let diff = gosleuth_pprof::diff::diff(p.clone(), base.clone(), &o, false).ok()?;
    let growers: Vec<String> = diff
        .regressions
        .iter()
        .take(5)
        .map(|r| {
            format!(
                "{} +{} ({} → {})",
                r.name,
                units::label(r.flat, "bytes"),
                units::label(r.base_flat, "bytes"),
                units::label(r.new_flat, "bytes")
            )
        })
        .collect();
    let lens_new = maps::lens(p, ni, e.source);
    let lens_base = maps::lens(base, bi, e.source);
    let map_growth = maps::compare(&lens_base, &lens_new);
    let map_line = map_growth
        .iter()
        .find(|g| g.new > g.base)
        .map(|g| {
            format!(
                " Map code in {} ({}) went from {} to {}.",
                g.caller,
                g.op.as_str(),
                units::label(g.base, "bytes"),
                units::label(g.new, "bytes")
            )
        })
        .unwrap_or_default();
    let first = diff.regressions.first()?;
    Some(
        Finding::new(
            "profile-leak-like-growth",
            if grew >= before {
                Severity::Critical
            } else {
                Severity::Warning
            },
            format!(
                "in-use memory grew {} since the base, mostly in {}",
                units::label(grew, "bytes"),
                first.name
            ),
            format!(
                "inuse_space {} in the base, {} now (+{}, {}). Largest growth by function: {}.{}",
                units::label(before, "bytes"),
                units::label(now, "bytes"),
                units::label(grew, "bytes"),
                if before > 0 {
                    format!("+{}", pct(grew, before))
                } else {
                    "new".into()
                },
                growers.join("; "),
                map_line
            ),
            format!(
                "Memory held by {} keeps growing between the two profiles, the signature of a \
                 leak (a cache or map without eviction, goroutines holding references, \
                 slices that only grow). Check what {} stores and what removes it; \
                 `gosleuth profile diff --base BASE NEW --sample-index inuse_space` ranks the \
                 rest, and `gosleuth profile maps --base` shows map growth by caller.",
                first.name, first.name
            ),
        )
        .with_evidence(e.name.to_string())
        .with_evidence(first.name.clone()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use gosleuth_pprof::maps::NoSource;

    #[test]
    fn no_findings_on_a_profile_without_maps() {
        let p = Profile::decode(b"threadcreate profile: total 1\n1 @ 0x10\n").unwrap();
        let e = ProfileEvidence {
            name: "t",
            profile: &p,
            base: None,
            source: &NoSource,
        };
        assert!(profile_findings(&e).is_empty());
        let s = profile_summary(&e, 5).unwrap();
        assert_eq!(s.total, 1);
        assert_eq!(s.sample_type, "threadcreate");
    }

    fn fixture(rel: &str) -> Option<Profile> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata")
            .join(rel);
        let data = std::fs::read(path).ok()?;
        Profile::decode(&data).ok()
    }

    #[test]
    fn hot_map_finding_names_the_user_caller() {
        for v in ["go1.26", "go1.23"] {
            let Some(p) = fixture(&format!("{v}/prof_maps/cpu.pb.gz")) else {
                continue;
            };
            let e = ProfileEvidence {
                name: "cpu.pb.gz",
                profile: &p,
                base: None,
                source: &NoSource,
            };
            let f = profile_findings(&e);
            let hot = f
                .iter()
                .find(|f| f.id == "profile-hot-map-operations")
                .expect("finding");
            assert!(
                hot.title.contains("main.recordHit") || hot.title.contains("main.lookupUser"),
                "{}",
                hot.title
            );
            assert!(
                hot.observation.contains("via runtime.map"),
                "{}",
                hot.observation
            );
        }
    }

    #[test]
    fn leak_like_growth_against_the_fixed_program() {
        for v in ["go1.26", "go1.23"] {
            let (Some(before), Some(after)) = (
                fixture(&format!("{v}/prof_mapleak_before/heap.pb.gz")),
                fixture(&format!("{v}/prof_mapleak_after/heap.pb.gz")),
            ) else {
                continue;
            };
            // The leaking program against the fixed one as base.
            let e = ProfileEvidence {
                name: "heap.pb.gz",
                profile: &before,
                base: Some(&after),
                source: &NoSource,
            };
            let f = profile_findings(&e);
            let leak = f
                .iter()
                .find(|f| f.id == "profile-leak-like-growth")
                .expect("leak finding");
            assert!(
                leak.observation.contains("SessionCache"),
                "{}",
                leak.observation
            );
            // And not the other way round.
            let e = ProfileEvidence {
                name: "heap.pb.gz",
                profile: &after,
                base: Some(&before),
                source: &NoSource,
            };
            assert!(
                profile_findings(&e)
                    .iter()
                    .all(|f| f.id != "profile-leak-like-growth")
            );
        }
    }
}
