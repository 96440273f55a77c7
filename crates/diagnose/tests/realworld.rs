//! Real traces posted by Go users (../shared/realworld, with labels.json):
//! every one parses, and kind, crashing goroutine, culprit and goroutine
//! count match the labels.

use std::path::PathBuf;

use gosleuth_diagnose::{DiagnoseOptions, TextEvidence, analyze_text};
use gosleuth_traceback::{ScanOptions, scan};

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

#[test]
fn realworld_traces_match_their_labels() {
    let dir = shared().join("realworld");
    let labels_path = dir.join("labels.json");
    let Ok(text) = std::fs::read_to_string(&labels_path) else {
        assert!(
            std::env::var_os("GOSLEUTH_CI").is_none(),
            "{} missing in CI",
            labels_path.display()
        );
        eprintln!("skipping: {} not found", labels_path.display());
        return;
    };
    let labels: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for label in &labels {
        let file = label["file"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let dump = scan(&bytes, &ScanOptions::default());
        let report = analyze_text(
            &[TextEvidence {
                input: file,
                dump: &dump,
            }],
            &DiagnoseOptions::default(),
        );
        let crash = report.crash.as_ref();
        let want_kind = label
            .get("underlying_kind")
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| label["crash_kind"].as_str().unwrap());
        let got_kind = crash.map(|c| c.kind.as_str()).unwrap_or("none");
        let mut problems = Vec::new();
        if got_kind != want_kind {
            problems.push(format!("kind {got_kind} != {want_kind}"));
        }
        let want_g = label["crashing_goroutine"].as_u64();
        let got_g = crash.and_then(|c| c.goroutine);
        if got_g != want_g {
            problems.push(format!("goroutine {got_g:?} != {want_g:?}"));
        }
        let want_count = label["goroutine_count"].as_u64().unwrap();
        let got_count = report.goroutines.as_ref().map_or(0, |g| g.total);
        if got_count != want_count {
            problems.push(format!("goroutine count {got_count} != {want_count}"));
        }
        let culprit = crash.and_then(|c| c.culprit.as_ref());
        match (&label["culprit"], culprit) {
            (serde_json::Value::Null, None) => {}
            (serde_json::Value::Null, Some(c)) => problems.push(format!(
                "culprit {} {:?}:{} but label has none",
                c.function, c.file, c.line
            )),
            (want, None) => problems.push(format!("no culprit, label {want}")),
            (want, Some(c)) => {
                let base = c
                    .file
                    .as_deref()
                    .unwrap_or("")
                    .rsplit(['/', '\\'])
                    .next()
                    .unwrap_or("");
                if want["function"].as_str() != Some(c.function.as_str())
                    || want["file"].as_str() != Some(base)
                    || want["line"].as_u64() != Some(u64::from(c.line))
                {
                    problems.push(format!(
                        "culprit {} {}:{} != {want}",
                        c.function, base, c.line
                    ));
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{file}: {}", problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} traces disagree:\n{}",
        failures.len(),
        labels.len(),
        failures.join("\n")
    );
}
