-- Orphan villages (rule key.orphan): a village whose township (the first 9 digits of its
-- code) is not among the loaded townships: missing from townships.csv or rejected there,
-- also when the township was rejected because its own county was.
SELECT v.province_code,
       v._line,
       v.village_code AS record_key,
       'village_code' AS column_name,
       'the township ' || substr(v.village_code, 1, 9) || ' of this village is missing from townships.csv or was rejected' AS message
FROM staged_villages AS v
WHERE NOT EXISTS (
    SELECT 1 FROM loaded_townships AS t
    WHERE t.township_code = substr(v.village_code, 1, 9)
)
