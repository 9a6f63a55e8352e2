-- Rows of one table of one province added, removed and changed between two snapshots
-- (`povcensus diff`). `a` is the table's file in the earlier snapshot, `b` in the later one;
-- rows are matched on the table's primary key ${key} (one row per key in each: ingest keeps
-- keys unique). A row is changed when any other column differs, NULL-safely: NULL against
-- NULL is no change, NULL against a value is one. Only counts leave the query, never a key.
SELECT
    CAST(COUNT(*) FILTER (WHERE a.${key} IS NULL) AS BIGINT) AS added,
    CAST(COUNT(*) FILTER (WHERE b.${key} IS NULL) AS BIGINT) AS removed,
    CAST(COUNT(*) FILTER (
        WHERE a.${key} IS NOT NULL AND b.${key} IS NOT NULL AND (${differs})
    ) AS BIGINT) AS changed
FROM a
FULL OUTER JOIN b ON a.${key} = b.${key}
