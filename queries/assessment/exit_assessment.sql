-- County exit assessment (三率一度, exit-assessment.md §2-§5, version 2): one row per assessed
-- county.
--
-- Estimates are weighted ratios R = Ŷ / X̂ of the PSU totals (psu_totals), in percent:
--   wrong_exit  错退率    err_y / err_x
--   missed      漏评率    miss_y / miss_x
--   approval    认可度    appr_y / appr_x
--   incidence   综合贫困发生率 (n_remaining + r_err·n_exited + r_miss·n_nonreg) / rural_population
-- Standard errors by Taylor linearization: each PSU's linearized value is
-- z_hi = (Y_hi − R·X_hi) / X̂, and the incidence's is (n_exited·z_err + n_nonreg·z_miss) /
-- rural_population, which carries the covariance of its two rates. survey_variance() sums them
-- over strata with replacement, lonely PSUs centred on the county mean (see src/assessment.rs).
-- Intervals of the three rates: Korn–Graubard (§3). kg_n_eff() is the effective sample size
-- n_eff* (p(1 − p)/v, or n when p is 0 or 1 or v is 0, times the degrees-of-freedom factor
-- (t(n − 1)/t(df))², at most n; n = the sampled households of the rate's domain, df = PSUs −
-- strata, at least 1); kg_lower()/kg_upper() are its Beta quantiles, 0 below p = 0 and 1
-- above p = 1. The incidence interval is its formula at the rates' bounds (it increases in
-- both). design_effect() is v·n / (p(1 − p)), NULL when p is 0 or 1 or v is 0.
-- A ratio whose base is empty in the sample is NULL, and so is everything built on it; a
-- county with fewer than two PSUs has estimates but no standard errors, design effects,
-- effective sizes or intervals (NULL, not zero).
WITH county AS (
    SELECT county_code,
           SUM(households) AS sampled_households,
           COUNT(*) AS psus,
           COUNT(DISTINCT stratum) AS strata,
           CAST(SUM(err_y) AS DOUBLE) AS err_y,
           CAST(SUM(err_x) AS DOUBLE) AS err_x,
           CAST(SUM(miss_y) AS DOUBLE) AS miss_y,
           CAST(SUM(miss_x) AS DOUBLE) AS miss_x,
           CAST(SUM(appr_y) AS DOUBLE) AS appr_y,
           CAST(SUM(appr_x) AS DOUBLE) AS appr_x,
           SUM(err_n) AS err_n,
           SUM(miss_n) AS miss_n
    FROM psu_totals
    GROUP BY county_code
),
lonely AS (
    SELECT county_code, COUNT(*) AS lonely_psu_strata
    FROM exit_assessment_design
    WHERE lonely
    GROUP BY county_code
),
ratios AS (
    SELECT c.*,
           f.county_name, f.province_code, f.region, f.threshold_pct, f.rural_population,
           f.n_exited, f.n_remaining, f.n_nonreg, f.census_wrongly_exited_persons,
           c.err_y / NULLIF(c.err_x, 0) AS r_err,
           c.miss_y / NULLIF(c.miss_x, 0) AS r_miss,
           c.appr_y / NULLIF(c.appr_x, 0) AS r_appr
    FROM county AS c
    JOIN county_frame AS f ON f.county_code = c.county_code
),
linearized AS (
    SELECT p.county_code, p.stratum, p.village_code,
           r.n_exited, r.n_nonreg, r.rural_population,
           (CAST(p.err_y AS DOUBLE) - r.r_err * CAST(p.err_x AS DOUBLE)) / r.err_x AS z_err,
           (CAST(p.miss_y AS DOUBLE) - r.r_miss * CAST(p.miss_x AS DOUBLE)) / r.miss_x AS z_miss,
           (CAST(p.appr_y AS DOUBLE) - r.r_appr * CAST(p.appr_x AS DOUBLE)) / r.appr_x AS z_appr
    FROM psu_totals AS p
    JOIN ratios AS r ON r.county_code = p.county_code
),
variances AS (
    SELECT county_code,
           survey_variance(stratum, village_code, z_err) AS v_err,
           survey_variance(stratum, village_code, z_miss) AS v_miss,
           survey_variance(stratum, village_code, z_appr) AS v_appr,
           survey_variance(stratum, village_code,
               (n_exited * z_err + n_nonreg * z_miss) / NULLIF(rural_population, 0)) AS v_inc
    FROM linearized
    GROUP BY county_code
),
estimates AS (
    SELECT r.*,
           COALESCE(l.lonely_psu_strata, 0) AS lonely_psu_strata,
           v.v_err, v.v_miss, v.v_appr,
           GREATEST(r.psus - r.strata, 1) AS df,
           100 * r.r_err AS wrong_exit_pct,
           100 * SQRT(v.v_err) AS wrong_exit_se,
           100 * r.r_miss AS missed_pct,
           100 * SQRT(v.v_miss) AS missed_se,
           100 * r.r_appr AS approval_pct,
           100 * SQRT(v.v_appr) AS approval_se,
           100 * (r.n_remaining + r.r_err * r.n_exited + r.r_miss * r.n_nonreg)
               / NULLIF(r.rural_population, 0) AS incidence_pct,
           100 * SQRT(v.v_inc) AS incidence_se
    FROM ratios AS r
    JOIN variances AS v ON v.county_code = r.county_code
    LEFT JOIN lonely AS l ON l.county_code = r.county_code
),
effective AS (
    SELECT e.*,
           kg_n_eff(r_err, v_err, err_n, df, ${confidence_level}) AS wrong_exit_n_eff,
           kg_n_eff(r_miss, v_miss, miss_n, df, ${confidence_level}) AS missed_n_eff,
           kg_n_eff(r_appr, v_appr, sampled_households, df, ${confidence_level}) AS approval_n_eff,
           design_effect(r_err, v_err, err_n) AS wrong_exit_deff,
           design_effect(r_miss, v_miss, miss_n) AS missed_deff,
           design_effect(r_appr, v_appr, sampled_households) AS approval_deff
    FROM estimates AS e
),
bounds AS (
    SELECT f.*,
           kg_lower(r_err, wrong_exit_n_eff, ${confidence_level}) AS err_low,
           kg_upper(r_err, wrong_exit_n_eff, ${confidence_level}) AS err_high,
           kg_lower(r_miss, missed_n_eff, ${confidence_level}) AS miss_low,
           kg_upper(r_miss, missed_n_eff, ${confidence_level}) AS miss_high,
           kg_lower(r_appr, approval_n_eff, ${confidence_level}) AS appr_low,
           kg_upper(r_appr, approval_n_eff, ${confidence_level}) AS appr_high
    FROM effective AS f
),
intervals AS (
    SELECT b.*,
           100 * err_low AS wrong_exit_ci_low,
           100 * err_high AS wrong_exit_ci_high,
           100 * miss_low AS missed_ci_low,
           100 * miss_high AS missed_ci_high,
           100 * appr_low AS approval_ci_low,
           100 * appr_high AS approval_ci_high,
           100 * (n_remaining + err_low * n_exited + miss_low * n_nonreg)
               / NULLIF(rural_population, 0) AS incidence_ci_low,
           100 * (n_remaining + err_high * n_exited + miss_high * n_nonreg)
               / NULLIF(rural_population, 0) AS incidence_ci_high,
           CASE WHEN n_exited > 0 THEN 100.0 * census_wrongly_exited_persons / n_exited END
               AS census_wrong_exit_pct,
           incidence_pct < threshold_pct AS passes_incidence,
           wrong_exit_pct < ${wrong_exit_max_pct} AS passes_wrong_exit,
           missed_pct < ${missed_max_pct} AS passes_missed,
           approval_pct >= ${approval_min_pct} AS passes_approval
    FROM bounds AS b
),
decisions AS (
    SELECT i.*,
           COALESCE(passes_incidence AND passes_wrong_exit AND passes_missed AND passes_approval,
                    FALSE) AS exit_recommended
    FROM intervals AS i
)
SELECT county_code, county_name, province_code, region, threshold_pct,
       sampled_households, psus, strata, lonely_psu_strata,
       wrong_exit_pct, wrong_exit_se, wrong_exit_ci_low, wrong_exit_ci_high,
       wrong_exit_deff, wrong_exit_n_eff,
       missed_pct, missed_se, missed_ci_low, missed_ci_high,
       missed_deff, missed_n_eff,
       approval_pct, approval_se, approval_ci_low, approval_ci_high,
       approval_deff, approval_n_eff,
       incidence_pct, incidence_se, incidence_ci_low, incidence_ci_high,
       census_wrong_exit_pct,
       -- §4: where the census full count of wrong exits lies against the sample's interval.
       CASE WHEN census_wrong_exit_pct IS NULL OR wrong_exit_ci_low IS NULL
                 OR wrong_exit_ci_high IS NULL THEN NULL
            WHEN census_wrong_exit_pct > wrong_exit_ci_high THEN 'census_higher'
            WHEN census_wrong_exit_pct < wrong_exit_ci_low THEN 'census_lower'
            ELSE 'consistent'
       END AS census_check,
       passes_incidence, passes_wrong_exit, passes_missed, passes_approval,
       exit_recommended,
       -- robust: every interval (at the confidence level) on the passing side; borderline: the
       -- estimates pass but an interval crosses its threshold (or could not be computed); fail:
       -- an estimate fails or cannot be made.
       CASE WHEN NOT exit_recommended THEN 'fail'
            WHEN incidence_ci_high < threshold_pct
                 AND wrong_exit_ci_high < ${wrong_exit_max_pct}
                 AND missed_ci_high < ${missed_max_pct}
                 AND approval_ci_low >= ${approval_min_pct} THEN 'robust'
            ELSE 'borderline'
       END AS confidence
FROM decisions
ORDER BY county_code
