"""Dump XLSX workbooks as JSON for the report tests, read with openpyxl (an independent reader).

Usage: python xlsx_dump.py BOOK.xlsx... > dump.json
Output: {path: {"_order": [sheet, ...],
               sheet: {"freeze": "A2", "autofilter": "A1:I10", "widths": {...},
                       "formats": [row 2's number formats], "numfmts": [[format or null, ...], ...],
                       "print": {"paper": 9, "orientation": "landscape", "fit_width": 1,
                                 "titles": "$1:$1"},
                       "rows": [[cell, ...], ...]}}}
"""

import json
import sys

import openpyxl


def main(paths):
    out = {}
    for path in paths:
        wb = openpyxl.load_workbook(path)
        book = {"_order": wb.sheetnames}
        for ws in wb.worksheets:
            fit = ws.sheet_properties.pageSetUpPr
            fit = bool(fit and fit.fitToPage)
            book[ws.title] = {
                "freeze": ws.freeze_panes,
                "autofilter": ws.auto_filter.ref,
                "widths": {k: v.width for k, v in ws.column_dimensions.items()},
                "formats": [c.number_format for c in next(ws.iter_rows(min_row=2, max_row=2), [])],
                "numfmts": [
                    [c.number_format if isinstance(c.value, (int, float)) else None for c in r]
                    for r in ws.iter_rows()
                ],
                "print": {
                    "paper": int(ws.page_setup.paperSize) if ws.page_setup.paperSize else None,
                    "orientation": ws.page_setup.orientation,
                    "fit_width": (ws.page_setup.fitToWidth if ws.page_setup.fitToWidth is not None else 1) if fit else None,
                    "titles": ws.print_title_rows,
                },
                "rows": [list(r) for r in ws.iter_rows(values_only=True)],
            }
        out[path] = book
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1:])
