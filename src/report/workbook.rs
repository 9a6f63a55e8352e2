//! The statisticians' workbook: national, province and county indicators (full precision,
//! formatted as the bulletin rounds), village exits, and the ingest summary per province and
//! file.

use std::path::{Path, PathBuf};

use super::labels::{Unit, lookup};
use super::{Inputs, ReportError, province_name};
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
    let t = &inputs.indicators;
    // reason for the indexing below: `col` found each column, and every row has one cell per
    // column.
    let (scope, level, code, name, id) = (
        t.col("scope")?,
        t.col("level")?,
        t.col("area_code")?,
        t.col("area_name")?,
        t.col("indicator_id")?,
    );
    let (num, den, val) = (t.col("numerator")?, t.col("denominator")?, t.col("value")?);
    for (lvl, sheet_name) in [
        ("national", "全国指标"),
        ("province", "分省指标"),
        ("county", "分县指标"),
    ] {
        let rows: Vec<Vec<X>> = t
            .rows
            .iter()
            .filter(|r| r[level].str() == lvl)
            .map(|r| {
                let ind = r[id].str();
                let (label, unit) = lookup(ind).map_or((ind, Unit::Percent(2)), |l| (l.0, l.1));
                vec![
                    X::Str(scope_name(r[scope].str()).into()),
                    X::Str(r[level].str().into()),
                    X::Str(r[code].str().into()),
                    X::Str(r[name].str().into()),
                    X::Str(ind.into()),
                    X::Str(label.into()),
                    X::opt(r[num].f64(), "#,##0.######"),
                    X::opt(r[den].f64(), "#,##0.######"),
                    X::opt(r[val].f64(), unit.xlsx_format()),
                ]
            })
            .collect();
        sheet(&mut wb, sheet_name, INDICATOR_HEADERS, &rows).map_err(&e)?;
    }

    let v = &inputs.village_exit;
    let rows: Vec<Vec<X>> = v
        .rows
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
        .collect();
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
        &rows,
    )
    .map_err(&e)?;

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
        &rows,
    )
    .map_err(&e)?;
    save(&mut wb, path)?;
    Ok(path.to_path_buf())
}
