//! Symbolizing address-only profiles.
//!
//! Profiles from old Go versions, the legacy formats and some producers
//! carry addresses without functions. This crate does not read binaries:
//! the caller hands it a [`Symbolizer`] (gosleuth's implementation reads
//! the Go executable's pclntab, in `gosleuth-gobin`), and [`symbolize`]
//! fills functions and lines in, the way pprof's local symbolization does
//! (`internal/symbolizer`: only mappings without `has_functions`, frames
//! innermost first, functions deduplicated).

use crate::hash::FxHashMap;
use crate::model::{Function, Line, Mapping, Profile};

/// One frame of a symbolized address, innermost (inlined) first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    /// Function name (`main.(*T).M`).
    pub function: String,
    /// Source file.
    pub file: String,
    /// Source line.
    pub line: i64,
    /// Line of the function's `func` keyword, 0 if unknown.
    pub start_line: i64,
}

/// Turns addresses of one mapping into frames.
pub trait Symbolizer {
    /// Whether this symbolizer covers `mapping` (by file name or build ID);
    /// `file` and `build_id` are the mapping's strings.
    fn covers(&self, mapping: &Mapping, file: &str, build_id: &str) -> bool;

    /// The frames at `address` (a process address inside `mapping`),
    /// innermost first; empty if unknown.
    fn frames(&self, mapping: &Mapping, address: u64) -> Vec<Frame>;
}

/// What [`symbolize`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SymbolizeStats {
    /// Locations that got frames.
    pub symbolized: usize,
    /// Locations of covered mappings that stayed unknown.
    pub unknown: usize,
}

/// Symbolizes the locations without lines in mappings that `sym` covers
/// and that are not already symbolized (`has_functions`), then marks those
/// mappings symbolized.
pub fn symbolize(p: &mut Profile, sym: &dyn Symbolizer) -> SymbolizeStats {
    let covered: Vec<bool> = p
        .mappings
        .iter()
        .map(|m| !m.has_functions && sym.covers(m, p.str(m.file), p.str(m.build_id)))
        .collect();
    let mut stats = SymbolizeStats::default();
    let mut funcs: FxHashMap<(String, String, i64), u32> = FxHashMap::default();
    let mut next_id = p.functions.iter().map(|f| f.id).max().unwrap_or(0) + 1;
    for li in 0..p.locations.len() {
        let Some(m) = p.locations[li].mapping else {
            continue;
        };
        if !covered[m as usize] || !p.locations[li].lines.is_empty() {
            continue;
        }
        let frames = sym.frames(&p.mappings[m as usize], p.locations[li].address);
        if frames.is_empty() {
            stats.unknown += 1;
            continue;
        }
        let mut lines = Vec::with_capacity(frames.len());
        for fr in frames {
            let key = (fr.function.clone(), fr.file.clone(), fr.start_line);
            let f = match funcs.get(&key) {
                Some(&f) => f,
                None => {
                    let name = p.strings.intern(&fr.function);
                    let filename = p.strings.intern(&fr.file);
                    p.functions.push(Function {
                        id: next_id,
                        name,
                        system_name: name,
                        filename,
                        start_line: fr.start_line,
                        display: name,
                    });
                    next_id += 1;
                    let f = (p.functions.len() - 1) as u32;
                    funcs.insert(key, f);
                    f
                }
            };
            lines.push(Line {
                function: f,
                line: fr.line,
                column: 0,
            });
        }
        p.locations[li].lines = lines;
        stats.symbolized += 1;
    }
    for (m, c) in p.mappings.iter_mut().zip(covered) {
        if c {
            m.has_functions = true;
        }
    }
    p.set_display_names();
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Symbolizer for Fake {
        fn covers(&self, _: &Mapping, _: &str, _: &str) -> bool {
            true
        }
        fn frames(&self, _: &Mapping, address: u64) -> Vec<Frame> {
            if address == 0x0f {
                vec![Frame {
                    function: "main.leaf".into(),
                    file: "/x/main.go".into(),
                    line: 7,
                    start_line: 5,
                }]
            } else {
                Vec::new()
            }
        }
    }

    #[test]
    fn fills_functions_of_covered_mappings() {
        let mut p = Profile::decode(b"threadcreate profile: total 1\n1 @ 0x10 0x20\n").unwrap();
        let st = symbolize(&mut p, &Fake);
        assert_eq!(
            st,
            SymbolizeStats {
                symbolized: 1,
                unknown: 1
            }
        );
        assert_eq!(p.func_name(0), "main.leaf");
    }
}
