-- Links of the exit-assessment sample to the census tables:
--   key.orphan                 the county is not a loaded county
--   assessment.village_county  the sampled village is not a loaded village (of that county:
--                              the row rules already checked that its code begins with it)
--   assessment.household       a registered sample household (types 1-2) is not an enumerated
--                              loaded household of the sampled village, or its type disagrees
--                              with the census (type 1 = exit_year filled, 2 = empty)
WITH linked AS (
    SELECT a.province_code, a._line,
           COALESCE(a.household_id, a.village_code) AS record_key,
           CASE
               WHEN c.county_code IS NULL THEN 'key.orphan'
               WHEN v.village_code IS NULL THEN 'assessment.village_county'
               WHEN a.sample_type IN (1, 2)
                    AND (h.household_id IS NULL
                         OR h.enumeration_status <> 1
                         OR substr(a.household_id, 1, 12) <> a.village_code
                         OR (h.exit_year IS NULL) <> (a.sample_type = 2))
                   THEN 'assessment.household'
           END AS rule_id,
           a.county_code, a.village_code, a.household_id
    FROM staged_assessment_households AS a
    LEFT JOIN loaded_counties AS c ON c.county_code = a.county_code
    LEFT JOIN loaded_villages AS v ON v.village_code = a.village_code
    LEFT JOIN loaded_households AS h ON h.household_id = a.household_id
)
SELECT province_code, _line, record_key, rule_id,
       CASE rule_id WHEN 'key.orphan' THEN 'county_code'
                    WHEN 'assessment.village_county' THEN 'village_code'
                    ELSE 'household_id' END AS column_name,
       CASE rule_id
           WHEN 'key.orphan' THEN 'the county ' || county_code || ' is missing from counties.csv or was rejected'
           WHEN 'assessment.village_county' THEN 'the sampled village ' || village_code || ' is missing from villages.csv or was rejected'
           ELSE 'the sampled household ' || household_id || ' is not an enumerated household of village ' || village_code || ' with a matching exit status'
       END AS message
FROM linked
WHERE rule_id IS NOT NULL
