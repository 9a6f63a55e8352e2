//! `povcensus generate --registers`: the departments' registers (`registers.md` §1) that
//! agree with the generated census, and the matching findings they imply (`registers.md` §2)
//! in a ground-truth file.
//!
//! The census is read back as ingest loads it ([`census`]), county by county; each county's
//! register rows are drawn from their own random stream ([`draw`]), so the census files never
//! change with `--registers`. Every register row is valid (generated registers ingest with
//! zero rejects). The rows of a county go to ten files written as they grow:
//! `OUT/registers/<department>/<file>.csv` plus each department's `manifest.json`.
//!
//! Every finding the data implies, natural or planted, is a row of
//! `OUT/registers/ground_truth_matching.csv`: `rule_id, county_code, household_id, person_id,
//! register_file, register_line`, the identifying columns of a `match_findings` row.

mod census;
mod draw;

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::contract::manifest::{Encoding, ManifestFile, RegisterManifest};
use crate::contract::registers::{Department, Register};

use super::county::push_csv_field;
use super::plan::Plan;
use super::{FileSink, GenerateError, GenerateOptions, io_err};

/// The ground-truth file of the matching findings, under `OUT/registers/`.
pub const MATCHING_TRUTH: &str = "ground_truth_matching.csv";

/// What the registers hold.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RegistersSummary {
    /// Rows per register file.
    pub rows: BTreeMap<String, u64>,
    /// Findings per matching rule.
    pub findings: BTreeMap<String, u64>,
}

/// The register files being written and the ground truth.
pub(super) struct Writer {
    /// By `Register::ALL` index.
    sinks: Vec<FileSink>,
    truth: BufWriter<File>,
    truth_path: PathBuf,
    line: String,
    summary: RegistersSummary,
}

/// Where a finding's register row is (absent for the absence of a record).
type At = Option<(Register, u64)>;

impl Writer {
    fn open(out: &Path, opts: &GenerateOptions) -> Result<Writer, GenerateError> {
        let mut sinks = Vec::new();
        for r in Register::ALL {
            let dir = out.join(r.department().id());
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let mut sink = FileSink::create(dir.join(r.file_name()), opts.encoding)?;
            let names: Vec<&str> = r
                .columns()
                .iter()
                .map(|c| {
                    if opts.chinese_headers {
                        c.label_zh
                    } else {
                        c.name
                    }
                })
                .collect();
            sink.write_text(format!("{}\n", names.join(",")).as_bytes())?;
            sinks.push(sink);
        }
        let truth_path = out.join(MATCHING_TRUTH);
        let f = File::create(&truth_path).map_err(io_err(&truth_path))?;
        let mut truth = BufWriter::new(f);
        truth
            .write_all(b"rule_id,county_code,household_id,person_id,register_file,register_line\n")
            .map_err(io_err(&truth_path))?;
        Ok(Writer {
            sinks,
            truth,
            truth_path,
            line: String::new(),
            summary: RegistersSummary::default(),
        })
    }

    /// Append a row to a register; returns its physical line (the header is line 1).
    pub(super) fn row(&mut self, r: Register, fields: &[&str]) -> Result<At, GenerateError> {
        self.line.clear();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            push_csv_field(&mut self.line, f);
        }
        self.line.push('\n');
        let i = Register::ALL.iter().position(|x| *x == r).unwrap_or(0);
        let sink = &mut self.sinks[i];
        sink.write_text(self.line.as_bytes())?;
        sink.rows += 1;
        Ok(Some((r, sink.rows + 1)))
    }

    /// Record a finding of the ground truth.
    pub(super) fn finding(
        &mut self,
        rule: &str,
        county: &str,
        household: &str,
        person: &str,
        at: At,
    ) -> Result<(), GenerateError> {
        let (file, line) = match at {
            Some((r, l)) => (r.file_name().to_string(), l.to_string()),
            None => (String::new(), String::new()),
        };
        writeln!(
            self.truth,
            "{rule},{county},{household},{person},{file},{line}"
        )
        .map_err(io_err(&self.truth_path))?;
        *self.summary.findings.entry(rule.to_string()).or_default() += 1;
        Ok(())
    }

    /// Close the files and write each department's manifest.
    fn finish(
        self,
        out: &Path,
        opts: &GenerateOptions,
        seed: u64,
    ) -> Result<RegistersSummary, GenerateError> {
        let Writer {
            sinks,
            mut truth,
            truth_path,
            mut summary,
            ..
        } = self;
        truth.flush().map_err(io_err(&truth_path))?;
        let mut files: BTreeMap<Department, BTreeMap<String, ManifestFile>> = BTreeMap::new();
        for (r, sink) in Register::ALL.into_iter().zip(sinks) {
            let (rows, _, sha256) = sink.finish()?;
            summary.rows.insert(r.file_name().to_string(), rows);
            files.entry(r.department()).or_default().insert(
                r.file_name().to_string(),
                ManifestFile {
                    rows: Some(rows),
                    sha256: Some(sha256),
                },
            );
        }
        for (d, files) in files {
            let manifest = RegisterManifest {
                department: d.id().to_string(),
                submission_id: format!("{}-synthetic-{seed}", d.id()),
                reference_date: Some(crate::contract::schema::REFERENCE_DATE.to_string()),
                encoding: (opts.encoding == Encoding::Gb18030)
                    .then(|| Encoding::Gb18030.label().to_string()),
                files,
            };
            let path = out.join(d.id()).join("manifest.json");
            // Cannot fail: plain strings and integers serialize.
            let text = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
            fs::write(&path, text + "\n").map_err(io_err(&path))?;
        }
        Ok(summary)
    }
}

/// Write the registers of the census generated into `opts.out` (its provinces as `plan`
/// holds them) to `opts.out/registers/`.
pub(super) fn generate(
    opts: &GenerateOptions,
    plan: &Plan,
) -> Result<RegistersSummary, GenerateError> {
    let out = opts.out.join("registers");
    fs::create_dir_all(&out).map_err(io_err(&out))?;
    let mut w = Writer::open(&out, opts)?;
    let generated: HashSet<&str> = plan.provinces.iter().map(|p| p.province.code).collect();
    let reference = census::reference_date();
    let total: usize = plan.provinces.iter().map(|p| p.counties.len()).sum();
    let bar = crate::engine::progress::bar(
        opts.progress,
        total as u64,
        "{spinner} drawing registers {msg} [{bar:30}] {pos}/{len} counties, {elapsed}",
    );
    for pp in &plan.provinces {
        bar.set_message(pp.province.code.to_string());
        let code = pp.province.code;
        let dir = opts.out.join(code);
        let mut rejected = census::rejected_lines(&opts.out, code, &generated)?;
        let county_rejects = rejected.remove("counties.csv").unwrap_or_default();
        let types = census::county_types(&dir, opts.encoding, county_rejects)?;
        let mut province = census::ProvinceCensus::open(&dir, opts.encoding, rejected)?;
        let mut boundaries = draw::Boundaries::new(opts.error_rate > 0.0);
        while let Some(county) = province.next_county(reference) {
            let poverty = types.get(&county.code).is_some_and(|t| matches!(t, 1 | 2));
            let mut d = draw::Draw::new(opts, &county, poverty, &mut w);
            d.county()?;
            d.boundaries(&mut boundaries)?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    w.finish(&out, opts, opts.seed)
}
