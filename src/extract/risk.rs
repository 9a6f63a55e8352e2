//! The disclosure-risk report of an extract (`risk_report.json`, `risk_report.html`): never a
//! record, only counts and shares: k-anonymity reached, generalization and suppression per
//! variable, class sizes, l-diversity of health status, and the income top code (with the
//! percentile of a histogram it is taken from), and the attribute-inference check: the
//! published columns that determine a quasi-identifier or the county are hidden wherever that
//! value is suppressed or generalized ([`DETERMINANTS`]), and the written records are counted
//! where one could still be recomputed ([`InferenceCheck`]).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::common::HashMap;
use serde::Serialize;

use super::anonymize::{
    AGE, ALL_QI, AREA, Anonymized, DIS, HOUSEHOLD_QI, PERSON_QI, QI_NAMES, SHIFT,
    compatible_counts, field, tally, value,
};
use super::{ExtractError, column};

/// Where a published column is hidden (NULL): where a quasi-identifier it determines is
/// suppressed, or where the area is not a county (generalized to the prefecture, or suppressed).
#[derive(Debug, Clone, Copy)]
pub(super) enum Hidden {
    Qi(usize),
    NotCounty,
}

/// The published columns that determine a quasi-identifier or the county, and where each is
/// hidden: health_status 4 is disabled; schooling_status is given exactly for ages 6-15, and 2
/// (taught at home) only for disabled children; county_type and weight are county attributes.
pub(super) const DETERMINANTS: [(&str, &[Hidden]); 4] = [
    ("health_status", &[Hidden::Qi(DIS)]),
    ("schooling_status", &[Hidden::Qi(AGE), Hidden::Qi(DIS)]),
    ("county_type", &[Hidden::NotCounty]),
    ("weight", &[Hidden::NotCounty]),
];

/// Whether tuple `t` has a county as its area (6 digits; a prefecture has 4).
fn is_county(t: u64) -> bool {
    value(t, AREA).is_some_and(|a| a >= 100_000)
}

/// Column `name` of the query as published for records with the anonymized `tuples`: NULL
/// where it would give away a suppressed or generalized value ([`DETERMINANTS`]).
pub(super) fn published_column(
    b: &RecordBatch,
    name: &str,
    tuples: &[u64],
) -> Result<ArrayRef, ExtractError> {
    let col = column(b, name)?;
    let Some((_, hidden)) = DETERMINANTS.iter().find(|(c, _)| *c == name) else {
        return Ok(col);
    };
    let hide: BooleanArray = tuples
        .iter()
        .map(|&t| {
            Some(hidden.iter().any(|h| match h {
                Hidden::Qi(p) => field(t, *p) == 0,
                Hidden::NotCounty => !is_county(t),
            }))
        })
        .collect();
    Ok(Arc::new(
        arrow::compute::nullif(&col, &hide).map_err(datafusion::error::DataFusionError::from)?,
    ))
}

/// The attribute-inference rules: per quasi-identifier, the published columns that could
/// determine it and how they are treated.
const INFERENCE_RULES: [(&str, &[&str], &str, &str); 6] = [
    (
        "area_code",
        &["county_type", "weight"],
        "county attributes: published only where area_code is a county, NULL where it is generalized to the prefecture or suppressed",
        "县级属性：仅在地区为县时发布，地区泛化为地市或被抑制时置为缺失",
    ),
    (
        "household_size",
        &["household_key"],
        "the number of persons sharing the household key: never suppressed, the area and person values are suppressed instead",
        "即同一住户假名的人数：从不抑制，改为抑制地区和个人变量",
    ),
    (
        "sex",
        &[],
        "no published column determines it",
        "没有发布的列能决定它",
    ),
    (
        "age_band",
        &["schooling_status"],
        "schooling_status is given exactly for ages 6-15: NULL where age_band is suppressed, and k-anonymity counts its presence as part of the age band",
        "在校状况仅6-15岁填写：年龄组被抑制时置为缺失，k-匿名把它是否填写计入年龄组",
    ),
    (
        "ethnicity_group",
        &[],
        "no published column determines it",
        "没有发布的列能决定它",
    ),
    (
        "disabled",
        &["health_status", "schooling_status"],
        "health_status 4 is disabled, schooling_status 2 (taught at home) only disabled children: both NULL where disabled is suppressed",
        "健康状况4即残疾，在校状况2（送教上门）仅为残疾儿童：是否残疾被抑制时两者都置为缺失",
    ),
];

/// One line of the attribute-inference check.
#[derive(Debug, Clone, Serialize)]
pub struct Inference {
    pub quasi_identifier: &'static str,
    /// The published columns that could determine it.
    pub determined_by: &'static [&'static str],
    pub rule: &'static str,
    /// Records of both tables whose value of it is suppressed or generalized while one of
    /// `determined_by` is published (0: no such value can be recomputed).
    pub records_recoverable: u64,
}

/// The attribute-inference check over the records as written.
#[derive(Debug, Default)]
pub(super) struct InferenceCheck(BTreeMap<&'static str, u64>);

impl InferenceCheck {
    /// Count the records of a written batch (either table) whose suppressed or generalized
    /// value has a determining column published.
    pub(super) fn add(&mut self, b: &RecordBatch) {
        for (qi, by, _, _) in INFERENCE_RULES {
            let n = self.0.entry(qi).or_default();
            let Some(target) = b.column_by_name(qi) else {
                continue;
            };
            let area = target.as_any().downcast_ref::<StringArray>();
            let by: Vec<&ArrayRef> = by.iter().filter_map(|c| b.column_by_name(c)).collect();
            for i in 0..b.num_rows() {
                let hidden = target.is_null(i)
                    || qi == "area_code" && area.is_some_and(|a| a.value(i).len() != 6);
                if hidden && by.iter().any(|c| c.is_valid(i)) {
                    *n += 1;
                }
            }
        }
    }

    fn lines(&self) -> Vec<Inference> {
        INFERENCE_RULES
            .iter()
            .map(|(qi, by, rule, _)| Inference {
                quasi_identifier: qi,
                determined_by: by,
                rule,
                records_recoverable: self.0.get(qi).copied().unwrap_or(0),
            })
            .collect()
    }
}

/// The disclosure-risk report: never a record, only counts and shares.
#[derive(Debug, Clone, Serialize)]
pub struct RiskReport {
    pub k: usize,
    pub snapshot: u64,
    /// When the report was made ("YYYY-MM-DD HH:MM UTC"; fixed by --generated-at or
    /// SOURCE_DATE_EPOCH).
    pub generated_at: String,
    pub persons: usize,
    pub households: usize,
    /// Households (and their persons) whose area was generalized to the prefecture.
    pub area_generalized_households: usize,
    pub area_generalized_share: f64,
    /// Per quasi-identifier: records with the value suppressed, and their share.
    pub suppressed_persons: BTreeMap<String, (usize, f64)>,
    pub suppressed_households: BTreeMap<String, (usize, f64)>,
    /// Per category of each person-level quasi-identifier: how many persons lost it.
    pub suppressed_by_category: Vec<CategoryLoss>,
    /// Persons by the number of records they are compatible with (binned).
    pub class_sizes: BTreeMap<String, usize>,
    /// The smallest number of compatible records of any person and any household (≥ k).
    pub min_class_size_persons: usize,
    pub min_class_size_households: usize,
    /// Persons unique on the quasi-identifiers (county level, nothing suppressed) before, and
    /// after anonymization.
    pub sample_uniques_before: usize,
    pub sample_uniques_after: usize,
    /// l-diversity of health_status within the equivalence classes (identical tuples); every
    /// sensitive attribute in `l_diversity`.
    pub l_diversity_min: usize,
    pub classes: usize,
    pub classes_with_l1: usize,
    pub persons_in_l1_classes: usize,
    /// The l every sensitive attribute should reach, and the l each reaches.
    pub l_required: usize,
    pub l_diversity: Vec<Diversity>,
    /// Ethnicity groups published separately (others are 其他少数民族).
    pub ethnicity_groups: Vec<String>,
    /// Income per capita top code (yuan) and the share of households top-coded.
    pub income_top_code: f64,
    pub income_top_coded_share: f64,
    /// The attribute-inference check: for each quasi-identifier, the published columns that
    /// could determine it, their treatment, and the records where a suppressed or generalized
    /// value is still recoverable from them.
    pub attribute_inference: Vec<Inference>,
}

fn bin(n: usize) -> &'static str {
    match n {
        0..=1 => "01: 1",
        2 => "02: 2",
        3 => "03: 3",
        4 => "04: 4",
        5..=9 => "05: 5-9",
        10..=19 => "06: 10-19",
        20..=49 => "07: 20-49",
        50..=99 => "08: 50-99",
        _ => "09: 100+",
    }
}

/// What the report is made from besides the anonymized tuples.
pub(super) struct Facts<'a> {
    pub k: usize,
    /// The l each sensitive attribute should reach.
    pub l: usize,
    pub snapshot: u64,
    pub generated_at: String,
    pub uniques_before: usize,
    pub ethnicity_groups: Vec<String>,
    pub income: &'a TopCode,
    /// Persons per category of each person-level quasi-identifier before anonymization.
    pub categories_before: CategoryCounts,
}

impl RiskReport {
    /// The report on `anon`; `seen`: the values of the [`SENSITIVE`] attributes seen per class
    /// of identical tuples.
    pub(super) fn new(
        facts: Facts<'_>,
        anon: &Anonymized,
        seen: &HashMap<u64, Sensitive>,
    ) -> RiskReport {
        let (n, nh) = (anon.person_values.len(), anon.households.len());
        let ptally = anon.person_tally();
        let pc = compatible_counts(&ptally, &ALL_QI);
        let htally = tally(anon.households.iter().copied());
        let hc = compatible_counts(&htally, &HOUSEHOLD_QI);
        let suppressed = |t: &HashMap<u64, u64>, positions: &[usize], of: usize| {
            positions
                .iter()
                .map(|&p| {
                    let c: u64 = t
                        .iter()
                        .filter(|(t, _)| field(**t, p) == 0)
                        .map(|(_, c)| c)
                        .sum();
                    (QI_NAMES[p].to_string(), (c as usize, share(c, of)))
                })
                .collect::<BTreeMap<_, _>>()
        };
        let mut class_sizes = BTreeMap::new();
        for (t, c) in &ptally {
            *class_sizes
                .entry(bin(pc[t] as usize).to_string())
                .or_default() += *c as usize;
        }
        let l_diversity = diversity(&ptally, seen, facts.l);
        let health = &l_diversity[0];
        let after = category_counts(&anon.person_values);
        RiskReport {
            k: facts.k,
            snapshot: facts.snapshot,
            generated_at: facts.generated_at,
            persons: n,
            households: nh,
            area_generalized_households: anon.generalized_households,
            area_generalized_share: share(anon.generalized_households as u64, nh),
            suppressed_persons: suppressed(&ptally, &ALL_QI, n),
            suppressed_households: suppressed(&htally, &HOUSEHOLD_QI, nh),
            suppressed_by_category: category_losses(&facts.categories_before, &after),
            class_sizes,
            min_class_size_persons: pc.values().copied().min().unwrap_or(0) as usize,
            min_class_size_households: hc.values().copied().min().unwrap_or(0) as usize,
            sample_uniques_before: facts.uniques_before,
            sample_uniques_after: pc.values().filter(|c| **c == 1).count(),
            l_diversity_min: health.l_achieved,
            classes: ptally.len(),
            classes_with_l1: health.classes_l1,
            persons_in_l1_classes: health.persons_l1,
            l_required: facts.l,
            l_diversity,
            ethnicity_groups: facts.ethnicity_groups,
            income_top_code: facts.income.top,
            income_top_coded_share: share(facts.income.households, nh),
            attribute_inference: Vec::new(),
        }
    }

    /// The report with the attribute-inference check over the records written.
    pub(super) fn with_inference(self, check: &InferenceCheck) -> RiskReport {
        RiskReport {
            attribute_inference: check.lines(),
            ..self
        }
    }
}

/// The sensitive attributes of `research_persons` whose l-diversity the report states, with
/// their Chinese names.
pub(super) const SENSITIVE: [(&str, &str); 3] = [
    ("health_status", "健康状况"),
    ("medical_insurance", "基本医疗保险"),
    ("poverty_attribute", "贫困户属性"),
];

/// The values seen of each [`SENSITIVE`] attribute in one class: a bit per value.
pub(super) type Sensitive = [u64; 3];

/// The l-diversity of one sensitive attribute over the classes of identical tuples: the
/// number of its distinct values (missing values not counted) in the poorest class.
#[derive(Debug, Clone, Serialize)]
pub struct Diversity {
    pub attribute: &'static str,
    pub label_zh: &'static str,
    /// The smallest number of distinct values in a class (0 when there is no class).
    pub l_achieved: usize,
    pub l_required: usize,
    /// Every class has at least `l_required` distinct values.
    pub meets: bool,
    /// Classes below `l_required`, and their persons.
    pub classes_below: usize,
    pub persons_below: usize,
    /// Classes with a single value (everyone in it shares it), and their persons.
    pub classes_l1: usize,
    pub persons_l1: usize,
}

fn diversity(
    ptally: &HashMap<u64, u64>,
    seen: &HashMap<u64, Sensitive>,
    required: usize,
) -> Vec<Diversity> {
    SENSITIVE
        .iter()
        .enumerate()
        .map(|(i, (attribute, label_zh))| {
            let l = |t: &u64| seen.get(t).map_or(0, |s| s[i].count_ones() as usize);
            let below = |bound: usize| {
                ptally
                    .iter()
                    .filter(|(t, _)| l(t) < bound)
                    .fold((0, 0), |(c, p), (_, n)| (c + 1, p + *n as usize))
            };
            let (classes_below, persons_below) = below(required);
            let (classes_l1, persons_l1) = below(2);
            Diversity {
                attribute,
                label_zh,
                l_achieved: ptally.keys().map(l).min().unwrap_or(0),
                l_required: required,
                meets: classes_below == 0,
                classes_below,
                persons_below,
                classes_l1,
                persons_l1,
            }
        })
        .collect()
}

/// Persons per category of each person-level quasi-identifier: (position, published value;
/// the age band for the age) → persons.
pub(super) type CategoryCounts = BTreeMap<(usize, u32), u64>;

/// The [`CategoryCounts`] of persons' own packed values (missing values not counted).
pub(super) fn category_counts(person_values: &[u32]) -> CategoryCounts {
    // Counted per packed field first (a person-level field is 8 bits): tens of millions of
    // persons, four fields each.
    let mut fields = [[0u64; 256]; 6];
    for v in person_values {
        for p in PERSON_QI {
            fields[p][field(u64::from(*v), p) as usize & 0xFF] += 1;
        }
    }
    let mut m = BTreeMap::new();
    for p in PERSON_QI {
        for (f, n) in fields[p].iter().enumerate() {
            let Some(x) = value((f as u64) << SHIFT[p], p).filter(|_| *n > 0) else {
                continue;
            };
            // The age key holds whether a schooling status is given: one band, two keys.
            let x = if p == AGE { x & !1 } else { x };
            *m.entry((p, x)).or_default() += n;
        }
    }
    m
}

/// How much detail one category of a quasi-identifier lost: persons who had it, and those
/// whose value was suppressed.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryLoss {
    pub variable: &'static str,
    /// The value as published, and its label.
    pub category: String,
    pub label: String,
    pub persons: u64,
    pub suppressed: u64,
    pub suppressed_share: f64,
}

/// Per category, persons before and suppressed after (values are only ever suppressed, never
/// changed, once the ethnicity groups are formed).
fn category_losses(before: &CategoryCounts, after: &CategoryCounts) -> Vec<CategoryLoss> {
    before
        .iter()
        .map(|(&(p, x), &n)| {
            let kept = after.get(&(p, x)).copied().unwrap_or(0);
            let (category, label) = super::codebook::category(p, x);
            CategoryLoss {
                variable: QI_NAMES[p],
                category,
                label,
                persons: n,
                suppressed: n.saturating_sub(kept),
                suppressed_share: share(n.saturating_sub(kept), n as usize),
            }
        })
        .collect()
}

fn share(c: u64, of: usize) -> f64 {
    if of == 0 { 0.0 } else { c as f64 / of as f64 }
}

/// Persons unique on the quasi-identifiers of `persons` (full tuples).
pub(super) fn sample_uniques(persons: impl Iterator<Item = u64>) -> usize {
    compatible_counts(&tally(persons), &ALL_QI)
        .values()
        .filter(|c| **c == 1)
        .count()
}

/// Income per capita top-coded: the top code, and the households above it.
pub(super) struct TopCode {
    pub top: f64,
    pub households: u64,
}

impl TopCode {
    /// At the `pct` percentile of `income` (rounded income key → households).
    pub(super) fn of(income: &BTreeMap<u64, u64>, pct: f64) -> TopCode {
        let top = percentile(income, pct);
        let households = income
            .range((Bound::Excluded(total_order_key(top)), Bound::Unbounded))
            .map(|(_, c)| c)
            .sum();
        TopCode { top, households }
    }

    /// An income as published: rounded to 100 yuan and top-coded.
    pub(super) fn apply(&self, v: Option<f64>) -> Option<f64> {
        v.map(|v| ((v / 100.0).round() * 100.0).min(self.top))
    }
}

pub(super) fn risk_html(r: &RiskReport) -> String {
    use crate::render::html::{Td, esc, page, table};
    let mut b = String::from("<h1>研究用数据集披露风险报告</h1>\n");
    b.push_str(&format!(
        "<p class=\"sub\">快照 {} · k = {} · 人员 {} 条 · 住户 {} 条 · 变量说明见 <a href=\"codebook.html\">数据字典</a></p>\n",
        r.snapshot, r.k, r.persons, r.households
    ));
    b.push_str(&format!(
        "<h2>k-匿名</h2>\n<p>每条记录至少与 {} 条记录（含自身）在准标识变量上相容（缺失值与任何值相容）：人员最小为 {}，住户最小为 {}。\
         匿名化前在县级准标识组合上唯一的人员 {} 人，匿名化后 {} 人。</p>\n",
        r.k, r.min_class_size_persons, r.min_class_size_households, r.sample_uniques_before, r.sample_uniques_after
    ));
    let rows: Vec<_> = QI_NAMES
        .iter()
        .map(|q| {
            let (c, s) = r.suppressed_persons[*q];
            let h = r
                .suppressed_households
                .get(*q)
                .map_or("—".to_string(), |(c, s)| {
                    format!("{c} ({:.3}%)", 100.0 * s)
                });
            (
                None,
                vec![
                    Td::Text(q.to_string()),
                    Td::Num(format!("{c} ({:.3}%)", 100.0 * s)),
                    Td::Num(h),
                ],
            )
        })
        .collect();
    b.push_str(&format!(
        "<h2>泛化与局部抑制</h2>\n<p>地区由县泛化为地市的住户 {} 户（{:.3}%）。各变量被抑制（置为缺失）的记录：</p>\n",
        r.area_generalized_households,
        100.0 * r.area_generalized_share
    ));
    b.push_str(&table(&["变量", "人员", "住户"], &rows));
    let rows: Vec<_> = r
        .class_sizes
        .iter()
        .map(|(k, v)| {
            (
                None,
                vec![
                    Td::Text(k.split_once(": ").map_or(k.as_str(), |x| x.1).to_string()),
                    Td::Num(v.to_string()),
                ],
            )
        })
        .collect();
    b.push_str("<h2>等价类规模分布（人员）</h2>\n");
    b.push_str(&table(&["相容记录数", "人员数"], &rows));
    category_html(r, &mut b);
    diversity_html(r, &mut b);
    inference_html(r, &mut b);
    b.push_str(&format!(
        "<h2>其他处理</h2>\n<ul><li>人均纯收入取整到100元，顶端编码为 {} 元（{:.2}% 的住户被顶端编码）。</li>\
         <li>单列的民族：{}。</li><li>年龄按5岁分组，80岁及以上合并；家庭人口数8人及以上合并；残疾等级仅保留是否残疾。</li>\
         <li>姓名、身份证号码、户编码、村级代码和村、乡镇名称已删除；人员和住户以密钥散列（HMAC-SHA-256）的假名标识。</li></ul>\n",
        r.income_top_code,
        100.0 * r.income_top_coded_share,
        esc(&r.ethnicity_groups.join("、"))
    ));
    page("研究用数据集披露风险报告", &b, &r.generated_at)
}

/// Per category of each person-level quasi-identifier, the persons who lost it.
fn category_html(r: &RiskReport, b: &mut String) {
    use crate::render::html::{Td, table};
    b.push_str(
        "<h2>各类别的抑制</h2>\n<p>各准标识变量的每个类别中，原有该值的人员及其中被抑制（置为缺失）的人员：\
         占比高的类别在数据集中损失的细节最多。</p>\n",
    );
    let rows: Vec<_> = r
        .suppressed_by_category
        .iter()
        .map(|c| {
            (
                None,
                vec![
                    Td::Text(c.variable.to_string()),
                    Td::Text(format!("{} {}", c.category, c.label)),
                    Td::Num(c.persons.to_string()),
                    Td::Num(c.suppressed.to_string()),
                    Td::Num(format!("{:.1}%", 100.0 * c.suppressed_share)),
                ],
            )
        })
        .collect();
    b.push_str(&table(
        &["变量", "类别", "人员", "被抑制", "被抑制占比"],
        &rows,
    ));
}

/// The l-diversity of each sensitive attribute and the verdict against the required l.
fn diversity_html(r: &RiskReport, b: &mut String) {
    use crate::render::html::{Td, table};
    let failing: Vec<&str> = r
        .l_diversity
        .iter()
        .filter(|d| !d.meets)
        .map(|d| d.label_zh)
        .collect();
    let verdict = if failing.is_empty() {
        format!("结论：各敏感属性均达到 l = {}。", r.l_required)
    } else {
        format!(
            "结论：{} 未达到 l = {}：这些等价类中的人员共享同一取值，知道某人所在等价类即可推知其取值。",
            failing.join("、"),
            r.l_required
        )
    };
    b.push_str(&format!(
        "<h2>敏感属性的 l-多样性</h2>\n<p>等价类（准标识变量完全相同的人员）{} 个。\
         每个敏感属性在最差的等价类中的不同取值个数为其 l；要求 l ≥ {}。{}</p>\n",
        r.classes, r.l_required, verdict
    ));
    let rows: Vec<_> = r
        .l_diversity
        .iter()
        .map(|d| {
            (
                None,
                vec![
                    Td::Text(format!("{} {}", d.attribute, d.label_zh)),
                    Td::Num(d.l_achieved.to_string()),
                    Td::Text(if d.meets { "达到" } else { "未达到" }.to_string()),
                    Td::Num(d.classes_below.to_string()),
                    Td::Num(d.persons_below.to_string()),
                ],
            )
        })
        .collect();
    b.push_str(&table(
        &[
            "敏感属性",
            "达到的 l",
            "是否达到要求",
            "低于要求的等价类",
            "涉及人员",
        ],
        &rows,
    ));
}

/// The attribute-inference check: the rule, and per quasi-identifier the columns that could
/// determine it, their treatment and the records still recoverable.
fn inference_html(r: &RiskReport, b: &mut String) {
    use crate::render::html::{Td, table};
    let recoverable: u64 = r
        .attribute_inference
        .iter()
        .map(|l| l.records_recoverable)
        .sum();
    b.push_str(&format!(
        "<h2>属性推断检查</h2>\n<p>能决定某个准标识变量或地区的列，与该变量同等对待：该变量被抑制或泛化之处，这些列一并置为缺失（或从不抑制该变量），\
         使被抑制或泛化的值不能由其他列重算。检查了两张表的全部记录：被抑制或泛化的值仍可由其他列还原的记录 {recoverable} 条。</p>\n"
    ));
    let rows: Vec<_> = r
        .attribute_inference
        .iter()
        .zip(INFERENCE_RULES)
        .map(|(l, (_, _, _, zh))| {
            let by = if l.determined_by.is_empty() {
                "—".to_string()
            } else {
                l.determined_by.join(", ")
            };
            (
                None,
                vec![
                    Td::Text(l.quasi_identifier.to_string()),
                    Td::Text(by),
                    Td::Text(zh.to_string()),
                    Td::Num(l.records_recoverable.to_string()),
                ],
            )
        })
        .collect();
    b.push_str(&table(
        &["准标识变量", "可决定它的列", "处理", "可还原的记录"],
        &rows,
    ));
}

/// A key whose unsigned order is the total order of the floats (f64::total_cmp).
pub(super) fn total_order_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

fn from_total_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// The `pct` percentile of a histogram (value key → count): the value at rank
/// ⌈pct/100 · n⌉ (at least the first), 0 when empty.
fn percentile(hist: &BTreeMap<u64, u64>, pct: f64) -> f64 {
    let n: u64 = hist.values().sum();
    if n == 0 {
        return 0.0;
    }
    let rank = (((pct / 100.0) * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0;
    for (k, c) in hist {
        seen += c;
        if seen >= rank {
            return from_total_order_key(*k);
        }
    }
    hist.keys()
        .next_back()
        .map_or(0.0, |k| from_total_order_key(*k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{pack_household, pack_person};
    use arrow::array::{Float64Array, Int64Array};

    #[test]
    fn determinants_are_hidden_with_what_they_determine() {
        let b = RecordBatch::try_from_iter([
            (
                "health_status",
                Arc::new(Int64Array::from(vec![4, 4, 1])) as ArrayRef,
            ),
            (
                "schooling_status",
                Arc::new(Int64Array::from(vec![Some(2), Some(2), Some(1)])) as ArrayRef,
            ),
            (
                "weight",
                Arc::new(Float64Array::from(vec![1.5, 1.5, 2.5])) as ArrayRef,
            ),
        ])
        .unwrap();
        let county = pack_household(Some(520101), Some(3));
        let prefecture = pack_household(Some(5201), Some(3));
        let tuples = [
            county | u64::from(pack_person([Some(1), Some(2), Some(1), Some(1)])),
            prefecture | u64::from(pack_person([Some(1), Some(2), Some(1), None])),
            county | u64::from(pack_person([Some(1), None, Some(1), Some(2)])),
        ];
        let nulls = |c: &str| {
            let a = published_column(&b, c, &tuples).unwrap();
            (0..3).map(|i| a.is_null(i)).collect::<Vec<_>>()
        };
        assert_eq!(nulls("health_status"), [false, true, false]);
        assert_eq!(nulls("schooling_status"), [false, true, true]);
        assert_eq!(nulls("weight"), [false, true, false]);
        // The check counts what would still give a value away.
        let mut check = InferenceCheck::default();
        let out = RecordBatch::try_from_iter([
            (
                "area_code",
                Arc::new(StringArray::from(vec![Some("520101"), Some("5201"), None])) as ArrayRef,
            ),
            (
                "weight",
                Arc::new(Float64Array::from(vec![Some(1.5), Some(1.5), None])) as ArrayRef,
            ),
        ])
        .unwrap();
        check.add(&out);
        let lines = check.lines();
        assert_eq!(lines[0].quasi_identifier, "area_code");
        assert_eq!(lines[0].records_recoverable, 1);
        assert!(lines[1..].iter().all(|l| l.records_recoverable == 0));
    }

    #[test]
    fn percentiles_of_float_histograms() {
        for v in [0.0, -0.0, 1.5, -250.0, 1e9, f64::INFINITY] {
            assert_eq!(
                from_total_order_key(total_order_key(v)).to_bits(),
                v.to_bits()
            );
        }
        let hist: BTreeMap<u64, u64> = [(-100.0, 1), (0.0, 2), (300.0, 96), (9e5, 1)]
            .iter()
            .map(|(v, c)| (total_order_key(*v), *c))
            .collect();
        assert_eq!(percentile(&hist, 99.0), 300.0);
        assert_eq!(percentile(&hist, 100.0), 9e5);
        assert_eq!(percentile(&hist, 0.0), -100.0);
        assert_eq!(percentile(&BTreeMap::new(), 99.0), 0.0);
    }
}
