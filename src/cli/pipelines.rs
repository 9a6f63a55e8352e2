//! The pipelines and their parameters: `povcensus pipelines` and `povcensus check`.

use std::path::PathBuf;

use clap::Args;

use super::parse_param;

#[derive(Debug, Args)]
pub struct PipelinesArgs {
    /// List the pipelines of this directory instead of the built-in ones.
    #[arg(long)]
    pub pipelines: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The pipeline: a built-in one by name or a definition file.
    pub pipeline: String,
    /// Look named pipelines up in this directory instead of the built-in ones.
    #[arg(long)]
    pub pipelines: Option<PathBuf>,
    /// Check with a parameter overridden, e.g. --param poverty_line=4300 (repeatable).
    #[arg(long = "param", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
}

/// Runs `povcensus pipelines`.
pub(super) fn pipelines(args: PipelinesArgs) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let defs = crate::pipeline::Definitions::new(args.pipelines.as_deref());
    let mut out = std::io::stdout().lock();
    for name in defs.names()? {
        let p = crate::pipeline::Pipeline::resolve(&name, &defs, &[])?;
        let outputs: Vec<&str> = p
            .steps
            .iter()
            .filter(|s| s.output)
            .map(|s| s.name.as_str())
            .collect();
        writeln!(out, "{name}: writes {}", outputs.join(", "))?;
        for (k, v) in &p.parameters {
            writeln!(out, "  --param {k}={v}")?;
        }
    }
    Ok(0)
}

/// Runs `povcensus check`.
pub(super) fn check(args: CheckArgs) -> anyhow::Result<u8> {
    use std::io::Write as _;
    let defs = crate::pipeline::Definitions::new(args.pipelines.as_deref());
    let p = crate::pipeline::Pipeline::resolve(&args.pipeline, &defs, &args.params)?;
    writeln!(
        std::io::stdout().lock(),
        "{}: {} steps, {} outputs, {} parameters: valid",
        p.name,
        p.steps.len(),
        p.steps.iter().filter(|s| s.output).count(),
        p.parameters.len()
    )?;
    Ok(0)
}
