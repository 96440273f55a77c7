//! `/debug/pprof/goroutine?debug=2` writes `runtime.Stack(buf, true)` into a
//! buffer that stops growing at 64 MiB; when the dump does not fit, the text
//! ends wherever the buffer did. That can be inside a header, right after
//! any line's newline, or even on the blank line between two goroutines, and
//! each of those must read as the runtime's cut, not as a clean end. Before
//! this test, a cut right after a newline read as a whole dump.
//!
//! Each case builds a dump whose 64 MiB boundary falls at a chosen byte of
//! its last goroutine, by lengthening one function name of the first
//! goroutine. Ids start at 1,000,000 so that every block has the same
//! length.

use gosleuth_traceback::{ScanOptions, Truncation, scan};

const CAP: usize = 64 << 20;
const FIRST_ID: u64 = 1_000_000;

fn block(id: u64, pad: usize) -> String {
    format!(
        "goroutine {id} [select, 3 minutes]:\n\
         main.(*Consumer).poll{}(0xc000123450, 0x3)\n\
         \t/go/src/crashlab/bigdump/main.go:161 +0x1d\n\
         main.worker(...)\n\
         \t/go/src/crashlab/bigdump/main.go:305\n\
         created by main.main in goroutine 1\n\
         \t/go/src/crashlab/bigdump/main.go:340 +0x9c\n",
        "x".repeat(pad)
    )
}

/// A dump of exactly [`CAP`] bytes whose last goroutine is cut `cut` bytes
/// into its block (the block being the goroutine's lines plus the blank
/// line that separates it from the next one).
fn cut_dump(cut: usize) -> (Vec<u8>, u64) {
    let per = block(FIRST_ID, 0).len() + 1;
    let fit = CAP / per;
    // `fit - 1` blocks, the first of them padded, end where the cut block
    // must start.
    let start = CAP - cut;
    let blocks_before = fit - 1;
    let pad = start - blocks_before * per;
    assert!(pad < per * 2, "padding {pad}");
    let mut text = String::with_capacity(CAP + per);
    for i in 0..blocks_before as u64 {
        text.push_str(&block(FIRST_ID + i, if i == 0 { pad } else { 0 }));
        text.push('\n');
    }
    assert_eq!(text.len(), start);
    let cut_id = FIRST_ID + blocks_before as u64;
    text.push_str(&block(cut_id, 0));
    text.push('\n');
    let mut bytes = text.into_bytes();
    bytes.truncate(CAP);
    (bytes, cut_id)
}

#[test]
fn every_cut_position_reads_as_the_runtime_cut() {
    let last = block(FIRST_ID, 0);
    let line_ends: Vec<usize> = last.match_indices('\n').map(|(i, _)| i + 1).collect();
    let bracket = last.find(']').unwrap();
    let mut cuts = vec![1, 10, 12, bracket, bracket + 1, last.len() + 1];
    for end in &line_ends {
        cuts.extend([end - 2, end - 1, *end]);
    }
    // Also 0: the cut falls exactly after the blank line, so the text ends
    // with a complete goroutine and its separator.
    cuts.push(0);
    cuts.sort_unstable();
    cuts.dedup();
    let opts = ScanOptions::default();
    let mut wrong = Vec::new();
    for cut in cuts {
        let (bytes, cut_id) = cut_dump(cut);
        assert_eq!(bytes.len(), CAP);
        let dump = scan(&bytes, &opts);
        let Some(trace) = dump.traces.last() else {
            wrong.push(format!("cut at {cut}: no trace"));
            continue;
        };
        if dump.traces.len() != 1 {
            wrong.push(format!("cut at {cut}: {} traces", dump.traces.len()));
        }
        if trace.truncation != Truncation::CutByRuntimeAt64MiB {
            wrong.push(format!("cut at {cut}: {:?}", trace.truncation));
        }
        // The goroutines before the cut one are whole. The cut one counts
        // once its header is in up to the closing bracket, and is whole
        // only when its blank separator made it in too.
        let before = (cut_id - FIRST_ID) as usize;
        let header_in = cut > bracket;
        let whole = cut == last.len() + 1;
        let complete = trace.goroutines.iter().filter(|g| g.complete).count();
        if complete != before + whole as usize {
            wrong.push(format!(
                "cut at {cut}: {complete} complete goroutines, want {}",
                before + whole as usize
            ));
        }
        let want_count = before + header_in as usize;
        if trace.goroutines.len() != want_count {
            wrong.push(format!(
                "cut at {cut}: {} goroutines, want {want_count}",
                trace.goroutines.len()
            ));
        }
        let want_last = if header_in { cut_id } else { cut_id - 1 };
        let last_id = trace.goroutines.last().map(|g| g.id);
        if last_id != Some(want_last) {
            wrong.push(format!(
                "cut at {cut}: last goroutine {last_id:?}, want {want_last}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
