//! The texts of the validation messages: how a submitted value is quoted, escaped or only
//! described (personal data and values of the wrong shape are never quoted), the column
//! reference every row message ends with, and the wording of codes, ranges, sexes and
//! malformed ID numbers.

use std::fmt::Write as _;

use crate::contract::schema::Column;

use super::Value;
use super::fields::{ColPlan, fits_shape};

/// The longest piece of a value quoted in a message, in characters.
const QUOTE_MAX: usize = 40;

/// `value` for a message: truncated to [`QUOTE_MAX`] characters, with control characters
/// (line breaks inside quoted CSV fields) shown as spaces.
pub(super) fn quote(value: &str) -> String {
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
pub(super) fn is_full_width(c: char) -> bool {
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
pub(super) fn col_ref(c: &Column) -> String {
    format!("({} {})", c.label_zh, c.name)
}

/// A value for a message: quoted only when it is short and of the column's own shape (digits
/// of the code's length, a short number, a date), so that a name or an ID number that landed
/// in the wrong column (swapped or missing headers) is never quoted; otherwise described.
/// Personal-data columns are never quoted.
pub(super) fn shown(plan: &ColPlan, raw: &str) -> String {
    if !plan.sensitive && fits_shape(plan.check, raw) {
        quote(raw)
    } else {
        describe(raw)
    }
}

/// A typed value for a message.
pub(super) fn value_text(v: &Value<'_>) -> String {
    match v {
        Value::Null => "(empty)".to_string(),
        Value::Int(i) => quote(&i.to_string()),
        Value::Float(f) => quote(&f.to_string()),
        Value::Str(s) => quote(s),
        Value::Date(d) => quote(&d.to_string()),
    }
}

pub(super) fn sex_word(s: i64) -> &'static str {
    if s == 1 { "male" } else { "female" }
}

pub(super) fn codes_text(list: &[i16]) -> String {
    let mut s = String::new();
    for (i, c) in list.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{c}");
    }
    s
}

pub(super) fn range_text(a: i64, b: i64) -> String {
    if b == i64::MAX {
        format!("an integer of at least {a}")
    } else {
        format!("an integer from {a} to {b}")
    }
}

/// Why an ID number is malformed, without revealing it.
pub(super) fn id_format_reason(id: &str) -> String {
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
