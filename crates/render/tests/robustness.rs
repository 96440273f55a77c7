//! Bad input is normal input: every text fixture, truncated at every 97th
//! byte and with random bytes flipped, goes through the whole pipeline
//! (scan, diagnose, every renderer) without a panic.
//!
//! Inputs: the crashlab fixtures, `../shared/realworld` and the gostackparse
//! dumps. Files over 64 KiB contribute their first 64 KiB: truncation makes
//! the cost quadratic in the size, and the first 64 KiB of a dump hold every
//! construct its remainder repeats.

use std::io::Read;
use std::path::{Path, PathBuf};

use gosleuth_diagnose::{DiagnoseOptions, GroupFilter, TextEvidence, analyze_text};
use gosleuth_render::{Format, write_goroutines, write_report};
use gosleuth_traceback::{ScanOptions, scan};

const LIMIT: usize = 64 << 10;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if let Some(name) = p.file_name().and_then(|n| n.to_str())
            && (name.ends_with(".txt") || name.ends_with(".txt.gz") || name.ends_with(".log"))
        {
            out.push(p);
        }
    }
}

fn read(path: &Path) -> Vec<u8> {
    let mut data = Vec::new();
    if path.extension().is_some_and(|e| e == "gz") {
        let f = std::fs::File::open(path).unwrap();
        flate2::read::GzDecoder::new(f)
            .take(LIMIT as u64)
            .read_to_end(&mut data)
            .unwrap();
    } else {
        data = std::fs::read(path).unwrap();
        data.truncate(LIMIT);
    }
    data
}

/// Everything a user can ask of one input, output discarded.
fn exercise(bytes: &[u8]) {
    let dump = scan(bytes, &ScanOptions::default());
    let evidence = [TextEvidence {
        input: "x",
        dump: &dump,
    }];
    let mut opts = DiagnoseOptions::default();
    opts.with_args = true;
    let report = analyze_text(&evidence, &opts);
    let mut sink = Vec::new();
    for format in [Format::Text, Format::Json, Format::Markdown, Format::Html] {
        write_report(&report, format, true, &mut sink).unwrap();
        sink.clear();
    }
    for trace in &dump.traces {
        let filter = GroupFilter {
            exact: true,
            with_args: true,
            ..GroupFilter::default()
        };
        let view = gosleuth_diagnose::goroutine_view("x", &dump, trace, &filter, None);
        write_goroutines(&view, Format::Text, false, &mut sink).unwrap();
        sink.clear();
    }
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn inputs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    collect(&repo().join("testdata"), &mut files);
    collect(&repo().join("examples"), &mut files);
    collect(&repo().join("../shared/realworld"), &mut files);
    collect(&repo().join("../shared/peers/gostackparse"), &mut files);
    files.sort();
    assert!(files.len() > 20, "fixtures missing: {files:?}");
    files
}

#[test]
fn truncated_inputs_never_panic() {
    for path in inputs() {
        let data = read(&path);
        let mut cut = 0;
        while cut <= data.len() {
            let result = std::panic::catch_unwind(|| exercise(&data[..cut]));
            assert!(
                result.is_ok(),
                "panic on {} truncated at byte {cut}",
                path.display()
            );
            cut += 97;
        }
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for path in inputs() {
        let data = read(&path);
        if data.is_empty() {
            continue;
        }
        for round in 0..40 {
            let mut copy = data.clone();
            for _ in 0..1 + rng.next() % 8 {
                let at = (rng.next() % copy.len() as u64) as usize;
                copy[at] ^= 1 << (rng.next() % 8);
                if rng.next().is_multiple_of(4) {
                    // Also plant bytes that matter to the grammar.
                    const GRAMMAR: &[u8] = b"\n\t([]):{}\"\\+x0 ";
                    copy[at] = GRAMMAR[(rng.next() % GRAMMAR.len() as u64) as usize];
                }
            }
            let result = std::panic::catch_unwind(|| exercise(&copy));
            assert!(
                result.is_ok(),
                "panic on {} flip round {round}",
                path.display()
            );
        }
    }
}
