//! `gosleuth binary` end to end on a crashlab executable
//! (`testdata/go1.26/gobin_probe/exe.zst`, decompressed with the zstd CLI).
//! The answers themselves are checked against Go's tools in
//! crates/gobin/tests; this checks the command line, formats and exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn ci() -> bool {
    std::env::var("GOSLEUTH_CI").as_deref() == Ok("1")
}

/// The decompressed fixture, or None (skip; fail in CI) without it or zstd.
fn exe() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let zst = root.join("testdata/go1.26/gobin_probe/exe.zst");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gobin_probe_exe");
    if out.exists() {
        return Some(out);
    }
    // Tests run in parallel: decompress to a private name, then rename.
    let tmp =
        out.with_extension(format!("tmp{:?}", std::thread::current().id()).replace(['(', ')'], ""));
    let ok = zst.exists()
        && Command::new("zstd")
            .args(["-d", "-q", "-f", "-o"])
            .arg(&tmp)
            .arg(&zst)
            .status()
            .is_ok_and(|s| s.success())
        && std::fs::rename(&tmp, &out).is_ok();
    if !ok {
        assert!(
            !ci(),
            "GOSLEUTH_CI=1 and {} or the zstd command is missing",
            zst.display()
        );
        eprintln!("skipped: {} or the zstd command is missing", zst.display());
        return None;
    }
    Some(out)
}

fn gosleuth(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gosleuth"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Written from another thread: a large input would otherwise block on
    // a full pipe while gosleuth blocks on its full stdout.
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_string();
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    outcome(out)
}

/// Exit code, stdout and stderr.
fn outcome(out: std::process::Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn info_text_and_json() {
    let Some(exe) = exe() else { return };
    let exe = exe.to_str().unwrap();
    let (code, out, _) = gosleuth(&["binary", "info", exe], "");
    assert_eq!(code, 0);
    assert!(out.starts_with(&format!("{exe}: go1.26")), "{out}");
    assert!(out.contains("\tpath\tcrashlab/gobin_probe\n"), "{out}");
    assert!(out.contains("\tbuild\tGOARCH=amd64\n"), "{out}");
    assert!(
        out.contains("\narch          amd64 (64-bit, little-endian)\n"),
        "{out}"
    );
    assert!(
        out.contains("\ndwarf         version 5 (compressed)\n"),
        "{out}"
    );
    let (code, out, _) = gosleuth(&["--format", "json", "binary", "info", exe], "");
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], "gosleuth.binary.info/v1");
    assert_eq!(v["path"], "crashlab/gobin_probe");
    assert_eq!(v["pie"], false);
    assert_eq!(v["stripped"], false);
    assert_eq!(v["pclntab"]["format"], "1.20");
    assert!(v["functions"].as_u64().unwrap() > 1000);
}

#[test]
fn funcs_and_symbolize() {
    let Some(exe) = exe() else { return };
    let exe = exe.to_str().unwrap();
    let (code, out, _) = gosleuth(
        &["--format", "json", "binary", "funcs", exe, r"^main\.work$"],
        "",
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], "gosleuth.binary.funcs/v1");
    let f = &v["functions"].as_array().unwrap()[0];
    assert_eq!(f["name"], "main.work");
    assert!(
        f["file"]
            .as_str()
            .unwrap()
            .ends_with("/gobin_probe/main.go")
    );
    let entry =
        u64::from_str_radix(f["address"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let size = f["size"].as_u64().unwrap();

    // Every address of main.work, a bad line and an address in no function.
    let mut input = String::new();
    for pc in entry..entry + size {
        input.push_str(&format!("{pc:#x}\n"));
    }
    input.push_str("not-hex\n\n0x10\n");
    let (code, out, err) = gosleuth(&["--format", "json", "binary", "symbolize", exe], &input);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 address(es) could not be parsed"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries = v.as_array().unwrap();
    assert_eq!(entries.len() as u64, size + 2, "blank lines are skipped");
    let mut inlined = 0;
    for (k, e) in entries[..size as usize].iter().enumerate() {
        assert_eq!(e["address"], format!("{:#x}", entry + k as u64));
        let frames = e["frames"].as_array().unwrap();
        let outer = frames.last().unwrap();
        assert_eq!(outer["function"], "main.work");
        assert_eq!(outer["offset"], k as u64);
        assert!(outer.get("inlined").is_none());
        for f in &frames[..frames.len() - 1] {
            assert_eq!(f["inlined"], true);
            assert_eq!(f["function"], "main.add");
            inlined += 1;
        }
    }
    assert!(inlined > 0, "main.add is inlined into main.work");
    assert_eq!(entries[size as usize]["error"], "not a hexadecimal address");
    assert_eq!(
        entries[size as usize + 1]["frames"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Text: one line per frame, the physical frame with +offset.
    let (code, out, err) = gosleuth(&["binary", "symbolize", exe, &format!("{entry:#x}")], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!(
            "{entry:#x} main.work+0x0 /go/src/crashlab/gobin_probe/main.go:"
        )),
        "{out}"
    );
}

#[test]
fn not_an_executable_is_unusable_input() {
    let (code, _, err) = gosleuth(&["binary", "info", "-"], "panic: boom\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not an ELF executable"), "{err}");
}

/// gosleuth with standard input read from `path` (a regular file, which
/// `symbolize` maps instead of reading).
fn gosleuth_file_stdin(args: &[&str], path: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gosleuth"))
        .args(args)
        .stdin(std::fs::File::open(path).unwrap())
        .output()
        .unwrap();
    outcome(out)
}

/// Entry address and size of the probe's `main.work`.
fn main_work(exe: &str) -> (u64, u64) {
    let (_, out, _) = gosleuth(
        &["--format", "json", "binary", "funcs", exe, r"^main\.work$"],
        "",
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = &v["functions"].as_array().unwrap()[0];
    let entry =
        u64::from_str_radix(f["address"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    (entry, f["size"].as_u64().unwrap())
}

#[test]
fn symbolize_stdin_file_and_pipe_agree() {
    let Some(exe) = exe() else { return };
    let exe = exe.to_str().unwrap();
    let (entry, size) = main_work(exe);

    // More than one 16 MiB window of input, in every shape a line may
    // take: mostly addresses in no function (short output), real ones,
    // upper case, CRLF, surrounding blanks, blank lines, bad lines, and a
    // last line without a newline.
    let mut input = String::new();
    let mut expected = Vec::new(); // per entry: Some(pc) or None (bad)
    let mut k = 0u64;
    while input.len() < 17 << 20 {
        k += 1;
        let pc = entry + k % size;
        match k % 97 {
            0 => input.push('\n'),
            1 => {
                input.push_str(&format!("  {pc:#X}\r\n"));
                expected.push(Some(pc));
            }
            2 => {
                input.push_str(&format!("{pc:#x}\n"));
                expected.push(Some(pc));
            }
            3 => {
                input.push_str("zz-not-hex\n");
                expected.push(None);
            }
            _ => {
                input.push_str("0x10\n");
                expected.push(Some(0x10));
            }
        }
    }
    input.push_str(&format!("{entry:#x}"));
    expected.push(Some(entry));
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("symbolize_stdin.txt");
    std::fs::write(&path, &input).unwrap();

    let args = ["--format", "json", "binary", "symbolize", exe];
    let (code, mapped, err) = gosleuth_file_stdin(&args, &path);
    assert_eq!(code, 0, "{err}");
    let bad = expected.iter().filter(|e| e.is_none()).count();
    assert!(
        err.contains(&format!("{bad} address(es) could not be parsed")),
        "{err}"
    );
    let (code, piped, _) = gosleuth(&args, &input);
    assert_eq!(code, 0);
    assert!(
        mapped == piped,
        "a mapped and a piped input give the same JSON"
    );
    let v: serde_json::Value = serde_json::from_str(&mapped).unwrap();
    let entries = v.as_array().unwrap();
    assert_eq!(entries.len(), expected.len());
    for (e, want) in entries.iter().zip(&expected) {
        match want {
            None => assert_eq!(e["error"], "not a hexadecimal address", "{e}"),
            Some(0x10) => assert_eq!(e["frames"].as_array().unwrap().len(), 0, "{e}"),
            Some(pc) => {
                assert_eq!(e["address"], format!("{pc:#x}"));
                let frames = e["frames"].as_array().unwrap();
                assert_eq!(frames.last().unwrap()["function"], "main.work", "{e}");
                assert_eq!(frames.last().unwrap()["offset"], pc - entry);
            }
        }
    }

    let args = ["binary", "symbolize", exe];
    let (_, mapped, _) = gosleuth_file_stdin(&args, &path);
    let (_, piped, _) = gosleuth(&args, &input);
    assert!(
        mapped == piped,
        "a mapped and a piped input give the same text"
    );
}

/// Addresses too far apart to pack with their index into one sort key
/// take another path; the answers must not change.
#[test]
fn symbolize_wide_address_range() {
    let Some(exe) = exe() else { return };
    let exe = exe.to_str().unwrap();
    let (entry, size) = main_work(exe);
    // Enough addresses for several parts, in reverse order.
    let near: String = (0..40_000u64)
        .map(|k| format!("{:#x}\n", entry + (size - 1 - k % size)))
        .collect();
    let wide = format!("{near}0xffffffffffffff00\n");
    let args = ["binary", "symbolize", exe];
    let (code, packed, err) = gosleuth(&args, &near);
    assert_eq!(code, 0, "{err}");
    let (code, unpacked, err) = gosleuth(&args, &wide);
    assert_eq!(code, 0, "{err}");
    assert_eq!(unpacked, format!("{packed}0xffffffffffffff00 ?\n"));
    assert!(packed.lines().count() >= 40_000);
}
