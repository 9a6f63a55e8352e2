-- Village exit (贫困村退出, indicators.md §6). For every village: poor_persons = the members of
-- its enumerated registered households that do not meet the exit standard; population = the
-- village's registered population (户籍人口); incidence_pct = poor_persons / population × 100;
-- the village passes when the incidence is below its province's threshold (2 % in the central,
-- 3 % in the western provinces). A village with population 0 has no incidence and no verdict.
WITH poor AS (
    SELECT substr(household_id, 1, 12) AS village_code,
           SUM(CASE WHEN exit_standard_met THEN 0 ELSE members END) AS poor_persons
    FROM household_facts
    GROUP BY substr(household_id, 1, 12)
)
SELECT v.village_code,
       substr(v.village_code, 1, 6) AS county_code,
       CAST(COALESCE(p.poor_persons, 0) AS BIGINT) AS poor_persons,
       v.population,
       CASE WHEN v.population > 0 THEN 100.0 * COALESCE(p.poor_persons, 0) / v.population END AS incidence_pct,
       r.exit_threshold_pct AS threshold_pct,
       CASE WHEN v.population > 0
            THEN 100.0 * COALESCE(p.poor_persons, 0) / v.population < r.exit_threshold_pct
       END AS passes
FROM villages AS v
LEFT JOIN poor AS p ON p.village_code = v.village_code
JOIN ref_provinces AS r ON r.province_code = v.province_code
ORDER BY v.village_code
