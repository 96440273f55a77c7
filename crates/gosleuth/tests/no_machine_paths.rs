//! No fixture may name the checkout's own path: artifacts carry absolute
//! paths, so crashlab builds and runs at conventional locations
//! (`/go/src/crashlab`, `/usr/local/go`); a fixture made from the checkout
//! directly would leak the developer's machine into the repository.

use std::io::Read;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn contents(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    let name = path.to_string_lossy();
    let mut out = Vec::new();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
    } else if name.ends_with(".zst") {
        let mut dec = ruzstd::decoding::StreamingDecoder::new(&raw[..]).unwrap();
        dec.read_to_end(&mut out).unwrap();
    } else {
        out = raw;
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            // bench/out holds benchmark inputs made on this machine; it is
            // ignored by git and never committed.
            if p.ends_with("bench/out") {
                continue;
            }
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn fixtures_do_not_name_the_checkout() {
    let root = repo();
    let needle = root.to_string_lossy().into_owned();
    assert!(needle.len() > 1, "refusing to search for {needle:?}");
    let mut files = Vec::new();
    for dir in ["testdata", "examples", "crashlab", "docs", "bench"] {
        walk(&root.join(dir), &mut files);
    }
    assert!(!files.is_empty());
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| finder.find(&contents(f)).is_some())
        .map(|f| f.strip_prefix(&root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these files name the checkout's path {needle}: {offenders:?}"
    );
}
