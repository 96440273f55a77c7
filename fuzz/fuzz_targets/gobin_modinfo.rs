//! Module info text (`go version -m` lines): parse, print, parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(bi) = gosleuth_gobin::parse_modinfo(text) {
        // What we print must parse back to the same thing.
        let again = gosleuth_gobin::parse_modinfo(&bi.modinfo_string()).expect("reparse");
        assert_eq!(again.settings, bi.settings);
        assert_eq!(again.deps.len(), bi.deps.len());
    }
});
