-- County public services (indicators.md §5): each county counts once, as 1 or 0.
SELECT county_code,
    CASE WHEN has_county_hospital = 1 THEN 1 ELSE 0 END         AS cty_hospital__num,   1 AS cty_hospital__den,
    CASE WHEN has_grade2_hospital = 1 THEN 1 ELSE 0 END         AS cty_grade2__num,     1 AS cty_grade2__den,
    CASE WHEN hospital_all_depts_staffed = 1 THEN 1 ELSE 0 END  AS cty_staffed__num,    1 AS cty_staffed__den,
    CASE WHEN has_junior_school = 1 THEN 1 ELSE 0 END           AS cty_junior__num,     1 AS cty_junior__den,
    CASE WHEN has_vocational_school = 1 THEN 1 ELSE 0 END       AS cty_vocational__num, 1 AS cty_vocational__den,
    CASE WHEN has_technical_school = 1 THEN 1 ELSE 0 END        AS cty_technical__num,  1 AS cty_technical__den,
    CASE WHEN has_skills_training = 1 THEN 1 ELSE 0 END         AS cty_skills__num,     1 AS cty_skills__den,
    CASE WHEN has_public_library = 1 THEN 1 ELSE 0 END          AS cty_library__num,    1 AS cty_library__den
FROM counties
