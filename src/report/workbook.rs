//! The statisticians' workbook, shaped like the bulletin's tables so that it can be handed on
//! without explanation:
//!
//! - 说明: what produced it (snapshot, provinces with their versions and submissions, the
//!   pipelines with their parameters, generation time), what each sheet holds, definitions;
//! - 全国: indicators (rows, in the bulletin's order and wording) × scopes, each value beside
//!   its base;
//! - 分省（scope）: indicators × provinces (names beside codes), one sheet per scope;
//! - 分县: counties (province, code, name, type) × indicators;
//! - 指标数据: the pipeline's long table (one row per scope, level, area and indicator, full
//!   precision) for filtering and pivoting;
//! - 贫困村退出, 入库汇总: village exits and the ingest summary per province and file.
//!
//! Cells keep full precision; shares are shown with the bulletin's decimals and counts as whole
//! numbers (`#,##0`, weighted estimates rounded) by their number format. A value whose base is
//! zero has no row in the indicators table (indicators.md §2) and shows as "—", never 0 %.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rust_xlsxwriter::Workbook;

use super::labels::{NOTES, Unit, catalogue};
use super::{IndicatorKey, Inputs, ReportError, Table, indicator_map, province_name};
use crate::render::xlsx::{Layout, X, err, save, sheet, sheet_with, workbook};

/// The scopes of the indicators table, as the bulletin names them.
pub const SCOPES: [(&str, &str); 3] = [
    ("npc", "国家贫困县"),
    ("sample", "非国家贫困县（抽样推算）"),
    ("all", "合计"),
];
/// Counts (households, persons, villages; weighted estimates rounded to whole units).
const COUNT: &str = "#,##0";

fn scope_name(s: &str) -> &str {
    SCOPES
        .iter()
        .find(|(k, _)| *k == s)
        .map_or(s, |(_, name)| name)
}

fn level_name(l: &str) -> &str {
    match l {
        "national" => "全国",
        "province" => "分省",
        "county" => "分县",
        other => other,
    }
}

/// One indicator row of the wide sheets.
struct Ind {
    section: String,
    id: String,
    name: String,
    unit: Unit,
}

/// The indicators in the bulletin's order, then any other the pipeline computed (a customised
/// pipeline) under its id, as shares with 2 decimals.
fn indicators(t: &Table) -> Vec<Ind> {
    let mut out: Vec<Ind> = catalogue()
        .into_iter()
        .map(|(section, id, name, unit)| Ind {
            section: section.into(),
            id: id.into(),
            name: name.into(),
            unit,
        })
        .collect();
    let known: BTreeSet<String> = out.iter().map(|i| i.id.clone()).collect();
    let extra: BTreeSet<&str> = t
        .rows
        .iter()
        .map(|r| t.get(r, "indicator_id").str())
        .filter(|id| !known.contains(*id))
        .collect();
    out.extend(extra.into_iter().map(|id| Ind {
        section: "其他".into(),
        id: id.into(),
        name: id.into(),
        unit: Unit::Percent(2),
    }));
    out
}

/// The indicator values of the pipeline: (numerator, denominator, value) by key.
struct Values(BTreeMap<IndicatorKey, (f64, f64, f64)>);

impl Values {
    fn get(&self, scope: &str, level: &str, area: &str, id: &str) -> Option<(f64, f64, f64)> {
        self.0
            .get(&(scope.into(), level.into(), area.into(), id.into()))
            .copied()
    }

    /// The areas of a level with at least one value in a scope, in code order.
    fn areas(&self, scope: &str, level: &str) -> BTreeSet<String> {
        self.0
            .keys()
            .filter(|k| k.0 == scope && k.1 == level)
            .map(|k| k.2.clone())
            .collect()
    }

    fn value(&self, key: (&str, &str, &str), ind: &Ind) -> X {
        self.get(key.0, key.1, key.2, &ind.id)
            .map_or(X::Dash, |v| X::Num(v.2, ind.unit.xlsx_format()))
    }

    fn base(&self, key: (&str, &str, &str), ind: &Ind) -> X {
        self.get(key.0, key.1, key.2, &ind.id)
            .map_or(X::Dash, |v| X::Num(v.1, COUNT))
    }
}

/// The label columns of an indicator row (section only on the first row of each section).
fn label_cells(ind: &Ind, previous: Option<&Ind>) -> Vec<X> {
    let first = previous.is_none_or(|p| p.section != ind.section);
    vec![
        X::Str(if first {
            ind.section.clone()
        } else {
            String::new()
        }),
        X::Str(ind.name.clone()),
        X::Str(ind.unit.name().into()),
    ]
}

pub fn write(inputs: &Inputs, path: &Path) -> Result<PathBuf, ReportError> {
    let e = err(path);
    let mut wb = workbook("国家脱贫攻坚普查统计工作簿", &inputs.generated_at);
    let values = Values(indicator_map(&inputs.indicators));
    let inds = indicators(&inputs.indicators);
    let scopes: Vec<(&str, &str)> = SCOPES
        .iter()
        .copied()
        .filter(|(s, _)| !values.areas(s, "national").is_empty())
        .collect();
    sheet_with(
        &mut wb,
        "说明",
        &["项目", "内容"],
        &explanation(inputs, &sheet_list(&values)),
        Layout::wide(1),
    )
    .map_err(&e)?;
    national_sheet(&mut wb, &values, &inds, &scopes).map_err(&e)?;
    province_sheets(&mut wb, &values, &inds).map_err(&e)?;
    county_sheet(&mut wb, inputs, &values, &inds).map_err(&e)?;
    long_sheets(&mut wb, inputs).map_err(&e)?;
    save(&mut wb, path)?;
    Ok(path.to_path_buf())
}

/// A sheet of indicators as rows (section, name, unit, then `columns` filled by `cells`, the
/// indicator id last), its label columns frozen.
fn indicator_sheet(
    wb: &mut Workbook,
    name: &str,
    columns: impl IntoIterator<Item = String>,
    inds: &[Ind],
    cells: impl Fn(&Ind) -> Vec<X>,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut headers: Vec<String> = vec!["板块".into(), "指标".into(), "单位".into()];
    headers.extend(columns);
    headers.push("指标代码".into());
    let rows: Vec<Vec<X>> = inds
        .iter()
        .enumerate()
        .map(|(i, ind)| {
            let mut row = label_cells(ind, i.checked_sub(1).and_then(|p| inds.get(p)));
            row.extend(cells(ind));
            row.push(X::Str(ind.id.clone()));
            row
        })
        .collect();
    let h: Vec<&str> = headers.iter().map(String::as_str).collect();
    sheet_with(wb, name, &h, &rows, Layout::wide(2))
}

/// 全国: indicators × scopes, each value with its base.
fn national_sheet(
    wb: &mut Workbook,
    values: &Values,
    inds: &[Ind],
    scopes: &[(&str, &str)],
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let columns = scopes
        .iter()
        .flat_map(|(_, name)| [(*name).to_string(), format!("{name}·基数")]);
    indicator_sheet(wb, "全国", columns, inds, |ind| {
        scopes
            .iter()
            .flat_map(|(s, _)| {
                [
                    values.value((s, "national", "00"), ind),
                    values.base((s, "national", "00"), ind),
                ]
            })
            .collect()
    })
}

/// 分省（scope）: indicators × provinces, one sheet per scope with province values.
fn province_sheets(
    wb: &mut Workbook,
    values: &Values,
    inds: &[Ind],
) -> Result<(), rust_xlsxwriter::XlsxError> {
    for (scope, scope_label) in SCOPES {
        let provinces = values.areas(scope, "province");
        if provinces.is_empty() {
            continue;
        }
        let columns = provinces
            .iter()
            .map(|c| format!("{}（{c}）", province_name(c)));
        indicator_sheet(
            wb,
            &province_sheet_name(scope_label),
            columns,
            inds,
            |ind| {
                provinces
                    .iter()
                    .map(|p| values.value((scope, "province", p), ind))
                    .collect()
            },
        )?;
    }
    Ok(())
}

fn province_sheet_name(scope_label: &str) -> String {
    format!("分省（{}）", short_scope(scope_label))
}

/// The wide sheets written and what they hold.
fn sheet_list(values: &Values) -> Vec<(String, String)> {
    let mut out = vec![(
        "全国".to_string(),
        "全国指标：各指标（行，按公报顺序和名称）× 范围（列），每个数值旁为其基数（分母）"
            .to_string(),
    )];
    for (scope, label) in SCOPES {
        if !values.areas(scope, "province").is_empty() {
            out.push((
                province_sheet_name(label),
                format!("{label}分省指标：各指标（行）× 省份（列，名称和代码）"),
            ));
        }
    }
    out.push((
        "分县".into(),
        "分县指标：各县（行，省份、代码、名称、县类别）× 指标（列）".into(),
    ));
    out
}

/// A scope's name short enough for a sheet name.
fn short_scope(label: &str) -> &str {
    label.trim_end_matches("（抽样推算）")
}

/// The name of a county from the reference data, else as the indicators table gives it.
fn county_name<'a>(code: &str, table_name: &'a str) -> std::borrow::Cow<'a, str> {
    let reference = crate::contract::reference::Reference::get();
    code.get(..2)
        .and_then(|p| reference.counties.get(p))
        .and_then(|cs| {
            cs.binary_search_by_key(&code, |d| d.code)
                .ok()
                .and_then(|i| cs.get(i))
        })
        .map_or(std::borrow::Cow::Borrowed(table_name), |d| d.name.into())
}

/// County names as the indicators table gives them, by code.
fn county_names(t: &Table) -> BTreeMap<&str, &str> {
    t.rows
        .iter()
        .filter(|r| t.get(r, "level").str() == "county")
        .map(|r| (t.get(r, "area_code").str(), t.get(r, "area_name").str()))
        .collect()
}

/// 分县: one row per county (its own scope: national poverty county or sampled county) ×
/// indicators.
fn county_sheet(
    wb: &mut Workbook,
    inputs: &Inputs,
    values: &Values,
    inds: &[Ind],
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let t = &inputs.indicators;
    let names = county_names(t);
    let mut headers: Vec<String> = ["省份", "县级代码", "县名称", "县类别"]
        .map(String::from)
        .to_vec();
    headers.extend(
        inds.iter()
            .map(|i| format!("{}（{}）", i.name, i.unit.name())),
    );
    let mut rows = Vec::new();
    for (code, name) in &names {
        // A county belongs to one scope; `all` repeats it.
        let Some((scope, label)) = SCOPES.iter().copied().find(|(s, _)| {
            inds.iter()
                .any(|i| values.get(s, "county", code, &i.id).is_some())
        }) else {
            continue;
        };
        let mut row = vec![
            X::Str(code.get(..2).map(province_name).unwrap_or_default()),
            X::Str((*code).into()),
            X::Str(county_name(code, name).into_owned()),
            X::Str(short_scope(label).into()),
        ];
        row.extend(
            inds.iter()
                .map(|i| values.value((scope, "county", code), i)),
        );
        rows.push(row);
    }
    let h: Vec<&str> = headers.iter().map(String::as_str).collect();
    sheet_with(wb, "分县", &h, &rows, Layout::wide(3))
}

/// The long sheets: the indicators table, village exits, the ingest summary.
fn long_sheets(wb: &mut Workbook, inputs: &Inputs) -> Result<(), rust_xlsxwriter::XlsxError> {
    sheet(wb, "指标数据", LONG_HEADERS, &long_rows(&inputs.indicators))?;
    sheet(
        wb,
        "贫困村退出",
        &[
            "村级区划代码",
            "县级区划代码",
            "县名称",
            "未达退出标准人口",
            "户籍人口",
            "贫困发生率(%)",
            "退出标准(%)",
            "达到退出标准",
        ],
        &village_exit_rows(inputs),
    )?;
    sheet(
        wb,
        "入库汇总",
        &[
            "省级代码",
            "省份",
            "版本",
            "报送批次",
            "文件",
            "读入行数",
            "入库行数",
            "拒收行数",
            "提示行数",
            "整文件拒收",
            "需重新报送",
        ],
        &ingest_rows(inputs),
    )
}

/// The sheets after 说明 and what they hold, besides the wide ones.
const LONG_SHEETS: &[(&str, &str)] = &[
    (
        "指标数据",
        "指标长表：每个范围、层级、地区和指标一行（分子、分母、数值，全精度），便于筛选和数据透视",
    ),
    ("贫困村退出", "每个行政村的贫困发生率及其所在省份的退出标准"),
    ("入库汇总", "每个省份和报送文件的读入、入库、拒收和提示行数"),
];

pub const LONG_HEADERS: &[&str] = &[
    "范围",
    "层级",
    "地区代码",
    "地区名称",
    "指标代码",
    "指标名称",
    "分子",
    "分母",
    "数值",
];

/// The indicators table as it is, its codes named.
fn long_rows(t: &Table) -> Vec<Vec<X>> {
    t.rows
        .iter()
        .map(|r| {
            let g = |n: &str| t.get(r, n);
            let id = g("indicator_id").str();
            let (label, unit) =
                super::labels::lookup(id).map_or((id, Unit::Percent(2)), |l| (l.0, l.1));
            vec![
                X::Str(scope_name(g("scope").str()).into()),
                X::Str(level_name(g("level").str()).into()),
                X::Str(g("area_code").str().into()),
                X::Str(g("area_name").str().into()),
                X::Str(id.into()),
                X::Str(label.into()),
                X::opt(g("numerator").f64(), COUNT),
                X::opt(g("denominator").f64(), COUNT),
                X::opt(g("value").f64(), unit.xlsx_format()),
            ]
        })
        .collect()
}

/// The 说明 sheet: provenance, the sheets, definitions.
fn explanation(inputs: &Inputs, sheets: &[(String, String)]) -> Vec<Vec<X>> {
    let row = |k: &str, v: String| vec![X::Str(k.into()), X::Wrap(v)];
    let mut rows = vec![
        row("工作簿", "国家脱贫攻坚普查统计工作簿".into()),
        row("普查范围", super::bulletin::scope_phrase(inputs)),
        row("数据仓库快照", inputs.snapshot.id.to_string()),
        row("生成时间", inputs.generated_at.clone()),
        row(
            "生成工具",
            format!("povcensus {}", env!("CARGO_PKG_VERSION")),
        ),
    ];
    let census = inputs.manifests.first();
    let provinces: Vec<(String, u32, String)> = match census {
        Some(m) => m
            .provinces
            .iter()
            .map(|(c, (v, id, _))| (c.clone(), *v, id.clone()))
            .collect(),
        None => inputs
            .snapshot
            .provinces
            .iter()
            .map(|(c, p)| (c.clone(), p.version, p.submission_id.clone()))
            .collect(),
    };
    for (code, version, submission) in provinces {
        rows.push(row(
            &format!("省份 {code} {}", province_name(&code)),
            format!("第 {version} 版，报送批次 {submission}"),
        ));
    }
    for m in &inputs.manifests {
        let file = Path::new(&m.pipeline)
            .file_name()
            .map_or(m.pipeline.clone(), |f| f.to_string_lossy().into_owned());
        rows.push(row(
            &format!("流水线 {file}"),
            format!(
                "SHA-256 {}，快照 {}",
                m.pipeline_sha256,
                m.snapshot.map_or("—".into(), |s| s.to_string())
            ),
        ));
        for (k, v) in &m.parameters {
            rows.push(row(&format!("　参数 {k}"), v.clone()));
        }
    }
    for (name, what) in sheets
        .iter()
        .map(|(n, w)| (n.as_str(), w.as_str()))
        .chain(LONG_SHEETS.iter().copied())
    {
        rows.push(row(&format!("工作表 {name}"), what.into()));
    }
    rows.push(row(
        "数值",
        "单元格保留全精度；比例（%）按公报四舍五入显示（户和人口“两不愁三保障”及饮水指标两位小数，\
         帮扶和基础设施、公共服务指标一位小数），户数、人数等计数显示为整数（非国家贫困县为加权推算数）。\
         “—”表示该范围内无相应基数（分母为0），不计算比例。"
            .into(),
    ));
    rows.push(row(
        "指标定义",
        "见公报（bulletin.html）注释和规格说明 indicators.md；注释如下。".into(),
    ));
    for (i, n) in NOTES.iter().enumerate() {
        rows.push(row(&format!("注释[{}]", i + 1), (*n).into()));
    }
    rows
}

/// One row per village with its incidence against its province's exit standard.
fn village_exit_rows(inputs: &Inputs) -> Vec<Vec<X>> {
    let v = &inputs.village_exit;
    let t = &inputs.indicators;
    let names = county_names(t);
    v.rows
        .iter()
        .map(|r| {
            let g = |n: &str| v.get(r, n);
            let county = g("county_code").str();
            vec![
                X::Str(g("village_code").str().into()),
                X::Str(county.into()),
                X::Str(county_name(county, names.get(county).copied().unwrap_or("")).into()),
                X::opt(g("poor_persons").f64(), COUNT),
                X::opt(g("population").f64(), COUNT),
                X::opt(g("incidence_pct").f64(), "0.00"),
                X::opt(g("threshold_pct").f64(), "0"),
                X::Str(match g("passes").bool() {
                    Some(true) => "是".into(),
                    Some(false) => "否".into(),
                    None => "".into(),
                }),
            ]
        })
        .collect()
}

/// The ingest summary: one row per province and file.
fn ingest_rows(inputs: &Inputs) -> Vec<Vec<X>> {
    let mut rows = Vec::new();
    for (code, p) in &inputs.snapshot.provinces {
        for f in &p.files {
            rows.push(vec![
                X::Str(code.clone()),
                X::Str(province_name(code)),
                X::Int(i64::from(p.version)),
                X::Str(p.submission_id.clone()),
                X::Str(f.file.clone()),
                X::Int(f.rows_read as i64),
                X::Int(f.rows_loaded as i64),
                X::Int(f.rows_rejected as i64),
                X::Int(f.rows_flagged as i64),
                X::Str(if f.file_rejected { "是" } else { "" }.into()),
                X::Str(if p.resubmission_required { "是" } else { "" }.into()),
            ]);
        }
    }
    rows
}
