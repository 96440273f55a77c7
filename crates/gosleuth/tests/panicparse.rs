//! Oracle: panicparse's `pp` on the same goroutine dumps. gosleuth's default
//! grouping ignores argument values, which is what `pp -aggressive` does, so
//! the groups — their sizes and states — must be the same multiset.
//!
//! One documented difference: a GOTRACEBACK=crash dump prints one section
//! per M (`-----`, then `SIGQUIT: quit` again, the M's g0 stack and its
//! current goroutine, which may already have been printed). pp reads each
//! section as a separate snapshot and buckets them separately; gosleuth
//! reads the dump as one event and groups across sections. For such dumps
//! the test compares the number of goroutines per state instead.
//!
//! `pp` is installed by `.ci/run` (`go install
//! github.com/maruel/panicparse/v2/cmd/pp@v2.5.0`); locally a missing `pp`
//! skips with a message, under `GOSLEUTH_CI=1` it fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn find_pp() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join("go/bin"));
    }
    dirs.into_iter().map(|d| d.join("pp")).find(|p| p.is_file())
}

/// Group headers of pp's text output: `1200: chan receive [5~7 minutes] [Created by ...]`.
fn pp_groups(pp: &Path, file: &Path) -> Vec<(u64, String)> {
    let out = Command::new(pp)
        .args(["-no-color", "-aggressive"])
        .arg(file)
        .output()
        .expect("run pp");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut groups: Vec<(u64, String)> = text
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| {
            let (count, rest) = l.split_once(": ")?;
            let count: u64 = count.parse().ok()?;
            let state = rest.split(" [").next().unwrap_or(rest).trim().to_string();
            Some((count, state))
        })
        .collect();
    groups.sort();
    groups
}

fn ours(file: &Path) -> Vec<(u64, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_gosleuth"))
        .args(["goroutines", "--format", "json"])
        .arg(file)
        .output()
        .expect("run gosleuth");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut groups: Vec<(u64, String)> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["count"].as_u64().unwrap(),
                g["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    groups.sort();
    groups
}

/// Goroutines per state, for dumps with one section per M.
fn per_state(groups: &[(u64, String)]) -> Vec<(u64, String)> {
    let mut totals: Vec<(String, u64)> = Vec::new();
    for (count, state) in groups {
        match totals.iter_mut().find(|(s, _)| s == state) {
            Some((_, c)) => *c += count,
            None => totals.push((state.clone(), *count)),
        }
    }
    let mut out: Vec<(u64, String)> = totals.into_iter().map(|(s, c)| (c, s)).collect();
    out.sort();
    out
}

#[test]
fn groups_agree_with_panicparse() {
    let Some(pp) = find_pp() else {
        assert!(
            std::env::var_os("GOSLEUTH_CI").is_none(),
            "pp is not installed (CI must install it)"
        );
        eprintln!(
            "skipping: pp not installed (go install github.com/maruel/panicparse/v2/cmd/pp@v2.5.0)"
        );
        return;
    };
    let tmp = std::env::temp_dir().join(format!("gosleuth-pp-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut compared = 0;
    let mut failures = Vec::new();
    for version in std::fs::read_dir(repo().join("testdata"))
        .unwrap()
        .flatten()
    {
        let Ok(cases) = std::fs::read_dir(version.path()) else {
            continue;
        };
        for case in cases.flatten() {
            let Ok(text) = std::fs::read_to_string(case.path().join("expected.json")) else {
                continue;
            };
            let expected: Value = serde_json::from_str(&text).unwrap();
            for a in expected["artifacts"].as_array().into_iter().flatten() {
                let multi = a["goroutine_count"].as_u64().unwrap_or(0) > 1;
                let format = a["format"].as_str().unwrap_or("");
                // The 64 MiB cut dump ends mid-goroutine; pp drops what it
                // cannot parse there, which is not a grouping question.
                if !multi
                    || !matches!(format, "debug2" | "sigquit" | "traceback")
                    || a["truncated"] == true
                {
                    continue;
                }
                let src = case.path().join(a["file"].as_str().unwrap());
                // pp wants a plain file.
                let plain = tmp.join(format!(
                    "{}-{}.txt",
                    version.file_name().to_string_lossy(),
                    case.file_name().to_string_lossy()
                ));
                let mut data = Vec::new();
                if src.extension().is_some_and(|e| e == "gz") {
                    flate2::read::GzDecoder::new(std::fs::File::open(&src).unwrap())
                        .read_to_end(&mut data)
                        .unwrap();
                } else {
                    data = std::fs::read(&src).unwrap();
                }
                std::fs::write(&plain, &data).unwrap();
                let (mut theirs, mut mine) = (pp_groups(&pp, &plain), ours(&plain));
                if data.windows(7).any(|w| w == b"\n-----\n") {
                    theirs = per_state(&theirs);
                    mine = per_state(&mine);
                }
                compared += 1;
                if theirs != mine {
                    failures.push(format!(
                        "{}:\n  pp       {theirs:?}\n  gosleuth {mine:?}",
                        src.display()
                    ));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(compared >= 5, "only {compared} dumps compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
