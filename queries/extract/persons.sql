-- Persons of the research extract (research-extracts.md §1), before anonymization: every
-- person of an enumerated registered household, with the household, village and county
-- attributes researchers need. Direct identifiers leave here as pseudonyms: pseudonym() is the
-- keyed HMAC-SHA-256 of the extract's key (src/extract.rs); names, ID numbers, household and
-- village codes and names are not selected. Age is completed years on ${reference_date}.
SELECT pseudonym('person', p.person_id) AS person_key,
       pseudonym('household', p.household_id) AS household_key,
       p.household_id AS _household,
       substr(p.household_id, 1, 6) AS _county,
       CAST(p.sex AS BIGINT) AS sex,
       CAST(extract(year FROM DATE '${reference_date}') - extract(year FROM p.birth_date) AS INT)
         - CASE WHEN extract(month FROM p.birth_date) * 100 + extract(day FROM p.birth_date)
                   > extract(month FROM DATE '${reference_date}') * 100 + extract(day FROM DATE '${reference_date}')
                THEN 1 ELSE 0 END AS _age,
       CAST(p.ethnicity AS BIGINT) AS _ethnicity,
       CASE WHEN p.health_status = 4 THEN 1 ELSE 2 END AS disabled,
       CAST(p.relation AS BIGINT) AS relation,
       CAST(p.health_status AS BIGINT) AS health_status,
       CAST(p.schooling_status AS BIGINT) AS schooling_status,
       CAST(p.medical_insurance AS BIGINT) AS medical_insurance
FROM persons AS p
JOIN households AS h ON h.household_id = p.household_id
WHERE h.enumeration_status = 1
ORDER BY p.household_id, p.person_id
