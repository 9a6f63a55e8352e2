-- Weighted totals of the evaluators' sample per county, stratum and PSU (sampled village),
-- the inputs of the ratio estimators of exit-assessment.md §2:
--   err_y / err_x    Σ w·persons·[wrongly_exited = 1] / Σ w·persons      over sample type 1
--   miss_y / miss_x  Σ w·missed_persons              / Σ w·persons      over sample type 3
--   appr_y / appr_x  Σ w·[approval in (1, 2)]         / Σ w              over all households
-- and the sampled households of each rate's domain (err_n: type 1, miss_n: type 3,
-- households: all), the n of the Korn–Graubard intervals.
-- Sums are exact decimals (weights to 12 places), so they do not depend on the order rows
-- are added in; 76 digits (DataFusion's 256-bit decimal), so a weight up to 1e60 cannot
-- overflow them.
WITH sample AS (
    SELECT county_code, stratum, village_code, sample_type, persons, wrongly_exited,
           missed_persons, approval,
           CAST(weight AS DECIMAL(76, 12)) AS w
    FROM assessment_households
)
SELECT county_code,
       CAST(stratum AS BIGINT) AS stratum,
       village_code,
       COUNT(*) AS households,
       SUM(CASE WHEN sample_type = 1 AND wrongly_exited = 1 THEN w * persons ELSE 0 END) AS err_y,
       SUM(CASE WHEN sample_type = 1 THEN w * persons ELSE 0 END)                         AS err_x,
       SUM(CASE WHEN sample_type = 3 THEN w * missed_persons ELSE 0 END)                  AS miss_y,
       SUM(CASE WHEN sample_type = 3 THEN w * persons ELSE 0 END)                         AS miss_x,
       SUM(CASE WHEN approval IN (1, 2) THEN w ELSE 0 END)                                AS appr_y,
       SUM(w)                                                                             AS appr_x,
       COUNT(*) FILTER (WHERE sample_type = 1)                                            AS err_n,
       COUNT(*) FILTER (WHERE sample_type = 3)                                            AS miss_n
FROM sample
GROUP BY county_code, stratum, village_code
