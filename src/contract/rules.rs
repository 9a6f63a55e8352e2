//! The catalogue of validation rules: stable rule ids, their severity and what they mean.
//!
//! Rule ids are part of the product's contract: they appear in the `rejects` table, the ingest
//! report and the generator's ground-truth file, and a province office looks them up in the
//! README's rule table. Never rename one; add new ids instead.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What happens to a record that breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row (or, for file rules, the whole file) is rejected.
    Error,
    /// The row is loaded and flagged.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A whole submission or file.
    File,
    /// One row, on its own.
    Row,
    /// A row checked against other rows or tables.
    CrossRow,
}

macro_rules! rules {
    ($( $variant:ident => ($id:literal, $sev:ident, $scope:ident, $desc:literal, $zh:literal), )*) => {
        /// A validation rule. `Rule::id()` is the stable identifier.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule { $( $variant, )* }

        impl Rule {
            pub const ALL: &'static [Rule] = &[ $( Rule::$variant, )* ];

            pub fn id(self) -> &'static str {
                match self { $( Rule::$variant => $id, )* }
            }

            pub fn severity(self) -> Severity {
                match self { $( Rule::$variant => Severity::$sev, )* }
            }

            pub fn scope(self) -> Scope {
                match self { $( Rule::$variant => Scope::$scope, )* }
            }

            pub fn description(self) -> &'static str {
                match self { $( Rule::$variant => $desc, )* }
            }

            /// The rule's meaning in Chinese, for province offices (quality report, terminal).
            pub fn description_zh(self) -> &'static str {
                match self { $( Rule::$variant => $zh, )* }
            }
        }
    };
}

rules! {
    ManifestInvalid => ("manifest.invalid", Error, File,
        "manifest.json is missing, is not valid JSON of the documented shape, or names another province than its directory; the whole submission is rejected",
        "manifest.json 缺失、不是规定格式的 JSON，或所填省份与目录不符；整个报送批次拒收"),
    FileMissing => ("file.missing", Error, File,
        "a required table file (counties, townships, villages, households, persons) is absent from the submission",
        "缺少必报数据文件（县、乡镇、村、户、人口之一）"),
    FileEncoding => ("file.encoding", Error, File,
        "the file cannot be decoded without error as UTF-8 or GB18030; the message gives the byte offset",
        "文件无法按 UTF-8 或 GB18030 正确解码；说明中给出出错的字节位置"),
    FileHeader => ("file.header", Error, File,
        "the file is empty (no header row), or the header row is empty or names the same column twice",
        "文件为空（没有表头行），或表头为空，或同一列名出现两次"),
    FileMissingColumn => ("file.missing_column", Error, File,
        "a required column is missing from the header",
        "表头缺少必填列"),
    FileManifestRows => ("file.manifest_rows", Error, File,
        "the number of data rows differs from the manifest's `rows` (truncated or altered upload)",
        "数据行数与 manifest 中的 rows 不一致（上传不完整或文件被改动）"),
    FileManifestSha256 => ("file.manifest_sha256", Error, File,
        "the file's SHA-256 differs from the manifest's `sha256` (truncated or altered upload)",
        "文件的 SHA-256 与 manifest 中的 sha256 不一致（上传不完整或文件被改动）"),
    FileOtherProvince => ("file.other_province", Error, File,
        "the file holds the records of another province than the submission's",
        "文件中是其他省份的记录，不是本批次省份的"),
    FileOutside => ("file.outside", Error, File,
        "the file does not resolve to a regular file inside the submission directory (a link leaving it, a link loop); it is not read",
        "文件不是报送目录内的普通文件（链接指向目录外或循环链接），未读取"),
    FileLineEndings => ("file.line_endings", Error, File,
        "the lines end with a carriage return alone (CR, old Mac OS style); save the file with LF or CRLF line endings",
        "行尾只有回车符（CR，旧 Mac OS 格式）；请以 LF 或 CRLF 行尾重新保存"),
    FileUnknownColumn => ("file.unknown_column", Warning, File,
        "the header has a column that is not part of the format; it is ignored",
        "表头中有不属于规定格式的列，已忽略"),
    CsvMalformed => ("csv.malformed", Error, Row,
        "the record does not parse as CSV or has a different number of fields than the header",
        "记录无法按 CSV 解析，或字段数与表头不同"),
    ValueRequired => ("value.required", Error, Row,
        "a required value is empty",
        "必填项为空"),
    ValueFormat => ("value.format", Error, Row,
        "the value is not of the column's type (digits of the right length, integer, number or YYYY-MM-DD date)",
        "取值不符合该列类型（位数正确的数字、整数、数值或 YYYY-MM-DD 日期）"),
    ValueCode => ("value.code", Error, Row,
        "the value is not one of the column's codes",
        "取值不在该列的代码表内"),
    ValueRange => ("value.range", Error, Row,
        "the value is outside the column's allowed range",
        "取值超出该列允许的范围"),
    ValueMoney => ("value.money", Error, Row,
        "a money amount is beyond what a census household or village can have: each 2020 household income component (wage, business, property, transfer) at most 10,000,000 yuan in absolute value, per-capita net income at most 1,000,000 yuan in absolute value (about 100 times the national mean), village collective income at most 100,000 (10,000 yuan, i.e. 1 billion yuan)",
        "金额超出普查户或村可能的范围：2020 年户收入各项（工资性、经营性、财产性、转移性）绝对值不超过 1000 万元，人均纯收入绝对值不超过 100 万元，村集体收入不超过 100000 万元（10 亿元）"),
    ValueWeight => ("value.weight", Error, Row,
        "a sampling weight is beyond what the sample designs allow: a county's sampling_weight at most 3,000 (China has fewer than 3,000 county-level divisions, and a weight is an inverse inclusion probability), an assessment household's weight at most 1,000,000 (no county has more households)",
        "抽样权数超出抽样设计允许的范围：县的 sampling_weight 不超过 3000，评估户的权数不超过 1000000"),
    ValueCount => ("value.count", Error, Row,
        "a count of people is beyond the plausible: a county's rural_population at most 5,000,000, a village's population at most 100,000, an assessment household's persons and missed_persons at most 20 (as household_size)",
        "人数超出合理范围：县农村人口不超过 500 万，村人口不超过 10 万，评估户人数与漏评人数不超过 20"),
    CodeProvince => ("code.province", Error, Row,
        "the record's code does not begin with the submitting province's code",
        "记录的代码不以报送省份的代码开头"),
    CodeStructure => ("code.structure", Error, Row,
        "the code is malformed for its level (village serial, digits 10-12, outside 001-599)",
        "代码结构与所属层级不符（村序号即第 10–12 位不在 001–599 内）"),
    IdFormat => ("id.format", Error, Row,
        "the ID number is not 18 characters (or 20 for a disability card) of the GB 11643 form with a valid birth date",
        "身份证号不是 GB 11643 规定的 18 位（残疾证号为 20 位）格式，或其中的出生日期无效"),
    IdChecksum => ("id.checksum", Error, Row,
        "the ID number's ISO 7064 MOD 11-2 check character is wrong",
        "身份证号的 ISO 7064 MOD 11-2 校验码错误"),
    IdSex => ("id.sex", Error, Row,
        "sex disagrees with the parity of the ID number's sequence code (odd = male)",
        "性别与身份证号顺序码的奇偶不符（奇数为男）"),
    IdBirthDate => ("id.birth_date", Error, Row,
        "birth_date disagrees with the birth date inside the ID number",
        "出生日期与身份证号中的出生日期不符"),
    PersonSchooling => ("person.schooling", Error, Row,
        "schooling_status must be given for persons aged 6-15 on 2020-12-31 and be empty for everyone else",
        "2020-12-31 时年满 6–15 周岁者须填写在校情况，其他人须为空"),
    PersonDisabilityGrade => ("person.disability_grade", Error, Row,
        "disability_grade must be given when health_status = 4 (disabled) and be empty otherwise",
        "健康状况为 4（残疾）时须填写残疾等级，否则须为空"),
    HouseholdHousingGrade => ("household.housing_grade", Error, Row,
        "housing grade C or D is inconsistent with housing_route 1 (existing housing appraised safe)",
        "住房鉴定为 C 级或 D 级与住房保障方式 1（现住房经鉴定安全）矛盾"),
    HouseholdExitYear => ("household.exit_year", Error, Row,
        "exit_year is before registered_year",
        "脱贫年份早于建档立卡年份"),
    CountyExitYear => ("county.exit_year", Error, Row,
        "exit_year is required for county types 1-2 and must be empty for type 3",
        "县类型为 1–2 时须填写摘帽年份，类型为 3 时须为空"),
    CountySamplingWeight => ("county.sampling_weight", Error, Row,
        "sampling_weight must be 1 for county types 1-2",
        "县类型为 1–2 时抽样权数须为 1"),
    AssessmentHouseholdId => ("assessment.household_id", Error, Row,
        "household_id is required for sample types 1-2 and must be empty for type 3",
        "样本类型为 1–2 时须填写户编码，类型为 3 时须为空"),
    AssessmentItem => ("assessment.item", Error, Row,
        "wrongly_exited is answered for type 1 only and missed_persons for type 3 only",
        "错退项只对类型 1 填写，漏评人数只对类型 3 填写"),
    AssessmentMissedPersons => ("assessment.missed_persons", Error, Row,
        "missed_persons exceeds the household's persons",
        "漏评人数超过该户人数"),
    AssessmentVillageCounty => ("assessment.village_county", Error, CrossRow,
        "the sampled village is not a village of the row's county (its code does not begin with the county code, or it is not in villages.csv)",
        "抽中的村不属于该行的县（村代码不以县代码开头，或不在 villages.csv 中）"),
    AssessmentHousehold => ("assessment.household", Error, CrossRow,
        "household_id does not name an enumerated household of the sampled village, or its type disagrees with the household's exit_year",
        "户编码不是抽中村的普查登记户，或样本类型与该户的脱贫年份不符"),
    KeyDuplicate => ("key.duplicate", Error, CrossRow,
        "the primary key occurs more than once (in this file, another file or another province); the first occurrence is kept",
        "主键重复（在本文件、其他文件或其他省份中）；保留第一次出现的记录"),
    KeyOrphan => ("key.orphan", Error, CrossRow,
        "the parent record is missing, rejected or (for persons) not enumerated",
        "上级记录缺失或已被拒收（人口记录：所在户未登记）"),
    HouseholdSizeMismatch => ("household.size_mismatch", Warning, CrossRow,
        "household_size differs from the number of loaded person rows of the household",
        "户人数与该户入库的人口记录数不一致"),
    HouseholdHeadCount => ("household.head_count", Warning, CrossRow,
        "the household does not have exactly one loaded member with relation 1 (head)",
        "该户入库成员中户主（与户主关系为 1）不是恰好一人"),
    HouseholdHeadId => ("household.head_id", Warning, CrossRow,
        "head_id_number differs from the person_id of the household's head",
        "户主身份证号与该户户主的 person_id 不一致"),
    RegisterCountyUnknown => ("register.county_unknown", Error, Row,
        "a register row's county_code is not a county-level division of the 22 census provinces (reference data)",
        "登记记录的所在县代码不是 22 个普查省份的县级区划（参照区划代码）"),
    RegisterDateAfterReference => ("register.date_after_reference", Warning, Row,
        "a register date is after the standard reference date 2020-12-31; the row is loaded and flagged",
        "登记日期晚于普查标准时点 2020-12-31；记录入库并标注"),
    RegisterDateOrder => ("register.date_order", Error, Row,
        "a civil-affairs record's end_date is before its start_date",
        "民政救助记录的终止日期早于开始日期"),
    RegisterGrade => ("register.grade", Error, Row,
        "a dangerous-housing record has grade A or B: only houses appraised C or D are registered as dangerous",
        "危房记录的等级为 A 或 B：只有鉴定为 C 级或 D 级的房屋才登记为危房"),
}

impl Rule {
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Rule::from_id(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown rule id `{s}`")))
    }
}

/// The rule table as Markdown (the README embeds it; a test keeps the two in step).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| rule id | severity | applies to | meaning | 中文说明 |\n|---|---|---|---|---|\n",
    );
    for r in Rule::ALL {
        let scope = match r.scope() {
            Scope::File => "file",
            Scope::Row => "row",
            Scope::CrossRow => "across rows",
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            r.id(),
            r.severity().as_str(),
            scope,
            r.description(),
            r.description_zh()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Rule::ALL {
            assert!(seen.insert(r.id()), "duplicate id {}", r.id());
            assert_eq!(Rule::from_id(r.id()), Some(*r));
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), *r);
        }
        assert!(serde_json::from_str::<Rule>("\"no.such\"").is_err());
    }

    #[test]
    fn every_rule_has_a_chinese_description() {
        for r in Rule::ALL {
            let zh = r.description_zh();
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{} has no Chinese description",
                r.id()
            );
            assert!(
                !zh.contains('|') && !zh.contains('\n'),
                "{}: breaks the table",
                r.id()
            );
        }
    }
}
