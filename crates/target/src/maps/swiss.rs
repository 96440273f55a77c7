//! Swiss-table maps (`internal/runtime/maps`, Go ≥ 1.24). A small map
//! (`dirLen == 0`) is one group of 8 slots at `dirPtr`; a large one has a
//! directory of `dirLen` table pointers in which a table appears
//! `2^(globalDepth - localDepth)` times in a row — it is visited once, at
//! the directory index it records (`table.index`), like Delve's
//! `mapIteratorSwiss`. A slot is live when its control byte has the high
//! bit clear (`ctrlEmpty` 0x80, `ctrlDeleted` 0xFE). Tables grow whole, so
//! there is no half-moved state to merge.

use gosleuth_gobin::{Type, TypeKind};

use super::{Collector, MapHeader, MapValue, SwissHeader, SwissTable, off};
use crate::value::Inspector;

const SLOTS: u64 = 8;

struct Group {
    size: u64,
    /// Offsets of slot i's key and elem: `slots + i*slot + key/elem`, or
    /// split layout `keys + i*ksize`, `elems + i*esize`.
    key: (u64, u64),
    elem: (u64, u64),
}

impl Group {
    fn key_at(&self, g: u64, i: u64) -> u64 {
        g.wrapping_add(self.key.0 + i * self.key.1)
    }
    fn elem_at(&self, g: u64, i: u64) -> u64 {
        g.wrapping_add(self.elem.0 + i * self.elem.1)
    }
}

fn group_layout(
    ins: &Inspector<'_, '_, '_>,
    type_name: &str,
    c: &mut Collector<'_, '_, '_, '_>,
    mv: &MapValue,
) -> Result<Group, String> {
    let name = format!(
        "noalg.map.group{}",
        type_name.strip_prefix("map").unwrap_or(type_name)
    );
    let gt = ins
        .type_ref_by_name(&name)
        .and_then(|t| ins.dwarf.underlying(t).ok())
        .ok_or_else(|| format!("no group type {name} in DWARF"))?;
    let size = gt.size.ok_or("group without size")?;
    let indirect = |t: &Type, want: &Option<String>| -> bool {
        t.name.starts_with('*') && want.as_deref() == Some(&t.name[1..])
    };
    let arr = |t: &Type| -> Option<(gosleuth_gobin::TypeRef, u64)> {
        match ins.dwarf.underlying(t.id).ok()?.kind {
            TypeKind::Array { elem, .. } => {
                let size = ins.dwarf.underlying(elem).ok()?.size.unwrap_or(0);
                Some((elem, size))
            }
            _ => None,
        }
    };
    if let Some(slots) = gt.field("slots") {
        let st = ins.dwarf.type_at(slots.ty).map_err(|e| e.to_string())?;
        let (slot_t, slot_size) = arr(&st).ok_or("group slots is not an array")?;
        let slot = ins.dwarf.underlying(slot_t).map_err(|e| e.to_string())?;
        let kf = slot.field("key").ok_or("slot without key")?;
        let ef = slot.field("elem");
        let kt = ins.dwarf.type_at(kf.ty).map_err(|e| e.to_string())?;
        c.key_indirect = indirect(&kt, &mv.key_type);
        if let Some(ef) = ef {
            let et = ins.dwarf.type_at(ef.ty).map_err(|e| e.to_string())?;
            c.elem_indirect = indirect(&et, &mv.elem_type);
        }
        Ok(Group {
            size,
            key: (slots.offset + kf.offset, slot_size),
            elem: (slots.offset + ef.map_or(0, |f| f.offset), slot_size),
        })
    } else {
        // GOEXPERIMENT=mapsplitgroup (Go 1.27): {ctrl; keys [8]K; elems [8]V}.
        let kf = gt.field("keys").ok_or("group has neither slots nor keys")?;
        let kt = ins.dwarf.type_at(kf.ty).map_err(|e| e.to_string())?;
        let (ke, ksize) = arr(&kt).ok_or("group keys is not an array")?;
        c.key_indirect = indirect(
            &ins.dwarf.type_at(ke).map_err(|e| e.to_string())?,
            &mv.key_type,
        );
        let (eoff, esize) = match gt.field("elems") {
            Some(ef) => {
                let et = ins.dwarf.type_at(ef.ty).map_err(|e| e.to_string())?;
                let (ee, esize) = arr(&et).ok_or("group elems is not an array")?;
                c.elem_indirect = indirect(
                    &ins.dwarf.type_at(ee).map_err(|e| e.to_string())?,
                    &mv.elem_type,
                );
                (ef.offset, esize)
            }
            None => (0, 0),
        };
        Ok(Group {
            size,
            key: (kf.offset, ksize),
            elem: (eoff, esize),
        })
    }
}

pub(crate) fn walk(
    ins: &Inspector<'_, '_, '_>,
    h: u64,
    hdr: &Type,
    type_name: &str,
    c: &mut Collector<'_, '_, '_, '_>,
    mv: &mut MapValue,
) -> Result<(), String> {
    let r = ins.p.reader();
    let ps = u64::from(ins.p.ptr_size());
    let rd = |name: &str, size: u64| -> Result<u64, String> {
        let o = off(hdr, name).ok_or_else(|| format!("map header has no field {name}"))?;
        r.uint(h.wrapping_add(o), size)
            .map_err(|e| format!("Map.{name}: {e}"))
    };
    let mut head = SwissHeader {
        used: rd("used", 8)?,
        seed: rd("seed", ps)?,
        dir_ptr: rd("dirPtr", ps)?,
        dir_len: rd("dirLen", ps)?,
        global_depth: rd("globalDepth", 1)? as u8,
        global_shift: rd("globalShift", 1)? as u8,
        writing: rd("writing", 1)? as u8,
        tombstone_possible: rd("tombstonePossible", 1)? != 0,
        clear_seq: rd("clearSeq", 8).unwrap_or(0),
        tables: Vec::new(),
    };
    mv.count = head.used;
    mv.health.writing = head.writing != 0;
    let result = walk_tables(ins, h, &mut head, type_name, c, mv);
    mv.header = Some(MapHeader::Swiss(head));
    result
}

fn walk_tables(
    ins: &Inspector<'_, '_, '_>,
    _h: u64,
    head: &mut SwissHeader,
    type_name: &str,
    c: &mut Collector<'_, '_, '_, '_>,
    mv: &MapValue,
) -> Result<(), String> {
    let r = ins.p.reader();
    let ps = u64::from(ins.p.ptr_size());
    if head.dir_ptr == 0 {
        return Ok(());
    }
    let g = group_layout(ins, type_name, c, mv)?;
    if head.dir_len == 0 {
        // Small map: dirPtr is one group.
        return group(ins, head.dir_ptr, &g, c);
    }
    if head.dir_len > 1 << 24 || !head.dir_len.is_power_of_two() {
        return Err(format!("directory length {} cannot be right", head.dir_len));
    }
    let tt = ins
        .type_ref_by_name("internal/runtime/maps.table")
        .and_then(|t| ins.dwarf.underlying(t).ok())
        .ok_or("no internal/runtime/maps.table in DWARF")?;
    let f = |name: &str| off(&tt, name).ok_or_else(|| format!("table has no field {name}"));
    let (o_used, o_cap, o_growth, o_depth, o_index, o_groups) = (
        f("used")?,
        f("capacity")?,
        f("growthLeft")?,
        f("localDepth")?,
        f("index")?,
        f("groups")?,
    );
    let dir = r
        .bytes(head.dir_ptr, head.dir_len.saturating_mul(ps))
        .map_err(|e| format!("directory at {:#x}: {e}", head.dir_ptr))?;
    for (i, chunk) in dir.chunks_exact(ps as usize).enumerate() {
        let t = r.decode(chunk);
        if t == 0 {
            c.problems.push(format!("directory entry {i} is nil"));
            continue;
        }
        let index = r
            .int(t.wrapping_add(o_index), ps)
            .map_err(|e| format!("table at {t:#x}: {e}"))?;
        if index != i as i64 {
            // A later directory entry of a table already visited.
            if let Some(tab) = head.tables.iter_mut().find(|x| x.addr == t) {
                tab.dir_entries += 1;
            } else {
                c.problems.push(format!(
                    "directory entry {i} points to a table whose index is {index}"
                ));
            }
            continue;
        }
        let data = r
            .ptr(t.wrapping_add(o_groups))
            .map_err(|e| format!("table at {t:#x}: {e}"))?;
        let mask = r
            .u64(t.wrapping_add(o_groups + ps))
            .map_err(|e| format!("table at {t:#x}: {e}"))?;
        let table = SwissTable {
            addr: t,
            index,
            dir_entries: 1,
            used: r.uint(t.wrapping_add(o_used), 2).unwrap_or(0) as u16,
            capacity: r.uint(t.wrapping_add(o_cap), 2).unwrap_or(0) as u16,
            growth_left: r.uint(t.wrapping_add(o_growth), 2).unwrap_or(0) as u16,
            local_depth: r.u8(t.wrapping_add(o_depth)).unwrap_or(0),
            groups: mask.wrapping_add(1),
        };
        if mask >= 1 << 20 {
            return Err(format!(
                "table at {t:#x} has {} groups",
                mask.wrapping_add(1)
            ));
        }
        head.tables.push(table);
        for gi in 0..=mask {
            group(ins, data.wrapping_add(gi.wrapping_mul(g.size)), &g, c)?;
        }
    }
    Ok(())
}

fn group(
    ins: &Inspector<'_, '_, '_>,
    addr: u64,
    g: &Group,
    c: &mut Collector<'_, '_, '_, '_>,
) -> Result<(), String> {
    if !c.visit() {
        return Err("group limit reached".into());
    }
    let ctrl = ins
        .p
        .reader()
        .u64(addr)
        .map_err(|e| format!("group at {addr:#x}: {e}"))?;
    for i in 0..SLOTS {
        let b = (ctrl >> (8 * i)) as u8;
        if b & 0x80 == 0 {
            c.entry(g.key_at(addr, i), g.elem_at(addr, i));
        }
    }
    Ok(())
}
