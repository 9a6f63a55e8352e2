//! Per-field checks: the plan of each column (its kind with bounds prepared, when an empty
//! value is a fault, the code-structure and plausibility rules that apply) and the check of
//! one field against it, which yields the typed [`Value`] or the finding.

use std::borrow::Cow;

use chrono::NaiveDate;

use crate::contract::id_number::{self, IdError};
use crate::contract::registers::Layout;
use crate::contract::rules::Rule;
use crate::contract::schema::{self, Column, Kind, Presence, Table};

use super::header::HeaderMap;
use super::messages::{codes_text, col_ref, id_format_reason, is_full_width, range_text, shown};
use super::{Finding, RowState, RowValidator, Value};

/// When an empty value is a `value.required` fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Req {
    /// Optional or conditional (conditional columns are decided by a row rule).
    No,
    /// Always.
    Always,
    /// Households only: when enumeration_status = 1.
    Enumerated,
}

/// A column's [`Kind`] with its bounds prepared.
#[derive(Debug, Clone, Copy)]
pub(super) enum Check {
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
pub(super) struct ColPlan {
    pub(super) col: &'static Column,
    pub(super) field: Option<usize>,
    pub(super) check: Check,
    pub(super) req: Req,
    /// Must begin with the province code (`code.province`).
    pub(super) province: bool,
    /// A 12-digit village code whose serial (digits 10–12) must be 001–599.
    pub(super) village_serial: bool,
    /// Personal data: never quoted.
    pub(super) sensitive: bool,
    /// The plausibility bound on the value's magnitude and the rule that enforces it.
    pub(super) bound: Option<(f64, Rule)>,
}

impl ColPlan {
    /// The checks of schema column `i` of `table` (`col`) for a file with this header.
    pub(super) fn new(layout: Layout, i: usize, col: &'static Column, header: &HeaderMap) -> Self {
        // Registers have no province-coded columns, village codes or plausibility bounds.
        let table = layout.table();
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
                if table == Some(Table::Households)
                    && !schema::HOUSEHOLD_ALWAYS_REQUIRED.contains(&col.name) =>
            {
                Req::Enumerated
            }
            Presence::Required => Req::Always,
            Presence::Optional | Presence::Conditional => Req::No,
        };
        let is = |list: &[(Table, &str)]| table.is_some_and(|t| list.contains(&(t, col.name)));
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
                .find(|(t, c, _, _)| Some(*t) == table && *c == col.name)
                .map(|&(_, _, max, rule)| (max, rule)),
        }
    }
}

/// Columns whose values are personal data and are never quoted in a message.
pub(super) const SENSITIVE: &[&str] = &["person_id", "head_id_number", "name", "id_number"];

/// Columns that carry the submitting province's code in their first two digits.
pub(super) const PROVINCE_CODED: &[(Table, &str)] = &[
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
pub(super) const PLAUSIBLE: &[(Table, &str, f64, Rule)] = &[
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

/// Village codes whose serial (digits 10–12) is checked.
pub(super) const VILLAGE_CODED: &[(Table, &str)] = &[
    (Table::Villages, "village_code"),
    (Table::AssessmentHouseholds, "village_code"),
];

pub(super) fn schema_date(s: &'static str) -> NaiveDate {
    // reason: only called on the schema's own date constants, which a unit test parses
    // (`rule_tables_match_the_schema` builds every table's validator); never on input.
    parse_date(s).unwrap_or_else(|| panic!("schema date `{s}` is not YYYY-MM-DD"))
}

impl RowValidator {
    /// Check field `i` of a record against its plan: the typed value (Null when empty or
    /// invalid), its findings pushed, and the row state updated.
    pub(super) fn check_column<'a>(
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
        if raw.is_empty() {
            if let Some(finding) = empty_value(plan, enumerated) {
                st.bad |= bit;
                findings.push(finding);
            }
            return Value::Null;
        }
        st.present |= bit;
        let result = self
            .typed_value(plan, raw, st, findings)
            .and_then(|v| within_bound(plan, raw, v));
        match result {
            Ok(v) => v,
            Err(finding) => {
                st.bad |= bit;
                findings.push(finding);
                Value::Null
            }
        }
    }

    /// A non-empty field checked against its column's kind. A valid ID number is recorded in
    /// the row state.
    fn typed_value<'a>(
        &self,
        plan: &ColPlan,
        raw: &'a str,
        st: &mut RowState,
        findings: &mut Vec<Finding>,
    ) -> Result<Value<'a>, Finding> {
        let col = plan.col;
        match plan.check {
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
}

/// The `value.required` finding of an empty field, when its column requires a value (for
/// households' status-dependent items: when `enumerated`).
fn empty_value(plan: &ColPlan, enumerated: bool) -> Option<Finding> {
    let required = match plan.req {
        Req::No => false,
        Req::Always => true,
        Req::Enumerated => enumerated,
    };
    if !required {
        return None;
    }
    let why = if plan.req == Req::Enumerated {
        "; it may be empty only when enumeration_status is 2 or 3"
    } else {
        ""
    };
    let col = plan.col;
    Some(Finding::new(
        Rule::ValueRequired,
        Some(col.name),
        format!("a required value is empty {}{why}", col_ref(col)),
    ))
}

/// A typed number checked against its column's plausibility bound, if any.
fn within_bound<'a>(plan: &ColPlan, raw: &str, v: Value<'a>) -> Result<Value<'a>, Finding> {
    match (plan.bound, &v) {
        (Some((max, rule)), Value::Float(_) | Value::Int(_)) => {
            let x = match v {
                Value::Int(i) => i as f64,
                Value::Float(f) => f,
                _ => 0.0,
            };
            if x.abs() > max {
                let col = plan.col;
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
    }
}

/// Whether `raw` is short and of the shape of the column's values.
pub(super) fn fits_shape(check: Check, raw: &str) -> bool {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IntParse {
    Ok(i64),
    /// Digits (and sign) only, but too large for i64.
    Overflow,
    NotInt,
}

/// Plain decimal integer: ASCII digits (leading zeros allowed), optionally preceded by `-`.
pub(super) fn parse_int(s: &str, allow_minus: bool) -> IntParse {
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
pub(super) fn parse_date(s: &str) -> Option<NaiveDate> {
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
