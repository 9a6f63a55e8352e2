//! `povcensus serve`: a real server process queried from Python through ADBC's Flight SQL
//! driver. Permitted queries answer correctly; confidential tables, DDL, DML, COPY, file reads,
//! SET, oversized results and a wrong token are refused; the query log has every statement with
//! its researcher.

use std::process::{Child, Command, Stdio};

use crate::extract::extract;
use crate::ingest::{ingest_sample, sql};
use crate::support::{free_port, python};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn researchers_query_the_extract_over_flight_sql_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let wh = ingest_sample(dir.path());
    let key = dir.path().join("key");
    std::fs::write(&key, "a research extract key of some length").unwrap();
    let ex = dir.path().join("extract");
    let o = extract(&wh, &ex, &key);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        "# researchers\nalice:alice-0123456789abcdef\nbob:bob-0123456789abcdef00\n",
    )
    .unwrap();
    let log = dir.path().join("queries.jsonl");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_povcensus"))
        .args(["serve", "--extract"])
        .arg(&ex)
        .arg("--tokens")
        .arg(&tokens)
        .args([
            "--port",
            &port.to_string(),
            "--max-rows",
            "1000",
            "--query-log",
        ])
        .arg(&log)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    crate::support::wait_until_listening(port);

    let o = Command::new(python())
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/flight_client.py"))
        .arg(format!("grpc://127.0.0.1:{port}"))
        .arg("alice-0123456789abcdef")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "client: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();

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
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
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
