//! ELF core notes (`include/uapi/linux/elfcore.h`): per-thread registers
//! (`NT_PRSTATUS`), the process (`NT_PRPSINFO`), the dumping signal
//! (`NT_SIGINFO`), mapped files (`NT_FILE`) and the auxiliary vector
//! (`NT_AUXV`). Delve-written cores carry a `DLVE` header note and use an
//! empty owner name; both are accepted.

use gosleuth_target::{Arch, Registers, SignalInfo, Thread};

/// `NT_PRSTATUS`.
pub const NT_PRSTATUS: u32 = 1;
/// `NT_PRPSINFO`.
pub const NT_PRPSINFO: u32 = 3;
/// `NT_AUXV`.
pub const NT_AUXV: u32 = 6;
/// `NT_SIGINFO` ("SIGI").
pub const NT_SIGINFO: u32 = 0x5349_4749;
/// `NT_FILE` ("FILE").
pub const NT_FILE: u32 = 0x4649_4c45;
/// Delve's header note ("DLVE").
pub const NT_DELVE_HEADER: u32 = 0x444c_5645;
/// arm64 `tpidr_el0` (owner `LINUX`).
pub const NT_ARM_TLS: u32 = 0x401;

/// One note: owner name, type and descriptor bytes.
#[derive(Debug, Clone, Copy)]
pub struct Note<'a> {
    /// Owner (`CORE`, `LINUX`, empty for Delve cores).
    pub name: &'a [u8],
    /// `n_type`.
    pub kind: u32,
    /// Descriptor.
    pub desc: &'a [u8],
}

/// Splits a `PT_NOTE` segment's bytes into notes (4-byte alignment, as
/// Linux writes them). Stops at the first note that does not fit; returns
/// whether the segment ended cleanly.
pub fn split(data: &[u8], big_endian: bool) -> (Vec<Note<'_>>, bool) {
    let mut out = Vec::new();
    let mut off = 0usize;
    let word = |o: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(o..o.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    while off < data.len() {
        let (Some(namesz), Some(descsz), Some(kind)) = (word(off), word(off + 4), word(off + 8))
        else {
            return (out, false);
        };
        let name_at = off + 12;
        let Some(desc_at) = name_at.checked_add(align4(namesz as usize)) else {
            return (out, false);
        };
        let Some(end) = desc_at.checked_add(descsz as usize) else {
            return (out, false);
        };
        let (Some(name), Some(desc)) = (
            data.get(name_at..name_at + namesz as usize),
            data.get(desc_at..end),
        ) else {
            return (out, false);
        };
        // Owner names carry their NUL.
        let name = name.strip_suffix(b"\0").unwrap_or(name);
        out.push(Note { name, kind, desc });
        off = desc_at + align4(descsz as usize);
    }
    (out, true)
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn i32_at(b: &[u8], o: usize) -> Option<i32> {
    Some(i32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// Offset of `pr_pid` in a 64-bit `elf_prstatus`.
const PR_PID: usize = 32;
/// Offset of `pr_reg` in a 64-bit `elf_prstatus`.
const PR_REG: usize = 112;

/// amd64 `user_regs_struct` order → DWARF register numbers (`r15 r14 r13
/// r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip ...`).
const AMD64_DWARF: [(usize, u16); 17] = [
    (10, 0),  // rax
    (12, 1),  // rdx
    (11, 2),  // rcx
    (5, 3),   // rbx
    (13, 4),  // rsi
    (14, 5),  // rdi
    (4, 6),   // rbp
    (19, 7),  // rsp
    (9, 8),   // r8
    (8, 9),   // r9
    (7, 10),  // r10
    (6, 11),  // r11
    (3, 12),  // r12
    (2, 13),  // r13
    (1, 14),  // r14
    (0, 15),  // r15
    (16, 16), // rip
];

/// A thread from `NT_PRSTATUS` (little-endian 64-bit layouts).
pub fn prstatus(desc: &[u8], arch: Arch) -> Option<Thread> {
    let cursig = u16_at(desc, 12)?;
    let pid = i32_at(desc, PR_PID)?;
    let reg = |i: usize| u64_at(desc, PR_REG + 8 * i);
    let regs = match arch {
        Arch::Amd64 => {
            // 27 registers; fs_base is index 21.
            reg(26)?;
            Registers {
                pc: reg(16)?,
                sp: reg(19)?,
                bp: reg(4)?,
                lr: 0,
                tls: reg(21)?,
                dwarf: AMD64_DWARF
                    .iter()
                    .filter_map(|&(i, d)| Some((d, reg(i)?)))
                    .collect(),
            }
        }
        Arch::Arm64 => {
            // x0..x30, sp, pc, pstate.
            reg(33)?;
            let mut dwarf: Vec<(u16, u64)> =
                (0..31).filter_map(|i| Some((i as u16, reg(i)?))).collect();
            dwarf.push((31, reg(31)?));
            Registers {
                pc: reg(32)?,
                sp: reg(31)?,
                bp: reg(29)?,
                lr: reg(30)?,
                tls: 0,
                dwarf,
            }
        }
        _ => return None,
    };
    Some(Thread {
        id: u64::try_from(pid).unwrap_or(0),
        regs,
        signal: (cursig != 0).then_some(i32::from(cursig)),
    })
}

/// `NT_SIGINFO`: `si_signo, si_errno, si_code`, then the union whose
/// first word is `si_addr` for fault signals.
pub fn siginfo(desc: &[u8]) -> Option<SignalInfo> {
    let signo = i32_at(desc, 0)?;
    let code = i32_at(desc, 8)?;
    // SIGILL 4, SIGTRAP 5, SIGBUS 7, SIGFPE 8, SIGSEGV 11 carry an address.
    let addr = matches!(signo, 4 | 5 | 7 | 8 | 11)
        .then(|| u64_at(desc, 16))
        .flatten();
    Some(SignalInfo { signo, code, addr })
}

/// The process, from `NT_PRPSINFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: i32,
    /// Parent process id.
    pub ppid: i32,
    /// Executable name (`pr_fname`, 16 bytes).
    pub name: String,
    /// Command line (`pr_psargs`, first 80 bytes).
    pub args: String,
}

/// `NT_PRPSINFO` (64-bit: 136 bytes; pids at 24, fname at 40, psargs at 56).
pub fn prpsinfo(desc: &[u8]) -> Option<ProcessInfo> {
    let cstr = |b: &[u8]| {
        let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..n]).into_owned()
    };
    Some(ProcessInfo {
        pid: i32_at(desc, 24)?,
        ppid: i32_at(desc, 28)?,
        name: cstr(desc.get(40..56)?),
        args: cstr(desc.get(56..136.min(desc.len()))?),
    })
}

/// A file-backed mapping from `NT_FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedFile {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Offset in the file, in bytes.
    pub offset: u64,
    /// Path as the kernel saw it.
    pub path: String,
}

/// `NT_FILE`: `count, page_size`, `count` triples, then `count` paths.
pub fn files(desc: &[u8]) -> Option<Vec<MappedFile>> {
    let count = u64_at(desc, 0)?;
    let page = u64_at(desc, 8)?;
    // Each entry needs 24 bytes plus a path: refuse counts the note cannot hold.
    if count > (desc.len() as u64) / 24 {
        return None;
    }
    let mut out = Vec::with_capacity(count as usize);
    let mut names = 16 + 24 * count as usize;
    for i in 0..count as usize {
        let o = 16 + 24 * i;
        let (start, end, pgoff) = (
            u64_at(desc, o)?,
            u64_at(desc, o + 8)?,
            u64_at(desc, o + 16)?,
        );
        let rest = desc.get(names..)?;
        let n = rest.iter().position(|&c| c == 0)?;
        out.push(MappedFile {
            start,
            end,
            offset: pgoff.saturating_mul(page),
            path: String::from_utf8_lossy(&rest[..n]).into_owned(),
        });
        names += n + 1;
    }
    Some(out)
}

/// `NT_AUXV`: `(type, value)` pairs until `AT_NULL`.
pub fn auxv(desc: &[u8]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut o = 0;
    while let (Some(t), Some(v)) = (u64_at(desc, o), u64_at(desc, o + 8)) {
        if t == 0 {
            break;
        }
        out.push((t, v));
        o += 16;
        if out.len() > 4096 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(name);
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(desc);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn notes_split_and_stop_at_a_cut() {
        let mut seg = note(b"CORE", NT_PRPSINFO, &[1, 2, 3]);
        seg.extend(note(b"", NT_DELVE_HEADER, b"linux/amd64\n"));
        let (notes, clean) = split(&seg, false);
        assert!(clean);
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].name, b"CORE");
        assert_eq!(notes[0].desc, &[1, 2, 3]);
        assert_eq!(notes[1].name, b"");
        // Cut inside the second note's descriptor.
        let (notes, clean) = split(&seg[..seg.len() - 6], false);
        assert!(!clean);
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn siginfo_field_order_is_signo_errno_code() {
        let mut d = vec![0u8; 128];
        d[0..4].copy_from_slice(&11i32.to_le_bytes());
        d[4..8].copy_from_slice(&0i32.to_le_bytes());
        d[8..12].copy_from_slice(&1i32.to_le_bytes());
        d[16..24].copy_from_slice(&0x18u64.to_le_bytes());
        let s = siginfo(&d).unwrap();
        assert_eq!((s.signo, s.code, s.addr), (11, 1, Some(0x18)));
        d[0..4].copy_from_slice(&6i32.to_le_bytes());
        assert_eq!(siginfo(&d).unwrap().addr, None);
    }

    #[test]
    fn nt_file_with_an_impossible_count_is_refused() {
        let mut d = vec![0u8; 16];
        d[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(files(&d).is_none());
    }

    #[test]
    fn prstatus_amd64_registers() {
        let mut d = vec![0u8; 336];
        d[12..14].copy_from_slice(&6u16.to_le_bytes());
        d[32..36].copy_from_slice(&4242i32.to_le_bytes());
        let set = |d: &mut Vec<u8>, i: usize, v: u64| {
            d[112 + 8 * i..120 + 8 * i].copy_from_slice(&v.to_le_bytes())
        };
        set(&mut d, 16, 0x401000); // rip
        set(&mut d, 19, 0xc000_1000); // rsp
        set(&mut d, 4, 0xc000_1100); // rbp
        set(&mut d, 21, 0x5b8698); // fs_base
        set(&mut d, 1, 0xc000_0060); // r14
        let t = prstatus(&d, Arch::Amd64).unwrap();
        assert_eq!(t.id, 4242);
        assert_eq!(t.signal, Some(6));
        assert_eq!(
            (t.regs.pc, t.regs.sp, t.regs.bp, t.regs.tls),
            (0x401000, 0xc000_1000, 0xc000_1100, 0x5b8698)
        );
        assert_eq!(t.regs.get(14), Some(0xc000_0060));
        assert_eq!(t.regs.get(7), Some(0xc000_1000));
        assert!(prstatus(&d[..200], Arch::Amd64).is_none());
    }
}
