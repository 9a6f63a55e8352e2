-- Household indicators (indicators.md §3 and §4) summed per county: for every indicator
-- `<id>__num` counts the households meeting its condition and `<id>__den` its base, unweighted
-- (the county's sampling weight is applied when counties are rolled up). For the income
-- indicators the sums are yuan and persons; yuan are summed as DECIMAL, which is exact and so
-- gives the same sum in any order (a float sum in parallel may differ in the last digit).
SELECT county_code,
    -- 两不愁
    SUM(CASE WHEN food_enough = 1 THEN 1 ELSE 0 END)        AS food_enough__num,        COUNT(*) AS food_enough__den,
    SUM(CASE WHEN protein_frequency = 1 THEN 1 ELSE 0 END)  AS protein_anytime__num,    COUNT(*) AS protein_anytime__den,
    SUM(CASE WHEN clothing_ok = 1 THEN 1 ELSE 0 END)        AS clothing_ok__num,        COUNT(*) AS clothing_ok__den,
    -- 住房安全
    SUM(CASE WHEN housing_route = 1 THEN 1 ELSE 0 END)      AS housing_safe_existing__num, COUNT(*) AS housing_safe_existing__den,
    SUM(CASE WHEN housing_route = 2 THEN 1 ELSE 0 END)      AS housing_renovated__num,  COUNT(*) AS housing_renovated__den,
    SUM(CASE WHEN housing_route = 3 THEN 1 ELSE 0 END)      AS housing_relocated__num,  COUNT(*) AS housing_relocated__den,
    SUM(CASE WHEN housing_route = 4 THEN 1 ELSE 0 END)      AS housing_unsafe__num,     COUNT(*) AS housing_unsafe__den,
    -- 饮水安全
    SUM(CASE WHEN water_quantity_ok = 1 THEN 1 ELSE 0 END)  AS water_quantity_ok__num,  COUNT(*) AS water_quantity_ok__den,
    SUM(CASE WHEN water_quality_ok = 1 THEN 1 ELSE 0 END)   AS water_quality_ok__num,   COUNT(*) AS water_quality_ok__den,
    SUM(CASE WHEN water_access = 1 THEN 1 ELSE 0 END)       AS water_piped__num,        COUNT(*) AS water_piped__den,
    SUM(CASE WHEN water_access = 2 THEN 1 ELSE 0 END)       AS water_convenient__num,   COUNT(*) AS water_convenient__den,
    SUM(CASE WHEN water_access = 3 THEN 1 ELSE 0 END)       AS water_inconvenient__num, COUNT(*) AS water_inconvenient__den,
    SUM(CASE WHEN water_reliability = 1 THEN 1 ELSE 0 END)  AS water_no_shortage__num,  COUNT(*) AS water_no_shortage__den,
    SUM(CASE WHEN water_reliability = 2 THEN 1 ELSE 0 END)  AS water_basic_supply__num, COUNT(*) AS water_basic_supply__den,
    SUM(CASE WHEN water_reliability = 3 THEN 1 ELSE 0 END)  AS water_unreliable__num,   COUNT(*) AS water_unreliable__den,
    SUM(CASE WHEN water_safe THEN 1 ELSE 0 END)             AS water_safe__num,         COUNT(*) AS water_safe__den,
    -- 两不愁三保障 and the exit standard
    SUM(CASE WHEN guarantees_met THEN 1 ELSE 0 END)         AS guarantees_met__num,     COUNT(*) AS guarantees_met__den,
    SUM(CASE WHEN guarantees_met AND water_safe THEN 1 ELSE 0 END) AS guarantees_and_water_met__num, COUNT(*) AS guarantees_and_water_met__den,
    SUM(CASE WHEN income_above_line THEN 1 ELSE 0 END)      AS income_above_line__num,  COUNT(*) AS income_above_line__den,
    SUM(CASE WHEN exit_standard_met THEN 1 ELSE 0 END)      AS exit_standard_met__num,  COUNT(*) AS exit_standard_met__den,
    -- 错退: households marked as exited that do not meet the exit standard, and their members
    SUM(CASE WHEN exit_year IS NOT NULL AND NOT exit_standard_met THEN 1 ELSE 0 END) AS wrongly_exited__num,
    SUM(CASE WHEN exit_year IS NOT NULL THEN 1 ELSE 0 END)                           AS wrongly_exited__den,
    SUM(CASE WHEN exit_year IS NOT NULL AND NOT exit_standard_met THEN members ELSE 0 END) AS wrongly_exited_persons__num,
    SUM(CASE WHEN exit_year IS NOT NULL THEN members ELSE 0 END)                           AS wrongly_exited_persons__den,
    -- 收入: yuan per person, and the share of each part in total income
    SUM(CAST(income AS DECIMAL(38, 2)))          AS income_per_capita_mean__num,  SUM(household_size) AS income_per_capita_mean__den,
    SUM(CAST(income_wage AS DECIMAL(38, 2)))     AS income_share_wage__num,       SUM(CAST(income AS DECIMAL(38, 2))) AS income_share_wage__den,
    SUM(CAST(income_business AS DECIMAL(38, 2))) AS income_share_business__num,   SUM(CAST(income AS DECIMAL(38, 2))) AS income_share_business__den,
    SUM(CAST(income_property AS DECIMAL(38, 2))) AS income_share_property__num,   SUM(CAST(income AS DECIMAL(38, 2))) AS income_share_property__den,
    SUM(CAST(income_transfer AS DECIMAL(38, 2))) AS income_share_transfer__num,   SUM(CAST(income AS DECIMAL(38, 2))) AS income_share_transfer__den,
    -- 获得帮扶 (bulletin No. 3): each item, and any item of a group
    SUM(CASE WHEN ind_self = 1 THEN 1 ELSE 0 END)        AS ind_self__num,        COUNT(*) AS ind_self__den,
    SUM(CASE WHEN ind_coop = 1 THEN 1 ELSE 0 END)        AS ind_coop__num,        COUNT(*) AS ind_coop__den,
    SUM(CASE WHEN ind_training = 1 THEN 1 ELSE 0 END)    AS ind_training__num,    COUNT(*) AS ind_training__den,
    SUM(CASE WHEN ind_credit = 1 THEN 1 ELSE 0 END)      AS ind_credit__num,      COUNT(*) AS ind_credit__den,
    SUM(CASE WHEN emp_training = 1 THEN 1 ELSE 0 END)    AS emp_training__num,    COUNT(*) AS emp_training__den,
    SUM(CASE WHEN emp_tech_school = 1 THEN 1 ELSE 0 END) AS emp_tech_school__num, COUNT(*) AS emp_tech_school__den,
    SUM(CASE WHEN emp_service = 1 THEN 1 ELSE 0 END)     AS emp_service__num,     COUNT(*) AS emp_service__den,
    SUM(CASE WHEN emp_startup = 1 THEN 1 ELSE 0 END)     AS emp_startup__num,     COUNT(*) AS emp_startup__den,
    SUM(CASE WHEN emp_public_job = 1 THEN 1 ELSE 0 END)  AS emp_public_job__num,  COUNT(*) AS emp_public_job__den,
    SUM(CASE WHEN emp_workshop = 1 THEN 1 ELSE 0 END)    AS emp_workshop__num,    COUNT(*) AS emp_workshop__den,
    SUM(CASE WHEN emp_transport = 1 THEN 1 ELSE 0 END)   AS emp_transport__num,   COUNT(*) AS emp_transport__den,
    SUM(CASE WHEN hlt_premium = 1 THEN 1 ELSE 0 END)     AS hlt_premium__num,     COUNT(*) AS hlt_premium__den,
    SUM(CASE WHEN hlt_one_stop = 1 THEN 1 ELSE 0 END)    AS hlt_one_stop__num,    COUNT(*) AS hlt_one_stop__den,
    SUM(CASE WHEN hlt_chronic = 1 THEN 1 ELSE 0 END)     AS hlt_chronic__num,     COUNT(*) AS hlt_chronic__den,
    SUM(CASE WHEN edu_preschool = 1 THEN 1 ELSE 0 END)   AS edu_preschool__num,   COUNT(*) AS edu_preschool__den,
    SUM(CASE WHEN edu_compulsory = 1 THEN 1 ELSE 0 END)  AS edu_compulsory__num,  COUNT(*) AS edu_compulsory__den,
    SUM(CASE WHEN edu_highschool = 1 THEN 1 ELSE 0 END)  AS edu_highschool__num,  COUNT(*) AS edu_highschool__den,
    SUM(CASE WHEN edu_vocational = 1 THEN 1 ELSE 0 END)  AS edu_vocational__num,  COUNT(*) AS edu_vocational__den,
    SUM(CASE WHEN edu_grant = 1 THEN 1 ELSE 0 END)       AS edu_grant__num,       COUNT(*) AS edu_grant__den,
    SUM(CASE WHEN edu_loan = 1 THEN 1 ELSE 0 END)        AS edu_loan__num,        COUNT(*) AS edu_loan__den,
    SUM(CASE WHEN ind_self = 1 OR ind_coop = 1 OR ind_training = 1 OR ind_credit = 1 THEN 1 ELSE 0 END)
        AS assist_industry_any__num, COUNT(*) AS assist_industry_any__den,
    SUM(CASE WHEN emp_training = 1 OR emp_tech_school = 1 OR emp_service = 1 OR emp_startup = 1
                  OR emp_public_job = 1 OR emp_workshop = 1 OR emp_transport = 1 THEN 1 ELSE 0 END)
        AS assist_employment_any__num, COUNT(*) AS assist_employment_any__den,
    SUM(CASE WHEN hlt_premium = 1 OR hlt_one_stop = 1 OR hlt_chronic = 1 THEN 1 ELSE 0 END)
        AS assist_health_any__num, COUNT(*) AS assist_health_any__den,
    SUM(CASE WHEN edu_preschool = 1 OR edu_compulsory = 1 OR edu_highschool = 1 OR edu_vocational = 1
                  OR edu_grant = 1 OR edu_loan = 1 THEN 1 ELSE 0 END)
        AS assist_education_any__num, COUNT(*) AS assist_education_any__den
FROM household_facts
GROUP BY county_code
