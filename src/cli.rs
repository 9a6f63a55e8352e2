//! The command-line interface: argument structs and the dispatch of each command to its
//! stage. `main.rs` parses, sets up logging, calls [`run`] and maps the outcome to an exit
//! status; this is the edge where errors become `anyhow` reports.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::generator::{Encoding, GenerateOptions};

/// povcensus: the 2020–2021 national poverty-alleviation census, from province submissions
/// to indicators, exit assessments and reports.
#[derive(Debug, Parser)]
#[command(name = "povcensus", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v: what the work is doing, -vv: debug, -vvv: trace); RUST_LOG
    /// overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on standard error.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write synthetic province submissions (CSV + manifest.json per province).
    Generate(GenerateArgs),
    /// Validate province submissions and load them into the warehouse as new versions.
    Ingest(IngestArgs),
    /// Run SQL over the warehouse tables (one statement with -c, else an interactive prompt).
    Sql(SqlArgs),
    /// List the warehouse's snapshots and the province versions each holds.
    Versions(VersionsArgs),
    /// Run a pipeline (built-in, e.g. `census`, or a definition file) over the warehouse and
    /// write its output tables.
    Run(RunArgs),
    /// List the pipelines with their parameters and defaults.
    Pipelines(PipelinesArgs),
    /// Check a pipeline (names, dependencies, SQL files, parameters) without running it.
    Check(CheckArgs),
    /// Write the reports: national bulletin, statisticians' workbook, evaluator and
    /// data-quality reports (HTML, XLSX), linked from OUT/index.html.
    Report(ReportArgs),
    /// Write the anonymized research extract (pseudonymized, k-anonymous microdata) and its
    /// disclosure-risk report.
    Extract(ExtractArgs),
    /// Serve a research extract over Arrow Flight SQL to researchers with tokens.
    Serve(ServeArgs),
}

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

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The research extract directory (from `povcensus extract`).
    #[arg(long)]
    pub extract: PathBuf,
    /// Researchers' tokens: one `name:token` per line (tokens of 16 characters or more).
    #[arg(long)]
    pub tokens: PathBuf,
    /// TCP port.
    #[arg(long, default_value_t = 32010)]
    pub port: u16,
    /// Address to listen on (127.0.0.1 by default: only this machine).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Append the query log (JSON lines) to this file instead of standard error.
    #[arg(long)]
    pub query_log: Option<PathBuf>,
    /// The most rows one query may return.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_rows: usize,
    /// The longest one query may run, in seconds; then its plan is cancelled.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
    /// Statements one researcher may have running at once.
    #[arg(long, default_value_t = 2)]
    pub max_concurrent: usize,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// What one statement may ask of the machine (`sql` and `serve`).
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// The longest statement, in bytes of SQL.
    #[arg(long, default_value_t = crate::engine::guard::DEFAULT_MAX_STATEMENT_BYTES)]
    pub max_statement_bytes: usize,
    /// The deepest nesting of expressions and subqueries, and the most SELECTs and tables one
    /// statement may combine.
    #[arg(long, default_value_t = crate::engine::guard::DEFAULT_MAX_DEPTH)]
    pub max_expression_depth: usize,
    /// Memory of one query (its operators spill beyond it where they can, else it fails), and
    /// the most one batch of a growing function such as repeat() may make.
    #[arg(long, default_value = "512MiB", value_parser = crate::engine::parse_size)]
    pub query_memory_limit: usize,
    /// The largest result of one query (Arrow bytes in memory), beside any row limit.
    #[arg(long, default_value = "256MiB", value_parser = crate::engine::parse_size)]
    pub max_result_bytes: usize,
}

impl LimitArgs {
    /// The limits of one statement; `serve` adds rows, a timeout and bounded joins.
    pub fn limits(
        &self,
        max_rows: Option<usize>,
        timeout: Option<std::time::Duration>,
    ) -> crate::engine::guard::Limits {
        crate::engine::guard::Limits {
            bounded_joins: timeout.is_some(),
            max_statement_bytes: self.max_statement_bytes,
            max_depth: self.max_expression_depth,
            query_memory: self.query_memory_limit,
            max_result_bytes: self.max_result_bytes,
            max_rows,
            timeout,
        }
    }
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The warehouse to read.
    #[arg(long)]
    pub warehouse: String,
    /// Output directory: research_persons and research_households (Parquet, CSV) and
    /// risk_report.html / risk_report.json.
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
    /// Read the warehouse as of this snapshot (default: the newest).
    #[arg(long)]
    pub as_of: Option<u64>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The warehouse to read.
    #[arg(long)]
    pub warehouse: String,
    /// Output directory: OUT/index.html and the documents it links to; the pipeline outputs
    /// they are made from go to OUT/data/.
    #[arg(long)]
    pub out: PathBuf,
    /// A directory of customised pipeline definitions (their SQL in DIR/../queries/) instead
    /// of the ones built into povcensus.
    #[arg(long)]
    pub pipelines: Option<PathBuf>,
    /// Read the warehouse as of this snapshot (default: the newest).
    #[arg(long)]
    pub as_of: Option<u64>,
    /// The generation time shown on the documents, as "YYYY-MM-DD HH:MM" (UTC). Default:
    /// SOURCE_DATE_EPOCH when set, else now. Fix it to get byte-identical reports.
    #[arg(long)]
    pub generated_at: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// The generation time of reports: the argument, else SOURCE_DATE_EPOCH, else now (UTC).
fn generated_at(arg: Option<&str>) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let t = match arg {
        Some(s) => chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .with_context(|| format!("--generated-at `{s}` is not YYYY-MM-DD HH:MM"))?
            .and_utc(),
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) => {
                let secs: i64 = v.trim().parse().with_context(|| {
                    format!("SOURCE_DATE_EPOCH `{v}` is not a number of seconds")
                })?;
                chrono::DateTime::from_timestamp(secs, 0)
                    .with_context(|| format!("SOURCE_DATE_EPOCH `{v}` is out of range"))?
            }
            Err(_) => chrono::Utc::now(),
        },
    };
    Ok(t.format("%Y-%m-%d %H:%M UTC").to_string())
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline: a built-in one by name (`census`, `exit_assessment`; see `povcensus
    /// pipelines`), or a definition file such as my-pipelines/census.toml.
    pub pipeline: String,
    /// Look named pipelines up in this directory instead of the built-in ones.
    #[arg(long)]
    pub pipelines: Option<PathBuf>,
    /// The warehouse to read.
    #[arg(long)]
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
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

/// How much memory and how many threads queries may use.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Memory for query execution; operators spill to disk beyond it (e.g. 4GiB, 512MiB).
    #[arg(long, default_value = "2GiB", value_parser = crate::engine::parse_size)]
    pub memory_limit: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Join strategy: hash joins (fast, in memory), spill (sort-merge joins that spill to
    /// disk), or auto (spill when the inputs would not fit in half the memory limit).
    #[arg(long, value_enum, default_value = "auto")]
    pub joins: crate::engine::JoinStrategy,
}

impl EngineArgs {
    pub fn config(&self, spill_dir: Option<PathBuf>) -> crate::engine::EngineConfig {
        let mut c = crate::engine::EngineConfig {
            memory_limit: self.memory_limit,
            spill_dir,
            joins: self.joins,
            ..Default::default()
        };
        if let Some(t) = self.threads {
            c.threads = t;
        }
        c
    }
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Province submission directories (holding manifest.json) or directories holding them,
    /// local or s3://bucket/prefix.
    #[arg(required = true)]
    pub submissions: Vec<String>,
    /// The warehouse: a local directory or s3://bucket/prefix (created when new).
    #[arg(long)]
    pub warehouse: String,
    /// Share of rejected rows above which a province is flagged for resubmission.
    #[arg(long, default_value_t = crate::ingest::DEFAULT_REJECT_THRESHOLD)]
    pub reject_threshold: f64,
    /// Local directory for staged data and spill files (default: the system temp directory).
    #[arg(long)]
    pub staging: Option<PathBuf>,
    /// Print the report as JSON instead of the readable summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["warehouse", "extract"])))]
pub struct SqlArgs {
    /// The warehouse to query.
    #[arg(long)]
    pub warehouse: Option<String>,
    /// A research extract directory instead: only its tables are visible.
    #[arg(long)]
    pub extract: Option<PathBuf>,
    /// Read the warehouse as of this snapshot (see `povcensus versions`).
    #[arg(long)]
    pub as_of: Option<u64>,
    /// The statement(s) to run; without it, statements are read interactively (or from
    /// standard input when it is not a terminal).
    #[arg(short = 'c', long = "command")]
    pub command: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::console::OutputFormat,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct VersionsArgs {
    /// The warehouse.
    #[arg(long)]
    pub warehouse: String,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output directory; one sub-directory per province is written into it.
    #[arg(long)]
    pub out: PathBuf,
    /// Size relative to the national census (1.0 = 14.8 M households, 53 M persons).
    #[arg(long, default_value_t = 0.01)]
    pub scale: f64,
    /// Random seed; the same arguments give byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Comma-separated province codes (default: all 22), e.g. 52,53.
    #[arg(long, value_delimiter = ',')]
    pub provinces: Option<Vec<String>>,
    /// Plant this share of faulty rows, plus file-level faults, and write the ground truth to
    /// OUT/ground_truth/<province>.jsonl.
    #[arg(long, default_value_t = 0.0)]
    pub errors: f64,
    /// Text encoding of the CSV files.
    #[arg(long, value_enum, default_value = "utf8")]
    pub encoding: Encoding,
    /// Use the Chinese column labels (户编码, 姓名, …) as headers.
    #[arg(long)]
    pub chinese_headers: bool,
    /// Survey every county of types 1-2 for the exit assessment, not only those that left
    /// the poverty-county list in 2020.
    #[arg(long)]
    pub assess_all: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl GenerateArgs {
    pub fn options(&self, progress: bool) -> GenerateOptions {
        GenerateOptions {
            out: self.out.clone(),
            scale: self.scale,
            seed: self.seed,
            provinces: self.provinces.clone(),
            error_rate: self.errors,
            encoding: self.encoding,
            chinese_headers: self.chinese_headers,
            assess_all: self.assess_all,
            progress,
        }
    }
}

/// The next step for a failure, where there is an obvious one (`main` prints it as `hint:`).
pub fn hint(e: &anyhow::Error) -> Option<String> {
    let text = format!("{e:#}");
    for cause in e.chain() {
        if let Some(h) = cause
            .downcast_ref::<crate::engine::guard::QueryError>()
            .and_then(|q| q.hint())
        {
            return Some(h.to_string());
        }
        if let Some(h) = cause
            .downcast_ref::<crate::server::ServerError>()
            .and_then(|s| s.hint())
        {
            return Some(h);
        }
    }
    if text.contains("has no committed snapshot") {
        return Some(
            "check the --warehouse path, or load submissions into it with \
             `povcensus ingest SUBMISSIONS... --warehouse WH`"
                .into(),
        );
    }
    if let Some(crate::pipeline::PipelineError::Unknown { name, available }) = e
        .chain()
        .find_map(|c| c.downcast_ref::<crate::pipeline::PipelineError>())
        && let Some(near) = nearest(name, available)
    {
        return Some(format!(
            "did you mean `{near}`? (`povcensus pipelines` lists them)"
        ));
    }
    let credentials = [
        "SecretAccessKey",
        "AccessKeyId",
        "credential",
        "no S3 credentials",
        "InvalidAccessKeyId",
    ];
    if text.contains("s3://") && credentials.iter().any(|c| text.contains(c)) {
        return Some(
            "for s3:// paths set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION; \
             AWS_ENDPOINT_URL with AWS_ALLOW_HTTP=true for a local S3 server)"
                .into(),
        );
    }
    None
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a slip.
fn nearest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }
    candidates
        .iter()
        .map(|c| (distance(word, c), c.as_str()))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(2))
        .min()
        .map(|(_, c)| c)
}

/// Run a command. Returns the exit status: 0 ok, 1 rejected input (errors are status 2).
pub async fn run(command: Command, interactive: bool) -> anyhow::Result<u8> {
    use std::io::Write as _;
    match command {
        Command::Generate(args) => {
            let opts = args.options(interactive);
            let summary =
                tokio::task::spawn_blocking(move || crate::generator::generate(&opts)).await??;
            eprintln!(
                "wrote the submissions of {} province(s) ({} rows, {:.1} MB) to {}",
                summary.provinces.len(),
                summary.rows,
                summary.bytes as f64 / 1e6,
                args.out.display()
            );
            Ok(0)
        }
        Command::Ingest(args) => {
            let opts = crate::ingest::IngestOptions {
                submissions: args.submissions.clone(),
                warehouse: args.warehouse.clone(),
                reject_threshold: args.reject_threshold,
                engine: args.engine.config(None),
                staging: args.staging.clone(),
                progress: interactive,
            };
            let report = crate::ingest::ingest(&opts).await?;
            let mut out = std::io::stdout().lock();
            if args.json {
                out.write_all(report.to_json().as_bytes())?;
            } else {
                out.write_all(report.to_text().as_bytes())?;
            }
            if !report.balanced {
                anyhow::bail!("rows read do not equal rows loaded plus rows rejected");
            }
            Ok(report.exit_code())
        }
        Command::Sql(args) => {
            let engine = args.engine.config(None);
            let ctx = crate::engine::session(&engine)?;
            let runner = crate::engine::guard::QueryRunner::new(
                args.limits.limits(None, None),
                engine.threads,
            )?;
            // The survey functions of the exit assessment, for statisticians at the prompt.
            crate::assessment::register(&ctx);
            if let Some(dir) = &args.extract {
                crate::extract::register(&ctx, dir).await?;
            } else if let Some(warehouse) = &args.warehouse {
                let wh = crate::warehouse::Warehouse::open(warehouse, false)?;
                let snapshot = wh.snapshot_as_of(args.as_of).await?;
                if snapshot.is_none() {
                    tracing::warn!(
                        "the warehouse has no committed snapshot yet: every table is empty"
                    );
                }
                wh.register(&ctx, snapshot.as_ref())?;
            }
            runner.guard(&ctx);
            let script = match &args.command {
                Some(c) => Some(c.clone()),
                None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => None,
                None => {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                    Some(s)
                }
            };
            match script {
                Some(script) => {
                    for stmt in crate::console::split_statements(&script) {
                        let answer = runner.run(&ctx, &stmt).await?;
                        crate::console::write_batches(
                            &mut std::io::stdout().lock(),
                            &answer.batches,
                            args.format,
                        )?;
                    }
                }
                None => crate::console::repl(&ctx, &runner, args.format).await?,
            }
            Ok(0)
        }
        Command::Run(args) => {
            let pipeline = crate::pipeline::Pipeline::resolve(
                &args.pipeline,
                &crate::pipeline::Definitions::new(args.pipelines.as_deref()),
                &args.params,
            )?;
            let wh = crate::warehouse::Warehouse::open(&args.warehouse, false)?;
            let snapshot = wh.snapshot_as_of(args.as_of).await?;
            if snapshot.is_none() {
                anyhow::bail!(
                    "the warehouse {} has no committed snapshot: ingest submissions first",
                    args.warehouse
                );
            }
            let manifest = crate::pipeline::run_into(
                &pipeline,
                &wh,
                snapshot.as_ref(),
                &args.out,
                &args.engine.config(None),
            )
            .await?;
            // The result: the files written, one per line.
            let mut stdout = std::io::stdout().lock();
            for o in &manifest.outputs {
                writeln!(stdout, "{}", args.out.join(&o.file).display())?;
            }
            Ok(0)
        }
        Command::Report(args) => {
            let opts = crate::report::ReportOptions {
                warehouse: args.warehouse.clone(),
                out: args.out.clone(),
                pipelines: crate::pipeline::Definitions::new(args.pipelines.as_deref()),
                as_of: args.as_of,
                generated_at: generated_at(args.generated_at.as_deref())?,
                engine: args.engine.config(None),
            };
            let summary = crate::report::write(&opts).await?;
            tracing::info!(documents = summary.files.len(), "reports written");
            writeln!(std::io::stdout().lock(), "{}", summary.index.display())?;
            Ok(0)
        }
        Command::Extract(args) => {
            let opts = crate::extract::ExtractOptions {
                warehouse: args.warehouse.clone(),
                out: args.out.clone(),
                key: crate::extract::Key::load(args.key_file.as_deref())?,
                k: args.k,
                min_ethnicity_persons: args.min_ethnicity_persons,
                income_top_percentile: 99.0,
                cell_threshold: args.min_cell,
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
        Command::Serve(args) => {
            let opts = crate::server::ServeOptions {
                extract: args.extract.clone(),
                tokens: args.tokens.clone(),
                addr: std::net::SocketAddr::new(args.host, args.port),
                query_log: args.query_log.clone(),
                limits: args.limits.limits(
                    Some(args.max_rows),
                    Some(std::time::Duration::from_secs(args.timeout_secs)),
                ),
                max_concurrent: args.max_concurrent,
                engine: args.engine.config(None),
            };
            crate::server::serve(&opts).await?;
            Ok(0)
        }
        Command::Pipelines(args) => {
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
        Command::Check(args) => {
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
        Command::Versions(args) => {
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
    }
}
