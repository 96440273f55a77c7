//! Profile reports (`gosleuth profile ...`): pprof-compatible text tables,
//! Markdown, HTML, flame graphs (inferno) and the `gosleuth.profile.*/v1`
//! JSON schemas documented in docs/json-profile.md.
//!
//! Text output of `top`, `peek`, `tree` and `traces` is laid out exactly like
//! `go tool pprof`'s, so that the two can be compared line by line (the
//! oracle tests do).

use std::io::{self, Write};

use serde_json::{Value, json};

use gosleuth_pprof::diff::DiffReport;
use gosleuth_pprof::maps::{MapGrowth, MapLens, SourceLines};
use gosleuth_pprof::units::{self, percentage};
use gosleuth_pprof::{
    Header, ListReport, Summary, TopReport, TracesReport, TreeReport, ValueFormat,
};

use crate::Format;

/// JSON schema names, one per subcommand.
pub mod schema {
    /// `profile top`.
    pub const TOP: &str = "gosleuth.profile.top/v1";
    /// `profile peek`.
    pub const PEEK: &str = "gosleuth.profile.peek/v1";
    /// `profile tree`.
    pub const TREE: &str = "gosleuth.profile.tree/v1";
    /// `profile traces`.
    pub const TRACES: &str = "gosleuth.profile.traces/v1";
    /// `profile list`.
    pub const LIST: &str = "gosleuth.profile.list/v1";
    /// `profile flame`.
    pub const FLAME: &str = "gosleuth.profile.flame/v1";
    /// `profile diff`.
    pub const DIFF: &str = "gosleuth.profile.diff/v1";
    /// `profile export`.
    pub const EXPORT: &str = "gosleuth.profile.export/v1";
    /// `profile maps`.
    pub const MAPS: &str = "gosleuth.profile.maps/v1";
}

fn write_json(v: &Value, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v).map_err(io::Error::other)?;
    writeln!(out)
}

/// Wraps text output into a minimal standalone HTML page.
fn html_page(title: &str, text: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\
<style>body{{font-family:sans-serif}}pre{{font-family:monospace;font-size:13px}}</style>\
</head><body><h1>{}</h1><pre>{}</pre></body></html>",
        crate::html::escape(title),
        crate::html::escape(title),
        crate::html::escape(text)
    )
}

fn text_or_html(
    format: Format,
    title: &str,
    out: &mut dyn Write,
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if format == Format::Html {
        let mut buf = Vec::new();
        f(&mut buf)?;
        html_page(title, &String::from_utf8_lossy(&buf), out)
    } else {
        f(out)
    }
}

/// Go's `time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05 MST")`.
fn format_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// pprof's `ProfileLabels`.
fn profile_labels(h: &Header, f: &ValueFormat, total: i64) -> Vec<String> {
    let mut l = Vec::new();
    if let Some(file) = &h.file {
        l.push(format!("File: {file}"));
    }
    if let Some(b) = &h.build_id {
        l.push(format!("Build ID: {b}"));
    }
    l.extend(h.comments.iter().cloned());
    if !h.sample_type.is_empty() {
        l.push(format!("Type: {}", h.sample_type));
    }
    if let Some(u) = &h.doc_url {
        l.push(format!("Doc: {u}"));
    }
    if h.time_nanos != 0 {
        l.push(format!("Time: {}", format_time(h.time_nanos)));
    }
    if h.duration_nanos != 0 {
        let duration = units::label(h.duration_nanos, "nanoseconds");
        let (total_ns, unit) = units::scale(total, &f.sample_unit, "nanoseconds");
        let ratio = if unit == "ns" && total_ns != 0.0 {
            format!("({})", percentage(total_ns as i64, h.duration_nanos))
        } else {
            String::new()
        };
        l.push(format!(
            "Duration: {duration}, Total samples = {} {ratio}",
            f.format(total)
        ));
    }
    l
}

/// pprof's `reportLabels` (non-compact, no full headers).
fn report_labels(h: &Header, f: &ValueFormat, s: &Summary) -> Vec<String> {
    let mut l = profile_labels(h, f, s.total);
    if !h.filters.is_empty() {
        l.push("Active filters:".into());
        for x in &h.filters {
            let x = if x.chars().count() > 80 {
                format!("{}…", x.chars().take(80).collect::<String>())
            } else {
                x.clone()
            };
            l.push(format!("   {x}"));
        }
    }
    l.push(format!(
        "Showing nodes accounting for {}, {} of {} total",
        f.format(s.shown),
        percentage(s.shown, s.total).trim(),
        f.format(s.total)
    ));
    if s.total != 0 {
        if s.dropped_nodes > 0 {
            let n = if s.dropped_nodes > 1 { "nodes" } else { "node" };
            l.push(format!(
                "Dropped {} {n} (cum <= {})",
                s.dropped_nodes,
                f.format(s.node_cutoff)
            ));
        }
        if s.node_count > 0 && s.node_count < s.orig_count {
            l.push(format!(
                "Showing top {} nodes out of {}",
                s.node_count, s.orig_count
            ));
        }
    }
    l
}

fn header_json(h: &Header) -> Value {
    json!({
        "file": h.file,
        "build_id": h.build_id,
        "comments": h.comments,
        "doc_url": h.doc_url,
        "time_nanos": if h.time_nanos != 0 { Some(h.time_nanos) } else { None },
        "duration_nanos": if h.duration_nanos != 0 { Some(h.duration_nanos) } else { None },
        "filters": h.filters,
    })
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('*', "\\*")
        .replace('_', "\\_")
}

/// `profile top`.
pub fn write_top(r: &TopReport, format: Format, out: &mut dyn Write) -> io::Result<()> {
    let f = &r.format;
    let total = r.summary.total;
    match format {
        Format::Json => {
            let rows: Vec<Value> = r
                .rows
                .iter()
                .map(|row| {
                    let mut v = json!({"function": row.name, "flat": row.flat, "cum": row.cum});
                    if let Some(i) = row.inline {
                        v["inline"] = json!(i.trim_matches(|c| c == '(' || c == ')'));
                    }
                    v
                })
                .collect();
            write_json(
                &json!({
                    "schema": schema::TOP,
                    "sample_type": r.header.sample_type,
                    "unit": f.sample_unit,
                    "total": total,
                    "shown": r.summary.shown,
                    "dropped_nodes": r.summary.dropped_nodes,
                    "header": header_json(&r.header),
                    "rows": rows,
                }),
                out,
            )
        }
        Format::Markdown => {
            for l in report_labels(&r.header, f, &r.summary) {
                writeln!(out, "{}  ", md_escape(&l))?;
            }
            writeln!(out)?;
            writeln!(out, "| flat | flat% | sum% | cum | cum% | function |")?;
            writeln!(out, "|---:|---:|---:|---:|---:|---|")?;
            let mut sum = 0i64;
            for row in &r.rows {
                sum += row.flat;
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | `{}`{} |",
                    f.format(row.flat),
                    percentage(row.flat, total).trim(),
                    percentage(sum, total).trim(),
                    f.format(row.cum),
                    percentage(row.cum, total).trim(),
                    row.name.replace('`', "'"),
                    row.inline.map(|i| format!(" {i}")).unwrap_or_default()
                )?;
            }
            Ok(())
        }
        Format::Text | Format::Html => text_or_html(format, "gosleuth profile top", out, |out| {
            for l in report_labels(&r.header, f, &r.summary) {
                writeln!(out, "{l}")?;
            }
            writeln!(
                out,
                "{:>10} {:>5}% {:>5}% {:>10} {:>5}%",
                "flat", "flat", "sum", "cum", "cum"
            )?;
            let mut sum = 0i64;
            for row in &r.rows {
                sum = sum.wrapping_add(row.flat);
                writeln!(
                    out,
                    "{:>10} {} {} {:>10} {}  {}{}",
                    f.format(row.flat),
                    percentage(row.flat, total),
                    percentage(sum, total),
                    f.format(row.cum),
                    percentage(row.cum, total),
                    row.name,
                    row.inline.map(|i| format!(" {i}")).unwrap_or_default()
                )?;
            }
            Ok(())
        }),
    }
}

/// `profile peek` and `profile tree` (`peek` selects the schema name).
pub fn write_tree(
    r: &TreeReport,
    peek: bool,
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    let f = &r.format;
    let total = r.summary.total;
    match format {
        Format::Json => {
            let edge = |e: &gosleuth_pprof::TreeEdge| json!({"function": e.name, "value": e.weight, "inline": e.inline});
            let entries: Vec<Value> = r
                .entries
                .iter()
                .map(|e| {
                    json!({
                        "function": e.name, "flat": e.flat, "cum": e.cum,
                        "callers": e.callers.iter().map(edge).collect::<Vec<_>>(),
                        "callees": e.callees.iter().map(edge).collect::<Vec<_>>(),
                    })
                })
                .collect();
            write_json(
                &json!({
                    "schema": if peek { schema::PEEK } else { schema::TREE },
                    "sample_type": r.header.sample_type,
                    "unit": f.sample_unit,
                    "total": total,
                    "header": header_json(&r.header),
                    "entries": entries,
                }),
                out,
            )
        }
        Format::Markdown => {
            for l in report_labels(&r.header, f, &r.summary) {
                writeln!(out, "{}  ", md_escape(&l))?;
            }
            for e in &r.entries {
                writeln!(out, "\n### `{}`\n", e.name.replace('`', "'"))?;
                writeln!(
                    out,
                    "flat {} ({}), cum {} ({})\n",
                    f.format(e.flat),
                    percentage(e.flat, total).trim(),
                    f.format(e.cum),
                    percentage(e.cum, total).trim()
                )?;
                writeln!(out, "| | value | share of cum | function |")?;
                writeln!(out, "|---|---:|---:|---|")?;
                for c in &e.callers {
                    writeln!(
                        out,
                        "| caller | {} | {} | `{}`{} |",
                        f.format(c.weight),
                        percentage(c.weight, e.cum).trim(),
                        c.name.replace('`', "'"),
                        if c.inline { " (inline)" } else { "" }
                    )?;
                }
                for c in &e.callees {
                    writeln!(
                        out,
                        "| callee | {} | {} | `{}`{} |",
                        f.format(c.weight),
                        percentage(c.weight, e.cum).trim(),
                        c.name.replace('`', "'"),
                        if c.inline { " (inline)" } else { "" }
                    )?;
                }
            }
            Ok(())
        }
        Format::Text | Format::Html => text_or_html(
            format,
            if peek {
                "gosleuth profile peek"
            } else {
                "gosleuth profile tree"
            },
            out,
            |out| {
                const SEP: &str =
                    "----------------------------------------------------------+-------------";
                for l in report_labels(&r.header, f, &r.summary) {
                    writeln!(out, "{l}")?;
                }
                writeln!(out, "{SEP}")?;
                writeln!(
                    out,
                    "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t "
                )?;
                let mut sum = 0i64;
                for e in &r.entries {
                    writeln!(out, "{SEP}")?;
                    for c in &e.callers {
                        writeln!(
                            out,
                            "{:>50} {} |   {}{}",
                            f.format(c.weight),
                            percentage(c.weight, e.cum),
                            c.name,
                            if c.inline { " (inline)" } else { "" }
                        )?;
                    }
                    sum = sum.wrapping_add(e.flat);
                    writeln!(
                        out,
                        "{:>10} {} {} {:>10} {}                | {}",
                        f.format(e.flat),
                        percentage(e.flat, total),
                        percentage(sum, total),
                        f.format(e.cum),
                        percentage(e.cum, total),
                        e.name
                    )?;
                    for c in &e.callees {
                        writeln!(
                            out,
                            "{:>50} {} |   {}{}",
                            f.format(c.weight),
                            percentage(c.weight, e.cum),
                            c.name,
                            if c.inline { " (inline)" } else { "" }
                        )?;
                    }
                }
                if !r.entries.is_empty() {
                    writeln!(out, "{SEP}")?;
                }
                Ok(())
            },
        ),
    }
}

/// `profile traces`.
pub fn write_traces(r: &TracesReport, format: Format, out: &mut dyn Write) -> io::Result<()> {
    let f = &r.format;
    match format {
        Format::Json => {
            let traces: Vec<Value> = r
                .traces
                .iter()
                .map(|t| {
                    json!({
                        "value": t.value,
                        "labels": t.labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
                        "num_labels": t.num_labels.iter().map(|(k, v)| (k.clone(), json!(v.iter().map(|x| json!({"value": x.0, "unit": x.1})).collect::<Vec<_>>()))).collect::<serde_json::Map<_, _>>(),
                        "frames": t.frames.iter().map(|(n, i)| json!({"function": n, "inline": i})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            write_json(
                &json!({
                    "schema": schema::TRACES,
                    "sample_type": r.header.sample_type,
                    "unit": f.sample_unit,
                    "header": header_json(&r.header),
                    "traces": traces,
                }),
                out,
            )
        }
        Format::Markdown => {
            for t in &r.traces {
                writeln!(out, "**{}**", f.format(t.value))?;
                for (k, v) in &t.labels {
                    writeln!(out, "- {}: {}", md_escape(k), md_escape(&v.join(" ")))?;
                }
                writeln!(out, "\n```")?;
                for (n, i) in &t.frames {
                    writeln!(out, "{n}{}", if *i { " (inline)" } else { "" })?;
                }
                writeln!(out, "```\n")?;
            }
            Ok(())
        }
        Format::Text | Format::Html => {
            text_or_html(format, "gosleuth profile traces", out, |out| {
                const SEP: &str =
                    "-----------+-------------------------------------------------------";
                for l in profile_labels(&r.header, f, 0)
                    .into_iter()
                    .filter(|l| !l.starts_with("Duration:"))
                {
                    writeln!(out, "{l}")?;
                }
                for t in &r.traces {
                    writeln!(out, "{SEP}")?;
                    // pprof sorts the formatted lines (keys right-aligned).
                    let mut lines: Vec<String> = t
                        .labels
                        .iter()
                        .map(|(k, v)| format!("{k:>10}:  {}", v.join(" ")))
                        .collect();
                    lines.sort();
                    let mut nums: Vec<String> = t
                        .num_labels
                        .iter()
                        .map(|(k, v)| {
                            let vals: Vec<String> =
                                v.iter().map(|(n, u)| units::label(*n, u)).collect();
                            format!("{k:>10}:  {}", vals.join(" "))
                        })
                        .collect();
                    nums.sort();
                    for l in lines.iter().chain(&nums) {
                        writeln!(out, "{l}")?;
                    }
                    for (i, (n, inl)) in t.frames.iter().enumerate() {
                        let vs = if i == 0 {
                            f.format(t.value)
                        } else {
                            String::new()
                        };
                        writeln!(out, "{vs:>10}   {n}{}", if *inl { " (inline)" } else { "" })?;
                    }
                }
                writeln!(out, "{SEP}")
            })
        }
    }
}

/// `profile list`: per-line figures, on the source text when `src` has it.
pub fn write_list(
    r: &ListReport,
    src: &dyn SourceLines,
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    let f = &r.format;
    let dot = |v: i64| if v == 0 { ".".to_string() } else { f.format(v) };
    match format {
        Format::Json => {
            let fns: Vec<Value> = r
                .functions
                .iter()
                .map(|lf| {
                    json!({
                        "function": lf.name, "file": lf.file, "flat": lf.flat, "cum": lf.cum,
                        "lines": lf.lines.iter().map(|(l, fl, c)| json!({"line": l, "flat": fl, "cum": c, "source": src.line(&lf.file, *l)})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            write_json(
                &json!({"schema": schema::LIST, "unit": f.sample_unit, "total": r.total, "functions": fns, "no_source": r.no_source}),
                out,
            )
        }
        _ => text_or_html(format, "gosleuth profile list", out, |out| {
            let md = format == Format::Markdown;
            writeln!(out, "Total: {}", f.format(r.total))?;
            for lf in &r.functions {
                if md {
                    writeln!(out, "\n```")?;
                }
                writeln!(
                    out,
                    "ROUTINE ======================== {} in {}",
                    lf.name, lf.file
                )?;
                writeln!(
                    out,
                    "{:>10} {:>10} (flat, cum) {} of Total",
                    f.format(lf.flat),
                    f.format(lf.cum),
                    percentage(lf.cum, r.total)
                )?;
                let has_source = src
                    .line(&lf.file, lf.lines.first().map(|l| l.0).unwrap_or(1))
                    .is_some();
                if has_source {
                    for line in lf.start..=lf.end {
                        let Some(text) = src.line(&lf.file, line) else {
                            break;
                        };
                        let (fl, c) = lf
                            .lines
                            .iter()
                            .find(|x| x.0 == line)
                            .map(|x| (x.1, x.2))
                            .unwrap_or((0, 0));
                        writeln!(out, "{:>10} {:>10} {line:>6}:{text}", dot(fl), dot(c))?;
                    }
                } else {
                    for (line, fl, c) in &lf.lines {
                        writeln!(
                            out,
                            "{:>10} {:>10} {line:>6}:(source not found)",
                            dot(*fl),
                            dot(*c)
                        )?;
                    }
                }
                if md {
                    writeln!(out, "```")?;
                }
            }
            for n in &r.no_source {
                writeln!(out, "No source information for {n}")?;
            }
            Ok(())
        }),
    }
}

/// Folded stacks, one `frame;frame;leaf value` line each.
pub fn write_folded(stacks: &[(String, i64)], out: &mut dyn Write) -> io::Result<()> {
    for (s, v) in stacks {
        writeln!(out, "{s} {v}")?;
    }
    Ok(())
}

/// Options of a flame graph.
#[derive(Debug, Clone)]
pub struct FlameOptions {
    /// Title above the graph.
    pub title: String,
    /// What the values count (`nanoseconds`, `bytes`), shown on hover.
    pub count_name: String,
}

fn inferno_options(o: &FlameOptions) -> inferno::flamegraph::Options<'static> {
    let mut opt = inferno::flamegraph::Options::default();
    opt.title = o.title.clone();
    opt.count_name = o.count_name.clone();
    opt.hash = true;
    opt.deterministic = true;
    opt
}

/// A flame graph SVG of folded stacks (negative values, as in `-base`
/// diffs, are clipped to 0: use [`write_diff_flame_svg`] for comparisons).
pub fn write_flame_svg(
    stacks: &[(String, i64)],
    o: &FlameOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let lines: Vec<String> = stacks
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(s, v)| format!("{s} {v}"))
        .collect();
    let mut opt = inferno_options(o);
    if lines.is_empty() {
        opt.title = format!("{} (no samples)", o.title);
        return inferno::flamegraph::from_lines(&mut opt, ["(no samples) 1"].iter().copied(), out)
            .map_err(io::Error::other);
    }
    inferno::flamegraph::from_lines(&mut opt, lines.iter().map(|s| s.as_str()), out)
        .map_err(io::Error::other)
}

/// A differential flame graph: widths from `new`, colours by the change
/// from `base` (red grew, blue shrank), like inferno-diff-folded.
pub fn write_diff_flame_svg(
    base: &[(String, i64)],
    new: &[(String, i64)],
    normalize: bool,
    o: &FlameOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut b = Vec::new();
    write_folded(
        &base.iter().filter(|x| x.1 > 0).cloned().collect::<Vec<_>>(),
        &mut b,
    )?;
    let mut n = Vec::new();
    write_folded(
        &new.iter().filter(|x| x.1 > 0).cloned().collect::<Vec<_>>(),
        &mut n,
    )?;
    let mut diffed = Vec::new();
    let dopt = inferno::differential::Options {
        normalize,
        ..Default::default()
    };
    inferno::differential::from_readers(dopt, &b[..], &n[..], &mut diffed)?;
    let text = String::from_utf8_lossy(&diffed);
    let lines: Vec<&str> = text.lines().collect();
    let mut opt = inferno_options(o);
    opt.negate_differentials = false;
    if lines.is_empty() {
        return inferno::flamegraph::from_lines(&mut opt, ["(no samples) 1"].iter().copied(), out)
            .map_err(io::Error::other);
    }
    inferno::flamegraph::from_lines(&mut opt, lines.iter().copied(), out).map_err(io::Error::other)
}

/// `profile flame --format json`: the folded stacks as data.
pub fn write_flame_json(
    sample_type: &str,
    unit: &str,
    stacks: &[(String, i64)],
    base: Option<&[(String, i64)]>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let conv = |s: &[(String, i64)]| -> Vec<Value> {
        s.iter()
            .map(|(st, v)| json!({"frames": st.split(';').collect::<Vec<_>>(), "value": v}))
            .collect()
    };
    write_json(
        &json!({
            "schema": schema::FLAME,
            "sample_type": sample_type,
            "unit": unit,
            "stacks": conv(stacks),
            "base_stacks": base.map(conv),
        }),
        out,
    )
}

/// `profile diff`.
pub fn write_diff(
    r: &DiffReport,
    limit: usize,
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    let f = &r.format;
    let row_json = |d: &gosleuth_pprof::diff::DiffRow| {
        json!({"function": d.name, "flat": d.flat, "cum": d.cum,
               "base_flat": d.base_flat, "base_cum": d.base_cum,
               "new_flat": d.new_flat, "new_cum": d.new_cum})
    };
    match format {
        Format::Json => write_json(
            &json!({
                "schema": schema::DIFF,
                "sample_type": r.header.sample_type,
                "unit": f.sample_unit,
                "base_total": r.base_total,
                "new_total": r.new_total,
                "normalized": r.normalized,
                "total": r.top.summary.total,
                "rows": r.top.rows.iter().map(|x| json!({"function": x.name, "flat": x.flat, "cum": x.cum})).collect::<Vec<_>>(),
                "regressions": r.regressions.iter().take(limit).map(row_json).collect::<Vec<_>>(),
                "improvements": r.improvements.iter().take(limit).map(row_json).collect::<Vec<_>>(),
            }),
            out,
        ),
        Format::Markdown => {
            writeln!(
                out,
                "**{}**: base {} → new {} ({}{})\n",
                r.header.sample_type,
                f.format(r.base_total),
                f.format(r.new_total),
                signed(r.new_total - r.base_total, f),
                if r.normalized {
                    ", new normalised to the base"
                } else {
                    ""
                }
            )?;
            for (title, rows) in [
                ("Regressions", &r.regressions),
                ("Improvements", &r.improvements),
            ] {
                writeln!(out, "### {title}\n")?;
                writeln!(out, "| Δ flat | Δ cum | base flat | new flat | function |")?;
                writeln!(out, "|---:|---:|---:|---:|---|")?;
                for d in rows.iter().take(limit) {
                    writeln!(
                        out,
                        "| {} | {} | {} | {} | `{}` |",
                        signed(d.flat, f),
                        signed(d.cum, f),
                        f.format(d.base_flat),
                        f.format(d.new_flat),
                        d.name.replace('`', "'")
                    )?;
                }
                writeln!(out)?;
            }
            Ok(())
        }
        Format::Text | Format::Html => text_or_html(format, "gosleuth profile diff", out, |out| {
            writeln!(
                out,
                "Type: {}\nBase total {}, new total {} ({}){}",
                r.header.sample_type,
                f.format(r.base_total),
                f.format(r.new_total),
                signed(r.new_total - r.base_total, f),
                if r.normalized {
                    ", new profile normalised to the base"
                } else {
                    ""
                }
            )?;
            for (title, rows) in [
                ("Regressions (grew)", &r.regressions),
                ("Improvements (shrank)", &r.improvements),
            ] {
                writeln!(out, "\n{title}:")?;
                if rows.is_empty() {
                    writeln!(out, "  (none)")?;
                    continue;
                }
                writeln!(
                    out,
                    "{:>10} {:>7} {:>10} {:>10} {:>10}  function",
                    "Δ flat", "of base", "Δ cum", "base flat", "new flat"
                )?;
                for d in rows.iter().take(limit) {
                    writeln!(
                        out,
                        "{:>10} {:>7} {:>10} {:>10} {:>10}  {}",
                        signed(d.flat, f),
                        percentage(d.flat, r.base_total).trim(),
                        signed(d.cum, f),
                        f.format(d.base_flat),
                        f.format(d.new_flat),
                        d.name
                    )?;
                }
            }
            writeln!(
                out,
                "\nAs `go tool pprof -top -diff_base BASE NEW` shows it:"
            )?;
            write_top(&r.top, Format::Text, out)
        }),
    }
}

fn signed(v: i64, f: &ValueFormat) -> String {
    let s = f.format(v);
    if v > 0 { format!("+{s}") } else { s }
}

/// `profile export --format json` (the summary of what was written).
pub fn write_export(
    path: &str,
    bytes: usize,
    samples: usize,
    locations: usize,
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => write_json(
            &json!({"schema": schema::EXPORT, "output": path, "bytes": bytes, "samples": samples, "locations": locations}),
            out,
        ),
        _ => writeln!(
            out,
            "Wrote {path}: {bytes} bytes, {samples} samples, {locations} locations (gzipped profile.proto)"
        ),
    }
}

/// `profile maps`: the map lens, and with a base the callers that grew.
pub fn write_maps(
    lens: &MapLens,
    base: Option<(&MapLens, &[MapGrowth])>,
    limit: usize,
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    let unit = lens.unit.to_lowercase();
    let fv = |v: i64| units::label(v, &unit);
    match format {
        Format::Json => {
            let callers: Vec<Value> = lens
                .callers
                .iter()
                .take(limit)
                .map(|c| {
                    let mut v = json!({"caller": c.caller, "op": c.op.as_str(), "via": c.via, "value": c.value});
                    if lens.sample_type2.is_some() {
                        v["value2"] = json!(c.value2);
                    }
                    v
                })
                .collect();
            let mut v = json!({
                "schema": schema::MAPS,
                "sample_type": lens.sample_type,
                "unit": lens.unit,
                "sample_type2": lens.sample_type2,
                "era": lens.era.as_str(),
                "total": lens.total,
                "map_total": lens.map_total,
                "map_total2": if lens.sample_type2.is_some() { Some(lens.map_total2) } else { None },
                "by_op": lens.by_op.iter().map(|(op, v)| json!({"op": op.as_str(), "value": v})).collect::<Vec<_>>(),
                "callers": callers,
                "source_used": lens.source_used,
            });
            if let Some((b, growth)) = base {
                v["base"] = json!({"total": b.total, "map_total": b.map_total});
                v["growth"] = json!(growth.iter().take(limit).map(|g| json!({"caller": g.caller, "op": g.op.as_str(), "base": g.base, "new": g.new, "delta": g.new - g.base})).collect::<Vec<_>>());
            }
            write_json(&v, out)
        }
        _ => text_or_html(format, "gosleuth profile maps", out, |out| {
            let md = format == Format::Markdown;
            let pct = |v: i64, t: i64| percentage(v, t).trim().to_string();
            let era = match lens.era {
                gosleuth_pprof::maps::MapEra::Unknown => String::new(),
                e => format!(", {} maps", e.as_str()),
            };
            writeln!(
                out,
                "{}Map lens{} ({}{}): {} of {} total in map code ({})",
                if md { "**" } else { "" },
                if md { "**" } else { "" },
                lens.sample_type,
                era,
                fv(lens.map_total),
                fv(lens.total),
                pct(lens.map_total, lens.total)
            )?;
            if lens.sample_type2.is_some() && lens.map_total2 != 0 {
                writeln!(out, "{} objects", lens.map_total2)?;
            }
            if crate::profile::is_heap_type(&lens.sample_type) && !lens.source_used {
                writeln!(
                    out,
                    "(heap profiles hide runtime frames: map allocations are recognised from source lines, and no source was found; give --source DIR)"
                )?;
            }
            if lens.map_total == 0 {
                return Ok(());
            }
            writeln!(out, "\nBy operation:")?;
            for (op, v) in &lens.by_op {
                writeln!(
                    out,
                    "{:>10} {:>7}  {}",
                    fv(*v),
                    pct(*v, lens.map_total),
                    op.as_str()
                )?;
            }
            writeln!(out, "\nBy caller (share of map {}):", lens.sample_type)?;
            for c in lens.callers.iter().take(limit) {
                writeln!(
                    out,
                    "{:>10} {:>7}  {} {} via {}",
                    fv(c.value),
                    pct(c.value, lens.map_total),
                    c.caller,
                    c.op.as_str(),
                    c.via
                )?;
            }
            if let Some(top) = lens.callers.first() {
                writeln!(
                    out,
                    "\n{} of map {} comes from {} via {}.",
                    pct(top.value, lens.map_total),
                    lens.sample_type,
                    top.caller,
                    top.via
                )?;
            }
            if let Some((b, growth)) = base {
                writeln!(
                    out,
                    "\nAgainst the base: map {} {} → {} ({})",
                    lens.sample_type,
                    fv(b.map_total),
                    fv(lens.map_total),
                    {
                        let d = lens.map_total - b.map_total;
                        if d > 0 { format!("+{}", fv(d)) } else { fv(d) }
                    }
                )?;
                for g in growth.iter().take(limit) {
                    let d = g.new - g.base;
                    writeln!(
                        out,
                        "{:>10}  {} {} ({} → {})",
                        if d > 0 { format!("+{}", fv(d)) } else { fv(d) },
                        g.caller,
                        g.op.as_str(),
                        fv(g.base),
                        fv(g.new)
                    )?;
                }
            }
            Ok(())
        }),
    }
}

/// Whether a sample type name is one of the heap profile's.
pub fn is_heap_type(t: &str) -> bool {
    matches!(
        t,
        "alloc_space" | "alloc_objects" | "inuse_space" | "inuse_objects" | "space" | "objects"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_like_go() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            format_time(1_487_351_731_000_000_000),
            "2017-02-17 17:15:31 UTC"
        );
    }
}
