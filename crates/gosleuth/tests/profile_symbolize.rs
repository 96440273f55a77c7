//! Address-only profiles (as perf and eBPF agents write them) symbolized
//! with the Go executable: `gosleuth profile top --binary EXE` on a copy of a
//! real CPU profile whose functions and lines were removed must give the
//! same figures as the original, symbolized by the Go runtime itself, and as
//! `go tool pprof` symbolizing the same copy with the same executable;
//! `gosleuth analyze` given the copy and the executable must report what it
//! reports from the original.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// gosleuth's JSON output for `args`, which must succeed.
fn gosleuth_json<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_gosleuth"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn top(args: &[&str]) -> Vec<(String, i64, i64)> {
    let head = ["profile", "top", "--format", "json", "--nodecount", "0"];
    let v = gosleuth_json(&[&head[..], args].concat());
    let mut rows: Vec<(String, i64, i64)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["function"].as_str().unwrap().to_string(),
                r["flat"].as_i64().unwrap(),
                r["cum"].as_i64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn address_only_profile_symbolized_with_the_executable() {
    let case = repo().join("testdata/go1.26/prof_maps");
    let tmp = std::env::temp_dir().join(format!("gosleuth-sym-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();

    let mut exe = Vec::new();
    ruzstd::decoding::StreamingDecoder::new(
        std::fs::File::open(case.join("executable.zst")).unwrap(),
    )
    .unwrap()
    .read_to_end(&mut exe)
    .unwrap();
    let exe_path = tmp.join("prof_maps");
    std::fs::write(&exe_path, &exe).unwrap();

    let original = case.join("cpu.pb.gz");
    let mut p = gosleuth_pprof::Profile::decode(&std::fs::read(&original).unwrap()).unwrap();
    for l in &mut p.locations {
        l.lines.clear();
    }
    p.functions.clear();
    for m in &mut p.mappings {
        m.has_functions = false;
        m.has_filenames = false;
        m.has_line_numbers = false;
        m.has_inline_frames = false;
    }
    let stripped = tmp.join("addresses-only.pb.gz");
    std::fs::write(&stripped, p.encode()).unwrap();

    let want = top(&[original.to_str().unwrap()]);
    let bare = top(&[stripped.to_str().unwrap()]);
    assert!(
        bare.iter()
            .all(|(f, _, _)| f.starts_with("0x") || f.contains(' ') || !f.contains('.')),
        "the copy still has names: {bare:?}"
    );
    let got = top(&[
        "--binary",
        exe_path.to_str().unwrap(),
        stripped.to_str().unwrap(),
    ]);
    assert_eq!(
        got, want,
        "symbolized with the executable vs the runtime's own symbols"
    );

    // `analyze` given the executable beside the copy: the same hot
    // functions and the same findings as from the original profile.
    let analyze = |inputs: &[&Path]| -> (Value, Vec<Value>) {
        let mut args = vec![
            Path::new("analyze"),
            Path::new("--format"),
            Path::new("json"),
        ];
        args.extend(inputs);
        let v = gosleuth_json(&args);
        let ids = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].clone())
            .collect();
        (v["profiles"][0]["top"].clone(), ids)
    };
    let (want_top, want_ids) = analyze(&[&original]);
    assert!(
        want_ids.contains(&Value::from("profile-hot-map-operations")),
        "{want_ids:?}"
    );
    let (bare_top, _) = analyze(&[&stripped]);
    assert_ne!(bare_top, want_top, "the copy alone has no function names");
    let (got_top, got_ids) = analyze(&[&stripped, &exe_path]);
    assert_eq!(
        got_top, want_top,
        "analyze: copy and executable vs original"
    );
    assert_eq!(
        got_ids, want_ids,
        "analyze: copy and executable vs original"
    );

    // Oracle: pprof symbolizing the same copy with the same executable. Its
    // local symbolizer for Go binaries (cmd/internal/objfile, like `go tool
    // addr2line`) does not expand inlined calls, so it names only physical
    // functions: each must be one we name too, and the totals must agree.
    let pprof = Command::new("go")
        .args(["tool", "pprof", "-top", "-nodecount=0", "-symbolize=local"])
        .arg(&exe_path)
        .arg(&stripped)
        .output();
    match pprof {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let ours: Vec<&str> = got.iter().map(|(f, _, _)| f.as_str()).collect();
            let mut rows = 0;
            for line in text.lines() {
                let cols: Vec<&str> = line.split_whitespace().collect();
                if cols.len() >= 6 && cols[1].ends_with('%') && cols[4].ends_with('%') {
                    let function = cols[5..].join(" ");
                    assert!(
                        ours.contains(&function.as_str()),
                        "pprof names {function}, we do not: {ours:?}"
                    );
                    rows += 1;
                }
            }
            assert!(rows > 5, "pprof printed no rows:\n{text}");
        }
        _ => assert!(
            std::env::var_os("GOSLEUTH_CI").is_none(),
            "go tool pprof not available in CI"
        ),
    }
    let _ = std::fs::remove_dir_all(Path::new(&tmp));
}
