-- Household warnings, over loaded rows (the household stays loaded and is flagged):
--   household.size_mismatch  household_size differs from the number of loaded members
--   household.head_count     not exactly one loaded member with relation 1 (head)
--   household.head_id        head_id_number differs from the person_id of the one head
-- Keys are compared by their codes, exact integers equal only for equal keys, which group and
-- join faster than the strings: a household's `_key` (household_id) and `_head_key`
-- (head_id_number), a person's `_key` (person_id) and `_household_key` (household_id).
-- Each household meets the three rules in one pass: a CTE named in three branches of a
-- UNION ALL would be computed three times.
WITH members AS (
    SELECT _household_key AS household_key,
           COUNT(*) AS members,
           SUM(CASE WHEN relation = 1 THEN 1 ELSE 0 END) AS heads,
           MIN(CASE WHEN relation = 1 THEN _key END) AS head_key
    FROM loaded_persons
    GROUP BY _household_key
),
households AS (
    SELECT h.province_code, h._line, h.household_id, h.household_size, h._head_key,
           COALESCE(m.members, 0) AS members,
           COALESCE(m.heads, 0) AS heads,
           m.head_key
    FROM loaded_households AS h
    LEFT JOIN members AS m ON m.household_key = h._key
    WHERE h.enumeration_status = 1
),
rules (rule_id) AS (
    VALUES ('household.size_mismatch'), ('household.head_count'), ('household.head_id')
)
SELECT h.province_code, h._line, h.household_id AS record_key, r.rule_id,
       CASE r.rule_id
           WHEN 'household.size_mismatch' THEN 'household_size'
           WHEN 'household.head_id' THEN 'head_id_number'
       END AS column_name,
       CASE r.rule_id
           WHEN 'household.size_mismatch'
               THEN 'household_size is ' || CAST(h.household_size AS VARCHAR) || ' but ' || CAST(h.members AS VARCHAR) || ' member rows were loaded'
           WHEN 'household.head_count'
               THEN 'the household has ' || CAST(h.heads AS VARCHAR) || ' loaded members with relation 1 (head); exactly one is expected'
           ELSE 'head_id_number differs from the ID number of the member recorded as head'
       END AS message
FROM households AS h
CROSS JOIN rules AS r
WHERE (r.rule_id = 'household.size_mismatch' AND h.household_size <> h.members)
   OR (r.rule_id = 'household.head_count' AND h.heads <> 1)
   OR (r.rule_id = 'household.head_id' AND h.heads = 1 AND h._head_key <> h.head_key)
