//! povcensus: batch analytics for the 2020–2021 national poverty-alleviation census.
//!
//! Floors, each importing only from those below it (a test checks it):
//!
//! ```text
//! face       cli (one module per command: its arguments and what it runs; hints) ·
//!            main.rs (logging, signals, errors)
//! stages     generator · ingest · warehouse · comparison · pipeline · assessment · report ·
//!            extract · server · console · node
//! engine     engine (DataFusion sessions, memory pool, spill, column casts, Parquet
//!            properties, progress bars, private scratch dirs, guarded SQL) · render (HTML, XLSX) ·
//!            output (whole output folders, Parquet + CSV tables, formula-safe text) ·
//!            engine::cluster (Ballista client sessions, node runtimes, shared scratch)
//! contract   contract: schema, rules, manifest, registers, id_number, reference
//! ```
//!
//! Data flow:
//!
//! ```text
//! generator ──► province submissions (CSV + manifest.json, UTF-8 or GB18030)
//!                  │   --registers: the census read back as it loads ─► department registers
//!                  │   (registers/<department>/) + ground_truth_matching.csv
//!                  ▼
//! ingest ──────► discover (province and department submissions, manifests) ─► staging:
//!                  │   source (decode, CSV, file checks) ─► validation (header, fields, row
//!                  │   rules per table or register) ─► stage (typed local Parquet) ─► decide
//!                  │   (which provinces and departments change)
//!                  ▼
//!                crosscheck (orphans, duplicates, links, warnings: SQL on DataFusion)
//!                  │   ─► write (tables, registers, rejects, rows balance) ─► commit ─► summary
//!                  ▼
//! warehouse ───► versioned province and department partitions + snapshot catalog (local disk
//!                or S3)
//!                  │
//!                  ├──► console: `povcensus sql` over the warehouse (read-only)
//!                  ├──► comparison: `povcensus diff` (rows added, removed, changed per
//!                  │    province and table between two snapshots; counts only)
//!                  ▼
//! pipeline ────► spec (pipelines/*.toml + queries/*.sql, embedded) ─► resolve (checked as a
//!                  │   whole) ─► run (+ builtins) ─► OUT/<table>.parquet, .csv, run_manifest.json
//!                  │        (assessment: survey_variance / t_quantile SQL functions;
//!                  │         matching: census roster × department registers ─►
//!                  │         match_findings, match_summary)
//!                  ▼
//! report ──────► bulletin.html, workbook.xlsx, evaluator/, quality/, matching/ (only with
//!                registers: national page, per-county verification lists), index.html
//!
//! extract ─────► passes (quasi-identifiers, then records) ─► anonymize (k-anonymous) ─► key
//!                (keyed pseudonyms) ─► research_persons, research_households; risk
//!                (risk_report.html/.json); published (suppressed county tables, their SQL
//!                filled like a pipeline's); `povcensus sql --extract` over them
//! node ────────► a Ballista scheduler and executors with povcensus' SQL functions (`povcensus
//!                cluster`); `run`, `report`, `sql --cluster df://…` submit their SQL to them,
//!                in-memory tables and step results shipped as Parquet to `_scratch/` of the
//!                warehouse, which every node reads
//! server ──────► Arrow Flight SQL over an extract (`povcensus serve`): tokens, read-only,
//!                guarded (size, depth, memory, result, time, concurrency), logged
//! ```

pub mod assessment;
pub mod cli;
pub mod comparison;
pub mod console;
pub mod contract;
pub mod engine;
pub mod extract;
pub mod generator;
pub mod ingest;
pub mod node;
pub mod output;
pub mod pipeline;
pub mod render;
pub mod report;
pub mod server;
pub mod warehouse;
