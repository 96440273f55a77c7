//! `gosleuth profile` end to end on crashlab's profile fixtures: every
//! subcommand's JSON schema, flame graphs, export, and located errors.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel);
    if p.is_file() {
        Some(p)
    } else if std::env::var("GOSLEUTH_CI").as_deref() == Ok("1") {
        panic!("fixture {} missing", p.display())
    } else {
        eprintln!("skipping: {} not generated", p.display());
        None
    }
}

fn gosleuth(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_gosleuth"))
        .args(["--color", "never"])
        .args(args)
        .output()
        .expect("spawn");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--format", "json", "profile"];
    a.extend_from_slice(args);
    let (code, out, err) = gosleuth(&a);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

#[test]
fn every_subcommand_has_its_json_schema() {
    let Some(cpu) = fixture("go1.26/prof_maps/cpu.pb.gz") else {
        return;
    };
    let cpu = cpu.to_str().unwrap();
    for (args, schema) in [
        (vec!["top", cpu], "gosleuth.profile.top/v1"),
        (
            vec!["peek", "main\\.recordHit", cpu],
            "gosleuth.profile.peek/v1",
        ),
        (vec!["tree", cpu], "gosleuth.profile.tree/v1"),
        (vec!["traces", cpu], "gosleuth.profile.traces/v1"),
        (
            vec!["list", "main\\.recordHit", cpu],
            "gosleuth.profile.list/v1",
        ),
        (vec!["flame", cpu], "gosleuth.profile.flame/v1"),
        (vec!["diff", "--base", cpu, cpu], "gosleuth.profile.diff/v1"),
        (vec!["maps", cpu], "gosleuth.profile.maps/v1"),
    ] {
        let v = json(&args);
        assert_eq!(v["schema"], schema, "{args:?}");
    }
    let top = json(&["top", cpu]);
    assert_eq!(top["sample_type"], "cpu");
    assert_eq!(top["unit"], "nanoseconds");
    assert!(top["total"].as_i64().unwrap() > 0);
    let row = &top["rows"][0];
    assert!(row["function"].is_string() && row["flat"].is_i64() && row["cum"].is_i64());
    // A profile against itself: every change is zero.
    let d = json(&["diff", "--base", cpu, cpu]);
    assert!(d["regressions"].as_array().unwrap().is_empty());
    assert!(d["improvements"].as_array().unwrap().is_empty());
}

#[test]
fn flame_graphs_svg_folded_and_differential() {
    let Some(cpu) = fixture("go1.26/prof_maps/cpu.pb.gz") else {
        return;
    };
    let cpu = cpu.to_str().unwrap();
    let (code, svg, err) = gosleuth(&["profile", "flame", cpu]);
    assert_eq!(code, 0, "{err}");
    assert!(svg.contains("<svg") && svg.contains("main.recordHit"));
    let (code, folded, _) = gosleuth(&["profile", "flame", "--folded", cpu]);
    assert_eq!(code, 0);
    let total: i64 = folded
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<i64>().unwrap())
        .sum();
    let top = json(&["top", cpu]);
    assert_eq!(
        total,
        top["total"].as_i64().unwrap(),
        "folded stacks sum to the total"
    );
    assert!(
        folded
            .lines()
            .all(|l| l.starts_with("runtime.") || l.contains(';') || !l.is_empty())
    );
    if let Some(old) = fixture("go1.23/prof_maps/cpu.pb.gz") {
        let (code, svg, err) =
            gosleuth(&["profile", "flame", "--base", old.to_str().unwrap(), cpu]);
        assert_eq!(code, 0, "{err}");
        assert!(svg.contains("<svg"));
    }
}

#[test]
fn tagfocus_selects_labelled_samples() {
    let Some(cpu) = fixture("go1.26/prof_labels/cpu.pb.gz") else {
        return;
    };
    let cpu = cpu.to_str().unwrap();
    let v = json(&["top", "--tagfocus", "handler=search", cpu]);
    let names: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["function"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"main.search"), "{names:?}");
    assert!(!names.contains(&"main.upload"), "{names:?}");
    let v = json(&["top", "--tagignore", "handler=search", cpu]);
    let names: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["function"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"main.upload") && !names.contains(&"main.search"),
        "{names:?}"
    );
}

#[test]
fn maps_base_shows_the_leaking_caller() {
    let (Some(before), Some(after)) = (
        fixture("go1.26/prof_mapleak_before/heap.pb.gz"),
        fixture("go1.26/prof_mapleak_after/heap.pb.gz"),
    ) else {
        return;
    };
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crashlab");
    let v = json(&[
        "maps",
        "--source",
        src.to_str().unwrap(),
        "--base",
        after.to_str().unwrap(),
        before.to_str().unwrap(),
    ]);
    assert_eq!(v["source_used"], true);
    let g = &v["growth"][0];
    assert_eq!(g["caller"], "main.(*SessionCache).Remember", "{v}");
    assert!(g["delta"].as_i64().unwrap() > 1 << 20);
}

#[test]
fn broken_profiles_get_a_located_error_and_exit_2() {
    let Some(cpu) = fixture("go1.26/prof_maps/cpu.pb.gz") else {
        return;
    };
    let raw = gosleuth_pprof::gunzip(&std::fs::read(&cpu).unwrap())
        .unwrap()
        .into_owned();
    let dir = std::env::temp_dir().join(format!("gosleuth-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pb");
    std::fs::write(&cut, &raw[..raw.len() * 2 / 3]).unwrap();
    let (code, _, err) = gosleuth(&["profile", "top", cut.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("byte offset"), "{err}");
    let (code, _, err) = gosleuth(&[
        "profile",
        "top",
        "--sample-index",
        "nope",
        cpu.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("must be one of"), "{err}");
    // Export to a file reloads.
    let out = dir.join("x.pb.gz");
    let (code, _, err) = gosleuth(&[
        "profile",
        "export",
        "-o",
        out.to_str().unwrap(),
        "--focus",
        "main\\.",
        cpu.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(gosleuth_pprof::Profile::decode(&std::fs::read(&out).unwrap()).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}
