-- Keys of table ${table} (key column ${key}) that occur more than once nationally among
-- `candidates_${table}` (key_candidates.sql), by their codes. duplicates.sql then ranks the
-- occurrences of these keys, registered as `repeated_${table}`. When the pool can hold every
-- candidate's code (8 bytes each) the same keys are found in memory instead, by sorting the
-- codes (`repeated_codes_in_memory` in src/ingest/cross.rs, tested against this statement);
-- this aggregate, which spills, is for a census whose codes do not fit.
SELECT key_code
FROM candidates_${table}
GROUP BY key_code
HAVING COUNT(*) > 1
