-- Keys of table ${table} (key column ${key}) that occur more than once nationally among
-- `candidates_${table}` (key_candidates.sql), by their codes. duplicates.sql then ranks the
-- occurrences of these keys, registered as `repeated_${table}`.
SELECT key_code
FROM candidates_${table}
GROUP BY key_code
HAVING COUNT(*) > 1
