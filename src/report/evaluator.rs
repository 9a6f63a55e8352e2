//! Exit-assessment reports for evaluators: a summary across assessed counties and one report
//! per county (HTML and XLSX) with the four indicators, their standard errors and intervals
//! (Korn–Graubard for the three rates, the conservative incidence interval) against the
//! thresholds (table and chart), design effects and effective sample sizes, the decision and
//! its confidence, the census cross-check (with a warning when the census finds more wrong
//! exits than the survey's interval allows), the sample design with its lonely-PSU strata, and
//! the follow-up list.

use std::path::{Path, PathBuf};

use super::{Cell, Inputs, ReportError, Table, Written, write_file};
use crate::render::html::{IntervalRow, Td, esc, interval_chart, page, table};
use crate::render::xlsx::{X, err, save, sheet, workbook};

/// The four indicators: column prefix, name, and whether the threshold is an upper bound.
const INDICATORS: &[(&str, &str)] = &[
    ("wrong_exit", "脱贫人口错退率"),
    ("missed", "贫困人口漏评率"),
    ("approval", "群众认可度"),
    ("incidence", "综合贫困发生率"),
];

/// Columns the evaluator documents read from `exit_assessment`.
pub(crate) const ASSESSMENT_COLUMNS: &[&str] = &[
    "county_code",
    "county_name",
    "province_code",
    "threshold_pct",
    "sampled_households",
    "psus",
    "strata",
    "wrong_exit_pct",
    "wrong_exit_se",
    "wrong_exit_ci_low",
    "wrong_exit_ci_high",
    "wrong_exit_deff",
    "wrong_exit_n_eff",
    "missed_pct",
    "missed_se",
    "missed_ci_low",
    "missed_ci_high",
    "missed_deff",
    "missed_n_eff",
    "approval_pct",
    "approval_se",
    "approval_ci_low",
    "approval_ci_high",
    "approval_deff",
    "approval_n_eff",
    "incidence_pct",
    "incidence_se",
    "incidence_ci_low",
    "incidence_ci_high",
    "census_wrong_exit_pct",
    "census_check",
    "passes_wrong_exit",
    "passes_missed",
    "passes_approval",
    "passes_incidence",
    "exit_recommended",
    "confidence",
];
/// Columns read from `exit_assessment_design`.
pub(crate) const DESIGN_COLUMNS: &[&str] = &[
    "county_code",
    "stratum",
    "stratum_name",
    "psus",
    "households",
    "lonely",
];
/// Columns read from `exit_followup`.
pub(crate) const FOLLOWUP_COLUMNS: &[&str] = &[
    "county_code",
    "village_code",
    "stratum",
    "sample_type",
    "household_id",
    "finding_name",
    "persons",
    "missed_persons",
];

fn threshold(row: &[Cell], t: &Table, ind: &str) -> (f64, &'static str) {
    match ind {
        "incidence" => (t.get(row, "threshold_pct").f64().unwrap_or(f64::NAN), "<"),
        "approval" => (90.0, "≥"),
        _ => (2.0, "<"),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.2}"))
}

fn verdict(b: Option<bool>) -> (String, &'static str) {
    match b {
        Some(true) => ("通过".into(), "pass"),
        Some(false) => ("未通过".into(), "failtxt"),
        None => ("无法判定".into(), "failtxt"),
    }
}

fn confidence_name(c: &str) -> (&'static str, &'static str) {
    match c {
        "robust" => ("稳健通过", "pass"),
        "borderline" => ("临界（区间跨越阈值）", "border"),
        _ => ("不通过", "failtxt"),
    }
}

/// The census cross-check of exit-assessment.md §4, in words.
fn census_check_name(c: &str) -> (&'static str, &'static str) {
    match c {
        "consistent" => ("一致（普查比例在区间内）", "pass"),
        "census_higher" => ("普查高于区间上限", "failtxt"),
        "census_lower" => ("普查低于区间下限", "border"),
        _ => ("无法核对", ""),
    }
}

/// The warning a county page carries when `census_check` is `census_higher`.
pub(crate) const CENSUS_HIGHER_WARNING: &str =
    "警告：普查全面核查的错退比例高于抽样错退率置信区间的上限，抽样调查可能漏查了错退户，请核实。";

/// What the intervals are and why a rate estimated at zero still has an upper bound.
const INTERVAL_NOTE: &str = "说明：错退率、漏评率和群众认可度的置信区间为 Korn–Graubard 区间（修正的 Clopper–Pearson 区间）：以设计效应折算的有效样本量（按自由度修正，不超过样本户数）代入 Beta 分布分位数。样本中未发现问题（估计值为0）时，区间下限为0，上限仍大于0：少量样本未发现问题不等于问题不存在，样本越小上限越高。综合贫困发生率的区间由两个比率的区间端点代入其公式得到（保守区间）。设计效应为复杂抽样方差与同样本量简单随机抽样方差之比，估计值为0或100%时无法计算。";

fn badge(text: &str, class: &str) -> String {
    format!("<span class=\"{class}\">{}</span>", esc(text))
}

pub fn write(inputs: &Inputs, dir: &Path) -> Result<Written, ReportError> {
    let t = &inputs.assessment;
    let mut files = Vec::new();
    let mut links = Vec::new();

    // Summary across counties.
    let mut rows = Vec::new();
    let mut xrows = Vec::new();
    for r in &t.rows {
        let (row, x) = summary_row(t, r);
        rows.push(row);
        xrows.push(x);
    }
    files.push(summary_page(inputs, &rows, dir)?);
    links.push((
        "evaluator/index.html".to_string(),
        format!("评估汇总（{} 个县）", t.rows.len()),
    ));
    files.push(summary_workbook(inputs, &xrows, dir)?);

    // One report per county.
    for r in &t.rows {
        let code = t.get(r, "county_code").str().to_string();
        let (h, x) = county_page(inputs, r, &code, dir)?;
        files.push(h);
        files.push(x);
    }
    Ok(Written { files, links })
}

/// A county's line of the summary: the HTML row (failing counties marked) and the workbook
/// row.
fn summary_row(t: &Table, r: &[Cell]) -> ((Option<&'static str>, Vec<Td>), Vec<X>) {
    let code = t.get(r, "county_code").str();
    let name = t.get(r, "county_name").str();
    let rec = t.get(r, "exit_recommended").bool() == Some(true);
    let (conf, class) = confidence_name(t.get(r, "confidence").str());
    let mut cells = vec![
        Td::Html(format!(
            "<a href=\"{}.html\">{} {}</a>",
            esc(&super::file_stem(code)),
            esc(code),
            esc(name)
        )),
        Td::Text(super::province_name(t.get(r, "province_code").str())),
    ];
    let mut x = vec![
        X::Str(code.into()),
        X::Str(name.into()),
        X::Str(t.get(r, "province_code").str().into()),
    ];
    for (ind, _) in INDICATORS {
        let est = t.get(r, &format!("{ind}_pct")).f64();
        let se = t.get(r, &format!("{ind}_se")).f64();
        cells.push(Td::Num(format!("{} ({})", pct(est), pct(se))));
        x.push(X::opt(est, "0.00"));
        x.push(X::opt(se, "0.000"));
    }
    cells.push(Td::Html(badge(
        if rec {
            "建议退出"
        } else {
            "不建议退出"
        },
        if rec { "pass" } else { "failtxt" },
    )));
    cells.push(Td::Html(badge(conf, class)));
    let (check, check_class) = census_check_name(t.get(r, "census_check").str());
    cells.push(Td::Html(badge(check, check_class)));
    x.push(X::Str(if rec { "是" } else { "否" }.into()));
    x.push(X::Str(conf.into()));
    x.push(X::opt(t.get(r, "census_wrong_exit_pct").f64(), "0.00"));
    x.push(X::Str(t.get(r, "census_check").str().into()));
    for (ind, _) in INDICATORS {
        for col in ["ci_low", "ci_high", "deff", "n_eff"] {
            if *ind == "incidence" && matches!(col, "deff" | "n_eff") {
                continue;
            }
            x.push(X::opt(t.get(r, &format!("{ind}_{col}")).f64(), "0.0000"));
        }
    }
    ((if rec { None } else { Some("fail") }, cells), x)
}

/// The summary page across counties, `index.html`.
fn summary_page(
    inputs: &Inputs,
    rows: &[(Option<&'static str>, Vec<Td>)],
    dir: &Path,
) -> Result<PathBuf, ReportError> {
    let t = &inputs.assessment;
    let mut b = String::from("<h1>贫困县退出专项评估检查 · 汇总</h1>\n");
    b.push_str(&format!(
        "<p class=\"sub\">评估县 {} 个，建议退出 {} 个</p>\n",
        t.rows.len(),
        t.rows
            .iter()
            .filter(|r| t.get(r, "exit_recommended").bool() == Some(true))
            .count()
    ));
    b.push_str("<p>括号内为标准误（百分点）。错退率、漏评率须低于2%，群众认可度须不低于90%，综合贫困发生率须低于所在省份标准（中部2%、西部3%）；任一项不达标即不建议退出。“稳健通过”指四项指标的置信区间均在达标一侧。“普查核查”比较普查全面核查的错退比例与抽样错退率的置信区间。</p>\n");
    if rows.is_empty() {
        b.push_str("<p>评估县：无（本快照中没有评估抽样调查数据）。</p>\n");
    } else {
        b.push_str(&table(
            &[
                "县",
                "省份",
                "错退率%",
                "漏评率%",
                "群众认可度%",
                "综合贫困发生率%",
                "结论",
                "置信程度",
                "普查核查",
            ],
            rows,
        ));
    }
    b.push_str("<p><a href=\"summary.xlsx\">下载汇总工作簿（含抽样设计和核实清单）</a> · <a href=\"../index.html\">返回索引</a></p>\n");
    let index = dir.join("index.html");
    write_file(
        &index,
        page("贫困县退出专项评估检查 · 汇总", &b, &inputs.generated_at).as_bytes(),
    )?;
    Ok(index)
}

/// The summary workbook, `summary.xlsx`: the counties' estimates and intervals, then the
/// design and follow-up sheets of every county.
fn summary_workbook(inputs: &Inputs, xrows: &[Vec<X>], dir: &Path) -> Result<PathBuf, ReportError> {
    let mut interval_headers = Vec::new();
    for (ind, label) in INDICATORS {
        for what in ["置信区间下限", "置信区间上限", "设计效应", "有效样本量"]
        {
            if *ind == "incidence" && matches!(what, "设计效应" | "有效样本量") {
                continue;
            }
            interval_headers.push(format!("{label}{what}"));
        }
    }
    let mut summary_headers = vec!["县级区划代码", "县名称", "省级代码"];
    for h in [
        "错退率%",
        "错退率标准误",
        "漏评率%",
        "漏评率标准误",
        "群众认可度%",
        "群众认可度标准误",
        "综合贫困发生率%",
        "综合贫困发生率标准误",
    ] {
        summary_headers.push(h);
    }
    summary_headers.extend(["建议退出", "置信程度", "普查错退比例%", "普查核查"]);
    summary_headers.extend(interval_headers.iter().map(String::as_str));
    let path = dir.join("summary.xlsx");
    let e = err(&path);
    let mut wb = workbook("贫困县退出专项评估检查汇总", &inputs.generated_at);
    sheet(&mut wb, "汇总", &summary_headers, xrows).map_err(&e)?;
    design_and_followup_sheets(
        &mut wb,
        &design_rows(&inputs.design, None),
        &followup_rows(&inputs.followup, None),
    )
    .map_err(&e)?;
    save(&mut wb, &path)?;
    Ok(path)
}

const DESIGN_HEADERS: &[&str] = &[
    "县级区划代码",
    "抽样层",
    "层名称",
    "样本村数",
    "样本户数",
    "单PSU层",
];
const FOLLOWUP_HEADERS: &[&str] = &[
    "县级区划代码",
    "样本村",
    "抽样层",
    "样本户类型",
    "户编码",
    "问题",
    "家庭人口数",
    "漏评人数",
];

/// The design and follow-up sheets every evaluator workbook ends with.
fn design_and_followup_sheets(
    wb: &mut rust_xlsxwriter::Workbook,
    design: &[Vec<X>],
    followup: &[Vec<X>],
) -> Result<(), rust_xlsxwriter::XlsxError> {
    sheet(wb, "抽样设计", DESIGN_HEADERS, design)?;
    sheet(wb, "核实清单", FOLLOWUP_HEADERS, followup)
}

fn design_rows(t: &Table, county: Option<&str>) -> Vec<Vec<X>> {
    t.rows
        .iter()
        .filter(|r| county.is_none_or(|c| t.get(r, "county_code").str() == c))
        .map(|r| {
            vec![
                X::Str(t.get(r, "county_code").str().into()),
                X::opt(t.get(r, "stratum").f64(), "0"),
                X::Str(t.get(r, "stratum_name").str().into()),
                X::opt(t.get(r, "psus").f64(), "0"),
                X::opt(t.get(r, "households").f64(), "0"),
                X::Str(
                    if t.get(r, "lonely").bool() == Some(true) {
                        "是"
                    } else {
                        ""
                    }
                    .into(),
                ),
            ]
        })
        .collect()
}

fn followup_rows(t: &Table, county: Option<&str>) -> Vec<Vec<X>> {
    t.rows
        .iter()
        .filter(|r| county.is_none_or(|c| t.get(r, "county_code").str() == c))
        .map(|r| {
            vec![
                X::Str(t.get(r, "county_code").str().into()),
                X::Str(t.get(r, "village_code").str().into()),
                X::opt(t.get(r, "stratum").f64(), "0"),
                X::opt(t.get(r, "sample_type").f64(), "0"),
                X::Str(t.get(r, "household_id").str().into()),
                X::Str(t.get(r, "finding_name").str().into()),
                X::opt(t.get(r, "persons").f64(), "0"),
                X::opt(t.get(r, "missed_persons").f64(), "0"),
            ]
        })
        .collect()
}

/// Render `X` rows as HTML table rows.
fn html_rows(rows: &[Vec<X>]) -> Vec<(Option<&'static str>, Vec<Td>)> {
    rows.iter()
        .map(|r| {
            (
                None,
                r.iter()
                    .map(|x| match x {
                        X::Empty => Td::Text(String::new()),
                        X::Dash => Td::Num("—".into()),
                        X::Str(s) | X::Wrap(s) => Td::Text(s.clone()),
                        X::Num(v, _) => Td::Num(format!("{v}")),
                        X::Int(i) => Td::Num(i.to_string()),
                    })
                    .collect(),
            )
        })
        .collect()
}

/// One county's report: its HTML page and its workbook.
fn county_page(
    inputs: &Inputs,
    r: &[Cell],
    code: &str,
    dir: &Path,
) -> Result<(PathBuf, PathBuf), ReportError> {
    let t = &inputs.assessment;
    let name = t.get(r, "county_name").str();
    let indicators = indicator_rows(t, r);
    let design = design_rows(&inputs.design, Some(code));
    let followup = followup_rows(&inputs.followup, Some(code));

    let mut b = county_heading(t, r, code, name);
    b.push_str(&indicator_section(&indicators));
    b.push_str(&census_section(t, r));
    b.push_str(&super::matching::evaluator_section(
        inputs.matching.as_ref(),
        t,
        r,
        code,
    ));
    b.push_str(&interval_notes(t, r));
    b.push_str(&design_section(inputs, code, &design));
    b.push_str(&format!(
        "<h2>疑似问题核实清单（{} 户）</h2>\n<p>已脱贫户以户编码标识，非建档立卡户以样本村标识；不含姓名和身份证号码。</p>\n",
        followup.len()
    ));
    b.push_str(&table(FOLLOWUP_HEADERS, &html_rows(&followup)));
    b.push_str(&format!(
        "<p><a href=\"{}.xlsx\">下载本县工作簿</a> · <a href=\"index.html\">返回汇总</a></p>\n",
        esc(&super::file_stem(code))
    ));
    let stem = super::file_stem(code);
    let html_path = dir.join(format!("{stem}.html"));
    write_file(
        &html_path,
        page(&format!("{code} {name} 退出评估"), &b, &inputs.generated_at).as_bytes(),
    )?;
    let xlsx_path = dir.join(format!("{stem}.xlsx"));
    let title = format!("{code} {name} 退出评估");
    let sheets = CountySheets {
        indicators: &indicators.xlsx,
        design: &design,
        followup: &followup,
    };
    county_workbook(&xlsx_path, &title, inputs, r, &sheets)?;
    Ok((html_path, xlsx_path))
}

/// The title, the sample's size and the decision with its confidence.
fn county_heading(t: &Table, r: &[Cell], code: &str, name: &str) -> String {
    let mut b = format!(
        "<h1>{} {} 贫困县退出专项评估检查报告</h1>\n<p class=\"sub\">{} · 样本户 {} 户 · 样本村（PSU）{} 个 · 抽样层 {} 个</p>\n",
        esc(code),
        esc(name),
        esc(&super::province_name(t.get(r, "province_code").str())),
        t.get(r, "sampled_households").text(),
        t.get(r, "psus").text(),
        t.get(r, "strata").text(),
    );
    let rec = t.get(r, "exit_recommended").bool() == Some(true);
    let (conf, class) = confidence_name(t.get(r, "confidence").str());
    b.push_str(&format!(
        "<h2>结论</h2>\n<p>{}；置信程度：{}。</p>\n",
        badge(
            if rec {
                "建议退出"
            } else {
                "不建议退出"
            },
            if rec { "pass" } else { "failtxt" }
        ),
        badge(conf, class)
    ));
    b
}

/// A county's four indicators as HTML rows, workbook rows and chart rows.
struct IndicatorRows {
    html: Vec<(Option<&'static str>, Vec<Td>)>,
    xlsx: Vec<Vec<X>>,
    chart: Vec<IntervalRow>,
}

fn indicator_rows(t: &Table, r: &[Cell]) -> IndicatorRows {
    let mut rows = IndicatorRows {
        html: Vec::new(),
        xlsx: Vec::new(),
        chart: Vec::new(),
    };
    for (ind, label) in INDICATORS {
        let g = |s: &str| t.get(r, &format!("{ind}_{s}")).f64();
        let (thr, op) = threshold(r, t, ind);
        let pass_col = match *ind {
            "wrong_exit" => "passes_wrong_exit",
            "missed" => "passes_missed",
            "approval" => "passes_approval",
            _ => "passes_incidence",
        };
        let (v, vclass) = verdict(t.get(r, pass_col).bool());
        let ci = match (g("ci_low"), g("ci_high")) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        // Design effect and effective sample size exist for the three rates only.
        let rate = *ind != "incidence";
        let num = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "—".into(), |v| format!("{v:.digits$}"))
        };
        rows.html.push((
            None,
            vec![
                Td::Text(label.to_string()),
                Td::Num(pct(g("pct"))),
                Td::Num(g("se").map_or_else(|| "无法估计".into(), |v| format!("{v:.3}"))),
                Td::Num(ci.map_or_else(|| "—".into(), |(a, b)| format!("[{a:.2}, {b:.2}]"))),
                Td::Num(if rate {
                    num(g("deff"), 2)
                } else {
                    "—".into()
                }),
                Td::Num(if rate {
                    num(g("n_eff"), 1)
                } else {
                    "—".into()
                }),
                Td::Num(format!("{op} {thr}")),
                Td::Html(badge(&v, vclass)),
            ],
        ));
        rows.xlsx.push(vec![
            X::Str(label.to_string()),
            X::opt(g("pct"), "0.0000"),
            X::opt(g("se"), "0.0000"),
            X::opt(g("ci_low"), "0.0000"),
            X::opt(g("ci_high"), "0.0000"),
            if rate {
                X::opt(g("deff"), "0.0000")
            } else {
                X::Empty
            },
            if rate {
                X::opt(g("n_eff"), "0.00")
            } else {
                X::Empty
            },
            X::Str(format!("{op} {thr}")),
            X::Str(v),
        ]);
        rows.chart.push(IntervalRow {
            label: label.to_string(),
            estimate: g("pct"),
            ci,
            threshold: thr,
        });
    }
    rows
}

/// The indicators' table and interval chart.
fn indicator_section(rows: &IndicatorRows) -> String {
    let mut b = String::from("<h2>三率一度</h2>\n");
    b.push_str(&table(
        &[
            "指标",
            "估计值%",
            "标准误",
            "置信区间（Korn–Graubard）",
            "设计效应",
            "有效样本量",
            "标准",
            "判定",
        ],
        &rows.html,
    ));
    b.push_str(&interval_chart(
        "估计值及置信区间（Korn–Graubard）与标准",
        &rows.chart,
    ));
    b
}

/// The census cross-check, with the warning when the census finds more wrong exits.
fn census_section(t: &Table, r: &[Cell]) -> String {
    let census_check = t.get(r, "census_check").str();
    let (check, check_class) = census_check_name(census_check);
    let mut b = format!(
        "<p>普查全面核查：已脱贫人口中未达退出标准的比例为 {}%（抽样估计的错退率为 {}%，置信区间 {}）。核对结果：{}。</p>\n",
        pct(t.get(r, "census_wrong_exit_pct").f64()),
        pct(t.get(r, "wrong_exit_pct").f64()),
        match (
            t.get(r, "wrong_exit_ci_low").f64(),
            t.get(r, "wrong_exit_ci_high").f64()
        ) {
            (Some(a), Some(b)) => format!("[{a:.2}, {b:.2}]"),
            _ => "—".into(),
        },
        badge(check, check_class)
    );
    if census_check == "census_higher" {
        b.push_str(&format!(
            "<p class=\"failtxt\" id=\"census-higher\">{}</p>\n",
            esc(CENSUS_HIGHER_WARNING)
        ));
    }
    b
}

/// How the intervals are computed, and why a standard error may be missing.
fn interval_notes(t: &Table, r: &[Cell]) -> String {
    let mut b = format!("<p class=\"notes\">{}</p>\n", esc(INTERVAL_NOTE));
    if t.get(r, "wrong_exit_se").f64().is_none() && t.get(r, "wrong_exit_pct").f64().is_some() {
        b.push_str("<p class=\"failtxt\">样本村少于2个，无法估计抽样误差（不是误差为0）。</p>\n");
    }
    b
}

/// The sample design: lonely-PSU strata and the strata's table.
fn design_section(inputs: &Inputs, code: &str, design: &[Vec<X>]) -> String {
    let mut b = String::from("<h2>抽样设计</h2>\n");
    let lonely: Vec<String> = inputs
        .design
        .rows
        .iter()
        .filter(|d| {
            inputs.design.get(d, "county_code").str() == code
                && inputs.design.get(d, "lonely").bool() == Some(true)
        })
        .map(|d| inputs.design.get(d, "stratum_name").str().to_string())
        .collect();
    if lonely.is_empty() {
        b.push_str("<p>各抽样层均有2个及以上样本村。</p>\n");
    } else {
        b.push_str(&format!(
            "<p>单PSU层（只有1个样本村的抽样层）：{}。其方差贡献以全县样本村总量的均值为中心计算。</p>\n",
            esc(&lonely.join("、"))
        ));
    }
    b.push_str(&table(DESIGN_HEADERS, &html_rows(design)));
    b
}

/// The rows of a county workbook's sheets that its page has drawn already.
struct CountySheets<'a> {
    indicators: &'a [Vec<X>],
    design: &'a [Vec<X>],
    followup: &'a [Vec<X>],
}

/// A county's workbook: indicators, census cross-check, design and follow-up.
fn county_workbook(
    xlsx_path: &Path,
    title: &str,
    inputs: &Inputs,
    r: &[Cell],
    sheets: &CountySheets<'_>,
) -> Result<(), ReportError> {
    let t = &inputs.assessment;
    let census_check = t.get(r, "census_check").str();
    let e = err(xlsx_path);
    let mut wb = workbook(title, &inputs.generated_at);
    sheet(
        &mut wb,
        "三率一度",
        &[
            "指标",
            "估计值%",
            "标准误",
            "置信区间下限",
            "置信区间上限",
            "设计效应",
            "有效样本量",
            "标准",
            "判定",
        ],
        sheets.indicators,
    )
    .map_err(&e)?;
    sheet(
        &mut wb,
        "普查核查",
        &[
            "普查错退比例%",
            "抽样错退率%",
            "置信区间下限",
            "置信区间上限",
            "核对结果",
            "说明",
        ],
        &[vec![
            X::opt(t.get(r, "census_wrong_exit_pct").f64(), "0.0000"),
            X::opt(t.get(r, "wrong_exit_pct").f64(), "0.0000"),
            X::opt(t.get(r, "wrong_exit_ci_low").f64(), "0.0000"),
            X::opt(t.get(r, "wrong_exit_ci_high").f64(), "0.0000"),
            X::Str(census_check.into()),
            X::Str(
                if census_check == "census_higher" {
                    CENSUS_HIGHER_WARNING
                } else {
                    ""
                }
                .into(),
            ),
        ]],
    )
    .map_err(&e)?;
    design_and_followup_sheets(&mut wb, sheets.design, sheets.followup).map_err(&e)?;
    save(&mut wb, xlsx_path)?;
    Ok(())
}
