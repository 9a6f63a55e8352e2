//! Row rules of assessment_households: the items each sample type answers, the missed persons
//! against the household's persons, and the village against the county.

use crate::contract::rules::Rule;
use crate::contract::schema::Table;

use super::super::Finding;
use super::super::messages::{quote, value_text};
use super::{Row, idx};

/// Schema indices of the columns the assessment households' rules read.
#[derive(Debug, Clone, Copy)]
pub(in crate::ingest::validation) struct Columns {
    county: usize,
    village: usize,
    sample_type: usize,
    household_id: usize,
    persons: usize,
    wrongly_exited: usize,
    missed_persons: usize,
}

impl Columns {
    pub(super) fn new(t: Table) -> Self {
        Columns {
            county: idx(t, "county_code"),
            village: idx(t, "village_code"),
            sample_type: idx(t, "sample_type"),
            household_id: idx(t, "household_id"),
            persons: idx(t, "persons"),
            wrongly_exited: idx(t, "wrongly_exited"),
            missed_persons: idx(t, "missed_persons"),
        }
    }

    pub(super) fn check(&self, row: &Row<'_, '_>, findings: &mut Vec<Finding>) {
        let missed_misplaced = match row.int(self.sample_type) {
            Some(t) => self.sample_items(row, t, findings),
            None => false,
        };
        if !missed_misplaced {
            self.missed_persons(row, findings);
        }
        self.village_county(row, findings);
    }

    /// The items sample type `t` requires or forbids. Returns whether missed_persons is
    /// answered where it must be empty (then its bound is not judged).
    fn sample_items(&self, row: &Row<'_, '_>, t: i64, findings: &mut Vec<Finding>) -> bool {
        let Columns {
            household_id,
            wrongly_exited,
            missed_persons,
            ..
        } = *self;
        let mut missed_misplaced = false;
        let required = |col: usize| {
            format!(
                "{} is empty but is required for sample_type {t} {}",
                row.name(col),
                row.r(col)
            )
        };
        let forbidden = |col: usize, only: &str| {
            format!(
                "{} {} must be empty for sample_type {t} ({only}) {}",
                row.name(col),
                value_text(row.value(col)),
                row.r(col)
            )
        };
        let registered = matches!(t, 1 | 2);
        if registered && row.empty(household_id) {
            findings.push(Finding::new(
                Rule::AssessmentHouseholdId,
                Some(row.name(household_id)),
                required(household_id),
            ));
        } else if t == 3 && row.ok(household_id) {
            findings.push(Finding::new(
                Rule::AssessmentHouseholdId,
                Some(row.name(household_id)),
                forbidden(
                    household_id,
                    "a non-registered household has no household_id",
                ),
            ));
        }
        if t == 1 && row.empty(wrongly_exited) {
            findings.push(Finding::new(
                Rule::AssessmentItem,
                Some(row.name(wrongly_exited)),
                required(wrongly_exited),
            ));
        } else if t != 1 && row.ok(wrongly_exited) {
            findings.push(Finding::new(
                Rule::AssessmentItem,
                Some(row.name(wrongly_exited)),
                forbidden(wrongly_exited, "it is answered for sample_type 1 only"),
            ));
        }
        if t == 3 && row.empty(missed_persons) {
            findings.push(Finding::new(
                Rule::AssessmentItem,
                Some(row.name(missed_persons)),
                required(missed_persons),
            ));
        } else if t != 3 && row.ok(missed_persons) {
            missed_misplaced = true;
            findings.push(Finding::new(
                Rule::AssessmentItem,
                Some(row.name(missed_persons)),
                forbidden(missed_persons, "it is answered for sample_type 3 only"),
            ));
        }
        missed_misplaced
    }

    /// missed_persons at most the household's persons.
    fn missed_persons(&self, row: &Row<'_, '_>, findings: &mut Vec<Finding>) {
        let missed_persons = self.missed_persons;
        if let (Some(m), Some(p)) = (row.int(missed_persons), row.int(self.persons))
            && m > p
        {
            findings.push(Finding::new(
                Rule::AssessmentMissedPersons,
                Some(row.name(missed_persons)),
                format!(
                    "missed_persons {m} exceeds the household's persons {p}; expected \
                     0-{p} {}",
                    row.r(missed_persons)
                ),
            ));
        }
    }

    /// The village code begins with the county code.
    fn village_county(&self, row: &Row<'_, '_>, findings: &mut Vec<Finding>) {
        let village = self.village;
        if let (Some(v), Some(c)) = (row.str(village), row.str(self.county))
            && !v.starts_with(c)
        {
            findings.push(Finding::new(
                Rule::AssessmentVillageCounty,
                Some(row.name(village)),
                format!(
                    "village {} is not a village of county {}: its first 6 digits \
                     differ from county_code {}",
                    quote(v),
                    quote(c),
                    row.r(village)
                ),
            ));
        }
    }
}
