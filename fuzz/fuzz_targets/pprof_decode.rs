//! Fuzzes the profile decoder (profile.proto, gzip, legacy formats) and,
//! when it accepts the input, the queries and the encoder behind it.
//!
//!     cargo +nightly fuzz run pprof_decode fuzz/corpus/pprof_decode
//!
//! Seed the corpus with testdata/go*/prof_*/*.pb.gz (gunzipped too) and
//! ../shared/peers/pprof/*.

#![no_main]

use gosleuth_pprof::{Profile, Query, QueryOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Profile::decode(data) else {
        return;
    };
    let encoded = p.encode();
    let again = Profile::decode(&encoded).expect("what gosleuth writes, gosleuth reads");
    assert_eq!(again.samples.len(), p.samples.len());
    if p.sample_types.is_empty() {
        return;
    }
    if let Ok(mut q) = Query::new(p, QueryOptions::new()) {
        let _ = q.top();
        let _ = q.tree();
        let _ = q.folded();
    }
});
