//! Research access under load: a bounded load test of `povcensus serve` on loopback. Several
//! researchers (Flight SQL clients over gRPC) send a mix of valid and hostile statements —
//! deep expressions, over-long statements, strings of gigabytes, results too big, joins that
//! never end, aggregates beyond the memory limit — and the benchmark prints latency by kind,
//! the outcomes, and the peak memory of the process (server and clients in one process).
//!
//! ```text
//! cargo bench --bench server -- 0.005                        # scale of the sample extract
//! cargo bench --bench server -- 0.005 --queries 200 --seconds 120 --researchers 4
//! ```
//!
//! Bounded: at most 400 statements and `--seconds` (default 120) of load; each query times
//! out after 2 s. `--threads N` (default 2).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::{
    BenchArgs, arg_value, engine, ensure_warehouse, peak_rss_mib, reset_peak_rss, runtime,
};

use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use povcensus::engine::guard::Limits;
use povcensus::extract::{ExtractOptions, Key, write};
use povcensus::server::{ServeOptions, serve};

const VALID: &[&str] = &[
    "SELECT COUNT(*) AS n FROM research_persons",
    "SELECT sex, COUNT(*) AS n FROM research_persons GROUP BY sex ORDER BY sex",
    "SELECT COUNT(*) AS n FROM research_persons p JOIN research_households h \
     ON h.household_key = p.household_key",
    "SELECT table_name FROM information_schema.tables ORDER BY table_name",
];

fn hostile() -> Vec<String> {
    let chain = |terms: usize, op: &str| format!("SELECT 1{}", format!(" {op} 1").repeat(terms));
    vec![
        chain(2000, "+"),
        chain(20_000, "OR"),
        ["SELECT repeat('x', 1000000000) AS s"; 5].join(" UNION ALL "),
        "SELECT repeat('x', 4000000) AS s FROM generate_series(1, 1000)".into(),
        "SELECT repeat('x', 500000) AS s FROM generate_series(1, 1000)".into(),
        "SELECT COUNT(*) FROM generate_series(1, 200000) a, generate_series(1, 200000) b \
         WHERE a.value * 7 + b.value * 3 < 0"
            .into(),
        "SELECT length(string_agg(repeat('x', 10000), ',')) FROM generate_series(1, 200000)".into(),
    ]
}

/// One statement's kind, latency and whether it was answered.
struct Outcome {
    valid: bool,
    ms: f64,
    ok: bool,
    error: Option<String>,
}

async fn query(port: u16, token: &str, sql: &str) -> Result<usize, String> {
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let mut client = FlightSqlServiceClient::new(channel);
    client.set_header("authorization", format!("Bearer {token}"));
    let info = client
        .execute(sql.to_string(), None)
        .await
        .map_err(|e| e.to_string())?;
    let mut rows = 0;
    for endpoint in info.endpoint {
        let Some(ticket) = endpoint.ticket else {
            continue;
        };
        let stream = client.do_get(ticket).await.map_err(|e| e.to_string())?;
        let batches: Vec<_> = stream.try_collect().await.map_err(|e| e.to_string())?;
        rows += batches.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    Ok(rows)
}

async fn researcher(
    port: u16,
    token: String,
    n: usize,
    offset: usize,
    end: Instant,
) -> Vec<Outcome> {
    let hostile = hostile();
    let mut out = Vec::new();
    for i in 0..n {
        if Instant::now() > end {
            break;
        }
        // Two valid statements to one hostile one.
        let k = i + offset;
        let (valid, sql) = if k % 3 == 2 {
            (false, hostile[(k / 3) % hostile.len()].as_str())
        } else {
            (true, VALID[k % VALID.len()])
        };
        let start = Instant::now();
        let r = query(port, &token, sql).await;
        out.push(Outcome {
            valid,
            ms: start.elapsed().as_secs_f64() * 1e3,
            ok: r.is_ok(),
            error: r.err(),
        });
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(label: &str, outcomes: &[&Outcome]) {
    let mut ms: Vec<f64> = outcomes.iter().map(|o| o.ms).collect();
    ms.sort_by(f64::total_cmp);
    let ok = outcomes.iter().filter(|o| o.ok).count();
    println!(
        "  {label:<8} {:>4} statements  {ok:>4} answered  {:>4} refused   latency p50 {:>8.1} ms  p95 {:>8.1} ms  max {:>8.1} ms",
        outcomes.len(),
        outcomes.len() - ok,
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        ms.last().copied().unwrap_or(f64::NAN)
    );
}

fn tokens_file(path: &Path, researchers: usize) -> Vec<String> {
    let tokens: Vec<String> = (0..researchers)
        .map(|i| format!("researcher{i}-0123456789abcdef"))
        .collect();
    let text: String = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| format!("r{i}:{t}\n"))
        .collect();
    std::fs::write(path, text).expect("tokens file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    tokens
}

// Long: one linear script (set up, serve, load, report); splitting it would only pass its
// dozen locals around.
fn main() {
    let BenchArgs {
        args,
        scale,
        threads,
        memory,
        ..
    } = BenchArgs::parse(2 << 30);
    let number = |name: &str, default: f64| {
        arg_value(&args, name)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(default)
    };
    let queries = (number("--queries", 240.0) as usize).min(400);
    let seconds = number("--seconds", 120.0);
    let researchers = (number("--researchers", 4.0) as usize).max(1);
    let tmp = tempfile::tempdir().expect("temp dir");
    let rt = runtime(threads);
    let engine = engine(memory, threads, tmp.path());
    let wh_dir = tmp.path().join("warehouse");
    ensure_warehouse(&rt, &wh_dir, tmp.path(), scale, &engine);
    let extract = tmp.path().join("extract");
    let opts = ExtractOptions {
        warehouse: wh_dir.display().to_string(),
        out: extract.clone(),
        key: Key::from_bytes(b"benchmark key, not a secret"),
        k: 5,
        min_ethnicity_persons: 500,
        income_top_percentile: 99.0,
        cell_threshold: 10,
        l: 2,
        generated_at: "2021-02-25 10:00 UTC".into(),
        as_of: None,
        engine: engine.clone(),
        progress: false,
    };
    rt.block_on(write(&opts)).expect("extract");
    let tokens = tokens_file(&tmp.path().join("tokens"), researchers);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let serve_opts = ServeOptions {
        extract,
        tokens: tmp.path().join("tokens"),
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        query_log: Some(tmp.path().join("queries.jsonl")),
        limits: Limits {
            max_rows: Some(100_000),
            timeout: Some(Duration::from_secs(2)),
            bounded_joins: true,
            ..Limits::default()
        },
        max_concurrent: 2,
        engine,
    };
    rt.spawn(async move { serve(&serve_opts).await.expect("serve") });
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    reset_peak_rss();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let each = queries.div_ceil(researchers);
    let outcomes: Vec<Outcome> = rt.block_on(async {
        let tasks: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| tokio::spawn(researcher(port, t.clone(), each, i, end)))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("researcher"));
        }
        all
    });
    let secs = start.elapsed().as_secs_f64();
    let peak = peak_rss_mib();
    let alive = rt.block_on(query(port, &tokens[0], VALID[0])).is_ok();
    println!(
        "research access under load: {} statements from {researchers} researchers in {secs:.1} s \
         (cap {queries} statements, {seconds:.0} s), {threads} threads, query timeout 2 s",
        outcomes.len()
    );
    let (valid, hostile): (Vec<&Outcome>, Vec<&Outcome>) = outcomes.iter().partition(|o| o.valid);
    report("valid", &valid);
    report("hostile", &hostile);
    let wrong = valid.iter().filter(|o| !o.ok).count() + hostile.iter().filter(|o| o.ok).count();
    let mut reasons = std::collections::BTreeMap::new();
    for o in &outcomes {
        if let Some(e) = &o.error {
            let kind = if o.valid { "valid" } else { "hostile" };
            let reason: String = e
                .split("message: ")
                .last()
                .unwrap_or(e)
                .chars()
                .take(70)
                .collect();
            *reasons.entry((kind, reason)).or_insert(0) += 1;
        }
    }
    for ((kind, reason), n) in &reasons {
        println!("    {kind} refused {n:>3}×: {reason}");
    }
    println!(
        "  peak RSS {peak:.0} MiB   valid refused or hostile answered: {wrong}   \
         the server answers afterwards: {}",
        if alive { "yes" } else { "NO" }
    );
}
