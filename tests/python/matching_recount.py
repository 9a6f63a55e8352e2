"""Recount the matching rules of registers.md §2 in DuckDB, written independently of
queries/matching/, from a warehouse's Parquet files (one version per province and department).

Usage: python matching_recount.py WAREHOUSE > findings.csv
Output: CSV with rule_id, county_code, household_id, person_id, register_file, register_line
(empty fields for NULL), sorted.
"""

import csv
import sys

import duckdb

REF = "DATE '2020-12-31'"

SQL = f"""
WITH
hh AS (SELECT * FROM households WHERE enumeration_status = 1),
m AS (
    SELECT p.person_id, left(p.person_id, 18) AS k, p.household_id, left(p.household_id, 6) AS county,
           date_diff('year', p.birth_date, {REF})
             - CASE WHEN strftime(p.birth_date, '%m%d') > strftime({REF}, '%m%d') THEN 1 ELSE 0 END AS age,
           p.schooling_status, p.health_status, p.medical_insurance
    FROM persons p SEMI JOIN hh ON hh.household_id = p.household_id
),
covered(file, county) AS (
    SELECT DISTINCT 'medical_insurance.csv', county_code FROM register_medical_insurance
    UNION SELECT DISTINCT 'disability.csv', county_code FROM register_disability
),
enrolled AS (SELECT left(id_number, 18) AS k, source_line FROM register_medical_insurance
             WHERE status = 1 AND year = 2020)
SELECT 'match.deceased' AS rule_id, m.county, m.household_id, m.person_id, 'deaths.csv' AS file, r.source_line AS line
FROM m JOIN register_deaths r ON left(r.id_number, 18) = m.k WHERE r.death_date <= {REF}
UNION ALL
SELECT 'match.vehicle', m.county, m.household_id, m.person_id, 'vehicles.csv', r.source_line
FROM m JOIN register_vehicles r ON left(r.id_number, 18) = m.k
WHERE r.vehicle_type <= 2 AND r.registration_date <= {REF}
UNION ALL
SELECT 'match.business', m.county, m.household_id, m.person_id, 'businesses.csv', r.source_line
FROM m JOIN register_businesses r ON left(r.id_number, 18) = m.k
WHERE r.status = 1 AND r.registered_capital >= 10
UNION ALL
SELECT 'match.public_employee', m.county, m.household_id, m.person_id, 'public_employees.csv', r.source_line
FROM m JOIN register_public_employees r ON left(r.id_number, 18) = m.k WHERE r.start_date <= {REF}
UNION ALL
SELECT 'match.urban_property', m.county, m.household_id, m.person_id, 'urban_property.csv', r.source_line
FROM m JOIN register_urban_property r ON left(r.id_number, 18) = m.k WHERE r.purchase_date <= {REF}
UNION ALL
SELECT 'match.schooling', m.county, m.household_id, m.person_id, 'students.csv', r.source_line
FROM m JOIN register_students r ON left(r.id_number, 18) = m.k
WHERE m.age >= 6 AND m.age <= 15
  AND ((m.schooling_status = 1 AND r.enrolment_status = 3) OR (m.schooling_status = 4 AND r.enrolment_status = 1))
UNION ALL
SELECT 'match.medical_insurance', m.county, m.household_id, m.person_id, NULL, NULL
FROM m WHERE m.medical_insurance BETWEEN 1 AND 3
  AND m.county IN (SELECT county FROM covered WHERE file = 'medical_insurance.csv')
  AND m.k NOT IN (SELECT k FROM enrolled)
UNION ALL
SELECT 'match.medical_insurance', m.county, m.household_id, m.person_id, 'medical_insurance.csv', e.source_line
FROM m JOIN enrolled e ON e.k = m.k WHERE m.medical_insurance = 4
UNION ALL
SELECT 'match.disability', m.county, m.household_id, m.person_id, NULL, NULL
FROM m WHERE m.health_status = 4
  AND m.county IN (SELECT county FROM covered WHERE file = 'disability.csv')
  AND m.k NOT IN (SELECT left(id_number, 18) FROM register_disability)
UNION ALL
SELECT 'match.disability', m.county, m.household_id, m.person_id, 'disability.csv', r.source_line
FROM m JOIN register_disability r ON left(r.id_number, 18) = m.k
WHERE r.disability_grade <= 2 AND m.health_status <> 4
UNION ALL
SELECT 'match.housing', left(h.household_id, 6), h.household_id, NULL, 'dangerous_housing.csv', r.source_line
FROM hh h JOIN register_dangerous_housing r ON left(r.id_number, 18) = left(h.head_id_number, 18)
WHERE h.housing_route = 1 AND r.grade IN ('C', 'D') AND r.appraisal_date <= {REF}
UNION ALL
SELECT 'match.missed_assistance', r.county_code, NULL, r.id_number, 'civil_affairs.csv', r.source_line
FROM register_civil_affairs r JOIN counties c ON c.county_code = r.county_code
WHERE c.county_type <= 2 AND r.assistance_type IN (1, 2)
  AND r.start_date <= {REF} AND coalesce(r.end_date > {REF}, true)
  AND left(r.id_number, 18) NOT IN (SELECT left(person_id, 18) FROM persons)
"""

TABLES = [
    "persons", "households", "counties",
    "register_civil_affairs", "register_disability", "register_students",
    "register_medical_insurance", "register_deaths", "register_vehicles",
    "register_businesses", "register_public_employees", "register_urban_property",
    "register_dangerous_housing",
]


def main(warehouse):
    con = duckdb.connect()
    for t in TABLES:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{warehouse}/data/{t}/*/*/*.parquet')")
    rows = con.execute(f"SELECT * FROM ({SQL}) ORDER BY ALL").fetchall()
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["rule_id", "county_code", "household_id", "person_id", "register_file", "register_line"])
    for r in rows:
        w.writerow(["" if v is None else v for v in r])


if __name__ == "__main__":
    main(sys.argv[1])
