//! The `povcensus` binary: parse the command line, set up logging, call the library, and map
//! the outcome to an exit status (0 ok, 1 rejected input, 2 failure).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use povcensus::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let interactive = std::io::stderr().is_terminal() && !cli.quiet;
    match run(cli.command, interactive) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command, interactive: bool) -> anyhow::Result<ExitCode> {
    match command {
        Command::Generate(args) => {
            if let Some(n) = args.threads {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build_global()?;
            }
            let summary = povcensus::generator::generate(&args.options(interactive))?;
            tracing::info!(
                provinces = summary.provinces.len(),
                rows = summary.rows,
                megabytes = format!("{:.1}", summary.bytes as f64 / 1e6),
                out = %args.out.display(),
                "submissions written"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
