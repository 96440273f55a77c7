//! Glue between a Go executable (`gosleuth-gobin`) and the profile engine:
//! symbolizing profiles whose locations carry only addresses (perf, eBPF
//! agents, old Go), as `gosleuth profile --binary EXE` and `analyze` with an
//! executable beside a profile do.

use std::cell::RefCell;

use gosleuth_gobin::Binary;
use gosleuth_pprof::Mapping;
use gosleuth_pprof::symbolize::{Frame, Symbolizer};

/// A [`Symbolizer`] over one executable's pclntab.
pub struct BinarySymbolizer<'a, 'd> {
    binary: &'a Binary<'d>,
    file_name: String,
    build_ids: Vec<String>,
    pie: bool,
    /// Used only when no mapping names this binary or its build ID: a
    /// profile with a single executable mapping.
    fallback_mapping: Option<u64>,
    cache: RefCell<Option<gosleuth_gobin::Symbolizer<'d, 'a>>>,
}

impl<'a, 'd> BinarySymbolizer<'a, 'd> {
    /// Prepares symbolization of `profile`'s mappings with `binary`, read
    /// from the file `path`.
    pub fn new(binary: &'a Binary<'d>, path: &str, profile: &gosleuth_pprof::Profile) -> Self {
        let summary = binary.summary();
        let build_ids: Vec<String> = [summary.go_build_id, summary.gnu_build_id]
            .into_iter()
            .flatten()
            .collect();
        let file_name = base_name(path).to_string();
        let names_it = |m: &Mapping| {
            let file = profile.str(m.file);
            let id = profile.str(m.build_id);
            (!id.is_empty() && build_ids.iter().any(|b| b == id)) || base_name(file) == file_name
        };
        let fallback_mapping = if profile.mappings.iter().any(names_it) {
            None
        } else {
            // pprof's rule for a lone binary: the first mapping is the
            // main executable.
            profile.mappings.first().map(|m| m.id)
        };
        BinarySymbolizer {
            binary,
            file_name,
            build_ids,
            pie: summary.pie,
            fallback_mapping,
            cache: RefCell::new(None),
        }
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

impl Symbolizer for BinarySymbolizer<'_, '_> {
    fn covers(&self, mapping: &Mapping, file: &str, build_id: &str) -> bool {
        (!build_id.is_empty() && self.build_ids.iter().any(|b| b == build_id))
            || base_name(file) == self.file_name
            || self.fallback_mapping == Some(mapping.id)
    }

    fn frames(&self, mapping: &Mapping, address: u64) -> Vec<Frame> {
        // A PIE is mapped at a random base: turn the process address into
        // the binary's own address through the mapping's file offset (Go's
        // linker lays PIE segments out at their file offsets).
        let pc = if self.pie {
            address
                .wrapping_sub(mapping.start)
                .wrapping_add(mapping.offset)
        } else {
            address
        };
        let mut cache = self.cache.borrow_mut();
        if cache.is_none() {
            *cache = self.binary.symbolizer().ok();
        }
        let Some(sym) = cache.as_mut() else {
            return Vec::new();
        };
        let Ok(frames) = sym.frames(pc) else {
            return Vec::new();
        };
        frames
            .into_iter()
            .map(|f| Frame {
                function: f.function.to_string(),
                file: f.file.to_string(),
                line: i64::from(f.line),
                start_line: 0,
            })
            .collect()
    }
}
