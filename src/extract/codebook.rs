//! The codebook of an extract (`codebook.html`, `codebook.csv`, `codebook.json`): every column
//! of `research_persons` and `research_households` with its Chinese label, its type as written,
//! where it comes from, its categories with their Chinese labels, and the generalization
//! applied (pseudonyms, bands, top codes, grouping, local suppression, columns hidden with what
//! they determine).
//!
//! Nothing here is a copy: the categories come from the functions that make the published
//! values ([`passes::age_band_label`], [`passes::size_label`], [`passes::ethnicity_name`]),
//! from the ethnicity groups and the income top code of this very extract, and from the
//! contract's code labels ([`crate::contract::codes`]); the columns from the schemas written
//! and [`DETERMINANTS`](super::risk::DETERMINANTS) say what is hidden where.

use arrow::datatypes::{DataType, SchemaRef};
use serde::Serialize;

use super::anonymize::{AGE, DIS, ETH, SEX};
use super::passes::{self, OTHER_MINORITIES};
use super::risk::{DETERMINANTS, Hidden};
use super::{ExtractError, write_file};
use crate::contract::codes::{self, YES_NO};
use crate::contract::schema::{REFERENCE_DATE, Table};

/// One column of the extract.
#[derive(Debug, Clone, Serialize)]
pub struct Variable {
    pub table: &'static str,
    pub name: String,
    pub label_zh: String,
    /// The Arrow type written (Parquet logical type).
    pub data_type: String,
    /// The census column it is made from (`table.column`).
    pub source: String,
    /// The published values and their labels (empty for keys, numbers and years).
    pub categories: Vec<Category>,
    /// What was done to it before publication.
    pub treatment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    pub value: String,
    pub label: String,
}

/// What the codebook needs of this extract.
pub(super) struct Settings<'a> {
    pub k: usize,
    pub min_ethnicity_persons: usize,
    pub ethnicity_groups: &'a [String],
    pub income_top_code: f64,
    pub income_top_percentile: f64,
}

/// The codebook of the tables written with these schemas.
pub(super) fn codebook(
    persons: &SchemaRef,
    households: &SchemaRef,
    s: &Settings<'_>,
) -> Vec<Variable> {
    [
        ("research_persons", persons),
        ("research_households", households),
    ]
    .into_iter()
    .flat_map(|(table, schema)| {
        schema
            .fields()
            .iter()
            .map(move |f| variable(table, f.name(), f.data_type(), s))
            .collect::<Vec<_>>()
    })
    .collect()
}

/// The published value and label of category `x` of the person-level quasi-identifier at
/// position `p` (x as packed, without the + 1; the age as its band key).
pub(super) fn category(p: usize, x: u32) -> (String, String) {
    match p {
        AGE => {
            let band = passes::age_band_label(x);
            let label = match band.strip_suffix('+') {
                Some(top) => format!("{top}岁及以上"),
                None => format!("{band}岁"),
            };
            (band, label)
        }
        ETH => {
            let name = passes::ethnicity_name(x);
            (name.clone(), name)
        }
        SEX | DIS => {
            let labels = if p == SEX {
                codes::labels(Table::Persons, "sex").unwrap_or(&[])
            } else {
                YES_NO
            };
            let label = labels
                .iter()
                .find(|(c, _)| i64::from(*c) == i64::from(x))
                .map_or("", |(_, l)| *l);
            (x.to_string(), label.to_string())
        }
        _ => (x.to_string(), String::new()),
    }
}

/// The census column a published column is made from.
fn source(table: &'static str, name: &str) -> (Table, &'static str) {
    let persons = table == "research_persons";
    match name {
        "person_key" => (Table::Persons, "person_id"),
        "household_key" => (Table::Households, "household_id"),
        "area_code" => (Table::Counties, "county_code"),
        "sex" => (Table::Persons, "sex"),
        "age_band" => (Table::Persons, "birth_date"),
        "ethnicity_group" => (Table::Persons, "ethnicity"),
        "household_size" => (Table::Persons, "household_id"),
        "disabled" => (Table::Persons, "health_status"),
        "poor_village" => (Table::Villages, "is_poor_village"),
        "county_type" => (Table::Counties, "county_type"),
        "weight" => (Table::Counties, "sampling_weight"),
        "income_per_capita" => (Table::Households, "income_wage"),
        other => {
            let t = if persons && Table::Persons.column_index(other).is_some() {
                Table::Persons
            } else {
                Table::Households
            };
            let col = t.columns().iter().find(|c| c.name == other);
            (t, col.map_or("", |c| c.name))
        }
    }
}

/// The Chinese label of a published column.
fn label(name: &str, (table, column): (Table, &'static str)) -> String {
    let fixed = match name {
        "person_key" => "人员假名",
        "household_key" => "住户假名",
        "area_code" => "地区代码（县或地市）",
        "age_band" => "年龄组",
        "ethnicity_group" => "民族分组",
        "household_size" => "家庭人口数",
        "disabled" => "是否残疾",
        "income_per_capita" => "人均纯收入(元)",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.to_string();
    }
    table
        .columns()
        .iter()
        .find(|c| c.name == column)
        .map_or_else(String::new, |c| c.label_zh.to_string())
}

fn variable(table: &'static str, name: &str, t: &DataType, s: &Settings<'_>) -> Variable {
    let src = source(table, name);
    let (categories, treatment) = match name {
        "age_band" => (
            (0..=16)
                .map(|b| category(AGE, b * 2))
                .map(|(value, label)| Category { value, label })
                .collect(),
            format!(
                "{REFERENCE_DATE} 的周岁按5岁分组，80岁及以上合并（顶端编码）；出生日期不发布。{}",
                suppressed(s.k)
            ),
        ),
        "ethnicity_group" => (
            s.ethnicity_groups
                .iter()
                .map(|g| Category {
                    value: g.clone(),
                    label: g.clone(),
                })
                .collect(),
            format!(
                "汉族和本数据集中不少于 {} 人的少数民族单列，其余合并为{}。{}",
                s.min_ethnicity_persons,
                passes::ethnicity_name(OTHER_MINORITIES),
                suppressed(s.k)
            ),
        ),
        "household_size" => (
            (0..=8)
                .map(|n| {
                    let v = passes::size_label(n);
                    Category {
                        label: format!("{v}人"),
                        value: v,
                    }
                })
                .collect(),
            "同一住户假名的人员数（已加载的成员），8人及以上合并（顶端编码）；从不抑制（研究者可由住户假名数出），必要时改为抑制地区和个人变量。".to_string(),
        ),
        _ => (code_categories(name, src), treatment(name, s)),
    };
    Variable {
        table,
        name: name.to_string(),
        label_zh: label(name, src),
        data_type: t.to_string(),
        source: format!("{}.{}", src.0.name(), src.1),
        categories,
        treatment,
    }
}

/// The categories of a coded column: the contract's labels (the yes/no labels for `disabled`).
fn code_categories(name: &str, (table, column): (Table, &'static str)) -> Vec<Category> {
    let labels = match name {
        "disabled" => Some(YES_NO),
        "age_band" | "household_size" | "area_code" => None,
        _ => codes::labels(table, column),
    };
    labels
        .unwrap_or(&[])
        .iter()
        .map(|(c, l)| Category {
            value: c.to_string(),
            label: l.to_string(),
        })
        .collect()
}

fn suppressed(k: usize) -> String {
    format!("准标识变量：所在等价类不足 k = {k} 时可能被局部抑制（置为缺失）。")
}

/// What was done to a column other than the banded and grouped ones.
fn treatment(name: &str, s: &Settings<'_>) -> String {
    let hidden = DETERMINANTS.iter().find(|(c, _)| *c == name).map(|(_, h)| {
        let wheres: Vec<String> = h
            .iter()
            .map(|h| match h {
                Hidden::Qi(p) => {
                    format!("{} 被抑制处", super::anonymize::QI_NAMES[*p])
                }
                Hidden::NotCounty => "地区不是县（泛化为地市或被抑制）处".to_string(),
            })
            .collect();
        format!("能推出准标识变量或县：在{}置为缺失。", wheres.join("、"))
    });
    let base = match name {
        "person_key" | "household_key" => {
            "原编码以密钥散列（HMAC-SHA-256）替换为假名，同一密钥的数据集可互相连接；密钥不随数据发布。"
                .to_string()
        }
        "area_code" => format!(
            "6位县级区划代码；所在等价类不足 k = {} 的住户泛化为4位地市代码，仍不足时局部抑制（置为缺失）。村、乡镇代码和名称不发布。",
            s.k
        ),
        "sex" => suppressed(s.k),
        "disabled" => format!(
            "由健康状况 = 4（残疾）导出，残疾等级不发布。{}",
            suppressed(s.k)
        ),
        "income_per_capita" => format!(
            "（工资性 + 经营净 + 财产净 + 转移净收入）÷ 家庭人口数，取整到100元，顶端编码于第 {} 百分位（{} 元）。",
            s.income_top_percentile, s.income_top_code
        ),
        _ => "原样发布。".to_string(),
    };
    match hidden {
        Some(h) if base == "原样发布。" => h,
        Some(h) => format!("{base}{h}"),
        None => base,
    }
}

/// Write `codebook.json`, `codebook.csv` (UTF-8 with BOM, one line per category) and
/// `codebook.html` into `dir`.
pub(super) fn write(
    dir: &std::path::Path,
    book: &[Variable],
    generated_at: &str,
) -> Result<(), ExtractError> {
    // reason: strings and vectors of strings always serialize.
    let json = serde_json::to_string_pretty(book).expect("codebook serializes") + "\n";
    write_file(&dir.join("codebook.json"), json)?;
    write_file(&dir.join("codebook.csv"), csv(book))?;
    write_file(&dir.join("codebook.html"), html(book, generated_at))
}

fn csv(book: &[Variable]) -> String {
    let mut w = csv::Writer::from_writer(Vec::from(crate::output::UTF8_BOM.as_bytes()));
    let header = [
        "table",
        "variable",
        "label",
        "type",
        "source",
        "value",
        "value_label",
        "treatment",
    ];
    // Writing to a Vec cannot fail.
    let _ = w.write_record(header);
    for v in book {
        let none = [Category {
            value: String::new(),
            label: String::new(),
        }];
        let cats = if v.categories.is_empty() {
            &none[..]
        } else {
            &v.categories[..]
        };
        for c in cats {
            let _ = w.write_record([
                v.table,
                &v.name,
                &v.label_zh,
                &v.data_type,
                &v.source,
                &c.value,
                &c.label,
                &v.treatment,
            ]);
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn html(book: &[Variable], generated_at: &str) -> String {
    use crate::render::html::{Td, esc, page, table};
    let mut b = String::from(
        "<h1>研究用数据集数据字典</h1>\n<p class=\"sub\">research_persons 和 research_households 的每个变量：\
         类型、来源、类别及其含义、发布前所作的处理。缺失（NULL）表示原值缺失或被抑制。\
         披露风险见 <a href=\"risk_report.html\">风险报告</a>。</p>\n",
    );
    for t in super::TABLES {
        b.push_str(&format!("<h2>{}</h2>\n", esc(t)));
        let rows: Vec<_> = book
            .iter()
            .filter(|v| v.table == *t)
            .map(|v| {
                let cats: Vec<String> = v
                    .categories
                    .iter()
                    .map(|c| {
                        if c.value == c.label {
                            esc(&c.value)
                        } else {
                            format!("{} {}", esc(&c.value), esc(&c.label))
                        }
                    })
                    .collect();
                (
                    None,
                    vec![
                        Td::Text(v.name.clone()),
                        Td::Text(v.label_zh.clone()),
                        Td::Text(v.data_type.clone()),
                        Td::Text(v.source.clone()),
                        Td::Html(cats.join("<br>")),
                        Td::Text(v.treatment.clone()),
                    ],
                )
            })
            .collect();
        b.push_str(&table(
            &["变量", "名称", "类型", "来源", "类别", "处理"],
            &rows,
        ));
    }
    page("研究用数据集数据字典", &b, generated_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn book() -> Vec<Variable> {
        let schema = |cols: &[&str]| -> SchemaRef {
            Arc::new(Schema::new(
                cols.iter()
                    .map(|c| Field::new(*c, DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            ))
        };
        let mut persons = vec!["age_band", "household_size", "sex", "disabled"];
        persons.extend(passes::PERSON_COLUMNS);
        let households = schema(&passes::HOUSEHOLD_COLUMNS);
        codebook(
            &schema(&persons),
            &households,
            &Settings {
                k: 5,
                min_ethnicity_persons: 500,
                ethnicity_groups: &["汉族".to_string()],
                income_top_code: 9000.0,
                income_top_percentile: 99.0,
            },
        )
    }

    /// Every age and household size the anonymizer can publish is a category of the codebook.
    #[test]
    fn banded_categories_are_the_anonymizers() {
        let b = book();
        let values = |n: &str| -> Vec<String> {
            b.iter()
                .find(|v| v.name == n)
                .unwrap()
                .categories
                .iter()
                .map(|c| c.value.clone())
                .collect()
        };
        let ages = values("age_band");
        for age in 0..=130 {
            for schooling in [false, true] {
                let band = passes::age_band_label(passes::age_key(age, schooling));
                assert!(ages.contains(&band), "age {age}: {band}");
            }
        }
        let sizes = values("household_size");
        for n in 0..=20 {
            assert!(sizes.contains(&passes::size_label(n.min(8))), "size {n}");
        }
        assert_eq!(values("disabled"), ["1", "2"]);
        assert_eq!(values("relation").len(), 7);
    }

    #[test]
    fn every_column_has_a_label_and_a_source() {
        for v in book() {
            assert!(!v.label_zh.is_empty(), "{}", v.name);
            assert!(!v.source.ends_with('.'), "{}", v.name);
            assert!(!v.treatment.is_empty(), "{}", v.name);
        }
    }
}
