//! Row rules of department registers (`registers.md` §1): the county is a county of the
//! reference data, dates after the reference date are flagged, a civil-affairs record does not
//! end before it starts, and only C and D houses are registered as dangerous.

use chrono::NaiveDate;

use crate::contract::reference::Reference;
use crate::contract::registers::Register;
use crate::contract::rules::Rule;
use crate::contract::schema::Kind;

use super::super::Finding;
use super::super::messages::quote;
use super::{Row, idx};

/// Schema indices of the columns the register's rules read.
#[derive(Debug, Clone, Copy)]
pub(in crate::ingest::validation) struct Columns {
    county: usize,
    /// Bit per column: a date column.
    dates: u64,
    /// civil_affairs: start_date and end_date.
    period: Option<(usize, usize)>,
    /// dangerous_housing: grade.
    grade: Option<usize>,
}

impl Columns {
    pub(super) fn new(r: Register) -> Self {
        let dates = r
            .columns()
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c.kind, Kind::Date(..)))
            .fold(0u64, |acc, (i, _)| acc | 1 << i);
        Columns {
            county: idx(r, "county_code"),
            dates,
            period: (r == Register::CivilAffairs)
                .then(|| (idx(r, "start_date"), idx(r, "end_date"))),
            grade: (r == Register::DangerousHousing).then(|| idx(r, "grade")),
        }
    }

    pub(super) fn check(
        &self,
        row: &Row<'_, '_>,
        reference_date: NaiveDate,
        findings: &mut Vec<Finding>,
    ) {
        if let Some(code) = row.str(self.county)
            && !is_county(code)
        {
            findings.push(Finding::new(
                Rule::RegisterCountyUnknown,
                Some(row.name(self.county)),
                format!(
                    "county_code {} is not a county-level division of the 22 census provinces \
                     {}",
                    quote(code),
                    row.r(self.county)
                ),
            ));
        }
        for i in (0..row.cols.len()).filter(|i| self.dates & (1 << i) != 0) {
            if let Some(d) = row.date(i).filter(|d| *d > reference_date) {
                findings.push(Finding::new(
                    Rule::RegisterDateAfterReference,
                    Some(row.name(i)),
                    format!(
                        "{} {d} is after the reference date {reference_date}; the row is loaded \
                         and flagged {}",
                        row.name(i),
                        row.r(i)
                    ),
                ));
            }
        }
        if let Some((start, end)) = self.period
            && let (Some(s), Some(e)) = (row.date(start), row.date(end))
            && e < s
        {
            findings.push(Finding::new(
                Rule::RegisterDateOrder,
                Some(row.name(end)),
                format!("end_date {e} is before start_date {s} {}", row.r(end)),
            ));
        }
        if let Some(g) = self.grade
            && let Some(v @ ("A" | "B")) = row.str(g)
        {
            findings.push(Finding::new(
                Rule::RegisterGrade,
                Some(row.name(g)),
                format!(
                    "grade {} is not a dangerous-house grade: only houses appraised C or D are \
                     registered {}",
                    quote(v),
                    row.r(g)
                ),
            ));
        }
    }
}

/// Whether a 6-digit code is a county-level division of a census province.
fn is_county(code: &str) -> bool {
    code.get(..2)
        .and_then(|p| Reference::get().counties.get(p))
        .is_some_and(|cs| cs.binary_search_by(|d| d.code.cmp(code)).is_ok())
}
