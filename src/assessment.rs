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
//! - `t_quantile(p, df)`: the quantile of Student's t distribution.
//! - `kg_n_eff(p, v, n, df, level)`, `kg_lower(p, n_eff, level)`, `kg_upper(p, n_eff, level)`:
//!   the Korn–Graubard interval of a rate (exit-assessment.md §3): the effective sample size
//!   with its degrees-of-freedom factor, truncated at `n`, and the Beta quantiles around it.
//! - `design_effect(p, v, n)`: `v·n / (p(1 − p))`, NULL when `p` is 0 or 1 or `v` is 0.
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
use statrs::distribution::{Beta, Continuous, ContinuousCDF, StudentsT};

/// Register the assessment functions in a session.
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(survey_variance_udaf());
    ctx.register_udf(t_quantile_udf());
    ctx.register_udf(float_udf("kg_n_eff", 5, |a| {
        kg_n_eff(a[0]?, a[1]?, a[2]?, a[3]?, a[4]?)
    }));
    ctx.register_udf(float_udf("kg_lower", 3, |a| kg_lower(a[0]?, a[1]?, a[2]?)));
    ctx.register_udf(float_udf("kg_upper", 3, |a| kg_upper(a[0]?, a[1]?, a[2]?)));
    ctx.register_udf(float_udf("design_effect", 3, |a| {
        design_effect(a[0]?, a[1]?, a[2]?)
    }));
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

/// The `q` quantile of Beta(`a`, `b`) to full double precision: statrs' inverse, polished by
/// safeguarded Newton steps on its CDF (kept inside (0, 1), halving towards the bound when a
/// step would leave it). `None` unless `0 < q < 1`, `a > 0` and `b > 0`.
pub fn beta_quantile(q: f64, a: f64, b: f64) -> Option<f64> {
    let valid = q > 0.0 && q < 1.0 && a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite();
    if !valid {
        return None;
    }
    let beta = Beta::new(a, b).ok()?;
    let mut x = beta
        .inverse_cdf(q)
        .clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON / 2.0);
    for _ in 0..50 {
        let step = (beta.cdf(x) - q) / beta.pdf(x);
        if !step.is_finite() || step == 0.0 {
            break;
        }
        let next = x - step;
        let next = if next <= 0.0 {
            x / 2.0
        } else if next >= 1.0 {
            (1.0 + x) / 2.0
        } else {
            next
        };
        let done = (next - x).abs() <= 4.0 * f64::EPSILON * x.min(1.0 - x).max(f64::MIN_POSITIVE);
        x = next;
        if done {
            break;
        }
    }
    (0.0..=1.0).contains(&x).then_some(x)
}

/// The effective sample size `n_eff*` of a rate (exit-assessment.md §3): `p(1 − p)/v` when
/// `0 < p < 1` and `v > 0`, else `n`; times `(t(1 − α/2, n − 1) / t(1 − α/2, df))²` when
/// `n ≥ 2`; at most `n`. `None` without an estimate, a variance, a sampled household or a
/// valid confidence level.
pub fn kg_n_eff(p: f64, v: f64, n: f64, df: f64, level: f64) -> Option<f64> {
    let valid = (0.0..=1.0).contains(&p) && v >= 0.0 && n >= 1.0 && level > 0.0 && level < 1.0;
    if !valid {
        return None;
    }
    let base = if p > 0.0 && p < 1.0 && v > 0.0 {
        p * (1.0 - p) / v
    } else {
        n
    };
    let n_eff = if n >= 2.0 {
        let q = 1.0 - (1.0 - level) / 2.0;
        let factor = t_quantile(q, n - 1.0)? / t_quantile(q, df)?;
        base * factor * factor
    } else {
        base
    };
    Some(n_eff.min(n))
}

/// The Korn–Graubard lower bound of a rate `p` (a fraction) with effective sample size
/// `n_eff`: 0 when `p = 0`, else the α/2 quantile of Beta(n_eff·p, n_eff·(1 − p) + 1).
pub fn kg_lower(p: f64, n_eff: f64, level: f64) -> Option<f64> {
    let valid = (0.0..=1.0).contains(&p) && n_eff > 0.0 && level > 0.0 && level < 1.0;
    if !valid {
        return None;
    }
    if p == 0.0 {
        return Some(0.0);
    }
    beta_quantile((1.0 - level) / 2.0, n_eff * p, n_eff * (1.0 - p) + 1.0)
}

/// The Korn–Graubard upper bound: 1 when `p = 1`, else the 1 − α/2 quantile of
/// Beta(n_eff·p + 1, n_eff·(1 − p)).
pub fn kg_upper(p: f64, n_eff: f64, level: f64) -> Option<f64> {
    let valid = (0.0..=1.0).contains(&p) && n_eff > 0.0 && level > 0.0 && level < 1.0;
    if !valid {
        return None;
    }
    if p == 1.0 {
        return Some(1.0);
    }
    beta_quantile(
        1.0 - (1.0 - level) / 2.0,
        n_eff * p + 1.0,
        n_eff * (1.0 - p),
    )
}

/// The design effect `v·n / (p(1 − p))`; `None` when `p` is 0 or 1 or `v` is not positive.
pub fn design_effect(p: f64, v: f64, n: f64) -> Option<f64> {
    (p > 0.0 && p < 1.0 && v > 0.0 && n >= 1.0).then(|| v * n / (p * (1.0 - p)))
}

/// A scalar SQL function of `arity` DOUBLE arguments returning DOUBLE, NULL where `f` gives
/// `None` (any NULL argument does).
fn float_udf(
    name: &str,
    arity: usize,
    f: impl Fn(&[Option<f64>]) -> Option<f64> + Send + Sync + 'static,
) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Float64; arity],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let cols = arrays
                .iter()
                .map(|a| float64(a).map_err(DataFusionError::from))
                .collect::<Result<Vec<_>>>()?;
            let rows = cols.first().map_or(0, |c| c.len());
            let mut vals = vec![None; cols.len()];
            let out: Float64Array = (0..rows)
                .map(|i| {
                    for (v, c) in vals.iter_mut().zip(&cols) {
                        *v = c.is_valid(i).then(|| c.value(i));
                    }
                    f(&vals)
                })
                .collect();
            crate::engine::functions::like_the_arguments(Arc::new(out), args)
        }),
    )
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
            crate::engine::functions::like_the_arguments(Arc::new(out), args)
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
    fn beta_quantiles_match_closed_forms_and_r() {
        // Beta(1, b): CDF 1 − (1 − x)^b; Beta(a, 1): CDF x^a.
        for (q, b) in [(0.975f64, 2.0f64), (0.95, 7.5), (0.025, 40.0), (0.5, 1.0)] {
            let want = 1.0 - (1.0 - q).powf(1.0 / b);
            let got = beta_quantile(q, 1.0, b).unwrap();
            // statrs' regularized incomplete beta is good to about 1e-14, and so is its
            // inverse after the Newton polish.
            assert!((got - want).abs() <= 1e-13 * want, "{q} {b}: {got} {want}");
            let want = q.powf(1.0 / b);
            let got = beta_quantile(q, b, 1.0).unwrap();
            assert!((got - want).abs() <= 1e-13 * want, "{q} {b}: {got} {want}");
        }
        // R 4.2: qbeta(0.025, 1.2, 1.8), qbeta(0.975, 1.25, 1.75), qbeta(0.025, 0.25, 2.75).
        for (q, a, b, want) in [
            (0.025, 1.2, 1.8, 2.6773993184934397e-02),
            (0.975, 1.25, 1.75, 8.976088018266617e-01),
            (0.025, 0.25, 2.75, 1.1026987548656265e-07),
        ] {
            let got = beta_quantile(q, a, b).unwrap();
            assert!(
                (got - want).abs() <= 1e-13 * want,
                "{a} {b}: {got} vs {want}"
            );
        }
        assert_eq!(beta_quantile(0.0, 1.0, 1.0), None);
        assert_eq!(beta_quantile(0.5, 0.0, 1.0), None);
    }

    #[test]
    fn korn_graubard_edge_cases_by_hand() {
        let t = |df: f64| t_quantile(0.975, df).unwrap();
        // p = 0 with v = 0 (a sample that found nothing): n_eff = n·(t(n − 1)/t(df))²; the
        // upper bound is the .975 quantile of Beta(1, n_eff), 1 − 0.025^(1/n_eff), not 0.
        let n_eff = kg_n_eff(0.0, 0.0, 40.0, 10.0, 0.95).unwrap();
        let want = 40.0 * (t(39.0) / t(10.0)).powi(2);
        assert!((n_eff - want).abs() <= 1e-13 * want);
        assert_eq!(kg_lower(0.0, n_eff, 0.95), Some(0.0));
        let up = kg_upper(0.0, n_eff, 0.95).unwrap();
        let want = 1.0 - 0.025f64.powf(1.0 / n_eff);
        assert!((up - want).abs() <= 1e-13 * want, "{up} vs {want}");
        assert!(up > 0.08, "40 households finding nothing: {up}");
        assert_eq!(design_effect(0.0, 0.0, 40.0), None);
        // p = 1: lower = 0.025^(1/n_eff), upper = 1.
        let low = kg_lower(1.0, n_eff, 0.95).unwrap();
        assert!((low - 0.025f64.powf(1.0 / n_eff)).abs() <= 1e-13);
        assert_eq!(kg_upper(1.0, n_eff, 0.95), Some(1.0));
        // df larger than n − 1: the factor exceeds 1 and n_eff is truncated at n.
        assert_eq!(kg_n_eff(0.0, 0.0, 3.0, 30.0, 0.95), Some(3.0));
        // A domain with one household: no factor; n_eff = min(1, p(1 − p)/v).
        assert_eq!(kg_n_eff(1.0, 0.0, 1.0, 5.0, 0.95), Some(1.0));
        // Beta(1, 1) is uniform: its .025 quantile.
        assert!((kg_lower(1.0, 1.0, 0.95).unwrap() - 0.025).abs() <= 1e-15);
        assert_eq!(kg_n_eff(0.5, 0.5, 1.0, 5.0, 0.95), Some(0.5));
        // A domain with none, or no variance (one PSU): nothing.
        assert_eq!(kg_n_eff(0.5, 0.01, 0.0, 5.0, 0.95), None);
        // 0 < p < 1 with v > 0: p(1 − p)/v times the factor; deff = v·n/(p(1 − p)).
        let (p, v, n, df) = (0.1, 0.0009, 200.0, 18.0);
        let want = p * (1.0 - p) / v * (t(199.0) / t(df)).powi(2);
        let got = kg_n_eff(p, v, n, df, 0.95).unwrap();
        assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
        let deff = design_effect(p, v, n).unwrap();
        assert!((deff - 2.0).abs() <= 1e-14, "{deff}");
        // Another confidence level: 90 % uses the .95 quantiles.
        let t90 = |df: f64| t_quantile(0.95, df).unwrap();
        let n90 = kg_n_eff(0.0, 0.0, 40.0, 10.0, 0.9).unwrap();
        let want = 40.0 * (t90(39.0) / t90(10.0)).powi(2);
        assert!((n90 - want).abs() <= 1e-13 * want);
        let up90 = kg_upper(0.0, n90, 0.9).unwrap();
        assert!((up90 - (1.0 - 0.05f64.powf(1.0 / n90))).abs() <= 1e-13 * up90);
        assert!(up90 < up);
        assert!((kg_lower(1.0, 1.0, 0.9).unwrap() - 0.05).abs() <= 1e-15);
        assert_eq!(kg_upper(0.5, 10.0, 1.0), None);
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
