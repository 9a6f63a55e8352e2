-- Persons with their age: completed years on the census reference date
-- (${reference_date}; indicators.md §1). A view, computed where it is used.
SELECT p.*,
       CAST(extract(year FROM DATE '${reference_date}') - extract(year FROM p.birth_date) AS INT)
         - CASE WHEN extract(month FROM p.birth_date) * 100 + extract(day FROM p.birth_date)
                   > extract(month FROM DATE '${reference_date}') * 100 + extract(day FROM DATE '${reference_date}')
                THEN 1 ELSE 0 END AS age
FROM persons AS p
