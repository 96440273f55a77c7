//! Truncated and corrupted cores never panic: they give partial results
//! and warnings naming what is missing.
//!
//! Each fixture is (1) cut at several lengths, (2) bit-flipped at random
//! places, and (3) corrupted where it hurts: inside `runtime.allgs`, the
//! `g` structs, and map headers and buckets/groups, found through a healthy
//! read of the same core. Every variant runs the whole pipeline (goroutines,
//! every stack, threads, the crash, the summary, package variables with
//! every map entry, the crashing goroutine's variables) inside
//! `catch_unwind`.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::CoreFixture;
use gosleuth_coredump::CoreTarget;
use gosleuth_gobin::Binary;
use gosleuth_target::{Inspector, LoadLimits, Process, Target, UnwindCache, UnwindOptions};

/// A small deterministic PRNG (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// Runs everything; returns the warnings.
fn pipeline(core: &[u8], exe: &Binary<'_>) -> Vec<String> {
    let Ok(target) = CoreTarget::open_with(core, exe) else {
        return vec!["open failed".into()];
    };
    let mut warnings = target.warnings();
    let Ok(p) = Process::new(&target) else {
        warnings.push("process failed".into());
        return warnings;
    };
    let mut cache = UnwindCache::new();
    let opts = UnwindOptions { max_frames: 512 };
    if let Ok(gs) = p.goroutines() {
        for g in gs {
            let _ = p.unwind(g, &mut cache, opts);
            let _ = p.created_by(g);
        }
    }
    for i in 0..p.raw_threads().len() {
        let _ = p.unwind_thread(i, &mut cache, opts);
    }
    let crash = p.crash();
    let _ = p.summary();
    if let Ok(mut ins) = Inspector::new(&p, LoadLimits::default()) {
        for name in ["main.cache", "main.index"] {
            let _ = ins.global(name);
        }
        let _ = ins.global_maps(false);
        ins.set_limits(LoadLimits::all());
        for name in ["main.cache", "main.index"] {
            let _ = ins.global(name);
        }
        if let (Ok(c), Ok(gs)) = (&crash, p.goroutines())
            && let Some(g) = c.goroutine.and_then(|id| gs.iter().find(|g| g.id == id))
        {
            let stack = p.unwind(g, &mut cache, opts);
            for i in 0..stack.frames.len() {
                let _ = ins.frame_variables(&stack, i);
            }
        }
    }
    warnings.extend(p.warnings());
    warnings
}

fn guarded(core: &[u8], exe: &Binary<'_>, what: &str) -> Result<Vec<String>, String> {
    catch_unwind(AssertUnwindSafe(|| pipeline(core, exe))).map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{what}: panicked: {msg}")
    })
}

/// File offset of a virtual address in the core.
fn file_offset(core: &[u8], addr: u64) -> Option<usize> {
    let c = gosleuth_coredump::Core::parse(core).ok()?;
    c.segments
        .iter()
        .find(|s| s.vaddr <= addr && addr < s.vaddr + s.present)
        .map(|s| (s.offset + (addr - s.vaddr)) as usize)
}

/// Interesting regions (address, length) of a healthy core.
fn regions(core: &[u8], exe: &Binary<'_>) -> Vec<(&'static str, u64, u64)> {
    let mut out = Vec::new();
    let Ok(target) = CoreTarget::open_with(core, exe) else {
        return out;
    };
    let Ok(p) = Process::new(&target) else {
        return out;
    };
    let r = p.reader();
    if let Some(allgs) = p.globals().allgs {
        out.push(("allgs header", allgs, 24));
        if let Ok(ptr) = r.ptr(allgs) {
            out.push(("allgs array", ptr, 64));
        }
    }
    if let Ok(gs) = p.goroutines() {
        for g in gs.iter().take(6) {
            out.push(("g struct", g.addr, 400));
            if g.sched.sp != 0 {
                out.push(("goroutine stack", g.sched.sp, 256));
            }
        }
    }
    if let Ok(ins) = Inspector::new(&p, LoadLimits::default()) {
        for name in ["main.cache", "main.index"] {
            if let Ok(v) = ins.global(name)
                && let Some(m) = v.as_map().filter(|m| m.addr != 0)
            {
                out.push(("map header", m.addr, 48));
                match &m.header {
                    Some(gosleuth_target::MapHeader::Classic(h)) => {
                        out.push(("buckets", h.buckets, 512));
                        if h.oldbuckets != 0 {
                            out.push(("old buckets", h.oldbuckets, 512));
                        }
                    }
                    Some(gosleuth_target::MapHeader::Swiss(h)) => {
                        out.push(("directory", h.dir_ptr, 64));
                        if let Some(t) = h.tables.first() {
                            out.push(("table", t.addr, 32));
                        }
                    }
                    None => {}
                }
            }
        }
    }
    out
}

fn check(f: &CoreFixture) -> Result<(), String> {
    let exe_bytes = f.exe();
    // Parsed once: its decompressed DWARF serves every variant.
    let exe = Binary::parse(&exe_bytes).map_err(|e| e.to_string())?;
    let core = f.core();
    let healthy = guarded(&core, &exe, "healthy core")?;
    if healthy.iter().any(|w| w.contains("truncated")) {
        return Err(format!("the healthy core reports truncation: {healthy:?}"));
    }
    // 1. Truncation.
    let len = core.len();
    let cuts: &[usize] = if full() {
        &[
            64,
            1000,
            len / 100,
            len / 10,
            len / 3,
            len / 2,
            len * 9 / 10,
            len - 4096,
            len - 1,
        ]
    } else {
        &[64, len / 10, len / 2, len * 9 / 10, len - 1]
    };
    for &cut in cuts {
        let w = guarded(&core[..cut], &exe, &format!("cut at {cut}"))?;
        if cut > 4096
            && !w
                .iter()
                .any(|w| w.contains("truncated") || w.contains("cut off"))
            && !w.contains(&"open failed".to_string())
        {
            return Err(format!(
                "cut at {cut}: no warning names the truncation: {w:?}"
            ));
        }
    }
    // 2. Random bit flips anywhere.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ len as u64);
    for i in 0..if full() { 40 } else { 4 } {
        let mut c = core.clone();
        for _ in 0..64 {
            let at = rng.below(len as u64) as usize;
            c[at] ^= 1 << rng.below(8);
        }
        guarded(&c, &exe, &format!("random flips #{i}"))?;
    }
    // 3. Targeted corruption.
    let regions = regions(&core, &exe);
    let take = if full() { regions.len() } else { 10 };
    for (what, addr, n) in regions.into_iter().take(take) {
        let Some(off) = file_offset(&core, addr) else {
            continue;
        };
        for i in 0..if full() { 12 } else { 2 } {
            let mut c = core.clone();
            for _ in 0..(1 + i % 4) {
                let at = off + rng.below(n) as usize;
                if at < c.len() {
                    c[at] = match rng.below(4) {
                        0 => 0xff,
                        1 => 0,
                        _ => rng.next() as u8,
                    };
                }
            }
            guarded(&c, &exe, &format!("{what} at {addr:#x} corrupted #{i}"))?;
        }
    }
    Ok(())
}

/// `GOSLEUTH_ROBUSTNESS=full` runs every fixture with many more variants
/// (about 20 minutes in a debug build); the default is a quick sample.
fn full() -> bool {
    std::env::var("GOSLEUTH_ROBUSTNESS").as_deref() == Ok("full")
}

fn main() {
    common::run_trials(
        "robustness",
        |f| {
            full()
                || (f.go == "go1.26" && f.build == "default")
                || (f.scenario == "maps" && f.build != "stripped")
                || (f.build == "stripped" && f.scenario == "nilmap")
        },
        check,
    )
}
