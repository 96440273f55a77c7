//! Any bytes as a Go executable: every gobin query must return, not panic.
//! Seed the corpus with fixture binaries (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(bin) = gosleuth_gobin::Binary::parse(data) else {
        return;
    };
    let _ = bin.summary();
    let _ = bin.build_info();
    if let Ok(tab) = bin.pclntab() {
        let (Some(lo), Some(hi)) = (tab.entry_at(0), tab.entry_at(tab.len())) else {
            return;
        };
        for f in tab.funcs().take(2000) {
            let Ok(f) = f else { continue };
            let _ = (f.name(), f.end(), f.max_sp_delta(), f.file(f.entry()));
        }
        if hi > lo {
            let step = ((hi - lo) / 64).max(1);
            let mut sym = bin.symbolizer().ok();
            let mut pc = lo;
            while pc < hi {
                let _ = bin.frames(pc);
                if let Some(s) = sym.as_mut() {
                    let _ = s.frames(pc);
                }
                pc += step;
            }
        }
    }
    if let Ok(d) = bin.dwarf() {
        let _ = d.compile_units();
        let _ = d.offset_of("runtime.g", "sched.sp");
        let _ = d.constants_with_prefix("runtime.");
        if let Ok(f) = d.function("main.main") {
            let _ = d.variables(&f);
            let _ = d.line_at(f.low_pc);
        }
    }
});
