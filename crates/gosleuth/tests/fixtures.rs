//! Every crashlab fixture checked against its ground truth.
//!
//! One trial per fixture artifact (`go1.26/nilmap_http_goroutine/stderr.txt`):
//! `gosleuth analyze --format json` must give the kind, message, crashing
//! goroutine and culprit that `expected.json` records, the exact goroutine
//! count, and the goroutine groups the program created on purpose.
//! `expected.json` is written by `crashlab/generate` from the real runtime's
//! output and the programs' own reports, never from gosleuth.
//!
//! Besides the committed `testdata/`, `GOSLEUTH_FRESH_FIXTURES=DIR` adds the
//! fixtures of a fresh generator run (CI regenerates them with the machine's
//! Go into a temporary folder).

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn gosleuth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gosleuth"))
}

/// `(name, case dir, expected.json)` for every case under `root/go*/`.
fn cases(root: &Path, tag: &str) -> Vec<(String, PathBuf, Value)> {
    let mut out = Vec::new();
    let Ok(versions) = std::fs::read_dir(root) else {
        return out;
    };
    let mut versions: Vec<PathBuf> = versions.filter_map(|e| Some(e.ok()?.path())).collect();
    versions.sort();
    for v in versions {
        let Some(vname) = v.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        if !vname.starts_with("go") {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&v) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        dirs.sort();
        for dir in dirs {
            let Ok(text) = std::fs::read_to_string(dir.join("expected.json")) else {
                continue;
            };
            let expected: Value = serde_json::from_str(&text).expect("expected.json parses");
            let case = dir.file_name().unwrap().to_string_lossy().to_string();
            out.push((format!("{tag}{vname}/{case}"), dir, expected));
        }
    }
    out
}

const TEXT_FORMATS: &[&str] = &[
    "traceback",
    "debug1",
    "debug2",
    "sigquit",
    "race",
    "http_recovered_log",
];

fn check(dir: &Path, artifact: &Value) -> Result<(), Failed> {
    let file = dir.join(artifact["file"].as_str().unwrap());
    if !file.exists() {
        // Artifacts too big to commit are regenerated in CI only.
        return Ok(());
    }
    let out = gosleuth()
        .args(["analyze", "--format", "json"])
        .arg(&file)
        .output()
        .map_err(|e| format!("cannot run gosleuth: {e}"))?;
    let expected_count = artifact["goroutine_count"].as_u64().unwrap_or(0);
    if artifact["crash"].is_null() && expected_count == 0 {
        // Nothing to analyse (a program that did not crash: the fixture
        // proves it). gosleuth must say the input is unusable, exit 2.
        if out.status.code() != Some(2) {
            return Err(format!(
                "expected exit 2 on input without a trace, got {:?}",
                out.status.code()
            )
            .into());
        }
        return Ok(());
    }
    if !out.status.success() {
        return Err(format!("gosleuth failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let got: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("bad JSON: {e}"))?;
    let mut problems = Vec::new();
    if got["schema"] != "gosleuth.analysis/v1" {
        problems.push(format!("schema {}", got["schema"]));
    }
    let crash = &got["crash"];
    match &artifact["crash"] {
        Value::Null => {
            if crash["kind"] != "goroutine_dump" {
                problems.push(format!(
                    "kind {} but the fixture has no crash",
                    crash["kind"]
                ));
            }
        }
        want => {
            for key in ["kind", "message", "goroutine"] {
                if crash[key] != want[key] {
                    problems.push(format!("{key}: got {} want {}", crash[key], want[key]));
                }
            }
            for key in ["function", "file", "line"] {
                if crash["culprit"][key] != want["culprit"][key] {
                    problems.push(format!(
                        "culprit.{key}: got {} want {}",
                        crash["culprit"][key], want["culprit"][key]
                    ));
                }
            }
            if let Some(panics) = want["panics"].as_array() {
                let got_panics = crash["panics"].as_array().cloned().unwrap_or_default();
                let msgs = |v: &[Value]| v.iter().map(|p| p["message"].clone()).collect::<Vec<_>>();
                if msgs(panics) != msgs(&got_panics) {
                    problems.push(format!("panics: got {got_panics:?} want {panics:?}"));
                }
            }
            if let Some(addr) = want["fault_addr"].as_str()
                && crash["signal"]["addr"].as_str() != Some(addr)
            {
                problems.push(format!(
                    "fault address: got {} want {addr}",
                    crash["signal"]["addr"]
                ));
            }
        }
    }
    if got["goroutines"]["total"].as_u64() != Some(expected_count) {
        problems.push(format!(
            "goroutines.total: got {} want {expected_count}",
            got["goroutines"]["total"]
        ));
    }
    let groups = got["goroutines"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for want in artifact["groups"].as_array().into_iter().flatten() {
        let holds = |g: &Value| {
            g["frames"].as_array().into_iter().flatten().any(|f| {
                f["function"] == want["function"]
                    && f["line"] == want["line"]
                    && f["file"] == want["file"]
            })
        };
        let total: u64 = groups
            .iter()
            .filter(|g| holds(g))
            .map(|g| g["count"].as_u64().unwrap_or(0))
            .sum();
        let n = groups.iter().filter(|g| holds(g)).count();
        if total != want["count"].as_u64().unwrap_or(0) || n != 1 {
            problems.push(format!(
                "group {} at {}:{}: {n} group(s) with {total} goroutines, want one of {}",
                want["label"], want["function"], want["line"], want["count"]
            ));
        }
    }
    if artifact["truncated"] == true {
        let ids: Vec<&str> = got["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["id"].as_str())
            .collect();
        let want = if artifact["size"] == 64 << 20 {
            "dump-cut-at-64mib"
        } else {
            "truncated"
        };
        if !ids.contains(&want) {
            problems.push(format!("truncated dump: no `{want}` finding among {ids:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut all = cases(&repo().join("testdata"), "");
    if let Some(fresh) = std::env::var_os("GOSLEUTH_FRESH_FIXTURES") {
        let fresh = cases(Path::new(&fresh), "fresh/");
        assert!(
            !fresh.is_empty(),
            "GOSLEUTH_FRESH_FIXTURES names a folder without fixtures"
        );
        all.extend(fresh);
    }
    assert!(!all.is_empty(), "no fixtures under testdata/");
    let mut trials = Vec::new();
    for (name, dir, expected) in all {
        for artifact in expected["artifacts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let format = artifact["format"].as_str().unwrap_or("");
            if !TEXT_FORMATS.contains(&format) {
                continue;
            }
            let file = artifact["file"].as_str().unwrap_or("?").to_string();
            let dir = dir.clone();
            trials.push(Trial::test(format!("{name}/{file}"), move || {
                check(&dir, &artifact)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
