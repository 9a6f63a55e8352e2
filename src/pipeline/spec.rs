//! Pipelines as written and as checked: the TOML of `pipelines/*.toml` ([`PipelineFile`],
//! [`StepDef`]), the checked [`Pipeline`] and its [`Step`]s, and where named pipelines come
//! from ([`Definitions`]: the [`EMBEDDED`] files the binary carries, or a directory).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::PipelineError;

/// A pipeline file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub steps: Vec<StepDef>,
    /// Whether the keys of a join's smaller side filter the scans of its other side
    /// (DataFusion's join "dynamic filters"). Worth it when the steps read a small part of the
    /// census (the assessment's sample counties); wasted work, a hash lookup per row, when
    /// nearly every row finds its match. Speed only: the results are the same.
    #[serde(default = "yes")]
    pub join_filters_in_scans: bool,
}

fn yes() -> bool {
    true
}

/// One step as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    pub name: String,
    /// SQL file, relative to `queries/`.
    #[serde(default)]
    pub sql: Option<String>,
    /// A built-in step instead of SQL.
    #[serde(default)]
    pub builtin: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Compute once and keep the result (for small results used several times).
    #[serde(default)]
    pub materialize: bool,
    /// Write the result as an output table.
    #[serde(default)]
    pub output: bool,
    /// The step's rows are the union of its rows over each province's data alone: every code
    /// it groups or joins on begins with the province's code (rule `code.province`), so a
    /// province's rows only meet its own. When the census is too large for hash joins, the
    /// step then runs a province at a time in code order (hash joins where the whole snapshot
    /// would need sort-merge joins that spill), its rows the provinces' rows one after
    /// another. Speed only: the rows are the same.
    #[serde(default)]
    pub by_province: bool,
    #[serde(default)]
    pub description: Option<String>,
}

/// Built-in steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    UnpivotIndicators,
}

impl Builtin {
    pub(super) fn parse(s: &str) -> Option<Builtin> {
        (s == "unpivot_indicators").then_some(Builtin::UnpivotIndicators)
    }
}

/// What a step computes.
#[derive(Debug, Clone)]
pub enum StepKind {
    Sql { file: String, text: String },
    Builtin(Builtin),
}

/// A checked step, ready to run.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub kind: StepKind,
    pub depends_on: Vec<String>,
    pub materialize: bool,
    pub output: bool,
    /// [`StepDef::by_province`].
    pub by_province: bool,
}

/// A checked pipeline: steps in an order that runs every dependency first.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub path: PathBuf,
    pub name: String,
    pub parameters: BTreeMap<String, String>,
    pub steps: Vec<Step>,
    /// [`PipelineFile::join_filters_in_scans`].
    pub join_filters_in_scans: bool,
}

impl Pipeline {
    /// Whether a step's SQL reads a department register (`register_<file stem>`).
    pub fn reads_registers(&self) -> bool {
        self.steps.iter().any(Step::reads_registers)
    }

    /// The steps `step` reads, directly or through others, in the order they run.
    pub fn steps_read(&self, step: &Step) -> Vec<&Step> {
        steps_read(&self.steps, step)
    }

    /// The table steps (materialized or output SQL) that read `view` directly.
    pub fn readers_of(&self, view: &Step) -> Vec<&Step> {
        self.steps
            .iter()
            .filter(|s| matches!(s.kind, StepKind::Sql { .. }) && !s.is_view())
            .filter(|s| s.depends_on.contains(&view.name))
            .collect()
    }
}

/// The steps of `steps` (in an order that runs every dependency first) that `step` reads,
/// directly or through others, in that order.
pub(super) fn steps_read<'a>(steps: &'a [Step], step: &Step) -> Vec<&'a Step> {
    let mut wanted: std::collections::BTreeSet<&str> =
        step.depends_on.iter().map(String::as_str).collect();
    // Walking the order backwards, a wanted step adds what it reads.
    let mut read = Vec::new();
    for s in steps.iter().rev() {
        if wanted.remove(s.name.as_str()) {
            wanted.extend(s.depends_on.iter().map(String::as_str));
            read.push(s);
        }
    }
    read.reverse();
    read
}

impl Step {
    /// Whether its SQL reads a department register (`register_<file stem>`).
    pub fn reads_registers(&self) -> bool {
        match &self.kind {
            StepKind::Sql { text, .. } => crate::contract::registers::Register::ALL
                .iter()
                .any(|r| text.contains(r.table_name())),
            StepKind::Builtin(_) => false,
        }
    }

    /// A view: SQL that is neither kept nor written, computed where it is read.
    pub fn is_view(&self) -> bool {
        matches!(self.kind, StepKind::Sql { .. }) && !self.materialize && !self.output
    }
}

/// The pipelines and their SQL that the binary carries (`pipelines/`, `queries/`), so that
/// `povcensus run census` and `povcensus report` need no checkout and work from any directory.
/// The extract's SQL is carried here too, filled with the census pipeline's parameters
/// ([`Pipeline::embedded_sql`]). (The ingest checks carry their own SQL the same way.)
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "pipelines/census.toml",
        include_str!("../../pipelines/census.toml"),
    ),
    (
        "pipelines/exit_assessment.toml",
        include_str!("../../pipelines/exit_assessment.toml"),
    ),
    (
        "pipelines/matching.toml",
        include_str!("../../pipelines/matching.toml"),
    ),
    (
        "queries/matching/assistance_recipients.sql",
        include_str!("../../queries/matching/assistance_recipients.sql"),
    ),
    (
        "queries/matching/business.sql",
        include_str!("../../queries/matching/business.sql"),
    ),
    (
        "queries/matching/census_households.sql",
        include_str!("../../queries/matching/census_households.sql"),
    ),
    (
        "queries/matching/census_members.sql",
        include_str!("../../queries/matching/census_members.sql"),
    ),
    (
        "queries/matching/county_household_bases.sql",
        include_str!("../../queries/matching/county_household_bases.sql"),
    ),
    (
        "queries/matching/county_person_bases.sql",
        include_str!("../../queries/matching/county_person_bases.sql"),
    ),
    (
        "queries/matching/county_recipient_bases.sql",
        include_str!("../../queries/matching/county_recipient_bases.sql"),
    ),
    (
        "queries/matching/county_sums.sql",
        include_str!("../../queries/matching/county_sums.sql"),
    ),
    (
        "queries/matching/deceased.sql",
        include_str!("../../queries/matching/deceased.sql"),
    ),
    (
        "queries/matching/disability.sql",
        include_str!("../../queries/matching/disability.sql"),
    ),
    (
        "queries/matching/housing.sql",
        include_str!("../../queries/matching/housing.sql"),
    ),
    (
        "queries/matching/match_findings.sql",
        include_str!("../../queries/matching/match_findings.sql"),
    ),
    (
        "queries/matching/match_rules.sql",
        include_str!("../../queries/matching/match_rules.sql"),
    ),
    (
        "queries/matching/match_summary.sql",
        include_str!("../../queries/matching/match_summary.sql"),
    ),
    (
        "queries/matching/medical_insurance.sql",
        include_str!("../../queries/matching/medical_insurance.sql"),
    ),
    (
        "queries/matching/missed_assistance.sql",
        include_str!("../../queries/matching/missed_assistance.sql"),
    ),
    (
        "queries/matching/public_employee.sql",
        include_str!("../../queries/matching/public_employee.sql"),
    ),
    (
        "queries/matching/register_coverage.sql",
        include_str!("../../queries/matching/register_coverage.sql"),
    ),
    (
        "queries/matching/schooling.sql",
        include_str!("../../queries/matching/schooling.sql"),
    ),
    (
        "queries/matching/urban_property.sql",
        include_str!("../../queries/matching/urban_property.sql"),
    ),
    (
        "queries/matching/vehicle.sql",
        include_str!("../../queries/matching/vehicle.sql"),
    ),
    (
        "queries/assessment/county_frame.sql",
        include_str!("../../queries/assessment/county_frame.sql"),
    ),
    (
        "queries/assessment/design.sql",
        include_str!("../../queries/assessment/design.sql"),
    ),
    (
        "queries/assessment/exit_assessment.sql",
        include_str!("../../queries/assessment/exit_assessment.sql"),
    ),
    (
        "queries/assessment/followup.sql",
        include_str!("../../queries/assessment/followup.sql"),
    ),
    (
        "queries/assessment/psu_totals.sql",
        include_str!("../../queries/assessment/psu_totals.sql"),
    ),
    (
        "queries/extract/households.sql",
        include_str!("../../queries/extract/households.sql"),
    ),
    (
        "queries/extract/persons.sql",
        include_str!("../../queries/extract/persons.sql"),
    ),
    (
        "queries/extract/published_counts.sql",
        include_str!("../../queries/extract/published_counts.sql"),
    ),
    (
        "queries/census/county_facility_sums.sql",
        include_str!("../../queries/census/county_facility_sums.sql"),
    ),
    (
        "queries/census/county_household_sums.sql",
        include_str!("../../queries/census/county_household_sums.sql"),
    ),
    (
        "queries/census/county_person_sums.sql",
        include_str!("../../queries/census/county_person_sums.sql"),
    ),
    (
        "queries/census/county_township_sums.sql",
        include_str!("../../queries/census/county_township_sums.sql"),
    ),
    (
        "queries/census/county_village_sums.sql",
        include_str!("../../queries/census/county_village_sums.sql"),
    ),
    (
        "queries/census/household_facts.sql",
        include_str!("../../queries/census/household_facts.sql"),
    ),
    (
        "queries/census/indicators.sql",
        include_str!("../../queries/census/indicators.sql"),
    ),
    (
        "queries/census/person_ages.sql",
        include_str!("../../queries/census/person_ages.sql"),
    ),
    (
        "queries/census/village_exit.sql",
        include_str!("../../queries/census/village_exit.sql"),
    ),
];

/// Where named pipelines come from: the ones the binary carries, or a directory of
/// customised copies (`--pipelines DIR`, with their SQL in `DIR/../queries/`).
#[derive(Debug, Clone, Default)]
pub enum Definitions {
    #[default]
    Embedded,
    Dir(PathBuf),
}

impl Definitions {
    pub fn new(dir: Option<&Path>) -> Definitions {
        dir.map_or(Definitions::Embedded, |d| Definitions::Dir(d.to_path_buf()))
    }

    /// The names of the pipelines available, sorted.
    pub fn names(&self) -> Result<Vec<String>, PipelineError> {
        let mut names: Vec<String> = match self {
            Definitions::Embedded => EMBEDDED
                .iter()
                .filter_map(|(p, _)| p.strip_prefix("pipelines/")?.strip_suffix(".toml"))
                .map(str::to_string)
                .collect(),
            Definitions::Dir(dir) => std::fs::read_dir(dir)
                .map_err(|source| PipelineError::Read {
                    path: dir.display().to_string(),
                    source,
                })?
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".toml").map(str::to_string)
                })
                .collect(),
        };
        names.sort();
        Ok(names)
    }
}

/// The text of a file the binary carries, by its path in the checkout (`queries/census/…`).
pub fn embedded(rel: &str) -> Option<&'static str> {
    EMBEDDED.iter().find(|(p, _)| *p == rel).map(|(_, t)| *t)
}
