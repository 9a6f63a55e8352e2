//! Check submissions as ingest would, writing nothing: `povcensus validate`.

use std::path::PathBuf;

use clap::Args;

use super::EngineArgs;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Province submission directories (holding manifest.json) or directories holding them,
    /// local or s3://bucket/prefix.
    #[arg(required = true)]
    pub submissions: Vec<String>,
    /// A warehouse to check duplicate keys against (its provinces other than the submitted
    /// ones); only read, never created or changed.
    #[arg(long)]
    pub warehouse: Option<String>,
    /// Share of rejected rows above which a province would be flagged for resubmission.
    #[arg(long, default_value_t = crate::ingest::DEFAULT_REJECT_THRESHOLD)]
    pub reject_threshold: f64,
    /// Local directory for the private scratch directory of staged data and spill files
    /// (default: the system temp directory); removed at the end.
    #[arg(long)]
    pub staging: Option<PathBuf>,
    /// Write the rejected and flagged rows (province, file, line, column, rule, 说明, message)
    /// to this CSV file (UTF-8 with BOM, for Excel): what to correct before sending.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Print the report as JSON instead of the readable summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs `povcensus validate`: exit status 0 when every row would load, 1 when rows or files
/// would be rejected (errors are status 2).
pub(super) async fn run(args: ValidateArgs, interactive: bool) -> anyhow::Result<u8> {
    let opts = crate::ingest::IngestOptions {
        submissions: args.submissions.clone(),
        warehouse: args.warehouse.clone().unwrap_or_default(),
        reject_threshold: args.reject_threshold,
        engine: args.engine.config(None),
        staging: args.staging.clone(),
        progress: interactive,
    };
    if args.warehouse.as_deref() == Some("") {
        anyhow::bail!("--warehouse is empty: give a warehouse directory or leave the option out");
    }
    let report = crate::ingest::validate(&opts, args.rejects.as_deref()).await?;
    super::ingest::print_report(&report, args.json)
}
