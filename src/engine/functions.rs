//! SQL functions every session has, for concepts of the contract that SQL would otherwise
//! spell out again in each query: `age_on(birth_date, date)`, completed years on a date
//! ([`crate::contract::schema::age_on`]); `key_code(key)`, a record key as an exact 64-bit
//! integer ([`crate::contract::id_number::key_code`]), and `key_text(code)`, the key a code
//! stands for ([`crate::contract::id_number::key_text`]).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Date32Type, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;

use crate::contract::id_number::{key_code, key_text};
use crate::contract::schema::{age_between, age_on_days, civil_from_days};

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(age_on_udf());
    ctx.register_udf(key_code_udf());
    ctx.register_udf(key_text_udf());
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

/// The codes of a column of keys ([`key_code`]), NULL for NULL: what the SQL function
/// `key_code` computes, and what staging stores beside the keys the cross-row rules compare. A
/// key without a code (one the row rules reject) is an error, never a NULL that would group
/// with other keys; the error does not show the key, which may be an ID number.
pub fn key_codes(keys: &dyn Array) -> Result<Int64Array, DataFusionError> {
    fn codes<'a>(
        keys: impl Iterator<Item = Option<&'a str>>,
        len: usize,
    ) -> Result<Int64Array, DataFusionError> {
        let no_code = || {
            DataFusionError::Execution(
                "key_code: a key that is neither a code of digits nor a valid ID number"
                    .to_string(),
            )
        };
        let mut values = Vec::with_capacity(len);
        let mut valid = arrow::array::BooleanBufferBuilder::new(len);
        for key in keys {
            match key {
                Some(k) => {
                    values.push(key_code(k).ok_or_else(no_code)?);
                    valid.append(true);
                }
                None => {
                    values.push(0);
                    valid.append(false);
                }
            }
        }
        let nulls = arrow::buffer::NullBuffer::new(valid.finish());
        Ok(Int64Array::new(values.into(), Some(nulls)))
    }
    match keys.data_type() {
        DataType::Utf8View => codes(keys.as_string_view().iter(), keys.len()),
        DataType::Utf8 => codes(keys.as_string::<i32>().iter(), keys.len()),
        DataType::LargeUtf8 => codes(keys.as_string::<i64>().iter(), keys.len()),
        other => Err(DataFusionError::Execution(format!(
            "key_code takes a string, not {other}"
        ))),
    }
}

/// `key_code(key)`: [`key_codes`] as an SQL function.
fn key_code_udf() -> ScalarUDF {
    create_udf(
        "key_code",
        vec![DataType::Utf8View],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let Some(keys) = arrays.first() else {
                return Err(DataFusionError::Execution(
                    "key_code takes a key".to_string(),
                ));
            };
            like_the_arguments(Arc::new(key_codes(keys.as_ref())?), args)
        }),
    )
}

/// `key_text(code)`: the key of a [`key_code`], NULL for NULL. The cross-row checks carry
/// keys as codes and spell out only those of the rows they report. An integer that is no
/// key's code is an error.
fn key_text_udf() -> ScalarUDF {
    create_udf(
        "key_text",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let Some(codes) = arrays
                .first()
                .and_then(|a| a.as_primitive_opt::<Int64Type>())
            else {
                return Err(DataFusionError::Execution(
                    "key_text takes a key code (an integer)".to_string(),
                ));
            };
            let keys = codes
                .iter()
                .map(|c| match c {
                    None => Ok(None),
                    Some(c) => key_text(c).map(Some).ok_or_else(|| {
                        DataFusionError::Execution(format!("key_text: {c} is no key's code"))
                    }),
                })
                .collect::<Result<StringArray, _>>()?;
            like_the_arguments(Arc::new(keys), args)
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sql(query: &str) -> Result<Vec<arrow::record_batch::RecordBatch>, DataFusionError> {
        let ctx = SessionContext::new();
        register(&ctx);
        ctx.sql(query).await?.collect().await
    }

    #[tokio::test]
    async fn key_code_is_the_contracts_code_and_null_for_null() {
        let batches = sql(
            "SELECT key_code(k) AS c FROM (VALUES ('4501020010010001'), (NULL), \
             (arrow_cast('450102', 'Utf8View'))) AS t(k)",
        )
        .await
        .unwrap();
        let codes = crate::engine::int64(batches[0].column(0)).unwrap();
        assert_eq!(codes.value(0), key_code("4501020010010001").unwrap());
        assert!(codes.is_null(1));
        assert_eq!(codes.value(2), key_code("450102").unwrap());
    }

    #[tokio::test]
    async fn key_text_gives_back_the_key_and_null_for_null() {
        let batches = sql(
            "SELECT key_text(key_code(k)) AS t FROM (VALUES ('4501020010010001'), (NULL), \
             ('11010519491231002X'), ('045010')) AS t(k)",
        )
        .await
        .unwrap();
        let keys = batches[0].column(0).as_string::<i32>();
        assert_eq!(keys.value(0), "4501020010010001");
        assert!(keys.is_null(1));
        assert_eq!(keys.value(2), "11010519491231002X");
        assert_eq!(keys.value(3), "045010");
        let err = sql("SELECT key_text(CAST(18 AS BIGINT))")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no key's code"), "{err}");
    }

    #[tokio::test]
    async fn a_key_without_a_code_is_an_error_that_does_not_show_it() {
        let err = sql("SELECT key_code('45010219750309017Y')")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("neither a code of digits nor a valid ID number"),
            "{err}"
        );
        assert!(!err.contains("45010219750309017Y"), "{err}");
    }
}
