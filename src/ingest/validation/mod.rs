//! Row-level validation of province submissions (`submission-format.md` §3–4 and
//! `exit-assessment.md` §1).
//!
//! [`HeaderMap`] resolves a file's header row against the contract in [`crate::contract::schema`] and
//! reports the file-level header faults (`header`); [`RowValidator`] checks one data record at a
//! time: each field against its column (`fields`), then the row against the cross-column rules
//! of its table (`rows`), and turns its fields into typed [`Value`]s. The wording of the
//! messages is in `messages`.
//!
//! Cross-row rules (duplicate keys, orphans, household size, head checks, and the existence
//! parts of the assessment rules) are not decided here.
//!
//! The validator is on the hot path (tens of millions of person rows), so every per-column
//! decision is precomputed in [`RowValidator::new`], no regular expressions are used, and a
//! clean row allocates nothing: the findings `Vec` stays unallocated and the caller reuses the
//! values `Vec`. Messages are only formatted for faulty rows.
//!
//! Personal values (ID numbers and names) never appear in a message.

mod fields;
mod header;
mod messages;
mod rows;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use chrono::NaiveDate;

use crate::contract::id_number::{self, IdInfo};
use crate::contract::registers::Layout;
use crate::contract::rules::{Rule, Severity};
use crate::contract::schema::{self, Kind, Table};

use fields::{ColPlan, IntParse, parse_int, schema_date};
pub use header::HeaderMap;
pub use messages::{describe, escape_text};
use rows::{RowRules, idx};

/// A typed field value. Codes and integers are [`Value::Int`], numbers [`Value::Float`],
/// dates [`Value::Date`]; digit codes, text, grades and ID numbers are [`Value::Str`] (ID
/// numbers in normalised form, which is the only case that may own its text).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Empty, or not valid for the column.
    Null,
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Date(NaiveDate),
}

impl Value<'_> {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(&**s),
            _ => None,
        }
    }

    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }
}

/// One broken rule: which rule, on which column (canonical name) and a message for the
/// province office that says what is wrong and what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    pub column: Option<&'static str>,
    pub message: String,
}

impl Finding {
    pub fn new(rule: Rule, column: Option<&'static str>, message: String) -> Finding {
        Finding {
            rule,
            column,
            message,
        }
    }

    pub fn severity(&self) -> Severity {
        self.rule.severity()
    }
}

/// What the column pass learned about a row, for the cross-column rules.
struct RowState {
    /// Bit per schema column: the field is non-empty.
    present: u64,
    /// Bit per schema column: the field failed a check (or is required and empty, or is not
    /// in the file); cross-column rules that need it are skipped.
    bad: u64,
    /// The parsed ID of the table's ID column when it is valid.
    id: Option<IdInfo>,
}

impl RowState {
    /// Non-empty and valid.
    fn ok(&self, i: usize) -> bool {
        self.present & (1 << i) != 0 && self.bad & (1 << i) == 0
    }

    /// Empty and not faulty (so a presence rule may judge it).
    fn empty(&self, i: usize) -> bool {
        (self.present | self.bad) & (1 << i) == 0
    }

    fn int(&self, values: &[Value<'_>], i: usize) -> Option<i64> {
        if self.ok(i) { values[i].as_int() } else { None }
    }

    fn float(&self, values: &[Value<'_>], i: usize) -> Option<f64> {
        if self.ok(i) {
            values[i].as_float()
        } else {
            None
        }
    }

    fn date(&self, values: &[Value<'_>], i: usize) -> Option<NaiveDate> {
        if self.ok(i) {
            values[i].as_date()
        } else {
            None
        }
    }
}

/// Checks the data records of one file of one province.
#[derive(Debug, Clone)]
pub struct RowValidator {
    table: Layout,
    province: String,
    header: HeaderMap,
    plans: Vec<ColPlan>,
    rules: RowRules,
    /// Schema index of households.enumeration_status.
    status_col: Option<usize>,
    reference_date: NaiveDate,
    /// Where the record's key for the rejects table is.
    key: KeyFields,
}

impl RowValidator {
    /// Prepare the checks of `table` for a file with this header, submitted by the province
    /// with this 2-digit code. Columns the header lacks (already a `file.missing_column`
    /// finding) are read as Null and not checked.
    ///
    /// Panics if `header` was built for another table.
    pub fn new(table: impl Into<Layout>, province_code: &str, header: HeaderMap) -> Self {
        let table: Layout = table.into();
        // reason: both are properties of the caller's code and of the static schema (the
        // widest table has 41 columns), not of any input.
        assert_eq!(header.table(), table, "header map of another table");
        let cols = table.columns();
        assert!(cols.len() <= 64, "row state holds at most 64 columns");
        let plans = cols
            .iter()
            .enumerate()
            .map(|(i, col)| ColPlan::new(table, i, col, &header))
            .collect();
        let rules = RowRules::new(table);
        let key = KeyFields::new(table, &header);
        RowValidator {
            table,
            province: province_code.trim().to_string(),
            header,
            plans,
            rules,
            status_col: rules.status_col(),
            reference_date: schema_date(schema::REFERENCE_DATE),
            key,
        }
    }

    pub fn table(&self) -> Layout {
        self.table
    }

    pub fn province_code(&self) -> &str {
        &self.province
    }

    pub fn header(&self) -> &HeaderMap {
        &self.header
    }

    /// Check one data record (the fields as the CSV reader produced them). Fills `values`
    /// (cleared first) with one [`Value`] per schema column in schema order (Null when empty
    /// or invalid) and returns all findings of the row. The row is rejected iff any finding
    /// has [`Severity::Error`].
    pub fn check<'a>(&self, fields: &[&'a str], values: &mut Vec<Value<'a>>) -> Vec<Finding> {
        values.clear();
        let mut findings = Vec::new();
        if fields.len() != self.header.field_count() {
            values.resize(self.plans.len(), Value::Null);
            findings.push(Finding::new(
                Rule::CsvMalformed,
                None,
                format!(
                    "the record has {} fields but the header has {}; check for unquoted commas \
                     or quotes, or a truncated line",
                    fields.len(),
                    self.header.field_count()
                ),
            ));
            return findings;
        }

        // Households: whether the status-dependent items are required (status 1), not
        // required (2, 3) or undecidable (status empty or invalid: its own finding suffices).
        let enumerated = match self.status_col.and_then(|c| self.plans[c].field) {
            Some(f) => {
                parse_int(fields.get(f).map_or("", |s| s.trim_ascii()), false) == IntParse::Ok(1)
            }
            None => false,
        };

        let mut st = RowState {
            present: 0,
            bad: 0,
            id: None,
        };
        values.reserve(self.plans.len());
        for (i, plan) in self.plans.iter().enumerate() {
            let v = self.check_column(i, plan, fields, enumerated, &mut st, &mut findings);
            values.push(v);
        }
        self.row_rules(values, &st, &mut findings);
        findings
    }

    /// The record's key for the rejects table: the key column's value (trimmed; IDs
    /// normalised) when present and non-empty; for assessment_households the household_id if
    /// present else the village_code. None when unreadable (including a record whose field
    /// count differs from the header's, whose fields cannot be trusted to be in place).
    pub fn record_key(&self, fields: &[&str]) -> Option<String> {
        if fields.len() != self.header.field_count() {
            return None;
        }
        let get = |f: Option<usize>| -> Option<&str> {
            let v = fields.get(f?)?.trim_ascii();
            (!v.is_empty()).then_some(v)
        };
        if let Some((hh, village)) = self.key.alt_key_fields {
            return get(hh).or_else(|| get(village)).map(str::to_string);
        }
        let v = get(self.key.key_field)?;
        Some(if self.key.key_is_id {
            id_number::normalise(v).into_owned()
        } else {
            v.to_string()
        })
    }
}

/// Where a record's key for the rejects table is.
#[derive(Debug, Clone, Copy)]
struct KeyFields {
    /// Record index of the key column.
    key_field: Option<usize>,
    /// Whether the key column holds an ID number.
    key_is_id: bool,
    /// assessment_households: record indices of household_id and village_code.
    alt_key_fields: Option<(Option<usize>, Option<usize>)>,
}

impl KeyFields {
    fn new(table: Layout, header: &HeaderMap) -> Self {
        let cols = table.columns();
        let key_col = table.key_column().map(|k| idx(table, k));
        KeyFields {
            key_field: key_col.and_then(|k| header.field_index(k)),
            key_is_id: key_col.is_some_and(|k| cols[k].kind == Kind::IdNumber),
            alt_key_fields: (table == Table::AssessmentHouseholds).then(|| {
                (
                    header.field_of("household_id"),
                    header.field_of("village_code"),
                )
            }),
        }
    }
}
