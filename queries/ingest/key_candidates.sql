-- The rows that compete for each key of table ${table} (key column ${key}), nationally: this
-- run's staged rows that are not orphans (`remaining_${table}`) and the current rows of the
-- provinces not in this run (`existing_${table}`, which have no line here). Registered as the
-- view `candidates_${table}` that duplicate_keys.sql and duplicates.sql read. `key_code` is the
-- key as an exact integer (equal only for equal keys), which groups and joins faster than the
-- string: staged rows carry it as `_key`. The key itself is not carried: duplicates.sql spells
-- out the keys of the rows it reports with `key_text(key_code)`.
SELECT _key AS key_code, province_code, _line, 0 AS in_warehouse
FROM remaining_${table}
UNION ALL
SELECT key_code(${key}) AS key_code, province_code, CAST(NULL AS BIGINT) AS _line, 1 AS in_warehouse
FROM existing_${table}
