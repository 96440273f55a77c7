//! Maps of both eras as first-class values: the header, every live entry
//! (or the first N), and health — nil, growing, a write in progress, the
//! entry count not adding up. See `reference/maps-in-memory.md`:
//! classic `runtime.hmap` (Go ≤ 1.23, and 1.24/1.25 built with
//! `GOEXPERIMENT=noswissmap`) in [`hmap`], Swiss tables (1.24+) in
//! [`swiss`]. Which one is decided from DWARF: the map's header struct has
//! `buckets` (classic) or `dirPtr` (Swiss).

pub(crate) mod hmap;
pub(crate) mod swiss;

use gosleuth_gobin::{TypeKind, TypeRef};

use crate::value::{Inspector, Value};

/// A map's header, by era.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapHeader {
    /// `runtime.hmap` (Go ≤ 1.23).
    Classic(HmapHeader),
    /// `internal/runtime/maps.Map` (Go ≥ 1.24).
    Swiss(SwissHeader),
}

/// `runtime.hmap`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct HmapHeader {
    pub count: u64,
    /// `iterator` 1, `oldIterator` 2, `hashWriting` 4, `sameSizeGrow` 8.
    pub flags: u8,
    /// log2 of the number of buckets.
    pub b: u8,
    pub noverflow: u16,
    pub hash0: u32,
    pub buckets: u64,
    pub oldbuckets: u64,
    /// Buckets below this have been evacuated during a grow.
    pub nevacuate: u64,
    pub extra: u64,
}

/// `internal/runtime/maps.Map`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct SwissHeader {
    pub used: u64,
    pub seed: u64,
    pub dir_ptr: u64,
    pub dir_len: u64,
    pub global_depth: u8,
    pub global_shift: u8,
    /// Toggled around every write: non-zero means a write was in progress.
    pub writing: u8,
    pub tombstone_possible: bool,
    pub clear_seq: u64,
    /// The distinct tables of the directory (each once).
    pub tables: Vec<SwissTable>,
}

/// One table of a Swiss map's directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct SwissTable {
    pub addr: u64,
    /// First directory index holding it (`table.index`).
    pub index: i64,
    /// How many consecutive directory entries point to it
    /// (`2^(globalDepth - localDepth)`).
    pub dir_entries: u64,
    pub used: u16,
    pub capacity: u16,
    pub growth_left: u16,
    pub local_depth: u8,
    /// Number of groups (`lengthMask + 1`).
    pub groups: u64,
}

/// What is wrong, or notable, about a map.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MapHealth {
    /// The map is nil (its header pointer is 0).
    pub nil: bool,
    /// A grow is in progress (classic: `oldbuckets != nil`).
    pub growing: bool,
    /// The grow keeps the bucket count (classic `sameSizeGrow`).
    pub same_size_grow: bool,
    /// The writing flag is set: a write was in progress when the process
    /// stopped (`hashWriting` / `Map.writing`). It is toggled, so two racing
    /// writers can also leave it clear.
    pub writing: bool,
    /// An iterator may be using the buckets (classic `iterator` flags).
    pub iterator: bool,
    /// Live entries found by walking the buckets/groups (all of them, even
    /// beyond the entry limit), when the walk completed.
    pub found: Option<u64>,
    /// Problems met while walking (bad pointers, loops, count mismatch).
    pub problems: Vec<String>,
}

/// A map value.
#[derive(Debug, Clone, PartialEq)]
pub struct MapValue {
    /// Static type (`map[string]int`).
    pub type_name: String,
    /// Header address (0: nil map).
    pub addr: u64,
    /// Key type name.
    pub key_type: Option<String>,
    /// Element type name.
    pub elem_type: Option<String>,
    /// The header (absent for a nil map or when unreadable).
    pub header: Option<MapHeader>,
    /// `len()` as the header says.
    pub count: u64,
    /// Entries loaded, in bucket/group order.
    pub entries: Vec<(Value, Value)>,
    /// Whether `entries` holds every live entry.
    pub complete: bool,
    /// Health.
    pub health: MapHealth,
}

impl MapValue {
    /// Era name: `classic` or `swiss`.
    pub fn era(&self) -> Option<&'static str> {
        match self.header {
            Some(MapHeader::Classic(_)) => Some("classic"),
            Some(MapHeader::Swiss(_)) => Some("swiss"),
            None => None,
        }
    }
}

/// Collects entries while walking, within limits.
pub(crate) struct Collector<'a, 'p, 't, 'data> {
    pub ins: &'a Inspector<'p, 't, 'data>,
    pub key: Option<TypeRef>,
    pub elem: Option<TypeRef>,
    /// Slot key/elem are pointers to the real key/elem (> 128 bytes).
    pub key_indirect: bool,
    pub elem_indirect: bool,
    pub depth: usize,
    pub entries: Vec<(Value, Value)>,
    pub found: u64,
    pub visited: usize,
    pub problems: Vec<String>,
}

impl Collector<'_, '_, '_, '_> {
    pub fn entry(&mut self, key_addr: u64, elem_addr: u64) {
        self.found += 1;
        if self.entries.len() >= self.ins.limits.max_map_entries {
            return;
        }
        let r = self.ins.p.reader();
        let load = |ty: Option<TypeRef>, addr: u64, indirect: bool| -> Value {
            let Some(ty) = ty else {
                return Value::unreadable("?", Some(addr), "no type");
            };
            let addr = if indirect {
                match r.ptr(addr) {
                    Ok(a) => a,
                    Err(e) => return Value::unreadable("?", Some(addr), e.to_string()),
                }
            } else {
                addr
            };
            self.ins.load(ty, &crate::value::Src::Mem(addr), self.depth)
        };
        let k = load(self.key, key_addr, self.key_indirect);
        let v = load(self.elem, elem_addr, self.elem_indirect);
        self.entries.push((k, v));
    }

    /// Counts a bucket/group visit; false when over the limit.
    pub fn visit(&mut self) -> bool {
        self.visited += 1;
        if self.visited > self.ins.limits.max_map_buckets {
            if self.visited == self.ins.limits.max_map_buckets + 1 {
                self.problems.push(format!(
                    "stopped after {} buckets/groups (limit)",
                    self.ins.limits.max_map_buckets
                ));
            }
            return false;
        }
        true
    }
}

impl Inspector<'_, '_, '_> {
    /// Loads the map whose header is at `h`.
    pub(crate) fn load_map(
        &self,
        type_name: &str,
        h: u64,
        key: Option<TypeRef>,
        elem: Option<TypeRef>,
        header: Option<TypeRef>,
        depth: usize,
    ) -> MapValue {
        let name_of = |t: Option<TypeRef>| t.and_then(|t| self.raw_type(t).ok()).map(|t| t.name);
        let mut mv = MapValue {
            type_name: type_name.to_string(),
            addr: h,
            key_type: name_of(key),
            elem_type: name_of(elem),
            header: None,
            count: 0,
            entries: Vec::new(),
            complete: true,
            health: MapHealth::default(),
        };
        if h == 0 {
            mv.health.nil = true;
            mv.health.found = Some(0);
            return mv;
        }
        let Some(hdr) = header.and_then(|t| self.dwarf.underlying(t).ok()) else {
            mv.health.problems.push("no header type in DWARF".into());
            mv.complete = false;
            return mv;
        };
        let TypeKind::Struct { .. } = hdr.kind else {
            mv.health.problems.push("map header is not a struct".into());
            mv.complete = false;
            return mv;
        };
        let mut c = Collector {
            ins: self,
            key,
            elem,
            key_indirect: false,
            elem_indirect: false,
            depth,
            entries: Vec::new(),
            found: 0,
            visited: 0,
            problems: Vec::new(),
        };
        let walked = if hdr.field("buckets").is_some() {
            hmap::walk(self, h, &hdr, &mut c, &mut mv)
        } else if hdr.field("dirPtr").is_some() {
            swiss::walk(self, h, &hdr, type_name, &mut c, &mut mv)
        } else {
            Err(format!("unknown map header {}", hdr.name))
        };
        mv.health.problems.append(&mut c.problems);
        match walked {
            Ok(()) => {
                mv.health.found = Some(c.found);
                if c.found != mv.count {
                    mv.health.problems.push(format!(
                        "the header counts {} entries but {} live entries were found{}",
                        mv.count,
                        c.found,
                        if mv.health.writing {
                            " (a write was in progress)"
                        } else {
                            ""
                        }
                    ));
                }
            }
            Err(e) => {
                mv.health.problems.push(e);
            }
        }
        mv.complete = walked_ok(&mv) && (c.entries.len() as u64) == c.found;
        mv.entries = c.entries;
        mv
    }
}

fn walked_ok(mv: &MapValue) -> bool {
    mv.health.found.is_some()
}

/// Offset of a field or a default.
pub(crate) fn off(t: &gosleuth_gobin::Type, name: &str) -> Option<u64> {
    t.field(name).map(|f| f.offset)
}
