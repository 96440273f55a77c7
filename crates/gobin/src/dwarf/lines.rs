//! DWARF line tables (`.debug_line`), one program per compilation unit.

use std::cell::OnceCell;

use super::{Dwarf, dwarf_err};
use crate::error::Result;

/// One row of a line table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    /// Address of the first instruction of the row.
    pub address: u64,
    /// Source file (full path as Go records it).
    pub file: String,
    /// Line, 0 when unknown.
    pub line: u64,
    /// `is_stmt` flag (statement boundary).
    pub is_stmt: bool,
    /// Marks the end of a sequence (the address is one past the code).
    pub end_sequence: bool,
}

impl<'d> Dwarf<'d> {
    /// The line table of compilation unit `index`.
    pub fn line_rows(&self, index: usize) -> Result<Vec<LineRow>> {
        let unit = self.unit(index)?;
        let off = self.compile_units()?[index].offset;
        let Some(program) = unit.line_program.clone() else {
            return Ok(Vec::new());
        };
        let mut rows = program.rows();
        let mut out = Vec::new();
        let mut names: Vec<Option<String>> = Vec::new();
        while let Some((header, row)) = rows
            .next_row()
            .map_err(|e| dwarf_err(e, ".debug_line", off))?
        {
            let fi = row.file_index() as usize;
            if names.len() <= fi {
                names.resize(fi + 1, None);
            }
            if names[fi].is_none() {
                names[fi] = Some(match row.file(header) {
                    Some(f) => {
                        let name = self
                            .dwarf
                            .attr_string(unit, f.path_name())
                            .map(|s| String::from_utf8_lossy(s.slice()).into_owned())
                            .unwrap_or_default();
                        let dir = f
                            .directory(header)
                            .and_then(|d| self.dwarf.attr_string(unit, d).ok())
                            .map(|s| String::from_utf8_lossy(s.slice()).into_owned())
                            .unwrap_or_default();
                        if name.starts_with('/') || dir.is_empty() || dir == "." {
                            name
                        } else {
                            format!("{dir}/{name}")
                        }
                    }
                    None => "?".to_string(),
                });
            }
            out.push(LineRow {
                address: row.address(),
                file: names[fi].clone().unwrap_or_default(),
                line: row.line().map_or(0, |l| l.get()),
                is_stmt: row.is_stmt(),
                end_sequence: row.end_sequence(),
            });
        }
        Ok(out)
    }

    /// File and line of `pc` from the DWARF line table of the function's
    /// unit (tables are decoded once per unit and kept by the view).
    pub fn line_at(&self, pc: u64) -> Result<Option<(String, u64)>> {
        let Some(f) = self.function_at(pc)? else {
            return Ok(None);
        };
        let ui = self.unit_of(f.die)?;
        let n = self.compile_units()?.len();
        let cells = self
            .lines
            .get_or_init(|| (0..n).map(|_| OnceCell::new()).collect());
        let Some(cell) = cells.get(ui) else {
            return Ok(None);
        };
        let ranges = match cell.get() {
            Some(r) => r,
            None => {
                let rows = self.line_rows(ui)?;
                let mut ranges = Vec::with_capacity(rows.len());
                for w in rows.windows(2) {
                    if !w[0].end_sequence && w[1].address > w[0].address {
                        ranges.push(LineRange {
                            start: w[0].address,
                            end: w[1].address,
                            file: w[0].file.clone(),
                            line: w[0].line,
                        });
                    }
                }
                ranges.sort_by_key(|r| r.start);
                cell.get_or_init(|| ranges)
            }
        };
        let i = ranges.partition_point(|r| r.start <= pc);
        Ok(i.checked_sub(1)
            .map(|i| &ranges[i])
            .filter(|r| pc < r.end)
            .map(|r| (r.file.clone(), r.line)))
    }
}

/// `[start, end)` of one line-table row.
#[derive(Debug, Clone)]
pub(crate) struct LineRange {
    start: u64,
    end: u64,
    file: String,
    line: u64,
}
