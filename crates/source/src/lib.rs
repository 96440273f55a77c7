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
    fn candidate_paths_drop_leading_directories() {
        let c = candidate_paths(Path::new("src"), "/go/src/app/main.go");
        assert_eq!(
            c.first().unwrap(),
            &Path::new("src/go/src/app/main.go").to_path_buf()
        );
        assert_eq!(c.last().unwrap(), &Path::new("src/main.go").to_path_buf());
    }
}
