//! Output folders and files, shared by the stages that write them (`run`, `report`,
//! `extract`): a folder written in a private sibling and moved into place whole
//! ([`StagedDir`]); a table written batch by batch as `<name>.parquet` and `<name>.csv`
//! ([`OutputWriter`]); text made safe for spreadsheets ([`formula_safe`]); the generation time
//! documents show ([`generated_at`]).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "{path} already exists and is not an output of this command (it has no {marker}); choose another --out or remove it"
    )]
    NotAnOutput { path: String, marker: &'static str },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The byte order mark that makes spreadsheets (Excel) read a CSV file as UTF-8.
pub const UTF8_BOM: &str = "\u{feff}";

/// The generation time shown on documents (`report`, `extract`), as "YYYY-MM-DD HH:MM UTC":
/// `arg` ("YYYY-MM-DD HH:MM", UTC) when given, else SOURCE_DATE_EPOCH when set, else now. Fixed
/// by either, the documents are byte-identical from run to run.
pub fn generated_at(arg: Option<&str>) -> Result<String, TimeError> {
    let t = match arg {
        Some(s) => chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .map_err(|_| TimeError::Argument(s.to_string()))?
            .and_utc(),
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) => {
                let secs: i64 = v
                    .trim()
                    .parse()
                    .map_err(|_| TimeError::NotSeconds(v.clone()))?;
                chrono::DateTime::from_timestamp(secs, 0).ok_or(TimeError::OutOfRange(v))?
            }
            Err(_) => chrono::Utc::now(),
        },
    };
    Ok(t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// A generation time that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TimeError {
    #[error("--generated-at `{0}` is not YYYY-MM-DD HH:MM")]
    Argument(String),
    #[error("SOURCE_DATE_EPOCH `{0}` is not a number of seconds")]
    NotSeconds(String),
    #[error("SOURCE_DATE_EPOCH `{0}` is out of range")]
    OutOfRange(String),
}

/// An output directory written in a private sibling and moved into place whole: until
/// [`StagedDir::commit`], `OUT` keeps its previous content (or stays absent); dropped without a
/// commit (an error on the way), the sibling is removed.
#[derive(Debug)]
pub struct StagedDir {
    out: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Prepare `out`. An existing `out` must be an empty directory or a previous output of the
    /// same command (it holds `marker`): anything else is refused before any work is done, so
    /// that a mistyped `--out` never replaces unrelated files.
    pub fn new(out: &Path, marker: &'static str) -> Result<StagedDir, OutputError> {
        let werr = |p: &Path, e: std::io::Error| OutputError::Write {
            path: p.display().to_string(),
            source: e.into(),
        };
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| OutputError::Write {
                path: out.display().to_string(),
                source: "the output path has no directory name".into(),
            })?;
        if out.exists() {
            let meta = std::fs::symlink_metadata(out).map_err(|e| werr(out, e))?;
            let empty = meta.is_dir()
                && std::fs::read_dir(out)
                    .map_err(|e| werr(out, e))?
                    .next()
                    .is_none();
            if !meta.is_dir() || (!empty && !out.join(marker).is_file()) {
                return Err(OutputError::NotAnOutput {
                    path: out.display().to_string(),
                    marker,
                });
            }
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| werr(&parent, e))?;
        let prefix = format!(".{name}.povcensus-");
        remove_abandoned(&parent, &prefix);
        // A private name (process id, time, counter), created with the process umask's
        // permissions, as OUT would have had (owner-only: `main` sets umask 077).
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = parent.join(format!("{prefix}{}-{nanos:09}-{n}", std::process::id()));
            match std::fs::create_dir(&tmp) {
                Ok(()) => break tmp,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(werr(&parent, e)),
            }
        };
        Ok(StagedDir {
            out: out.to_path_buf(),
            tmp,
            committed: false,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Move the finished output into place, replacing the previous one whole.
    pub fn commit(mut self) -> Result<(), OutputError> {
        let werr = |p: &Path, e: std::io::Error| OutputError::Write {
            path: p.display().to_string(),
            source: e.into(),
        };
        let old = if self.out.exists() {
            let mut old = self.tmp.clone().into_os_string();
            old.push(".old");
            let old = PathBuf::from(old);
            std::fs::rename(&self.out, &old).map_err(|e| werr(&self.out, e))?;
            Some(old)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(&self.tmp, &self.out) {
            if let Some(old) = &old {
                // Put the previous output back; if even that fails, the error below says where.
                let _ = std::fs::rename(old, &self.out);
            }
            return Err(werr(&self.out, e));
        }
        self.committed = true;
        if let Some(old) = old {
            std::fs::remove_dir_all(&old).map_err(|e| werr(&old, e))?;
        }
        Ok(())
    }
}

/// Remove the staging folders `<prefix><pid>-…` of processes that no longer run (a run killed
/// before it could clean up). Where the process table cannot be read (no `/proc`), nothing is
/// removed.
fn remove_abandoned(parent: &Path, prefix: &str) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !proc.join(pid.to_string()).exists() {
            tracing::info!(path = %e.path().display(), "removing an abandoned staging folder");
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// One output file in the run manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFile {
    pub file: String,
    pub rows: u64,
    pub sha256: String,
}

/// An output table written batch by batch, so a table of any size streams to disk:
/// `<name>.parquet` with the warehouse's writer properties and `<name>.csv` (UTF-8 with BOM, a
/// header line before the first batch). Each file is encoded on a thread of its own, fed in
/// order through a short queue, so encoding runs beside the work that makes the batches and
/// the bytes are those of a serial write. `finish` closes both and hashes them.
pub struct OutputWriter {
    parquet: FileThread,
    csv: FileThread,
    rows: u64,
}

fn write_error(
    p: &Path,
) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> OutputError + use<> {
    let p = p.display().to_string();
    move |e| OutputError::Write {
        path: p.clone(),
        source: e,
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One output file's encoder: what a [`FileThread`] runs.
trait FileEncoder: Send + 'static {
    fn write(&mut self, b: &RecordBatch) -> Result<(), BoxError>;
    /// Finish the file (the CSV file is also synced to disk).
    fn close(self: Box<Self>) -> Result<(), BoxError>;
}

struct ParquetEncoder(parquet::arrow::ArrowWriter<std::fs::File>);

impl FileEncoder for ParquetEncoder {
    fn write(&mut self, b: &RecordBatch) -> Result<(), BoxError> {
        Ok(self.0.write(b)?)
    }

    fn close(self: Box<Self>) -> Result<(), BoxError> {
        self.0.close()?;
        Ok(())
    }
}

struct CsvEncoder {
    csv: arrow::csv::Writer<std::io::BufWriter<std::fs::File>>,
    schema: SchemaRef,
    /// Whether a batch was written (the header goes out with the first one).
    started: bool,
}

impl FileEncoder for CsvEncoder {
    fn write(&mut self, b: &RecordBatch) -> Result<(), BoxError> {
        self.csv.write(&formula_safe_batch(b)?)?;
        self.started = true;
        Ok(())
    }

    fn close(mut self: Box<Self>) -> Result<(), BoxError> {
        if !self.started {
            // A table without rows still has its header line.
            self.csv
                .write(&RecordBatch::new_empty(Arc::clone(&self.schema)))?;
        }
        let file = self
            .csv
            .into_inner()
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(())
    }
}

/// Batches queued for an encoder thread; a few are enough to keep both sides busy.
const QUEUED_BATCHES: usize = 4;

/// What an encoder thread is sent: batches, in order, then `Close`, saying whether the file's
/// SHA-256 is wanted (it is read back once more for it).
enum ToEncoder {
    Batch(RecordBatch),
    Close { digest: bool },
}

/// A thread encoding one output file from the batches sent to it, in order; told to close,
/// it closes the file and returns its SHA-256 (an empty string when none is wanted). Dropped
/// unfinished (the output failed elsewhere), its queue ends without `Close`: it stops without
/// closing and is waited for, so nothing writes into the folder after it is removed.
struct FileThread {
    path: PathBuf,
    tx: Option<std::sync::mpsc::SyncSender<ToEncoder>>,
    thread: Option<std::thread::JoinHandle<Result<String, OutputError>>>,
}

impl FileThread {
    fn spawn(path: PathBuf, mut encoder: Box<dyn FileEncoder>) -> Result<FileThread, OutputError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<ToEncoder>(QUEUED_BATCHES);
        let p = path.clone();
        let thread = std::thread::Builder::new()
            .name("povcensus-output".into())
            .spawn(move || {
                let werr = write_error(&p);
                for message in rx {
                    match message {
                        ToEncoder::Batch(b) => encoder.write(&b).map_err(&werr)?,
                        ToEncoder::Close { digest } => {
                            encoder.close().map_err(&werr)?;
                            if !digest {
                                return Ok(String::new());
                            }
                            return sha256_file(&p).map_err(|e| werr(e.into()));
                        }
                    }
                }
                // Abandoned: the output is being removed.
                Ok(String::new())
            })
            .map_err(|e| write_error(&path)(e.into()))?;
        Ok(FileThread {
            path,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn send(&mut self, message: ToEncoder) -> Result<(), OutputError> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(message).is_ok());
        if sent {
            Ok(())
        } else {
            Err(self.join().err().unwrap_or_else(|| self.ended()))
        }
    }

    /// Close the file and wait for it: its SHA-256 when `digest`, else an empty string.
    fn finish(mut self, digest: bool) -> Result<String, OutputError> {
        self.send(ToEncoder::Close { digest })?;
        self.join()
    }

    /// End the queue and wait for the thread.
    fn join(&mut self) -> Result<String, OutputError> {
        self.tx = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) | None => Err(self.ended()),
        }
    }

    /// The error of an encoder thread that is gone without saying why (it panicked).
    fn ended(&self) -> OutputError {
        write_error(&self.path)("the thread writing this file stopped unexpectedly".into())
    }
}

impl Drop for FileThread {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.join();
        }
    }
}

impl OutputWriter {
    pub fn create(out: &Path, name: &str, schema: SchemaRef) -> Result<Self, OutputError> {
        let parquet_path = out.join(format!("{name}.parquet"));
        let csv_path = out.join(format!("{name}.csv"));
        let perr = write_error(&parquet_path);
        let f = std::fs::File::create(&parquet_path).map_err(|e| perr(e.into()))?;
        let parquet = parquet::arrow::ArrowWriter::try_new(
            f,
            Arc::clone(&schema),
            Some(crate::engine::writer_properties()),
        )
        .map_err(|e| perr(e.into()))?;
        let cerr = write_error(&csv_path);
        let mut f =
            // 1 MiB at a time: a national table is gigabytes of text, and 8 KiB writes spend
            // their time in system calls.
            std::io::BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(&csv_path).map_err(|e| cerr(e.into()))?,
            );
        f.write_all(UTF8_BOM.as_bytes())
            .map_err(|e| cerr(e.into()))?;
        let csv = CsvEncoder {
            csv: arrow::csv::WriterBuilder::new().with_header(true).build(f),
            schema,
            started: false,
        };
        Ok(OutputWriter {
            parquet: FileThread::spawn(parquet_path, Box::new(ParquetEncoder(parquet)))?,
            csv: FileThread::spawn(csv_path, Box::new(csv))?,
            rows: 0,
        })
    }

    pub fn write(&mut self, b: &RecordBatch) -> Result<(), OutputError> {
        self.parquet.send(ToEncoder::Batch(b.clone()))?;
        self.csv.send(ToEncoder::Batch(b.clone()))?;
        self.rows += b.num_rows() as u64;
        Ok(())
    }

    /// Close both files and return their names, rows and SHA-256 digests.
    pub fn finish(self) -> Result<Vec<OutputFile>, OutputError> {
        self.close_files(true)
    }

    /// Close both files without reading them back for their digests (an extract's tables,
    /// whose digests nothing records, are gigabytes at national size); their rows.
    pub fn close(self) -> Result<u64, OutputError> {
        let rows = self.rows;
        self.close_files(false)?;
        Ok(rows)
    }

    fn close_files(self, digest: bool) -> Result<Vec<OutputFile>, OutputError> {
        let rows = self.rows;
        let mut files = Vec::new();
        for lane in [self.parquet, self.csv] {
            let file = lane
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let sha256 = lane.finish(digest)?;
            files.push(OutputFile { file, rows, sha256 });
        }
        Ok(files)
    }
}

/// Whether a text cell would be taken for a formula by a spreadsheet (`=`, `+`, `-`, `@`, or a
/// tab or carriage return before one).
fn looks_like_formula(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Text for a CSV or XLSX cell: a text that a spreadsheet would run as a formula is prefixed
/// with `'`, so it is shown as the text it is (formula injection). Numbers are not text and
/// never pass through here.
pub fn formula_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if looks_like_formula(s) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// The batch as it goes to a CSV file: text columns through [`formula_safe`], everything else
/// as it is (a batch without such text is returned unchanged).
pub fn formula_safe_batch(b: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(b.num_columns());
    let mut changed = false;
    for c in b.columns() {
        let text = matches!(
            c.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        if !text {
            columns.push(Arc::clone(c));
            continue;
        }
        let strings = arrow::compute::cast(c, &DataType::Utf8)?;
        let strings = strings.as_string::<i32>();
        if !strings.iter().flatten().any(looks_like_formula) {
            columns.push(Arc::clone(c));
            continue;
        }
        changed = true;
        let safe: arrow::array::StringArray = strings.iter().map(|v| v.map(formula_safe)).collect();
        columns.push(arrow::compute::cast(
            &(Arc::new(safe) as ArrayRef),
            c.data_type(),
        )?);
    }
    if !changed {
        return Ok(b.clone());
    }
    RecordBatch::try_new(b.schema(), columns)
}

/// The hex SHA-256 of a file, read in chunks.
fn sha256_file(p: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}
