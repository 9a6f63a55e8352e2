//! Validate submissions and load them into the warehouse: `povcensus ingest`.

use std::path::PathBuf;

use clap::Args;

use super::EngineArgs;

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Province or department (register) submission directories (holding manifest.json) or
    /// directories holding them, local or s3://bucket/prefix.
    #[arg(required = true)]
    pub submissions: Vec<String>,
    /// The warehouse: a local directory or s3://bucket/prefix (created when new).
    #[arg(long, env = "POVCENSUS_WAREHOUSE", hide_env_values = true)]
    pub warehouse: String,
    /// Share of rejected rows above which a province is flagged for resubmission.
    #[arg(long, default_value_t = crate::ingest::DEFAULT_REJECT_THRESHOLD)]
    pub reject_threshold: f64,
    /// Local directory for staged data and spill files (default: the system temp directory).
    #[arg(long)]
    pub staging: Option<PathBuf>,
    /// Print the report as JSON instead of the readable summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs `povcensus ingest`.
pub(super) async fn run(args: IngestArgs, interactive: bool) -> anyhow::Result<u8> {
    let opts = crate::ingest::IngestOptions {
        submissions: args.submissions.clone(),
        warehouse: args.warehouse.clone(),
        reject_threshold: args.reject_threshold,
        engine: args.engine.config(None),
        staging: args.staging.clone(),
        progress: interactive,
    };
    let report = crate::ingest::ingest(&opts).await?;
    print_report(&report, args.json)
}

/// Print an ingest (or validation) report on stdout, as JSON or text, and give its exit
/// status; a report whose rows do not balance is an error.
pub(super) fn print_report(
    report: &crate::ingest::report::IngestReport,
    json: bool,
) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if json {
        out.write_all(report.to_json().as_bytes())?;
    } else {
        out.write_all(report.to_text().as_bytes())?;
    }
    if !report.balanced {
        anyhow::bail!("rows read do not equal rows loaded plus rows rejected");
    }
    Ok(report.exit_code())
}
