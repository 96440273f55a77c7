//! Development aid: prints goroutines and stacks of a core.
//!
//!     cargo run -p gosleuth-coredump --example core_dump -- EXE CORE

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let exe = std::fs::read(&args[1]).expect("exe");
    let core = std::fs::read(&args[2]).expect("core");
    let t = gosleuth_coredump::CoreTarget::open(&core, &exe).expect("open");
    let p = gosleuth_target::Process::new(&t).expect("process");
    debug_threads(&t, &p);
    println!(
        "version {:?} layout {:?} globals {:?}",
        p.go_version(),
        p.layout().source,
        p.globals()
    );
    for th in p.threads() {
        println!(
            "thread {} g={:#x} m={:?}",
            th.id,
            th.g,
            th.m.as_ref().map(|m| (m.id, m.curg))
        );
    }
    let mut cache = gosleuth_target::UnwindCache::new();
    for g in p.goroutines().expect("goroutines") {
        println!(
            "\ngoroutine {} [{}] m={:?} thread={:?} sys={}",
            g.id,
            g.state(),
            g.m_id,
            g.thread,
            g.system
        );
        let s = p.unwind(g, &mut cache, Default::default());
        for f in &s.frames {
            println!(
                "{}{}\n\t{}:{} +{:#x}",
                f.function,
                if f.inlined { "(...)" } else { "" },
                f.file,
                f.line,
                f.offset
            );
        }
        if let Some(e) = &s.stopped {
            println!("  [stopped: {e}]");
        }
    }
    for m in p.ms() {
        println!(
            "m{} procid {} curg {:#x} throwing {:?} dying {} caughtsig {:#x}",
            m.id, m.procid, m.curg, m.throwing, m.dying, m.caughtsig
        );
    }
    let c = p.crash().expect("crash");
    println!(
        "\ncrash: goroutine {:?} thread {:?} cause {:?} fatal {:?} throwing {:?}",
        c.goroutine, c.thread, c.cause_signal, c.fatal, c.throwing
    );
    for pi in &c.panics {
        println!(
            "  panic {:?} type {:?} recovered {}",
            pi.text,
            pi.rtype.as_ref().map(|t| &t.name),
            pi.recovered
        );
    }
    for w in p.warnings() {
        println!("warning: {w}");
    }
}

#[allow(dead_code)]
fn debug_threads(t: &gosleuth_coredump::CoreTarget<'_, '_>, p: &gosleuth_target::Process<'_, '_>) {
    use gosleuth_target::Target;
    let r = p.reader();
    for th in t.threads() {
        let g = r.ptr(th.regs.tls.wrapping_sub(8));
        println!(
            "lwp {} fs {:#x} g {:?} r14 {:?} pc {:#x} sp {:#x}",
            th.id,
            th.regs.tls,
            g.map(|v| format!("{v:#x}")),
            th.regs.get(14).map(|v| format!("{v:#x}")),
            th.regs.pc,
            th.regs.sp
        );
        if let Ok(g) = g {
            let m = r.ptr(g + p.layout().g.m);
            println!("   m {:?} -> {:?}", m, m.ok().map(|m| p.read_m(m)));
        }
    }
}
