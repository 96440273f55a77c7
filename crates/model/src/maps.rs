//! Which Go runtime functions work on maps, and what they do to them: one
//! table for every kind of evidence (profile stacks, tracebacks, core dump
//! stacks) and both map implementations.
//!
//! The names are those the symbol table and the inline tree carry, checked
//! against Go 1.19 to 1.26 executables: the classic `hmap` functions of
//! `runtime/map*.go` (Go ≤ 1.23, and later with `GOEXPERIMENT=noswissmap`),
//! the Swiss-table package `internal/runtime/maps` (Go 1.24+), its
//! `runtime_*` linkname wrappers, and the `reflect_*` entry points.

/// What a map operation does, in Go's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MapOperation {
    /// `v := m[k]`, `v, ok := m[k]`.
    Read,
    /// `m[k] = v`.
    Write,
    /// `delete(m, k)`.
    Delete,
    /// `for k, v := range m`.
    Iterate,
    /// `make(map...)`, map literals.
    Make,
    /// `clear(m)`.
    Clear,
    /// `maps.Clone(m)`.
    Clone,
}

/// The part a runtime function plays for maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapRole {
    /// It carries out an operation of the program (an entry point, or a
    /// step that only that operation takes).
    Entry(MapOperation),
    /// It grows a map: rehashing into a bigger table, evacuating buckets.
    Grow,
    /// Other map internals: hashing, probing, control words, errors.
    Internal,
}

/// What `function` (a full Go function name) does to maps; `None` when it
/// is not map code.
pub fn runtime_map_role(function: &str) -> Option<MapRole> {
    use MapOperation::*;
    let entry = |op| Some(MapRole::Entry(op));
    if let Some(rest) = function.strip_prefix("internal/runtime/maps.") {
        // The linkname wrappers show up under their maps-package names in
        // inlined frames.
        if let Some(wrapped) = rest.strip_prefix("runtime_") {
            return classic(wrapped).or(Some(MapRole::Internal));
        }
        let method = rest.rsplit('.').next().unwrap_or(rest);
        let on_map = rest.starts_with("(*Map).") || rest.starts_with("(*table).");
        return match method {
            _ if rest.starts_with("(*Iter).") => entry(Iterate),
            "grow" | "split" | "rehash" | "growToSmall" | "growToTable" | "installTableSplit"
            | "replaceTable" => Some(MapRole::Grow),
            "NewMap" | "NewEmptyMap" | "newTable" => entry(Make),
            "Clone" | "clone" | "cloneGroup" => entry(Clone),
            "Delete" | "deleteSmall" if on_map => entry(Delete),
            "Clear" | "clearSmall" if on_map => entry(Clear),
            "Put" | "PutSlot" | "uncheckedPutSlot" if on_map => entry(Write),
            _ if on_map && method.starts_with("putSlotSmall") => entry(Write),
            "Get" if on_map => entry(Read),
            _ if on_map && method.starts_with("getWith") => entry(Read),
            _ => Some(MapRole::Internal),
        };
    }
    classic(function.strip_prefix("runtime.")?)
}

/// The `runtime.` functions, without that prefix.
fn classic(f: &str) -> Option<MapRole> {
    use MapOperation::*;
    let entry = |op| Some(MapRole::Entry(op));
    let f = f.strip_prefix("reflect_").unwrap_or(f);
    if f.starts_with("mapaccess") {
        entry(Read)
    } else if f.starts_with("mapassign") {
        entry(Write)
    } else if f.starts_with("mapdelete") {
        entry(Delete)
    } else if f.starts_with("mapiter") || f.starts_with("mapIter") {
        entry(Iterate)
    } else if f.starts_with("makemap") {
        entry(Make)
    } else if f.starts_with("mapclone") || f == "maps_clone" {
        entry(Clone)
    } else if f.starts_with("mapclear") {
        entry(Clear)
    } else if f == "hashGrow"
        || f == "makeBucketArray"
        || f.starts_with("growWork")
        || (f.starts_with("evacuate") && f != "evacuated")
    {
        Some(MapRole::Grow)
    } else if matches!(
        f,
        "bucketShift"
            | "bucketMask"
            | "tophash"
            | "overLoadFactor"
            | "tooManyOverflowBuckets"
            | "advanceEvacuationMark"
            | "bucketEvacuated"
            | "evacuated"
            | "mapKeyError"
            | "mapKeyError2"
            | "mapinitnoop"
    ) || f.starts_with("(*hmap).")
        || f.starts_with("(*bmap).")
    {
        Some(MapRole::Internal)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::MapOperation::*;
    use super::MapRole::*;
    use super::*;

    #[test]
    fn classic_era() {
        for (f, want) in [
            ("runtime.mapaccess2_faststr", Some(Entry(Read))),
            ("runtime.mapassign_fast64ptr", Some(Entry(Write))),
            ("runtime.mapdelete_fast32", Some(Entry(Delete))),
            ("runtime.mapiternext", Some(Entry(Iterate))),
            ("runtime.mapIterStart", Some(Entry(Iterate))),
            ("runtime.makemap_small", Some(Entry(Make))),
            ("runtime.mapclone2", Some(Entry(Clone))),
            ("runtime.maps_clone", Some(Entry(Clone))),
            ("runtime.mapclear", Some(Entry(Clear))),
            ("runtime.reflect_mapassign_faststr", Some(Entry(Write))),
            ("runtime.hashGrow", Some(Grow)),
            ("runtime.evacuate_faststr", Some(Grow)),
            ("runtime.growWork_fast64", Some(Grow)),
            ("runtime.bucketShift", Some(Internal)),
            ("runtime.evacuated", Some(Internal)),
            ("runtime.(*hmap).newoverflow", Some(Internal)),
            ("runtime.(*traceMap).put", None),
            ("runtime.sysMap", None),
            ("runtime.mallocgc", None),
            ("main.mapassign", None),
        ] {
            assert_eq!(runtime_map_role(f), want, "{f}");
        }
    }

    #[test]
    fn swiss_era() {
        for (f, want) in [
            (
                "internal/runtime/maps.runtime_mapassign_faststr",
                Some(Entry(Write)),
            ),
            (
                "internal/runtime/maps.runtime_mapaccess1_fast64",
                Some(Entry(Read)),
            ),
            (
                "internal/runtime/maps.(*Map).putSlotSmallFastStr",
                Some(Entry(Write)),
            ),
            (
                "internal/runtime/maps.(*table).uncheckedPutSlot",
                Some(Entry(Write)),
            ),
            (
                "internal/runtime/maps.(*Map).getWithoutKeySmallFastStr",
                Some(Entry(Read)),
            ),
            (
                "internal/runtime/maps.(*table).getWithKey",
                Some(Entry(Read)),
            ),
            ("internal/runtime/maps.(*Map).Delete", Some(Entry(Delete))),
            ("internal/runtime/maps.(*Iter).Next", Some(Entry(Iterate))),
            ("internal/runtime/maps.(*Map).Clear", Some(Entry(Clear))),
            ("internal/runtime/maps.(*Map).Clone", Some(Entry(Clone))),
            ("internal/runtime/maps.NewMap", Some(Entry(Make))),
            ("internal/runtime/maps.(*table).rehash", Some(Grow)),
            ("internal/runtime/maps.(*Map).growToTable", Some(Grow)),
            ("internal/runtime/maps.(*ctrlGroup).get", Some(Internal)),
            ("internal/runtime/maps.ctrlGroup.matchH2", Some(Internal)),
            ("internal/runtime/maps.fatal", Some(Internal)),
        ] {
            assert_eq!(runtime_map_role(f), want, "{f}");
        }
    }
}
