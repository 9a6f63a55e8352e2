-- The follow-up list (疑似问题核实清单): sampled households the evaluators found wrongly exited
-- (type 1, 错退) or with members who meet the standard but were never registered (type 3, 漏评).
-- A registered household is named by its household_id, a non-registered one only by its
-- village; never a name or an ID number.
SELECT county_code,
       village_code,
       CAST(stratum AS BIGINT) AS stratum,
       CAST(sample_type AS BIGINT) AS sample_type,
       household_id,
       CASE WHEN sample_type = 1 THEN 'wrongly_exited' ELSE 'missed_persons' END AS finding,
       CASE WHEN sample_type = 1 THEN '错退' ELSE '漏评' END AS finding_name,
       persons,
       CASE WHEN sample_type = 3 THEN missed_persons END AS missed_persons
FROM assessment_households
WHERE (sample_type = 1 AND wrongly_exited = 1)
   OR (sample_type = 3 AND missed_persons > 0)
ORDER BY county_code, village_code, finding DESC, household_id, persons, missed_persons
