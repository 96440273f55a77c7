//! Recognising an input by its content.

/// What kind of artifact an input is, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArtifactKind {
    /// An ELF executable or shared object (a Go binary, hopefully).
    ElfExecutable,
    /// An ELF core dump.
    ElfCore,
    /// A `profile.proto` message (already decompressed).
    Pprof,
    /// A legacy text profile (`heap profile:`, `threadcreate profile:`,
    /// `--- contention ---`), read by the pprof crate.
    LegacyTextProfile,
    /// A legacy binary CPU profile (gperftools / Go before 1.9).
    LegacyCpuProfile,
    /// Text: tracebacks, goroutine dumps, race reports, logs containing them.
    Text,
    /// Nothing gosleuth knows.
    Unknown,
}

impl ArtifactKind {
    /// Guesses the kind from the first bytes of the content (after gzip has
    /// been undone). Cheap and never fails; parsers confirm.
    pub fn sniff(head: &[u8]) -> ArtifactKind {
        if head.starts_with(b"\x7fELF") {
            // e_type is a 16-bit field at offset 16; ET_CORE = 4. Read both
            // byte orders: EI_DATA (offset 5) says which one applies.
            let e_type = match (head.get(5), head.get(16), head.get(17)) {
                (Some(2), Some(&hi), Some(&lo)) => u16::from_be_bytes([hi, lo]),
                (_, Some(&lo), Some(&hi)) => u16::from_le_bytes([lo, hi]),
                _ => 0,
            };
            return if e_type == 4 {
                ArtifactKind::ElfCore
            } else {
                ArtifactKind::ElfExecutable
            };
        }
        if looks_like_legacy_cpu_profile(head) {
            return ArtifactKind::LegacyCpuProfile;
        }
        let text_prefix = trim_ascii_start(head);
        for marker in [
            &b"heap profile:"[..],
            b"threadcreate profile:",
            b"--- contention",
            b"--- heapz",
            b"--- threadz",
            b"--- heap",
        ] {
            if text_prefix.starts_with(marker) {
                return ArtifactKind::LegacyTextProfile;
            }
        }
        if looks_like_text(head) {
            return ArtifactKind::Text;
        }
        if looks_like_profile_proto(head) {
            return ArtifactKind::Pprof;
        }
        ArtifactKind::Unknown
    }
}

fn trim_ascii_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// Legacy CPU profiles start with the header words 0, 3, 0 (and a sampling
/// period) in the producer's word size and byte order.
fn looks_like_legacy_cpu_profile(head: &[u8]) -> bool {
    let word = |i: usize, size: usize| -> Option<u64> {
        let b = head.get(i * size..(i + 1) * size)?;
        let mut v = [0u8; 8];
        v[..size].copy_from_slice(b);
        Some(u64::from_le_bytes(v))
    };
    let be_word = |i: usize, size: usize| -> Option<u64> {
        let b = head.get(i * size..(i + 1) * size)?;
        let mut v = [0u8; 8];
        v[8 - size..].copy_from_slice(b);
        Some(u64::from_be_bytes(v))
    };
    [4usize, 8].iter().any(|&size| {
        (word(0, size), word(1, size), word(2, size)) == (Some(0), Some(3), Some(0))
            || (be_word(0, size), be_word(1, size), be_word(2, size)) == (Some(0), Some(3), Some(0))
    })
}

/// Mostly printable UTF-8 (or Latin-1) with line breaks: text.
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() {
        return true;
    }
    let sample = &head[..head.len().min(8192)];
    let control = sample
        .iter()
        .filter(|&&c| c < 0x20 && !matches!(c, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b))
        .count();
    // A few stray control bytes happen in real logs (terminal escapes,
    // spinners); a protobuf has them everywhere.
    control * 100 <= sample.len()
}

/// A profile.proto starts with a field key of `Profile`: field 1
/// (sample_type, length-delimited) in every Go profile, but other producers
/// may start with any field from 1 to 14.
fn looks_like_profile_proto(head: &[u8]) -> bool {
    let Some(&key) = head.first() else {
        return false;
    };
    let field = key >> 3;
    let wire = key & 7;
    (1..=14).contains(&field) && (wire == 0 || wire == 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_elf_core_and_executable() {
        let mut core = b"\x7fELF\x02\x01\x01".to_vec();
        core.resize(18, 0);
        core[16] = 4;
        assert_eq!(ArtifactKind::sniff(&core), ArtifactKind::ElfCore);
        core[16] = 2;
        assert_eq!(ArtifactKind::sniff(&core), ArtifactKind::ElfExecutable);
    }

    #[test]
    fn sniffs_traceback_text_and_profile() {
        assert_eq!(
            ArtifactKind::sniff(b"panic: boom\n\ngoroutine 1 [running]:\n"),
            ArtifactKind::Text
        );
        assert_eq!(
            ArtifactKind::sniff(b"\x0a\x0c\x08\x01\x10\x02\x00\x00\x01\x02\x03"),
            ArtifactKind::Pprof
        );
        assert_eq!(
            ArtifactKind::sniff(b"heap profile: 1: 2 [3: 4] @ heap/1048576\n"),
            ArtifactKind::LegacyTextProfile
        );
    }
}
