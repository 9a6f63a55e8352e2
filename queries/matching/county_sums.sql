-- Matching counts per county, in the long form census/indicators.sql rolls up by scope and
-- level (county_code, indicator_id, indicator_order, numerator, denominator):
--   <rule_id>                  flagged units / units checked: persons (children aged 6-15 for
--                              match.schooling, households with housing_route 1 for
--                              match.housing, ongoing recipients for match.missed_assistance)
--                              with at least one finding of the rule
--   <rule_id>:findings         findings (rows of match_findings) / units checked
--   accuracy.identification    registered households with an identification finding
--                              (vehicle, business, public_employee, urban_property) / households
--   accuracy.identification:clear   the households without one / households
--   accuracy.exit              exited households (exit_year not empty) with any finding / exited
--   accuracy.exit:clear        the exited households without any finding / exited
-- A rule counts in the counties its register covers (register_coverage); the identification
-- figures in the counties at least one of the four identification registers covers, the exit
-- figures in the counties any register covers.
WITH covered AS (
    SELECT r.rule_id, r.rule_order, r.unit, c.county_code
    FROM match_rules AS r
    JOIN register_coverage AS c ON c.register_file = r.register_file
),
checked AS (
    SELECT c.county_code, c.rule_id, c.rule_order,
           COALESCE(CASE c.unit WHEN 'persons' THEN p.persons
                                WHEN 'children' THEN p.children
                                WHEN 'households' THEN h.safe_existing
                                WHEN 'recipients' THEN r.recipients END, 0) AS units
    FROM covered AS c
    LEFT JOIN county_person_bases AS p ON p.county_code = c.county_code
    LEFT JOIN county_household_bases AS h ON h.county_code = c.county_code
    LEFT JOIN county_recipient_bases AS r ON r.county_code = c.county_code
),
found AS (
    SELECT county_code, rule_id,
           COUNT(*) AS findings,
           COUNT(DISTINCT COALESCE(person_id, household_id)) AS flagged
    FROM match_findings
    GROUP BY county_code, rule_id
),
identification_counties AS (
    SELECT DISTINCT county_code FROM covered
    WHERE rule_id IN ('match.vehicle', 'match.business', 'match.public_employee',
                      'match.urban_property')
)
SELECT c.county_code, c.rule_id AS indicator_id, 2 * c.rule_order AS indicator_order,
       COALESCE(f.flagged, 0) AS numerator, c.units AS denominator
FROM checked AS c
LEFT JOIN found AS f ON f.county_code = c.county_code AND f.rule_id = c.rule_id
UNION ALL
SELECT c.county_code, c.rule_id || ':findings', 2 * c.rule_order + 1,
       COALESCE(f.findings, 0), c.units
FROM checked AS c
LEFT JOIN found AS f ON f.county_code = c.county_code AND f.rule_id = c.rule_id
UNION ALL
SELECT county_code, 'accuracy.identification', 101, identification_flagged, households
FROM county_household_bases
WHERE county_code IN (SELECT county_code FROM identification_counties)
UNION ALL
SELECT county_code, 'accuracy.identification:clear', 102, households - identification_flagged, households
FROM county_household_bases
WHERE county_code IN (SELECT county_code FROM identification_counties)
UNION ALL
SELECT county_code, 'accuracy.exit', 103, exited_flagged, exited
FROM county_household_bases
WHERE county_code IN (SELECT county_code FROM covered)
UNION ALL
SELECT county_code, 'accuracy.exit:clear', 104, exited - exited_flagged, exited
FROM county_household_bases
WHERE county_code IN (SELECT county_code FROM covered)
