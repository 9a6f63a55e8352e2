-- The census frame of every assessed county (exit-assessment.md §1), from the census tables:
--   n_registered  persons of the county's enumerated registered households
--   n_exited      those whose household has exit_year filled
--   n_remaining   n_registered − n_exited
--   n_nonreg      rural_population − n_registered (the non-registered rural population)
-- and the census full count of wrongly exited persons (indicators.md, wrongly_exited_persons):
-- members of exited households that do not meet the exit standard, in percent of the members
-- of exited households. A county is assessed when the evaluators' sample has rows for it.
WITH assessed AS (
    SELECT DISTINCT county_code FROM assessment_households
),
registered AS (
    SELECT county_code,
           SUM(members) AS n_registered,
           SUM(CASE WHEN exit_year IS NOT NULL THEN members ELSE 0 END) AS n_exited,
           SUM(CASE WHEN exit_year IS NOT NULL AND NOT exit_standard_met THEN members ELSE 0 END)
               AS census_wrongly_exited_persons
    FROM household_facts
    GROUP BY county_code
)
SELECT c.county_code,
       c.county_name,
       c.province_code,
       p.region,
       p.exit_threshold_pct AS threshold_pct,
       c.rural_population,
       COALESCE(r.n_registered, 0) AS n_registered,
       COALESCE(r.n_exited, 0) AS n_exited,
       COALESCE(r.n_registered, 0) - COALESCE(r.n_exited, 0) AS n_remaining,
       c.rural_population - COALESCE(r.n_registered, 0) AS n_nonreg,
       COALESCE(r.census_wrongly_exited_persons, 0) AS census_wrongly_exited_persons
FROM assessed AS a
JOIN counties AS c ON c.county_code = a.county_code
JOIN ref_provinces AS p ON p.province_code = c.province_code
LEFT JOIN registered AS r ON r.county_code = a.county_code
