-- Assistance recipients per county (match.missed_assistance's base, for county_sums): one per
-- ID number.
SELECT county_code, COUNT(DISTINCT id_key) AS recipients
FROM assistance_recipients
GROUP BY county_code
