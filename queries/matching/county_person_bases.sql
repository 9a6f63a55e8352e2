-- Census persons per county for the matching rates' bases (county_sums): the persons on the
-- roster and the children aged 6-15 (match.schooling's base).
SELECT county_code,
       COUNT(*) AS persons,
       SUM(CASE WHEN age BETWEEN 6 AND 15 THEN 1 ELSE 0 END) AS children
FROM census_members
GROUP BY county_code
