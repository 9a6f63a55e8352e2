//! Planted bad input for `generate --errors RATE`, with the ground truth of every fault.
//!
//! Row-level errors are planted on *extra* rows, cloned from a real row of the same county and
//! then broken in exactly one way, so a planted error never changes the clean records around it
//! (the clean data of a seed is the same with and without `--errors`). Only the cascade demo
//! (a village whose township is missing, with a household and two persons of its own) has
//! consequences, and those are listed in the ground truth as `cascade` entries. Warnings are
//! planted on real households (their rows stay loadable). File-level faults are planted by the
//! province writer (see `generator::write_province`).
//!
//! With `RATE > 0`, the first county of each province carries one fault of every kind its
//! tables allow; every county then gets about `RATE × rows` further faults per table, of
//! kinds drawn at random.

use std::collections::HashSet;

use chrono::{Datelike, Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::county::{
    CountyOutput, Ctx, Identity, LocalFault, Samples, anchor_identity, fresh_identity,
    push_csv_field,
};
use super::plan::{CountyPlan, hash64};
use crate::contract::rules::Rule;
use crate::contract::schema::Table;

/// Warnings planted on real household rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// household_size one more than the members written.
    SizeMismatch,
    /// A second member written with relation 1.
    HeadCount,
    /// head_id_number names the second member instead of the head.
    HeadId,
}

/// Decides which real households carry a planted warning.
pub struct WarningPlanter {
    seed: u64,
    rate: f64,
    pending: Vec<Warning>,
}

impl WarningPlanter {
    pub fn new(ctx: &Ctx<'_>, cp: &CountyPlan) -> Self {
        let pending = if ctx.error_rate > 0.0 && cp.rank == 0 {
            vec![Warning::HeadId, Warning::HeadCount, Warning::SizeMismatch]
        } else {
            Vec::new()
        };
        WarningPlanter {
            seed: ctx.seed,
            rate: ctx.error_rate,
            pending,
        }
    }

    pub fn decide(&mut self, hid: &str, size: usize, is_anchor: bool) -> Option<Warning> {
        if self.rate <= 0.0 || is_anchor || size < 2 {
            return None;
        }
        if let Some(w) = self.pending.pop() {
            return Some(w);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(hash64(self.seed, "warn", hid));
        if rng.random_bool((self.rate / 4.0).min(1.0)) {
            Some(
                [Warning::SizeMismatch, Warning::HeadCount, Warning::HeadId]
                    [rng.random_range(0..3)],
            )
        } else {
            None
        }
    }

    pub fn record(&self, out: &mut CountyOutput, w: Warning, row: usize, hid: &str) {
        let (rule, column, note) = match w {
            Warning::SizeMismatch => (
                Rule::HouseholdSizeMismatch,
                Some("household_size"),
                "household_size is one more than the persons written",
            ),
            Warning::HeadCount => (
                Rule::HouseholdHeadCount,
                None,
                "a second member is written with relation 1",
            ),
            Warning::HeadId => (
                Rule::HouseholdHeadId,
                Some("head_id_number"),
                "head_id_number names the second member",
            ),
        };
        out.faults.push(LocalFault {
            table: Table::Households,
            row,
            rule,
            column,
            record_key: Some(hid.to_string()),
            note: note.to_string(),
            cascade: false,
            requires_province: None,
        });
    }
}

/// Where planted rows go.
pub struct FaultSink<'a> {
    pub out: &'a mut CountyOutput,
    pub used_ids: &'a mut HashSet<(NaiveDate, u16)>,
    pub address: u32,
}

/// One planted row: its fields and what it breaks.
struct Planted {
    fields: Vec<String>,
    rule: Rule,
    column: Option<&'static str>,
    key: Option<String>,
    note: &'static str,
    malformed: bool,
    requires_province: Option<&'static str>,
}

fn split(line: &str) -> Vec<String> {
    line.split(',').map(str::to_string).collect()
}

fn idx(t: Table, col: &str) -> usize {
    // Cannot fail: callers name columns of the schema (static strings).
    t.column_index(col).expect("schema column")
}

fn set(t: Table, f: &mut [String], col: &str, v: impl Into<String>) {
    f[idx(t, col)] = v.into();
}

fn get<'f>(t: Table, f: &'f [String], col: &str) -> &'f str {
    &f[idx(t, col)]
}

/// Replace an ID's check character by another one (the ID no longer validates).
fn break_checksum(id: &str) -> String {
    let mut s = id[..17].to_string();
    let c = id.as_bytes()[17];
    s.push(if c == b'0' { '1' } else { '0' });
    s.push_str(&id[18..]);
    s
}

fn with_province(code: &str, other: &str) -> String {
    format!("{other}{}", &code[2..])
}

const COUNTY_KINDS: usize = 10;
const TOWNSHIP_KINDS: usize = 7;
const VILLAGE_KINDS: usize = 10;
const HOUSEHOLD_KINDS: usize = 13;
const PERSON_KINDS: usize = 16;
const ASSESSMENT_KINDS: usize = 10;

/// Plant the row-level faults of one county.
pub fn plant_rows(ctx: &Ctx<'_>, cp: &CountyPlan, s: &Samples, sink: &mut FaultSink<'_>) {
    let mut rng = ChaCha8Rng::seed_from_u64(hash64(ctx.seed, "faults", cp.code));
    let mut plan: Vec<(Table, usize)> = Vec::new();
    let tables = [
        (Table::Counties, COUNTY_KINDS),
        (Table::Townships, TOWNSHIP_KINDS),
        (Table::Villages, VILLAGE_KINDS),
        (Table::Households, HOUSEHOLD_KINDS),
        (Table::Persons, PERSON_KINDS),
        (Table::AssessmentHouseholds, ASSESSMENT_KINDS),
    ];
    for (t, kinds) in tables {
        let rows = sink.out.tables[t as usize].rows;
        if rows == 0 {
            continue;
        }
        if cp.rank == 0 {
            plan.extend((0..kinds).map(|k| (t, k)));
        }
        let n = (rows as f64 * ctx.error_rate + rng.random::<f64>()).floor() as usize;
        // The person in two provinces is planted once per province (in its first county).
        let random_kind = |rng: &mut ChaCha8Rng| match rng.random_range(0..kinds) {
            12 if t == Table::Persons => 11,
            k => k,
        };
        plan.extend((0..n).map(|_| (t, random_kind(&mut rng))));
    }
    let mut counters = [0usize; 6];
    for (t, kind) in plan {
        let j = counters[t as usize];
        counters[t as usize] += 1;
        let planted = match t {
            Table::Counties => county_fault(ctx, cp, s, kind, j),
            Table::Townships => township_fault(ctx, cp, s, kind, j),
            Table::Villages => village_fault(ctx, cp, s, kind, j),
            Table::Households => household_fault(ctx, cp, s, kind, j),
            Table::Persons => person_fault(ctx, s, kind, j, sink, &mut rng),
            Table::AssessmentHouseholds => assessment_fault(ctx, cp, s, kind, j),
        };
        if let Some(p) = planted {
            push(sink.out, t, p, false);
        }
    }
    if cp.rank == 0 {
        cascade_demo(ctx, cp, s, sink, &mut rng);
    }
}

fn push(out: &mut CountyOutput, t: Table, p: Planted, cascade: bool) {
    let mut line = String::new();
    for (i, f) in p.fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if p.malformed {
            line.push_str(f);
        } else {
            push_csv_field(&mut line, f);
        }
    }
    let row = out.tables[t as usize].rows;
    out.tables[t as usize].push_line(&line);
    out.faults.push(LocalFault {
        table: t,
        row,
        rule: p.rule,
        column: p.column,
        record_key: p.key,
        note: p.note.to_string(),
        cascade,
        requires_province: p.requires_province,
    });
}

fn planted(
    fields: Vec<String>,
    rule: Rule,
    column: Option<&'static str>,
    key: Option<String>,
    note: &'static str,
) -> Option<Planted> {
    Some(Planted {
        fields,
        rule,
        column,
        key,
        note,
        malformed: false,
        requires_province: None,
    })
}

/// A malformed record: one field too many (an unquoted comma inside a text field).
fn malformed(mut fields: Vec<String>, text_col: usize, key: Option<String>) -> Option<Planted> {
    fields[text_col].push_str(",旧");
    Some(Planted {
        fields,
        rule: Rule::CsvMalformed,
        column: None,
        key,
        note: "an unquoted comma inside a text field gives one field too many",
        malformed: true,
        requires_province: None,
    })
}

/// A fault made by setting columns of the template row to fixed values.
struct Fixed {
    set: &'static [(&'static str, &'static str)],
    rule: Rule,
    column: &'static str,
    note: &'static str,
}

impl Fixed {
    fn plant(&self, t: Table, mut f: Vec<String>, key: Option<String>) -> Option<Planted> {
        for (column, value) in self.set {
            set(t, &mut f, column, *value);
        }
        planted(f, self.rule, Some(self.column), key, self.note)
    }
}

fn county_fault(
    ctx: &Ctx<'_>,
    cp: &CountyPlan,
    s: &Samples,
    kind: usize,
    j: usize,
) -> Option<Planted> {
    let t = Table::Counties;
    let unused = &ctx.province.unused_counties;
    if unused.is_empty() {
        return None;
    }
    let free = unused[(cp.rank * 31 + j) % unused.len()];
    let mut f = split(&s.county_line);
    if kind == 7 {
        return planted(
            f,
            Rule::KeyDuplicate,
            Some("county_code"),
            Some(cp.code.to_string()),
            "a second row of the same county",
        );
    }
    set(t, &mut f, "county_code", free.code);
    set(t, &mut f, "county_name", free.name);
    let key = Some(free.code.to_string());
    if let Some(fixed) = county_fixed(kind) {
        return fixed.plant(t, f, key);
    }
    match kind {
        6 => {
            let code = with_province(free.code, ctx.other_province);
            set(t, &mut f, "county_code", code.clone());
            planted(
                f,
                Rule::CodeProvince,
                Some("county_code"),
                Some(code),
                "county code of another province",
            )
        }
        _ => malformed(f, idx(t, "county_name"), key),
    }
}

/// The county faults of fixed values, planted on a row of an unused county.
fn county_fixed(kind: usize) -> Option<Fixed> {
    Some(match kind {
        0 => Fixed {
            set: &[("county_name", "")],
            rule: Rule::ValueRequired,
            column: "county_name",
            note: "county_name left empty",
        },
        1 => Fixed {
            set: &[("has_county_hospital", "3")],
            rule: Rule::ValueCode,
            column: "has_county_hospital",
            note: "yes/no item coded 3",
        },
        2 => Fixed {
            set: &[("rural_population", "12万")],
            rule: Rule::ValueFormat,
            column: "rural_population",
            note: "population written with a unit",
        },
        3 => Fixed {
            set: &[("sampling_weight", "0.5")],
            rule: Rule::ValueRange,
            column: "sampling_weight",
            note: "sampling weight below 1",
        },
        4 => Fixed {
            set: &[
                ("county_type", "1"),
                ("exit_year", ""),
                ("sampling_weight", "1"),
            ],
            rule: Rule::CountyExitYear,
            column: "exit_year",
            note: "poverty county without exit year",
        },
        5 => Fixed {
            set: &[
                ("county_type", "1"),
                ("exit_year", "2019"),
                ("sampling_weight", "2"),
            ],
            rule: Rule::CountySamplingWeight,
            column: "sampling_weight",
            note: "poverty county with weight 2",
        },
        8 => Fixed {
            set: &[
                ("county_type", "3"),
                ("exit_year", ""),
                ("sampling_weight", "1000000000000000"),
            ],
            rule: Rule::ValueWeight,
            column: "sampling_weight",
            note: "sampling weight 1e15",
        },
        _ => return None,
    })
}

fn township_fault(
    ctx: &Ctx<'_>,
    cp: &CountyPlan,
    s: &Samples,
    kind: usize,
    j: usize,
) -> Option<Planted> {
    let t = Table::Townships;
    let mut f = split(&s.township_line);
    if kind == 4 {
        let key = get(t, &f, "township_code").to_string();
        return planted(
            f,
            Rule::KeyDuplicate,
            Some("township_code"),
            Some(key),
            "a second row of the same township",
        );
    }
    if j >= 99 {
        return None;
    }
    let code = format!("{}{}", cp.code, 900 + j);
    set(t, &mut f, "township_code", code.clone());
    let key = Some(code.clone());
    match kind {
        0 => {
            set(t, &mut f, "township_name", "");
            planted(
                f,
                Rule::ValueRequired,
                Some("township_name"),
                key,
                "township_name left empty",
            )
        }
        1 => {
            set(t, &mut f, "has_health_centre", "4");
            planted(
                f,
                Rule::ValueCode,
                Some("has_health_centre"),
                key,
                "health centre coded 4",
            )
        }
        2 => {
            set(t, &mut f, "has_primary_school", "有");
            planted(
                f,
                Rule::ValueFormat,
                Some("has_primary_school"),
                key,
                "yes/no item written in words",
            )
        }
        3 => {
            let code = with_province(&code, ctx.other_province);
            set(t, &mut f, "township_code", code.clone());
            planted(
                f,
                Rule::CodeProvince,
                Some("township_code"),
                Some(code),
                "township code of another province",
            )
        }
        5 => {
            let unused = ctx.province.unused_counties.first()?;
            let code = format!("{}{}", unused.code, 900 + j);
            set(t, &mut f, "township_code", code.clone());
            planted(
                f,
                Rule::KeyOrphan,
                Some("township_code"),
                Some(code),
                "township of a county not in counties.csv",
            )
        }
        _ => malformed(f, idx(t, "township_name"), key),
    }
}

fn village_fault(
    ctx: &Ctx<'_>,
    cp: &CountyPlan,
    s: &Samples,
    kind: usize,
    j: usize,
) -> Option<Planted> {
    let t = Table::Villages;
    let mut f = split(&s.village_line);
    if kind == 6 {
        let key = get(t, &f, "village_code").to_string();
        return planted(
            f,
            Rule::KeyDuplicate,
            Some("village_code"),
            Some(key),
            "a second row of the same village",
        );
    }
    let n_twn = cp.townships.len();
    if j >= 9 * n_twn {
        return None;
    }
    let code = format!("{}{}", cp.townships[(j / 9) % n_twn].code, 590 + j % 9);
    set(t, &mut f, "village_code", code.clone());
    let key = Some(code.clone());
    if let Some(fixed) = village_fixed(kind) {
        return fixed.plant(t, f, key);
    }
    match kind {
        4 => {
            let code = format!("{}000", &code[..9]);
            set(t, &mut f, "village_code", code.clone());
            planted(
                f,
                Rule::CodeStructure,
                Some("village_code"),
                Some(code),
                "village serial 000",
            )
        }
        5 => {
            let code = with_province(&code, ctx.other_province);
            set(t, &mut f, "village_code", code.clone());
            planted(
                f,
                Rule::CodeProvince,
                Some("village_code"),
                Some(code),
                "village code of another province",
            )
        }
        7 => {
            let code = format!("{}998{:03}", cp.code, j % 500 + 1);
            set(t, &mut f, "village_code", code.clone());
            planted(
                f,
                Rule::KeyOrphan,
                Some("village_code"),
                Some(code),
                "village of a township not in townships.csv",
            )
        }
        _ => malformed(f, idx(t, "village_name"), key),
    }
}

/// The village faults of fixed values, planted on a row with a reserved village code.
fn village_fixed(kind: usize) -> Option<Fixed> {
    Some(match kind {
        0 => Fixed {
            set: &[("village_name", "")],
            rule: Rule::ValueRequired,
            column: "village_name",
            note: "village_name left empty",
        },
        1 => Fixed {
            set: &[("urban_rural_code", "230")],
            rule: Rule::ValueCode,
            column: "urban_rural_code",
            note: "urban-rural code 230 does not exist",
        },
        2 => Fixed {
            set: &[("population", "约1200")],
            rule: Rule::ValueFormat,
            column: "population",
            note: "population written as an estimate",
        },
        3 => Fixed {
            set: &[("collective_income", "-3")],
            rule: Rule::ValueRange,
            column: "collective_income",
            note: "negative collective income",
        },
        8 => Fixed {
            set: &[("population", "200000")],
            rule: Rule::ValueCount,
            column: "population",
            note: "village population 200,000",
        },
        _ => return None,
    })
}

fn household_fault(
    ctx: &Ctx<'_>,
    cp: &CountyPlan,
    s: &Samples,
    kind: usize,
    j: usize,
) -> Option<Planted> {
    let t = Table::Households;
    if s.household_line.is_empty() || j >= 999 {
        return None;
    }
    let mut f = split(&s.household_line);
    if kind == 9 {
        return planted(
            f,
            Rule::KeyDuplicate,
            Some("household_id"),
            Some(s.household_id.clone()),
            "a second row of the same household",
        );
    }
    let hid = format!("{}{}", s.village_code, 9000 + j);
    set(t, &mut f, "household_id", hid.clone());
    let key = Some(hid.clone());
    if let Some(fixed) = household_fixed(kind) {
        return fixed.plant(t, f, key);
    }
    match kind {
        4 => {
            let id = break_checksum(get(t, &f, "head_id_number"));
            set(t, &mut f, "head_id_number", id);
            planted(
                f,
                Rule::IdChecksum,
                Some("head_id_number"),
                key,
                "head ID with a wrong check character",
            )
        }
        5 => {
            let id = get(t, &f, "head_id_number")[..17].to_string();
            set(t, &mut f, "head_id_number", id);
            planted(
                f,
                Rule::IdFormat,
                Some("head_id_number"),
                key,
                "head ID with 17 characters",
            )
        }
        8 => {
            let code = with_province(&hid, ctx.other_province);
            set(t, &mut f, "household_id", code.clone());
            planted(
                f,
                Rule::CodeProvince,
                Some("household_id"),
                Some(code),
                "household code of another province",
            )
        }
        10 => {
            let code = format!("{}599{:04}", cp.townships[0].code, 9000 + j);
            set(t, &mut f, "household_id", code.clone());
            planted(
                f,
                Rule::KeyOrphan,
                Some("household_id"),
                Some(code),
                "household of a village not in villages.csv",
            )
        }
        _ => malformed(f, idx(t, "household_id"), key),
    }
}

/// The household faults of fixed values, planted on a row with a reserved household serial.
fn household_fixed(kind: usize) -> Option<Fixed> {
    Some(match kind {
        0 => Fixed {
            set: &[("food_enough", "")],
            rule: Rule::ValueRequired,
            column: "food_enough",
            note: "food_enough left empty",
        },
        1 => Fixed {
            set: &[("housing_route", "5")],
            rule: Rule::ValueCode,
            column: "housing_route",
            note: "housing route 5 does not exist",
        },
        2 => Fixed {
            set: &[("registration_date", "2020/09/01")],
            rule: Rule::ValueFormat,
            column: "registration_date",
            note: "date written with slashes",
        },
        3 => Fixed {
            set: &[("household_size", "21")],
            rule: Rule::ValueRange,
            column: "household_size",
            note: "household size above 20",
        },
        6 => Fixed {
            set: &[("housing_route", "1"), ("housing_grade", "C")],
            rule: Rule::HouseholdHousingGrade,
            column: "housing_grade",
            note: "grade C housing counted as safe existing housing",
        },
        7 => Fixed {
            set: &[("registered_year", "2017"), ("exit_year", "2016")],
            rule: Rule::HouseholdExitYear,
            column: "exit_year",
            note: "exit a year before registration",
        },
        11 => Fixed {
            set: &[("income_wage", "10000000000000000000")],
            rule: Rule::ValueMoney,
            column: "income_wage",
            note: "wage income 1e19 yuan",
        },
        _ => return None,
    })
}

/// A new person for the template's household: same birth date and sex as the template, a new
/// sequence code, relation 9 (other).
fn clone_person(s: &Samples, sink: &mut FaultSink<'_>) -> (Vec<String>, Identity) {
    let t = Table::Persons;
    let mut f = split(&s.person_line);
    // Cannot fail: the sample line was written by the generator itself.
    let birth = NaiveDate::parse_from_str(get(t, &f, "birth_date"), "%Y-%m-%d").expect("own date");
    let sex: u8 = get(t, &f, "sex").parse().expect("own sex");
    let mut ident = None;
    for seq in (900..1000u16).filter(|q| (q % 2 == 1) == (sex == 1)) {
        if sink.used_ids.insert((birth, seq)) {
            ident = Some(Identity {
                id: crate::contract::id_number::build(sink.address, birth, seq),
                sex,
                birth,
            });
            break;
        }
    }
    let ident = ident.unwrap_or_else(|| {
        let mut r = ChaCha8Rng::seed_from_u64(u64::from(sink.address));
        fresh_identity(
            &mut r,
            sink.address,
            2020 - birth.year() as u32,
            sink.used_ids,
        )
    });
    set(t, &mut f, "person_id", ident.id.clone());
    set(t, &mut f, "sex", ident.sex.to_string());
    set(
        t,
        &mut f,
        "birth_date",
        ident.birth.format("%Y-%m-%d").to_string(),
    );
    set(t, &mut f, "relation", "9");
    (f, ident)
}

fn person_fault(
    ctx: &Ctx<'_>,
    s: &Samples,
    kind: usize,
    j: usize,
    sink: &mut FaultSink<'_>,
    _rng: &mut ChaCha8Rng,
) -> Option<Planted> {
    let t = Table::Persons;
    if s.person_line.is_empty() || s.household_id.is_empty() || j >= 2000 {
        return None;
    }
    let (mut f, ident) = clone_person(s, sink);
    set(t, &mut f, "household_id", s.household_id.clone());
    let key = Some(ident.id.clone());
    if let Some(fixed) = person_fixed(kind) {
        return fixed.plant(t, f, key);
    }
    match kind {
        4..=9 => person_consistency_fault(f, kind, &ident, key),
        _ => person_link_fault(ctx, s, f, kind, key),
    }
}

/// The person faults of fixed values, planted on a new member of the template's household.
fn person_fixed(kind: usize) -> Option<Fixed> {
    Some(match kind {
        0 => Fixed {
            set: &[("name", "")],
            rule: Rule::ValueRequired,
            column: "name",
            note: "name left empty",
        },
        1 => Fixed {
            set: &[("medical_insurance", "5")],
            rule: Rule::ValueCode,
            column: "medical_insurance",
            note: "insurance code 5 does not exist",
        },
        2 => Fixed {
            set: &[("migrant_months", "三")],
            rule: Rule::ValueFormat,
            column: "migrant_months",
            note: "months written as a Chinese numeral",
        },
        3 => Fixed {
            set: &[("migrant_months", "13")],
            rule: Rule::ValueRange,
            column: "migrant_months",
            note: "13 months of migrant work",
        },
        _ => return None,
    })
}

/// Person faults against the ID number and the items that must agree with the person's age
/// or health (kinds 4–9).
fn person_consistency_fault(
    mut f: Vec<String>,
    kind: usize,
    ident: &Identity,
    key: Option<String>,
) -> Option<Planted> {
    let t = Table::Persons;
    match kind {
        4 => {
            let id = ident.id[..17].to_string();
            set(t, &mut f, "person_id", id.clone());
            planted(
                f,
                Rule::IdFormat,
                Some("person_id"),
                Some(id),
                "ID with 17 characters",
            )
        }
        5 => {
            let id = break_checksum(&ident.id);
            set(t, &mut f, "person_id", id.clone());
            planted(
                f,
                Rule::IdChecksum,
                Some("person_id"),
                Some(id),
                "ID with a wrong check character",
            )
        }
        6 => {
            set(t, &mut f, "sex", (3 - ident.sex).to_string());
            planted(
                f,
                Rule::IdSex,
                Some("sex"),
                key,
                "sex opposite to the ID's sequence parity",
            )
        }
        7 => {
            let other = if ident.birth.ordinal() == 1 {
                ident.birth + Duration::days(1)
            } else {
                ident.birth - Duration::days(1)
            };
            set(
                t,
                &mut f,
                "birth_date",
                other.format("%Y-%m-%d").to_string(),
            );
            planted(
                f,
                Rule::IdBirthDate,
                Some("birth_date"),
                key,
                "birth date one day off the ID's",
            )
        }
        8 => {
            let age = 2020 - ident.birth.year();
            let v = if (6..=15).contains(&age) { "" } else { "1" };
            set(t, &mut f, "schooling_status", v);
            planted(
                f,
                Rule::PersonSchooling,
                Some("schooling_status"),
                key,
                "schooling item for a person outside ages 6-15",
            )
        }
        9 => {
            let disabled = get(t, &f, "health_status") == "4";
            set(
                t,
                &mut f,
                "disability_grade",
                if disabled { "" } else { "2" },
            );
            planted(
                f,
                Rule::PersonDisabilityGrade,
                Some("disability_grade"),
                key,
                "disability grade without disability (or the reverse)",
            )
        }
        _ => None,
    }
}

/// Person faults in how the person links to households and to other persons: codes of
/// another province, duplicates, orphans (kinds 10–14), or a malformed record.
fn person_link_fault(
    ctx: &Ctx<'_>,
    s: &Samples,
    mut f: Vec<String>,
    kind: usize,
    key: Option<String>,
) -> Option<Planted> {
    let t = Table::Persons;
    match kind {
        10 => {
            let hid = with_province(&s.household_id, ctx.other_province);
            set(t, &mut f, "household_id", hid);
            planted(
                f,
                Rule::CodeProvince,
                Some("household_id"),
                key,
                "household code of another province",
            )
        }
        11 => {
            let anchor = anchor_identity(ctx.seed, &s.first_person_id_county());
            as_identity(&mut f, &anchor);
            planted(
                f,
                Rule::KeyDuplicate,
                Some("person_id"),
                Some(anchor.id),
                "the same person in a second household",
            )
        }
        12 => {
            let (province, county) = ctx.donor?;
            let anchor = anchor_identity(ctx.seed, county);
            as_identity(&mut f, &anchor);
            Some(Planted {
                fields: f,
                rule: Rule::KeyDuplicate,
                column: Some("person_id"),
                key: Some(anchor.id),
                note: "a person already registered in another province",
                malformed: false,
                requires_province: Some(province),
            })
        }
        13 => {
            set(t, &mut f, "household_id", format!("{}9999", s.village_code));
            planted(
                f,
                Rule::KeyOrphan,
                Some("household_id"),
                key,
                "member of a household not in households.csv",
            )
        }
        14 => {
            let hid = s
                .unenumerated_household
                .clone()
                .unwrap_or_else(|| format!("{}9999", s.village_code));
            set(t, &mut f, "household_id", hid);
            planted(
                f,
                Rule::KeyOrphan,
                Some("household_id"),
                key,
                "member of a household that was not enumerated",
            )
        }
        _ => malformed(f, idx(t, "name"), key),
    }
}

/// Make a person row someone else: their ID, sex and birth date, and a schooling item that
/// fits their age.
fn as_identity(f: &mut [String], who: &Identity) {
    let t = Table::Persons;
    set(t, f, "person_id", who.id.clone());
    set(t, f, "sex", who.sex.to_string());
    set(t, f, "birth_date", who.birth.format("%Y-%m-%d").to_string());
    let age = 2020 - who.birth.year();
    set(
        t,
        f,
        "schooling_status",
        if (6..=15).contains(&age) { "1" } else { "" },
    );
}

fn assessment_fault(
    ctx: &Ctx<'_>,
    cp: &CountyPlan,
    s: &Samples,
    kind: usize,
    _j: usize,
) -> Option<Planted> {
    let _ = cp;
    match kind {
        0..=2 | 8 => assessment_value_fault(s, kind),
        _ => assessment_design_fault(ctx, s, kind),
    }
}

/// The assessment row template of a sample type (0-based), or any template.
fn assessment_template(s: &Samples, ty: usize) -> Option<&str> {
    s.assessment_lines[ty].as_deref().or(s
        .assessment_lines
        .iter()
        .flatten()
        .next()
        .map(String::as_str))
}

/// An assessment row's key: its household, or its village for a non-registered household.
fn assessment_key(f: &[String]) -> Option<String> {
    let t = Table::AssessmentHouseholds;
    let h = get(t, f, "household_id");
    Some(if h.is_empty() {
        get(t, f, "village_code").to_string()
    } else {
        h.to_string()
    })
}

/// Assessment faults of one value: empty, unknown code, out of range, absurd weight.
fn assessment_value_fault(s: &Samples, kind: usize) -> Option<Planted> {
    let t = Table::AssessmentHouseholds;
    let (ty, column, value, rule, note) = match kind {
        0 => (
            0,
            "approval",
            "",
            Rule::ValueRequired,
            "approval left empty",
        ),
        1 => (
            1,
            "sample_type",
            "4",
            Rule::ValueCode,
            "sample type 4 does not exist",
        ),
        2 => (2, "weight", "0", Rule::ValueRange, "weight 0"),
        8 => (0, "weight", "1e300", Rule::ValueWeight, "weight 1e300"),
        _ => return None,
    };
    let mut f = split(assessment_template(s, ty)?);
    set(t, &mut f, column, value);
    let k = assessment_key(&f);
    planted(f, rule, Some(column), k, note)
}

/// Assessment faults against the survey design and the census records (kinds 3–7), or a
/// malformed record.
fn assessment_design_fault(ctx: &Ctx<'_>, s: &Samples, kind: usize) -> Option<Planted> {
    let t = Table::AssessmentHouseholds;
    match kind {
        3 => {
            let mut f = split(s.assessment_lines[2].as_deref()?);
            let hid = format!("{}0001", get(t, &f, "village_code"));
            set(t, &mut f, "household_id", hid);
            let k = assessment_key(&f);
            planted(
                f,
                Rule::AssessmentHouseholdId,
                Some("household_id"),
                k,
                "a non-registered household with a household code",
            )
        }
        4 => {
            let mut f = split(s.assessment_lines[1].as_deref()?);
            set(t, &mut f, "wrongly_exited", "2");
            let k = assessment_key(&f);
            planted(
                f,
                Rule::AssessmentItem,
                Some("wrongly_exited"),
                k,
                "wrongful-exit item for a household not exited",
            )
        }
        5 => {
            let mut f = split(s.assessment_lines[2].as_deref()?);
            let persons: u32 = get(t, &f, "persons").parse().ok()?;
            set(t, &mut f, "missed_persons", (persons + 1).to_string());
            let k = assessment_key(&f);
            planted(
                f,
                Rule::AssessmentMissedPersons,
                Some("missed_persons"),
                k,
                "more missed persons than persons",
            )
        }
        6 => {
            let mut f = split(assessment_template(s, 2)?);
            let other = ctx.province.unused_counties.first()?;
            let village = format!("{}{}", other.code, &get(t, &f, "village_code")[6..]);
            set(t, &mut f, "village_code", village);
            let k = assessment_key(&f);
            planted(
                f,
                Rule::AssessmentVillageCounty,
                Some("village_code"),
                k,
                "sampled village of another county",
            )
        }
        7 => {
            let mut f = split(s.assessment_lines[0].as_deref()?);
            let hid = format!("{}9999", get(t, &f, "village_code"));
            set(t, &mut f, "household_id", hid.clone());
            planted(
                f,
                Rule::AssessmentHousehold,
                Some("household_id"),
                Some(hid),
                "sampled household not in households.csv",
            )
        }
        _ => {
            let f = split(assessment_template(s, 0)?);
            let k = assessment_key(&f);
            malformed(f, idx(t, "village_code"), k)
        }
    }
}

/// A village whose township is missing, with one household and two members of its own: the
/// village is an orphan, and its household and persons are orphans in cascade.
fn cascade_demo(
    ctx: &Ctx<'_>,
    cp: &CountyPlan,
    s: &Samples,
    sink: &mut FaultSink<'_>,
    _rng: &mut ChaCha8Rng,
) {
    if s.household_line.is_empty() || s.person_line.is_empty() {
        return;
    }
    let _ = ctx;
    let village = format!("{}998599", cp.code);
    let tv = Table::Villages;
    let mut f = split(&s.village_line);
    set(tv, &mut f, "village_code", village.clone());
    push(
        sink.out,
        tv,
        Planted {
            fields: f,
            rule: Rule::KeyOrphan,
            column: Some("village_code"),
            key: Some(village.clone()),
            note: "village of a township not in townships.csv (its household and persons follow in cascade)",
            malformed: false,
            requires_province: None,
        },
        false,
    );
    let hid = format!("{village}0001");
    let (mut p1, id1) = clone_person(s, sink);
    let (mut p2, id2) = clone_person(s, sink);
    let tp = Table::Persons;
    set(tp, &mut p1, "relation", "1");
    for p in [&mut p1, &mut p2] {
        set(tp, p, "household_id", hid.clone());
    }
    let th = Table::Households;
    let mut h = split(&s.household_line);
    set(th, &mut h, "household_id", hid.clone());
    set(th, &mut h, "head_id_number", id1.id.clone());
    set(th, &mut h, "household_size", "2");
    let orphan = |fields, key: String, note| Planted {
        fields,
        rule: Rule::KeyOrphan,
        column: Some("household_id"),
        key: Some(key),
        note,
        malformed: false,
        requires_province: None,
    };
    push(
        sink.out,
        th,
        orphan(h, hid.clone(), "household of a rejected village"),
        true,
    );
    push(
        sink.out,
        tp,
        orphan(p1, id1.id, "member of a household of a rejected village"),
        true,
    );
    push(
        sink.out,
        tp,
        orphan(p2, id2.id, "member of a household of a rejected village"),
        true,
    );
}

impl Samples {
    /// The county code of this county's anchor (the first person's ID carries it).
    fn first_person_id_county(&self) -> String {
        self.first_person_id[..6].to_string()
    }
}
