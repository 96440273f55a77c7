//! Fixture discovery shared by the integration tests.

use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Profile inputs: google/pprof's test files and every profile artifact
/// under testdata/ (`*.pb.gz` and the debug=1 heap texts).
#[allow(dead_code)]
pub fn profile_inputs() -> Vec<PathBuf> {
    let root = repo_root();
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(root.join("../shared/peers/pprof")) {
        v.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_file()));
    }
    if let Ok(vers) = std::fs::read_dir(root.join("testdata")) {
        for ver in vers.flatten() {
            let Ok(cases) = std::fs::read_dir(ver.path()) else {
                continue;
            };
            for case in cases.flatten() {
                let Ok(files) = std::fs::read_dir(case.path()) else {
                    continue;
                };
                for f in files.flatten() {
                    let n = f.file_name().to_string_lossy().to_string();
                    if n.ends_with(".pb.gz") || n.starts_with("heap_debug1") {
                        v.push(f.path());
                    }
                }
            }
        }
    }
    v.sort();
    v
}
