//! `gosleuth analyze`: every artifact in, one diagnosis out.
//!
//! One straight line: open the inputs (the only I/O), recognise each by
//! content, hand it to its evidence crate, diagnose, render.

use std::path::PathBuf;

use anyhow::anyhow;

use gosleuth_coredump::CoreTarget;
use gosleuth_diagnose::profile::{ProfileEvidence, profile_findings, profile_summary};
use gosleuth_diagnose::{
    BinaryFacts, CoreFacts, CoreMap, DiagnoseOptions, FrameRole, FrameView, InputSummary, Report,
    SourceLine, TextEvidence, analyze_text, attach_binary, attach_core, attach_profiles,
    attach_source,
};
use gosleuth_gobin::Binary;
use gosleuth_model::ArtifactKind;
use gosleuth_pprof::Profile;
use gosleuth_target::Process;
use gosleuth_traceback::{Dump, ScanOptions};

use crate::cmd::profile::Sources;
use crate::failure::{CmdResult, Failure};
use crate::input::{Bytes, Input};
use crate::output::{Output, warn};
use crate::symbols::BinarySymbolizer;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Artifacts to analyse (`-` reads standard input), in any mix. Each is
    /// recognised by its content: traceback text (also inside logs),
    /// goroutine dumps, race reports, pprof profiles, the Go executable, and
    /// an ELF core dump of it (read with that executable: its goroutines,
    /// and the maps the crash touched). zstd-compressed files are read too.
    #[arg(required = true, value_name = "PATH")]
    pub inputs: Vec<String>,

    /// Go source tree, to quote the culprit's line, name the map of a nil
    /// map write and find the constructor that left it nil. Paths printed in
    /// the trace are matched by their trailing components.
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,

    /// A base profile to compare profiles with (before/after a fix, or an
    /// earlier snapshot): growth between the two becomes findings.
    #[arg(long, value_name = "PROFILE")]
    pub base: Option<String>,

    /// Show each frame's arguments as printed.
    #[arg(long)]
    pub args: bool,
}

/// Everything read from the inputs, by kind.
#[derive(Default)]
struct Evidence {
    texts: Vec<(String, Dump)>,
    profiles: Vec<(String, Profile)>,
    binaries: Vec<(String, Bytes)>,
    cores: Vec<(String, Bytes)>,
    unusable: Vec<String>,
}

pub fn run(args: Args, out: &mut Output) -> CmdResult {
    let mut evidence = Evidence::default();
    for name in &args.inputs {
        read_input(Input::open(name)?, &args, &mut evidence)?;
    }
    if evidence.binaries.is_empty() {
        // A core is only readable with the executable that wrote it.
        for (name, _) in evidence.cores.drain(..) {
            evidence.unusable.push(format!(
                "{name}: a core dump is read with the executable that wrote it; give that executable too"
            ));
        }
    }
    let usable = evidence.texts.iter().any(|(_, d)| !d.traces.is_empty())
        || !evidence.profiles.is_empty()
        || !evidence.binaries.is_empty();
    if !usable {
        return Err(Failure::bad_input(anyhow!(
            "{}",
            evidence.unusable.join("\n")
        )));
    }
    for u in &evidence.unusable {
        warn(u);
    }
    let binaries: Vec<(&str, Binary<'_>)> = evidence
        .binaries
        .iter()
        .filter_map(|(name, bytes)| match Binary::parse(bytes) {
            Ok(b) => Some((name.as_str(), b)),
            Err(e) => {
                warn(format!("{name}: not a readable Go executable: {e}"));
                None
            }
        })
        .collect();

    // A core is read with the executable that wrote it; when no traceback
    // text shows the crash, the core's own goroutines stand in for it.
    let mut core_facts = Vec::new();
    let text_has_crash = evidence.texts.iter().any(|(_, d)| !d.traces.is_empty());
    for (name, core) in &evidence.cores {
        let Some((facts, text)) = read_core(name, core, &evidence.binaries) else {
            continue;
        };
        if !text_has_crash {
            let dump = gosleuth_traceback::scan(text.as_bytes(), &ScanOptions::default());
            evidence.texts.push((name.clone(), dump));
        }
        core_facts.push(facts);
    }

    // Traceback text first: it decides the crash.
    let texts: Vec<TextEvidence<'_>> = evidence
        .texts
        .iter()
        .map(|(name, dump)| TextEvidence { input: name, dump })
        .collect();
    let mut options = DiagnoseOptions::default();
    options.with_args = args.args;
    let mut report = analyze_text(&texts, &options);
    // A core's goroutines are listed once, as the core dump below, not
    // also as a traceback input.
    report
        .inputs
        .retain(|i| !core_facts.iter().any(|c: &CoreFacts| c.name == i.name));

    // Then what the executable adds, then the profiles (symbolized with the
    // executable when they carry only addresses).
    for (name, binary) in &binaries {
        let s = binary.summary();
        report.inputs.push(InputSummary {
            name: name.to_string(),
            kind: "Go executable".to_string(),
            detail: format!(
                "{}{}{}, {} functions",
                s.arch,
                if s.pie { ", PIE" } else { "" },
                if s.stripped { ", stripped" } else { "" },
                s.functions.unwrap_or(0)
            ),
        });
        let facts = binary_facts(name, binary, &report);
        attach_binary(&mut report, facts);
    }
    for facts in core_facts {
        report.inputs.push(InputSummary {
            name: facts.name.clone(),
            kind: "core dump".to_string(),
            detail: format!(
                "{}, {}, {} goroutines, {} threads, read with {}",
                facts.go_version.as_deref().unwrap_or("Go version unknown"),
                facts.arch,
                facts.goroutines,
                facts.threads,
                facts.executable
            ),
        });
        attach_core(&mut report, facts);
    }
    let sources = Sources::new(args.source.clone());
    if !evidence.profiles.is_empty() {
        let base = match &args.base {
            Some(path) => Some(load_profile(Input::open(path)?)?),
            None => None,
        };
        let mut summaries = Vec::new();
        let mut findings = Vec::new();
        for (name, profile) in &mut evidence.profiles {
            for (bin_name, binary) in &binaries {
                let sym = BinarySymbolizer::new(binary, bin_name, profile);
                let stats = gosleuth_pprof::symbolize::symbolize(profile, &sym);
                if stats.symbolized > 0 {
                    warn(format!(
                        "{name}: symbolized {} locations with {bin_name}{}",
                        stats.symbolized,
                        if stats.unknown > 0 {
                            format!(" ({} unknown)", stats.unknown)
                        } else {
                            String::new()
                        }
                    ));
                }
            }
            report.inputs.push(InputSummary {
                name: name.clone(),
                kind: "pprof profile".to_string(),
                detail: format!(
                    "{} ({}), {} samples",
                    profile
                        .sample_types
                        .iter()
                        .map(|t| profile.str(t.ty).to_string())
                        .collect::<Vec<_>>()
                        .join("/"),
                    profile.str(profile.period_type.ty),
                    profile.samples.len()
                ),
            });
            let e = ProfileEvidence {
                name,
                profile,
                base: base.as_ref(),
                source: &sources,
            };
            summaries.extend(profile_summary(&e, 10));
            findings.extend(profile_findings(&e));
        }
        attach_profiles(&mut report, summaries, findings);
    }
    if let Some(root) = &args.source {
        add_source(&mut report, root);
    }
    let colored = out.colored();
    let format = out.render_format();
    gosleuth_render::write_report(&report, format, colored, out.writer())?;
    Ok(())
}

/// Recognises one input by content and reads it into `evidence`.
fn read_input(input: Input, args: &Args, evidence: &mut Evidence) -> Result<(), Failure> {
    let name = input.name().to_string();
    if crate::input::is_zstd(input.head()) {
        return read_compressed(input, evidence);
    }
    match ArtifactKind::sniff(input.head()) {
        ArtifactKind::Text => {
            let mut scan_options = ScanOptions::default();
            // Arguments cost memory on huge dumps; keep them only to show.
            scan_options.keep_args = args.args;
            let dump = crate::input::scan_text(input, &scan_options)?;
            if dump.traces.is_empty() {
                evidence.unusable.push(format!(
                    "{name}: no Go panic, fatal error, goroutine dump or race report in {} line{}",
                    dump.lines,
                    if dump.lines == 1 { "" } else { "s" }
                ));
            }
            evidence.texts.push((name, dump));
        }
        ArtifactKind::Pprof | ArtifactKind::LegacyTextProfile | ArtifactKind::LegacyCpuProfile => {
            evidence.profiles.push((name, load_profile(input)?));
        }
        ArtifactKind::ElfExecutable => evidence.binaries.push((name, input.into_bytes()?)),
        ArtifactKind::ElfCore => evidence.cores.push((name, input.into_bytes()?)),
        other => evidence.unusable.push(format!(
            "{name}: {} is not something `analyze` reads yet",
            describe(other)
        )),
    }
    Ok(())
}

/// A zstd-compressed executable, core or profile (as fixtures are stored).
fn read_compressed(input: Input, evidence: &mut Evidence) -> Result<(), Failure> {
    let name = input.name().to_string();
    let (bytes, kind) = crate::input::open_bytes(input)?;
    match kind {
        ArtifactKind::ElfExecutable => evidence.binaries.push((name, bytes)),
        ArtifactKind::ElfCore => evidence.cores.push((name, bytes)),
        ArtifactKind::Pprof | ArtifactKind::LegacyTextProfile | ArtifactKind::LegacyCpuProfile => {
            let profile =
                Profile::decode(&bytes).map_err(|e| Failure::bad_input(anyhow!("{name}: {e}")))?;
            evidence.profiles.push((name, profile));
        }
        other => evidence.unusable.push(format!(
            "{name}: zstd-compressed {} is not something `analyze` reads yet",
            describe(other)
        )),
    }
    Ok(())
}

/// Reads a core with the first executable that opens it: the facts for
/// the diagnosis and the goroutines as the runtime would print them.
fn read_core(name: &str, core: &[u8], binaries: &[(String, Bytes)]) -> Option<(CoreFacts, String)> {
    let mut errors = Vec::new();
    for (exe_name, exe) in binaries {
        let target = match CoreTarget::open(core, exe) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("with {exe_name}: {e}"));
                continue;
            }
        };
        let summary = match Process::new(&target).and_then(|p| p.summary()) {
            Ok(s) => s,
            Err(e) => {
                errors.push(format!("with {exe_name}: {e}"));
                continue;
            }
        };
        let text = summary.traceback_text();
        return Some((core_facts(name, exe_name, &summary), text));
    }
    warn(format!(
        "{name}: cannot read the core ({})",
        errors.join("; ")
    ));
    None
}

fn core_facts(name: &str, exe_name: &str, s: &gosleuth_target::Summary) -> CoreFacts {
    CoreFacts {
        name: name.to_string(),
        executable: exe_name.to_string(),
        go_version: s.go_version.clone(),
        arch: s.arch.clone(),
        threads: s.threads,
        goroutines: s.goroutines.len(),
        crashing_goroutine: s.crashing_goroutine,
        cause_signal: s.cause_signal.as_ref().map(|sig| {
            let mut t = sig.name.clone();
            if let Some(a) = sig.addr {
                t.push_str(&format!(" addr={a:#x}"));
            }
            if let Some(pc) = sig.pc {
                t.push_str(&format!(" pc={pc:#x}"));
            }
            t
        }),
        maps: s
            .maps
            .iter()
            .map(|m| CoreMap {
                expr: m.expr.clone(),
                goroutine: m.frame.map(|(g, _)| g),
                frame_index: m.frame.map(|(_, i)| i),
                function: m.frame.and_then(|(g, i)| {
                    s.goroutines
                        .iter()
                        .find(|x| x.id == g)
                        .and_then(|x| x.frames.get(i))
                        .map(|f| f.function.clone())
                }),
                type_name: m.type_name.clone(),
                header: m.header,
                era: m.era.clone(),
                count: m.count,
                nil: m.nil,
                growing: m.growing,
                writing: m.writing,
                problems: m.problems.clone(),
                goroutines_in_map_ops: m.goroutines_in_map_ops.clone(),
            })
            .collect(),
        warnings: s.warnings.clone(),
    }
}

fn load_profile(input: Input) -> Result<Profile, Failure> {
    let name = input.name().to_string();
    let bytes = input.into_bytes()?;
    Profile::decode(&bytes).map_err(|e| Failure::bad_input(anyhow!("{name}: {e}")))
}

/// What the executable tells about this crash.
fn binary_facts(name: &str, binary: &Binary<'_>, report: &Report) -> BinaryFacts {
    let summary = binary.summary();
    let info = binary.build_info().ok();
    let mut facts = BinaryFacts {
        name: name.to_string(),
        arch: summary.arch.to_string(),
        pie: summary.pie,
        stripped: summary.stripped,
        dwarf_version: summary.dwarf_version,
        functions: summary.functions,
        ..BinaryFacts::default()
    };
    if let Some(info) = &info {
        facts.go_version = Some(info.go_version.clone());
        facts.package_path = Some(info.path.clone()).filter(|p| !p.is_empty());
        facts.main_module = info
            .main
            .as_ref()
            .map(|m| (m.path.clone(), m.version.clone()));
        facts.deps = info.deps.iter().map(|d| d.path.clone()).collect();
        facts.settings = info
            .settings
            .iter()
            .map(|s| (s.key.clone(), s.value.clone()))
            .collect();
    }
    if let Some(crash) = &report.crash {
        if let Some(pc) = crash.signal.as_ref().and_then(|s| s.pc)
            && let Ok(frames) = binary.resolve_signal_pc(pc)
        {
            facts.signal_frames = frames
                .iter()
                .map(|f| FrameView {
                    function: f.function.to_string(),
                    file: Some(f.file.to_string()),
                    line: f.line,
                    offset: (!f.inlined).then_some(f.offset as u32),
                    inlined: f.inlined,
                    args: None,
                    role: FrameRole::User,
                    parent_goroutine: None,
                })
                .collect();
        }
        if let Some(c) = &crash.culprit {
            // An inlined culprit has no function of its own in the table.
            if !c.inlined {
                facts.has_culprit = binary.func_by_name(&c.function).ok().map(|f| f.is_some());
            }
        }
    }
    facts
}

fn describe(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::ElfExecutable => "an ELF executable",
        ArtifactKind::ElfCore => "an ELF core dump",
        ArtifactKind::Pprof => "a pprof profile",
        ArtifactKind::LegacyTextProfile | ArtifactKind::LegacyCpuProfile => "a legacy profile",
        _ => "binary data of an unknown format",
    }
}

/// Reads the culprit's file from the source tree and attaches its line.
fn add_source(report: &mut Report, root: &std::path::Path) {
    let Some(culprit) = report.crash.as_ref().and_then(|c| c.culprit.clone()) else {
        return;
    };
    let Some(printed) = culprit.file.as_deref() else {
        return;
    };
    let found = gosleuth_source::candidate_paths(root, printed)
        .into_iter()
        .find(|p| p.is_file());
    let Some(path) = found else {
        warn(format!(
            "--source: {printed} not found under {} (tried its trailing path components)",
            root.display()
        ));
        return;
    };
    let Ok(src) = std::fs::read(&path) else {
        warn(format!("--source: cannot read {}", path.display()));
        return;
    };
    let text = src
        .split(|&b| b == b'\n')
        .nth(culprit.line.saturating_sub(1) as usize)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .unwrap_or_default();
    let writes = gosleuth_source::map_writes_on_line(&src, culprit.line);
    let receiver_field = match writes.as_slice() {
        [w] => receiver_field(&src, &path, culprit.line, &w.operand),
        _ => None,
    };
    // Quote the statement itself (without a trailing comment) when the
    // grammar found one on the line.
    let text = writes.first().map_or(text, |w| w.statement.clone());
    attach_source(
        report,
        &SourceLine {
            path: path.display().to_string(),
            text,
            index_writes: writes
                .into_iter()
                .map(|w| (w.operand, w.index_expression))
                .collect(),
            receiver_field,
        },
    );
}

/// When the map written is `recv.field` in a method, finds the struct's
/// declaration and every place of its package (the culprit's directory)
/// that creates the struct without the field.
fn receiver_field(
    src: &[u8],
    path: &std::path::Path,
    line: u32,
    operand: &str,
) -> Option<gosleuth_diagnose::ReceiverField> {
    let (recv, type_name) = gosleuth_source::receiver_at_line(src, line)?;
    let field = operand.strip_prefix(&format!("{recv}."))?;
    if field.contains(['.', '[', '(']) {
        return None;
    }
    let dir = path.parent()?;
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "go"))
        .collect();
    files.sort();
    let mut rf = gosleuth_diagnose::ReceiverField {
        type_name: type_name.clone(),
        field: field.to_string(),
        ..Default::default()
    };
    for file in files {
        let Ok(text) = std::fs::read(&file) else {
            continue;
        };
        if rf.field_type.is_none() {
            rf.field_type = gosleuth_source::struct_field_type(&text, &type_name, field);
        }
        for m in gosleuth_source::creations_missing_field(&text, &type_name, field) {
            rf.creations
                .push((file.display().to_string(), m.line, m.function, m.expression));
        }
    }
    Some(rf)
}
