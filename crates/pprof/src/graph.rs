//! The call graph behind every report, computed the way pprof's
//! `internal/graph` does: one node per distinct [`NodeInfo`] at the chosen
//! granularity; per sample, each node's `cum` gets the value once, edges
//! once, and `flat` goes to the leaf location's innermost line only.
//!
//! Nodes are interned once per location (not per sample), so a sample costs
//! one array lookup per frame; "seen in this sample" uses generation stamps
//! instead of a set per sample.

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::hash::FxHashMap;
use crate::model::{Profile, StrId};

/// How frames are grouped into nodes (pprof `-granularity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Granularity {
    /// One node per function name (default).
    #[default]
    Functions,
    /// Per function and source file.
    FileFunctions,
    /// Per source file.
    Files,
    /// Per source line.
    Lines,
    /// Per address (and inlined frame).
    Addresses,
}

impl Granularity {
    /// Parses pprof's names.
    pub fn parse(s: &str) -> Option<Granularity> {
        Some(match s {
            "functions" | "" => Granularity::Functions,
            "filefunctions" => Granularity::FileFunctions,
            "files" => Granularity::Files,
            "lines" => Granularity::Lines,
            "addresses" => Granularity::Addresses,
            _ => return None,
        })
    }
}

/// What a node stands for (pprof's `NodeInfo`). Strings are ids in the
/// profile's table; `file` is the raw file name (cleaned when printed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NodeInfo {
    /// Function name (display name), 0 if none.
    pub name: StrId,
    /// Source file, 0 if none or not part of the key.
    pub file: StrId,
    /// Address, 0 unless granularity is addresses.
    pub address: u64,
    /// Line, 0 unless granularity is lines or addresses.
    pub line: i64,
    /// Column (only at addresses granularity).
    pub column: i64,
    /// Function start line, set when the node has no name (pprof keys
    /// such nodes by object file and start line).
    pub start_line: i64,
    /// Mapping file, set when the node has no name.
    pub objfile: StrId,
}

impl NodeInfo {
    /// pprof's `PrintableName`: `[address] [name] [file[:line]]`, or
    /// `[objfile]` / `<unknown>` when nothing else is known.
    pub fn printable(&self, p: &Profile) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.address != 0 {
            parts.push(format!("{:016x}", self.address));
        }
        if self.name != 0 {
            parts.push(p.str(self.name).to_string());
        }
        let file = clean_path(p.str(self.file));
        if self.line != 0 {
            let mut s = format!("{file}:{}", self.line);
            if self.column != 0 {
                let _ = write!(s, ":{}", self.column);
            }
            parts.push(s);
        } else if !file.is_empty() {
            parts.push(file);
        } else if self.name == 0 && self.objfile != 0 {
            let f = p.str(self.objfile);
            let base = f.rsplit('/').next().unwrap_or(f);
            parts.push(format!("[{base}]"));
        } else if self.name == 0 {
            parts.push("<unknown>".into());
        }
        parts.join(" ")
    }

    /// Go's `fmt.Sprint(NodeInfo)`, pprof's last tie-breaker.
    fn go_sprint(&self, p: &Profile) -> String {
        format!(
            "{{{} {} {} {} {} {} {} {}}}",
            p.str(self.name),
            "",
            self.address,
            clean_path(p.str(self.file)),
            self.start_line,
            self.line,
            self.column,
            p.str(self.objfile)
        )
    }
}

/// Go's `filepath.Clean` after pprof's default `trimPath` (which strips
/// `/proc/self/cwd/` prefixes).
pub fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    let path = path
        .strip_prefix("/proc/self/cwd/./")
        .or_else(|| path.strip_prefix("/proc/self/cwd/"))
        .unwrap_or(path);
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// Index of a node in [`Nodes`].
pub type NodeId = u32;
const NIL: NodeId = u32::MAX;

/// The node universe of a profile at one granularity: every location's
/// frames mapped to node ids. Built once, reused for every graph.
pub struct Nodes {
    /// Node keys, by id.
    pub infos: Vec<NodeInfo>,
    /// For each location, its node ids, innermost line first (one entry
    /// for a location without lines).
    loc_start: Vec<u32>,
    loc_nodes: Vec<NodeId>,
    /// Whether a node ever appears as an inlined (non-last) line of a
    /// location: only edges into such nodes can be inline.
    pub maybe_inline: Vec<bool>,
    /// Printable names, filled on demand.
    names: Vec<Option<String>>,
}

impl Nodes {
    /// Maps every location of `p` to nodes at `g`.
    pub fn new(p: &Profile, g: Granularity) -> Nodes {
        let mut index: FxHashMap<NodeInfo, NodeId> = FxHashMap::default();
        let mut infos = Vec::new();
        let mut loc_start = Vec::with_capacity(p.locations.len() + 1);
        let mut loc_nodes = Vec::with_capacity(p.locations.len());
        loc_start.push(0);
        let mut intern = |info: NodeInfo| -> NodeId {
            *index.entry(info).or_insert_with(|| {
                infos.push(info);
                (infos.len() - 1) as NodeId
            })
        };
        for loc in &p.locations {
            let objfile = loc
                .mapping
                .map(|m| p.mappings[m as usize].file)
                .unwrap_or(0);
            let address = if g == Granularity::Addresses {
                loc.address
            } else {
                0
            };
            if loc.lines.is_empty() {
                loc_nodes.push(intern(NodeInfo {
                    address,
                    objfile,
                    ..Default::default()
                }));
            }
            for ln in &loc.lines {
                let f = &p.functions[ln.function as usize];
                let (name, file, line, column) = match g {
                    Granularity::Functions => (f.display, 0, 0, 0),
                    Granularity::FileFunctions => (f.display, f.filename, 0, 0),
                    Granularity::Files => (0, f.filename, 0, 0),
                    Granularity::Lines => (f.display, f.filename, ln.line, 0),
                    Granularity::Addresses => (f.display, f.filename, ln.line, ln.column),
                };
                // pprof: nodes without a name keep the object file and the
                // function's start line in their key.
                let (objfile, start_line) = if name == 0 {
                    (objfile, f.start_line)
                } else {
                    (0, 0)
                };
                loc_nodes.push(intern(NodeInfo {
                    name,
                    file,
                    address,
                    line,
                    column,
                    start_line,
                    objfile,
                }));
            }
            loc_start.push(loc_nodes.len() as u32);
        }
        let names = vec![None; infos.len()];
        let mut maybe_inline = vec![false; infos.len()];
        for l in 0..p.locations.len() {
            let ids = &loc_nodes[loc_start[l] as usize..loc_start[l + 1] as usize];
            for &n in &ids[..ids.len().saturating_sub(1)] {
                maybe_inline[n as usize] = true;
            }
        }
        Nodes {
            infos,
            loc_start,
            loc_nodes,
            maybe_inline,
            names,
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.infos.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }

    /// Node ids of location `l`, innermost first.
    #[inline]
    pub fn of_location(&self, l: u32) -> &[NodeId] {
        &self.loc_nodes
            [self.loc_start[l as usize] as usize..self.loc_start[l as usize + 1] as usize]
    }

    /// The printable name of a node, cached.
    pub fn name(&mut self, p: &Profile, n: NodeId) -> &str {
        let slot = &mut self.names[n as usize];
        if slot.is_none() {
            *slot = Some(self.infos[n as usize].printable(p));
        }
        slot.as_deref().expect("set above")
    }

    /// Fills the name cache for the given nodes.
    pub fn name_all(&mut self, p: &Profile, ids: impl Iterator<Item = NodeId>) {
        for n in ids {
            self.name(p, n);
        }
    }

    /// A cached name (call [`Nodes::name_all`] first).
    pub fn cached_name(&self, n: NodeId) -> &str {
        self.names[n as usize].as_deref().unwrap_or("")
    }
}

/// An edge between two nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// Caller.
    pub src: NodeId,
    /// Callee.
    pub dst: NodeId,
    /// Sum of sample values through it.
    pub weight: i64,
    /// Goes through nodes that were dropped.
    pub residual: bool,
    /// Only ever an inlined call.
    pub inline: bool,
}

/// Flat and cum per node, and optionally edges.
pub struct Graph {
    /// Flat value per node id (all ids of the universe).
    pub flat: Vec<i64>,
    /// Cum value per node id.
    pub cum: Vec<i64>,
    /// Nodes present in the graph (non-zero flat or cum), unordered until
    /// [`Graph::sort`].
    pub nodes: Vec<NodeId>,
    /// Edges, when asked for.
    pub edges: Vec<Edge>,
}

/// Which edges [`build`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edges {
    /// None: flat and cum only.
    None,
    /// Only edges into nodes that are inlined somewhere (enough for the
    /// `(inline)` marks of `top`).
    Inline,
    /// All edges.
    All,
}

/// Builds a graph over the samples of `p` using value column `index`.
/// `kept`, if given, restricts the nodes (others are skipped and make
/// edges across them residual).
pub fn build(
    p: &Profile,
    nodes: &Nodes,
    index: usize,
    kept: Option<&[bool]>,
    mode: Edges,
) -> Graph {
    let n = nodes.len();
    let mut flat = vec![0i64; n];
    let mut cum = vec![0i64; n];
    let mut stamp = vec![u32::MAX; n];
    let mut edge_index: FxHashMap<(NodeId, NodeId), usize> = FxHashMap::default();
    let mut edges: Vec<Edge> = Vec::new();
    let mut edge_stamp: Vec<u32> = Vec::new();
    let with_edges = mode != Edges::None;
    let inline_only = mode == Edges::Inline;
    for i in 0..p.samples.len() {
        let w = p.samples.value(i, index);
        if w == 0 {
            continue;
        }
        let s = p.samples.get(i);
        let st = i as u32;
        let mut parent = NIL;
        let mut residual = false;
        for &l in s.locs.iter().rev() {
            let ln = nodes.of_location(l);
            for ni in (0..ln.len()).rev() {
                let mut node = ln[ni];
                if let Some(k) = kept
                    && !k[node as usize]
                {
                    node = NIL;
                }
                if node == NIL {
                    residual = true;
                    continue;
                }
                if stamp[node as usize] != st {
                    stamp[node as usize] = st;
                    cum[node as usize] = cum[node as usize].wrapping_add(w);
                }
                if with_edges
                    && parent != NIL
                    && node != parent
                    && (!inline_only || nodes.maybe_inline[node as usize])
                {
                    let inline = ni != ln.len() - 1;
                    match edge_index.get(&(parent, node)) {
                        Some(&e) => {
                            if edge_stamp[e] != st {
                                edge_stamp[e] = st;
                                let e = &mut edges[e];
                                e.weight = e.weight.wrapping_add(w);
                                e.residual |= residual;
                                if !inline {
                                    e.inline = false;
                                }
                            }
                        }
                        None => {
                            edge_index.insert((parent, node), edges.len());
                            edge_stamp.push(st);
                            edges.push(Edge {
                                src: parent,
                                dst: node,
                                weight: w,
                                residual,
                                inline,
                            });
                        }
                    }
                }
                parent = node;
                residual = false;
            }
        }
        if parent != NIL && !residual {
            flat[parent as usize] = flat[parent as usize].wrapping_add(w);
        }
    }
    let present: Vec<NodeId> = (0..n as NodeId)
        .filter(|&i| flat[i as usize] != 0 || cum[i as usize] != 0)
        .collect();
    Graph {
        flat,
        cum,
        nodes: present,
        edges,
    }
}

/// Sort orders of pprof's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By |flat| (then name, |cum|): `top`, `tree`.
    Flat,
    /// By |cum| (then name, |flat|): `-cum`.
    Cum,
}

impl Graph {
    /// Σ flat over present nodes (pprof's `g.Nodes.Sum()` flat part).
    pub fn flat_sum(&self) -> i64 {
        self.nodes
            .iter()
            .fold(0i64, |a, &n| a.wrapping_add(self.flat[n as usize]))
    }

    /// Sorts [`Graph::nodes`] in pprof's order (`FlatNameOrder` or
    /// `CumNameOrder`), names taken from `names`.
    pub fn sort(&mut self, p: &Profile, names: &mut Nodes, order: Order) {
        names.name_all(p, self.nodes.iter().copied());
        let flat = &self.flat;
        let cum = &self.cum;
        let names: &Nodes = names;
        let cmp_name = |a: NodeId, b: NodeId| -> Ordering {
            let (ia, ib) = (&names.infos[a as usize], &names.infos[b as usize]);
            if ia == ib {
                return Ordering::Equal;
            }
            if ia.address != 0 && ib.address != 0 && ia.address != ib.address {
                return ia.address.cmp(&ib.address);
            }
            names.cached_name(a).cmp(names.cached_name(b))
        };
        let last = |a: NodeId, b: NodeId| -> Ordering {
            names.infos[a as usize]
                .go_sprint(p)
                .cmp(&names.infos[b as usize].go_sprint(p))
        };
        let abs = |v: i64| v.wrapping_abs();
        self.nodes.sort_by(|&a, &b| {
            let (x, y) = match order {
                Order::Flat => (flat, cum),
                Order::Cum => (cum, flat),
            };
            abs(x[b as usize])
                .cmp(&abs(x[a as usize]))
                .then_with(|| cmp_name(a, b))
                .then_with(|| abs(y[b as usize]).cmp(&abs(y[a as usize])))
                .then_with(|| last(a, b))
        });
    }

    /// Incoming and outgoing edges of a node, sorted like pprof's
    /// `EdgeMap.Sort` (|weight| descending, then caller, then callee name).
    pub fn edges_of(&self, n: NodeId, names: &Nodes) -> (Vec<Edge>, Vec<Edge>) {
        let mut ins: Vec<Edge> = self.edges.iter().filter(|e| e.dst == n).copied().collect();
        let mut outs: Vec<Edge> = self.edges.iter().filter(|e| e.src == n).copied().collect();
        let sort = |v: &mut Vec<Edge>| {
            v.sort_by(|a, b| {
                if a.weight != b.weight {
                    return b.weight.wrapping_abs().cmp(&a.weight.wrapping_abs());
                }
                names
                    .cached_name(a.src)
                    .cmp(names.cached_name(b.src))
                    .then_with(|| names.cached_name(a.dst).cmp(names.cached_name(b.dst)))
            })
        };
        sort(&mut ins);
        sort(&mut outs);
        (ins, outs)
    }
}

/// Trimming options of pprof's `newTrimmedGraph`.
#[derive(Debug, Clone, Copy)]
pub struct TrimOptions {
    /// Keep at most this many nodes (0: all).
    pub node_count: usize,
    /// Drop nodes whose |cum| is below this fraction of the total.
    pub node_fraction: f64,
    /// Drop edges whose |weight| is below this fraction of the total.
    pub edge_fraction: f64,
    /// Sort order for node selection.
    pub order: Order,
    /// Which edges to compute.
    pub edges: Edges,
}

/// A trimmed, sorted graph and the numbers pprof's legend shows.
pub struct Trimmed {
    /// The graph; `nodes` sorted.
    pub graph: Graph,
    /// Nodes before the node-count limit.
    pub orig_count: usize,
    /// Nodes dropped by the node fraction.
    pub dropped_nodes: usize,
    /// Edges dropped by the edge fraction.
    pub dropped_edges: usize,
}

/// pprof's `newTrimmedGraph` (not in call-tree mode).
pub fn trimmed(p: &Profile, nodes: &mut Nodes, index: usize, o: &TrimOptions) -> Trimmed {
    let mut g = build(p, nodes, index, None, o.edges);
    let total = g.flat_sum();
    let node_cutoff = ((total as f64 * o.node_fraction) as i64).wrapping_abs();
    let edge_cutoff = ((total as f64 * o.edge_fraction) as i64).wrapping_abs();
    let mut dropped_nodes = 0;
    if node_cutoff > 0 {
        let keep: Vec<NodeId> = g
            .nodes
            .iter()
            .copied()
            .filter(|&n| g.cum[n as usize].wrapping_abs() >= node_cutoff)
            .collect();
        if keep.len() != g.nodes.len() {
            dropped_nodes = g.nodes.len() - keep.len();
            if needs_rebuild(nodes, &keep, o.edges) {
                let mut mask = vec![false; nodes.len()];
                for &n in &keep {
                    mask[n as usize] = true;
                }
                g = build(p, nodes, index, Some(&mask), o.edges);
            } else {
                // Dropping nodes changes no kept node's flat or cum (pprof
                // rebuilds only for the edges); without edges that matter,
                // filtering is the same and saves a pass over the samples.
                // The edges, if any, all lead to dropped nodes.
                g.nodes = keep;
                g.edges.clear();
            }
        }
    }
    let orig_count = g.nodes.len();
    g.sort(p, nodes, o.order);
    if o.node_count > 0 && g.nodes.len() > o.node_count {
        let keep: Vec<NodeId> = g.nodes[..o.node_count].to_vec();
        if needs_rebuild(nodes, &keep, o.edges) {
            let mut mask = vec![false; nodes.len()];
            for &n in &keep {
                mask[n as usize] = true;
            }
            g = build(p, nodes, index, Some(&mask), o.edges);
            g.sort(p, nodes, o.order);
        } else {
            g.nodes = keep;
            g.edges.clear();
        }
    }
    let before = g.edges.len();
    if edge_cutoff > 0 {
        g.edges.retain(|e| e.weight.wrapping_abs() >= edge_cutoff);
    }
    let dropped_edges = before - g.edges.len();
    Trimmed {
        graph: g,
        orig_count,
        dropped_nodes,
        dropped_edges,
    }
}

/// Whether restricting the graph to `keep` needs a new pass over the
/// samples: only when edges are wanted and some of them can change.
fn needs_rebuild(nodes: &Nodes, keep: &[NodeId], mode: Edges) -> bool {
    match mode {
        Edges::None => false,
        Edges::Inline => keep.iter().any(|&n| nodes.maybe_inline[n as usize]),
        Edges::All => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean_path("/a//b/./c/../d.go"), "/a/b/d.go");
        assert_eq!(clean_path("/proc/self/cwd/x.go"), "x.go");
        assert_eq!(clean_path(""), "");
        assert_eq!(clean_path("../a"), "../a");
    }
}
