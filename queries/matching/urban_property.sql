-- match.urban_property (identification, 错评疑点): a member who bought urban commercial housing
-- on or before the reference date (${reference_date}).
SELECT 'match.urban_property' AS rule_id,
       'housing' AS department,
       m.province_code,
       m.county_code,
       m.household_id,
       m.person_id,
       m.relation,
       'urban_property.csv' AS register_file,
       u.source_line AS register_line,
       '住建商品房登记：购房日期 ' || CAST(u.purchase_date AS VARCHAR)
           || '，建筑面积 ' || CAST(u.area_m2 AS VARCHAR) || ' 平方米' AS detail
FROM census_members AS m
JOIN register_urban_property AS u ON substr(u.id_number, 1, 18) = m.id_key
WHERE u.purchase_date <= DATE '${reference_date}'
