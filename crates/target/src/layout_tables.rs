//! Runtime layouts of the Go releases gosleuth knows, for executables
//! without DWARF. Generated from each release's own DWARF with
//! `cargo run -p gosleuth-target --example layout_table -- EXE...` and
//! checked against it by the `builtin_layouts_match_dwarf` test.

use crate::layout::{GoVersion, Layout, LayoutSource};

/// The layout for `v`: exact release line, or the nearest one known.
pub(crate) fn lookup(v: GoVersion) -> Option<Layout> {
    let tables = tables();
    if let Some((_, l)) = tables.iter().find(|(m, _)| *m == v.minor) {
        let mut l = l.clone();
        l.source = LayoutSource::Builtin;
        return Some(l);
    }
    let (_, l) = tables
        .iter()
        .min_by_key(|(m, _)| (i64::from(*m) - i64::from(v.minor)).abs())?;
    let mut l = l.clone();
    l.source = LayoutSource::Nearest;
    Some(l)
}

use crate::layout::{GLayout, MLayout, ModuleLayout, PanicLayout, TypeLayout};

fn tables() -> Vec<(u32, Layout)> {
    vec![
        // go1.26.8 amd64
        (
            26,
            Layout {
                g: GLayout {
                    stack_lo: 0,
                    stack_hi: 8,
                    panic: 32,
                    defer: 40,
                    m: 48,
                    sched_sp: 56,
                    sched_pc: 64,
                    sched_g: 72,
                    sched_lr: 88,
                    sched_bp: 96,
                    syscallsp: 104,
                    syscallpc: 112,
                    syscallbp: Some(120),
                    atomicstatus: 144,
                    goid: 152,
                    waitsince: 168,
                    waitreason: 176,
                    parent_goid: Some(280),
                    gopc: 288,
                    startpc: 304,
                    lockedm: 208,
                    sig: 224,
                    sigcode0: 256,
                    sigcode1: 264,
                    sigpc: 272,
                    labels: Some(352),
                },
                m: MLayout {
                    g0: 0,
                    curg: 184,
                    gsignal: 72,
                    procid: 64,
                    id: 232,
                    throwing: Some((244, 4)),
                    dying: 268,
                    caughtsig: 192,
                    alllink: 352,
                    lockedg: 384,
                },
                panic: PanicLayout {
                    arg: 0,
                    link: 16,
                    recovered: 88,
                    goexit: Some(90),
                    repanicked: Some(89),
                },
                ty: TypeLayout {
                    size: 0,
                    tflag: 20,
                    kind: 23,
                    str_: 40,
                    itab_type: 8,
                },
                module: ModuleLayout {
                    types: 296,
                    etypes: 304,
                    next: 584,
                },
                source: LayoutSource::Builtin,
            },
        ),
        // go1.23.9 amd64
        (
            23,
            Layout {
                g: GLayout {
                    stack_lo: 0,
                    stack_hi: 8,
                    panic: 32,
                    defer: 40,
                    m: 48,
                    sched_sp: 56,
                    sched_pc: 64,
                    sched_g: 72,
                    sched_lr: 96,
                    sched_bp: 104,
                    syscallsp: 112,
                    syscallpc: 120,
                    syscallbp: Some(128),
                    atomicstatus: 152,
                    goid: 160,
                    waitsince: 176,
                    waitreason: 184,
                    parent_goid: Some(280),
                    gopc: 288,
                    startpc: 304,
                    lockedm: 216,
                    sig: 224,
                    sigcode0: 256,
                    sigcode1: 264,
                    sigpc: 272,
                    labels: Some(352),
                },
                m: MLayout {
                    g0: 0,
                    curg: 192,
                    gsignal: 80,
                    procid: 72,
                    id: 232,
                    throwing: Some((244, 4)),
                    dying: 268,
                    caughtsig: 200,
                    alllink: 328,
                    lockedg: 344,
                },
                panic: PanicLayout {
                    arg: 8,
                    link: 24,
                    recovered: 96,
                    goexit: Some(97),
                    repanicked: None,
                },
                ty: TypeLayout {
                    size: 0,
                    tflag: 20,
                    kind: 23,
                    str_: 40,
                    itab_type: 8,
                },
                module: ModuleLayout {
                    types: 296,
                    etypes: 304,
                    next: 576,
                },
                source: LayoutSource::Builtin,
            },
        ),
        // go1.21.13 amd64
        (
            21,
            Layout {
                g: GLayout {
                    stack_lo: 0,
                    stack_hi: 8,
                    panic: 32,
                    defer: 40,
                    m: 48,
                    sched_sp: 56,
                    sched_pc: 64,
                    sched_g: 72,
                    sched_lr: 96,
                    sched_bp: 104,
                    syscallsp: 112,
                    syscallpc: 120,
                    syscallbp: None,
                    atomicstatus: 144,
                    goid: 152,
                    waitsince: 168,
                    waitreason: 176,
                    parent_goid: Some(272),
                    gopc: 280,
                    startpc: 296,
                    lockedm: 208,
                    sig: 216,
                    sigcode0: 248,
                    sigcode1: 256,
                    sigpc: 264,
                    labels: Some(344),
                },
                m: MLayout {
                    g0: 0,
                    curg: 192,
                    gsignal: 80,
                    procid: 72,
                    id: 232,
                    throwing: Some((244, 4)),
                    dying: 268,
                    caughtsig: 200,
                    alllink: 336,
                    lockedg: 352,
                },
                panic: PanicLayout {
                    arg: 8,
                    link: 24,
                    recovered: 48,
                    goexit: Some(50),
                    repanicked: None,
                },
                ty: TypeLayout {
                    size: 0,
                    tflag: 20,
                    kind: 23,
                    str_: 40,
                    itab_type: 8,
                },
                module: ModuleLayout {
                    types: 296,
                    etypes: 304,
                    next: 584,
                },
                source: LayoutSource::Builtin,
            },
        ),
    ]
}
