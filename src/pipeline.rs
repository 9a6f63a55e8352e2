//! Pipelines: declared in `pipelines/*.toml` (named steps, SQL files from `queries/`,
//! parameters, dependencies, outputs), read into plain structs, checked as a whole before
//! anything runs (every problem reported at once, with the file and key), then run on
//! DataFusion over one warehouse snapshot. Outputs are written as `OUT/<table>.parquet` and
//! `OUT/<table>.csv` (UTF-8 with BOM), with a run manifest that records what was read.
//!
//! A step is SQL (a view, or a table when `materialize` or `output` is set) or a built-in
//! step for what SQL cannot say plainly; the one built-in, `unpivot_indicators`, turns the
//! `<indicator>__num` / `<indicator>__den` columns of county sums into rows.

use crate::output::{OutputFile, StagedDir, write_output};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal256Builder, Int32Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::contract::reference::Reference;
use crate::engine::{EngineConfig, session};
use crate::warehouse::{Snapshot, Warehouse, WarehouseError};

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
    #[serde(default)]
    pub description: Option<String>,
}

/// Built-in steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    UnpivotIndicators,
}

impl Builtin {
    fn parse(s: &str) -> Option<Builtin> {
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
}

/// A checked pipeline: steps in an order that runs every dependency first.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub path: PathBuf,
    pub name: String,
    pub parameters: BTreeMap<String, String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{} has {} problem(s):\n  - {}", .path, .problems.len(), .problems.join("\n  - "))]
    Invalid { path: String, problems: Vec<String> },
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error("step `{step}`: {source}")]
    Step {
        step: String,
        source: datafusion::error::DataFusionError,
    },
    /// A step failed while it ran: the step, its SQL file (or built-in), the engine's message and, for
    /// arithmetic overflows, the loaded values that are large enough to cause it (table,
    /// column, province).
    #[error("{}", step_failure_text(.step, .file, .message, .suspects))]
    StepFailed {
        step: String,
        file: String,
        message: String,
        suspects: Vec<String>,
    },
    #[error("there is no pipeline `{name}` (there are: {})", .available.join(", "))]
    Unknown {
        name: String,
        available: Vec<String>,
    },
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn step_failure_text(step: &str, file: &str, message: &str, suspects: &[String]) -> String {
    let mut s = format!("step `{step}` ({file}) failed: {message}");
    if !suspects.is_empty() {
        s.push_str("\n  loaded values large enough to overflow the exact sums:\n    - ");
        s.push_str(&suspects.join("\n    - "));
    }
    s
}

/// Loaded values at or beyond this magnitude are named when a step overflows: no census
/// quantity (yuan, weights) comes near it.
const SUSPECT_MAGNITUDE: f64 = 1e12;

/// The error of a step that failed (`what`: its SQL file or built-in). For an arithmetic
/// overflow (or a value too large for a decimal), the float columns of the
/// warehouse tables are searched for the values that can cause it, per province.
async fn step_failure(
    ctx: &datafusion::prelude::SessionContext,
    step: &Step,
    what: &str,
    e: datafusion::error::DataFusionError,
) -> PipelineError {
    let message = e.to_string();
    let mut suspects = Vec::new();
    let lower = message.to_ascii_lowercase();
    let arithmetic = ["overflow", "too large", "decimal"]
        .iter()
        .any(|w| lower.contains(w));
    if arithmetic {
        for t in crate::contract::schema::Table::ALL {
            let schema = crate::contract::schema::arrow_schema(t);
            for f in schema.fields() {
                if f.data_type() != &DataType::Float64 {
                    continue;
                }
                let sql = format!(
                    "SELECT province_code, MAX(ABS(\"{c}\")) AS m, \
                     SUM(CASE WHEN isnan(\"{c}\") THEN 1 ELSE 0 END) AS nans \
                     FROM \"{t}\" GROUP BY province_code ORDER BY province_code",
                    c = f.name(),
                    t = t.name()
                );
                let Ok(df) = ctx.sql(&sql).await else {
                    continue;
                };
                let Ok(batches) = df.collect().await else {
                    continue;
                };
                for b in &batches {
                    let (Ok(p), Ok(m), Ok(n)) = (
                        crate::engine::utf8(b.column(0).as_ref()),
                        crate::engine::float64(b.column(1).as_ref()),
                        crate::engine::int64(b.column(2).as_ref()),
                    ) else {
                        continue;
                    };
                    for i in 0..b.num_rows() {
                        let big = m.is_valid(i)
                            && (!m.value(i).is_finite() || m.value(i) >= SUSPECT_MAGNITUDE);
                        let nan = n.is_valid(i) && n.value(i) > 0;
                        if big || nan {
                            suspects.push(format!(
                                "table {}, column {}, province {}: {}",
                                t.name(),
                                f.name(),
                                p.value(i),
                                if big {
                                    format!("|value| up to {:e}", m.value(i))
                                } else {
                                    "NaN".to_string()
                                }
                            ));
                        }
                    }
                }
            }
        }
    }
    PipelineError::StepFailed {
        step: step.name.clone(),
        file: what.to_string(),
        message,
        suspects,
    }
}

/// Run a pipeline into `out` as a whole: the outputs are written beside it and moved into
/// place only when every step succeeded (see [`StagedDir`]).
pub async fn run_into(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    snapshot: Option<&Snapshot>,
    out: &Path,
    engine: &EngineConfig,
) -> Result<RunManifest, PipelineError> {
    let staged = StagedDir::new(out, "run_manifest.json")?;
    let manifest = run(pipeline, warehouse, snapshot, staged.path(), engine).await?;
    staged.commit()?;
    Ok(manifest)
}

/// Whether a table name is provided to every pipeline: a warehouse table, `rejects`, or a
/// reference table.
fn provided(name: &str) -> bool {
    crate::contract::schema::Table::ALL
        .iter()
        .any(|t| t.name() == name)
        || name == "rejects"
        || name == "ref_provinces"
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `${name}` placeholders of a text.
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    // reason for the slicing below: the indices are those of ASCII characters just found.
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) => {
                out.insert(after[..j].to_string());
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// Whether `sql` mentions `word` as a whole identifier (outside comments).
fn mentions(sql: &str, word: &str) -> bool {
    let code: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    code.match_indices(word).any(|(i, _)| {
        let before = i == 0 || !is_ident(bytes[i - 1]);
        let end = i + word.len();
        let after = end >= bytes.len() || !is_ident(bytes[end]);
        before && after
    })
}

/// Render a parameter value as SQL text. Strings must not contain quotes or semicolons.
fn render_parameter(v: &toml::Value) -> Result<String, String> {
    match v {
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) if f.is_finite() => Ok(format!("{f:?}")),
        toml::Value::String(s) if !s.contains(['\'', ';', '\\', '\n']) => Ok(s.clone()),
        toml::Value::String(_) => {
            Err("a string parameter may not contain quotes, semicolons or line breaks".into())
        }
        _ => Err("a parameter must be a number or a string".into()),
    }
}

/// The pipelines and their SQL that the binary carries (`pipelines/`, `queries/`), so that
/// `povcensus run census` and `povcensus report` need no checkout and work from any directory.
/// (The ingest checks and the extract carry their own SQL the same way.)
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "pipelines/census.toml",
        include_str!("../pipelines/census.toml"),
    ),
    (
        "pipelines/exit_assessment.toml",
        include_str!("../pipelines/exit_assessment.toml"),
    ),
    (
        "queries/assessment/county_frame.sql",
        include_str!("../queries/assessment/county_frame.sql"),
    ),
    (
        "queries/assessment/design.sql",
        include_str!("../queries/assessment/design.sql"),
    ),
    (
        "queries/assessment/exit_assessment.sql",
        include_str!("../queries/assessment/exit_assessment.sql"),
    ),
    (
        "queries/assessment/followup.sql",
        include_str!("../queries/assessment/followup.sql"),
    ),
    (
        "queries/assessment/psu_totals.sql",
        include_str!("../queries/assessment/psu_totals.sql"),
    ),
    (
        "queries/census/county_facility_sums.sql",
        include_str!("../queries/census/county_facility_sums.sql"),
    ),
    (
        "queries/census/county_household_sums.sql",
        include_str!("../queries/census/county_household_sums.sql"),
    ),
    (
        "queries/census/county_person_sums.sql",
        include_str!("../queries/census/county_person_sums.sql"),
    ),
    (
        "queries/census/county_township_sums.sql",
        include_str!("../queries/census/county_township_sums.sql"),
    ),
    (
        "queries/census/county_village_sums.sql",
        include_str!("../queries/census/county_village_sums.sql"),
    ),
    (
        "queries/census/household_facts.sql",
        include_str!("../queries/census/household_facts.sql"),
    ),
    (
        "queries/census/indicators.sql",
        include_str!("../queries/census/indicators.sql"),
    ),
    (
        "queries/census/person_ages.sql",
        include_str!("../queries/census/person_ages.sql"),
    ),
    (
        "queries/census/village_exit.sql",
        include_str!("../queries/census/village_exit.sql"),
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

impl Pipeline {
    /// A pipeline by name (`census`) from `defs`, or by path (`pipelines/census.toml`: any
    /// argument with a `/` or ending in `.toml`, its SQL in `queries/` beside its directory).
    pub fn resolve(
        arg: &str,
        defs: &Definitions,
        overrides: &[(String, String)],
    ) -> Result<Pipeline, PipelineError> {
        if arg.ends_with(".toml") || arg.contains('/') {
            return Pipeline::load(Path::new(arg), overrides);
        }
        match defs {
            Definitions::Dir(dir) => {
                let path = dir.join(format!("{arg}.toml"));
                if !path.is_file() {
                    return Err(PipelineError::Unknown {
                        name: arg.to_string(),
                        available: defs.names()?,
                    });
                }
                Pipeline::load(&path, overrides)
            }
            Definitions::Embedded => {
                let rel = format!("pipelines/{arg}.toml");
                let embedded =
                    |rel: &str| EMBEDDED.iter().find(|(p, _)| *p == rel).map(|(_, t)| *t);
                let Some(text) = embedded(&rel) else {
                    return Err(PipelineError::Unknown {
                        name: arg.to_string(),
                        available: defs.names()?,
                    });
                };
                let invalid = |problems: Vec<String>| PipelineError::Invalid {
                    path: format!("{rel} (built in)"),
                    problems,
                };
                let file: PipelineFile =
                    toml::from_str(text).map_err(|e| invalid(vec![e.to_string()]))?;
                let read = |sql: &str| {
                    embedded(&format!("queries/{sql}"))
                        .map(str::to_string)
                        .ok_or_else(|| format!("no built-in SQL file queries/{sql}"))
                };
                Pipeline::check_with(Path::new(&rel), file, &read, overrides).map_err(invalid)
            }
        }
    }

    /// Read and check a pipeline file; SQL files are looked up in `queries/` beside the
    /// pipeline's directory. `overrides` replace declared parameters (`name=value`).
    pub fn load(path: &Path, overrides: &[(String, String)]) -> Result<Pipeline, PipelineError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
            path: shown.clone(),
            source,
        })?;
        let invalid = |problems: Vec<String>| PipelineError::Invalid {
            path: shown.clone(),
            problems,
        };
        let file: PipelineFile = toml::from_str(&text).map_err(|e| invalid(vec![e.to_string()]))?;
        let queries = path
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."))
            .join("queries");
        Pipeline::check(path, file, &queries, overrides).map_err(invalid)
    }

    /// The validation pass over a pipeline whose SQL files are in the directory `queries`.
    pub fn check(
        path: &Path,
        file: PipelineFile,
        queries: &Path,
        overrides: &[(String, String)],
    ) -> Result<Pipeline, Vec<String>> {
        let read = |sql: &str| {
            let p = queries.join(sql);
            std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        Pipeline::check_with(path, file, &read, overrides)
    }

    /// The validation pass: every problem, at once. `read_sql` gives the text of a SQL file
    /// named relative to `queries/`.
    pub fn check_with(
        path: &Path,
        file: PipelineFile,
        read_sql: &dyn Fn(&str) -> Result<String, String>,
        overrides: &[(String, String)],
    ) -> Result<Pipeline, Vec<String>> {
        let mut problems = Vec::new();
        if !is_identifier(&file.name) {
            problems.push(format!(
                "name: `{}` is not a lower-case identifier",
                file.name
            ));
        }
        let mut parameters = BTreeMap::new();
        for (k, v) in &file.parameters {
            match render_parameter(v) {
                Ok(s) => {
                    parameters.insert(k.clone(), s);
                }
                Err(e) => problems.push(format!("parameters.{k}: {e}")),
            }
        }
        for (k, v) in overrides {
            match file.parameters.get(k) {
                None => problems.push(format!("--param {k}: the pipeline has no parameter `{k}`")),
                Some(declared) => {
                    let value = match declared {
                        toml::Value::Integer(_) => v
                            .parse::<i64>()
                            .map(toml::Value::Integer)
                            .map_err(|e| e.to_string()),
                        toml::Value::Float(_) => v
                            .parse::<f64>()
                            .map(toml::Value::Float)
                            .map_err(|e| e.to_string()),
                        _ => Ok(toml::Value::String(v.clone())),
                    };
                    match value.and_then(|v| render_parameter(&v)) {
                        Ok(s) => {
                            parameters.insert(k.clone(), s);
                        }
                        Err(e) => problems.push(format!("--param {k}={v}: {e}")),
                    }
                }
            }
        }
        if file.steps.is_empty() {
            problems.push("steps: the pipeline has no step".into());
        }
        let names: Vec<&str> = file.steps.iter().map(|s| s.name.as_str()).collect();
        let mut seen = BTreeSet::new();
        let mut used_parameters = BTreeSet::new();
        let mut steps = Vec::new();
        for (i, s) in file.steps.iter().enumerate() {
            let at = format!("steps[{i}] (`{}`)", s.name);
            if !is_identifier(&s.name) {
                problems.push(format!("{at}.name: not a lower-case identifier"));
            }
            if !seen.insert(s.name.as_str()) {
                problems.push(format!("{at}.name: another step has the same name"));
            }
            if provided(&s.name) {
                problems.push(format!(
                    "{at}.name: `{}` is a warehouse or reference table",
                    s.name
                ));
            }
            for d in &s.depends_on {
                if d == &s.name {
                    problems.push(format!("{at}.depends_on: the step depends on itself"));
                } else if !names.contains(&d.as_str()) {
                    problems.push(format!("{at}.depends_on: no step is named `{d}`"));
                }
            }
            let kind = match (&s.sql, &s.builtin) {
                (Some(sql), None) => match read_sql(sql) {
                    Ok(text) => {
                        for ph in placeholders(&text) {
                            if !parameters.contains_key(&ph) && !file.parameters.contains_key(&ph) {
                                problems.push(format!(
                                    "{at}.sql: {sql} uses ${{{ph}}}, which is not a parameter"
                                ));
                            }
                            used_parameters.insert(ph);
                        }
                        for other in &names {
                            if *other != s.name
                                && mentions(&text, other)
                                && !s.depends_on.iter().any(|d| d == other)
                            {
                                problems.push(format!("{at}.depends_on: {sql} reads step `{other}`, which is not in depends_on"));
                            }
                        }
                        Some(StepKind::Sql {
                            file: sql.clone(),
                            text,
                        })
                    }
                    Err(e) => {
                        problems.push(format!("{at}.sql: {e}"));
                        None
                    }
                },
                (None, Some(b)) => {
                    match Builtin::parse(b) {
                        Some(b) => {
                            if s.depends_on.is_empty() {
                                problems.push(format!("{at}.depends_on: a built-in step needs its inputs in depends_on"));
                            }
                            Some(StepKind::Builtin(b))
                        }
                        None => {
                            problems.push(format!(
                                "{at}.builtin: unknown built-in `{b}` (known: unpivot_indicators)"
                            ));
                            None
                        }
                    }
                }
                (Some(_), Some(_)) => {
                    problems.push(format!("{at}: give either sql or builtin, not both"));
                    None
                }
                (None, None) => {
                    problems.push(format!("{at}: give sql (a file in queries/) or builtin"));
                    None
                }
            };
            if let Some(kind) = kind {
                steps.push(Step {
                    name: s.name.clone(),
                    kind,
                    depends_on: s.depends_on.clone(),
                    materialize: s.materialize,
                    output: s.output,
                });
            }
        }
        if !file.steps.iter().any(|s| s.output) {
            problems.push("steps: no step has output = true".into());
        }
        for k in file.parameters.keys() {
            if !used_parameters.contains(k) {
                problems.push(format!("parameters.{k}: not used by any step"));
            }
        }
        // Order: dependencies first, otherwise as written; a cycle is a problem.
        let mut ordered: Vec<Step> = Vec::new();
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut pending = steps;
        while !pending.is_empty() {
            let ready = pending.iter().position(|s| {
                s.depends_on
                    .iter()
                    .all(|d| done.contains(d) || !names.contains(&d.as_str()))
            });
            match ready {
                Some(i) => {
                    let s = pending.remove(i);
                    done.insert(s.name.clone());
                    ordered.push(s);
                }
                None => {
                    let cycle: Vec<&str> = pending.iter().map(|s| s.name.as_str()).collect();
                    problems.push(format!(
                        "depends_on: these steps depend on each other in a cycle: {}",
                        cycle.join(", ")
                    ));
                    break;
                }
            }
        }
        if problems.is_empty() {
            Ok(Pipeline {
                path: path.to_path_buf(),
                name: file.name,
                parameters,
                steps: ordered,
            })
        } else {
            Err(problems)
        }
    }

    /// The SQL of a step with its parameters filled in.
    fn sql_of(&self, text: &str) -> String {
        crate::engine::fill(
            text,
            self.parameters
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }
}

/// The `ref_provinces` table: the 22 census provinces with region and exit threshold.
pub fn ref_provinces() -> Result<RecordBatch, arrow::error::ArrowError> {
    let r = Reference::get();
    let mut code = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut region = StringBuilder::new();
    let mut threshold = arrow::array::Float64Builder::new();
    let mut counties = arrow::array::Int32Builder::new();
    for p in &r.provinces {
        code.append_value(p.code);
        name.append_value(p.name);
        region.append_value(p.region.as_str());
        threshold.append_value(p.exit_threshold_pct);
        counties.append_value(p.national_poverty_counties as i32);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("province_code", DataType::Utf8, false),
        Field::new("province_name", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("exit_threshold_pct", DataType::Float64, false),
        Field::new("national_poverty_counties", DataType::Int32, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(code.finish()),
            Arc::new(name.finish()),
            Arc::new(region.finish()),
            Arc::new(threshold.finish()),
            Arc::new(counties.finish()),
        ],
    )
}

const SUM_PRECISION: u8 = 76;
const SUM_SCALE: i8 = 6;
/// Decimal type of unpivoted sums: exact for counts and for yuan with cents, 76 digits (the
/// county sums of incomes come in 38-digit decimals and are multiplied by weights later).
pub const SUM_TYPE: DataType = DataType::Decimal256(SUM_PRECISION, SUM_SCALE);

fn county_sums_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("county_code", DataType::Utf8, false),
        Field::new("indicator_id", DataType::Utf8, false),
        Field::new("indicator_order", DataType::Int32, false),
        Field::new("numerator", SUM_TYPE, false),
        Field::new("denominator", SUM_TYPE, false),
    ]))
}

/// The `unpivot_indicators` built-in: rows of (county_code, indicator_id, indicator_order,
/// numerator, denominator) from the `<id>__num` / `<id>__den` columns of the inputs, in
/// column order.
pub fn unpivot_indicators(
    inputs: &[(String, SchemaRef, Vec<RecordBatch>)],
) -> Result<RecordBatch, String> {
    let mut county = StringBuilder::new();
    let mut id = StringBuilder::new();
    let mut order = Int32Builder::new();
    let mut num = Decimal256Builder::new();
    let mut den = Decimal256Builder::new();
    let mut next_order = 0i32;
    let mut seen: HashMap<String, String> = HashMap::new();
    for (name, schema, batches) in inputs {
        let mut pairs = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if let Some(ind) = f.name().strip_suffix("__num") {
                let d = schema
                    .index_of(&format!("{ind}__den"))
                    .map_err(|_| format!("step `{name}`: column {ind}__num has no {ind}__den"))?;
                if let Some(other) = seen.insert(ind.to_string(), name.clone()) {
                    return Err(format!(
                        "indicator `{ind}` is computed by both `{other}` and `{name}`"
                    ));
                }
                pairs.push((ind.to_string(), i, d, next_order));
                next_order += 1;
            } else if !f.name().ends_with("__den") && f.name() != "county_code" {
                return Err(format!(
                    "step `{name}`: column `{}` is neither county_code nor <id>__num/__den",
                    f.name()
                ));
            }
        }
        let county_col = schema
            .index_of("county_code")
            .map_err(|_| format!("step `{name}` has no county_code"))?;
        for b in batches {
            let counties = arrow::compute::cast(b.column(county_col), &DataType::Utf8)
                .map_err(|e| e.to_string())?;
            let counties = counties.as_string::<i32>();
            for (ind, ni, di, ord) in &pairs {
                let to_sum = |c: &ArrayRef| -> Result<ArrayRef, String> {
                    arrow::compute::cast(c, &SUM_TYPE).map_err(|e| format!("{ind}: {e}"))
                };
                let n = to_sum(b.column(*ni))?;
                let d = to_sum(b.column(*di))?;
                let (n, d) = (
                    n.as_primitive::<arrow::datatypes::Decimal256Type>(),
                    d.as_primitive::<arrow::datatypes::Decimal256Type>(),
                );
                for r in 0..b.num_rows() {
                    county.append_value(counties.value(r));
                    id.append_value(ind);
                    order.append_value(*ord);
                    let zero = arrow::datatypes::i256::ZERO;
                    num.append_value(if n.is_null(r) { zero } else { n.value(r) });
                    den.append_value(if d.is_null(r) { zero } else { d.value(r) });
                }
            }
        }
    }
    let (p, s) = (SUM_PRECISION, SUM_SCALE);
    RecordBatch::try_new(
        county_sums_schema(),
        vec![
            Arc::new(county.finish()),
            Arc::new(id.finish()),
            Arc::new(order.finish()),
            Arc::new(
                num.finish()
                    .with_precision_and_scale(p, s)
                    .map_err(|e| e.to_string())?,
            ),
            Arc::new(
                den.finish()
                    .with_precision_and_scale(p, s)
                    .map_err(|e| e.to_string())?,
            ),
        ],
    )
    .map_err(|e| e.to_string())
}

/// What a run read and wrote (`OUT/run_manifest.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    pub pipeline: String,
    pub pipeline_sha256: String,
    pub tool: String,
    pub warehouse: String,
    pub snapshot: Option<u64>,
    /// Province code → (version, submission_id, content_sha256) read.
    pub provinces: BTreeMap<String, (u32, String, String)>,
    pub parameters: BTreeMap<String, String>,
    /// SQL file → SHA-256.
    pub queries: BTreeMap<String, String>,
    pub outputs: Vec<OutputFile>,
}

/// The schema of a step's result: its batches' (which may differ from the plan's in details
/// such as nullability), or the plan's when there is no batch, so that a result without rows
/// keeps its columns.
fn batches_schema(batches: &[RecordBatch], planned: SchemaRef) -> SchemaRef {
    batches.first().map_or(planned, RecordBatch::schema)
}

/// Run a pipeline over a warehouse snapshot and write its outputs into `out`.
pub async fn run(
    pipeline: &Pipeline,
    warehouse: &Warehouse,
    snapshot: Option<&Snapshot>,
    out: &Path,
    engine: &EngineConfig,
) -> Result<RunManifest, PipelineError> {
    let persons: u64 = snapshot.map_or(0, |s| s.rows("persons"));
    let engine = engine.clone().for_rows(persons);
    let ctx = session(&engine).map_err(|source| PipelineError::Step {
        step: "session".into(),
        source,
    })?;
    // The estimators' SQL functions (survey_variance, t_quantile) for the assessment steps.
    crate::assessment::register(&ctx);
    warehouse.register(&ctx, snapshot)?;
    let step_err = |step: &str| {
        let step = step.to_string();
        move |source| PipelineError::Step { step, source }
    };
    let refs = ref_provinces().map_err(|e| step_err("ref_provinces")(e.into()))?;
    ctx.register_table(
        "ref_provinces",
        Arc::new(
            MemTable::try_new(refs.schema(), vec![vec![refs]])
                .map_err(step_err("ref_provinces"))?,
        ),
    )
    .map_err(step_err("ref_provinces"))?;
    std::fs::create_dir_all(out).map_err(|e| PipelineError::Write {
        path: out.display().to_string(),
        source: e.into(),
    })?;

    let mut results: BTreeMap<String, (SchemaRef, Vec<RecordBatch>)> = BTreeMap::new();
    let mut outputs = Vec::new();
    let mut queries = BTreeMap::new();
    for step in &pipeline.steps {
        let start = std::time::Instant::now();
        let batches: Option<(SchemaRef, Vec<RecordBatch>)> = match &step.kind {
            StepKind::Sql { file, text } => {
                queries.insert(file.clone(), hex::encode(Sha256::digest(text.as_bytes())));
                let df = match ctx.sql(&pipeline.sql_of(text)).await {
                    Ok(df) => df,
                    Err(e) => {
                        return Err(step_failure(&ctx, step, &format!("queries/{file}"), e).await);
                    }
                };
                if step.materialize || step.output {
                    // The plan's schema, not the first batch's: a result without rows keeps
                    // its columns (for later steps and for the output files).
                    let planned: SchemaRef = Arc::new(df.schema().as_arrow().clone());
                    match df.collect().await {
                        Ok(b) => Some((batches_schema(&b, planned), b)),
                        Err(e) => {
                            return Err(
                                step_failure(&ctx, step, &format!("queries/{file}"), e).await
                            );
                        }
                    }
                } else {
                    ctx.register_table(step.name.as_str(), df.into_view())
                        .map_err(step_err(&step.name))?;
                    None
                }
            }
            StepKind::Builtin(Builtin::UnpivotIndicators) => {
                let mut inputs = Vec::new();
                for d in &step.depends_on {
                    let b = match results.get(d) {
                        Some(b) => b.clone(),
                        None => {
                            let df = ctx.table(d.as_str()).await.map_err(step_err(&step.name))?;
                            let planned: SchemaRef = Arc::new(df.schema().as_arrow().clone());
                            let b = df.collect().await.map_err(step_err(&step.name))?;
                            (batches_schema(&b, planned), b)
                        }
                    };
                    inputs.push((d.clone(), b.0, b.1));
                }
                match unpivot_indicators(&inputs) {
                    Ok(batch) => Some((batch.schema(), vec![batch])),
                    Err(e) => {
                        let e = datafusion::error::DataFusionError::Plan(e);
                        return Err(
                            step_failure(&ctx, step, "built-in unpivot_indicators", e).await
                        );
                    }
                }
            }
        };
        if let Some((schema, batches)) = batches {
            let table = MemTable::try_new(Arc::clone(&schema), vec![batches.clone()])
                .map_err(step_err(&step.name))?;
            ctx.register_table(step.name.as_str(), Arc::new(table))
                .map_err(step_err(&step.name))?;
            if step.output {
                outputs.extend(write_output(
                    out,
                    &step.name,
                    Arc::clone(&schema),
                    &batches,
                )?);
            }
            results.insert(step.name.clone(), (schema, batches));
        }
        tracing::info!(step = %step.name, seconds = format!("{:.2}", start.elapsed().as_secs_f64()), "step done");
    }
    let pipeline_text = std::fs::read(&pipeline.path).unwrap_or_default();
    let manifest = RunManifest {
        pipeline: pipeline.path.display().to_string(),
        pipeline_sha256: hex::encode(Sha256::digest(&pipeline_text)),
        tool: format!("povcensus {}", env!("CARGO_PKG_VERSION")),
        warehouse: warehouse.location.display.clone(),
        snapshot: snapshot.map(|s| s.id),
        provinces: snapshot
            .map(|s| {
                s.provinces
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            (v.version, v.submission_id.clone(), v.content_sha256.clone()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        parameters: pipeline.parameters.clone(),
        queries,
        outputs,
    };
    let path = out.join("run_manifest.json");
    std::fs::write(
        &path,
        // reason: strings, integers and maps of string keys always serialize.
        serde_json::to_string_pretty(&manifest).expect("manifest serializes") + "\n",
    )
    .map_err(|e| PipelineError::Write {
        path: path.display().to_string(),
        source: e.into(),
    })?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(toml_text: &str) -> PipelineFile {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.sql"), "SELECT ${line} AS x FROM b_step").unwrap();
        let f = file(
            r#"
            name = "Bad Name"
            [parameters]
            unused = 1
            [[steps]]
            name = "a"
            sql = "a.sql"
            [[steps]]
            name = "b_step"
            sql = "missing.sql"
            depends_on = ["nope", "b_step"]
            [[steps]]
            name = "c"
            builtin = "magic"
            [[steps]]
            name = "c"
            "#,
        );
        let problems = Pipeline::check(
            Path::new("p.toml"),
            f,
            dir.path(),
            &[("x".into(), "1".into())],
        )
        .unwrap_err();
        let all = problems.join("\n");
        for want in [
            "name: `Bad Name` is not a lower-case identifier",
            "--param x: the pipeline has no parameter `x`",
            "a.sql uses ${line}, which is not a parameter",
            "a.sql reads step `b_step`, which is not in depends_on",
            "steps[1] (`b_step`).sql: cannot read",
            "depends_on: no step is named `nope`",
            "depends_on: the step depends on itself",
            "unknown built-in `magic`",
            "steps[3] (`c`).name: another step has the same name",
            "give sql (a file in queries/) or builtin",
            "no step has output = true",
            "parameters.unused: not used by any step",
        ] {
            assert!(all.contains(want), "missing problem `{want}` in:\n{all}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<PipelineFile>(
            "name = \"x\"\n[[steps]]\nname = \"a\"\nsqll = \"a.sql\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `sqll`"), "{err}");
    }

    #[test]
    fn dependencies_run_first_and_cycles_are_found() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["x", "y", "z"] {
            std::fs::write(dir.path().join(format!("{n}.sql")), "SELECT 1").unwrap();
        }
        let f = file(
            r#"
            name = "ok"
            [[steps]]
            name = "z"
            sql = "z.sql"
            depends_on = ["y"]
            output = true
            [[steps]]
            name = "y"
            sql = "y.sql"
            depends_on = ["x"]
            [[steps]]
            name = "x"
            sql = "x.sql"
            "#,
        );
        let p = Pipeline::check(Path::new("p.toml"), f, dir.path(), &[]).unwrap();
        let order: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(order, ["x", "y", "z"]);
        let f = file(
            r#"
            name = "cyc"
            [[steps]]
            name = "x"
            sql = "x.sql"
            depends_on = ["y"]
            output = true
            [[steps]]
            name = "y"
            sql = "y.sql"
            depends_on = ["x"]
            "#,
        );
        let problems = Pipeline::check(Path::new("p.toml"), f, dir.path(), &[]).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("cycle: x, y")),
            "{problems:?}"
        );
    }

    #[test]
    fn parameters_are_rendered_safely() {
        assert_eq!(
            render_parameter(&toml::Value::Float(4000.0)).unwrap(),
            "4000.0"
        );
        assert_eq!(render_parameter(&toml::Value::Integer(3)).unwrap(), "3");
        assert!(render_parameter(&toml::Value::String("x'; DROP".into())).is_err());
        assert!(mentions("SELECT * FROM county_sums", "county_sums"));
        assert!(!mentions("SELECT * FROM county_sums_x", "county_sums"));
        assert!(!mentions("-- county_sums\nSELECT 1", "county_sums"));
    }

    #[test]
    fn the_shipped_pipelines_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(root.join("pipelines")).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                Pipeline::load(&p, &[]).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}
