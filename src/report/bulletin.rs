//! The national bulletin (国家脱贫攻坚普查公报 style): coverage, 两不愁三保障 and drinking
//! water with national poverty counties and sampled other counties side by side, income and
//! the exit standard, assistance received, village, township and county facilities, village
//! exits, and numbered notes on bases, weighting and rounding.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::labels::{INCOME_MEAN, NOTES, SECTIONS, Section, Unit};
use super::{IndicatorKey, Inputs, ReportError, indicator_map, write_file};
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

pub fn write(inputs: &Inputs, path: &Path) -> Result<PathBuf, ReportError> {
    let national = National(indicator_map(&inputs.indicators));
    let mut b = String::new();
    b.push_str("<h1>国家脱贫攻坚普查公报</h1>\n");
    b.push_str(&format!(
        "<p class=\"sub\">普查数据仓库快照 {} · {} 个省份</p>\n",
        inputs.snapshot.id,
        inputs.snapshot.provinces.len()
    ));
    b.push_str(&coverage_section(&national));
    for (k, section) in SECTIONS.iter().enumerate() {
        b.push_str(&indicator_section(&national, k, section));
    }
    b.push_str(&village_exit_section(inputs));
    b.push_str("<div class=\"notes\"><p>注释：</p>\n<ol>\n");
    for n in NOTES {
        b.push_str(&format!("<li>{}</li>\n", esc(n)));
    }
    b.push_str("</ol>\n<p>比例为分子除以分母乘以100；表中“—”表示该范围内无相应基数。</p></div>\n");
    write_file(
        path,
        page("国家脱贫攻坚普查公报", &b, &inputs.generated_at).as_bytes(),
    )?;
    Ok(path.to_path_buf())
}

/// Coverage: the bases of the indicators.
fn coverage_section(national: &National) -> String {
    let mut b = String::from("<h2>一、普查范围</h2>\n");
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
    b.push_str(
        "<p>普查对象为中西部22个省（区、市）国家贫困县的全部建档立卡户，以及抽中的非国家贫困县的建档立卡户；\
         非国家贫困县数据按县抽样权数加权推算<sup>[7]</sup>。</p>\n",
    );
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
