//! Dirty input is the normal case. Each crash fixture of crashlab is dressed
//! the way log systems and pastes dress real traces — CRI and journald
//! prefixes, timestamps, Docker's JSON lines, a JSON field with escaped
//! newlines, CRLF, tabs lost in Markdown, unrelated lines interleaved, two
//! traces in one file — and the diagnosis must not change: same kind,
//! message, crashing goroutine and culprit as the clean text.

use std::io::Read;
use std::path::PathBuf;

use gosleuth_diagnose::{DiagnoseOptions, Report, TextEvidence, analyze_text};
use gosleuth_traceback::{ScanOptions, scan};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The crash fixtures: (name, stderr text).
fn crash_fixtures() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let root = repo().join("testdata");
    for version in std::fs::read_dir(&root).unwrap().flatten() {
        for case in std::fs::read_dir(version.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let expected = case.path().join("expected.json");
            let Ok(text) = std::fs::read_to_string(&expected) else {
                continue;
            };
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            for a in v["artifacts"].as_array().into_iter().flatten() {
                if a["crash"].is_null() || a["format"] != "traceback" {
                    continue;
                }
                let file = case.path().join(a["file"].as_str().unwrap());
                let mut data = String::new();
                if file.extension().is_some_and(|e| e == "gz") {
                    flate2::read::GzDecoder::new(std::fs::File::open(&file).unwrap())
                        .read_to_string(&mut data)
                        .unwrap();
                } else {
                    data = std::fs::read_to_string(&file).unwrap();
                }
                let name = format!(
                    "{}/{}",
                    version.file_name().to_string_lossy(),
                    case.file_name().to_string_lossy()
                );
                out.push((name, data));
            }
        }
    }
    out.sort();
    assert!(out.len() >= 20, "crash fixtures missing");
    out
}

fn diagnose(text: &str) -> Report {
    let dump = scan(text.as_bytes(), &ScanOptions::default());
    analyze_text(
        &[TextEvidence {
            input: "x",
            dump: &dump,
        }],
        &DiagnoseOptions::default(),
    )
}

/// What must not change.
fn verdict(r: &Report) -> String {
    match &r.crash {
        None => "no crash".into(),
        Some(c) => format!(
            "{} | {:?} | {:?} | {:?}",
            c.kind,
            c.message,
            c.goroutine,
            c.culprit.as_ref().map(|f| (&f.function, &f.file, f.line))
        ),
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
}

fn json_escape(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A named function from clean text to dirty text.
type Dressing = (&'static str, Box<dyn Fn(&str) -> String>);

/// The dressings.
fn dressings() -> Vec<Dressing> {
    vec![
        (
            "kubernetes CRI",
            Box::new(|t: &str| {
                lines(t)
                    .enumerate()
                    .map(|(i, l)| {
                        format!(
                            "2026-11-27T04:19:{:02}.{:09}Z stderr F {l}\n",
                            i % 60,
                            i * 7919
                        )
                    })
                    .collect()
            }),
        ),
        (
            "journald",
            Box::new(|t: &str| {
                lines(t)
                    .map(|l| {
                        format!(
                            "Nov 27 04:19:03 node-7 user-service[{}]: {l}\n",
                            4000 + l.len()
                        )
                    })
                    .collect()
            }),
        ),
        (
            "timestamps with log lines before",
            Box::new(|t: &str| {
                let mut s = String::from(
                    "2026/11/27 04:19:00 starting\n2026/11/27 04:19:01 level=info msg=\"ready\"\n",
                );
                s.extend(lines(t).map(|l| format!("2026/11/27 04:19:03 {l}\n")));
                s
            }),
        ),
        (
            "docker json-file",
            Box::new(|t: &str| {
                lines(t)
                .map(|l| format!("{{\"log\":{},\"stream\":\"stderr\",\"time\":\"2026-11-27T04:19:03.1Z\"}}\n", json_escape(&format!("{l}\n"))))
                .collect()
            }),
        ),
        (
            "JSON field with the whole trace",
            Box::new(|t: &str| {
                format!(
                    "{{\"level\":\"error\",\"msg\":\"crash\",\"stack\":{}}}\n",
                    json_escape(t)
                )
            }),
        ),
        ("CRLF", Box::new(|t: &str| t.replace('\n', "\r\n"))),
        (
            "tabs lost to 4 spaces",
            Box::new(|t: &str| t.replace('\t', "    ")),
        ),
        (
            "tabs and blank lines lost",
            Box::new(|t: &str| {
                lines(t)
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| format!("{}\n", l.trim_start()))
                    .collect()
            }),
        ),
        (
            "unrelated lines interleaved between goroutines",
            Box::new(|t: &str| {
                let mut s = String::new();
                for l in lines(t) {
                    s.push_str(l);
                    s.push('\n');
                    if l.is_empty() {
                        s.push_str("time=\"2026-11-27T04:19:03Z\" level=warning msg=\"slow request\" path=/v1/users\n");
                    }
                }
                s
            }),
        ),
        (
            "markdown code fence",
            Box::new(|t: &str| format!("Here is the crash:\n\n```\n{t}```\n\nany idea?\n")),
        ),
    ]
}

#[test]
fn dressed_fixtures_give_the_same_diagnosis() {
    let mut failures = Vec::new();
    let fixtures = crash_fixtures();
    for (name, text) in &fixtures {
        let clean = verdict(&diagnose(text));
        assert_ne!(clean, "no crash", "{name}: clean text has no crash");
        for (dress, f) in dressings() {
            let dirty = verdict(&diagnose(&f(text)));
            if dirty != clean {
                failures.push(format!(
                    "{name} dressed as {dress}:\n  clean {clean}\n  dirty {dirty}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn several_traces_in_one_file_are_each_reported() {
    let fixtures = crash_fixtures();
    let (a, b) = (&fixtures[0].1, &fixtures[fixtures.len() - 1].1);
    let both = format!("{a}\nsome log line\n{b}");
    let dump = scan(both.as_bytes(), &ScanOptions::default());
    let report = analyze_text(
        &[TextEvidence {
            input: "x",
            dump: &dump,
        }],
        &DiagnoseOptions::default(),
    );
    assert!(
        report.traces.len() >= 2,
        "expected both traces, got {:?}",
        report.traces
    );
    assert!(report.findings.iter().any(|f| f.id == "several-traces"));
    assert_eq!(
        verdict(&report),
        verdict(&diagnose(a)),
        "the first crash is the one described"
    );
}
