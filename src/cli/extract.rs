//! The anonymized research extract: `povcensus extract`.

use std::path::PathBuf;

use clap::Args;

use super::EngineArgs;

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The warehouse to read.
    #[arg(long, env = "POVCENSUS_WAREHOUSE", hide_env_values = true)]
    pub warehouse: String,
    /// Output directory: research_persons and research_households (Parquet, CSV),
    /// risk_report.html / .json and codebook.html / .csv / .json.
    #[arg(long)]
    pub out: PathBuf,
    /// File holding the pseudonymization key (at least 16 bytes; else POVCENSUS_EXTRACT_KEY).
    /// Keep it secret: with it, pseudonyms can be recomputed from ID numbers.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Every combination of quasi-identifiers occurs at least k times.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    /// Minorities with fewer persons in the extract are grouped as 其他少数民族.
    #[arg(long, default_value_t = 500)]
    pub min_ethnicity_persons: usize,
    /// Published table cells counting 1 to this − 1 are suppressed (primary suppression).
    #[arg(long, default_value_t = 10)]
    pub min_cell: u64,
    /// The risk report's verdict: every sensitive attribute (health status, medical
    /// insurance, poverty attribute) should take at least l distinct values in every class.
    #[arg(long = "l-diversity", default_value_t = 2)]
    pub l: usize,
    /// Read the warehouse as of this snapshot (default: the newest).
    #[arg(long)]
    pub as_of: Option<u64>,
    /// The generation time shown on the risk report and the codebook, as "YYYY-MM-DD HH:MM"
    /// (UTC). Default: SOURCE_DATE_EPOCH when set, else now. Fix it to get a byte-identical
    /// extract.
    #[arg(long)]
    pub generated_at: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs `povcensus extract`.
pub(super) async fn run(args: ExtractArgs, interactive: bool) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let opts = crate::extract::ExtractOptions {
        warehouse: args.warehouse.clone(),
        out: args.out.clone(),
        key: crate::extract::Key::load(args.key_file.as_deref())?,
        k: args.k,
        min_ethnicity_persons: args.min_ethnicity_persons,
        income_top_percentile: 99.0,
        cell_threshold: args.min_cell,
        l: args.l,
        generated_at: crate::output::generated_at(args.generated_at.as_deref())?,
        as_of: args.as_of,
        engine: args.engine.config(None),
        progress: interactive,
    };
    let r = crate::extract::write(&opts).await?;
    tracing::info!(
        persons = r.persons,
        households = r.households,
        k = r.k,
        min_class = r.min_class_size_persons,
        "extract written"
    );
    writeln!(
        std::io::stdout().lock(),
        "{}",
        args.out.join("risk_report.html").display()
    )?;
    Ok(0)
}
