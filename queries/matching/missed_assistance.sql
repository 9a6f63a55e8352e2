-- match.missed_assistance (missed identification, 漏评疑点): an ongoing 低保 or 特困 recipient
-- held in a national poverty county (assistance_recipients) who is on no census roster: no
-- loaded person of the warehouse has that ID number. The finding names the register row: no
-- household, its person_id is the register's id_number.
SELECT 'match.missed_assistance' AS rule_id,
       'civil_affairs' AS department,
       r.province_code,
       r.county_code,
       CAST(NULL AS VARCHAR) AS household_id,
       r.id_number AS person_id,
       CAST(NULL AS SMALLINT) AS relation,
       'civil_affairs.csv' AS register_file,
       r.source_line AS register_line,
       '民政救助：' || CASE r.assistance_type WHEN 1 THEN '农村低保' ELSE '特困供养' END
           || '，开始日期 ' || CAST(r.start_date AS VARCHAR) || '，'
           || COALESCE('终止日期 ' || CAST(r.end_date AS VARCHAR), '未终止')
           || '（不在普查名单中）' AS detail
FROM assistance_recipients AS r
WHERE NOT EXISTS (
    SELECT 1 FROM persons AS p WHERE substr(p.person_id, 1, 18) = r.id_key
)
