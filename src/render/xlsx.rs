//! Worksheets the same way everywhere: a bold header row that stays frozen, an autofilter over
//! the data, number formats per column, and column widths that fit the text (CJK characters
//! count double). Workbooks carry a fixed creation time so that the same data gives the same
//! bytes.

use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::RenderError;

/// One cell to write.
#[derive(Debug, Clone)]
pub enum X {
    Empty,
    Str(String),
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
            X::Str(s) => display_width(s),
            X::Num(v, fmt) => {
                let decimals = fmt.rsplit_once('.').map_or(0, |(_, d)| d.len());
                format!("{v:.decimals$}").len() + 2
            }
            X::Int(i) => i.to_string().len() + 1,
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

/// Add a sheet with a header row and data rows.
pub fn sheet(
    wb: &mut Workbook,
    name: &str,
    headers: &[&str],
    rows: &[Vec<X>],
) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name(name)?;
    fill(ws, headers, rows)
}

fn fill(ws: &mut Worksheet, headers: &[&str], rows: &[Vec<X>]) -> Result<(), XlsxError> {
    let head = Format::new()
        .set_bold()
        .set_background_color(0xF3ECE4)
        .set_border_bottom(rust_xlsxwriter::FormatBorder::Thin);
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
                X::Num(v, fmt) => {
                    let f = formats
                        .entry(fmt)
                        .or_insert_with(|| Format::new().set_num_format(*fmt));
                    if v.is_finite() {
                        ws.write_number_with_format(r, col, *v, f)?;
                    }
                }
                X::Int(i) => {
                    ws.write_number(r, col, *i as f64)?;
                }
            }
        }
    }
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, (*w).min(60) as f64 + 1.0)?;
    }
    ws.set_freeze_panes(1, 0)?;
    if !headers.is_empty() {
        ws.autofilter(0, 0, rows.len() as u32, headers.len() as u16 - 1)?;
    }
    Ok(())
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
