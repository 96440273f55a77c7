//! pc-value tables (pcsp, pcfile, pcln, pcdata): a stream of
//! (value delta, pc delta) varint pairs starting at the function entry with
//! value -1 (`runtime/symtab.go: step`).

/// Decodes one pc-value stream.
#[derive(Debug, Clone)]
pub struct PcValueIter<'a> {
    data: &'a [u8],
    pos: usize,
    pc: u64,
    val: i32,
    quantum: u8,
    first: bool,
    done: bool,
}

/// One run of a pc-value table: `value` holds for `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcRange {
    /// First PC of the run.
    pub start: u64,
    /// One past the last PC of the run.
    pub end: u64,
    /// The value over the run.
    pub value: i32,
}

#[inline]
fn uvarint(data: &[u8], pos: &mut usize) -> Option<u32> {
    let mut v: u32 = 0;
    let mut shift = 0u32;
    loop {
        let b = *data.get(*pos)?;
        *pos += 1;
        if shift >= 32 {
            return None;
        }
        v |= u32::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
    }
}

impl<'a> PcValueIter<'a> {
    /// A decoder over `data` (starting at the table) for a function at
    /// `entry`, with PC quantum `quantum`.
    pub fn new(data: &'a [u8], entry: u64, quantum: u8) -> Self {
        PcValueIter {
            data,
            pos: 0,
            pc: entry,
            val: -1,
            quantum,
            first: true,
            done: false,
        }
    }
}

impl Iterator for PcValueIter<'_> {
    type Item = PcRange;

    #[inline]
    fn next(&mut self) -> Option<PcRange> {
        if self.done {
            return None;
        }
        let Some(uv) = uvarint(self.data, &mut self.pos) else {
            self.done = true;
            return None;
        };
        if uv == 0 && !self.first {
            self.done = true;
            return None;
        }
        self.first = false;
        let delta = (-((uv & 1) as i32)) ^ ((uv >> 1) as i32);
        self.val = self.val.wrapping_add(delta);
        let Some(pcd) = uvarint(self.data, &mut self.pos) else {
            self.done = true;
            return None;
        };
        let start = self.pc;
        self.pc = self
            .pc
            .wrapping_add(u64::from(pcd).wrapping_mul(u64::from(self.quantum)));
        Some(PcRange {
            start,
            end: self.pc,
            value: self.val,
        })
    }
}

/// The value of the table at `pc`, or `None` if `pc` is past its end or the
/// table is malformed.
#[inline]
pub fn value_at(data: &[u8], entry: u64, quantum: u8, pc: u64) -> Option<i32> {
    for r in PcValueIter::new(data, entry, quantum) {
        if pc < r.end {
            return (pc >= r.start).then_some(r.value);
        }
    }
    None
}

/// The PC where the table ends (the end of the code it describes).
pub fn table_end(data: &[u8], entry: u64, quantum: u8) -> Option<u64> {
    PcValueIter::new(data, entry, quantum).last().map(|r| r.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_runtime_example() {
        // value +1 (zigzag 2) over 4 bytes; value +2 (zigzag 4) over 3
        // bytes; terminator 0.
        let t = [0x02, 0x04, 0x04, 0x03, 0x00];
        let r: Vec<_> = PcValueIter::new(&t, 0x1000, 1).collect();
        assert_eq!(
            r,
            vec![
                PcRange {
                    start: 0x1000,
                    end: 0x1004,
                    value: 0
                },
                PcRange {
                    start: 0x1004,
                    end: 0x1007,
                    value: 2
                },
            ]
        );
        assert_eq!(value_at(&t, 0x1000, 1, 0x1005), Some(2));
        assert_eq!(value_at(&t, 0x1000, 1, 0x1007), None);
        assert_eq!(table_end(&t, 0x1000, 1), Some(0x1007));
    }

    #[test]
    fn first_pair_read_even_with_zero_delta() {
        // uvdelta 0 on the first pair means value -1+0 = -1, not the end.
        let t = [0x00, 0x02, 0x03, 0x01, 0x00];
        let r: Vec<_> = PcValueIter::new(&t, 0, 4).collect();
        assert_eq!(
            r[0],
            PcRange {
                start: 0,
                end: 8,
                value: -1
            }
        );
        assert_eq!(
            r[1],
            PcRange {
                start: 8,
                end: 12,
                value: -3
            }
        );
    }

    #[test]
    fn truncated_varint_stops() {
        let t = [0x82];
        assert_eq!(PcValueIter::new(&t, 0, 1).count(), 0);
        let long = [0xff; 16];
        assert_eq!(PcValueIter::new(&long, 0, 1).count(), 0);
    }
}
