-- Person indicators (indicators.md §3) summed per county: 义务教育 over children aged 6-15 on
-- the reference date, 基本医疗保险 over all persons of enumerated households (persons.csv only
-- holds members of enumerated households: the ingest rejects the others as orphans).
SELECT substr(household_id, 1, 6) AS county_code,
    SUM(CASE WHEN age BETWEEN 6 AND 15 AND schooling_status = 1 THEN 1 ELSE 0 END) AS edu_in_school__num,
    SUM(CASE WHEN age BETWEEN 6 AND 15 THEN 1 ELSE 0 END)                          AS edu_in_school__den,
    SUM(CASE WHEN age BETWEEN 6 AND 15 AND schooling_status = 2 THEN 1 ELSE 0 END) AS edu_home_teaching__num,
    SUM(CASE WHEN age BETWEEN 6 AND 15 THEN 1 ELSE 0 END)                          AS edu_home_teaching__den,
    SUM(CASE WHEN age BETWEEN 6 AND 15 AND schooling_status = 3 THEN 1 ELSE 0 END) AS edu_unable__num,
    SUM(CASE WHEN age BETWEEN 6 AND 15 THEN 1 ELSE 0 END)                          AS edu_unable__den,
    SUM(CASE WHEN age BETWEEN 6 AND 15 AND schooling_status = 4 THEN 1 ELSE 0 END) AS edu_dropout__num,
    SUM(CASE WHEN age BETWEEN 6 AND 15 THEN 1 ELSE 0 END)                          AS edu_dropout__den,
    SUM(CASE WHEN age BETWEEN 6 AND 15 AND schooling_status IN (1, 2, 3) THEN 1 ELSE 0 END) AS edu_guaranteed__num,
    SUM(CASE WHEN age BETWEEN 6 AND 15 THEN 1 ELSE 0 END)                          AS edu_guaranteed__den,
    SUM(CASE WHEN medical_insurance = 1 THEN 1 ELSE 0 END)          AS med_resident__num,   COUNT(*) AS med_resident__den,
    SUM(CASE WHEN medical_insurance = 2 THEN 1 ELSE 0 END)          AS med_employee__num,   COUNT(*) AS med_employee__den,
    SUM(CASE WHEN medical_insurance = 3 THEN 1 ELSE 0 END)          AS med_special__num,    COUNT(*) AS med_special__den,
    SUM(CASE WHEN medical_insurance = 4 THEN 1 ELSE 0 END)          AS med_uninsured__num,  COUNT(*) AS med_uninsured__den,
    SUM(CASE WHEN medical_insurance IN (1, 2, 3) THEN 1 ELSE 0 END) AS med_guaranteed__num, COUNT(*) AS med_guaranteed__den
FROM person_ages
GROUP BY substr(household_id, 1, 6)
