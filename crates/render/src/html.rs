//! A standalone HTML page: findings, the crash stack and every goroutine
//! group as a collapsible block, for dumps too big to scroll in a terminal.

use std::io::{self, Write};

use gosleuth_diagnose::{FrameRole, FrameView, GoroutineView, Report};
use gosleuth_model::CrashKind;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}\
code,pre{font:12.5px ui-monospace,monospace}pre{background:#f6f8fa;padding:.6em;overflow-x:auto}\
.critical{color:#b00020}.warning{color:#a15c00}.info{color:#05628c}\
.finding{margin:.6em 0;padding:.4em .8em;border-left:4px solid #ccc}.finding.critical{border-color:#b00020}\
.finding.warning{border-color:#e0a000}.finding.info{border-color:#4aa3d8}\
.f-culprit{color:#b00020;font-weight:bold}.f-app{color:#1a7f37}.f-dim{color:#888}\
table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:left;vertical-align:top}\
details{margin:.3em 0}summary{cursor:pointer}.count{font-weight:bold;display:inline-block;min-width:5em}";

fn frame_row(f: &FrameView, culprit: bool) -> String {
    let class = if culprit {
        "f-culprit"
    } else {
        match f.role {
            FrameRole::User | FrameRole::Middleware => "f-app",
            FrameRole::Runtime
            | FrameRole::Std
            | FrameRole::PanicMachinery
            | FrameRole::Unknown => "f-dim",
            _ => "",
        }
    };
    let role = match f.role {
        FrameRole::Framework(n) => n.to_string(),
        r => r.as_str().to_string(),
    };
    format!(
        "<tr><td class=\"{class}\">{}{}</td><td title=\"{}\">{}</td><td class=\"f-dim\">{}</td></tr>",
        if culprit { "▶ " } else { "" },
        escape(&f.function),
        escape(&f.location()),
        escape(&f.short_location()),
        escape(&role)
    )
}

/// Writes the analysis as one HTML page.
pub fn write_report(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let title = match &report.crash {
        Some(c) if c.kind != CrashKind::GoroutineDump => {
            format!("{} — {}", c.kind, c.headline.as_deref().unwrap_or(""))
        }
        _ => "goroutine dump".to_string(),
    };
    writeln!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>gosleuth: {}</title><style>{STYLE}</style></head><body>",
        escape(&title)
    )?;
    writeln!(out, "<h1>gosleuth: {}</h1>", escape(&title))?;
    for i in &report.inputs {
        writeln!(
            out,
            "<div class=\"f-dim\">input <code>{}</code> — {}: {}</div>",
            escape(&i.name),
            escape(&i.kind),
            escape(&i.detail)
        )?;
    }
    if let Some(c) = &report.crash
        && let Some(f) = &c.culprit
    {
        writeln!(
            out,
            "<p>Culprit: <code class=\"f-culprit\">{}</code> at <code>{}</code> (goroutine {})</p>",
            escape(&f.function),
            escape(&f.location()),
            c.goroutine.map_or("?".into(), |g| g.to_string())
        )?;
    }
    if !report.findings.is_empty() {
        writeln!(out, "<h2>Findings</h2>")?;
        for f in &report.findings {
            let sev = f.severity.as_str();
            writeln!(
                out,
                "<div class=\"finding {sev}\"><b class=\"{sev}\">{sev}</b> <b>{}</b><br><i>Observed:</i> {}<br><i>Meaning:</i> {}</div>",
                escape(&f.title),
                escape(&f.observation),
                escape(&f.meaning)
            )?;
        }
    }
    if let Some(c) = report.crash.as_ref().filter(|c| !c.stack.is_empty()) {
        writeln!(
            out,
            "<h2>Stack of goroutine {}</h2><table>",
            c.goroutine.map_or("?".into(), |g| g.to_string())
        )?;
        for (i, f) in c.stack.iter().enumerate() {
            writeln!(out, "{}", frame_row(f, c.culprit_index == Some(i)))?;
        }
        writeln!(out, "</table>")?;
    }
    for p in &report.profiles {
        let label = |v: i64| gosleuth_pprof::units::label(v, &p.unit);
        writeln!(
            out,
            "<h2>Profile <code>{}</code> ({}, total {})</h2><table><tr><th>flat</th><th>flat%</th><th>cum</th><th>cum%</th><th>function</th></tr>",
            escape(&p.input),
            escape(&p.sample_type),
            escape(&label(p.total))
        )?;
        for r in &p.top {
            writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                escape(&label(r.flat)),
                escape(gosleuth_pprof::units::percentage(r.flat, p.total).trim()),
                escape(&label(r.cum)),
                escape(gosleuth_pprof::units::percentage(r.cum, p.total).trim()),
                escape(&r.function)
            )?;
        }
        writeln!(out, "</table>")?;
    }
    if let Some(v) = &report.goroutines {
        write_groups(v, out)?;
    }
    for w in &report.warnings {
        writeln!(out, "<p class=\"warning\">note: {}</p>", escape(w))?;
    }
    writeln!(out, "</body></html>")
}

fn write_groups(view: &GoroutineView, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<h2>Goroutines: {} total in {} groups</h2>",
        view.total,
        view.groups.len()
    )?;
    for g in &view.groups {
        let site = g
            .frames
            .iter()
            .find(|f| matches!(f.role, FrameRole::User | FrameRole::Middleware))
            .or(g.frames.first())
            .map(|f| format!("{} ({})", f.function, f.short_location()))
            .unwrap_or_default();
        let wait = g
            .wait_minutes
            .map(|(a, b)| format!(", {a}-{b} min"))
            .unwrap_or_default();
        writeln!(
            out,
            "<details{}><summary><span class=\"count\">{}</span> [{}{}] {}{}</summary><table>",
            if g.crashing { " open" } else { "" },
            g.count,
            escape(&g.state),
            escape(&wait),
            escape(&site),
            if g.crashing {
                " <b class=\"critical\">crashed</b>"
            } else {
                ""
            }
        )?;
        for f in &g.frames {
            writeln!(out, "{}", frame_row(f, false))?;
        }
        if let Some(c) = &g.created_by {
            writeln!(
                out,
                "<tr><td class=\"f-dim\">created by {}</td><td>{}</td><td></td></tr>",
                escape(&c.function),
                escape(&c.short_location())
            )?;
        }
        writeln!(out, "</table></details>")?;
    }
    Ok(())
}

/// Writes grouped goroutines as one HTML page.
pub fn write_goroutines(view: &GoroutineView, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>gosleuth goroutines</title><style>{STYLE}</style></head><body>"
    )?;
    write_groups(view, out)?;
    writeln!(out, "</body></html>")
}
