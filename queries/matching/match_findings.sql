-- match_findings (registers.md §3): every rule's findings, one row per rule, person (or
-- household) and register row. Columns: rule_id, department, province_code, county_code,
-- household_id, person_id, relation, register_file, register_line, detail. NULL marks what a
-- finding does not have (an empty field in the CSV): household_id and relation for
-- match.missed_assistance, person_id and relation for match.housing, register_file and
-- register_line where the finding is the absence of a record. Ordered by county, household
-- (missed assistance last), rule, person and register line. Confidential like the census
-- tables: it stays on the warehouse side.
WITH findings AS (
    SELECT * FROM match_deceased
    UNION ALL SELECT * FROM match_vehicle
    UNION ALL SELECT * FROM match_business
    UNION ALL SELECT * FROM match_public_employee
    UNION ALL SELECT * FROM match_urban_property
    UNION ALL SELECT * FROM match_schooling
    UNION ALL SELECT * FROM match_medical_insurance
    UNION ALL SELECT * FROM match_disability
    UNION ALL SELECT * FROM match_housing
    UNION ALL SELECT * FROM match_missed_assistance
)
SELECT f.rule_id,
       f.department,
       f.province_code,
       f.county_code,
       f.household_id,
       f.person_id,
       f.relation,
       f.register_file,
       f.register_line,
       f.detail
FROM findings AS f
JOIN match_rules AS r ON r.rule_id = f.rule_id
ORDER BY f.county_code, f.household_id NULLS LAST, r.rule_order, f.person_id NULLS FIRST,
         f.register_line NULLS FIRST
