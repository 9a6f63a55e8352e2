-- Persons of the research extract (research-extracts.md §1), before anonymization: every
-- person of an enumerated registered household, with the household, village and county
-- attributes researchers need. Names, ID numbers, household and village codes and names are
-- not selected. The columns starting with `_` never leave povcensus: src/extract/mod.rs sorts
-- by _household and _person, replaces them by keyed pseudonyms (HMAC-SHA-256 under the
-- extract's key) and generalizes _age, _ethnicity and the county into published values.
-- Age is completed years on ${reference_date}. Income is per capita (the four parts over the
-- declared household size), rounded to 100 yuan and top-coded in src/extract/mod.rs. Persons
-- meet their household on key_code(household_id), the code as an exact integer (faster than
-- the string).
SELECT p.person_id AS _person,
       p.household_id AS _household,
       CAST(p.sex AS BIGINT) AS sex,
       age_on(p.birth_date, DATE '${reference_date}') AS _age,
       CAST(p.ethnicity AS BIGINT) AS _ethnicity,
       CASE WHEN p.health_status = 4 THEN 1 ELSE 2 END AS disabled,
       CAST(p.relation AS BIGINT) AS relation,
       CAST(p.health_status AS BIGINT) AS health_status,
       CAST(p.schooling_status AS BIGINT) AS schooling_status,
       CAST(p.medical_insurance AS BIGINT) AS medical_insurance,
       CAST(h.poverty_attribute AS BIGINT) AS poverty_attribute,
       CAST(h.registered_year AS BIGINT) AS registered_year,
       CAST(h.exit_year AS BIGINT) AS exit_year,
       CAST(v.is_poor_village AS BIGINT) AS poor_village,
       CAST(c.county_type AS BIGINT) AS county_type,
       c.sampling_weight AS weight,
       (h.income_wage + h.income_business + h.income_property + h.income_transfer)
           / h.household_size AS _income_per_capita
FROM persons AS p
JOIN households AS h ON key_code(h.household_id) = key_code(p.household_id)
JOIN villages AS v ON v.village_code = substr(h.household_id, 1, 12)
JOIN counties AS c ON c.county_code = substr(h.household_id, 1, 6)
WHERE h.enumeration_status = 1
