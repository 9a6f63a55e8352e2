//! povcensus: batch analytics for the 2020–2021 national poverty-alleviation census.
//!
//! Data flow (one module per stage):
//!
//! ```text
//! generator ──► province submissions (CSV + manifest.json, UTF-8 or GB18030)
//!                  │
//!                  ▼
//!             validation (row rules of `rules`, over the contract in `schema`)
//! ```
//!
//! `schema` holds the submission contract as data, `rules` the stable rule catalogue,
//! `id_number` the GB 11643 ID arithmetic and `reference` the division codes and names the
//! product ships with.

pub mod cli;
pub mod generator;
pub mod id_number;
pub mod ingest;
pub mod reference;
pub mod rules;
pub mod schema;
pub mod validation;
