//! Go build information: what `go version -m` prints
//! (`debug/buildinfo/buildinfo.go`, `runtime/debug/mod.go`).
//!
//! The `.go.buildinfo` blob starts with the 14-byte magic
//! `\xff Go buildinf:`, pointer size and flags; Go 1.18+ (flag `0x2`) store
//! the Go version and the module info inline as uvarint-prefixed strings,
//! older releases store two pointers to Go string headers.

use crate::elf::{Bytes, Elf, Endian};
use crate::error::{Error, ErrorKind, Pos, Result};

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";

/// A module line (`mod`, `dep` or `=>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Module {
    /// Module path.
    pub path: String,
    /// Version (`(devel)` for the main module of a plain `go build`).
    pub version: String,
    /// `h1:` checksum, empty when unknown.
    pub sum: String,
    /// Replacement (`=>` line), if any.
    pub replace: Option<Box<Module>>,
}

/// One `build` line: `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSetting {
    /// Key, e.g. `-ldflags`, `CGO_ENABLED`, `vcs.revision`.
    pub key: String,
    /// Value (unquoted).
    pub value: String,
}

/// Build information embedded by the Go linker.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// `runtime.buildVersion`, e.g. `go1.26.8`.
    pub go_version: String,
    /// Main package path (`path` line).
    pub path: String,
    /// Main module (`mod` line).
    pub main: Option<Module>,
    /// Dependencies (`dep` lines) in order.
    pub deps: Vec<Module>,
    /// Build settings (`build` lines) in order.
    pub settings: Vec<BuildSetting>,
}

impl BuildInfo {
    /// Value of a build setting (`GOARCH`, `-buildmode`, `vcs.revision`...).
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|s| s.key == key)
            .map(|s| s.value.as_str())
    }

    /// The module information as `runtime/debug.BuildInfo.String` formats it
    /// (without the `go` line): the text `go version -m` indents by a tab.
    pub fn modinfo_string(&self) -> String {
        let mut buf = String::new();
        if !self.path.is_empty() {
            buf.push_str("path\t");
            buf.push_str(&self.path);
            buf.push('\n');
        }
        fn format_mod(buf: &mut String, word: &str, m: &Module) {
            buf.push_str(word);
            buf.push('\t');
            buf.push_str(&m.path);
            buf.push('\t');
            buf.push_str(&m.version);
            match &m.replace {
                None => {
                    buf.push('\t');
                    buf.push_str(&m.sum);
                }
                Some(r) => {
                    buf.push('\n');
                    format_mod(buf, "=>", r);
                }
            }
            buf.push('\n');
        }
        if let Some(m) = &self.main
            && *m != Module::default()
        {
            format_mod(&mut buf, "mod", m);
        }
        for d in &self.deps {
            format_mod(&mut buf, "dep", d);
        }
        for s in &self.settings {
            let key = if quote_key(&s.key) {
                go_quote(&s.key)
            } else {
                s.key.clone()
            };
            let value = if quote_value(&s.value) {
                go_quote(&s.value)
            } else {
                s.value.clone()
            };
            buf.push_str("build\t");
            buf.push_str(&key);
            buf.push('=');
            buf.push_str(&value);
            buf.push('\n');
        }
        buf
    }

    /// Exactly what `go version -m FILE` prints for this binary, given the
    /// file name it should show.
    pub fn go_version_m(&self, file: &str) -> String {
        let mut out = format!("{file}: {}\n", self.go_version);
        let m = self.modinfo_string();
        if !m.is_empty() {
            out.push('\t');
            out.push_str(&m[..m.len() - 1].replace('\n', "\n\t"));
            out.push('\n');
        }
        out
    }
}

fn quote_key(k: &str) -> bool {
    k.is_empty() || k.contains(['=', ' ', '\t', '\r', '\n', '"', '`'])
}

fn quote_value(v: &str) -> bool {
    v.contains([' ', '\t', '\r', '\n', '"', '`'])
}

/// `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `strconv.QuotedPrefix` + `Unquote` for one leading quoted string:
/// returns (value, bytes consumed).
fn go_unquote_prefix(s: &str) -> Option<(String, usize)> {
    let mut chars = s.char_indices();
    let (_, q) = chars.next()?;
    if q == '`' {
        let end = s[1..].find('`')? + 1;
        return Some((s[1..end].replace('\r', ""), end + 1));
    }
    if q != '"' {
        return None;
    }
    let mut out = String::new();
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        let c = s[i..].chars().next()?;
        match c {
            '"' => return Some((out, i + 1)),
            '\n' => return None,
            '\\' => {
                let e = *bytes.get(i + 1)?;
                i += 2;
                let hex = |n: usize, i: &mut usize| -> Option<u32> {
                    let h = s.get(*i..*i + n)?;
                    *i += n;
                    u32::from_str_radix(h, 16).ok()
                };
                match e {
                    b'a' => out.push('\x07'),
                    b'b' => out.push('\x08'),
                    b'f' => out.push('\x0c'),
                    b'n' => out.push('\n'),
                    b'r' => out.push('\r'),
                    b't' => out.push('\t'),
                    b'v' => out.push('\x0b'),
                    b'\\' => out.push('\\'),
                    b'"' => out.push('"'),
                    b'\'' => out.push('\''),
                    b'x' => out.push(char::from_u32(hex(2, &mut i)?)?),
                    b'u' => out.push(char::from_u32(hex(4, &mut i)?)?),
                    b'U' => out.push(char::from_u32(hex(8, &mut i)?)?),
                    b'0'..=b'7' => {
                        let o = s.get(i - 1..i + 2)?;
                        i += 2;
                        out.push(char::from_u32(u32::from_str_radix(o, 8).ok()?)?);
                    }
                    _ => return None,
                }
            }
            c => {
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    None
}

/// Errors of [`parse_modinfo`], with the line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModinfoError {
    /// 1-based line of the module info.
    pub line: usize,
    /// What is wrong.
    pub message: &'static str,
}

/// Parses the module info text (`runtime/debug.ParseBuildInfo`).
pub fn parse_modinfo(data: &str) -> std::result::Result<BuildInfo, ModinfoError> {
    let mut bi = BuildInfo::default();
    // Index of the module a `=>` line applies to: None = main, Some(i) = dep.
    let mut last: Option<Option<usize>> = None;
    let mut rest = data;
    let mut line_no = 0;
    let err = |line, message| ModinfoError { line, message };
    let module = |cols: Vec<&str>, line| -> std::result::Result<Module, ModinfoError> {
        if cols.len() != 2 && cols.len() != 3 {
            return Err(err(line, "expected 2 or 3 columns"));
        }
        Ok(Module {
            path: cols[0].to_string(),
            version: cols[1].to_string(),
            sum: cols.get(2).unwrap_or(&"").to_string(),
            replace: None,
        })
    };
    while !rest.is_empty() {
        let Some((line, tail)) = rest.split_once('\n') else {
            break;
        };
        rest = tail;
        line_no += 1;
        if let Some(p) = line.strip_prefix("path\t") {
            bi.path = p.to_string();
        } else if let Some(m) = line.strip_prefix("mod\t") {
            bi.main = Some(module(m.split('\t').collect(), line_no)?);
            last = Some(None);
        } else if let Some(d) = line.strip_prefix("dep\t") {
            bi.deps.push(module(d.split('\t').collect(), line_no)?);
            last = Some(Some(bi.deps.len() - 1));
        } else if let Some(r) = line.strip_prefix("=>\t") {
            let rep = Box::new(module(r.split('\t').collect(), line_no)?);
            match last.take() {
                Some(None) => {
                    if let Some(m) = bi.main.as_mut() {
                        m.replace = Some(rep);
                    }
                }
                Some(Some(i)) => bi.deps[i].replace = Some(rep),
                None => return Err(err(line_no, "replacement with no module on previous line")),
            }
        } else if let Some(kv) = line.strip_prefix("build\t") {
            let (key, raw_value) = match kv.as_bytes().first() {
                None => return Err(err(line_no, "build line missing '='")),
                Some(b'=') => return Err(err(line_no, "build line with missing key")),
                Some(b'`' | b'"') => {
                    let (key, n) = go_unquote_prefix(kv)
                        .ok_or_else(|| err(line_no, "invalid quoted key in build line"))?;
                    if kv.as_bytes().get(n) != Some(&b'=') {
                        return Err(err(line_no, "build line missing '=' after quoted key"));
                    }
                    (key, &kv[n + 1..])
                }
                Some(_) => {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| err(line_no, "build line missing '=' after key"))?;
                    (k.to_string(), v)
                }
            };
            let value = match raw_value.as_bytes().first() {
                Some(b'`' | b'"') => {
                    go_unquote_prefix(raw_value)
                        .filter(|(_, n)| *n == raw_value.len())
                        .ok_or_else(|| err(line_no, "invalid quoted value in build line"))?
                        .0
                }
                _ => raw_value.to_string(),
            };
            bi.settings.push(BuildSetting { key, value });
        }
    }
    Ok(bi)
}

/// Reads the build information of `elf`.
pub(crate) fn read(elf: &Elf<'_>) -> Result<BuildInfo> {
    let (name, addr, blob) = find_blob(elf)?;
    let at = |offset: u64| Pos::Section { name, offset };
    if blob.len() < 32 {
        return Err(Error::truncated("buildinfo header", at(0)));
    }
    let ptr_size = blob[14];
    let flags = blob[15];
    let endian = if flags & 1 != 0 {
        Endian::Big
    } else {
        Endian::Little
    };
    let (version, modinfo) = if flags & 2 != 0 {
        let mut pos = 32usize;
        let v = read_varint_string(blob, &mut pos)
            .ok_or_else(|| Error::truncated("buildinfo version string", at(pos as u64)))?;
        let m = read_varint_string(blob, &mut pos)
            .ok_or_else(|| Error::truncated("buildinfo module string", at(pos as u64)))?;
        (v, m)
    } else {
        if !matches!(ptr_size, 4 | 8) {
            return Err(Error::bad(
                "buildinfo pointer size",
                u64::from(ptr_size),
                at(14),
            ));
        }
        let b = Bytes::new(blob, endian);
        let ps = usize::from(ptr_size);
        let vp = b
            .word(16, ptr_size)
            .ok_or_else(|| Error::truncated("buildinfo", at(16)))?;
        let mp = b
            .word(16 + ps, ptr_size)
            .ok_or_else(|| Error::truncated("buildinfo", at(16 + ps as u64)))?;
        let _ = addr;
        (
            read_go_string(elf, vp, ptr_size, endian)?,
            read_go_string(elf, mp, ptr_size, endian)?,
        )
    };
    let version = String::from_utf8_lossy(version).into_owned();
    let mut m = modinfo;
    if m.len() >= 33 && m[m.len() - 17] == b'\n' {
        m = &m[16..m.len() - 16];
    }
    let mtext = String::from_utf8_lossy(m);
    let mut bi =
        parse_modinfo(&mtext).map_err(|e| Error::bad("module info line", e.line as u64, at(32)))?;
    bi.go_version = version;
    Ok(bi)
}

fn read_varint_string<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let mut v: u64 = 0;
    let mut shift = 0;
    loop {
        let c = *b.get(*pos)?;
        *pos += 1;
        if shift > 63 {
            return None;
        }
        v |= u64::from(c & 0x7f) << shift;
        if c & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let n = usize::try_from(v).ok()?;
    let s = b.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    Some(s)
}

fn read_go_string<'a>(elf: &Elf<'a>, hdr: u64, ps: u8, endian: Endian) -> Result<&'a [u8]> {
    let raw = elf.memory().read(hdr, 2 * u64::from(ps)).ok_or_else(|| {
        Error::new(
            ErrorKind::Unmapped {
                what: "buildinfo string header",
            },
            Pos::Addr(hdr),
        )
    })?;
    let b = Bytes::new(raw, endian);
    let (p, n) = (
        b.word(0, ps).unwrap_or(0),
        b.word(usize::from(ps), ps).unwrap_or(0),
    );
    if n == 0 {
        return Ok(&[]);
    }
    elf.memory().read(p, n).ok_or_else(|| {
        Error::new(
            ErrorKind::Unmapped {
                what: "buildinfo string",
            },
            Pos::Addr(p),
        )
    })
}

/// The buildinfo blob: section `.go.buildinfo`, or a 16-byte aligned magic
/// in a loaded segment.
fn find_blob<'a>(elf: &Elf<'a>) -> Result<(&'static str, u64, &'a [u8])> {
    if let Some((addr, data)) = elf.section(".go.buildinfo") {
        if data.starts_with(MAGIC) {
            return Ok((".go.buildinfo", addr, data));
        }
        return Err(Error::bad(
            "buildinfo magic",
            u64::from(data.first().copied().unwrap_or(0)),
            Pos::Section {
                name: ".go.buildinfo",
                offset: 0,
            },
        ));
    }
    for (addr, seg) in elf.memory().segments() {
        let mut off = 0;
        while off + MAGIC.len() <= seg.len() {
            if seg[off..].starts_with(MAGIC) {
                return Ok(("buildinfo", addr + off as u64, &seg[off..]));
            }
            off += 16;
        }
    }
    Err(Error::new(ErrorKind::NoBuildInfo, Pos::Unknown))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "path\tcrashlab/x\nmod\tcrashlab/x\t(devel)\t\ndep\texample.com/local\tv0.0.0\n=>\t./local\t(devel)\t\ndep\tgithub.com/google/uuid\tv1.6.0\th1:abc=\nbuild\t-ldflags=\"-s -w\"\nbuild\tCGO_ENABLED=0\n";

    #[test]
    fn parses_and_formats_like_go() {
        let bi = parse_modinfo(SAMPLE).unwrap();
        assert_eq!(bi.path, "crashlab/x");
        assert_eq!(bi.deps.len(), 2);
        assert_eq!(bi.deps[0].replace.as_ref().unwrap().path, "./local");
        assert_eq!(bi.setting("-ldflags"), Some("-s -w"));
        // BuildInfo.String writes an extra newline after a replacement.
        let want = SAMPLE.replace("(devel)\t\ndep\tgithub", "(devel)\t\n\ndep\tgithub");
        assert_eq!(bi.modinfo_string(), want);
    }

    #[test]
    fn rejects_orphan_replacement() {
        let e = parse_modinfo("=>\ta\tb\t\n").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn quotes_round_trip() {
        for s in ["a b", "x\"y", "tab\there", "uni\u{7f}"] {
            let q = go_quote(s);
            assert_eq!(go_unquote_prefix(&q), Some((s.to_string(), q.len())));
        }
        assert_eq!(go_unquote_prefix("`raw`=1"), Some(("raw".to_string(), 5)));
    }
}
