//! Core fixtures made by crashlab (`testdata/go*/core_*/`: `core.zst`,
//! `executable.zst`, `stderr.txt`, `stdout.txt`, `expected.json`), decompressed
//! once into the test temp dir.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn ci() -> bool {
    std::env::var("GOSLEUTH_CI").as_deref() == Ok("1")
}

/// Skips (returns false) or, under `GOSLEUTH_CI=1`, fails.
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

/// One core fixture directory.
#[derive(Debug, Clone)]
pub struct CoreFixture {
    /// `go1.26/core_maps_noopt`
    pub label: String,
    /// `go1.26`
    pub go: String,
    /// `core_maps_noopt`
    pub case: String,
    /// `maps`
    pub scenario: String,
    /// `default`, `stripped` or `noopt`
    pub build: String,
    pub dir: PathBuf,
}

fn unzstd(src: &Path, dest: &Path) {
    if dest.exists() {
        return;
    }
    let data = std::fs::read(src).expect("read zst");
    let mut dec = ruzstd::decoding::StreamingDecoder::new(&data[..]).expect("zstd header");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut dec, &mut raw).expect("zstd data");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let tmp = dest.with_extension("partial");
    std::fs::write(&tmp, raw).unwrap();
    std::fs::rename(&tmp, dest).unwrap();
}

impl CoreFixture {
    fn cache(&self) -> PathBuf {
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("core-fixtures")
            .join(&self.label)
    }

    /// The uncompressed copy of `name.zst`, named after the compressed
    /// file's size and time so that a regenerated fixture is not served
    /// stale.
    fn unpacked(&self, name: &str) -> PathBuf {
        let src = self.dir.join(format!("{name}.zst"));
        let meta = std::fs::metadata(&src).expect("fixture file");
        let stamp = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let p = self.cache().join(format!("{name}-{}-{stamp}", meta.len()));
        unzstd(&src, &p);
        p
    }

    /// Path of the uncompressed executable.
    pub fn exe_path(&self) -> PathBuf {
        self.unpacked("executable")
    }

    /// Path of the uncompressed core.
    pub fn core_path(&self) -> PathBuf {
        self.unpacked("core")
    }

    pub fn exe(&self) -> Vec<u8> {
        std::fs::read(self.exe_path()).unwrap()
    }

    pub fn core(&self) -> Vec<u8> {
        std::fs::read(self.core_path()).unwrap()
    }

    pub fn stderr(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("stderr.txt")).expect("stderr.txt")
    }

    pub fn expected(&self) -> serde_json::Value {
        let s = std::fs::read_to_string(self.dir.join("expected.json")).expect("expected.json");
        serde_json::from_str(&s).expect("expected.json is JSON")
    }
}

/// Every core fixture, sorted.
pub fn core_fixtures() -> Vec<CoreFixture> {
    let mut out = Vec::new();
    let root = repo_root().join("testdata");
    let Ok(versions) = std::fs::read_dir(&root) else {
        return out;
    };
    let mut versions: Vec<_> = versions.flatten().map(|e| e.path()).collect();
    versions.sort();
    for v in versions {
        let go = v.file_name().unwrap().to_string_lossy().to_string();
        if !go.starts_with("go") {
            continue;
        }
        let Ok(cases) = std::fs::read_dir(&v) else {
            continue;
        };
        let mut cases: Vec<_> = cases.flatten().map(|e| e.path()).collect();
        cases.sort();
        for dir in cases {
            let case = dir.file_name().unwrap().to_string_lossy().to_string();
            if !case.starts_with("core_") || !dir.join("core.zst").exists() {
                continue;
            }
            let rest = &case["core_".len()..];
            let (scenario, build) = match rest.rsplit_once('_') {
                Some((s, b)) if b == "stripped" || b == "noopt" => (s.to_string(), b.to_string()),
                _ => (rest.to_string(), "default".to_string()),
            };
            out.push(CoreFixture {
                label: format!("{go}/{case}"),
                go: go.clone(),
                case,
                scenario,
                build,
                dir,
            });
        }
    }
    out
}

/// Runs `check` on every fixture as a libtest-mimic trial.
pub fn run_trials(
    name: &str,
    filter: impl Fn(&CoreFixture) -> bool,
    check: fn(&CoreFixture) -> Result<(), String>,
) -> ! {
    let args = libtest_mimic::Arguments::from_args();
    let fixtures = core_fixtures();
    let mut trials = Vec::new();
    if fixtures.is_empty() {
        trials.push(libtest_mimic::Trial::test(
            format!("{name}::fixtures_present"),
            || {
                Err(
                    "no core fixtures under testdata/ (run crashlab/generate --case corelab)"
                        .into(),
                )
            },
        ));
    }
    for f in fixtures.into_iter().filter(|f| filter(f)) {
        trials.push(libtest_mimic::Trial::test(
            format!("{name}::{}", f.label),
            move || check(&f).map_err(Into::into),
        ));
    }
    libtest_mimic::run(&args, trials).exit()
}
