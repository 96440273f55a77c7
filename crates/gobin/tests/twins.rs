//! Builds of the same program that must agree where the architecture does
//! not matter: stripped vs unstripped (same code, so the same answer at
//! every PC), arm64 vs amd64 (same functions, files and start lines), and a
//! binary whose section headers were removed (pclntab and moduledata found
//! by scanning the loaded segments).

mod common;

use std::collections::HashMap;

use common::*;
use gosleuth_gobin::{Binary, FoundBy};

fn pairs<'a>(fixtures: &'a [Fixture], a: &str, b: &str) -> Vec<(&'a Fixture, &'a Fixture)> {
    let mut out = Vec::new();
    for x in fixtures.iter().filter(|f| f.variant == a) {
        if let Some(y) = fixtures
            .iter()
            .find(|f| f.variant == b && f.group == x.group)
        {
            out.push((x, y));
        }
    }
    out
}

fn same_answers(full: &Fixture, other: &Fixture, check_scan: bool) -> usize {
    let fb = full.bytes();
    let ob = other.bytes();
    let fbin = Binary::parse(&fb).unwrap();
    let obin = Binary::parse(&ob).unwrap();
    let ft = fbin.pclntab().unwrap();
    let ot = obin.pclntab().unwrap();
    if check_scan {
        assert_eq!(
            obin.pclntab_found_by().unwrap(),
            FoundBy::Scan,
            "{}",
            other.label
        );
    }
    assert_eq!(
        ft.len(),
        ot.len(),
        "{} vs {}: function count",
        full.label,
        other.label
    );
    assert_eq!(
        ft.text_start(),
        ot.text_start(),
        "{}: text start",
        other.label
    );
    for (a, b) in ft.funcs().zip(ot.funcs()) {
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(
            (a.name(), a.entry(), a.end()),
            (b.name(), b.entry(), b.end()),
            "{} vs {}",
            full.label,
            other.label
        );
    }
    let pcs = sample_pcs(ft, 20_000, 42);
    for &pc in &pcs {
        assert_eq!(
            fbin.frames(pc).unwrap(),
            obin.frames(pc).unwrap(),
            "{} vs {} at {pc:#x}",
            full.label,
            other.label
        );
    }
    // `-ldflags=-s -w` shows up as a build setting; nothing else differs.
    let settings = |bin: &Binary<'_>| {
        let mut bi = bin.build_info().unwrap();
        bi.settings.retain(|s| s.key != "-ldflags");
        bi
    };
    assert_eq!(
        settings(&fbin),
        settings(&obin),
        "{}: build info",
        other.label
    );
    pcs.len()
}

#[test]
fn stripped_builds_answer_like_unstripped() {
    let Some(fixtures) = fixtures_or_skip() else {
        return;
    };
    let mut n = 0;
    for (a, b) in pairs(&fixtures, "default", "stripped")
        .into_iter()
        .chain(pairs(&fixtures, "arm64", "arm64-stripped"))
        .chain(pairs(&fixtures, "cgo", "cgo-stripped"))
    {
        // `-s -w` relinks: the text is the same, tables move.
        n += same_answers(a, b, false);
    }
    assert!(
        n > 0 || !ci(),
        "no stripped/unstripped pair among the fixtures"
    );
    eprintln!("compared {n} PCs of stripped builds");
}

/// Removes the section header table: what a packer or `sstrip` leaves.
fn without_sections(mut elf: Vec<u8>) -> Vec<u8> {
    assert_eq!(elf[4], 2, "64-bit ELF expected");
    // e_shoff (0x28, 8 bytes), e_shnum (0x3c), e_shstrndx (0x3e).
    elf[0x28..0x30].fill(0);
    elf[0x3c..0x40].fill(0);
    elf
}

#[test]
fn sectionless_binaries_are_found_by_scanning() {
    let Some(fixtures) = fixtures_or_skip() else {
        return;
    };
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sectionless");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut n = 0;
    for f in fixtures.iter().filter(|f| {
        matches!(
            f.variant.as_str(),
            "stripped" | "cgo" | "arm64-stripped" | "pie"
        )
    }) {
        let path = tmp.join(f.label.replace('/', "_"));
        std::fs::write(&path, without_sections(f.bytes())).unwrap();
        let copy = Fixture {
            label: format!("{} without sections", f.label),
            group: f.group.clone(),
            variant: f.variant.clone(),
            path,
        };
        n += same_answers(f, &copy, true);
    }
    assert!(n > 0 || !ci(), "no fixture to strip of its sections");
}

/// Files whose code differs per architecture.
fn arch_specific(file: &str) -> bool {
    file.ends_with(".s")
        || ["amd64", "arm64", "_x86", "_arm", "internal/cpu/", "/cpu_"]
            .iter()
            .any(|s| file.contains(s))
}

#[test]
fn arm64_builds_have_the_same_functions_files_and_lines() {
    let Some(fixtures) = fixtures_or_skip() else {
        return;
    };
    let mut compared = 0;
    for (amd, arm) in pairs(&fixtures, "default", "arm64") {
        let (ab, rb) = (amd.bytes(), arm.bytes());
        let (abin, rbin) = (Binary::parse(&ab).unwrap(), Binary::parse(&rb).unwrap());
        assert_eq!(abin.elf().goarch(), "amd64");
        assert_eq!(rbin.elf().goarch(), "arm64");
        let index = |bin: &Binary<'_>| -> HashMap<String, (String, Option<i32>)> {
            let tab = bin.pclntab().unwrap();
            tab.funcs()
                .map(|f| f.unwrap())
                .filter_map(|f| {
                    let file = f.file(f.entry())?.to_string();
                    // ABI wrappers share the name of the function they wrap
                    // and exist on some architectures only.
                    if file == "<autogenerated>" {
                        return None;
                    }
                    // Which lines survive in the code, and the line of the
                    // first instruction, are up to each backend (arm64
                    // fuses a multiply into the add that uses it and takes
                    // its line; leaf functions without a prologue start at
                    // their first statement); the file and the line of the
                    // `func` keyword are not.
                    Some((f.name()?.to_string(), (file, f.start_line())))
                })
                .collect()
        };
        let (ai, ri) = (index(&abin), index(&rbin));
        let mut mismatches = Vec::new();
        let mut main_funcs = 0;
        for (name, a) in &ai {
            let Some(r) = ri.get(name) else { continue };
            if arch_specific(&a.0) || arch_specific(&r.0) {
                continue;
            }
            compared += 1;
            if name.starts_with("main.") {
                main_funcs += 1;
            }
            if a != r {
                mismatches.push(format!("{name}: amd64 {a:?} arm64 {r:?}"));
            }
        }
        assert!(main_funcs > 0, "{}: no main.* function compared", amd.label);
        let mains = |i: &HashMap<String, (String, Option<i32>)>| {
            let mut v: Vec<String> = i
                .keys()
                .filter(|n| n.starts_with("main."))
                .cloned()
                .collect();
            v.sort();
            v
        };
        assert_eq!(mains(&ai), mains(&ri), "{}: main.* functions", amd.label);
        assert!(
            mismatches.is_empty(),
            "{} vs {}:\n{}",
            amd.label,
            arm.label,
            mismatches.join("\n")
        );
    }
    assert!(
        compared > 0 || !ci(),
        "no amd64/arm64 pair among the fixtures"
    );
    eprintln!("compared {compared} functions across architectures");
}
