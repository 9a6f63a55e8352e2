-- match.medical_insurance (基本医疗): a member recorded in the census as insured
-- (medical_insurance 1-3) who has no normal (status 1 正常参保) enrolment for the reference year
-- (the year of ${reference_date}), or recorded as uninsured (4) who has one. The first is the
-- absence of a record: it has no register row and is only drawn where the medical-insurance
-- register covers the member's county (register_coverage). The second names each enrolment.
WITH enrolled AS (
    SELECT substr(id_number, 1, 18) AS id_key, scheme, source_line
    FROM register_medical_insurance
    WHERE status = 1
      AND CAST(year AS INT) = CAST(date_part('year', DATE '${reference_date}') AS INT)
),
covered AS (
    SELECT county_code FROM register_coverage WHERE register_file = 'medical_insurance.csv'
)
SELECT 'match.medical_insurance' AS rule_id,
       'medical_insurance' AS department,
       m.province_code,
       m.county_code,
       m.household_id,
       m.person_id,
       m.relation,
       CAST(NULL AS VARCHAR) AS register_file,
       CAST(NULL AS BIGINT) AS register_line,
       '医保参保登记：无' || CAST(date_part('year', DATE '${reference_date}') AS BIGINT)
           || '年度正常参保记录（普查登记为已参保）' AS detail
FROM census_members AS m
WHERE m.medical_insurance IN (1, 2, 3)
  AND m.county_code IN (SELECT county_code FROM covered)
  AND NOT EXISTS (SELECT 1 FROM enrolled AS e WHERE e.id_key = m.id_key)
UNION ALL
SELECT 'match.medical_insurance',
       'medical_insurance',
       m.province_code,
       m.county_code,
       m.household_id,
       m.person_id,
       m.relation,
       'medical_insurance.csv',
       e.source_line,
       '医保参保登记：' || CAST(date_part('year', DATE '${reference_date}') AS BIGINT) || '年度'
           || CASE e.scheme WHEN 1 THEN '城乡居民' ELSE '职工' END
           || '基本医疗保险正常参保（普查登记为未参保）'
FROM census_members AS m
JOIN enrolled AS e ON e.id_key = m.id_key
WHERE m.medical_insurance = 4
