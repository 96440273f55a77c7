//! Markdown for tickets and chat: headings, a summary table, findings as a
//! list, stacks in code blocks.

use std::io::{self, Write};

use gosleuth_diagnose::{FrameRole, FrameView, GoroutineView, Report};
use gosleuth_model::CrashKind;

/// Escapes text for a Markdown table cell or inline text.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

fn frame_line(f: &FrameView, culprit: bool) -> String {
    let mark = if culprit { "▶" } else { " " };
    let role = match f.role {
        FrameRole::Framework(n) => n.to_string(),
        r => r.as_str().to_string(),
    };
    format!(
        "{mark} {:<60} {:<24} {role}",
        if f.function.is_empty() {
            "(function line lost)"
        } else {
            &f.function
        },
        f.short_location()
    )
}

/// Writes the analysis as Markdown.
pub fn write_report(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    match &report.crash {
        Some(c) if c.kind != CrashKind::GoroutineDump => {
            let head = c.headline.as_deref().unwrap_or(c.kind.as_str());
            writeln!(out, "## gosleuth: {} — {}\n", c.kind, code(head))?;
        }
        _ => writeln!(out, "## gosleuth: goroutine dump\n")?,
    }
    if let Some(c) = &report.crash {
        writeln!(out, "| | |\n|---|---|")?;
        writeln!(out, "| Kind | {} |", c.kind)?;
        if let Some(m) = &c.message {
            writeln!(out, "| Message | {} |", code(&cell(m)))?;
        }
        if let Some(g) = c.goroutine {
            let created = c
                .created_by
                .as_ref()
                .map(|f| format!(", created by {}", code(&f.function)))
                .unwrap_or_default();
            writeln!(
                out,
                "| Goroutine | {g}{}{created} |",
                c.state
                    .as_deref()
                    .map(|s| format!(" [{}]", cell(s)))
                    .unwrap_or_default()
            )?;
        }
        if let Some(f) = &c.culprit {
            writeln!(
                out,
                "| Culprit | {} at {} |",
                code(&f.function),
                code(&f.location())
            )?;
        }
        if let Some(s) = &c.signal {
            writeln!(
                out,
                "| Signal | {}{} |",
                s.name,
                s.addr.map(|a| format!(" addr={a:#x}")).unwrap_or_default()
            )?;
        }
        for i in &report.inputs {
            writeln!(
                out,
                "| Input | {} ({}: {}) |",
                code(&i.name),
                cell(&i.kind),
                cell(&i.detail)
            )?;
        }
        writeln!(out)?;
    }
    if !report.findings.is_empty() {
        writeln!(out, "### Findings\n")?;
        for f in &report.findings {
            writeln!(out, "- **{} — {}**  ", f.severity.as_str(), cell(&f.title))?;
            writeln!(out, "  *Observed:* {}  ", f.observation.replace('\n', " "))?;
            writeln!(out, "  *Meaning:* {}", f.meaning.replace('\n', " "))?;
        }
        writeln!(out)?;
    }
    for p in &report.profiles {
        let label = |v: i64| gosleuth_pprof::units::label(v, &p.unit);
        writeln!(
            out,
            "### Profile {} ({}, total {})\n",
            code(&p.input),
            p.sample_type,
            label(p.total)
        )?;
        writeln!(
            out,
            "| flat | flat% | cum | cum% | function |\n|---:|---:|---:|---:|---|"
        )?;
        for r in &p.top {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                label(r.flat),
                gosleuth_pprof::units::percentage(r.flat, p.total).trim(),
                label(r.cum),
                gosleuth_pprof::units::percentage(r.cum, p.total).trim(),
                code(&r.function)
            )?;
        }
        writeln!(out)?;
    }
    if let Some(c) = report.crash.as_ref().filter(|c| !c.stack.is_empty()) {
        writeln!(
            out,
            "### Stack of goroutine {}\n",
            c.goroutine.map_or("?".to_string(), |g| g.to_string())
        )?;
        writeln!(out, "```text")?;
        for (i, f) in c.stack.iter().enumerate() {
            writeln!(out, "{}", frame_line(f, c.culprit_index == Some(i)))?;
        }
        writeln!(out, "```\n")?;
    }
    if let Some(v) = &report.goroutines
        && v.total > 1
    {
        write_goroutines(v, out)?;
    }
    for w in &report.warnings {
        writeln!(out, "> note: {}", w.replace('\n', " "))?;
    }
    Ok(())
}

/// Writes grouped goroutines as Markdown.
pub fn write_goroutines(view: &GoroutineView, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "### Goroutines: {} total, {} groups\n",
        view.total,
        view.groups.len()
    )?;
    writeln!(
        out,
        "| Count | State | Where (first app frame) | Created by |\n|---:|---|---|---|"
    )?;
    for g in &view.groups {
        let site = g
            .frames
            .iter()
            .find(|f| {
                matches!(
                    f.role,
                    FrameRole::User | FrameRole::Middleware | FrameRole::Culprit
                )
            })
            .or(g.frames.first())
            .map(|f| format!("{} {}", code(&f.function), f.short_location()))
            .unwrap_or_default();
        let mut state = g.state.clone();
        if let Some((lo, hi)) = g.wait_minutes {
            state.push_str(&format!(", {lo}-{hi} min"));
        }
        let created = g
            .created_by
            .as_ref()
            .map(|c| code(&c.function))
            .unwrap_or_default();
        writeln!(
            out,
            "| {}{} | {} | {} | {} |",
            g.count,
            if g.crashing { " (crashed)" } else { "" },
            cell(&state),
            cell(&site),
            created
        )?;
    }
    writeln!(out)?;
    writeln!(out, "<details><summary>Stacks</summary>\n")?;
    for g in &view.groups {
        writeln!(out, "**{} × [{}]**\n\n```text", g.count, cell(&g.state))?;
        for f in &g.frames {
            writeln!(out, "{}", frame_line(f, false))?;
        }
        if let Some(c) = &g.created_by {
            writeln!(out, "  created by {} {}", c.function, c.short_location())?;
        }
        writeln!(out, "```\n")?;
    }
    writeln!(out, "</details>\n")?;
    Ok(())
}
