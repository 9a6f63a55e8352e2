//! The published county tables of an extract: the counts of `queries/extract/published_counts.sql`,
//! built and suppressed by [`super::tables`], written as `published_county_counts.csv` (long)
//! and `published_tables.xlsx` (one sheet per table, suppressed cells marked ×).

use std::collections::BTreeMap;

use arrow::array::{Array, Int64Array, RecordBatch};
use arrow::datatypes::SchemaRef;
use futures::TryStreamExt;

use super::passes::Source;
use super::tables::{self, Published};
use super::{ExtractError, ExtractOptions, concat, int64, utf8};
use crate::render::xlsx::{X, sheet, workbook};

/// The published county tables: `published_county_counts.csv` (long) and
/// `published_tables.xlsx` (one sheet per table, suppressed cells marked ×). `sql` gives the
/// county counts.
pub(super) async fn write_published(
    rows: &Source<'_>,
    opts: &ExtractOptions,
    sql: &str,
) -> Result<(), ExtractError> {
    let b = county_counts(rows, sql).await?;
    let mut csv = String::from("\u{feff}area_code,level,table,category,count,status\n");
    let mut wb = workbook("公开发布县级汇总表", "");
    let xerr = |e: rust_xlsxwriter::XlsxError| ExtractError::WriteFile {
        path: opts.out.join("published_tables.xlsx").display().to_string(),
        source: std::io::Error::other(e),
    };
    for (name, title, cats) in tables::TABLES {
        let counts = table_counts(&b, name)?;
        let t = tables::build(name, title, cats, &counts, opts.cell_threshold);
        let rows = table_rows(&t, &mut csv);
        let mut headers: Vec<&str> = vec!["地区代码", "层级"];
        headers.extend(t.categories.iter().map(String::as_str));
        headers.push("合计");
        sheet(
            &mut wb,
            title.trim_end_matches('）').replace('（', " ").as_str(),
            &headers,
            &rows,
        )
        .map_err(xerr)?;
    }
    let path = opts.out.join("published_county_counts.csv");
    std::fs::write(&path, csv).map_err(|source| ExtractError::WriteFile {
        path: path.display().to_string(),
        source,
    })?;
    let path = opts.out.join("published_tables.xlsx");
    wb.save(&path).map_err(xerr)?;
    Ok(())
}

/// The counts per county, table and category, as one batch: counted a province at a time
/// ([`Source::stream`]; every county lies in one province, so its counts are whole).
async fn county_counts(rows: &Source<'_>, sql: &str) -> Result<RecordBatch, ExtractError> {
    let counts = rows.stream(sql).await?;
    let planned: SchemaRef = counts.schema();
    let batches: Vec<RecordBatch> = counts.try_collect().await?;
    concat(&batches, planned)
}

/// The county counts `(county, category) → n` of one table.
fn table_counts(
    b: &RecordBatch,
    name: &str,
) -> Result<BTreeMap<(String, String), u64>, ExtractError> {
    let (county, table, category, n) = (
        utf8(b, "county_code")?,
        utf8(b, "table_name")?,
        utf8(b, "category")?,
        int64(b, "n")?,
    );
    let mut counts = BTreeMap::new();
    for i in 0..b.num_rows() {
        if table.value(i) == name {
            counts.insert(
                (county.value(i).to_string(), category.value(i).to_string()),
                int64_value(&n, i),
            );
        }
    }
    Ok(counts)
}

/// The rows of a table's sheet; its cells, long, appended to `csv`.
fn table_rows(t: &Published, csv: &mut String) -> Vec<Vec<X>> {
    let name = t.table;
    let mut all: Vec<String> = t.categories.clone();
    all.push(tables::TOTAL.to_string());
    let mut rows = Vec::new();
    for area in &t.areas {
        let mut row = vec![
            X::Str(area.clone()),
            X::Str(tables::level(area).to_string()),
        ];
        for c in &all {
            let (count, status) = t
                .cells
                .get(&(area.clone(), c.clone()))
                .copied()
                .unwrap_or((0, tables::Status::Ok));
            let shown = if status == tables::Status::Ok {
                count.to_string()
            } else {
                String::new()
            };
            csv.push_str(&format!(
                "{area},{},{name},{c},{shown},{}\n",
                tables::level(area),
                status.as_str()
            ));
            row.push(if status == tables::Status::Ok {
                X::Int(count as i64)
            } else {
                X::Str("×".into())
            });
        }
        rows.push(row);
    }
    rows
}

fn int64_value(a: &Int64Array, i: usize) -> u64 {
    if a.is_valid(i) {
        a.value(i).max(0) as u64
    } else {
        0
    }
}
