//! Legacy profile formats, read the way google/pprof's
//! `profile/legacy_profile.go` reads them (same regular expressions, same
//! scaling, same mapping heuristics), so that reports agree with
//! `go tool pprof`:
//!
//! - the binary CPU profile of gperftools and Go before 1.9 (header words
//!   `0, 3, 0, period_us, 0`, records `count, depth, pcs...`, trailer
//!   `0, 1, 0`, then a `/proc/self/maps` dump), in 32/64-bit, LE/BE;
//! - `heap profile:` text (what `/debug/pprof/heap?debug=1` still serves;
//!   raw counts unsampled here like pprof does, header rate halved for
//!   `heap/`), also `heapz_v2`, `heapprofile`, `growthz`, `fragmentationz`;
//! - count profiles: `threadcreate profile: total N`,
//!   `goroutine profile: total N` (`N @ pcs` lines);
//! - contention text: `--- mutex:`, `--- contention:`, `--- contentionz`;
//! - C++ `--- threadz` thread dumps.
//!
//! Java profiler formats are recognised and refused with an error naming
//! them.
//!
//! Addresses in these formats are return addresses; like pprof, 1 is
//! subtracted to get the call PC (except at the leaf of CPU and thread
//! samples).

use regex::Regex;
use std::sync::OnceLock;

use crate::error::{Error, ErrorKind, Pos, Result};
use crate::hash::FxHashMap;
use crate::model::{Label, Location, Mapping, Profile, Samples, Strings, ValueType};

/// Error meaning "not this format, try the next parser".
fn unrecognized() -> Error {
    Error::new(ErrorKind::Unrecognized, Pos::default())
}

fn malformed(line_no: usize, what: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::Malformed(what.into()),
        Pos::path(format!("line {line_no}")),
    )
}

/// Tries every legacy parser in pprof's order.
pub fn parse(data: &[u8]) -> Result<Profile> {
    type Parser = fn(&[u8]) -> Result<Builder>;
    let parsers: [Parser; 5] = [
        parse_cpu,
        parse_heap,
        parse_go_count,
        parse_thread,
        parse_contention,
    ];
    for parser in parsers {
        match parser(data) {
            Ok(b) => return Ok(b.finish()),
            Err(e) if e.kind == ErrorKind::Unrecognized => continue,
            Err(e) => return Err(e),
        }
    }
    if let Some(name) = java_format(data) {
        return Err(Error::new(
            ErrorKind::UnsupportedFormat(name),
            Pos::default(),
        ));
    }
    Err(unrecognized())
}

/// Recognises the Java profiler formats pprof reads in
/// `legacy_java_profile.go`.
fn java_format(data: &[u8]) -> Option<&'static str> {
    let words = |get: fn(&[u8]) -> Option<u64>, size: usize| -> Option<[u64; 5]> {
        let mut w = [0u64; 5];
        for (i, v) in w.iter_mut().enumerate() {
            *v = get(data.get(i * size..)?)?;
        }
        Some(w)
    };
    for (get, size) in CPU_INTS {
        if let Some([0, 3, 1, p, 0]) = words(get, size)
            && p > 0
        {
            return Some("Java CPU profile (legacy binary, `0, 3, 1` header)");
        }
    }
    let text = String::from_utf8_lossy(&data[..data.len().min(4096)]);
    let first = text.lines().next().unwrap_or("").trim();
    let java = text.lines().take(8).any(|l| {
        let l = l.replace(' ', "");
        l == "format=java"
    });
    if java {
        return Some(match first {
            f if f.starts_with("--- heapz") => "Java heap profile (`--- heapz`, format = java)",
            f if f.starts_with("--- contentionz") => {
                "Java contention profile (`--- contentionz`, format = java)"
            }
            _ => "Java profiler text profile (format = java)",
        });
    }
    None
}

/// A profile under construction: locations by address, samples, mappings.
struct Builder {
    strings: Strings,
    sample_types: Vec<(String, &'static str)>,
    period_type: (String, &'static str),
    period: i64,
    duration_nanos: i64,
    /// Location addresses in order of creation.
    addrs: Vec<u64>,
    loc_by_addr: FxHashMap<u64, u32>,
    /// Samples: location indices, values, numeric `bytes` label.
    samples: Vec<(Vec<u32>, Vec<i64>, Option<i64>)>,
    mappings: Vec<Mapping>,
    /// drop_frames / keep_frames as pprof's `addLegacyFrameInfo` sets them.
    drop_frames: &'static str,
    keep_frames: &'static str,
}

impl Builder {
    fn new(
        sample_types: Vec<(&str, &'static str)>,
        period_type: (&str, &'static str),
        period: i64,
    ) -> Builder {
        Builder {
            strings: Strings::new(),
            sample_types: sample_types
                .into_iter()
                .map(|(t, u)| (t.to_string(), u))
                .collect(),
            period_type: (period_type.0.to_string(), period_type.1),
            period,
            duration_nanos: 0,
            addrs: Vec::new(),
            loc_by_addr: FxHashMap::default(),
            samples: Vec::new(),
            mappings: Vec::new(),
            drop_frames: "",
            keep_frames: "",
        }
    }

    fn loc(&mut self, addr: u64) -> u32 {
        if let Some(&l) = self.loc_by_addr.get(&addr) {
            return l;
        }
        let l = self.addrs.len() as u32;
        self.addrs.push(addr);
        self.loc_by_addr.insert(addr, l);
        l
    }

    /// pprof's `ParseMemoryMapFromScanner` tail: mappings parsed from text,
    /// then `massageMappings`, `remapMappingIDs`.
    fn add_mappings(&mut self, text: &[u8]) {
        let parsed = parse_proc_maps(text, &mut self.strings);
        self.mappings.extend(parsed);
    }

    fn finish(mut self) -> Profile {
        self.set_frame_info();
        let mut strings = std::mem::take(&mut self.strings);
        massage_mappings(&mut self.mappings, &strings);
        // remapLocationIDs: locations ordered by first use in samples.
        let mut order: Vec<u32> = Vec::with_capacity(self.addrs.len());
        let mut new_index = vec![u32::MAX; self.addrs.len()];
        for (locs, _, _) in &self.samples {
            for &l in locs {
                if new_index[l as usize] == u32::MAX {
                    new_index[l as usize] = order.len() as u32;
                    order.push(l);
                }
            }
        }
        let mut locations: Vec<Location> = order
            .iter()
            .enumerate()
            .map(|(i, &l)| Location {
                id: i as u64 + 1,
                mapping: None,
                address: self.addrs[l as usize],
                lines: Vec::new(),
                is_folded: false,
            })
            .collect();
        remap_mapping_ids(&mut self.mappings, &mut locations, &strings);

        let sample_types: Vec<ValueType> = self
            .sample_types
            .iter()
            .map(|(t, u)| ValueType {
                ty: strings.intern(t),
                unit: strings.intern(u),
            })
            .collect();
        let period_type = ValueType {
            ty: strings.intern(&self.period_type.0),
            unit: strings.intern(self.period_type.1),
        };
        let bytes_key = strings.intern("bytes");
        let mut samples = Samples::new(sample_types.len());
        let mut locs = Vec::new();
        for (ls, values, bytes) in &self.samples {
            locs.clear();
            locs.extend(ls.iter().map(|&l| new_index[l as usize]));
            let label = bytes.map(|b| Label {
                key: bytes_key,
                str: 0,
                num: b,
                unit: 0,
            });
            let labels: &[Label] = match &label {
                // pprof keeps a zero `bytes` label in memory, but it would
                // not survive a proto round trip (num 0 and no unit is
                // dropped on decode); it never affects reports.
                Some(l) if l.num != 0 => std::slice::from_ref(l),
                _ => &[],
            };
            samples.push(&locs, values, labels);
        }
        let drop_frames = strings.intern(self.drop_frames);
        let keep_frames = strings.intern(self.keep_frames);
        Profile {
            sample_types,
            samples,
            mappings: self.mappings,
            locations,
            functions: Vec::new(),
            drop_frames,
            keep_frames,
            time_nanos: 0,
            duration_nanos: self.duration_nanos,
            period_type,
            period: self.period,
            comments: Vec::new(),
            default_sample_type: 0,
            doc_url: 0,
            strings,
        }
    }

    /// pprof's `addLegacyFrameInfo`.
    fn set_frame_info(&mut self) {
        let types: Vec<&str> = self.sample_types.iter().map(|t| t.0.as_str()).collect();
        let heapz: [&[&str]; 5] = [
            &["allocations", "size"],
            &["objects", "space"],
            &["inuse_objects", "inuse_space"],
            &["alloc_objects", "alloc_space"],
            &[
                "alloc_objects",
                "alloc_space",
                "inuse_objects",
                "inuse_space",
            ],
        ];
        if heapz.contains(&types.as_slice()) {
            self.drop_frames = ALLOC_RX;
            self.keep_frames = ALLOC_SKIP_RX;
        } else if types == ["contentions", "delay"] {
            self.drop_frames = LOCK_RX;
            self.keep_frames = "";
        } else {
            self.drop_frames = CPU_PROFILER_RX;
            self.keep_frames = "";
        }
    }
}

const ALLOC_RX: &str = "calloc|cfree|malloc|free|memalign|do_memalign|(__)?posix_memalign|pvalloc|valloc|realloc|tcmalloc::.*|tc_calloc|tc_cfree|tc_malloc|tc_free|tc_memalign|tc_posix_memalign|tc_pvalloc|tc_valloc|tc_realloc|tc_new|tc_delete|tc_newarray|tc_deletearray|tc_new_nothrow|tc_newarray_nothrow|malloc_zone_malloc|malloc_zone_calloc|malloc_zone_valloc|malloc_zone_realloc|malloc_zone_memalign|malloc_zone_free|runtime\\..*|BaseArena::.*|(::)?do_malloc_no_errno|(::)?do_malloc_pages|(::)?do_malloc|DoSampledAllocation|MallocedMemBlock::MallocedMemBlock|_M_allocate|__builtin_(vec_)?delete|__builtin_(vec_)?new|__gnu_cxx::new_allocator::allocate|__libc_malloc|__malloc_alloc_template::allocate|allocate|cpp_alloc|operator new(\\[\\])?|simple_alloc::allocate";
const ALLOC_SKIP_RX: &str = "runtime\\.panic|runtime\\.reflectcall|runtime\\.call[0-9]*";
const CPU_PROFILER_RX: &str = "ProfileData::Add|ProfileData::prof_handler|CpuProfiler::prof_handler|__pthread_sighandler|__restore";
const LOCK_RX: &str = "RecordLockProfileData|(base::)?RecordLockProfileData.*|(base::)?SubmitMutexProfileData.*|(base::)?SubmitSpinLockProfileData.*|(base::Mutex::)?AwaitCommon.*|(base::Mutex::)?Unlock.*|(base::Mutex::)?UnlockSlow.*|(base::Mutex::)?ReaderUnlock.*|(base::MutexLock::)?~MutexLock.*|(Mutex::)?AwaitCommon.*|(Mutex::)?Unlock.*|(Mutex::)?UnlockSlow.*|(Mutex::)?ReaderUnlock.*|(MutexLock::)?~MutexLock.*|(SpinLock::)?Unlock.*|(SpinLock::)?SlowUnlock.*|(SpinLockHolder::)?~SpinLockHolder.*";

// ---------------------------------------------------------------------
// Binary CPU profile.

type GetWord = fn(&[u8]) -> Option<u64>;

const CPU_INTS: [(GetWord, usize); 4] = [
    (
        |b| Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as u64),
        4,
    ),
    (
        |b| Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as u64),
        4,
    ),
    (
        |b| Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?)),
        8,
    ),
    (
        |b| Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?)),
        8,
    ),
];

fn parse_cpu(data: &[u8]) -> Result<Builder> {
    for (get, size) in CPU_INTS {
        let mut w = [0u64; 5];
        let mut ok = true;
        for (i, v) in w.iter_mut().enumerate() {
            match data.get(i * size..).and_then(get) {
                Some(x) => *v = x,
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok && w[0] == 0 && w[1] == 3 && w[2] == 0 && w[3] > 0 && w[4] == 0 {
            return cpu_profile(&data[5 * size..], w[3] as i64, get, size);
        }
    }
    Err(unrecognized())
}

fn cpu_profile(mut b: &[u8], period_us: i64, get: GetWord, size: usize) -> Result<Builder> {
    let period = period_us.wrapping_mul(1000);
    let mut p = Builder::new(
        vec![("samples", "count"), ("cpu", "nanoseconds")],
        ("cpu", "nanoseconds"),
        period,
    );
    // parseCPUSamples
    let mut addrs: Vec<u64> = Vec::new();
    while !b.is_empty() {
        let (Some(count), Some(nstk)) = (get(b), b.get(size..).and_then(get)) else {
            return Err(unrecognized());
        };
        b = &b[2 * size..];
        // pprof checks the depth against len/4 whatever the word size.
        if nstk > (b.len() / 4) as u64 {
            return Err(unrecognized());
        }
        addrs.clear();
        for _ in 0..nstk {
            // Past the end reads as 0 and an empty rest, like pprof's
            // getters returning (0, nil).
            match get(b) {
                Some(a) => {
                    addrs.push(a);
                    b = &b[size..];
                }
                None => {
                    addrs.push(0);
                    b = &[];
                }
            }
        }
        if count == 0 && nstk == 1 && addrs[0] == 0 {
            break;
        }
        let locs: Vec<u32> = addrs
            .iter()
            .enumerate()
            .map(|(i, &a)| p.loc(if i > 0 { a.wrapping_sub(1) } else { a }))
            .collect();
        let count = count as i64;
        p.samples
            .push((locs, vec![count, count.wrapping_mul(period)], None));
    }

    // Strip out the signal frame common to (nearly) all samples, twice
    // (pprof: "Strip out addresses for better merge").
    let n = p.samples.len();
    let margin = n / 32;
    for _ in 0..2 {
        let mut addr1: FxHashMap<u64, usize> = FxHashMap::default();
        let mut first_seen: Vec<u64> = Vec::new();
        for (locs, _, _) in &p.samples {
            if locs.len() > 1 {
                let a = p.addrs[locs[1] as usize];
                let c = addr1.entry(a).or_insert(0);
                if *c == 0 {
                    first_seen.push(a);
                }
                *c += 1;
            }
        }
        if let Some(&id1) = first_seen.iter().find(|a| addr1[a] >= n - margin) {
            for (locs, _, _) in p.samples.iter_mut() {
                if locs.len() > 1 && p.addrs[locs[1] as usize] == id1 {
                    locs.remove(1);
                }
            }
        }
    }
    p.add_mappings(b);
    cleanup_duplicate_locations(&mut p);
    Ok(p)
}

fn cleanup_duplicate_locations(p: &mut Builder) {
    for (locs, _, _) in p.samples.iter_mut() {
        if locs.len() > 1 && p.addrs[locs[0] as usize] == p.addrs[locs[1] as usize].wrapping_add(1)
        {
            locs.remove(1);
        }
    }
}

// ---------------------------------------------------------------------
// Text formats.

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid legacy regex"))
}

macro_rules! regex {
    ($pattern:expr) => {{
        static CELL: OnceLock<Regex> = OnceLock::new();
        re(&CELL, $pattern)
    }};
}

/// Lines as Go's `bufio.Scanner` yields them (`\n` split, one trailing
/// `\r` dropped), with 1-based numbers.
fn lines(data: &[u8]) -> Vec<(usize, String)> {
    let text = String::from_utf8_lossy(data);
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut rest: &str = &text;
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        let (line, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        out.push((n, line.strip_suffix('\r').unwrap_or(line).to_string()));
        rest = next;
    }
    out
}

fn is_space_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

fn is_memory_map_sentinel(line: &str) -> bool {
    line.contains("--- Memory map: ---") || line.contains("MAPPED_LIBRARIES:")
}

/// The text after the memory-map sentinel (pprof's
/// `parseAdditionalSections`), as bytes for [`parse_proc_maps`].
fn after_sentinel(lines: &[(usize, String)], from: usize) -> Vec<u8> {
    let mut i = from;
    while i < lines.len() && !is_memory_map_sentinel(&lines[i].1) {
        i += 1;
    }
    let mut out = Vec::new();
    for (_, l) in lines.iter().skip(i + 1) {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    out
}

fn parse_hex_addresses(s: &str) -> std::result::Result<Vec<u64>, String> {
    let mut v = Vec::new();
    for m in regex!(r"0x[0-9a-f]+").find_iter(s) {
        let h = &m.as_str()[2..];
        v.push(
            u64::from_str_radix(h, 16)
                .map_err(|_| format!("failed to parse as hex 64-bit number: {}", m.as_str()))?,
        );
    }
    Ok(v)
}

fn parse_go_count(data: &[u8]) -> Result<Builder> {
    let lines = lines(data);
    let mut i = 0;
    while i < lines.len() && is_space_or_comment(&lines[i].1) {
        i += 1;
    }
    let first = lines.get(i).map(|l| l.1.as_str()).unwrap_or("");
    let Some(m) = regex!(r"\A(\S+) profile: total \d+\z").captures(first) else {
        return Err(unrecognized());
    };
    let ty = m[1].to_string();
    let mut p = Builder::new(vec![(&ty, "count")], (&ty, "count"), 1);
    i += 1;
    while i < lines.len() {
        let (no, line) = (&lines[i].0, lines[i].1.as_str());
        i += 1;
        if is_space_or_comment(line) {
            continue;
        }
        if line.starts_with("---") {
            break;
        }
        let Some(m) = regex!(r"\A(\d+) @(( 0x[0-9a-f]+)+)\z").captures(line) else {
            return Err(malformed(
                *no,
                format!("not a `N @ 0x...` record: {line:?}"),
            ));
        };
        let n: i64 = m[1]
            .parse()
            .map_err(|_| malformed(*no, format!("count out of range: {line:?}")))?;
        let mut locs = Vec::new();
        for f in m[2].split_whitespace() {
            let a = u64::from_str_radix(&f[2..], 16)
                .map_err(|_| malformed(*no, format!("address out of range: {f}")))?;
            locs.push(p.loc(a.wrapping_sub(1)));
        }
        p.samples.push((locs, vec![n], None));
    }
    let maps = after_sentinel(&lines, i.saturating_sub(1));
    p.add_mappings(&maps);
    Ok(p)
}

fn parse_heap(data: &[u8]) -> Result<Builder> {
    let lines = lines(data);
    let Some((_, header)) = lines.first() else {
        return Err(unrecognized());
    };
    let heap_header =
        regex!(r"heap profile: *(\d+): *(\d+) *\[ *(\d+): *(\d+) *\] *@ *(heap[_a-z0-9]*)/?(\d*)");
    let growth = regex!(r"heap profile: *(\d+): *(\d+) *\[ *(\d+): *(\d+) *\] @ growthz?");
    let frag = regex!(r"heap profile: *(\d+): *(\d+) *\[ *(\d+): *(\d+) *\] @ fragmentationz?");
    let mut sampling = "";
    let mut has_alloc = false;
    let period: i64;
    if let Some(h) = heap_header.captures(header) {
        let mut pd: i64 = 0;
        if !h[6].is_empty() {
            pd = h[6].parse().map_err(|_| unrecognized())?;
        }
        if (h[3] != h[1] && &h[3] != "0") || (h[4] != h[2] && &h[4] != "0") {
            has_alloc = true;
        }
        match &h[5] {
            "heapz_v2" | "heap_v2" => {
                sampling = "v2";
                period = pd;
            }
            "heapprofile" => period = 1,
            "heap" => {
                sampling = "v2";
                period = pd / 2;
            }
            _ => return Err(unrecognized()),
        }
    } else if growth.is_match(header) || frag.is_match(header) {
        period = 1;
    } else {
        return Err(unrecognized());
    }
    let types = if has_alloc {
        vec![
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes"),
        ]
    } else {
        vec![("objects", "count"), ("space", "bytes")]
    };
    let mut p = Builder::new(types, ("space", "bytes"), period);
    let sample_re = regex!(r"(-?\d+): *(-?\d+) *\[ *(\d+): *(\d+) *] @([ x0-9a-f]*)");
    let mut i = 1;
    while i < lines.len() {
        let (no, raw) = (lines[i].0, &lines[i].1);
        i += 1;
        let line = raw.trim();
        if is_space_or_comment(line) {
            continue;
        }
        if is_memory_map_sentinel(line) {
            i -= 1;
            break;
        }
        let Some(m) = sample_re.captures(line) else {
            return Err(malformed(
                no,
                format!("unexpected heap sample line (want `N: B [N: B] @ 0x...`): {line:?}"),
            ));
        };
        let mut values = Vec::with_capacity(4);
        let mut blocksize = 0i64;
        let mut add = |count: &str, size: &str, label: &str| -> Result<()> {
            let mut count: i64 = count
                .parse()
                .map_err(|_| malformed(no, format!("malformed sample: {line}")))?;
            let mut size: i64 = size
                .parse()
                .map_err(|_| malformed(no, format!("malformed sample: {line}")))?;
            if count == 0 && size != 0 {
                return Err(malformed(
                    no,
                    format!("{label} count was 0 but {label} bytes was {size}"),
                ));
            }
            if count != 0 {
                blocksize = size.wrapping_div(count);
                if sampling == "v2" {
                    (count, size) = scale_heap_sample(count, size, period);
                }
            }
            values.push(count);
            values.push(size);
            Ok(())
        };
        if has_alloc {
            add(&m[3], &m[4], "allocation")?;
        }
        add(&m[1], &m[2], "inuse")?;
        let addrs = parse_hex_addresses(&m[5]).map_err(|e| malformed(no, e))?;
        let locs = addrs.iter().map(|&a| p.loc(a.wrapping_sub(1))).collect();
        p.samples.push((locs, values, Some(blocksize)));
    }
    let maps = after_sentinel(&lines, i);
    p.add_mappings(&maps);
    Ok(p)
}

/// Unsamples a heap record (pprof `scaleHeapSample`, the runtime's
/// `scaleHeapSample`): each sampled object stands for
/// `1/(1-exp(-avgSize/rate))` objects.
fn scale_heap_sample(count: i64, size: i64, rate: i64) -> (i64, i64) {
    if count == 0 || size == 0 {
        return (0, 0);
    }
    if rate <= 1 {
        return (count, size);
    }
    let avg = size as f64 / count as f64;
    let scale = 1.0 / (1.0 - (-avg / rate as f64).exp());
    ((count as f64 * scale) as i64, (size as f64 * scale) as i64)
}

fn parse_contention(data: &[u8]) -> Result<Builder> {
    let lines = lines(data);
    let Some((_, first)) = lines.first() else {
        return Err(unrecognized());
    };
    if !(first.starts_with("--- contentionz ")
        || first.starts_with("--- mutex:")
        || first.starts_with("--- contention:"))
    {
        return Err(unrecognized());
    }
    let mut p = Builder::new(
        vec![("contentions", "count"), ("delay", "nanoseconds")],
        ("contentions", "count"),
        1,
    );
    let mut cpu_hz: i64 = 0;
    let mut i = 1;
    // Attribute lines `key = value` until the first record.
    while i < lines.len() {
        let line = lines[i].1.trim();
        if is_space_or_comment(line) {
            i += 1;
            continue;
        }
        if line.starts_with("---") {
            break;
        }
        let Some((k, v)) = line.split_once('=') else {
            break;
        };
        let (k, v) = (k.trim(), v.trim());
        let num = || parse_go_int(v).ok_or_else(unrecognized);
        match k {
            "cycles/second" => cpu_hz = num()?,
            "sampling period" => p.period = num()?,
            "ms since reset" => p.duration_nanos = num()?.wrapping_mul(1_000_000),
            "format" | "resolution" => return Err(unrecognized()),
            "discarded samples" => {}
            _ => return Err(unrecognized()),
        }
        i += 1;
    }
    let sample_re = regex!(r"(\d+) *(\d+) @([ x0-9a-f]*)");
    while i < lines.len() {
        let (no, raw) = (lines[i].0, &lines[i].1);
        let line = raw.trim();
        if line.starts_with("---") {
            break;
        }
        i += 1;
        if is_space_or_comment(line) {
            continue;
        }
        let Some(m) = sample_re.captures(line) else {
            return Err(unrecognized());
        };
        let mut v1: i64 = m[1]
            .parse()
            .map_err(|_| malformed(no, format!("malformed sample: {line}")))?;
        let mut v2: i64 = m[2]
            .parse()
            .map_err(|_| malformed(no, format!("malformed sample: {line}")))?;
        if p.period > 0 {
            if cpu_hz > 0 {
                let ghz = cpu_hz as f64 / 1e9;
                v1 = (v1 as f64 * p.period as f64 / ghz) as i64;
            }
            v2 = v2.wrapping_mul(p.period);
        }
        let addrs = parse_hex_addresses(&m[3]).map_err(|e| malformed(no, e))?;
        let locs = addrs.iter().map(|&a| p.loc(a.wrapping_sub(1))).collect();
        p.samples.push((locs, vec![v2, v1], None));
    }
    let maps = after_sentinel(&lines, i);
    p.add_mappings(&maps);
    Ok(p)
}

/// strconv.ParseInt(s, 0, 64): decimal, 0x hex, 0 octal, 0b binary.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let s = s.replace('_', "");
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(o) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        i64::from_str_radix(&s[1..], 8).ok()?
    } else {
        s.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_thread(data: &[u8]) -> Result<Builder> {
    let lines = lines(data);
    let mut i = 0;
    while i < lines.len() && is_space_or_comment(&lines[i].1) {
        i += 1;
    }
    let thread_start = regex!(r"--- Thread ([[:xdigit:]]+) \(name: (.*)/(\d+)\) stack: ---");
    let mut line = lines.get(i).map(|l| l.1.clone()).unwrap_or_default();
    if regex!(r"--- threadz \d+ ---").is_match(&line) {
        loop {
            i += 1;
            match lines.get(i) {
                Some((_, l)) => {
                    line = l.clone();
                    if is_memory_map_sentinel(&line) || line.starts_with('-') {
                        break;
                    }
                }
                None => break,
            }
        }
    } else if !thread_start.is_match(&line) {
        return Err(unrecognized());
    }
    let mut p = Builder::new(vec![("thread", "count")], ("thread", "count"), 1);
    while !is_memory_map_sentinel(&line) {
        if line.starts_with("---- no stack trace for") {
            break;
        }
        if !thread_start.is_match(&line) {
            return Err(unrecognized());
        }
        // parseThreadSample
        let mut addrs: Vec<u64> = Vec::new();
        let mut same_as_previous = false;
        let mut next = String::new();
        loop {
            i += 1;
            let Some((no, l)) = lines.get(i) else {
                break;
            };
            let t = l.trim();
            next = t.to_string();
            if t.is_empty() {
                continue;
            }
            if t.starts_with("---") {
                break;
            }
            if t.contains("same as previous thread") {
                same_as_previous = true;
                continue;
            }
            addrs.extend(parse_hex_addresses(t).map_err(|e| malformed(*no, e))?);
        }
        if i >= lines.len() {
            // End of input: the scanner's last line stays current.
            next = lines
                .last()
                .map(|l| l.1.trim().to_string())
                .unwrap_or_default();
        }
        let at_end = i >= lines.len();
        if same_as_previous {
            addrs.clear();
        }
        if addrs.is_empty() {
            if let Some(last) = p.samples.last_mut() {
                last.1[0] += 1;
            }
        } else {
            let locs = addrs
                .iter()
                .enumerate()
                .map(|(k, &a)| p.loc(if k > 0 { a.wrapping_sub(1) } else { a }))
                .collect();
            p.samples.push((locs, vec![1], None));
        }
        line = next;
        if at_end && !is_memory_map_sentinel(&line) {
            // pprof loops on the stale line; it then fails to match the
            // thread header only if it is not one. A dump ending right
            // after a thread stops here.
            break;
        }
    }
    let maps = after_sentinel(&lines, i);
    p.add_mappings(&maps);
    cleanup_duplicate_locations(&mut p);
    Ok(p)
}

// ---------------------------------------------------------------------
// Mappings.

fn parse_proc_maps(text: &[u8], strings: &mut Strings) -> Vec<Mapping> {
    let x = r"(?:0x)?([[:xdigit:]]+)";
    let range = format!(r"\s*{x}[\s-]?\s*{x}:?");
    let perm = r"(?:\s+([-rwxp]+))?";
    let proc_maps = regex!(&format!(
        r"^{range}{perm}(?:\s+([[:xdigit:]]+))?\s+[[:xdigit:]]+:[[:xdigit:]]+\s+[[:digit:]]+(?:\s+(\S+))?"
    ));
    let brief_maps = regex!(&format!(
        r"^{range}{perm}(?:\s+(\S+))?(?:\s+\(@([[:xdigit:]]+)\))?(?:\s+([[:xdigit:]]+))?"
    ));
    let log_info = regex!(r"^[^\[\]]+:[0-9]+]\s");
    let mut attrs: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for (_, raw) in lines(text) {
        let mut line = match log_info.find(&raw) {
            Some(m) => raw[m.end()..].to_string(),
            None => raw.clone(),
        };
        // strings.NewReplacer(attrs...): `$key` → value, first match wins at
        // each position.
        if !attrs.is_empty() {
            line = replace_attrs(&line, &attrs);
        }
        let (start, end, perm, file, offset, build_id);
        if let Some(m) = proc_maps.captures(&line) {
            start = m.get(1).map(|x| x.as_str().to_string());
            end = m.get(2).map(|x| x.as_str().to_string());
            perm = m.get(3).map(|x| x.as_str().to_string()).unwrap_or_default();
            offset = m.get(4).map(|x| x.as_str().to_string()).unwrap_or_default();
            file = m.get(5).map(|x| x.as_str().to_string()).unwrap_or_default();
            build_id = String::new();
        } else if let Some(m) = brief_maps.captures(&line) {
            start = m.get(1).map(|x| x.as_str().to_string());
            end = m.get(2).map(|x| x.as_str().to_string());
            perm = m.get(3).map(|x| x.as_str().to_string()).unwrap_or_default();
            file = m.get(4).map(|x| x.as_str().to_string()).unwrap_or_default();
            offset = m.get(5).map(|x| x.as_str().to_string()).unwrap_or_default();
            build_id = m.get(6).map(|x| x.as_str().to_string()).unwrap_or_default();
        } else {
            if let Some((k, v)) = line.split_once('=') {
                attrs.push((format!("${}", k.trim()), v.trim().to_string()));
            }
            continue;
        }
        if !perm.is_empty() && !perm.contains('x') {
            continue;
        }
        let (Some(Ok(s)), Some(Ok(l))) = (
            start.map(|s| u64::from_str_radix(&s, 16)),
            end.map(|s| u64::from_str_radix(&s, 16)),
        ) else {
            if let Some((k, v)) = line.split_once('=') {
                attrs.push((format!("${}", k.trim()), v.trim().to_string()));
            }
            continue;
        };
        let off = if offset.is_empty() {
            0
        } else {
            match u64::from_str_radix(&offset, 16) {
                Ok(o) => o,
                Err(_) => continue,
            }
        };
        out.push(Mapping {
            id: 0,
            start: s,
            limit: l,
            offset: off,
            file: strings.intern(&file),
            build_id: strings.intern(&build_id),
            ..Default::default()
        });
    }
    out
}

fn replace_attrs(line: &str, attrs: &[(String, String)]) -> String {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let b = line.as_bytes();
    'outer: while i < b.len() {
        for (k, v) in attrs {
            if line[i..].starts_with(k.as_str()) {
                out.push_str(v);
                i += k.len();
                continue 'outer;
            }
        }
        let ch = line[i..].chars().next().expect("char boundary");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// pprof's `massageMappings`: merge split regions of one file, move the
/// main binary first, renumber.
fn massage_mappings(mappings: &mut Vec<Mapping>, strings: &Strings) {
    if mappings.len() > 1 {
        let mut merged: Vec<Mapping> = vec![mappings[0].clone()];
        for m in mappings.iter().skip(1) {
            let lm = merged.last_mut().expect("non-empty");
            if adjacent(lm, m, strings) {
                lm.limit = m.limit;
                if m.file != 0 {
                    lm.file = m.file;
                }
                if m.build_id != 0 {
                    lm.build_id = m.build_id;
                }
                continue;
            }
            merged.push(m.clone());
        }
        *mappings = merged;
    }
    for i in 0..mappings.len() {
        let file = strings.get(mappings[i].file).replace("(deleted)", "");
        let file = file.trim();
        if file.is_empty() {
            continue;
        }
        if regex!(r"([.]so$|[.]so[._][0-9]+)").is_match(file) {
            continue;
        }
        if file.starts_with('[') {
            continue;
        }
        mappings.swap(0, i);
        break;
    }
    for (i, m) in mappings.iter_mut().enumerate() {
        m.id = i as u64 + 1;
    }
}

fn adjacent(m1: &Mapping, m2: &Mapping, strings: &Strings) -> bool {
    if m1.file != 0 && m2.file != 0 && strings.get(m1.file) != strings.get(m2.file) {
        return false;
    }
    if m1.build_id != 0 && m2.build_id != 0 && m1.build_id != m2.build_id {
        return false;
    }
    if m1.limit != m2.start {
        return false;
    }
    if m1.offset != 0 && m2.offset != 0 {
        let offset = m1.offset.wrapping_add(m1.limit.wrapping_sub(m1.start));
        if offset != m2.offset {
            return false;
        }
    }
    true
}

/// pprof's `remapMappingIDs`: attach locations to mappings by address,
/// with a fake all-covering mapping for the rest.
fn remap_mapping_ids(mappings: &mut Vec<Mapping>, locations: &mut [Location], strings: &Strings) {
    if mappings.len() > 1
        && strings.get(mappings[0].file).starts_with("/anon_hugepage")
        && mappings[0].limit == mappings[1].start
    {
        mappings.remove(0);
    }
    if let Some(m) = mappings.first_mut()
        && m.start.wrapping_sub(m.offset) == 0x400000
    {
        m.start = 0x400000;
        m.offset = 0;
    }
    let mut fake: Option<u32> = None;
    'next: for l in locations.iter_mut() {
        let a = l.address;
        if l.mapping.is_some() || a == 0 {
            continue;
        }
        for (i, m) in mappings.iter().enumerate() {
            if m.start <= a && a < m.limit {
                l.mapping = Some(i as u32);
                continue 'next;
            }
        }
        for (i, m) in mappings.iter_mut().enumerate() {
            if m.offset != 0 && m.start.wrapping_sub(m.offset) <= a && a < m.start {
                m.start = m.start.wrapping_sub(m.offset);
                m.offset = 0;
                l.mapping = Some(i as u32);
                continue 'next;
            }
        }
        let f = *fake.get_or_insert_with(|| {
            mappings.push(Mapping {
                id: 1,
                limit: u64::MAX,
                ..Default::default()
            });
            (mappings.len() - 1) as u32
        });
        l.mapping = Some(f);
    }
    for (i, m) in mappings.iter_mut().enumerate() {
        m.id = i as u64 + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_heap_text_is_unsampled_like_pprof() {
        let text = b"heap profile: 1: 1024 [4: 4096] @ heap/1048576\n\
1: 1024 [4: 4096] @ 0x401001 0x402002\n\
#\t0x401000\tmain.f+0x10\t/x/main.go:10\n\
\n# runtime.MemStats\n# Alloc = 1\n";
        let p = parse(text).unwrap();
        assert_eq!(
            p.sample_type_names(),
            [
                "alloc_objects",
                "alloc_space",
                "inuse_objects",
                "inuse_space"
            ]
        );
        assert_eq!(p.period, 524288);
        let s = p.samples.get(0);
        let (c, b) = scale_heap_sample(4, 4096, 524288);
        assert_eq!(&s.values[..2], &[c, b]);
        assert!(c > 4);
        assert_eq!(p.locations[s.locs[0] as usize].address, 0x401000);
        assert_eq!(p.str(p.drop_frames), ALLOC_RX);
    }

    #[test]
    fn threadcreate_count_profile() {
        let text = b"threadcreate profile: total 2\n1 @ 0x10 0x20\n1 @ 0x10\n";
        let p = parse(text).unwrap();
        assert_eq!(p.samples.len(), 2);
        assert_eq!(p.sample_type_names(), ["threadcreate"]);
    }

    #[test]
    fn go_mutex_text() {
        let text = b"--- mutex:\ncycles/second=2000000000\nsampling period=1\n4000 2 @ 0x10 0x20\n";
        let p = parse(text).unwrap();
        assert_eq!(p.samples.get(0).values, &[2, 2000]);
    }

    #[test]
    fn java_is_refused_by_name() {
        let err = parse(b"--- heapz 1 ---\nformat = java\nresolution = bytes\n").unwrap_err();
        assert!(matches!(err.kind, ErrorKind::UnsupportedFormat(n) if n.contains("Java")));
    }

    #[test]
    fn malformed_count_line_is_located() {
        let err = parse(b"goroutine profile: total 1\n1 @ zz\n").unwrap_err();
        assert_eq!(err.at.path, "line 2");
    }

    #[test]
    fn go_ints() {
        assert_eq!(parse_go_int("0x10"), Some(16));
        assert_eq!(parse_go_int("010"), Some(8));
        assert_eq!(parse_go_int("12"), Some(12));
        assert_eq!(parse_go_int("0"), Some(0));
    }
}
