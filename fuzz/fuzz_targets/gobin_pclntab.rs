//! Any bytes as a bare pclntab (all four layouts share the 8-byte header,
//! so mutations of real tables explore every version's decoder).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(tab) = gosleuth_gobin::Pclntab::from_bytes(data, 0x401000) else {
        return;
    };
    let mut sym = gosleuth_gobin::Symbolizer::new(&tab);
    let mut pcs = Vec::new();
    for f in tab.funcs().take(4096) {
        let Ok(f) = f else { continue };
        let e = f.entry();
        let _ = (
            f.name(),
            f.end(),
            f.max_sp_delta(),
            f.file(e),
            f.line(e),
            f.sp_delta(e),
        );
        let _ = f.pcdata_ranges(2).count();
        let _ = f.funcdata(3);
        let _ = sym.frames(e + 1);
        pcs.extend([e, e + 1, e + 7]);
    }
    // A batch, as `binary symbolize` resolves it, and every frame of it.
    pcs.sort_unstable();
    let mut chains = gosleuth_gobin::Chains::new();
    let mut ids = Vec::new();
    gosleuth_gobin::Symbolizer::new(&tab)
        .resolve(pcs.iter().copied(), &mut chains, |id| ids.push(id));
    for id in ids {
        if let Some(chain) = chains.get(id) {
            let _ = chain.frames().count() + chain.frame_texts().count();
        }
    }
});
