//! Classic maps (`runtime/map.go`, Go ≤ 1.23): `2^B` buckets of 8 slots
//! with overflow chains; during a grow, `oldbuckets` still holds the
//! entries of buckets not yet evacuated. Walked like Delve's
//! `mapIteratorClassic` (no hashing needed): for new bucket `b`, if its old
//! bucket `b & oldmask` is not evacuated the entries are still there and
//! are visited once (when `b` is the lower of its two new buckets),
//! otherwise bucket `b` itself is visited. The old bucket count follows
//! the runtime's `noldbuckets()`: `2^B` for a same-size grow, else
//! `2^(B-1)`.

use gosleuth_gobin::{Type, TypeKind};

use super::{Collector, HmapHeader, MapHeader, MapValue, off};
use crate::value::Inspector;

/// `tophash` values (Go ≥ 1.12).
const EMPTY_ONE: u8 = 1;
const MIN_TOP_HASH: u8 = 5;
const SLOTS: u64 = 8;
/// Flags.
const ITERATOR: u8 = 1;
const OLD_ITERATOR: u8 = 2;
const HASH_WRITING: u8 = 4;
const SAME_SIZE_GROW: u8 = 8;

struct Bucket {
    size: u64,
    keys: u64,
    values: u64,
    overflow: u64,
    ksize: u64,
    esize: u64,
}

pub(crate) fn walk(
    ins: &Inspector<'_, '_, '_>,
    h: u64,
    hdr: &Type,
    c: &mut Collector<'_, '_, '_, '_>,
    mv: &mut MapValue,
) -> Result<(), String> {
    let r = ins.p.reader();
    let ps = u64::from(ins.p.ptr_size());
    let rd = |name: &str, size: u64| -> Result<u64, String> {
        let o = off(hdr, name).ok_or_else(|| format!("hmap has no field {name}"))?;
        r.uint(h.wrapping_add(o), size)
            .map_err(|e| format!("hmap.{name}: {e}"))
    };
    let head = HmapHeader {
        count: rd("count", ps)?,
        flags: rd("flags", 1)? as u8,
        b: rd("B", 1)? as u8,
        noverflow: rd("noverflow", 2)? as u16,
        hash0: rd("hash0", 4)? as u32,
        buckets: rd("buckets", ps)?,
        oldbuckets: rd("oldbuckets", ps)?,
        nevacuate: rd("nevacuate", ps)?,
        extra: rd("extra", ps).unwrap_or(0),
    };
    mv.count = head.count;
    mv.health.growing = head.oldbuckets != 0;
    mv.health.same_size_grow = head.flags & SAME_SIZE_GROW != 0;
    mv.health.writing = head.flags & HASH_WRITING != 0;
    mv.health.iterator = head.flags & (ITERATOR | OLD_ITERATOR) != 0;
    mv.header = Some(MapHeader::Classic(head.clone()));
    if head.buckets == 0 {
        return Ok(());
    }
    if head.b > 40 {
        return Err(format!("B = {} cannot be right", head.b));
    }
    // The bucket layout from DWARF: bucket<K,V>{tophash, keys, values, overflow}.
    let bt = hdr
        .field("buckets")
        .and_then(|f| ins.dwarf.underlying(f.ty).ok())
        .and_then(|t| match t.kind {
            TypeKind::Pointer { target: Some(t) } => ins.dwarf.underlying(t).ok(),
            _ => None,
        })
        .ok_or("no bucket type in DWARF")?;
    let arr_elem = |name: &str| -> Option<(Type, u64)> {
        let f = bt.field(name)?;
        match ins.dwarf.underlying(f.ty).ok()?.kind {
            TypeKind::Array { elem, .. } => {
                let t = ins.dwarf.type_at(elem).ok()?;
                let size = ins.dwarf.underlying(elem).ok()?.size.unwrap_or(0);
                Some((t, size))
            }
            _ => None,
        }
    };
    let (kt, ksize) = arr_elem("keys").ok_or("bucket has no keys array")?;
    let (vt, esize) = arr_elem("values").unwrap_or((kt.clone(), 0));
    // Keys/values over 128 bytes are stored as pointers.
    let key_name = mv.key_type.clone().unwrap_or_default();
    let elem_name = mv.elem_type.clone().unwrap_or_default();
    c.key_indirect = kt.name.starts_with('*') && kt.name[1..] == key_name;
    c.elem_indirect = vt.name.starts_with('*') && vt.name[1..] == elem_name;
    let b = Bucket {
        size: bt.size.ok_or("bucket without size")?,
        keys: off(&bt, "keys").ok_or("bucket without keys")?,
        values: off(&bt, "values").unwrap_or(0),
        overflow: off(&bt, "overflow").ok_or("bucket without overflow")?,
        ksize,
        esize,
    };
    let n = 1u64 << head.b;
    if n > ins.limits.max_map_buckets as u64 {
        return Err(format!(
            "B = {} means {n} buckets, over the limit of {}",
            head.b, ins.limits.max_map_buckets
        ));
    }
    let old_n = if head.oldbuckets == 0 {
        0
    } else if mv.health.same_size_grow {
        n
    } else {
        n / 2
    };
    for i in 0..n {
        if head.oldbuckets != 0 && old_n > 0 {
            let ob_index = i & (old_n - 1);
            let ob = head.oldbuckets.wrapping_add(ob_index.wrapping_mul(b.size));
            let th0 = r
                .u8(ob)
                .map_err(|e| format!("old bucket {ob_index}: {e}"))?;
            let evacuated = th0 > EMPTY_ONE && th0 < MIN_TOP_HASH;
            if !evacuated {
                if ob_index == i {
                    chain(ins, ob, &b, c)?;
                }
                continue;
            }
        }
        chain(
            ins,
            head.buckets.wrapping_add(i.wrapping_mul(b.size)),
            &b,
            c,
        )?;
    }
    Ok(())
}

/// One bucket and its overflow chain.
fn chain(
    ins: &Inspector<'_, '_, '_>,
    mut bucket: u64,
    b: &Bucket,
    c: &mut Collector<'_, '_, '_, '_>,
) -> Result<(), String> {
    let r = ins.p.reader();
    let mut seen = 0;
    while bucket != 0 {
        if !c.visit() {
            return Err("bucket limit reached".into());
        }
        seen += 1;
        if seen > 1 << 16 {
            return Err(format!("overflow chain at {bucket:#x} does not end"));
        }
        let mut tophash = [0u8; 8];
        r.read(bucket, &mut tophash)
            .map_err(|e| format!("bucket at {bucket:#x}: {e}"))?;
        for (i, &th) in tophash.iter().enumerate() {
            if th >= MIN_TOP_HASH {
                let i = i as u64;
                c.entry(
                    bucket.wrapping_add(b.keys + i * b.ksize),
                    bucket.wrapping_add(b.values + i * b.esize),
                );
            }
        }
        let _ = SLOTS;
        bucket = r
            .ptr(bucket.wrapping_add(b.overflow))
            .map_err(|e| format!("overflow pointer of bucket at {bucket:#x}: {e}"))?;
    }
    Ok(())
}
