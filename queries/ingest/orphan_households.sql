-- Orphan households (rule key.orphan): a household whose village (the first 12 digits of
-- household_id) is not among the loaded villages.
SELECT h.province_code,
       h._line,
       h.household_id AS record_key,
       'household_id' AS column_name,
       'the village ' || substr(h.household_id, 1, 12) || ' of this household is missing from villages.csv or was rejected' AS message
FROM staged_households AS h
WHERE NOT EXISTS (
    SELECT 1 FROM loaded_villages AS v
    WHERE v.village_code = substr(h.household_id, 1, 12)
)
