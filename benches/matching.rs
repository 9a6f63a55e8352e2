//! The matching pipeline (`pipelines/matching.toml`) at a given scale: time and peak memory
//! under a memory limit (the joins of the census roster with the registers spill beyond it).
//!
//! ```text
//! cargo bench --bench matching -- 0.02                        # generate, ingest, registers, time
//! cargo bench --bench matching -- 0.1
//! cargo bench --bench matching -- 1.0 --warehouse DIR --memory-limit 4GiB
//! ```
//!
//! `--warehouse DIR` reuses (or keeps) the warehouse; `--threads N` (default 2);
//! `--kept-memory SIZE`, what the results kept between steps may hold of the pool before they
//! go to scratch files (default a quarter of it; 0 puts every one in a file). When the
//! warehouse holds no registers yet, registers of about twice the census persons are derived
//! from it with SQL (streamed into Parquet, committed as one snapshot): medical insurance for
//! every member, students for the children, disability records, 低保 for the 低保 members and
//! for as many persons again on no roster, and small shares of deaths, vehicles, businesses,
//! public employees, urban purchases and dangerous houses — with a share of each on the
//! finding side of its rule. (`povcensus generate --registers` makes registers with a ground
//! truth; this bench only needs their volume.)

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

mod common;
use common::{BenchArgs, engine, runtime, timed_run, warehouse_dir};

use povcensus::contract::registers::Register;
use povcensus::engine::EngineConfig;
use povcensus::pipeline::Pipeline;
use povcensus::warehouse::{DataFile, DepartmentVersion, Snapshot, Warehouse, rejects_schema};

/// Census persons' sequence digits (ID characters 15–17) pick who is in a register.
const SEQ: &str = "CAST(substr(p.person_id, 15, 3) AS INT)";

/// The SQL of each register, over the census tables, with the register's canonical columns.
fn register_sql(r: Register) -> String {
    let county = "substr(p.household_id, 1, 6)";
    let id = "substr(p.person_id, 1, 18)";
    let person = |pick: &str, columns: &str| {
        format!(
            "SELECT {id} AS id_number, {county} AS county_code, {columns} FROM persons p WHERE {pick}"
        )
    };
    match r {
        Register::MedicalInsurance => person(
            "true",
            &format!(
                "1 AS scheme, 2020 AS year, CASE WHEN {SEQ} % 50 = 0 THEN 2 ELSE 1 END AS status"
            ),
        ),
        Register::Students => person(
            "p.birth_date BETWEEN DATE '2005-01-01' AND DATE '2014-12-31'",
            &format!(
                "2 AS school_stage, CASE WHEN {SEQ} % 40 = 6 THEN 3 ELSE 1 END AS enrolment_status"
            ),
        ),
        Register::Disability => person(
            &format!("p.health_status = 4 OR {SEQ} % 60 = 7"),
            "1 AS disability_category, COALESCE(p.disability_grade, 2) AS disability_grade, DATE '2016-01-01' AS card_date",
        ),
        Register::Deaths => person(
            &format!("{SEQ} % 100 = 1"),
            "DATE '2020-06-01' AS death_date",
        ),
        Register::Vehicles => person(
            &format!("{SEQ} % 50 = 2"),
            &format!("{SEQ} % 4 + 1 AS vehicle_type, DATE '2019-01-01' AS registration_date"),
        ),
        Register::Businesses => person(
            &format!("{SEQ} % 80 = 3"),
            "1 AS role, 20.0 AS registered_capital, 1 AS status, DATE '2018-01-01' AS established_date",
        ),
        Register::PublicEmployees => person(
            &format!("{SEQ} % 90 = 4"),
            "1 AS employer_type, DATE '2015-01-01' AS start_date",
        ),
        Register::UrbanProperty => person(
            &format!("{SEQ} % 70 = 5"),
            "DATE '2019-01-01' AS purchase_date, 90.0 AS area_m2",
        ),
        Register::DangerousHousing => "SELECT substr(h.head_id_number, 1, 18) AS id_number, \
             substr(h.household_id, 1, 6) AS county_code, 'D' AS grade, \
             DATE '2019-06-01' AS appraisal_date FROM households h \
             WHERE h.enumeration_status = 1 AND CAST(substr(h.household_id, 13, 4) AS INT) % 30 = 8"
            .to_string(),
        // 低保 members, and as many again on no roster (a changed sequence digit).
        Register::CivilAffairs => format!(
            "SELECT {id} AS id_number, {county} AS county_code, 1 AS assistance_type, \
             DATE '2019-01-01' AS start_date, CAST(NULL AS DATE) AS end_date FROM persons p WHERE p.is_dibao = 1 \
             UNION ALL \
             SELECT substr(p.person_id, 1, 14) || '9' || substr(p.person_id, 16, 3), {county}, 1, \
             DATE '2019-01-01', CAST(NULL AS DATE) FROM persons p WHERE {SEQ} % 3 = 0"
        ),
    }
}

/// Derive one register from the census and write it as one Parquet file; returns its rows.
async fn write_register(
    wh: &Warehouse,
    ctx: &datafusion::prelude::SessionContext,
    r: Register,
    rel: &str,
) -> u64 {
    let schema = r.arrow_schema();
    let casts: Vec<String> = r
        .columns()
        .iter()
        .map(|c| {
            let t = match povcensus::contract::schema::data_type(c.kind) {
                arrow::datatypes::DataType::Int16 => "SMALLINT",
                arrow::datatypes::DataType::Float64 => "DOUBLE",
                arrow::datatypes::DataType::Date32 => "DATE",
                _ => "VARCHAR",
            };
            format!("CAST({0} AS {t}) AS {0}", c.name)
        })
        .collect();
    let sql = format!(
        "SELECT {}, substr(county_code, 1, 2) AS province_code, \
         CAST(row_number() OVER (PARTITION BY county_code ORDER BY id_number) + 1 AS BIGINT) AS source_line \
         FROM ({})",
        casts.join(", "),
        register_sql(r)
    );
    let stream = ctx
        .sql(&sql)
        .await
        .expect("register SQL")
        .execute_stream()
        .await
        .expect("register stream");
    let target = Arc::clone(&schema);
    let batches = stream.map(move |b| {
        b.and_then(|b| {
            // The SQL's string columns may come as Utf8View: cast to the register's schema.
            let columns = b
                .columns()
                .iter()
                .zip(target.fields())
                .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            arrow::record_batch::RecordBatch::try_new(Arc::clone(&target), columns)
                .map_err(Into::into)
        })
    });
    wh.write_parquet(rel, schema, Box::pin(batches))
        .await
        .expect("write register")
}

/// Give the warehouse's newest snapshot registers, unless it has them already.
async fn ensure_registers(wh: &Warehouse, engine: &EngineConfig) -> Snapshot {
    let current = wh.latest().await.expect("catalog").expect("a snapshot");
    if !current.departments.is_empty() {
        return current;
    }
    let ctx = povcensus::engine::session(engine).expect("session");
    wh.register(&ctx, Some(&current)).expect("tables");
    let id = current.id + 1;
    let mut departments: BTreeMap<String, DepartmentVersion> = BTreeMap::new();
    let start = Instant::now();
    for r in Register::ALL {
        let dept = r.department().id();
        let rel = format!(
            "data/{}/department={dept}/v=1-bench/part-0.parquet",
            r.table_name()
        );
        let rows = write_register(wh, &ctx, r, &rel).await;
        let version = departments.entry(dept.to_string()).or_insert_with(|| {
            let rejects = format!("rejects/department={dept}/v=1-bench/part-0.parquet");
            DepartmentVersion {
                department: dept.to_string(),
                version: 1,
                submission_id: format!("{dept}-bench"),
                content_sha256: String::new(),
                committed_in: id,
                tables: BTreeMap::new(),
                rejects: DataFile {
                    path: rejects,
                    rows: 0,
                },
                files: Vec::new(),
                rules: BTreeMap::new(),
            }
        });
        version
            .tables
            .insert(r.table_name().into(), DataFile { path: rel, rows });
    }
    for v in departments.values() {
        let none = futures::stream::iter(Vec::new());
        wh.write_parquet(&v.rejects.path, rejects_schema(), none)
            .await
            .expect("rejects");
    }
    let next = Snapshot {
        id,
        parent: Some(current.id),
        committed_at: None,
        provinces: current.provinces.clone(),
        departments,
    };
    wh.commit(&next).await.expect("commit");
    eprintln!(
        "registers derived in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    next
}

fn main() {
    let bench = BenchArgs::parse(2 << 30);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let rt = runtime(bench.threads);
    let mut engine = engine(bench.memory, bench.threads, tmp.path());
    if let Some(size) = common::arg_value(&bench.args, "--kept-memory") {
        engine.kept_memory = povcensus::engine::parse_size(&size).expect("kept memory size");
    }
    let wh_dir = warehouse_dir(&bench, &rt, tmp.path(), &engine);
    let (threads, memory) = (bench.threads, bench.memory);
    let wh = Warehouse::open(wh_dir.to_str().expect("utf-8 path"), false).expect("warehouse");
    let snapshot = rt.block_on(ensure_registers(&wh, &engine));
    let persons = snapshot.rows("persons");
    let registers: u64 = Register::ALL
        .iter()
        .map(|r| snapshot.rows(r.table_name()))
        .sum();
    let pipeline = Pipeline::load(&root.join("pipelines/matching.toml"), &[]).expect("pipeline");

    let (manifest, seconds, peak) = timed_run(
        &rt,
        &pipeline,
        &wh,
        &snapshot,
        &tmp.path().join("out"),
        &engine,
    );
    let rows = |file: &str| {
        manifest
            .outputs
            .iter()
            .find(|o| o.file == file)
            .map_or(0, |o| o.rows)
    };
    println!(
        "matching pipeline on {persons} persons and {registers} register rows, {threads} threads, memory limit {} MiB",
        memory >> 20
    );
    println!(
        "  povcensus run pipelines/matching.toml   {seconds:>9.2} s   {} findings   {} summary rows   peak RSS {peak:.0} MiB",
        rows("match_findings.parquet"),
        rows("match_summary.parquet")
    );
}
