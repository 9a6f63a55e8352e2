-- Duplicate keys (rule key.duplicate) of table ${table}, key column ${key}, nationally across
-- all provinces. One occurrence is kept: the one already in the warehouse from another
-- province, else the first in (province code, line) order. Every other occurrence is
-- rejected, and its message names the kept record.
--
-- `candidates_${table}`: the rows that compete for each key (key_candidates.sql).
-- `repeated_${table}`: the codes of the keys that occur more than once among them
-- (duplicate_keys.sql); a key's code is equal only for equal keys, and `key_text` gives back
-- the key of a reported row.
WITH ranked AS (
    SELECT c.key_code, c.province_code, c._line, c.in_warehouse,
           ROW_NUMBER() OVER (PARTITION BY c.key_code ORDER BY c.in_warehouse DESC, c.province_code, c._line) AS occurrence,
           FIRST_VALUE(c.province_code) OVER (PARTITION BY c.key_code ORDER BY c.in_warehouse DESC, c.province_code, c._line) AS kept_province,
           FIRST_VALUE(c._line) OVER (PARTITION BY c.key_code ORDER BY c.in_warehouse DESC, c.province_code, c._line) AS kept_line,
           FIRST_VALUE(c.in_warehouse) OVER (PARTITION BY c.key_code ORDER BY c.in_warehouse DESC, c.province_code, c._line) AS kept_in_warehouse
    FROM repeated_${table} AS r
    JOIN candidates_${table} AS c ON c.key_code = r.key_code
)
SELECT province_code,
       _line,
       key_text(key_code) AS record_key,
       '${key}' AS column_name,
       CASE WHEN kept_in_warehouse = 1
            THEN 'duplicate key: the record already in the warehouse for province ' || kept_province || ' is kept'
            ELSE 'duplicate key: the record of province ' || kept_province || ', ${file} line ' || CAST(kept_line AS VARCHAR) || ' is kept'
       END AS message
FROM ranked
WHERE occurrence > 1 AND in_warehouse = 0
