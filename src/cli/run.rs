//! Run one pipeline over the warehouse: `povcensus run`.

use std::path::PathBuf;

use clap::Args;

use super::{ClusterTarget, EngineArgs, parse_param};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline: a built-in one by name (`census`, `exit_assessment`; see `povcensus
    /// pipelines`), or a definition file such as my-pipelines/census.toml.
    pub pipeline: String,
    /// Look named pipelines up in this directory instead of the built-in ones.
    #[arg(long)]
    pub pipelines: Option<PathBuf>,
    /// The warehouse to read.
    #[arg(long, env = "POVCENSUS_WAREHOUSE", hide_env_values = true)]
    pub warehouse: String,
    /// Output directory: OUT/<table>.parquet, OUT/<table>.csv and OUT/run_manifest.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Read the warehouse as of this snapshot (default: the newest).
    #[arg(long)]
    pub as_of: Option<u64>,
    /// Override a pipeline parameter, e.g. --param poverty_line=4300 (repeatable).
    #[arg(long = "param", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub cluster: ClusterTarget,
}

/// Runs `povcensus run`.
pub(super) async fn run(args: RunArgs) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let pipeline = crate::pipeline::Pipeline::resolve(
        &args.pipeline,
        &crate::pipeline::Definitions::new(args.pipelines.as_deref()),
        &args.params,
    )?;
    let mut engine = args.engine.config(None);
    engine.cluster = args.cluster.connect(&args.warehouse).await?;
    let wh = crate::warehouse::Warehouse::open(&args.warehouse, false)?;
    let snapshot = wh.snapshot_as_of(args.as_of).await?;
    if snapshot.is_none() {
        anyhow::bail!(
            "the warehouse {} has no committed snapshot: ingest submissions first",
            args.warehouse
        );
    }
    let registers = crate::contract::registers::Register::ALL
        .iter()
        .filter_map(|r| snapshot.as_ref().map(|s| s.rows(r.table_name())))
        .sum::<u64>();
    if pipeline.reads_registers() && registers == 0 {
        tracing::warn!(
            "the snapshot holds no departmental registers: the {} pipeline checks nothing \
             (ingest the departments' register submissions first)",
            pipeline.name
        );
    }
    let manifest =
        crate::pipeline::run_into(&pipeline, &wh, snapshot.as_ref(), &args.out, &engine).await?;
    // The result: the files written, one per line.
    let mut stdout = std::io::stdout().lock();
    for o in &manifest.outputs {
        writeln!(stdout, "{}", args.out.join(&o.file).display())?;
    }
    Ok(0)
}
