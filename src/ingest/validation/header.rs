//! The header row of a file: which record field holds each schema column (English or Chinese
//! column names, a byte-order mark stripped), and the file-level header faults (an empty or
//! missing header, unknown, repeated and missing columns).

use crate::contract::registers::Layout;
use crate::contract::rules::{Rule, Severity};

use super::Finding;
use super::messages::{describe, quote};

/// Where each schema column of a table sits in a file's records, resolved from the header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMap {
    table: Layout,
    /// For each column of `table.columns()`, in schema order: its index in the record.
    columns: Vec<Option<usize>>,
    /// Header cells that name no column of the table: (index in the record, header text).
    unknown: Vec<(usize, String)>,
    /// Number of fields of the header row; every record must have as many.
    field_count: usize,
}

impl HeaderMap {
    /// Build from the header row. Returns the map plus file-level findings:
    /// `file.unknown_column` (warning, one per unknown column, naming the header text),
    /// `file.header` (error: empty header, or the same column twice, e.g. by its English and
    /// its Chinese name; the first occurrence is mapped) and `file.missing_column` (error, one
    /// per missing column). Every schema column is required in the header, whatever its
    /// [`Presence`](crate::contract::schema::Presence).
    pub fn new(table: impl Into<Layout>, header: &[&str]) -> (HeaderMap, Vec<Finding>) {
        let table: Layout = table.into();
        let mut map = HeaderMap {
            table,
            columns: vec![None; table.columns().len()],
            unknown: Vec::new(),
            field_count: header.len(),
        };
        let mut findings = Vec::new();
        if (0..header.len()).all(|i| cell(header, i).is_empty()) {
            findings.push(empty_header(table));
            return (map, findings);
        }
        let looks_like_header = map.resolve_cells(header, &mut findings);
        for i in 0..header.len() {
            map.map_cell(header, i, looks_like_header, &mut findings);
        }
        map.missing_columns(&mut findings);
        (map, findings)
    }

    /// Judge the header row as a whole: a finding when it names none of the table's columns.
    /// Returns whether it looks like a header row (its unknown cells may then be quoted).
    fn resolve_cells(&self, header: &[&str], findings: &mut Vec<Finding>) -> bool {
        let table = self.table;
        let schema_cols = table.columns();
        // A header row that names few of the table's columns is probably a data row (the
        // header is missing): its cells are then values, never quoted.
        let resolved = (0..header.len())
            .filter(|&i| table.resolve_header(cell(header, i)).is_some())
            .count();
        // A header row with many more cells than the table has columns has data merged into
        // it (a line end missing or not recognised): its unknown cells are values too.
        let looks_like_header =
            resolved * 2 >= schema_cols.len() && header.len() <= schema_cols.len() + 5;
        if resolved == 0 {
            findings.push(Finding::new(
                Rule::FileHeader,
                None,
                format!(
                    "the first line of {} names none of its columns: the header row is missing, \
                     or the file holds another table; expected the column names of the format \
                     (English or Chinese), e.g. `{}`",
                    table.file_name(),
                    schema_cols.first().map_or("", |c| c.name)
                ),
            ));
        }
        looks_like_header
    }

    /// Map header cell `i` to its column: an empty or unknown cell is ignored (a warning), a
    /// column named a second time is a `file.header` fault (the first occurrence is mapped).
    fn map_cell(
        &mut self,
        header: &[&str],
        i: usize,
        looks_like_header: bool,
        findings: &mut Vec<Finding>,
    ) {
        let table = self.table;
        let text = cell(header, i);
        if text.is_empty() {
            findings.push(Finding::new(
                Rule::FileUnknownColumn,
                None,
                format!(
                    "header cell {} of {} is empty; the column is ignored",
                    i + 1,
                    table.file_name()
                ),
            ));
            self.unknown.push((i, String::new()));
            return;
        }
        match table.resolve_header(text) {
            None => {
                findings.push(Finding::new(
                    Rule::FileUnknownColumn,
                    None,
                    format!(
                        "header cell {} of {}, {}, is not a column of the format; it is ignored",
                        i + 1,
                        table.file_name(),
                        if looks_like_header
                            && text.bytes().filter(u8::is_ascii_digit).count() < 6
                            && !text.chars().any(char::is_control)
                        {
                            quote(text)
                        } else {
                            describe(text)
                        }
                    ),
                ));
                self.unknown.push((i, text.to_string()));
            }
            Some(c) => match self.columns[c] {
                None => self.columns[c] = Some(i),
                Some(first) => {
                    let col = &table.columns()[c];
                    findings.push(Finding::new(
                        Rule::FileHeader,
                        Some(col.name),
                        format!(
                            "column {} {} is named twice in the header of {}: cell {} {} and \
                             cell {} {}; each column may appear only once",
                            col.name,
                            col.label_zh,
                            table.file_name(),
                            first + 1,
                            quote(cell(header, first)),
                            i + 1,
                            quote(text)
                        ),
                    ));
                }
            },
        }
    }

    /// A `file.missing_column` finding for every schema column the header does not name.
    fn missing_columns(&self, findings: &mut Vec<Finding>) {
        let table = self.table;
        for (col, idx) in table.columns().iter().zip(&self.columns) {
            if idx.is_none() {
                findings.push(Finding::new(
                    Rule::FileMissingColumn,
                    Some(col.name),
                    format!(
                        "required column {} ({}) is missing from the header of {}",
                        col.name,
                        col.label_zh,
                        table.file_name()
                    ),
                ));
            }
        }
    }

    /// Whether the header findings reject the file (any finding of severity error).
    pub fn rejects_file(findings: &[Finding]) -> bool {
        findings.iter().any(|f| f.severity() == Severity::Error)
    }

    /// Number of fields of the header row (and so of every well-formed record).
    pub fn field_count(&self) -> usize {
        self.field_count
    }

    pub fn table(&self) -> Layout {
        self.table
    }

    /// The record index of the schema column with index `column` (schema order).
    pub fn field_index(&self, column: usize) -> Option<usize> {
        self.columns.get(column).copied().flatten()
    }

    /// The record index of a column by canonical name.
    pub fn field_of(&self, name: &str) -> Option<usize> {
        self.table
            .column_index(name)
            .and_then(|c| self.field_index(c))
    }

    /// Header cells that name no column: (record index, header text as written, trimmed).
    pub fn unknown_columns(&self) -> &[(usize, String)] {
        &self.unknown
    }
}

/// Header cell `i`, trimmed (and without a byte-order mark on the first).
fn cell<'h>(header: &[&'h str], i: usize) -> &'h str {
    let h = header[i];
    let h = if i == 0 {
        h.strip_prefix('\u{feff}').unwrap_or(h)
    } else {
        h
    };
    h.trim()
}

/// The `file.header` finding of an empty header row.
fn empty_header(table: Layout) -> Finding {
    Finding::new(
        Rule::FileHeader,
        None,
        format!(
            "the header row of {} is empty; expected the column names of the format \
             (English or Chinese), e.g. `{}`",
            table.file_name(),
            table.columns().first().map_or("", |c| c.name)
        ),
    )
}
