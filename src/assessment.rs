//! Exit assessment (三率一度, exit-assessment.md): the design-based arithmetic that SQL cannot
//! say plainly, as SQL functions that every pipeline session has.
//!
//! The estimators themselves are SQL (`queries/assessment/`, run by
//! `pipelines/exit_assessment.toml`): weighted totals per PSU, the ratios, and each PSU's
//! linearized value `z_hi = (Y_hi − R·X_hi) / X̂`. This module owns what comes after:
//!
//! - `survey_variance(stratum, psu, z)`: the with-replacement Taylor variance of a county's
//!   estimate from its linearized values, `Σ_h n_h/(n_h−1) Σ_i (z_hi − z̄_h)²`, rows summed per
//!   PSU first. A stratum with a single PSU (lonely PSU) contributes `(z_hi − z̄)²`, `z̄` the mean
//!   of all PSU totals (R survey's `lonely.psu = "adjust"`). The result is NULL when any `z` is
//!   NULL (the estimate itself is undefined) or when there are fewer than two PSUs (no variance
//!   can be estimated, which is not the same as no error).
//! - `t_quantile(p, df)`: the quantile of Student's t distribution, for the intervals.
//!
//! The aggregate keeps its PSU values and sorts them before summing, so the result does not
//! depend on how DataFusion partitioned the rows: the same inputs give the same bits.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, ColumnarValue, ScalarUDF, Volatility, create_udaf, create_udf,
};
use datafusion::prelude::SessionContext;

use crate::engine::{float64, int64, utf8};
use datafusion::scalar::ScalarValue;
use statrs::distribution::{Continuous, ContinuousCDF, StudentsT};

/// Register the assessment functions in a session.
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(survey_variance_udaf());
    ctx.register_udf(t_quantile_udf());
}

/// One PSU-level (or household-level) linearized value.
#[derive(Debug, Clone, PartialEq)]
struct Unit {
    stratum: i64,
    psu: String,
    z: Option<f64>,
}

/// The stratified with-replacement variance of a total of linearized values `z`, with the
/// lonely-PSU rule of exit-assessment.md §3. `None` when any value is missing or there are
/// fewer than two PSUs.
pub fn stratified_variance<'a>(
    units: impl IntoIterator<Item = (i64, &'a str, Option<f64>)>,
) -> Option<f64> {
    let mut units: Vec<(i64, &str, f64)> = units
        .into_iter()
        .map(|(s, p, z)| z.map(|z| (s, p, z)))
        .collect::<Option<_>>()?;
    // A fixed order, so that floating-point sums do not depend on the order rows arrived in.
    units.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.cmp(b.1))
            .then_with(|| a.2.total_cmp(&b.2))
    });
    // PSU totals, grouped by stratum.
    let mut strata: Vec<(i64, Vec<f64>)> = Vec::new();
    let mut last_psu: Option<(i64, &str)> = None;
    for (s, p, z) in units {
        if last_psu == Some((s, p)) {
            // reason: `last_psu` is set only after a PSU was pushed.
            *strata
                .last_mut()
                .and_then(|st| st.1.last_mut())
                .expect("a PSU was started") += z;
            continue;
        }
        match strata.last_mut() {
            Some(st) if st.0 == s => st.1.push(z),
            _ => strata.push((s, vec![z])),
        }
        last_psu = Some((s, p));
    }
    let psus: usize = strata.iter().map(|s| s.1.len()).sum();
    if psus < 2 {
        return None;
    }
    let grand_mean = strata.iter().flat_map(|s| &s.1).sum::<f64>() / psus as f64;
    let mut v = 0.0;
    for (_, totals) in &strata {
        let n = totals.len();
        if n == 1 {
            // reason: n == 1.
            let d = totals[0] - grand_mean;
            v += d * d;
        } else {
            let mean = totals.iter().sum::<f64>() / n as f64;
            let ss: f64 = totals.iter().map(|z| (z - mean) * (z - mean)).sum();
            v += n as f64 / (n - 1) as f64 * ss;
        }
    }
    Some(v)
}

/// The `p` quantile of Student's t with `df` degrees of freedom, to full double precision
/// (statrs' inverse, polished by Newton steps on its CDF).
pub fn t_quantile(p: f64, df: f64) -> Option<f64> {
    let valid = p > 0.0 && p < 1.0 && df > 0.0;
    if !valid {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    let mut x = t.inverse_cdf(p);
    for _ in 0..8 {
        let step = (t.cdf(x) - p) / t.pdf(x);
        if !step.is_finite() {
            break;
        }
        x -= step;
        if step.abs() <= 1e-16 * x.abs().max(1.0) {
            break;
        }
    }
    Some(x)
}

#[derive(Debug, Default)]
struct SurveyVariance {
    units: Vec<Unit>,
}

impl SurveyVariance {
    fn push(&mut self, stratum: &ArrayRef, psu: &ArrayRef, z: &ArrayRef) -> Result<()> {
        let (stratum, psu, z) = (int64(stratum)?, utf8(psu)?, float64(z)?);
        for i in 0..z.len() {
            if stratum.is_null(i) || psu.is_null(i) {
                return Err(DataFusionError::Execution(
                    "survey_variance: a row has no stratum or no PSU".into(),
                ));
            }
            self.units.push(Unit {
                stratum: stratum.value(i),
                psu: psu.value(i).to_string(),
                z: z.is_valid(i).then(|| z.value(i)),
            });
        }
        Ok(())
    }
}

impl Accumulator for SurveyVariance {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        // reason: the signature declares three arguments; DataFusion checks the arity.
        self.push(&values[0], &values[1], &values[2])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(stratified_variance(
            self.units.iter().map(|u| (u.stratum, u.psu.as_str(), u.z)),
        )))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .units
                .iter()
                .map(|u| std::mem::size_of::<Unit>() + u.psu.len())
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let strata: ArrayRef = Arc::new(Int64Array::from_iter_values(
            self.units.iter().map(|u| u.stratum),
        ));
        let psus: ArrayRef = Arc::new(StringArray::from_iter_values(
            self.units.iter().map(|u| u.psu.as_str()),
        ));
        let z: ArrayRef = Arc::new(Float64Array::from_iter(self.units.iter().map(|u| u.z)));
        Ok([strata, psus, z]
            .into_iter()
            .map(|a| SingleRowListArrayBuilder::new(a).build_list_scalar())
            .collect())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let list = |i: usize| {
            states
                .get(i)
                .and_then(|a| a.as_list_opt::<i32>())
                .ok_or_else(|| {
                    DataFusionError::Internal(format!(
                        "survey_variance: state {i} is not the list its state fields declare"
                    ))
                })
        };
        let (strata, psus, zs) = (list(0)?, list(1)?, list(2)?);
        for row in 0..strata.len() {
            if strata.is_null(row) {
                continue;
            }
            self.push(&strata.value(row), &psus.value(row), &zs.value(row))?;
        }
        Ok(())
    }
}

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, true)))
}

fn survey_variance_udaf() -> AggregateUDF {
    create_udaf(
        "survey_variance",
        vec![DataType::Int64, DataType::Utf8, DataType::Float64],
        Arc::new(DataType::Float64),
        Volatility::Immutable,
        Arc::new(|_| Ok(Box::new(SurveyVariance::default()))),
        Arc::new(vec![
            list_of(DataType::Int64),
            list_of(DataType::Utf8),
            list_of(DataType::Float64),
        ]),
    )
}

fn t_quantile_udf() -> ScalarUDF {
    create_udf(
        "t_quantile",
        vec![DataType::Float64, DataType::Float64],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            // reason: the signature declares two arguments; DataFusion checks the arity.
            let (p, df) = (float64(&arrays[0])?, float64(&arrays[1])?);
            let out: Float64Array = p
                .iter()
                .zip(df.iter())
                .map(|(p, df)| t_quantile(p?, df?))
                .collect();
            let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
            let out: ArrayRef = Arc::new(out);
            Ok(if scalar {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
            } else {
                ColumnarValue::Array(out)
            })
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Float64Type;

    #[test]
    fn t_quantiles_match_published_values() {
        // scipy.stats.t.ppf(0.975, [1, 2, 10, 30]).
        for (df, q) in [
            (1.0, 12.706204736174694),
            (2.0, 4.302652729749462),
            (10.0, 2.228138851986274),
            (30.0, 2.0422724563012378),
        ] {
            let got = t_quantile(0.975, df).unwrap();
            assert!((got - q).abs() <= 1e-13 * q, "df {df}: {got} vs {q}");
        }
        assert_eq!(t_quantile(0.975, 0.0), None);
        assert_eq!(t_quantile(1.0, 5.0), None);
    }

    #[test]
    fn variance_by_hand() {
        // Stratum 1: PSUs a (rows 1 and 2 → total 3), b (5), c (10); stratum 2: lonely PSU d (4).
        let units = [
            (1, "a", Some(1.0)),
            (1, "b", Some(5.0)),
            (2, "d", Some(4.0)),
            (1, "c", Some(10.0)),
            (1, "a", Some(2.0)),
        ];
        // Stratum 1: mean 6, squares 9 + 1 + 16 = 26, times 3/2 = 39.
        // Lonely stratum 2: grand mean (3 + 5 + 10 + 4)/4 = 5.5, (4 − 5.5)² = 2.25.
        assert_eq!(stratified_variance(units), Some(41.25));
        // Any order gives the same bits.
        let mut rev = units;
        rev.reverse();
        assert_eq!(stratified_variance(rev), Some(41.25));
        // An undefined value, or a single PSU, gives no variance.
        assert_eq!(
            stratified_variance([(1, "a", Some(1.0)), (1, "b", None)]),
            None
        );
        assert_eq!(
            stratified_variance([(1, "a", Some(1.0)), (1, "a", Some(2.0))]),
            None
        );
        // Two lonely strata: each against the grand mean 2: 1 + 1.
        assert_eq!(
            stratified_variance([(1, "a", Some(1.0)), (2, "b", Some(3.0))]),
            Some(2.0)
        );
    }

    #[tokio::test]
    async fn the_functions_run_in_sql_whatever_the_partitioning() {
        let mut results = Vec::new();
        for partitions in [1, 4] {
            let ctx = SessionContext::new_with_config(
                datafusion::prelude::SessionConfig::new().with_target_partitions(partitions),
            );
            register(&ctx);
            let df = ctx
                .sql(
                    "SELECT g, survey_variance(s, p, z) AS v, t_quantile(0.975, 2) AS t
                     FROM (VALUES (1, 1, 'a', 1.0), (1, 1, 'b', 5.0), (1, 2, 'd', 4.0),
                                  (1, 1, 'c', 10.0), (1, 1, 'a', 2.0), (2, 1, 'x', 1.0))
                          AS t(g, s, p, z)
                     GROUP BY g ORDER BY g",
                )
                .await
                .unwrap();
            let batches = df.collect().await.unwrap();
            let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
            let v = b.column(1).as_primitive::<Float64Type>();
            assert_eq!(v.value(0), 41.25);
            assert!(v.is_null(1), "one PSU: no variance");
            let t = b.column(2).as_primitive::<Float64Type>();
            assert!((t.value(0) - 4.302652729749464).abs() < 1e-14);
            results.push(v.value(0).to_bits());
        }
        assert_eq!(results[0], results[1]);
    }
}
