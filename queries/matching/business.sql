-- match.business (identification, 错评疑点): a member who is legal representative (1) or
-- shareholder (2) of a live business (status 1 存续) with registered capital of at least
-- ${business_capital_min} 万元 (the capital is in 万元 in the register).
SELECT 'match.business' AS rule_id,
       'market_regulation' AS department,
       m.province_code,
       m.county_code,
       m.household_id,
       m.person_id,
       m.relation,
       'businesses.csv' AS register_file,
       b.source_line AS register_line,
       '市场监管企业登记：'
           || CASE b.role WHEN 1 THEN '法定代表人' ELSE '股东' END
           || '，注册资本 ' || CAST(b.registered_capital AS VARCHAR) || ' 万元，存续，成立日期 '
           || CAST(b.established_date AS VARCHAR) AS detail
FROM census_members AS m
JOIN register_businesses AS b ON substr(b.id_number, 1, 18) = m.id_key
WHERE b.status = 1
  AND b.registered_capital >= ${business_capital_min}
