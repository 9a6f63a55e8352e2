//! Reports: the human-facing documents of `povcensus report`. It runs the shipped pipelines
//! (census indicators and exit assessment) over one warehouse snapshot into `OUT/data/`, reads
//! their outputs and the warehouse's rejects, and writes:
//!
//! - `index.html`: links to everything below;
//! - `bulletin.html`: the national bulletin (国家脱贫攻坚普查公报 style, Chinese, inline SVG);
//! - `workbook.xlsx`: the statisticians' workbook (national, province and county indicators,
//!   village exits, ingest summary);
//! - `evaluator/`: the exit-assessment summary and one report per assessed county (HTML, XLSX);
//! - `quality/`: one submission-quality report per province (HTML, XLSX);
//! - `matching/`, when the warehouse holds departmental registers: the national data-matching
//!   page and one verification list per county (疑点核查清单, HTML and XLSX), made from the
//!   matching pipeline; the evaluator's county pages then show its rates too. Without
//!   registers nothing of it is written (and the log says so).
//!
//! Documents are deterministic: the same snapshot gives the same bytes, apart from the
//! generation time, which `--generated-at` (or `SOURCE_DATE_EPOCH`) fixes. They never show a
//! name or an ID number: rejected records are named by file, line and column only.

mod bulletin;
mod evaluator;
pub mod labels;
mod matching;
pub(crate) mod quality;
mod workbook;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::engine::{EngineConfig, session};
use crate::output::StagedDir;
use crate::pipeline::{Pipeline, PipelineError};
use crate::warehouse::{Snapshot, Warehouse, WarehouseError};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error("the warehouse {0} has no committed snapshot: ingest submissions first")]
    NoSnapshot(String),
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    #[error("querying the rejects: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("the table {table} has no column `{column}` (was it made by another pipeline?)")]
    MissingColumn { table: String, column: String },
    #[error("the table {table} has {found} columns in a batch, {expected} in its schema")]
    Shape {
        table: String,
        expected: usize,
        found: usize,
    },
    #[error("reading the values of {0}: {1}")]
    Cells(String, arrow::error::ArrowError),
}

/// What `povcensus report` is asked to do.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub warehouse: String,
    pub out: PathBuf,
    /// Directory of the pipeline definitions (`census.toml`, `exit_assessment.toml`).
    pub pipelines: crate::pipeline::Definitions,
    pub as_of: Option<u64>,
    /// Shown on every document, e.g. "2021-02-25 10:00 UTC".
    pub generated_at: String,
    pub engine: EngineConfig,
    /// Who issues the bulletin, when and under which number.
    pub issue: Issue,
}

/// The issuing of the bulletin: its issuing body, date and (optional) number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub issuer: String,
    pub issued_on: chrono::NaiveDate,
    pub number: Option<u32>,
}

/// The documents written.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    pub index: PathBuf,
    pub files: Vec<PathBuf>,
}

/// One value of a table read back from Parquet.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

impl Cell {
    pub fn f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn str(&self) -> &str {
        match self {
            Cell::Str(s) => s,
            _ => "",
        }
    }

    pub fn bool(&self) -> Option<bool> {
        match self {
            Cell::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// As text for a table cell: numbers in full, NULL as empty.
    pub fn text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
            Cell::Str(s) => s.clone(),
            Cell::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        }
    }
}

/// A small table in memory: its name (for messages), column names and rows of cells. Every
/// row has one cell per column.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// The cell of a column a table does not have.
static NULL: Cell = Cell::Null;

impl Table {
    /// A table from record batches of `schema` (its columns even when there is no batch).
    pub fn from_batches(
        name: &str,
        schema: &arrow::datatypes::Schema,
        batches: &[RecordBatch],
    ) -> Result<Table, ReportError> {
        let mut t = Table {
            name: name.to_string(),
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            rows: Vec::new(),
        };
        for b in batches {
            if b.num_columns() != t.columns.len() {
                return Err(ReportError::Shape {
                    table: name.to_string(),
                    expected: t.columns.len(),
                    found: b.num_columns(),
                });
            }
            let cols: Vec<Vec<Cell>> = b
                .columns()
                .iter()
                .map(|c| cells(c).map_err(|e| ReportError::Cells(name.to_string(), e)))
                .collect::<Result<_, _>>()?;
            for r in 0..b.num_rows() {
                // reason: `cells` returns one cell per row of its column.
                t.rows.push(cols.iter().map(|c| c[r].clone()).collect());
            }
        }
        Ok(t)
    }

    pub fn read_parquet(path: &Path) -> Result<Table, ReportError> {
        let err = |e: Box<dyn std::error::Error + Send + Sync>| ReportError::Read {
            path: path.display().to_string(),
            source: e,
        };
        let file = std::fs::File::open(path).map_err(|e| err(e.into()))?;
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| err(e.into()))?;
        let schema = Arc::clone(builder.schema());
        let reader = builder.build().map_err(|e| err(e.into()))?;
        let batches: Vec<RecordBatch> = reader
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.into()))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Table::from_batches(&name, &schema, &batches)
    }

    /// The position of a column; an error naming the table when it has no such column.
    pub fn col(&self, name: &str) -> Result<usize, ReportError> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| ReportError::MissingColumn {
                table: self.name.clone(),
                column: name.to_string(),
            })
    }

    /// Check that the table has these columns (before the documents index its rows).
    pub fn require(&self, names: &[&str]) -> Result<(), ReportError> {
        names.iter().try_for_each(|n| self.col(n).map(|_| ()))
    }

    /// A cell of a row by column name (NULL for a column the table does not have; the
    /// documents check their columns with [`Table::require`] first).
    pub fn get<'a>(&self, row: &'a [Cell], name: &str) -> &'a Cell {
        self.col(name)
            .ok()
            .and_then(|i| row.get(i))
            .unwrap_or(&NULL)
    }
}

fn cells(a: &arrow::array::ArrayRef) -> Result<Vec<Cell>, arrow::error::ArrowError> {
    let n = a.len();
    let cast = |t: &DataType| arrow::compute::cast(a, t);
    Ok(match a.data_type() {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => {
            let c = cast(&DataType::Int64)?;
            let c = c.as_primitive::<Int64Type>();
            (0..n)
                .map(|i| {
                    if c.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Int(c.value(i))
                    }
                })
                .collect()
        }
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::UInt64
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => {
            let c = cast(&DataType::Float64)?;
            let c = c.as_primitive::<Float64Type>();
            (0..n)
                .map(|i| {
                    if c.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Float(c.value(i))
                    }
                })
                .collect()
        }
        DataType::Boolean => {
            let c = a.as_boolean();
            (0..n)
                .map(|i| {
                    if c.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Bool(c.value(i))
                    }
                })
                .collect()
        }
        _ => {
            let c = cast(&DataType::Utf8)?;
            let c = c.as_string::<i32>();
            (0..n)
                .map(|i| {
                    if c.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Str(c.value(i).to_string())
                    }
                })
                .collect()
        }
    })
}

/// Everything the documents are made from.
pub struct Inputs {
    pub snapshot: Snapshot,
    pub warehouse: String,
    pub generated_at: String,
    pub indicators: Table,
    pub village_exit: Table,
    pub assessment: Table,
    pub design: Table,
    pub followup: Table,
    /// Rejected and flagged records: province, file, line, column, rule, severity, message.
    pub rejects: Table,
    /// The run manifests of the pipelines the tables come from (census, exit assessment).
    pub manifests: Vec<crate::pipeline::RunManifest>,
    /// The matching pipeline's outputs, when the snapshot holds registers.
    pub matching: Option<matching::Matching>,
}

/// Write a file, creating its directory.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let err = |e: std::io::Error| ReportError::Write {
        path: path.display().to_string(),
        source: e.into(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(path, bytes).map_err(err)
}

/// Columns the documents read from each input table.
const INDICATOR_COLUMNS: &[&str] = &[
    "scope",
    "level",
    "area_code",
    "area_name",
    "indicator_id",
    "numerator",
    "denominator",
    "value",
];
const VILLAGE_EXIT_COLUMNS: &[&str] = &[
    "village_code",
    "county_code",
    "poor_persons",
    "population",
    "incidence_pct",
    "threshold_pct",
    "passes",
];
const REJECT_COLUMNS: &[&str] = &[
    "province_code",
    "file",
    "line",
    "column",
    "rule_id",
    "severity",
    "message",
];

/// Run the pipelines and write every document; returns the index page and the files written.
/// Everything is written into a private sibling of `OUT` and moved into place when complete,
/// so a failure leaves the previous reports (or none), never a half-written folder.
pub async fn write(opts: &ReportOptions) -> Result<ReportSummary, ReportError> {
    let wh = Warehouse::open(&opts.warehouse, false)?;
    let snapshot = wh
        .snapshot_as_of(opts.as_of)
        .await?
        .ok_or_else(|| ReportError::NoSnapshot(opts.warehouse.clone()))?;
    let staged = StagedDir::new(&opts.out, "index.html")?;
    let written = write_into(opts, &wh, snapshot, staged.path()).await?;
    staged.commit()?;
    // The files as they are named now that the folder is in place.
    let moved = |p: PathBuf| match p.strip_prefix(staged_root(&written)) {
        Ok(rel) => opts.out.join(rel),
        Err(_) => p,
    };
    let index = moved(written.index.clone());
    let files = written.files.iter().cloned().map(moved).collect();
    Ok(ReportSummary { index, files })
}

/// The folder the documents were written into (the parent of the index page).
fn staged_root(s: &ReportSummary) -> PathBuf {
    s.index.parent().map(Path::to_path_buf).unwrap_or_default()
}

async fn write_into(
    opts: &ReportOptions,
    wh: &Warehouse,
    snapshot: Snapshot,
    out: &Path,
) -> Result<ReportSummary, ReportError> {
    let data = out.join("data");
    let mut manifests = Vec::new();
    for (name, dir) in [("census", "census"), ("exit_assessment", "assessment")] {
        let pipeline = Pipeline::resolve(name, &opts.pipelines, &[])?;
        tracing::info!(pipeline = name, "running");
        let manifest = crate::pipeline::run(
            &pipeline,
            wh,
            Some(&snapshot),
            &data.join(dir),
            &opts.engine,
        )
        .await?;
        manifests.push(manifest);
    }
    let matching = run_matching(opts, wh, &snapshot, &data).await?;
    // The rejects are read here, not on a cluster: a small table, listed as it is.
    let ctx = session(&opts.engine.local())?;
    wh.register(&ctx, Some(&snapshot))?;
    let df = ctx
        .sql(
            "SELECT province_code, file, line, \"column\", rule_id, severity, message \
             FROM rejects ORDER BY province_code, file, line NULLS FIRST, rule_id, \"column\", message",
        )
        .await?;
    let rejects_schema = df.schema().as_arrow().clone();
    let rejects = df.collect().await?;
    let read = |p: &str| Table::read_parquet(&data.join(p));
    let inputs = Inputs {
        warehouse: wh.location.display.clone(),
        generated_at: opts.generated_at.clone(),
        indicators: read("census/indicators.parquet")?,
        village_exit: read("census/village_exit.parquet")?,
        assessment: read("assessment/exit_assessment.parquet")?,
        design: read("assessment/exit_assessment_design.parquet")?,
        followup: read("assessment/exit_followup.parquet")?,
        rejects: Table::from_batches("rejects", &rejects_schema, &rejects)?,
        manifests,
        snapshot,
        matching,
    };
    inputs.indicators.require(INDICATOR_COLUMNS)?;
    inputs.village_exit.require(VILLAGE_EXIT_COLUMNS)?;
    inputs.rejects.require(REJECT_COLUMNS)?;
    inputs.assessment.require(evaluator::ASSESSMENT_COLUMNS)?;
    inputs.design.require(evaluator::DESIGN_COLUMNS)?;
    inputs.followup.require(evaluator::FOLLOWUP_COLUMNS)?;

    let mut files = Vec::new();
    files.push(bulletin::write(
        &inputs,
        &opts.issue,
        &out.join("bulletin.html"),
    )?);
    files.push(workbook::write(&inputs, &out.join("workbook.xlsx"))?);
    let evaluator = evaluator::write(&inputs, &out.join("evaluator"))?;
    let quality = quality::write(&inputs, &out.join("quality"))?;
    let matched = match &inputs.matching {
        Some(m) => Some(matching::write(&inputs, m, &out.join("matching"))?),
        None => None,
    };
    let index = out.join("index.html");
    let mut page = index_page(&inputs, &evaluator.links, &quality.links);
    if let Some(m) = &matched {
        page = with_matching_links(&page, &m.links);
        files.extend(m.files.iter().cloned());
    }
    write_file(&index, page.as_bytes())?;
    files.extend(evaluator.files);
    files.extend(quality.files);
    files.push(index.clone());
    Ok(ReportSummary { index, files })
}

/// The matching pipeline over the snapshot into `data/matching/`, when the snapshot holds
/// registers (`None`, logged, when it holds none).
async fn run_matching(
    opts: &ReportOptions,
    wh: &Warehouse,
    snapshot: &Snapshot,
    data: &Path,
) -> Result<Option<matching::Matching>, ReportError> {
    let registers: u64 = crate::contract::registers::Register::ALL
        .iter()
        .map(|r| snapshot.rows(r.table_name()))
        .sum();
    if registers == 0 {
        tracing::info!(
            "the warehouse holds no departmental registers: no data-matching pages (部门数据比对)"
        );
        return Ok(None);
    }
    let pipeline = Pipeline::resolve("matching", &opts.pipelines, &[])?;
    tracing::info!(pipeline = "matching", "running");
    // match_findings holds ID numbers: it is run into a private scratch directory, and only
    // the summary joins the report's data.
    let scratch =
        crate::engine::scratch::ScratchDir::new(None, "povcensus-matching-").map_err(|e| {
            ReportError::Write {
                path: "a private scratch directory".into(),
                source: e.into(),
            }
        })?;
    let run = scratch.path().join("run");
    crate::pipeline::run(&pipeline, wh, Some(snapshot), &run, &opts.engine).await?;
    let m = matching::Matching {
        findings: Table::read_parquet(&run.join("match_findings.parquet"))?,
        summary: Table::read_parquet(&run.join("match_summary.parquet"))?,
    };
    m.findings.require(matching::FINDING_COLUMNS)?;
    m.summary.require(matching::SUMMARY_COLUMNS)?;
    let dir = data.join("matching");
    for file in ["match_summary.parquet", "match_summary.csv"] {
        let to = dir.join(file);
        let copied =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::copy(run.join(file), &to));
        copied.map_err(|e| ReportError::Write {
            path: to.display().to_string(),
            source: e.into(),
        })?;
    }
    Ok(Some(m))
}

/// The index page with a section of data-matching links before its data-quality section.
fn with_matching_links(page: &str, links: &[(String, String)]) -> String {
    let mut b = String::from("<h2>部门数据比对</h2>\n<ul>\n");
    b.push_str(
        "<li><a href=\"data/matching/match_summary.csv\">比对汇总 match_summary.csv</a></li>\n",
    );
    b.push_str(&link_items(links));
    b.push_str("</ul>\n<h2>数据质量报告（分省）</h2>");
    page.replacen("<h2>数据质量报告（分省）</h2>", &b, 1)
}

/// `<li>` items of (href, text) links.
fn link_items(links: &[(String, String)]) -> String {
    use crate::render::html::esc;
    links
        .iter()
        .map(|(href, text)| format!("<li><a href=\"{}\">{}</a></li>\n", esc(href), esc(text)))
        .collect()
}

/// Files written by one document family and the links the index shows for them.
pub(crate) struct Written {
    pub files: Vec<PathBuf>,
    /// (relative href, text) pairs.
    pub links: Vec<(String, String)>,
}

fn index_page(
    inputs: &Inputs,
    evaluator: &[(String, String)],
    quality: &[(String, String)],
) -> String {
    use crate::render::html::{self, esc};
    let mut b = String::new();
    b.push_str("<h1>国家脱贫攻坚普查 · 报告索引</h1>\n");
    b.push_str(&format!(
        "<p class=\"sub\">仓库 {} · 快照 {}</p>\n",
        esc(&inputs.warehouse),
        inputs.snapshot.id
    ));
    b.push_str("<h2>统计公报与数据</h2>\n<ul>\n");
    b.push_str("<li><a href=\"bulletin.html\">国家脱贫攻坚普查公报（全国）</a></li>\n");
    b.push_str("<li><a href=\"workbook.xlsx\">统计工作簿（全国、分省、分县指标，贫困村退出，入库汇总）</a></li>\n");
    b.push_str("<li><a href=\"data/census/indicators.csv\">指标长表 indicators.csv</a> · <a href=\"data/assessment/exit_assessment.csv\">评估结果 exit_assessment.csv</a></li>\n");
    b.push_str("</ul>\n<h2>贫困县退出专项评估检查</h2>\n<ul>\n");
    b.push_str(&link_items(evaluator));
    b.push_str("</ul>\n<h2>数据质量报告（分省）</h2>\n<ul>\n");
    b.push_str(&link_items(quality));
    b.push_str("</ul>\n");
    html::page("国家脱贫攻坚普查 · 报告索引", &b, &inputs.generated_at)
}

/// A code as a file name: ASCII letters, digits, `-` and `_` kept, anything else (a path
/// separator, a dot) replaced by `_`, so no value of a table can write outside its folder.
pub(crate) fn file_stem(code: &str) -> String {
    let s: String = code
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_".to_string() } else { s }
}

/// Provinces by code, with names, from the reference data.
pub(crate) fn province_name(code: &str) -> String {
    crate::contract::reference::Reference::get()
        .provinces
        .iter()
        .find(|p| p.code == code)
        .map(|p| p.name.to_string())
        .unwrap_or_else(|| code.to_string())
}

/// (scope, level, area code, indicator id).
pub(crate) type IndicatorKey = (String, String, String, String);

/// Indicator values by key: (numerator, denominator, value).
pub(crate) fn indicator_map(t: &Table) -> BTreeMap<IndicatorKey, (f64, f64, f64)> {
    let num = |r: &[Cell], c: &str| t.get(r, c).f64().unwrap_or(f64::NAN);
    t.rows
        .iter()
        .map(|r| {
            (
                (
                    t.get(r, "scope").str().to_string(),
                    t.get(r, "level").str().to_string(),
                    t.get(r, "area_code").str().to_string(),
                    t.get(r, "indicator_id").str().to_string(),
                ),
                (num(r, "numerator"), num(r, "denominator"), num(r, "value")),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_file_names_that_stay_in_their_folder() {
        assert_eq!(file_stem("450421"), "450421");
        assert_eq!(file_stem("../../etc/passwd"), "______etc_passwd");
        assert_eq!(file_stem(""), "_");
    }

    #[test]
    fn a_missing_column_is_an_error_naming_the_table() {
        let t = Table {
            name: "exit_assessment".into(),
            columns: vec!["county_code".into()],
            rows: vec![vec![Cell::Str("450421".into())]],
        };
        let e = t.require(&["county_code", "confidence"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the table exit_assessment has no column `confidence` (was it made by another pipeline?)"
        );
        assert_eq!(t.get(&t.rows[0], "confidence"), &Cell::Null);
    }
}
