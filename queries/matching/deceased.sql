-- match.deceased (roster): a member on the census roster whom the public-security death
-- register records as dead on or before the reference date (${reference_date}); a death after
-- it is no finding.
SELECT 'match.deceased' AS rule_id,
       'public_security' AS department,
       m.province_code,
       m.county_code,
       m.household_id,
       m.person_id,
       m.relation,
       'deaths.csv' AS register_file,
       d.source_line AS register_line,
       '公安死亡登记：死亡日期 ' || CAST(d.death_date AS VARCHAR) AS detail
FROM census_members AS m
JOIN register_deaths AS d ON substr(d.id_number, 1, 18) = m.id_key
WHERE d.death_date <= DATE '${reference_date}'
