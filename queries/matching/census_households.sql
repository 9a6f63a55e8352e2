-- Census households: the enumerated registered households — the household base of
-- indicators.md §1, rows of households with enumeration_status = 1, exactly as
-- census/household_facts.sql selects them (read here without that file's member sums, which
-- every rule would otherwise recompute) — with what the rules read: county and province, the
-- head's ID number as recorded (head_id_number) and the 18 characters it is matched on, the
-- housing route and the exit year (empty = not marked as exited).
SELECT household_id,
       substr(household_id, 1, 6) AS county_code,
       province_code,
       head_id_number,
       substr(head_id_number, 1, 18) AS head_id_key,
       housing_route,
       exit_year
FROM households
WHERE enumeration_status = 1
