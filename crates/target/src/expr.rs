//! Expressions for `print`: a variable of the frame or a package variable
//! by full name, then `.field`, `[index]` (arrays, slices, strings, maps
//! with an integer or string key), `*ptr` and `&x`. Fields of a pointer to
//! a struct are reached through the pointer, as in Go.

use gosleuth_gobin::TypeRef;

use crate::error::{Error, ErrorKind, Result};
use crate::unwind::Stack;
use crate::value::{Inspector, LoadLimits, Shape, Src, Value, ValueKind};
use crate::vars::Place;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A name: a local, or a package variable (`main.cache`).
    Name(String),
    /// `x.field`.
    Field(Box<Expr>, String),
    /// `x[key]`.
    Index(Box<Expr>, Key),
    /// `*x`.
    Deref(Box<Expr>),
    /// `&x`.
    AddrOf(Box<Expr>),
}

/// An index or map key literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// An integer.
    Int(i64),
    /// A string (Go double-quoted or back-quoted).
    Str(String),
    /// `true`/`false`.
    Bool(bool),
}

fn syntax(msg: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::NotFound(format!("bad expression: {}", msg.into())),
        "",
    )
}

/// Parses an expression.
pub fn parse(s: &str) -> Result<Expr> {
    let mut p = Parser {
        s: s.as_bytes(),
        i: 0,
    };
    let e = p.unary()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(syntax(format!("unexpected {:?}", &s[p.i..])));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn unary(&mut self) -> Result<Expr> {
        match self.peek() {
            Some(b'*') => {
                self.i += 1;
                Ok(Expr::Deref(Box::new(self.unary()?)))
            }
            Some(b'&') => {
                self.i += 1;
                Ok(Expr::AddrOf(Box::new(self.unary()?)))
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Expr> {
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.i += 1;
                    let id = self.ident(false)?;
                    e = Expr::Field(Box::new(e), id);
                }
                Some(b'[') => {
                    self.i += 1;
                    let k = self.key()?;
                    if self.peek() != Some(b']') {
                        return Err(syntax("missing ]"));
                    }
                    self.i += 1;
                    e = Expr::Index(Box::new(e), k);
                }
                _ => return Ok(e),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr> {
        if self.peek() == Some(b'(') {
            self.i += 1;
            let e = self.unary()?;
            if self.peek() != Some(b')') {
                return Err(syntax("missing )"));
            }
            self.i += 1;
            return Ok(e);
        }
        Ok(Expr::Name(self.ident(true)?))
    }

    /// An identifier; a root name may be a package path (`net/http.X`,
    /// `main.cache`), whose dots are split later against what exists.
    fn ident(&mut self, root: bool) -> Result<String> {
        self.ws();
        let start = self.i;
        while let Some(&c) = self.s.get(self.i) {
            let ok = c.is_ascii_alphanumeric()
                || c == b'_'
                || c >= 0x80
                || (root && (c == b'/' || c == b'.' || c == b'-' || c == b'~'))
                || (c == b'&' && self.i == start && root);
            if !ok {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(syntax("expected a name"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn key(&mut self) -> Result<Key> {
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                let mut out = String::new();
                while let Some(&c) = self.s.get(self.i) {
                    self.i += 1;
                    match c {
                        b'"' => return Ok(Key::Str(out)),
                        b'\\' => {
                            let e = *self
                                .s
                                .get(self.i)
                                .ok_or_else(|| syntax("unfinished string"))?;
                            self.i += 1;
                            out.push(match e {
                                b'n' => '\n',
                                b't' => '\t',
                                b'r' => '\r',
                                b'0' => '\0',
                                other => other as char,
                            });
                        }
                        _ => {
                            // Copy UTF-8 sequences whole.
                            let start = self.i - 1;
                            let len = utf8_len(c);
                            let end = (start + len).min(self.s.len());
                            out.push_str(&String::from_utf8_lossy(&self.s[start..end]));
                            self.i = end;
                        }
                    }
                }
                Err(syntax("unfinished string"))
            }
            Some(b'`') => {
                self.i += 1;
                let start = self.i;
                while self.s.get(self.i).is_some_and(|&c| c != b'`') {
                    self.i += 1;
                }
                let s = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                Ok(Key::Str(s))
            }
            _ => {
                self.ws();
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                match t {
                    "true" => Ok(Key::Bool(true)),
                    "false" => Ok(Key::Bool(false)),
                    _ => {
                        let v = if let Some(h) = t.strip_prefix("0x") {
                            i64::from_str_radix(h, 16).ok()
                        } else {
                            t.parse::<i64>().ok()
                        };
                        v.map(Key::Int)
                            .ok_or_else(|| syntax(format!("index {t:?} is not a literal")))
                    }
                }
            }
        }
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

impl Inspector<'_, '_, '_> {
    /// Evaluates `expr` in frame `frame` of `stack` (or with package
    /// variables only when `stack` is `None`).
    pub fn eval(&self, stack: Option<(&Stack<'_>, usize)>, expr: &Expr) -> Result<Value> {
        if let Expr::AddrOf(inner) = expr {
            let place = self.place(stack, inner)?;
            let v = self.load_place(&place);
            let Some(Src::Mem(addr)) = place.src else {
                return Err(Error::not_found(
                    "cannot take the address of a value not in memory",
                ));
            };
            return Ok(Value {
                type_name: format!("*{}", v.type_name),
                addr: None,
                kind: ValueKind::Pointer {
                    target: addr,
                    pointee: Some(Box::new(v)),
                },
            });
        }
        let place = self.place(stack, expr)?;
        Ok(self.load_place(&place))
    }

    fn place(&self, stack: Option<(&Stack<'_>, usize)>, expr: &Expr) -> Result<Place> {
        match expr {
            Expr::Name(n) => self.root(stack, n),
            Expr::Field(base, field) => {
                let b = self.place(stack, base)?;
                self.field(self.through_pointers(b)?, field)
            }
            Expr::Index(base, key) => {
                let b = self.place(stack, base)?;
                self.index(self.through_pointers(b)?, key)
            }
            Expr::Deref(inner) => {
                let b = self.place(stack, inner)?;
                self.deref(b)
            }
            Expr::AddrOf(_) => Err(syntax("& is only allowed at the start")),
        }
    }

    fn src(&self, p: &Place) -> Result<Src> {
        p.src.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound(p.why.clone().unwrap_or_else(|| "optimized away".into())),
                "",
            )
        })
    }

    fn deref(&self, p: Place) -> Result<Place> {
        let info = self.info(p.ty)?;
        match info.shape {
            Shape::Pointer { target } => {
                let addr = self.word(&self.src(&p)?)?;
                if addr == 0 {
                    return Err(Error::not_found(format!(
                        "nil pointer dereference ({})",
                        info.name
                    )));
                }
                Ok(Place {
                    ty: target,
                    src: Some(Src::Mem(addr)),
                    why: None,
                })
            }
            _ => Err(Error::not_found(format!("{} is not a pointer", info.name))),
        }
    }

    fn through_pointers(&self, mut p: Place) -> Result<Place> {
        for _ in 0..8 {
            match self.info(p.ty)?.shape {
                Shape::Pointer { .. } => p = self.deref(p)?,
                _ => return Ok(p),
            }
        }
        Ok(p)
    }

    fn field(&self, p: Place, name: &str) -> Result<Place> {
        let info = self.info(p.ty)?;
        let Shape::Struct { fields } = &info.shape else {
            return Err(Error::not_found(format!("{} has no fields", info.name)));
        };
        if let Some(f) = fields.iter().find(|f| f.name == name) {
            return Ok(Place {
                ty: f.ty,
                src: Some(self.src(&p)?.at(f.offset)),
                why: None,
            });
        }
        // Promoted fields of embedded structs.
        for f in fields.iter().filter(|f| f.embedded) {
            let inner = Place {
                ty: f.ty,
                src: Some(self.src(&p)?.at(f.offset)),
                why: None,
            };
            if let Ok(inner) = self.through_pointers(inner)
                && let Ok(found) = self.field(inner, name)
            {
                return Ok(found);
            }
        }
        Err(Error::not_found(format!(
            "{} has no field {name}",
            info.name
        )))
    }

    fn index(&self, p: Place, key: &Key) -> Result<Place> {
        let info = self.info(p.ty)?;
        let ps = u64::from(self.p.ptr_size());
        let int = |k: &Key| match k {
            Key::Int(i) if *i >= 0 => Ok(*i as u64),
            _ => Err(Error::not_found("index must be a non-negative integer")),
        };
        match &info.shape {
            Shape::Array { elem, len } => {
                let i = int(key)?;
                if i >= *len {
                    return Err(Error::not_found(format!(
                        "index {i} out of range [0, {len})"
                    )));
                }
                let size = self.info(*elem)?.size;
                Ok(Place {
                    ty: *elem,
                    src: Some(self.src(&p)?.at(i.wrapping_mul(size))),
                    why: None,
                })
            }
            Shape::Slice { elem: Some(elem) } => {
                let src = self.src(&p)?;
                let data = self.word(&src)?;
                let len = self.word(&src.at(ps))?;
                let i = int(key)?;
                if i >= len {
                    return Err(Error::not_found(format!(
                        "index {i} out of range (len {len})"
                    )));
                }
                let size = self.info(*elem)?.size;
                Ok(Place {
                    ty: *elem,
                    src: Some(Src::Mem(data.wrapping_add(i.wrapping_mul(size)))),
                    why: None,
                })
            }
            Shape::Map { .. } => self.map_index(p, &info.name, key),
            _ => Err(Error::not_found(format!("{} cannot be indexed", info.name))),
        }
    }

    fn map_index(&self, p: Place, type_name: &str, key: &Key) -> Result<Place> {
        // Walk every entry (keys only matter) and compare.
        let mut all = Inspector::new(self.p, LoadLimits::all())?;
        all.set_limits(LoadLimits {
            max_depth: 0,
            ..LoadLimits::all()
        });
        let v = all.load_place(&p);
        let m = v
            .as_map()
            .ok_or_else(|| Error::not_found(format!("{type_name} could not be read")))?;
        if m.addr == 0 {
            return Err(Error::not_found(format!(
                "{type_name} is nil: no key {key:?}"
            )));
        }
        let elem_ty: Option<TypeRef> = match self.info(p.ty)?.shape {
            Shape::Map { elem, .. } => elem,
            _ => None,
        };
        for (k, val) in &m.entries {
            if key_matches(k, key) {
                let addr = val
                    .addr
                    .ok_or_else(|| Error::not_found("map element has no address"))?;
                return Ok(Place {
                    ty: elem_ty.ok_or_else(|| Error::not_found("map element type unknown"))?,
                    src: Some(Src::Mem(addr)),
                    why: None,
                });
            }
        }
        Err(Error::not_found(format!(
            "no key {} in the map",
            show_key(key)
        )))
    }

    fn root(&self, stack: Option<(&Stack<'_>, usize)>, name: &str) -> Result<Place> {
        // A local of the frame (the part before the first dot).
        if let Some((stack, frame)) = stack {
            let (head, rest) = match name.find('.') {
                Some(i) if !name[..i].contains('/') => (&name[..i], Some(&name[i + 1..])),
                _ => (name, None),
            };
            let places = self.frame_places(stack, frame)?;
            if let Some((_, _, _, place)) = places.iter().rev().find(|(n, _, _, _)| n == head) {
                let mut place = place.clone();
                if let Some(rest) = rest {
                    for f in rest.split('.') {
                        place = self.field(self.through_pointers(place)?, f)?;
                    }
                }
                return Ok(place);
            }
        }
        // A package variable: the longest dotted prefix that exists.
        let parts: Vec<usize> = name.match_indices('.').map(|(i, _)| i).collect();
        let mut ends: Vec<usize> = parts.iter().copied().chain([name.len()]).collect();
        ends.reverse();
        for end in ends {
            let candidate = &name[..end];
            if let Ok(mut place) = self.global_place(candidate) {
                if end < name.len() {
                    for f in name[end + 1..].split('.') {
                        place = self.field(self.through_pointers(place)?, f)?;
                    }
                }
                return Ok(place);
            }
        }
        Err(Error::not_found(if stack.is_some() {
            format!("no variable {name} in this frame and no package variable of that name")
        } else {
            format!("no package variable {name} (give a goroutine and frame for locals)")
        }))
    }
}

fn show_key(k: &Key) -> String {
    match k {
        Key::Int(i) => i.to_string(),
        Key::Str(s) => format!("{s:?}"),
        Key::Bool(b) => b.to_string(),
    }
}

fn key_matches(v: &Value, k: &Key) -> bool {
    match (&v.kind, k) {
        (ValueKind::Int(a), Key::Int(b)) => a == b,
        (ValueKind::Uint(a), Key::Int(b)) => *b >= 0 && *a == *b as u64,
        (ValueKind::String { text, len, .. }, Key::Str(s)) => *len as usize == s.len() && text == s,
        (ValueKind::Bool(a), Key::Bool(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_parse() {
        assert_eq!(
            parse("main.cache").unwrap(),
            Expr::Name("main.cache".into())
        );
        // A dotted root stays whole: `s.cfg` is a local's field or a
        // package variable, which only evaluation can tell.
        assert_eq!(
            parse("*s.cfg").unwrap(),
            Expr::Deref(Box::new(Expr::Name("s.cfg".into())))
        );
        assert_eq!(
            parse("(*s).cfg").unwrap(),
            Expr::Field(
                Box::new(Expr::Deref(Box::new(Expr::Name("s".into())))),
                "cfg".into()
            )
        );
        assert_eq!(
            parse(r#"m["a\"b"].x"#).unwrap(),
            Expr::Field(
                Box::new(Expr::Index(
                    Box::new(Expr::Name("m".into())),
                    Key::Str("a\"b".into())
                )),
                "x".into()
            )
        );
        assert_eq!(
            parse("&xs[3]").unwrap(),
            Expr::AddrOf(Box::new(Expr::Index(
                Box::new(Expr::Name("xs".into())),
                Key::Int(3)
            )))
        );
        assert_eq!(
            parse("net/http.DefaultClient").unwrap(),
            Expr::Name("net/http.DefaultClient".into())
        );
        assert!(parse("m[").is_err());
        assert!(parse("a b").is_err());
        assert!(parse("m[x]").is_err());
    }
}
