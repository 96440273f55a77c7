//! Fixture binaries and reference tools for the gobin tests.
//!
//! Fixtures are the executables crashlab builds (`testdata/go*/<case>/exe*.zst`,
//! zstd-compressed; `exe` is the default build, `exe-<variant>` the others:
//! `stripped`, `pie`, `noopt`, `cgo`, `arm64`, `arm64-stripped`).
//! `GOSLEUTH_GOBIN_FIXTURES` may name a directory laid out the same way with
//! uncompressed files, for trying binaries that are not committed.
//!
//! Reference tools (`go version -m`, `go tool nm`, `go tool addr2line`) are
//! looked up on PATH and in /usr/local/go/bin. When a tool or the fixtures
//! are missing the test prints why and passes locally, but fails when
//! `GOSLEUTH_CI=1`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn ci() -> bool {
    std::env::var("GOSLEUTH_CI").as_deref() == Ok("1")
}

/// Skips (returns false) or, in CI, fails.
pub fn require(ok: bool, why: &str) -> bool {
    if !ok {
        if ci() {
            panic!("GOSLEUTH_CI=1 and {why}");
        }
        eprintln!("skipped: {why}");
    }
    ok
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Debug, Clone)]
pub struct Fixture {
    /// `go1.26/gobinprobe/exe-stripped`
    pub label: String,
    /// `go1.26/gobinprobe`
    pub group: String,
    /// `default`, `stripped`, `pie`, ...
    pub variant: String,
    /// Uncompressed file.
    pub path: PathBuf,
}

impl Fixture {
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("read fixture")
    }
}

fn variant_of(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".zst").unwrap_or(name);
    if stem == "exe" {
        return Some("default".into());
    }
    stem.strip_prefix("exe-").map(str::to_string)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The contents of a zstd-compressed fixture file.
pub fn unzstd(path: &Path) -> Vec<u8> {
    let data = std::fs::read(path).expect("read zst");
    let mut dec = ruzstd::decoding::StreamingDecoder::new(&data[..]).expect("zstd header");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut dec, &mut raw).expect("zstd data");
    raw
}

/// All fixture binaries (decompressed into the test temp dir).
pub fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    let root = repo_root().join("testdata");
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gobin-fixtures");
    let mut files = Vec::new();
    walk(&root, &mut files);
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".zst") {
            continue;
        }
        let Some(variant) = variant_of(&name) else {
            continue;
        };
        let rel = f.strip_prefix(&root).unwrap();
        let group = rel.parent().unwrap().to_string_lossy().replace('\\', "/");
        let dest = tmp.join(rel.with_extension(""));
        if !dest.exists() {
            let raw = unzstd(&f);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            // Tests run in parallel: write a private file, then rename.
            let tmp = dest.with_extension(format!(
                "tmp-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::write(&tmp, raw).unwrap();
            std::fs::rename(&tmp, &dest).unwrap();
        }
        out.push(Fixture {
            label: format!("{group}/{}", name.trim_end_matches(".zst")),
            group,
            variant,
            path: dest,
        });
    }
    if let Ok(extra) = std::env::var("GOSLEUTH_GOBIN_FIXTURES") {
        let extra = PathBuf::from(extra);
        let mut files = Vec::new();
        walk(&extra, &mut files);
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            let Some(variant) = variant_of(&name) else {
                continue;
            };
            if name.ends_with(".zst") {
                continue;
            }
            let rel = f.strip_prefix(&extra).unwrap();
            let group = format!("extra/{}", rel.parent().unwrap().to_string_lossy());
            out.push(Fixture {
                label: format!("{group}/{name}"),
                group,
                variant,
                path: f,
            });
        }
    }
    out
}

/// Fixtures, or `None` after printing why there are none.
pub fn fixtures_or_skip() -> Option<Vec<Fixture>> {
    let f = fixtures();
    require(
        !f.is_empty(),
        "no fixture binaries (testdata/go*/<case>/exe*.zst; run crashlab/generate)",
    )
    .then_some(f)
}

/// The `go` command, if present.
pub fn go() -> Option<PathBuf> {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("go");
        if p.is_file() {
            return Some(p);
        }
    }
    let p = PathBuf::from("/usr/local/go/bin/go");
    p.is_file().then_some(p)
}

pub fn go_or_skip() -> Option<PathBuf> {
    let g = go();
    require(g.is_some(), "the go command is not installed").then(|| g.unwrap())
}

/// Runs `go args...` with `stdin`, returns stdout.
pub fn run_go(go: &Path, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut cmd = Command::new(go);
    cmd.args(args)
        .env("GOTOOLCHAIN", "local")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn go");
    let writer = stdin.map(|data| {
        let mut si = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = si.write_all(&data);
        })
    });
    let out = child.wait_with_output().expect("wait go");
    if let Some(w) = writer {
        w.join().unwrap();
    }
    assert!(
        out.status.success(),
        "go {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A small deterministic PRNG (xorshift64*), so PC samples are stable.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `n` PCs spread over the Go text of `tab` (sorted, deterministic).
pub fn sample_pcs(tab: &gosleuth_gobin::Pclntab<'_>, n: usize, seed: u64) -> Vec<u64> {
    let lo = tab.entry_at(0).unwrap();
    let hi = tab.entry_at(tab.len()).unwrap();
    let mut rng = Rng(seed | 1);
    let mut pcs: Vec<u64> = (0..n).map(|_| lo + rng.below(hi - lo)).collect();
    pcs.sort_unstable();
    pcs
}
