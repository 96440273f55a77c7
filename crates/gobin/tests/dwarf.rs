//! DWARF queries on the fixture binaries, checked against independent
//! truths: `go tool nm` addresses for globals, the pclntab for function
//! ranges and lines, Go's layout rules for struct offsets, and the
//! runtime's stable constants.

mod common;

use std::collections::HashMap;

use common::*;
use gosleuth_gobin::{Binary, GoKind, LocationContext, PieceLocation, TypeKind, VariableRole};

fn with_dwarf(f: impl Fn(&Fixture, &Binary<'_>)) -> usize {
    let Some(fixtures) = fixtures_or_skip() else {
        return 0;
    };
    let mut n = 0;
    for fx in &fixtures {
        let bytes = fx.bytes();
        let bin = Binary::parse(&bytes).unwrap();
        if bin.dwarf_info().is_none() {
            assert!(bin.dwarf().is_err(), "{}", fx.label);
            continue;
        }
        n += 1;
        f(fx, &bin);
    }
    assert!(n > 0 || !ci(), "no fixture with DWARF");
    n
}

#[test]
fn dwarf_version_follows_go_version() {
    with_dwarf(|fx, bin| {
        let v = bin.dwarf_info().unwrap().version;
        let go = bin.build_info().unwrap().go_version;
        let minor: u32 = go
            .trim_start_matches("go1.")
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let want = if minor >= 25 { 5 } else { 4 };
        assert_eq!(v, want, "{} ({go})", fx.label);
        let dwarf = bin.dwarf().unwrap();
        let units = dwarf.compile_units().unwrap();
        assert!(units.iter().any(|u| u.name == "main" && u.language == 22));
        let main = units.iter().find(|u| u.name == "main").unwrap();
        assert!(
            main.producer.contains(&go),
            "{}: {}",
            fx.label,
            main.producer
        );
        assert_eq!(main.version, want);
    });
}

#[test]
fn globals_are_where_go_tool_nm_says() {
    let Some(go) = go_or_skip() else { return };
    with_dwarf(|fx, bin| {
        if !bin.elf().has_symtab() {
            return;
        }
        let nm = String::from_utf8(run_go(
            &go,
            &["tool", "nm", fx.path.to_str().unwrap()],
            None,
        ))
        .unwrap();
        let mut syms: HashMap<String, u64> = HashMap::new();
        for l in nm.lines() {
            let p: Vec<&str> = l.split_whitespace().collect();
            if p.len() >= 3
                && p[0].len() > 1
                && let Ok(a) = u64::from_str_radix(p[0], 16)
            {
                syms.insert(p[2..].join(" "), a);
            }
        }
        let dwarf = bin.dwarf().unwrap();
        let mut checked = 0;
        let names: Vec<&str> = dwarf.global_names().unwrap().collect();
        for name in names {
            let g = dwarf.global(name).unwrap();
            // C globals of cgo binaries can be static duplicates: Go names only.
            if !name.contains('.') {
                continue;
            }
            let (Some(addr), Some(&want)) = (g.address, syms.get(name)) else {
                continue;
            };
            assert_eq!(addr, want, "{}: global {name}", fx.label);
            checked += 1;
        }
        assert!(checked > 50, "{}: only {checked} globals checked", fx.label);
        for name in [
            "runtime.allgs",
            "runtime.allglen",
            "runtime.allm",
            "runtime.firstmoduledata",
            "main.Global",
        ] {
            let g = dwarf.global(name).unwrap();
            assert_eq!(g.address, syms.get(name).copied(), "{}: {name}", fx.label);
        }
        // firstmoduledata found by the pclntab locator is the same object.
        assert_eq!(
            bin.moduledata_address(),
            dwarf.global("runtime.firstmoduledata").unwrap().address,
            "{}",
            fx.label
        );
    });
}

#[test]
fn types_have_go_shapes_and_offsets() {
    with_dwarf(|fx, bin| {
        let d = bin.dwarf().unwrap();
        // type Point struct { X, Y int; Name string; Tags map[string]int }
        let p = d
            .underlying(d.type_by_name("main.Point").unwrap().id)
            .unwrap();
        let offs: Vec<(&str, u64)> = p
            .fields()
            .iter()
            .map(|f| (f.name.as_str(), f.offset))
            .collect();
        assert_eq!(
            offs,
            [("X", 0), ("Y", 8), ("Name", 16), ("Tags", 32)],
            "{}",
            fx.label
        );
        assert_eq!(p.size, Some(40));
        let tags = d.type_at(p.field("Tags").unwrap().ty).unwrap();
        assert_eq!(tags.name, "map[string]int");
        assert_eq!(tags.go_kind, Some(GoKind::MAP));
        assert_eq!(d.type_at(tags.key.unwrap()).unwrap().name, "string");
        assert_eq!(d.type_at(tags.elem.unwrap()).unwrap().name, "int");
        let TypeKind::Typedef { target: Some(ptr) } = tags.kind else {
            panic!("{tags:?}")
        };
        let ptr = d.type_at(ptr).unwrap();
        // Classic maps before 1.24, Swiss tables after.
        assert!(
            ptr.name == "*hash<string,int>" || ptr.name == "*map<string,int>",
            "{}: {}",
            fx.label,
            ptr.name
        );
        let s = d.type_by_name("string").unwrap();
        assert_eq!(s.go_kind, Some(GoKind::STRING));
        assert_eq!(
            s.fields()
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>(),
            ["str", "len"]
        );
        let sl = d.type_by_name("[]main.Point").unwrap();
        assert_eq!(sl.go_kind, Some(GoKind::SLICE));
        assert_eq!(d.type_at(sl.elem.unwrap()).unwrap().name, "main.Point");
        assert!(d.type_by_name("main.Point").unwrap().runtime_type.is_some());
        // g.sched.sp is sched's offset plus sp's.
        let (sched, gobuf) = d.offset_of("runtime.g", "sched").unwrap();
        assert_eq!(gobuf.name, "runtime.gobuf");
        let (sp, _) = d.offset_of("runtime.g", "sched.sp").unwrap();
        let (sp_in_gobuf, _) = d.offset_of("runtime.gobuf", "sp").unwrap();
        assert_eq!(sp, sched + sp_in_gobuf);
        assert!(d.offset_of("runtime.g", "sched.nope").is_err());
        // A uint32 before 1.20, an atomic.Uint32 struct (field `value`) since.
        let (_, status) = d.offset_of("runtime.g", "atomicstatus").unwrap();
        assert_eq!(
            d.underlying(status.id).unwrap().size,
            Some(4),
            "{}: {status:?}",
            fx.label
        );
    });
}

#[test]
fn constants_carry_runtime_values() {
    with_dwarf(|fx, bin| {
        let d = bin.dwarf().unwrap();
        assert_eq!(
            d.constant("runtime._Grunning").unwrap().value,
            2,
            "{}",
            fx.label
        );
        assert_eq!(d.constant("runtime._Gwaiting").unwrap().value, 4);
        assert_eq!(d.constant("runtime._Gscan").unwrap().value, 0x1000);
        let wr = d.constants_with_prefix("runtime.waitReason").unwrap();
        assert!(
            wr.len() > 20,
            "{}: {} waitReason constants",
            fx.label,
            wr.len()
        );
        assert_eq!(wr[0].name, "runtime.waitReasonZero");
        assert_eq!(wr[0].value, 0);
        assert!(wr.iter().any(|c| c.name == "runtime.waitReasonChanReceive"));
    });
}

struct Frame {
    cfa: u64,
}

impl LocationContext for Frame {
    fn register(&self, _reg: u16) -> Option<u64> {
        None
    }
    fn cfa(&self) -> Option<u64> {
        Some(self.cfa)
    }
    fn read_memory(&self, _addr: u64, _size: u8) -> Option<u64> {
        None
    }
}

#[test]
fn functions_and_locals() {
    with_dwarf(|fx, bin| {
        let d = bin.dwarf().unwrap();
        let tab = bin.pclntab().unwrap();
        // func work(n int) int { total := 0; for i := ... }
        let f = d.function("main.work").unwrap();
        let pf = bin.func_by_name("main.work").unwrap().unwrap();
        assert_eq!(
            (f.low_pc, f.high_pc),
            (pf.entry(), pf.end()),
            "{}",
            fx.label
        );
        let vars = d.variables(&f).unwrap();
        let find = |n: &str| vars.iter().find(|v| v.name == n);
        let n = find("n").unwrap_or_else(|| panic!("{}: {vars:?}", fx.label));
        assert_eq!(n.role, VariableRole::Param);
        assert!(
            vars.iter().any(|v| v.role == VariableRole::Result),
            "{}: {vars:?}",
            fx.label
        );
        assert_eq!(d.type_at(n.ty.unwrap()).unwrap().name, "int");
        if fx.variant == "noopt" {
            // -N -l: every variable lives at a fixed frame offset.
            let total = find("total").unwrap();
            assert_eq!(total.role, VariableRole::Local);
            let pieces = d
                .evaluate(&total.location, pf.entry() + 8, &Frame { cfa: 0x10000 })
                .unwrap()
                .unwrap();
            let [piece] = pieces.as_slice() else {
                panic!("{pieces:?}")
            };
            let PieceLocation::Address(a) = piece.location else {
                panic!("{piece:?}")
            };
            assert!(
                a < 0x10000 && a > 0x10000 - 0x1000,
                "{}: total at {a:#x}",
                fx.label
            );
        } else {
            assert!(
                n.location.is_list(),
                "{}: optimized params use location lists",
                fx.label
            );
        }
        // DWARF function ranges agree with the pclntab.
        for pc in sample_pcs(tab, 2000, 3) {
            let Some(df) = d.function_at(pc).unwrap() else {
                continue;
            };
            let pf = tab.find(pc).unwrap().unwrap();
            // Go 1.19's linker writes `type..eq.[...]T` to the pclntab for
            // what DWARF calls `type..eq.[9]T`.
            if pf.name().is_some_and(|n| n.contains("[...]")) {
                continue;
            }
            assert_eq!(Some(df.name.as_str()), pf.name(), "{} {pc:#x}", fx.label);
        }
    });
}

#[test]
fn dwarf_lines_agree_with_pclntab() {
    with_dwarf(|fx, bin| {
        let d = bin.dwarf().unwrap();
        let tab = bin.pclntab().unwrap();
        let (mut same, mut total) = (0, 0);
        for pc in sample_pcs(tab, 300, 11) {
            let Some((file, line)) = d.line_at(pc).unwrap() else {
                continue;
            };
            let frames = bin.frames(pc).unwrap();
            let Some(inner) = frames.first() else {
                continue;
            };
            total += 1;
            if inner.file == file && u64::from(inner.line) == line {
                same += 1;
            }
        }
        assert!(total > 100, "{}: {total}", fx.label);
        // The linker writes both tables from the same positions.
        assert_eq!(same, total, "{}: {same}/{total} PCs agree", fx.label);
    });
}
