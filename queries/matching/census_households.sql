-- Census households: the enumerated registered households of census/household_facts.sql
-- (enumeration_status = 1), with what the rules read: county and province, the head's ID
-- number as recorded (head_id_number) and the 18 characters it is matched on, the housing
-- route and the exit year (empty = not marked as exited).
SELECT household_id,
       county_code,
       province_code,
       head_id_number,
       substr(head_id_number, 1, 18) AS head_id_key,
       housing_route,
       exit_year
FROM household_facts
