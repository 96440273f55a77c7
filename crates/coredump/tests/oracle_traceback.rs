//! Oracle 1: a process dying under GOTRACEBACK=crash prints every goroutine
//! (runtime frames included) just before it dumps core. The goroutines,
//! their states and frames read from the core must equal that printout,
//! read with gosleuth's own traceback parser.
//!
//! Allowed differences, each checked:
//! - The goroutine that crashed (and any goroutine running on a thread) is
//!   unwound from the thread's registers, so its stack starts with the
//!   frames of the crash machinery the runtime leaves out of its printout
//!   (`runtime.raise`, `dieFromSignal`, `crash`, `fatalpanic`, the signal
//!   frame of the SIGABRT, the system stack of a `throw`). Those extra
//!   frames must all be runtime frames and come before the printed ones.
//! - Goroutines printed as `goroutine running on other thread; stack
//!   unavailable` have no stack to compare.
//! - `goroutine 0` blocks (g0 stacks of Ms in SIGQUIT dumps) are thread
//!   stacks, not goroutines.

mod common;

use common::CoreFixture;
use gosleuth_coredump::CoreTarget;
use gosleuth_target::{Process, UnwindCache, UnwindOptions, traceback_name};

fn check(f: &CoreFixture) -> Result<(), String> {
    let exe = f.exe();
    let core = f.core();
    let target = CoreTarget::open(&core, &exe).map_err(|e| e.to_string())?;
    let p = Process::new(&target).map_err(|e| e.to_string())?;
    let ours = p.goroutines().map_err(|e| e.to_string())?;
    let stderr = f.stderr();
    let dump = gosleuth_traceback::scan(&stderr, &Default::default());
    // The first trace is the one printed before the core (SIGQUIT dumps
    // have more: one per M, after `-----`).
    let trace = dump.traces.first().ok_or("no trace in stderr.txt")?;
    let mut problems = Vec::new();
    let mut cache = UnwindCache::new();
    let mut printed = std::collections::BTreeSet::new();
    for tg in &trace.goroutines {
        if tg.id == 0 {
            continue;
        }
        printed.insert(tg.id);
        let Some(g) = ours.iter().find(|g| g.id == tg.id) else {
            problems.push(format!(
                "goroutine {} is printed but not found in the core",
                tg.id
            ));
            continue;
        };
        let state = dump.str(tg.state);
        if state != g.state() {
            problems.push(format!(
                "goroutine {}: state {:?}, core says {:?}",
                g.id,
                state,
                g.state()
            ));
        }
        if tg.flags.locked_to_thread != g.locked {
            problems.push(format!(
                "goroutine {}: locked to thread {} vs {}",
                g.id, tg.flags.locked_to_thread, g.locked
            ));
        }
        if let Some(m) = tg.m {
            let want = m.map(i64::from);
            if want != g.m_id {
                problems.push(format!(
                    "goroutine {}: m={want:?}, core says {:?}",
                    g.id, g.m_id
                ));
            }
        }
        if let Some(cb) = &tg.created_by {
            match p.created_by(g) {
                Some(c) => {
                    let tf = dump.str(cb.function);
                    if tf != traceback_name(c.function)
                        || cb.line != c.line
                        || cb.parent != c.parent
                    {
                        problems.push(format!(
                            "goroutine {}: created by {tf}:{} in {:?}, core says {}:{} in {:?}",
                            g.id, cb.line, cb.parent, c.function, c.line, c.parent
                        ));
                    }
                }
                None => problems.push(format!("goroutine {}: no creator found", g.id)),
            }
        }
        if tg.stack_unavailable {
            continue;
        }
        let theirs: Vec<(String, String, u32)> = dump
            .stack(tg.stack)
            .frames
            .iter()
            .map(|fr| {
                (
                    dump.str(fr.function).to_string(),
                    fr.file.map(|s| dump.str(s).to_string()).unwrap_or_default(),
                    fr.line,
                )
            })
            .collect();
        let stack = p.unwind(g, &mut cache, UnwindOptions::default());
        let mine: Vec<(String, String, u32)> = stack
            .frames
            .iter()
            .map(|fr| {
                (
                    traceback_name(fr.function).into_owned(),
                    fr.file.to_string(),
                    fr.line,
                )
            })
            .collect();
        let elided = dump.stack(tg.stack).elided.is_some();
        let ok = if elided {
            mine.ends_with(&theirs[theirs.len().saturating_sub(10)..])
        } else if mine.len() >= theirs.len() && mine.ends_with(&theirs) {
            let extra = &mine[..mine.len() - theirs.len()];
            let on_thread = g.thread.is_some();
            if !extra.is_empty() && !on_thread {
                problems.push(format!(
                    "goroutine {}: {} extra frames on a parked goroutine: {extra:?}",
                    g.id,
                    extra.len()
                ));
            }
            if let Some(bad) = extra.iter().find(|(func, _, _)| {
                !func.starts_with("runtime.") && !func.starts_with("internal/runtime/")
            }) {
                problems.push(format!(
                    "goroutine {}: extra frame {bad:?} is not a runtime frame",
                    g.id
                ));
            }
            true
        } else {
            false
        };
        if !ok {
            problems.push(format!(
                "goroutine {} [{}]: frames differ (unwinding {:?}, stopped: {:?})\n  printed: {theirs:#?}\n  core:    {mine:#?}",
                g.id, g.state(), stack.source, stack.stopped
            ));
        }
    }
    for g in ours {
        if !printed.contains(&g.id) {
            problems.push(format!(
                "goroutine {} [{}] is in the core but was not printed",
                g.id,
                g.state()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn main() {
    common::run_trials("oracle_traceback", |_| true, check)
}
