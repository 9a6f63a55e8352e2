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
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,povcensus={level}")));
    // The query engine's debug logs print predicates and statistics that hold data values
    // (ID numbers among them): whatever RUST_LOG asks, they stay at info.
    for dependency in ["datafusion", "parquet", "arrow", "object_store"] {
        filter = filter.add_directive(
            format!("{dependency}=info")
                .parse()
                .expect("static directive"),
        );
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let interactive = std::io::stderr().is_terminal() && !cli.quiet;
    let threads = match &cli.command {
        Command::Generate(a) => a.threads,
        Command::Ingest(a) => a.engine.threads,
        Command::Sql(a) => a.engine.threads,
        Command::Run(a) => a.engine.threads,
        Command::Report(a) => a.engine.threads,
        Command::Extract(a) => a.engine.threads,
        Command::Serve(a) => a.engine.threads,
        Command::Versions(_) => None,
    };
    if let Some(n) = threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
    {
        tracing::error!("{e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(povcensus::cli::run(cli.command, interactive)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(2)
        }
    }
}
