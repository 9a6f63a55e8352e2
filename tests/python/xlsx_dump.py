"""Dump XLSX workbooks as JSON for the report tests, read with openpyxl (an independent reader).

Usage: python xlsx_dump.py BOOK.xlsx... > dump.json
Output: {path: {sheet: {"freeze": "A2", "autofilter": "A1:I10", "widths": {...},
                        "rows": [[cell, ...], ...]}}}
"""

import json
import sys

import openpyxl


def main(paths):
    out = {}
    for path in paths:
        wb = openpyxl.load_workbook(path)
        book = {}
        for ws in wb.worksheets:
            book[ws.title] = {
                "freeze": ws.freeze_panes,
                "autofilter": ws.auto_filter.ref,
                "widths": {k: v.width for k, v in ws.column_dimensions.items()},
                "formats": [c.number_format for c in next(ws.iter_rows(min_row=2, max_row=2), [])],
                "rows": [list(r) for r in ws.iter_rows(values_only=True)],
            }
        out[path] = book
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1:])
