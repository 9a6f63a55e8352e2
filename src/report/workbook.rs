//! The statisticians' workbook: national, province and county indicators (full precision,
//! formatted as the bulletin rounds), village exits, and the ingest summary per province and
//! file.

use std::path::{Path, PathBuf};

use super::labels::{Unit, lookup};
use super::{Inputs, ReportError, Table, province_name};
use crate::render::xlsx::{X, err, save, sheet, workbook};

pub const INDICATOR_HEADERS: &[&str] = &[
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

fn scope_name(s: &str) -> &str {
    match s {
        "npc" => "国家贫困县",
        "sample" => "非国家贫困县（抽样推算）",
        "all" => "合计",
        other => other,
    }
}

pub fn write(inputs: &Inputs, path: &Path) -> Result<PathBuf, ReportError> {
    let e = err(path);
    let mut wb = workbook("国家脱贫攻坚普查统计工作簿", &inputs.generated_at);
    let indicators = IndicatorCols::of(&inputs.indicators)?;
    for (lvl, sheet_name) in [
        ("national", "全国指标"),
        ("province", "分省指标"),
        ("county", "分县指标"),
    ] {
        let rows = indicator_rows(&inputs.indicators, &indicators, lvl);
        sheet(&mut wb, sheet_name, INDICATOR_HEADERS, &rows).map_err(&e)?;
    }
    sheet(
        &mut wb,
        "贫困村退出",
        &[
            "村级区划代码",
            "县级区划代码",
            "未达退出标准人口",
            "户籍人口",
            "贫困发生率(%)",
            "退出标准(%)",
            "达到退出标准",
        ],
        &village_exit_rows(&inputs.village_exit),
    )
    .map_err(&e)?;
    sheet(
        &mut wb,
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
    .map_err(&e)?;
    save(&mut wb, path)?;
    Ok(path.to_path_buf())
}

/// The indicators table's columns the workbook reads.
struct IndicatorCols {
    scope: usize,
    level: usize,
    code: usize,
    name: usize,
    id: usize,
    num: usize,
    den: usize,
    val: usize,
}

impl IndicatorCols {
    fn of(t: &Table) -> Result<Self, ReportError> {
        Ok(IndicatorCols {
            scope: t.col("scope")?,
            level: t.col("level")?,
            code: t.col("area_code")?,
            name: t.col("area_name")?,
            id: t.col("indicator_id")?,
            num: t.col("numerator")?,
            den: t.col("denominator")?,
            val: t.col("value")?,
        })
    }
}

/// The indicators of one level (national, province or county), formatted by their unit.
fn indicator_rows(t: &Table, c: &IndicatorCols, lvl: &str) -> Vec<Vec<X>> {
    // reason for the indexing below: `col` found each column, and every row has one cell per
    // column.
    t.rows
        .iter()
        .filter(|r| r[c.level].str() == lvl)
        .map(|r| {
            let ind = r[c.id].str();
            let (label, unit) = lookup(ind).map_or((ind, Unit::Percent(2)), |l| (l.0, l.1));
            vec![
                X::Str(scope_name(r[c.scope].str()).into()),
                X::Str(r[c.level].str().into()),
                X::Str(r[c.code].str().into()),
                X::Str(r[c.name].str().into()),
                X::Str(ind.into()),
                X::Str(label.into()),
                X::opt(r[c.num].f64(), "#,##0.######"),
                X::opt(r[c.den].f64(), "#,##0.######"),
                X::opt(r[c.val].f64(), unit.xlsx_format()),
            ]
        })
        .collect()
}

/// One row per village with its incidence against its province's exit standard.
fn village_exit_rows(v: &Table) -> Vec<Vec<X>> {
    v.rows
        .iter()
        .map(|r| {
            let g = |n: &str| v.get(r, n);
            vec![
                X::Str(g("village_code").str().into()),
                X::Str(g("county_code").str().into()),
                X::opt(g("poor_persons").f64(), "0"),
                X::opt(g("population").f64(), "0"),
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
