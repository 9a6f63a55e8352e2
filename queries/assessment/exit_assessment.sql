-- County exit assessment (三率一度, exit-assessment.md §2-§5): one row per assessed county.
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
-- Intervals: estimate ± t(df)·SE, df = PSUs − strata (at least 1), clipped to [0, 100].
-- A ratio whose base is empty in the sample is NULL, and so is everything built on it; a
-- county with fewer than two PSUs has estimates but no standard error (NULL, not zero).
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
           CAST(SUM(appr_x) AS DOUBLE) AS appr_x
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
           100 * r.r_err AS wrong_exit_pct,
           100 * SQRT(v.v_err) AS wrong_exit_se,
           100 * r.r_miss AS missed_pct,
           100 * SQRT(v.v_miss) AS missed_se,
           100 * r.r_appr AS approval_pct,
           100 * SQRT(v.v_appr) AS approval_se,
           100 * (r.n_remaining + r.r_err * r.n_exited + r.r_miss * r.n_nonreg)
               / NULLIF(r.rural_population, 0) AS incidence_pct,
           100 * SQRT(v.v_inc) AS incidence_se,
           t_quantile((1 + ${confidence_level}) / 2, GREATEST(r.psus - r.strata, 1)) AS t
    FROM ratios AS r
    JOIN variances AS v ON v.county_code = r.county_code
    LEFT JOIN lonely AS l ON l.county_code = r.county_code
),
intervals AS (
    SELECT e.*,
           CASE WHEN wrong_exit_se IS NOT NULL THEN GREATEST(0.0, wrong_exit_pct - t * wrong_exit_se) END AS wrong_exit_ci_low,
           CASE WHEN wrong_exit_se IS NOT NULL THEN LEAST(100.0, wrong_exit_pct + t * wrong_exit_se) END AS wrong_exit_ci_high,
           CASE WHEN missed_se IS NOT NULL THEN GREATEST(0.0, missed_pct - t * missed_se) END AS missed_ci_low,
           CASE WHEN missed_se IS NOT NULL THEN LEAST(100.0, missed_pct + t * missed_se) END AS missed_ci_high,
           CASE WHEN approval_se IS NOT NULL THEN GREATEST(0.0, approval_pct - t * approval_se) END AS approval_ci_low,
           CASE WHEN approval_se IS NOT NULL THEN LEAST(100.0, approval_pct + t * approval_se) END AS approval_ci_high,
           CASE WHEN incidence_se IS NOT NULL THEN GREATEST(0.0, incidence_pct - t * incidence_se) END AS incidence_ci_low,
           CASE WHEN incidence_se IS NOT NULL THEN LEAST(100.0, incidence_pct + t * incidence_se) END AS incidence_ci_high,
           incidence_pct < threshold_pct AS passes_incidence,
           wrong_exit_pct < ${wrong_exit_max_pct} AS passes_wrong_exit,
           missed_pct < ${missed_max_pct} AS passes_missed,
           approval_pct >= ${approval_min_pct} AS passes_approval
    FROM estimates AS e
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
       missed_pct, missed_se, missed_ci_low, missed_ci_high,
       approval_pct, approval_se, approval_ci_low, approval_ci_high,
       incidence_pct, incidence_se, incidence_ci_low, incidence_ci_high,
       CASE WHEN n_exited > 0 THEN 100.0 * census_wrongly_exited_persons / n_exited END
           AS census_wrong_exit_pct,
       passes_incidence, passes_wrong_exit, passes_missed, passes_approval,
       exit_recommended,
       -- robust: every 95 % interval on the passing side; borderline: the estimates pass but
       -- an interval crosses its threshold (or could not be computed); fail: an estimate fails
       -- or cannot be made.
       CASE WHEN NOT exit_recommended THEN 'fail'
            WHEN incidence_ci_high < threshold_pct
                 AND wrong_exit_ci_high < ${wrong_exit_max_pct}
                 AND missed_ci_high < ${missed_max_pct}
                 AND approval_ci_low >= ${approval_min_pct} THEN 'robust'
            ELSE 'borderline'
       END AS confidence
FROM decisions
ORDER BY county_code
