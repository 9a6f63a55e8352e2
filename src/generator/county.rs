//! Synthesis of one county's records: its county row, townships, villages, registered
//! households with their members, and (for assessed counties) the exit-assessment survey.
//!
//! A county is the unit of work: its records come from random streams seeded by
//! (seed, county code) alone, so counties can be drawn in parallel and in any order and the
//! output is still byte-identical.

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{Datelike, Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Normal};

use super::faults::{self, FaultSink};
use super::model::{
    self, AssistanceModel, CountyModel, HOUSEHOLD_SIZE, INCOME_SIGMA, MEAN_INCOME_PER_CAPITA,
    REGISTERED_YEAR, SCHOOLING, ScopeModel, TownshipModel, VillageModel, categorical, yes_no,
};
use super::names;
use super::plan::{CountyPlan, CountyType, MAX_HOUSEHOLD_SERIAL, ProvincePlan, hash64, unit};
use crate::contract::id_number;
use crate::contract::schema::Table;

/// The poverty line for 2020, yuan per person per year.
pub const POVERTY_LINE: f64 = 4_000.0;

/// A table's rows of one county, serialized as CSV lines (no header).
#[derive(Debug, Default, Clone)]
pub struct TableBuf {
    pub bytes: Vec<u8>,
    pub rows: usize,
}

impl TableBuf {
    pub fn push_line(&mut self, line: &str) {
        self.bytes.extend_from_slice(line.as_bytes());
        self.bytes.push(b'\n');
        self.rows += 1;
    }
}

/// One CSV line under construction.
#[derive(Debug, Default)]
pub struct Line {
    pub s: String,
    empty: bool,
}

impl Line {
    pub fn start(&mut self) -> &mut Self {
        self.s.clear();
        self.empty = true;
        self
    }

    fn sep(&mut self) {
        if !self.empty {
            self.s.push(',');
        }
        self.empty = false;
    }

    /// A text field, quoted as RFC 4180 requires.
    pub fn text(&mut self, v: &str) -> &mut Self {
        self.sep();
        push_csv_field(&mut self.s, v);
        self
    }

    pub fn int(&mut self, v: impl std::fmt::Display) -> &mut Self {
        self.sep();
        let _ = write!(self.s, "{v}");
        self
    }

    pub fn opt(&mut self, v: Option<impl std::fmt::Display>) -> &mut Self {
        self.sep();
        if let Some(v) = v {
            let _ = write!(self.s, "{v}");
        }
        self
    }

    pub fn date(&mut self, d: NaiveDate) -> &mut Self {
        self.sep();
        let _ = write!(self.s, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
        self
    }
}

/// Append one CSV field, quoting it when it holds a comma, quote or line break.
pub fn push_csv_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

/// Shared, read-only context for drawing counties.
pub struct Ctx<'a> {
    pub seed: u64,
    pub province: &'a ProvincePlan,
    pub error_rate: f64,
    /// (province, county) whose anchor person is copied into this province as a planted
    /// cross-province duplicate.
    pub donor: Option<(&'static str, &'static str)>,
    /// A province code that is not this province's (for planted `code.province` faults).
    pub other_province: &'static str,
    npc: ScopeModel,
    sample: ScopeModel,
    assistance: AssistanceModel,
    /// Probability of education assistance for households with (without) a member aged 3–28,
    /// i.e. of school or student age at some time since registration in 2014.
    edu_join: (f64, f64),
}

impl<'a> Ctx<'a> {
    pub fn new(
        seed: u64,
        province: &'a ProvincePlan,
        error_rate: f64,
        donor: Option<(&'static str, &'static str)>,
        other_province: &'static str,
    ) -> Self {
        // Share of households with a member aged 3–28, from a pilot draw of the same
        // household-composition model (fixed stream, so it is the same for every run).
        let mut pilot = ChaCha8Rng::seed_from_u64(0x5eed);
        let n = 40_000;
        let eligible = (0..n)
            .filter(|_| {
                let size = categorical(&mut pilot, &HOUSEHOLD_SIZE) + 1;
                draw_members(&mut pilot, size, None)
                    .iter()
                    .any(|m| (3..=28).contains(&m.age))
            })
            .count();
        let assistance = AssistanceModel::published();
        let p_eligible = eligible as f64 / n as f64;
        let any = assistance.education.any;
        let eligible_join = (any / p_eligible).min(0.95);
        let other_join = ((any - eligible_join * p_eligible) / (1.0 - p_eligible)).max(0.0);
        let edu_join = (eligible_join, other_join);
        Ctx {
            seed,
            province,
            error_rate,
            donor,
            other_province,
            npc: ScopeModel::npc(),
            sample: ScopeModel::sample(),
            assistance,
            edu_join,
        }
    }
}

/// A fault planted in one county's rows, located by the table and the row's index within the
/// county's block of that table.
#[derive(Debug, Clone)]
pub struct LocalFault {
    pub table: Table,
    pub row: usize,
    pub rule: crate::contract::rules::Rule,
    pub column: Option<&'static str>,
    pub record_key: Option<String>,
    pub note: String,
    /// A consequence of another planted fault (an orphan of a rejected parent).
    pub cascade: bool,
    /// The fault is only a fault when this province is ingested too (cross-province duplicate).
    pub requires_province: Option<&'static str>,
}

/// Everything one county contributes to its province's files.
#[derive(Debug, Default)]
pub struct CountyOutput {
    pub tables: [TableBuf; 6],
    pub faults: Vec<LocalFault>,
}

impl CountyOutput {
    pub fn table(&mut self, t: Table) -> &mut TableBuf {
        &mut self.tables[t as usize]
    }
}

/// One member of a household before attributes are drawn.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    pub relation: u8,
    pub sex: u8,
    pub age: u32,
}

/// The identity of a person fixed in advance: the head of a county's first household is an
/// anchor whose ID other provinces can compute (for the planted cross-province duplicate).
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub sex: u8,
    pub birth: NaiveDate,
}

/// The anchor identity of a county (a head aged 35–65 with a synthetic sequence code 9xx).
pub fn anchor_identity(seed: u64, county_code: &str) -> Identity {
    let h = hash64(seed, "anchor", county_code);
    let year = 1955 + (h % 31) as i32;
    let day = ((h >> 8) % 365) as i64;
    // Cannot fail: January 1st exists in every year 1955-1985.
    let birth = NaiveDate::from_ymd_opt(year, 1, 1).expect("valid") + Duration::days(day);
    let seq = 901 + 2 * ((h >> 20) % 50) as u16; // odd: male
    // Cannot fail: county codes of the embedded reference are 6 digits.
    let address: u32 = county_code.parse().expect("6-digit county code");
    Identity {
        id: id_number::build(address, birth, seq),
        sex: 1,
        birth,
    }
}

/// Draw the members of a household of `size` persons (head first).
pub fn draw_members<R: Rng + ?Sized>(
    rng: &mut R,
    size: usize,
    anchor: Option<&Identity>,
) -> Vec<Member> {
    let (head_age, head_sex) = match anchor {
        Some(a) => (2020 - a.birth.year() as u32, a.sex),
        None => {
            let age = 25 + (30.0 * (rng.random::<f64>() + rng.random::<f64>())) as u32;
            (age, if rng.random_bool(0.85) { 1 } else { 2 })
        }
    };
    let mut m = Vec::with_capacity(size);
    m.push(Member {
        relation: 1,
        sex: head_sex,
        age: head_age,
    });
    let opposite = 3 - head_sex;
    if m.len() < size && head_age < 82 && rng.random_bool(0.85) {
        let age = (head_age as i64 + rng.random_range(-5..=5)).clamp(20, 95) as u32;
        m.push(Member {
            relation: 2,
            sex: opposite,
            age,
        });
    }
    if m.len() < size && head_age < 50 && rng.random_bool(0.3) {
        let age = (head_age + rng.random_range(22..=32)).min(100);
        m.push(Member {
            relation: 4,
            sex: rng.random_range(1..=2),
            age,
        });
        if m.len() < size && rng.random_bool(0.5) {
            let age = (head_age + rng.random_range(22..=32)).min(100);
            m.push(Member {
                relation: 4,
                sex: rng.random_range(1..=2),
                age,
            });
        }
    }
    let old_head = head_age >= 58 && rng.random_bool(0.5);
    let mut adult_children = 0;
    while m.len() < size {
        let sex = if rng.random_bool(0.515) { 1 } else { 2 };
        if old_head && adult_children >= 1 && head_age >= 45 {
            // Grandchildren of an older head.
            let age = rng.random_range(0..=(head_age - 45).min(17));
            m.push(Member {
                relation: 5,
                sex,
                age,
            });
        } else {
            let gap = rng.random_range(20..=40);
            if head_age >= gap {
                let age = head_age - gap;
                if age >= 18 {
                    adult_children += 1;
                }
                m.push(Member {
                    relation: 3,
                    sex,
                    age,
                });
            } else {
                let age = (head_age as i64 + rng.random_range(-8..=8)).max(0) as u32;
                let relation = if rng.random_bool(0.7) { 6 } else { 9 };
                m.push(Member { relation, sex, age });
            }
        }
    }
    m
}

/// What the rest of the county needs to know about a household once its rows are written.
#[derive(Debug, Clone)]
struct HouseholdSummary {
    id: String,
    village: usize,
    size: usize,
    enumerated: bool,
    exited: bool,
    meets_exit_standard: bool,
}

struct Village {
    code: String,
    name: String,
    poor: bool,
    stratum: u8,
    weight: f64,
    households: usize,
    registered_persons: usize,
    population: u64,
}

/// Person and household lines kept as templates for planted faults.
#[derive(Default)]
pub struct Samples {
    pub county_line: String,
    pub township_line: String,
    pub village_line: String,
    pub village_code: String,
    pub household_line: String,
    pub household_id: String,
    /// Household id of a household that was not enumerated (status 2 or 3).
    pub unenumerated_household: Option<String>,
    /// The line of the head of `household_id`.
    pub person_line: String,
    /// The person_id of the county's anchor (head of its first household).
    pub first_person_id: String,
    /// Assessment row templates by sample type 1, 2, 3.
    pub assessment_lines: [Option<String>; 3],
}

/// Draw one county.
pub fn generate_county(ctx: &Ctx<'_>, cp: &CountyPlan) -> CountyOutput {
    let mut rng = ChaCha8Rng::seed_from_u64(hash64(ctx.seed, "county", cp.code));
    let mut out = CountyOutput::default();
    let mut line = Line::default();
    let mut samples = Samples::default();
    let sampled = cp.county_type == CountyType::Sampled;
    let scope = if sampled { &ctx.sample } else { &ctx.npc };
    // Cannot fail: county codes of the embedded reference are 6 digits.
    let address: u32 = cp.code.parse().expect("county code");
    let mut used_ids: HashSet<(NaiveDate, u16)> = HashSet::new();
    let anchor = anchor_identity(ctx.seed, cp.code);
    // Cannot fail: `id_number::build` writes 3 digits at 14..17.
    used_ids.insert((anchor.birth, anchor.id[14..17].parse().expect("seq")));
    let mut warnings = faults::WarningPlanter::new(ctx, cp);

    // Townships.
    for t in &cp.townships {
        let health = categorical(&mut rng, &TownshipModel::HEALTH_CENTRE) + 1;
        line.start()
            .text(t.code)
            .text(t.name)
            .int(health)
            .int(yes_no(&mut rng, TownshipModel::PRIMARY))
            .int(yes_no(&mut rng, TownshipModel::JUNIOR))
            .int(yes_no(&mut rng, TownshipModel::BOARDING))
            .int(yes_no(&mut rng, TownshipModel::CULTURE));
        out.table(Table::Townships).push_line(&line.s);
        if samples.township_line.is_empty() {
            samples.township_line = line.s.clone();
        }
    }

    // Villages: spread round-robin over the townships; poor villages hold more households.
    let poor_share = if sampled { 0.25 } else { 0.55 };
    let mut villages: Vec<Village> = Vec::with_capacity(cp.villages);
    let mut serials = vec![0usize; cp.townships.len()];
    for i in 0..cp.villages {
        let t = i % cp.townships.len();
        serials[t] += 1;
        let poor = rng.random_bool(poor_share);
        villages.push(Village {
            code: format!("{}{:03}", cp.townships[t].code, serials[t]),
            name: names::village_name(&mut rng),
            poor,
            stratum: if poor { 1 } else { 2 },
            weight: if poor { 2.0 } else { 1.0 } * rng.random_range(0.6..1.4),
            households: 0,
            registered_persons: 0,
            population: 0,
        });
    }
    // Largest-remainder allocation of the county's households to its villages.
    let total_w: f64 = villages.iter().map(|v| v.weight).sum();
    let mut rema: Vec<(usize, f64)> = Vec::with_capacity(villages.len());
    let mut given = 0;
    for (i, v) in villages.iter_mut().enumerate() {
        let exact = cp.households as f64 * v.weight / total_w;
        v.households = (exact.floor() as usize).min(MAX_HOUSEHOLD_SERIAL);
        given += v.households;
        rema.push((i, exact.fract()));
    }
    rema.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    for (i, _) in rema
        .iter()
        .cycle()
        .take(cp.households.saturating_sub(given))
    {
        if villages[*i].households < MAX_HOUSEHOLD_SERIAL {
            villages[*i].households += 1;
        }
    }

    // Households and their members.
    let ethnic = model::ethnic_mix(ctx.province.province.code);
    let mut summaries: Vec<HouseholdSummary> = Vec::with_capacity(cp.households);
    let mut hh_line = Line::default();
    let mut county_exit_remaining = if cp.exit_year == Some(2020) {
        0.15
    } else {
        0.05
    };
    if sampled {
        county_exit_remaining = 0.05;
    }
    let mu = MEAN_INCOME_PER_CAPITA.ln() - INCOME_SIGMA * INCOME_SIGMA / 2.0;
    // Cannot fail: constant, finite parameters (sigma > 0).
    let income_dist = Normal::new(mu, INCOME_SIGMA).expect("valid normal");
    // Cannot fail: constant shapes > 0 (the four Gamma below).
    let gammas = [
        Gamma::new(6.5, 1.0).expect("shape"),
        Gamma::new(1.5, 1.0).expect("shape"),
        Gamma::new(0.2, 1.0).expect("shape"),
        Gamma::new(1.8, 1.0).expect("shape"),
    ];
    #[allow(clippy::needless_range_loop)] // the index is also the village's number in summaries
    for vi in 0..villages.len() {
        let n = villages[vi].households;
        for serial in 1..=n {
            let hid = format!("{}{:04}", villages[vi].code, serial);
            let is_anchor = vi == 0 && serial == 1;
            // One household per county (the last of the first village) could not be
            // enumerated, plus a small random share elsewhere.
            let status = if vi == 0 && serial == n && n >= 2 {
                2
            } else if !is_anchor && rng.random_bool(0.0015) {
                if rng.random_bool(0.67) { 2 } else { 3 }
            } else {
                1
            };
            let registered_year = 2014 + categorical(&mut rng, &REGISTERED_YEAR) as i32;
            let exit_year = if rng.random_bool(county_exit_remaining) {
                None
            } else {
                let span = (2020 - registered_year + 1) as f64;
                Some(registered_year + (span * rng.random::<f64>().powf(0.7)) as i32)
            };
            // Cannot fail: a constant, valid date.
            let registration = NaiveDate::from_ymd_opt(2020, 7, 1).expect("date")
                + Duration::days(rng.random_range(0..=152));
            if status != 1 {
                let head = if is_anchor {
                    anchor.clone()
                } else {
                    fresh_identity(&mut rng, address, 40, &mut used_ids)
                };
                let attribute = categorical(&mut rng, &[0.68, 0.29, 0.03]) + 1;
                hh_line
                    .start()
                    .text(&hid)
                    .text(&head.id)
                    .int(status)
                    .date(registration)
                    .int(attribute)
                    .int(registered_year)
                    .opt(exit_year);
                for _ in 0..34 {
                    hh_line.opt(None::<u8>);
                }
                out.table(Table::Households).push_line(&hh_line.s);
                samples
                    .unenumerated_household
                    .get_or_insert_with(|| hid.clone());
                summaries.push(HouseholdSummary {
                    id: hid,
                    village: vi,
                    size: 0,
                    enumerated: false,
                    exited: exit_year.is_some(),
                    meets_exit_standard: true,
                });
                continue;
            }

            let size = categorical(&mut rng, &HOUSEHOLD_SIZE) + 1;
            let members = draw_members(&mut rng, size, is_anchor.then_some(&anchor));
            let head_surname = names::surname(&mut rng);
            let eth = {
                let mut e = 1u8;
                let mut u: f64 = rng.random();
                for &(code, share) in ethnic {
                    if u < share {
                        e = code;
                        break;
                    }
                    u -= share;
                }
                e
            };
            let attribute = if size == 1 && members[0].age >= 60 && rng.random_bool(0.4) {
                3
            } else {
                categorical(&mut rng, &[0.68, 0.29, 0.03]) + 1
            };
            let warn = warnings.decide(&hid, size, is_anchor);

            // Members.
            let mut all_children_ok = true;
            let mut all_insured = true;
            let mut head_id = String::new();
            let mut second_id = String::new();
            let mut eligible_edu = false;
            let mut head_line = String::new();
            for (k, m) in members.iter().enumerate() {
                let ident = if k == 0 && is_anchor {
                    anchor.clone()
                } else {
                    identity_for(&mut rng, address, m, &mut used_ids)
                };
                if k == 0 {
                    head_id = ident.id.clone();
                } else if k == 1 {
                    second_id = ident.id.clone();
                }
                let surname = if m.relation == 2 || m.relation == 4 && m.sex == 2 {
                    names::surname(&mut rng)
                } else {
                    head_surname
                };
                let name = names::full_name(&mut rng, surname, m.sex);
                let age = m.age;
                eligible_edu |= (3..=28).contains(&age);
                let schooling = (6..=15)
                    .contains(&age)
                    .then(|| categorical(&mut rng, &SCHOOLING) as u8 + 1);
                let (health, grade) = match schooling {
                    Some(2) => (4u8, Some(rng.random_range(1..=2u8))),
                    Some(3) => {
                        if rng.random_bool(0.8) {
                            (4, Some(rng.random_range(1..=3u8)))
                        } else {
                            (3, None)
                        }
                    }
                    _ => {
                        let (dis, big, chronic) = match age {
                            0..=15 => (0.02, 0.01, 0.01),
                            16..=59 => (0.05, 0.02, 0.10),
                            _ => (0.10, 0.04, 0.35),
                        };
                        let h =
                            categorical(&mut rng, &[1.0 - dis - big - chronic, chronic, big, dis])
                                as u8
                                + 1;
                        (h, (h == 4).then(|| rng.random_range(1..=4u8)))
                    }
                };
                if let Some(s) = schooling {
                    all_children_ok &= s <= 3;
                }
                let education = match age {
                    0..=5 => 1u8,
                    6..=15 => {
                        if schooling == Some(3) {
                            2
                        } else if age <= 11 {
                            3
                        } else {
                            4
                        }
                    }
                    16..=29 => 3 + categorical(&mut rng, &[0.08, 0.50, 0.27, 0.15]) as u8,
                    30..=59 => 2 + categorical(&mut rng, &[0.08, 0.35, 0.45, 0.09, 0.03]) as u8,
                    _ => 2 + categorical(&mut rng, &[0.45, 0.40, 0.12, 0.03]) as u8,
                };
                let medical = categorical(&mut rng, &scope.medical) as u8 + 1;
                all_insured &= medical <= 3;
                let in_school = age < 16 || (age <= 22 && education >= 5 && rng.random_bool(0.5));
                let pension = if in_school {
                    3
                } else if rng.random_bool(0.93) {
                    1
                } else {
                    2
                };
                let labour = if in_school {
                    4
                } else if health == 4 && grade.is_some_and(|g| g <= 2) || age >= 75 {
                    3
                } else if age >= 65 || health == 3 {
                    if rng.random_bool(0.6) { 2 } else { 1 }
                } else {
                    1
                };
                let months = if labour == 1 && (18..=55).contains(&age) && rng.random_bool(0.45) {
                    rng.random_range(3..=12)
                } else {
                    0
                };
                let dibao = if attribute == 2 { 1 } else { 2 };
                let ethnicity = if m.relation == 2 && rng.random_bool(0.1) {
                    1
                } else {
                    eth
                };
                let relation = if warn == Some(faults::Warning::HeadCount) && k == 1 {
                    1
                } else {
                    m.relation
                };
                line.start()
                    .text(&ident.id)
                    .text(&hid)
                    .text(&name)
                    .int(relation)
                    .int(m.sex)
                    .date(ident.birth)
                    .text(&format!("{ethnicity:02}"))
                    .int(education)
                    .opt(schooling)
                    .int(health)
                    .opt(grade)
                    .int(medical)
                    .int(pension)
                    .int(labour)
                    .int(months)
                    .int(dibao);
                out.table(Table::Persons).push_line(&line.s);
                if k == 0 && !is_anchor && samples.household_id.is_empty() {
                    head_line = line.s.clone();
                }
                if is_anchor && k == 0 {
                    samples.first_person_id = ident.id.clone();
                }
            }

            // Household items.
            let food = yes_no(&mut rng, 0.99995);
            let protein = categorical(&mut rng, &scope.protein) + 1;
            let clothing = yes_no(&mut rng, 0.9999);
            let route = categorical(&mut rng, &scope.housing) + 1;
            let grade: Option<&str> = match route {
                1 => [Some("A"), Some("B"), None][categorical(&mut rng, &[0.60, 0.35, 0.05])],
                2 => [Some("A"), Some("B")][categorical(&mut rng, &[0.7, 0.3])],
                3 => [None, Some("A")][categorical(&mut rng, &[0.8, 0.2])],
                _ => [Some("C"), Some("D")][categorical(&mut rng, &[0.6, 0.4])],
            };
            let quantity = yes_no(&mut rng, 0.9999);
            let quality = yes_no(&mut rng, 0.9998);
            let access = if route == 3 {
                if rng.random_bool(scope.relocated_piped) {
                    1
                } else {
                    2
                }
            } else if rng.random_bool(scope.piped_if_not_relocated()) {
                1
            } else if rng
                .random_bool(scope.water_inconvenient / (1.0 - scope.piped_if_not_relocated()))
            {
                3
            } else {
                2
            };
            let reliability = categorical(&mut rng, &scope.reliability) + 1;
            let per_capita: f64 = income_dist.sample(&mut rng).exp();
            let total = (per_capita * size as f64).round();
            let s: Vec<f64> = gammas.iter().map(|g| g.sample(&mut rng) + 1e-9).collect();
            let ssum: f64 = s.iter().sum();
            let mut wage = (total * s[0] / ssum).round();
            let mut business = (total * s[1] / ssum).round();
            let property = (total * s[2] / ssum).round();
            let transfer = (total - wage - business - property).max(0.0) + 0.0;
            if rng.random_bool(0.005) {
                // A business loss, made up by wages.
                let loss = rng.random_range(100.0..3000.0f64).round();
                wage += business + loss;
                business = -loss + 0.0;
            }
            let income = wage + business + property + transfer;
            let income_ok = income / size as f64 >= POVERTY_LINE;
            let mut flags = [false; 20];
            let a = &ctx.assistance;
            if rng.random_bool(a.industry.any) {
                a.industry.draw_items(&mut rng, &mut flags[0..4]);
            }
            if rng.random_bool(a.employment.any) {
                a.employment.draw_items(&mut rng, &mut flags[4..11]);
            }
            if rng.random_bool(a.health.any) {
                a.health.draw_items(&mut rng, &mut flags[11..14]);
            }
            if rng.random_bool(if eligible_edu {
                ctx.edu_join.0
            } else {
                ctx.edu_join.1
            }) {
                a.education.draw_items(&mut rng, &mut flags[14..20]);
            }
            let guarantees =
                food == 1 && clothing == 1 && route <= 3 && all_children_ok && all_insured;
            let declared_size = if warn == Some(faults::Warning::SizeMismatch) {
                size + 1
            } else {
                size
            };
            let declared_head = if warn == Some(faults::Warning::HeadId) {
                &second_id
            } else {
                &head_id
            };
            hh_line
                .start()
                .text(&hid)
                .text(declared_head)
                .int(1)
                .date(registration)
                .int(attribute)
                .int(registered_year)
                .opt(exit_year)
                .int(declared_size)
                .int(food)
                .int(protein)
                .int(clothing)
                .int(route)
                .opt(grade)
                .int(quantity)
                .int(quality)
                .int(access)
                .int(reliability)
                .int(wage)
                .int(business)
                .int(property)
                .int(transfer);
            for f in flags {
                hh_line.int(if f { 1 } else { 2 });
            }
            let hh_row = out.table(Table::Households).rows;
            out.table(Table::Households).push_line(&hh_line.s);
            if let Some(w) = warn {
                warnings.record(&mut out, w, hh_row, &hid);
            }
            if samples.household_id.is_empty() && !is_anchor && warn.is_none() {
                samples.household_line = hh_line.s.clone();
                samples.household_id = hid.clone();
                samples.village_code = villages[vi].code.clone();
                samples.person_line = std::mem::take(&mut head_line);
            }
            villages[vi].registered_persons += size;
            summaries.push(HouseholdSummary {
                id: hid,
                village: vi,
                size,
                enumerated: true,
                exited: exit_year.is_some(),
                meets_exit_standard: guarantees && income_ok,
            });
        }
    }

    // Village rows, now that their registered population is known.
    let mut rural_population: u64 = 0;
    for v in villages.iter_mut() {
        let share = if v.poor {
            rng.random_range(0.12..0.35)
        } else {
            rng.random_range(0.04..0.15)
        };
        v.population = ((v.registered_persons as f64 / share).round() as u64)
            .max(v.registered_persons as u64 + 20);
        rural_population += v.population;
        let road = categorical(&mut rng, &VillageModel::ROAD) + 1;
        let power = categorical(&mut rng, &VillageModel::POWER) + 1;
        let urban_rural = VillageModel::URBAN_RURAL
            [categorical(&mut rng, &VillageModel::URBAN_RURAL.map(|(_, p)| p))]
        .0;
        let income = (rng.random_range(0.0..1.0f64).powf(0.6) * 40.0 * 10.0).round() / 10.0
            + if rng.random_bool(0.72) { 5.0 } else { 0.0 };
        line.start()
            .text(&v.code)
            .text(&v.name)
            .int(urban_rural)
            .int(if v.poor { 1 } else { 2 })
            .int(v.population)
            .int(road)
            .int(power)
            .int(yes_no(&mut rng, VillageModel::MOBILE))
            .int(yes_no(&mut rng, VillageModel::BROADBAND))
            .int(yes_no(&mut rng, VillageModel::RADIO_TV))
            .int(yes_no(&mut rng, VillageModel::SERVICE_CENTRE))
            .int(yes_no(&mut rng, VillageModel::ECOMMERCE))
            .int(categorical(&mut rng, &VillageModel::WATER) + 1)
            .int(categorical(&mut rng, &VillageModel::GARBAGE) + 1)
            .int(categorical(&mut rng, &VillageModel::CLINIC) + 1)
            .int(yes_no(&mut rng, VillageModel::DOCTOR))
            .int(yes_no(&mut rng, VillageModel::LIBRARY))
            .int(income);
        out.table(Table::Villages).push_line(&line.s);
        if samples.village_line.is_empty() {
            samples.village_line = line.s.clone();
        }
    }

    // The county row.
    let c = &mut rng;
    line.start()
        .text(cp.code)
        .text(cp.name)
        .int(cp.county_type as u8)
        .opt(cp.exit_year)
        .int(cp.sampling_weight)
        .int(rural_population)
        .int(yes_no(c, CountyModel::HOSPITAL))
        .int(yes_no(c, CountyModel::GRADE2))
        .int(yes_no(c, CountyModel::STAFFED))
        .int(yes_no(c, CountyModel::JUNIOR))
        .int(yes_no(c, CountyModel::VOCATIONAL))
        .int(yes_no(c, CountyModel::TECHNICAL))
        .int(yes_no(c, CountyModel::SKILLS))
        .int(yes_no(c, CountyModel::LIBRARY));
    out.table(Table::Counties).push_line(&line.s);
    samples.county_line = line.s.clone();

    if cp.assessed {
        assessment_survey(ctx, cp, &villages, &summaries, &mut out, &mut samples);
    }

    if ctx.error_rate > 0.0 {
        let mut sink = FaultSink {
            out: &mut out,
            used_ids: &mut used_ids,
            address,
        };
        faults::plant_rows(ctx, cp, &samples, &mut sink);
    }
    out
}

/// A fresh identity for a member: birth date from the age, sequence code 900–999 with the
/// parity of the sex, unique within the county.
fn identity_for<R: Rng + ?Sized>(
    rng: &mut R,
    address: u32,
    m: &Member,
    used: &mut HashSet<(NaiveDate, u16)>,
) -> Identity {
    let year = 2020 - m.age as i32;
    let days_in_year = if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
        366
    } else {
        365
    };
    // Cannot fail: January 1st exists in every year.
    let mut birth = NaiveDate::from_ymd_opt(year, 1, 1).expect("date")
        + Duration::days(rng.random_range(0..days_in_year));
    loop {
        for _ in 0..60 {
            let seq = 900 + 2 * rng.random_range(0..50u16) + u16::from(m.sex == 1);
            if used.insert((birth, seq)) {
                return Identity {
                    id: id_number::build(address, birth, seq),
                    sex: m.sex,
                    birth,
                };
            }
        }
        // Every sequence code of that day is taken: move to a neighbouring day of the same year.
        birth = if birth.ordinal() > 1 {
            birth - Duration::days(1)
        } else {
            birth + Duration::days(1)
        };
    }
}

/// A fresh identity of a person aged about `age` of random sex.
pub fn fresh_identity<R: Rng + ?Sized>(
    rng: &mut R,
    address: u32,
    age: u32,
    used: &mut HashSet<(NaiveDate, u16)>,
) -> Identity {
    let sex = rng.random_range(1..=2);
    identity_for(
        rng,
        address,
        &Member {
            relation: 9,
            sex,
            age,
        },
        used,
    )
}

/// The third-party exit-assessment survey of one county: a stratified two-stage sample
/// (stratum 1 poor villages, 2 other villages; villages drawn by simple random sampling, then
/// households within each sampled village) with design weights, and findings that agree with
/// the census records.
fn assessment_survey(
    ctx: &Ctx<'_>,
    cp: &CountyPlan,
    villages: &[Village],
    summaries: &[HouseholdSummary],
    out: &mut CountyOutput,
    samples: &mut Samples,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(hash64(ctx.seed, "assessment", cp.code));
    // County-level tendencies, so that some counties fail or are borderline.
    let miss_rate = 0.001 + 0.03 * unit(ctx.seed, "miss", cp.code).powi(3);
    let approval_rate = 0.985 - 0.12 * unit(ctx.seed, "approval", cp.code).powi(4);
    let lonely = hash64(ctx.seed, "lonely", cp.code).is_multiple_of(3);
    let mut line = Line::default();
    let mut by_village: Vec<Vec<&HouseholdSummary>> = vec![Vec::new(); villages.len()];
    for h in summaries.iter().filter(|h| h.enumerated) {
        by_village[h.village].push(h);
    }
    for stratum in [1u8, 2] {
        let mut frame: Vec<usize> = (0..villages.len())
            .filter(|&i| villages[i].stratum == stratum)
            .collect();
        if frame.is_empty() {
            continue;
        }
        let want = if stratum == 1 {
            10
        } else if lonely {
            1
        } else {
            5
        };
        let n_h = want.min(frame.len());
        let psu_weight = frame.len() as f64 / n_h as f64;
        frame.shuffle(&mut rng);
        let mut chosen = frame[..n_h].to_vec();
        chosen.sort_unstable();
        for vi in chosen {
            let v = &villages[vi];
            for (sample_type, take) in [(1u8, 8usize), (2, 2)] {
                let mut pool: Vec<&HouseholdSummary> = by_village[vi]
                    .iter()
                    .copied()
                    .filter(|h| h.exited == (sample_type == 1))
                    .collect();
                if pool.is_empty() {
                    continue;
                }
                let m = take.min(pool.len());
                let w = psu_weight * pool.len() as f64 / m as f64;
                pool.shuffle(&mut rng);
                let mut picked = pool[..m].to_vec();
                picked.sort_by(|a, b| a.id.cmp(&b.id));
                for h in picked {
                    let wrong =
                        (sample_type == 1).then_some(if h.meets_exit_standard { 2 } else { 1 });
                    let approval = draw_approval(&mut rng, approval_rate);
                    line.start()
                        .text(cp.code)
                        .int(stratum)
                        .text(&v.code)
                        .int(sample_type)
                        .text(&h.id)
                        .int(round6(w))
                        .int(h.size)
                        .opt(wrong)
                        .opt(None::<u8>)
                        .int(approval);
                    out.table(Table::AssessmentHouseholds).push_line(&line.s);
                    samples.assessment_lines[sample_type as usize - 1]
                        .get_or_insert_with(|| line.s.clone());
                }
            }
            // Households that are not registered: their number is estimated from the
            // village's population.
            let nonreg = ((v.population.saturating_sub(v.registered_persons as u64)) as f64 / 3.3)
                .round()
                .max(5.0);
            let k = 5;
            let w = psu_weight * nonreg / k as f64;
            for _ in 0..k {
                let persons = categorical(&mut rng, &HOUSEHOLD_SIZE) + 1;
                let missed = (0..persons).filter(|_| rng.random_bool(miss_rate)).count();
                let approval = draw_approval(&mut rng, approval_rate);
                line.start()
                    .text(cp.code)
                    .int(stratum)
                    .text(&v.code)
                    .int(3)
                    .text("")
                    .int(round6(w))
                    .int(persons)
                    .opt(None::<u8>)
                    .int(missed)
                    .int(approval);
                out.table(Table::AssessmentHouseholds).push_line(&line.s);
                samples.assessment_lines[2].get_or_insert_with(|| line.s.clone());
            }
        }
    }
}

fn draw_approval<R: Rng + ?Sized>(rng: &mut R, rate: f64) -> u8 {
    if rng.random_bool(rate) {
        if rng.random_bool(0.85) { 1 } else { 2 }
    } else {
        3
    }
}

/// Round a weight to 6 decimals for writing.
fn round6(w: f64) -> f64 {
    (w * 1e6).round() / 1e6
}
