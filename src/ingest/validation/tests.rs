//! Unit tests of the validation: header mapping, per-field checks, row rules and messages.

use super::fields::{PROVINCE_CODED, SENSITIVE, VILLAGE_CODED, parse_date};
use super::*;
use crate::contract::id_number::build;
use crate::contract::schema::Column;

const PROVINCE: &str = "52";

fn date(s: &str) -> NaiveDate {
    parse_date(s).unwrap()
}

fn adult_id() -> String {
    build(520102, date("1980-03-04"), 101)
}

fn head_id() -> String {
    build(520102, date("1970-05-06"), 102)
}

/// A field value for every column: a table-specific value or a generic valid one.
fn default_value(table: Table, col: &Column) -> String {
    let specific = match (table, col.name) {
        (Table::Counties, "county_code") => Some("520102"),
        (Table::Townships, "township_code") => Some("520102001"),
        (Table::Villages, "village_code") => Some("520102001001"),
        (Table::Households, "household_id") => Some("5201020010010001"),
        (Table::Households, "head_id_number") => return head_id(),
        (Table::Households, "housing_grade") => Some("A"),
        (Table::Persons, "person_id") => return adult_id(),
        (Table::Persons, "household_id") => Some("5201020010010001"),
        (Table::Persons, "birth_date") => Some("1980-03-04"),
        (Table::Persons, "sex") => Some("1"),
        (Table::Persons, "schooling_status") => Some(""),
        (Table::Persons, "disability_grade") => Some(""),
        (Table::AssessmentHouseholds, "county_code") => Some("520102"),
        (Table::AssessmentHouseholds, "village_code") => Some("520102001001"),
        (Table::AssessmentHouseholds, "household_id") => Some("5201020010010001"),
        (Table::AssessmentHouseholds, "persons") => Some("4"),
        (Table::AssessmentHouseholds, "missed_persons") => Some(""),
        _ => None,
    };
    if let Some(s) = specific {
        return s.to_string();
    }
    match col.kind {
        Kind::Digits(n) => "1".repeat(n),
        Kind::Text => "文本".to_string(),
        Kind::Code(list) => list[0].to_string(),
        Kind::Int(a, _) => a.to_string(),
        Kind::Number { .. } => "1".to_string(),
        Kind::Date(a, _) => a.to_string(),
        Kind::IdNumber => adult_id(),
        Kind::Grade => "A".to_string(),
    }
}

/// Canonical header and a record of valid defaults with `overrides` applied.
fn record(table: Table, overrides: &[(&str, &str)]) -> (Vec<&'static str>, Vec<String>) {
    for (name, _) in overrides {
        assert!(
            table.column_index(name).is_some(),
            "{table} has no column {name}"
        );
    }
    let header: Vec<&'static str> = table.columns().iter().map(|c| c.name).collect();
    let fields = table
        .columns()
        .iter()
        .map(|c| match overrides.iter().find(|(n, _)| *n == c.name) {
            Some((_, v)) => v.to_string(),
            None => default_value(table, c),
        })
        .collect();
    (header, fields)
}

fn validator(table: Table, header: &[&str]) -> RowValidator {
    let (map, findings) = HeaderMap::new(table, header);
    assert!(findings.is_empty(), "{findings:?}");
    RowValidator::new(table, PROVINCE, map)
}

fn findings(table: Table, overrides: &[(&str, &str)]) -> Vec<Finding> {
    let (header, fields) = record(table, overrides);
    let v = validator(table, &header);
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let mut values = Vec::new();
    let f = v.check(&refs, &mut values);
    assert_eq!(values.len(), table.columns().len());
    f
}

/// The row has exactly one finding, of this rule on this column.
#[track_caller]
fn only(table: Table, overrides: &[(&str, &str)], rule: Rule, column: &str) -> Finding {
    let f = findings(table, overrides);
    assert_eq!(f.len(), 1, "expected one {rule} finding, got {f:#?}");
    assert_eq!(f[0].rule, rule, "{f:#?}");
    assert_eq!(f[0].column, Some(column), "{f:#?}");
    assert!(
        f[0].message.contains(column),
        "message names the column: {}",
        f[0].message
    );
    f.into_iter().next().unwrap()
}

#[test]
fn clean_rows_pass_with_typed_values() {
    for table in Table::ALL {
        let (header, fields) = record(table, &[]);
        let v = validator(table, &header);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let mut values = vec![Value::Int(99)];
        let f = v.check(&refs, &mut values);
        assert!(f.is_empty(), "{table}: {f:#?}");
        assert_eq!(f.capacity(), 0, "clean rows allocate no findings");
        assert_eq!(values.len(), table.columns().len());
        for (c, val) in table.columns().iter().zip(&values) {
            let ok = match c.kind {
                Kind::Digits(_) | Kind::Text | Kind::IdNumber | Kind::Grade => {
                    matches!(val, Value::Str(Cow::Borrowed(_)))
                }
                Kind::Code(_) | Kind::Int(..) => matches!(val, Value::Int(_)),
                Kind::Number { .. } => matches!(val, Value::Float(_)),
                Kind::Date(..) => matches!(val, Value::Date(_)),
            };
            let empty = refs[table.column_index(c.name).unwrap()].is_empty();
            assert!(
                ok || (empty && val.is_null()),
                "{table}.{}: {val:?}",
                c.name
            );
        }
    }
    // Spot checks of the typed values.
    let (header, fields) = record(Table::Households, &[("income_business", "-500.5")]);
    let v = validator(Table::Households, &header);
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let mut values = Vec::new();
    assert!(v.check(&refs, &mut values).is_empty());
    let at = |n: &str| values[Table::Households.column_index(n).unwrap()].clone();
    assert_eq!(
        at("household_id"),
        Value::Str(Cow::Borrowed("5201020010010001"))
    );
    assert_eq!(at("enumeration_status"), Value::Int(1));
    assert_eq!(at("registration_date"), Value::Date(date("2020-07-01")));
    assert_eq!(at("income_business"), Value::Float(-500.5));
    assert_eq!(at("housing_grade").as_str(), Some("A"));
    assert_eq!(at("head_id_number").as_str(), Some(head_id().as_str()));
}

#[test]
fn clean_rows_of_other_shapes() {
    // Counties of type 3: no exit year, any weight >= 1.
    assert!(
        findings(
            Table::Counties,
            &[
                ("county_type", "3"),
                ("exit_year", ""),
                ("sampling_weight", "12.5")
            ]
        )
        .is_empty()
    );
    // A school-age child with a schooling status; a disabled adult with a grade.
    let child = build(520102, date("2010-01-01"), 202);
    let f = findings(
        Table::Persons,
        &[
            ("person_id", &child),
            ("birth_date", "2010-01-01"),
            ("sex", "2"),
            ("schooling_status", "1"),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert!(
        findings(
            Table::Persons,
            &[("health_status", "4"), ("disability_grade", "2")]
        )
        .is_empty()
    );
    // Assessment types 2 and 3.
    assert!(
        findings(
            Table::AssessmentHouseholds,
            &[("sample_type", "2"), ("wrongly_exited", "")]
        )
        .is_empty()
    );
    let f = findings(
        Table::AssessmentHouseholds,
        &[
            ("sample_type", "3"),
            ("household_id", ""),
            ("wrongly_exited", ""),
            ("missed_persons", "4"),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    // Optional and leading-zero values, spaces around fields, exponents.
    let f = findings(
        Table::Households,
        &[
            ("exit_year", ""),
            ("housing_grade", ""),
            ("food_enough", " 01 "),
            ("income_wage", "1.5e3"),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert!(findings(Table::Persons, &[("ethnicity", "01")]).is_empty());
}

#[test]
fn malformed_record_gives_one_finding() {
    let (header, mut fields) = record(Table::Townships, &[("township_code", "bad")]);
    fields.push("extra".into());
    let v = validator(Table::Townships, &header);
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let mut values = Vec::new();
    let f = v.check(&refs, &mut values);
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].rule, f[0].column), (Rule::CsvMalformed, None));
    assert!(
        f[0].message.contains("8 fields") && f[0].message.contains("has 7"),
        "{}",
        f[0].message
    );
    assert!(values.iter().all(Value::is_null) && values.len() == 7);
    assert_eq!(v.record_key(&refs), None);
}

#[test]
fn required_values() {
    only(
        Table::Villages,
        &[("village_name", "  ")],
        Rule::ValueRequired,
        "village_name",
    );
    only(Table::Persons, &[("name", "")], Rule::ValueRequired, "name");
    only(
        Table::Households,
        &[("food_enough", "")],
        Rule::ValueRequired,
        "food_enough",
    );
    only(
        Table::Households,
        &[("head_id_number", "")],
        Rule::ValueRequired,
        "head_id_number",
    );
    // Optional columns may be empty.
    assert!(findings(Table::Households, &[("exit_year", "")]).is_empty());
}

#[test]
fn unenumerated_households_may_leave_items_empty() {
    let cols = Table::Households.columns();
    for status in ["2", "3"] {
        let mut overrides: Vec<(&str, &str)> = cols
            .iter()
            .filter(|c| !schema::HOUSEHOLD_ALWAYS_REQUIRED.contains(&c.name))
            .map(|c| (c.name, ""))
            .collect();
        overrides.push(("enumeration_status", status));
        assert!(
            findings(Table::Households, &overrides).is_empty(),
            "status {status}"
        );
        // Values present are still checked; always-required ones still required.
        overrides.retain(|(n, _)| *n != "income_wage");
        overrides.push(("income_wage", "lots"));
        let f = findings(Table::Households, &overrides);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].rule, f[0].column),
            (Rule::ValueFormat, Some("income_wage"))
        );
        overrides.push(("head_id_number", ""));
        assert_eq!(findings(Table::Households, &overrides).len(), 2);
    }
    // Status 1 requires them all; a bad status leaves the items undecided.
    only(
        Table::Households,
        &[("enumeration_status", "1"), ("housing_route", "")],
        Rule::ValueRequired,
        "housing_route",
    );
    only(
        Table::Households,
        &[("enumeration_status", "4"), ("housing_route", "")],
        Rule::ValueCode,
        "enumeration_status",
    );
    only(
        Table::Households,
        &[("enumeration_status", ""), ("housing_route", "")],
        Rule::ValueRequired,
        "enumeration_status",
    );
}

#[test]
fn value_format() {
    only(
        Table::Counties,
        &[("county_code", "52010")],
        Rule::ValueFormat,
        "county_code",
    );
    only(
        Table::Counties,
        &[("county_code", "52010a")],
        Rule::ValueFormat,
        "county_code",
    );
    only(
        Table::Counties,
        &[("county_code", "５２０１０２")],
        Rule::ValueFormat,
        "county_code",
    );
    for bad in ["1.0", "+1", "-1", "yes", "1 1"] {
        only(
            Table::Households,
            &[("housing_route", bad)],
            Rule::ValueFormat,
            "housing_route",
        );
    }
    for bad in ["3.5", "+3", "3-", "-", "十"] {
        only(
            Table::Persons,
            &[("migrant_months", bad)],
            Rule::ValueFormat,
            "migrant_months",
        );
    }
    for bad in [
        "NaN", "inf", "-inf", "1,234", "1.2.3", "e5", ".", "1e", "0x10", "１",
    ] {
        only(
            Table::Households,
            &[("income_wage", bad)],
            Rule::ValueFormat,
            "income_wage",
        );
    }
    for bad in [
        "2020/11/02",
        "2020-11-2",
        "20201102",
        "2020-02-30",
        "2020-13-01",
        "2020-11-02T00:00",
    ] {
        only(
            Table::Households,
            &[("registration_date", bad)],
            Rule::ValueFormat,
            "registration_date",
        );
    }
    let f = only(
        Table::Households,
        &[("housing_route", "1.0")],
        Rule::ValueFormat,
        "housing_route",
    );
    assert!(
        f.message.contains("`1.0`") && f.message.contains("1, 2, 3, 4"),
        "{}",
        f.message
    );
}

#[test]
fn value_code() {
    let f = only(
        Table::Households,
        &[("housing_route", "7")],
        Rule::ValueCode,
        "housing_route",
    );
    assert_eq!(
        f.message,
        "value `7` is not one of the codes 1, 2, 3, 4 (住房安全实现方式 housing_route)"
    );
    only(
        Table::Villages,
        &[("urban_rural_code", "113")],
        Rule::ValueCode,
        "urban_rural_code",
    );
    only(
        Table::Villages,
        &[("broadband", "0")],
        Rule::ValueCode,
        "broadband",
    );
    only(
        Table::Villages,
        &[("broadband", "99999999999999999999999")],
        Rule::ValueCode,
        "broadband",
    );
    for bad in ["a", "E", "AB", "1"] {
        only(
            Table::Households,
            &[("housing_grade", bad)],
            Rule::ValueCode,
            "housing_grade",
        );
    }
}

#[test]
fn value_range() {
    only(
        Table::Persons,
        &[("migrant_months", "13")],
        Rule::ValueRange,
        "migrant_months",
    );
    only(
        Table::Persons,
        &[("migrant_months", "-1")],
        Rule::ValueRange,
        "migrant_months",
    );
    only(
        Table::Persons,
        &[("ethnicity", "57")],
        Rule::ValueRange,
        "ethnicity",
    );
    only(
        Table::Persons,
        &[("ethnicity", "00")],
        Rule::ValueRange,
        "ethnicity",
    );
    only(
        Table::Villages,
        &[("population", "-5")],
        Rule::ValueRange,
        "population",
    );
    only(
        Table::Villages,
        &[("population", "99999999999999999999")],
        Rule::ValueRange,
        "population",
    );
    only(
        Table::Villages,
        &[("collective_income", "-0.01")],
        Rule::ValueRange,
        "collective_income",
    );
    only(
        Table::Villages,
        &[("collective_income", "1e400")],
        Rule::ValueRange,
        "collective_income",
    );
    only(
        Table::Counties,
        &[
            ("county_type", "3"),
            ("exit_year", ""),
            ("sampling_weight", "0.5"),
        ],
        Rule::ValueRange,
        "sampling_weight",
    );
    only(
        Table::AssessmentHouseholds,
        &[("weight", "0")],
        Rule::ValueRange,
        "weight",
    );
    only(
        Table::Households,
        &[("registration_date", "2021-02-01")],
        Rule::ValueRange,
        "registration_date",
    );
    only(
        Table::Households,
        &[("household_size", "21")],
        Rule::ValueRange,
        "household_size",
    );
    let f = only(
        Table::Counties,
        &[("exit_year", "2015")],
        Rule::ValueRange,
        "exit_year",
    );
    assert!(f.message.contains("from 2016 to 2020"), "{}", f.message);
    // Boundaries are inclusive, except a strict minimum.
    assert!(findings(Table::Villages, &[("collective_income", "0")]).is_empty());
    assert!(findings(Table::AssessmentHouseholds, &[("weight", "0.001")]).is_empty());
    assert!(findings(Table::Households, &[("registration_date", "2021-01-31")]).is_empty());
}

#[test]
fn code_province() {
    only(
        Table::Counties,
        &[("county_code", "530102")],
        Rule::CodeProvince,
        "county_code",
    );
    only(
        Table::Townships,
        &[("township_code", "530102001")],
        Rule::CodeProvince,
        "township_code",
    );
    only(
        Table::Villages,
        &[("village_code", "530102001001")],
        Rule::CodeProvince,
        "village_code",
    );
    only(
        Table::Households,
        &[("household_id", "5301020010010001")],
        Rule::CodeProvince,
        "household_id",
    );
    only(
        Table::Persons,
        &[("household_id", "5301020010010001")],
        Rule::CodeProvince,
        "household_id",
    );
    only(
        Table::AssessmentHouseholds,
        &[("household_id", "5301020010010001")],
        Rule::CodeProvince,
        "household_id",
    );
    // The village then is not of the county either; that is not reported twice.
    only(
        Table::AssessmentHouseholds,
        &[("village_code", "530102001001")],
        Rule::CodeProvince,
        "village_code",
    );
    only(
        Table::AssessmentHouseholds,
        &[("county_code", "530102")],
        Rule::CodeProvince,
        "county_code",
    );
    // Not checked when the format is already wrong.
    only(
        Table::Counties,
        &[("county_code", "53010")],
        Rule::ValueFormat,
        "county_code",
    );
    let f = only(
        Table::Counties,
        &[("county_code", "530102")],
        Rule::CodeProvince,
        "county_code",
    );
    assert!(
        f.message.contains("`530102`") && f.message.contains("52"),
        "{}",
        f.message
    );
}

#[test]
fn code_structure() {
    only(
        Table::Villages,
        &[("village_code", "520102001600")],
        Rule::CodeStructure,
        "village_code",
    );
    only(
        Table::Villages,
        &[("village_code", "520102001000")],
        Rule::CodeStructure,
        "village_code",
    );
    only(
        Table::AssessmentHouseholds,
        &[("village_code", "520102001999")],
        Rule::CodeStructure,
        "village_code",
    );
    assert!(findings(Table::Villages, &[("village_code", "520102001599")]).is_empty());
    // Two independent faults of one code.
    let f = findings(Table::Villages, &[("village_code", "530102001600")]);
    let rules: Vec<Rule> = f.iter().map(|f| f.rule).collect();
    assert_eq!(rules, [Rule::CodeProvince, Rule::CodeStructure]);
}

#[test]
fn id_format_and_checksum() {
    let id = adult_id();
    let mut bad_check = id.clone();
    bad_check.replace_range(17..18, if &id[17..] == "0" { "1" } else { "0" });
    let f = only(
        Table::Persons,
        &[("person_id", &bad_check), ("sex", "2")],
        Rule::IdChecksum,
        "person_id",
    );
    assert!(!f.message.contains(&bad_check[..17]), "{}", f.message);
    // A checksum fault hides the sex and birth date checks.
    let f = findings(
        Table::Persons,
        &[
            ("person_id", &bad_check),
            ("sex", "2"),
            ("birth_date", "1999-01-01"),
        ],
    );
    assert_eq!(f.len(), 1, "{f:?}");

    for bad in [
        &id[..17],
        "52010219800230101X",
        "5201021980030410AX",
        "52010219800304101X99",
    ] {
        let f = only(
            Table::Persons,
            &[("person_id", bad)],
            Rule::IdFormat,
            "person_id",
        );
        assert!(!f.message.contains(&bad[..14]), "{}", f.message);
    }
    only(
        Table::Households,
        &[("head_id_number", "123")],
        Rule::IdFormat,
        "head_id_number",
    );
    let mut bad_head = head_id();
    bad_head.replace_range(17..18, if &bad_head[17..] == "0" { "1" } else { "0" });
    let f = only(
        Table::Households,
        &[("head_id_number", &bad_head)],
        Rule::IdChecksum,
        "head_id_number",
    );
    assert!(!f.message.contains(&bad_head[..17]));
}

#[test]
fn id_messages_never_contain_the_id() {
    let id = adult_id();
    let mut cases: Vec<String> = vec![
        id[..16].to_string(),
        format!("{}Y", &id[..17]),
        format!("{id}99"),
        format!("{}A", &id[..17]),
    ];
    let mut bad = id.clone();
    bad.replace_range(17..18, if &id[17..] == "0" { "1" } else { "0" });
    cases.push(bad);
    for case in &cases {
        for (table, column) in [
            (Table::Persons, "person_id"),
            (Table::Households, "head_id_number"),
        ] {
            for f in findings(table, &[(column, case.as_str())]) {
                assert!(!f.message.contains(case.as_str()), "{}", f.message);
                assert!(!f.message.contains(&case[..10]), "{}", f.message);
            }
        }
    }
    // Nor do sex / birth-date disagreements quote the ID.
    for f in findings(
        Table::Persons,
        &[("sex", "2"), ("birth_date", "1980-03-05")],
    ) {
        assert!(!f.message.contains(&id), "{}", f.message);
        assert!(!f.message.contains("19800304"), "{}", f.message);
    }
}

#[test]
fn disability_card_ids_and_lower_case_x() {
    let card = format!("{}43", adult_id());
    let f = findings(
        Table::Persons,
        &[
            ("person_id", &card),
            ("health_status", "4"),
            ("disability_grade", "3"),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert!(
        findings(
            Table::Households,
            &[("head_id_number", &format!("{}21", head_id()))]
        )
        .is_empty()
    );
    only(
        Table::Persons,
        &[("person_id", &format!("{}83", adult_id()))],
        Rule::IdFormat,
        "person_id",
    );

    // Find a valid ID ending in X and submit it with a lower-case x.
    let x_id = (100..200)
        .map(|seq| build(520102, date("1980-03-04"), seq))
        .find(|id| id.ends_with('X'))
        .expect("an ID with check character X");
    let seq: u16 = x_id[14..17].parse().unwrap();
    let sex = if seq % 2 == 1 { "1" } else { "2" };
    let lower = format!(" {}x ", &x_id[..17]);
    let (header, fields) = record(Table::Persons, &[("person_id", &lower), ("sex", sex)]);
    let v = validator(Table::Persons, &header);
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let mut values = Vec::new();
    assert!(v.check(&refs, &mut values).is_empty());
    assert_eq!(values[0], Value::Str(Cow::Owned(x_id.clone())));
    assert_eq!(v.record_key(&refs).as_deref(), Some(x_id.as_str()));
}

#[test]
fn id_sex_and_birth_date() {
    only(Table::Persons, &[("sex", "2")], Rule::IdSex, "sex");
    only(
        Table::Persons,
        &[("birth_date", "1980-03-05")],
        Rule::IdBirthDate,
        "birth_date",
    );
    // Not checked when the other column is itself invalid.
    only(Table::Persons, &[("sex", "3")], Rule::ValueCode, "sex");
    only(
        Table::Persons,
        &[("birth_date", "1980-02-30")],
        Rule::ValueFormat,
        "birth_date",
    );
    // A birth date that disagrees with the ID does not also raise the age rule.
    only(
        Table::Persons,
        &[("birth_date", "2010-03-04")],
        Rule::IdBirthDate,
        "birth_date",
    );
}

#[test]
fn person_schooling() {
    let child_id = build(520102, date("2005-01-01"), 101);
    let child = [
        ("person_id", child_id.as_str()),
        ("birth_date", "2005-01-01"),
    ];
    // 15 on 2020-12-31: schooling required.
    only(
        Table::Persons,
        &child,
        Rule::PersonSchooling,
        "schooling_status",
    );
    // An adult: must be empty.
    only(
        Table::Persons,
        &[("schooling_status", "1")],
        Rule::PersonSchooling,
        "schooling_status",
    );
    // Aged 5 (born 2015-01-01 is 5 on 2020-12-31 ... 2015 births are 5): must be empty.
    let young = build(520102, date("2015-12-31"), 101);
    only(
        Table::Persons,
        &[
            ("person_id", &young),
            ("birth_date", "2015-12-31"),
            ("schooling_status", "1"),
        ],
        Rule::PersonSchooling,
        "schooling_status",
    );
    let six = build(520102, date("2014-12-31"), 101);
    only(
        Table::Persons,
        &[("person_id", &six), ("birth_date", "2014-12-31")],
        Rule::PersonSchooling,
        "schooling_status",
    );
    let sixteen = build(520102, date("2004-12-31"), 101);
    assert!(
        findings(
            Table::Persons,
            &[("person_id", &sixteen), ("birth_date", "2004-12-31")]
        )
        .is_empty()
    );
    // An invalid schooling value is reported once.
    only(
        Table::Persons,
        &[("schooling_status", "5")],
        Rule::ValueCode,
        "schooling_status",
    );
}

#[test]
fn person_disability_grade() {
    only(
        Table::Persons,
        &[("health_status", "4")],
        Rule::PersonDisabilityGrade,
        "disability_grade",
    );
    only(
        Table::Persons,
        &[("health_status", "2"), ("disability_grade", "1")],
        Rule::PersonDisabilityGrade,
        "disability_grade",
    );
    only(
        Table::Persons,
        &[("health_status", "5"), ("disability_grade", "1")],
        Rule::ValueCode,
        "health_status",
    );
    only(
        Table::Persons,
        &[("health_status", "4"), ("disability_grade", "5")],
        Rule::ValueCode,
        "disability_grade",
    );
}

#[test]
fn county_rules() {
    only(
        Table::Counties,
        &[("exit_year", "")],
        Rule::CountyExitYear,
        "exit_year",
    );
    only(
        Table::Counties,
        &[("county_type", "2"), ("exit_year", "")],
        Rule::CountyExitYear,
        "exit_year",
    );
    only(
        Table::Counties,
        &[("county_type", "3"), ("exit_year", "2019")],
        Rule::CountyExitYear,
        "exit_year",
    );
    only(
        Table::Counties,
        &[("sampling_weight", "2.5")],
        Rule::CountySamplingWeight,
        "sampling_weight",
    );
    assert!(findings(Table::Counties, &[("sampling_weight", "1.0")]).is_empty());
    only(
        Table::Counties,
        &[("county_type", "4"), ("exit_year", "")],
        Rule::ValueCode,
        "county_type",
    );
}

#[test]
fn household_rules() {
    let f = only(
        Table::Households,
        &[("housing_grade", "C")],
        Rule::HouseholdHousingGrade,
        "housing_grade",
    );
    assert!(f.message.contains("housing_route 1"), "{}", f.message);
    only(
        Table::Households,
        &[("housing_grade", "D")],
        Rule::HouseholdHousingGrade,
        "housing_grade",
    );
    assert!(
        findings(
            Table::Households,
            &[("housing_grade", "D"), ("housing_route", "2")]
        )
        .is_empty()
    );
    only(
        Table::Households,
        &[("registered_year", "2018"), ("exit_year", "2016")],
        Rule::HouseholdExitYear,
        "exit_year",
    );
    assert!(
        findings(
            Table::Households,
            &[("registered_year", "2018"), ("exit_year", "2018")]
        )
        .is_empty()
    );
}

#[test]
fn assessment_rules() {
    let t = Table::AssessmentHouseholds;
    only(
        t,
        &[("household_id", "")],
        Rule::AssessmentHouseholdId,
        "household_id",
    );
    only(
        t,
        &[
            ("sample_type", "2"),
            ("wrongly_exited", ""),
            ("household_id", ""),
        ],
        Rule::AssessmentHouseholdId,
        "household_id",
    );
    only(
        t,
        &[
            ("sample_type", "3"),
            ("wrongly_exited", ""),
            ("missed_persons", "0"),
        ],
        Rule::AssessmentHouseholdId,
        "household_id",
    );
    only(
        t,
        &[("wrongly_exited", "")],
        Rule::AssessmentItem,
        "wrongly_exited",
    );
    only(
        t,
        &[("sample_type", "2")],
        Rule::AssessmentItem,
        "wrongly_exited",
    );
    only(
        t,
        &[("missed_persons", "1")],
        Rule::AssessmentItem,
        "missed_persons",
    );
    only(
        t,
        &[
            ("sample_type", "3"),
            ("household_id", ""),
            ("wrongly_exited", ""),
        ],
        Rule::AssessmentItem,
        "missed_persons",
    );
    // Both items wrong: one finding per column.
    let f = findings(t, &[("sample_type", "3"), ("household_id", "")]);
    let got: Vec<_> = f.iter().map(|f| (f.rule, f.column)).collect();
    assert_eq!(
        got,
        [
            (Rule::AssessmentItem, Some("wrongly_exited")),
            (Rule::AssessmentItem, Some("missed_persons"))
        ]
    );
    only(
        t,
        &[
            ("sample_type", "3"),
            ("household_id", ""),
            ("wrongly_exited", ""),
            ("missed_persons", "5"),
        ],
        Rule::AssessmentMissedPersons,
        "missed_persons",
    );
    only(
        t,
        &[("village_code", "520103001001")],
        Rule::AssessmentVillageCounty,
        "village_code",
    );
    only(t, &[("sample_type", "0")], Rule::ValueCode, "sample_type");
}

#[test]
fn headers_chinese_and_mixed() {
    for table in Table::ALL {
        let cols = table.columns();
        // Chinese labels, reversed order.
        let zh: Vec<&str> = cols.iter().rev().map(|c| c.label_zh).collect();
        let (map, f) = HeaderMap::new(table, &zh);
        assert!(
            f.is_empty() && !HeaderMap::rejects_file(&f),
            "{table}: {f:?}"
        );
        assert_eq!(map.field_count(), cols.len());
        for i in 0..cols.len() {
            assert_eq!(map.field_index(i), Some(cols.len() - 1 - i));
        }
        // Mixed: even columns English (with spaces, upper case), odd ones Chinese.
        let mixed: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    format!(" {} ", c.name.to_uppercase())
                } else {
                    c.label_zh.to_string()
                }
            })
            .collect();
        let refs: Vec<&str> = mixed.iter().map(String::as_str).collect();
        let (map, f) = HeaderMap::new(table, &refs);
        assert!(f.is_empty(), "{table}: {f:?}");
        assert!((0..cols.len()).all(|i| map.field_index(i) == Some(i)));
    }
    // A Chinese header validates a reordered record.
    let (header, fields) = record(Table::Persons, &[]);
    let zh: Vec<&str> = header
        .iter()
        .rev()
        .map(|n| {
            let c = Table::Persons.column_index(n).unwrap();
            Table::Persons.columns()[c].label_zh
        })
        .collect();
    let rev: Vec<&str> = fields.iter().rev().map(String::as_str).collect();
    let v = validator(Table::Persons, &zh);
    let mut values = Vec::new();
    assert!(v.check(&rev, &mut values).is_empty());
    assert_eq!(values[0].as_str(), Some(adult_id().as_str()));
    // A UTF-8 BOM left on the first cell is ignored.
    let mut bom: Vec<String> = header.iter().map(|s| s.to_string()).collect();
    bom[0] = format!("\u{feff}{}", bom[0]);
    let refs: Vec<&str> = bom.iter().map(String::as_str).collect();
    assert!(HeaderMap::new(Table::Persons, &refs).1.is_empty());
}

#[test]
fn header_faults() {
    let t = Table::Townships;
    let names: Vec<&str> = t.columns().iter().map(|c| c.name).collect();

    // Unknown columns: one warning each, naming the text; the file is kept.
    let mut h = names.clone();
    h.insert(2, "备注");
    h.push("remark");
    let (map, f) = HeaderMap::new(t, &h);
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|f| f.rule == Rule::FileUnknownColumn));
    assert!(f[0].message.contains("备注") && f[1].message.contains("remark"));
    assert!(!HeaderMap::rejects_file(&f));
    assert_eq!(map.field_count(), 9);
    assert_eq!(map.field_of("has_primary_school"), Some(4));
    assert_eq!(
        map.unknown_columns(),
        &[(2, "备注".to_string()), (8, "remark".to_string())]
    );
    // Their values are ignored.
    let v = RowValidator::new(t, PROVINCE, map);
    let mut values = Vec::new();
    let rec = ["520102001", "镇", "anything", "1", "1", "1", "1", "1", "x"];
    assert!(v.check(&rec, &mut values).is_empty());
    assert_eq!(v.record_key(&rec).as_deref(), Some("520102001"));

    // The same column twice, by its English and Chinese names.
    let mut h = names.clone();
    h.push("有小学");
    let (map, f) = HeaderMap::new(t, &h);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].rule, f[0].column),
        (Rule::FileHeader, Some("has_primary_school"))
    );
    assert!(HeaderMap::rejects_file(&f));
    assert_eq!(map.field_of("has_primary_school"), Some(3));

    // Missing columns: all of them reported.
    let h: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !n.starts_with("has_"))
        .collect();
    let (_, f) = HeaderMap::new(t, &h);
    assert_eq!(f.len(), 5);
    assert!(f.iter().all(|f| f.rule == Rule::FileMissingColumn));
    assert_eq!(f[0].column, Some("has_health_centre"));
    assert!(HeaderMap::rejects_file(&f));
    // Conditional and optional columns are required in the header too.
    let h: Vec<&str> = Table::Persons
        .columns()
        .iter()
        .map(|c| c.name)
        .filter(|n| *n != "schooling_status")
        .collect();
    let (_, f) = HeaderMap::new(Table::Persons, &h);
    assert_eq!(
        (f.len(), f[0].rule, f[0].column),
        (1, Rule::FileMissingColumn, Some("schooling_status"))
    );

    // Empty header.
    for h in [&[][..], &[""][..], &["", " "][..]] {
        let (_, f) = HeaderMap::new(t, h);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, Rule::FileHeader);
        assert!(HeaderMap::rejects_file(&f));
    }
}

#[test]
fn record_keys() {
    let (header, fields) = record(Table::Persons, &[("sex", "9")]);
    let v = validator(Table::Persons, &header);
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    assert_eq!(v.record_key(&refs), Some(adult_id()));
    let t = Table::AssessmentHouseholds;
    let (header, fields) = record(t, &[("household_id", " 5201020010010002 ")]);
    let v = validator(t, &header);
    let mut refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    assert_eq!(v.record_key(&refs).as_deref(), Some("5201020010010002"));
    refs[t.column_index("household_id").unwrap()] = "";
    assert_eq!(v.record_key(&refs).as_deref(), Some("520102001001"));
    refs[t.column_index("village_code").unwrap()] = " ";
    assert_eq!(v.record_key(&refs), None);
    let (header, mut fields) = record(Table::Villages, &[]);
    fields[0] = String::new();
    let v = validator(Table::Villages, &header);
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    assert_eq!(v.record_key(&refs), None);
}

#[test]
fn long_values_are_described_not_quoted() {
    let long = "9".repeat(100);
    let f = only(
        Table::Villages,
        &[("population", &long)],
        Rule::ValueRange,
        "population",
    );
    assert!(f.message.contains("100 digits"), "{}", f.message);
    assert!(!f.message.contains(&"9".repeat(13)), "{}", f.message);
    // Header cells are quoted truncated.
    let mut header: Vec<String> = Table::Villages
        .columns()
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    header.push("z".repeat(100));
    let refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let (_, f) = HeaderMap::new(Table::Villages, &refs);
    assert!(
        f[0].message.contains(&format!("`{}…`", "z".repeat(40))),
        "{}",
        f[0].message
    );
}

#[test]
fn implausible_money_is_rejected() {
    let f = only(
        Table::Households,
        &[("income_wage", "1e19")],
        Rule::ValueMoney,
        "income_wage",
    );
    assert!(f.message.contains("`1e19`"), "{}", f.message);
    only(
        Table::Households,
        &[("income_business", "-20000000")],
        Rule::ValueMoney,
        "income_business",
    );
    only(
        Table::Villages,
        &[("collective_income", "250000")],
        Rule::ValueMoney,
        "collective_income",
    );
    assert!(
        findings(
            Table::Households,
            &[("income_wage", "9000000"), ("household_size", "20")]
        )
        .is_empty()
    );
}

#[test]
fn implausible_per_capita_income_is_rejected() {
    // Each component is plausible; together, over household_size 1, they are not.
    let f = only(
        Table::Households,
        &[
            ("household_size", "1"),
            ("income_wage", "9000000"),
            ("income_transfer", "8000000"),
        ],
        Rule::ValueMoney,
        "income_wage",
    );
    assert!(f.message.contains("per-capita"), "{}", f.message);
}

#[test]
fn implausible_weights_are_rejected() {
    only(
        Table::Counties,
        &[
            ("county_type", "3"),
            ("exit_year", ""),
            ("sampling_weight", "1e15"),
        ],
        Rule::ValueWeight,
        "sampling_weight",
    );
    assert!(
        findings(
            Table::Counties,
            &[
                ("county_type", "3"),
                ("exit_year", ""),
                ("sampling_weight", "96.34")
            ]
        )
        .is_empty()
    );
    only(
        Table::AssessmentHouseholds,
        &[("weight", "1e300")],
        Rule::ValueWeight,
        "weight",
    );
}

#[test]
fn implausible_counts_are_rejected() {
    only(
        Table::Villages,
        &[("population", "9000000000000000000")],
        Rule::ValueCount,
        "population",
    );
    only(
        Table::Counties,
        &[("rural_population", "60000000")],
        Rule::ValueCount,
        "rural_population",
    );
}

#[test]
fn full_width_digits_in_an_id_are_described_as_such() {
    let full: String = adult_id()
        .chars()
        .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c))
        .collect();
    let f = only(
        Table::Persons,
        &[("person_id", &full)],
        Rule::IdFormat,
        "person_id",
    );
    assert!(f.message.contains("full-width"), "{}", f.message);
    assert!(
        !f.message.contains("has 18 characters; expected 18"),
        "{}",
        f.message
    );
    let f = only(
        Table::Persons,
        &[("household_id", "５２０１０２００１００１０００１")],
        Rule::ValueFormat,
        "household_id",
    );
    assert!(f.message.contains("full-width"), "{}", f.message);
}

#[test]
fn values_of_another_shape_are_described_not_quoted() {
    // A name in the ethnicity column (swapped headers).
    let f = only(
        Table::Persons,
        &[("ethnicity", "张伟")],
        Rule::ValueFormat,
        "ethnicity",
    );
    assert!(!f.message.contains("张伟"), "{}", f.message);
    assert!(f.message.contains("2 characters"), "{}", f.message);
    // An ID number in the household_id column.
    let id = adult_id();
    let f = findings(Table::Persons, &[("household_id", &id)]);
    assert!(!f.is_empty());
    for f in f {
        assert!(!f.message.contains(&id[..10]), "{}", f.message);
    }
    // A short code of the column's shape is quoted.
    let f = only(Table::Persons, &[("sex", "7")], Rule::ValueCode, "sex");
    assert!(f.message.contains("`7`"), "{}", f.message);
}

#[test]
fn a_data_row_as_header_quotes_no_cell() {
    let (_, fields) = record(Table::Persons, &[("name", "张伟")]);
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let (_, f) = HeaderMap::new(Table::Persons, &refs);
    assert!(f.iter().any(|f| f.rule == Rule::FileHeader));
    for f in &f {
        assert!(!f.message.contains("张伟"), "{}", f.message);
        assert!(!f.message.contains(&adult_id()[..10]), "{}", f.message);
    }
}

#[test]
fn escape_text_escapes_control_characters() {
    assert_eq!(escape_text("a\n\u{1b}[31m", 40), "a\\n\\u{1b}[31m");
    assert_eq!(escape_text("abcdef", 3), "abc…");
}

#[test]
fn rule_tables_match_the_schema() {
    for (t, name) in PROVINCE_CODED.iter().chain(VILLAGE_CODED) {
        let c = t.column_index(name).expect("column exists");
        assert!(matches!(t.columns()[c].kind, Kind::Digits(_)), "{t}.{name}");
    }
    use crate::contract::registers::{Layout, Register};
    let layouts = Table::ALL
        .map(Layout::from)
        .into_iter()
        .chain(Register::ALL.map(Layout::from));
    for name in SENSITIVE {
        assert!(layouts.clone().any(|t| t.column_index(name).is_some()));
    }
    for t in Table::ALL {
        let (header, _) = record(t, &[]);
        let _ = validator(t, &header); // the rule column lookups do not panic
    }
    for r in Register::ALL {
        let names: Vec<&str> = r.columns().iter().map(|c| c.name).collect();
        let (map, findings) = HeaderMap::new(r, &names);
        assert!(findings.is_empty(), "{r}: {findings:?}");
        let _ = RowValidator::new(r, "", map); // the register rules' lookups do not panic
    }
}
