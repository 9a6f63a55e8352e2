//! The integration tests: one binary, one module per stage.

mod assessment;
mod binary;
mod cluster;
mod comparison;
mod console;
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
mod matching;
mod matrix;
mod oracle;
mod pipeline;
mod process;
mod registers;
mod report;
mod server;
mod slt;
mod support;
mod terminal;
