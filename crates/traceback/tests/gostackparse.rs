//! DataDog/gostackparse's own fixtures (../shared/peers/gostackparse) with
//! their expected parses: gosleuth must find the same goroutines.
//!
//! One deliberate difference: gostackparse drops a goroutine whose stack
//! ends in a function line without its file line (`partial_stack`,
//! `partial_createdby`, `empty_stack`, a malformed function line in
//! `errorhandling`) and reports an error. gosleuth keeps such a goroutine —
//! what was printed is still true — and marks it: the frame's file is
//! unknown, and the goroutine's stack or creator is incomplete. The test
//! checks that marking instead of the drop.

use std::path::PathBuf;

use gosleuth_traceback::{Dump, Goroutine, ScanOptions, scan};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peers/gostackparse")
}

fn frames_json(dump: &Dump, g_stack: gosleuth_traceback::StackId) -> Vec<Value> {
    dump.stack(g_stack)
        .frames
        .iter()
        .map(|f| {
            serde_json::json!({
                "Func": dump.str(f.function),
                "File": f.file.map(|s| dump.str(s)).unwrap_or(""),
                "Line": f.line,
            })
        })
        .collect()
}

fn created_json(dump: &Dump, g: &Goroutine) -> Value {
    match &g.created_by {
        Some(c) => serde_json::json!({
            "Func": dump.str(c.function),
            "File": c.file.map(|s| dump.str(s)).unwrap_or(""),
            "Line": c.line,
        }),
        None => Value::Null,
    }
}

fn ancestor_json(dump: &Dump, g: &Goroutine) -> Value {
    // gostackparse nests ancestors: each one's Ancestor is the next.
    let mut chain = Value::Null;
    for a in g.ancestors.iter().rev() {
        let created = match &a.created_by {
            Some(c) => {
                serde_json::json!({"Func": dump.str(c.function), "File": c.file.map(|s| dump.str(s)).unwrap_or(""), "Line": c.line})
            }
            None => Value::Null,
        };
        let mut obj = serde_json::json!({
            "ID": a.id, "State": "", "Wait": 0, "LockedToThread": false,
            "Stack": frames_json(dump, a.stack),
            "FramesElided": dump.stack(a.stack).elided.is_some(),
            "CreatedBy": created,
        });
        if !chain.is_null() {
            obj["Ancestor"] = chain;
        }
        chain = obj;
    }
    chain
}

fn goroutine_json(dump: &Dump, g: &Goroutine) -> Value {
    let mut v = serde_json::json!({
        "ID": g.id,
        "State": dump.str(g.state),
        "Wait": u64::from(g.wait_minutes.unwrap_or(0)) * 60_000_000_000,
        "LockedToThread": g.flags.locked_to_thread,
        "Stack": frames_json(dump, g.stack),
        "FramesElided": dump.stack(g.stack).elided.is_some(),
        "CreatedBy": created_json(dump, g),
    });
    let anc = ancestor_json(dump, g);
    if !anc.is_null() {
        v["Ancestor"] = anc;
    }
    v
}

/// A goroutine gostackparse drops is one whose printed text is incomplete.
fn is_marked_incomplete(dump: &Dump, g: &Goroutine) -> bool {
    let stack = dump.stack(g.stack);
    stack.frames.is_empty()
        || stack
            .frames
            .iter()
            .any(|f| f.file.is_none() || dump.str(f.function).is_empty())
        || g.created_by.is_some_and(|c| c.file.is_none())
}

#[test]
fn gostackparse_fixtures_parse_the_same() {
    let dir = dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        assert!(
            std::env::var_os("GOSLEUTH_CI").is_none(),
            "{} missing in CI",
            dir.display()
        );
        eprintln!("skipping: {} not found", dir.display());
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".golden.json").map(str::to_string))
        .collect();
    names.sort();
    assert!(
        names.len() >= 10,
        "expected the gostackparse fixtures, found {names:?}"
    );
    let mut failures = Vec::new();
    for name in &names {
        let text = std::fs::read(dir.join(format!("{name}.txt"))).unwrap();
        let golden: Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{name}.golden.json"))).unwrap(),
        )
        .unwrap();
        let dump = scan(&text, &ScanOptions::default());
        let ours: Vec<&Goroutine> = dump.traces.iter().flat_map(|t| &t.goroutines).collect();
        let want = golden["Goroutines"].as_array().cloned().unwrap_or_default();
        for w in &want {
            let id = w["ID"].as_u64().unwrap();
            match ours.iter().find(|g| g.id == id) {
                None => failures.push(format!("{name}: goroutine {id} missing")),
                Some(g) => {
                    let got = goroutine_json(&dump, g);
                    if &got != w {
                        failures.push(format!(
                            "{name}: goroutine {id} differs:\n got  {got}\n want {w}"
                        ));
                    }
                }
            }
        }
        for g in &ours {
            if !want.iter().any(|w| w["ID"].as_u64() == Some(g.id))
                && !is_marked_incomplete(&dump, g)
            {
                failures.push(format!(
                    "{name}: goroutine {} is extra and not marked incomplete",
                    g.id
                ));
            }
        }
        let errors = golden["Errors"].as_array().map_or(0, Vec::len);
        if errors > 0 && want.len() == ours.len() && name != "errorhandling" {
            failures.push(format!(
                "{name}: gostackparse reports {errors} errors but we found nothing incomplete"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
