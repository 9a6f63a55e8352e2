//! What the codes of the submission contract mean (submission-format.md §3,
//! exit-assessment.md §1): the Chinese label of every value a coded column
//! allows ([`crate::contract::schema::Kind::Code`]). Documents that show a code's meaning (the extract's codebook, reports) take it from
//! here; a test checks that the labels cover exactly the codes [`super::schema`] allows.

use super::schema::Table;

/// Code → Chinese label.
pub type Labels = &'static [(i16, &'static str)];

/// Yes/no items.
pub const YES_NO: Labels = &[(1, "是"), (2, "否")];
const YES_NO_EXEMPT: Labels = &[(1, "是"), (2, "否"), (3, "不需设置")];
const DONE_PARTLY_NOT: Labels = &[(1, "全部实现"), (2, "部分实现"), (3, "未实现")];

/// The labels of a coded column of `table`, None when the column is not coded.
pub fn labels(table: Table, column: &str) -> Option<Labels> {
    let col = table.columns().iter().find(|c| c.name == column)?;
    let l: Labels = match (table, column) {
        (Table::Counties, "county_type") => &[
            (1, "国家贫困县"),
            (2, "享受片区政策的县"),
            (3, "非国家贫困县抽样县"),
        ],
        (Table::Townships, "has_health_centre") => YES_NO_EXEMPT,
        (Table::Villages, "urban_rural_code") => &[
            (111, "主城区"),
            (112, "城乡结合区"),
            (121, "镇中心区"),
            (122, "镇乡结合区"),
            (123, "特殊区域"),
            (210, "乡中心区"),
            (220, "村庄"),
        ],
        (Table::Villages, "hardened_road") => &[(1, "是"), (2, "否"), (3, "不具备条件")],
        (Table::Villages, "power_grid") => &[(1, "是"), (2, "否"), (3, "不在大电网覆盖范围")],
        (Table::Villages, "central_water" | "garbage_collection") => DONE_PARTLY_NOT,
        (Table::Villages, "clinic") => &[(1, "有"), (2, "与邻村联合设置"), (3, "无")],
        (Table::Households, "enumeration_status") => {
            &[(1, "登记成功"), (2, "整户失去联系"), (3, "拒访")]
        }
        (Table::Households, "poverty_attribute") => {
            &[(1, "一般贫困户"), (2, "低保贫困户"), (3, "特困供养贫困户")]
        }
        (Table::Households, "protein_frequency") => {
            &[(1, "随时能吃"), (2, "每周至少一次"), (3, "少于每周一次")]
        }
        (Table::Households, "housing_route") => &[
            (1, "现住房鉴定或评定安全，或有其他安全住房"),
            (2, "通过危房改造实现"),
            (3, "通过易地扶贫搬迁实现"),
            (4, "住房不安全"),
        ],
        (Table::Households, "water_access") => &[
            (1, "供水入户"),
            (2, "未供水入户但取水方便"),
            (3, "取水不方便"),
        ],
        (Table::Households, "water_reliability") => &[
            (1, "不缺水"),
            (2, "供水有基本保障但有少量天数缺水"),
            (3, "供水无保障"),
        ],
        _ => {
            return persons_and_assessment(table, column).or_else(|| {
                // After the columns above: sex and stratum have the codes 1 and 2 too.
                (col.kind == super::schema::YES_NO).then_some(YES_NO)
            });
        }
    };
    Some(l)
}

/// The label of `code` in column `column` of `table`, if it has one.
pub fn label(table: Table, column: &str, code: i64) -> Option<&'static str> {
    labels(table, column)?
        .iter()
        .find(|(c, _)| i64::from(*c) == code)
        .map(|(_, l)| *l)
}

/// The labels of the coded person and assessment columns.
fn persons_and_assessment(table: Table, column: &str) -> Option<Labels> {
    let l: Labels = match (table, column) {
        (Table::Persons, "relation") => &[
            (1, "户主"),
            (2, "配偶"),
            (3, "子女"),
            (4, "父母"),
            (5, "孙子女"),
            (6, "兄弟姐妹"),
            (9, "其他"),
        ],
        (Table::Persons, "sex") => &[(1, "男"), (2, "女")],
        (Table::Persons, "education_level") => &[
            (1, "学龄前"),
            (2, "未上学"),
            (3, "小学"),
            (4, "初中"),
            (5, "高中(含中专)"),
            (6, "大专及以上"),
        ],
        (Table::Persons, "schooling_status") => &[
            (1, "在校就学"),
            (2, "送教上门"),
            (3, "因身体原因不具备学习条件"),
            (4, "失学辍学"),
        ],
        (Table::Persons, "health_status") => {
            &[(1, "健康"), (2, "长期慢性病"), (3, "大病"), (4, "残疾")]
        }
        (Table::Persons, "disability_grade") => {
            &[(1, "一级"), (2, "二级"), (3, "三级"), (4, "四级")]
        }
        (Table::Persons, "medical_insurance") => &[
            (1, "城乡居民基本医疗保险"),
            (2, "职工基本医疗保险"),
            (3, "新生儿等正在办理、参军等特殊保障状态或暂时不需要"),
            (4, "未参保"),
        ],
        (Table::Persons, "pension_insurance") => &[(1, "参加"), (2, "未参加"), (3, "不适用")],
        (Table::Persons, "labour_ability") => &[
            (1, "有劳动能力"),
            (2, "弱劳动能力"),
            (3, "丧失劳动能力"),
            (4, "无劳动能力"),
        ],
        (Table::AssessmentHouseholds, "stratum") => &[(1, "贫困村"), (2, "非贫困村")],
        (Table::AssessmentHouseholds, "sample_type") => &[
            (1, "建档立卡已脱贫户"),
            (2, "建档立卡未脱贫户"),
            (3, "非建档立卡户"),
        ],
        (Table::AssessmentHouseholds, "approval") => &[(1, "认可"), (2, "基本认可"), (3, "不认可")],
        _ => return None,
    };
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::schema::Kind;

    /// The codes a column allows, when it is coded.
    fn coded(kind: Kind) -> Option<&'static [i16]> {
        match kind {
            Kind::Code(codes) => Some(codes),
            _ => None,
        }
    }

    #[test]
    fn every_coded_column_has_a_label_for_exactly_its_codes() {
        for t in Table::ALL {
            for c in t.columns() {
                let got: Option<Vec<i16>> =
                    labels(t, c.name).map(|l| l.iter().map(|(code, _)| *code).collect());
                assert_eq!(
                    got.as_deref(),
                    coded(c.kind),
                    "{t}.{}: labels and allowed codes differ",
                    c.name
                );
            }
        }
        assert_eq!(label(Table::Persons, "sex", 2), Some("女"));
        assert_eq!(label(Table::Persons, "sex", 3), None);
    }
}
