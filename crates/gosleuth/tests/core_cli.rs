//! `gosleuth core` on the crashlab core fixtures (read straight from their
//! `.zst` files), checked against `expected.json`, which the generator wrote
//! from the dying process's own output and the program's reports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn case(go: &str, name: &str) -> Option<(PathBuf, PathBuf, Value)> {
    let dir = repo().join("testdata").join(go).join(name);
    let exe = dir.join("executable.zst");
    let core = dir.join("core.zst");
    if !exe.exists() || !core.exists() {
        eprintln!("skipped: {} has no core fixture", dir.display());
        return None;
    }
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    Some((exe, core, expected))
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gosleuth"))
        .args(args)
        .output()
        .expect("run gosleuth")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "gosleuth failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr_truth(expected: &Value) -> &Value {
    expected["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["file"] == "stderr.txt")
        .expect("stderr artifact")
}

#[test]
fn summary_names_the_crash_for_every_version() {
    for go in ["go1.21", "go1.23", "go1.26"] {
        for name in [
            "core_nilmap",
            "core_concmap",
            "core_nilptr",
            "core_maps",
            "core_nilmap_stripped",
        ] {
            let Some((exe, core, expected)) = case(go, name) else {
                continue;
            };
            let truth = &stderr_truth(&expected)["crash"];
            let got = json(&run(&["core", s(&exe), s(&core), "--format", "json"]));
            assert_eq!(got["schema"], "gosleuth.core.summary/v1");
            assert_eq!(got["crash"]["goroutine"], truth["goroutine"], "{go}/{name}");
            let message = truth["message"].as_str().unwrap();
            if truth["fatal"] == true {
                assert_eq!(got["crash"]["fatal"], message, "{go}/{name}");
            } else {
                assert_eq!(got["crash"]["panics"][0]["message"], message, "{go}/{name}");
            }
            if let Some(addr) = truth["fault_addr"].as_str() {
                assert_eq!(
                    got["crash"]["cause_signal"]["name"], "SIGSEGV",
                    "{go}/{name}"
                );
                assert_eq!(got["crash"]["cause_signal"]["addr"], addr, "{go}/{name}");
            }
            assert_eq!(got["crash"]["core_signal"]["name"], "SIGABRT");
            let total = got["goroutines"].as_u64().unwrap();
            let printed = truth_goroutines(&expected);
            assert_eq!(total, printed, "{go}/{name}: goroutine count");
        }
    }
}

/// Distinct goroutines the runtime printed, without `goroutine 0` blocks.
fn truth_goroutines(expected: &Value) -> u64 {
    let t = stderr_truth(expected);
    t["distinct_goroutines"].as_u64().unwrap() - t["g0_headers"].as_u64().map_or(0, |_| 1)
}

#[test]
fn goroutines_json_lists_every_goroutine_with_frames() {
    let Some((exe, core, expected)) = case("go1.26", "core_server") else {
        return;
    };
    let got = json(&run(&[
        "core",
        s(&exe),
        s(&core),
        "goroutines",
        "--format",
        "json",
    ]));
    assert_eq!(got["schema"], "gosleuth.core.goroutines/v1");
    let gs = got["goroutines"].as_array().unwrap();
    assert_eq!(gs.len() as u64, truth_goroutines(&expected));
    for g in gs {
        assert!(g["id"].as_u64().is_some());
        assert!(g["status"].as_str().is_some());
        assert!(
            !g["frames"].as_array().unwrap().is_empty(),
            "goroutine {} has no frames",
            g["id"]
        );
        for f in g["frames"].as_array().unwrap() {
            assert!(f["function"].as_str().is_some() && f["line"].as_u64().is_some());
        }
    }
    // Every park group of the program is there, at its line.
    for group in stderr_truth(&expected)["groups"].as_array().unwrap() {
        let n = gs
            .iter()
            .filter(|g| {
                g["frames"].as_array().unwrap().iter().any(|f| {
                    f["file"] == group["file"]
                        && f["line"] == group["line"]
                        && f["function"] == group["function"]
                })
            })
            .count();
        assert_eq!(
            n as u64,
            group["count"].as_u64().unwrap(),
            "park group {}",
            group["label"]
        );
    }
    // The text form is a traceback gosleuth's own parser reads back.
    let text = run(&["core", s(&exe), s(&core), "goroutines", "--color", "never"]);
    assert!(text.status.success());
    let t = String::from_utf8_lossy(&text.stdout);
    assert_eq!(
        t.lines().filter(|l| l.starts_with("goroutine ")).count(),
        gs.len()
    );
}

#[test]
fn print_reads_maps_of_both_eras() {
    for go in ["go1.23", "go1.26"] {
        let Some((exe, core, expected)) = case(go, "core_maps") else {
            continue;
        };
        let got = json(&run(&[
            "core",
            s(&exe),
            s(&core),
            "print",
            "main.cache",
            "--all",
            "--format",
            "json",
        ]));
        assert_eq!(got["schema"], "gosleuth.core.value/v1");
        assert_eq!(got["type"], "map[string]int");
        assert_eq!(got["nil"], false);
        let mut entries = serde_json::Map::new();
        for e in got["entries"].as_array().unwrap() {
            entries.insert(e[0].as_str().unwrap().to_string(), e[1].clone());
        }
        assert_eq!(Value::Object(entries), expected["facts"]["cache"], "{go}");
        let era = got["header"]["era"].as_str().unwrap();
        assert_eq!(era, if go == "go1.23" { "classic" } else { "swiss" });
        // Without --all, the first 64 entries and the full count.
        let got = json(&run(&[
            "core",
            s(&exe),
            s(&core),
            "print",
            "main.index",
            "--format",
            "json",
        ]));
        assert_eq!(got["entries"].as_array().unwrap().len(), 64);
        assert_eq!(
            got["count"].as_u64().unwrap() as usize,
            expected["facts"]["index"].as_object().unwrap().len()
        );
        assert_eq!(got["complete"], false);
    }
}

#[test]
fn maps_shows_the_nil_map_of_the_nil_map_write() {
    let Some((exe, core, expected)) = case("go1.26", "core_nilmap_noopt") else {
        return;
    };
    let got = json(&run(&[
        "core",
        s(&exe),
        s(&core),
        "maps",
        "--format",
        "json",
    ]));
    assert_eq!(got["schema"], "gosleuth.core.maps/v1");
    let goroutine = stderr_truth(&expected)["crash"]["goroutine"].clone();
    let m = got["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["expr"] == "s.cache")
        .expect("s.cache among the maps");
    assert_eq!(m["nil"], true);
    assert_eq!(m["header_address"], "0x0");
    assert_eq!(m["type"], "map[string]*main.User");
    assert_eq!(m["goroutine"], goroutine);
    // locals of that frame show it too, in text.
    let frame = m["frame"].as_u64().unwrap().to_string();
    let g = goroutine.as_u64().unwrap().to_string();
    let out = run(&[
        "core",
        s(&exe),
        s(&core),
        "print",
        &g,
        &frame,
        "s.cache",
        "--color",
        "never",
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().next().unwrap(),
        "s.cache = map[string]*main.User nil"
    );
}

#[test]
fn concurrent_writers_are_found_on_the_same_map() {
    let Some((exe, core, expected)) = case("go1.26", "core_concmap") else {
        return;
    };
    let got = json(&run(&[
        "core",
        s(&exe),
        s(&core),
        "maps",
        "--format",
        "json",
    ]));
    let crashing = stderr_truth(&expected)["crash"]["goroutine"]
        .as_u64()
        .unwrap();
    let m = got["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["expr"] == "c.hits")
        .expect("c.hits among the maps");
    assert_eq!(m["type"], "map[int]int");
    let ops: Vec<u64> = m["goroutines_in_map_ops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(
        ops.contains(&crashing),
        "{ops:?} lacks the crashing goroutine {crashing}"
    );
}

#[test]
fn stripped_executables_give_stacks_but_no_variables() {
    let Some((exe, core, expected)) = case("go1.26", "core_maps_stripped") else {
        return;
    };
    let got = json(&run(&[
        "core",
        s(&exe),
        s(&core),
        "goroutines",
        "--format",
        "json",
    ]));
    assert_eq!(
        got["goroutines"].as_array().unwrap().len() as u64,
        truth_goroutines(&expected)
    );
    let out = run(&["core", s(&exe), s(&core), "print", "main.cache"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DWARF"));
}

#[test]
fn a_truncated_core_still_answers_with_a_warning() {
    let Some((exe, core, _)) = case("go1.26", "core_nilmap") else {
        return;
    };
    let raw = {
        let data = std::fs::read(&core).unwrap();
        let mut dec = ruzstd::decoding::StreamingDecoder::new(&data[..]).unwrap();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut dec, &mut raw).unwrap();
        raw
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("core-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("core.cut");
    std::fs::write(&cut, &raw[..raw.len() * 3 / 4]).unwrap();
    let got = json(&run(&["core", s(&exe), s(&cut), "--format", "json"]));
    let warnings = got["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("truncated")),
        "{warnings:?}"
    );
}

#[test]
fn wrong_inputs_are_refused_with_exit_status_2() {
    let Some((exe, _core, _)) = case("go1.26", "core_nilmap") else {
        return;
    };
    let out = run(&["core", s(&exe), s(&exe)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an ELF core"));
}

/// `analyze` given the executable and the core (in either order, still
/// compressed as the fixtures are) makes the diagnosis from the core alone.
fn analyze(go: &str, name: &str) -> Option<Value> {
    let (exe, core, _) = case(go, name)?;
    Some(json(&run(&[
        "--format",
        "json",
        "analyze",
        s(&core),
        s(&exe),
    ])))
}

#[test]
fn analyze_names_the_nil_map_from_the_core() {
    let mut checked = 0;
    for go in ["go1.21", "go1.23", "go1.26"] {
        let Some(got) = analyze(go, "core_nilmap_noopt") else {
            continue;
        };
        let (_, _, expected) = case(go, "core_nilmap_noopt").unwrap();
        let truth = &stderr_truth(&expected)["crash"];
        assert_eq!(got["crash"]["kind"], "nil_map_write", "{go}");
        assert_eq!(got["crash"]["goroutine"], truth["goroutine"], "{go}");
        assert_eq!(
            got["crash"]["culprit"]["function"], truth["culprit"]["function"],
            "{go}"
        );
        assert_eq!(
            got["crash"]["culprit"]["line"], truth["culprit"]["line"],
            "{go}"
        );
        let f = got["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == "core-nil-map")
            .unwrap_or_else(|| panic!("{go}: no core-nil-map finding: {:#}", got["findings"]));
        let title = f["title"].as_str().unwrap();
        assert!(title.contains("s.cache"), "{go}: {title}");
        assert!(title.contains("map[string]*main.User"), "{go}: {title}");
        assert!(f["observation"].as_str().unwrap().contains("0x0"), "{go}");
        let m = &got["cores"][0]["maps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["expr"] == "s.cache")
            .cloned()
            .expect("s.cache in the core's maps");
        assert_eq!(m["nil"], true);
        assert_eq!(m["header"], "0x0");
        assert_eq!(m["function"], truth["culprit"]["function"]);
        checked += 1;
    }
    assert!(checked >= 2, "nil-map cores of two map eras");
}

#[test]
fn analyze_of_an_optimised_core_says_why_the_map_is_unnamed() {
    let Some(got) = analyze("go1.26", "core_nilmap") else {
        return;
    };
    assert_eq!(got["crash"]["kind"], "nil_map_write");
    let ids: Vec<&str> = got["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"core-nil-map") || ids.contains(&"core-nil-map-unnamed"),
        "{ids:?}"
    );
}

#[test]
fn analyze_shows_every_goroutine_on_the_concurrent_map() {
    let mut checked = 0;
    for go in ["go1.21", "go1.23", "go1.26"] {
        for name in ["core_concmap", "core_concmap_noopt"] {
            let Some(got) = analyze(go, name) else {
                continue;
            };
            let (_, _, expected) = case(go, name).unwrap();
            let truth = &stderr_truth(&expected)["crash"];
            assert_eq!(got["crash"]["kind"], truth["kind"], "{go}/{name}");
            assert_eq!(got["crash"]["goroutine"], truth["goroutine"], "{go}/{name}");
            let f = got["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["id"] == "core-concurrent-map")
                .unwrap_or_else(|| {
                    panic!("{go}/{name}: no core-concurrent-map: {:#}", got["findings"])
                });
            let obs = f["observation"].as_str().unwrap();
            assert!(obs.contains("writing flag"), "{go}/{name}: {obs}");
            // The crashing goroutine and at least one other writer, as
            // the traceback of the same crash shows them in map writes.
            let crashing = truth["goroutine"].as_u64().unwrap();
            let on_map: Vec<u64> = f["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e.as_str()?.strip_prefix("goroutine ")?.parse().ok())
                .collect();
            assert!(on_map.contains(&crashing), "{go}/{name}: {on_map:?}");
            assert!(on_map.len() >= 2, "{go}/{name}: {on_map:?}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "concurrent-map cores of two map eras");
}

#[test]
fn analyze_refuses_a_core_without_its_executable() {
    let Some((_, core, _)) = case("go1.26", "core_nilmap") else {
        return;
    };
    let out = run(&["analyze", s(&core)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("executable"), "{err}");
}

/// The frames the runtime printed for the instruction at `pc`, innermost
/// first, as `function (file:line)`: the frame whose `pc=` it is, after
/// the inlined frames printed just above it (their arguments read `(...)`
/// and they have no `pc=` of their own).
fn runtime_frames_at(trace: &str, pc: &str) -> Vec<String> {
    let lines: Vec<&str> = trace.lines().collect();
    let suffix = format!(" pc={pc}");
    let at = lines
        .iter()
        .position(|l| l.starts_with('\t') && l.ends_with(&suffix))
        .unwrap_or_else(|| panic!("no frame with pc={pc} in the trace"));
    let frame = |k: usize| {
        let function = &lines[k - 1][..lines[k - 1].rfind('(').unwrap()];
        let position = lines[k].trim_start().split(' ').next().unwrap();
        format!("{function} ({position})")
    };
    let mut frames = vec![frame(at)];
    let mut k = at;
    while k >= 3
        && lines[k - 3].ends_with("(...)")
        && lines[k - 2].starts_with('\t')
        && !lines[k - 2].contains(" pc=")
    {
        k -= 2;
        frames.insert(0, format!("{} inlined", frame(k)));
    }
    frames
}

#[test]
fn analyze_with_the_executable_resolves_the_signal_pc_like_the_runtime() {
    let mut checked = 0;
    let mut inlined = 0;
    for go in ["go1.21", "go1.23", "go1.26"] {
        for name in ["core_nilptr", "core_nilptr_noopt", "core_nilptr_stripped"] {
            let Some((exe, _, expected)) = case(go, name) else {
                continue;
            };
            let trace_path = exe.with_file_name("stderr.txt");
            let trace = std::fs::read_to_string(&trace_path).unwrap();
            let pc = trace
                .lines()
                .find_map(|l| l.strip_prefix("[signal ")?.split(" pc=").nth(1))
                .map(|p| p.trim_end_matches(']'))
                .expect("a signal line with pc=");
            let want = runtime_frames_at(&trace, pc);
            inlined += usize::from(want.len() > 1);

            // The executable beside the trace it printed.
            let got = json(&run(&[
                "analyze",
                "--format",
                "json",
                s(&trace_path),
                s(&exe),
            ]));
            let binary = &got["binaries"][0];
            assert_eq!(binary["go_version"], expected["go_version"], "{go}/{name}");
            assert_eq!(binary["main_module"]["path"], "crashlab", "{go}/{name}");
            assert_eq!(binary["package_path"], "crashlab/corelab", "{go}/{name}");
            let finding = got["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["id"] == "signal-pc")
                .unwrap_or_else(|| panic!("{go}/{name}: no signal-pc finding"));
            // The runtime printed the faulting frame: the finding agrees.
            assert_eq!(finding["severity"], "info", "{go}/{name}");
            let innermost = want[0].split(" (").next().unwrap();
            assert_eq!(
                finding["title"],
                format!("The faulting instruction is in {innermost}"),
                "{go}/{name}"
            );
            let observation = finding["observation"].as_str().unwrap();
            let chain = want.join(", called from ");
            assert!(
                observation.starts_with(&format!(
                    "The signal's pc={pc} is in {chain}, according to "
                )),
                "{go}/{name}: {observation}\nthe runtime printed: {chain}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "signal traces with their executables: {checked}"
    );
    assert!(inlined >= 1, "no case with an inlined faulting frame");
}
