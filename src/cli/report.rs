//! The reports: `povcensus report`.

use std::path::PathBuf;

use clap::Args;

use super::EngineArgs;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The warehouse to read.
    #[arg(long, env = "POVCENSUS_WAREHOUSE", hide_env_values = true)]
    pub warehouse: String,
    /// Output directory: OUT/index.html and the documents it links to; the pipeline outputs
    /// they are made from go to OUT/data/.
    #[arg(long)]
    pub out: PathBuf,
    /// A directory of customised pipeline definitions (their SQL in DIR/../queries/) instead
    /// of the ones built into povcensus.
    #[arg(long)]
    pub pipelines: Option<PathBuf>,
    /// Read the warehouse as of this snapshot (default: the newest).
    #[arg(long)]
    pub as_of: Option<u64>,
    /// The generation time shown on the documents, as "YYYY-MM-DD HH:MM" (UTC). Default:
    /// SOURCE_DATE_EPOCH when set, else now. Fix it to get byte-identical reports.
    #[arg(long)]
    pub generated_at: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs `povcensus report`.
pub(super) async fn run(args: ReportArgs) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let opts = crate::report::ReportOptions {
        warehouse: args.warehouse.clone(),
        out: args.out.clone(),
        pipelines: crate::pipeline::Definitions::new(args.pipelines.as_deref()),
        as_of: args.as_of,
        generated_at: crate::output::generated_at(args.generated_at.as_deref())?,
        engine: args.engine.config(None),
    };
    let summary = crate::report::write(&opts).await?;
    tracing::info!(documents = summary.files.len(), "reports written");
    writeln!(std::io::stdout().lock(), "{}", summary.index.display())?;
    Ok(0)
}
