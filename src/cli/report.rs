//! The reports: `povcensus report`.

use std::path::PathBuf;

use clap::Args;

use super::{ClusterTarget, EngineArgs};

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
    /// The issuing body printed on the bulletin.
    #[arg(long, default_value = "国家脱贫攻坚普查领导小组办公室")]
    pub issuer: String,
    /// The issue date of the bulletin, YYYY-MM-DD. Default: the date of the generation time.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub issued_on: Option<String>,
    /// The bulletin's number (公报第N号); none by default.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub bulletin_number: Option<u32>,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub cluster: ClusterTarget,
}

/// The bulletin's issue: the arguments, the date defaulting to that of the generation time
/// ("YYYY-MM-DD HH:MM UTC").
fn issue(args: &ReportArgs, generated_at: &str) -> anyhow::Result<crate::report::Issue> {
    use anyhow::Context as _;
    let date = args
        .issued_on
        .as_deref()
        .unwrap_or_else(|| generated_at.get(..10).unwrap_or(generated_at));
    let issued_on = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .with_context(|| format!("--issued-on `{date}` is not a date YYYY-MM-DD"))?;
    let issuer = args.issuer.trim().to_string();
    anyhow::ensure!(
        !issuer.is_empty(),
        "--issuer is empty: name the issuing body"
    );
    Ok(crate::report::Issue {
        issuer,
        issued_on,
        number: args.bulletin_number,
    })
}

/// Runs `povcensus report`.
pub(super) async fn run(args: ReportArgs) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let generated_at = crate::output::generated_at(args.generated_at.as_deref())?;
    let mut engine = args.engine.config(None);
    engine.cluster = args.cluster.connect(&args.warehouse).await?;
    let opts = crate::report::ReportOptions {
        issue: issue(&args, &generated_at)?,
        warehouse: args.warehouse.clone(),
        out: args.out.clone(),
        pipelines: crate::pipeline::Definitions::new(args.pipelines.as_deref()),
        as_of: args.as_of,
        generated_at,
        engine,
    };
    let summary = crate::report::write(&opts).await?;
    tracing::info!(documents = summary.files.len(), "reports written");
    writeln!(std::io::stdout().lock(), "{}", summary.index.display())?;
    Ok(0)
}
