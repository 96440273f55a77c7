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
        cmd.arg("core").arg(exe).arg(core).args([
            "--headless",
            "--api-version=2",
            "--listen=127.0.0.1:0",
        ]);
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
        let req =
            json!({"method": format!("RPCServer.{method}"), "params": [params], "id": self.id});
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
        _ => v["value"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v["value"].to_string()),
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
        problems.push(format!(
            "{label}: nil {} vs Delve base {base:#x}",
            m.addr == 0
        ));
    }
    if theirs["len"].as_u64() != Some(m.count) {
        problems.push(format!(
            "{label}: len {} vs Delve {}",
            m.count, theirs["len"]
        ));
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
        let only_ours: Vec<_> = ours_set
            .iter()
            .filter(|e| !theirs_set.contains(e))
            .take(3)
            .collect();
        let only_theirs: Vec<_> = theirs_set
            .iter()
            .filter(|e| !ours_set.contains(e))
            .take(3)
            .collect();
        problems.push(format!(
            "{label}: entries differ ({} vs Delve {}): only ours {only_ours:?}, only Delve {only_theirs:?}",
            ours_set.len(),
            theirs_set.len()
        ));
    }
}

type F = (String, String, u64);

fn is_runtime(f: &F) -> bool {
    f.0.starts_with("runtime.") || f.0.starts_with("internal/runtime/")
}

/// Compares gosleuth's frames with Delve's, allowing only the known,
/// explained differences (each recorded in `notes`):
///
/// 1. The innermost frame of a goroutine unwound from its saved context:
///    the runtime (and gosleuth) look up the line of the call instruction
///    (`pc - 1`, `runtime/traceback.go: symPC`), Delve the line of the
///    return address itself, one line further for `gopark`. Oracle 1 shows
///    gosleuth's line is the one the runtime prints.
/// 2. Past a signal frame (`runtime.sigtramp`, the SIGABRT of `crash()`),
///    gosleuth resumes from the interrupted context in the `ucontext` with
///    the exact PC; Delve treats that PC as a return address (`raise` one
///    line early) and loses the caller of `raise` (`runtime.dieFromSignal`,
///    which `crash()` calls). The frames before the signal frame and all
///    frames from the first one both show must agree; what only one side
///    has must be runtime frames.
/// 3. A goroutine in a system call: the runtime and gosleuth start at the
///    call's entry (`g.syscallpc`), Delve in the thread's kernel-side frames
///    (syscall.Syscall6 ...); gosleuth's frames must be the end of Delve's.
fn compare_frames(
    p: &Process<'_, '_>,
    stack: &gosleuth_target::Stack<'_>,
    g: &gosleuth_target::Goroutine,
    ours: &[F],
    theirs: &[F],
    notes: &mut Vec<String>,
) -> Result<(), String> {
    if ours == theirs {
        return Ok(());
    }
    let detail = || format!("frames differ\n  ours:  {ours:?}\n  Delve: {theirs:?}");
    // 1.
    if matches!(
        stack.source,
        gosleuth_target::StackSource::Sched | gosleuth_target::StackSource::Syscall
    ) && ours.len() == theirs.len()
        && ours[1..] == theirs[1..]
        && ours[0].0 == theirs[0].0
    {
        let pc = stack.physical[0].pc;
        let exact = p.binary().frames(p.to_link(pc)).unwrap_or_default();
        if exact
            .first()
            .is_some_and(|f| u64::from(f.line) == theirs[0].2)
        {
            notes.push(format!(
                "Delve gives the innermost line of parked goroutines from the return address ({}:{} vs the runtime's {})",
                ours[0].0, theirs[0].2, ours[0].2
            ));
            return Ok(());
        }
        return Err(detail());
    }
    // 3.
    let n = ours.len();
    if g.status == 3
        && theirs.len() >= n
        && n > 0
        && theirs.ends_with(&ours[1..])
        && theirs[theirs.len() - n].0 == ours[0].0
    {
        notes.push("for goroutines in a system call Delve unwinds the thread (kernel side); the runtime and gosleuth start at the call's entry".into());
        return Ok(());
    }
    // 4. After runtime.sigpanic the next frame's PC is the faulting
    //    instruction itself; the runtime (unwindTrap) and gosleuth look it
    //    up as is, Delve looks up pc - 1, which can land in a different
    //    (inlined) call. Check that Delve's frames there are exactly what
    //    pc - 1 gives.
    if let Some(k) = ours.iter().position(|f| f.0 == "runtime.sigpanic") {
        let ours_ok = theirs.len() > k && ours[..=k] == theirs[..=k]
            || ours.iter().any(|f| f.0 == "runtime.sigtramp");
        if ours_ok
            && let Some(fr) = stack
                .frames
                .iter()
                .find(|f| f.function == "runtime.sigpanic")
        {
            let phys = fr.physical as usize + 1;
            if let Some(pf) = stack.physical.get(phys) {
                let at = p.binary().frames(p.to_link(pf.pc) - 1).unwrap_or_default();
                let delve_view: Vec<F> = at
                    .iter()
                    .map(|f| {
                        (
                            f.function.to_string(),
                            f.file.to_string(),
                            u64::from(f.line),
                        )
                    })
                    .collect();
                let ours_here: Vec<&F> = stack
                    .frames
                    .iter()
                    .zip(ours)
                    .filter(|(f, _)| f.physical as usize == phys)
                    .map(|(_, o)| o)
                    .collect();
                let their_start = theirs
                    .iter()
                    .position(|f| f.0 == "runtime.sigpanic")
                    .map(|i| i + 1);
                if let Some(ts) = their_start {
                    let their_here = &theirs[ts..(ts + delve_view.len()).min(theirs.len())];
                    let tail_ok = theirs[ts + delve_view.len().min(theirs.len() - ts)..]
                        .iter()
                        .eq(ours[ours.len()
                            - (theirs.len() - ts - delve_view.len().min(theirs.len() - ts))..]
                            .iter());
                    // Delve takes the functions of the inline chain
                    // at pc - 1 (its lines are a mix of both PCs).
                    let same_funcs = their_here.len() == delve_view.len()
                        && their_here.iter().zip(&delve_view).all(|(a, b)| a.0 == b.0);
                    let differs = their_here
                        .iter()
                        .map(|f| &f.0)
                        .ne(ours_here.iter().map(|f| &f.0));
                    if same_funcs && !ours_here.is_empty() && tail_ok {
                        if differs {
                            notes.push(format!(
                                "after sigpanic Delve looks up pc-1 of the faulting instruction and shows {:?} (functions at pc-1: {:?}); the runtime and gosleuth show {:?}",
                                their_here.iter().map(|f| format!("{}:{}", f.0, f.2)).collect::<Vec<_>>(),
                                delve_view.iter().map(|f| format!("{}:{}", f.0, f.2)).collect::<Vec<_>>(),
                                ours_here.iter().map(|f| format!("{}:{}", f.0, f.2)).collect::<Vec<_>>()
                            ));
                        }
                        // The part above the signal frame is checked by rule 2.
                        let cut_ours = ours
                            .iter()
                            .position(|f| f.0 == "runtime.sigpanic")
                            .unwrap_or(0)
                            + 1;
                        return compare_frames(
                            p,
                            stack,
                            g,
                            &ours[..cut_ours],
                            &theirs[..ts],
                            notes,
                        );
                    }
                }
            }
        }
    }
    // 2.
    if let Some(k) = ours.iter().position(|f| f.0 == "runtime.sigtramp")
        && theirs.len() >= k
        && ours[..k] == theirs[..k]
    {
        let common = ours
            .iter()
            .rev()
            .zip(theirs.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let our_mid = &ours[k..ours.len() - common];
        let their_mid = &theirs[k..theirs.len() - common];
        if our_mid.iter().all(is_runtime) && their_mid.iter().all(is_runtime) && common > 0 {
            notes.push(format!(
                "past the signal frame Delve shows {:?}, gosleuth {:?}",
                their_mid
                    .iter()
                    .map(|f| format!("{}:{}", f.0, f.2))
                    .collect::<Vec<_>>(),
                our_mid
                    .iter()
                    .map(|f| format!("{}:{}", f.0, f.2))
                    .collect::<Vec<_>>()
            ));
            return Ok(());
        }
    }
    Err(detail())
}

fn check(f: &CoreFixture) -> Result<(), String> {
    let Some(dlv) = dlv() else {
        common::require(
            false,
            "dlv not found (go install github.com/go-delve/delve/cmd/dlv@v1.27.2)",
        );
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
                return Err(format!(
                    "Delve refused ({why}) and gosleuth found no goroutines"
                ));
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
    let mut notes: Vec<String> = Vec::new();
    let list = d
        .call("ListGoroutines", json!({"Start": 0, "Count": 0}))
        .map_err(|e| format!("ListGoroutines: {e}"))?;
    let theirs = list["Goroutines"].as_array().cloned().unwrap_or_default();
    let mut their_ids: Vec<u64> = theirs.iter().filter_map(|g| g["id"].as_u64()).collect();
    let mut our_ids: Vec<u64> = ours.iter().map(|g| g.id).collect();
    their_ids.sort_unstable();
    our_ids.sort_unstable();
    if their_ids != our_ids {
        problems.push(format!(
            "goroutine ids: ours {our_ids:?}, Delve {their_ids:?}"
        ));
    }
    let mut cache = UnwindCache::new();
    for tg in &theirs {
        let Some(id) = tg["id"].as_u64() else {
            continue;
        };
        let Some(g) = ours.iter().find(|g| g.id == id) else {
            continue;
        };
        if tg["status"].as_u64() != Some(u64::from(g.status)) {
            problems.push(format!(
                "goroutine {id}: status {} vs Delve {}",
                g.status, tg["status"]
            ));
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
            .map(|fr| {
                (
                    fr.function.to_string(),
                    fr.file.to_string(),
                    u64::from(fr.line),
                )
            })
            .collect();
        if let Err(e) = compare_frames(&p, &stack, g, &our_frames, &their_frames, &mut notes) {
            problems.push(format!("goroutine {id} [{}]: {e}", g.state()));
        }
    }
    // The goroutine of the thread that dumped core, and its panic.
    let state = d
        .call("State", json!({"NonBlocking": true}))
        .map_err(|e| format!("State: {e}"))?;
    let crash = p.crash().map_err(|e| e.to_string())?;
    let their_g = state["State"]["currentThread"]["goroutineID"]
        .as_u64()
        .unwrap_or(0);
    if their_g != 0 && crash.goroutine != Some(their_g) {
        problems.push(format!(
            "crashing goroutine {:?} vs Delve {their_g}",
            crash.goroutine
        ));
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
                problems.push(format!(
                    "panic value type {our_type:?} vs Delve {their_type:?}"
                ));
            }
            if their_type == "string" && data["value"].as_str() != Some(first.text.as_str()) {
                problems.push(format!(
                    "panic value {:?} vs Delve {}",
                    first.text, data["value"]
                ));
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
            let vars = ins
                .frame_variables(&stack, frame)
                .map_err(|e| e.to_string())?;
            // Delve numbers frames its own way (it shows fewer frames past
            // the signal frame): ask it where main.liveMaps is.
            let st = d
                .call("Stacktrace", json!({"Id": 1, "Depth": 200, "Full": false}))
                .map_err(|e| format!("Stacktrace 1: {e}"))?;
            let delve_frame = st["Locations"]
                .as_array()
                .and_then(|l| {
                    l.iter()
                        .position(|l| l["function"]["name"] == "main.liveMaps")
                })
                .ok_or("Delve shows no main.liveMaps frame")?;
            for name in ["small", "large", "missing", "empty"] {
                let ours = vars
                    .iter()
                    .find(|v| v.name == name)
                    .map(|v| v.value.clone())
                    .ok_or(format!("no local {name}"))?;
                let theirs = d
                    .call(
                        "Eval",
                        json!({"Scope": {"GoroutineID": 1, "Frame": delve_frame, "DeferredCall": 0},
                               "Expr": name, "Cfg": load_cfg(100_000)}),
                    )
                    .map_err(|e| format!("Eval {name}: {e}"))?;
                compare_map(name, &ours, &theirs["Variable"], &mut problems);
            }
        }
    }
    notes.sort();
    notes.dedup();
    for n in &notes {
        eprintln!("note: {}: {n}", f.label);
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
