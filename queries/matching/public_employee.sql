-- match.public_employee (identification, 错评疑点): a member who was a public employee
-- (财政供养: 1 机关, 2 事业单位) on the reference date (${reference_date}), i.e. who started on
-- or before it (the register lists current employees).
SELECT 'match.public_employee' AS rule_id,
       'finance' AS department,
       m.province_code,
       m.county_code,
       m.household_id,
       m.person_id,
       m.relation,
       'public_employees.csv' AS register_file,
       e.source_line AS register_line,
       '财政供养人员：'
           || CASE e.employer_type WHEN 1 THEN '机关' ELSE '事业单位' END
           || '，入职日期 ' || CAST(e.start_date AS VARCHAR) AS detail
FROM census_members AS m
JOIN register_public_employees AS e ON substr(e.id_number, 1, 18) = m.id_key
WHERE e.start_date <= DATE '${reference_date}'
