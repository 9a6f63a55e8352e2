//! Real components for the integration tests: the project's Python venv (duckdb, pyarrow,
//! svy, adbc-driver-flightsql, moto), made by `.ci/python-env`, and a local S3 API server
//! (moto's standalone `moto_server`) on a loopback port.
//!
//! Nothing here sets process environment variables: tests run as parallel threads. A child
//! process that must reach the S3 server gets [`S3Server::env`] through `Command::envs`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long `S3Server::start` waits for the server to answer HTTP.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The venv's python. The first call in a test process runs `.ci/python-env` (which honours
/// `POVCENSUS_VENV` and is a no-op when the venv is already up to date); later calls reuse it.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/python-env");
            let out = Command::new("bash")
                .arg(&script)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{} failed ({}); it makes the test venv (set POVCENSUS_VENV to choose where).\n\
                 stdout:\n{stdout}\nstderr:\n{stderr}",
                script.display(),
                out.status,
            );
            let python = stdout
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| PathBuf::from(l.trim()))
                .unwrap_or_else(|| {
                    panic!(
                        "{} printed no python path.\nstderr:\n{stderr}",
                        script.display()
                    )
                });
            assert!(
                python.is_file(),
                "{} printed {}, which is not a file",
                script.display(),
                python.display()
            );
            python
        })
        .clone()
}

/// A `moto_server` process serving the S3 API on `127.0.0.1:<port>`; killed on drop.
pub struct S3Server {
    /// `http://127.0.0.1:<port>`
    pub endpoint: String,
    addr: SocketAddr,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl S3Server {
    /// Starts `moto_server` on a free loopback port and waits (at most 30 s) until it answers.
    pub fn start() -> S3Server {
        let moto = python()
            .parent()
            .expect("venv python has a parent directory")
            .join("moto_server");
        assert!(
            moto.is_file(),
            "{} is missing: is moto[server] in tests/requirements.txt?",
            moto.display()
        );
        // The free port can be taken by someone else between probing and binding: retry.
        let mut last_failure = String::new();
        for _ in 0..3 {
            let port = free_port();
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let log = tempfile::Builder::new()
                .prefix("moto-server-")
                .suffix(".log")
                .tempfile()
                .expect("create moto_server log file");
            let child = Command::new(&moto)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log.reopen().expect("reopen log"))
                .stderr(log.reopen().expect("reopen log"))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", moto.display()));
            let mut server = S3Server {
                endpoint: format!("http://{addr}"),
                addr,
                child,
                log,
            };
            match server.wait_until_ready() {
                Ok(()) => return server,
                Err(e) => last_failure = e, // dropping `server` kills the child
            }
        }
        panic!("moto_server did not start: {last_failure}");
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("exited with {status}; log:\n{}", self.log_text()));
            }
            if let Ok((status, _)) = self.request("GET", "/")
                && (200..500).contains(&status)
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no HTTP answer on {} within {START_TIMEOUT:?}; log:\n{}",
                    self.endpoint,
                    self.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Creates a bucket (S3 CreateBucket: `PUT /{name}`; moto accepts unsigned requests).
    pub fn create_bucket(&self, name: &str) {
        assert!(
            !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || b == b'.'),
            "invalid bucket name {name:?}"
        );
        let (status, body) = self
            .request("PUT", &format!("/{name}"))
            .unwrap_or_else(|e| panic!("CreateBucket {name}: {e}"));
        assert_eq!(status, 200, "CreateBucket {name} answered {status}: {body}");
    }

    /// The environment a child process needs to reach this server with
    /// `object_store::aws::AmazonS3Builder::from_env()` (object_store 0.13 lower-cases every
    /// `AWS_*` variable and parses it as a config key) and with boto3.
    /// `AWS_ENDPOINT_URL_S3` is set too because it takes precedence over `AWS_ENDPOINT_URL`
    /// in both, so an inherited one cannot redirect the child elsewhere.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ENDPOINT_URL_S3", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// One plain HTTP/1.1 request with no body; returns the status and the response text.
    fn request(&self, method: &str, path: &str) -> Result<(u16, String), String> {
        let timeout = Duration::from_secs(10);
        let mut stream =
            TcpStream::connect_timeout(&self.addr, timeout).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .map_err(|e| e.to_string())?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .strip_prefix("HTTP/1.")
            .and_then(|rest| rest.get(2..5))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {text:?}"))?;
        Ok((status, text))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

#[test]
fn python_has_the_test_packages() {
    let out = Command::new(python())
        .args([
            "-c",
            "import duckdb, pyarrow, svy, adbc_driver_flightsql.dbapi",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run the venv's python");
    assert!(
        out.status.success(),
        "imports failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn s3_server_round_trip() {
    use futures::TryStreamExt;
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

    let server = S3Server::start();
    server.create_bucket("povcensus-test");
    let env = server.env();
    assert!(
        env.iter()
            .any(|(k, v)| k == "AWS_ENDPOINT_URL" && *v == server.endpoint)
    );

    let store = AmazonS3Builder::new()
        .with_bucket_name("povcensus-test")
        .with_endpoint(&server.endpoint)
        .with_allow_http(true)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_region("us-east-1")
        .build()
        .expect("build the S3 store");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let data: &[u8] = "县,户数\n甲县,42\n".as_bytes();
        let location = ObjectPath::from("raw/2020/households.csv");
        store
            .put(&location, PutPayload::from(data.to_vec()))
            .await
            .expect("put");

        let listed: Vec<_> = store
            .list(Some(&ObjectPath::from("raw")))
            .try_collect()
            .await
            .expect("list");
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].location, location);
        assert_eq!(listed[0].size, data.len() as u64);

        let got = store
            .get(&location)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("read body");
        assert_eq!(&got[..], data);

        // `env()` names what `AmazonS3Builder::from_env()` reads: apply it the same way
        // (lower-cased `AWS_*` names parsed as config keys) without touching this process's env.
        let from_env = env
            .iter()
            .fold(AmazonS3Builder::new(), |builder, (key, value)| {
                let key: AmazonS3ConfigKey = key
                    .to_ascii_lowercase()
                    .parse()
                    .unwrap_or_else(|e| panic!("{key} is not an object_store config key: {e}"));
                builder.with_config(key, value)
            })
            .with_bucket_name("povcensus-test")
            .build()
            .expect("build the S3 store from env()");
        let got = from_env
            .get(&location)
            .await
            .expect("get through env()")
            .bytes()
            .await
            .expect("read body through env()");
        assert_eq!(&got[..], data);
    });
}

/// Runs an installer script of `.ci/` (it installs what is missing, checks it by running it,
/// and prints the program's path as its last line) and returns that path.
fn installed_by(script: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
}

/// A headless Chromium. The first call runs `.ci/browser`, which installs Debian's `chromium`
/// (and CJK fonts) with apt when they are missing.
pub fn browser() -> PathBuf {
    static BROWSER: OnceLock<PathBuf> = OnceLock::new();
    BROWSER.get_or_init(|| installed_by(".ci/browser")).clone()
}

/// The path of Rscript with R's `survey` package, installed by `.ci/r-survey` (Debian's
/// `r-cran-survey`) when missing; once per test process.
pub fn rscript() -> PathBuf {
    static RSCRIPT: OnceLock<PathBuf> = OnceLock::new();
    RSCRIPT.get_or_init(|| installed_by(".ci/r-survey")).clone()
}

/// Copy a directory tree (files and sub-directories) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Rewrite the data rows of a UTF-8 submission file in a province directory with `edit`
/// (header → rows → rows), then record its new row count and SHA-256 in `manifest.json`, so
/// the file arrives intact and only its values are what the test wants.
pub fn edit_submission_file(
    province: &Path,
    file: &str,
    edit: impl FnOnce(&[String], Vec<Vec<String>>) -> Vec<Vec<String>>,
) {
    let path = province.join(file);
    let mut r = csv::Reader::from_path(&path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    let rows = edit(&headers, rows);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&headers).unwrap();
    for row in &rows {
        w.write_record(row).unwrap();
    }
    let bytes = w.into_inner().unwrap();
    std::fs::write(&path, &bytes).unwrap();
    set_manifest_entry(province, file, Some((rows.len(), &bytes)));
}

/// Set (or with `None` remove) a file's entry in a province's `manifest.json`.
pub fn set_manifest_entry(province: &Path, file: &str, entry: Option<(usize, &[u8])>) {
    use sha2::Digest;
    let mp = province.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mp).unwrap()).unwrap();
    let files = m["files"].as_object_mut().unwrap();
    match entry {
        Some((rows, bytes)) => {
            files.insert(
                file.to_string(),
                serde_json::json!({
                    "rows": rows,
                    "sha256": hex::encode(sha2::Sha256::digest(bytes)),
                }),
            );
        }
        None => {
            files.remove(file);
        }
    }
    std::fs::write(&mp, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

/// Every file and directory below `root`, depth first; a missing `root`, or a directory that
/// goes away meanwhile, gives what is there.
pub fn entries_below(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// Every file below `root`.
pub fn files_below(root: &Path) -> Vec<PathBuf> {
    entries_below(root)
        .into_iter()
        .filter(|p| p.is_file())
        .collect()
}

/// Waits (at most 30 s) until something accepts connections on `127.0.0.1:port`.
pub fn wait_until_listening(port: u16) {
    let start = Instant::now();
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing listens on port {port} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Writes a file only its owner may read (a tokens file: `serve` refuses one others may read).
pub fn private_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// One value of a hand-made register row for [`commit_registers`], in the order of the
/// register's canonical columns (`Register::columns`).
#[derive(Debug, Clone)]
pub enum Rv {
    S(String),
    I(i16),
    /// A date, YYYY-MM-DD.
    D(String),
    F(f64),
    Null,
}

/// A register's rows as the warehouse stores them (`Register::arrow_schema`): the canonical
/// columns, then `province_code` (the county code's first two digits) and `source_line` (row
/// `i` as line `i + 2` of its CSV file, the header being line 1).
pub fn register_batch(
    r: povcensus::contract::registers::Register,
    rows: &[Vec<Rv>],
) -> arrow::record_batch::RecordBatch {
    use arrow::array::{
        ArrayRef, Date32Array, Float64Array, Int16Array, Int64Array, StringArray, StringBuilder,
    };
    use arrow::datatypes::DataType;
    use std::sync::Arc;
    let schema = r.arrow_schema();
    let n = r.columns().len();
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (c, field) in schema.fields().iter().enumerate().take(n) {
        let values = rows.iter().map(|row| &row[c]);
        let array: ArrayRef = match field.data_type() {
            DataType::Utf8 => Arc::new(StringArray::from_iter(values.map(|v| match v {
                Rv::S(s) => Some(s.clone()),
                _ => None,
            }))),
            DataType::Int16 => Arc::new(Int16Array::from_iter(values.map(|v| match v {
                Rv::I(i) => Some(*i),
                _ => None,
            }))),
            DataType::Date32 => Arc::new(Date32Array::from_iter(values.map(|v| match v {
                Rv::D(d) => {
                    let d = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
                    Some((d - epoch).num_days() as i32)
                }
                _ => None,
            }))),
            DataType::Float64 => Arc::new(Float64Array::from_iter(values.map(|v| match v {
                Rv::F(f) => Some(*f),
                _ => None,
            }))),
            other => panic!("no register column has type {other}"),
        };
        columns.push(array);
    }
    let mut province = StringBuilder::new();
    for row in rows {
        match &row[1] {
            Rv::S(county) => province.append_value(&county[..2]),
            other => panic!("county_code {other:?}"),
        }
    }
    columns.push(Arc::new(province.finish()));
    columns.push(Arc::new(Int64Array::from_iter_values(
        (0..rows.len() as i64).map(|i| i + 2),
    )));
    arrow::record_batch::RecordBatch::try_new(schema, columns).unwrap()
}

/// Commit departmental registers into the warehouse at `wh` through the warehouse API, as
/// register ingest does: each register's rows as a Parquet file, one `DepartmentVersion` per
/// department (version 1, no rejects), in a new snapshot over the current one. Returns the new
/// snapshot's id.
pub fn commit_registers(
    wh: &str,
    registers: &[(povcensus::contract::registers::Register, Vec<Vec<Rv>>)],
) -> u64 {
    use povcensus::warehouse::{DataFile, DepartmentVersion, Snapshot, Warehouse, rejects_schema};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let w = Warehouse::open(wh, true).unwrap();
        let current = w.latest().await.unwrap();
        let id = current.as_ref().map_or(1, |s| s.id + 1);
        let mut next = Snapshot {
            id,
            parent: current.as_ref().map(|s| s.id),
            committed_at: None,
            provinces: current
                .as_ref()
                .map(|s| s.provinces.clone())
                .unwrap_or_default(),
            departments: current
                .as_ref()
                .map(|s| s.departments.clone())
                .unwrap_or_default(),
        };
        for (r, rows) in registers {
            let dept = r.department().id();
            let batch = register_batch(*r, rows);
            let rel = format!(
                "data/{}/department={dept}/v=1-test/part-0.parquet",
                r.table_name()
            );
            let stream = futures::stream::iter(vec![Ok(batch)]);
            let n = w
                .write_parquet(&rel, r.arrow_schema(), stream)
                .await
                .unwrap();
            let rejects = format!("rejects/department={dept}/v=1-test/part-0.parquet");
            let none = futures::stream::iter(Vec::new());
            w.write_parquet(&rejects, rejects_schema(), none)
                .await
                .unwrap();
            let v = next
                .departments
                .entry(dept.to_string())
                .or_insert_with(|| DepartmentVersion {
                    department: dept.to_string(),
                    version: 1,
                    submission_id: format!("{dept}-test"),
                    content_sha256: "0".repeat(64),
                    committed_in: id,
                    tables: Default::default(),
                    rejects: DataFile {
                        path: rejects.clone(),
                        rows: 0,
                    },
                    files: Vec::new(),
                    rules: Default::default(),
                });
            v.tables
                .insert(r.table_name().to_string(), DataFile { path: rel, rows: n });
        }
        w.commit(&next).await.unwrap();
        id
    })
}

/// The records of a CSV text (a leading UTF-8 BOM skipped) as column → value maps.
pub fn csv_records(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = text.trim_start_matches('\u{feff}');
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// The matching rules of `registers.md` §2, in the spec's order.
pub const MATCH_RULES: [&str; 10] = [
    "match.deceased",
    "match.vehicle",
    "match.business",
    "match.public_employee",
    "match.urban_property",
    "match.schooling",
    "match.medical_insurance",
    "match.disability",
    "match.housing",
    "match.missed_assistance",
];

/// Clean generated submissions of `provinces` at `scale`, written to `dir/subs`.
pub fn generated_submissions(dir: &Path, scale: f64, provinces: &[&str]) -> PathBuf {
    let subs = dir.join("subs");
    let mut g = povcensus::generator::GenerateOptions::new(&subs);
    g.scale = scale;
    g.provinces = Some(provinces.iter().map(|p| p.to_string()).collect());
    povcensus::generator::generate(&g).unwrap();
    subs
}
