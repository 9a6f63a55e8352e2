//! Row-level validation of province submissions (`submission-format.md` §3–4 and
//! `exit-assessment.md` §1).
//!
//! [`HeaderMap`] resolves a file's header row against the contract in [`crate::contract::schema`] and
//! reports the file-level header faults; [`RowValidator`] checks one data record at a time
//! against the row rules of [`crate::contract::rules`] and turns its fields into typed [`Value`]s.
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

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::contract::id_number::{self, IdError, IdInfo};
use crate::contract::rules::{Rule, Severity};
use crate::contract::schema::{self, Column, Kind, Presence, Table};

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

/// The longest piece of a value quoted in a message, in characters.
const QUOTE_MAX: usize = 40;

/// Columns whose values are personal data and are never quoted in a message.
const SENSITIVE: &[&str] = &["person_id", "head_id_number", "name"];

/// `value` for a message: truncated to [`QUOTE_MAX`] characters, with control characters
/// (line breaks inside quoted CSV fields) shown as spaces.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(4 * QUOTE_MAX) + 2);
    out.push('`');
    for (i, c) in value.chars().enumerate() {
        if i == QUOTE_MAX {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out.push('`');
    out
}

/// Text from a submission (a manifest's submission_id, a path) for a terminal or a document:
/// control characters (line breaks, terminal escape codes) escaped as `\n`, `\u{1b}`, …, and
/// at most `max` characters.
pub fn escape_text(value: &str, max: usize) -> String {
    let mut out = String::with_capacity(value.len().min(4 * max));
    for (i, c) in value.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Full-width forms (U+FF01–U+FF5E) and the ideographic space: full-width digits look like
/// digits but are not.
fn is_full_width(c: char) -> bool {
    matches!(c, '\u{ff01}'..='\u{ff5e}' | '\u{3000}')
}

/// A value described without quoting it (it may be a name or an ID number in the wrong
/// column): its length and kind of characters.
pub fn describe(value: &str) -> String {
    let n = value.chars().count();
    let plural = if n == 1 { "" } else { "s" };
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        format!("(a value of {n} digit{plural}, withheld)")
    } else if value.chars().any(is_full_width) {
        format!("(a value of {n} character{plural}, some of them full-width, withheld)")
    } else {
        format!("(a value of {n} character{plural}, withheld)")
    }
}

/// "(中文 name)", the column reference every row message ends with.
fn col_ref(c: &Column) -> String {
    format!("({} {})", c.label_zh, c.name)
}

// ---------------------------------------------------------------------------------------------
// Header

/// Where each schema column of a table sits in a file's records, resolved from the header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMap {
    table: Table,
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
    /// [`Presence`].
    pub fn new(table: Table, header: &[&str]) -> (HeaderMap, Vec<Finding>) {
        let schema_cols = table.columns();
        let mut map = HeaderMap {
            table,
            columns: vec![None; schema_cols.len()],
            unknown: Vec::new(),
            field_count: header.len(),
        };
        let mut findings = Vec::new();
        let cell = |i: usize| -> &str {
            let h = header[i];
            let h = if i == 0 {
                h.strip_prefix('\u{feff}').unwrap_or(h)
            } else {
                h
            };
            h.trim()
        };

        if (0..header.len()).all(|i| cell(i).is_empty()) {
            findings.push(Finding::new(
                Rule::FileHeader,
                None,
                format!(
                    "the header row of {} is empty; expected the column names of the format \
                     (English or Chinese), e.g. `{}`",
                    table.file_name(),
                    schema_cols.first().map_or("", |c| c.name)
                ),
            ));
            return (map, findings);
        }

        // A header row that names few of the table's columns is probably a data row (the
        // header is missing): its cells are then values, never quoted.
        let resolved = (0..header.len())
            .filter(|&i| table.resolve_header(cell(i)).is_some())
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
        for i in 0..header.len() {
            let text = cell(i);
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
                map.unknown.push((i, String::new()));
                continue;
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
                    map.unknown.push((i, text.to_string()));
                }
                Some(c) => match map.columns[c] {
                    None => map.columns[c] = Some(i),
                    Some(first) => {
                        let col = &schema_cols[c];
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
                                quote(cell(first)),
                                i + 1,
                                quote(text)
                            ),
                        ));
                    }
                },
            }
        }

        for (col, idx) in schema_cols.iter().zip(&map.columns) {
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
        (map, findings)
    }

    /// Whether the header findings reject the file (any finding of severity error).
    pub fn rejects_file(findings: &[Finding]) -> bool {
        findings.iter().any(|f| f.severity() == Severity::Error)
    }

    /// Number of fields of the header row (and so of every well-formed record).
    pub fn field_count(&self) -> usize {
        self.field_count
    }

    pub fn table(&self) -> Table {
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

// ---------------------------------------------------------------------------------------------
// Per-column plan

/// When an empty value is a `value.required` fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Req {
    /// Optional or conditional (conditional columns are decided by a row rule).
    No,
    /// Always.
    Always,
    /// Households only: when enumeration_status = 1.
    Enumerated,
}

/// A column's [`Kind`] with its bounds prepared.
#[derive(Debug, Clone, Copy)]
enum Check {
    Digits(usize),
    Text,
    Code(&'static [i16]),
    Int(i64, i64),
    Number { min: Option<f64>, strict: bool },
    Date(NaiveDate, NaiveDate),
    Id,
    Grade,
}

#[derive(Debug, Clone, Copy)]
struct ColPlan {
    col: &'static Column,
    field: Option<usize>,
    check: Check,
    req: Req,
    /// Must begin with the province code (`code.province`).
    province: bool,
    /// A 12-digit village code whose serial (digits 10–12) must be 001–599.
    village_serial: bool,
    /// Personal data: never quoted.
    sensitive: bool,
    /// The plausibility bound on the value's magnitude and the rule that enforces it.
    bound: Option<(f64, Rule)>,
}

/// Schema indices of the columns the table's cross-column rules read.
#[derive(Debug, Clone, Copy)]
enum RowRules {
    None,
    Counties {
        county_type: usize,
        exit_year: usize,
        sampling_weight: usize,
    },
    Households {
        status: usize,
        registered_year: usize,
        exit_year: usize,
        housing_route: usize,
        housing_grade: usize,
        size: usize,
        incomes: [usize; 4],
    },
    Persons {
        sex: usize,
        birth_date: usize,
        schooling: usize,
        health: usize,
        disability: usize,
    },
    Assessment {
        county: usize,
        village: usize,
        sample_type: usize,
        household_id: usize,
        persons: usize,
        wrongly_exited: usize,
        missed_persons: usize,
    },
}

/// Columns that carry the submitting province's code in their first two digits.
const PROVINCE_CODED: &[(Table, &str)] = &[
    (Table::Counties, "county_code"),
    (Table::Townships, "township_code"),
    (Table::Villages, "village_code"),
    (Table::Households, "household_id"),
    (Table::Persons, "household_id"),
    (Table::AssessmentHouseholds, "county_code"),
    (Table::AssessmentHouseholds, "village_code"),
    (Table::AssessmentHouseholds, "household_id"),
];

/// Plausibility bounds on magnitudes (absolute values) beyond the format's types and ranges:
/// values past them are keying or unit errors, and would overflow the exact sums of the
/// reports. The reasons are in the rules' descriptions.
const PLAUSIBLE: &[(Table, &str, f64, Rule)] = &[
    (
        Table::Counties,
        "sampling_weight",
        3_000.0,
        Rule::ValueWeight,
    ),
    (
        Table::Counties,
        "rural_population",
        5_000_000.0,
        Rule::ValueCount,
    ),
    (Table::Villages, "population", 100_000.0, Rule::ValueCount),
    (
        Table::Villages,
        "collective_income",
        100_000.0,
        Rule::ValueMoney,
    ),
    (
        Table::Households,
        "income_wage",
        MAX_INCOME,
        Rule::ValueMoney,
    ),
    (
        Table::Households,
        "income_business",
        MAX_INCOME,
        Rule::ValueMoney,
    ),
    (
        Table::Households,
        "income_property",
        MAX_INCOME,
        Rule::ValueMoney,
    ),
    (
        Table::Households,
        "income_transfer",
        MAX_INCOME,
        Rule::ValueMoney,
    ),
    (
        Table::AssessmentHouseholds,
        "weight",
        1_000_000.0,
        Rule::ValueWeight,
    ),
    (
        Table::AssessmentHouseholds,
        "persons",
        20.0,
        Rule::ValueCount,
    ),
    // Above persons it is already `assessment.missed_persons`; this bounds it when persons
    // is itself invalid.
    (
        Table::AssessmentHouseholds,
        "missed_persons",
        1_000.0,
        Rule::ValueCount,
    ),
];

/// Largest plausible household income component (yuan, 2020, absolute value).
const MAX_INCOME: f64 = 10_000_000.0;
/// Largest plausible per-capita net income (yuan, absolute value): about 100 times the mean.
const MAX_PER_CAPITA: f64 = 1_000_000.0;

/// Village codes whose serial (digits 10–12) is checked.
const VILLAGE_CODED: &[(Table, &str)] = &[
    (Table::Villages, "village_code"),
    (Table::AssessmentHouseholds, "village_code"),
];

fn schema_date(s: &'static str) -> NaiveDate {
    // reason: only called on the schema's own date constants, which a unit test parses
    // (`rule_tables_match_the_schema` builds every table's validator); never on input.
    parse_date(s).unwrap_or_else(|| panic!("schema date `{s}` is not YYYY-MM-DD"))
}

/// Schema index of a column the row rules need (a missing one is a bug in the schema).
fn idx(table: Table, name: &str) -> usize {
    // reason: called with literal column names of the schema only; a unit test builds every
    // table's validator, so a misspelt name fails the tests, never an input.
    table
        .column_index(name)
        .unwrap_or_else(|| panic!("schema table {table} has no column {name}"))
}

// ---------------------------------------------------------------------------------------------
// Row state

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

fn str_at<'v>(st: &RowState, values: &'v [Value<'_>], i: usize) -> Option<&'v str> {
    if st.ok(i) { values[i].as_str() } else { None }
}

// ---------------------------------------------------------------------------------------------
// Validator

/// Checks the data records of one file of one province.
#[derive(Debug, Clone)]
pub struct RowValidator {
    table: Table,
    province: String,
    header: HeaderMap,
    plans: Vec<ColPlan>,
    rules: RowRules,
    /// Schema index of households.enumeration_status.
    status_col: Option<usize>,
    reference_date: NaiveDate,
    /// Record index of the key column, and whether it holds an ID number.
    key_field: Option<usize>,
    key_is_id: bool,
    /// assessment_households: record indices of household_id and village_code.
    alt_key_fields: Option<(Option<usize>, Option<usize>)>,
}

impl RowValidator {
    /// Prepare the checks of `table` for a file with this header, submitted by the province
    /// with this 2-digit code. Columns the header lacks (already a `file.missing_column`
    /// finding) are read as Null and not checked.
    ///
    /// Panics if `header` was built for another table.
    pub fn new(table: Table, province_code: &str, header: HeaderMap) -> Self {
        // reason: both are properties of the caller's code and of the static schema (the
        // widest table has 41 columns), not of any input.
        assert_eq!(header.table, table, "header map of another table");
        let cols = table.columns();
        assert!(cols.len() <= 64, "row state holds at most 64 columns");
        let plans = cols
            .iter()
            .enumerate()
            .map(|(i, col)| {
                let check = match col.kind {
                    Kind::Digits(n) => Check::Digits(n),
                    Kind::Text => Check::Text,
                    Kind::Code(list) => Check::Code(list),
                    Kind::Int(a, b) => Check::Int(a, b),
                    Kind::Number { min, strict } => Check::Number { min, strict },
                    Kind::Date(a, b) => Check::Date(schema_date(a), schema_date(b)),
                    Kind::IdNumber => Check::Id,
                    Kind::Grade => Check::Grade,
                };
                let req = match col.presence {
                    Presence::Required
                        if table == Table::Households
                            && !schema::HOUSEHOLD_ALWAYS_REQUIRED.contains(&col.name) =>
                    {
                        Req::Enumerated
                    }
                    Presence::Required => Req::Always,
                    Presence::Optional | Presence::Conditional => Req::No,
                };
                let is = |list: &[(Table, &str)]| list.contains(&(table, col.name));
                ColPlan {
                    col,
                    field: header.field_index(i),
                    check,
                    req,
                    province: is(PROVINCE_CODED),
                    village_serial: is(VILLAGE_CODED),
                    sensitive: SENSITIVE.contains(&col.name),
                    bound: PLAUSIBLE
                        .iter()
                        .find(|(t, c, _, _)| *t == table && *c == col.name)
                        .map(|&(_, _, max, rule)| (max, rule)),
                }
            })
            .collect();
        let t = table;
        let rules = match table {
            Table::Counties => RowRules::Counties {
                county_type: idx(t, "county_type"),
                exit_year: idx(t, "exit_year"),
                sampling_weight: idx(t, "sampling_weight"),
            },
            Table::Townships | Table::Villages => RowRules::None,
            Table::Households => RowRules::Households {
                status: idx(t, "enumeration_status"),
                registered_year: idx(t, "registered_year"),
                exit_year: idx(t, "exit_year"),
                housing_route: idx(t, "housing_route"),
                housing_grade: idx(t, "housing_grade"),
                size: idx(t, "household_size"),
                incomes: [
                    idx(t, "income_wage"),
                    idx(t, "income_business"),
                    idx(t, "income_property"),
                    idx(t, "income_transfer"),
                ],
            },
            Table::Persons => RowRules::Persons {
                sex: idx(t, "sex"),
                birth_date: idx(t, "birth_date"),
                schooling: idx(t, "schooling_status"),
                health: idx(t, "health_status"),
                disability: idx(t, "disability_grade"),
            },
            Table::AssessmentHouseholds => RowRules::Assessment {
                county: idx(t, "county_code"),
                village: idx(t, "village_code"),
                sample_type: idx(t, "sample_type"),
                household_id: idx(t, "household_id"),
                persons: idx(t, "persons"),
                wrongly_exited: idx(t, "wrongly_exited"),
                missed_persons: idx(t, "missed_persons"),
            },
        };
        let status_col = match rules {
            RowRules::Households { status, .. } => Some(status),
            _ => None,
        };
        let key_col = table.key_column().map(|k| idx(t, k));
        let key_field = key_col.and_then(|k| header.field_index(k));
        let key_is_id = key_col.is_some_and(|k| cols[k].kind == Kind::IdNumber);
        let alt_key_fields = (table == Table::AssessmentHouseholds).then(|| {
            (
                header.field_of("household_id"),
                header.field_of("village_code"),
            )
        });
        RowValidator {
            table,
            province: province_code.trim().to_string(),
            header,
            plans,
            rules,
            status_col,
            reference_date: schema_date(schema::REFERENCE_DATE),
            key_field,
            key_is_id,
            alt_key_fields,
        }
    }

    pub fn table(&self) -> Table {
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
        if fields.len() != self.header.field_count {
            values.resize(self.plans.len(), Value::Null);
            findings.push(Finding::new(
                Rule::CsvMalformed,
                None,
                format!(
                    "the record has {} fields but the header has {}; check for unquoted commas \
                     or quotes, or a truncated line",
                    fields.len(),
                    self.header.field_count
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
        if fields.len() != self.header.field_count {
            return None;
        }
        let get = |f: Option<usize>| -> Option<&str> {
            let v = fields.get(f?)?.trim_ascii();
            (!v.is_empty()).then_some(v)
        };
        if let Some((hh, village)) = self.alt_key_fields {
            return get(hh).or_else(|| get(village)).map(str::to_string);
        }
        let v = get(self.key_field)?;
        Some(if self.key_is_id {
            id_number::normalise(v).into_owned()
        } else {
            v.to_string()
        })
    }

    fn check_column<'a>(
        &self,
        i: usize,
        plan: &ColPlan,
        fields: &[&'a str],
        enumerated: bool,
        st: &mut RowState,
        findings: &mut Vec<Finding>,
    ) -> Value<'a> {
        let bit = 1u64 << i;
        let Some(f) = plan.field else {
            st.bad |= bit;
            return Value::Null;
        };
        let raw: &'a str = fields.get(f).map_or("", |s| s.trim_ascii());
        let col = plan.col;
        if raw.is_empty() {
            let required = match plan.req {
                Req::No => false,
                Req::Always => true,
                Req::Enumerated => enumerated,
            };
            if required {
                st.bad |= bit;
                let why = if plan.req == Req::Enumerated {
                    "; it may be empty only when enumeration_status is 2 or 3"
                } else {
                    ""
                };
                findings.push(Finding::new(
                    Rule::ValueRequired,
                    Some(col.name),
                    format!("a required value is empty {}{why}", col_ref(col)),
                ));
            }
            return Value::Null;
        }
        st.present |= bit;
        let result = match plan.check {
            Check::Text => Ok(Value::Str(Cow::Borrowed(raw))),
            Check::Digits(n) => self.check_digits(plan, raw, n, findings),
            Check::Code(list) => check_code(plan, raw, list),
            Check::Int(a, b) => check_int(plan, raw, a, b),
            Check::Number { min, strict } => check_number(plan, raw, min, strict),
            Check::Date(a, b) => check_date(plan, raw, a, b),
            Check::Grade => match raw {
                "A" | "B" | "C" | "D" => Ok(Value::Str(Cow::Borrowed(raw))),
                _ => Err(Finding::new(
                    Rule::ValueCode,
                    Some(col.name),
                    format!(
                        "value {} is not one of the grades A, B, C, D {}",
                        shown(plan, raw),
                        col_ref(col)
                    ),
                )),
            },
            Check::Id => {
                let id = id_number::normalise(raw);
                match id_number::parse(&id) {
                    Ok(info) => {
                        st.id = Some(info);
                        Ok(Value::Str(id))
                    }
                    Err(IdError::Format) => Err(Finding::new(
                        Rule::IdFormat,
                        Some(col.name),
                        format!("{} {}", id_format_reason(&id), col_ref(col)),
                    )),
                    Err(IdError::Checksum) => Err(Finding::new(
                        Rule::IdChecksum,
                        Some(col.name),
                        format!(
                            "the ID number's check character (18th character) is wrong: it does \
                             not match the ISO 7064 MOD 11-2 check of the first 17 digits {}",
                            col_ref(col)
                        ),
                    )),
                }
            }
        };
        let result = result.and_then(|v| match (plan.bound, &v) {
            (Some((max, rule)), Value::Float(_) | Value::Int(_)) => {
                let x = match v {
                    Value::Int(i) => i as f64,
                    Value::Float(f) => f,
                    _ => 0.0,
                };
                if x.abs() > max {
                    Err(Finding::new(
                        rule,
                        Some(col.name),
                        format!(
                            "value {} is beyond the plausible bound for this column: at most \
                             {max} in absolute value (a keying or unit error?) {}",
                            shown(plan, raw),
                            col_ref(col)
                        ),
                    ))
                } else {
                    Ok(v)
                }
            }
            _ => Ok(v),
        });
        match result {
            Ok(v) => v,
            Err(finding) => {
                st.bad |= bit;
                findings.push(finding);
                Value::Null
            }
        }
    }

    /// `Digits(n)` plus the code-structure rules of province-coded columns and village codes.
    /// A structure fault is pushed directly (a wrong province and a wrong village serial are
    /// independent faults); the returned error is the format fault.
    fn check_digits<'a>(
        &self,
        plan: &ColPlan,
        raw: &'a str,
        n: usize,
        findings: &mut Vec<Finding>,
    ) -> Result<Value<'a>, Finding> {
        let col = plan.col;
        if raw.len() != n || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Finding::new(
                Rule::ValueFormat,
                Some(col.name),
                format!(
                    "value {} is not a code of exactly {n} digits (it has {} characters{}) {}",
                    shown(plan, raw),
                    raw.chars().count(),
                    if raw.bytes().all(|b| b.is_ascii_digit()) {
                        ""
                    } else if raw.chars().any(is_full_width) {
                        ", some of them full-width; digits must be half-width 0-9"
                    } else {
                        ", not all digits 0-9"
                    },
                    col_ref(col)
                ),
            ));
        }
        let mut ok = true;
        if plan.province && !raw.starts_with(self.province.as_str()) {
            ok = false;
            findings.push(Finding::new(
                Rule::CodeProvince,
                Some(col.name),
                format!(
                    "code {} does not begin with the submitting province's code {} {}",
                    shown(plan, raw),
                    self.province,
                    col_ref(col)
                ),
            ));
        }
        if plan.village_serial
            && let Some(serial) = raw.get(9..12)
            && !("001"..="599").contains(&serial)
        {
            ok = false;
            findings.push(Finding::new(
                Rule::CodeStructure,
                Some(col.name),
                format!(
                    "village code {} has the village serial {serial} (digits 10-12); \
                     expected 001-599 {}",
                    shown(plan, raw),
                    col_ref(col)
                ),
            ));
        }
        match findings.pop() {
            // Already reported; the caller only needs to mark the column bad.
            Some(f) if !ok => Err(f),
            Some(f) => {
                findings.push(f);
                Ok(Value::Str(Cow::Borrowed(raw)))
            }
            None => Ok(Value::Str(Cow::Borrowed(raw))),
        }
    }

    fn row_rules(&self, values: &[Value<'_>], st: &RowState, findings: &mut Vec<Finding>) {
        let cols = self.table.columns();
        let name = |i: usize| cols[i].name;
        let r = |i: usize| col_ref(&cols[i]);
        match self.rules {
            RowRules::None => {}
            RowRules::Counties {
                county_type,
                exit_year,
                sampling_weight,
            } => {
                let Some(t) = st.int(values, county_type) else {
                    return;
                };
                if matches!(t, 1 | 2) {
                    if st.empty(exit_year) {
                        findings.push(Finding::new(
                            Rule::CountyExitYear,
                            Some(name(exit_year)),
                            format!(
                                "exit_year is empty but is required for county_type {t} \
                                 (the year the county left the poverty-county list, 2016-2020) {}",
                                r(exit_year)
                            ),
                        ));
                    }
                    if let Some(w) = st.float(values, sampling_weight)
                        && w != 1.0
                    {
                        findings.push(Finding::new(
                            Rule::CountySamplingWeight,
                            Some(name(sampling_weight)),
                            format!(
                                "sampling_weight {} must be 1 for county_type {t} (every \
                                 national poverty county is in scope) {}",
                                quote(&w.to_string()),
                                r(sampling_weight)
                            ),
                        ));
                    }
                } else if t == 3 && st.ok(exit_year) {
                    findings.push(Finding::new(
                        Rule::CountyExitYear,
                        Some(name(exit_year)),
                        format!(
                            "exit_year {} must be empty for county_type 3 (sampled \
                             non-national county) {}",
                            value_text(&values[exit_year]),
                            r(exit_year)
                        ),
                    ));
                }
            }
            RowRules::Households {
                status: _,
                registered_year,
                exit_year,
                housing_route,
                housing_grade,
                size,
                incomes,
            } => {
                let parts: Option<Vec<(usize, f64)>> = incomes
                    .iter()
                    .map(|&i| st.float(values, i).map(|x| (i, x)))
                    .collect();
                if let (Some(parts), Some(n)) = (parts, st.int(values, size))
                    && n > 0
                {
                    let per_capita = parts.iter().map(|(_, x)| x).sum::<f64>() / n as f64;
                    let largest = parts
                        .iter()
                        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                        .map_or(incomes[0], |(i, _)| *i);
                    if per_capita.abs() > MAX_PER_CAPITA {
                        findings.push(Finding::new(
                            Rule::ValueMoney,
                            Some(name(largest)),
                            format!(
                                "the per-capita net income (the four income components over \
                                 household_size {n}) is {per_capita:.0} yuan, beyond the \
                                 plausible bound of {MAX_PER_CAPITA} yuan in absolute value \
                                 (a keying or unit error?) {}",
                                r(largest)
                            ),
                        ));
                    }
                }
                if let Some(g) = str_at(st, values, housing_grade)
                    && matches!(g, "C" | "D")
                    && st.int(values, housing_route) == Some(1)
                {
                    findings.push(Finding::new(
                        Rule::HouseholdHousingGrade,
                        Some(name(housing_grade)),
                        format!(
                            "housing_grade {g} (unsafe) is inconsistent with housing_route 1 \
                             (existing housing appraised safe); grade C or D requires \
                             housing_route 2, 3 or 4 {}",
                            r(housing_grade)
                        ),
                    ));
                }
                if let (Some(e), Some(g)) =
                    (st.int(values, exit_year), st.int(values, registered_year))
                    && e < g
                {
                    findings.push(Finding::new(
                        Rule::HouseholdExitYear,
                        Some(name(exit_year)),
                        format!(
                            "exit_year {e} is before registered_year {g}; a household cannot \
                             exit before it was registered {}",
                            r(exit_year)
                        ),
                    ));
                }
            }
            RowRules::Persons {
                sex,
                birth_date,
                schooling,
                health,
                disability,
            } => {
                let mut birth = st.date(values, birth_date);
                if let Some(info) = st.id {
                    if let Some(s) = st.int(values, sex)
                        && s != i64::from(info.sex)
                    {
                        findings.push(Finding::new(
                            Rule::IdSex,
                            Some(name(sex)),
                            format!(
                                "sex {s} ({}) disagrees with the ID number, whose sequence \
                                 code is {} ({}) {}",
                                sex_word(s),
                                if info.sex == 1 { "odd" } else { "even" },
                                sex_word(i64::from(info.sex)),
                                r(sex)
                            ),
                        ));
                    }
                    if let Some(b) = birth
                        && b != info.birth_date
                    {
                        findings.push(Finding::new(
                            Rule::IdBirthDate,
                            Some(name(birth_date)),
                            format!(
                                "birth_date {b} differs from the birth date inside the ID \
                                 number (digits 7-14) {}",
                                r(birth_date)
                            ),
                        ));
                        // The age is uncertain: leave the age rule to the corrected record.
                        birth = None;
                    }
                }
                if let Some(b) = birth {
                    let age = self.age(b);
                    let school_age = (6..=15).contains(&age);
                    if school_age && st.empty(schooling) {
                        findings.push(Finding::new(
                            Rule::PersonSchooling,
                            Some(name(schooling)),
                            format!(
                                "schooling_status is empty but is required for a person aged \
                                 {age} on {} (ages 6-15) {}",
                                schema::REFERENCE_DATE,
                                r(schooling)
                            ),
                        ));
                    } else if !school_age && st.ok(schooling) {
                        findings.push(Finding::new(
                            Rule::PersonSchooling,
                            Some(name(schooling)),
                            format!(
                                "schooling_status {} must be empty for a person aged {age} on \
                                 {} (it is answered for ages 6-15 only) {}",
                                value_text(&values[schooling]),
                                schema::REFERENCE_DATE,
                                r(schooling)
                            ),
                        ));
                    }
                }
                if let Some(h) = st.int(values, health) {
                    if h == 4 && st.empty(disability) {
                        findings.push(Finding::new(
                            Rule::PersonDisabilityGrade,
                            Some(name(disability)),
                            format!(
                                "disability_grade is empty but is required when health_status \
                                 is 4 (disabled); expected 1-4 {}",
                                r(disability)
                            ),
                        ));
                    } else if h != 4 && st.ok(disability) {
                        findings.push(Finding::new(
                            Rule::PersonDisabilityGrade,
                            Some(name(disability)),
                            format!(
                                "disability_grade {} must be empty when health_status is {h} \
                                 (only health_status 4, disabled, has a grade) {}",
                                value_text(&values[disability]),
                                r(disability)
                            ),
                        ));
                    }
                }
            }
            RowRules::Assessment {
                county,
                village,
                sample_type,
                household_id,
                persons,
                wrongly_exited,
                missed_persons,
            } => {
                let mut missed_misplaced = false;
                if let Some(t) = st.int(values, sample_type) {
                    let required = |col: usize| {
                        format!(
                            "{} is empty but is required for sample_type {t} {}",
                            name(col),
                            r(col)
                        )
                    };
                    let forbidden = |col: usize, only: &str| {
                        format!(
                            "{} {} must be empty for sample_type {t} ({only}) {}",
                            name(col),
                            value_text(&values[col]),
                            r(col)
                        )
                    };
                    let registered = matches!(t, 1 | 2);
                    if registered && st.empty(household_id) {
                        findings.push(Finding::new(
                            Rule::AssessmentHouseholdId,
                            Some(name(household_id)),
                            required(household_id),
                        ));
                    } else if t == 3 && st.ok(household_id) {
                        findings.push(Finding::new(
                            Rule::AssessmentHouseholdId,
                            Some(name(household_id)),
                            forbidden(
                                household_id,
                                "a non-registered household has no household_id",
                            ),
                        ));
                    }
                    if t == 1 && st.empty(wrongly_exited) {
                        findings.push(Finding::new(
                            Rule::AssessmentItem,
                            Some(name(wrongly_exited)),
                            required(wrongly_exited),
                        ));
                    } else if t != 1 && st.ok(wrongly_exited) {
                        findings.push(Finding::new(
                            Rule::AssessmentItem,
                            Some(name(wrongly_exited)),
                            forbidden(wrongly_exited, "it is answered for sample_type 1 only"),
                        ));
                    }
                    if t == 3 && st.empty(missed_persons) {
                        findings.push(Finding::new(
                            Rule::AssessmentItem,
                            Some(name(missed_persons)),
                            required(missed_persons),
                        ));
                    } else if t != 3 && st.ok(missed_persons) {
                        missed_misplaced = true;
                        findings.push(Finding::new(
                            Rule::AssessmentItem,
                            Some(name(missed_persons)),
                            forbidden(missed_persons, "it is answered for sample_type 3 only"),
                        ));
                    }
                }
                if !missed_misplaced
                    && let (Some(m), Some(p)) =
                        (st.int(values, missed_persons), st.int(values, persons))
                    && m > p
                {
                    findings.push(Finding::new(
                        Rule::AssessmentMissedPersons,
                        Some(name(missed_persons)),
                        format!(
                            "missed_persons {m} exceeds the household's persons {p}; expected \
                             0-{p} {}",
                            r(missed_persons)
                        ),
                    ));
                }
                if let (Some(v), Some(c)) =
                    (str_at(st, values, village), str_at(st, values, county))
                    && !v.starts_with(c)
                {
                    findings.push(Finding::new(
                        Rule::AssessmentVillageCounty,
                        Some(name(village)),
                        format!(
                            "village {} is not a village of county {}: its first 6 digits \
                             differ from county_code {}",
                            quote(v),
                            quote(c),
                            r(village)
                        ),
                    ));
                }
            }
        }
    }

    /// Age in completed years on the census reference date.
    fn age(&self, birth: NaiveDate) -> i32 {
        crate::contract::schema::age_on(birth, self.reference_date)
    }
}

// ---------------------------------------------------------------------------------------------
// Field checks

/// A value for a message: quoted only when it is short and of the column's own shape (digits
/// of the code's length, a short number, a date), so that a name or an ID number that landed
/// in the wrong column (swapped or missing headers) is never quoted; otherwise described.
/// Personal-data columns are never quoted.
fn shown(plan: &ColPlan, raw: &str) -> String {
    if !plan.sensitive && fits_shape(plan.check, raw) {
        quote(raw)
    } else {
        describe(raw)
    }
}

/// Whether `raw` is short and of the shape of the column's values.
fn fits_shape(check: Check, raw: &str) -> bool {
    let numeric = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.bytes().any(|b| b.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.'))
    };
    match check {
        Check::Digits(n) => raw.len() == n && raw.bytes().all(|b| b.is_ascii_digit()),
        Check::Code(_) => numeric(raw, 6),
        Check::Int(..) => numeric(raw, 12),
        Check::Number { .. } => {
            raw.len() <= 15
                && raw.bytes().filter(u8::is_ascii_digit).count() <= 12
                && (is_decimal(raw) || numeric(raw, 15))
        }
        Check::Date(..) => raw.len() == 10 && raw.bytes().all(|b| b.is_ascii_digit() || b == b'-'),
        Check::Grade => raw.len() <= 2 && raw.bytes().all(|b| b.is_ascii_alphanumeric()),
        Check::Text | Check::Id => false,
    }
}

/// A typed value for a message.
fn value_text(v: &Value<'_>) -> String {
    match v {
        Value::Null => "(empty)".to_string(),
        Value::Int(i) => quote(&i.to_string()),
        Value::Float(f) => quote(&f.to_string()),
        Value::Str(s) => quote(s),
        Value::Date(d) => quote(&d.to_string()),
    }
}

fn sex_word(s: i64) -> &'static str {
    if s == 1 { "male" } else { "female" }
}

fn codes_text(list: &[i16]) -> String {
    let mut s = String::new();
    for (i, c) in list.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{c}");
    }
    s
}

fn range_text(a: i64, b: i64) -> String {
    if b == i64::MAX {
        format!("an integer of at least {a}")
    } else {
        format!("an integer from {a} to {b}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntParse {
    Ok(i64),
    /// Digits (and sign) only, but too large for i64.
    Overflow,
    NotInt,
}

/// Plain decimal integer: ASCII digits (leading zeros allowed), optionally preceded by `-`.
fn parse_int(s: &str, allow_minus: bool) -> IntParse {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) if allow_minus => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return IntParse::NotInt;
    }
    let mut n: i64 = 0;
    let mut overflow = false;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return IntParse::NotInt;
        }
        if !overflow {
            let d = i64::from(b - b'0');
            match n.checked_mul(10).and_then(|x| {
                if neg {
                    x.checked_sub(d)
                } else {
                    x.checked_add(d)
                }
            }) {
                Some(x) => n = x,
                None => overflow = true,
            }
        }
    }
    if overflow {
        IntParse::Overflow
    } else {
        IntParse::Ok(n)
    }
}

fn check_code<'a>(plan: &ColPlan, raw: &'a str, list: &[i16]) -> Result<Value<'a>, Finding> {
    let col = plan.col;
    match parse_int(raw, false) {
        IntParse::NotInt => Err(Finding::new(
            Rule::ValueFormat,
            Some(col.name),
            format!(
                "value {} is not a code written as digits; expected one of {} {}",
                shown(plan, raw),
                codes_text(list),
                col_ref(col)
            ),
        )),
        IntParse::Ok(n) if list.iter().any(|&c| i64::from(c) == n) => Ok(Value::Int(n)),
        IntParse::Ok(_) | IntParse::Overflow => Err(Finding::new(
            Rule::ValueCode,
            Some(col.name),
            format!(
                "value {} is not one of the codes {} {}",
                shown(plan, raw),
                codes_text(list),
                col_ref(col)
            ),
        )),
    }
}

fn check_int<'a>(plan: &ColPlan, raw: &'a str, a: i64, b: i64) -> Result<Value<'a>, Finding> {
    let col = plan.col;
    match parse_int(raw, true) {
        IntParse::Ok(n) if (a..=b).contains(&n) => Ok(Value::Int(n)),
        IntParse::Ok(_) | IntParse::Overflow => Err(Finding::new(
            Rule::ValueRange,
            Some(col.name),
            format!(
                "value {} is out of range; expected {} {}",
                shown(plan, raw),
                range_text(a, b),
                col_ref(col)
            ),
        )),
        IntParse::NotInt => Err(Finding::new(
            Rule::ValueFormat,
            Some(col.name),
            format!(
                "value {} is not a whole number written as digits; expected {} {}",
                shown(plan, raw),
                range_text(a, b),
                col_ref(col)
            ),
        )),
    }
}

/// Decimal number syntax: optional sign, digits with an optional fraction (at least one digit
/// overall), optional exponent. Rejects `inf`, `NaN`, thousands separators and the like.
fn is_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

fn check_number<'a>(
    plan: &ColPlan,
    raw: &'a str,
    min: Option<f64>,
    strict: bool,
) -> Result<Value<'a>, Finding> {
    let col = plan.col;
    let expected = match min {
        None => "a decimal number such as 1234.5 or -20".to_string(),
        Some(m) if strict => format!("a decimal number greater than {m}"),
        Some(m) => format!("a decimal number of at least {m}"),
    };
    let x = if is_decimal(raw) {
        raw.parse::<f64>().ok()
    } else {
        None
    };
    let Some(x) = x else {
        return Err(Finding::new(
            Rule::ValueFormat,
            Some(col.name),
            format!(
                "value {} is not a number; expected {expected} {}",
                shown(plan, raw),
                col_ref(col)
            ),
        ));
    };
    let below = match min {
        Some(m) if strict => x <= m,
        Some(m) => x < m,
        None => false,
    };
    if below || !x.is_finite() {
        return Err(Finding::new(
            Rule::ValueRange,
            Some(col.name),
            format!(
                "value {} is out of range; expected {expected} {}",
                shown(plan, raw),
                col_ref(col)
            ),
        ));
    }
    Ok(Value::Float(x))
}

/// `YYYY-MM-DD`, exactly, as a calendar date.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

fn check_date<'a>(
    plan: &ColPlan,
    raw: &'a str,
    a: NaiveDate,
    b: NaiveDate,
) -> Result<Value<'a>, Finding> {
    let col = plan.col;
    match parse_date(raw) {
        None => Err(Finding::new(
            Rule::ValueFormat,
            Some(col.name),
            format!(
                "value {} is not a valid date of the form YYYY-MM-DD; expected a date from {a} \
                 to {b} {}",
                shown(plan, raw),
                col_ref(col)
            ),
        )),
        Some(d) if d < a || d > b => Err(Finding::new(
            Rule::ValueRange,
            Some(col.name),
            format!(
                "date {} is out of range; expected a date from {a} to {b} {}",
                shown(plan, raw),
                col_ref(col)
            ),
        )),
        Some(d) => Ok(Value::Date(d)),
    }
}

/// Why an ID number is malformed, without revealing it.
fn id_format_reason(id: &str) -> String {
    let b = id.as_bytes();
    let n = id.chars().count();
    let expected = "expected 18 characters (17 digits and a check digit or X), or 20 for a \
                    disability card";
    if id.chars().any(is_full_width) {
        return format!(
            "the ID number has {n} characters, some of them full-width (such as full-width \
             digits); {expected}, all half-width (ASCII)"
        );
    }
    if !id.is_ascii() {
        return format!(
            "the ID number has {n} characters, some of them not digits or X; {expected}"
        );
    }
    if b.len() != 18 && b.len() != 20 {
        return format!("the ID number has {n} characters; {expected}");
    }
    let (Some(head), Some(&check)) = (b.get(..17), b.get(17)) else {
        return format!("the ID number has {n} characters; {expected}");
    };
    if !head.iter().all(u8::is_ascii_digit) || !(check.is_ascii_digit() || check == b'X') {
        return format!(
            "the ID number has characters other than digits (and a final X); {expected}"
        );
    }
    if let (Some(&cat), Some(&grade)) = (b.get(18), b.get(19))
        && !((b'1'..=b'7').contains(&cat) && (b'1'..=b'4').contains(&grade))
    {
        return "the disability-card number's last two characters are not a disability \
                category 1-7 and grade 1-4"
            .to_string();
    }
    "the birth date inside the ID number (digits 7-14) is not a valid calendar date".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::id_number::build;

    const PROVINCE: &str = "52";

    fn date(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn adult_id() -> String {
        build(520102, date("1980-03-04"), 101)
    }

    fn head_id() -> String {
        build(520102, date("1970-05-06"), 102)
    }

    /// A field value for every column: a table-specific value or a generic valid one.
    fn default_value(table: Table, col: &Column) -> String {
        let specific = match (table, col.name) {
            (Table::Counties, "county_code") => Some("520102"),
            (Table::Townships, "township_code") => Some("520102001"),
            (Table::Villages, "village_code") => Some("520102001001"),
            (Table::Households, "household_id") => Some("5201020010010001"),
            (Table::Households, "head_id_number") => return head_id(),
            (Table::Households, "housing_grade") => Some("A"),
            (Table::Persons, "person_id") => return adult_id(),
            (Table::Persons, "household_id") => Some("5201020010010001"),
            (Table::Persons, "birth_date") => Some("1980-03-04"),
            (Table::Persons, "sex") => Some("1"),
            (Table::Persons, "schooling_status") => Some(""),
            (Table::Persons, "disability_grade") => Some(""),
            (Table::AssessmentHouseholds, "county_code") => Some("520102"),
            (Table::AssessmentHouseholds, "village_code") => Some("520102001001"),
            (Table::AssessmentHouseholds, "household_id") => Some("5201020010010001"),
            (Table::AssessmentHouseholds, "persons") => Some("4"),
            (Table::AssessmentHouseholds, "missed_persons") => Some(""),
            _ => None,
        };
        if let Some(s) = specific {
            return s.to_string();
        }
        match col.kind {
            Kind::Digits(n) => "1".repeat(n),
            Kind::Text => "文本".to_string(),
            Kind::Code(list) => list[0].to_string(),
            Kind::Int(a, _) => a.to_string(),
            Kind::Number { .. } => "1".to_string(),
            Kind::Date(a, _) => a.to_string(),
            Kind::IdNumber => adult_id(),
            Kind::Grade => "A".to_string(),
        }
    }

    /// Canonical header and a record of valid defaults with `overrides` applied.
    fn record(table: Table, overrides: &[(&str, &str)]) -> (Vec<&'static str>, Vec<String>) {
        for (name, _) in overrides {
            assert!(
                table.column_index(name).is_some(),
                "{table} has no column {name}"
            );
        }
        let header: Vec<&'static str> = table.columns().iter().map(|c| c.name).collect();
        let fields = table
            .columns()
            .iter()
            .map(|c| match overrides.iter().find(|(n, _)| *n == c.name) {
                Some((_, v)) => v.to_string(),
                None => default_value(table, c),
            })
            .collect();
        (header, fields)
    }

    fn validator(table: Table, header: &[&str]) -> RowValidator {
        let (map, findings) = HeaderMap::new(table, header);
        assert!(findings.is_empty(), "{findings:?}");
        RowValidator::new(table, PROVINCE, map)
    }

    fn findings(table: Table, overrides: &[(&str, &str)]) -> Vec<Finding> {
        let (header, fields) = record(table, overrides);
        let v = validator(table, &header);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let mut values = Vec::new();
        let f = v.check(&refs, &mut values);
        assert_eq!(values.len(), table.columns().len());
        f
    }

    /// The row has exactly one finding, of this rule on this column.
    #[track_caller]
    fn only(table: Table, overrides: &[(&str, &str)], rule: Rule, column: &str) -> Finding {
        let f = findings(table, overrides);
        assert_eq!(f.len(), 1, "expected one {rule} finding, got {f:#?}");
        assert_eq!(f[0].rule, rule, "{f:#?}");
        assert_eq!(f[0].column, Some(column), "{f:#?}");
        assert!(
            f[0].message.contains(column),
            "message names the column: {}",
            f[0].message
        );
        f.into_iter().next().unwrap()
    }

    #[test]
    fn clean_rows_pass_with_typed_values() {
        for table in Table::ALL {
            let (header, fields) = record(table, &[]);
            let v = validator(table, &header);
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            let mut values = vec![Value::Int(99)];
            let f = v.check(&refs, &mut values);
            assert!(f.is_empty(), "{table}: {f:#?}");
            assert_eq!(f.capacity(), 0, "clean rows allocate no findings");
            assert_eq!(values.len(), table.columns().len());
            for (c, val) in table.columns().iter().zip(&values) {
                let ok = match c.kind {
                    Kind::Digits(_) | Kind::Text | Kind::IdNumber | Kind::Grade => {
                        matches!(val, Value::Str(Cow::Borrowed(_)))
                    }
                    Kind::Code(_) | Kind::Int(..) => matches!(val, Value::Int(_)),
                    Kind::Number { .. } => matches!(val, Value::Float(_)),
                    Kind::Date(..) => matches!(val, Value::Date(_)),
                };
                let empty = refs[table.column_index(c.name).unwrap()].is_empty();
                assert!(
                    ok || (empty && val.is_null()),
                    "{table}.{}: {val:?}",
                    c.name
                );
            }
        }
        // Spot checks of the typed values.
        let (header, fields) = record(Table::Households, &[("income_business", "-500.5")]);
        let v = validator(Table::Households, &header);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let mut values = Vec::new();
        assert!(v.check(&refs, &mut values).is_empty());
        let at = |n: &str| values[Table::Households.column_index(n).unwrap()].clone();
        assert_eq!(
            at("household_id"),
            Value::Str(Cow::Borrowed("5201020010010001"))
        );
        assert_eq!(at("enumeration_status"), Value::Int(1));
        assert_eq!(at("registration_date"), Value::Date(date("2020-07-01")));
        assert_eq!(at("income_business"), Value::Float(-500.5));
        assert_eq!(at("housing_grade").as_str(), Some("A"));
        assert_eq!(at("head_id_number").as_str(), Some(head_id().as_str()));
    }

    #[test]
    fn clean_rows_of_other_shapes() {
        // Counties of type 3: no exit year, any weight >= 1.
        assert!(
            findings(
                Table::Counties,
                &[
                    ("county_type", "3"),
                    ("exit_year", ""),
                    ("sampling_weight", "12.5")
                ]
            )
            .is_empty()
        );
        // A school-age child with a schooling status; a disabled adult with a grade.
        let child = build(520102, date("2010-01-01"), 202);
        let f = findings(
            Table::Persons,
            &[
                ("person_id", &child),
                ("birth_date", "2010-01-01"),
                ("sex", "2"),
                ("schooling_status", "1"),
            ],
        );
        assert!(f.is_empty(), "{f:?}");
        assert!(
            findings(
                Table::Persons,
                &[("health_status", "4"), ("disability_grade", "2")]
            )
            .is_empty()
        );
        // Assessment types 2 and 3.
        assert!(
            findings(
                Table::AssessmentHouseholds,
                &[("sample_type", "2"), ("wrongly_exited", "")]
            )
            .is_empty()
        );
        let f = findings(
            Table::AssessmentHouseholds,
            &[
                ("sample_type", "3"),
                ("household_id", ""),
                ("wrongly_exited", ""),
                ("missed_persons", "4"),
            ],
        );
        assert!(f.is_empty(), "{f:?}");
        // Optional and leading-zero values, spaces around fields, exponents.
        let f = findings(
            Table::Households,
            &[
                ("exit_year", ""),
                ("housing_grade", ""),
                ("food_enough", " 01 "),
                ("income_wage", "1.5e3"),
            ],
        );
        assert!(f.is_empty(), "{f:?}");
        assert!(findings(Table::Persons, &[("ethnicity", "01")]).is_empty());
    }

    #[test]
    fn malformed_record_gives_one_finding() {
        let (header, mut fields) = record(Table::Townships, &[("township_code", "bad")]);
        fields.push("extra".into());
        let v = validator(Table::Townships, &header);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let mut values = Vec::new();
        let f = v.check(&refs, &mut values);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].rule, f[0].column), (Rule::CsvMalformed, None));
        assert!(
            f[0].message.contains("8 fields") && f[0].message.contains("has 7"),
            "{}",
            f[0].message
        );
        assert!(values.iter().all(Value::is_null) && values.len() == 7);
        assert_eq!(v.record_key(&refs), None);
    }

    #[test]
    fn required_values() {
        only(
            Table::Villages,
            &[("village_name", "  ")],
            Rule::ValueRequired,
            "village_name",
        );
        only(Table::Persons, &[("name", "")], Rule::ValueRequired, "name");
        only(
            Table::Households,
            &[("food_enough", "")],
            Rule::ValueRequired,
            "food_enough",
        );
        only(
            Table::Households,
            &[("head_id_number", "")],
            Rule::ValueRequired,
            "head_id_number",
        );
        // Optional columns may be empty.
        assert!(findings(Table::Households, &[("exit_year", "")]).is_empty());
    }

    #[test]
    fn unenumerated_households_may_leave_items_empty() {
        let cols = Table::Households.columns();
        for status in ["2", "3"] {
            let mut overrides: Vec<(&str, &str)> = cols
                .iter()
                .filter(|c| !schema::HOUSEHOLD_ALWAYS_REQUIRED.contains(&c.name))
                .map(|c| (c.name, ""))
                .collect();
            overrides.push(("enumeration_status", status));
            assert!(
                findings(Table::Households, &overrides).is_empty(),
                "status {status}"
            );
            // Values present are still checked; always-required ones still required.
            overrides.retain(|(n, _)| *n != "income_wage");
            overrides.push(("income_wage", "lots"));
            let f = findings(Table::Households, &overrides);
            assert_eq!(f.len(), 1);
            assert_eq!(
                (f[0].rule, f[0].column),
                (Rule::ValueFormat, Some("income_wage"))
            );
            overrides.push(("head_id_number", ""));
            assert_eq!(findings(Table::Households, &overrides).len(), 2);
        }
        // Status 1 requires them all; a bad status leaves the items undecided.
        only(
            Table::Households,
            &[("enumeration_status", "1"), ("housing_route", "")],
            Rule::ValueRequired,
            "housing_route",
        );
        only(
            Table::Households,
            &[("enumeration_status", "4"), ("housing_route", "")],
            Rule::ValueCode,
            "enumeration_status",
        );
        only(
            Table::Households,
            &[("enumeration_status", ""), ("housing_route", "")],
            Rule::ValueRequired,
            "enumeration_status",
        );
    }

    #[test]
    fn value_format() {
        only(
            Table::Counties,
            &[("county_code", "52010")],
            Rule::ValueFormat,
            "county_code",
        );
        only(
            Table::Counties,
            &[("county_code", "52010a")],
            Rule::ValueFormat,
            "county_code",
        );
        only(
            Table::Counties,
            &[("county_code", "５２０１０２")],
            Rule::ValueFormat,
            "county_code",
        );
        for bad in ["1.0", "+1", "-1", "yes", "1 1"] {
            only(
                Table::Households,
                &[("housing_route", bad)],
                Rule::ValueFormat,
                "housing_route",
            );
        }
        for bad in ["3.5", "+3", "3-", "-", "十"] {
            only(
                Table::Persons,
                &[("migrant_months", bad)],
                Rule::ValueFormat,
                "migrant_months",
            );
        }
        for bad in [
            "NaN", "inf", "-inf", "1,234", "1.2.3", "e5", ".", "1e", "0x10", "１",
        ] {
            only(
                Table::Households,
                &[("income_wage", bad)],
                Rule::ValueFormat,
                "income_wage",
            );
        }
        for bad in [
            "2020/11/02",
            "2020-11-2",
            "20201102",
            "2020-02-30",
            "2020-13-01",
            "2020-11-02T00:00",
        ] {
            only(
                Table::Households,
                &[("registration_date", bad)],
                Rule::ValueFormat,
                "registration_date",
            );
        }
        let f = only(
            Table::Households,
            &[("housing_route", "1.0")],
            Rule::ValueFormat,
            "housing_route",
        );
        assert!(
            f.message.contains("`1.0`") && f.message.contains("1, 2, 3, 4"),
            "{}",
            f.message
        );
    }

    #[test]
    fn value_code() {
        let f = only(
            Table::Households,
            &[("housing_route", "7")],
            Rule::ValueCode,
            "housing_route",
        );
        assert_eq!(
            f.message,
            "value `7` is not one of the codes 1, 2, 3, 4 (住房安全实现方式 housing_route)"
        );
        only(
            Table::Villages,
            &[("urban_rural_code", "113")],
            Rule::ValueCode,
            "urban_rural_code",
        );
        only(
            Table::Villages,
            &[("broadband", "0")],
            Rule::ValueCode,
            "broadband",
        );
        only(
            Table::Villages,
            &[("broadband", "99999999999999999999999")],
            Rule::ValueCode,
            "broadband",
        );
        for bad in ["a", "E", "AB", "1"] {
            only(
                Table::Households,
                &[("housing_grade", bad)],
                Rule::ValueCode,
                "housing_grade",
            );
        }
    }

    #[test]
    fn value_range() {
        only(
            Table::Persons,
            &[("migrant_months", "13")],
            Rule::ValueRange,
            "migrant_months",
        );
        only(
            Table::Persons,
            &[("migrant_months", "-1")],
            Rule::ValueRange,
            "migrant_months",
        );
        only(
            Table::Persons,
            &[("ethnicity", "57")],
            Rule::ValueRange,
            "ethnicity",
        );
        only(
            Table::Persons,
            &[("ethnicity", "00")],
            Rule::ValueRange,
            "ethnicity",
        );
        only(
            Table::Villages,
            &[("population", "-5")],
            Rule::ValueRange,
            "population",
        );
        only(
            Table::Villages,
            &[("population", "99999999999999999999")],
            Rule::ValueRange,
            "population",
        );
        only(
            Table::Villages,
            &[("collective_income", "-0.01")],
            Rule::ValueRange,
            "collective_income",
        );
        only(
            Table::Villages,
            &[("collective_income", "1e400")],
            Rule::ValueRange,
            "collective_income",
        );
        only(
            Table::Counties,
            &[
                ("county_type", "3"),
                ("exit_year", ""),
                ("sampling_weight", "0.5"),
            ],
            Rule::ValueRange,
            "sampling_weight",
        );
        only(
            Table::AssessmentHouseholds,
            &[("weight", "0")],
            Rule::ValueRange,
            "weight",
        );
        only(
            Table::Households,
            &[("registration_date", "2021-02-01")],
            Rule::ValueRange,
            "registration_date",
        );
        only(
            Table::Households,
            &[("household_size", "21")],
            Rule::ValueRange,
            "household_size",
        );
        let f = only(
            Table::Counties,
            &[("exit_year", "2015")],
            Rule::ValueRange,
            "exit_year",
        );
        assert!(f.message.contains("from 2016 to 2020"), "{}", f.message);
        // Boundaries are inclusive, except a strict minimum.
        assert!(findings(Table::Villages, &[("collective_income", "0")]).is_empty());
        assert!(findings(Table::AssessmentHouseholds, &[("weight", "0.001")]).is_empty());
        assert!(findings(Table::Households, &[("registration_date", "2021-01-31")]).is_empty());
    }

    #[test]
    fn code_province() {
        only(
            Table::Counties,
            &[("county_code", "530102")],
            Rule::CodeProvince,
            "county_code",
        );
        only(
            Table::Townships,
            &[("township_code", "530102001")],
            Rule::CodeProvince,
            "township_code",
        );
        only(
            Table::Villages,
            &[("village_code", "530102001001")],
            Rule::CodeProvince,
            "village_code",
        );
        only(
            Table::Households,
            &[("household_id", "5301020010010001")],
            Rule::CodeProvince,
            "household_id",
        );
        only(
            Table::Persons,
            &[("household_id", "5301020010010001")],
            Rule::CodeProvince,
            "household_id",
        );
        only(
            Table::AssessmentHouseholds,
            &[("household_id", "5301020010010001")],
            Rule::CodeProvince,
            "household_id",
        );
        // The village then is not of the county either; that is not reported twice.
        only(
            Table::AssessmentHouseholds,
            &[("village_code", "530102001001")],
            Rule::CodeProvince,
            "village_code",
        );
        only(
            Table::AssessmentHouseholds,
            &[("county_code", "530102")],
            Rule::CodeProvince,
            "county_code",
        );
        // Not checked when the format is already wrong.
        only(
            Table::Counties,
            &[("county_code", "53010")],
            Rule::ValueFormat,
            "county_code",
        );
        let f = only(
            Table::Counties,
            &[("county_code", "530102")],
            Rule::CodeProvince,
            "county_code",
        );
        assert!(
            f.message.contains("`530102`") && f.message.contains("52"),
            "{}",
            f.message
        );
    }

    #[test]
    fn code_structure() {
        only(
            Table::Villages,
            &[("village_code", "520102001600")],
            Rule::CodeStructure,
            "village_code",
        );
        only(
            Table::Villages,
            &[("village_code", "520102001000")],
            Rule::CodeStructure,
            "village_code",
        );
        only(
            Table::AssessmentHouseholds,
            &[("village_code", "520102001999")],
            Rule::CodeStructure,
            "village_code",
        );
        assert!(findings(Table::Villages, &[("village_code", "520102001599")]).is_empty());
        // Two independent faults of one code.
        let f = findings(Table::Villages, &[("village_code", "530102001600")]);
        let rules: Vec<Rule> = f.iter().map(|f| f.rule).collect();
        assert_eq!(rules, [Rule::CodeProvince, Rule::CodeStructure]);
    }

    #[test]
    fn id_format_and_checksum() {
        let id = adult_id();
        let mut bad_check = id.clone();
        bad_check.replace_range(17..18, if &id[17..] == "0" { "1" } else { "0" });
        let f = only(
            Table::Persons,
            &[("person_id", &bad_check), ("sex", "2")],
            Rule::IdChecksum,
            "person_id",
        );
        assert!(!f.message.contains(&bad_check[..17]), "{}", f.message);
        // A checksum fault hides the sex and birth date checks.
        let f = findings(
            Table::Persons,
            &[
                ("person_id", &bad_check),
                ("sex", "2"),
                ("birth_date", "1999-01-01"),
            ],
        );
        assert_eq!(f.len(), 1, "{f:?}");

        for bad in [
            &id[..17],
            "52010219800230101X",
            "5201021980030410AX",
            "52010219800304101X99",
        ] {
            let f = only(
                Table::Persons,
                &[("person_id", bad)],
                Rule::IdFormat,
                "person_id",
            );
            assert!(!f.message.contains(&bad[..14]), "{}", f.message);
        }
        only(
            Table::Households,
            &[("head_id_number", "123")],
            Rule::IdFormat,
            "head_id_number",
        );
        let mut bad_head = head_id();
        bad_head.replace_range(17..18, if &bad_head[17..] == "0" { "1" } else { "0" });
        let f = only(
            Table::Households,
            &[("head_id_number", &bad_head)],
            Rule::IdChecksum,
            "head_id_number",
        );
        assert!(!f.message.contains(&bad_head[..17]));
    }

    #[test]
    fn id_messages_never_contain_the_id() {
        let id = adult_id();
        let mut cases: Vec<String> = vec![
            id[..16].to_string(),
            format!("{}Y", &id[..17]),
            format!("{id}99"),
            format!("{}A", &id[..17]),
        ];
        let mut bad = id.clone();
        bad.replace_range(17..18, if &id[17..] == "0" { "1" } else { "0" });
        cases.push(bad);
        for case in &cases {
            for (table, column) in [
                (Table::Persons, "person_id"),
                (Table::Households, "head_id_number"),
            ] {
                for f in findings(table, &[(column, case.as_str())]) {
                    assert!(!f.message.contains(case.as_str()), "{}", f.message);
                    assert!(!f.message.contains(&case[..10]), "{}", f.message);
                }
            }
        }
        // Nor do sex / birth-date disagreements quote the ID.
        for f in findings(
            Table::Persons,
            &[("sex", "2"), ("birth_date", "1980-03-05")],
        ) {
            assert!(!f.message.contains(&id), "{}", f.message);
            assert!(!f.message.contains("19800304"), "{}", f.message);
        }
    }

    #[test]
    fn disability_card_ids_and_lower_case_x() {
        let card = format!("{}43", adult_id());
        let f = findings(
            Table::Persons,
            &[
                ("person_id", &card),
                ("health_status", "4"),
                ("disability_grade", "3"),
            ],
        );
        assert!(f.is_empty(), "{f:?}");
        assert!(
            findings(
                Table::Households,
                &[("head_id_number", &format!("{}21", head_id()))]
            )
            .is_empty()
        );
        only(
            Table::Persons,
            &[("person_id", &format!("{}83", adult_id()))],
            Rule::IdFormat,
            "person_id",
        );

        // Find a valid ID ending in X and submit it with a lower-case x.
        let x_id = (100..200)
            .map(|seq| build(520102, date("1980-03-04"), seq))
            .find(|id| id.ends_with('X'))
            .expect("an ID with check character X");
        let seq: u16 = x_id[14..17].parse().unwrap();
        let sex = if seq % 2 == 1 { "1" } else { "2" };
        let lower = format!(" {}x ", &x_id[..17]);
        let (header, fields) = record(Table::Persons, &[("person_id", &lower), ("sex", sex)]);
        let v = validator(Table::Persons, &header);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let mut values = Vec::new();
        assert!(v.check(&refs, &mut values).is_empty());
        assert_eq!(values[0], Value::Str(Cow::Owned(x_id.clone())));
        assert_eq!(v.record_key(&refs).as_deref(), Some(x_id.as_str()));
    }

    #[test]
    fn id_sex_and_birth_date() {
        only(Table::Persons, &[("sex", "2")], Rule::IdSex, "sex");
        only(
            Table::Persons,
            &[("birth_date", "1980-03-05")],
            Rule::IdBirthDate,
            "birth_date",
        );
        // Not checked when the other column is itself invalid.
        only(Table::Persons, &[("sex", "3")], Rule::ValueCode, "sex");
        only(
            Table::Persons,
            &[("birth_date", "1980-02-30")],
            Rule::ValueFormat,
            "birth_date",
        );
        // A birth date that disagrees with the ID does not also raise the age rule.
        only(
            Table::Persons,
            &[("birth_date", "2010-03-04")],
            Rule::IdBirthDate,
            "birth_date",
        );
    }

    #[test]
    fn person_schooling() {
        let child_id = build(520102, date("2005-01-01"), 101);
        let child = [
            ("person_id", child_id.as_str()),
            ("birth_date", "2005-01-01"),
        ];
        // 15 on 2020-12-31: schooling required.
        only(
            Table::Persons,
            &child,
            Rule::PersonSchooling,
            "schooling_status",
        );
        // An adult: must be empty.
        only(
            Table::Persons,
            &[("schooling_status", "1")],
            Rule::PersonSchooling,
            "schooling_status",
        );
        // Aged 5 (born 2015-01-01 is 5 on 2020-12-31 ... 2015 births are 5): must be empty.
        let young = build(520102, date("2015-12-31"), 101);
        only(
            Table::Persons,
            &[
                ("person_id", &young),
                ("birth_date", "2015-12-31"),
                ("schooling_status", "1"),
            ],
            Rule::PersonSchooling,
            "schooling_status",
        );
        let six = build(520102, date("2014-12-31"), 101);
        only(
            Table::Persons,
            &[("person_id", &six), ("birth_date", "2014-12-31")],
            Rule::PersonSchooling,
            "schooling_status",
        );
        let sixteen = build(520102, date("2004-12-31"), 101);
        assert!(
            findings(
                Table::Persons,
                &[("person_id", &sixteen), ("birth_date", "2004-12-31")]
            )
            .is_empty()
        );
        // An invalid schooling value is reported once.
        only(
            Table::Persons,
            &[("schooling_status", "5")],
            Rule::ValueCode,
            "schooling_status",
        );
    }

    #[test]
    fn person_disability_grade() {
        only(
            Table::Persons,
            &[("health_status", "4")],
            Rule::PersonDisabilityGrade,
            "disability_grade",
        );
        only(
            Table::Persons,
            &[("health_status", "2"), ("disability_grade", "1")],
            Rule::PersonDisabilityGrade,
            "disability_grade",
        );
        only(
            Table::Persons,
            &[("health_status", "5"), ("disability_grade", "1")],
            Rule::ValueCode,
            "health_status",
        );
        only(
            Table::Persons,
            &[("health_status", "4"), ("disability_grade", "5")],
            Rule::ValueCode,
            "disability_grade",
        );
    }

    #[test]
    fn county_rules() {
        only(
            Table::Counties,
            &[("exit_year", "")],
            Rule::CountyExitYear,
            "exit_year",
        );
        only(
            Table::Counties,
            &[("county_type", "2"), ("exit_year", "")],
            Rule::CountyExitYear,
            "exit_year",
        );
        only(
            Table::Counties,
            &[("county_type", "3"), ("exit_year", "2019")],
            Rule::CountyExitYear,
            "exit_year",
        );
        only(
            Table::Counties,
            &[("sampling_weight", "2.5")],
            Rule::CountySamplingWeight,
            "sampling_weight",
        );
        assert!(findings(Table::Counties, &[("sampling_weight", "1.0")]).is_empty());
        only(
            Table::Counties,
            &[("county_type", "4"), ("exit_year", "")],
            Rule::ValueCode,
            "county_type",
        );
    }

    #[test]
    fn household_rules() {
        let f = only(
            Table::Households,
            &[("housing_grade", "C")],
            Rule::HouseholdHousingGrade,
            "housing_grade",
        );
        assert!(f.message.contains("housing_route 1"), "{}", f.message);
        only(
            Table::Households,
            &[("housing_grade", "D")],
            Rule::HouseholdHousingGrade,
            "housing_grade",
        );
        assert!(
            findings(
                Table::Households,
                &[("housing_grade", "D"), ("housing_route", "2")]
            )
            .is_empty()
        );
        only(
            Table::Households,
            &[("registered_year", "2018"), ("exit_year", "2016")],
            Rule::HouseholdExitYear,
            "exit_year",
        );
        assert!(
            findings(
                Table::Households,
                &[("registered_year", "2018"), ("exit_year", "2018")]
            )
            .is_empty()
        );
    }

    #[test]
    fn assessment_rules() {
        let t = Table::AssessmentHouseholds;
        only(
            t,
            &[("household_id", "")],
            Rule::AssessmentHouseholdId,
            "household_id",
        );
        only(
            t,
            &[
                ("sample_type", "2"),
                ("wrongly_exited", ""),
                ("household_id", ""),
            ],
            Rule::AssessmentHouseholdId,
            "household_id",
        );
        only(
            t,
            &[
                ("sample_type", "3"),
                ("wrongly_exited", ""),
                ("missed_persons", "0"),
            ],
            Rule::AssessmentHouseholdId,
            "household_id",
        );
        only(
            t,
            &[("wrongly_exited", "")],
            Rule::AssessmentItem,
            "wrongly_exited",
        );
        only(
            t,
            &[("sample_type", "2")],
            Rule::AssessmentItem,
            "wrongly_exited",
        );
        only(
            t,
            &[("missed_persons", "1")],
            Rule::AssessmentItem,
            "missed_persons",
        );
        only(
            t,
            &[
                ("sample_type", "3"),
                ("household_id", ""),
                ("wrongly_exited", ""),
            ],
            Rule::AssessmentItem,
            "missed_persons",
        );
        // Both items wrong: one finding per column.
        let f = findings(t, &[("sample_type", "3"), ("household_id", "")]);
        let got: Vec<_> = f.iter().map(|f| (f.rule, f.column)).collect();
        assert_eq!(
            got,
            [
                (Rule::AssessmentItem, Some("wrongly_exited")),
                (Rule::AssessmentItem, Some("missed_persons"))
            ]
        );
        only(
            t,
            &[
                ("sample_type", "3"),
                ("household_id", ""),
                ("wrongly_exited", ""),
                ("missed_persons", "5"),
            ],
            Rule::AssessmentMissedPersons,
            "missed_persons",
        );
        only(
            t,
            &[("village_code", "520103001001")],
            Rule::AssessmentVillageCounty,
            "village_code",
        );
        only(t, &[("sample_type", "0")], Rule::ValueCode, "sample_type");
    }

    #[test]
    fn headers_chinese_and_mixed() {
        for table in Table::ALL {
            let cols = table.columns();
            // Chinese labels, reversed order.
            let zh: Vec<&str> = cols.iter().rev().map(|c| c.label_zh).collect();
            let (map, f) = HeaderMap::new(table, &zh);
            assert!(
                f.is_empty() && !HeaderMap::rejects_file(&f),
                "{table}: {f:?}"
            );
            assert_eq!(map.field_count(), cols.len());
            for i in 0..cols.len() {
                assert_eq!(map.field_index(i), Some(cols.len() - 1 - i));
            }
            // Mixed: even columns English (with spaces, upper case), odd ones Chinese.
            let mixed: Vec<String> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        format!(" {} ", c.name.to_uppercase())
                    } else {
                        c.label_zh.to_string()
                    }
                })
                .collect();
            let refs: Vec<&str> = mixed.iter().map(String::as_str).collect();
            let (map, f) = HeaderMap::new(table, &refs);
            assert!(f.is_empty(), "{table}: {f:?}");
            assert!((0..cols.len()).all(|i| map.field_index(i) == Some(i)));
        }
        // A Chinese header validates a reordered record.
        let (header, fields) = record(Table::Persons, &[]);
        let zh: Vec<&str> = header
            .iter()
            .rev()
            .map(|n| {
                let c = Table::Persons.column_index(n).unwrap();
                Table::Persons.columns()[c].label_zh
            })
            .collect();
        let rev: Vec<&str> = fields.iter().rev().map(String::as_str).collect();
        let v = validator(Table::Persons, &zh);
        let mut values = Vec::new();
        assert!(v.check(&rev, &mut values).is_empty());
        assert_eq!(values[0].as_str(), Some(adult_id().as_str()));
        // A UTF-8 BOM left on the first cell is ignored.
        let mut bom: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        bom[0] = format!("\u{feff}{}", bom[0]);
        let refs: Vec<&str> = bom.iter().map(String::as_str).collect();
        assert!(HeaderMap::new(Table::Persons, &refs).1.is_empty());
    }

    #[test]
    fn header_faults() {
        let t = Table::Townships;
        let names: Vec<&str> = t.columns().iter().map(|c| c.name).collect();

        // Unknown columns: one warning each, naming the text; the file is kept.
        let mut h = names.clone();
        h.insert(2, "备注");
        h.push("remark");
        let (map, f) = HeaderMap::new(t, &h);
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|f| f.rule == Rule::FileUnknownColumn));
        assert!(f[0].message.contains("备注") && f[1].message.contains("remark"));
        assert!(!HeaderMap::rejects_file(&f));
        assert_eq!(map.field_count(), 9);
        assert_eq!(map.field_of("has_primary_school"), Some(4));
        assert_eq!(
            map.unknown_columns(),
            &[(2, "备注".to_string()), (8, "remark".to_string())]
        );
        // Their values are ignored.
        let v = RowValidator::new(t, PROVINCE, map);
        let mut values = Vec::new();
        let rec = ["520102001", "镇", "anything", "1", "1", "1", "1", "1", "x"];
        assert!(v.check(&rec, &mut values).is_empty());
        assert_eq!(v.record_key(&rec).as_deref(), Some("520102001"));

        // The same column twice, by its English and Chinese names.
        let mut h = names.clone();
        h.push("有小学");
        let (map, f) = HeaderMap::new(t, &h);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].rule, f[0].column),
            (Rule::FileHeader, Some("has_primary_school"))
        );
        assert!(HeaderMap::rejects_file(&f));
        assert_eq!(map.field_of("has_primary_school"), Some(3));

        // Missing columns: all of them reported.
        let h: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !n.starts_with("has_"))
            .collect();
        let (_, f) = HeaderMap::new(t, &h);
        assert_eq!(f.len(), 5);
        assert!(f.iter().all(|f| f.rule == Rule::FileMissingColumn));
        assert_eq!(f[0].column, Some("has_health_centre"));
        assert!(HeaderMap::rejects_file(&f));
        // Conditional and optional columns are required in the header too.
        let h: Vec<&str> = Table::Persons
            .columns()
            .iter()
            .map(|c| c.name)
            .filter(|n| *n != "schooling_status")
            .collect();
        let (_, f) = HeaderMap::new(Table::Persons, &h);
        assert_eq!(
            (f.len(), f[0].rule, f[0].column),
            (1, Rule::FileMissingColumn, Some("schooling_status"))
        );

        // Empty header.
        for h in [&[][..], &[""][..], &["", " "][..]] {
            let (_, f) = HeaderMap::new(t, h);
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].rule, Rule::FileHeader);
            assert!(HeaderMap::rejects_file(&f));
        }
    }

    #[test]
    fn record_keys() {
        let (header, fields) = record(Table::Persons, &[("sex", "9")]);
        let v = validator(Table::Persons, &header);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        assert_eq!(v.record_key(&refs), Some(adult_id()));
        let t = Table::AssessmentHouseholds;
        let (header, fields) = record(t, &[("household_id", " 5201020010010002 ")]);
        let v = validator(t, &header);
        let mut refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        assert_eq!(v.record_key(&refs).as_deref(), Some("5201020010010002"));
        refs[t.column_index("household_id").unwrap()] = "";
        assert_eq!(v.record_key(&refs).as_deref(), Some("520102001001"));
        refs[t.column_index("village_code").unwrap()] = " ";
        assert_eq!(v.record_key(&refs), None);
        let (header, mut fields) = record(Table::Villages, &[]);
        fields[0] = String::new();
        let v = validator(Table::Villages, &header);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        assert_eq!(v.record_key(&refs), None);
    }

    #[test]
    fn long_values_are_described_not_quoted() {
        let long = "9".repeat(100);
        let f = only(
            Table::Villages,
            &[("population", &long)],
            Rule::ValueRange,
            "population",
        );
        assert!(f.message.contains("100 digits"), "{}", f.message);
        assert!(!f.message.contains(&"9".repeat(13)), "{}", f.message);
        // Header cells are quoted truncated.
        let mut header: Vec<String> = Table::Villages
            .columns()
            .iter()
            .map(|c| c.name.to_string())
            .collect();
        header.push("z".repeat(100));
        let refs: Vec<&str> = header.iter().map(String::as_str).collect();
        let (_, f) = HeaderMap::new(Table::Villages, &refs);
        assert!(
            f[0].message.contains(&format!("`{}…`", "z".repeat(40))),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn implausible_money_is_rejected() {
        let f = only(
            Table::Households,
            &[("income_wage", "1e19")],
            Rule::ValueMoney,
            "income_wage",
        );
        assert!(f.message.contains("`1e19`"), "{}", f.message);
        only(
            Table::Households,
            &[("income_business", "-20000000")],
            Rule::ValueMoney,
            "income_business",
        );
        only(
            Table::Villages,
            &[("collective_income", "250000")],
            Rule::ValueMoney,
            "collective_income",
        );
        assert!(
            findings(
                Table::Households,
                &[("income_wage", "9000000"), ("household_size", "20")]
            )
            .is_empty()
        );
    }

    #[test]
    fn implausible_per_capita_income_is_rejected() {
        // Each component is plausible; together, over household_size 1, they are not.
        let f = only(
            Table::Households,
            &[
                ("household_size", "1"),
                ("income_wage", "9000000"),
                ("income_transfer", "8000000"),
            ],
            Rule::ValueMoney,
            "income_wage",
        );
        assert!(f.message.contains("per-capita"), "{}", f.message);
    }

    #[test]
    fn implausible_weights_are_rejected() {
        only(
            Table::Counties,
            &[
                ("county_type", "3"),
                ("exit_year", ""),
                ("sampling_weight", "1e15"),
            ],
            Rule::ValueWeight,
            "sampling_weight",
        );
        assert!(
            findings(
                Table::Counties,
                &[
                    ("county_type", "3"),
                    ("exit_year", ""),
                    ("sampling_weight", "96.34")
                ]
            )
            .is_empty()
        );
        only(
            Table::AssessmentHouseholds,
            &[("weight", "1e300")],
            Rule::ValueWeight,
            "weight",
        );
    }

    #[test]
    fn implausible_counts_are_rejected() {
        only(
            Table::Villages,
            &[("population", "9000000000000000000")],
            Rule::ValueCount,
            "population",
        );
        only(
            Table::Counties,
            &[("rural_population", "60000000")],
            Rule::ValueCount,
            "rural_population",
        );
    }

    #[test]
    fn full_width_digits_in_an_id_are_described_as_such() {
        let full: String = adult_id()
            .chars()
            .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c))
            .collect();
        let f = only(
            Table::Persons,
            &[("person_id", &full)],
            Rule::IdFormat,
            "person_id",
        );
        assert!(f.message.contains("full-width"), "{}", f.message);
        assert!(
            !f.message.contains("has 18 characters; expected 18"),
            "{}",
            f.message
        );
        let f = only(
            Table::Persons,
            &[("household_id", "５２０１０２００１００１０００１")],
            Rule::ValueFormat,
            "household_id",
        );
        assert!(f.message.contains("full-width"), "{}", f.message);
    }

    #[test]
    fn values_of_another_shape_are_described_not_quoted() {
        // A name in the ethnicity column (swapped headers).
        let f = only(
            Table::Persons,
            &[("ethnicity", "张伟")],
            Rule::ValueFormat,
            "ethnicity",
        );
        assert!(!f.message.contains("张伟"), "{}", f.message);
        assert!(f.message.contains("2 characters"), "{}", f.message);
        // An ID number in the household_id column.
        let id = adult_id();
        let f = findings(Table::Persons, &[("household_id", &id)]);
        assert!(!f.is_empty());
        for f in f {
            assert!(!f.message.contains(&id[..10]), "{}", f.message);
        }
        // A short code of the column's shape is quoted.
        let f = only(Table::Persons, &[("sex", "7")], Rule::ValueCode, "sex");
        assert!(f.message.contains("`7`"), "{}", f.message);
    }

    #[test]
    fn a_data_row_as_header_quotes_no_cell() {
        let (_, fields) = record(Table::Persons, &[("name", "张伟")]);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let (_, f) = HeaderMap::new(Table::Persons, &refs);
        assert!(f.iter().any(|f| f.rule == Rule::FileHeader));
        for f in &f {
            assert!(!f.message.contains("张伟"), "{}", f.message);
            assert!(!f.message.contains(&adult_id()[..10]), "{}", f.message);
        }
    }

    #[test]
    fn escape_text_escapes_control_characters() {
        assert_eq!(escape_text("a\n\u{1b}[31m", 40), "a\\n\\u{1b}[31m");
        assert_eq!(escape_text("abcdef", 3), "abc…");
    }

    #[test]
    fn rule_tables_match_the_schema() {
        for (t, name) in PROVINCE_CODED.iter().chain(VILLAGE_CODED) {
            let c = t.column_index(name).expect("column exists");
            assert!(matches!(t.columns()[c].kind, Kind::Digits(_)), "{t}.{name}");
        }
        for name in SENSITIVE {
            assert!(Table::ALL.iter().any(|t| t.column_index(name).is_some()));
        }
        for t in Table::ALL {
            let (header, _) = record(t, &[]);
            let _ = validator(t, &header); // the rule column lookups do not panic
        }
    }
}
