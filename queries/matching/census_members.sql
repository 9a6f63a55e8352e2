-- Census members (registers.md §2): the loaded persons of enumerated households
-- (census_households), with their age in completed years on the reference date
-- (census/person_ages.sql), household, relation to the head, county and province, and the key
-- they are matched on: the ID number, the first 18 characters of person_id (a 20-character
-- disability-card number carries the ID number in front; an 18-character person_id is its
-- own key). Matching is exact: ingest has already written a lower-case x as X.
SELECT p.person_id,
       substr(p.person_id, 1, 18) AS id_key,
       p.household_id,
       p.relation,
       p.age,
       p.schooling_status,
       p.health_status,
       p.medical_insurance,
       h.county_code,
       h.province_code
FROM person_ages AS p
JOIN census_households AS h ON h.household_id = p.household_id
