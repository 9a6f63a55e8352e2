//! Mutation fuzzing of ingest: seeded, reproducible byte- and structure-level mutations of a
//! valid small generated submission, ingested in-process through the library.
//!
//! Properties, for every case: no panic; the outcome is a report (bad input is exit 0/1,
//! never a run failure); rows read = loaded + rejected for every file; every finding is
//! located (a file, and a line when it concerns a row); no message quotes a name or an ID
//! number of the submission.
//!
//! Acceptable errors: none. A run error (exit 2) is for failures of the run itself: the
//! store or the staging directory failing, the same directory or province given twice, a bad
//! `--reject-threshold`. The mutations produce none of these (each case is its own province
//! directory of a local root), so every `Err` is a failure of the test.
//!
//! `POVCENSUS_FUZZ_CASES=N` (default 500) and `POVCENSUS_FUZZ_SEED=S` (default 13) for long
//! runs; a failure prints the seed and the case so it can be reproduced.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use povcensus::contract::rules::{Rule, Scope};
use povcensus::engine::EngineConfig;
use povcensus::generator::{self, GenerateOptions};
use povcensus::ingest::{IngestOptions, ingest};

/// Provinces of the base data: one mutated case each per ingest run.
const PROVINCES: &[&str] = &[
    "13", "14", "15", "22", "23", "34", "36", "41", "42", "43", "45", "46", "50", "51", "52", "53",
    "54", "61", "62", "63", "64", "65",
];

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One province's files (name → bytes).
type Files = BTreeMap<String, Vec<u8>>;

const CSV_FILES: &[&str] = &[
    "counties.csv",
    "townships.csv",
    "villages.csv",
    "households.csv",
    "persons.csv",
    "assessment_households.csv",
];

/// What a case does besides changing bytes.
#[derive(Debug, Clone)]
enum Link {
    /// `file` becomes a link to a file outside the submission.
    Outside(String),
    /// `file` becomes a link to itself (a loop).
    Loop(String),
}

fn lines_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// Apply one random mutation to the files; returns its description.
fn mutate(rng: &mut Rng, files: &mut Files, links: &mut Vec<Link>) -> String {
    let present: Vec<String> = CSV_FILES
        .iter()
        .filter(|f| files.contains_key(**f))
        .map(|f| f.to_string())
        .collect();
    let file = rng.pick(&present).clone();
    let kind = rng.below(27);
    let Some(bytes) = files.get_mut(&file) else {
        return "nothing".into();
    };
    let at = rng.below(bytes.len() + 1);
    match kind {
        0 => {
            bytes.truncate(at);
            format!("truncate {file} at {at}")
        }
        1 => {
            let n = 1 + rng.below(16);
            let garbage: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            bytes.splice(at..at, garbage);
            format!("{n} garbage bytes into {file} at {at}")
        }
        2 => {
            bytes.insert(at, 0);
            format!("NUL into {file} at {at}")
        }
        3 => {
            let choices: [&[u8]; 4] = [&[0xFF], &[0xC3], &[0xE6, 0x88], &[0x80]];
            let seq = *rng.pick(&choices);
            bytes.splice(at..at, seq.iter().copied());
            format!("invalid UTF-8 {seq:02x?} into {file} at {at}")
        }
        4 => {
            // A valid GB18030 sequence (户) and an invalid one (a lone lead byte).
            let choices: [&[u8]; 3] = [&[0xBB, 0xA7], &[0x81, 0x30], &[0x81]];
            let seq = *rng.pick(&choices);
            bytes.splice(at..at, seq.iter().copied());
            format!("GB18030 bytes {seq:02x?} into {file} at {at}")
        }
        5..=8 => {
            let mut lines = lines_of(bytes);
            let n = lines.len();
            let (i, j) = (rng.below(n), rng.below(n));
            let what = match kind {
                5 if n > 0 => {
                    let l = lines[i].clone();
                    lines.insert(j, l);
                    format!("duplicate line {} of {file} before line {}", i + 1, j + 1)
                }
                6 if n > 0 => {
                    lines.swap(i, j);
                    format!("swap lines {} and {} of {file}", i + 1, j + 1)
                }
                7 if n > 0 => {
                    lines.remove(i);
                    format!("delete line {} of {file}", i + 1)
                }
                _ if n > 0 => {
                    lines[i].retain(|&b| b != b'\n');
                    format!("join line {} of {file} with the next", i + 1)
                }
                _ => "nothing (empty file)".into(),
            };
            *bytes = lines.concat();
            what
        }
        9 | 10 => {
            // A header cell missing or an extra one.
            let mut lines = lines_of(bytes);
            if let Some(h) = lines.first_mut() {
                let text = String::from_utf8_lossy(h).into_owned();
                let mut cells: Vec<String> = text
                    .trim_end_matches(['\n', '\r'])
                    .split(',')
                    .map(str::to_string)
                    .collect();
                let c = rng.below(cells.len());
                if kind == 9 {
                    cells.remove(c);
                } else {
                    cells.insert(c, "extra_column".into());
                }
                *h = format!("{}\n", cells.join(",")).into_bytes();
            }
            *bytes = lines.concat();
            format!(
                "{} a header cell of {file}",
                if kind == 9 { "remove" } else { "add" }
            )
        }
        11 => {
            let big = if rng.below(2) == 0 {
                "x".repeat(1 << 20)
            } else {
                format!("\"{}\"", "y,\n".repeat(1 << 18))
            };
            bytes.splice(at..at, big.into_bytes());
            format!("a megabyte field into {file} at {at}")
        }
        12 | 13 => {
            bytes.insert(at, b'"');
            format!("a lone quote into {file} at {at}")
        }
        14 => {
            let mut out = Vec::with_capacity(bytes.len());
            for &b in bytes.iter() {
                if b == b'\n' {
                    match rng.below(3) {
                        0 => out.extend_from_slice(b"\r\n"),
                        1 => out.push(b'\r'),
                        _ => out.push(b'\n'),
                    }
                } else {
                    out.push(b);
                }
            }
            *bytes = out;
            format!("mixed line endings in {file}")
        }
        15 => {
            bytes.clear();
            format!("empty {file}")
        }
        16 => {
            let header_end = bytes.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
            bytes.truncate(header_end);
            format!("header-only {file}")
        }
        17 => {
            for b in bytes.iter_mut() {
                if *b == b'\n' {
                    *b = b'\r';
                }
            }
            format!("CR-only {file}")
        }
        18 => {
            files.remove(&file);
            format!("remove {file}")
        }
        19 => {
            // A field replaced by a huge or odd number.
            let mut lines = lines_of(bytes);
            let n = lines.len();
            if n > 1 {
                let i = 1 + rng.below(n - 1);
                let text = String::from_utf8_lossy(&lines[i]).into_owned();
                let mut cells: Vec<String> = text.split(',').map(str::to_string).collect();
                let c = rng.below(cells.len());
                cells[c] = rng
                    .pick(&[
                        "1e19",
                        "1e300",
                        "-1e300",
                        "NaN",
                        "inf",
                        "99999999999999999999",
                        "-0",
                        "1e-400",
                    ])
                    .to_string();
                lines[i] = cells.join(",").into_bytes();
            }
            *bytes = lines.concat();
            format!("an odd number in a field of {file}")
        }
        20 => {
            links.push(Link::Outside(file.clone()));
            format!("{file} links outside the submission")
        }
        21 => {
            links.push(Link::Loop(file.clone()));
            format!("{file} is a link loop")
        }
        _ => mutate_manifest(rng, files),
    }
}

fn mutate_manifest(rng: &mut Rng, files: &mut Files) -> String {
    let Some(bytes) = files.get_mut("manifest.json") else {
        return "nothing (no manifest)".into();
    };
    let mut m: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(m) => m,
        Err(_) => {
            bytes.push(b'}');
            return "append to a broken manifest".into();
        }
    };
    if !m.is_object() {
        *bytes = b"[]".to_vec();
        return "manifest replaced by an array".into();
    }
    if !m["files"].is_object() {
        m["files"] = serde_json::json!({});
    }
    let desc = match rng.below(10) {
        0 => {
            let at = rng.below(bytes.len());
            bytes.truncate(at);
            return format!("manifest truncated at {at}");
        }
        1 => {
            m["batch"] = "one".into();
            "manifest batch of a wrong type"
        }
        2 => {
            m["files"] = serde_json::json!([1, 2]);
            "manifest files of a wrong type"
        }
        3 => {
            m["files"]["persons.csv"]["rows"] = serde_json::json!(1e30);
            "manifest rows huge"
        }
        4 => {
            m["files"]["persons.csv"]["rows"] = serde_json::json!(u64::MAX);
            "manifest rows u64::MAX"
        }
        5 => {
            m["files"]["../persons.csv"] = serde_json::json!({"rows": 1});
            "manifest names ../persons.csv"
        }
        6 => {
            m["files"]["/etc/passwd"] = serde_json::json!({});
            "manifest names an absolute file"
        }
        7 => {
            m["province_code"] = rng
                .pick(&["99", "5", "", "５２", "52\n"])
                .to_string()
                .into();
            "manifest province_code odd"
        }
        8 => {
            m["submission_id"] = "\u{1b}[2J\nx".into();
            "manifest submission_id with control characters"
        }
        _ => {
            m["encoding"] = rng.pick(&["latin1", "gb18030", "utf-8"]).to_string().into();
            "manifest encoding changed"
        }
    };
    *bytes = serde_json::to_vec(&m).unwrap();
    desc.into()
}

fn base_data(dir: &Path) -> (BTreeMap<String, Files>, BTreeSet<String>) {
    let out = dir.join("base");
    let mut o = GenerateOptions::new(&out);
    o.scale = 0.0001;
    o.provinces = Some(PROVINCES.iter().map(|s| s.to_string()).collect());
    generator::generate(&o).unwrap();
    let mut all = BTreeMap::new();
    let mut personal = BTreeSet::new();
    for p in PROVINCES {
        let mut files = Files::new();
        for e in std::fs::read_dir(out.join(p)).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(name, std::fs::read(&path).unwrap());
        }
        let persons = String::from_utf8_lossy(&files["persons.csv"]).into_owned();
        for line in persons.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            personal.insert(f[0].to_string());
            if f.len() > 2 && f[2].chars().count() >= 2 {
                personal.insert(f[2].to_string());
            }
        }
        all.insert(p.to_string(), files);
    }
    (all, personal)
}

fn write_case(dir: &Path, files: &Files, links: &[Link], outside: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    for l in links {
        let (file, target): (&str, PathBuf) = match l {
            Link::Outside(f) => (f, outside.to_path_buf()),
            Link::Loop(f) => (f, dir.join(f)),
        };
        let _ = std::fs::remove_file(dir.join(file));
        std::os::unix::fs::symlink(target, dir.join(file)).unwrap();
    }
}

/// Every rejects row of the warehouse: (file, line, rule id, message).
fn rejects(wh: &Path) -> Vec<(String, Option<i64>, String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![wh.join("rejects")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let f = std::fs::File::open(&p).unwrap();
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .build()
                .unwrap();
            for b in reader {
                let b = b.unwrap();
                let col = |n: &str| b.column(b.schema().index_of(n).unwrap()).clone();
                let (file, line, rule, msg) =
                    (col("file"), col("line"), col("rule_id"), col("message"));
                let file = file.as_string::<i32>();
                let line = line.as_primitive::<arrow::datatypes::Int64Type>();
                let rule = rule.as_string::<i32>();
                let msg = msg.as_string::<i32>();
                for i in 0..b.num_rows() {
                    out.push((
                        if file.is_null(i) {
                            String::new()
                        } else {
                            file.value(i).to_string()
                        },
                        (!line.is_null(i)).then(|| line.value(i)),
                        rule.value(i).to_string(),
                        msg.value(i).to_string(),
                    ));
                }
            }
        }
    }
    out
}

struct Case {
    province: String,
    mutations: Vec<String>,
}

#[test]
fn mutated_submissions_never_panic_and_always_balance() {
    let cases: usize = std::env::var("POVCENSUS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let seed: u64 = std::env::var("POVCENSUS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(13);
    let dir = tempfile::tempdir().unwrap();
    let (base, personal) = base_data(dir.path());
    let personal = aho_corasick::AhoCorasick::new(&personal).unwrap();
    let outside = dir.path().join("outside.csv");
    std::fs::write(&outside, "OUTSIDE-SECRET,1\n2,3\n").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rng = Rng(seed);
    let runs = cases.div_ceil(PROVINCES.len());
    let mut done = 0usize;
    for run in 0..runs {
        let run_dir = dir.path().join(format!("run{run}"));
        let subs = run_dir.join("subs");
        let mut this_run: Vec<Case> = Vec::new();
        for p in PROVINCES.iter().take(cases - done) {
            let mut files = base[*p].clone();
            let mut links = Vec::new();
            let n = 1 + rng.below(3);
            let mutations = (0..n)
                .map(|_| mutate(&mut rng, &mut files, &mut links))
                .collect();
            write_case(&subs.join(p), &files, &links, &outside);
            this_run.push(Case {
                province: p.to_string(),
                mutations,
            });
        }
        done += this_run.len();
        let describe = || {
            this_run
                .iter()
                .map(|c| format!("  {}: {}", c.province, c.mutations.join("; ")))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let context = format!(
            "fuzz run {run} (POVCENSUS_FUZZ_SEED={seed} POVCENSUS_FUZZ_CASES={cases}), cases:\n{}",
            describe()
        );
        let wh = run_dir.join("wh");
        let mut opts =
            IngestOptions::new(vec![subs.display().to_string()], wh.display().to_string());
        opts.staging = Some(run_dir.join("staging"));
        opts.engine = EngineConfig {
            threads: 2,
            ..EngineConfig::default()
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(ingest(&opts))));
        let report = match outcome {
            Err(_) => panic!("ingest panicked\n{context}"),
            Ok(Err(e)) => panic!("ingest failed for bad input: {e}\n{context}"),
            Ok(Ok(r)) => r,
        };
        assert!(report.exit_code() <= 1, "{context}");
        for p in &report.provinces {
            for f in &p.files {
                assert_eq!(
                    f.rows_read,
                    f.rows_loaded + f.rows_rejected,
                    "{}/{} does not balance\n{context}",
                    p.province_code,
                    f.file
                );
            }
            assert!(
                p.balanced(),
                "{} does not balance\n{context}",
                p.province_code
            );
        }
        assert!(report.balanced, "{context}");
        for (file, line, rule, message) in rejects(&wh) {
            assert!(
                !file.is_empty(),
                "a finding without a file: {rule} {message}\n{context}"
            );
            let scope = Rule::from_id(&rule)
                .unwrap_or_else(|| panic!("unknown rule {rule}\n{context}"))
                .scope();
            if scope != Scope::File {
                assert!(
                    line.is_some(),
                    "a row finding without a line: {file} {rule} {message}\n{context}"
                );
            }
            assert!(
                !message.contains("OUTSIDE-SECRET"),
                "a file outside the submission was read\n{context}"
            );
            assert!(
                !personal.is_match(&message),
                "a name or ID number in a message: {file}:{line:?} {rule}\n{context}"
            );
        }
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    assert_eq!(done, cases);
}
