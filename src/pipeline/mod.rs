//! Pipelines: declared in `pipelines/*.toml` (named steps, SQL files from `queries/`,
//! parameters, dependencies, outputs), read into plain structs, checked as a whole before
//! anything runs (every problem reported at once, with the file and key), then run on
//! DataFusion over one warehouse snapshot. Outputs are written as `OUT/<table>.parquet` and
//! `OUT/<table>.csv` (UTF-8 with BOM), with a run manifest that records what was read.
//!
//! A step is SQL (a view, or a table when `materialize` or `output` is set) or a built-in
//! step for what SQL cannot say plainly; the one built-in, `unpivot_indicators`, turns the
//! `<indicator>__num` / `<indicator>__den` columns of county sums into rows.
//!
//! On a Ballista cluster (`--cluster`) every SQL step runs there; what the session holds in
//! memory (empty tables, `ref_provinces`, kept step results, the built-in's rows, which it
//! computes here from its collected inputs) is written as Parquet to a scratch folder of the
//! warehouse that every node reads, and removed after the run.
//!
//! The floor plan: [`spec`] (the files as written, the checked pipeline, the definitions the
//! binary carries), [`resolve`] (finding and checking a pipeline), [`builtins`] (the reference
//! table and the built-in steps), [`run`] (running the steps and writing the outputs).

mod builtins;
mod kept;
mod resolve;
mod run;
mod spec;

pub use builtins::{SUM_TYPE, ref_provinces, unpivot_indicators};
pub use run::{RunManifest, run, run_into};
pub use spec::{Builtin, Definitions, EMBEDDED, Pipeline, PipelineFile, Step, StepDef, StepKind};

use crate::warehouse::WarehouseError;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{} has {} problem(s):\n  - {}", .path, .problems.len(), .problems.join("\n  - "))]
    Invalid { path: String, problems: Vec<String> },
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error("step `{step}`: {source}")]
    Step {
        step: String,
        source: datafusion::error::DataFusionError,
    },
    /// A step failed while it ran: the step, its SQL file (or built-in), the engine's message and, for
    /// arithmetic overflows, the loaded values that are large enough to cause it (table,
    /// column, province).
    #[error("{}", step_failure_text(.step, .file, .message, .suspects))]
    StepFailed {
        step: String,
        file: String,
        message: String,
        suspects: Vec<String>,
    },
    #[error("there is no pipeline `{name}` (there are: {})", .available.join(", "))]
    Unknown {
        name: String,
        available: Vec<String>,
    },
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    /// On a cluster: the step reads a table that cannot be sent to the executors; refused
    /// before its plan is submitted.
    #[error(
        "step `{step}` reads `{table}`, a table held in this process's memory, which the \
         cluster's executors cannot read"
    )]
    CannotTravel { step: String, table: String },
    /// On a cluster: a step's result (or an in-memory table) could not be put where every
    /// node reads it.
    #[error("step `{step}`: {source}")]
    Cluster {
        step: String,
        source: crate::engine::cluster::ClusterError,
    },
    /// A result too large for memory could not be kept in its scratch file, or read back.
    #[error("step `{step}`: keeping its result in a scratch file: {source}")]
    Kept {
        step: String,
        source: kept::KeptError,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn step_failure_text(step: &str, file: &str, message: &str, suspects: &[String]) -> String {
    let mut s = format!("step `{step}` ({file}) failed: {message}");
    if !suspects.is_empty() {
        s.push_str("\n  loaded values large enough to overflow the exact sums:\n    - ");
        s.push_str(&suspects.join("\n    - "));
    }
    s
}
