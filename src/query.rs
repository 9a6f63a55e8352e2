//! The query engine: DataFusion sessions with a bounded, spilling memory pool, and the
//! `povcensus sql` command (one statement or an interactive prompt, printed as a table, CSV or
//! JSON).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
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

/// How a session may use the machine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Bytes the memory pool grants before operators spill.
    pub memory_limit: usize,
    /// Where spill files go (default: the OS temporary directory).
    pub spill_dir: Option<PathBuf>,
    /// Parallelism (DataFusion target partitions).
    pub threads: usize,
    /// How to join: hash joins (fast, but they cannot spill), sort-merge joins (they spill),
    /// or chosen by the size of the inputs.
    pub joins: JoinStrategy,
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
        let big = (rows as usize).saturating_mul(HASH_JOIN_BYTES_PER_ROW) > self.memory_limit / 2;
        if self.joins == JoinStrategy::Auto && big {
            tracing::info!(
                rows,
                memory_limit = self.memory_limit,
                "large inputs: sort-merge joins that spill"
            );
            self.joins = JoinStrategy::Spill;
        }
        self
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            memory_limit: DEFAULT_MEMORY_LIMIT,
            spill_dir: None,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            joins: JoinStrategy::Auto,
        }
    }
}

/// A DataFusion session with a fair spilling pool and an explicit spill directory.
pub fn session(cfg: &EngineConfig) -> Result<SessionContext, DataFusionError> {
    // Spill files hold record values: they go to a private scratch directory, which `main`
    // removes on every exit (an interrupt included).
    let spill_dir = match &cfg.spill_dir {
        Some(d) => d.clone(),
        None => crate::scratch::spill_dir().map_err(DataFusionError::IoError)?,
    };
    let mode = DiskManagerMode::Directories(vec![spill_dir]);
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(cfg.memory_limit)))
        .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(mode))
        .build_arc()?;
    let config = SessionConfig::new()
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
        );
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    crate::assessment::register(&ctx);
    Ok(ctx)
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

/// Output format of `povcensus sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

/// Write query results to `out` in the chosen format.
pub fn write_batches(
    out: &mut dyn Write,
    batches: &[RecordBatch],
    format: OutputFormat,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => {
            writeln!(
                out,
                "{}",
                arrow::util::pretty::pretty_format_batches(batches)?
            )?;
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if batches.is_empty() {
                return Ok(());
            }
            for b in batches {
                w.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs)?;
            w.finish()?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// What `povcensus sql` accepts: queries only. No DDL (no CREATE EXTERNAL TABLE over other
/// files), no DML or COPY, no SET.
pub fn read_only() -> datafusion::execution::context::SQLOptions {
    datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Run one read-only SQL statement and collect its result.
pub async fn run_sql(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, DataFusionError> {
    ctx.sql_with_options(sql, read_only())
        .await?
        .collect()
        .await
}

/// The tables of a research extract directory: `research_persons`, `research_households`.
/// Nothing else is registered, so nothing else can be queried.
pub async fn register_extract(
    ctx: &SessionContext,
    dir: &std::path::Path,
) -> Result<(), DataFusionError> {
    for table in crate::extract::TABLES {
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

/// Split a script into statements at semicolons outside quotes.
pub fn split_statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    // A comment runs to the end of the line.
                    for c in chars.by_ref() {
                        if c == '\n' {
                            cur.push('\n');
                            break;
                        }
                    }
                }
                ';' => {
                    if !cur.trim().is_empty() {
                        out.push(cur.trim().to_string());
                    }
                    cur.clear();
                }
                _ => cur.push(c),
            },
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// The interactive prompt: statements end with `;`, `\q` quits, `\d` lists tables.
pub async fn repl(ctx: &SessionContext, format: OutputFormat) -> anyhow::Result<()> {
    let mut rl = rustyline::DefaultEditor::new()?;
    let mut buffer = String::new();
    eprintln!("povcensus sql: end statements with ;  \\d lists tables  \\q quits");
    loop {
        let prompt = if buffer.is_empty() {
            "povcensus> "
        } else {
            "       ...> "
        };
        let line = match rl.readline(prompt) {
            Ok(l) => l,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && (trimmed == "\\q" || trimmed == "quit" || trimmed == "exit") {
            break;
        }
        if buffer.is_empty() && trimmed == "\\d" {
            let batches = run_sql(ctx, "SHOW TABLES").await?;
            write_batches(&mut std::io::stdout(), &batches, format)?;
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let _ = rl.add_history_entry(buffer.trim());
        for stmt in split_statements(&buffer) {
            let start = std::time::Instant::now();
            match run_sql(ctx, &stmt).await {
                Ok(batches) => {
                    write_batches(&mut std::io::stdout(), &batches, format)?;
                    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                    eprintln!("{rows} rows in {:.3} s", start.elapsed().as_secs_f64());
                }
                Err(e) => eprintln!("error: {e}"),
            }
        }
        buffer.clear();
    }
    Ok(())
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

    #[test]
    fn statements_split_outside_quotes_and_comments() {
        let s = split_statements("SELECT 'a;b'; -- note; here\nSELECT 2;;");
        assert_eq!(s, vec!["SELECT 'a;b'".to_string(), "SELECT 2".to_string()]);
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
            spill_dir: Some(dir.path().into()),
            threads: 2,
            joins: JoinStrategy::Auto,
        })
        .unwrap();
        let batches = run_sql(
            &ctx,
            "SELECT MAX(rn) AS n, MIN(v) AS lo FROM (
                 SELECT v, ROW_NUMBER() OVER (ORDER BY v % 1000, v DESC) AS rn
                 FROM (SELECT value AS v FROM generate_series(1, 4000000)))",
        )
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
