-- Township facilities (indicators.md §5) summed per county.
SELECT substr(township_code, 1, 6) AS county_code,
    SUM(CASE WHEN has_health_centre = 1 THEN 1 ELSE 0 END)   AS twn_health_centre__num, COUNT(*) AS twn_health_centre__den,
    SUM(CASE WHEN has_primary_school = 1 THEN 1 ELSE 0 END)  AS twn_primary__num,       COUNT(*) AS twn_primary__den,
    SUM(CASE WHEN has_junior_school = 1 THEN 1 ELSE 0 END)   AS twn_junior__num,        COUNT(*) AS twn_junior__den,
    SUM(CASE WHEN has_boarding_school = 1 THEN 1 ELSE 0 END) AS twn_boarding__num,      COUNT(*) AS twn_boarding__den,
    SUM(CASE WHEN has_culture_station = 1 THEN 1 ELSE 0 END) AS twn_culture__num,       COUNT(*) AS twn_culture__den
FROM townships
GROUP BY substr(township_code, 1, 6)
