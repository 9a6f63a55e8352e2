//! SQL functions every session has, for concepts of the contract that SQL would otherwise
//! spell out again in each query: `age_on(birth_date, date)`, completed years on a date
//! ([`crate::contract::schema::age_on`]).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::datatypes::{DataType, Date32Type};
use datafusion::common::ScalarValue;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;

use crate::contract::schema::{age_between, age_on_days, civil_from_days};

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(age_on_udf());
}

/// A scalar function's result shaped like its arguments: a scalar when every argument was one
/// (as DataFusion expects of constant folding), else an array.
pub fn like_the_arguments(
    out: ArrayRef,
    args: &[ColumnarValue],
) -> Result<ColumnarValue, DataFusionError> {
    let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    Ok(if scalar && out.len() == 1 {
        ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
    } else {
        ColumnarValue::Array(out)
    })
}

fn age_on_udf() -> ScalarUDF {
    create_udf(
        "age_on",
        vec![DataType::Date32, DataType::Date32],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            // reason: the signature declares two arguments; DataFusion checks the arity.
            let (birth, on) = (&arrays[0], &arrays[1]);
            let (Some(birth), Some(on)) = (
                birth.as_primitive_opt::<Date32Type>(),
                on.as_primitive_opt::<Date32Type>(),
            ) else {
                return Err(DataFusionError::Execution(
                    "age_on takes two dates".to_string(),
                ));
            };
            let out: Int64Array = match args.get(1) {
                // The reference date is usually one constant: its civil date is computed once.
                Some(ColumnarValue::Scalar(_)) => {
                    let on = on.iter().next().flatten().and_then(civil_from_days);
                    birth
                        .iter()
                        .map(|b| Some(i64::from(age_between(civil_from_days(b?)?, on?))))
                        .collect()
                }
                _ => birth
                    .iter()
                    .zip(on.iter())
                    .map(|(b, o)| Some(i64::from(age_on_days(b?, o?)?)))
                    .collect(),
            };
            like_the_arguments(Arc::new(out), args)
        }),
    )
}
