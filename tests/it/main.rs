//! The integration tests: one binary, one module per stage.

mod assessment;
mod binary;
mod cluster;
mod docs;
mod environment;
mod extract;
mod face;
mod fuzz;
mod generate;
mod identity;
mod ingest;
mod ingest_integrity;
mod layout;
mod matrix;
mod oracle;
mod pipeline;
mod process;
mod report;
mod server;
mod slt;
mod support;
