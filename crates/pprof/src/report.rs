//! Queries: `top`, `peek`, `tree`, `traces`, `list` and folded stacks,
//! computed as pprof's `internal/report` computes them. Results are typed
//! data (names, raw values, units); `gosleuth-render` lays them out.

use regex::Regex;

use crate::error::Result;
use crate::filter::{self, FilterOptions, Matched};
use crate::graph::{self, Edges, Granularity, NodeId, Nodes, Order, TrimOptions};
use crate::hash::FxHashMap;
use crate::model::Profile;
use crate::units;

/// Options shared by every query, named after pprof's flags.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct QueryOptions {
    /// `-sample_index`: a type name or a column number; empty for pprof's
    /// default (the profile's `default_sample_type`, else the last).
    pub sample_index: String,
    /// Frame and tag filters.
    pub filters: FilterOptions,
    /// `-granularity`.
    pub granularity: Granularity,
    /// `-nodecount`; `None` for the command's default (all for `top`, 80
    /// for `tree`).
    pub node_count: Option<usize>,
    /// `-nodefraction`; `None` for 0.005.
    pub node_fraction: Option<f64>,
    /// `-edgefraction`; `None` for 0.001.
    pub edge_fraction: Option<f64>,
    /// `-cum`: sort by cumulative value.
    pub cum: bool,
    /// `-unit`: the unit to print values in; `None` picks one like pprof.
    pub unit: Option<String>,
}

impl QueryOptions {
    /// Options with every field at pprof's default.
    pub fn new() -> QueryOptions {
        QueryOptions::default()
    }
}

/// The profile header pprof prints above reports.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// Base name of the main mapping's file.
    pub file: Option<String>,
    /// Build ID of the main mapping.
    pub build_id: Option<String>,
    /// Comments not starting with `#`.
    pub comments: Vec<String>,
    /// Type of the value column shown.
    pub sample_type: String,
    /// Documentation link.
    pub doc_url: Option<String>,
    /// Collection time, Unix ns (0: unknown).
    pub time_nanos: i64,
    /// Profile duration, ns (0: unknown).
    pub duration_nanos: i64,
    /// Active filters, `focus=...`.
    pub filters: Vec<String>,
}

/// How values of the shown column are printed.
#[derive(Debug, Clone)]
pub struct ValueFormat {
    /// Unit of the values in the profile (`nanoseconds`, `bytes`, `count`).
    pub sample_unit: String,
    /// Unit to print in (`ms`, `MB`...), or `minimum` to choose per value.
    pub output_unit: String,
}

impl ValueFormat {
    /// pprof's `formatValue`.
    pub fn format(&self, v: i64) -> String {
        units::scaled_label(v, &self.sample_unit, &self.output_unit)
    }
}

/// A prepared query: the profile after filters, the value column, the
/// total that percentages use, and the node universe.
pub struct Query {
    /// The filtered profile.
    pub profile: Profile,
    /// Value column.
    pub index: usize,
    /// pprof's report total: Σ|value| before focus filters (base samples
    /// only for a `-diff_base` comparison).
    pub total: i64,
    /// The options.
    pub options: QueryOptions,
    /// Which filters matched.
    pub matched: Matched,
    nodes: Nodes,
}

/// Common numbers of graph reports (`top`, `tree`, `peek`).
#[derive(Debug, Clone)]
pub struct Summary {
    /// Report total.
    pub total: i64,
    /// Σ flat of the shown nodes.
    pub shown: i64,
    /// Nodes dropped for a small cum.
    pub dropped_nodes: usize,
    /// The cum threshold of that drop, `|total × nodefraction|`.
    pub node_cutoff: i64,
    /// Nodes shown.
    pub node_count: usize,
    /// Nodes before the `-nodecount` limit.
    pub orig_count: usize,
    /// The `-nodecount` in force (0: none).
    pub node_limit: usize,
}

/// One row of `top`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopRow {
    /// Node name at the query's granularity.
    pub name: String,
    /// Value of samples whose leaf frame is this node.
    pub flat: i64,
    /// Value of samples with this node anywhere on the stack (once each).
    pub cum: i64,
    /// `(inline)` or `(partial-inline)` when the node is reached through
    /// inlined calls.
    pub inline: Option<&'static str>,
}

/// `top`.
#[derive(Debug, Clone)]
pub struct TopReport {
    /// Header lines' data.
    pub header: Header,
    /// Unit handling.
    pub format: ValueFormat,
    /// Totals and trimming.
    pub summary: Summary,
    /// Rows, sorted by flat (or cum with `-cum`).
    pub rows: Vec<TopRow>,
}

/// A caller or callee edge in `peek`/`tree`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEdge {
    /// The other node.
    pub name: String,
    /// Value through the edge.
    pub weight: i64,
    /// The call was inlined.
    pub inline: bool,
}

/// One node of `peek`/`tree` with its context.
#[derive(Debug, Clone)]
pub struct TreeEntry {
    /// Node name.
    pub name: String,
    /// Flat value.
    pub flat: i64,
    /// Cumulative value.
    pub cum: i64,
    /// Callers, heaviest first.
    pub callers: Vec<TreeEdge>,
    /// Callees, heaviest first.
    pub callees: Vec<TreeEdge>,
}

/// `peek` and `tree`.
#[derive(Debug, Clone)]
pub struct TreeReport {
    /// Header data.
    pub header: Header,
    /// Unit handling.
    pub format: ValueFormat,
    /// Totals and trimming.
    pub summary: Summary,
    /// Entries in report order (only matching ones for `peek`).
    pub entries: Vec<TreeEntry>,
}

/// One sample of `traces`.
#[derive(Debug, Clone)]
pub struct Trace {
    /// String labels, `key` → values, sorted by key.
    pub labels: Vec<(String, Vec<String>)>,
    /// Numeric labels, `key` → (value, unit), sorted by key.
    pub num_labels: Vec<(String, Vec<(i64, String)>)>,
    /// The sample's value.
    pub value: i64,
    /// Frames leaf first: name and whether it is an inlined call.
    pub frames: Vec<(String, bool)>,
}

/// `traces`.
#[derive(Debug, Clone)]
pub struct TracesReport {
    /// Header data.
    pub header: Header,
    /// Unit handling (per value: `minimum`, unless `-unit`).
    pub format: ValueFormat,
    /// Samples in profile order.
    pub traces: Vec<Trace>,
}

/// Per-line figures of one function in one file, for `list`.
#[derive(Debug, Clone)]
pub struct ListFunction {
    /// Function name.
    pub name: String,
    /// Source file as the profile names it (cleaned).
    pub file: String,
    /// Σ flat of its lines.
    pub flat: i64,
    /// Σ cum of its lines.
    pub cum: i64,
    /// First line to show (the function's start line, or the first sampled
    /// line minus a margin).
    pub start: i64,
    /// Last line to show.
    pub end: i64,
    /// (line, flat, cum) for lines with samples, ascending.
    pub lines: Vec<(i64, i64, i64)>,
}

/// `list`.
#[derive(Debug, Clone)]
pub struct ListReport {
    /// Report total.
    pub total: i64,
    /// Unit handling.
    pub format: ValueFormat,
    /// Functions matching, by name then file.
    pub functions: Vec<ListFunction>,
    /// Matching functions without file information.
    pub no_source: Vec<String>,
}

impl Query {
    /// Prepares a query the way pprof's driver does: resolve the value
    /// column, compute the total, then apply the filters (pprof computes
    /// percentages against the unfiltered total).
    pub fn new(mut profile: Profile, options: QueryOptions) -> Result<Query> {
        let index = profile.sample_index(&options.sample_index)?;
        let total = profile.total(index);
        let matched = filter::apply(&mut profile, &options.filters)?;
        let nodes = Nodes::new(&profile, options.granularity);
        Ok(Query {
            profile,
            index,
            total,
            options,
            matched,
            nodes,
        })
    }

    /// The type name of the value column.
    pub fn sample_type(&self) -> &str {
        self.profile.str(self.profile.sample_types[self.index].ty)
    }

    /// The unit of the value column.
    pub fn sample_unit(&self) -> String {
        self.profile
            .str(self.profile.sample_types[self.index].unit)
            .to_lowercase()
    }

    /// Header data for reports.
    pub fn header(&self) -> Header {
        let p = &self.profile;
        let m0 = p.mappings.first();
        let file = m0
            .map(|m| p.str(m.file))
            .filter(|f| !f.is_empty())
            .map(|f| f.rsplit('/').next().unwrap_or(f).to_string());
        let build_id = m0
            .map(|m| p.str(m.build_id))
            .filter(|b| !b.is_empty())
            .map(str::to_string);
        Header {
            file,
            build_id,
            comments: p
                .comments
                .iter()
                .map(|&c| p.str(c).to_string())
                .filter(|c| !c.starts_with('#'))
                .collect(),
            sample_type: self.sample_type().to_string(),
            doc_url: Some(p.str(p.doc_url).to_string()).filter(|s| !s.is_empty()),
            time_nanos: p.time_nanos,
            duration_nanos: p.duration_nanos,
            filters: self.options.filters.legend(),
        }
    }

    fn format_for(&self, min: Option<i64>) -> ValueFormat {
        let sample_unit = self.sample_unit();
        let output_unit = match (&self.options.unit, min) {
            (Some(u), _) if u != "minimum" => u.clone(),
            (_, Some(min)) => units::select_output_unit(min, self.total, &sample_unit),
            _ => "minimum".to_string(),
        };
        ValueFormat {
            sample_unit,
            output_unit,
        }
    }

    fn trim_options(&self, default_count: usize, trim: bool, edges: Edges) -> TrimOptions {
        if !trim {
            return TrimOptions {
                node_count: 0,
                node_fraction: 0.0,
                edge_fraction: 0.0,
                order: self.order(),
                edges,
            };
        }
        TrimOptions {
            node_count: self.options.node_count.unwrap_or(default_count),
            node_fraction: self.options.node_fraction.unwrap_or(0.005),
            edge_fraction: self.options.edge_fraction.unwrap_or(0.001),
            order: self.order(),
            edges,
        }
    }

    fn order(&self) -> Order {
        if self.options.cum {
            Order::Cum
        } else {
            Order::Flat
        }
    }

    fn summary(&self, t: &graph::Trimmed, o: &TrimOptions) -> Summary {
        Summary {
            total: self.total,
            shown: t.graph.flat_sum(),
            dropped_nodes: t.dropped_nodes,
            node_cutoff: ((self.total as f64 * o.node_fraction) as i64).wrapping_abs(),
            node_count: t.graph.nodes.len(),
            orig_count: t.orig_count,
            node_limit: o.node_count,
        }
    }

    /// Smallest non-zero |flat| (else |cum|) of the shown nodes, for
    /// pprof's unit choice.
    fn min_value(g: &graph::Graph) -> i64 {
        let mut min = 0i64;
        for &n in &g.nodes {
            let mut v = g.flat[n as usize].wrapping_abs();
            if v == 0 {
                v = g.cum[n as usize].wrapping_abs();
            }
            if v > 0 && (min == 0 || v < min) {
                min = v;
            }
        }
        min
    }

    /// `top`: flat and cum per node, pprof's `-top` figures.
    pub fn top(&mut self) -> TopReport {
        let o = self.trim_options(0, true, Edges::Inline);
        let t = graph::trimmed(&self.profile, &mut self.nodes, self.index, &o);
        let mut inl: FxHashMap<NodeId, (bool, bool)> = FxHashMap::default();
        for e in &t.graph.edges {
            let x = inl.entry(e.dst).or_default();
            if e.inline {
                x.0 = true;
            } else {
                x.1 = true;
            }
        }
        let rows = t
            .graph
            .nodes
            .iter()
            .map(|&n| TopRow {
                name: self.nodes.cached_name(n).to_string(),
                flat: t.graph.flat[n as usize],
                cum: t.graph.cum[n as usize],
                inline: match inl.get(&n) {
                    Some((true, true)) => Some("(partial-inline)"),
                    Some((true, false)) => Some("(inline)"),
                    _ => None,
                },
            })
            .collect();
        TopReport {
            header: self.header(),
            format: self.format_for(Some(Self::min_value(&t.graph))),
            summary: self.summary(&t, &o),
            rows,
        }
    }

    /// `tree`: every node with its callers and callees (pprof `-tree`,
    /// 80 nodes by default).
    pub fn tree(&mut self) -> TreeReport {
        self.tree_report(None)
    }

    /// `peek REGEX`: callers and callees of the matching nodes, untrimmed.
    pub fn peek(&mut self, rx: &Regex) -> TreeReport {
        self.tree_report(Some(rx))
    }

    fn tree_report(&mut self, rx: Option<&Regex>) -> TreeReport {
        let o = self.trim_options(80, rx.is_none(), Edges::All);
        let t = graph::trimmed(&self.profile, &mut self.nodes, self.index, &o);
        let mut entries = Vec::new();
        for &n in &t.graph.nodes {
            let name = self.nodes.cached_name(n).to_string();
            if rx.is_some_and(|r| !r.is_match(&name)) {
                continue;
            }
            let (ins, outs) = t.graph.edges_of(n, &self.nodes);
            let edge = |e: &graph::Edge, other: NodeId| TreeEdge {
                name: self.nodes.cached_name(other).to_string(),
                weight: e.weight,
                inline: e.inline,
            };
            entries.push(TreeEntry {
                name,
                flat: t.graph.flat[n as usize],
                cum: t.graph.cum[n as usize],
                callers: ins.iter().map(|e| edge(e, e.src)).collect(),
                callees: outs.iter().map(|e| edge(e, e.dst)).collect(),
            });
        }
        TreeReport {
            header: self.header(),
            format: self.format_for(Some(Self::min_value(&t.graph))),
            summary: self.summary(&t, &o),
            entries,
        }
    }

    /// `traces`: every sample with its stack and labels.
    pub fn traces(&mut self) -> TracesReport {
        let p = &self.profile;
        let units_by_key = filter::num_label_units(p);
        let mut traces = Vec::new();
        for s in p.samples.iter() {
            let mut frames = Vec::new();
            for &l in s.locs {
                let ids = self.nodes.of_location(l);
                for (i, &n) in ids.iter().enumerate() {
                    frames.push((n, i != ids.len() - 1));
                }
            }
            if frames.is_empty() {
                continue;
            }
            let frames = frames
                .into_iter()
                .map(|(n, inl)| (self.nodes.infos[n as usize].printable(p), inl))
                .collect();
            let mut labels: Vec<(String, Vec<String>)> = Vec::new();
            let mut num_labels: Vec<(String, Vec<(i64, String)>)> = Vec::new();
            for l in s.labels {
                let key = p.str(l.key).to_string();
                if l.is_str() {
                    let v = p.str(l.str).to_string();
                    match labels.iter_mut().find(|x| x.0 == key) {
                        Some(x) => x.1.push(v),
                        None => labels.push((key, vec![v])),
                    }
                } else {
                    let unit = units_by_key.get(&key).cloned().unwrap_or_default();
                    match num_labels.iter_mut().find(|x| x.0 == key) {
                        Some(x) => x.1.push((l.num, unit)),
                        None => num_labels.push((key, vec![(l.num, unit)])),
                    }
                }
            }
            labels.retain(|l| l.0 != "pprof::base");
            labels.sort();
            num_labels.sort_by(|a, b| a.0.cmp(&b.0));
            traces.push(Trace {
                labels,
                num_labels,
                value: s.values[self.index],
                frames,
            });
        }
        TracesReport {
            header: self.header(),
            format: self.format_for(None),
            traces,
        }
    }

    /// `list REGEX`: per-line flat and cum of matching functions (pprof
    /// `-list`: line granularity, untrimmed).
    pub fn list(&mut self, rx: &Regex) -> ListReport {
        let lines = Nodes::new(&self.profile, Granularity::Lines);
        let g = graph::build(&self.profile, &lines, self.index, None, Edges::None);
        // Group by function name, then file.
        let mut by_fn: Vec<(String, Vec<NodeId>)> = Vec::new();
        for &n in &g.nodes {
            let info = &lines.infos[n as usize];
            let name = self.profile.str(info.name);
            if !rx.is_match(name) {
                continue;
            }
            match by_fn.iter_mut().find(|x| x.0 == name) {
                Some(x) => x.1.push(n),
                None => by_fn.push((name.to_string(), vec![n])),
            }
        }
        by_fn.sort_by(|a, b| a.0.cmp(&b.0));
        let mut functions = Vec::new();
        let mut no_source = Vec::new();
        // Start lines come from the functions (pprof keeps them on nodes
        // of list reports).
        let mut start_lines: FxHashMap<(u32, u32), i64> = FxHashMap::default();
        for f in &self.profile.functions {
            start_lines
                .entry((f.display, f.filename))
                .or_insert(f.start_line);
        }
        for (name, ids) in by_fn {
            let mut files: Vec<(u32, Vec<NodeId>)> = Vec::new();
            for n in ids {
                let file = lines.infos[n as usize].file;
                if file == 0 {
                    continue;
                }
                match files.iter_mut().find(|x| x.0 == file) {
                    Some(x) => x.1.push(n),
                    None => files.push((file, vec![n])),
                }
            }
            if files.is_empty() {
                no_source.push(name);
                continue;
            }
            files.sort_by(|a, b| self.profile.str(a.0).cmp(self.profile.str(b.0)));
            for (file, ns) in files {
                let mut rows: Vec<(i64, i64, i64)> = Vec::new();
                for &n in &ns {
                    let line = lines.infos[n as usize].line;
                    let (f, c) = (g.flat[n as usize], g.cum[n as usize]);
                    match rows.iter_mut().find(|r| r.0 == line) {
                        Some(r) => {
                            r.1 += f;
                            r.2 += c;
                        }
                        None => rows.push((line, f, c)),
                    }
                }
                rows.sort();
                let flat = rows.iter().map(|r| r.1).sum();
                let cum = rows.iter().map(|r| r.2).sum();
                let name_id = lines.infos[ns[0] as usize].name;
                let start_line = start_lines.get(&(name_id, file)).copied().unwrap_or(0);
                let first = rows.first().map(|r| r.0).unwrap_or(0);
                let last = rows.last().map(|r| r.0).unwrap_or(0);
                let start = if start_line != 0 {
                    start_line.min(first)
                } else {
                    first - 5
                }
                .max(1);
                functions.push(ListFunction {
                    name: name.clone(),
                    file: graph::clean_path(self.profile.str(file)),
                    flat,
                    cum,
                    start,
                    end: last + 5,
                    lines: rows,
                });
            }
        }
        ListReport {
            total: self.total,
            format: self.format_for(None),
            functions,
            no_source,
        }
    }

    /// Folded stacks (root first, `;`-separated node names) with their
    /// summed values, for flame graphs; stacks with a zero sum are left
    /// out.
    pub fn folded(&mut self) -> Vec<(String, i64)> {
        let p = &self.profile;
        let mut names: FxHashMap<NodeId, String> = FxHashMap::default();
        let mut sums: FxHashMap<Vec<NodeId>, i64> = FxHashMap::default();
        let mut order: Vec<Vec<NodeId>> = Vec::new();
        let mut stack: Vec<NodeId> = Vec::new();
        for s in p.samples.iter() {
            let w = s.values[self.index];
            if w == 0 {
                continue;
            }
            stack.clear();
            for &l in s.locs.iter().rev() {
                for &n in self.nodes.of_location(l).iter().rev() {
                    stack.push(n);
                }
            }
            match sums.get_mut(&stack) {
                Some(v) => *v = v.wrapping_add(w),
                None => {
                    sums.insert(stack.clone(), w);
                    order.push(stack.clone());
                }
            }
        }
        let mut out = Vec::with_capacity(order.len());
        for st in order {
            let v = sums[&st];
            if v == 0 {
                continue;
            }
            let mut line = String::new();
            for (i, n) in st.iter().enumerate() {
                if i > 0 {
                    line.push(';');
                }
                let name = names
                    .entry(*n)
                    .or_insert_with(|| folded_name(&self.nodes.infos[*n as usize].printable(p)));
                line.push_str(name);
            }
            if line.is_empty() {
                continue;
            }
            out.push((line, v));
        }
        out
    }
}

/// A frame name safe for the folded format (no `;`, no trailing number
/// confusion): `;` becomes `:` and whitespace runs a single space.
fn folded_name(s: &str) -> String {
    s.replace(';', ":")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto;
    use prost::Message;

    /// Functions 1..=4: inl, phys, rec, main. Location 1 = [inl, phys]
    /// (inlined call), 2 = rec, 3 = rec (another PC), 4 = main.
    fn profile() -> Profile {
        let strings = ["", "samples", "count", "inl", "phys", "rec", "main"];
        let f = |id: u64| proto::Function {
            id,
            name: 2 + id as i64,
            system_name: 2 + id as i64,
            ..Default::default()
        };
        let line = |fid: u64| proto::Line {
            function_id: fid,
            line: 10,
            column: 0,
        };
        let loc = |id: u64, lines: Vec<proto::Line>| proto::Location {
            id,
            address: 0x1000 + id,
            line: lines,
            ..Default::default()
        };
        let m = proto::Profile {
            sample_type: vec![proto::ValueType { r#type: 1, unit: 2 }],
            sample: vec![
                // leaf inl/phys <- rec <- rec <- main
                proto::Sample {
                    location_id: vec![1, 2, 3, 4],
                    value: vec![5],
                    label: vec![],
                },
                // leaf rec <- main
                proto::Sample {
                    location_id: vec![2, 4],
                    value: vec![3],
                    label: vec![],
                },
            ],
            location: vec![
                loc(1, vec![line(1), line(2)]),
                loc(2, vec![line(3)]),
                loc(3, vec![line(3)]),
                loc(4, vec![line(4)]),
            ],
            function: (1..=4).map(f).collect(),
            string_table: strings.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..Default::default()
        };
        Profile::decode(&m.encode_to_vec()).unwrap()
    }

    fn row<'a>(t: &'a TopReport, name: &str) -> &'a TopRow {
        t.rows.iter().find(|r| r.name == name).unwrap()
    }

    #[test]
    fn flat_goes_to_the_innermost_inlined_frame_and_cum_counts_once() {
        let mut q = Query::new(profile(), QueryOptions::new()).unwrap();
        let t = q.top();
        assert_eq!(t.summary.total, 8);
        assert_eq!((row(&t, "inl").flat, row(&t, "inl").cum), (5, 5));
        assert_eq!((row(&t, "phys").flat, row(&t, "phys").cum), (0, 5));
        // rec appears twice in the first sample: its cum counts it once.
        assert_eq!((row(&t, "rec").flat, row(&t, "rec").cum), (3, 8));
        assert_eq!((row(&t, "main").flat, row(&t, "main").cum), (0, 8));
        assert_eq!(row(&t, "inl").inline, Some("(inline)"));
        assert_eq!(row(&t, "phys").inline, None);
        // Sorted by flat, then name.
        let names: Vec<&str> = t.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["inl", "rec", "main", "phys"]);
    }

    #[test]
    fn focus_keeps_the_total_and_hide_removes_frames() {
        let mut o = QueryOptions::new();
        o.filters.focus = Some("^inl$".into());
        let mut q = Query::new(profile(), o).unwrap();
        let t = q.top();
        assert_eq!(t.summary.total, 8, "pprof's total is computed before focus");
        assert_eq!(t.summary.shown, 5);
        let mut o = QueryOptions::new();
        o.filters.hide = Some("^rec$".into());
        let mut q = Query::new(profile(), o).unwrap();
        let t = q.top();
        assert!(t.rows.iter().all(|r| r.name != "rec"));
        // The second sample's leaf is now main.
        assert_eq!(row(&t, "main").flat, 3);
    }

    #[test]
    fn peek_shows_callers_and_callees() {
        let mut q = Query::new(profile(), QueryOptions::new()).unwrap();
        let r = q.peek(&Regex::new("^phys$").unwrap());
        assert_eq!(r.entries.len(), 1);
        let e = &r.entries[0];
        assert_eq!(e.callers[0].name, "rec");
        assert_eq!(e.callees[0].name, "inl");
        assert!(e.callees[0].inline);
    }

    #[test]
    fn folded_stacks_are_root_first() {
        let mut q = Query::new(profile(), QueryOptions::new()).unwrap();
        let f = q.folded();
        assert_eq!(f[0], ("main;rec;rec;phys;inl".to_string(), 5));
        assert_eq!(f[1], ("main;rec".to_string(), 3));
    }
}
