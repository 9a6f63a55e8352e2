-- match.vehicle (identification, 错评疑点): a member who owns a passenger car (1 小型客车) or a
-- truck (2 货车) registered on or before the reference date (${reference_date}). Motorcycles (3)
-- and farm vehicles (4) are no finding.
SELECT 'match.vehicle' AS rule_id,
       'public_security' AS department,
       m.province_code,
       m.county_code,
       m.household_id,
       m.person_id,
       m.relation,
       'vehicles.csv' AS register_file,
       v.source_line AS register_line,
       '公安车辆登记：'
           || CASE v.vehicle_type WHEN 1 THEN '小型客车' ELSE '货车' END
           || '，登记日期 ' || CAST(v.registration_date AS VARCHAR) AS detail
FROM census_members AS m
JOIN register_vehicles AS v ON substr(v.id_number, 1, 18) = m.id_key
WHERE v.vehicle_type IN (1, 2)
  AND v.registration_date <= DATE '${reference_date}'
