//! The warehouse's snapshots and province versions: `povcensus versions`.

use clap::Args;

#[derive(Debug, Args)]
pub struct VersionsArgs {
    /// The warehouse.
    #[arg(long)]
    pub warehouse: String,
}

/// Runs `povcensus versions`.
pub(super) async fn run(args: VersionsArgs) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let wh = crate::warehouse::Warehouse::open(&args.warehouse, false)?;
    let ids = wh.snapshot_ids().await?;
    if ids.is_empty() {
        tracing::warn!(
            "the warehouse {} has no committed snapshot yet: ingest submissions first",
            args.warehouse
        );
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "snapshot  province  version  submission_id            read      loaded    rejected  committed_in"
    )?;
    for id in ids {
        let s = wh.snapshot(id).await?;
        for (code, v) in &s.provinces {
            let read: u64 = v.files.iter().map(|f| f.rows_read).sum();
            let loaded: u64 = v.files.iter().map(|f| f.rows_loaded).sum();
            let rejected: u64 = v.files.iter().map(|f| f.rows_rejected).sum();
            writeln!(
                out,
                "{id:>8}  {code:>8}  {:>7}  {:<22} {read:>9} {loaded:>11} {rejected:>11}  {:>12}",
                v.version,
                crate::ingest::validation::escape_text(&v.submission_id, 200),
                v.committed_in
            )?;
        }
    }
    Ok(0)
}
