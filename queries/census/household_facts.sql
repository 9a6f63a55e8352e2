-- Household facts: one row per enumerated registered household (households.csv rows with
-- enumeration_status = 1) with its county and the derived conditions of indicators.md §3:
--   water_safe        quantity ok, quality ok, water_access in (1, 2), water_reliability in (1, 2)
--   guarantees_met    两不愁三保障: food_enough, clothing_ok, housing_route in (1, 2, 3), every
--                     child aged 6-15 with schooling_status in (1, 2, 3), every member with
--                     medical_insurance in (1, 2, 3)
--   income_above_line per-capita net income (four parts / household_size) >= ${poverty_line}
--   exit_standard_met guarantees_met and income_above_line (贫困户退出标准)
-- members counts the household's loaded person rows. Persons are grouped and joined to their
-- household by key_code(household_id), the code as an exact integer (equal only for equal
-- codes), which is faster than the string.
WITH members AS (
    SELECT key_code(household_id) AS household_key,
           COUNT(*) AS members,
           SUM(CASE WHEN age BETWEEN 6 AND 15
                         AND (schooling_status IS NULL OR schooling_status NOT IN (1, 2, 3))
                    THEN 1 ELSE 0 END) AS children_not_guaranteed,
           SUM(CASE WHEN medical_insurance IS NULL OR medical_insurance NOT IN (1, 2, 3)
                    THEN 1 ELSE 0 END) AS members_not_insured
    FROM person_ages
    GROUP BY key_code(household_id)
),
facts AS (
    SELECT h.*,
           substr(h.household_id, 1, 6) AS county_code,
           COALESCE(m.members, 0) AS members,
           h.income_wage + h.income_business + h.income_property + h.income_transfer AS income,
           (h.water_quantity_ok = 1 AND h.water_quality_ok = 1
               AND h.water_access IN (1, 2) AND h.water_reliability IN (1, 2)) AS water_safe,
           (h.food_enough = 1 AND h.clothing_ok = 1 AND h.housing_route IN (1, 2, 3)
               AND COALESCE(m.children_not_guaranteed, 0) = 0
               AND COALESCE(m.members_not_insured, 0) = 0) AS guarantees_met
    FROM households AS h
    LEFT JOIN members AS m ON m.household_key = key_code(h.household_id)
    WHERE h.enumeration_status = 1
)
SELECT f.*,
       (f.income / f.household_size >= ${poverty_line}) AS income_above_line,
       (f.guarantees_met AND f.income / f.household_size >= ${poverty_line}) AS exit_standard_met
FROM facts AS f
