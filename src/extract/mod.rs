//! Research extracts (research-extracts.md §1): anonymized person and household microdata for
//! researchers, and the disclosure-risk report beside them.
//!
//! The flow: `queries/extract/persons.sql` and `households.sql` select the census population
//! from one warehouse snapshot without names, ID numbers or codes finer than the county. This
//! module streams them twice, sorted by household and person, one province after another
//! ([`passes::Source`]: DataFusion sorts a province at a time, spilling to disk beyond the
//! memory limit), so memory stays bounded at national size:
//!
//! - pass 1 keeps only the quasi-identifiers, packed into 8 bytes per person and household
//!   (area, household size 8+, sex, 5-year age band, ethnicity group, disabled yes/no), and an
//!   income histogram;
//! - the quasi-identifiers are made k-anonymous (below);
//! - pass 2 reads the same rows again and writes each batch as it comes, replacing the person
//!   and household keys by keyed pseudonyms (HMAC-SHA-256 under the operator's key, which is
//!   never written or logged), with income rounded to 100 yuan and top-coded.
//!
//! k-anonymity:
//!
//! 1. households with a member, or a household row, in a class smaller than k have their area
//!    generalized from county to prefecture (both tables, so the household key links nothing
//!    finer);
//! 2. households still in classes smaller than k lose their area (local suppression: NULL);
//! 3. persons still in classes smaller than k lose their rarest person-level value (sex, age
//!    band, ethnicity group, disabled), and when none is left, their household's area;
//!
//! repeating 2–3 until every record of both tables is compatible with at least k records,
//! itself included, a NULL matching every value (sdcMicro's measure with alpha = 1). Records are
//! never dropped. Every step is deterministic: the same snapshot and key give the same bytes.
//!
//! A column that determines a quasi-identifier or the geography is treated as one, so that
//! nothing suppressed or generalized can be recomputed from the extract's own columns
//! ([`risk::DETERMINANTS`]): `county_type` and `weight` are NULL where the area is not a
//! county, `health_status` where `disabled` is suppressed, `schooling_status` (given exactly
//! for ages 6-15, 2 only for disabled children) where `age_band` or `disabled` is; its presence
//! is part of the age quasi-identifier. The household size is the number of persons sharing
//! the household key: it is never suppressed, and an extract that cannot reach k without it is
//! refused. The risk report counts the records written where such a value is still recoverable.
//!
//! The floor plan: [`key`] (the key and pseudonyms), [`anonymize`] (packing and
//! k-anonymity), [`passes`] (the two passes over the rows), [`risk`] (the disclosure-risk
//! report), [`codebook`] (every published variable, its categories and treatment),
//! [`published`] and [`tables`] (the published county tables with small-cell
//! suppression); here, the options, the errors and [`write`] as its phases.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::prelude::SessionContext;

mod anonymize;
mod codebook;
mod key;
mod passes;
mod published;
mod risk;
pub mod tables;

pub use anonymize::{Anonymized, anonymize, compatible_counts, pack_household, pack_person};
pub use codebook::{Category, Variable};
pub use key::Key;
pub use risk::RiskReport;

use crate::engine::{EngineConfig, session};
use crate::output::OutputError;
use crate::pipeline::{Definitions, Pipeline};
use crate::warehouse::{Warehouse, WarehouseError};
use anonymize::{ETH, SHIFT, field_mask, value};
use passes::{Frame, OTHER_MINORITIES, ethnicity_name};
use risk::TopCode;

/// The tables of an extract.
pub const TABLES: &[&str] = &["research_persons", "research_households"];

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;
/// The environment variable that may hold the key instead of a file.
pub const KEY_ENV: &str = "POVCENSUS_EXTRACT_KEY";

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(
        "no pseudonymization key: pass --key-file FILE (or set {KEY_ENV}); an extract is never made without one"
    )]
    NoKey,
    #[error("cannot read the key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("the key is {0} bytes long; at least {MIN_KEY_BYTES} are required")]
    ShortKey(usize),
    #[error("k must be at least 2 (got {0})")]
    BadK(usize),
    #[error("the extract has {records} {table}, fewer than k = {k}: it cannot be made k-anonymous")]
    TooFew {
        table: &'static str,
        records: usize,
        k: usize,
    },
    #[error(
        "{records} {table} are in classes smaller than k = {k} with nothing left to suppress but \
         the household size, which the household key gives away (too few households of their \
         size): the extract cannot be made k-anonymous"
    )]
    SizeDisclosed {
        table: &'static str,
        records: usize,
        k: usize,
    },
    #[error(
        "the {0} of the second pass differ from the first: was the snapshot changed while the extract ran?"
    )]
    Inconsistent(&'static str),
    #[error("the warehouse {0} has no committed snapshot: ingest submissions first")]
    NoSnapshot(String),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Sql(#[from] crate::pipeline::PipelineError),
    #[error("extract query: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Write(#[from] OutputError),
    #[error("the extract query has no column `{0}` (queries/extract changed?)")]
    MissingColumn(String),
    #[error("writing {path}: {source}")]
    WriteFile {
        path: String,
        source: std::io::Error,
    },
}

/// What `povcensus extract` is asked to do.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub warehouse: String,
    pub out: PathBuf,
    pub key: Key,
    pub k: usize,
    /// A minority keeps its own ethnicity group when it has at least this many persons in the
    /// extract; smaller ones become 其他少数民族.
    pub min_ethnicity_persons: usize,
    /// Income is top-coded at this percentile of the extract's households.
    pub income_top_percentile: f64,
    /// Published table cells with a count from 1 to this − 1 are suppressed.
    pub cell_threshold: u64,
    /// The l-diversity every sensitive attribute should reach (the risk report's verdict).
    pub l: usize,
    /// The generation time shown on the documents ([`crate::output::generated_at`]).
    pub generated_at: String,
    pub as_of: Option<u64>,
    pub engine: EngineConfig,
    /// Show a progress bar while writing.
    pub progress: bool,
}

/// Write the extract; returns the risk report.
///
/// Two passes over one snapshot, each streaming its rows sorted by household and person, a
/// province at a time (the sorts spill to disk beyond the memory limit): the first keeps only the packed
/// quasi-identifiers (8 bytes per person and per household) and an income histogram, which
/// [`anonymize`] makes k-anonymous; the second reads the same rows in the same order again and
/// writes each batch of both tables, Parquet and CSV, as it comes.
///
/// Everything is written into a private sibling of `OUT` and moved into place when complete:
/// a failure leaves the previous extract (or none), never a half-written folder.
pub async fn write(opts: &ExtractOptions) -> Result<RiskReport, ExtractError> {
    if opts.k < 2 {
        return Err(ExtractError::BadK(opts.k));
    }
    let wh = Warehouse::open(&opts.warehouse, false)?;
    let snapshot = wh
        .snapshot_as_of(opts.as_of)
        .await?
        .ok_or_else(|| ExtractError::NoSnapshot(opts.warehouse.clone()))?;
    let staged = crate::output::StagedDir::new(&opts.out, "risk_report.json")?;
    let inner = ExtractOptions {
        out: staged.path().to_path_buf(),
        ..opts.clone()
    };
    let report = write_into(&inner, &wh, snapshot).await?;
    staged.commit()?;
    Ok(report)
}

/// The phases of an extract into `opts.out` (already private): pass 1, the generalizations,
/// anonymization, pass 2, the risk report and the published tables.
async fn write_into(
    opts: &ExtractOptions,
    wh: &Warehouse,
    snapshot: crate::warehouse::Snapshot,
) -> Result<RiskReport, ExtractError> {
    let ctx = session(&opts.engine.clone().for_rows(snapshot.rows("persons")))?;
    wh.register(&ctx, Some(&snapshot))?;
    let queries = Queries::new()?;
    let rows = passes::Source {
        ctx: &ctx,
        warehouse: wh,
        snapshot: &snapshot,
        engine: &opts.engine,
    };

    // The quasi-identifiers held between the passes (8 bytes a person and a household, half a
    // gigabyte at national size) take their memory from the pool the queries spill within, so
    // `--memory-limit` bounds them together.
    let mut held =
        MemoryConsumer::new("extract quasi-identifiers").register(&ctx.runtime_env().memory_pool);
    tracing::info!("reading the quasi-identifiers (pass 1 of 2)");
    let mut frame = passes::read_quasi_identifiers(&rows, &queries, &mut held).await?;
    let (n, nh) = (frame.person_values.len(), frame.households.len());
    tracing::info!(households = nh, persons = n, "anonymizing");
    let ethnicity_groups = group_ethnicities(&mut frame, opts.min_ethnicity_persons);
    let income = TopCode::of(&frame.income, opts.income_top_percentile);
    let categories_before = risk::category_counts(&frame.person_values);
    let uniques_before = risk::sample_uniques((0..n).map(|i| {
        frame.households[frame.person_household[i] as usize] | u64::from(frame.person_values[i])
    }));
    let anon = anonymize(
        frame.households,
        frame.person_household,
        frame.person_values,
        opts.k,
    )?;

    // Pass 2: the same rows in the same order, written as they stream.
    std::fs::create_dir_all(&opts.out).map_err(|source| ExtractError::WriteFile {
        path: opts.out.display().to_string(),
        source,
    })?;
    let bar = crate::engine::progress::bar(
        opts.progress,
        (n + nh) as u64,
        "{spinner} writing the extract [{bar:30}] {pos}/{len} records, {eta} left",
    );
    tracing::info!("writing research_households and research_persons (pass 2 of 2)");
    let mut check = risk::InferenceCheck::default();
    let households_schema =
        passes::write_households(&rows, &queries, opts, &anon, &income, &bar, &mut check).await?;
    let (seen_by_class, persons_schema) =
        passes::write_persons(&rows, &queries, opts, &anon, &income, &bar, &mut check).await?;
    bar.finish_and_clear();

    let facts = risk::Facts {
        k: opts.k,
        l: opts.l,
        snapshot: snapshot.id,
        generated_at: opts.generated_at.clone(),
        uniques_before,
        ethnicity_groups,
        income: &income,
        categories_before,
    };
    let report = RiskReport::new(facts, &anon, &seen_by_class).with_inference(&check);
    let book = codebook::codebook(
        &persons_schema,
        &households_schema,
        &codebook::Settings {
            k: opts.k,
            min_ethnicity_persons: opts.min_ethnicity_persons,
            ethnicity_groups: &report.ethnicity_groups,
            income_top_code: income.top,
            income_top_percentile: opts.income_top_percentile,
        },
    );
    codebook::write(&opts.out, &book, &opts.generated_at)?;
    // reason: a struct of numbers, strings and maps of string keys always serializes.
    let json = serde_json::to_string_pretty(&report).expect("report serializes") + "\n";
    write_file(&opts.out.join("risk_report.json"), json)?;
    tracing::info!("counting the published county tables");
    published::write_published(&rows, opts, &queries.published).await?;
    write_file(&opts.out.join("risk_report.html"), risk::risk_html(&report))?;
    Ok(report)
}

/// Ethnicity groups: minorities with fewer persons than `min_persons` become one group
/// (其他少数民族). Returns the groups published, in code order.
fn group_ethnicities(frame: &mut Frame, min_persons: usize) -> Vec<String> {
    let mut eth_counts: BTreeMap<u32, usize> = BTreeMap::new();
    for v in &frame.person_values {
        if let Some(e) = value(u64::from(*v), ETH) {
            *eth_counts.entry(e).or_default() += 1;
        }
    }
    let kept: BTreeSet<u32> = eth_counts
        .iter()
        .filter(|(c, n)| **c == 1 || **n >= min_persons)
        .map(|(c, _)| *c)
        .collect();
    let eth_mask = field_mask(ETH) as u32;
    for v in frame.person_values.iter_mut() {
        if let Some(e) = value(u64::from(*v), ETH)
            && !kept.contains(&e)
        {
            *v = (*v & !eth_mask) | ((OTHER_MINORITIES + 1) << SHIFT[ETH]);
        }
    }
    kept.iter()
        .map(|c| ethnicity_name(*c))
        .chain((eth_counts.len() > kept.len()).then(|| ethnicity_name(OTHER_MINORITIES)))
        .collect()
}

/// The SQL of the extract, its parameters filled in.
struct Queries {
    persons: String,
    households: String,
    published: String,
}

impl Queries {
    /// `queries/extract/`, carried by the binary with the pipelines' SQL and filled the same
    /// way, with the census pipeline's parameters: ages are completed years on its
    /// `reference_date`.
    fn new() -> Result<Queries, ExtractError> {
        let census = Pipeline::resolve("census", &Definitions::Embedded, &[])?;
        Ok(Queries {
            persons: census.embedded_sql("extract/persons.sql")?,
            households: census.embedded_sql("extract/households.sql")?,
            published: census.embedded_sql("extract/published_counts.sql")?,
        })
    }

    /// The `columns` of the households, sorted by household.
    fn households(&self, columns: &str) -> String {
        sorted(&self.households, columns, "_household")
    }

    /// The `columns` of the persons, sorted by household and person.
    fn persons(&self, columns: &str) -> String {
        sorted(&self.persons, columns, "_household, _person")
    }
}

fn sorted(text: &str, columns: &str, order: &str) -> String {
    format!("SELECT {columns} FROM (\n{text}\n) ORDER BY {order}")
}

fn write_file(path: &std::path::Path, contents: String) -> Result<(), ExtractError> {
    std::fs::write(path, contents).map_err(|source| ExtractError::WriteFile {
        path: path.display().to_string(),
        source,
    })
}

/// The batches as one; `planned` (the query's schema) when there is none, so that an empty
/// result keeps its columns.
fn concat(batches: &[RecordBatch], planned: SchemaRef) -> Result<RecordBatch, ExtractError> {
    let schema = batches.first().map_or(planned, RecordBatch::schema);
    Ok(arrow::compute::concat_batches(&schema, batches)
        .map_err(datafusion::error::DataFusionError::from)?)
}

fn utf8(b: &RecordBatch, name: &str) -> Result<StringArray, ExtractError> {
    Ok(crate::engine::utf8(&column(b, name)?).map_err(DataFusionError::from)?)
}

fn int64(b: &RecordBatch, name: &str) -> Result<Int64Array, ExtractError> {
    Ok(crate::engine::int64(&column(b, name)?).map_err(DataFusionError::from)?)
}

fn float64(b: &RecordBatch, name: &str) -> Result<Float64Array, ExtractError> {
    Ok(crate::engine::float64(&column(b, name)?).map_err(DataFusionError::from)?)
}

/// A column of the query, passed through unchanged.
fn column(b: &RecordBatch, name: &str) -> Result<ArrayRef, ExtractError> {
    b.column_by_name(name)
        .cloned()
        .ok_or_else(|| ExtractError::MissingColumn(name.to_string()))
}

/// The tables of a research extract directory: `research_persons`, `research_households`.
/// Nothing else is registered, so nothing else can be queried.
pub async fn register(ctx: &SessionContext, dir: &std::path::Path) -> Result<(), DataFusionError> {
    for table in TABLES {
        let path = dir.join(format!("{table}.parquet"));
        if !path.is_file() {
            return Err(DataFusionError::Plan(format!(
                "{} is not a research extract: {} is missing",
                dir.display(),
                path.display()
            )));
        }
        let Some(shown) = path.to_str() else {
            return Err(DataFusionError::Plan(format!(
                "{} is not a UTF-8 path",
                path.display()
            )));
        };
        ctx.register_parquet(
            *table,
            shown,
            datafusion::prelude::ParquetReadOptions::default(),
        )
        .await?;
    }
    Ok(())
}
