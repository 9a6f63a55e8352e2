//! povcensus: batch analytics for the 2020–2021 national poverty-alleviation census.
//!
//! Floors, each importing only from those below it (a test checks it):
//!
//! ```text
//! face       cli (arguments, one dispatch per command) · main.rs (logging, signals, errors)
//! stages     generator · ingest · warehouse · pipeline · assessment · report · extract ·
//!            server · console
//! engine     engine (DataFusion sessions, memory pool, spill, column casts, Parquet
//!            properties, progress bars, private scratch dirs, guarded SQL) · render (HTML, XLSX) ·
//!            output (whole output folders, Parquet + CSV tables, formula-safe text)
//! contract   contract: schema, rules, manifest, id_number, reference
//! ```
//!
//! Data flow:
//!
//! ```text
//! generator ──► province submissions (CSV + manifest.json, UTF-8 or GB18030)
//!                  │
//!                  ▼
//! ingest ──────► source (decode, CSV, file checks) ─► validation (row rules) ─► stage
//!                  │                                              (typed local Parquet)
//!                  ▼
//!                cross (orphans, duplicates, links, warnings: SQL on DataFusion)
//!                  │
//!                  ▼
//! warehouse ───► versioned province partitions + snapshot catalog (local disk or S3)
//!                  │
//!                  ├──► console: `povcensus sql` over the warehouse (read-only)
//!                  ▼
//! pipeline ────► pipelines/*.toml + queries/*.sql ─► OUT/<table>.parquet, .csv, run_manifest.json
//!                  │        (assessment: survey_variance / t_quantile SQL functions)
//!                  ▼
//! report ──────► bulletin.html, workbook.xlsx, evaluator/, quality/, index.html
//!
//! extract ─────► research_persons, research_households (pseudonymized, k-anonymous),
//!                risk_report.html/.json; `povcensus sql --extract` over them
//! server ──────► Arrow Flight SQL over an extract (`povcensus serve`): tokens, read-only,
//!                guarded (size, depth, memory, result, time, concurrency), logged
//! ```

pub mod assessment;
pub mod cli;
pub mod console;
pub mod contract;
pub mod engine;
pub mod extract;
pub mod generator;
pub mod ingest;
pub mod output;
pub mod pipeline;
pub mod render;
pub mod report;
pub mod server;
pub mod warehouse;
