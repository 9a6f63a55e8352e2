//! The reports: `povcensus report`.

use std::path::PathBuf;

use clap::Args;

use super::{ClusterTarget, EngineArgs};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The warehouse to read.
    #[arg(long)]
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
    #[command(flatten)]
    pub cluster: ClusterTarget,
}

/// The generation time of reports: the argument, else SOURCE_DATE_EPOCH, else now (UTC).
fn generated_at(arg: Option<&str>) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let t = match arg {
        Some(s) => chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .with_context(|| format!("--generated-at `{s}` is not YYYY-MM-DD HH:MM"))?
            .and_utc(),
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) => {
                let secs: i64 = v.trim().parse().with_context(|| {
                    format!("SOURCE_DATE_EPOCH `{v}` is not a number of seconds")
                })?;
                chrono::DateTime::from_timestamp(secs, 0)
                    .with_context(|| format!("SOURCE_DATE_EPOCH `{v}` is out of range"))?
            }
            Err(_) => chrono::Utc::now(),
        },
    };
    Ok(t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// Runs `povcensus report`.
pub(super) async fn run(args: ReportArgs) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let mut engine = args.engine.config(None);
    engine.cluster = args.cluster.connect(&args.warehouse).await?;
    let opts = crate::report::ReportOptions {
        warehouse: args.warehouse.clone(),
        out: args.out.clone(),
        pipelines: crate::pipeline::Definitions::new(args.pipelines.as_deref()),
        as_of: args.as_of,
        generated_at: generated_at(args.generated_at.as_deref())?,
        engine,
    };
    let summary = crate::report::write(&opts).await?;
    tracing::info!(documents = summary.files.len(), "reports written");
    writeln!(std::io::stdout().lock(), "{}", summary.index.display())?;
    Ok(0)
}
