-- Counts for the published county tables (research-extracts.md §2), per county and category:
-- persons of enumerated registered households by sex, age group and health status, and those
-- households by size, ages in completed years on ${reference_date}. Unweighted counts of the
-- census records; src/extract/tables.rs adds the
-- province and national totals and suppresses small cells.
-- The three person tables are counted in one pass over the persons: one grouping set each.
-- Every loaded person is a member of an enumerated household (the ingest rejects the others
-- as orphans, rule key.orphan), so persons are counted without meeting their households, as in
-- queries/census/county_person_sums.sql. Persons are grouped by household by
-- key_code(household_id), the code as an exact integer (faster than the string).
WITH members AS (
    SELECT key_code(household_id) AS household_key, COUNT(*) AS members
    FROM persons
    GROUP BY key_code(household_id)
),
persons_counted AS (
    SELECT substr(household_id, 1, 6) AS county_code,
           sex,
           health_status,
           age_on(birth_date, DATE '${reference_date}') AS age
    FROM persons
),
people AS (
    SELECT county_code,
           CASE sex WHEN 1 THEN '男' ELSE '女' END AS by_sex,
           CASE WHEN age < 6 THEN '0-5岁' WHEN age <= 15 THEN '6-15岁'
                WHEN age <= 59 THEN '16-59岁' ELSE '60岁及以上' END AS by_age,
           CASE health_status WHEN 1 THEN '健康' WHEN 2 THEN '长期慢性病'
                              WHEN 3 THEN '患有大病' ELSE '残疾' END AS by_health
    FROM persons_counted
)
SELECT county_code,
       CASE WHEN GROUPING(by_sex) = 0 THEN 'persons_by_sex'
            WHEN GROUPING(by_age) = 0 THEN 'persons_by_age'
            ELSE 'persons_by_health' END AS table_name,
       COALESCE(by_sex, by_age, by_health) AS category,
       COUNT(*) AS n
FROM people
GROUP BY GROUPING SETS ((county_code, by_sex), (county_code, by_age), (county_code, by_health))
UNION ALL
SELECT substr(h.household_id, 1, 6), 'households_by_size',
       CASE WHEN COALESCE(m.members, 0) >= 5 THEN '5人及以上'
            ELSE CAST(COALESCE(m.members, 0) AS VARCHAR) || '人' END, COUNT(*)
FROM households AS h
LEFT JOIN members AS m ON m.household_key = key_code(h.household_id)
WHERE h.enumeration_status = 1
GROUP BY 1, 2, 3
