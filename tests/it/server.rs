//! `povcensus serve`: a real server process queried from Python through ADBC's Flight SQL
//! driver. Permitted queries answer correctly; confidential tables, DDL, DML, COPY, file reads,
//! SET, oversized results and a wrong token are refused; the query log has every statement with
//! its researcher. Attacks on the process — long and deep expressions, growing strings, big
//! results, endless joins, many statements at once — are refused just over each limit and
//! answered just under it, the server answers the next query, its CPU stops with a cancelled
//! query, and the log has each statement with its outcome. `sql` has the same guards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::extract::extract;
use crate::ingest::{ingest_sample, sql};
use crate::support::{free_port, private_file, python};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A served extract of the ingested sample: the server, its port, its query log and the
/// warehouse.
fn serve(dir: &Path, args: &[&str]) -> (Server, u16, PathBuf, String) {
    let wh = ingest_sample(dir);
    let key = dir.join("key");
    std::fs::write(&key, "a research extract key of some length").unwrap();
    let ex = dir.join("extract");
    let o = extract(&wh, &ex, &key);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tokens = dir.join("tokens");
    private_file(
        &tokens,
        "# researchers\nalice:alice-0123456789abcdef\nbob:bob-0123456789abcdef00\n",
    );
    let log = dir.join("queries.jsonl");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_povcensus"))
        .args(["serve", "--extract"])
        .arg(&ex)
        .arg("--tokens")
        .arg(&tokens)
        .args(["--port", &port.to_string(), "--query-log"])
        .arg(&log)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    crate::support::wait_until_listening(port);
    (server, port, log, wh)
}

fn log_lines(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs a Flight SQL client script of `tests/python/` (ADBC) against the server on `port`;
/// its JSON answer.
fn flight_client(script: &str, port: u16, args: &[&str]) -> serde_json::Value {
    let o = Command::new(python())
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/python")
                .join(script),
        )
        .arg(format!("grpc://127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn researchers_query_the_extract_over_flight_sql_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, port, log, wh) = serve(dir.path(), &["--max-rows", "1000"]);

    let r = flight_client("flight_client.py", port, &["alice-0123456789abcdef"]);

    // Permitted queries give the right answers.
    let persons: u64 = sql(
        &wh,
        "SELECT COUNT(*) FROM persons p JOIN households h ON h.household_id = p.household_id \
         WHERE h.enumeration_status = 1",
        &[],
        &[],
    )
    .lines()
    .nth(1)
    .unwrap()
    .parse()
    .unwrap();
    let a = &r["answers"];
    assert_eq!(
        a["SELECT COUNT(*) AS n FROM research_persons"][0][0],
        persons
    );
    assert!(
        a["SELECT COUNT(*) AS n FROM research_households"][0][0]
            .as_u64()
            .unwrap()
            > 0
    );
    let by_sex: u64 = a["SELECT sex, COUNT(*) AS n FROM research_persons WHERE sex IS NOT NULL GROUP BY sex ORDER BY sex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[1].as_u64().unwrap())
        .sum();
    assert!(by_sex > 0 && by_sex <= persons);
    assert_eq!(
        a["SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"],
        serde_json::json!([["research_households"], ["research_persons"]])
    );
    assert_eq!(
        r["tables"],
        serde_json::json!(["research_households", "research_persons"])
    );

    // Everything else is refused.
    assert_eq!(r["accepted"], serde_json::json!([]), "{r}");
    assert_eq!(r["refused"].as_object().unwrap().len(), 11);
    assert!(
        r["refused"]["SELECT * FROM research_persons"]
            .as_str()
            .unwrap()
            .contains("more than 1000 rows")
    );
    assert!(!std::path::Path::new("/tmp/povcensus-leak.csv").exists());
    assert!(
        r["wrong_token"].as_str().unwrap().starts_with("refused"),
        "{r}"
    );

    // The query log: one JSON line per statement with the researcher; refusals and the
    // wrong token too.
    let lines = log_lines(&log);
    let ok: Vec<_> = lines.iter().filter(|l| l["outcome"] == "ok").collect();
    assert_eq!(ok.len(), 4, "{lines:?}");
    assert!(
        ok.iter()
            .all(|l| l["researcher"] == "alice" && l["time"].is_string())
    );
    assert!(
        lines
            .iter()
            .any(|l| l["outcome"] == "refused" && l["statement"] == "SELECT * FROM persons")
    );
    assert!(lines.iter().any(|l| l["outcome"] == "unauthenticated"));
    // Tokens are never logged.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("alice-0123456789abcdef"));
}

/// `SELECT 1 op 1 op …` with `terms` terms.
fn chain(terms: usize, op: &str) -> String {
    format!("SELECT 1{} AS x", format!(" {op} 1").repeat(terms - 1))
}

/// `SELECT '…' AS s` of exactly `bytes` bytes.
fn literal(bytes: usize) -> String {
    let frame = "SELECT '' AS s".len();
    format!("SELECT '{}' AS s", "x".repeat(bytes - frame))
}

#[test]
fn attacks_are_refused_at_their_limits_and_the_server_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let limits = [
        "--max-statement-bytes",
        "20000",
        "--max-expression-depth",
        "100",
        "--query-memory-limit",
        "64MiB",
        "--max-result-bytes",
        "4MiB",
        "--max-rows",
        "100000",
        "--timeout-secs",
        "2",
        "--max-concurrent",
        "1",
    ];
    let (server, port, log, _) = serve(dir.path(), &limits);
    let five_gigabytes = ["SELECT repeat('x', 1000000000) AS s"; 5].join(" UNION ALL ");
    let statements = serde_json::json!({
        "depth_under": chain(90, "+"),
        "depth_over": chain(2000, "+"),
        "ors_over": chain(20_000, "OR"),
        "size_under": literal(20_000),
        "size_over": literal(20_001),
        "repeat_1g": five_gigabytes,
        "repeat_4m_rows": "SELECT repeat('x', 4000000) AS s FROM generate_series(1, 1000)",
        "bytes_under": "SELECT repeat('x', 3000) AS s FROM generate_series(1, 1000)",
        "bytes_over": "SELECT repeat('x', 5000) AS s FROM generate_series(1, 1000)",
        "join_small": "SELECT COUNT(*) AS n FROM research_persons p, (SELECT COUNT(*) AS n FROM research_households) h WHERE h.n > 0",
        "join_unbounded": "SELECT COUNT(*) AS n FROM generate_series(1, 200000) a, generate_series(1, 200000) b WHERE a.value * 7 + b.value * 3 < 0",
        "memory_over": "SELECT length(string_agg(repeat('x', 1000), ',')) AS n FROM generate_series(1, 100000)",
    });
    let file = dir.path().join("statements.json");
    std::fs::write(&file, statements.to_string()).unwrap();
    let pid = server.0.id().to_string();
    let r = flight_client(
        "flight_attacks.py",
        port,
        &[
            "alice-0123456789abcdef",
            "bob-0123456789abcdef00",
            &pid,
            &file.display().to_string(),
        ],
    );
    let s = &r["statements"];
    for (name, rows) in [
        ("depth_under", 1),
        ("size_under", 1),
        ("bytes_under", 1000),
        ("join_small", 1),
    ] {
        assert_eq!(s[name]["rows"], rows, "{name}: {}", s[name]);
    }
    for (name, says) in [
        ("depth_over", "more than 100 deep"),
        ("ors_over", "more than the limit of 20000"),
        ("size_over", "20001 bytes, more than the limit of 20000"),
        ("repeat_1g", "repeat() would make"),
        ("repeat_4m_rows", "repeat() would make"),
        ("bytes_over", "the result is larger than 4.0 MiB"),
        ("memory_over", "memory limit of 64.0 MiB"),
        ("join_unbounded", "without an equality condition"),
    ] {
        let error = s[name]["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{name}: {}", s[name]);
        assert!(error.contains("hint:"), "{name}: {error}");
    }
    for (name, v) in s.as_object().unwrap() {
        assert_eq!(v["alive"], true, "the server answers after {name}");
    }
    // Out of time: cancelled, and the work stops with it.
    let timeout = r["timeout"]["error"].as_str().unwrap_or_default();
    assert!(timeout.contains("longer than 2 s"), "{}", r["timeout"]);
    assert!(
        r["timeout"]["seconds"].as_f64().unwrap() < 10.0,
        "{}",
        r["timeout"]
    );
    let cpu = r["cpu_after_timeout"].as_f64().unwrap();
    assert!(
        cpu < 0.5,
        "the server used {cpu} s of CPU in the 2 s after the timeout"
    );
    // One statement at a time for alice; bob is not held up by her.
    let c = &r["concurrent"];
    assert!(
        c["first"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("longer than"),
        "{c}"
    );
    let second = c["second"]["error"].as_str().unwrap_or_default();
    assert!(second.contains("running already"), "{c}");
    assert_eq!(c["other"]["rows"], 1, "{c}");
    assert!(r["alive"]["rows"] == 1, "{}", r["alive"]);

    // The log: every statement started and ended, refused, failed and cancelled ones too.
    let lines = log_lines(&log);
    for (name, sql) in statements.as_object().unwrap() {
        let sql = sql.as_str().unwrap();
        let mine: Vec<_> = lines
            .iter()
            .filter(|l| {
                let logged = l["statement"].as_str().unwrap_or_default();
                !logged.is_empty() && sql.starts_with(logged) && l["researcher"] == "alice"
            })
            .collect();
        assert!(
            mine.iter().any(|l| l["outcome"] == "started"),
            "{name}: {mine:?}"
        );
        assert!(
            mine.iter().any(|l| l["outcome"] != "started"),
            "{name} has an outcome: {mine:?}"
        );
    }
    assert!(lines.iter().any(|l| l["statement_bytes"] == 20_001));
    assert!(lines.iter().any(|l| l["outcome"] == "cancelled"));
    let refused_second = lines.iter().any(|l| {
        l["statement"] == "SELECT 2 AS two"
            && l["outcome"] == "refused"
            && l["error"]
                .as_str()
                .unwrap_or_default()
                .contains("running already")
    });
    assert!(refused_second, "{lines:?}");

    // `sql` has the same guards.
    let ex = dir.path().join("extract");
    let console = |statement: &str| {
        Command::new(env!("CARGO_BIN_EXE_povcensus"))
            .args(["sql", "--extract"])
            .arg(&ex)
            .args(["--format", "csv", "-c", statement])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for (statement, says) in [
        (chain(10_000, "+"), "more than 200 deep"),
        (chain(20_000, "OR"), "more than the limit of 65536"),
        (
            "SELECT repeat('x', 4000000) AS s FROM generate_series(1, 1000)".to_string(),
            "repeat() would make",
        ),
    ] {
        let o = console(&statement);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(says) && stderr.contains("hint:"),
            "{stderr}"
        );
    }
    let o = console(&chain(150, "+"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "x\n150\n");
}
