//! Write synthetic province submissions: `povcensus generate`.

use std::path::PathBuf;

use clap::Args;

use crate::generator::{Encoding, GenerateOptions};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output directory; one sub-directory per province is written into it.
    #[arg(long)]
    pub out: PathBuf,
    /// Size relative to the national census (1.0 = 14.8 M households, 53 M persons).
    #[arg(long, default_value_t = 0.01)]
    pub scale: f64,
    /// Random seed; the same arguments give byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Comma-separated province codes (default: all 22), e.g. 52,53.
    #[arg(long, value_delimiter = ',')]
    pub provinces: Option<Vec<String>>,
    /// Plant this share of faulty rows, plus file-level faults, and write the ground truth to
    /// OUT/ground_truth/<province>.jsonl.
    #[arg(long, default_value_t = 0.0)]
    pub errors: f64,
    /// Text encoding of the CSV files.
    #[arg(long, value_enum, default_value = "utf8")]
    pub encoding: Encoding,
    /// Use the Chinese column labels (户编码, 姓名, …) as headers.
    #[arg(long)]
    pub chinese_headers: bool,
    /// Survey every county of types 1-2 for the exit assessment, not only those that left
    /// the poverty-county list in 2020.
    #[arg(long)]
    pub assess_all: bool,
    /// Also write the departments' registers that agree with the census, and the findings
    /// of the matching rules they imply, to OUT/registers/ (with --errors: planted
    /// discrepancies for every rule).
    #[arg(long)]
    pub registers: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl GenerateArgs {
    pub fn options(&self, progress: bool) -> GenerateOptions {
        GenerateOptions {
            out: self.out.clone(),
            scale: self.scale,
            seed: self.seed,
            provinces: self.provinces.clone(),
            error_rate: self.errors,
            encoding: self.encoding,
            chinese_headers: self.chinese_headers,
            assess_all: self.assess_all,
            registers: self.registers,
            progress,
        }
    }
}

/// Runs `povcensus generate`.
pub(super) async fn run(args: GenerateArgs, interactive: bool) -> anyhow::Result<u8> {
    let opts = args.options(interactive);
    let summary = tokio::task::spawn_blocking(move || crate::generator::generate(&opts)).await??;
    eprintln!(
        "wrote the submissions of {} province(s) ({} rows, {:.1} MB) to {}",
        summary.provinces.len(),
        summary.rows,
        summary.bytes as f64 / 1e6,
        args.out.display()
    );
    if let Some(r) = &summary.registers {
        eprintln!(
            "wrote the registers of {} department(s) ({} rows) and {} expected matching findings to {}",
            crate::contract::registers::Department::ALL.len(),
            r.rows.values().sum::<u64>(),
            r.findings.values().sum::<u64>(),
            args.out.join("registers").display()
        );
    }
    Ok(0)
}
