//! Development aid: locals of frames whose function matches, and globals.
//!
//!     cargo run -p gosleuth-coredump --example core_vars -- EXE CORE GOID FUNC [GLOBAL...]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let exe = std::fs::read(&args[1]).expect("exe");
    let core = std::fs::read(&args[2]).expect("core");
    let goid: u64 = args[3].parse().unwrap();
    let t = gosleuth_coredump::CoreTarget::open(&core, &exe).expect("open");
    let p = gosleuth_target::Process::new(&t).expect("process");
    let ins = gosleuth_target::Inspector::new(&p, Default::default()).expect("inspector");
    let g = p.goroutine(goid).expect("goroutine");
    let mut cache = gosleuth_target::UnwindCache::new();
    let s = p.unwind(g, &mut cache, Default::default());
    for (i, f) in s.frames.iter().enumerate() {
        if !f.function.contains(args[4].as_str()) {
            continue;
        }
        println!("frame {i} {}", f.function);
        match ins.frame_variables(&s, i) {
            Ok(vars) => {
                for v in vars {
                    let mut d = format!("{:?}", v.value);
                    d.truncate(400);
                    println!("  {:?} {} = {}", v.role, v.name, d);
                }
            }
            Err(e) => println!("  error: {e}"),
        }
    }
    for name in &args[5..] {
        let v = gosleuth_target::parse_expr(name).and_then(|e| ins.eval(Some((&s, 0)), &e));
        let mut d = format!("{v:?}");
        d.truncate(1500);
        println!("{name} = {d}");
    }
}
