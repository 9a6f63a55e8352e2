//! Self-contained HTML: one file per document, inline CSS and SVG charts, no script and no
//! network. Every text that comes from data goes through [`esc`].

use std::fmt::Write as _;

/// Escape text for HTML element content and attribute values. Control characters (which
/// HTML cannot carry, not even as character references) are shown as `\u{001B}`.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:04X}}}", c as u32);
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
body { font-family: "Noto Serif CJK SC", "Source Han Serif SC", "SimSun", serif; margin: 0; color: #1a1a1a; background: #fff; }
main { max-width: 980px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { text-align: center; font-size: 26px; margin: 16px 0 4px; color: #8b0000; }
h2 { font-size: 20px; border-bottom: 2px solid #8b0000; padding-bottom: 4px; margin-top: 32px; }
h3 { font-size: 17px; margin-top: 24px; }
p.sub { text-align: center; color: #555; margin: 0 0 16px; }
p, li { line-height: 1.75; }
table { border-collapse: collapse; margin: 12px 0; font-family: "Noto Sans CJK SC", sans-serif; font-size: 14px; }
th, td { border: 1px solid #bbb; padding: 4px 10px; }
th { background: #f3ece4; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.fail td { background: #fde8e8; }
.pass { color: #11692f; font-weight: bold; }
.failtxt { color: #b00020; font-weight: bold; }
.border { color: #a15c00; font-weight: bold; }
.notes { font-size: 13px; color: #333; border-top: 1px solid #ccc; margin-top: 32px; }
.meta { font-size: 12px; color: #666; }
svg text { font-family: "Noto Sans CJK SC", sans-serif; }
nav a { margin-right: 16px; }
p.issuer { text-align: center; margin: 8px 0 24px; }
svg { max-width: 100%; height: auto; }
@page { size: A4; margin: 18mm 16mm; }
@media print { main { max-width: none; padding: 0; } h2, h3 { break-after: avoid; } table, svg, li { break-inside: avoid; } a { color: inherit; text-decoration: none; } }
"#;

/// A whole HTML document.
pub fn page(title: &str, body: &str, generated_at: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n\
         <p class=\"meta\">povcensus {} · 生成时间 {}</p>\n</main>\n</body>\n</html>\n",
        esc(title),
        env!("CARGO_PKG_VERSION"),
        esc(generated_at),
    )
}

/// A table cell.
pub enum Td {
    Text(String),
    Num(String),
    Html(String),
}

/// An HTML table with a header row; `row_class` marks rows (e.g. "fail").
pub fn table(headers: &[&str], rows: &[(Option<&str>, Vec<Td>)]) -> String {
    let mut s = String::from("<table>\n<thead><tr>");
    for h in headers {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (class, cells) in rows {
        match class {
            Some(c) => {
                let _ = write!(s, "<tr class=\"{}\">", esc(c));
            }
            None => s.push_str("<tr>"),
        }
        for c in cells {
            match c {
                Td::Text(t) => {
                    let _ = write!(s, "<td>{}</td>", esc(t));
                }
                Td::Num(t) => {
                    let _ = write!(s, "<td class=\"n\">{}</td>", esc(t));
                }
                Td::Html(h) => {
                    let _ = write!(s, "<td>{h}</td>");
                }
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// Horizontal bar chart of percentages, with up to two series side by side per item
/// (`None` values draw no bar).
pub fn bar_chart(
    title: &str,
    series: &[(&str, &str)],
    items: &[(String, Vec<Option<f64>>)],
) -> String {
    bar_chart_scaled(title, series, items, 100.0, "%")
}

/// Horizontal bar chart on a scale from 0 to `max` (grid labels in `unit`, e.g. "%" or "‰"),
/// with up to two series side by side per item (`None` values draw no bar).
pub fn bar_chart_scaled(
    title: &str,
    series: &[(&str, &str)],
    items: &[(String, Vec<Option<f64>>)],
    max: f64,
    unit: &str,
) -> String {
    let label_w = 260.0;
    let plot_w = 560.0;
    let bar_h = 12.0;
    let gap = 10.0;
    let group_h = bar_h * series.len() as f64 + gap;
    let top = 44.0;
    let height = top + group_h * items.len() as f64 + 30.0;
    let width = label_w + plot_w + 70.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\"><title>{}</title>",
        esc(title)
    );
    let _ = write!(
        s,
        "<text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    for (i, (name, color)) in series.iter().enumerate() {
        let x = label_w + i as f64 * 170.0;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"24\" width=\"12\" height=\"12\" fill=\"{color}\"/>\
             <text x=\"{}\" y=\"34\" font-size=\"12\">{}</text>",
            x + 16.0,
            esc(name)
        );
    }
    // Grid at 0, 1/4, 1/2, 3/4 and all of the scale.
    for k in 0..=4 {
        let x = label_w + plot_w * k as f64 / 4.0;
        let _ = write!(
            s,
            "<line x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{}\" stroke=\"#ddd\"/>\
             <text x=\"{x}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}{}</text>",
            height - 24.0,
            height - 10.0,
            max * k as f64 / 4.0,
            esc(unit)
        );
    }
    for (i, (label, values)) in items.iter().enumerate() {
        let y0 = top + i as f64 * group_h;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            y0 + group_h / 2.0,
            esc(label)
        );
        for (j, v) in values.iter().enumerate() {
            let Some(v) = v else { continue };
            let w = plot_w * v.clamp(0.0, max) / max;
            let y = y0 + j as f64 * bar_h;
            let color = series.get(j).map_or("#888", |s| s.1);
            let _ = write!(
                s,
                "<rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.2}\" height=\"{}\" fill=\"{color}\"/>\
                 <text x=\"{:.2}\" y=\"{}\" font-size=\"10\">{v:.1}</text>",
                bar_h - 2.0,
                label_w + w + 4.0,
                y + bar_h - 3.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// One row of an interval chart: label, estimate, interval, threshold, and whether the
/// threshold is an upper bound (estimate must stay below) or a lower bound.
pub struct IntervalRow {
    pub label: String,
    pub estimate: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub threshold: f64,
}

/// Estimates with their 95 % intervals against their thresholds, each on its own 0–100 %
/// scale row (or zoomed to the interval and threshold when all are small).
pub fn interval_chart(title: &str, rows: &[IntervalRow]) -> String {
    let label_w = 150.0;
    let plot_w = 600.0;
    let row_h = 46.0;
    let top = 30.0;
    let width = label_w + plot_w + 40.0;
    let height = top + row_h * rows.len() as f64 + 10.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\"><title>{}</title>\
         <text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        esc(title),
        esc(title)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h + 18.0;
        // Scale: from lo to hi covering the threshold, estimate and interval with a margin.
        let mut lo = r.threshold;
        let mut hi = r.threshold;
        for v in r
            .estimate
            .into_iter()
            .chain(r.ci.map(|c| c.0))
            .chain(r.ci.map(|c| c.1))
        {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let span = (hi - lo).max(1.0);
        let lo = (lo - span * 0.15).max(0.0);
        let hi = (hi + span * 0.15).min(100.0);
        let x = |v: f64| label_w + plot_w * (v - lo) / (hi - lo);
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>\
             <line x1=\"{label_w}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#ccc\"/>\
             <text x=\"{label_w}\" y=\"{}\" font-size=\"10\">{lo:.1}%</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{hi:.1}%</text>",
            label_w - 8.0,
            y + 4.0,
            esc(&r.label),
            label_w + plot_w,
            y + 16.0,
            label_w + plot_w,
            y + 16.0,
        );
        let tx = x(r.threshold);
        let _ = write!(
            s,
            "<line x1=\"{tx:.2}\" y1=\"{}\" x2=\"{tx:.2}\" y2=\"{}\" stroke=\"#b00020\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{tx:.2}\" y=\"{}\" font-size=\"10\" fill=\"#b00020\" text-anchor=\"middle\">阈值 {}%</text>",
            y - 14.0,
            y + 10.0,
            y - 16.0,
            r.threshold
        );
        if let Some((a, b)) = r.ci {
            let _ = write!(
                s,
                "<line x1=\"{:.2}\" y1=\"{y}\" x2=\"{:.2}\" y2=\"{y}\" stroke=\"#1f4e79\" stroke-width=\"3\"/>\
                 <line x1=\"{:.2}\" y1=\"{}\" x2=\"{:.2}\" y2=\"{}\" stroke=\"#1f4e79\"/>\
                 <line x1=\"{:.2}\" y1=\"{}\" x2=\"{:.2}\" y2=\"{}\" stroke=\"#1f4e79\"/>",
                x(a),
                x(b),
                x(a),
                y - 6.0,
                x(a),
                y + 6.0,
                x(b),
                y - 6.0,
                x(b),
                y + 6.0
            );
        }
        if let Some(e) = r.estimate {
            let _ = write!(
                s,
                "<circle cx=\"{:.2}\" cy=\"{y}\" r=\"5\" fill=\"#1f4e79\"/>",
                x(e)
            );
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<b>\"A&B\"</b> '"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt; &#39;"
        );
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(
            esc("a\u{1b}[31mb\u{0}\n"),
            "a\\u{001B}[31mb\\u{0000}\\u{000A}"
        );
    }
}
