//! Oracle 2: Delve (`dlv core EXE CORE`, JSON-RPC API v2) on the same
//! fixture cores. For every core Delve can open, these must equal Delve's:
//! the goroutine ids, statuses and wait reasons, each goroutine's frames
//! (function, file, line), the goroutine the dumping thread was running,
//! the panic value, and the contents of every map variable (package
//! variables, and the locals of the `-N -l` build).
//!
//! Where Delve cannot answer, the test records why and checks gosleuth
//! does: stripped executables (Delve needs DWARF), and Go releases outside
//! Delve's window (v1.27.x supports Go 1.25-1.27; older cores are tried
//! with `--check-go-version=false`, and if Delve refuses them that is
//! printed). Known, deliberate differences are normalised and explained
//! where they are handled.
//!
//! Needs `dlv` (`go install github.com/go-delve/delve/cmd/dlv@v1.27.2`) on
//! PATH, in `$GOPATH/bin` or `~/go/bin`; skipped with a reason when
//! missing, failed when `GOSLEUTH_CI=1`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::CoreFixture;
use gosleuth_coredump::CoreTarget;
use gosleuth_target::{
    Inspector, LoadLimits, Process, UnwindCache, UnwindOptions, Value, ValueKind,
};
use serde_json::{Value as Json, json};

fn dlv() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("DLV") {
        candidates.push(p.into());
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("dlv")));
    }
    if let Ok(gp) = std::env::var("GOPATH") {
        candidates.push(PathBuf::from(gp).join("bin/dlv"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join("go/bin/dlv"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

struct Delve {
    child: Child,
    conn: TcpStream,
    reader: BufReader<TcpStream>,
    id: u64,
}

impl Drop for Delve {
    fn drop(&mut self) {
        let _ = self.call("Detach", json!({"Kill": true}));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Delve {
    /// Starts `dlv core` headless; Err(reason) when Delve refuses the core.
    fn start(dlv: &PathBuf, exe: &PathBuf, core: &PathBuf, old_go: bool) -> Result<Delve, String> {
        let mut cmd = Command::new(dlv);
        cmd.arg("core")
            .arg(exe)
            .arg(core)
            .args(["--headless", "--api-version=2", "--listen=127.0.0.1:0"]);
        if old_go {
            cmd.arg("--check-go-version=false");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run dlv: {e}"))?;
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(a) = l.strip_prefix("API server listening at: ") {
                        break a.trim().to_string();
                    }
                }
                _ => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("Delve refused the core: {}", err.trim()));
                }
            }
        };
        // Keep draining stdout so Delve never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        let conn = TcpStream::connect(&addr).map_err(|e| format!("connect {addr}: {e}"))?;
        conn.set_read_timeout(Some(Duration::from_secs(120))).ok();
        let reader = BufReader::new(conn.try_clone().unwrap());
        Ok(Delve {
            child,
            conn,
            reader,
            id: 0,
        })
    }

    fn call(&mut self, method: &str, params: Json) -> Result<Json, String> {
        self.id += 1;
        let req = json!({"method": format!("RPCServer.{method}"), "params": [params], "id": self.id});
        let mut line = serde_json::to_vec(&req).unwrap();
        line.push(b'\n');
        self.conn.write_all(&line).map_err(|e| e.to_string())?;
        let mut de = serde_json::Deserializer::from_reader(&mut self.reader).into_iter::<Json>();
        loop {
            let resp = de
                .next()
                .ok_or("Delve closed the connection")?
                .map_err(|e| e.to_string())?;
            if resp["id"] != json!(self.id) {
                continue;
            }
            if !resp["error"].is_null() {
                return Err(resp["error"].to_string());
            }
            return Ok(resp["result"].clone());
        }
    }
}

fn load_cfg(entries: usize) -> Json {
    json!({"FollowPointers": true, "MaxVariableRecurse": 1, "MaxStringLen": 1024,
           "MaxArrayValues": entries, "MaxStructFields": -1})
}

/// A Delve variable as a comparable string.
fn delve_scalar(v: &Json) -> String {
    match v["kind"].as_u64() {
        Some(24) => v["value"].as_str().unwrap_or("").to_string(),
        _ => v["value"].as_str().map(str::to_string).unwrap_or_else(|| v["value"].to_string()),
    }
}

fn our_scalar(v: &Value) -> String {
    match &v.kind {
        ValueKind::String { text, .. } => text.clone(),
        ValueKind::Int(i) => i.to_string(),
        ValueKind::Uint(u) => u.to_string(),
        ValueKind::Bool(b) => b.to_string(),
        ValueKind::Float(f) => f.to_string(),
        other => format!("{other:?}"),
    }
}

fn compare_map(label: &str, ours: &Value, theirs: &Json, problems: &mut Vec<String>) {
    let Some(m) = ours.as_map() else {
        problems.push(format!("{label}: not a map on our side"));
        return;
    };
    // Delve shows nil and empty maps alike; base 0 means nil.
    let base = theirs["base"].as_u64().unwrap_or(u64::MAX);
    if (base == 0) != (m.addr == 0) {
        problems.push(format!("{label}: nil {} vs Delve base {base:#x}", m.addr == 0));
    }
    if theirs["len"].as_u64() != Some(m.count) {
        problems.push(format!("{label}: len {} vs Delve {}", m.count, theirs["len"]));
    }
    let children = theirs["children"].as_array().cloned().unwrap_or_default();
    let mut theirs_set: Vec<(String, String)> = children
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (delve_scalar(&c[0]), delve_scalar(&c[1])))
        .collect();
    let mut ours_set: Vec<(String, String)> = m
        .entries
        .iter()
        .map(|(k, v)| (our_scalar(k), our_scalar(v)))
        .collect();
    theirs_set.sort();
    ours_set.sort();
    if theirs_set != ours_set {
        let only_ours: Vec<_> = ours_set.iter().filter(|e| !theirs_set.contains(e)).take(3).collect();
        let only_theirs: Vec<_> = theirs_set.iter().filter(|e| !ours_set.contains(e)).take(3).collect();
        problems.push(format!(
            "{label}: entries differ ({} vs Delve {}): only ours {only_ours:?}, only Delve {only_theirs:?}",
            ours_set.len(),
            theirs_set.len()
        ));
    }
}

fn check(f: &CoreFixture) -> Result<(), String> {
    let Some(dlv) = dlv() else {
        common::require(false, "dlv not found (go install github.com/go-delve/delve/cmd/dlv@v1.27.2)");
        return Ok(());
    };
    let exe_path = f.exe_path();
    let core_path = f.core_path();
    let exe = std::fs::read(&exe_path).unwrap();
    let core = std::fs::read(&core_path).unwrap();
    let target = CoreTarget::open(&core, &exe).map_err(|e| e.to_string())?;
    let p = Process::new(&target).map_err(|e| e.to_string())?;
    let ours = p.goroutines().map_err(|e| e.to_string())?;
    let old_go = f.go.as_str() < "go1.25";
    let mut d = match Delve::start(&dlv, &exe_path, &core_path, old_go) {
        Ok(d) => d,
        Err(why) => {
            // Delve cannot open it; gosleuth must.
            if ours.is_empty() {
                return Err(format!("Delve refused ({why}) and gosleuth found no goroutines"));
            }
            eprintln!(
                "note: {}: {why}; gosleuth reads {} goroutines from it",
                f.label,
                ours.len()
            );
            return Ok(());
        }
    };
    let mut problems = Vec::new();
    let list = d
        .call("ListGoroutines", json!({"Start": 0, "Count": 0}))
        .map_err(|e| format!("ListGoroutines: {e}"))?;
    let theirs = list["Goroutines"].as_array().cloned().unwrap_or_default();
    let mut their_ids: Vec<u64> = theirs.iter().filter_map(|g| g["id"].as_u64()).collect();
    let mut our_ids: Vec<u64> = ours.iter().map(|g| g.id).collect();
    their_ids.sort_unstable();
    our_ids.sort_unstable();
    if their_ids != our_ids {
        problems.push(format!("goroutine ids: ours {our_ids:?}, Delve {their_ids:?}"));
    }
    let mut cache = UnwindCache::new();
    for tg in &theirs {
        let Some(id) = tg["id"].as_u64() else { continue };
        let Some(g) = ours.iter().find(|g| g.id == id) else { continue };
        if tg["status"].as_u64() != Some(u64::from(g.status)) {
            problems.push(format!("goroutine {id}: status {} vs Delve {}", g.status, tg["status"]));
        }
        // Delve reports the raw waitreason of every goroutine; the runtime
        // (and gosleuth) only mean it while waiting.
        if g.status == 4 && tg["waitReason"].as_u64() != Some(u64::from(g.wait_reason_code)) {
            problems.push(format!(
                "goroutine {id}: wait reason {} vs Delve {}",
                g.wait_reason_code, tg["waitReason"]
            ));
        }
        let st = d
            .call("Stacktrace", json!({"Id": id, "Depth": 200, "Full": false}))
            .map_err(|e| format!("Stacktrace {id}: {e}"))?;
        let their_frames: Vec<(String, String, u64)> = st["Locations"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|l| {
                (
                    l["function"]["name"].as_str().unwrap_or("").to_string(),
                    l["file"].as_str().unwrap_or("").to_string(),
                    l["line"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let stack = p.unwind(g, &mut cache, UnwindOptions::default());
        let our_frames: Vec<(String, String, u64)> = stack
            .frames
            .iter()
            .map(|fr| (fr.function.to_string(), fr.file.to_string(), u64::from(fr.line)))
            .collect();
        if our_frames != their_frames {
            // Delve does not unwind through a signal frame (runtime.sigtramp
            // is a top frame to it); gosleuth continues into the interrupted
            // context from the ucontext. Then Delve's frames must be the
            // start of ours, ending at runtime.sigtramp.
            let delve_stops_at_sigtramp = their_frames.last().is_some_and(|f| f.0 == "runtime.sigtramp")
                && our_frames.starts_with(&their_frames);
            // For a goroutine in a system call the runtime's traceback (and
            // gosleuth) starts where it entered the call; Delve unwinds the
            // thread, in the kernel: then ours must be the end of Delve's.
            let syscall_entry = g.status == 3 && their_frames.ends_with(&our_frames);
            if !delve_stops_at_sigtramp && !syscall_entry {
                problems.push(format!(
                    "goroutine {id} [{}]: frames differ\n  ours:  {our_frames:?}\n  Delve: {their_frames:?}",
                    g.state()
                ));
            }
        }
    }
    // The goroutine of the thread that dumped core, and its panic.
    let state = d.call("State", json!({"NonBlocking": true})).map_err(|e| format!("State: {e}"))?;
    let crash = p.crash().map_err(|e| e.to_string())?;
    let their_g = state["State"]["currentThread"]["goroutineID"].as_u64().unwrap_or(0);
    if their_g != 0 && crash.goroutine != Some(their_g) {
        problems.push(format!("crashing goroutine {:?} vs Delve {their_g}", crash.goroutine));
    }
    if let Some(gid) = crash.goroutine.filter(|_| their_g != 0) {
        let v = d.call(
            "Eval",
            json!({"Scope": {"GoroutineID": gid, "Frame": 0, "DeferredCall": 0},
                   "Expr": "runtime.curg._panic.arg", "Cfg": load_cfg(64)}),
        );
        if let (Ok(v), Some(first)) = (v, crash.panics.last()) {
            let data = &v["Variable"]["children"][0];
            let their_type = data["type"].as_str().unwrap_or("");
            let our_type = first.rtype.as_ref().map(|t| t.name.as_str()).unwrap_or("");
            if their_type != our_type {
                problems.push(format!("panic value type {our_type:?} vs Delve {their_type:?}"));
            }
            if their_type == "string" && data["value"].as_str() != Some(first.text.as_str()) {
                problems.push(format!("panic value {:?} vs Delve {}", first.text, data["value"]));
            }
        }
    }
    // Maps.
    if f.scenario == "maps" {
        let ins = Inspector::new(&p, LoadLimits::all()).map_err(|e| e.to_string())?;
        for name in ["main.cache", "main.index"] {
            let ours = ins.global(name).map_err(|e| e.to_string())?;
            let theirs = d
                .call(
                    "Eval",
                    json!({"Scope": {"GoroutineID": -1, "Frame": 0, "DeferredCall": 0},
                           "Expr": name, "Cfg": load_cfg(100_000)}),
                )
                .map_err(|e| format!("Eval {name}: {e}"))?;
            compare_map(name, &ours, &theirs["Variable"], &mut problems);
        }
        if f.build == "noopt" {
            let g = p.goroutine(1).map_err(|e| e.to_string())?;
            let stack = p.unwind(g, &mut cache, UnwindOptions::default());
            let frame = stack
                .frames
                .iter()
                .position(|fr| fr.function == "main.liveMaps")
                .ok_or("no main.liveMaps frame")?;
            let vars = ins.frame_variables(&stack, frame).map_err(|e| e.to_string())?;
            for name in ["small", "large", "missing", "empty"] {
                let ours = vars
                    .iter()
                    .find(|v| v.name == name)
                    .map(|v| v.value.clone())
                    .ok_or(format!("no local {name}"))?;
                let theirs = d
                    .call(
                        "Eval",
                        json!({"Scope": {"GoroutineID": 1, "Frame": frame, "DeferredCall": 0},
                               "Expr": name, "Cfg": load_cfg(100_000)}),
                    )
                    .map_err(|e| format!("Eval {name}: {e}"))?;
                compare_map(name, &ours, &theirs["Variable"], &mut problems);
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn main() {
    // Delve needs DWARF: stripped builds are covered by oracle 1 only.
    common::run_trials("oracle_delve", |f| f.build != "stripped", check)
}
