//! The engine floor: DataFusion sessions with a bounded, spilling memory pool, read-only SQL,
//! result-column casts, the Parquet writer properties, progress bars ([`progress`]), private
//! scratch directories ([`scratch`]) and guarded SQL for untrusted statements ([`guard`], with
//! the per-query memory bounds of [`bounded`]), and client sessions on a Ballista cluster with
//! what its nodes share ([`cluster`]). It knows no stage: the stages register their own tables
//! and SQL functions on the sessions it makes.

pub mod bounded;
pub mod cluster;
pub mod functions;
pub mod guard;
pub mod progress;
pub mod scratch;

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

/// A result column as text, whatever string type the engine produced (Utf8View, …).
pub fn utf8(a: &dyn Array) -> Result<StringArray, ArrowError> {
    Ok(arrow::compute::cast(a, &DataType::Utf8)?
        .as_string::<i32>()
        .clone())
}

/// A result column as 64-bit integers, whatever integer type the engine produced.
pub fn int64(a: &dyn Array) -> Result<Int64Array, ArrowError> {
    Ok(arrow::compute::cast(a, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .clone())
}

/// A result column as 64-bit floats.
pub fn float64(a: &dyn Array) -> Result<Float64Array, ArrowError> {
    Ok(arrow::compute::cast(a, &DataType::Float64)?
        .as_primitive::<Float64Type>()
        .clone())
}

/// Default memory for query execution (the pool spills to disk beyond it).
pub const DEFAULT_MEMORY_LIMIT: usize = 2 << 30;

/// The share of a memory limit that a pipeline's kept results may hold by default: a quarter,
/// so the queries' operators keep most of the pool.
pub fn kept_memory(memory_limit: usize) -> usize {
    memory_limit / 4
}

/// How a session may use the machine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Bytes the memory pool grants before operators spill.
    pub memory_limit: usize,
    /// Bytes of that pool a pipeline's results kept between steps may hold; the results
    /// beyond go to private scratch files (by default a quarter of the limit, [`kept_memory`]).
    pub kept_memory: usize,
    /// Where spill files go (default: the OS temporary directory).
    pub spill_dir: Option<PathBuf>,
    /// Parallelism (DataFusion target partitions).
    pub threads: usize,
    /// How to join: hash joins (fast, but they cannot spill), sort-merge joins (they spill),
    /// or chosen by the size of the inputs.
    pub joins: JoinStrategy,
    /// Submit queries to this Ballista cluster instead of running them here.
    pub cluster: Option<cluster::Cluster>,
}

/// Join strategy of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum JoinStrategy {
    /// Hash joins while their tables fit in half the memory pool, sort-merge joins beyond.
    #[default]
    Auto,
    Hash,
    /// Sort-merge joins, which spill to disk.
    Spill,
}

/// Bytes a hash join needs per build row, roughly (key, hash table entry, batch overhead).
const HASH_JOIN_BYTES_PER_ROW: usize = 100;

impl EngineConfig {
    /// Choose the join strategy for inputs of about `rows` rows: hash joins while their tables
    /// fit in half the memory pool, sort-merge joins (which spill to disk) beyond.
    pub fn for_rows(mut self, rows: u64) -> Self {
        if self.joins == JoinStrategy::Auto && self.joins_for(rows) == JoinStrategy::Spill {
            tracing::info!(
                rows,
                memory_limit = self.memory_limit,
                "large inputs: sort-merge joins that spill"
            );
            self.joins = JoinStrategy::Spill;
        }
        self
    }

    /// How inputs of about `rows` rows are joined: as asked, or under `Auto` hash joins
    /// while their tables fit in half the memory pool and sort-merge joins beyond.
    pub fn joins_for(&self, rows: u64) -> JoinStrategy {
        let big = (rows as usize).saturating_mul(HASH_JOIN_BYTES_PER_ROW) > self.memory_limit / 2;
        match self.joins {
            JoinStrategy::Auto if big => JoinStrategy::Spill,
            JoinStrategy::Auto => JoinStrategy::Hash,
            asked => asked,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            memory_limit: DEFAULT_MEMORY_LIMIT,
            kept_memory: kept_memory(DEFAULT_MEMORY_LIMIT),
            spill_dir: None,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            joins: JoinStrategy::Auto,
            cluster: None,
        }
    }
}

impl EngineConfig {
    /// The same settings, running here (for the little work that has no business on a
    /// cluster).
    pub fn local(&self) -> EngineConfig {
        EngineConfig {
            cluster: None,
            ..self.clone()
        }
    }
}

/// A query's stream, started ([`start`]).
pub type Started =
    std::pin::Pin<Box<futures::stream::Peekable<datafusion::execution::SendableRecordBatchStream>>>;

/// Start a query's stream: polled once, which sets its partitions running on the engine's
/// threads while the caller does other work (reads the previous province's rows); a batch
/// that is ready at once stays first in the stream.
pub async fn start(stream: datafusion::execution::SendableRecordBatchStream) -> Started {
    use futures::StreamExt as _;
    let mut started = Box::pin(stream.peekable());
    let _ = futures::poll!(started.as_mut().peek());
    started
}

/// A DataFusion session with a fair spilling pool and an explicit spill directory.
pub fn session(cfg: &EngineConfig) -> Result<SessionContext, DataFusionError> {
    // Spill files hold record values: they go to a private scratch directory, which `main`
    // removes on every exit (an interrupt included).
    let spill_dir = match &cfg.spill_dir {
        Some(d) => d.clone(),
        None => crate::engine::scratch::spill_dir().map_err(DataFusionError::IoError)?,
    };
    let mode = DiskManagerMode::Directories(vec![spill_dir]);
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(cfg.memory_limit)))
        .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(mode))
        .build_arc()?;
    let config = session_config(cfg);
    let ctx = match &cfg.cluster {
        Some(c) => cluster::session(config, runtime, c)?,
        None => SessionContext::new_with_config_rt(config, runtime),
    };
    functions::register(&ctx);
    Ok(ctx)
}

/// Change `ctx`'s optimizer options from now on (for the queries planned after); returns what
/// `change` returns.
pub fn with_optimizer<R>(
    ctx: &SessionContext,
    change: impl FnOnce(&mut datafusion::config::OptimizerOptions) -> R,
) -> R {
    let state = ctx.state_ref();
    let mut state = state.write();
    change(&mut state.config_mut().options_mut().optimizer)
}

/// The settings of a session under `cfg`.
fn session_config(cfg: &EngineConfig) -> SessionConfig {
    SessionConfig::new()
        .with_target_partitions(cfg.threads.max(1))
        .with_information_schema(true)
        .set_str("datafusion.execution.parquet.pushdown_filters", "true")
        // A sort keeps this much back for merging its spill files (10 MB by default): more
        // than a small pool has, so scale it with the pool.
        .set_usize(
            "datafusion.execution.sort_spill_reservation_bytes",
            (cfg.memory_limit / 16).min(10 << 20),
        )
        .set_bool(
            "datafusion.optimizer.prefer_hash_join",
            cfg.joins != JoinStrategy::Spill,
        )
}

/// A local session under `cfg` (its join strategy, threads) that shares `ctx`'s memory pool
/// and spill directory: for queries that run beside `ctx`'s, within the same limit.
pub fn sibling_session(ctx: &SessionContext, cfg: &EngineConfig) -> SessionContext {
    let sibling = SessionContext::new_with_config_rt(session_config(cfg), ctx.runtime_env());
    functions::register(&sibling);
    sibling
}

/// Rows per Parquet row group in every file povcensus writes.
pub const ROW_GROUP_ROWS: usize = 256 * 1024;

/// The most a Parquet column chunk's dictionary holds before the chunk goes on plain
/// ([`writer_properties`]). Encoding a province's persons (425 k rows, in memory): 0.149 s
/// and 4.8 MB with the default 1 MiB, 0.114 s and 4.6 MB with 64 KiB; its households 0.080 s
/// and 2.0 MB against 0.071 s and 1.8 MB.
pub const DICTIONARY_PAGE_BYTES: usize = 64 * 1024;

/// Writer properties of every Parquet file povcensus writes (warehouse and outputs): zstd(1),
/// explicit row groups, page statistics. Level 1 compresses the census' pages as small as
/// level 3 (a national persons file: 40.37 MB against 40.43 MB) in less time.
///
/// A column chunk's dictionary stops at 64 KiB ([`DICTIONARY_PAGE_BYTES`]) and the rest of the
/// chunk is written plain: codes and dates stay well under it, while near-unique columns (ID
/// numbers, household ids, names) give up after a few thousand values instead of hashing
/// values into a 1 MiB dictionary (the default) that then serves nothing.
pub fn writer_properties() -> parquet::file::properties::WriterProperties {
    parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(
            // Cannot fail: 1 is within zstd's levels 1-22.
            parquet::basic::ZstdLevel::try_new(1).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Page)
        .set_created_by("povcensus".to_string())
        .build()
}

/// SQL from a template: every `${name}` replaced by its value. The one placeholder syntax of
/// povcensus' SQL files (pipelines, the ingest checks, the extract).
pub fn fill<'a>(template: &str, values: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = template.to_string();
    for (k, v) in values {
        s = s.replace(&format!("${{{k}}}"), v);
    }
    s
}

/// Parse a memory size such as `4GiB`, `512MiB`, `2G` or a number of bytes.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 4GiB or 512MiB"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0f64.powi(4),
        _ => return Err(format!("`{s}` has an unknown unit (use KiB, MiB, GiB)")),
    };
    Ok((n * mult) as usize)
}

/// What `povcensus sql` accepts: queries only. No DDL (no CREATE EXTERNAL TABLE over other
/// files), no DML or COPY, no SET.
pub fn read_only() -> datafusion::execution::context::SQLOptions {
    datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("4 parsecs").is_err());
    }

    /// A column of 10 000 distinct ID-like strings (a 220 KB dictionary, under the default
    /// 1 MiB) goes on plain past 64 KiB; a 5-value code column keeps its dictionary.
    #[test]
    fn near_unique_columns_give_up_their_dictionary_and_codes_keep_it() {
        use arrow::array::{Int16Array, StringArray};
        use parquet::basic::Encoding;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let n = 10_000;
        let ids: StringArray = (0..n).map(|i| Some(format!("4501021975{i:08}"))).collect();
        let codes: Int16Array = (0..n).map(|i| Some((i % 5) as i16)).collect();
        let batch = arrow::record_batch::RecordBatch::try_from_iter([
            ("id", Arc::new(ids) as arrow::array::ArrayRef),
            ("code", Arc::new(codes) as arrow::array::ArrayRef),
        ])
        .unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            Vec::new(),
            batch.schema(),
            Some(writer_properties()),
        )
        .unwrap();
        w.write(&batch).unwrap();
        let bytes = bytes::Bytes::from(w.into_inner().unwrap());
        let meta = SerializedFileReader::new(bytes).unwrap().metadata().clone();
        // The encodings of a column chunk's data pages.
        let data_encodings = |col: usize| -> Vec<Encoding> {
            let chunk = meta.row_group(0).column(col);
            chunk
                .page_encoding_stats_mask()
                .unwrap()
                .encodings()
                .collect()
        };
        assert!(
            data_encodings(0).contains(&Encoding::PLAIN),
            "{:?}",
            data_encodings(0)
        );
        assert_eq!(data_encodings(1), [Encoding::RLE_DICTIONARY]);
    }

    #[test]
    fn joins_are_hash_joins_while_the_inputs_fit_in_half_the_pool() {
        let cfg = |joins| EngineConfig {
            memory_limit: 2_000,
            joins,
            ..EngineConfig::default()
        };
        // 100 bytes a row: 10 rows fill half of 2,000 bytes.
        assert_eq!(cfg(JoinStrategy::Auto).joins_for(10), JoinStrategy::Hash);
        assert_eq!(cfg(JoinStrategy::Auto).joins_for(11), JoinStrategy::Spill);
        assert_eq!(
            cfg(JoinStrategy::Hash).joins_for(1 << 40),
            JoinStrategy::Hash
        );
        assert_eq!(cfg(JoinStrategy::Spill).joins_for(1), JoinStrategy::Spill);
        assert_eq!(
            cfg(JoinStrategy::Auto).for_rows(11).joins,
            JoinStrategy::Spill
        );
        assert_eq!(
            cfg(JoinStrategy::Auto).for_rows(10).joins,
            JoinStrategy::Auto
        );
    }

    fn spilled(dir: &tempfile::TempDir) -> bool {
        std::fs::read_dir(dir.path())
            .map(|d| d.count() > 0)
            .unwrap_or(false)
    }

    #[tokio::test]
    async fn a_session_spills_a_large_sort_under_a_small_pool() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = session(&EngineConfig {
            memory_limit: 16 << 20,
            kept_memory: kept_memory(16 << 20),
            spill_dir: Some(dir.path().into()),
            threads: 2,
            joins: JoinStrategy::Auto,
            cluster: None,
        })
        .unwrap();
        let batches = ctx
            .sql(
                "SELECT MAX(rn) AS n, MIN(v) AS lo FROM (
                 SELECT v, ROW_NUMBER() OVER (ORDER BY v % 1000, v DESC) AS rn
                 FROM (SELECT value AS v FROM generate_series(1, 4000000)))",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(text.contains("4000000") && text.contains("| 1 "), "{text}");
        assert!(
            ctx.runtime_env().disk_manager.used_disk_space() > 0 || spilled(&dir),
            "the sort spilled to disk"
        );
    }
}
