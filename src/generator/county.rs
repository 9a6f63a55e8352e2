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

use super::faults::{self, FaultSink};
use super::household;
use super::model::{
    self, AssistanceModel, CountyModel, HOUSEHOLD_SIZE, REGISTERED_YEAR, ScopeModel, TownshipModel,
    VillageModel, categorical, yes_no,
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
    pub(super) assistance: AssistanceModel,
    /// Probability of education assistance for households with (without) a member aged 3–28,
    /// i.e. of school or student age at some time since registration in 2014.
    pub(super) edu_join: (f64, f64),
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

/// Draw one county: townships, villages, households with their members, village rows, the
/// county row, then the assessment survey and planted faults from streams of their own.
pub fn generate_county(ctx: &Ctx<'_>, cp: &CountyPlan) -> CountyOutput {
    let mut g = CountyGen::new(ctx, cp);
    g.townships();
    let mut villages = g.villages();
    allocate_households(&mut villages, cp.households);
    let summaries = g.households(&mut villages);
    let rural_population = g.village_rows(&mut villages);
    g.county_row(rural_population);
    g.finish(&villages, &summaries)
}

/// One county being drawn: its random stream, its rows so far, the IDs it has used and the
/// templates the planted faults need. The phases must run in the order of
/// [`generate_county`], which is the order of the draws.
struct CountyGen<'c, 'a> {
    ctx: &'c Ctx<'a>,
    cp: &'c CountyPlan,
    rng: ChaCha8Rng,
    out: CountyOutput,
    line: Line,
    hh_line: Line,
    samples: Samples,
    sampled: bool,
    scope: &'c ScopeModel,
    address: u32,
    used_ids: HashSet<(NaiveDate, u16)>,
    anchor: Identity,
    warnings: faults::WarningPlanter,
}

/// The registration items every household row has, enumerated or not.
struct Registration {
    status: u8,
    registered_year: i32,
    exit_year: Option<i32>,
    registration: NaiveDate,
}

/// What the members' rows tell the household row.
struct MembersDrawn {
    all_children_ok: bool,
    all_insured: bool,
    head_id: String,
    second_id: String,
    eligible_edu: bool,
    /// The head's person line (empty for the anchor household).
    head_line: String,
}

/// The county-wide parameters of the household draws.
struct HouseholdParams {
    ethnic: &'static [(u8, f64)],
    exit_remaining: f64,
    income: household::IncomeModel,
}

impl<'c, 'a> CountyGen<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>, cp: &'c CountyPlan) -> Self {
        let sampled = cp.county_type == CountyType::Sampled;
        let scope = if sampled { &ctx.sample } else { &ctx.npc };
        // Cannot fail: county codes of the embedded reference are 6 digits.
        let address: u32 = cp.code.parse().expect("county code");
        let mut used_ids: HashSet<(NaiveDate, u16)> = HashSet::new();
        let anchor = anchor_identity(ctx.seed, cp.code);
        // Cannot fail: `id_number::build` writes 3 digits at 14..17.
        used_ids.insert((anchor.birth, anchor.id[14..17].parse().expect("seq")));
        CountyGen {
            ctx,
            cp,
            rng: ChaCha8Rng::seed_from_u64(hash64(ctx.seed, "county", cp.code)),
            out: CountyOutput::default(),
            line: Line::default(),
            hh_line: Line::default(),
            samples: Samples::default(),
            sampled,
            scope,
            address,
            used_ids,
            anchor,
            warnings: faults::WarningPlanter::new(ctx, cp),
        }
    }

    /// The township rows.
    fn townships(&mut self) {
        let rng = &mut self.rng;
        for t in &self.cp.townships {
            let health = categorical(rng, &TownshipModel::HEALTH_CENTRE) + 1;
            self.line
                .start()
                .text(t.code)
                .text(t.name)
                .int(health)
                .int(yes_no(rng, TownshipModel::PRIMARY))
                .int(yes_no(rng, TownshipModel::JUNIOR))
                .int(yes_no(rng, TownshipModel::BOARDING))
                .int(yes_no(rng, TownshipModel::CULTURE));
            self.out.table(Table::Townships).push_line(&self.line.s);
            if self.samples.township_line.is_empty() {
                self.samples.township_line = self.line.s.clone();
            }
        }
    }

    /// The villages, spread round-robin over the townships; poor villages weigh more (they
    /// will hold more households).
    fn villages(&mut self) -> Vec<Village> {
        let cp = self.cp;
        let rng = &mut self.rng;
        let poor_share = if self.sampled { 0.25 } else { 0.55 };
        let mut villages: Vec<Village> = Vec::with_capacity(cp.villages);
        let mut serials = vec![0usize; cp.townships.len()];
        for i in 0..cp.villages {
            let t = i % cp.townships.len();
            serials[t] += 1;
            let poor = rng.random_bool(poor_share);
            villages.push(Village {
                code: format!("{}{:03}", cp.townships[t].code, serials[t]),
                name: names::village_name(rng),
                poor,
                stratum: if poor { 1 } else { 2 },
                weight: if poor { 2.0 } else { 1.0 } * rng.random_range(0.6..1.4),
                households: 0,
                registered_persons: 0,
                population: 0,
            });
        }
        villages
    }

    /// The households of every village with their members, in village and serial order.
    fn households(&mut self, villages: &mut [Village]) -> Vec<HouseholdSummary> {
        let mut exit_remaining = if self.cp.exit_year == Some(2020) {
            0.15
        } else {
            0.05
        };
        if self.sampled {
            exit_remaining = 0.05;
        }
        let params = HouseholdParams {
            ethnic: model::ethnic_mix(self.ctx.province.province.code),
            exit_remaining,
            income: household::IncomeModel::published(),
        };
        let mut summaries: Vec<HouseholdSummary> = Vec::with_capacity(self.cp.households);
        #[allow(clippy::needless_range_loop)] // the index is also the village's number in summaries
        for vi in 0..villages.len() {
            let n = villages[vi].households;
            for serial in 1..=n {
                let hid = format!("{}{:04}", villages[vi].code, serial);
                let is_anchor = vi == 0 && serial == 1;
                // One household per county (the last of the first village) could not be
                // enumerated, plus a small random share elsewhere.
                let unreachable = vi == 0 && serial == n && n >= 2;
                let reg = self.registration(&params, unreachable, is_anchor);
                let summary = if reg.status != 1 {
                    self.unenumerated(hid, vi, &reg, is_anchor)
                } else {
                    self.enumerated(&params, &mut villages[vi], vi, hid, &reg, is_anchor)
                };
                summaries.push(summary);
            }
        }
        summaries
    }

    /// Status, registration year, exit year and enumeration date of a household.
    fn registration(
        &mut self,
        params: &HouseholdParams,
        unreachable: bool,
        is_anchor: bool,
    ) -> Registration {
        let rng = &mut self.rng;
        let status = if unreachable {
            2
        } else if !is_anchor && rng.random_bool(0.0015) {
            if rng.random_bool(0.67) { 2 } else { 3 }
        } else {
            1
        };
        let registered_year = 2014 + categorical(rng, &REGISTERED_YEAR) as i32;
        let exit_year = if rng.random_bool(params.exit_remaining) {
            None
        } else {
            let span = (2020 - registered_year + 1) as f64;
            Some(registered_year + (span * rng.random::<f64>().powf(0.7)) as i32)
        };
        // Cannot fail: a constant, valid date.
        let registration = NaiveDate::from_ymd_opt(2020, 7, 1).expect("date")
            + Duration::days(rng.random_range(0..=152));
        Registration {
            status,
            registered_year,
            exit_year,
            registration,
        }
    }

    /// The row of a household that could not be enumerated: registration items only.
    fn unenumerated(
        &mut self,
        hid: String,
        vi: usize,
        reg: &Registration,
        is_anchor: bool,
    ) -> HouseholdSummary {
        let head = if is_anchor {
            self.anchor.clone()
        } else {
            fresh_identity(&mut self.rng, self.address, 40, &mut self.used_ids)
        };
        let attribute = categorical(&mut self.rng, &[0.68, 0.29, 0.03]) + 1;
        self.hh_line
            .start()
            .text(&hid)
            .text(&head.id)
            .int(reg.status)
            .date(reg.registration)
            .int(attribute)
            .int(reg.registered_year)
            .opt(reg.exit_year);
        for _ in 0..34 {
            self.hh_line.opt(None::<u8>);
        }
        self.out.table(Table::Households).push_line(&self.hh_line.s);
        self.samples
            .unenumerated_household
            .get_or_insert_with(|| hid.clone());
        HouseholdSummary {
            id: hid,
            village: vi,
            size: 0,
            enumerated: false,
            exited: reg.exit_year.is_some(),
            meets_exit_standard: true,
        }
    }

    /// An enumerated household: its members' rows, then its own row.
    fn enumerated(
        &mut self,
        params: &HouseholdParams,
        village: &mut Village,
        vi: usize,
        hid: String,
        reg: &Registration,
        is_anchor: bool,
    ) -> HouseholdSummary {
        let rng = &mut self.rng;
        let size = categorical(rng, &HOUSEHOLD_SIZE) + 1;
        let members = draw_members(rng, size, is_anchor.then_some(&self.anchor));
        let head_surname = names::surname(rng);
        let eth = draw_ethnicity(rng, params.ethnic);
        let attribute = if size == 1 && members[0].age >= 60 && rng.random_bool(0.4) {
            3
        } else {
            categorical(rng, &[0.68, 0.29, 0.03]) + 1
        };
        let warn = self.warnings.decide(&hid, size, is_anchor);
        let drawn = self.members(
            &members,
            &hid,
            head_surname,
            eth,
            attribute,
            warn,
            is_anchor,
        );

        let living = household::living(&mut self.rng, self.scope);
        let income = household::income(&mut self.rng, &params.income, size);
        let income_ok = income.above_line(size);
        let flags = household::assistance(&mut self.rng, self.ctx, drawn.eligible_edu);
        let guarantees = living.food == 1
            && living.clothing == 1
            && living.route <= 3
            && drawn.all_children_ok
            && drawn.all_insured;
        let declared_size = if warn == Some(faults::Warning::SizeMismatch) {
            size + 1
        } else {
            size
        };
        let declared_head = if warn == Some(faults::Warning::HeadId) {
            &drawn.second_id
        } else {
            &drawn.head_id
        };
        self.hh_line
            .start()
            .text(&hid)
            .text(declared_head)
            .int(1)
            .date(reg.registration)
            .int(attribute)
            .int(reg.registered_year)
            .opt(reg.exit_year)
            .int(declared_size)
            .int(living.food)
            .int(living.protein)
            .int(living.clothing)
            .int(living.route)
            .opt(living.grade)
            .int(living.quantity)
            .int(living.quality)
            .int(living.access)
            .int(living.reliability)
            .int(income.wage)
            .int(income.business)
            .int(income.property)
            .int(income.transfer);
        for f in flags {
            self.hh_line.int(if f { 1 } else { 2 });
        }
        let hh_row = self.out.table(Table::Households).rows;
        self.out.table(Table::Households).push_line(&self.hh_line.s);
        if let Some(w) = warn {
            self.warnings.record(&mut self.out, w, hh_row, &hid);
        }
        if self.samples.household_id.is_empty() && !is_anchor && warn.is_none() {
            self.samples.household_line = self.hh_line.s.clone();
            self.samples.household_id = hid.clone();
            self.samples.village_code = village.code.clone();
            self.samples.person_line = drawn.head_line;
        }
        village.registered_persons += size;
        HouseholdSummary {
            id: hid,
            village: vi,
            size,
            enumerated: true,
            exited: reg.exit_year.is_some(),
            meets_exit_standard: guarantees && income_ok,
        }
    }

    /// The person rows of a household's members.
    #[allow(clippy::too_many_arguments)] // the household's items every member row repeats
    fn members(
        &mut self,
        members: &[Member],
        hid: &str,
        head_surname: &'static str,
        eth: u8,
        attribute: usize,
        warn: Option<faults::Warning>,
        is_anchor: bool,
    ) -> MembersDrawn {
        let mut drawn = MembersDrawn {
            all_children_ok: true,
            all_insured: true,
            head_id: String::new(),
            second_id: String::new(),
            eligible_edu: false,
            head_line: String::new(),
        };
        for (k, m) in members.iter().enumerate() {
            let rng = &mut self.rng;
            let ident = if k == 0 && is_anchor {
                self.anchor.clone()
            } else {
                identity_for(rng, self.address, m, &mut self.used_ids)
            };
            if k == 0 {
                drawn.head_id = ident.id.clone();
            } else if k == 1 {
                drawn.second_id = ident.id.clone();
            }
            let surname = if m.relation == 2 || m.relation == 4 && m.sex == 2 {
                names::surname(rng)
            } else {
                head_surname
            };
            let name = names::full_name(rng, surname, m.sex);
            let age = m.age;
            drawn.eligible_edu |= (3..=28).contains(&age);
            let p = household::person_items(rng, self.scope, age);
            if let Some(s) = p.schooling {
                drawn.all_children_ok &= s <= 3;
            }
            drawn.all_insured &= p.medical <= 3;
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
            self.line
                .start()
                .text(&ident.id)
                .text(hid)
                .text(&name)
                .int(relation)
                .int(m.sex)
                .date(ident.birth)
                .text(&format!("{ethnicity:02}"))
                .int(p.education)
                .opt(p.schooling)
                .int(p.health)
                .opt(p.grade)
                .int(p.medical)
                .int(p.pension)
                .int(p.labour)
                .int(p.months)
                .int(dibao);
            self.out.table(Table::Persons).push_line(&self.line.s);
            if k == 0 && !is_anchor && self.samples.household_id.is_empty() {
                drawn.head_line = self.line.s.clone();
            }
            if is_anchor && k == 0 {
                self.samples.first_person_id = ident.id.clone();
            }
        }
        drawn
    }

    /// The village rows, now that their registered population is known; returns the
    /// county's rural population.
    fn village_rows(&mut self, villages: &mut [Village]) -> u64 {
        let rng = &mut self.rng;
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
            let road = categorical(rng, &VillageModel::ROAD) + 1;
            let power = categorical(rng, &VillageModel::POWER) + 1;
            let urban_rural = VillageModel::URBAN_RURAL
                [categorical(rng, &VillageModel::URBAN_RURAL.map(|(_, p)| p))]
            .0;
            let income = (rng.random_range(0.0..1.0f64).powf(0.6) * 40.0 * 10.0).round() / 10.0
                + if rng.random_bool(0.72) { 5.0 } else { 0.0 };
            self.line
                .start()
                .text(&v.code)
                .text(&v.name)
                .int(urban_rural)
                .int(if v.poor { 1 } else { 2 })
                .int(v.population)
                .int(road)
                .int(power)
                .int(yes_no(rng, VillageModel::MOBILE))
                .int(yes_no(rng, VillageModel::BROADBAND))
                .int(yes_no(rng, VillageModel::RADIO_TV))
                .int(yes_no(rng, VillageModel::SERVICE_CENTRE))
                .int(yes_no(rng, VillageModel::ECOMMERCE))
                .int(categorical(rng, &VillageModel::WATER) + 1)
                .int(categorical(rng, &VillageModel::GARBAGE) + 1)
                .int(categorical(rng, &VillageModel::CLINIC) + 1)
                .int(yes_no(rng, VillageModel::DOCTOR))
                .int(yes_no(rng, VillageModel::LIBRARY))
                .int(income);
            self.out.table(Table::Villages).push_line(&self.line.s);
            if self.samples.village_line.is_empty() {
                self.samples.village_line = self.line.s.clone();
            }
        }
        rural_population
    }

    /// The county row.
    fn county_row(&mut self, rural_population: u64) {
        let cp = self.cp;
        let c = &mut self.rng;
        self.line
            .start()
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
        self.out.table(Table::Counties).push_line(&self.line.s);
        self.samples.county_line = self.line.s.clone();
    }

    /// The assessment survey and the planted faults (each from a stream of its own).
    fn finish(mut self, villages: &[Village], summaries: &[HouseholdSummary]) -> CountyOutput {
        let (ctx, cp) = (self.ctx, self.cp);
        if cp.assessed {
            assessment_survey(
                ctx,
                cp,
                villages,
                summaries,
                &mut self.out,
                &mut self.samples,
            );
        }
        if ctx.error_rate > 0.0 {
            let mut sink = FaultSink {
                out: &mut self.out,
                used_ids: &mut self.used_ids,
                address: self.address,
            };
            faults::plant_rows(ctx, cp, &self.samples, &mut sink);
        }
        self.out
    }
}

/// A household's ethnicity from the province's mix (1, Han, for the remainder).
fn draw_ethnicity(rng: &mut ChaCha8Rng, ethnic: &[(u8, f64)]) -> u8 {
    let mut u: f64 = rng.random();
    for &(code, share) in ethnic {
        if u < share {
            return code;
        }
        u -= share;
    }
    1
}

/// Largest-remainder allocation of the county's households to its villages, by weight.
fn allocate_households(villages: &mut [Village], households: usize) {
    let total_w: f64 = villages.iter().map(|v| v.weight).sum();
    let mut rema: Vec<(usize, f64)> = Vec::with_capacity(villages.len());
    let mut given = 0;
    for (i, v) in villages.iter_mut().enumerate() {
        let exact = households as f64 * v.weight / total_w;
        v.households = (exact.floor() as usize).min(MAX_HOUSEHOLD_SERIAL);
        given += v.households;
        rema.push((i, exact.fract()));
    }
    rema.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    for (i, _) in rema.iter().cycle().take(households.saturating_sub(given)) {
        if villages[*i].households < MAX_HOUSEHOLD_SERIAL {
            villages[*i].households += 1;
        }
    }
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
    // County-level tendencies, so that some counties fail or are borderline.
    let mut survey = Survey {
        rng: ChaCha8Rng::seed_from_u64(hash64(ctx.seed, "assessment", cp.code)),
        miss_rate: 0.001 + 0.03 * unit(ctx.seed, "miss", cp.code).powi(3),
        approval_rate: 0.985 - 0.12 * unit(ctx.seed, "approval", cp.code).powi(4),
        county: cp.code,
        line: Line::default(),
        out,
        samples,
    };
    let lonely = hash64(ctx.seed, "lonely", cp.code).is_multiple_of(3);
    let mut by_village: Vec<Vec<&HouseholdSummary>> = vec![Vec::new(); villages.len()];
    for h in summaries.iter().filter(|h| h.enumerated) {
        by_village[h.village].push(h);
    }
    for stratum in [1u8, 2] {
        let want = if stratum == 1 {
            10
        } else if lonely {
            1
        } else {
            5
        };
        let Some((chosen, psu_weight)) = survey.villages(villages, stratum, want) else {
            continue;
        };
        for vi in chosen {
            let v = &villages[vi];
            survey.registered(stratum, v, &by_village[vi], psu_weight);
            survey.unregistered(stratum, v, psu_weight);
        }
    }
}

/// The assessment survey of one county under way: its random stream and its rows so far.
struct Survey<'o> {
    rng: ChaCha8Rng,
    miss_rate: f64,
    approval_rate: f64,
    county: &'static str,
    line: Line,
    out: &'o mut CountyOutput,
    samples: &'o mut Samples,
}

impl Survey<'_> {
    /// First stage: up to `want` villages of the stratum by simple random sampling, in code
    /// order, with their weight (none when the stratum has no village).
    fn villages(
        &mut self,
        villages: &[Village],
        stratum: u8,
        want: usize,
    ) -> Option<(Vec<usize>, f64)> {
        let mut frame: Vec<usize> = (0..villages.len())
            .filter(|&i| villages[i].stratum == stratum)
            .collect();
        if frame.is_empty() {
            return None;
        }
        let n_h = want.min(frame.len());
        let psu_weight = frame.len() as f64 / n_h as f64;
        frame.shuffle(&mut self.rng);
        let mut chosen = frame[..n_h].to_vec();
        chosen.sort_unstable();
        Some((chosen, psu_weight))
    }

    /// Second stage: registered households of a sampled village, 8 exited (sample type 1) and
    /// 2 not exited (type 2), each asked whether it was wrongly exited and its approval.
    fn registered(
        &mut self,
        stratum: u8,
        v: &Village,
        households: &[&HouseholdSummary],
        psu_weight: f64,
    ) {
        for (sample_type, take) in [(1u8, 8usize), (2, 2)] {
            let mut pool: Vec<&HouseholdSummary> = households
                .iter()
                .copied()
                .filter(|h| h.exited == (sample_type == 1))
                .collect();
            if pool.is_empty() {
                continue;
            }
            let m = take.min(pool.len());
            let w = psu_weight * pool.len() as f64 / m as f64;
            pool.shuffle(&mut self.rng);
            let mut picked = pool[..m].to_vec();
            picked.sort_by(|a, b| a.id.cmp(&b.id));
            for h in picked {
                let wrong = (sample_type == 1).then_some(if h.meets_exit_standard { 2 } else { 1 });
                let approval = draw_approval(&mut self.rng, self.approval_rate);
                self.line
                    .start()
                    .text(self.county)
                    .int(stratum)
                    .text(&v.code)
                    .int(sample_type)
                    .text(&h.id)
                    .int(round6(w))
                    .int(h.size)
                    .opt(wrong)
                    .opt(None::<u8>)
                    .int(approval);
                self.out
                    .table(Table::AssessmentHouseholds)
                    .push_line(&self.line.s);
                self.samples.assessment_lines[sample_type as usize - 1]
                    .get_or_insert_with(|| self.line.s.clone());
            }
        }
    }

    /// Second stage: five households of a sampled village that are not registered (sample
    /// type 3), asked for missed persons; their number is estimated from the village's
    /// population.
    fn unregistered(&mut self, stratum: u8, v: &Village, psu_weight: f64) {
        let nonreg = ((v.population.saturating_sub(v.registered_persons as u64)) as f64 / 3.3)
            .round()
            .max(5.0);
        let k = 5;
        let w = psu_weight * nonreg / k as f64;
        for _ in 0..k {
            let rng = &mut self.rng;
            let persons = categorical(rng, &HOUSEHOLD_SIZE) + 1;
            let missed = (0..persons)
                .filter(|_| rng.random_bool(self.miss_rate))
                .count();
            let approval = draw_approval(rng, self.approval_rate);
            self.line
                .start()
                .text(self.county)
                .int(stratum)
                .text(&v.code)
                .int(3)
                .text("")
                .int(round6(w))
                .int(persons)
                .opt(None::<u8>)
                .int(missed)
                .int(approval);
            self.out
                .table(Table::AssessmentHouseholds)
                .push_line(&self.line.s);
            self.samples.assessment_lines[2].get_or_insert_with(|| self.line.s.clone());
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
