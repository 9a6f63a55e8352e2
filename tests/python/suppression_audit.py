"""Audit the small-cell suppression of published_county_counts.csv with linear programming.

Usage: python suppression_audit.py published_county_counts.csv > audit.json

For every table, the unknowns are the suppressed cells and the equations are the additive
relations a reader knows: an area's categories add up to its total, a province's counties add up
to the province (per category and in total), the provinces add up to the nation. Counts are
non-negative. For each suppressed cell, scipy's linprog finds the smallest and largest value
consistent with everything published; a cell whose range is a single value could be recomputed.
Prints {"suppressed": n, "recoverable": [[table, area, category, low, high], ...]}.
"""

import csv
import json
import sys
from collections import defaultdict

import numpy as np
from scipy.optimize import linprog


def main(path):
    rows = list(csv.DictReader(open(path, encoding="utf-8-sig")))
    by_table = defaultdict(list)
    for r in rows:
        by_table[r["table"]].append(r)
    out = {"suppressed": 0, "recoverable": []}
    for table, cells in by_table.items():
        value = {}
        unknown = []
        for r in cells:
            key = (r["area_code"], r["category"])
            if r["status"] == "ok":
                value[key] = float(r["count"])
            else:
                unknown.append(key)
        if not unknown:
            continue
        out["suppressed"] += len(unknown)
        index = {k: i for i, k in enumerate(unknown)}
        areas = sorted({r["area_code"] for r in cells})
        cats = sorted({r["category"] for r in cells} - {"total"})
        equations = []  # (parts, whole): sum(parts) == whole
        for a in areas:
            equations.append(([(a, c) for c in cats], (a, "total")))
        provinces = [a for a in areas if len(a) == 2 and a != "00"]
        for c in cats + ["total"]:
            for p in provinces:
                counties = [a for a in areas if len(a) == 6 and a.startswith(p)]
                equations.append(([(a, c) for a in counties], (p, c)))
            equations.append(([(p, c) for p in provinces], ("00", c)))
        a_eq, b_eq = [], []
        for parts, whole in equations:
            row = np.zeros(len(unknown))
            rhs = 0.0
            for k in parts:
                if k in index:
                    row[index[k]] += 1
                else:
                    rhs -= value[k]
            if whole in index:
                row[index[whole]] -= 1
            else:
                rhs += value[whole]
            if row.any():
                a_eq.append(row)
                b_eq.append(rhs)
        a_eq, b_eq = np.array(a_eq), np.array(b_eq)
        for key, i in index.items():
            c = np.zeros(len(unknown))
            c[i] = 1
            lo = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
            hi = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
            if lo.status != 0 or hi.status != 0:
                out["recoverable"].append([table, key[0], key[1], "infeasible", lo.status, hi.status])
                continue
            low, high = lo.fun, -hi.fun
            if high - low < 0.5:
                out["recoverable"].append([table, key[0], key[1], low, high])
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
