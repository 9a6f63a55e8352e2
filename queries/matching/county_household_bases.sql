-- Census households per county for the matching rates' bases (county_sums): households, those
-- living in safe housing of their own (match.housing's base), those flagged by an
-- identification rule (vehicle, business, public employee, urban property), and the exited
-- households with any finding.
WITH household_flags AS (
    SELECT h.county_code, h.household_id, h.housing_route, h.exit_year,
           SUM(CASE WHEN f.rule_id IN ('match.vehicle', 'match.business',
                                       'match.public_employee', 'match.urban_property')
                    THEN 1 ELSE 0 END) AS identification_findings,
           COUNT(f.rule_id) AS findings
    FROM census_households AS h
    LEFT JOIN match_findings AS f ON f.household_id = h.household_id
    GROUP BY h.county_code, h.household_id, h.housing_route, h.exit_year
)
SELECT county_code,
       COUNT(*) AS households,
       SUM(CASE WHEN housing_route = 1 THEN 1 ELSE 0 END) AS safe_existing,
       SUM(CASE WHEN identification_findings > 0 THEN 1 ELSE 0 END) AS identification_flagged,
       SUM(CASE WHEN exit_year IS NOT NULL THEN 1 ELSE 0 END) AS exited,
       SUM(CASE WHEN exit_year IS NOT NULL AND findings > 0 THEN 1 ELSE 0 END) AS exited_flagged
FROM household_flags
GROUP BY county_code
