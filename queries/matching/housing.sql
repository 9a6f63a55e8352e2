-- match.housing (住房安全): a household recorded with housing_route 1 (existing housing
-- appraised safe) whose head (head_id_number) owns a house appraised C or D (dangerous) on or
-- before the reference date (${reference_date}). A household finding: no member, no relation.
SELECT 'match.housing' AS rule_id,
       'housing' AS department,
       h.province_code,
       h.county_code,
       h.household_id,
       CAST(NULL AS VARCHAR) AS person_id,
       CAST(NULL AS SMALLINT) AS relation,
       'dangerous_housing.csv' AS register_file,
       d.source_line AS register_line,
       '住建危房鉴定：' || d.grade || '级危房，鉴定日期 ' || CAST(d.appraisal_date AS VARCHAR)
           || '（普查登记为现住房安全）' AS detail
FROM census_households AS h
JOIN register_dangerous_housing AS d ON substr(d.id_number, 1, 18) = h.head_id_key
WHERE h.housing_route = 1
  AND d.grade IN ('C', 'D')
  AND d.appraisal_date <= DATE '${reference_date}'
