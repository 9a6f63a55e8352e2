//! `povcensus generate`: synthetic province submissions that look like the real census.
//!
//! Owns the synthetic data: the plan of counties ([`plan`]), the calibration model
//! ([`model`]), the drawing of one county's records ([`county`], the items of its households
//! and their members in [`household`]), planted faults with their ground truth ([`faults`])
//! and the writing of each province's files and manifest (here).
//!
//! Counties are drawn in parallel (rayon) in bounded batches and written in plan order, so
//! memory does not grow with the scale and the bytes do not depend on the thread count.
//!
//! Synthetic ID numbers: address code = the county's code, a real birth date, a sequence code
//! in **900–999** (odd for men, even for women) and a correct MOD 11-2 check character. Real
//! numbers rarely use the 9xx block; every generated ID uses it, so synthetic data is easy to
//! recognise.

pub mod county;
pub mod faults;
pub mod household;
pub mod model;
pub mod names;
pub mod plan;
pub mod registers;

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::contract::reference::Reference;
use crate::contract::rules::{Rule, Severity};
use crate::contract::schema::Table;
use county::{CountyOutput, Ctx, TableBuf, generate_county};
use plan::{Plan, ProvincePlan};

pub use crate::contract::manifest::{Encoding, Manifest, ManifestFile};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub out: PathBuf,
    /// 1.0 = national size.
    pub scale: f64,
    pub seed: u64,
    /// Province codes to write (all 22 when `None`).
    pub provinces: Option<Vec<String>>,
    /// Share of planted faulty rows (0 = clean data).
    pub error_rate: f64,
    pub encoding: Encoding,
    /// Write the Chinese column labels instead of the English names.
    pub chinese_headers: bool,
    /// Survey every county of types 1–2, not only those that left the list in 2020.
    pub assess_all: bool,
    /// Write the departments' registers and the matching ground truth too
    /// (`OUT/registers/`, `registers.md`).
    pub registers: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl GenerateOptions {
    pub fn new(out: impl Into<PathBuf>) -> Self {
        GenerateOptions {
            out: out.into(),
            scale: 0.01,
            seed: 1,
            provinces: None,
            error_rate: 0.0,
            encoding: Encoding::Utf8,
            chinese_headers: false,
            assess_all: false,
            registers: false,
            progress: false,
        }
    }

    /// Every problem with the options, all at once.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.scale > 0.0 && self.scale <= 2.0) {
            problems.push(format!("--scale must be in (0, 2], got {}", self.scale));
        }
        if !(0.0..=0.2).contains(&self.error_rate) {
            problems.push(format!(
                "--errors must be in [0, 0.2], got {}",
                self.error_rate
            ));
        }
        if let Some(ps) = &self.provinces {
            let r = Reference::get();
            if ps.is_empty() {
                problems.push("--provinces names no province".to_string());
            }
            for p in ps {
                if r.province(p).is_none() {
                    let valid: Vec<&str> = r.provinces.iter().map(|p| p.code).collect();
                    problems.push(format!(
                        "--provinces: `{p}` is not one of the 22 census provinces ({})",
                        valid.join(",")
                    ));
                }
            }
        }
        problems
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("invalid options:\n  - {}", .0.join("\n  - "))]
    InvalidOptions(Vec<String>),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> GenerateError + '_ {
    move |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One entry of the ground-truth file `OUT/ground_truth/<province>.jsonl`: a planted fault
/// and where it is. `line` is the physical line (header = 1); file-level faults have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthEntry {
    pub province: String,
    pub file: String,
    pub line: Option<u64>,
    pub record_key: Option<String>,
    pub rule: Rule,
    pub severity: Severity,
    pub column: Option<String>,
    /// A consequence of another planted fault (orphan of a rejected parent).
    pub cascade: bool,
    /// Only a fault when this province is ingested as well (the person in two provinces);
    /// without it the row loads, and its household is flagged `household.size_mismatch`.
    pub requires_province: Option<String>,
    pub note: String,
}

/// What was written for one province.
#[derive(Debug, Clone, Serialize)]
pub struct ProvinceSummary {
    pub province: String,
    pub files: Vec<(String, u64, u64)>,
    pub faults: usize,
}

/// What `generate` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct GenerateSummary {
    pub provinces: Vec<ProvinceSummary>,
    pub rows: u64,
    pub bytes: u64,
    /// The registers, when asked for.
    pub registers: Option<registers::RegistersSummary>,
}

/// File-level faults planted in a province's assessment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileFault {
    Encoding,
    ManifestRows,
    ManifestSha256,
    MissingColumn,
    OtherProvince,
}

fn file_fault_for(province: &str, census_index: usize) -> Option<FileFault> {
    use FileFault::*;
    match province {
        "45" => Some(Encoding),
        "51" => Some(ManifestRows),
        "53" => Some(ManifestSha256),
        "62" => Some(OtherProvince),
        "64" => Some(MissingColumn),
        "52" | "65" => None,
        _ => [
            None,
            Some(Encoding),
            Some(ManifestRows),
            Some(ManifestSha256),
            Some(MissingColumn),
            Some(OtherProvince),
        ][census_index % 6],
    }
}

/// The extra column planted in every province's villages.csv (a `file.unknown_column` warning).
pub const PLANTED_EXTRA_COLUMN: &str = "remarks";

/// Write the synthetic submissions.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary, GenerateError> {
    let problems = opts.validate();
    if !problems.is_empty() {
        return Err(GenerateError::InvalidOptions(problems));
    }
    let mut plan = Plan::new(opts.scale, opts.seed, opts.assess_all);
    plan.retain(opts.provinces.as_deref());
    fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;
    let total: usize = plan.provinces.iter().map(|p| p.counties.len()).sum();
    let bar = crate::engine::progress::bar(
        opts.progress,
        total as u64,
        "{spinner} generating {msg} [{bar:30}] {pos}/{len} counties, {elapsed}",
    );
    let mut summary = GenerateSummary {
        provinces: Vec::new(),
        rows: 0,
        bytes: 0,
        registers: None,
    };
    for pp in &plan.provinces {
        bar.set_message(pp.province.code.to_string());
        let s = write_province(opts, &plan, pp, &bar)?;
        for (_, rows, bytes) in &s.files {
            summary.rows += rows;
            summary.bytes += bytes;
        }
        tracing::info!(province = %s.province, files = s.files.len(), faults = s.faults, "province written");
        summary.provinces.push(s);
    }
    bar.finish_and_clear();
    if opts.registers {
        summary.registers = Some(registers::generate(opts, &plan)?);
    }
    Ok(summary)
}

/// One output file being written: encoding, hashing and counting as it goes.
struct FileSink {
    path: PathBuf,
    w: BufWriter<File>,
    hasher: Sha256,
    rows: u64,
    bytes: u64,
    encoding: Encoding,
}

impl FileSink {
    fn create(path: PathBuf, encoding: Encoding) -> Result<Self, GenerateError> {
        let f = File::create(&path).map_err(io_err(&path))?;
        Ok(FileSink {
            w: BufWriter::with_capacity(1 << 20, f),
            path,
            hasher: Sha256::new(),
            rows: 0,
            bytes: 0,
            encoding,
        })
    }

    /// Write UTF-8 text, encoded as the file's encoding.
    fn write_text(&mut self, text: &[u8]) -> Result<(), GenerateError> {
        match self.encoding {
            Encoding::Utf8 => self.write_raw(text),
            Encoding::Gb18030 => {
                // Cannot fail: the generator writes Rust strings only.
                let s = std::str::from_utf8(text).expect("generated text is UTF-8");
                let (bytes, _, _) = encoding_rs::GB18030.encode(s);
                let bytes = bytes.into_owned();
                self.write_raw(&bytes)
            }
        }
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), GenerateError> {
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        self.w.write_all(bytes).map_err(io_err(&self.path))
    }

    fn finish(mut self) -> Result<(u64, u64, String), GenerateError> {
        self.w.flush().map_err(io_err(&self.path))?;
        Ok((self.rows, self.bytes, hex::encode(self.hasher.finalize())))
    }
}

/// Rewrite every line of a block: `f` gets the line without its newline.
fn map_lines(buf: &[u8], mut f: impl FnMut(&str) -> String) -> Vec<u8> {
    // Cannot fail: the generator writes Rust strings only.
    let text = std::str::from_utf8(buf).expect("generated text is UTF-8");
    let mut out = String::with_capacity(buf.len() + buf.len() / 20);
    for line in text.split_terminator('\n') {
        out.push_str(&f(line));
        out.push('\n');
    }
    out.into_bytes()
}

fn write_province(
    opts: &GenerateOptions,
    plan: &Plan,
    pp: &ProvincePlan,
    bar: &indicatif::ProgressBar,
) -> Result<ProvinceSummary, GenerateError> {
    let code = pp.province.code;
    let dir = opts.out.join(code);
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let r = Reference::get();
    let other = r.provinces[(pp.census_index + 1) % r.provinces.len()].code;
    let ctx = Ctx::new(
        plan.seed,
        pp,
        opts.error_rate,
        plan.donor_of(pp.census_index),
        other,
    );
    let mut w = ProvinceWriter::open(opts, pp, &dir, other)?;
    let batch = rayon::current_num_threads().max(1) * 4;
    for chunk in pp.counties.chunks(batch) {
        let outputs: Vec<CountyOutput> = chunk
            .par_iter()
            .map(|cp| generate_county(&ctx, cp))
            .collect();
        for out in outputs {
            w.write_county(&out)?;
            bar.inc(1);
        }
    }
    w.finish(opts, &dir)
}

/// A province's files being written: one sink per table, the planted file-level fault and
/// the ground truth so far.
struct ProvinceWriter {
    code: &'static str,
    /// The province whose codes an `OtherProvince` file fault carries.
    other: &'static str,
    errors: bool,
    file_fault: Option<FileFault>,
    /// The tables written, in `Table::ALL` order.
    tables: Vec<Table>,
    /// By `Table as usize`; `None` for a table not written or already closed.
    sinks: Vec<Option<FileSink>>,
    truth: Vec<TruthEntry>,
    encoding_fault_offset: Option<u64>,
}

impl ProvinceWriter {
    /// Create the province's files and write their headers.
    fn open(
        opts: &GenerateOptions,
        pp: &ProvincePlan,
        dir: &Path,
        other: &'static str,
    ) -> Result<Self, GenerateError> {
        let code = pp.province.code;
        let errors = opts.error_rate > 0.0;
        let has_assessment = pp.counties.iter().any(|c| c.assessed);
        let file_fault = if errors && has_assessment {
            file_fault_for(code, pp.census_index)
        } else {
            None
        };
        let tables: Vec<Table> = Table::ALL
            .into_iter()
            .filter(|t| t.required() || has_assessment)
            .collect();
        let mut sinks: Vec<Option<FileSink>> = Vec::new();
        for t in Table::ALL {
            if !tables.contains(&t) {
                sinks.push(None);
                continue;
            }
            let mut sink = FileSink::create(dir.join(t.file_name()), opts.encoding)?;
            let header = header_line(t, opts.chinese_headers, errors, file_fault);
            sink.write_text(header.as_bytes())?;
            sinks.push(Some(sink));
        }
        Ok(ProvinceWriter {
            code,
            other,
            errors,
            file_fault,
            tables,
            sinks,
            truth: Vec::new(),
            encoding_fault_offset: None,
        })
    }

    /// Append one county's rows to every file, and its planted faults to the ground truth
    /// with their physical line numbers.
    fn write_county(&mut self, out: &CountyOutput) -> Result<(), GenerateError> {
        for t in self.tables.clone() {
            // Cannot fail: a sink is open for every table until `finish`.
            let first_line = self.sinks[t as usize].as_ref().expect("open sink").rows + 2;
            for f in out.faults.iter().filter(|f| f.table == t) {
                self.truth.push(TruthEntry {
                    province: self.code.to_string(),
                    file: t.file_name().to_string(),
                    line: Some(first_line + f.row as u64),
                    record_key: f.record_key.clone(),
                    rule: f.rule,
                    severity: f.rule.severity(),
                    column: f.column.map(str::to_string),
                    cascade: f.cascade,
                    requires_province: f.requires_province.map(str::to_string),
                    note: f.note.clone(),
                });
            }
            self.write_block(t, &out.tables[t as usize])?;
        }
        Ok(())
    }

    /// Write a county's block of one table, with the province's file-level faults applied.
    fn write_block(&mut self, t: Table, block: &TableBuf) -> Result<(), GenerateError> {
        let data = self.planted_block(t, &block.bytes);
        // Cannot fail: a sink is open for every table until `finish`.
        let sink = self.sinks[t as usize].as_mut().expect("open sink");
        if t == Table::AssessmentHouseholds
            && self.file_fault == Some(FileFault::Encoding)
            && self.encoding_fault_offset.is_none()
            && !data.is_empty()
        {
            // An undecodable byte (0xFF is not valid in UTF-8 nor GB18030) after the
            // first field of the first data row.
            // Cannot fail: every generated record has several fields.
            let comma = data
                .iter()
                .position(|&b| b == b',')
                .expect("a field separator");
            let (head, tail) = data.split_at(comma + 1);
            sink.write_text(head)?;
            self.encoding_fault_offset = Some(sink.bytes);
            sink.write_raw(&[0xFF])?;
            sink.write_text(tail)?;
        } else {
            sink.write_text(&data)?;
        }
        sink.rows += block.rows as u64;
        Ok(())
    }

    /// A block's bytes as written: the extra villages column, and the assessment file's
    /// missing column or other province's codes when those are the planted file fault.
    fn planted_block<'b>(&self, t: Table, bytes: &'b [u8]) -> Cow<'b, [u8]> {
        let (code, other) = (self.code, self.other);
        match (t, self.file_fault) {
            (Table::Villages, _) if self.errors => {
                Cow::Owned(map_lines(bytes, |l| format!("{l},")))
            }
            (Table::AssessmentHouseholds, Some(FileFault::MissingColumn)) => {
                Cow::Owned(map_lines(bytes, |l| {
                    l.rsplit_once(',').map_or(l, |(a, _)| a).to_string()
                }))
            }
            (Table::AssessmentHouseholds, Some(FileFault::OtherProvince)) => {
                Cow::Owned(map_lines(bytes, |l| {
                    l.split(',')
                        .enumerate()
                        .map(|(i, f)| {
                            if matches!(i, 0 | 2 | 4) && f.starts_with(code) {
                                format!("{other}{}", &f[2..])
                            } else {
                                f.to_string()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                }))
            }
            _ => Cow::Borrowed(bytes),
        }
    }

    /// Close the files, plant the manifest faults, and write the manifest and the ground
    /// truth.
    fn finish(
        mut self,
        opts: &GenerateOptions,
        dir: &Path,
    ) -> Result<ProvinceSummary, GenerateError> {
        let code = self.code;
        let mut files = std::collections::BTreeMap::new();
        let mut summary_files = Vec::new();
        for t in &self.tables {
            // Cannot fail: each table's sink is taken once, here.
            let sink = self.sinks[*t as usize].take().expect("open sink");
            let path = sink.path.clone();
            let (rows, bytes, sha) = sink.finish()?;
            let mut mf = ManifestFile {
                rows: Some(rows),
                sha256: Some(sha),
            };
            if *t == Table::AssessmentHouseholds {
                match self.file_fault {
                    Some(FileFault::ManifestRows) => mf.rows = Some(rows + 1),
                    Some(FileFault::ManifestSha256) => alter_last_digit(&path)?,
                    _ => {}
                }
            }
            files.insert(t.file_name().to_string(), mf);
            summary_files.push((t.file_name().to_string(), rows, bytes));
        }
        if self.errors {
            self.truth.push(file_truth(
                code,
                Table::Villages,
                Rule::FileUnknownColumn,
                Some(1),
                Some(PLANTED_EXTRA_COLUMN),
                "an extra column `remarks` in the header and every row",
            ));
        }
        if let Some(ff) = self.file_fault {
            let file = Table::AssessmentHouseholds.file_name();
            // The file is rejected as a whole: its row-level faults are not reported on their
            // own.
            self.truth.retain(|e| e.file != file);
            let entry = file_fault_truth(code, self.other, ff, self.encoding_fault_offset);
            self.truth.push(entry);
        }
        let manifest = Manifest {
            province_code: code.to_string(),
            submission_id: format!("{code}-2021-01-15-01"),
            batch: 1,
            encoding: Some(opts.encoding.label().to_string()),
            files,
        };
        let mpath = dir.join("manifest.json");
        // Cannot fail: plain strings and integers serialize.
        let json = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
        fs::write(&mpath, json + "\n").map_err(io_err(&mpath))?;
        if self.errors {
            write_truth(&opts.out, code, &self.truth)?;
        }
        Ok(ProvinceSummary {
            province: code.to_string(),
            files: summary_files,
            faults: self.truth.len(),
        })
    }
}

/// A file's header line: English or Chinese labels, less the assessment file's last column
/// or plus the villages' extra column when those faults are planted.
fn header_line(
    t: Table,
    chinese_headers: bool,
    errors: bool,
    file_fault: Option<FileFault>,
) -> String {
    let mut header: Vec<&str> = t
        .columns()
        .iter()
        .map(|c| if chinese_headers { c.label_zh } else { c.name })
        .collect();
    if t == Table::AssessmentHouseholds && file_fault == Some(FileFault::MissingColumn) {
        header.pop();
    }
    if t == Table::Villages && errors {
        header.push(PLANTED_EXTRA_COLUMN);
    }
    format!("{}\n", header.join(","))
}

/// The ground-truth entry of the assessment file's file-level fault.
fn file_fault_truth(
    code: &str,
    other: &str,
    ff: FileFault,
    encoding_fault_offset: Option<u64>,
) -> TruthEntry {
    let (rule, column, note): (Rule, Option<&str>, String) = match ff {
        FileFault::Encoding => (
            Rule::FileEncoding,
            None,
            format!(
                "byte 0xFF at byte offset {}",
                encoding_fault_offset.unwrap_or(0)
            ),
        ),
        FileFault::ManifestRows => (
            Rule::FileManifestRows,
            None,
            "the manifest states one row more than the file has".into(),
        ),
        FileFault::ManifestSha256 => (
            Rule::FileManifestSha256,
            None,
            "one digit altered after the manifest's checksum was taken".into(),
        ),
        FileFault::MissingColumn => (
            Rule::FileMissingColumn,
            Some("approval"),
            "the approval column is missing".into(),
        ),
        FileFault::OtherProvince => (
            Rule::FileOtherProvince,
            None,
            format!("the records carry the codes of province {other}"),
        ),
    };
    file_truth(code, Table::AssessmentHouseholds, rule, None, column, &note)
}

/// Write `OUT/ground_truth/<province>.jsonl`.
fn write_truth(out: &Path, code: &str, truth: &[TruthEntry]) -> Result<(), GenerateError> {
    let tdir = out.join("ground_truth");
    fs::create_dir_all(&tdir).map_err(io_err(&tdir))?;
    let tpath = tdir.join(format!("{code}.jsonl"));
    let mut s = String::new();
    for e in truth {
        // Cannot fail: plain strings and integers serialize.
        s.push_str(&serde_json::to_string(e).expect("truth serializes"));
        s.push('\n');
    }
    fs::write(&tpath, s).map_err(io_err(&tpath))
}

fn file_truth(
    province: &str,
    t: Table,
    rule: Rule,
    line: Option<u64>,
    column: Option<&str>,
    note: &str,
) -> TruthEntry {
    TruthEntry {
        province: province.to_string(),
        file: t.file_name().to_string(),
        line,
        record_key: None,
        rule,
        severity: rule.severity(),
        column: column.map(str::to_string),
        cascade: false,
        requires_province: None,
        note: note.to_string(),
    }
}

/// Change the last digit of a file (after its checksum went into the manifest): an altered
/// upload with the same number of rows.
fn alter_last_digit(path: &Path) -> Result<(), GenerateError> {
    let mut bytes = fs::read(path).map_err(io_err(path))?;
    if let Some(pos) = bytes.iter().rposition(u8::is_ascii_digit) {
        bytes[pos] = if bytes[pos] == b'1' { b'2' } else { b'1' };
    }
    fs::write(path, bytes).map_err(io_err(path))
}

/// Read a ground-truth file.
pub fn read_truth(path: &Path) -> std::io::Result<Vec<TruthEntry>> {
    let text = fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(std::io::Error::other))
        .collect()
}
