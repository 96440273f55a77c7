//! The Go runtime as the oracle for frame sizes: a traceback printed under
//! `GOTRACEBACK=crash` gives every frame's `fp=`, `sp=` and `pc=`, and the
//! runtime's unwinder computed `fp` as `sp + pcsp(pc) + 8` on amd64 (the
//! return address slot). On the crashlab core cases (every executable with
//! the trace it printed as it died, Go 1.21, 1.23 and 1.26, default, `-N -l`
//! and stripped builds), `Binary::sp_delta` must give that same pcsp value
//! at every printed pc, and name the function the trace printed there.

mod common;

use gosleuth_gobin::Binary;

/// `(function, pc, fp, sp)` of each frame line with all three values.
fn frames(trace: &str) -> Vec<(String, u64, u64, u64)> {
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    let lines: Vec<&str> = trace.lines().collect();
    let mut out = Vec::new();
    for (k, line) in lines.iter().enumerate().skip(1) {
        let Some(position) = line.strip_prefix('\t') else {
            continue;
        };
        let value = |key: &str| {
            position
                .split(' ')
                .find_map(|w| w.strip_prefix(key))
                .and_then(hex)
        };
        let (Some(fp), Some(sp), Some(pc)) = (value("fp="), value("sp="), value("pc=")) else {
            continue;
        };
        let caller = lines[k - 1];
        let function = &caller[..caller.rfind('(').unwrap_or(caller.len())];
        out.push((function.to_string(), pc, fp, sp));
    }
    out
}

/// A function name as tracebacks print it: `runtime.gopanic` reads `panic`
/// and type arguments read `[...]` (runtime/traceback.go,
/// funcNamePiecesForPrint).
fn as_printed(name: &str) -> String {
    if name == "runtime.gopanic" {
        return "panic".to_string();
    }
    match (name.find('['), name.rfind(']')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}[...]{}", &name[..open], &name[close + 1..])
        }
        _ => name.to_string(),
    }
}

#[test]
fn sp_delta_equals_the_runtimes_frame_sizes() {
    let root = common::repo_root().join("testdata");
    let mut checked = 0;
    let mut cases = 0;
    for go in ["go1.21", "go1.23", "go1.26"] {
        let Ok(dir) = std::fs::read_dir(root.join(go)) else {
            continue;
        };
        let mut dirs: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for case in dirs {
            let (exe, trace) = (case.join("executable.zst"), case.join("stderr.txt"));
            if !exe.exists() || !trace.exists() {
                continue;
            }
            let label = case.strip_prefix(&root).unwrap().display().to_string();
            let bytes = common::unzstd(&exe);
            let bin = Binary::parse(&bytes).unwrap();
            let trace = std::fs::read_to_string(&trace).unwrap();
            let frames = frames(&trace);
            assert!(!frames.is_empty(), "{label}: no frame with fp, sp and pc");
            for (function, pc, fp, sp) in frames {
                let want = fp.checked_sub(sp + 8).expect("fp above sp");
                let got = bin.sp_delta(pc).unwrap();
                assert_eq!(
                    got.map(i64::from),
                    Some(want as i64),
                    "{label}: {function} pc={pc:#x}"
                );
                // The physical function at the pc is the one the runtime
                // printed on the frame's line.
                let physical = bin.frames(pc).unwrap();
                assert_eq!(
                    physical.last().map(|f| as_printed(f.function)),
                    Some(function.clone()),
                    "{label}: pc={pc:#x}"
                );
                checked += 1;
            }
            cases += 1;
        }
    }
    assert!(cases > 0, "no crashlab core case in testdata");
    assert!(checked >= 100, "only {checked} frames in {cases} cases");
    eprintln!("{checked} frames in {cases} cases");
}
