//! The results a run keeps for the steps after them (materialized steps and outputs). A result
//! is kept in memory while the run's kept tables fit their budget
//! ([`EngineConfig::kept_memory`](crate::engine::EngineConfig)), else in a Parquet file of a
//! private scratch directory, written as the rows stream in: a national run's large
//! intermediate tables (the matching findings) then cost disk, not memory outside the query
//! pool. Either way the later steps read it as the same table, and the built-ins read its
//! rows in the order they came.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, MemoryReservation};
use datafusion::prelude::SessionContext;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::engine::scratch::ScratchDir;

/// Why a result could not be kept in, or read back from, its scratch file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct KeptError {
    pub path: String,
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

fn kept_err<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    path: &Path,
) -> impl FnOnce(E) -> KeptError + use<E> {
    let path = path.display().to_string();
    move |e| KeptError {
        path,
        source: e.into(),
    }
}

/// A kept result.
#[derive(Debug, Clone)]
pub enum Kept {
    Memory {
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    },
    /// Parquet in the run's scratch directory, removed with it.
    File { schema: SchemaRef, path: PathBuf },
}

impl Kept {
    pub fn schema(&self) -> SchemaRef {
        match self {
            Kept::Memory { schema, .. } | Kept::File { schema, .. } => Arc::clone(schema),
        }
    }

    /// The rows, in the order the step gave them (read back whole from a file).
    pub fn batches(&self) -> Result<Vec<RecordBatch>, KeptError> {
        match self {
            Kept::Memory { batches, .. } => Ok(batches.clone()),
            Kept::File { path, .. } => {
                let file = File::open(path).map_err(kept_err(path))?;
                ParquetRecordBatchReaderBuilder::try_new(file)
                    .and_then(|b| b.build())
                    .map_err(kept_err(path))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(kept_err(path))
            }
        }
    }

    /// Register as table `name` of `ctx` (with the step's schema, whatever Parquet would
    /// infer), replacing what had that name.
    pub fn register(&self, ctx: &SessionContext, name: &str) -> Result<(), DataFusionError> {
        let table: Arc<dyn datafusion::catalog::TableProvider> = match self {
            Kept::Memory { schema, batches } => Arc::new(MemTable::try_new(
                Arc::clone(schema),
                vec![batches.clone()],
            )?),
            Kept::File { schema, path } => {
                let url = ListingTableUrl::parse(path.display().to_string())?;
                let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet");
                let config = ListingTableConfig::new(url)
                    .with_listing_options(options)
                    .with_schema(Arc::clone(schema));
                Arc::new(ListingTable::try_new(config)?)
            }
        };
        ctx.deregister_table(name)?;
        ctx.register_table(name, table)?;
        Ok(())
    }
}

/// Where a run keeps its results: the share of the query memory pool they may hold, and the
/// scratch directory (made when the first result goes to disk).
pub struct KeptTables {
    /// The memory of the results held in memory, taken from the run's pool (so the queries'
    /// operators spill sooner rather than the process passing the limit).
    reservation: MemoryReservation,
    /// The most `reservation` may reach.
    cap: usize,
    /// Parent of the scratch directory (the engine's spill directory when one is set).
    parent: Option<PathBuf>,
    dir: Option<ScratchDir>,
    files: usize,
}

impl KeptTables {
    /// Results kept in memory take up to `cap` bytes of `pool`.
    pub fn new(pool: &Arc<dyn MemoryPool>, cap: usize, parent: Option<PathBuf>) -> KeptTables {
        KeptTables {
            reservation: MemoryConsumer::new("pipeline kept tables").register(pool),
            cap,
            parent,
            dir: None,
            files: 0,
        }
    }

    /// A sink for the rows of one result, of `schema` (the plan's, until a batch says
    /// otherwise).
    pub fn sink(&mut self, schema: SchemaRef) -> KeptSink<'_> {
        KeptSink {
            tables: self,
            schema,
            batches: Vec::new(),
            bytes: 0,
            file: None,
        }
    }

    /// Whether `bytes` more may be held in memory; if so they are reserved.
    fn hold(&mut self, bytes: usize) -> bool {
        self.reservation.size() + bytes <= self.cap && self.reservation.try_grow(bytes).is_ok()
    }

    /// A new file in the scratch directory (made on first use).
    fn new_file(&mut self) -> Result<(PathBuf, File), KeptError> {
        let dir = match &self.dir {
            Some(dir) => dir,
            None => {
                let parent = self.parent.clone().unwrap_or_else(std::env::temp_dir);
                let dir = ScratchDir::new(Some(&parent), "povcensus-tables-")
                    .map_err(kept_err(&parent))?;
                self.dir.insert(dir)
            }
        };
        self.files += 1;
        let path = dir.path().join(format!("{:04}.parquet", self.files));
        let file = File::create(&path).map_err(kept_err(&path))?;
        Ok((path, file))
    }
}

/// Writer properties of the scratch files: fast to write and read back (LZ4), in the row
/// groups of every povcensus file, so a later scan splits them across threads.
fn scratch_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_max_row_group_row_count(Some(crate::engine::ROW_GROUP_ROWS))
        .build()
}

/// Takes one result's batches as they come; in memory until the budget is passed, then all of
/// them into a scratch file.
pub struct KeptSink<'a> {
    tables: &'a mut KeptTables,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    bytes: usize,
    file: Option<(PathBuf, ArrowWriter<File>)>,
}

impl KeptSink<'_> {
    pub fn push(&mut self, batch: RecordBatch) -> Result<(), KeptError> {
        if self.batches.is_empty() && self.file.is_none() {
            // The batches' schema, which may differ from the plan's in details such as
            // nullability.
            self.schema = batch.schema();
        }
        if let Some((path, w)) = &mut self.file {
            return w.write(&batch).map_err(kept_err(path));
        }
        let bytes = batch.get_array_memory_size();
        self.batches.push(batch);
        if self.tables.hold(bytes) {
            self.bytes += bytes;
        } else {
            self.tables.reservation.shrink(self.bytes);
            let (path, file) = self.tables.new_file()?;
            let mut w =
                ArrowWriter::try_new(file, Arc::clone(&self.schema), Some(scratch_properties()))
                    .map_err(kept_err(&path))?;
            for b in self.batches.drain(..) {
                w.write(&b).map_err(kept_err(&path))?;
            }
            self.bytes = 0;
            self.file = Some((path, w));
        }
        Ok(())
    }

    pub fn finish(self) -> Result<Kept, KeptError> {
        match self.file {
            Some((path, w)) => {
                w.close().map_err(kept_err(&path))?;
                Ok(Kept::File {
                    schema: self.schema,
                    path,
                })
            }
            None => Ok(Kept::Memory {
                schema: self.schema,
                batches: self.batches,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    fn batch(from: i64, n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        let ns: Vec<i64> = (from..from + n).collect();
        let ss: Vec<Option<String>> = ns
            .iter()
            .map(|i| (i % 3 != 0).then(|| format!("v{i}")))
            .collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(ns)),
                Arc::new(StringArray::from(ss)),
            ],
        )
        .unwrap()
    }

    fn pool() -> Arc<dyn MemoryPool> {
        Arc::new(datafusion::execution::memory_pool::GreedyMemoryPool::new(
            1 << 30,
        ))
    }

    fn keep(tables: &mut KeptTables, batches: &[RecordBatch]) -> Kept {
        let mut sink = tables.sink(batches[0].schema());
        for b in batches {
            sink.push(b.clone()).unwrap();
        }
        sink.finish().unwrap()
    }

    #[test]
    fn results_within_the_budget_stay_in_memory_and_the_rest_go_to_a_file_in_order() {
        let spill = tempfile::tempdir().unwrap();
        let small = [batch(0, 10)];
        let big = [batch(0, 1000), batch(1000, 1000), batch(2000, 5)];
        let cap = small[0].get_array_memory_size() + 1;
        let mut tables = KeptTables::new(&pool(), cap, Some(spill.path().to_path_buf()));
        let a = keep(&mut tables, &small);
        assert!(matches!(a, Kept::Memory { .. }));
        // The budget is spent: the next result, and any after it, goes to disk.
        let b = keep(&mut tables, &big);
        let Kept::File { path, .. } = &b else {
            panic!("expected a file, got {b:?}")
        };
        assert!(path.starts_with(spill.path()));
        let back = arrow::compute::concat_batches(&b.schema(), &b.batches().unwrap()).unwrap();
        let whole = arrow::compute::concat_batches(&big[0].schema(), &big).unwrap();
        assert_eq!(back, whole);
        drop(tables);
        assert!(!path.exists(), "the scratch file outlived its run");
    }

    #[test]
    fn a_result_the_pool_has_no_room_for_goes_to_a_file() {
        let spill = tempfile::tempdir().unwrap();
        let rows = [batch(0, 100)];
        let pool: Arc<dyn MemoryPool> =
            Arc::new(datafusion::execution::memory_pool::GreedyMemoryPool::new(
                rows[0].get_array_memory_size() / 2,
            ));
        let mut tables = KeptTables::new(&pool, usize::MAX, Some(spill.path().to_path_buf()));
        let kept = keep(&mut tables, &rows);
        assert!(matches!(kept, Kept::File { .. }), "{kept:?}");
        assert_eq!(
            pool.reserved(),
            0,
            "the batches written to the file are not reserved"
        );
        assert_eq!(kept.batches().unwrap(), rows.to_vec());
    }

    #[tokio::test]
    async fn a_result_on_disk_reads_as_the_same_table() {
        let spill = tempfile::tempdir().unwrap();
        let rows = [batch(0, 700), batch(700, 300)];
        let mut tables = KeptTables::new(&pool(), 0, Some(spill.path().to_path_buf()));
        let kept = keep(&mut tables, &rows);
        assert!(matches!(kept, Kept::File { .. }));
        let ctx = SessionContext::new();
        kept.register(&ctx, "t").unwrap();
        let sql = "SELECT count(*), sum(n), count(s), max(s) FROM t";
        let got = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mem = Kept::Memory {
            schema: rows[0].schema(),
            batches: rows.to_vec(),
        };
        let ctx2 = SessionContext::new();
        mem.register(&ctx2, "t").unwrap();
        let want = ctx2.sql(sql).await.unwrap().collect().await.unwrap();
        assert_eq!(got, want);
        let t = ctx.table("t").await.unwrap();
        assert_eq!(t.schema().as_arrow(), rows[0].schema().as_ref());
    }
}
