//! `diff --base OLD NEW`: per-function change between two profiles.
//!
//! The figures are pprof's `-diff_base` ones (the base negated and merged,
//! percentages relative to the base total), with the base and new values
//! of each function alongside, so regressions and improvements can be
//! ranked without a second run.

use crate::error::Result;
use crate::hash::FxHashMap;
use crate::merge::{self, BaseOptions};
use crate::model::Profile;
use crate::report::{Header, Query, QueryOptions, TopReport, ValueFormat};

/// One function's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRow {
    /// Node name.
    pub name: String,
    /// Flat value in the base.
    pub base_flat: i64,
    /// Cum value in the base.
    pub base_cum: i64,
    /// Flat value in the new profile.
    pub new_flat: i64,
    /// Cum value in the new profile.
    pub new_cum: i64,
    /// `new_flat - base_flat` (pprof's `-diff_base` flat).
    pub flat: i64,
    /// `new_cum - base_cum` (pprof's `-diff_base` cum).
    pub cum: i64,
}

/// The diff report.
#[derive(Debug, Clone)]
pub struct DiffReport {
    /// Header of the comparison.
    pub header: Header,
    /// Unit handling.
    pub format: ValueFormat,
    /// Σ|value| of the base (pprof's `-diff_base` total).
    pub base_total: i64,
    /// Σ|value| of the new profile.
    pub new_total: i64,
    /// Whether the new profile was normalised to the base.
    pub normalized: bool,
    /// pprof's `-diff_base -top`, exactly.
    pub top: TopReport,
    /// Functions whose flat grew, largest growth first.
    pub regressions: Vec<DiffRow>,
    /// Functions whose flat shrank, largest drop first.
    pub improvements: Vec<DiffRow>,
}

/// Compares `new` against `base` with the query options `o`.
pub fn diff(new: Profile, base: Profile, o: &QueryOptions, normalize: bool) -> Result<DiffReport> {
    let mut per: FxHashMap<String, DiffRow> = FxHashMap::default();
    let mut side = |p: &Profile, is_base: bool| -> Result<i64> {
        let mut opts = o.clone();
        opts.node_fraction = Some(0.0);
        opts.node_count = Some(0);
        let mut pp = p.clone();
        crate::filter::remove_uninteresting(&mut pp)?;
        let mut q = Query::new(pp, opts)?;
        let t = q.top();
        for r in t.rows {
            let e = per.entry(r.name.clone()).or_insert_with(|| DiffRow {
                name: r.name.clone(),
                base_flat: 0,
                base_cum: 0,
                new_flat: 0,
                new_cum: 0,
                flat: 0,
                cum: 0,
            });
            if is_base {
                e.base_flat = r.flat;
                e.base_cum = r.cum;
            } else {
                e.new_flat = r.flat;
                e.new_cum = r.cum;
            }
        }
        Ok(t.summary.total)
    };
    let mut new_n = new.clone();
    if normalize {
        merge::normalize(&mut new_n, &base)?;
    }
    let base_total = side(&base, true)?;
    let new_total = side(&new_n, false)?;
    let combined = merge::subtract_base(
        new,
        base,
        BaseOptions {
            diff_base: true,
            normalize,
        },
    )?;
    let mut combined = combined;
    crate::filter::remove_uninteresting(&mut combined)?;
    let mut q = Query::new(combined, o.clone())?;
    let top = q.top();
    let mut rows: Vec<DiffRow> = per
        .into_values()
        .map(|mut r| {
            r.flat = r.new_flat - r.base_flat;
            r.cum = r.new_cum - r.base_cum;
            r
        })
        .collect();
    rows.sort_by(|a, b| {
        b.flat
            .cmp(&a.flat)
            .then_with(|| b.cum.cmp(&a.cum))
            .then_with(|| a.name.cmp(&b.name))
    });
    let regressions: Vec<DiffRow> = rows.iter().filter(|r| r.flat > 0).cloned().collect();
    let mut improvements: Vec<DiffRow> = rows.into_iter().filter(|r| r.flat < 0).collect();
    improvements.sort_by(|a, b| {
        a.flat
            .cmp(&b.flat)
            .then_with(|| a.cum.cmp(&b.cum))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(DiffReport {
        header: top.header.clone(),
        format: top.format.clone(),
        base_total,
        new_total,
        normalized: normalize,
        top,
        regressions,
        improvements,
    })
}
