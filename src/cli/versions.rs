//! The warehouse's snapshots and their province and department versions: `povcensus
//! versions`.

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
        // Provinces by code, then the departments' registers by department id.
        let provinces = s
            .provinces
            .iter()
            .map(|(c, v)| (c, v.version, &v.submission_id, &v.files, v.committed_in));
        let departments = s
            .departments
            .iter()
            .map(|(d, v)| (d, v.version, &v.submission_id, &v.files, v.committed_in));
        for (code, version, submission_id, files, committed_in) in provinces.chain(departments) {
            let read: u64 = files.iter().map(|f| f.rows_read).sum();
            let loaded: u64 = files.iter().map(|f| f.rows_loaded).sum();
            let rejected: u64 = files.iter().map(|f| f.rows_rejected).sum();
            writeln!(
                out,
                "{id:>8}  {code:>8}  {version:>7}  {:<22} {read:>9} {loaded:>11} {rejected:>11}  {committed_in:>12}",
                crate::ingest::validation::escape_text(submission_id, 200),
            )?;
        }
    }
    Ok(0)
}
