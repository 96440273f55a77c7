//! gosleuth-pprof: pprof profiles read, queried and written, with
//! `go tool pprof`'s figures.
//!
//! This crate takes bytes and returns typed data: it does no I/O and prints
//! nothing. It leaves symbolizing address-only profiles to a [`Symbolizer`]
//! it is handed (gosleuth's reads Go binaries, in `gosleuth-gobin`), and
//! laying reports out to `gosleuth-render`.
//!
//! Brief overview:
//! - [`Profile::decode`] reads gzipped or raw `profile.proto` and the
//!   legacy formats Go produces or produced; errors carry a byte offset and
//!   a field path ([`Pos`]). [`Profile::encode`] writes it back.
//! - [`Profile`] is the query model: interned strings, dense indices,
//!   column-wise samples, inlined frames as one location with several lines.
//! - [`merge::merge`] and [`merge::subtract_base`] combine profiles like
//!   pprof's multiple inputs, `-base` and `-diff_base`.
//! - [`Query`] applies pprof's options ([`QueryOptions`]: sample index,
//!   focus/ignore/hide/show/tagfocus/tagignore, granularity, node count and
//!   fraction) and answers `top`, `peek`, `tree`, `traces`, `list` and
//!   folded stacks with the same numbers as `go tool pprof`.
//! - [`maps::lens`] is the map lens: map time or allocation by operation
//!   and user caller, for both map implementations.
//!
//! ```
//! use gosleuth_pprof::{Profile, Query, QueryOptions};
//!
//! let text = b"threadcreate profile: total 3\n2 @ 0x10 0x20\n1 @ 0x30\n";
//! let profile = Profile::decode(text)?;
//! let mut q = Query::new(profile, QueryOptions::new())?;
//! let top = q.top();
//! assert_eq!(top.summary.total, 3);
//! # Ok::<(), gosleuth_pprof::Error>(())
//! ```

#![deny(missing_docs)]

mod decode;
pub mod diff;
mod encode;
mod error;
pub mod filter;
pub mod graph;
mod hash;
mod legacy;
pub mod maps;
pub mod merge;
mod model;
pub mod proto;
mod report;
pub mod symbolize;
pub mod units;
mod wire;

pub use decode::gunzip;
pub use encode::renumber;
pub use error::{Error, ErrorKind, Pos, Result};
pub use filter::FilterOptions;
pub use graph::Granularity;
pub use model::{
    Function, Label, Line, Location, Mapping, Profile, SampleRef, Samples, StrId, Strings,
    ValueType,
};
pub use report::{
    Header, ListFunction, ListReport, Query, QueryOptions, Summary, TopReport, TopRow, Trace,
    TracesReport, TreeEdge, TreeEntry, TreeReport, ValueFormat,
};
pub use symbolize::{Frame, Symbolizer};

/// Loads profiles the way `go tool pprof PROFILE... [-base|-diff_base B]`
/// does after reading them: several inputs are merged, a base is
/// subtracted, and the profile's `drop_frames` are applied.
pub fn combine(
    mut profiles: Vec<Profile>,
    base: Option<Profile>,
    o: merge::BaseOptions,
) -> Result<Profile> {
    let mut p = match profiles.len() {
        0 => return Err(Error::option("no profiles")),
        1 => profiles.pop().expect("one"),
        _ => {
            let refs: Vec<&Profile> = profiles.iter().collect();
            merge::merge(&refs)?
        }
    };
    if let Some(b) = base {
        p = merge::subtract_base(p, b, o)?;
    }
    filter::remove_uninteresting(&mut p)?;
    Ok(p)
}
