//! `povcensus cluster` and `--cluster`: a Ballista scheduler and two executors started as
//! separate `povcensus` processes on 127.0.0.1, the census and exit-assessment pipelines run
//! on them over a generated warehouse on local disk and on a real S3 server (moto), every
//! output table compared with the local run; an executor killed during a job; an address
//! where no scheduler answers.
//!
//! Tables are compared by value, floats to 1e-9 relative: the output files of a cluster run
//! have been byte-identical to the local run's on these warehouses, but a cluster may add
//! floating partial sums in another order, which may change their last bits on other data.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type};
use arrow::record_batch::RecordBatch;

use crate::support::free_port;

fn povcensus(args: &[&str], env: &[(String, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_povcensus"));
    c.args(args).env("RUST_LOG", "warn").stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `command` started with warnings-only logs, no standard input and its output to `out()`.
fn background(command: &mut Command, out: impl Fn() -> Stdio) -> Child {
    command
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out())
        .stderr(out())
        .spawn()
        .unwrap()
}

/// A node process, stopped (SIGTERM, then killed) on drop.
struct Node {
    child: Child,
}

impl Node {
    fn start(args: &[String]) -> Node {
        Node::start_logging(args, Stdio::null)
    }

    /// Started with its standard output and error to `out()` (a log file: `Stdio::from`).
    fn start_logging(args: &[String], out: impl Fn() -> Stdio) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_povcensus"));
        command.args(args);
        // No AWS settings: whatever S3 access the nodes have comes with the queries.
        for v in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ENDPOINT_URL",
        ] {
            command.env_remove(v);
        }
        Node {
            child: background(&mut command, out),
        }
    }

    fn terminate(&mut self) {
        // SAFETY: a signal to a child process this test started and has not reaped.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A scheduler and executors on loopback ports; `work` holds the executors' work directories.
struct LoopbackCluster {
    address: String,
    scheduler: Node,
    executors: Vec<Node>,
    work: tempfile::TempDir,
    /// The scheduler's standard error (warnings and errors).
    scheduler_log: tempfile::NamedTempFile,
}

/// A port whose next port is free too (an executor listens on both).
fn free_port_pair() -> u16 {
    loop {
        let p = free_port();
        if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

impl LoopbackCluster {
    fn start(executors: usize) -> LoopbackCluster {
        let port = free_port();
        let work = tempfile::tempdir().unwrap();
        let log = tempfile::NamedTempFile::new().unwrap();
        let file = log.as_file().try_clone().unwrap();
        let scheduler = Node::start_logging(
            &[
                "cluster".into(),
                "scheduler".into(),
                "--bind".into(),
                format!("127.0.0.1:{port}"),
                "--executor-timeout".into(),
                "5".into(),
            ],
            || Stdio::from(file.try_clone().unwrap()),
        );
        let mut cluster = LoopbackCluster {
            address: format!("df://127.0.0.1:{port}"),
            scheduler,
            executors: Vec::new(),
            work,
            scheduler_log: log,
        };
        for _ in 0..executors {
            cluster.add_executor();
        }
        cluster.wait_for(executors);
        cluster
    }

    fn add_executor(&mut self) {
        let port = free_port_pair();
        let scheduler = self.address.trim_start_matches("df://").to_string();
        self.executors.push(Node::start(&[
            "cluster".into(),
            "executor".into(),
            "--scheduler".into(),
            scheduler,
            "--bind".into(),
            format!("127.0.0.1:{port}"),
            "--memory-limit".into(),
            "256MiB".into(),
            "--threads".into(),
            "2".into(),
            "--work-dir".into(),
            self.work.path().display().to_string(),
        ]));
    }

    /// Wait until `povcensus cluster status` reports `n` executors.
    /// `povcensus run census` of `wh` into `out` on this cluster, started in the background.
    fn census(&self, wh: &str, out: &Path) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_povcensus"));
        command
            .args(["run", "census", "--warehouse", wh, "--out"])
            .arg(out)
            .args(["--cluster", &self.address]);
        background(&mut command, Stdio::piped)
    }

    /// The output of `job`, a client of this cluster (`what` it is, for the message). A job
    /// left waiting is a failure of the test, with the scheduler's log, not a CI run that
    /// never ends.
    fn finish(&self, mut job: Child, what: &str) -> Output {
        let deadline = Instant::now() + Duration::from_secs(180);
        while job.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = job.kill();
                let o = job.wait_with_output().unwrap();
                let log = std::fs::read_to_string(self.scheduler_log.path());
                panic!(
                    "{what} neither finished nor failed in 180 s: {}\nthe scheduler's log:\n{}",
                    text(&o),
                    log.unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        job.wait_with_output().unwrap()
    }

    fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let want = format!("ready: {n} executors registered");
        let scheduler = self.address.trim_start_matches("df://");
        loop {
            let o = povcensus(&["cluster", "status", "--scheduler", scheduler], &[]);
            if o.status.success() && String::from_utf8_lossy(&o.stdout).contains(&want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not get {n} executors: {}",
                text(&o)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Generate a small census (three provinces) and ingest it into `wh` (a path or s3:// URL).
fn generated_warehouse(dir: &Path, wh: &str, env: &[(String, String)]) {
    let subs = crate::support::generated_submissions(dir, 0.002, &["45", "52", "62"]);
    let o = povcensus(&["ingest", subs.to_str().unwrap(), "--warehouse", wh], env);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
}

/// `povcensus COMMAND… --warehouse WH --out OUT`, on the cluster when given.
fn into(
    command: &[&str],
    wh: &str,
    out: &Path,
    cluster: Option<&str>,
    env: &[(String, String)],
) -> Output {
    let mut args = command.to_vec();
    args.extend(["--warehouse", wh, "--out", out.to_str().unwrap()]);
    if let Some(c) = cluster {
        args.extend(["--cluster", c]);
    }
    povcensus(&args, env)
}

/// `povcensus run PIPELINE` into `out`, on the cluster when given.
fn run(
    pipeline: &str,
    wh: &str,
    out: &Path,
    cluster: Option<&str>,
    env: &[(String, String)],
) -> Output {
    into(&["run", pipeline, "--threads", "2"], wh, out, cluster, env)
}

fn read_table(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// One table as columns of cells: floats as numbers, everything else as text.
enum Column {
    Floats(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

/// Column `i` of `batches` cast to `to`, a cell at a time.
fn cells<T>(
    batches: &[RecordBatch],
    i: usize,
    to: &DataType,
    get: impl Fn(&dyn Array, usize) -> T,
) -> Vec<Option<T>> {
    let mut v = Vec::new();
    for b in batches {
        let a = arrow::compute::cast(b.column(i), to).unwrap();
        v.extend((0..a.len()).map(|r| a.is_valid(r).then(|| get(a.as_ref(), r))));
    }
    v
}

fn columns(batches: &[RecordBatch]) -> Vec<(String, Column)> {
    let Some(first) = batches.first() else {
        return Vec::new();
    };
    let schema = first.schema();
    let mut out = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        let col = if matches!(f.data_type(), DataType::Float64 | DataType::Float32) {
            Column::Floats(cells(batches, i, &DataType::Float64, |a, r| {
                a.as_primitive::<Float64Type>().value(r)
            }))
        } else {
            Column::Text(cells(batches, i, &DataType::Utf8, |a, r| {
                a.as_string::<i32>().value(r).to_string()
            }))
        };
        out.push((f.name().clone(), col));
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Every output table of `local` has the same rows and values in `cluster` (floats to 1e-9
/// relative); the same files are there.
fn assert_same_outputs(local: &Path, cluster: &Path) {
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(local), names(cluster));
    let mut tables = 0;
    for name in names(local).iter().filter(|n| n.ends_with(".parquet")) {
        let (l, c) = (
            read_table(&local.join(name)),
            read_table(&cluster.join(name)),
        );
        let rows = |b: &[RecordBatch]| b.iter().map(RecordBatch::num_rows).sum::<usize>();
        assert_eq!(rows(&l), rows(&c), "{name}: rows");
        for ((ln, lc), (cn, cc)) in columns(&l).into_iter().zip(columns(&c)) {
            assert_eq!(ln, cn, "{name}: columns");
            match (lc, cc) {
                (Column::Floats(a), Column::Floats(b)) => {
                    for (r, (x, y)) in a.iter().zip(&b).enumerate() {
                        let same = match (x, y) {
                            (Some(x), Some(y)) => close(*x, *y),
                            (x, y) => x == y,
                        };
                        assert!(same, "{name}.{ln} row {r}: local {x:?}, cluster {y:?}");
                    }
                }
                (Column::Text(a), Column::Text(b)) => {
                    assert!(a == b, "{name}.{ln}: values differ");
                }
                _ => panic!("{name}.{ln}: a float column on one side only"),
            }
        }
        tables += 1;
    }
    assert!(tables > 0, "no output table in {}", local.display());
}

#[test]
fn pipelines_on_a_cluster_over_a_local_warehouse_match_the_local_run() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh").display().to_string();
    generated_warehouse(dir.path(), &wh, &[]);
    let cluster = LoopbackCluster::start(2);
    for pipeline in ["census", "exit_assessment"] {
        let (local, remote) = (
            dir.path().join(format!("{pipeline}-local")),
            dir.path().join(format!("{pipeline}-cluster")),
        );
        let o = run(pipeline, &wh, &local, None, &[]);
        assert!(o.status.success(), "{}", text(&o));
        let o = run(pipeline, &wh, &remote, Some(&cluster.address), &[]);
        assert!(
            o.status.success(),
            "{pipeline} on the cluster: {}",
            text(&o)
        );
        assert_same_outputs(&local, &remote);
    }
    // The step results shipped to the executors are gone.
    let scratch = Path::new(&wh).join("_scratch");
    assert!(
        !scratch.exists() || std::fs::read_dir(&scratch).unwrap().next().is_none(),
        "scratch left behind"
    );
}

#[test]
fn reports_on_a_cluster_over_an_s3_warehouse_match_the_local_run() {
    let s3 = crate::support::S3Server::start();
    s3.create_bucket("census");
    let env = s3.env();
    let dir = tempfile::tempdir().unwrap();
    let wh = "s3://census/warehouse";
    generated_warehouse(dir.path(), wh, &env);
    // The nodes have no AWS settings: the client's travel with each query.
    let cluster = LoopbackCluster::start(2);
    let report = |out: &Path, on: Option<&str>| {
        let command = ["report", "--generated-at", "2021-02-25 10:00"];
        let o = into(&command, wh, out, on, &env);
        assert!(o.status.success(), "report {on:?}: {}", text(&o));
    };
    let (local, remote) = (dir.path().join("local"), dir.path().join("cluster"));
    report(&local, None);
    report(&remote, Some(&cluster.address));
    for d in ["data/census", "data/assessment"] {
        assert_same_outputs(&local.join(d), &remote.join(d));
    }
    // `sql --cluster` over the same warehouse.
    let query = "SELECT province_code, COUNT(*) AS n FROM households GROUP BY 1 ORDER BY 1";
    let sql = |extra: &[&str]| {
        let mut args = vec!["sql", "--warehouse", wh, "-c", query, "--format", "csv"];
        args.extend_from_slice(extra);
        let o = povcensus(&args, &env);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let here = sql(&[]);
    assert!(here.lines().count() == 4, "{here}");
    assert_eq!(sql(&["--cluster", &cluster.address]), here);
}

// An executor killed in the middle of the census pipeline, at several points of the run. Either
// the job finishes on the other executor with the local run's figures, or it fails with an
// error that says an executor left, and a rerun succeeds — never a figure computed across the
// loss (Ballista 55's re-run of a map stage once counted a numerator twice here, and once left
// a job waiting for ever: a povcensus scheduler now cancels the running jobs when an executor
// leaves, and the client fails a step when fewer executors are counted than at its start, or
// when a task could not fetch the lost executor's results; and a rerun once waited for ever for
// the task slots of the surviving executor, which Ballista never gave back after rolling back a
// stage: the scheduler's own slot count, `node::slots`, takes them back).
#[test]
fn a_job_survives_or_fails_clearly_when_an_executor_dies_and_a_rerun_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh").display().to_string();
    generated_warehouse(dir.path(), &wh, &[]);
    let local = dir.path().join("local");
    assert!(run("census", &wh, &local, None, &[]).status.success());
    // Early (the first queries), in the middle and late in the run: the census pipeline is a
    // dozen queries, about 2.5 s in all on an idle machine.
    for kill_after in [800, 1600, 2500] {
        let mut cluster = LoopbackCluster::start(2);
        let remote = dir.path().join(format!("cluster-{kill_after}"));
        let job = cluster.census(&wh, &remote);
        std::thread::sleep(Duration::from_millis(kill_after));
        let mut dead = cluster.executors.remove(0);
        let _ = dead.child.kill();
        let _ = dead.child.wait();
        let o = cluster.finish(job, &format!("killed after {kill_after} ms: the job"));
        if o.status.success() {
            eprintln!("killed after {kill_after} ms: the job finished on the remaining executor");
            assert_same_outputs(&local, &remote);
        } else {
            let err = String::from_utf8_lossy(&o.stderr);
            eprintln!(
                "killed after {kill_after} ms: the job failed: {}",
                err.lines().next().unwrap_or_default()
            );
            assert_eq!(o.status.code(), Some(2), "{err}");
            assert!(err.starts_with("error: step `"), "{err}");
            assert!(err.contains("an executor left the cluster"), "{err}");
            assert_eq!(err.matches("error:").count(), 1, "{err}");
            assert!(!remote.exists(), "a failed run leaves no output folder");
            // As the hint says: run again once `cluster status` counts the loss. A task that
            // could not fetch the lost executor's results fails the job before the scheduler
            // misses its heartbeats (`--executor-timeout` 5 s here).
            cluster.wait_for(1);
            let rerun = cluster.finish(
                cluster.census(&wh, &remote),
                &format!("killed after {kill_after} ms: the rerun"),
            );
            assert!(rerun.status.success(), "the rerun: {}", text(&rerun));
            assert_same_outputs(&local, &remote);
        }
    }
}

#[test]
fn an_address_where_no_scheduler_answers_is_an_error_not_a_local_run() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    std::fs::create_dir_all(&wh).unwrap();
    let out = dir.path().join("out");
    let address = format!("df://127.0.0.1:{}", free_port());
    let o = run("census", wh.to_str().unwrap(), &out, Some(&address), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error:"), "{err}");
    assert!(err.contains("no Ballista scheduler answers"), "{err}");
    assert!(err.contains("hint: start a scheduler"), "{err}");
    assert!(!out.exists());
}

#[test]
fn executor_work_directories_are_private_and_removed_when_it_stops() {
    let mut cluster = LoopbackCluster::start(1);
    let dirs: Vec<PathBuf> = std::fs::read_dir(cluster.work.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&dirs[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    cluster.executors[0].terminate();
    assert!(
        !dirs[0].exists(),
        "the work directory outlived the executor"
    );
    cluster.scheduler.terminate();
}
