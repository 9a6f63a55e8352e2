"""Reference estimates for the county exit assessment, computed by the svy survey package.

Usage: python svy_assessment.py SAMPLE.csv FRAME.csv > reference.json

SAMPLE.csv: the evaluators' sample rows (county_code, stratum, village_code, sample_type,
weight, persons, wrongly_exited, missed_persons, approval).
FRAME.csv: per county n_exited, n_remaining, n_nonreg, rural_population.

For every county svy declares the design of exit-assessment.md §3 (strata, villages as PSUs,
design weights, with replacement, lonely PSUs centred on the grand mean = R's "adjust") and
estimates, in percent, with standard errors and 95 % t intervals clipped to [0, 100]:
  wrong_exit  ratio of persons·[wrongly_exited = 1] to persons over sample type 1
  missed      ratio of missed_persons to persons over sample type 3
  approval    ratio of [approval in (1, 2)] to 1 over all households
  incidence   (n_remaining + n_exited·R_1 + n_nonreg·R_3) / rural_population, with R_1 and R_3
              domain ratios by sample type and the variance from svy's contrast (their
              covariance included).
Output: one JSON object per county with [estimate, se, ci_low, ci_high] per indicator, df,
and the number of singleton strata svy found.
"""

import json
import sys

import polars as pl
import svy
from scipy import stats


def clip(x):
    return min(100.0, max(0.0, x))


def row(est, se, t):
    est, se = 100.0 * est, 100.0 * se
    return [est, se, clip(est - t * se), clip(est + t * se)]


def main(sample_path, frame_path):
    data = pl.read_csv(sample_path, infer_schema_length=0).with_columns(
        pl.col("stratum").cast(pl.Int64),
        pl.col("sample_type").cast(pl.Int64),
        pl.col("weight").cast(pl.Float64),
        pl.col("persons").cast(pl.Float64),
        pl.col("wrongly_exited").cast(pl.Int64),
        pl.col("missed_persons").cast(pl.Float64),
        pl.col("approval").cast(pl.Int64),
    )
    t1 = pl.col("sample_type") == 1
    t3 = pl.col("sample_type") == 3
    data = data.with_columns(
        pl.when(t1 & (pl.col("wrongly_exited") == 1)).then(pl.col("persons")).otherwise(0.0).alias("err_y"),
        pl.when(t1).then(pl.col("persons")).otherwise(0.0).alias("err_x"),
        pl.when(t3).then(pl.col("missed_persons")).otherwise(0.0).alias("miss_y"),
        pl.when(t3).then(pl.col("persons")).otherwise(0.0).alias("miss_x"),
        pl.col("approval").is_in([1, 2]).cast(pl.Float64).alias("appr_y"),
        pl.lit(1.0).alias("appr_x"),
        # One numerator column for the two domain ratios of the incidence.
        pl.when(t1 & (pl.col("wrongly_exited") == 1)).then(pl.col("persons"))
        .when(t3).then(pl.col("missed_persons")).otherwise(0.0).alias("dom_y"),
    )
    frame = {
        r["county_code"]: r
        for r in pl.read_csv(frame_path, infer_schema_length=0).iter_rows(named=True)
    }
    for county in sorted(data["county_code"].unique().to_list()):
        d = data.filter(pl.col("county_code") == county)
        sample = svy.Sample(
            d,
            svy.Design(stratum="stratum", psu="village_code", wgt="weight", wr=True,
                       singleton="center"),
        )
        singles = sample.singletons
        out = {"county_code": county, "singletons": 0 if singles is None else len(singles)}
        df = None
        for name, y, x in [("wrong_exit", "err_y", "err_x"), ("missed", "miss_y", "miss_x"),
                           ("approval", "appr_y", "appr_x")]:
            r = sample.estimation.ratio(y, x).to_polars().row(0, named=True)
            df = r["df"]
            out[name] = row(r["est"], r["se"], stats.t.ppf(0.975, max(df, 1)))
        f = frame[county]
        rural = float(f["rural_population"])
        a, b = float(f["n_exited"]) / rural, float(f["n_nonreg"]) / rural
        dom = sample.estimation.ratio("dom_y", "persons", by="sample_type")
        c = dom.contrast(a * svy.estd(1) + b * svy.estd(3)).to_polars().row(0, named=True)
        est = float(f["n_remaining"]) / rural + c["est"]
        out["incidence"] = row(est, c["se"], stats.t.ppf(0.975, max(df, 1)))
        out["df"] = df
        print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
