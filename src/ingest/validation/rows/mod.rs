//! Cross-column rules of one row, one module per table: which columns each table's rules
//! read ([`RowRules`], resolved once per file) and the dispatch from a checked row to its
//! table's rules.

mod assessment;
mod counties;
mod households;
mod persons;
mod registers;

use chrono::NaiveDate;

use crate::contract::registers::Layout;
use crate::contract::schema::{Column, Table};

use super::messages::col_ref;
use super::{Finding, RowState, RowValidator, Value};

/// Schema indices of the columns the table's cross-column rules read.
#[derive(Debug, Clone, Copy)]
pub(super) enum RowRules {
    None,
    Counties(counties::Columns),
    Households(households::Columns),
    Persons(persons::Columns),
    Assessment(assessment::Columns),
    Register(registers::Columns),
}

impl RowRules {
    pub(super) fn new(layout: Layout) -> Self {
        let table = match layout {
            Layout::Census(t) => t,
            Layout::Register(r) => return RowRules::Register(registers::Columns::new(r)),
        };
        match table {
            Table::Counties => RowRules::Counties(counties::Columns::new(table)),
            Table::Townships | Table::Villages => RowRules::None,
            Table::Households => RowRules::Households(households::Columns::new(table)),
            Table::Persons => RowRules::Persons(persons::Columns::new(table)),
            Table::AssessmentHouseholds => RowRules::Assessment(assessment::Columns::new(table)),
        }
    }

    /// Schema index of households.enumeration_status.
    pub(super) fn status_col(&self) -> Option<usize> {
        match self {
            RowRules::Households(c) => Some(c.status),
            _ => None,
        }
    }
}

impl RowValidator {
    /// The cross-column rules of the table, on a row the column pass has checked.
    pub(super) fn row_rules(
        &self,
        values: &[Value<'_>],
        st: &RowState,
        findings: &mut Vec<Finding>,
    ) {
        let row = Row {
            cols: self.table.columns(),
            values,
            st,
        };
        match &self.rules {
            RowRules::None => {}
            RowRules::Counties(c) => c.check(&row, findings),
            RowRules::Households(c) => c.check(&row, findings),
            RowRules::Persons(c) => c.check(&row, self.reference_date, findings),
            RowRules::Assessment(c) => c.check(&row, findings),
            RowRules::Register(c) => c.check(&row, self.reference_date, findings),
        }
    }
}

/// Schema index of a column the row rules need (a missing one is a bug in the schema).
pub(super) fn idx(table: impl Into<Layout>, name: &str) -> usize {
    let table: Layout = table.into();
    // reason: called with literal column names of the schema only; a unit test builds every
    // table's validator, so a misspelt name fails the tests, never an input.
    table
        .column_index(name)
        .unwrap_or_else(|| panic!("schema table {table} has no column {name}"))
}

/// A row after the column pass, as the cross-column rules read it.
struct Row<'r, 'v> {
    cols: &'static [Column],
    values: &'r [Value<'v>],
    st: &'r RowState,
}

impl Row<'_, '_> {
    /// The canonical name of schema column `i`.
    fn name(&self, i: usize) -> &'static str {
        self.cols[i].name
    }

    /// The column reference a message ends with.
    fn r(&self, i: usize) -> String {
        col_ref(&self.cols[i])
    }

    fn value(&self, i: usize) -> &Value<'_> {
        &self.values[i]
    }

    fn ok(&self, i: usize) -> bool {
        self.st.ok(i)
    }

    fn empty(&self, i: usize) -> bool {
        self.st.empty(i)
    }

    fn int(&self, i: usize) -> Option<i64> {
        self.st.int(self.values, i)
    }

    fn float(&self, i: usize) -> Option<f64> {
        self.st.float(self.values, i)
    }

    fn date(&self, i: usize) -> Option<NaiveDate> {
        self.st.date(self.values, i)
    }

    fn str(&self, i: usize) -> Option<&str> {
        if self.st.ok(i) {
            self.values[i].as_str()
        } else {
            None
        }
    }
}
