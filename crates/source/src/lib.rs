//! Go source as evidence: the statements on a line a traceback points at.
//!
//! Brief overview:
//! - [`map_writes_on_line`] finds the map index expressions written on a
//!   line (`s.cache[u.ID] = u`, `m[k]++`, `m[k] += v`), so a nil map write
//!   can name the map (`s.cache`) rather than only the line.
//! - [`candidate_paths`] lists where a path printed in a traceback
//!   (`/go/src/app/svc/user.go`, `/build/x/pkg/mod/...`) may live inside a
//!   source tree given by the user.
//!
//! Parsing uses tree-sitter's Go grammar, so the answer follows Go's syntax
//! (multi-line statements, comments, strings containing brackets) rather
//! than a regular expression's guess. No I/O: callers read files.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use tree_sitter::{Node, Parser};

/// A write through an index expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapWrite {
    /// The indexed operand: `s.cache` in `s.cache[u.ID] = u`.
    pub operand: String,
    /// The whole index expression: `s.cache[u.ID]`.
    pub index_expression: String,
    /// The statement, on one line.
    pub statement: String,
    /// 1-based line and column of the index expression.
    pub line: u32,
    /// See `line`.
    pub column: u32,
}

/// Finds index expressions written on `line` (1-based) of Go source `src`:
/// left-hand sides of assignments (`=`, `op=`) and operands of `++`/`--`.
/// Slices and arrays are written the same way; callers know from the crash
/// kind that a map was meant.
pub fn map_writes_on_line(src: &[u8], line: u32) -> Vec<MapWrite> {
    let mut parser = Parser::new();
    if parser
        .set_language(&tree_sitter_go::LANGUAGE.into())
        .is_err()
    {
        return Vec::new();
    }
    let Some(tree) = parser.parse(src, None) else {
        return Vec::new();
    };
    let row = line.saturating_sub(1) as usize;
    let mut out = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.start_position().row > row || node.end_position().row < row {
            continue;
        }
        match node.kind() {
            "assignment_statement" => {
                if let Some(left) = node.child_by_field_name("left") {
                    collect_index_writes(left, node, src, row, &mut out);
                }
            }
            "inc_statement" | "dec_statement" => {
                collect_index_writes(node, node, src, row, &mut out);
            }
            _ => {}
        }
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            stack.push(child);
        }
    }
    out.sort_by_key(|w| w.column);
    out.dedup();
    out
}

fn collect_index_writes(
    lhs: Node<'_>,
    statement: Node<'_>,
    src: &[u8],
    row: usize,
    out: &mut Vec<MapWrite>,
) {
    let text = |n: Node<'_>| n.utf8_text(src).unwrap_or("").to_string();
    let mut cursor = lhs.walk();
    let candidates: Vec<Node<'_>> = if lhs.kind() == "index_expression" {
        vec![lhs]
    } else {
        lhs.named_children(&mut cursor).collect()
    };
    for n in candidates {
        if n.kind() != "index_expression" || n.start_position().row != row {
            continue;
        }
        let Some(operand) = n.child_by_field_name("operand") else {
            continue;
        };
        out.push(MapWrite {
            operand: text(operand),
            index_expression: text(n),
            statement: text(statement)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            line: n.start_position().row as u32 + 1,
            column: n.start_position().column as u32 + 1,
        });
    }
}

/// A place where a value of a struct type is created without one of its
/// fields: `&UserService{log: log}`, `UserService{}`, `new(UserService)`,
/// `var s UserService`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField {
    /// 1-based line of the expression.
    pub line: u32,
    /// The enclosing function or method (`NewUserService`,
    /// `(*Pool).reset`), or `package level`.
    pub function: String,
    /// The expression, on one line.
    pub expression: String,
}

/// Finds where `type_name` values are created in `src` without setting
/// `field`, and the enclosing function does not assign `x.field` afterwards.
/// For a nil map that is a struct field, these are the constructors that
/// forgot `make`.
pub fn creations_missing_field(src: &[u8], type_name: &str, field: &str) -> Vec<MissingField> {
    let mut parser = Parser::new();
    if parser
        .set_language(&tree_sitter_go::LANGUAGE.into())
        .is_err()
    {
        return Vec::new();
    }
    let Some(tree) = parser.parse(src, None) else {
        return Vec::new();
    };
    let text = |n: Node<'_>| n.utf8_text(src).unwrap_or("");
    let is_type = |n: Node<'_>| {
        // `UserService`, `pkg.UserService`, `UserService[T]`.
        let t = text(n);
        let base = t.split('[').next().unwrap_or(t);
        base == type_name || base.rsplit('.').next() == Some(type_name)
    };
    let mut out = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            stack.push(child);
        }
        let missing = match node.kind() {
            "composite_literal" => {
                let Some(ty) = node.child_by_field_name("type") else {
                    continue;
                };
                let Some(body) = node.child_by_field_name("body") else {
                    continue;
                };
                if !is_type(ty) {
                    continue;
                }
                let mut c = body.walk();
                let elements: Vec<Node<'_>> = body.named_children(&mut c).collect();
                let keyed = elements
                    .iter()
                    .filter(|e| e.kind() == "keyed_element")
                    .count();
                // A positional literal sets every field.
                if !elements.is_empty() && keyed == 0 {
                    continue;
                }
                !elements.iter().any(|e| {
                    e.kind() == "keyed_element"
                        && e.named_child(0).is_some_and(|k| text(k).trim() == field)
                })
            }
            "call_expression" => {
                let is_new = node
                    .child_by_field_name("function")
                    .is_some_and(|f| text(f) == "new");
                let arg = node
                    .child_by_field_name("arguments")
                    .and_then(|a| a.named_child(0));
                is_new && arg.is_some_and(is_type)
            }
            "var_spec" => {
                node.child_by_field_name("type").is_some_and(is_type)
                    && node.child_by_field_name("value").is_none()
            }
            _ => false,
        };
        if !missing {
            continue;
        }
        let function = enclosing_function(node);
        if let Some(f) = function
            && assigns_field(f, src, field)
        {
            continue;
        }
        // Show `&T{...}` rather than `T{...}` when its address is taken.
        let shown = node
            .parent()
            .filter(|p| p.kind() == "unary_expression" && text(*p).starts_with('&'))
            .unwrap_or(node);
        out.push(MissingField {
            line: node.start_position().row as u32 + 1,
            function: function
                .map_or_else(|| "package level".to_string(), |f| function_name(f, src)),
            expression: text(shown).split_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    out.sort_by_key(|m| m.line);
    out
}

/// The receiver of the method declared around `line` (1-based): its name
/// and its type without `*` (`("s", "UserService")` for
/// `func (s *UserService) Save(...)`).
pub fn receiver_at_line(src: &[u8], line: u32) -> Option<(String, String)> {
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_go::LANGUAGE.into()).ok()?;
    let tree = parser.parse(src, None)?;
    let row = line.saturating_sub(1) as usize;
    let mut cursor = tree.root_node().walk();
    let method = tree.root_node().children(&mut cursor).find(|n| {
        n.kind() == "method_declaration"
            && n.start_position().row <= row
            && n.end_position().row >= row
    })?;
    let param = method.child_by_field_name("receiver")?.named_child(0)?;
    let name = param
        .child_by_field_name("name")?
        .utf8_text(src)
        .ok()?
        .to_string();
    let ty = param.child_by_field_name("type")?.utf8_text(src).ok()?;
    let ty = ty.trim_start_matches('*');
    let ty = ty.split('[').next().unwrap_or(ty).to_string();
    Some((name, ty))
}

/// The declared type of `field` in `type type_name struct { ... }`.
pub fn struct_field_type(src: &[u8], type_name: &str, field: &str) -> Option<String> {
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_go::LANGUAGE.into()).ok()?;
    let tree = parser.parse(src, None)?;
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind() == "type_spec"
            && node
                .child_by_field_name("name")
                .and_then(|n| n.utf8_text(src).ok())
                == Some(type_name)
        {
            let body = node.child_by_field_name("type")?;
            let mut inner = vec![body];
            while let Some(n) = inner.pop() {
                if n.kind() == "field_declaration" {
                    let mut c = n.walk();
                    let names: Vec<&str> = n
                        .children_by_field_name("name", &mut c)
                        .filter_map(|x| x.utf8_text(src).ok())
                        .collect();
                    if names.contains(&field) {
                        return n
                            .child_by_field_name("type")?
                            .utf8_text(src)
                            .ok()
                            .map(str::to_string);
                    }
                }
                let mut c = n.walk();
                inner.extend(n.children(&mut c));
            }
            return None;
        }
        let mut c = node.walk();
        stack.extend(node.children(&mut c));
    }
    None
}

fn enclosing_function(mut node: Node<'_>) -> Option<Node<'_>> {
    while let Some(parent) = node.parent() {
        if matches!(parent.kind(), "function_declaration" | "method_declaration") {
            return Some(parent);
        }
        node = parent;
    }
    None
}

/// `NewUserService`, or `(*Pool).reset` for a method.
fn function_name(f: Node<'_>, src: &[u8]) -> String {
    let name = f
        .child_by_field_name("name")
        .and_then(|n| n.utf8_text(src).ok())
        .unwrap_or("?");
    let receiver = f
        .child_by_field_name("receiver")
        .and_then(|r| r.named_child(0))
        .and_then(|p| p.child_by_field_name("type"))
        .and_then(|t| t.utf8_text(src).ok());
    match receiver {
        Some(r) if r.starts_with('*') => format!("({r}).{name}"),
        Some(r) => format!("{r}.{name}"),
        None => name.to_string(),
    }
}

/// Whether the function assigns `something.field = ...` anywhere.
fn assigns_field(f: Node<'_>, src: &[u8], field: &str) -> bool {
    let mut stack = vec![f];
    while let Some(node) = stack.pop() {
        if node.kind() == "assignment_statement"
            && let Some(left) = node.child_by_field_name("left")
        {
            let mut c = left.walk();
            if left.named_children(&mut c).any(|l| {
                l.kind() == "selector_expression"
                    && l.child_by_field_name("field")
                        .and_then(|n| n.utf8_text(src).ok())
                        == Some(field)
            }) {
                return true;
            }
        }
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            stack.push(child);
        }
    }
    false
}

/// Where a file printed in a traceback may be under `root`: the printed
/// path with its leading directories removed one by one (the build machine's
/// `/go/src/`, `/home/ci/work/`, a module cache prefix), longest first.
pub fn candidate_paths(root: &Path, printed: &str) -> Vec<PathBuf> {
    let parts: Vec<&str> = printed
        .split(['/', '\\'])
        .filter(|p| !p.is_empty())
        .collect();
    (0..parts.len())
        .map(|skip| {
            let mut p = root.to_path_buf();
            for part in &parts[skip..] {
                p.push(part);
            }
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "package main\n\ntype S struct{ cache map[string]int }\n\nfunc (s *S) Save(k string) {\n\ts.cache[k] = len(k) // write\n\tcounts[k]++\n\tx, s.idx[k] = 1, 2\n\t_ = s.cache[k]\n}\n";

    #[test]
    fn finds_the_written_map_expression() {
        let w = map_writes_on_line(SRC.as_bytes(), 6);
        assert_eq!(w.len(), 1);
        assert_eq!(
            (w[0].operand.as_str(), w[0].index_expression.as_str()),
            ("s.cache", "s.cache[k]")
        );
        assert_eq!(map_writes_on_line(SRC.as_bytes(), 7)[0].operand, "counts");
        assert_eq!(map_writes_on_line(SRC.as_bytes(), 8)[0].operand, "s.idx");
        assert!(
            map_writes_on_line(SRC.as_bytes(), 9).is_empty(),
            "a read is not a write"
        );
    }

    #[test]
    fn constructors_that_forget_the_map() {
        let src = b"package main\n\ntype UserService struct {\n\tlog   *Logger\n\tcache map[string]*User\n}\n\nfunc NewUserService(l *Logger) *UserService {\n\treturn &UserService{log: l}\n}\n\nfunc newCached() *UserService {\n\treturn &UserService{cache: map[string]*User{}}\n}\n\nfunc lazy() *UserService {\n\ts := &UserService{}\n\ts.cache = make(map[string]*User)\n\treturn s\n}\n\nfunc fresh() *UserService { return new(UserService) }\n";
        let m = creations_missing_field(src, "UserService", "cache");
        let names: Vec<(&str, u32)> = m.iter().map(|m| (m.function.as_str(), m.line)).collect();
        assert_eq!(names, vec![("NewUserService", 9), ("fresh", 22)]);
        assert_eq!(m[0].expression, "&UserService{log: l}");
    }

    #[test]
    fn receivers_and_field_types() {
        assert_eq!(
            receiver_at_line(SRC.as_bytes(), 6),
            Some(("s".to_string(), "S".to_string()))
        );
        assert_eq!(
            struct_field_type(SRC.as_bytes(), "S", "cache").as_deref(),
            Some("map[string]int")
        );
        assert_eq!(struct_field_type(SRC.as_bytes(), "S", "nope"), None);
    }

    #[test]
    fn candidate_paths_drop_leading_directories() {
        let c = candidate_paths(Path::new("src"), "/go/src/app/main.go");
        assert_eq!(
            c.first().unwrap(),
            &Path::new("src/go/src/app/main.go").to_path_buf()
        );
        assert_eq!(c.last().unwrap(), &Path::new("src/main.go").to_path_buf());
    }
}
