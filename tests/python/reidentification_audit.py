"""Re-identify a research extract from its own columns, independently of the extract code.

Usage: python reidentification_audit.py research_persons.parquet research_households.parquet K
       > audit.json

DuckDB over the published Parquet only. Every suppressed (NULL) or generalized value is
recomputed, where possible, from the other columns of the extract:

- disabled from health_status (4 = disabled, any other status = not disabled) and from
  schooling_status 2 (taught at home: disabled children only);
- household_size from the number of persons sharing the household key (8+ on top);
- the county of an area generalized to the prefecture (or suppressed) from the county-level
  columns: every column that is constant within each published county and not constant
  overall is one; a record whose county-level values match exactly one published county of its
  prefecture gets that county;
- the presence of schooling_status, given exactly for ages 6-15, is known where it is given,
  and where it is absent on a record whose age band and disabled status were both published
  (elsewhere it may have been suppressed with them): it refines the age band.

Then the smallest number of compatible records (NULL matching every value) is computed on the
recomputed quasi-identifiers, and the records in classes smaller than K are counted. Prints
{"recoverable": {qi: records}, "county_columns": [...], "min_compatible_persons": n,
 "min_compatible_households": n, "persons_below_k": n, "households_below_k": n}.
"""

import json
import sys

import duckdb

KEYS = {"person_key", "household_key"}
QI = {"area_code", "sex", "age_band", "ethnicity_group", "household_size", "disabled"}


def county_columns(c, table):
    """Columns constant within every published county and not constant overall."""
    cols = [r[0] for r in c.execute(f"DESCRIBE {table}").fetchall()]
    out = []
    for col in cols:
        if col in KEYS or col in QI:
            continue
        per_county, overall = c.execute(
            f"""SELECT (SELECT MAX(n) FROM (SELECT COUNT(DISTINCT "{col}") AS n FROM {table}
                        WHERE length(area_code) = 6 GROUP BY area_code)),
                       (SELECT COUNT(DISTINCT "{col}") FROM {table} WHERE length(area_code) = 6)"""
        ).fetchone()
        if per_county is not None and per_county <= 1 and overall > 1:
            out.append(col)
    return out


def recover_area(c, table, cols):
    """A view of `table` with area_r: the area, or the county its county-level columns name."""
    if not cols:
        c.execute(f"CREATE OR REPLACE TEMP VIEW {table}_a AS SELECT *, area_code AS area_r FROM {table}")
        return
    match = " AND ".join(f'r."{x}" = k."{x}"' for x in cols)
    given = " OR ".join(f'r."{x}" IS NOT NULL' for x in cols)
    distinct = ", ".join(f'"{x}"' for x in cols)
    c.execute(
        f"""CREATE OR REPLACE TEMP VIEW {table}_a AS
        WITH counties AS (SELECT DISTINCT area_code, {distinct} FROM {table}
                          WHERE length(area_code) = 6),
        numbered AS (SELECT *, row_number() OVER () AS _row FROM {table}),
        candidates AS (
            SELECT r._row, MIN(k.area_code) AS county, COUNT(DISTINCT k.area_code) AS n
            FROM numbered r JOIN counties k
              ON (r.area_code IS NULL OR k.area_code LIKE r.area_code || '%') AND {match}
            WHERE (r.area_code IS NULL OR length(r.area_code) <> 6) AND ({given})
            GROUP BY r._row
        )
        SELECT r.* EXCLUDE (_row),
               CASE WHEN c.n = 1 THEN c.county ELSE r.area_code END AS area_r,
               c.n = 1 AS _area_recovered
        FROM numbered r LEFT JOIN candidates c USING (_row)"""
    )


def min_compatible(c, table, cols, k):
    """The smallest number of compatible records, and the records below k."""
    conds = " AND ".join(f"(x.{q} IS NULL OR y.{q} IS NULL OR x.{q} = y.{q})" for q in cols)
    xs = ", ".join(f"x.{q}" for q in cols)
    on = " AND ".join(f"t.{q} IS NOT DISTINCT FROM c.{q}" for q in cols)
    return c.execute(
        f"""WITH t AS (SELECT {", ".join(cols)}, COUNT(*) AS n FROM {table} GROUP BY ALL),
        c AS (SELECT {xs}, SUM(y.n) AS m FROM t x, t y WHERE {conds} GROUP BY {xs})
        SELECT MIN(m), COALESCE(SUM(t.n) FILTER (WHERE m < {k}), 0) FROM t JOIN c ON {on}"""
    ).fetchone()


def main(persons, households, k):
    c = duckdb.connect()
    c.execute("SET enable_progress_bar = false")
    c.execute(f"CREATE TEMP VIEW p0 AS SELECT * FROM read_parquet('{persons}')")
    c.execute(f"CREATE TEMP VIEW h0 AS SELECT * FROM read_parquet('{households}')")
    size = "CASE WHEN n >= 8 THEN '8+' ELSE CAST(n AS VARCHAR) END"
    c.execute(
        f"""CREATE TEMP VIEW members AS
        SELECT household_key, {size} AS size_r FROM (
            SELECT h.household_key, COUNT(p.person_key) AS n
            FROM h0 h LEFT JOIN p0 p USING (household_key) GROUP BY 1)"""
    )
    cp, ch = county_columns(c, "p0"), county_columns(c, "h0")
    recover_area(c, "p0", cp)
    recover_area(c, "h0", ch)
    c.execute(
        """CREATE TEMP VIEW p AS
        SELECT a.*, m.size_r,
               COALESCE(disabled, CASE WHEN health_status = 4 THEN 1
                                       WHEN health_status IS NOT NULL THEN 2 END,
                        CASE WHEN schooling_status = 2 THEN 1 END) AS disabled_r,
               CASE WHEN schooling_status IS NOT NULL THEN true
                    WHEN age_band IS NOT NULL AND disabled IS NOT NULL THEN false END AS school
        FROM p0_a a JOIN members m USING (household_key)"""
    )
    c.execute("CREATE TEMP VIEW h AS SELECT a.*, m.size_r FROM h0_a a JOIN members m USING (household_key)")
    one = lambda q: c.execute(q).fetchone()[0]
    recoverable = {
        "disabled": one("SELECT COUNT(*) FROM p WHERE disabled IS NULL AND disabled_r IS NOT NULL"),
        "household_size": one("SELECT COUNT(*) FROM p WHERE household_size IS NULL")
        + one("SELECT COUNT(*) FROM h WHERE household_size IS NULL"),
        "area_code": one("SELECT COUNT(*) FROM p WHERE _area_recovered")
        + one("SELECT COUNT(*) FROM h WHERE _area_recovered")
        if cp or ch
        else 0,
        "age_band": one("SELECT COUNT(*) FROM p WHERE age_band IS NULL AND school IS NOT NULL"),
    }
    # County-level values published on records whose area is not a county.
    exposed = {
        f"{t}.{col}": one(
            f'SELECT COUNT(*) FROM {t}0 WHERE (area_code IS NULL OR length(area_code) <> 6) AND "{col}" IS NOT NULL'
        )
        for t, cols in (("p", cp), ("h", ch))
        for col in cols
    }
    pmin, pbelow = min_compatible(
        c, "p", ["area_r", "sex", "age_band", "school", "ethnicity_group", "size_r", "disabled_r"], k
    )
    hmin, hbelow = min_compatible(c, "h", ["area_r", "size_r"], k)
    json.dump(
        {
            "recoverable": recoverable,
            "county_columns": sorted(set(cp) | set(ch)),
            "county_values_where_generalized": exposed,
            "min_compatible_persons": pmin,
            "min_compatible_households": hmin,
            "persons_below_k": int(pbelow),
            "households_below_k": int(hbelow),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
