-- Keys of table ${table} (key column ${key}) that occur more than once nationally: among this
-- run's staged rows that are not orphans (`remaining_${table}`) and the current rows of the
-- provinces not in this run (`existing_${table}`). duplicates.sql then ranks the occurrences of
-- these keys, registered as `repeated_${table}`.
SELECT record_key
FROM (
    SELECT ${key} AS record_key FROM remaining_${table}
    UNION ALL
    SELECT ${key} AS record_key FROM existing_${table}
) AS candidates
GROUP BY record_key
HAVING COUNT(*) > 1
