//! Submission quality reports, one per province (HTML and XLSX), in Chinese: what the province
//! office needs to correct and resubmit. A verdict first (全部通过 for a clean province), the
//! counts with how they add up (rows rejected with whole files apart from single rows; findings
//! by kind), rows per file; findings per rule with the rule's Chinese description, counts and
//! the first examples (collapsed, one `<details>` per rule); the workbook lists every finding.
//! Records are never named: no record key, name or ID number appears, only where the record
//! is and what is wrong. Compact on a laptop screen; printable on A4.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Inputs, ReportError, Written, province_name, write_file};
use crate::contract::rules::Rule;
use crate::render::html::{Td, esc, page, table};
use crate::render::xlsx::{X, err, save, sheet, workbook};
use crate::warehouse::ProvinceVersion;

/// Examples shown per rule on the HTML page; the workbook lists every finding.
const EXAMPLES: usize = 8;

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

/// The Chinese name of a submitted file's column (`民族（ethnicity）`), or the column as given
/// when the format has no such column.
fn column_zh(file: &str, column: &str) -> String {
    if column.is_empty() {
        return String::new();
    }
    crate::contract::schema::Table::from_file_name(file)
        .and_then(|t| t.columns().iter().find(|c| c.name == column))
        .map_or_else(
            || column.to_string(),
            |c| format!("{}（{}）", c.label_zh, c.name),
        )
}

/// The first value a message quotes (between backquotes), if any: the ingest messages quote
/// only short values of the column's own shape, never a name or an ID number.
fn quoted_value(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message.get(start..)?.find('`')?;
    message.get(start..start + len)
}

/// A finding in Chinese: where (column), what (the rule's Chinese description) and the value
/// the message quotes, with record keys masked. The English message stays in the workbook.
pub(crate) fn message_zh(rule_id: &str, file: &str, column: &str, message: &str) -> String {
    let what = Rule::from_id(rule_id).map_or("", |r| r.description_zh());
    let mut out = String::new();
    let col = column_zh(file, column);
    if !col.is_empty() {
        out.push_str(&col);
        out.push('：');
    }
    out.push_str(what);
    if let Some(v) = quoted_value(message) {
        out.push_str(&format!("（所填值「{}」）", without_record_keys(v)));
    }
    out
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

impl Cols {
    fn zh(&self, r: Finding<'_>) -> String {
        message_zh(
            r[self.rule].str(),
            r[self.file].str(),
            r[self.column].str(),
            r[self.message].str(),
        )
    }
}

/// One rejected or flagged record (a row of the rejects table).
type Finding<'a> = &'a Vec<super::Cell>;

/// A province's findings grouped by rule id.
type ByRule<'a> = BTreeMap<&'a str, Vec<Finding<'a>>>;

/// Rows read, loaded, rejected and flagged over a province's files, and how the rejected rows
/// and the findings come about.
struct Totals {
    read: u64,
    loaded: u64,
    rejected: u64,
    flagged: u64,
    /// Rows of files rejected as a whole (each counted as rejected, none listed one by one).
    file_rows: u64,
    /// Files rejected as a whole.
    files_rejected: usize,
    /// Findings about one row that reject it.
    row_errors: usize,
    /// Findings about one row that flag it.
    row_warnings: usize,
    /// Findings about a whole file (no line).
    file_findings: usize,
}

impl Totals {
    fn of(p: &ProvinceVersion, c: &Cols, findings: &[Finding<'_>]) -> Self {
        let whole: Vec<_> = p.files.iter().filter(|f| f.file_rejected).collect();
        let on_rows = |sev: &str| {
            findings
                .iter()
                .filter(|r| r[c.line].f64().is_some() && r[c.severity].str() == sev)
                .count()
        };
        Totals {
            read: p.files.iter().map(|f| f.rows_read).sum(),
            loaded: p.files.iter().map(|f| f.rows_loaded).sum(),
            rejected: p.files.iter().map(|f| f.rows_rejected).sum(),
            flagged: p.files.iter().map(|f| f.rows_flagged).sum(),
            file_rows: whole.iter().map(|f| f.rows_rejected).sum(),
            files_rejected: whole.len(),
            row_errors: on_rows("error"),
            row_warnings: on_rows("warning"),
            file_findings: findings
                .iter()
                .filter(|r| r[c.line].f64().is_none())
                .count(),
        }
    }

    /// Nothing rejected and nothing flagged.
    fn clean(&self) -> bool {
        self.rejected == 0 && self.flagged == 0 && self.row_errors + self.file_findings == 0
    }
}

/// The page's own print and layout rules (the shared CSS is the bulletin's too).
const QUALITY_CSS: &str = r#"<style>
main { max-width: 1100px; padding: 16px 24px 32px; }
h1 { font-size: 22px; margin: 8px 0 2px; }
h2 { font-size: 17px; margin-top: 20px; }
table { font-size: 13px; margin: 8px 0; }
th { white-space: nowrap; }
th, td { padding: 2px 8px; }
.verdict { font-size: 18px; padding: 8px 14px; border-radius: 4px; margin: 12px 0; }
.verdict.ok { background: #e6f4ea; color: #11692f; border: 1px solid #11692f; }
.verdict.warn { background: #fff4e0; color: #8a4b00; border: 1px solid #a15c00; }
.verdict.bad { background: #fde8e8; color: #b00020; border: 1px solid #b00020; }
p.why { font-size: 13px; color: #333; line-height: 1.6; margin: 4px 0; }
details { border: 1px solid #ddd; border-radius: 4px; margin: 6px 0; padding: 2px 10px; }
details > summary { cursor: pointer; font-family: "Noto Sans CJK SC", sans-serif; font-size: 14px; padding: 4px 0; }
details > summary code { color: #8b0000; }
details p { font-size: 13px; margin: 4px 0; }
@page { size: A4; margin: 15mm 12mm; }
@media print {
  main { max-width: none; padding: 0; }
  details { border: none; padding: 0; break-inside: avoid-page; }
  details::details-content { content-visibility: visible; display: block; }
  a[href$=".xlsx"]::after { content: "（quality/ 目录下同名工作簿）"; }
  tr { break-inside: avoid; }
}
</style>
"#;

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
        let totals = Totals::of(p, &c, &findings);
        let mut by_rule: ByRule<'_> = BTreeMap::new();
        for r in &findings {
            by_rule.entry(r[c.rule].str()).or_default().push(r);
        }

        let mut b = String::from(QUALITY_CSS);
        b.push_str(&overview(&name, &stem, p, &totals, findings.len()));
        b.push_str(&rule_section(&c, &by_rule));
        b.push_str(&format!(
            "<p><a href=\"{stem}.xlsx\">下载本省质量工作簿</a>（每条记录的文件、行、列与说明） · <a href=\"../index.html\">返回索引</a></p>\n"
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
                "{code} {name}：{}",
                if totals.clean() {
                    "全部通过".to_string()
                } else {
                    format!(
                        "拒收 {} 行，提示 {} 行{}",
                        totals.rejected,
                        totals.flagged,
                        if p.resubmission_required {
                            "（须重新报送）"
                        } else {
                            ""
                        }
                    )
                }
            ),
        ));
        files.push(html_path);
        files.push(xlsx_path);
    }
    Ok(Written { files, links })
}

/// The verdict in one line, for the top of the page.
fn verdict(p: &ProvinceVersion, t: &Totals) -> String {
    let pct = 100.0 * p.rejected_share;
    if t.clean() {
        "<div class=\"verdict ok\">✔ 全部通过：所有记录均已入库，没有拒收或提示的记录，无须更正。</div>\n"
            .to_string()
    } else if p.resubmission_required {
        format!(
            "<div class=\"verdict bad\">✘ 须重新报送：拒收 {} 行（{pct:.2}%），超过重新报送阈值。请按下列规则更正后重新报送整个批次。</div>\n",
            t.rejected
        )
    } else if t.rejected > 0 {
        format!(
            "<div class=\"verdict warn\">拒收 {} 行（{pct:.2}%），未超过重新报送阈值，其余记录已入库。请更正拒收记录后随下一批次报送{}。</div>\n",
            t.rejected,
            if t.flagged > 0 {
                format!("；另有 {} 行入库并标记提示，请核实", t.flagged)
            } else {
                String::new()
            }
        )
    } else {
        format!(
            "<div class=\"verdict warn\">没有拒收的记录，全部入库；{} 处提示（{} 行入库并标记），请核实，无须重新报送。</div>\n",
            t.row_warnings + t.file_findings,
            t.flagged
        )
    }
}

/// The page's title, the verdict, the counts with how they add up, and the table of files.
fn overview(name: &str, stem: &str, p: &ProvinceVersion, t: &Totals, listed: usize) -> String {
    let mut b = format!(
        "<h1>{} 普查数据质量报告</h1>\n<p class=\"sub\">报送批次 {} · 版本 {} · 快照 {}</p>\n",
        esc(name),
        esc(&p.submission_id),
        p.version,
        p.committed_in
    );
    b.push_str(&verdict(p, t));
    let row = |label: &str, n: String, note: String| {
        (
            None,
            vec![Td::Text(label.into()), Td::Num(n), Td::Text(note)],
        )
    };
    let summary = vec![
        row(
            "读入",
            t.read.to_string(),
            "各数据文件的数据行（不含表头）".into(),
        ),
        row("入库", t.loaded.to_string(), "读入 − 拒收".into()),
        row(
            "拒收",
            t.rejected.to_string(),
            format!(
                "整文件拒收 {} 行（{} 个文件）＋ 逐行拒收 {} 行",
                t.file_rows,
                t.files_rejected,
                t.rejected - t.file_rows.min(t.rejected)
            ),
        ),
        row(
            "提示",
            t.flagged.to_string(),
            "已入库，标记待核实的行".into(),
        ),
        row(
            "问题记录",
            listed.to_string(),
            format!(
                "逐行错误 {} 条 ＋ 逐行提示 {} 条 ＋ 文件级问题 {} 条",
                t.row_errors, t.row_warnings, t.file_findings
            ),
        ),
    ];
    b.push_str("<h2>概况</h2>\n");
    b.push_str(&table(&["项目", "行数／条数", "构成"], &summary));
    if !t.clean() {
        b.push_str(&format!(
            "<p class=\"why\">拒收按行计，问题记录按条计，二者不必相等：整文件拒收时，文件的每一行都计入拒收，但只记一条文件级问题；\
             一行可能违反多条规则，记多条；一条跨多行的畸形记录按其占用的行数计入拒收。\
             全部 {listed} 条问题记录见<a href=\"{stem}.xlsx\">质量工作簿</a>的“记录清单”表。</p>\n"
        ));
    }
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
                            "整文件拒收（各行均计入拒收）"
                        } else {
                            ""
                        }
                        .into(),
                    ),
                ],
            )
        })
        .collect();
    b.push_str("<h2>各文件</h2>\n");
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

/// A rule's Chinese description, empty for an unknown id.
fn rule_description(id: &str) -> String {
    Rule::from_id(id)
        .map_or("", |r| r.description_zh())
        .to_string()
}

/// A finding's place: file, line (or the whole file) and column.
fn place(c: &Cols, r: Finding<'_>) -> (String, String) {
    let line = r[c.line]
        .f64()
        .map_or_else(|| "整文件".to_string(), |l| format!("第 {l} 行"));
    (r[c.file].str().to_string(), line)
}

/// Findings per rule: a summary table, then each rule with its first examples (collapsed).
fn rule_section(c: &Cols, by_rule: &ByRule<'_>) -> String {
    let mut b = String::from("<h2>按规则汇总</h2>\n");
    if by_rule.is_empty() {
        b.push_str("<p class=\"pass\">全部通过：没有拒收或提示的记录。</p>\n");
        return b;
    }
    // Errors first, then by count.
    let mut rules: Vec<(&&str, &Vec<Finding<'_>>)> = by_rule.iter().collect();
    rules.sort_by_key(|(id, rs)| {
        (
            rs.first().map_or("", |r| r[c.severity].str()) != "error",
            std::cmp::Reverse(rs.len()),
            **id,
        )
    });
    let rule_rows: Vec<_> = rules
        .iter()
        .map(|(id, rs)| {
            let error = rs.first().is_some_and(|r| r[c.severity].str() == "error");
            (
                error.then_some("fail"),
                vec![
                    Td::Html(format!(
                        "<a href=\"#rule-{}\"><code>{}</code></a>",
                        esc(id),
                        esc(id)
                    )),
                    Td::Text(rule_severity(c, rs)),
                    Td::Text(rule_description(id)),
                    Td::Num(rs.len().to_string()),
                ],
            )
        })
        .collect();
    b.push_str(&table(&["规则", "级别", "规则说明", "记录数"], &rule_rows));
    b.push_str(&format!(
        "<h2>各规则的示例</h2>\n<p class=\"why\">每条规则列出前 {EXAMPLES} 条记录（点击展开）；记录只以文件、行、列定位，不显示姓名、身份证号或编码；所填值只在不涉及个人信息时显示。</p>\n"
    ));
    for (id, rs) in rules {
        let examples: Vec<_> = rs
            .iter()
            .take(EXAMPLES)
            .map(|r| {
                let (file, line) = place(c, r);
                (
                    None,
                    vec![
                        Td::Text(file),
                        Td::Text(line),
                        Td::Text(column_zh(r[c.file].str(), r[c.column].str())),
                        Td::Text(
                            quoted_value(r[c.message].str()).map_or_else(String::new, |v| {
                                format!("「{}」", without_record_keys(v))
                            }),
                        ),
                    ],
                )
            })
            .collect();
        b.push_str(&format!(
            "<details id=\"rule-{}\"><summary><code>{}</code> {} · {} 条 — {}</summary>\n",
            esc(id),
            esc(id),
            esc(&rule_severity(c, rs)),
            rs.len(),
            esc(&rule_description(id))
        ));
        b.push_str(&table(&["文件", "行", "列", "所填值"], &examples));
        if rs.len() > EXAMPLES {
            b.push_str(&format!(
                "<p>另有 {} 条，见质量工作簿的“记录清单”表。</p>\n",
                rs.len() - EXAMPLES
            ));
        }
        b.push_str("</details>\n");
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
                X::Str(c.zh(r)),
                X::Str(without_record_keys(r[c.message].str())),
            ]
        })
        .collect();
    sheet(
        &mut wb,
        "记录清单",
        &[
            "文件",
            "行",
            "列",
            "规则",
            "级别",
            "说明",
            "详细信息（英文原文）",
        ],
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

    #[test]
    fn messages_are_told_in_chinese_without_record_keys() {
        assert_eq!(
            message_zh(
                "value.code",
                "persons.csv",
                "sex",
                "the value `3` is not one of the codes 1, 2 (性别 sex)"
            ),
            "性别（sex）：取值不在该列的代码表内（所填值「3」）"
        );
        assert_eq!(
            message_zh(
                "code.province",
                "households.csv",
                "household_id",
                "the code `5301020010010001` does not begin with 52"
            ),
            format!(
                "户编码（household_id）：记录的代码不以报送省份的代码开头（所填值「{KEY_MASK}」）"
            )
        );
        // A file-level finding: no column, no value.
        assert_eq!(
            message_zh("file.missing", "persons.csv", "", "persons.csv is missing"),
            Rule::FileMissing.description_zh()
        );
    }
}
