//! Oracle test: `gosleuth profile top` against `go tool pprof -top` on every
//! profile fixture (crashlab's `testdata/go*/*/`, any `*.pb.gz`) and every
//! file of google/pprof's own test inputs (`../shared/peers/pprof/`), for
//! every sample type; `--base` against `-diff_base`; `export` reloaded by
//! pprof with identical figures.
//!
//! Comparison is at pprof's precision: pprof prints rounded figures, and
//! gosleuth prints them the same way (same unit choice, `%.2f`, same
//! percentages), so the rows of the table must be equal as text, in the
//! same order, and so must the "Showing nodes accounting for" and
//! "Dropped N nodes" lines. The header lines above them are not compared
//! (pprof prints `Time:` in the local zone, gosleuth in UTC).
//!
//! Deliberate divergences, checked as such:
//! - Java profiler formats (`java.cpu`, `java.heap`, `java.contention`):
//!   pprof reads them, gosleuth refuses them with an error naming the
//!   format (the issue allows it for the C++/Java-only formats).
//! - Files pprof cannot read (`*.string`, README.md, LICENSE): gosleuth
//!   must refuse them too (exit status 2).
//!
//! Without a Go toolchain the test is skipped with a message, unless
//! `GOSLEUTH_CI=1`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn go() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("go"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let goroot = std::env::var_os("GOROOT").map(|r| PathBuf::from(r).join("bin/go"));
    candidates
        .into_iter()
        .chain(goroot)
        .chain(std::iter::once(PathBuf::from("/usr/local/go/bin/go")))
        .find(|p| p.is_file())
}

fn require_go() -> Option<PathBuf> {
    match go() {
        Some(g) => Some(g),
        None if std::env::var("GOSLEUTH_CI").as_deref() == Ok("1") => {
            panic!("GOSLEUTH_CI=1 but no `go` toolchain found for the pprof oracle")
        }
        None => {
            eprintln!("skipping pprof oracle: no `go` toolchain on PATH");
            None
        }
    }
}

/// Every input: peers files and profile fixtures.
fn inputs() -> Vec<PathBuf> {
    let root = repo_root();
    let mut v = Vec::new();
    let peers = root.join("../shared/peers/pprof");
    if let Ok(rd) = std::fs::read_dir(&peers) {
        for e in rd.flatten() {
            if e.path().is_file() {
                v.push(e.path());
            }
        }
    } else if std::env::var("GOSLEUTH_CI").as_deref() == Ok("1") {
        panic!("GOSLEUTH_CI=1 but {} is missing", peers.display());
    }
    v.extend(profile_fixtures(&root.join("testdata")));
    v.sort();
    v
}

/// Profile artifacts of crashlab fixtures: files listed in expected.json
/// whose content is a profile (gzipped proto, or `heap profile:` text), and
/// any `*.pb.gz`.
pub fn profile_fixtures(testdata: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(versions) = std::fs::read_dir(testdata) else {
        return out;
    };
    for ver in versions.flatten() {
        if !ver.file_name().to_string_lossy().starts_with("go") {
            continue;
        }
        let Ok(cases) = std::fs::read_dir(ver.path()) else {
            continue;
        };
        for case in cases.flatten() {
            let dir = case.path();
            let mut names: Vec<String> = Vec::new();
            let expected = std::fs::read_to_string(dir.join("expected.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
            if let Some(v) = expected {
                for a in v["artifacts"].as_array().into_iter().flatten() {
                    if let Some(f) = a["file"].as_str() {
                        names.push(f.to_string());
                    }
                }
            }
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().to_string();
                    if n.ends_with(".pb.gz") && !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
            for n in names {
                let p = dir.join(&n);
                if p.is_file() && is_profile(&p) {
                    out.push(p);
                }
            }
        }
    }
    out
}

fn is_profile(p: &Path) -> bool {
    // Whatever gosleuth decodes as a profile: profile.proto (Go writes
    // period_type first, not sample_type, so no magic byte to test), the
    // legacy text heap profile, and count profiles such as goroutine
    // debug=1 dumps, which pprof reads too.
    let Ok(data) = std::fs::read(p) else {
        return false;
    };
    gosleuth_pprof::Profile::decode(&data).is_ok()
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let o = cmd.output().expect("spawn");
    Run {
        ok: o.status.success(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn pprof(go: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(go);
    c.arg("tool").arg("pprof").args(args);
    // No symbolization attempts against binaries named in old profiles.
    c.env("PPROF_BINARY_PATH", "/nonexistent").env("TZ", "UTC");
    run(&mut c)
}

fn gosleuth(args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gosleuth"));
    c.args(["--color", "never", "profile"]).args(args);
    run(&mut c)
}

/// The comparable part of a `-top` report: the summary lines and the rows.
fn table(out: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut rows = false;
    for l in out.lines() {
        if l.starts_with("Showing nodes accounting for")
            || l.starts_with("Dropped ")
            || l.starts_with("Showing top ")
        {
            v.push(l.to_string());
        } else if l.trim_start().starts_with("flat  flat%") {
            rows = true;
            v.push(l.to_string());
        } else if rows {
            v.push(l.to_string());
        }
    }
    v
}

fn sample_types(p: &Path) -> Option<usize> {
    let data = std::fs::read(p).ok()?;
    gosleuth_pprof::Profile::decode(&data)
        .ok()
        .map(|p| p.sample_types.len())
}

fn is_java(p: &Path) -> bool {
    let n = p.file_name().unwrap().to_string_lossy();
    n.starts_with("java.") && !n.ends_with(".string")
}

/// Whether two `-top` tables agree. Rows are compared in order, except
/// that rows with the same printed name and the same |flat| may come in
/// either order: pprof's sort treats such nodes as equal (its name
/// comparison returns "not less" both ways), so their order depends on Go
/// map iteration and differs between runs of pprof itself (seen with
/// `[libpthread-2.15.so]` from two mappings in a cppbench diff, and with
/// `-files`, where pprof keys nodes by file *and* function start line and
/// so prints several rows for one file). gosleuth keeps pprof's keys and
/// rows but breaks such ties by |cum|, deterministically.
fn tables_agree(a: &[String], b: &[String]) -> bool {
    if a == b {
        return true;
    }
    if a.len() != b.len() {
        return false;
    }
    // The node name, without pprof's inline marks (part of the row, not of
    // the node's identity).
    let name = |l: &str| {
        let n = l.split("  ").last().unwrap_or("").trim();
        n.trim_end_matches(" (partial-inline)")
            .trim_end_matches(" (inline)")
            .to_string()
    };
    let names: Vec<String> = a.iter().map(|l| name(l)).collect();
    let mut dup = names.clone();
    dup.sort();
    dup.dedup();
    if dup.len() == names.len() {
        return false;
    }
    // Same rows as a multiset (without the running sum% column, which
    // follows the order), the same name sequence and the same sum% column.
    let strip_sum = |l: &String| -> (String, String) {
        let t: Vec<&str> = l.split_whitespace().collect();
        if t.len() > 5 && t[2].ends_with('%') {
            let mut rest = t.clone();
            let sum = rest.remove(2).to_string();
            (rest.join(" "), sum)
        } else {
            (l.clone(), String::new())
        }
    };
    let (mut ra, sa): (Vec<String>, Vec<String>) = a.iter().map(strip_sum).unzip();
    let (mut rb, sb): (Vec<String>, Vec<String>) = b.iter().map(strip_sum).unzip();
    ra.sort();
    rb.sort();
    ra == rb && sa == sb && names == b.iter().map(|l| name(l)).collect::<Vec<_>>()
}

#[test]
fn top_matches_pprof_for_every_profile_and_sample_type() {
    let Some(go) = require_go() else { return };
    let mut compared = 0;
    let mut failures = Vec::new();
    let inputs = inputs();
    assert!(!inputs.is_empty(), "no inputs found");
    for input in &inputs {
        let path = input.to_str().unwrap();
        let n = sample_types(input);
        let p0 = pprof(&go, &["-top", "-nodecount=0", path]);
        let g0 = gosleuth(&["top", path]);
        if n.is_none() {
            // gosleuth cannot read it: pprof must not either, except the
            // Java formats, refused by name.
            if is_java(input) {
                if !g0.stderr.contains("Java") || g0.ok {
                    failures.push(format!(
                        "{path}: Java profile not refused by name: {}",
                        g0.stderr
                    ));
                }
            } else if p0.ok {
                failures.push(format!(
                    "{path}: pprof reads it, gosleuth does not: {}",
                    g0.stderr
                ));
            } else if g0.ok {
                failures.push(format!("{path}: gosleuth reads what pprof refuses"));
            }
            continue;
        }
        for i in 0..n.unwrap() {
            let idx = i.to_string();
            let p = pprof(
                &go,
                &["-top", "-nodecount=0", &format!("-sample_index={i}"), path],
            );
            let g = gosleuth(&["top", "--sample-index", &idx, path]);
            if !p.ok || !g.ok {
                failures.push(format!(
                    "{path} [{i}]: pprof ok={} gosleuth ok={}: {}{}",
                    p.ok, g.ok, p.stderr, g.stderr
                ));
                continue;
            }
            let (tp, tg) = (table(&p.stdout), table(&g.stdout));
            if !tables_agree(&tp, &tg) {
                failures.push(format!(
                    "{path} [{i}]:\n--- pprof\n{}\n--- gosleuth\n{}",
                    tp.join("\n"),
                    tg.join("\n")
                ));
            }
            // Raw JSON values agree with the printed rows' order and count.
            let j = gosleuth(&["--format", "json", "top", "--sample-index", &idx, path]);
            let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("json");
            assert_eq!(v["schema"], "gosleuth.profile.top/v1");
            let rows = v["rows"].as_array().unwrap();
            let printed = tg
                .iter()
                .skip_while(|l| !l.trim_start().starts_with("flat  flat%"))
                .count()
                .saturating_sub(1);
            if rows.len() != printed {
                failures.push(format!(
                    "{path} [{i}]: JSON has {} rows, text {printed}",
                    rows.len()
                ));
            }
            compared += 1;
        }
    }
    eprintln!(
        "pprof oracle: {compared} (file, sample type) pairs compared over {} inputs",
        inputs.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(compared > 0);
}

/// Pairs of compatible profiles for `--base` (same sample types).
fn base_pairs(inputs: &[PathBuf]) -> Vec<(PathBuf, PathBuf)> {
    let mut typed: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for i in inputs {
        let Ok(data) = std::fs::read(i) else { continue };
        let Ok(p) = gosleuth_pprof::Profile::decode(&data) else {
            continue;
        };
        let mut t: Vec<String> = p
            .sample_types
            .iter()
            .map(|s| format!("{}/{}", p.str(s.ty), p.str(s.unit)))
            .collect();
        t.push(format!(
            "{}/{}",
            p.str(p.period_type.ty),
            p.str(p.period_type.unit)
        ));
        typed.push((i.clone(), t));
    }
    let mut pairs = Vec::new();
    for (a, ta) in &typed {
        // Each profile against itself (everything cancels) and against the
        // next compatible one.
        pairs.push((a.clone(), a.clone()));
        if let Some((b, _)) = typed.iter().find(|(b, tb)| b > a && tb == ta) {
            pairs.push((a.clone(), b.clone()));
        }
    }
    pairs
}

#[test]
fn base_matches_pprof_diff_base() {
    let Some(go) = require_go() else { return };
    let inputs = inputs();
    let mut failures = Vec::new();
    let mut compared = 0;
    for (base, new) in base_pairs(&inputs) {
        let (b, n) = (base.to_str().unwrap(), new.to_str().unwrap());
        let types = sample_types(&new).unwrap_or(0);
        for i in 0..types {
            let p = pprof(
                &go,
                &[
                    "-top",
                    "-nodecount=0",
                    &format!("-sample_index={i}"),
                    &format!("-diff_base={b}"),
                    n,
                ],
            );
            let g = gosleuth(&["top", "--sample-index", &i.to_string(), "--base", b, n]);
            if p.ok != g.ok {
                failures.push(format!(
                    "{n} - {b} [{i}]: pprof ok={} gosleuth ok={}: {}{}",
                    p.ok, g.ok, p.stderr, g.stderr
                ));
                continue;
            }
            if !p.ok {
                continue;
            }
            let (tp, tg) = (table(&p.stdout), table(&g.stdout));
            if !tables_agree(&tp, &tg) {
                failures.push(format!(
                    "{n} - {b} [{i}]:\n--- pprof\n{}\n--- gosleuth\n{}",
                    tp.join("\n"),
                    tg.join("\n")
                ));
            }
            compared += 1;
        }
    }
    eprintln!("pprof -diff_base oracle: {compared} comparisons");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(compared > 0);
}

#[test]
fn export_reloads_in_pprof_with_identical_top() {
    let Some(go) = require_go() else { return };
    let dir = std::env::temp_dir().join(format!("gosleuth-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    let mut compared = 0;
    for (k, input) in inputs().iter().enumerate() {
        let Some(n) = sample_types(input) else {
            continue;
        };
        let path = input.to_str().unwrap();
        let out = dir.join(format!("{k}.pb.gz"));
        let e = gosleuth(&["export", "-o", out.to_str().unwrap(), path]);
        assert!(e.ok, "{path}: export failed: {}", e.stderr);
        for i in 0..n {
            let si = format!("-sample_index={i}");
            let a = pprof(&go, &["-top", "-nodecount=0", &si, path]);
            let b = pprof(&go, &["-top", "-nodecount=0", &si, out.to_str().unwrap()]);
            if table(&a.stdout) != table(&b.stdout) {
                failures.push(format!(
                    "{path} [{i}]: pprof differs after export:\n{}\n---\n{}",
                    a.stdout, b.stdout
                ));
            }
            compared += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("export round trips: {compared}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(compared > 0);
}

/// Options on other subcommands: peek, tree and traces against pprof on
/// the Go fixtures, with a focus and a tag filter where they apply.
#[test]
fn options_and_other_reports_match_pprof() {
    let Some(go) = require_go() else { return };
    let root = repo_root();
    let fixtures = profile_fixtures(&root.join("testdata"));
    let mut failures = Vec::new();
    let mut compared = 0;
    for f in fixtures
        .iter()
        .filter(|f| f.to_string_lossy().ends_with(".pb.gz"))
    {
        let path = f.to_str().unwrap();
        let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
            (
                vec!["-top", "-nodecount=0", "-focus=main\\."],
                vec!["top", "--focus", "main\\."],
            ),
            (
                vec!["-top", "-nodecount=0", "-ignore=runtime"],
                vec!["top", "--ignore", "runtime"],
            ),
            (
                vec!["-top", "-nodecount=0", "-hide=runtime"],
                vec!["top", "--hide", "runtime"],
            ),
            (
                vec!["-top", "-nodecount=0", "-show=main\\."],
                vec!["top", "--show", "main\\."],
            ),
            (
                vec!["-top", "-nodecount=5", "-cum"],
                vec!["top", "-n", "5", "--cum"],
            ),
            (
                vec!["-top", "-nodecount=0", "-nodefraction=0.05"],
                vec!["top", "--nodefraction", "0.05"],
            ),
            (
                vec!["-top", "-nodecount=0", "-lines"],
                vec!["top", "--granularity", "lines"],
            ),
            (
                vec!["-top", "-nodecount=0", "-filefunctions"],
                vec!["top", "--granularity", "filefunctions"],
            ),
            (
                vec!["-top", "-nodecount=0", "-addresses"],
                vec!["top", "--granularity", "addresses"],
            ),
            (
                vec!["-top", "-nodecount=0", "-files"],
                vec!["top", "--granularity", "files"],
            ),
            (
                vec!["-top", "-nodecount=0", "-tagfocus=handler=search"],
                vec!["top", "--tagfocus", "handler=search"],
            ),
            (
                vec!["-top", "-nodecount=0", "-tagignore=tenant:globex"],
                vec!["top", "--tagignore", "tenant:globex"],
            ),
            (
                vec!["-top", "-nodecount=0", "-unit=ms"],
                vec!["top", "--unit", "ms"],
            ),
            (vec!["-peek=main\\."], vec!["peek", "main\\."]),
            (vec!["-tree"], vec!["tree"]),
            (vec!["-traces"], vec!["traces"]),
        ];
        for (pa, ga) in cases {
            let mut pa = pa.clone();
            pa.push(path);
            let mut ga = ga.clone();
            ga.push(path);
            let p = pprof(&go, &pa);
            let g = gosleuth(&ga);
            if !p.ok {
                // pprof refuses (e.g. no match for -peek): so must gosleuth.
                if g.ok {
                    failures.push(format!(
                        "{path} {pa:?}: pprof failed ({}), gosleuth did not",
                        p.stderr.lines().next().unwrap_or("")
                    ));
                }
                continue;
            }
            if !g.ok {
                failures.push(format!("{path} {ga:?}: gosleuth failed: {}", g.stderr));
                continue;
            }
            let strip = |s: &str| -> Vec<String> {
                s.lines()
                    .filter(|l| {
                        !(l.starts_with("File:")
                            || l.starts_with("Build ID:")
                            || l.starts_with("Type:")
                            || l.starts_with("Time:")
                            || l.starts_with("Duration:")
                            || l.starts_with("Main binary"))
                    })
                    .map(str::to_string)
                    .collect()
            };
            let (tp, tg) = (strip(&p.stdout), strip(&g.stdout));
            if !tables_agree(&tp, &tg) {
                failures.push(format!(
                    "{path} {pa:?}:\n--- pprof\n{}\n--- gosleuth\n{}",
                    tp.join("\n"),
                    tg.join("\n")
                ));
            }
            compared += 1;
        }
    }
    eprintln!("option/report comparisons: {compared}");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
