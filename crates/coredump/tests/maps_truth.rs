//! Map contents read from the cores equal what the program printed about
//! its own maps before crashing (`crashlab: json` facts in expected.json),
//! for both eras: Swiss tables (Go 1.24+) and classic hmaps (Go ≤ 1.23),
//! whose large maps the program left in the middle of a grow.
//!
//! Package variables are checked in every build with DWARF; locals in the
//! unoptimised build (`-N -l`), since the optimised compiler emits no DWARF
//! for locals it keeps in registers. Stripped builds have no DWARF: the
//! test checks that values are refused with a clear reason.

mod common;

use common::CoreFixture;
use gosleuth_coredump::CoreTarget;
use gosleuth_target::{
    Inspector, LoadLimits, MapHeader, MapValue, Process, UnwindCache, UnwindOptions, Value,
    ValueKind,
};
use serde_json::Value as Json;

fn key_string(v: &Value) -> Result<String, String> {
    match &v.kind {
        ValueKind::String { text, len, .. } if *len as usize == text.len() => Ok(text.clone()),
        ValueKind::Int(i) => Ok(i.to_string()),
        ValueKind::Uint(u) => Ok(u.to_string()),
        other => Err(format!("unexpected key {other:?}")),
    }
}

fn to_json(v: &Value) -> Result<Json, String> {
    match &v.kind {
        ValueKind::String { text, len, .. } if *len as usize == text.len() => {
            Ok(Json::from(text.clone()))
        }
        ValueKind::Int(i) => Ok(Json::from(*i)),
        ValueKind::Uint(u) => Ok(Json::from(*u)),
        other => Err(format!("unexpected value {other:?}")),
    }
}

fn compare(label: &str, m: &MapValue, want: &Json) -> Result<(), String> {
    let want = want
        .as_object()
        .ok_or(format!("{label}: fact is not an object"))?;
    if m.addr == 0 {
        return Err(format!("{label}: nil map, expected {} entries", want.len()));
    }
    if m.count != want.len() as u64 {
        return Err(format!(
            "{label}: header count {} != {} expected",
            m.count,
            want.len()
        ));
    }
    if !m.complete {
        return Err(format!("{label}: incomplete walk: {:?}", m.health.problems));
    }
    let mut got = serde_json::Map::new();
    for (k, v) in &m.entries {
        let k = key_string(k)?;
        if got.insert(k.clone(), to_json(v)?).is_some() {
            return Err(format!("{label}: key {k:?} seen twice"));
        }
    }
    if &got != want {
        let missing: Vec<_> = want
            .keys()
            .filter(|k| !got.contains_key(*k))
            .take(5)
            .collect();
        let extra: Vec<_> = got
            .keys()
            .filter(|k| !want.contains_key(*k))
            .take(5)
            .collect();
        let differ: Vec<_> = want
            .iter()
            .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
            .take(5)
            .collect();
        return Err(format!(
            "{label}: entries differ: missing {missing:?}, extra {extra:?}, different {differ:?}"
        ));
    }
    if !m.health.problems.is_empty() {
        return Err(format!("{label}: problems {:?}", m.health.problems));
    }
    Ok(())
}

fn check_era(
    label: &str,
    m: &MapValue,
    f: &CoreFixture,
    facts: &Json,
    var: Option<&str>,
) -> Result<(), String> {
    let growing_fact = var.map(|v| &facts[format!("{v}_growing")]);
    let classic = f.go.as_str() <= "go1.23";
    match (&m.header, classic) {
        (Some(MapHeader::Classic(h)), true) => {
            // The program itself said whether the grow was still running.
            if let Some(Json::String(s)) = growing_fact {
                let want = s == "true";
                if m.health.growing != want || (h.oldbuckets != 0) != want {
                    return Err(format!(
                        "{label}: growing {} but the program saw {want}",
                        m.health.growing
                    ));
                }
                if want && h.nevacuate >= (1u64 << h.b) / 2 {
                    return Err(format!(
                        "{label}: nevacuate {} is not mid-grow",
                        h.nevacuate
                    ));
                }
            }
            Ok(())
        }
        (Some(MapHeader::Swiss(h)), false) => {
            // The program checked that one table sits in the directory
            // twice; each must be visited once.
            if let Some(Json::String(s)) = var.map(|v| &facts[format!("{v}_dir_duplicates")]) {
                let dup = h.tables.iter().any(|t| t.dir_entries > 1);
                if (s == "true") != dup {
                    return Err(format!(
                        "{label}: duplicate directory entries {dup}, the program saw {s}"
                    ));
                }
                let covered: u64 = h.tables.iter().map(|t| t.dir_entries).sum();
                if covered != h.dir_len {
                    return Err(format!(
                        "{label}: tables cover {covered} of {} directory entries",
                        h.dir_len
                    ));
                }
            }
            Ok(())
        }
        (h, _) => Err(format!("{label}: wrong map era {h:?} for {}", f.go)),
    }
}

fn check(f: &CoreFixture) -> Result<(), String> {
    let exe = f.exe();
    let core = f.core();
    let expected = f.expected();
    let facts = &expected["facts"];
    let target = CoreTarget::open(&core, &exe).map_err(|e| e.to_string())?;
    let p = Process::new(&target).map_err(|e| e.to_string())?;
    let ins = match Inspector::new(&p, LoadLimits::all()) {
        Ok(i) => i,
        Err(e) if f.build == "stripped" => {
            return if e.to_string().contains("DWARF") {
                Ok(())
            } else {
                Err(format!("stripped build refused without naming DWARF: {e}"))
            };
        }
        Err(e) => return Err(e.to_string()),
    };
    if f.build == "stripped" {
        return Err("a stripped build offered variables".into());
    }
    // Package variables.
    for (name, fact, var) in [
        ("main.cache", "cache", None),
        ("main.index", "index", Some("index")),
    ] {
        let v = ins.global(name).map_err(|e| format!("{name}: {e}"))?;
        let m = v.as_map().ok_or(format!("{name} is not a map: {v:?}"))?;
        compare(name, m, &facts[fact])?;
        check_era(name, m, f, facts, var)?;
    }
    // Locals of main.liveMaps (caller of the panicking reconcile).
    let g = p.goroutine(1).map_err(|e| e.to_string())?;
    let mut cache = UnwindCache::new();
    let stack = p.unwind(g, &mut cache, UnwindOptions::default());
    let frame = stack
        .frames
        .iter()
        .position(|fr| fr.function == "main.liveMaps")
        .ok_or("no main.liveMaps frame")?;
    let vars = ins
        .frame_variables(&stack, frame)
        .map_err(|e| e.to_string())?;
    let local = |n: &str| vars.iter().find(|v| v.name == n).map(|v| &v.value);
    if f.build == "noopt" {
        for (name, var) in [("small", None), ("large", Some("large"))] {
            let v = local(name).ok_or(format!("no local {name}"))?;
            let m = v.as_map().ok_or(format!("{name} is not a map: {v:?}"))?;
            compare(name, m, &facts[name])?;
            check_era(name, m, f, facts, var)?;
        }
        let missing = local("missing")
            .and_then(Value::as_map)
            .ok_or("no local missing")?;
        if !(missing.addr == 0 && missing.health.nil && missing.entries.is_empty()) {
            return Err(format!("missing should be a nil map: {missing:?}"));
        }
        let empty = local("empty")
            .and_then(Value::as_map)
            .ok_or("no local empty")?;
        if empty.addr == 0 || empty.count != 0 || empty.health.nil || !empty.entries.is_empty() {
            return Err(format!("empty should be a made, empty map: {empty:?}"));
        }
        // A map inside a struct behind a pointer, and a nil map field.
        let e = gosleuth_target::parse_expr("ledger.Balances").map_err(|e| e.to_string())?;
        let v = ins
            .eval(Some((&stack, frame)), &e)
            .map_err(|e| e.to_string())?;
        compare(
            "ledger.Balances",
            v.as_map().ok_or("ledger.Balances is not a map")?,
            &facts["balances"],
        )?;
        let e = gosleuth_target::parse_expr("ledger.Pending").map_err(|e| e.to_string())?;
        let v = ins
            .eval(Some((&stack, frame)), &e)
            .map_err(|e| e.to_string())?;
        if !v.as_map().is_some_and(|m| m.health.nil) {
            return Err(format!("ledger.Pending should be nil: {v:?}"));
        }
        // Indexing a map by key.
        let e = gosleuth_target::parse_expr("large[\"order-50007\"]").map_err(|e| e.to_string())?;
        let v = ins
            .eval(Some((&stack, frame)), &e)
            .map_err(|e| e.to_string())?;
        if v.kind != ValueKind::Int(facts["large"]["order-50007"].as_i64().unwrap_or(-1)) {
            return Err(format!("large[\"order-50007\"] = {v:?}"));
        }
    }
    Ok(())
}

fn main() {
    common::run_trials("maps_truth", |f| f.scenario == "maps", check)
}
