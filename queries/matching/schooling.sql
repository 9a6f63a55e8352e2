-- match.schooling (义务教育): a child aged 6-15 on the reference date recorded in the census
-- as in school (schooling_status 1 在校就学) whose student record says dropped out
-- (enrolment_status 3 辍学), or recorded as a dropout (4 失学辍学) whose record says in school
-- (1 在读). One finding per student record.
SELECT 'match.schooling' AS rule_id,
       'education' AS department,
       m.province_code,
       m.county_code,
       m.household_id,
       m.person_id,
       m.relation,
       'students.csv' AS register_file,
       s.source_line AS register_line,
       '教育学籍：'
           || CASE s.school_stage WHEN 1 THEN '小学' WHEN 2 THEN '初中' WHEN 3 THEN '高中'
                                  WHEN 4 THEN '中职' ELSE '高校' END
           || CASE s.enrolment_status WHEN 3 THEN '辍学（普查登记为在校就学）'
                                      ELSE '在读（普查登记为失学辍学）' END AS detail
FROM census_members AS m
JOIN register_students AS s ON substr(s.id_number, 1, 18) = m.id_key
WHERE m.age BETWEEN 6 AND 15
  AND ((m.schooling_status = 1 AND s.enrolment_status = 3)
    OR (m.schooling_status = 4 AND s.enrolment_status = 1))
