//! Departmental data matching documents (部门数据比对, registers.md §3), made from the matching
//! pipeline's `match_findings` and `match_summary` when the warehouse holds registers:
//!
//! - `matching/index.html`: the national page — flagged units and rates per 1,000 per rule and
//!   scope, identification and exit accuracy, rates per rule and province, with charts;
//! - `matching/lists/<county>.html` and `.xlsx`: the per-county verification list
//!   (疑点核查清单) for the province offices — household code, the member's relation, the
//!   register row and what it says; never a name or an ID number (a finding's `person_id` is an
//!   ID number and is not shown);
//! - a section of the evaluator's county page: the census-wide matching rates beside the
//!   sample's wrongful-exit and missed-identification estimates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Cell, Inputs, ReportError, Table, Written, file_stem, province_name, write_file};
use crate::render::html::{Td, bar_chart_scaled, esc, page, table};
use crate::render::xlsx::{X, err, save, sheet, workbook};

/// The matching pipeline's outputs.
pub struct Matching {
    pub findings: Table,
    pub summary: Table,
}

/// Columns the documents read from `match_findings` (`person_id` is deliberately not among
/// them: the documents never show it).
pub(crate) const FINDING_COLUMNS: &[&str] = &[
    "rule_id",
    "department",
    "province_code",
    "county_code",
    "household_id",
    "relation",
    "register_file",
    "register_line",
    "detail",
];
/// Columns read from `match_summary`.
pub(crate) const SUMMARY_COLUMNS: &[&str] = &[
    "scope",
    "level",
    "area_code",
    "area_name",
    "rule_id",
    "unit",
    "checked",
    "flagged",
    "findings",
    "rate_per_1000",
    "accuracy_pct",
];

/// The rules of registers.md §2 in order: id, what a finding says, and the unit checked.
const RULES: &[(&str, &str, &str)] = &[
    ("match.deceased", "已死亡仍在册", "persons"),
    ("match.vehicle", "拥有小型客车或货车（错评疑点）", "persons"),
    (
        "match.business",
        "企业法定代表人或股东（错评疑点）",
        "persons",
    ),
    (
        "match.public_employee",
        "财政供养人员（错评疑点）",
        "persons",
    ),
    (
        "match.urban_property",
        "城镇购买商品房（错评疑点）",
        "persons",
    ),
    ("match.schooling", "义务教育就学状况与学籍不符", "children"),
    (
        "match.medical_insurance",
        "医疗保险参保状况与医保登记不符",
        "persons",
    ),
    ("match.disability", "残疾状况与残联登记不符", "persons"),
    (
        "match.housing",
        "住房鉴定安全但有C/D级危房鉴定",
        "households",
    ),
    (
        "match.missed_assistance",
        "低保特困对象不在普查名单（漏评疑点）",
        "recipients",
    ),
];

/// The scopes as the bulletin names them.
const SCOPES: &[(&str, &str)] = &[
    ("npc", "国家贫困县"),
    ("sample", "非国家贫困县（抽样推算）"),
    ("all", "合计"),
];

/// A rule's Chinese name (the id itself for one this version does not know).
fn rule_name(id: &str) -> &str {
    RULES
        .iter()
        .find(|(r, _, _)| *r == id)
        .map_or(id, |(_, name, _)| name)
}

fn unit_name(unit: &str) -> &str {
    match unit {
        "persons" => "人",
        "children" => "义务教育阶段儿童",
        "households" => "户",
        "recipients" => "低保特困对象",
        "exited_households" => "已脱贫户",
        other => other,
    }
}

fn relation_name(code: &Cell) -> String {
    match code {
        Cell::Int(1) => "户主".into(),
        Cell::Int(2) => "配偶".into(),
        Cell::Int(3) => "子女".into(),
        Cell::Int(4) => "父母".into(),
        Cell::Int(5) => "孙子女".into(),
        Cell::Int(6) => "兄弟姐妹".into(),
        Cell::Int(9) => "其他".into(),
        Cell::Null => String::new(),
        other => other.text(),
    }
}

/// The relation column of a verification list: the member's relation to the head, 全户 for
/// a household finding, 不在普查名单 for a register row on no roster.
fn relation_text(t: &Table, r: &[Cell]) -> String {
    match (t.get(r, "household_id"), t.get(r, "relation")) {
        (Cell::Null, _) => "不在普查名单".into(),
        (_, Cell::Null) => "全户".into(),
        (_, code) => relation_name(code),
    }
}

/// A rate per 1,000 as the pages show it (2 decimals), or "—".
fn permille(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v:.2}"))
}

/// A count (weighted in the sample scope) with thousands separators, or "—".
fn whole(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), super::bulletin::count)
}

/// Summary figures by (scope, level, area code, rule id): (checked, flagged, rate per 1,000,
/// accuracy %).
type Figures = BTreeMap<(String, String, String, String), (f64, f64, f64, Option<f64>)>;

fn figures(t: &Table) -> Figures {
    t.rows
        .iter()
        .map(|r| {
            let s = |c: &str| t.get(r, c).str().to_string();
            let f = |c: &str| t.get(r, c).f64();
            (
                (s("scope"), s("level"), s("area_code"), s("rule_id")),
                (
                    f("checked").unwrap_or(0.0),
                    f("flagged").unwrap_or(0.0),
                    f("rate_per_1000").unwrap_or(f64::NAN),
                    f("accuracy_pct"),
                ),
            )
        })
        .collect()
}

fn key(scope: &str, level: &str, area: &str, rule: &str) -> (String, String, String, String) {
    (scope.into(), level.into(), area.into(), rule.into())
}

/// Write the national page and the per-county verification lists into `dir` (`matching/`).
pub fn write(inputs: &Inputs, m: &Matching, dir: &Path) -> Result<Written, ReportError> {
    let figures = figures(&m.summary);
    let mut files = vec![national_page(inputs, m, &figures, dir)?];
    let mut links = vec![(
        "matching/index.html".to_string(),
        format!("部门数据比对（全国，{} 条疑点）", m.findings.rows.len()),
    )];
    let mut by_county: BTreeMap<String, Vec<&Vec<Cell>>> = BTreeMap::new();
    for r in &m.findings.rows {
        let county = m.findings.get(r, "county_code").str().to_string();
        by_county.entry(county).or_default().push(r);
    }
    for (county, rows) in &by_county {
        let name = county_name(&m.summary, county);
        let (h, x) = county_list(inputs, &m.findings, county, &name, rows, dir)?;
        links.push((
            format!("matching/lists/{}.html", file_stem(county)),
            format!("疑点核查清单 {county} {name}（{} 条）", rows.len()),
        ));
        files.push(h);
        files.push(x);
    }
    Ok(Written { files, links })
}

/// A county's name from the summary's county rows (empty when it has none).
fn county_name(summary: &Table, code: &str) -> String {
    summary
        .rows
        .iter()
        .find(|r| {
            summary.get(r, "level").str() == "county" && summary.get(r, "area_code").str() == code
        })
        .map(|r| summary.get(r, "area_name").str().to_string())
        .unwrap_or_default()
}

/// The national matching page.
fn national_page(
    inputs: &Inputs,
    m: &Matching,
    figures: &Figures,
    dir: &Path,
) -> Result<PathBuf, ReportError> {
    let mut b = String::from("<h1>部门数据比对 · 全国</h1>\n");
    b.push_str(&format!(
        "<p class=\"sub\">普查数据仓库快照 {} · {} 个部门报送登记 · 疑点 {} 条</p>\n",
        inputs.snapshot.id,
        inputs.snapshot.departments.len(),
        m.findings.rows.len()
    ));
    b.push_str(
        "<p>以身份证号将普查登记的建档立卡户成员与民政、残联、教育、医保、公安、市场监管、财政、住建等部门登记比对。\
         比对结果是需要核查的疑点，不是结论，不计入普查指标。</p>\n",
    );
    b.push_str(&rule_section(figures));
    b.push_str(&accuracy_section(figures));
    b.push_str(&province_section(figures));
    b.push_str(&registers_section(&inputs.snapshot));
    b.push_str(
        "<div class=\"notes\"><p>注释：</p><ol>\
         <li>核查数为比对所覆盖县（部门登记中有该县记录）的普查人数、户数或低保特困对象数；疑点数为至少有一条该规则疑点的人或户数；比率为每千名（户）疑点数。</li>\
         <li>非国家贫困县按县抽样权数加权推算；“—”表示无核查基数。</li>\
         <li>识别准确率为无错评疑点（车辆、企业、财政供养、城镇购房）的建档立卡户占比；退出准确率为无任何疑点的已脱贫户占比。</li>\
         </ol></div>\n",
    );
    let path = dir.join("index.html");
    write_file(
        &path,
        page("部门数据比对 · 全国", &b, &inputs.generated_at).as_bytes(),
    )?;
    Ok(path)
}

/// Per rule and scope: checked, flagged and the rate per 1,000, national level.
fn rule_section(figures: &Figures) -> String {
    let mut b = String::from("<h2>一、比对规则与疑点率（全国）</h2>\n");
    let mut rows = Vec::new();
    for (id, name, unit) in RULES {
        let mut cells = vec![
            Td::Text((*name).to_string()),
            Td::Text(unit_name(unit).to_string()),
        ];
        for (scope, _) in SCOPES {
            let f = figures.get(&key(scope, "national", "00", id));
            cells.push(Td::Num(whole(f.map(|f| f.0))));
            cells.push(Td::Num(whole(f.map(|f| f.1))));
            cells.push(Td::Num(permille(f.map(|f| f.2))));
        }
        rows.push((None, cells));
    }
    b.push_str(&table(
        &[
            "比对规则",
            "核查单位",
            "国家贫困县 核查数",
            "疑点数",
            "每千人（户）",
            "非国家贫困县 核查数",
            "疑点数",
            "每千人（户）",
            "合计 核查数",
            "疑点数",
            "每千人（户）",
        ],
        &rows,
    ));
    let items: Vec<(String, Vec<Option<f64>>)> = RULES
        .iter()
        .map(|(id, name, _)| {
            let v = |s: &str| figures.get(&key(s, "national", "00", id)).map(|f| f.2);
            ((*name).to_string(), vec![v("npc"), v("sample")])
        })
        .collect();
    b.push_str(&rate_chart("各规则疑点率（每千人或户）", &items));
    b
}

/// A bar chart of rates per 1,000 on a scale that fits the largest.
fn rate_chart(title: &str, items: &[(String, Vec<Option<f64>>)]) -> String {
    let largest = items
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    bar_chart_scaled(
        title,
        &[(SCOPES[0].1, "#8b0000"), (SCOPES[1].1, "#d9a441")],
        items,
        nice_ceiling(largest),
        "‰",
    )
}

/// The smallest of 1, 2, 5 × 10^k at or above `v` (1 for 0 or less).
fn nice_ceiling(v: f64) -> f64 {
    if v.is_nan() || v <= 0.0 || v.is_infinite() {
        return 1.0;
    }
    let mut step = 10f64.powf(v.log10().floor());
    loop {
        for m in [1.0, 2.0, 5.0, 10.0] {
            if m * step >= v {
                return m * step;
            }
        }
        step *= 10.0;
    }
}

/// Identification and exit accuracy per scope.
fn accuracy_section(figures: &Figures) -> String {
    let mut b = String::from("<h2>二、识别准确率与退出准确率（全国）</h2>\n");
    let mut rows = Vec::new();
    for (id, name) in [
        (
            "accuracy.identification",
            "识别准确率（无错评疑点的建档立卡户占比）",
        ),
        ("accuracy.exit", "退出准确率（无疑点的已脱贫户占比）"),
    ] {
        let mut cells = vec![Td::Text(name.to_string())];
        for (scope, _) in SCOPES {
            let f = figures.get(&key(scope, "national", "00", id));
            cells.push(Td::Num(whole(f.map(|f| f.0))));
            cells.push(Td::Num(
                f.and_then(|f| f.3)
                    .map_or_else(|| "—".into(), |v| format!("{v:.2}")),
            ));
        }
        rows.push((None, cells));
    }
    b.push_str(&table(
        &[
            "指标",
            "国家贫困县 户数",
            "%",
            "非国家贫困县 户数",
            "%",
            "合计 户数",
            "%",
        ],
        &rows,
    ));
    b
}

/// Rates per rule and province (scope all), and a chart of the identification accuracy.
fn province_section(figures: &Figures) -> String {
    let mut b = String::from("<h2>三、分省疑点率（每千人或户，合计口径）</h2>\n");
    let provinces: Vec<String> = figures
        .keys()
        .filter(|k| k.0 == "all" && k.1 == "province")
        .map(|k| k.2.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut headers = vec!["省份"];
    headers.extend(RULES.iter().map(|(_, n, _)| *n));
    headers.push("识别准确率 %");
    let rows: Vec<_> = provinces
        .iter()
        .map(|p| {
            let mut cells = vec![Td::Text(province_name(p))];
            for (id, _, _) in RULES {
                let f = figures.get(&key("all", "province", p, id));
                cells.push(Td::Num(permille(f.map(|f| f.2))));
            }
            let acc = figures
                .get(&key("all", "province", p, "accuracy.identification"))
                .and_then(|f| f.3);
            cells.push(Td::Num(
                acc.map_or_else(|| "—".into(), |v| format!("{v:.2}")),
            ));
            (None, cells)
        })
        .collect();
    b.push_str(&table(&headers, &rows));
    let items: Vec<(String, Vec<Option<f64>>)> = provinces
        .iter()
        .map(|p| {
            let v = |s: &str| {
                figures
                    .get(&key(s, "province", p, "accuracy.identification"))
                    .and_then(|f| f.3)
            };
            (province_name(p), vec![v("npc"), v("sample")])
        })
        .collect();
    b.push_str(&bar_chart_scaled(
        "分省识别准确率（%）",
        &[(SCOPES[0].1, "#8b0000"), (SCOPES[1].1, "#d9a441")],
        &items,
        100.0,
        "%",
    ));
    b
}

/// The registers matched against: department, file, submission and rows, as the snapshot
/// lists them (a register no department sent shows as not submitted).
fn registers_section(snapshot: &crate::warehouse::Snapshot) -> String {
    use crate::contract::registers::Register;
    let rows: Vec<_> = Register::ALL
        .iter()
        .map(|r| {
            let dept = r.department();
            let version = snapshot.departments.get(dept.id());
            let file = version.and_then(|v| v.tables.get(r.table_name()));
            let submission = version.map_or_else(
                || "未报送".to_string(),
                |v| format!("{}（第 {} 版）", v.submission_id, v.version),
            );
            let cells = vec![
                Td::Text(dept.name_zh().to_string()),
                Td::Text(r.file_name().to_string()),
                Td::Text(submission),
                Td::Num(file.map_or_else(|| "—".into(), |f| super::bulletin::count(f.rows as f64))),
            ];
            (None, cells)
        })
        .collect();
    let mut b = String::from("<h2>四、比对所用部门登记</h2>\n");
    b.push_str(&table(&["部门", "登记文件", "报送批次", "记录数"], &rows));
    b
}

const LIST_HEADERS: &[&str] = &[
    "序号",
    "户编码",
    "与户主关系",
    "比对规则",
    "部门",
    "登记文件",
    "登记行号",
    "比对内容",
];

/// One row of a verification list: household code, relation, rule, department, register file
/// and line, detail — never the person's ID number.
fn list_row(t: &Table, r: &[Cell], n: usize) -> Vec<X> {
    let dept = t.get(r, "department").str();
    let dept = crate::contract::registers::Department::from_id(dept)
        .map_or_else(|| dept.to_string(), |d| d.name_zh().to_string());
    let line = match t.get(r, "register_line") {
        Cell::Int(i) => X::Int(*i),
        _ => X::Empty,
    };
    vec![
        X::Int(n as i64),
        X::Str(t.get(r, "household_id").str().to_string()),
        X::Str(relation_text(t, r)),
        X::Str(rule_name(t.get(r, "rule_id").str()).to_string()),
        X::Str(dept),
        X::Str(t.get(r, "register_file").str().to_string()),
        line,
        X::Str(t.get(r, "detail").str().to_string()),
    ]
}

fn html_cells(row: &[X]) -> Vec<Td> {
    row.iter()
        .map(|x| match x {
            X::Empty => Td::Text(String::new()),
            X::Str(s) | X::Wrap(s) => Td::Text(s.clone()),
            X::Dash => Td::Num("—".to_string()),
            X::Int(i) => Td::Num(i.to_string()),
            X::Num(v, _) => Td::Num(v.to_string()),
        })
        .collect()
}

/// One county's verification list (疑点核查清单), HTML and XLSX.
fn county_list(
    inputs: &Inputs,
    t: &Table,
    code: &str,
    name: &str,
    rows: &[&Vec<Cell>],
    dir: &Path,
) -> Result<(PathBuf, PathBuf), ReportError> {
    let xrows: Vec<Vec<X>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| list_row(t, r, i + 1))
        .collect();
    let title = format!("{code} {name} 疑点核查清单");
    let mut b = format!("<h1>{}</h1>\n", esc(&title));
    b.push_str(&format!(
        "<p class=\"sub\">部门数据比对 · 快照 {} · {} 条疑点</p>\n\
         <p>请逐条入户或查档核实。成员以户编码和与户主关系标识，不含姓名和身份证号码；\
         低保特困对象未纳入普查名单的疑点没有户编码，以民政登记文件的行号查找。</p>\n",
        inputs.snapshot.id,
        xrows.len()
    ));
    let html_rows: Vec<_> = xrows.iter().map(|x| (None, html_cells(x))).collect();
    b.push_str(&table(LIST_HEADERS, &html_rows));
    let stem = file_stem(code);
    b.push_str(&format!(
        "<p><a href=\"{}.xlsx\">下载本县清单（XLSX）</a> · <a href=\"../index.html\">返回全国比对</a></p>\n",
        esc(&stem)
    ));
    let lists = dir.join("lists");
    let html_path = lists.join(format!("{stem}.html"));
    write_file(
        &html_path,
        page(&title, &b, &inputs.generated_at).as_bytes(),
    )?;
    let xlsx_path = lists.join(format!("{stem}.xlsx"));
    let mut wb = workbook(&title, &inputs.generated_at);
    sheet(&mut wb, "疑点核查清单", LIST_HEADERS, &xrows).map_err(err(&xlsx_path))?;
    save(&mut wb, &xlsx_path)?;
    Ok((html_path, xlsx_path))
}

/// The evaluator's county section: the census-wide matching rates of the county beside the
/// sample's estimates (empty when the warehouse has no registers or the county no figures).
pub(crate) fn evaluator_section(
    m: Option<&Matching>,
    assessment: &Table,
    r: &[Cell],
    code: &str,
) -> String {
    let Some(m) = m else {
        return String::new();
    };
    let figures = figures(&m.summary);
    let get = |id: &str| figures.get(&key("all", "county", code, id));
    if [
        "accuracy.exit",
        "accuracy.identification",
        "match.missed_assistance",
    ]
    .iter()
    .all(|id| get(id).is_none())
    {
        return String::new();
    }
    let pct = |c: &str| {
        assessment
            .get(r, c)
            .f64()
            .map_or_else(|| "—".into(), |v| format!("{v:.2}%"))
    };
    let census = |id: &str| {
        get(id).map_or_else(
            || "—".to_string(),
            |f| format!("{:.0} / {:.0}（每千 {:.2}）", f.1, f.0, f.2),
        )
    };
    let rows: Vec<_> = [
        (
            "错退",
            Some("wrong_exit_pct"),
            "已脱贫户中有比对疑点的户",
            "accuracy.exit",
        ),
        (
            "漏评",
            Some("missed_pct"),
            "低保特困对象不在普查名单",
            "match.missed_assistance",
        ),
        (
            "错评",
            None,
            "建档立卡户中有错评疑点的户",
            "accuracy.identification",
        ),
    ]
    .into_iter()
    .map(|(issue, sample, screen, id)| {
        let estimate = sample.map_or_else(|| "—".to_string(), pct);
        let cells = vec![
            Td::Text(issue.into()),
            Td::Num(estimate),
            Td::Text(screen.into()),
            Td::Num(census(id)),
        ];
        (None, cells)
    })
    .collect();
    let mut b = String::from("<h2>部门数据比对（普查全面比对）</h2>\n");
    b.push_str(&table(
        &["问题", "抽样估计", "普查比对口径", "疑点数 / 核查数"],
        &rows,
    ));
    let listed = m
        .findings
        .rows
        .iter()
        .any(|f| m.findings.get(f, "county_code").str() == code);
    b.push_str("<p>比对疑点需核实，不是结论");
    if listed {
        b.push_str(&format!(
            "；清单见 <a href=\"../matching/lists/{}.html\">本县疑点核查清单</a>",
            esc(&file_stem(code))
        ));
    }
    b.push_str("。</p>\n");
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_scales_are_round_numbers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(12.0), 20.0);
        assert_eq!(nice_ceiling(50.0), 50.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
    }

    #[test]
    fn every_rule_has_a_name() {
        assert_eq!(rule_name("match.vehicle"), "拥有小型客车或货车（错评疑点）");
        assert_eq!(rule_name("match.new"), "match.new");
        assert_eq!(relation_name(&Cell::Int(1)), "户主");
        assert_eq!(relation_name(&Cell::Null), "");
    }
}
