//! Row rules of households: the plausibility of the per-capita income, the housing grade
//! against the housing route, and the exit year against the registration year.

use crate::contract::rules::Rule;
use crate::contract::schema::Table;

use super::super::Finding;
use super::{Row, idx};

/// Largest plausible per-capita net income (yuan, absolute value): about 100 times the mean.
const MAX_PER_CAPITA: f64 = 1_000_000.0;

/// Schema indices of the columns the households' rules read.
#[derive(Debug, Clone, Copy)]
pub(in crate::ingest::validation) struct Columns {
    /// enumeration_status: decides which items are required (in the column pass).
    pub(super) status: usize,
    registered_year: usize,
    exit_year: usize,
    housing_route: usize,
    housing_grade: usize,
    size: usize,
    incomes: [usize; 4],
}

impl Columns {
    pub(super) fn new(t: Table) -> Self {
        Columns {
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
        }
    }

    pub(super) fn check(&self, row: &Row<'_, '_>, findings: &mut Vec<Finding>) {
        self.per_capita_income(row, findings);
        self.housing_grade(row, findings);
        self.exit_year(row, findings);
    }

    fn per_capita_income(&self, row: &Row<'_, '_>, findings: &mut Vec<Finding>) {
        let incomes = self.incomes;
        let parts: Option<Vec<(usize, f64)>> = incomes
            .iter()
            .map(|&i| row.float(i).map(|x| (i, x)))
            .collect();
        if let (Some(parts), Some(n)) = (parts, row.int(self.size))
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
                    Some(row.name(largest)),
                    format!(
                        "the per-capita net income (the four income components over \
                         household_size {n}) is {per_capita:.0} yuan, beyond the \
                         plausible bound of {MAX_PER_CAPITA} yuan in absolute value \
                         (a keying or unit error?) {}",
                        row.r(largest)
                    ),
                ));
            }
        }
    }

    fn housing_grade(&self, row: &Row<'_, '_>, findings: &mut Vec<Finding>) {
        let housing_grade = self.housing_grade;
        if let Some(g) = row.str(housing_grade)
            && matches!(g, "C" | "D")
            && row.int(self.housing_route) == Some(1)
        {
            findings.push(Finding::new(
                Rule::HouseholdHousingGrade,
                Some(row.name(housing_grade)),
                format!(
                    "housing_grade {g} (unsafe) is inconsistent with housing_route 1 \
                     (existing housing appraised safe); grade C or D requires \
                     housing_route 2, 3 or 4 {}",
                    row.r(housing_grade)
                ),
            ));
        }
    }

    fn exit_year(&self, row: &Row<'_, '_>, findings: &mut Vec<Finding>) {
        let exit_year = self.exit_year;
        if let (Some(e), Some(g)) = (row.int(exit_year), row.int(self.registered_year))
            && e < g
        {
            findings.push(Finding::new(
                Rule::HouseholdExitYear,
                Some(row.name(exit_year)),
                format!(
                    "exit_year {e} is before registered_year {g}; a household cannot \
                     exit before it was registered {}",
                    row.r(exit_year)
                ),
            ));
        }
    }
}
