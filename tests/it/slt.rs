//! Per-query SQL tests: `tests/slt/**/*.slt`, in the sqllogictest format DataFusion uses, run
//! on tiny hand-made tables. A statement may name a query of a built-in pipeline as
//! `${census/household_facts.sql}`: it is replaced by that file's SQL with the pipeline's
//! default parameters filled in, exactly as `povcensus run` would run it, so each `.slt` file
//! tests one `.sql` file of `queries/` against rows whose answers are worked out by hand.
//!
//! Values print as Arrow displays them, NULL as `NULL`; `query` type letters are not checked.

use std::path::{Path, PathBuf};

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use povcensus::pipeline::{Definitions, Pipeline, StepKind};
use sqllogictest::{DBOutput, DefaultColumnType};

use crate::support::files_below;

/// One session with povcensus's SQL functions and reference tables.
struct Census {
    ctx: SessionContext,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SltError(String);

/// The SQL of `${<dir>/<file>.sql}` references: the step of a built-in pipeline that runs that
/// file, with the pipeline's parameters filled in.
fn expand(sql: &str) -> Result<String, SltError> {
    let mut out = sql.to_string();
    while let Some(start) = out.find("${") {
        let end = start
            + out[start..]
                .find('}')
                .ok_or_else(|| SltError(format!("unclosed ${{ in {sql}")))?;
        let file = &out[start + 2..end];
        let text = query_of(file)?;
        out.replace_range(start..=end, text.trim().trim_end_matches(';'));
    }
    Ok(out)
}

fn query_of(file: &str) -> Result<String, SltError> {
    let defs = Definitions::new(None);
    let names = defs.names().map_err(|e| SltError(e.to_string()))?;
    for name in names {
        let p = Pipeline::resolve(&name, &defs, &[]).map_err(|e| SltError(e.to_string()))?;
        for step in &p.steps {
            if let StepKind::Sql { file: f, text } = &step.kind
                && f == file
            {
                let params = p.parameters.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                return Ok(povcensus::engine::fill(text, params));
            }
        }
    }
    Err(SltError(format!("no built-in pipeline runs {file}")))
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Census {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let sql = expand(sql)?;
        let err = |e: datafusion::error::DataFusionError| SltError(e.to_string());
        let df = self.ctx.sql(&sql).await.map_err(err)?;
        let batches = df.collect().await.map_err(err)?;
        let Some(first) = batches.first() else {
            return Ok(DBOutput::StatementComplete(0));
        };
        if first.num_columns() == 1 && first.schema().field(0).name() == "count" {
            // DDL answers with a row count; a query always has its own column names.
            return Ok(DBOutput::StatementComplete(0));
        }
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for b in &batches {
            let formatters = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SltError(e.to_string()))?;
            for i in 0..b.num_rows() {
                rows.push(formatters.iter().map(|f| f.value(i).to_string()).collect());
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; first.num_columns()],
            rows,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "povcensus"
    }
}

fn slt_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt")
}

/// Runs one `.slt` file of `tests/slt/` in a fresh session.
async fn run_slt(file: &str) {
    let mut runner = sqllogictest::Runner::new(|| async {
        let ctx =
            povcensus::engine::session(&Default::default()).map_err(|e| SltError(e.to_string()))?;
        povcensus::assessment::register(&ctx);
        let provinces =
            povcensus::pipeline::ref_provinces().map_err(|e| SltError(e.to_string()))?;
        ctx.register_batch("ref_provinces", provinces)
            .map_err(|e| SltError(e.to_string()))?;
        Ok(Census { ctx })
    });
    if let Err(e) = runner.run_file_async(slt_root().join(file)).await {
        panic!("{file}: {e}");
    }
}

/// One test per `.slt` file; `every_slt_file_has_a_test` keeps the list whole.
macro_rules! slt_tests {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                run_slt($file).await;
            }
        )*
        const SLT_FILES: &[&str] = &[$($file),*];
    };
}

slt_tests! {
    census_person_ages => "census/person_ages.slt",
    census_household_facts => "census/household_facts.slt",
    census_indicators => "census/indicators.slt",
    census_village_exit => "census/village_exit.slt",
    matching_census_members => "matching/census_members.slt",
    matching_deceased => "matching/deceased.slt",
    matching_vehicle => "matching/vehicle.slt",
    matching_business => "matching/business.slt",
    matching_public_employee => "matching/public_employee.slt",
    matching_urban_property => "matching/urban_property.slt",
    matching_schooling => "matching/schooling.slt",
    matching_medical_insurance => "matching/medical_insurance.slt",
    matching_disability => "matching/disability.slt",
    matching_housing => "matching/housing.slt",
    matching_missed_assistance => "matching/missed_assistance.slt",
    matching_match_findings => "matching/match_findings.slt",
    matching_match_summary => "matching/match_summary.slt",
}

#[test]
fn every_slt_file_has_a_test() {
    let root = slt_root();
    let mut on_disk: Vec<String> = files_below(&root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SLT_FILES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "list every tests/slt file in slt_tests! (tests/it/slt.rs)"
    );
}
