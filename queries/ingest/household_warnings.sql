-- Household warnings, over loaded rows (the household stays loaded and is flagged):
--   household.size_mismatch  household_size differs from the number of loaded members
--   household.head_count     not exactly one loaded member with relation 1 (head)
--   household.head_id        head_id_number differs from the person_id of the one head
-- Members are grouped and joined to their household by key_code(household_id), the code as an
-- exact integer (equal only for equal codes), which is faster than the string.
WITH members AS (
    SELECT key_code(household_id) AS household_key,
           COUNT(*) AS members,
           SUM(CASE WHEN relation = 1 THEN 1 ELSE 0 END) AS heads,
           MIN(CASE WHEN relation = 1 THEN person_id END) AS head_person_id
    FROM loaded_persons
    GROUP BY key_code(household_id)
),
households AS (
    SELECT h.province_code, h._line, h.household_id, h.household_size, h.head_id_number,
           COALESCE(m.members, 0) AS members,
           COALESCE(m.heads, 0) AS heads,
           m.head_person_id
    FROM loaded_households AS h
    LEFT JOIN members AS m ON m.household_key = key_code(h.household_id)
    WHERE h.enumeration_status = 1
)
SELECT province_code, _line, household_id AS record_key, 'household.size_mismatch' AS rule_id,
       'household_size' AS column_name,
       'household_size is ' || CAST(household_size AS VARCHAR) || ' but ' || CAST(members AS VARCHAR) || ' member rows were loaded' AS message
FROM households
WHERE household_size <> members
UNION ALL
SELECT province_code, _line, household_id, 'household.head_count', CAST(NULL AS VARCHAR),
       'the household has ' || CAST(heads AS VARCHAR) || ' loaded members with relation 1 (head); exactly one is expected'
FROM households
WHERE heads <> 1
UNION ALL
SELECT province_code, _line, household_id, 'household.head_id', 'head_id_number',
       'head_id_number differs from the ID number of the member recorded as head'
FROM households
WHERE heads = 1 AND head_id_number <> head_person_id
