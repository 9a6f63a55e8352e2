-- Keys of table ${table} (key column ${key}) that occur more than once nationally among
-- `candidates_${table}` (key_candidates.sql). duplicates.sql then ranks the occurrences of
-- these keys, registered as `repeated_${table}`.
SELECT record_key
FROM candidates_${table}
GROUP BY record_key
HAVING COUNT(*) > 1
