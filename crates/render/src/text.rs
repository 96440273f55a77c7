//! Human text: what a terminal shows.

use std::io::{self, Write};

use gosleuth_diagnose::{Crash, FrameRole, FrameView, GoroutineView, GroupView, Report};
use gosleuth_model::{CrashKind, Severity};

use crate::style::Paint;
use crate::wrap;

/// Width text is wrapped to.
const WIDTH: usize = 100;

/// Writes the report of `gosleuth analyze`.
pub fn write_report(report: &Report, paint: Paint, out: &mut dyn Write) -> io::Result<()> {
    match &report.crash {
        Some(c) if c.kind != CrashKind::GoroutineDump => {
            let head = c.headline.clone().unwrap_or_else(|| c.kind.to_string());
            writeln!(out, "{} {}", paint.red(c.kind.as_str()), paint.bold(&head))?;
        }
        Some(_) => writeln!(out, "{}", paint.bold("goroutine dump (no crash)"))?,
        None if !report.profiles.is_empty() => writeln!(
            out,
            "{}",
            paint.bold("profile analysis (no crash in the inputs)")
        )?,
        None => writeln!(out, "{}", paint.bold("no crash or goroutine dump found"))?,
    }
    for input in &report.inputs {
        writeln!(
            out,
            "  {} {}  {}",
            paint.dim("input"),
            input.name,
            paint.dim(&format!("{}: {}", input.kind, input.detail))
        )?;
    }
    writeln!(out)?;
    if let Some(c) = &report.crash {
        write_crash(c, paint, out)?;
    }
    if !report.findings.is_empty() {
        writeln!(out, "{}", paint.heading("Findings"))?;
        for f in &report.findings {
            writeln!(
                out,
                "  {} {}",
                paint.severity(f.severity),
                paint.bold(&f.title)
            )?;
            for (label, text) in [("saw  ", &f.observation), ("means", &f.meaning)] {
                let lines = wrap::wrap(text, WIDTH - 14);
                for (i, l) in lines.iter().enumerate() {
                    let tag = if i == 0 { label } else { "     " };
                    writeln!(out, "           {} {l}", paint.dim(tag))?;
                }
            }
            if !f.evidence.is_empty() {
                writeln!(
                    out,
                    "           {} {}",
                    paint.dim("where"),
                    paint.dim(&f.evidence.join(", "))
                )?;
            }
        }
        writeln!(out)?;
    }
    for b in &report.binaries {
        writeln!(
            out,
            "{} {}",
            paint.heading("Executable"),
            paint.dim(&b.name)
        )?;
        let module = b
            .main_module
            .as_ref()
            .map(|(p, v)| format!("{p} {v}"))
            .or_else(|| b.package_path.clone())
            .unwrap_or_else(|| "module unknown".into());
        writeln!(
            out,
            "  {}, {module}, {}{}{}{}",
            b.go_version.as_deref().unwrap_or("Go version unknown"),
            b.arch,
            if b.pie { ", PIE" } else { "" },
            if b.stripped { ", stripped" } else { "" },
            b.dwarf_version
                .map(|v| format!(", DWARF {v}"))
                .unwrap_or_default()
        )?;
        writeln!(out)?;
    }
    for c in &report.cores {
        writeln!(
            out,
            "{} {} {}",
            paint.heading("Core dump"),
            paint.dim(&c.name),
            paint.dim(&format!("(read with {})", c.executable))
        )?;
        writeln!(
            out,
            "  {}, {}, {} goroutines, {} threads{}",
            c.go_version.as_deref().unwrap_or("Go version unknown"),
            c.arch,
            c.goroutines,
            c.threads,
            c.crashing_goroutine
                .map(|g| format!(", goroutine {g} crashed"))
                .unwrap_or_default()
        )?;
        for m in c.maps.iter().filter(|m| m.in_program_frame()) {
            let health = if m.nil {
                "nil (header 0x0)".to_string()
            } else {
                let mut h = format!("{} entries at {:#x}", m.count, m.header);
                if m.growing {
                    h.push_str(", growing");
                }
                if m.writing {
                    h.push_str(", writing flag set");
                }
                if !m.goroutines_in_map_ops.is_empty() {
                    h.push_str(&format!(
                        ", in map operations of goroutine {}",
                        m.goroutines_in_map_ops
                            .iter()
                            .map(|g| g.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                h
            };
            writeln!(
                out,
                "  map {} {} in {}: {health}",
                m.expr,
                paint.dim(&m.type_name),
                m.function.as_deref().unwrap_or("?")
            )?;
        }
        writeln!(out)?;
    }
    for p in &report.profiles {
        let label = |v: i64| gosleuth_pprof::units::label(v, &p.unit);
        let dur = if p.duration_nanos > 0 {
            format!(
                " in {}",
                gosleuth_pprof::units::label(p.duration_nanos, "nanoseconds")
            )
        } else {
            String::new()
        };
        let maps = if p.map_total != 0 && p.total != 0 {
            format!(
                ", {} in map code",
                gosleuth_pprof::units::percentage(p.map_total, p.total).trim()
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "{} {}",
            paint.heading("Profile"),
            paint.dim(&format!(
                "{} — {}: {} total{dur}{maps}",
                p.input,
                p.sample_type,
                label(p.total)
            ))
        )?;
        writeln!(
            out,
            "  {:>10} {:>7} {:>10} {:>7}  function",
            "flat", "flat%", "cum", "cum%"
        )?;
        for row in &p.top {
            writeln!(
                out,
                "  {:>10} {:>7} {:>10} {:>7}  {}",
                label(row.flat),
                gosleuth_pprof::units::percentage(row.flat, p.total).trim(),
                label(row.cum),
                gosleuth_pprof::units::percentage(row.cum, p.total).trim(),
                row.function
            )?;
        }
        writeln!(out)?;
    }
    if let Some(view) = &report.goroutines
        && (view.total > 1
            || report
                .crash
                .as_ref()
                .is_some_and(|c| c.kind == CrashKind::GoroutineDump))
    {
        write_goroutines(view, paint, out)?;
    }
    for w in &report.warnings {
        writeln!(out, "{} {w}", paint.yellow("note:"))?;
    }
    Ok(())
}

fn write_crash(c: &Crash, paint: Paint, out: &mut dyn Write) -> io::Result<()> {
    if c.kind == CrashKind::GoroutineDump && c.goroutine.is_none() {
        return Ok(());
    }
    writeln!(
        out,
        "{}",
        paint.heading(if c.kind == CrashKind::GoroutineDump {
            "Running goroutine"
        } else {
            "Crash"
        })
    )?;
    if c.kind != CrashKind::GoroutineDump {
        writeln!(out, "  {:<10}{}", paint.dim("kind"), c.kind)?;
        if let Some(m) = &c.message {
            let mut lines = m.lines();
            writeln!(
                out,
                "  {:<10}{}",
                paint.dim("message"),
                lines.next().unwrap_or("")
            )?;
            for l in lines {
                writeln!(out, "  {:<10}{}", "", l)?;
            }
        }
    }
    if let Some(g) = c.goroutine {
        let state = c
            .state
            .as_deref()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default();
        let created = c
            .created_by
            .as_ref()
            .map(|f| {
                format!(
                    ", created by {}{}",
                    f.function,
                    f.parent_goroutine
                        .map(|p| format!(" in goroutine {p}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        writeln!(out, "  {:<10}{g}{state}{created}", paint.dim("goroutine"))?;
    }
    if let Some(by) = &c.recovered_by {
        writeln!(
            out,
            "  {:<10}recovered and logged by {by}",
            paint.dim("recovered")
        )?;
    }
    if let Some(s) = &c.signal {
        let addr = s.addr.map(|a| format!(" addr={a:#x}")).unwrap_or_default();
        let pc = s.pc.map(|a| format!(" pc={a:#x}")).unwrap_or_default();
        writeln!(out, "  {:<10}{}{addr}{pc}", paint.dim("signal"), s.name)?;
    }
    match &c.culprit {
        Some(f) => {
            writeln!(
                out,
                "  {:<10}{}",
                paint.dim("culprit"),
                paint.red(&f.function)
            )?;
            writeln!(out, "  {:<10}{}", "", f.location())?;
        }
        None if c.kind != CrashKind::GoroutineDump => {
            writeln!(
                out,
                "  {:<10}{}",
                paint.dim("culprit"),
                paint.dim("none in the text")
            )?;
        }
        None => {}
    }
    if !c.stack.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "  {}",
            paint.dim("stack, innermost first (▶ culprit):")
        )?;
        write_frames(&c.stack, None, c.culprit_index, paint, out, "  ")?;
    }
    writeln!(out)?;
    Ok(())
}

fn write_frames(
    frames: &[FrameView],
    elided: Option<(usize, Option<u32>)>,
    culprit: Option<usize>,
    paint: Paint,
    out: &mut dyn Write,
    indent: &str,
) -> io::Result<()> {
    let width = frames
        .iter()
        .map(|f| f.function.chars().count() + if f.inlined { 6 } else { 0 })
        .max()
        .unwrap_or(0)
        .min(60);
    for (i, f) in frames.iter().enumerate() {
        if let Some((at, count)) = elided
            && at == i
        {
            write_elision(count, paint, out, indent)?;
        }
        let mark = if culprit == Some(i) {
            paint.red("▶")
        } else {
            " ".to_string()
        };
        let mut name = f.function.clone();
        if name.is_empty() {
            name = "(function line lost)".into();
        }
        if f.inlined {
            name.push_str(" (inl)");
        }
        let pad = width.saturating_sub(name.chars().count());
        let role = match f.role {
            FrameRole::Framework(n) => n.to_string(),
            r => r.as_str().to_string(),
        };
        let args = f
            .args
            .as_deref()
            .filter(|a| !a.is_empty() && *a != "...")
            .map(|a| format!("  ({a})"))
            .unwrap_or_default();
        writeln!(
            out,
            "{indent}  {mark} {}{} {}  {}{}",
            paint.function(&name, f.role),
            " ".repeat(pad),
            f.short_location(),
            paint.dim(&role),
            paint.dim(&args)
        )?;
    }
    if let Some((at, count)) = elided
        && at >= frames.len()
    {
        write_elision(count, paint, out, indent)?;
    }
    Ok(())
}

/// The runtime's `...N frames elided...` marker, where the frames were cut.
fn write_elision(
    count: Option<u32>,
    paint: Paint,
    out: &mut dyn Write,
    indent: &str,
) -> io::Result<()> {
    let n = count.map(|n| format!("{n} ")).unwrap_or_default();
    writeln!(
        out,
        "{indent}    {}",
        paint.dim(&format!("...{n}frames elided..."))
    )
}

/// Writes the grouped goroutine view (`gosleuth goroutines`, and the end of
/// an analysis).
pub fn write_goroutines(view: &GoroutineView, paint: Paint, out: &mut dyn Write) -> io::Result<()> {
    let shown = if view.hidden_groups > 0 {
        format!(
            ", {} shown in {} groups ({} groups filtered out)",
            view.shown,
            view.groups.len(),
            view.hidden_groups
        )
    } else {
        format!(
            " in {} group{}",
            view.groups.len(),
            if view.groups.len() == 1 { "" } else { "s" }
        )
    };
    writeln!(
        out,
        "{} {}",
        paint.heading("Goroutines"),
        paint.dim(&format!("{} total{shown} — {}", view.total, view.input))
    )?;
    for g in &view.groups {
        write_group(g, view.focus, paint, out)?;
    }
    writeln!(out)?;
    Ok(())
}

fn write_group(g: &GroupView, focus: &str, paint: Paint, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    let mut head = format!(
        "{} goroutine{}",
        g.count,
        if g.count == 1 { "" } else { "s" }
    );
    let mut state = g.state.clone();
    if let Some((lo, hi)) = g.wait_minutes {
        state.push_str(&if lo == hi {
            format!(", {hi} minutes")
        } else {
            format!(", {lo}-{hi} minutes")
        });
    }
    if g.locked_to_thread {
        state.push_str(", locked to thread");
    }
    if !state.is_empty() {
        head.push_str(&format!(" [{state}]"));
    }
    let head = if g.crashing {
        paint.red(&format!("{head}  ← {focus}"))
    } else {
        paint.bold(&head)
    };
    let ids = if g.ids.is_empty() {
        String::new()
    } else {
        let more = if (g.ids.len() as u64) < g.count {
            ", ..."
        } else {
            ""
        };
        format!(
            "  ids {}{more}",
            g.ids
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    writeln!(out, "  {head}{}", paint.dim(&ids))?;
    if let Some(l) = &g.labels {
        writeln!(out, "    {} {l}", paint.dim("labels"))?;
    }
    write_frames(&g.frames, g.elided, None, paint, out, "  ")?;
    if let Some(c) = &g.created_by {
        let parent = c
            .parent_goroutine
            .map(|p| format!(" in goroutine {p}"))
            .unwrap_or_default();
        writeln!(
            out,
            "      {} {}{parent} {}",
            paint.dim("created by"),
            c.function,
            paint.dim(&c.short_location())
        )?;
    }
    Ok(())
}

/// `1 critical, 2 warnings`.
pub fn severity_summary(report: &Report) -> String {
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    format!(
        "{} critical, {} warning, {} info",
        count(Severity::Critical),
        count(Severity::Warning),
        count(Severity::Info)
    )
}
