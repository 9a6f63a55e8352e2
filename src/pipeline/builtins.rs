//! What every pipeline has besides its SQL: the `ref_provinces` reference table, and the
//! built-in steps for what SQL cannot say plainly (`unpivot_indicators`, with the exact
//! decimal type of its sums).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal256Builder, Int32Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::contract::reference::Reference;

/// The `ref_provinces` table: the 22 census provinces with region and exit threshold.
pub fn ref_provinces() -> Result<RecordBatch, arrow::error::ArrowError> {
    let r = Reference::get();
    let mut code = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut region = StringBuilder::new();
    let mut threshold = arrow::array::Float64Builder::new();
    let mut counties = arrow::array::Int32Builder::new();
    for p in &r.provinces {
        code.append_value(p.code);
        name.append_value(p.name);
        region.append_value(p.region.as_str());
        threshold.append_value(p.exit_threshold_pct);
        counties.append_value(p.national_poverty_counties as i32);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("province_code", DataType::Utf8, false),
        Field::new("province_name", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("exit_threshold_pct", DataType::Float64, false),
        Field::new("national_poverty_counties", DataType::Int32, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(code.finish()),
            Arc::new(name.finish()),
            Arc::new(region.finish()),
            Arc::new(threshold.finish()),
            Arc::new(counties.finish()),
        ],
    )
}

const SUM_PRECISION: u8 = 76;
const SUM_SCALE: i8 = 6;
/// Decimal type of unpivoted sums: exact for counts and for yuan with cents, 76 digits (the
/// county sums of incomes come in 38-digit decimals and are multiplied by weights later).
pub const SUM_TYPE: DataType = DataType::Decimal256(SUM_PRECISION, SUM_SCALE);

fn county_sums_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("county_code", DataType::Utf8, false),
        Field::new("indicator_id", DataType::Utf8, false),
        Field::new("indicator_order", DataType::Int32, false),
        Field::new("numerator", SUM_TYPE, false),
        Field::new("denominator", SUM_TYPE, false),
    ]))
}

/// The `unpivot_indicators` built-in: rows of (county_code, indicator_id, indicator_order,
/// numerator, denominator) from the `<id>__num` / `<id>__den` columns of the inputs, in
/// column order.
pub fn unpivot_indicators(
    inputs: &[(String, SchemaRef, Vec<RecordBatch>)],
) -> Result<RecordBatch, String> {
    let mut county = StringBuilder::new();
    let mut id = StringBuilder::new();
    let mut order = Int32Builder::new();
    let mut num = Decimal256Builder::new();
    let mut den = Decimal256Builder::new();
    let mut next_order = 0i32;
    let mut seen: HashMap<String, String> = HashMap::new();
    for (name, schema, batches) in inputs {
        let mut pairs = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if let Some(ind) = f.name().strip_suffix("__num") {
                let d = schema
                    .index_of(&format!("{ind}__den"))
                    .map_err(|_| format!("step `{name}`: column {ind}__num has no {ind}__den"))?;
                if let Some(other) = seen.insert(ind.to_string(), name.clone()) {
                    return Err(format!(
                        "indicator `{ind}` is computed by both `{other}` and `{name}`"
                    ));
                }
                pairs.push((ind.to_string(), i, d, next_order));
                next_order += 1;
            } else if !f.name().ends_with("__den") && f.name() != "county_code" {
                return Err(format!(
                    "step `{name}`: column `{}` is neither county_code nor <id>__num/__den",
                    f.name()
                ));
            }
        }
        let county_col = schema
            .index_of("county_code")
            .map_err(|_| format!("step `{name}` has no county_code"))?;
        for b in batches {
            let counties = arrow::compute::cast(b.column(county_col), &DataType::Utf8)
                .map_err(|e| e.to_string())?;
            let counties = counties.as_string::<i32>();
            for (ind, ni, di, ord) in &pairs {
                let to_sum = |c: &ArrayRef| -> Result<ArrayRef, String> {
                    arrow::compute::cast(c, &SUM_TYPE).map_err(|e| format!("{ind}: {e}"))
                };
                let n = to_sum(b.column(*ni))?;
                let d = to_sum(b.column(*di))?;
                let (n, d) = (
                    n.as_primitive::<arrow::datatypes::Decimal256Type>(),
                    d.as_primitive::<arrow::datatypes::Decimal256Type>(),
                );
                for r in 0..b.num_rows() {
                    county.append_value(counties.value(r));
                    id.append_value(ind);
                    order.append_value(*ord);
                    let zero = arrow::datatypes::i256::ZERO;
                    num.append_value(if n.is_null(r) { zero } else { n.value(r) });
                    den.append_value(if d.is_null(r) { zero } else { d.value(r) });
                }
            }
        }
    }
    let (p, s) = (SUM_PRECISION, SUM_SCALE);
    RecordBatch::try_new(
        county_sums_schema(),
        vec![
            Arc::new(county.finish()),
            Arc::new(id.finish()),
            Arc::new(order.finish()),
            Arc::new(
                num.finish()
                    .with_precision_and_scale(p, s)
                    .map_err(|e| e.to_string())?,
            ),
            Arc::new(
                den.finish()
                    .with_precision_and_scale(p, s)
                    .map_err(|e| e.to_string())?,
            ),
        ],
    )
    .map_err(|e| e.to_string())
}
