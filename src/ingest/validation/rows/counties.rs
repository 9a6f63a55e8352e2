//! Row rules of counties: the exit year and the sampling weight by county type.

use crate::contract::rules::Rule;
use crate::contract::schema::Table;

use super::super::Finding;
use super::super::messages::{quote, value_text};
use super::{Row, idx};

/// Schema indices of the columns the counties' rules read.
#[derive(Debug, Clone, Copy)]
pub(in crate::ingest::validation) struct Columns {
    county_type: usize,
    exit_year: usize,
    sampling_weight: usize,
}

impl Columns {
    pub(super) fn new(t: Table) -> Self {
        Columns {
            county_type: idx(t, "county_type"),
            exit_year: idx(t, "exit_year"),
            sampling_weight: idx(t, "sampling_weight"),
        }
    }

    pub(super) fn check(&self, row: &Row<'_, '_>, findings: &mut Vec<Finding>) {
        let Columns {
            county_type,
            exit_year,
            sampling_weight,
        } = *self;
        let Some(t) = row.int(county_type) else {
            return;
        };
        if matches!(t, 1 | 2) {
            if row.empty(exit_year) {
                findings.push(Finding::new(
                    Rule::CountyExitYear,
                    Some(row.name(exit_year)),
                    format!(
                        "exit_year is empty but is required for county_type {t} \
                         (the year the county left the poverty-county list, 2016-2020) {}",
                        row.r(exit_year)
                    ),
                ));
            }
            if let Some(w) = row.float(sampling_weight)
                && w != 1.0
            {
                findings.push(Finding::new(
                    Rule::CountySamplingWeight,
                    Some(row.name(sampling_weight)),
                    format!(
                        "sampling_weight {} must be 1 for county_type {t} (every \
                         national poverty county is in scope) {}",
                        quote(&w.to_string()),
                        row.r(sampling_weight)
                    ),
                ));
            }
        } else if t == 3 && row.ok(exit_year) {
            findings.push(Finding::new(
                Rule::CountyExitYear,
                Some(row.name(exit_year)),
                format!(
                    "exit_year {} must be empty for county_type 3 (sampled \
                     non-national county) {}",
                    value_text(row.value(exit_year)),
                    row.r(exit_year)
                ),
            ));
        }
    }
}
