//! The `povcensus` binary: parse the command line, set up logging, call the library, and map
//! the outcome to an exit status (0 ok, 1 rejected input, 2 failure, 130/143 interrupted by
//! SIGINT/SIGTERM). Files it creates are private (umask 077); scratch directories (staging,
//! spill) are removed on every exit, an interrupt included.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use povcensus::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Everything the census tool writes holds or derives from confidential records: files and
    // directories are created owner-only unless the user loosens them afterwards.
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-mode creation mask; no memory is involved.
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    init_logging(
        cli.quiet,
        cli.verbose,
        matches!(cli.command, Command::Cluster(_)),
    );
    let interactive = std::io::stderr().is_terminal() && !cli.quiet;
    let threads = match &cli.command {
        Command::Generate(a) => a.threads,
        Command::Ingest(a) => a.engine.threads,
        Command::Validate(a) => a.engine.threads,
        Command::Sql(a) => a.engine.threads,
        Command::Run(a) => a.engine.threads,
        Command::Report(a) => a.engine.threads,
        Command::Extract(a) => a.engine.threads,
        Command::Diff(a) => a.engine.threads,
        Command::Serve(a) => a.engine.threads,
        Command::Versions(_) | Command::Pipelines(_) | Command::Check(_) | Command::Cluster(_) => {
            None
        }
    };
    if let Some(n) = threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
    {
        return fail(&anyhow::Error::new(e).context("cannot start the worker threads"));
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if matches!(cli.command, Command::Cluster(_)) {
        // A scheduler and executors decode, plan and run whole query plans on these threads,
        // recursing once per plan level: the exit assessment's need more than 2 MiB.
        builder.thread_stack_size(povcensus::node::STACK_BYTES);
    }
    let runtime = match builder.build() {
        Ok(r) => r,
        Err(e) => return fail(&anyhow::Error::new(e).context("cannot start the runtime")),
    };
    let ended = runtime.block_on(async {
        tokio::select! {
            r = povcensus::cli::run(cli.command, interactive) => Ended::Done(r),
            s = interrupted() => s,
        }
    });
    // The command's future is dropped by now (its work cancelled); workers still writing get a
    // moment, then every scratch directory goes, whatever state they left it in.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    let left = povcensus::engine::scratch::remove_all();
    for path in &left {
        eprintln!(
            "warning: could not remove the scratch directory {}: remove it by hand",
            path.display()
        );
    }
    match ended {
        Ended::Done(Ok(code)) => ExitCode::from(code),
        Ended::Done(Err(e)) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Ended::Done(Err(e)) => fail(&e),
        Ended::Signal(what, code) => {
            eprintln!("error: {what}");
            if left.is_empty() {
                eprintln!("  note: staging and spill files were removed");
            }
            ExitCode::from(code)
        }
    }
}

/// Logs go to standard error. By default only warnings and errors, as `warning: …` lines;
/// `-v` adds what the work is doing (`info: …`), `-vv` debug and `-vvv` trace lines, which
/// carry timestamps. `RUST_LOG` overrides the level, never the cap on the query engine.
/// `node`: the process is a cluster's scheduler or executor, not a client.
fn init_logging(quiet: bool, verbose: u8, node: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,povcensus={level}")));
    // The query engine's debug logs print predicates and statistics that hold data values
    // (ID numbers among them): whatever RUST_LOG asks, they stay at info.
    for dependency in ["datafusion", "parquet", "arrow", "object_store"] {
        // Cannot fail: a static directive.
        filter = filter.add_directive(
            format!("{dependency}=info")
                .parse()
                .expect("static directive"),
        );
    }
    // Ballista's (a cluster's nodes and client) follow the level asked for, up to info: its
    // debug logs print plans and session settings, S3 credentials among them.
    let ballista = if verbose >= 2 && !quiet {
        "info"
    } else {
        level
    };
    for dependency in ["ballista_core", "ballista_scheduler", "ballista_executor"] {
        // Cannot fail: a static directive.
        filter = filter.add_directive(
            format!("{dependency}={ballista}")
                .parse()
                .expect("static directive"),
        );
    }
    // A failed job's message, which Ballista's client logs as an error, is the command's own
    // error too: said once, by the command. So is a client's failed fetch of a job's results
    // from an executor that left, which Ballista logs as warnings at each retry, with its
    // structures' debug dress (an executor's own fetches are its operator's business).
    if verbose < 2 {
        let mut quiet_modules = vec!["ballista_core::execution_plans::distributed_query"];
        if !node {
            quiet_modules.push("ballista_core::client");
        }
        for module in quiet_modules {
            // Cannot fail: a static directive.
            filter =
                filter.add_directive(format!("{module}=off").parse().expect("static directive"));
        }
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    if verbose >= 2 {
        logs.init();
    } else {
        logs.event_format(Plain).init();
    }
}

/// `warning: message key=value`: a log line as a person reads it, no timestamp.
struct Plain;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Plain
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warning",
            tracing::Level::INFO => "info",
            tracing::Level::DEBUG => "debug",
            tracing::Level::TRACE => "trace",
        };
        write!(writer, "{level}: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

enum Ended {
    Done(anyhow::Result<u8>),
    /// Interrupted: what happened and the exit status (128 + signal number).
    Signal(&'static str, u8),
}

/// Resolves when SIGINT or SIGTERM arrives; never when the handlers cannot be installed.
async fn interrupted() -> Ended {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            return tokio::select! {
                _ = int.recv() => Ended::Signal("interrupted (Ctrl-C)", 130),
                _ = term.recv() => Ended::Signal("terminated", 143),
            };
        }
    }
    std::future::pending().await
}

/// A reader that went away (`povcensus sql … | head`): not a failure of the command.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<arrow::error::ArrowError>()
                .is_some_and(|a| {
                    matches!(a, arrow::error::ArrowError::IoError(_, io)
                    if io.kind() == std::io::ErrorKind::BrokenPipe)
                })
            // Writers that keep only the text of the I/O error (the csv crate's, via arrow).
            || c.to_string().contains("Broken pipe (os error 32)")
    })
}

/// Prints a failure the way uv does: `error:` with the outermost message, one `caused by:`
/// line per cause that the lines above do not already say, and a `hint:` where there is a
/// next step. Returns exit status 2.
fn fail(e: &anyhow::Error) -> ExitCode {
    let mut said: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = readable(cause);
        let text = text.trim();
        if text.is_empty() || said.iter().any(|s| s.contains(text)) {
            continue;
        }
        if said.is_empty() {
            eprintln!("error: {text}");
        } else {
            eprintln!("  caused by: {text}");
        }
        said.push(text.to_string());
    }
    if let Some(hint) = povcensus::cli::hint(e) {
        eprintln!("  hint: {hint}");
    }
    ExitCode::from(2)
}

/// One cause as a person reads it: the SQL parser's errors without their Rust debug dress
/// (`SQL error: ParserError("…")`).
fn readable(cause: &(dyn std::error::Error + 'static)) -> String {
    use datafusion::error::DataFusionError;
    use datafusion::sql::sqlparser::parser::ParserError;
    let parser = match cause.downcast_ref::<DataFusionError>() {
        Some(DataFusionError::SQL(p, _)) => Some(p.as_ref()),
        _ => cause.downcast_ref::<ParserError>(),
    };
    match parser {
        Some(ParserError::ParserError(m) | ParserError::TokenizerError(m)) => {
            format!("the SQL does not parse: {m}")
        }
        Some(ParserError::RecursionLimitExceeded) => {
            "the SQL does not parse: it nests too deeply".to_string()
        }
        None => cause.to_string(),
    }
}
