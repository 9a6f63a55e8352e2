//! The submission contract as data: the six province tables of `submission-format.md` §3
//! and `exit-assessment.md` §1, their canonical English column names, the Chinese labels a
//! province may use instead, and the type and code list of every column.
//!
//! Everything that reads or writes a submission (the generator, validation, ingest) takes its
//! column names and value domains from here, so the contract lives in one place.

use std::fmt;

/// One of the tables a province submits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Counties,
    Townships,
    Villages,
    Households,
    Persons,
    AssessmentHouseholds,
}

impl Table {
    /// All tables in load order (parents before children).
    pub const ALL: [Table; 6] = [
        Table::Counties,
        Table::Townships,
        Table::Villages,
        Table::Households,
        Table::Persons,
        Table::AssessmentHouseholds,
    ];

    /// The warehouse / SQL table name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Counties => "counties",
            Table::Townships => "townships",
            Table::Villages => "villages",
            Table::Households => "households",
            Table::Persons => "persons",
            Table::AssessmentHouseholds => "assessment_households",
        }
    }

    /// The file name inside a province directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Table::Counties => "counties.csv",
            Table::Townships => "townships.csv",
            Table::Villages => "villages.csv",
            Table::Households => "households.csv",
            Table::Persons => "persons.csv",
            Table::AssessmentHouseholds => "assessment_households.csv",
        }
    }

    pub fn from_file_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.file_name() == name)
    }

    /// Whether a province must submit this file.
    pub fn required(self) -> bool {
        !matches!(self, Table::AssessmentHouseholds)
    }

    /// The primary-key column, if the table has one.
    pub fn key_column(self) -> Option<&'static str> {
        match self {
            Table::Counties => Some("county_code"),
            Table::Townships => Some("township_code"),
            Table::Villages => Some("village_code"),
            Table::Households => Some("household_id"),
            Table::Persons => Some("person_id"),
            Table::AssessmentHouseholds => None,
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Counties => COUNTIES,
            Table::Townships => TOWNSHIPS,
            Table::Villages => VILLAGES,
            Table::Households => HOUSEHOLDS,
            Table::Persons => PERSONS,
            Table::AssessmentHouseholds => ASSESSMENT_HOUSEHOLDS,
        }
    }

    /// Index of a canonical column name in [`Table::columns`].
    pub fn column_index(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }

    /// Resolve a header cell (canonical English name or Chinese label, surrounding spaces
    /// ignored) to the column index.
    pub fn resolve_header(self, header: &str) -> Option<usize> {
        let h = header.trim();
        self.columns()
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(h) || c.label_zh == h)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When a value must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Always required (for households: required when enumeration_status = 1).
    Required,
    /// May be empty.
    Optional,
    /// Required or forbidden depending on other fields; decided by a row rule.
    Conditional,
}

/// The domain of a column's values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Exactly this many ASCII digits (codes and identifiers).
    Digits(usize),
    /// Free text.
    Text,
    /// An integer code from this list.
    Code(&'static [i16]),
    /// An integer in this closed range.
    Int(i64, i64),
    /// A decimal number with an optional lower bound; `strict` makes the bound exclusive.
    Number { min: Option<f64>, strict: bool },
    /// A calendar date `YYYY-MM-DD` in this closed range.
    Date(&'static str, &'static str),
    /// A GB 11643 citizen ID (18 characters) or a 20-character disability-card number.
    IdNumber,
    /// Housing appraisal grade A/B/C/D.
    Grade,
}

/// One column of a submission table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    pub name: &'static str,
    pub label_zh: &'static str,
    pub kind: Kind,
    pub presence: Presence,
}

/// A column that is always required.
pub(crate) const fn col(name: &'static str, label_zh: &'static str, kind: Kind) -> Column {
    Column {
        name,
        label_zh,
        kind,
        presence: Presence::Required,
    }
}

/// A column that may be empty.
pub(crate) const fn opt(name: &'static str, label_zh: &'static str, kind: Kind) -> Column {
    Column {
        name,
        label_zh,
        kind,
        presence: Presence::Optional,
    }
}

const fn cond(name: &'static str, label_zh: &'static str, kind: Kind) -> Column {
    Column {
        name,
        label_zh,
        kind,
        presence: Presence::Conditional,
    }
}

/// Yes/no item: 1 = 是, 2 = 否.
pub const YES_NO: Kind = Kind::Code(&[1, 2]);
const CODE_123: Kind = Kind::Code(&[1, 2, 3]);
const CODE_1234: Kind = Kind::Code(&[1, 2, 3, 4]);
const NON_NEG: Kind = Kind::Number {
    min: Some(0.0),
    strict: false,
};

/// Standard reference time of the census.
pub const REFERENCE_DATE: &str = "2020-12-31";

/// Age in completed years on `on` (indicators.md §1): the one definition, used by the row
/// rules and, as the SQL function `age_on(birth_date, date)`, by every query.
pub fn age_on(birth: chrono::NaiveDate, on: chrono::NaiveDate) -> i32 {
    use chrono::Datelike as _;
    age_between(
        (birth.year(), birth.month(), birth.day()),
        (on.year(), on.month(), on.day()),
    )
}

/// [`age_on`] of two civil dates (year, month, day): the years between them, less one before
/// the birthday.
pub fn age_between(birth: (i32, u32, u32), on: (i32, u32, u32)) -> i32 {
    let before_birthday = (on.1, on.2) < (birth.1, birth.2);
    on.0 - birth.0 - i32::from(before_birthday)
}

/// [`age_on`] on Arrow dates (days since 1970-01-01), as the SQL function computes it for
/// millions of rows: the same comparison of (month, day), on civil dates computed with integer
/// arithmetic instead of calendar objects. `None` outside the dates chrono represents (where
/// [`age_on`] cannot be asked); equal to it everywhere else (tested).
pub fn age_on_days(birth: i32, on: i32) -> Option<i32> {
    Some(age_between(civil_from_days(birth)?, civil_from_days(on)?))
}

/// The proleptic Gregorian (year, month, day) of a day number (days since 1970-01-01), by
/// Howard Hinnant's `civil_from_days`; `None` outside chrono's range of dates.
pub fn civil_from_days(days: i32) -> Option<(i32, u32, u32)> {
    use std::sync::LazyLock;
    // Chrono's first and last dates as day numbers.
    static RANGE: LazyLock<(i64, i64)> = LazyLock::new(|| {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let day = |d: chrono::NaiveDate| d.signed_duration_since(epoch).num_days();
        (day(chrono::NaiveDate::MIN), day(chrono::NaiveDate::MAX))
    });
    let z = i64::from(days);
    if z < RANGE.0 || z > RANGE.1 {
        return None;
    }
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], from March
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Some((
        i32::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    ))
}

pub static COUNTIES: &[Column] = &[
    col("county_code", "县级区划代码", Kind::Digits(6)),
    col("county_name", "县名称", Kind::Text),
    col("county_type", "县类型", CODE_123),
    cond("exit_year", "摘帽年份", Kind::Int(2016, 2020)),
    col(
        "sampling_weight",
        "抽样权数",
        Kind::Number {
            min: Some(1.0),
            strict: false,
        },
    ),
    col("rural_population", "乡村人口", Kind::Int(0, i64::MAX)),
    col("has_county_hospital", "有县级公立医院", YES_NO),
    col("has_grade2_hospital", "有二级及以上医院", YES_NO),
    col(
        "hospital_all_depts_staffed",
        "县医院各科室有执业医师",
        YES_NO,
    ),
    col("has_junior_school", "有初中", YES_NO),
    col("has_vocational_school", "有中等职业学校", YES_NO),
    col("has_technical_school", "有技工院校", YES_NO),
    col("has_skills_training", "有职业技能培训机构", YES_NO),
    col("has_public_library", "有公共图书馆", YES_NO),
];

pub static TOWNSHIPS: &[Column] = &[
    col("township_code", "乡级区划代码", Kind::Digits(9)),
    col("township_name", "乡镇名称", Kind::Text),
    col("has_health_centre", "有卫生院", CODE_123),
    col("has_primary_school", "有小学", YES_NO),
    col("has_junior_school", "有初中", YES_NO),
    col("has_boarding_school", "有寄宿制学校", YES_NO),
    col("has_culture_station", "有综合文化站", YES_NO),
];

pub static VILLAGES: &[Column] = &[
    col("village_code", "村级区划代码", Kind::Digits(12)),
    col("village_name", "村名称", Kind::Text),
    col(
        "urban_rural_code",
        "城乡分类代码",
        Kind::Code(&[111, 112, 121, 122, 123, 210, 220]),
    ),
    col("is_poor_village", "贫困村", YES_NO),
    col("population", "户籍人口", Kind::Int(0, i64::MAX)),
    col("hardened_road", "通硬化路", CODE_123),
    col("power_grid", "通动力电", CODE_123),
    col("mobile_signal", "通信信号覆盖", YES_NO),
    col("broadband", "通宽带互联网", YES_NO),
    col("radio_tv", "广播电视信号覆盖", YES_NO),
    col("service_centre", "有村级综合服务设施", YES_NO),
    col("ecommerce_point", "有电子商务配送站点", YES_NO),
    col("central_water", "集中供水", CODE_123),
    col("garbage_collection", "垃圾集中处理或清运", CODE_123),
    col("clinic", "村卫生室", CODE_123),
    col("village_doctor", "有合格村医或执业(助理)医师", YES_NO),
    col("library_or_culture", "有图书室或文化站", YES_NO),
    col("collective_income", "村集体经济收入(万元)", NON_NEG),
];

pub static HOUSEHOLDS: &[Column] = &[
    col("household_id", "户编码", Kind::Digits(16)),
    col("head_id_number", "户主公民身份号码", Kind::IdNumber),
    col("enumeration_status", "登记状态", CODE_123),
    col(
        "registration_date",
        "登记日期",
        Kind::Date("2020-07-01", "2021-01-31"),
    ),
    col("poverty_attribute", "贫困户属性", CODE_123),
    col("registered_year", "建档立卡年份", Kind::Int(2014, 2020)),
    opt("exit_year", "脱贫年份", Kind::Int(2014, 2020)),
    col("household_size", "家庭人口数", Kind::Int(1, 20)),
    col("food_enough", "平常能吃得饱", YES_NO),
    col("protein_frequency", "吃肉蛋奶或豆制品", CODE_123),
    col("clothing_ok", "四季有换洗衣物和御寒被褥", YES_NO),
    col("housing_route", "住房安全实现方式", CODE_1234),
    opt("housing_grade", "房屋鉴定等级", Kind::Grade),
    col("water_quantity_ok", "水量达标", YES_NO),
    col("water_quality_ok", "水质达标", YES_NO),
    col("water_access", "用水方便程度", CODE_123),
    col("water_reliability", "供水保证率", CODE_123),
    col("income_wage", "工资性收入(元)", NON_NEG),
    col(
        "income_business",
        "经营净收入(元)",
        Kind::Number {
            min: None,
            strict: false,
        },
    ),
    col("income_property", "财产净收入(元)", NON_NEG),
    col("income_transfer", "转移净收入(元)", NON_NEG),
    col("ind_self", "独立发展产业", YES_NO),
    col("ind_coop", "新型经营主体带动", YES_NO),
    col("ind_training", "技术指导或培训", YES_NO),
    col("ind_credit", "获得信贷资金扶持", YES_NO),
    col("emp_training", "职业技能培训", YES_NO),
    col("emp_tech_school", "就读技工学校", YES_NO),
    col("emp_service", "就业服务", YES_NO),
    col("emp_startup", "创业扶持", YES_NO),
    col("emp_public_job", "公益岗位", YES_NO),
    col("emp_workshop", "扶贫车间", YES_NO),
    col("emp_transport", "外出务工交通补贴", YES_NO),
    col("hlt_premium", "医保参保缴费补贴", YES_NO),
    col("hlt_one_stop", "县域内住院一站式结算", YES_NO),
    col("hlt_chronic", "四类慢性病家庭医生签约", YES_NO),
    col("edu_preschool", "学前教育幼儿资助", YES_NO),
    col("edu_compulsory", "义务教育生活补助、营养膳食补助", YES_NO),
    col("edu_highschool", "普通高中免学杂费", YES_NO),
    col("edu_vocational", "中职免学费", YES_NO),
    col("edu_grant", "国家助学金", YES_NO),
    col("edu_loan", "国家助学贷款", YES_NO),
];

/// Household columns that stay required when enumeration_status is 2 or 3 (unreachable or
/// refusal); every other item may then be empty.
pub const HOUSEHOLD_ALWAYS_REQUIRED: &[&str] =
    &["household_id", "head_id_number", "enumeration_status"];

/// The household assistance flags (indicators.md §4), in submission order, by group.
pub const ASSIST_INDUSTRY: &[&str] = &["ind_self", "ind_coop", "ind_training", "ind_credit"];
pub const ASSIST_EMPLOYMENT: &[&str] = &[
    "emp_training",
    "emp_tech_school",
    "emp_service",
    "emp_startup",
    "emp_public_job",
    "emp_workshop",
    "emp_transport",
];
pub const ASSIST_HEALTH: &[&str] = &["hlt_premium", "hlt_one_stop", "hlt_chronic"];
pub const ASSIST_EDUCATION: &[&str] = &[
    "edu_preschool",
    "edu_compulsory",
    "edu_highschool",
    "edu_vocational",
    "edu_grant",
    "edu_loan",
];

pub static PERSONS: &[Column] = &[
    col("person_id", "公民身份号码", Kind::IdNumber),
    col("household_id", "户编码", Kind::Digits(16)),
    col("name", "姓名", Kind::Text),
    col("relation", "与户主关系", Kind::Code(&[1, 2, 3, 4, 5, 6, 9])),
    col("sex", "性别", Kind::Code(&[1, 2])),
    col(
        "birth_date",
        "出生日期",
        Kind::Date("1900-01-01", REFERENCE_DATE),
    ),
    col("ethnicity", "民族", Kind::Int(1, 56)),
    col(
        "education_level",
        "文化程度",
        Kind::Code(&[1, 2, 3, 4, 5, 6]),
    ),
    cond("schooling_status", "义务教育阶段就学情况", CODE_1234),
    col("health_status", "健康状况", CODE_1234),
    cond("disability_grade", "残疾等级", CODE_1234),
    col("medical_insurance", "基本医疗保险", CODE_1234),
    col("pension_insurance", "基本养老保险", CODE_123),
    col("labour_ability", "劳动能力", CODE_1234),
    col("migrant_months", "务工时间(月)", Kind::Int(0, 12)),
    col("is_dibao", "低保对象", YES_NO),
];

pub static ASSESSMENT_HOUSEHOLDS: &[Column] = &[
    col("county_code", "县级区划代码", Kind::Digits(6)),
    col("stratum", "抽样层", Kind::Code(&[1, 2])),
    col("village_code", "样本村", Kind::Digits(12)),
    col("sample_type", "样本户类型", CODE_123),
    cond("household_id", "户编码", Kind::Digits(16)),
    col(
        "weight",
        "抽样权数",
        Kind::Number {
            min: Some(0.0),
            strict: true,
        },
    ),
    col("persons", "家庭人口数", Kind::Int(1, i64::MAX)),
    cond("wrongly_exited", "错退", YES_NO),
    cond("missed_persons", "漏评人数", Kind::Int(0, i64::MAX)),
    col("approval", "群众认可", CODE_123),
];

/// The Arrow type a column is stored as in the warehouse: codes and identifiers as strings,
/// coded items as small integers, counts as integers, money and weights as float64, dates as
/// dates.
pub fn data_type(kind: Kind) -> arrow::datatypes::DataType {
    use arrow::datatypes::DataType;
    match kind {
        Kind::Digits(_) | Kind::Text | Kind::IdNumber | Kind::Grade => DataType::Utf8,
        Kind::Code(_) => DataType::Int16,
        Kind::Int(lo, hi) if lo >= i64::from(i16::MIN) && hi <= i64::from(i16::MAX) => {
            DataType::Int16
        }
        Kind::Int(..) => DataType::Int64,
        Kind::Number { .. } => DataType::Float64,
        Kind::Date(..) => DataType::Date32,
    }
}

/// The warehouse schema of a table: the canonical columns, then `province_code`.
pub fn arrow_schema(table: Table) -> arrow::datatypes::SchemaRef {
    use arrow::datatypes::{DataType, Field, Schema};
    let mut fields: Vec<Field> = table
        .columns()
        .iter()
        .map(|c| Field::new(c.name, data_type(c.kind), true))
        .collect();
    fields.push(Field::new("province_code", DataType::Utf8, false));
    std::sync::Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(d: chrono::NaiveDate) -> i32 {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        i32::try_from(d.signed_duration_since(epoch).num_days()).unwrap()
    }

    #[test]
    fn civil_dates_from_day_numbers_are_chronos_for_every_day_from_1600_to_2400() {
        use chrono::Datelike as _;
        let mut d = chrono::NaiveDate::from_ymd_opt(1600, 1, 1).unwrap();
        let end = chrono::NaiveDate::from_ymd_opt(2400, 12, 31).unwrap();
        while d <= end {
            assert_eq!(
                civil_from_days(days(d)),
                Some((d.year(), d.month(), d.day())),
                "{d}"
            );
            d = d.succ_opt().unwrap();
        }
        for edge in [chrono::NaiveDate::MIN, chrono::NaiveDate::MAX] {
            assert_eq!(
                civil_from_days(days(edge)),
                Some((edge.year(), edge.month(), edge.day()))
            );
        }
        assert_eq!(civil_from_days(days(chrono::NaiveDate::MIN) - 1), None);
        assert_eq!(civil_from_days(days(chrono::NaiveDate::MAX) + 1), None);
        assert_eq!(civil_from_days(i32::MIN), None);
        assert_eq!(civil_from_days(i32::MAX), None);
    }

    #[test]
    fn age_on_day_numbers_is_age_on_dates_around_every_birthday_and_leap_day() {
        let on_dates = [
            "2020-12-31",
            "2021-02-28",
            "2024-02-29",
            "2021-03-01",
            "1970-01-01",
        ];
        let mut birth = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
        let last = chrono::NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
        while birth <= last {
            for on in on_dates {
                let on: chrono::NaiveDate = on.parse().unwrap();
                assert_eq!(
                    age_on_days(days(birth), days(on)),
                    Some(age_on(birth, on)),
                    "{birth} on {on}"
                );
            }
            birth = birth.succ_opt().unwrap();
        }
    }

    #[test]
    fn every_table_has_unique_names_and_labels() {
        for t in Table::ALL {
            let cols = t.columns();
            for (i, c) in cols.iter().enumerate() {
                assert_eq!(t.resolve_header(c.name), Some(i), "{t}.{}", c.name);
                assert_eq!(t.resolve_header(c.label_zh), Some(i), "{t}.{}", c.label_zh);
            }
            if let Some(k) = t.key_column() {
                assert_eq!(t.column_index(k), Some(0), "{t}: key column comes first");
            }
        }
    }

    #[test]
    fn headers_resolve_with_spaces_and_case() {
        assert_eq!(Table::Persons.resolve_header(" Person_ID "), Some(0));
        assert_eq!(Table::Persons.resolve_header(" 姓名"), Some(2));
        assert_eq!(Table::Persons.resolve_header("nickname"), None);
        assert_eq!(Table::from_file_name("persons.csv"), Some(Table::Persons));
        assert_eq!(Table::from_file_name("people.csv"), None);
    }
}
