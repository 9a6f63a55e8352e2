//! Row rules of persons: sex and birth date against the ID number, schooling status by age,
//! and the disability grade by health status.

use chrono::NaiveDate;

use crate::contract::rules::Rule;
use crate::contract::schema::{self, Table};

use super::super::Finding;
use super::super::messages::{sex_word, value_text};
use super::{Row, idx};

/// Schema indices of the columns the persons' rules read.
#[derive(Debug, Clone, Copy)]
pub(in crate::ingest::validation) struct Columns {
    sex: usize,
    birth_date: usize,
    schooling: usize,
    health: usize,
    disability: usize,
}

impl Columns {
    pub(super) fn new(t: Table) -> Self {
        Columns {
            sex: idx(t, "sex"),
            birth_date: idx(t, "birth_date"),
            schooling: idx(t, "schooling_status"),
            health: idx(t, "health_status"),
            disability: idx(t, "disability_grade"),
        }
    }

    /// `reference_date`: the census reference date, on which ages are taken.
    pub(super) fn check(
        &self,
        row: &Row<'_, '_>,
        reference_date: NaiveDate,
        findings: &mut Vec<Finding>,
    ) {
        let birth = self.id_agreement(row, findings);
        if let Some(b) = birth {
            self.schooling(row, schema::age_on(b, reference_date), findings);
        }
        self.disability(row, findings);
    }

    /// Sex and birth date against the valid ID number. Returns the birth date the age rules
    /// may use (None when it disagrees with the ID: the age is uncertain).
    fn id_agreement(&self, row: &Row<'_, '_>, findings: &mut Vec<Finding>) -> Option<NaiveDate> {
        let Columns {
            sex, birth_date, ..
        } = *self;
        let mut birth = row.date(birth_date);
        if let Some(info) = row.st.id {
            if let Some(s) = row.int(sex)
                && s != i64::from(info.sex)
            {
                findings.push(Finding::new(
                    Rule::IdSex,
                    Some(row.name(sex)),
                    format!(
                        "sex {s} ({}) disagrees with the ID number, whose sequence \
                         code is {} ({}) {}",
                        sex_word(s),
                        if info.sex == 1 { "odd" } else { "even" },
                        sex_word(i64::from(info.sex)),
                        row.r(sex)
                    ),
                ));
            }
            if let Some(b) = birth
                && b != info.birth_date
            {
                findings.push(Finding::new(
                    Rule::IdBirthDate,
                    Some(row.name(birth_date)),
                    format!(
                        "birth_date {b} differs from the birth date inside the ID \
                         number (digits 7-14) {}",
                        row.r(birth_date)
                    ),
                ));
                // The age is uncertain: leave the age rule to the corrected record.
                birth = None;
            }
        }
        birth
    }

    /// schooling_status is answered for ages 6-15 only.
    fn schooling(&self, row: &Row<'_, '_>, age: i32, findings: &mut Vec<Finding>) {
        let schooling = self.schooling;
        let school_age = (6..=15).contains(&age);
        if school_age && row.empty(schooling) {
            findings.push(Finding::new(
                Rule::PersonSchooling,
                Some(row.name(schooling)),
                format!(
                    "schooling_status is empty but is required for a person aged \
                     {age} on {} (ages 6-15) {}",
                    schema::REFERENCE_DATE,
                    row.r(schooling)
                ),
            ));
        } else if !school_age && row.ok(schooling) {
            findings.push(Finding::new(
                Rule::PersonSchooling,
                Some(row.name(schooling)),
                format!(
                    "schooling_status {} must be empty for a person aged {age} on \
                     {} (it is answered for ages 6-15 only) {}",
                    value_text(row.value(schooling)),
                    schema::REFERENCE_DATE,
                    row.r(schooling)
                ),
            ));
        }
    }

    /// disability_grade is answered for health_status 4 (disabled) only.
    fn disability(&self, row: &Row<'_, '_>, findings: &mut Vec<Finding>) {
        let disability = self.disability;
        let Some(h) = row.int(self.health) else {
            return;
        };
        if h == 4 && row.empty(disability) {
            findings.push(Finding::new(
                Rule::PersonDisabilityGrade,
                Some(row.name(disability)),
                format!(
                    "disability_grade is empty but is required when health_status \
                     is 4 (disabled); expected 1-4 {}",
                    row.r(disability)
                ),
            ));
        } else if h != 4 && row.ok(disability) {
            findings.push(Finding::new(
                Rule::PersonDisabilityGrade,
                Some(row.name(disability)),
                format!(
                    "disability_grade {} must be empty when health_status is {h} \
                     (only health_status 4, disabled, has a grade) {}",
                    value_text(row.value(disability)),
                    row.r(disability)
                ),
            ));
        }
    }
}
