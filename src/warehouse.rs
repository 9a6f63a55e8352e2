//! The warehouse: versioned, province-partitioned Parquet tables on an object store (a local
//! directory or `s3://bucket/prefix`), and the catalog that says which files are current.
//!
//! Layout under the warehouse root:
//!
//! ```text
//! data/<table>/province=<code>/v=<version>-<content>/part-0.parquet   one file per table and version
//! rejects/province=<code>/v=<version>-<content>/part-0.parquet       quarantined rows and flags
//! _catalog/snapshots/<id, 10 digits>.json                            one per committed ingest
//! _reports/ingest-<id>.json, ingest-<id>.txt                         the ingest report of that commit
//! ```
//!
//! A snapshot lists the current version of every province. Writers put all data files first,
//! under paths no committed snapshot uses, and commit by creating the next snapshot file with a
//! create-only put, an atomic step on every store. Readers take the newest snapshot, so they
//! always see one consistent set of versions, a crash before the commit leaves the previous
//! state current, and every earlier snapshot stays readable ("as of").

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use parquet::arrow::AsyncArrowWriter;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::contract::registers::Register;
use crate::contract::schema::{Table, arrow_schema};

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("cannot open `{location}`: {reason}")]
    Location { location: String, reason: String },
    #[error("object store error at {path}: {source}")]
    Store {
        path: String,
        source: object_store::Error,
    },
    #[error("snapshot {path} is not valid: {source}")]
    Catalog {
        path: String,
        source: serde_json::Error,
    },
    #[error("snapshot {0} was committed by another writer at the same time; rerun the ingest")]
    Conflict(u64),
    #[error("the warehouse has no snapshot {0} (see `povcensus versions`)")]
    NoSuchSnapshot(u64),
    #[error("writing {path}: {source}")]
    Parquet {
        path: String,
        source: parquet::errors::ParquetError,
    },
    #[error("registering table {table}: {source}")]
    Register {
        table: String,
        source: datafusion::error::DataFusionError,
    },
}

fn store_err(path: &ObjectPath) -> impl FnOnce(object_store::Error) -> WarehouseError + '_ {
    move |source| WarehouseError::Store {
        path: path.to_string(),
        source,
    }
}

/// Where a warehouse (or a submission) lives.
#[derive(Clone)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    /// URL of the store's root, as DataFusion sees it (`file:///`, `s3://bucket/`).
    pub store_url: Url,
    /// Prefix of the location inside the store.
    pub prefix: ObjectPath,
    /// What the user wrote.
    pub display: String,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl Location {
    /// Parse a local directory path or an `s3://bucket/prefix` URL. Local directories are
    /// created when `create` is set. S3 credentials and endpoint come from the usual AWS
    /// environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
    /// AWS_ENDPOINT_URL, AWS_ALLOW_HTTP).
    pub fn parse(location: &str, create: bool) -> Result<Location, WarehouseError> {
        let bad = |reason: String| WarehouseError::Location {
            location: location.to_string(),
            reason,
        };
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name".into()));
            }
            // Credentials from the environment only: without them the S3 client would ask the
            // cloud's instance-metadata service, which a census office's machine does not have
            // and whose failure says nothing about what to set.
            let has = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
            let keys = has("AWS_ACCESS_KEY_ID") && has("AWS_SECRET_ACCESS_KEY");
            let other = [
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            ]
            .iter()
            .any(|v| has(v));
            if !keys && !other {
                return Err(bad(
                    "no S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"
                        .into(),
                ));
            }
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| bad(e.to_string()))?;
            let store_url =
                Url::parse(&format!("s3://{bucket}/")).map_err(|e| bad(e.to_string()))?;
            return Ok(Location {
                store: Arc::new(store),
                store_url,
                prefix: ObjectPath::from(prefix.trim_end_matches('/')),
                display: location.to_string(),
            });
        }
        if location.contains("://") {
            return Err(bad(
                "only local directory paths and s3://bucket/prefix URLs are supported".into(),
            ));
        }
        let path = std::path::Path::new(location);
        if create {
            std::fs::create_dir_all(path).map_err(|e| bad(e.to_string()))?;
        }
        let abs = std::fs::canonicalize(path).map_err(|e| bad(e.to_string()))?;
        if !abs.is_dir() {
            return Err(bad("not a directory".into()));
        }
        let store = object_store::local::LocalFileSystem::new();
        let prefix = ObjectPath::from_absolute_path(&abs).map_err(|e| bad(e.to_string()))?;
        Ok(Location {
            store: Arc::new(store),
            // Cannot fail: a constant, valid URL.
            store_url: Url::parse("file:///").expect("static URL"),
            prefix,
            display: location.to_string(),
        })
    }

    /// An object path below this location.
    pub fn path(&self, rel: &str) -> ObjectPath {
        let mut p = self.prefix.clone();
        for part in rel.split('/').filter(|s| !s.is_empty()) {
            p = p.clone().join(part);
        }
        p
    }

    /// The location of a sub-directory, displayed below this one.
    pub fn sub(&self, dir: &str) -> Location {
        let mut sub = self.clone();
        sub.prefix = self.path(dir);
        sub.display = format!("{}/{dir}", self.display.trim_end_matches('/'));
        sub
    }

    /// The URL DataFusion uses for an object path of this store.
    pub fn url_of(&self, path: &ObjectPath) -> String {
        format!("{}{}", self.store_url, path)
    }

    /// Names of the direct sub-directories of `rel`.
    pub async fn list_dirs(&self, rel: &str) -> Result<Vec<String>, WarehouseError> {
        let p = self.path(rel);
        let listing = self
            .store
            .list_with_delimiter(Some(&p))
            .await
            .map_err(store_err(&p))?;
        let mut dirs: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|d| d.filename().map(str::to_string))
            .collect();
        dirs.sort();
        Ok(dirs)
    }

    pub async fn exists(&self, rel: &str) -> Result<bool, WarehouseError> {
        let p = self.path(rel);
        match self.store.head(&p).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(WarehouseError::Store {
                path: p.to_string(),
                source: e,
            }),
        }
    }

    pub async fn get_bytes(&self, rel: &str) -> Result<bytes::Bytes, WarehouseError> {
        let p = self.path(rel);
        let r = self.store.get(&p).await.map_err(store_err(&p))?;
        r.bytes().await.map_err(store_err(&p))
    }

    pub async fn put_bytes(&self, rel: &str, data: Vec<u8>) -> Result<(), WarehouseError> {
        let p = self.path(rel);
        self.store
            .put(&p, PutPayload::from(data))
            .await
            .map_err(store_err(&p))?;
        Ok(())
    }
}

/// One Parquet file of the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    /// Path relative to the warehouse root.
    pub path: String,
    pub rows: u64,
}

/// Rows of one submitted file and what became of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCount {
    pub file: String,
    pub encoding: Option<String>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    pub rows_flagged: u64,
    /// The file was rejected as a whole (file-level rule).
    pub file_rejected: bool,
}

/// A committed version of one province.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvinceVersion {
    pub province_code: String,
    pub version: u32,
    pub submission_id: String,
    /// SHA-256 over the manifest and every file of the submission: the same bytes are the same
    /// submission.
    pub content_sha256: String,
    /// The snapshot that committed this version.
    pub committed_in: u64,
    pub tables: BTreeMap<String, DataFile>,
    pub rejects: DataFile,
    pub files: Vec<FileCount>,
    /// Findings per rule id (rejected rows and flags).
    pub rules: BTreeMap<String, u64>,
    pub rejected_share: f64,
    pub resubmission_required: bool,
}

/// The table of the rejected register rows and file-level findings of every department (the
/// rejects schema; `province_code` is empty, `submission_id` the department's).
pub const REGISTER_REJECTS: &str = "register_rejects";

/// A committed version of one department's registers (`registers.md` §1): like a province
/// version, a later submission replaces the earlier one as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentVersion {
    pub department: String,
    pub version: u32,
    pub submission_id: String,
    /// SHA-256 over the manifest and every file of the submission.
    pub content_sha256: String,
    /// The snapshot that committed this version.
    pub committed_in: u64,
    /// Register table name (`register_<file stem>`) → its data file.
    pub tables: BTreeMap<String, DataFile>,
    pub rejects: DataFile,
    pub files: Vec<FileCount>,
    /// Findings per rule id (rejected rows and flags).
    pub rules: BTreeMap<String, u64>,
}

/// The catalog state after one commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub id: u64,
    pub parent: Option<u64>,
    /// When the snapshot was committed, RFC 3339 in UTC (the clock of the committing machine,
    /// never SOURCE_DATE_EPOCH: it is an event). Absent in catalogs written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_at: Option<String>,
    /// Current version of every province, by province code.
    pub provinces: BTreeMap<String, ProvinceVersion>,
    /// Current version of every department's registers, by department id (`registers.md`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub departments: BTreeMap<String, DepartmentVersion>,
}

impl Snapshot {
    /// Each province of the snapshot alone (no registers), in province-code order: for work
    /// that runs a province at a time.
    pub fn provinces_alone(&self) -> Vec<Snapshot> {
        self.provinces
            .iter()
            .map(|(code, version)| Snapshot {
                provinces: BTreeMap::from([(code.clone(), version.clone())]),
                departments: BTreeMap::new(),
                ..self.clone()
            })
            .collect()
    }

    /// Rows of a table over every province of the snapshot.
    pub fn rows(&self, table: &str) -> u64 {
        self.provinces
            .values()
            .filter_map(|p| p.tables.get(table))
            .map(|f| f.rows)
            .sum::<u64>()
            + self
                .departments
                .values()
                .filter_map(|d| d.tables.get(table))
                .map(|f| f.rows)
                .sum::<u64>()
    }
}

/// Rejects table schema: one row per quarantined row or flag.
pub fn rejects_schema() -> SchemaRef {
    use arrow::datatypes::{DataType, Field, Schema};
    Arc::new(Schema::new(vec![
        Field::new("submission_id", DataType::Utf8, false),
        Field::new("province_code", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, true),
        Field::new("record_key", DataType::Utf8, true),
        Field::new("rule_id", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("message", DataType::Utf8, false),
    ]))
}

/// The warehouse.
#[derive(Clone, Debug)]
pub struct Warehouse {
    pub location: Location,
}

impl Warehouse {
    /// Open (for writing: create) the warehouse at a local path or s3:// URL.
    pub fn open(location: &str, create: bool) -> Result<Warehouse, WarehouseError> {
        Ok(Warehouse {
            location: Location::parse(location, create)?,
        })
    }

    fn snapshot_rel(id: u64) -> String {
        format!("_catalog/snapshots/{id:010}.json")
    }

    /// Ids of all committed snapshots, oldest first.
    pub async fn snapshot_ids(&self) -> Result<Vec<u64>, WarehouseError> {
        let p = self.location.path("_catalog/snapshots");
        let metas: Vec<_> = self
            .location
            .store
            .list(Some(&p))
            .try_collect()
            .await
            .map_err(store_err(&p))?;
        let mut ids: Vec<u64> = metas
            .iter()
            .filter_map(|m| m.location.filename()?.strip_suffix(".json")?.parse().ok())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    pub async fn snapshot(&self, id: u64) -> Result<Snapshot, WarehouseError> {
        let rel = Self::snapshot_rel(id);
        let bytes = match self.location.get_bytes(&rel).await {
            Err(WarehouseError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            }) => {
                return Err(WarehouseError::NoSuchSnapshot(id));
            }
            r => r?,
        };
        serde_json::from_slice(&bytes)
            .map_err(|source| WarehouseError::Catalog { path: rel, source })
    }

    /// The newest snapshot, if anything was ever committed.
    pub async fn latest(&self) -> Result<Option<Snapshot>, WarehouseError> {
        match self.snapshot_ids().await?.last() {
            Some(&id) => Ok(Some(self.snapshot(id).await?)),
            None => Ok(None),
        }
    }

    /// The snapshot `as_of` when given, else the newest (None when nothing was committed).
    pub async fn snapshot_as_of(
        &self,
        as_of: Option<u64>,
    ) -> Result<Option<Snapshot>, WarehouseError> {
        match as_of {
            Some(id) => Ok(Some(self.snapshot(id).await?)),
            None => self.latest().await,
        }
    }

    /// Commit a snapshot: create its file, failing if another writer committed that id first.
    pub async fn commit(&self, snapshot: &Snapshot) -> Result<(), WarehouseError> {
        let rel = Self::snapshot_rel(snapshot.id);
        let p = self.location.path(&rel);
        // Cannot fail: strings, integers and string-keyed maps serialize.
        let json = serde_json::to_vec_pretty(snapshot).expect("snapshot serializes");
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .location
            .store
            .put_opts(&p, PutPayload::from(json), opts)
            .await
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                Err(WarehouseError::Conflict(snapshot.id))
            }
            Err(e) => Err(WarehouseError::Store {
                path: p.to_string(),
                source: e,
            }),
        }
    }

    /// Write record batches as one Parquet file (relative path), with the warehouse's writer
    /// properties. Returns the number of rows.
    pub async fn write_parquet(
        &self,
        rel: &str,
        schema: SchemaRef,
        mut batches: impl futures::Stream<
            Item = Result<RecordBatch, datafusion::error::DataFusionError>,
        > + Unpin,
    ) -> Result<u64, WarehouseError> {
        let p = self.location.path(rel);
        let perr = |source| WarehouseError::Parquet {
            path: rel.to_string(),
            source,
        };
        let object =
            object_store::buffered::BufWriter::new(Arc::clone(&self.location.store), p.clone());
        let mut writer =
            AsyncArrowWriter::try_new(object, schema, Some(crate::engine::writer_properties()))
                .map_err(perr)?;
        let mut rows = 0u64;
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(|e| WarehouseError::Parquet {
                path: rel.to_string(),
                source: parquet::errors::ParquetError::External(Box::new(e)),
            })?;
            rows += batch.num_rows() as u64;
            writer.write(&batch).await.map_err(perr)?;
        }
        writer.close().await.map_err(perr)?;
        Ok(rows)
    }

    /// Put a local Parquet file, written with the warehouse's writer properties, into the
    /// warehouse as it is (relative path), streamed: the store makes it visible whole, on
    /// completion. Returns the rows its footer records.
    pub async fn put_parquet(
        &self,
        rel: &str,
        local: &std::path::Path,
    ) -> Result<u64, WarehouseError> {
        use tokio::io::AsyncWriteExt as _;
        let perr = |source| WarehouseError::Parquet {
            path: rel.to_string(),
            source,
        };
        let ioerr = |e: std::io::Error| perr(parquet::errors::ParquetError::External(Box::new(e)));
        let footer = local.to_path_buf();
        let rows = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(footer)?;
            parquet::file::metadata::ParquetMetaDataReader::new()
                .parse_and_finish(&file)
                .map(|m| m.file_metadata().num_rows())
        })
        .await
        .map_err(|e| ioerr(std::io::Error::other(e)))?
        .map_err(perr)?;
        let mut file = tokio::fs::File::open(local).await.map_err(ioerr)?;
        let p = self.location.path(rel);
        let mut object =
            object_store::buffered::BufWriter::new(Arc::clone(&self.location.store), p);
        tokio::io::copy(&mut file, &mut object)
            .await
            .map_err(ioerr)?;
        object.shutdown().await.map_err(ioerr)?;
        u64::try_from(rows).map_err(|_| {
            perr(parquet::errors::ParquetError::General(format!(
                "a negative row count ({rows}) in {}",
                local.display()
            )))
        })
    }

    /// Register the tables of a snapshot (`counties` … `assessment_households`, `rejects`) in a
    /// DataFusion session. Tables no province has are registered empty with their schema.
    pub fn register(
        &self,
        ctx: &SessionContext,
        snapshot: Option<&Snapshot>,
    ) -> Result<(), WarehouseError> {
        let empty = BTreeMap::new();
        let provinces = snapshot.map_or(&empty, |s| &s.provinces);
        for t in Table::ALL {
            let files: Vec<&DataFile> = provinces
                .values()
                .filter_map(|p| p.tables.get(t.name()))
                .collect();
            self.register_files(ctx, t.name(), arrow_schema(t), &files)?;
        }
        let rejects: Vec<&DataFile> = provinces.values().map(|p| &p.rejects).collect();
        self.register_files(ctx, "rejects", rejects_schema(), &rejects)?;
        self.register_registers(ctx, snapshot)
    }

    /// Register the department registers of a snapshot (`register_<file stem>`, registers.md
    /// §1) and their rejects ([`REGISTER_REJECTS`]); a register no department has submitted is registered empty with its schema, so that
    /// queries over registers always plan.
    pub fn register_registers(
        &self,
        ctx: &SessionContext,
        snapshot: Option<&Snapshot>,
    ) -> Result<(), WarehouseError> {
        let empty = BTreeMap::new();
        let departments = snapshot.map_or(&empty, |s| &s.departments);
        for r in Register::ALL {
            let files: Vec<&DataFile> = departments
                .values()
                .filter_map(|d| d.tables.get(r.table_name()))
                .collect();
            self.register_files(ctx, r.table_name(), r.arrow_schema(), &files)?;
        }
        let rejects: Vec<&DataFile> = departments.values().map(|d| &d.rejects).collect();
        self.register_files(ctx, REGISTER_REJECTS, rejects_schema(), &rejects)
    }

    /// Register Parquet files (relative paths) as one table.
    pub fn register_files(
        &self,
        ctx: &SessionContext,
        name: &str,
        schema: SchemaRef,
        files: &[&DataFile],
    ) -> Result<(), WarehouseError> {
        let reg = |source| WarehouseError::Register {
            table: name.to_string(),
            source,
        };
        ctx.register_object_store(&self.location.store_url, Arc::clone(&self.location.store));
        let provider: Arc<dyn datafusion::catalog::TableProvider> = if files.is_empty() {
            Arc::new(MemTable::try_new(Arc::clone(&schema), vec![vec![]]).map_err(reg)?)
        } else {
            let urls = files
                .iter()
                .map(|f| ListingTableUrl::parse(self.location.url_of(&self.location.path(&f.path))))
                .collect::<Result<Vec<_>, _>>()
                .map_err(reg)?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            let config = ListingTableConfig::new_with_multi_paths(urls)
                .with_listing_options(options)
                .with_schema(schema);
            Arc::new(ListingTable::try_new(config).map_err(reg)?)
        };
        ctx.deregister_table(name).map_err(reg)?;
        ctx.register_table(name, provider).map_err(reg)?;
        Ok(())
    }
}
