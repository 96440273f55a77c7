//! Broken inputs never panic: every profile fixture truncated at every 97th
//! byte and with random bit flips, raw and gzipped, decoded and (when it
//! still decodes) queried.

mod common;

use gosleuth_pprof::{Profile, Query, QueryOptions};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn exercise(data: &[u8]) {
    if let Ok(p) = Profile::decode(data) {
        for i in 0..p.sample_types.len() {
            let mut o = QueryOptions::new();
            o.sample_index = i.to_string();
            if let Ok(mut q) = Query::new(p.clone(), o) {
                let _ = q.top();
                let _ = q.folded();
                let _ = q.traces();
            }
        }
        let _ = p.encode();
    }
}

#[test]
fn truncated_and_bit_flipped_inputs_never_panic() {
    let inputs = common::profile_inputs();
    assert!(!inputs.is_empty(), "no profile inputs found");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut cases = 0usize;
    for path in &inputs {
        let stored = std::fs::read(path).unwrap();
        let raw = gosleuth_pprof::gunzip(&stored)
            .map(|c| c.into_owned())
            .unwrap_or_else(|_| stored.clone());
        for data in [&stored, &raw] {
            let mut cut = 0;
            while cut < data.len() {
                exercise(&data[..cut]);
                cut += 97;
                cases += 1;
            }
            for _ in 0..100 {
                let mut d = data.clone();
                let flips = 1 + rng.next() % 4;
                for _ in 0..flips {
                    if d.is_empty() {
                        break;
                    }
                    let i = (rng.next() % d.len() as u64) as usize;
                    d[i] ^= 1 << (rng.next() % 8);
                }
                exercise(&d);
                cases += 1;
            }
        }
    }
    eprintln!("{cases} broken inputs over {} files", inputs.len());
}
