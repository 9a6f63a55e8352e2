//! What changed between two snapshots: `povcensus diff`.

use clap::Args;

use super::EngineArgs;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The warehouse.
    #[arg(long, env = "POVCENSUS_WAREHOUSE", hide_env_values = true)]
    pub warehouse: String,
    /// The earlier snapshot (see `povcensus versions`).
    pub from: u64,
    /// The later snapshot (default: the newest).
    pub to: Option<u64>,
    /// Print the comparison as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Runs `povcensus diff`.
pub(super) async fn run(args: DiffArgs, interactive: bool) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let c = crate::comparison::compare(
        &args.warehouse,
        args.from,
        args.to,
        &args.engine.config(None),
        interactive,
    )
    .await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &c)?;
        writeln!(out)?;
        return Ok(0);
    }
    out.write_all(table(&c).as_bytes())?;
    Ok(0)
}

/// The comparison as a table: a line per table of a changed, new or removed province, one
/// line per unchanged province.
fn table(c: &crate::comparison::Comparison) -> String {
    use std::fmt::Write as _;
    let reference = crate::contract::reference::Reference::get();
    let mut s = format!("snapshot {} → {}\n", c.from, c.to);
    let _ = writeln!(
        s,
        "{:<16} {:<10} {:>8} {:<22} {:>10} {:>10} {:>9} {:>9} {:>9}",
        "province",
        "status",
        "versions",
        "table",
        "rows_from",
        "rows_to",
        "added",
        "removed",
        "changed"
    );
    for p in &c.provinces {
        let name = reference.province(&p.province_code).map_or("", |r| r.name);
        // Padded by display width: a Chinese name takes two columns a character.
        let who = format!("{} {name}", p.province_code);
        let who = format!(
            "{who}{}",
            " ".repeat(16usize.saturating_sub(unicode_width::UnicodeWidthStr::width(who.as_str())))
        );
        let v = |v: Option<u32>| v.map_or("—".to_string(), |v| v.to_string());
        let versions = format!("{}→{}", v(p.version_from), v(p.version_to));
        if p.tables.is_empty() {
            let _ = writeln!(s, "{who} {:<10} {versions:>8} —", p.status.as_str());
        }
        for t in &p.tables {
            let _ = writeln!(
                s,
                "{who} {:<10} {versions:>8} {:<22} {:>10} {:>10} {:>9} {:>9} {:>9}",
                p.status.as_str(),
                t.table,
                t.rows_from,
                t.rows_to,
                t.added,
                t.removed,
                t.changed
            );
        }
    }
    if c.is_empty() {
        s.push_str("no province changed\n");
    }
    s
}
