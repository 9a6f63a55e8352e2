//! The warehouse's snapshots and their province and department versions: `povcensus
//! versions`.

use clap::Args;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct VersionsArgs {
    /// The warehouse.
    #[arg(long, env = "POVCENSUS_WAREHOUSE", hide_env_values = true)]
    pub warehouse: String,
    /// Print the snapshots as JSON (one document on standard output) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One snapshot as `versions --json` prints it.
#[derive(Debug, Serialize)]
struct SnapshotLine {
    snapshot: u64,
    parent: Option<u64>,
    /// RFC 3339, UTC; null for snapshots committed before commit times were kept.
    committed_at: Option<String>,
    provinces: Vec<VersionLine>,
    /// The departments' register versions (`registers.md` §1), `province_code` holding the
    /// department id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    departments: Vec<VersionLine>,
}

#[derive(Debug, Serialize)]
struct VersionLine {
    province_code: String,
    version: u32,
    submission_id: String,
    rows_read: u64,
    rows_loaded: u64,
    rows_rejected: u64,
    committed_in: u64,
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
    let mut lines = Vec::with_capacity(ids.len());
    for id in ids {
        lines.push(snapshot_line(&wh.snapshot(id).await?));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "snapshots": lines }))?;
        writeln!(out)?;
        return Ok(0);
    }
    writeln!(
        out,
        "snapshot  province  version  submission_id            read      loaded    rejected  committed_in  committed (UTC)"
    )?;
    // The commit time last: the columns before it stay where scripts read them.
    for s in &lines {
        let at = s.committed_at.as_deref().map_or("—".to_string(), |t| {
            t.trim_end_matches('Z').replacen('T', " ", 1)
        });
        for v in s.provinces.iter().chain(&s.departments) {
            writeln!(
                out,
                "{:>8}  {:>8}  {:>7}  {:<22} {:>9} {:>11} {:>11}  {:>12}  {at}",
                s.snapshot,
                v.province_code,
                v.version,
                crate::ingest::validation::escape_text(&v.submission_id, 200),
                v.rows_read,
                v.rows_loaded,
                v.rows_rejected,
                v.committed_in
            )?;
        }
    }
    Ok(0)
}

fn snapshot_line(s: &crate::warehouse::Snapshot) -> SnapshotLine {
    SnapshotLine {
        snapshot: s.id,
        parent: s.parent,
        committed_at: s.committed_at.clone(),
        provinces: s
            .provinces
            .iter()
            .map(|(code, v)| {
                version_line(code, v.version, &v.submission_id, &v.files, v.committed_in)
            })
            .collect(),
        departments: s
            .departments
            .iter()
            .map(|(id, v)| version_line(id, v.version, &v.submission_id, &v.files, v.committed_in))
            .collect(),
    }
}

/// A province's or a department's version.
fn version_line(
    code: &str,
    version: u32,
    submission_id: &str,
    files: &[crate::warehouse::FileCount],
    committed_in: u64,
) -> VersionLine {
    VersionLine {
        province_code: code.to_string(),
        version,
        submission_id: submission_id.to_string(),
        rows_read: files.iter().map(|f| f.rows_read).sum(),
        rows_loaded: files.iter().map(|f| f.rows_loaded).sum(),
        rows_rejected: files.iter().map(|f| f.rows_rejected).sum(),
        committed_in,
    }
}
