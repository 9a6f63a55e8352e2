//! The command-line interface: argument structs shared by the binary and its tests.
//!
//! `main.rs` parses these, sets up logging and calls the library; nothing here does work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::generator::{Encoding, GenerateOptions};

/// povcensus: the 2020–2021 national poverty-alleviation census, from province submissions
/// to indicators, exit assessments and reports.
#[derive(Debug, Parser)]
#[command(name = "povcensus", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors on standard error.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write synthetic province submissions (CSV + manifest.json per province).
    Generate(GenerateArgs),
}

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
            progress,
        }
    }
}
