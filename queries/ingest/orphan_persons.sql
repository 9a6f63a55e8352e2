-- Orphan persons (rule key.orphan): a person whose household is not a loaded household with
-- enumeration_status = 1: missing from households.csv, rejected there, or not enumerated
-- (whole household unreachable or refusing, so it has no members). The households are matched
-- on the code of household_id (`_key` of a household, `_household_key` of a person: the code as
-- an exact integer, equal only for equal codes, which is faster than the string). A person's
-- checks carry its keys only as codes; `key_text` spells out those of the persons reported.
SELECT p.province_code,
       p._line,
       key_text(p._key) AS record_key,
       'household_id' AS column_name,
       'the household ' || key_text(p._household_key) || ' of this person is missing from households.csv, was rejected, or was not enumerated' AS message
FROM staged_persons AS p
WHERE NOT EXISTS (
    SELECT 1 FROM loaded_households AS h
    WHERE h._key = p._household_key
      AND h.enumeration_status = 1
)
