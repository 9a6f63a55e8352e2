-- The sample design of every assessed county, one row per stratum: its PSUs (sampled
-- villages) and households. A stratum with a single PSU is a lonely-PSU stratum (lonely):
-- its variance contribution is centred on the county's mean PSU total (exit-assessment.md §3),
-- and the evaluator report lists it.
SELECT county_code,
       stratum,
       CASE stratum WHEN 1 THEN '贫困村' WHEN 2 THEN '非贫困村' END AS stratum_name,
       COUNT(*) AS psus,
       SUM(households) AS households,
       COUNT(*) = 1 AS lonely
FROM psu_totals
GROUP BY county_code, stratum
ORDER BY county_code, stratum
