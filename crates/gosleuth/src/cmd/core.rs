//! `gosleuth core EXE CORE [goroutines|bt|locals|print|maps|threads]`: the
//! post-mortem of a Go core dump, without Delve. JSON schemas:
//! docs/json-core.md.

use std::collections::HashMap;

use anyhow::anyhow;
use rayon::prelude::*;

use gosleuth_coredump::CoreTarget;
use gosleuth_diagnose::{FrameRole, FrameView, GoroutineView, GroupView};
use gosleuth_model::ArtifactKind;
use gosleuth_render::core::{self as render, CoreInfo, GoroutineStack, SummaryView};
use gosleuth_target::{
    Goroutine, Inspector, LayoutSource, LoadLimits, MapValue, Process, Stack, UnwindCache,
    UnwindOptions, traceback_name,
};

use crate::failure::{CmdResult, Failure};
use crate::input::{Bytes, Input};
use crate::output::Output;

#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = false,
    subcommand_precedence_over_arg = true
)]
pub struct Args {
    /// The executable that dumped core (the very same build).
    #[arg(value_name = "EXE")]
    pub exe: String,

    /// The core file (`GOTRACEBACK=crash`, `gcore` or Delve's `dump`).
    #[arg(value_name = "CORE")]
    pub core: String,

    #[command(subcommand)]
    pub command: Option<Sub>,

    /// Print every entry of maps (and long strings and slices in full).
    #[arg(long, global = true)]
    pub all: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Every goroutine with its whole stack, as a traceback would show it.
    Goroutines,
    /// One goroutine's frames with PCs, SPs and the stack they ran on.
    Bt {
        /// Goroutine id.
        goid: u64,
    },
    /// Arguments and locals of a frame (frame numbers as `bt` shows them).
    Locals {
        /// Goroutine id.
        goid: u64,
        /// Frame number.
        frame: usize,
    },
    /// Evaluate an expression: a variable, `.field`, `[index]`, `*ptr`,
    /// `&x`, or a package variable by full name (`main.cache`).
    ///
    /// `print EXPR` reads package variables; `print GOID FRAME EXPR` also
    /// sees that frame's variables.
    Print {
        /// `[GOID FRAME] EXPR`
        #[arg(num_args = 1..=3, required = true, value_name = "[GOID FRAME] EXPR")]
        args: Vec<String>,
    },
    /// Maps reachable from the crashing goroutine's frames and the package
    /// variables, with header and health (nil, growing, writing flag).
    Maps,
    /// Every thread's own stack, from its registers (system stacks and
    /// signal frames included).
    Threads,
}

fn open_bytes(path: &str) -> Result<(Bytes, ArtifactKind), Failure> {
    crate::input::open_bytes(Input::open(path)?)
}

pub fn run(args: Args, out: &mut Output) -> CmdResult {
    let (exe, exe_kind) = open_bytes(&args.exe)?;
    let (core, core_kind) = open_bytes(&args.core)?;
    // Accept the two files in either order.
    let (exe, core, exe_name, core_name) = match (exe_kind, core_kind) {
        (ArtifactKind::ElfExecutable, ArtifactKind::ElfCore) => (exe, core, args.exe, args.core),
        (ArtifactKind::ElfCore, ArtifactKind::ElfExecutable) => (core, exe, args.core, args.exe),
        (_, ArtifactKind::ElfCore) => {
            return Err(Failure::bad_input(anyhow!(
                "{} is not an ELF executable",
                args.exe
            )));
        }
        _ => {
            return Err(Failure::bad_input(anyhow!(
                "{} is not an ELF core dump",
                args.core
            )));
        }
    };
    let target = CoreTarget::open(&core, &exe)
        .map_err(|e| Failure::bad_input(anyhow!("{core_name}: {e}")))?;
    let p = Process::new(&target).map_err(|e| Failure::bad_input(anyhow!("{core_name}: {e}")))?;
    let limits = if args.all {
        LoadLimits::all()
    } else {
        LoadLimits::default()
    };
    let mut ctx = Ctx {
        p: &p,
        exe: exe_name,
        core: core_name,
        limits,
        core_map: match &core {
            Bytes::Mapped(m) => Some(m),
            Bytes::Owned(_) => None,
        },
    };
    let format = out.render_format();
    let colored = out.colored();
    match args.command {
        None => ctx.summary(format, colored, out),
        Some(Sub::Goroutines) => ctx.goroutines(format, colored, out),
        Some(Sub::Bt { goid }) => ctx.bt(goid, format, colored, out),
        Some(Sub::Locals { goid, frame }) => ctx.locals(goid, frame, format, colored, out),
        Some(Sub::Print { args: pa }) => {
            let (frame, expr) = match pa.as_slice() {
                [e] => (None, e.clone()),
                [g, f, e] => {
                    let g = g.parse::<u64>().map_err(|_| {
                        Failure::bad_input(anyhow!("goroutine id {g:?} is not a number"))
                    })?;
                    let f = f
                        .parse::<usize>()
                        .map_err(|_| Failure::bad_input(anyhow!("frame {f:?} is not a number")))?;
                    (Some((g, f)), e.clone())
                }
                _ => {
                    return Err(Failure::bad_input(anyhow!(
                        "print takes EXPR or GOID FRAME EXPR"
                    )));
                }
            };
            ctx.limits.max_depth = ctx.limits.max_depth.max(2);
            ctx.print(frame, &expr, format, colored, out)
        }
        Some(Sub::Maps) => ctx.maps(format, colored, out),
        Some(Sub::Threads) => ctx.threads(format, colored, out),
    }
}

struct Ctx<'p, 't, 'd> {
    p: &'p Process<'t, 'd>,
    exe: String,
    core: String,
    limits: LoadLimits,
    /// The mapped core, to hand its pages back between chunks of work.
    core_map: Option<&'p memmap2::Mmap>,
}

fn bad(e: impl std::fmt::Display) -> Failure {
    Failure::bad_input(anyhow!("{e}"))
}

impl<'t, 'd> Ctx<'_, 't, 'd> {
    fn info(&self) -> CoreInfo {
        let has_dwarf = self.p.binary().dwarf_info().is_some();
        CoreInfo {
            core: self.core.clone(),
            executable: self.exe.clone(),
            go_version: self.p.go_version().map(|v| v.to_string()),
            arch: self.p.arch().name().to_string(),
            threads: self.p.raw_threads().len(),
            layout: match self.p.layout().source {
                LayoutSource::Dwarf => "DWARF".into(),
                LayoutSource::Builtin => "gosleuth's table for this release".into(),
                LayoutSource::Nearest => "the nearest known release (may be wrong)".into(),
            },
            has_dwarf,
            warnings: self.p.warnings(),
        }
    }

    fn goroutines_list(&self) -> Result<&'_ [Goroutine], Failure> {
        self.p.goroutines().map_err(bad)
    }

    fn thread_id(&self, g: &Goroutine) -> Option<u64> {
        g.thread
            .and_then(|i| self.p.raw_threads().get(i))
            .map(|t| t.id)
    }

    /// Unwinds goroutines on all cores, `chunk` at a time, handing each
    /// chunk's stacks to `sink` in goroutine order.
    fn unwind_all(
        &self,
        gs: &[Goroutine],
        mut sink: impl FnMut(&Goroutine, Stack<'d>) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        const CHUNK: usize = 4096;
        let opts = UnwindOptions::default();
        // Reading every g touched their pages: let them go first.
        self.release_pages();
        for chunk in gs.chunks(CHUNK) {
            let stacks: Vec<Stack<'d>> = chunk
                .par_iter()
                .map_init(UnwindCache::new, |cache, g| self.p.unwind(g, cache, opts))
                .collect();
            for (g, s) in chunk.iter().zip(stacks) {
                sink(g, s)?;
            }
            self.release_pages();
        }
        Ok(())
    }

    /// Lets the kernel drop the core pages this process has touched so far
    /// from its resident set: a core of 100,000 goroutines is read once,
    /// stack after stack, and keeping every page mapped in would make peak
    /// memory grow with the core. The pages stay in the page cache and come
    /// back on the next access.
    fn release_pages(&self) {
        if let Some(m) = self.core_map {
            let _ = crate::input::release_pages(m, 0..m.len());
        }
    }

    fn summary(
        &self,
        format: gosleuth_render::Format,
        colored: bool,
        out: &mut Output,
    ) -> CmdResult {
        let crash = self.p.crash().map_err(bad)?;
        let gs = self.goroutines_list()?;
        // Group by state and stack; only distinct stacks are kept.
        struct Group<'d> {
            state: String,
            locked: bool,
            frames: Vec<(&'d str, &'d str, u32, bool, u64)>,
            ids: Vec<u64>,
            count: u64,
            created_by: Option<FrameView>,
        }
        let mut groups: Vec<Group<'d>> = Vec::new();
        // (state, locked to thread, frames) → index into `groups`.
        type GroupKey<'d> = (String, bool, Vec<(&'d str, &'d str, u32, bool, u64)>);
        let mut index: HashMap<GroupKey<'d>, usize> = HashMap::new();
        let mut states: HashMap<String, u64> = HashMap::new();
        let mut crashing_stack: Option<(usize, Stack<'d>)> = None;
        self.unwind_all(gs, |g, stack| {
            *states.entry(g.state().to_string()).or_default() += 1;
            let frames: Vec<(&'d str, &'d str, u32, bool, u64)> = stack
                .frames
                .iter()
                .map(|f| (f.function, f.file, f.line, f.inlined, f.offset))
                .collect();
            let key = (g.state().to_string(), g.locked, frames.clone());
            let i = *index.entry(key).or_insert_with(|| {
                groups.push(Group {
                    state: g.state().to_string(),
                    locked: g.locked,
                    frames,
                    ids: Vec::new(),
                    count: 0,
                    created_by: self.p.created_by(g).map(|c| FrameView {
                        function: traceback_name(c.function).into_owned(),
                        file: Some(c.file.to_string()),
                        line: c.line,
                        offset: None,
                        inlined: false,
                        args: None,
                        role: role_of(c.function),
                        parent_goroutine: c.parent,
                    }),
                });
                groups.len() - 1
            });
            groups[i].count += 1;
            if groups[i].ids.len() < 8 {
                groups[i].ids.push(g.id);
            }
            if Some(g.id) == crash.goroutine {
                let pos = gs.iter().position(|x| x.id == g.id).unwrap_or(0);
                crashing_stack = Some((pos, stack));
            }
            Ok(())
        })?;
        let crashing_id = crash.goroutine;
        let mut view = GoroutineView {
            input: self.core.clone(),
            total: gs.len() as u64,
            shown: gs.len() as u64,
            focus: "crashed",
            ..GoroutineView::default()
        };
        for g in &groups {
            view.groups.push(GroupView {
                count: g.count,
                state: g.state.clone(),
                wait_minutes: None,
                locked_to_thread: g.locked,
                created_by: g.created_by.clone(),
                ids: g.ids.clone(),
                frames: g
                    .frames
                    .iter()
                    .map(|&(function, file, line, inlined, offset)| FrameView {
                        function: traceback_name(function).into_owned(),
                        file: Some(file.to_string()),
                        line,
                        offset: (!inlined && offset != 0).then_some(offset as u32),
                        inlined,
                        args: None,
                        role: role_of(function),
                        parent_goroutine: None,
                    })
                    .collect(),
                elided: None,
                crashing: crashing_id.is_some_and(|id| g.ids.contains(&id) && g.count == 1)
                    || crashing_id.is_some_and(|id| g.ids.first() == Some(&id)),
                labels: None,
            });
        }
        // Crashing group first, then the biggest groups.
        view.groups
            .sort_by(|a, b| b.crashing.cmp(&a.crashing).then(b.count.cmp(&a.count)));
        let mut states: Vec<(String, u64)> = states.into_iter().collect();
        states.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let created;
        let crashing = match &crashing_stack {
            Some((pos, stack)) => {
                let g = &gs[*pos];
                created = self.p.created_by(g);
                Some(GoroutineStack {
                    g,
                    stack,
                    created_by: created.as_ref(),
                    thread: self.thread_id(g),
                })
            }
            None => None,
        };
        let sv = SummaryView {
            crash: &crash,
            crashing,
            states,
            groups: &view,
            total: gs.len(),
        };
        render::write_summary(&self.info(), &sv, format, colored, out.writer())?;
        Ok(())
    }

    fn goroutines(
        &self,
        format: gosleuth_render::Format,
        colored: bool,
        out: &mut Output,
    ) -> CmdResult {
        let gs = self.goroutines_list()?;
        let info = self.info();
        let mut w = render::GoroutineListWriter::begin(&info, format, colored, out.writer())?;
        self.unwind_all(gs, |g, stack| {
            let created = self.p.created_by(g);
            w.item(&GoroutineStack {
                g,
                stack: &stack,
                created_by: created.as_ref(),
                thread: self.thread_id(g),
            })?;
            Ok(())
        })?;
        // Warnings met while unwinding.
        w.end(&self.info())?;
        Ok(())
    }

    fn stack_of(&self, goid: u64) -> Result<(&Goroutine, Stack<'d>), Failure> {
        let g = self.p.goroutine(goid).map_err(bad)?;
        let mut cache = UnwindCache::new();
        let stack = self.p.unwind(g, &mut cache, UnwindOptions::default());
        Ok((g, stack))
    }

    fn bt(
        &self,
        goid: u64,
        format: gosleuth_render::Format,
        colored: bool,
        out: &mut Output,
    ) -> CmdResult {
        let (g, stack) = self.stack_of(goid)?;
        let created = self.p.created_by(g);
        let gs = GoroutineStack {
            g,
            stack: &stack,
            created_by: created.as_ref(),
            thread: self.thread_id(g),
        };
        render::write_backtrace(&self.info(), &gs, format, colored, out.writer())?;
        Ok(())
    }

    fn inspector(&self) -> Result<Inspector<'_, 't, 'd>, Failure> {
        Inspector::new(self.p, self.limits).map_err(bad)
    }

    fn locals(
        &self,
        goid: u64,
        frame: usize,
        format: gosleuth_render::Format,
        colored: bool,
        out: &mut Output,
    ) -> CmdResult {
        let (g, stack) = self.stack_of(goid)?;
        if frame >= stack.frames.len() {
            return Err(bad(format!(
                "goroutine {goid} has {} frames (0-{})",
                stack.frames.len(),
                stack.frames.len().saturating_sub(1)
            )));
        }
        let ins = self.inspector()?;
        let vars = ins.frame_variables(&stack, frame).map_err(bad)?;
        let created = self.p.created_by(g);
        let gs = GoroutineStack {
            g,
            stack: &stack,
            created_by: created.as_ref(),
            thread: self.thread_id(g),
        };
        render::write_locals(
            &self.info(),
            &gs,
            frame,
            &vars,
            format,
            colored,
            out.writer(),
        )?;
        Ok(())
    }

    fn print(
        &self,
        frame: Option<(u64, usize)>,
        expr: &str,
        format: gosleuth_render::Format,
        colored: bool,
        out: &mut Output,
    ) -> CmdResult {
        let e = gosleuth_target::parse_expr(expr).map_err(bad)?;
        let ins = self.inspector()?;
        let value = match frame {
            Some((goid, f)) => {
                let (_, stack) = self.stack_of(goid)?;
                if f >= stack.frames.len() {
                    return Err(bad(format!(
                        "goroutine {goid} has {} frames",
                        stack.frames.len()
                    )));
                }
                ins.eval(Some((&stack, f)), &e).map_err(bad)?
            }
            None => ins.eval(None, &e).map_err(bad)?,
        };
        render::write_value(&self.info(), expr, &value, format, colored, out.writer())?;
        Ok(())
    }

    fn maps(&self, format: gosleuth_render::Format, colored: bool, out: &mut Output) -> CmdResult {
        let info = self.info();
        // Entries are shown flat (no pointers followed) unless --all.
        let limits = if self.limits.max_map_entries == usize::MAX {
            self.limits
        } else {
            LoadLimits {
                max_depth: 0,
                max_elems: 4,
                max_map_entries: 8,
                max_string: 64,
                ..self.limits
            }
        };
        let Ok(ins) = Inspector::new(self.p, limits) else {
            render::write_maps(&info, &[], format, colored, out.writer())?;
            return Ok(());
        };
        let summary = self.p.summary().map_err(bad)?;
        let mut found = summary.maps.clone();
        for m in ins.global_maps(self.limits.max_map_entries == usize::MAX) {
            if !found.iter().any(|x| x.expr == m.expr && x.frame.is_none()) {
                found.push(m);
            }
        }
        // Which goroutines operate on each map (package variables too).
        let gs = self.goroutines_list()?;
        for m in &mut found {
            if m.header == 0 || !m.goroutines_in_map_ops.is_empty() {
                continue;
            }
            for s in &summary.goroutines {
                if s.map_ops.iter().any(|(_, h)| *h == Some(m.header)) {
                    m.goroutines_in_map_ops.push(s.id);
                }
            }
        }
        let _ = gs;
        // Load each map again with the entry limit to show entries.
        let mut values: Vec<Option<MapValue>> = Vec::new();
        for m in &found {
            let v = if m.nil {
                None
            } else {
                self.reload_map(&ins, m)
            };
            values.push(v);
        }
        let rows: Vec<_> = found
            .iter()
            .cloned()
            .zip(values.iter().map(Option::as_ref))
            .collect();
        render::write_maps(&self.info(), &rows, format, colored, out.writer())?;
        Ok(())
    }

    fn reload_map(
        &self,
        ins: &Inspector<'_, 't, 'd>,
        m: &gosleuth_target::MapSummary,
    ) -> Option<MapValue> {
        let e = gosleuth_target::parse_expr(&m.expr).ok();
        let v = match (m.frame, e) {
            (Some((goid, f)), Some(e)) => {
                let (_, stack) = self.stack_of(goid).ok()?;
                ins.eval(Some((&stack, f)), &e).ok()
            }
            (None, Some(e)) => ins.eval(None, &e).ok(),
            _ => None,
        };
        v.and_then(|v| v.as_map().cloned())
    }

    fn threads(
        &self,
        format: gosleuth_render::Format,
        colored: bool,
        out: &mut Output,
    ) -> CmdResult {
        let mut cache = UnwindCache::new();
        let infos = self.p.threads();
        let gs = self.p.goroutines().unwrap_or(&[]);
        let rows: Vec<_> = infos
            .iter()
            .map(|t| {
                let stack = self
                    .p
                    .unwind_thread(t.index, &mut cache, UnwindOptions::default());
                let goid = t
                    .curg()
                    .and_then(|a| gs.iter().find(|g| g.addr == a))
                    .map(|g| g.id);
                (t.id, t.m.as_ref().map(|m| m.id), goid, stack)
            })
            .collect();
        render::write_threads(&self.info(), &rows, format, colored, out.writer())?;
        Ok(())
    }
}

fn role_of(function: &str) -> FrameRole {
    use gosleuth_diagnose::funcs;
    if funcs::is_panic_marker(function) {
        FrameRole::PanicMachinery
    } else if funcs::is_runtime(function) {
        FrameRole::Runtime
    } else if funcs::is_std(function) {
        FrameRole::Std
    } else {
        FrameRole::User
    }
}
