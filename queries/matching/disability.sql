-- match.disability (consistency): a member recorded in the census as disabled (health_status
-- 4 残疾) with no record in the disability register, or a record of grade 1-2 (severe) for a
-- member whose health_status is not 4. The first is the absence of a record: it has no
-- register row and is only drawn where the disability register covers the member's county
-- (register_coverage). The second names each severe record.
WITH covered AS (
    SELECT county_code FROM register_coverage WHERE register_file = 'disability.csv'
)
SELECT 'match.disability' AS rule_id,
       'disability' AS department,
       m.province_code,
       m.county_code,
       m.household_id,
       m.person_id,
       m.relation,
       CAST(NULL AS VARCHAR) AS register_file,
       CAST(NULL AS BIGINT) AS register_line,
       '残联残疾人登记：无残疾人证记录（普查登记为残疾）' AS detail
FROM census_members AS m
WHERE m.health_status = 4
  AND m.county_code IN (SELECT county_code FROM covered)
  AND NOT EXISTS (
      SELECT 1 FROM register_disability AS d WHERE substr(d.id_number, 1, 18) = m.id_key
  )
UNION ALL
SELECT 'match.disability',
       'disability',
       m.province_code,
       m.county_code,
       m.household_id,
       m.person_id,
       m.relation,
       'disability.csv',
       d.source_line,
       '残联残疾人登记：' || CAST(d.disability_grade AS VARCHAR) || '级残疾，发证日期 '
           || CAST(d.card_date AS VARCHAR) || '（普查登记为非残疾）'
FROM census_members AS m
JOIN register_disability AS d ON substr(d.id_number, 1, 18) = m.id_key
WHERE d.disability_grade IN (1, 2)
  AND m.health_status <> 4
