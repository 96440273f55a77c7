//! The map lens on crashlab's map-heavy CPU profile (`prof_maps`) names
//! the operations and the user functions the program is built from (its
//! facts in expected.json), for both map implementations: Go 1.23
//! (classic buckets) and Go 1.26 (Swiss tables).

mod common;

use gosleuth_pprof::Profile;
use gosleuth_pprof::maps::{self, MapEra, MapOp, NoSource};

fn check(version: &str, era: MapEra) {
    let dir = common::repo_root()
        .join("testdata")
        .join(version)
        .join("prof_maps");
    let Ok(data) = std::fs::read(dir.join("cpu.pb.gz")) else {
        if std::env::var("GOSLEUTH_CI").as_deref() == Ok("1") {
            panic!("{} missing", dir.display());
        }
        eprintln!("skipping: {} not generated", dir.display());
        return;
    };
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let facts = &expected["facts"];
    let p = Profile::decode(&data).unwrap();
    let cpu = p.sample_index("cpu").unwrap();
    let lens = maps::lens(&p, cpu, &NoSource);
    assert_eq!(lens.era, era, "{version}");
    assert!(
        lens.map_total * 100 > lens.total * 30,
        "{version}: map share {} of {}",
        lens.map_total,
        lens.total
    );
    for (op, fact) in [
        (MapOp::Read, "read_caller"),
        (MapOp::Write, "write_caller"),
        (MapOp::Grow, "grow_caller"),
        (MapOp::Iterate, "iterate_caller"),
        (MapOp::Delete, "delete_caller"),
    ] {
        let want = facts[fact].as_str().unwrap();
        let of_op: Vec<_> = lens.callers.iter().filter(|c| c.op == op).collect();
        // Every operation the program does most of is seen, with its
        // function as the top caller; growth and iteration happen in one
        // function only, so they must be attributed to it alone.
        let Some(top) = of_op.first() else {
            assert!(
                matches!(op, MapOp::Delete),
                "{version}: no {} samples at all",
                op.as_str()
            );
            continue;
        };
        assert_eq!(top.caller, want, "{version}: top {} caller", op.as_str());
        if matches!(op, MapOp::Read | MapOp::Grow | MapOp::Iterate) {
            assert!(
                of_op.iter().all(|c| c.caller == want),
                "{version}: {} attributed elsewhere: {of_op:?}",
                op.as_str()
            );
        }
        // The runtime entry point matches the key type.
        match op {
            MapOp::Read => assert!(top.via.ends_with("_faststr"), "{}", top.via),
            MapOp::Write => assert!(top.via.ends_with("_fast64"), "{}", top.via),
            _ => {}
        }
    }
}

#[test]
fn map_lens_names_callers_on_go1_26_swiss_maps() {
    check("go1.26", MapEra::Swiss);
}

#[test]
fn map_lens_names_callers_on_go1_23_classic_maps() {
    check("go1.23", MapEra::Classic);
}
