//! The national bulletin (国家脱贫攻坚普查公报 style): title, number, issuing body and date;
//! numbered sections (一、二、…) for coverage, 两不愁三保障 and drinking water, income and the
//! exit standard, assistance received, village, township and county facilities and village
//! exits, each opening with prose generated from the headline figures (shares with their
//! bases, as the indicators table computes them and the tables round them; a figure without a
//! base is left out, never shown as 0 %), then the table of national poverty counties and
//! sampled other counties side by side and a chart; numbered notes on bases, weighting and
//! rounding. The scope line names what is loaded: "中西部22个省（区、市）" only when all are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::labels::{INCOME_MEAN, NOTES, SECTIONS, Section, Unit};
use super::{IndicatorKey, Inputs, Issue, ReportError, indicator_map, province_name, write_file};
use crate::render::html::{Td, bar_chart, esc, page, table};

const NPC: (&str, &str) = ("国家贫困县", "#8b0000");
const SAMPLE: (&str, &str) = ("非国家贫困县（抽样推算）", "#d9a441");

/// Format a count (possibly weighted) with thousands separators.
pub(crate) fn count(v: f64) -> String {
    let s = format!("{:.0}", v.round());
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// The national indicators by scope and id: (value, base, rate or mean).
struct National(BTreeMap<IndicatorKey, (f64, f64, f64)>);

impl National {
    fn get(&self, scope: &str, id: &str) -> Option<(f64, f64, f64)> {
        self.0
            .get(&(
                scope.to_string(),
                "national".to_string(),
                "00".to_string(),
                id.to_string(),
            ))
            .copied()
    }
}

/// Section numerals after the first (coverage).
const NUMERALS: [&str; 10] = ["二", "三", "四", "五", "六", "七", "八", "九", "十", "十一"];

pub fn write(inputs: &Inputs, issue: &Issue, path: &Path) -> Result<PathBuf, ReportError> {
    let national = National(indicator_map(&inputs.indicators));
    let scope = scope_phrase(inputs);
    let mut b = heading(issue);
    b.push_str(&format!(
        "<p>根据国家脱贫攻坚普查结果，现将{}建档立卡户“两不愁三保障”和饮水安全、\
         收入和获得帮扶情况，以及行政村、乡镇和县基础设施和公共服务情况公布如下：</p>\n",
        esc(&scope)
    ));
    b.push_str(&coverage_section(&national, &scope));
    for (k, section) in SECTIONS.iter().enumerate() {
        b.push_str(&indicator_section(&national, k, section));
    }
    b.push_str(&village_exit_section(inputs));
    b.push_str("<div class=\"notes\"><p>注释：</p>\n<ol>\n");
    for n in NOTES {
        b.push_str(&format!("<li>{}</li>\n", esc(n)));
    }
    b.push_str("</ol>\n<p>比例为分子除以分母乘以100；表中“—”表示该范围内无相应基数。</p>\n");
    b.push_str(&format!(
        "<p>数据来源：普查数据仓库快照 {}（{}）。</p></div>\n",
        inputs.snapshot.id,
        esc(&province_list(inputs))
    ));
    write_file(
        path,
        page("国家脱贫攻坚普查公报", &b, &inputs.generated_at).as_bytes(),
    )?;
    Ok(path.to_path_buf())
}

/// Coverage: the bases of the indicators.
fn coverage_section(national: &National, scope: &str) -> String {
    let mut b = String::from("<h2>一、普查范围</h2>\n");
    b.push_str(&coverage_prose(national));
    let base = |scope: &str, id: &str| national.get(scope, id).map(|x| x.1);
    let coverage = [
        ("建档立卡户（户）", "food_enough"),
        ("建档立卡人口（人）", "med_resident"),
        ("义务教育阶段适龄儿童（人）", "edu_in_school"),
        ("行政村（个）", "vil_road"),
        ("乡镇（个）", "twn_primary"),
        ("县（个）", "cty_hospital"),
    ];
    let rows: Vec<_> = coverage
        .iter()
        .map(|(label, id)| {
            (
                None,
                vec![
                    Td::Text(label.to_string()),
                    Td::Num(base("npc", id).map(count).unwrap_or_else(|| "—".into())),
                    Td::Num(base("sample", id).map(count).unwrap_or_else(|| "—".into())),
                ],
            )
        })
        .collect();
    b.push_str(&table(&["项目", NPC.0, SAMPLE.0], &rows));
    b.push_str(&format!(
        "<p>普查对象为{}国家贫困县的全部建档立卡户，以及抽中的非国家贫困县的建档立卡户；\
         非国家贫困县数据按县抽样权数加权推算<sup>[7]</sup>。</p>\n",
        esc(scope)
    ));
    b
}

/// One section of indicators (the `k`-th after coverage): table, income note and chart.
fn indicator_section(national: &National, k: usize, section: &Section) -> String {
    let get = |scope: &str, id: &str| national.get(scope, id);
    let fmt = |v: Option<(f64, f64, f64)>| {
        v.map(|x| section.unit.format(x.2))
            .unwrap_or_else(|| "—".into())
    };
    let mut b = format!(
        "<h2>{}、{}<sup>[{}]</sup></h2>\n",
        NUMERALS.get(k).copied().unwrap_or(""),
        esc(section.title),
        section.note
    );
    b.push_str(&section_prose(national, section, k == 0));
    let unit = match section.unit {
        Unit::Percent(_) => "（%）",
        Unit::Yuan => "（元）",
    };
    let rows: Vec<_> = section
        .items
        .iter()
        .map(|(id, name)| {
            (
                None,
                vec![
                    Td::Text(name.to_string()),
                    Td::Num(fmt(get("npc", id))),
                    Td::Num(fmt(get("sample", id))),
                ],
            )
        })
        .collect();
    let h1 = format!("{}{unit}", NPC.0);
    let h2 = format!("{}{unit}", SAMPLE.0);
    b.push_str(&table(&["指标", &h1, &h2], &rows));
    if section.title == "脱贫标准与收入" {
        let (id, name) = INCOME_MEAN;
        let v = |s: &str| {
            get(s, id)
                .map(|x| Unit::Yuan.format(x.2))
                .unwrap_or_else(|| "—".into())
        };
        b.push_str(&format!(
            "<p>{}：{} {}元，{} {}元。</p>\n",
            esc(name),
            NPC.0,
            v("npc"),
            esc(SAMPLE.0),
            v("sample")
        ));
    }
    let items: Vec<(String, Vec<Option<f64>>)> = section
        .items
        .iter()
        .map(|(id, name)| {
            (
                name.trim_start_matches('　').to_string(),
                vec![get("npc", id).map(|x| x.2), get("sample", id).map(|x| x.2)],
            )
        })
        .collect();
    b.push_str(&bar_chart(section.title, &[NPC, SAMPLE], &items));
    b.push('\n');
    b
}

/// Village exits: villages evaluated and those under their province's exit standard.
fn village_exit_section(inputs: &Inputs) -> String {
    let t = &inputs.village_exit;
    let evaluated = t
        .rows
        .iter()
        .filter(|r| t.get(r, "passes").bool().is_some())
        .count();
    let passed = t
        .rows
        .iter()
        .filter(|r| t.get(r, "passes").bool() == Some(true))
        .count();
    let mut b = format!(
        "<h2>{}、贫困村退出</h2>\n",
        NUMERALS.get(SECTIONS.len()).copied().unwrap_or("")
    );
    b.push_str(&format!(
        "<p>参与测算的行政村 {} 个，贫困发生率低于所在省份退出标准（中部地区2%、西部地区3%）的 {} 个，占 {}%。\
         户籍人口为0的行政村不计算贫困发生率。</p>\n",
        count(evaluated as f64),
        count(passed as f64),
        if evaluated > 0 {
            format!("{:.1}", 100.0 * passed as f64 / evaluated as f64)
        } else {
            "—".into()
        }
    ));
    b
}

/// Title, number, issuing body and date, as a bulletin opens.
fn heading(issue: &Issue) -> String {
    use chrono::Datelike as _;
    let mut b = String::from("<h1>国家脱贫攻坚普查公报</h1>\n");
    if let Some(n) = issue.number {
        b.push_str(&format!(
            "<p class=\"sub\">（第{}号）</p>\n",
            chinese_number(n)
        ));
    }
    let d = issue.issued_on;
    b.push_str(&format!(
        "<p class=\"issuer\">{}<br>{}年{}月{}日</p>\n",
        esc(&issue.issuer),
        d.year(),
        d.month(),
        d.day()
    ));
    b
}

/// 1 → 一, 12 → 十二, 20 → 二十, 99 → 九十九; from 100 on, digits.
fn chinese_number(n: u32) -> String {
    const D: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    let digit = |d: u32| D.get(d as usize).copied().unwrap_or("");
    match n {
        0..=9 => digit(n).to_string(),
        10..=19 => format!("十{}", if n == 10 { "" } else { digit(n % 10) }),
        20..=99 => format!(
            "{}十{}",
            digit(n / 10),
            if n.is_multiple_of(10) {
                ""
            } else {
                digit(n % 10)
            }
        ),
        _ => n.to_string(),
    }
}

/// The provinces of the snapshot in code order.
fn province_codes(inputs: &Inputs) -> Vec<&str> {
    inputs
        .snapshot
        .provinces
        .keys()
        .map(String::as_str)
        .collect()
}

/// "贵州省（52）、云南省（53）": every province loaded, for the sources note.
fn province_list(inputs: &Inputs) -> String {
    province_codes(inputs)
        .iter()
        .map(|c| format!("{}（{c}）", province_name(c)))
        .collect::<Vec<_>>()
        .join("、")
}

/// Provinces named one by one up to this many; beyond, counted (and listed in the notes).
const NAMED_PROVINCES: usize = 8;

/// The scope of the census as loaded: "中西部22个省（区、市）" when every census province is,
/// a province by its name, a few by their names and number, else their number.
pub(super) fn scope_phrase(inputs: &Inputs) -> String {
    let codes = province_codes(inputs);
    let reference = crate::contract::reference::Reference::get();
    let all_census = codes.iter().all(|c| reference.province(c).is_some());
    let region = if all_census { "中西部" } else { "" };
    let n = codes.len();
    let names: Vec<String> = codes.iter().map(|c| province_name(c)).collect();
    match names.as_slice() {
        [] => "（无省份数据）".into(),
        [one] => one.clone(),
        [init @ .., last] if n <= NAMED_PROVINCES => {
            format!("{}和{last}{n}个省（区、市）", init.join("、"))
        }
        _ => format!("{region}{n}个省（区、市）"),
    }
}

/// What the base of an indicator counts (noun, measure word) and how the prose names the
/// indicator (the table's name without the base's own word).
fn prose_terms(id: &str, name: &str, note: usize) -> (&'static str, &'static str, String) {
    let (noun, measure) = match id {
        "wrongly_exited" => ("已脱贫建档立卡户", "户"),
        "wrongly_exited_persons" => ("已脱贫建档立卡人口", "人"),
        "vil_road_feasible" => ("具备条件的行政村", "个"),
        "vil_power_in_grid" => ("大电网覆盖范围内的行政村", "个"),
        _ if id.starts_with("vil_") => ("行政村", "个"),
        _ if id.starts_with("twn_") => ("乡镇", "个"),
        _ if id.starts_with("cty_") => ("县", "个"),
        _ => match note {
            2 => ("义务教育阶段适龄儿童", "人"),
            3 => ("建档立卡人口", "人"),
            _ => ("建档立卡户", "户"),
        },
    };
    let name = match id {
        "wrongly_exited" | "wrongly_exited_persons" => "未达到贫困户退出标准",
        _ => name
            .trim_start_matches('　')
            .trim_start_matches("具备条件的")
            .trim_start_matches("大电网覆盖范围内")
            .trim_start_matches("乡镇")
            .trim_start_matches("县"),
    };
    (noun, measure, name.to_string())
}

/// The headline figures of each section, as the bulletins state them in their text.
fn headlines(title: &str) -> &'static [&'static str] {
    match title {
        "“两不愁”实现情况" => &["food_enough", "clothing_ok", "protein_anytime"],
        "义务教育有保障" => &[
            "edu_guaranteed",
            "edu_in_school",
            "edu_home_teaching",
            "edu_unable",
        ],
        "基本医疗有保障" => &[
            "med_guaranteed",
            "med_resident",
            "med_employee",
            "med_special",
        ],
        "住房安全有保障" => &[
            "housing_safe_existing",
            "housing_renovated",
            "housing_relocated",
        ],
        "饮水安全有保障" => &[
            "water_safe",
            "water_quantity_ok",
            "water_quality_ok",
            "water_piped",
        ],
        "脱贫标准与收入" => &[
            "guarantees_met",
            "income_above_line",
            "exit_standard_met",
            "wrongly_exited",
        ],
        "获得帮扶情况" => &[
            "assist_industry_any",
            "assist_employment_any",
            "assist_health_any",
            "assist_education_any",
        ],
        "行政村基础设施和公共服务" => &[
            "vil_road",
            "vil_power",
            "vil_mobile",
            "vil_broadband",
            "vil_clinic",
        ],
        "乡镇和县公共服务" => &[
            "twn_health_centre",
            "twn_primary",
            "cty_hospital",
            "cty_grade2",
        ],
        _ => &[],
    }
}

/// What a group of clauses shares: the noun and measure word of its base, and the base.
type Base = (&'static str, &'static str, f64);

/// The prose of a section: one sentence per scope, its headline shares grouped by base
/// ("8,932户建档立卡户中，不愁吃的占100.00%，……"), the base of each group as the table
/// computes it. Shares without a base are left out; a scope without any gets no sentence.
fn section_prose(national: &National, section: &Section, first: bool) -> String {
    let mut sentences = Vec::new();
    for (scope, scope_name) in [("npc", NPC.0), ("sample", SAMPLE.0)] {
        // (noun, measure, base) → clauses, in the order of the headlines.
        let mut groups: Vec<(Base, Vec<String>)> = Vec::new();
        for id in headlines(section.title) {
            let Some((_, den, value)) = national.get(scope, id) else {
                continue;
            };
            let Some((_, name)) = section.items.iter().find(|(i, _)| i == id) else {
                continue;
            };
            let (noun, measure, name) = prose_terms(id, name, section.note);
            let clause = format!("{name}的占{}%", section.unit.format(value));
            match groups
                .iter_mut()
                .find(|((n, _, b), _)| *n == noun && *b == den)
            {
                Some((_, clauses)) => clauses.push(clause),
                None => groups.push(((noun, measure, den), vec![clause])),
            }
        }
        if groups.is_empty() {
            continue;
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|((noun, measure, den), clauses)| {
                format!("{}{measure}{noun}中，{}", count(*den), clauses.join("，"))
            })
            .collect();
        sentences.push(format!("{scope_name}的{}。", parts.join("；")));
    }
    if sentences.is_empty() {
        return "<p>本部分指标在普查范围内均无相应基数。</p>\n".into();
    }
    let lead = if first { "普查结果显示，" } else { "" };
    format!("<p>{lead}{}</p>\n", esc(&sentences.join("")))
}

/// The coverage in words: counties, households and persons of each scope.
fn coverage_prose(national: &National) -> String {
    let base = |scope: &str, id: &str| national.get(scope, id).map(|x| count(x.1));
    let mut sentences = Vec::new();
    for (scope, lead) in [
        ("npc", "国家贫困县全面普查"),
        ("sample", "非国家贫困县抽样调查、按县抽样权数推算"),
    ] {
        let parts: Vec<String> = [
            ("cty_hospital", "县", "个"),
            ("food_enough", "建档立卡户", "户"),
            ("med_resident", "建档立卡人口", "人"),
            ("vil_road", "行政村", "个"),
        ]
        .iter()
        .filter_map(|(id, noun, measure)| base(scope, id).map(|n| format!("{noun}{n}{measure}")))
        .collect();
        if !parts.is_empty() {
            sentences.push(format!("{lead}：{}。", parts.join("，")));
        }
    }
    if sentences.is_empty() {
        return String::new();
    }
    format!("<p>{}</p>\n", esc(&sentences.join("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulletin_numbers_are_chinese_numerals() {
        let got: Vec<String> = [1, 2, 10, 12, 20, 22, 99, 100]
            .into_iter()
            .map(chinese_number)
            .collect();
        assert_eq!(
            got,
            ["一", "二", "十", "十二", "二十", "二十二", "九十九", "100"]
        );
    }

    #[test]
    fn the_prose_names_an_indicator_by_its_base() {
        assert_eq!(
            prose_terms("cty_hospital", "县有县级公立医院", 6),
            ("县", "个", "有县级公立医院".to_string())
        );
        assert_eq!(
            prose_terms("vil_road_feasible", "具备条件的通硬化路", 6),
            ("具备条件的行政村", "个", "通硬化路".to_string())
        );
        assert_eq!(
            prose_terms("edu_in_school", "在校就读", 2).0,
            "义务教育阶段适龄儿童"
        );
    }
}
