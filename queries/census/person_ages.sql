-- Persons with their age: completed years on the census reference date
-- (${reference_date}; indicators.md §1). A view, computed where it is used.
SELECT p.*, age_on(p.birth_date, DATE '${reference_date}') AS age
FROM persons AS p
