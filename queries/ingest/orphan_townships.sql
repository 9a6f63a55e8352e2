-- Orphan townships (rule key.orphan): a township whose county (the first 6 digits of its
-- code) is not among the loaded counties of its province: missing from counties.csv or
-- rejected there.
SELECT t.province_code,
       t._line,
       t.township_code AS record_key,
       'township_code' AS column_name,
       'the county ' || substr(t.township_code, 1, 6) || ' of this township is missing from counties.csv or was rejected' AS message
FROM staged_townships AS t
WHERE NOT EXISTS (
    SELECT 1 FROM loaded_counties AS c
    WHERE c.county_code = substr(t.township_code, 1, 6)
)
