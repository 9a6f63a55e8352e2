//! Submission quality reports, one per province (HTML and XLSX): what the province office
//! needs to correct and resubmit. Rows read, loaded, rejected and flagged per file; findings
//! per rule with the rule's description, counts and the first examples; and the list of every
//! rejected or flagged record by file, line and column. Records are never named: no record
//! key, name or ID number appears, only where the record is and what is wrong.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Inputs, ReportError, Written, province_name, write_file};
use crate::contract::rules::Rule;
use crate::render::html::{Td, esc, page, table};
use crate::render::xlsx::{X, err, save, sheet, workbook};
use crate::warehouse::ProvinceVersion;

/// At most this many findings are listed in the HTML page; the workbook has them all.
const HTML_LIST_LIMIT: usize = 500;
/// Examples shown per rule.
const EXAMPLES: usize = 5;

/// Shown in place of a code or ID number inside a finding's message.
const KEY_MASK: &str = "〔编码已隐去〕";

/// A finding's message without record keys: the ingest messages name the parent or kept
/// record by its code (household, village, township, county: 6 to 16 digits) or quote a value
/// that may be one, but a quality report locates records by file, line and column only. Every
/// run of six or more digits (with an ID number's trailing X) is masked.
pub(crate) fn without_record_keys(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 6 {
            out.push_str(KEY_MASK);
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in message.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if (c == 'X' || c == 'x') && digits.len() >= 6 {
            // The check character of an ID number: masked with its digits.
            flush(&mut digits, &mut out);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

fn severity_name(s: &str) -> &str {
    match s {
        "error" => "错误（拒收）",
        "warning" => "提示（入库并标记）",
        other => other,
    }
}

/// The rejects table's columns a quality report reads.
struct Cols {
    prov: usize,
    file: usize,
    line: usize,
    column: usize,
    rule: usize,
    severity: usize,
    message: usize,
}

/// One rejected or flagged record (a row of the rejects table).
type Finding<'a> = &'a Vec<super::Cell>;

/// A province's findings grouped by rule id.
type ByRule<'a> = BTreeMap<&'a str, Vec<Finding<'a>>>;

/// Rows read, loaded, rejected and flagged over a province's files.
struct Totals {
    read: u64,
    loaded: u64,
    rejected: u64,
    flagged: u64,
}

impl Totals {
    fn of(p: &ProvinceVersion) -> Self {
        Totals {
            read: p.files.iter().map(|f| f.rows_read).sum(),
            loaded: p.files.iter().map(|f| f.rows_loaded).sum(),
            rejected: p.files.iter().map(|f| f.rows_rejected).sum(),
            flagged: p.files.iter().map(|f| f.rows_flagged).sum(),
        }
    }
}

pub fn write(inputs: &Inputs, dir: &Path) -> Result<Written, ReportError> {
    let rj = &inputs.rejects;
    // reason for the indexing in this module: `col` found each column, and every row has one
    // cell per column.
    let c = Cols {
        prov: rj.col("province_code")?,
        file: rj.col("file")?,
        line: rj.col("line")?,
        column: rj.col("column")?,
        rule: rj.col("rule_id")?,
        severity: rj.col("severity")?,
        message: rj.col("message")?,
    };
    let mut files = Vec::new();
    let mut links = Vec::new();
    for (code, p) in &inputs.snapshot.provinces {
        let findings: Vec<Finding<'_>> =
            rj.rows.iter().filter(|r| r[c.prov].str() == code).collect();
        let name = province_name(code);
        let stem = super::file_stem(code);
        let totals = Totals::of(p);
        let mut by_rule: ByRule<'_> = BTreeMap::new();
        for r in &findings {
            by_rule.entry(r[c.rule].str()).or_default().push(r);
        }

        let mut b = overview(&name, p, &totals);
        b.push_str(&rule_section(&c, &by_rule));
        b.push_str(&list_section(&c, &findings));
        b.push_str(&format!(
            "<p><a href=\"{stem}.xlsx\">下载本省质量工作簿</a> · <a href=\"../index.html\">返回索引</a></p>\n"
        ));
        let html_path = dir.join(format!("{stem}.html"));
        write_file(
            &html_path,
            page(&format!("{name} 数据质量报告"), &b, &inputs.generated_at).as_bytes(),
        )?;

        let xlsx_path = dir.join(format!("{stem}.xlsx"));
        let title = format!("{name} 数据质量报告");
        write_workbook(&xlsx_path, &title, inputs, p, &c, &by_rule, &findings)?;

        links.push((
            format!("quality/{stem}.html"),
            format!(
                "{code} {name}：拒收 {} 行，提示 {} 行{}",
                totals.rejected,
                totals.flagged,
                if p.resubmission_required {
                    "（须重新报送）"
                } else {
                    ""
                }
            ),
        ));
        files.push(html_path);
        files.push(xlsx_path);
    }
    Ok(Written { files, links })
}

/// The page's title, the overview and the table of files.
fn overview(name: &str, p: &ProvinceVersion, t: &Totals) -> String {
    let Totals {
        read,
        loaded,
        rejected,
        flagged,
    } = t;
    let mut b = format!(
        "<h1>{} 普查数据质量报告</h1>\n<p class=\"sub\">报送批次 {} · 版本 {} · 快照 {}</p>\n",
        esc(name),
        esc(&p.submission_id),
        p.version,
        p.committed_in
    );
    b.push_str(&format!(
        "<h2>概况</h2>\n<p>读入 {read} 行，入库 {loaded} 行，拒收 {rejected} 行（{:.2}%），另有 {flagged} 行入库并标记提示。{}</p>\n",
        100.0 * p.rejected_share,
        if p.resubmission_required {
            "<span class=\"failtxt\">拒收比例超过阈值，须更正后重新报送。</span>"
        } else {
            "<span class=\"pass\">无须整体重新报送；请更正拒收记录后随下一批次报送。</span>"
        }
    ));
    let file_rows: Vec<_> = p
        .files
        .iter()
        .map(|f| {
            (
                (f.rows_rejected > 0 || f.file_rejected).then_some("fail"),
                vec![
                    Td::Text(f.file.clone()),
                    Td::Text(f.encoding.clone().unwrap_or_default()),
                    Td::Num(f.rows_read.to_string()),
                    Td::Num(f.rows_loaded.to_string()),
                    Td::Num(f.rows_rejected.to_string()),
                    Td::Num(f.rows_flagged.to_string()),
                    Td::Text(
                        if f.file_rejected {
                            "整文件拒收"
                        } else {
                            ""
                        }
                        .into(),
                    ),
                ],
            )
        })
        .collect();
    b.push_str(&table(
        &["文件", "编码", "读入", "入库", "拒收", "提示", "文件级问题"],
        &file_rows,
    ));
    b
}

/// The level of a rule's findings, named.
fn rule_severity(c: &Cols, rs: &[Finding<'_>]) -> String {
    severity_name(rs.first().map_or("", |r| r[c.severity].str())).to_string()
}

/// A rule's description, empty for an unknown id.
fn rule_description(id: &str) -> String {
    Rule::from_id(id)
        .map_or("", |r| r.description())
        .to_string()
}

/// Findings per rule, with the first examples.
fn rule_section(c: &Cols, by_rule: &ByRule<'_>) -> String {
    let mut b = String::from("<h2>按规则汇总</h2>\n");
    let rule_rows: Vec<_> = by_rule
        .iter()
        .map(|(id, rs)| {
            let examples: Vec<String> = rs
                .iter()
                .take(EXAMPLES)
                .map(|r| match r[c.line].f64() {
                    Some(l) => format!("{} 第{}行 {}", r[c.file].str(), l, r[c.column].str()),
                    None => format!("{}（整文件）", r[c.file].str()),
                })
                .collect();
            (
                None,
                vec![
                    Td::Text(id.to_string()),
                    Td::Text(rule_severity(c, rs)),
                    Td::Text(rule_description(id)),
                    Td::Num(rs.len().to_string()),
                    Td::Text(examples.join("；")),
                ],
            )
        })
        .collect();
    if rule_rows.is_empty() {
        b.push_str("<p class=\"pass\">无：没有拒收或提示的记录。</p>\n");
    } else {
        b.push_str(&table(
            &["规则", "级别", "规则说明", "记录数", "示例（文件、行、列）"],
            &rule_rows,
        ));
    }
    b
}

/// The list of findings, the first `HTML_LIST_LIMIT` of them.
fn list_section(c: &Cols, findings: &[Finding<'_>]) -> String {
    let mut b = format!("<h2>记录清单（{} 条）</h2>\n", findings.len());
    if findings.len() > HTML_LIST_LIMIT {
        b.push_str(&format!(
            "<p>此处列出前 {HTML_LIST_LIMIT} 条；完整清单见工作簿。</p>\n"
        ));
    }
    let list_rows: Vec<_> = findings
        .iter()
        .take(HTML_LIST_LIMIT)
        .map(|r| {
            (
                (r[c.severity].str() == "error").then_some("fail"),
                vec![
                    Td::Text(r[c.file].str().to_string()),
                    Td::Num(r[c.line].text()),
                    Td::Text(r[c.column].str().to_string()),
                    Td::Text(r[c.rule].str().to_string()),
                    Td::Text(severity_name(r[c.severity].str()).to_string()),
                    Td::Text(without_record_keys(r[c.message].str())),
                ],
            )
        })
        .collect();
    if list_rows.is_empty() {
        b.push_str("<p>无</p>\n");
    } else {
        b.push_str(&table(
            &["文件", "行", "列", "规则", "级别", "说明"],
            &list_rows,
        ));
    }
    b
}

/// The province's quality workbook: files, findings per rule, and every finding.
fn write_workbook(
    xlsx_path: &Path,
    title: &str,
    inputs: &Inputs,
    p: &ProvinceVersion,
    c: &Cols,
    by_rule: &ByRule<'_>,
    findings: &[Finding<'_>],
) -> Result<(), ReportError> {
    let e = err(xlsx_path);
    let mut wb = workbook(title, &inputs.generated_at);
    let frows: Vec<Vec<X>> = p
        .files
        .iter()
        .map(|f| {
            vec![
                X::Str(f.file.clone()),
                X::Str(f.encoding.clone().unwrap_or_default()),
                X::Int(f.rows_read as i64),
                X::Int(f.rows_loaded as i64),
                X::Int(f.rows_rejected as i64),
                X::Int(f.rows_flagged as i64),
                X::Str(if f.file_rejected { "是" } else { "" }.into()),
            ]
        })
        .collect();
    sheet(
        &mut wb,
        "文件",
        &["文件", "编码", "读入", "入库", "拒收", "提示", "整文件拒收"],
        &frows,
    )
    .map_err(&e)?;
    let rrows: Vec<Vec<X>> = by_rule
        .iter()
        .map(|(id, rs)| {
            vec![
                X::Str(id.to_string()),
                X::Str(rule_severity(c, rs)),
                X::Str(rule_description(id)),
                X::Int(rs.len() as i64),
            ]
        })
        .collect();
    sheet(
        &mut wb,
        "按规则",
        &["规则", "级别", "规则说明", "记录数"],
        &rrows,
    )
    .map_err(&e)?;
    let lrows: Vec<Vec<X>> = findings
        .iter()
        .map(|r| {
            vec![
                X::Str(r[c.file].str().to_string()),
                r[c.line].f64().map_or(X::Empty, |l| X::Int(l as i64)),
                X::Str(r[c.column].str().to_string()),
                X::Str(r[c.rule].str().to_string()),
                X::Str(severity_name(r[c.severity].str()).to_string()),
                X::Str(without_record_keys(r[c.message].str())),
            ]
        })
        .collect();
    sheet(
        &mut wb,
        "记录清单",
        &["文件", "行", "列", "规则", "级别", "说明"],
        &lrows,
    )
    .map_err(&e)?;
    save(&mut wb, xlsx_path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_are_masked_in_messages() {
        let m = "the household 5201020010010001 of this person is missing from households.csv";
        assert_eq!(
            without_record_keys(m),
            format!("the household {KEY_MASK} of this person is missing from households.csv")
        );
        assert_eq!(
            without_record_keys("id `52010219900101991X` and line 12345 in 52"),
            format!("id `{KEY_MASK}` and line 12345 in 52")
        );
        assert_eq!(without_record_keys("value `abc`"), "value `abc`");
    }
}
