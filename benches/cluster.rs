//! The census pipeline run here and on a two-executor Ballista cluster on loopback (a
//! scheduler and two executors as separate `povcensus cluster` processes), over the same
//! warehouse: both times and the overhead of distribution. On one small machine no speed-up is
//! expected; the figure is the cost of planning, scheduling (about a second per query),
//! shuffles over Arrow Flight and shipping step results as Parquet.
//!
//! ```text
//! cargo bench --bench cluster -- 0.1                       # generate, ingest, then time both
//! cargo bench --bench cluster -- 0.1 --warehouse DIR --threads 2 --memory-limit 2GiB
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{BenchArgs, arg_value, engine, ensure_warehouse, runtime};

use povcensus::engine::cluster::{Address, Cluster, SCHEDULER_PORT, probe};
use povcensus::pipeline::{Definitions, Pipeline, run};
use povcensus::warehouse::Warehouse;

/// A `povcensus cluster …` process, killed on drop.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node(args: &[String]) -> Node {
    Node(
        Command::new(env!("CARGO_BIN_EXE_povcensus"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start a povcensus node"),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port()
}

/// A scheduler and two executors of `threads` task slots and `memory` bytes each.
fn start_cluster(threads: usize, memory: usize, work: &Path) -> (Vec<Node>, Address) {
    let port = free_port();
    let mut nodes = vec![node(&[
        "cluster".into(),
        "scheduler".into(),
        "--bind".into(),
        format!("127.0.0.1:{port}"),
    ])];
    for _ in 0..2 {
        let p = loop {
            let p = free_port();
            if std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                break p;
            }
        };
        nodes.push(node(&[
            "cluster".into(),
            "executor".into(),
            "--scheduler".into(),
            format!("127.0.0.1:{port}"),
            "--bind".into(),
            format!("127.0.0.1:{p}"),
            "--threads".into(),
            threads.to_string(),
            "--memory-limit".into(),
            format!("{memory}"),
            "--work-dir".into(),
            work.display().to_string(),
        ]));
    }
    let address = Address::parse(&format!("127.0.0.1:{port}"), SCHEDULER_PORT).expect("address");
    (nodes, address)
}

fn main() {
    let b = BenchArgs::parse(2 << 30);
    let scale = if b.args.iter().any(|a| a.parse::<f64>().is_ok()) {
        b.scale
    } else {
        0.1
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let wh_dir = arg_value(&b.args, "--warehouse")
        .map_or_else(|| tmp.path().join("warehouse"), PathBuf::from);
    let rt = runtime(b.threads);
    let local = engine(b.memory, b.threads, tmp.path());
    ensure_warehouse(&rt, &wh_dir, tmp.path(), scale, &local);
    let wh = Warehouse::open(&wh_dir.display().to_string(), false).expect("warehouse");
    let snapshot = rt
        .block_on(wh.snapshot_as_of(None))
        .expect("catalog")
        .expect("a snapshot");
    let pipeline = Pipeline::resolve("census", &Definitions::new(None), &[]).expect("census");

    let time = |engine: &povcensus::engine::EngineConfig, out: &Path| {
        let start = Instant::now();
        rt.block_on(run(&pipeline, &wh, Some(&snapshot), out, engine))
            .expect("census pipeline");
        start.elapsed().as_secs_f64()
    };
    let here = time(&local, &tmp.path().join("out-local"));

    let work = tmp.path().join("executors");
    std::fs::create_dir_all(&work).expect("work dir");
    let (_nodes, scheduler) = start_cluster(b.threads, b.memory, &work);
    // The scheduler process may not listen yet: a refused connection is retried for a minute.
    let started = Instant::now();
    let ready = loop {
        match rt.block_on(probe(&scheduler, Duration::from_secs(60))) {
            Ok(ready) => break ready,
            Err(e) if started.elapsed() > Duration::from_secs(60) => {
                panic!("the loopback cluster starts: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    // Both executors registered.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !rt
        .block_on(probe(&scheduler, Duration::ZERO))
        .is_ok_and(|s| s.contains("2 executors"))
    {
        assert!(
            Instant::now() < deadline,
            "second executor missing: {ready}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut on_cluster = local.clone();
    on_cluster.cluster = Some(Cluster {
        scheduler,
        settings: Vec::new(),
    });
    let there = time(&on_cluster, &tmp.path().join("out-cluster"));
    println!(
        "census pipeline, scale {scale}, {} threads, memory {} MiB",
        b.threads,
        b.memory >> 20
    );
    println!("  local:                      {here:>8.2} s");
    println!("  cluster (2 executors):      {there:>8.2} s");
    println!(
        "  overhead of distribution:   {:>8.2} s ({:+.0}%)",
        there - here,
        (there / here - 1.0) * 100.0
    );
}
