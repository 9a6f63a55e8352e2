-- The counties each register covers: a register covers a county when it holds at least one
-- row of that county (registers.md §1: registers cover whole counties). A finding that rests
-- on the absence of a record (no 2020 enrolment, no disability record) is only drawn where the
-- register covers the member's county, and the summary counts a rule only in the counties its
-- register covers: a department that has not sent a county's register has checked nobody there.
SELECT DISTINCT 'civil_affairs.csv' AS register_file, county_code FROM register_civil_affairs
UNION ALL SELECT DISTINCT 'disability.csv', county_code FROM register_disability
UNION ALL SELECT DISTINCT 'students.csv', county_code FROM register_students
UNION ALL SELECT DISTINCT 'medical_insurance.csv', county_code FROM register_medical_insurance
UNION ALL SELECT DISTINCT 'deaths.csv', county_code FROM register_deaths
UNION ALL SELECT DISTINCT 'vehicles.csv', county_code FROM register_vehicles
UNION ALL SELECT DISTINCT 'businesses.csv', county_code FROM register_businesses
UNION ALL SELECT DISTINCT 'public_employees.csv', county_code FROM register_public_employees
UNION ALL SELECT DISTINCT 'urban_property.csv', county_code FROM register_urban_property
UNION ALL SELECT DISTINCT 'dangerous_housing.csv', county_code FROM register_dangerous_housing
