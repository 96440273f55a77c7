//! Truncated and bit-flipped binaries: every query returns an error or an
//! answer, never a panic, and errors say where they happened.

mod common;

use common::*;
use gosleuth_gobin::{Binary, ErrorKind, Pclntab, Pos};

/// Runs every query gobin offers on `data`; only panics can fail.
fn exercise(data: &[u8], with_dwarf: bool) {
    let Ok(bin) = Binary::parse(data) else { return };
    let _ = bin.summary();
    let _ = bin.build_info();
    let _ = bin.dwarf_info();
    if let Ok(tab) = bin.pclntab() {
        exercise_tab(tab);
        let mut sym = Symbolizer(bin.symbolizer().ok());
        if let Some(mut pcs) = pcs(tab) {
            for &pc in &pcs {
                let _ = bin.frames(pc);
                let _ = bin.frames_for_return_address(pc);
                let _ = bin.sp_delta(pc);
                sym.frames(pc);
            }
            pcs.sort_unstable();
            resolve_all(tab, &pcs);
        }
        let _ = bin.func_by_name("main.main");
    }
    if with_dwarf && let Ok(d) = bin.dwarf() {
        let _ = d.compile_units();
        let _ = d.offset_of("runtime.g", "sched.sp");
        let _ = d.constants_with_prefix("runtime.waitReason");
        let _ = d.global("runtime.allgs");
        if let Ok(f) = d.function("main.work") {
            let _ = d.variables(&f);
            let _ = d.line_at(f.low_pc);
        }
        if let Ok(p) = d.type_by_name("main.Point") {
            let _ = d.underlying(p.id);
        }
    }
}

struct Symbolizer<'a, 't>(Option<gosleuth_gobin::Symbolizer<'a, 't>>);

impl Symbolizer<'_, '_> {
    fn frames(&mut self, pc: u64) {
        if let Some(s) = self.0.as_mut() {
            let _ = s.frames(pc);
        }
    }
}

/// Resolves `pcs` in a batch and reads every frame of every chain.
fn resolve_all(tab: &Pclntab<'_>, pcs: &[u64]) {
    let mut sym = gosleuth_gobin::Symbolizer::new(tab);
    let mut chains = gosleuth_gobin::Chains::new();
    let mut ids = Vec::new();
    sym.resolve(pcs.iter().copied(), &mut chains, |id| ids.push(id));
    for id in ids {
        if let Some(chain) = chains.get(id) {
            let _ = chain.frames().count() + chain.frame_texts().count();
        }
    }
}

fn pcs(tab: &Pclntab<'_>) -> Option<Vec<u64>> {
    let lo = tab.entry_at(0)?;
    let hi = tab.entry_at(tab.len())?;
    if hi <= lo {
        return None;
    }
    let mut rng = Rng(5);
    Some((0..200).map(|_| lo + rng.below(hi - lo)).collect())
}

fn exercise_tab(tab: &Pclntab<'_>) {
    for f in tab.funcs().take(5000) {
        let Ok(f) = f else { continue };
        let _ = (
            f.name(),
            f.end(),
            f.max_sp_delta(),
            f.file(f.entry()),
            f.line(f.entry()),
        );
        let _ = f.inlined_call(f.entry());
        let _ = f.funcdata(3);
        let _ = f.pcdata_ranges(2).count();
    }
}

fn small_fixtures() -> Option<Vec<Fixture>> {
    let all = fixtures_or_skip()?;
    let mut picked: Vec<Fixture> = Vec::new();
    for variant in ["default", "stripped", "arm64", "pie"] {
        if let Some(f) = all
            .iter()
            .find(|f| f.variant == variant && f.group.contains("gobin_probe"))
        {
            picked.push(f.clone());
        }
    }
    if picked.is_empty() {
        picked.extend(all.into_iter().take(2));
    }
    Some(picked)
}

#[test]
fn truncated_binaries_never_panic() {
    let Some(fixtures) = small_fixtures() else {
        return;
    };
    for f in &fixtures {
        let data = f.bytes();
        let bin = Binary::parse(&data).unwrap();
        let tab = bin.pclntab().unwrap();
        // File offset of the pclntab: where its bytes sit in `data`.
        let hdr = tab.address();
        let seg_off = bin
            .elf()
            .memory()
            .read(hdr, 8)
            .map(|s| s.as_ptr() as usize - data.as_ptr() as usize)
            .unwrap();
        let mut cuts: Vec<usize> = (0..128).step_by(4).collect();
        cuts.extend((1..200).map(|i| data.len() * i / 200));
        cuts.extend((0..600).step_by(13).map(|i| seg_off + i));
        for (n, cut) in cuts.into_iter().enumerate() {
            exercise(&data[..cut.min(data.len())], n % 25 == 0);
        }
    }
}

#[test]
fn bit_flips_never_panic() {
    let Some(fixtures) = small_fixtures() else {
        return;
    };
    let mut rng = Rng(0xdead_beef);
    for f in &fixtures {
        let orig = f.bytes();
        let bin = Binary::parse(&orig).unwrap();
        let tab = bin.pclntab().unwrap();
        let ptr = |addr: u64| {
            bin.elf()
                .memory()
                .read(addr, 1)
                .map(|s| s.as_ptr() as usize - orig.as_ptr() as usize)
        };
        let tab_off = ptr(tab.address()).unwrap();
        let tab_len = tab.size();
        let bi = bin
            .elf()
            .section(".go.buildinfo")
            .map(|(a, d)| (ptr(a).unwrap(), d.len()));
        let mut data = orig.clone();
        let flip = |data: &mut Vec<u8>, off: usize, dwarf: bool, r: u64| {
            let bit = 1u8 << (r % 8);
            data[off] ^= bit;
            exercise(data, dwarf);
            data[off] ^= bit;
        };
        // The pclntab: header, functab, records, tables.
        for i in 0..200 {
            let off = if i < 60 {
                tab_off + rng.below(64.min(tab_len as u64)) as usize
            } else {
                tab_off + rng.below(tab_len as u64) as usize
            };
            flip(&mut data, off, false, rng.next());
        }
        // ELF, program and section headers.
        for _ in 0..100 {
            let off = rng.below(0x400) as usize;
            flip(&mut data, off, false, rng.next());
        }
        if let Some((off, len)) = bi {
            for _ in 0..40 {
                let o = off + rng.below(len as u64) as usize;
                flip(&mut data, o, false, rng.next());
            }
        }
        // Anywhere, DWARF included.
        for _ in 0..12 {
            let o = rng.below(data.len() as u64) as usize;
            flip(&mut data, o, true, rng.next());
        }
        assert_eq!(data, orig);
    }
}

#[test]
fn truncated_pclntab_errors_name_the_table_and_offset() {
    let Some(fixtures) = small_fixtures() else {
        return;
    };
    let f = &fixtures[0];
    let data = f.bytes();
    let bin = Binary::parse(&data).unwrap();
    let tab = bin.pclntab().unwrap();
    let raw = bin
        .elf()
        .memory()
        .read(tab.address(), tab.size() as u64)
        .unwrap();
    let full = Pclntab::from_bytes(raw, tab.address()).unwrap();
    assert_eq!(full.len(), tab.len());
    let e = Pclntab::from_bytes(&raw[..6], tab.address()).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::Truncated {
            what: "pclntab header"
        }
    );
    assert_eq!(e.to_string(), "truncated pclntab header at pclntab+0x0");
    // Cut inside the functab: the function count no longer fits.
    let e = Pclntab::from_bytes(&raw[..0x200], tab.address()).unwrap_err();
    assert!(
        matches!(
            e.pos(),
            Pos::Section {
                name: "pclntab",
                ..
            }
        ),
        "{e}"
    );
    // Cut after the functab: records beyond the cut fail, located.
    let cut = raw.len() * 3 / 4;
    if let Ok(t) = Pclntab::from_bytes(&raw[..cut], tab.address()) {
        let errs: Vec<String> = t
            .funcs()
            .filter_map(|f| f.err())
            .map(|e| e.to_string())
            .collect();
        for e in &errs {
            assert!(e.contains(" at pclntab+0x"), "{e}");
        }
    }
    // A bad magic says which.
    let mut bad = raw.to_vec();
    bad[0] ^= 0x40;
    let e = Pclntab::from_bytes(&bad, tab.address()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::BadPclntabMagic(_)), "{e}");
    assert!(e.to_string().starts_with("unknown pclntab magic 0x"), "{e}");
    // Not ELF at all.
    let e = Binary::parse(b"MZ\x90\x00not an elf").unwrap_err();
    assert!(e.to_string().contains("not an ELF file"), "{e}");
}
