"""Recount the matching findings of registers.md §2 in DuckDB, straight from the CSV files of
`povcensus generate --registers`, and compare them with the generator's ground truth.

Usage: python registers_recount.py OUT > recount.json

OUT holds the province submissions (OUT/<2-digit code>/, UTF-8), the census ground truth
(OUT/ground_truth/<code>.jsonl: the rows ingest rejects) and the registers
(OUT/registers/<department>/*.csv, OUT/registers/ground_truth_matching.csv).

The census side is what ingest loads: rows that the census ground truth marks as errors (a
person in two provinces only when the other province is generated too) are left out, and the
roster is the loaded members of loaded households with enumeration_status 1. Every rule is
written here from the specification, independently of the generator's Rust code. A finding is
(rule_id, county_code, household_id, person_id, register_file, register_line); county_code is
the household's county (the first six digits of household_id), or the register row's county for
match.missed_assistance. Prints {"by_rule": {rule: n}, "truth": n, "recount": n,
"missing": [...], "extra": [...]} (missing: in the truth, not recounted; extra: the reverse).
"""

import csv
import json
import os
import sys
from collections import Counter

import duckdb
import pyarrow as pa

REGISTERS = {
    "civil_affairs": ["civil_affairs.csv"],
    "disability": ["disability.csv"],
    "education": ["students.csv"],
    "medical_insurance": ["medical_insurance.csv"],
    "public_security": ["deaths.csv", "vehicles.csv"],
    "market_regulation": ["businesses.csv"],
    "finance": ["public_employees.csv"],
    "housing": ["urban_property.csv", "dangerous_housing.csv"],
}


def read_lines(path, extra=None, skip=frozenset()):
    """The records of a CSV file as a pyarrow table of strings, with the physical line of each
    record (header = line 1); records on a line in `skip` are left out."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        cols = {h: [] for h in header}
        cols["line"] = []
        for k, v in (extra or {}).items():
            cols[k] = []
        start = reader.line_num + 1
        for rec in reader:
            line = start
            start = reader.line_num + 1
            if line in skip or len(rec) != len(header):
                continue
            for h, v in zip(header, rec):
                cols[h].append(v.strip())
            cols["line"].append(line)
            for k, v in (extra or {}).items():
                cols[k].append(v)
    return pa.table(cols)


def load(con, out):
    provinces = sorted(d for d in os.listdir(out) if len(d) == 2 and d.isdigit())
    generated = set(provinces)
    parts = {"counties": [], "households": [], "persons": []}
    for p in provinces:
        rejected = {}
        truth = os.path.join(out, "ground_truth", f"{p}.jsonl")
        if os.path.exists(truth):
            for l in open(truth, encoding="utf-8"):
                if not l.strip():
                    continue
                e = json.loads(l)
                req = e.get("requires_province")
                if e["severity"] == "error" and e["line"] is not None and (
                    req is None or req in generated
                ):
                    rejected.setdefault(e["file"], set()).add(e["line"])
        for t in parts:
            f = f"{t}.csv"
            parts[t].append(
                read_lines(os.path.join(out, p, f), {"province": p}, rejected.get(f, set()))
            )
    for t, tables in parts.items():
        con.register(t, pa.concat_tables(tables, promote_options="default"))
    for dept, files in REGISTERS.items():
        for f in files:
            name = "r_" + f[:-4]
            con.register(name, read_lines(os.path.join(out, "registers", dept, f)))


RECOUNT = """
WITH hh AS (
    SELECT * FROM households WHERE enumeration_status = '1'
), roster AS (
    SELECT upper(p.person_id) AS id, p.household_id, substr(p.household_id, 1, 6) AS county,
           2020 - CAST(substr(p.birth_date, 1, 4) AS INT) AS age,
           p.schooling_status, p.health_status, p.medical_insurance
    FROM persons p JOIN hh ON hh.household_id = p.household_id
), rf(rule_id, county_code, household_id, person_id, register_file, register_line) AS (
    SELECT 'match.deceased', r.county, r.household_id, r.id, 'deaths.csv', d.line
    FROM roster r JOIN r_deaths d ON upper(d.id_number) = r.id
    WHERE CAST(d.death_date AS DATE) <= DATE '2020-12-31'
  UNION ALL
    SELECT 'match.vehicle', r.county, r.household_id, r.id, 'vehicles.csv', v.line
    FROM roster r JOIN r_vehicles v ON upper(v.id_number) = r.id
    WHERE v.vehicle_type IN ('1', '2') AND CAST(v.registration_date AS DATE) <= DATE '2020-12-31'
  UNION ALL
    SELECT 'match.business', r.county, r.household_id, r.id, 'businesses.csv', b.line
    FROM roster r JOIN r_businesses b ON upper(b.id_number) = r.id
    WHERE b.status = '1' AND CAST(b.registered_capital AS DOUBLE) >= 10
  UNION ALL
    SELECT 'match.public_employee', r.county, r.household_id, r.id, 'public_employees.csv', e.line
    FROM roster r JOIN r_public_employees e ON upper(e.id_number) = r.id
    WHERE CAST(e.start_date AS DATE) <= DATE '2020-12-31'
  UNION ALL
    SELECT 'match.urban_property', r.county, r.household_id, r.id, 'urban_property.csv', u.line
    FROM roster r JOIN r_urban_property u ON upper(u.id_number) = r.id
    WHERE CAST(u.purchase_date AS DATE) <= DATE '2020-12-31'
  UNION ALL
    SELECT 'match.schooling', r.county, r.household_id, r.id, 'students.csv', s.line
    FROM roster r JOIN r_students s ON upper(s.id_number) = r.id
    WHERE r.age BETWEEN 6 AND 15
      AND ((r.schooling_status = '1' AND s.enrolment_status = '3')
        OR (r.schooling_status = '4' AND s.enrolment_status = '1'))
  UNION ALL
    SELECT 'match.medical_insurance', r.county, r.household_id, r.id, '', NULL
    FROM roster r
    WHERE r.medical_insurance IN ('1', '2', '3') AND NOT EXISTS (
        SELECT 1 FROM r_medical_insurance m
        WHERE upper(m.id_number) = r.id AND m.year = '2020' AND m.status = '1')
  UNION ALL
    SELECT 'match.medical_insurance', r.county, r.household_id, r.id, 'medical_insurance.csv', m.line
    FROM roster r JOIN r_medical_insurance m ON upper(m.id_number) = r.id
    WHERE r.medical_insurance = '4' AND m.year = '2020' AND m.status = '1'
  UNION ALL
    SELECT 'match.disability', r.county, r.household_id, r.id, '', NULL
    FROM roster r
    WHERE r.health_status = '4'
      AND NOT EXISTS (SELECT 1 FROM r_disability d WHERE upper(d.id_number) = r.id)
  UNION ALL
    SELECT 'match.disability', r.county, r.household_id, r.id, 'disability.csv', d.line
    FROM roster r JOIN r_disability d ON upper(d.id_number) = r.id
    WHERE r.health_status <> '4' AND d.disability_grade IN ('1', '2')
  UNION ALL
    SELECT 'match.housing', substr(h.household_id, 1, 6), h.household_id, '',
           'dangerous_housing.csv', g.line
    FROM hh h JOIN r_dangerous_housing g ON upper(g.id_number) = upper(h.head_id_number)
    WHERE h.housing_route = '1' AND g.grade IN ('C', 'D')
      AND CAST(g.appraisal_date AS DATE) <= DATE '2020-12-31'
  UNION ALL
    SELECT 'match.missed_assistance', c.county_code, '', upper(a.id_number),
           'civil_affairs.csv', a.line
    FROM r_civil_affairs a JOIN counties c ON c.county_code = a.county_code
    WHERE a.assistance_type IN ('1', '2') AND c.county_type IN ('1', '2')
      AND CAST(a.start_date AS DATE) <= DATE '2020-12-31'
      AND (a.end_date = '' OR CAST(NULLIF(a.end_date, '') AS DATE) > DATE '2020-12-31')
      AND NOT EXISTS (SELECT 1 FROM roster r WHERE r.id = upper(a.id_number))
)
SELECT rule_id, county_code, household_id, person_id, register_file,
       coalesce(CAST(register_line AS VARCHAR), '')
FROM rf
"""


def main(out):
    con = duckdb.connect()
    load(con, out)
    recount = Counter(tuple(r) for r in con.execute(RECOUNT).fetchall())
    with open(os.path.join(out, "registers", "ground_truth_matching.csv"), encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    truth = Counter(tuple(r) for r in rows)
    by_rule = Counter(r[0] for r in recount.elements())
    print(
        json.dumps(
            {
                "by_rule": dict(sorted(by_rule.items())),
                "truth": sum(truth.values()),
                "recount": sum(recount.values()),
                "missing": sorted((truth - recount).elements())[:20],
                "extra": sorted((recount - truth).elements())[:20],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
