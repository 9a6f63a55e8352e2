//! povcensus: batch analytics for the 2020–2021 national poverty-alleviation census.
//!
//! Data flow (one module per stage):
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
//!                  ▼
//! query ───────► DataFusion sessions (bounded memory, spilling), `povcensus sql`
//!                  │
//!                  ▼
//! pipeline ────► pipelines/*.toml + queries/*.sql ─► OUT/<table>.parquet, .csv, run_manifest.json
//!                  │        (assessment: survey_variance / t_quantile SQL functions)
//!                  ▼
//! report ──────► bulletin.html, workbook.xlsx, evaluator/, quality/, index.html
//!
//! extract ─────► research_persons, research_households (pseudonymized, k-anonymous),
//!                risk_report.html/.json; `povcensus sql --extract` over them
//! server ──────► Arrow Flight SQL over an extract (`povcensus serve`): tokens, read-only, logged
//! ```
//!
//! `schema` holds the submission contract as data, `rules` the stable rule catalogue,
//! `id_number` the GB 11643 ID arithmetic, `progress` the progress bars, `scratch` the private
//! staging and spill directories (removed on every exit, an interrupt included), `reference` the division codes and names the
//! product ships with, and `cli` the command-line arguments.

pub mod assessment;
pub mod cli;
pub mod extract;
pub mod generator;
pub mod id_number;
pub mod ingest;
pub mod pipeline;
pub mod progress;
pub mod query;
pub mod reference;
pub mod report;
pub mod rules;
pub mod schema;
pub mod scratch;
pub mod server;
pub mod validation;
pub mod warehouse;
