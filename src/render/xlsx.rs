//! Worksheets the same way everywhere: a bold header row that stays frozen (with the label
//! columns of wide tables), an autofilter over long data, number formats per column, column
//! widths that fit the text (CJK characters count double), and an A4 print setup (landscape
//! when wide, fitted to the page width when that stays legible, the header row repeated on
//! every page). Workbooks carry a fixed creation time so that the same data gives the same
//! bytes.

use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::RenderError;

/// One cell to write.
#[derive(Debug, Clone)]
pub enum X {
    Empty,
    Str(String),
    /// "—", aligned with the numbers: a value that has no base.
    Dash,
    /// Text wrapped within its column (long explanations).
    Wrap(String),
    /// A number with its Excel number format, e.g. "0.00".
    Num(f64, &'static str),
    Int(i64),
}

impl X {
    pub fn opt(v: Option<f64>, fmt: &'static str) -> X {
        v.map_or(X::Empty, |v| X::Num(v, fmt))
    }

    fn width(&self) -> usize {
        match self {
            X::Empty => 0,
            X::Dash => 2,
            X::Str(s) => display_width(s),
            X::Wrap(s) => display_width(s).min(60),
            X::Num(v, fmt) => {
                let decimals = fmt.rsplit_once('.').map_or(0, |(_, d)| d.len());
                format!("{v:.decimals$}").len() + 2
            }
            X::Int(i) => i.to_string().len() * 4 / 3 + 1,
        }
    }
}

/// Display width in Excel character units: East Asian wide characters count 2.
pub fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

/// A new workbook whose metadata is fixed (creation time from `generated_at` when it parses).
pub fn workbook(title: &str, generated_at: &str) -> Workbook {
    let mut wb = Workbook::new();
    let created = chrono::NaiveDateTime::parse_from_str(
        generated_at.trim_end_matches(" UTC"),
        "%Y-%m-%d %H:%M",
    )
    .ok()
    .and_then(|t| ExcelDateTime::from_timestamp(t.and_utc().timestamp()).ok())
    // reason: a constant, valid date.
    .unwrap_or_else(|| ExcelDateTime::from_ymd(2021, 2, 25).expect("valid date"));
    let props = DocProperties::new()
        .set_title(title)
        .set_author("povcensus")
        .set_creation_datetime(&created);
    wb.set_properties(&props);
    wb
}

/// How a sheet is frozen and filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Leading columns frozen beside the data (and repeated on printed pages) — the labels of
    /// a wide table.
    pub frozen_cols: u16,
    /// An autofilter over the data (long tables, made for filtering and pivoting).
    pub autofilter: bool,
}

impl Layout {
    /// A long table: header row frozen, autofilter.
    pub const LONG: Layout = Layout {
        frozen_cols: 0,
        autofilter: true,
    };

    /// A wide table read like the bulletin's: header row and `cols` label columns frozen.
    pub const fn wide(cols: u16) -> Layout {
        Layout {
            frozen_cols: cols,
            autofilter: false,
        }
    }
}

/// Paper size 9 of the OOXML page setup: A4.
const PAPER_A4: u8 = 9;
/// Column widths (in characters) that fit an A4 page upright, and the widest table that still
/// reads when fitted to the width of a landscape page.
const PORTRAIT_WIDTH: usize = 95;
const FIT_WIDTH: usize = 260;

/// Add a long sheet with a header row and data rows.
pub fn sheet(
    wb: &mut Workbook,
    name: &str,
    headers: &[&str],
    rows: &[Vec<X>],
) -> Result<(), XlsxError> {
    sheet_with(wb, name, headers, rows, Layout::LONG)
}

/// Add a sheet laid out as `layout` says.
pub fn sheet_with(
    wb: &mut Workbook,
    name: &str,
    headers: &[&str],
    rows: &[Vec<X>],
    layout: Layout,
) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name(name)?;
    let widths = fill(ws, headers, rows)?;
    ws.set_freeze_panes(1, layout.frozen_cols)?;
    if layout.autofilter && !headers.is_empty() {
        ws.autofilter(0, 0, rows.len() as u32, headers.len() as u16 - 1)?;
    }
    print_setup(ws, &widths, layout)
}

/// A4, landscape when the columns do not fit upright, fitted to one page wide when that stays
/// legible (else the label columns repeat on every page), the header row on every page.
fn print_setup(ws: &mut Worksheet, widths: &[usize], layout: Layout) -> Result<(), XlsxError> {
    let total: usize = widths.iter().map(|w| (*w).min(60) + 1).sum();
    ws.set_paper_size(PAPER_A4);
    if total > PORTRAIT_WIDTH {
        ws.set_landscape();
    }
    if total <= FIT_WIDTH {
        ws.set_print_fit_to_pages(1, 0);
    } else if layout.frozen_cols > 0 {
        ws.set_repeat_columns(0, layout.frozen_cols - 1)?;
    }
    ws.set_repeat_rows(0, 0)?;
    ws.set_footer("&C&P / &N");
    Ok(())
}

/// Write the header and the rows; returns the column widths set.
fn fill(ws: &mut Worksheet, headers: &[&str], rows: &[Vec<X>]) -> Result<Vec<usize>, XlsxError> {
    let head = Format::new()
        .set_bold()
        .set_background_color(0xF3ECE4)
        .set_border_bottom(rust_xlsxwriter::FormatBorder::Thin);
    let wrap = Format::new()
        .set_text_wrap()
        .set_align(rust_xlsxwriter::FormatAlign::Top);
    let dash = Format::new().set_align(rust_xlsxwriter::FormatAlign::Right);
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h) + 2).collect();
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &head)?;
    }
    let mut formats: std::collections::HashMap<&'static str, Format> = Default::default();
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, x) in row.iter().enumerate() {
            let col = c as u16;
            if let Some(w) = widths.get_mut(c) {
                *w = (*w).max(x.width());
            }
            match x {
                X::Empty => {}
                X::Str(s) => {
                    ws.write_string(r, col, crate::output::formula_safe(s))?;
                }
                X::Dash => {
                    ws.write_string_with_format(r, col, "—", &dash)?;
                }
                X::Wrap(s) => {
                    ws.write_string_with_format(r, col, crate::output::formula_safe(s), &wrap)?;
                }
                X::Num(v, fmt) => {
                    let f = formats
                        .entry(fmt)
                        .or_insert_with(|| Format::new().set_num_format(*fmt));
                    if v.is_finite() {
                        ws.write_number_with_format(r, col, *v, f)?;
                    }
                }
                X::Int(i) => {
                    let f = formats
                        .entry("#,##0")
                        .or_insert_with(|| Format::new().set_num_format("#,##0"));
                    ws.write_number_with_format(r, col, *i as f64, f)?;
                }
            }
        }
    }
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, (*w).min(60) as f64 + 1.0)?;
    }
    Ok(widths)
}

/// Save a workbook, creating its directory.
pub fn save(wb: &mut Workbook, path: &Path) -> Result<(), RenderError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| RenderError::Write {
            path: dir.display().to_string(),
            source: e.into(),
        })?;
    }
    wb.save(path).map_err(|e| RenderError::Write {
        path: path.display().to_string(),
        source: e.into(),
    })
}

/// Map an XLSX error to a render error for `path`.
pub fn err(path: &Path) -> impl Fn(XlsxError) -> RenderError + use<> {
    let path = path.display().to_string();
    move |e| RenderError::Write {
        path: path.clone(),
        source: e.into(),
    }
}
