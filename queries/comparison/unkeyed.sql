-- Rows of one table of one province added and removed between two snapshots, for a table
-- without a primary key (`povcensus diff`): the rows are compared whole, as multisets. `a` is
-- the table's file in the earlier snapshot, `b` in the later one; a row present n times in
-- `a` and m times in `b` counts m − n added or n − m removed. Identical rows are matched
-- NULL-safely (NULL matches NULL). Without a key a changed row shows as one removed and one
-- added, so `changed` is 0.
WITH a_rows AS (
    SELECT ${columns}, COUNT(*) AS n FROM a GROUP BY ${columns}
),
b_rows AS (
    SELECT ${columns}, COUNT(*) AS n FROM b GROUP BY ${columns}
),
paired AS (
    SELECT COALESCE(a_rows.n, 0) AS n_a, COALESCE(b_rows.n, 0) AS n_b
    FROM a_rows
    FULL OUTER JOIN b_rows ON ${same}
)
SELECT
    CAST(COALESCE(SUM(CASE WHEN n_b > n_a THEN n_b - n_a ELSE 0 END), 0) AS BIGINT) AS added,
    CAST(COALESCE(SUM(CASE WHEN n_a > n_b THEN n_a - n_b ELSE 0 END), 0) AS BIGINT) AS removed,
    CAST(0 AS BIGINT) AS changed
FROM paired
