-- Village, township and county facilities (indicators.md §5, bulletin No. 4) summed per
-- county. vil_road_feasible and vil_power_in_grid leave out villages where a hardened road is
-- not feasible (3) or that lie outside the large grid (3). vil_township_health counts villages
-- whose township has a health centre.
WITH v AS (
    SELECT v.*, t.has_health_centre AS township_health_centre
    FROM villages AS v
    LEFT JOIN townships AS t ON t.township_code = substr(v.village_code, 1, 9)
)
SELECT substr(village_code, 1, 6) AS county_code,
    SUM(CASE WHEN hardened_road = 1 THEN 1 ELSE 0 END)        AS vil_road__num,           COUNT(*) AS vil_road__den,
    SUM(CASE WHEN hardened_road = 1 THEN 1 ELSE 0 END)        AS vil_road_feasible__num,
    SUM(CASE WHEN hardened_road IN (1, 2) THEN 1 ELSE 0 END)  AS vil_road_feasible__den,
    SUM(CASE WHEN power_grid = 1 THEN 1 ELSE 0 END)           AS vil_power__num,          COUNT(*) AS vil_power__den,
    SUM(CASE WHEN power_grid = 1 THEN 1 ELSE 0 END)           AS vil_power_in_grid__num,
    SUM(CASE WHEN power_grid IN (1, 2) THEN 1 ELSE 0 END)     AS vil_power_in_grid__den,
    SUM(CASE WHEN mobile_signal = 1 THEN 1 ELSE 0 END)        AS vil_mobile__num,         COUNT(*) AS vil_mobile__den,
    SUM(CASE WHEN broadband = 1 THEN 1 ELSE 0 END)            AS vil_broadband__num,      COUNT(*) AS vil_broadband__den,
    SUM(CASE WHEN radio_tv = 1 THEN 1 ELSE 0 END)             AS vil_radio_tv__num,       COUNT(*) AS vil_radio_tv__den,
    SUM(CASE WHEN service_centre = 1 THEN 1 ELSE 0 END)       AS vil_service_centre__num, COUNT(*) AS vil_service_centre__den,
    SUM(CASE WHEN ecommerce_point = 1 THEN 1 ELSE 0 END)      AS vil_ecommerce__num,      COUNT(*) AS vil_ecommerce__den,
    SUM(CASE WHEN central_water = 1 THEN 1 ELSE 0 END)        AS vil_water_all__num,      COUNT(*) AS vil_water_all__den,
    SUM(CASE WHEN central_water = 2 THEN 1 ELSE 0 END)        AS vil_water_part__num,     COUNT(*) AS vil_water_part__den,
    SUM(CASE WHEN garbage_collection = 1 THEN 1 ELSE 0 END)   AS vil_garbage_all__num,    COUNT(*) AS vil_garbage_all__den,
    SUM(CASE WHEN garbage_collection = 2 THEN 1 ELSE 0 END)   AS vil_garbage_part__num,   COUNT(*) AS vil_garbage_part__den,
    SUM(CASE WHEN clinic IN (1, 2) THEN 1 ELSE 0 END)         AS vil_clinic__num,         COUNT(*) AS vil_clinic__den,
    SUM(CASE WHEN village_doctor = 1 THEN 1 ELSE 0 END)       AS vil_doctor__num,         COUNT(*) AS vil_doctor__den,
    SUM(CASE WHEN library_or_culture = 1 THEN 1 ELSE 0 END)   AS vil_library__num,        COUNT(*) AS vil_library__den,
    SUM(CASE WHEN collective_income >= 5 THEN 1 ELSE 0 END)   AS vil_collective_5w__num,  COUNT(*) AS vil_collective_5w__den,
    SUM(CASE WHEN township_health_centre = 1 THEN 1 ELSE 0 END) AS vil_township_health__num, COUNT(*) AS vil_township_health__den
FROM v
GROUP BY substr(village_code, 1, 6)
