//! Staging: the rows of one submitted file that pass their row rules, typed and written as the
//! warehouse's own Parquet file (local, in the staging directory), with the row-level findings
//! in a local rejects file (Parquet). For a census table, the columns the cross-row rules read
//! also go, with the physical line in `_line`, to a narrow Arrow IPC file (the *checks* file).
//! The cross-row rules run over the checks files; the write phase then puts each Parquet file
//! into the warehouse as it is, or, for a file with cross-row rejects, rewrites it without
//! their lines.
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, AsArray, Date32Builder, Float64Builder, Int16Builder, Int64Builder,
    StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use arrow::record_batch::RecordBatch;
use chrono::Datelike;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::contract::registers::Register;
use crate::contract::rules::{Rule, Severity};
use crate::contract::schema::{Column, Table, arrow_schema, data_type};
use crate::engine::functions::key_codes;
use crate::ingest::validation::{Finding, Value};
use crate::warehouse::rejects_schema;

const BATCH_ROWS: usize = 32 * 1024;

/// The staged schema of a table: the warehouse schema plus `_line`.
pub fn staged_schema(table: Table) -> SchemaRef {
    let base = arrow_schema(table);
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("_line", DataType::Int64, false));
    Arc::new(Schema::new(fields))
}

/// The columns of a census table that the cross-row rules (`queries/ingest/`) read, besides
/// `province_code`, `_line` and the key codes ([`coded_columns`]): of a person's 16 columns,
/// only `relation`; its person_id and household_id are there as codes alone (the rules spell
/// out the keys of the rows they report with `key_text`), which halves the persons' checks
/// files (73 → 36 bytes a row) that the rules read three times.
fn checked_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Counties => &["county_code"],
        Table::Townships => &["township_code"],
        Table::Villages => &["village_code"],
        Table::Households => &[
            "household_id",
            "household_size",
            "enumeration_status",
            "exit_year",
        ],
        Table::Persons => &["relation"],
        Table::AssessmentHouseholds => {
            &["county_code", "village_code", "household_id", "sample_type"]
        }
    }
}

/// The key columns of a census table whose codes ([`key_codes`]) its checks file carries, with
/// the code columns' names: the table's key as `_key`, a person's household as
/// `_household_key`, a household's head's ID number as `_head_key`. The rules group and join
/// these exact integers instead of the strings (equal only for equal keys); coding them here,
/// while the files are staged in parallel, keeps that work out of the checks that follow.
fn coded_columns(table: Table) -> Vec<(&'static str, &'static str)> {
    let mut coded: Vec<(&'static str, &'static str)> = table
        .key_column()
        .map(|k| (k, "_key"))
        .into_iter()
        .collect();
    match table {
        Table::Persons => coded.push(("household_id", "_household_key")),
        Table::Households => coded.push(("head_id_number", "_head_key")),
        _ => {}
    }
    coded
}

/// Positions in [`staged_schema`] of the columns of a checks file: the checked columns, then
/// `province_code` and `_line`.
fn checked_indices(table: Table) -> Vec<usize> {
    let schema = staged_schema(table);
    checked_columns(table)
        .iter()
        .chain(&["province_code", "_line"])
        .filter_map(|c| schema.index_of(c).ok())
        .collect()
}

/// Positions in [`staged_schema`] of the columns whose codes a checks file carries after its
/// checked columns ([`coded_columns`]).
fn coded_indices(table: Table) -> Vec<usize> {
    let schema = staged_schema(table);
    coded_columns(table)
        .iter()
        .filter_map(|(c, _)| schema.index_of(c).ok())
        .collect()
}

/// The schema of a table's checks files (what the cross-row rules see as `staged_<table>`):
/// the checked columns, `province_code`, `_line`, then the key codes.
pub fn checked_schema(table: Table) -> SchemaRef {
    let staged = staged_schema(table);
    let fields: Vec<Field> = checked_indices(table)
        .into_iter()
        .map(|i| staged.field(i).clone())
        .chain(
            coded_columns(table)
                .into_iter()
                .map(|(_, name)| Field::new(name, DataType::Int64, true)),
        )
        .collect();
    Arc::new(Schema::new(fields))
}

/// The extension of staged checks files.
pub const STAGED_EXTENSION: &str = ".arrow";

/// Checks files are Arrow IPC files, uncompressed: written once and read a few times by the
/// cross-row checks, on this machine, within minutes; IPC batches are Arrow's own buffers. LZ4
/// (IPC's compression) saved no space on the staged files and took 8 % of the CPU at scale 0.1
/// (`perf`). They hold only the columns the rules read: when the staged files held every
/// column, reading them back was 12 % of the ingest's CPU (decoding and copying the persons'
/// 40 columns for the orphans, the duplicates and the household warnings, then once more to
/// write the warehouse).
fn staging_options() -> Result<IpcWriteOptions, ArrowError> {
    IpcWriteOptions::default().try_with_compression(None)
}

/// Rejects files are read once, by the rejects step: snappy without dictionaries or
/// statistics.
fn staging_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(false)
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::None)
        .build()
}

enum ColumnBuilder {
    Utf8(StringBuilder),
    Int16(Int16Builder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Date32(Date32Builder),
}

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01, Arrow's day 0.
const EPOCH_FROM_CE: i32 = 719_163;

impl ColumnBuilder {
    fn new(dt: &DataType) -> Self {
        match dt {
            DataType::Int16 => ColumnBuilder::Int16(Int16Builder::with_capacity(BATCH_ROWS)),
            DataType::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(BATCH_ROWS)),
            DataType::Float64 => ColumnBuilder::Float64(Float64Builder::with_capacity(BATCH_ROWS)),
            DataType::Date32 => ColumnBuilder::Date32(Date32Builder::with_capacity(BATCH_ROWS)),
            _ => ColumnBuilder::Utf8(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 8)),
        }
    }

    fn append(&mut self, v: &Value<'_>) {
        match (&mut *self, v) {
            (b, Value::Null) => self_null(b),
            (ColumnBuilder::Utf8(b), Value::Str(s)) => b.append_value(s),
            (ColumnBuilder::Int16(b), Value::Int(i)) => b.append_option(i16::try_from(*i).ok()),
            (ColumnBuilder::Int64(b), Value::Int(i)) => b.append_value(*i),
            (ColumnBuilder::Float64(b), Value::Float(f)) => b.append_value(*f),
            (ColumnBuilder::Float64(b), Value::Int(i)) => b.append_value(*i as f64),
            (ColumnBuilder::Date32(b), Value::Date(d)) => {
                b.append_value(d.num_days_from_ce() - EPOCH_FROM_CE)
            }
            (b, other) => {
                // A value of an unexpected kind cannot come from the validator; store NULL
                // rather than guess.
                debug_assert!(false, "unexpected value {other:?}");
                self_null(b)
            }
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
            ColumnBuilder::Int16(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Date32(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            ColumnBuilder::Utf8(b) => b.len(),
            ColumnBuilder::Int16(b) => b.len(),
            ColumnBuilder::Int64(b) => b.len(),
            ColumnBuilder::Float64(b) => b.len(),
            ColumnBuilder::Date32(b) => b.len(),
        }
    }
}

fn self_null(b: &mut ColumnBuilder) {
    match b {
        ColumnBuilder::Utf8(b) => b.append_null(),
        ColumnBuilder::Int16(b) => b.append_null(),
        ColumnBuilder::Int64(b) => b.append_null(),
        ColumnBuilder::Float64(b) => b.append_null(),
        ColumnBuilder::Date32(b) => b.append_null(),
    }
}

/// Where a staged row's `province_code` comes from.
enum ProvinceOf {
    /// The submitting province.
    Fixed(String),
    /// The first two digits of the county code in this column (registers).
    County(usize),
}

/// The staged files of one submitted file's accepted rows.
#[derive(Debug)]
pub struct Staged {
    /// The warehouse's Parquet file of the rows, in line order.
    pub data: PathBuf,
    /// The census table's checks file, its rows in the same order (None for a register,
    /// which has no cross-row rules).
    pub checks: Option<PathBuf>,
    pub rows: u64,
}

/// A checks file being written: the positions of its columns in a staged batch.
struct ChecksWriter {
    indices: Vec<usize>,
    /// Positions of the columns whose key codes follow.
    coded: Vec<usize>,
    schema: SchemaRef,
    writer: FileWriter<BufWriter<File>>,
    path: PathBuf,
}

/// Writes the accepted rows of one file: the warehouse's Parquet file, and for a census table
/// its checks file.
pub struct StagedWriter {
    /// A staged batch: the file's columns, `province_code`, then the line (`_line`, or a
    /// register's `source_line`).
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    province: ProvinceOf,
    provinces: StringBuilder,
    lines: Int64Builder,
    /// The warehouse schema: the first columns of a staged batch.
    data_schema: SchemaRef,
    data: ArrowWriter<BufWriter<File>>,
    checks: Option<ChecksWriter>,
    pub path: PathBuf,
    pub rows: u64,
}

impl StagedWriter {
    /// The staged files of a census table: `path` (Parquet) and `checks` (IPC).
    pub fn create(
        path: PathBuf,
        checks: PathBuf,
        table: Table,
        province: &str,
    ) -> parquet::errors::Result<Self> {
        let checks_schema = checked_schema(table);
        let file = BufWriter::new(File::create(&checks)?);
        let writer = FileWriter::try_new_with_options(file, &checks_schema, staging_options()?)?;
        let checks = ChecksWriter {
            indices: checked_indices(table),
            coded: coded_indices(table),
            schema: checks_schema,
            writer,
            path: checks,
        };
        Self::with_schema(
            path,
            staged_schema(table),
            arrow_schema(table),
            table.columns(),
            ProvinceOf::Fixed(province.to_string()),
            Some(checks),
        )
    }

    /// The staged rows of a register: its warehouse schema as it is (the line is its
    /// `source_line`), each row's province the first two digits of its `county_code`.
    pub fn create_register(path: PathBuf, register: Register) -> parquet::errors::Result<Self> {
        let county = register
            .columns()
            .iter()
            .position(|c| c.name == "county_code")
            .unwrap_or(1);
        Self::with_schema(
            path,
            register.arrow_schema(),
            register.arrow_schema(),
            register.columns(),
            ProvinceOf::County(county),
            None,
        )
    }

    fn with_schema(
        path: PathBuf,
        schema: SchemaRef,
        data_schema: SchemaRef,
        columns: &'static [Column],
        province: ProvinceOf,
        checks: Option<ChecksWriter>,
    ) -> parquet::errors::Result<Self> {
        let columns = columns
            .iter()
            .map(|c| ColumnBuilder::new(&data_type(c.kind)))
            .collect();
        let file = BufWriter::new(File::create(&path)?);
        let data = ArrowWriter::try_new(
            file,
            Arc::clone(&data_schema),
            Some(crate::engine::writer_properties()),
        )?;
        Ok(StagedWriter {
            schema,
            columns,
            province,
            provinces: StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 2),
            lines: Int64Builder::with_capacity(BATCH_ROWS),
            data_schema,
            data,
            checks,
            path,
            rows: 0,
        })
    }

    pub fn append(&mut self, line: u64, values: &[Value<'_>]) -> parquet::errors::Result<()> {
        for (b, v) in self.columns.iter_mut().zip(values) {
            b.append(v);
        }
        match &self.province {
            ProvinceOf::Fixed(p) => self.provinces.append_value(p),
            ProvinceOf::County(i) => self.provinces.append_value(
                values
                    .get(*i)
                    .and_then(Value::as_str)
                    .and_then(|c| c.get(..2))
                    .unwrap_or_default(),
            ),
        }
        self.lines.append_value(line as i64);
        self.rows += 1;
        if self.lines.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> parquet::errors::Result<()> {
        let n = self.lines.len();
        if n == 0 {
            return Ok(());
        }
        debug_assert!(self.columns.iter().all(|c| c.len() == n));
        let mut arrays: Vec<ArrayRef> =
            self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        arrays.push(Arc::new(self.provinces.finish()));
        arrays.push(Arc::new(self.lines.finish()));
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays)?;
        if let Some(c) = &mut self.checks {
            let mut columns: Vec<ArrayRef> = c
                .indices
                .iter()
                .map(|&i| Arc::clone(batch.column(i)))
                .collect();
            for &i in &c.coded {
                let codes = key_codes(batch.column(i).as_ref())
                    .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))?;
                columns.push(Arc::new(codes));
            }
            c.writer
                .write(&RecordBatch::try_new(Arc::clone(&c.schema), columns)?)?;
        }
        let width = self.data_schema.fields().len();
        let data = RecordBatch::try_new(
            Arc::clone(&self.data_schema),
            batch.columns().iter().take(width).cloned().collect(),
        )?;
        self.data.write(&data)
    }

    pub fn finish(mut self) -> parquet::errors::Result<Staged> {
        self.flush()?;
        self.data.close()?;
        let checks = match self.checks {
            Some(c) => {
                c.writer
                    .into_inner()?
                    .into_inner()
                    .map_err(std::io::IntoInnerError::into_error)?;
                Some(c.path)
            }
            None => None,
        };
        Ok(Staged {
            data: self.path,
            checks,
            rows: self.rows,
        })
    }
}

/// The lines of a checks file, in the order of its rows (the order of the staged Parquet
/// file's rows).
pub fn staged_lines(checks: &Path) -> Result<Vec<i64>, ArrowError> {
    let reader = FileReader::try_new(BufReader::new(File::open(checks)?), None)?;
    let mut lines = Vec::new();
    for b in reader {
        let b = b?;
        let col = b
            .column_by_name("_line")
            .and_then(|c| c.as_primitive_opt::<arrow::datatypes::Int64Type>())
            .ok_or_else(|| ArrowError::SchemaError("a checks file without _line".into()))?;
        lines.extend(col.values().iter().copied());
    }
    Ok(lines)
}

/// One finding about a submitted row or file, ready for the rejects table.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectRow {
    pub line: Option<u64>,
    pub record_key: Option<String>,
    pub rule: Rule,
    pub column: Option<String>,
    pub message: String,
}

impl RejectRow {
    pub fn from_finding(line: Option<u64>, key: Option<String>, f: &Finding) -> Self {
        RejectRow {
            line,
            record_key: key,
            rule: f.rule,
            column: f.column.map(str::to_string),
            message: f.message.clone(),
        }
    }

    pub fn severity(&self) -> Severity {
        self.rule.severity()
    }
}

/// Writes the findings of one file as rows of the rejects schema.
pub struct RejectsWriter {
    submission_id: String,
    province: String,
    file: String,
    pending: Vec<RejectRow>,
    writer: ArrowWriter<File>,
    pub path: PathBuf,
    pub rows: u64,
}

impl RejectsWriter {
    pub fn create(
        path: PathBuf,
        submission_id: &str,
        province: &str,
        file: &str,
    ) -> parquet::errors::Result<Self> {
        let f = File::create(&path)?;
        let writer = ArrowWriter::try_new(f, rejects_schema(), Some(staging_properties()))?;
        Ok(RejectsWriter {
            submission_id: submission_id.to_string(),
            province: province.to_string(),
            file: file.to_string(),
            pending: Vec::new(),
            writer,
            path,
            rows: 0,
        })
    }

    pub fn push(&mut self, r: RejectRow) -> parquet::errors::Result<()> {
        self.pending.push(r);
        self.rows += 1;
        if self.pending.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> parquet::errors::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let batch = rejects_batch(&self.submission_id, &self.province, &self.file, &rows)
            .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))?;
        self.writer.write(&batch)
    }

    pub fn finish(mut self) -> parquet::errors::Result<(PathBuf, u64)> {
        self.flush()?;
        self.writer.close()?;
        Ok((self.path, self.rows))
    }
}

/// A record batch of the rejects schema.
pub fn rejects_batch(
    submission_id: &str,
    province: &str,
    file: &str,
    rows: &[RejectRow],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let n = rows.len();
    let mut sub = StringBuilder::with_capacity(n, n * submission_id.len());
    let mut prov = StringBuilder::with_capacity(n, n * 2);
    let mut files = StringBuilder::with_capacity(n, n * file.len());
    let mut line = Int64Builder::with_capacity(n);
    let mut key = StringBuilder::new();
    let mut rule = StringBuilder::new();
    let mut sev = StringBuilder::new();
    let mut col = StringBuilder::new();
    let mut msg = StringBuilder::new();
    for r in rows {
        sub.append_value(submission_id);
        prov.append_value(province);
        files.append_value(file);
        line.append_option(r.line.map(|l| l as i64));
        key.append_option(r.record_key.as_deref());
        rule.append_value(r.rule.id());
        sev.append_value(r.severity().as_str());
        col.append_option(r.column.as_deref());
        msg.append_value(&r.message);
    }
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(sub.finish()),
        Arc::new(prov.finish()),
        Arc::new(files.finish()),
        Arc::new(line.finish()),
        Arc::new(key.finish()),
        Arc::new(rule.finish()),
        Arc::new(sev.finish()),
        Arc::new(col.finish()),
        Arc::new(msg.finish()),
    ];
    RecordBatch::try_new(rejects_schema(), arrays)
}

/// Remove a staged file, ignoring a file that is already gone.
pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::id_number::key_code;
    use chrono::NaiveDate;
    use std::borrow::Cow;

    /// A staged file is the warehouse's Parquet file of the rows, typed; its checks file
    /// holds the checked columns with the lines, in the same order.
    #[test]
    fn staged_rows_keep_types_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = StagedWriter::create(
            dir.path().join("t.parquet"),
            dir.path().join("t.arrow"),
            Table::Townships,
            "52",
        )
        .unwrap();
        let vals = [
            Value::Str(Cow::Borrowed("522726001")),
            Value::Str(Cow::Borrowed("井城街道")),
            Value::Int(1),
            Value::Int(1),
            Value::Null,
            Value::Int(2),
            Value::Int(1),
        ];
        w.append(7, &vals).unwrap();
        let staged = w.finish().unwrap();
        assert_eq!(staged.rows, 1);
        let data = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            File::open(&staged.data).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        let batches: Vec<RecordBatch> = data.map(|b| b.unwrap()).collect();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(
            text.contains("522726001") && text.contains("井城街道") && text.contains("| 52 "),
            "{text}"
        );
        assert_eq!(batches[0].schema(), arrow_schema(Table::Townships));
        assert_eq!(batches[0].column(4).null_count(), 1);

        let checks = staged.checks.unwrap();
        let reader = FileReader::try_new(BufReader::new(File::open(&checks).unwrap()), None);
        let batches: Vec<RecordBatch> = reader.unwrap().map(|b| b.unwrap()).collect();
        assert_eq!(batches[0].schema(), checked_schema(Table::Townships));
        let schema = checked_schema(Table::Townships);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["township_code", "province_code", "_line", "_key"]);
        assert_eq!(staged_lines(&checks).unwrap(), [7]);
        let codes = batches[0]
            .column(3)
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(codes.value(0), key_code("522726001").unwrap());
    }

    /// Every checked column is a column of its table.
    #[test]
    fn checked_columns_are_columns_of_their_table() {
        for t in Table::ALL {
            assert_eq!(
                checked_schema(t).fields().len(),
                checked_columns(t).len() + 2 + coded_columns(t).len(),
                "{t}"
            );
        }
    }

    /// A key column's codes: NULL stays NULL, and a key the row rules would not admit is an
    /// error, never a code that could equal another key's.
    #[test]
    fn key_codes_keep_nulls_and_refuse_keys_without_a_code() {
        let keys: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![
            Some("4501020010010001"),
            None,
        ]));
        let codes = key_codes(keys.as_ref()).unwrap();
        assert_eq!(codes.value(0), key_code("4501020010010001").unwrap());
        assert!(arrow::array::Array::is_null(&codes, 1));
        let bad: ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["45010219750309017Y"]));
        assert!(key_codes(bad.as_ref()).is_err());
    }

    #[test]
    fn date_values_are_days_since_epoch() {
        let mut b = ColumnBuilder::new(&DataType::Date32);
        b.append(&Value::Date(NaiveDate::from_ymd_opt(2020, 12, 31).unwrap()));
        let a = b.finish();
        let d = a
            .as_any()
            .downcast_ref::<arrow::array::Date32Array>()
            .unwrap();
        assert_eq!(
            d.value_as_date(0).unwrap(),
            NaiveDate::from_ymd_opt(2020, 12, 31).unwrap()
        );
        assert_eq!(d.value(0), 18_627);
        for (y, m, day, days) in [(1970, 1, 1, 0), (1969, 12, 31, -1), (1900, 3, 1, -25_508)] {
            let mut b = ColumnBuilder::new(&DataType::Date32);
            b.append(&Value::Date(NaiveDate::from_ymd_opt(y, m, day).unwrap()));
            let a = b.finish();
            assert_eq!(
                a.as_primitive::<arrow::datatypes::Date32Type>().value(0),
                days
            );
        }
    }
}
