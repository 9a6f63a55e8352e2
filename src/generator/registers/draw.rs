//! One county's register rows: the records the census implies for its members (insured →
//! a normal 2020 enrolment, children in school → 在读, the disabled → a disability card,
//! 低保 members and 特困 households → civil-affairs records, houses rebuilt → their
//! appraisal), the rest of the county's rural population who are on no census roster, and,
//! when faults are asked for, discrepancies for every matching rule at plausible rates plus
//! the boundary cases of the rules. Every row is judged by the rules of `registers.md` §2
//! ([`Draw::judge`]) as it is written, so the ground truth holds every finding, planted or
//! natural.

use chrono::{Days, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::contract::id_number;
use crate::contract::registers::Register;

use super::super::plan::hash64;
use super::super::{GenerateError, GenerateOptions};
use super::census::{County, Household, Person, reference_date};
use super::{At, Writer};

/// Persons on no census roster drawn per census person of the county: the part of the rest
/// of the county's rural population that appears in the registers.
const OFF_ROSTER_SHARE: f64 = 0.35;

/// The boundary cases of the matching rules still to plant (once per province).
#[derive(Debug, Clone, Copy)]
pub(super) struct Boundaries {
    /// A death on the reference date, a registered capital of exactly 10 万元, a vehicle of
    /// type 3.
    pub(super) dates_and_amounts: bool,
    /// Children aged 5, 6, 15 and 16 with a student record that disagrees with the census.
    pub(super) ages: [Option<i32>; 4],
}

impl Boundaries {
    pub(super) fn new(planted: bool) -> Boundaries {
        let on = |a| planted.then_some(a);
        Boundaries {
            dates_and_amounts: planted,
            ages: [on(5), on(6), on(15), on(16)],
        }
    }
}

/// What a register row says, for the rules.
enum Record {
    Death(NaiveDate),
    Vehicle(u8, NaiveDate),
    Business { capital: f64, status: u8 },
    PublicEmployee(NaiveDate),
    UrbanProperty(NaiveDate),
    Student(u8),
    Disability(u8),
    Medical { normal: bool },
    Assistance,
}

pub(super) struct Draw<'a> {
    rng: ChaCha8Rng,
    county: &'a County,
    poverty: bool,
    planted: bool,
    reference: NaiveDate,
    w: &'a mut Writer,
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    // Cannot fail: called with literal, valid dates only.
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// The school stage of a student of this age.
fn stage(age: i32) -> &'static str {
    match age {
        ..=11 => "1",
        12..=15 => "2",
        16..=18 => "3",
        _ => "5",
    }
}

impl<'a> Draw<'a> {
    pub(super) fn new(
        opts: &GenerateOptions,
        county: &'a County,
        poverty: bool,
        w: &'a mut Writer,
    ) -> Draw<'a> {
        Draw {
            rng: ChaCha8Rng::seed_from_u64(hash64(opts.seed, "registers", &county.code)),
            county,
            poverty,
            planted: opts.error_rate > 0.0,
            reference: reference_date(),
            w,
        }
    }

    /// A date drawn uniformly from `from` to `to` (inclusive).
    fn date(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let days = (to - from).num_days().max(0) as u64;
        from + Days::new(self.rng.random_range(0..=days))
    }

    /// A date on or before the reference date, from `year` on.
    fn before(&mut self, year: i32) -> NaiveDate {
        self.date(ymd(year, 1, 1), self.reference)
    }

    /// A date in the first half of 2021 (after the reference date: a flagged row).
    fn after(&mut self) -> NaiveDate {
        self.date(ymd(2021, 1, 1), ymd(2021, 6, 30))
    }

    /// A planted discrepancy with probability `p` (never without faults).
    fn hit(&mut self, p: f64) -> bool {
        self.planted && self.rng.random_bool(p)
    }

    /// The matching rule a register row of census member `p` triggers, if any
    /// (`registers.md` §2).
    fn judge(&self, p: &Person, rec: &Record) -> Option<&'static str> {
        let r = self.reference;
        match rec {
            Record::Death(d) => (*d <= r).then_some("match.deceased"),
            Record::Vehicle(t, d) => (matches!(t, 1 | 2) && *d <= r).then_some("match.vehicle"),
            Record::Business { capital, status } => {
                (*status == 1 && *capital >= 10.0).then_some("match.business")
            }
            Record::PublicEmployee(d) => (*d <= r).then_some("match.public_employee"),
            Record::UrbanProperty(d) => (*d <= r).then_some("match.urban_property"),
            Record::Student(status) => ((6..=15).contains(&p.age)
                && (p.schooling == Some(1) && *status == 3
                    || p.schooling == Some(4) && *status == 1))
                .then_some("match.schooling"),
            Record::Disability(grade) => {
                (p.health != Some(4) && *grade <= 2).then_some("match.disability")
            }
            Record::Medical { normal } => {
                (*normal && p.medical == Some(4)).then_some("match.medical_insurance")
            }
            Record::Assistance => None,
        }
    }

    /// Write a row of member `p` and its finding, if the rules find one.
    fn member_row(
        &mut self,
        p: &Person,
        r: Register,
        fields: &[&str],
        rec: Record,
    ) -> Result<At, GenerateError> {
        let mut row = vec![p.id.as_str(), self.county.code.as_str()];
        row.extend_from_slice(fields);
        let at = self.w.row(r, &row)?;
        if let Some(rule) = self.judge(p, &rec) {
            let h = &self.county.households[p.household];
            self.w.finding(rule, &self.county.code, &h.id, &p.id, at)?;
        }
        Ok(at)
    }

    /// The finding of a member's missing record.
    fn absent(&mut self, p: &Person, rule: &str) -> Result<(), GenerateError> {
        let h = &self.county.households[p.household];
        self.w.finding(rule, &self.county.code, &h.id, &p.id, None)
    }

    /// Every register row of the county: its members', its households', and those of the
    /// persons on no roster.
    pub(super) fn county(&mut self) -> Result<(), GenerateError> {
        let county = self.county;
        for p in &county.persons {
            self.medical(p)?;
            self.student(p)?;
            self.disability(p)?;
            self.assistance(p)?;
            if self.planted {
                self.identification(p)?;
            }
        }
        for h in &county.households {
            self.housing(h)?;
        }
        let off = (county.persons.len() as f64 * OFF_ROSTER_SHARE).round() as usize;
        for _ in 0..off {
            self.off_roster()?;
        }
        Ok(())
    }

    /// A normal 2020 enrolment for the insured (1–3); planted: none, only an interrupted
    /// one, or one for a person recorded uninsured.
    fn medical(&mut self, p: &Person) -> Result<(), GenerateError> {
        let scheme = if p.medical == Some(2) { "2" } else { "1" };
        match p.medical {
            Some(1..=3) => {
                let u: f64 = if self.planted { self.rng.random() } else { 1.0 };
                if u >= 0.01 {
                    let rec = Record::Medical { normal: true };
                    self.member_row(p, Register::MedicalInsurance, &[scheme, "2020", "1"], rec)?;
                    return Ok(());
                }
                if u >= 0.005 {
                    let rec = Record::Medical { normal: false };
                    self.member_row(p, Register::MedicalInsurance, &[scheme, "2020", "2"], rec)?;
                }
                self.absent(p, "match.medical_insurance")
            }
            Some(4) if self.hit(0.05) => {
                let rec = Record::Medical { normal: true };
                self.member_row(p, Register::MedicalInsurance, &["1", "2020", "1"], rec)?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Children in school are 在读, dropouts 辍学; older members often in high school;
    /// planted: the record disagrees.
    fn student(&mut self, p: &Person) -> Result<(), GenerateError> {
        let status = match p.schooling {
            Some(1) => Some(if self.hit(0.02) { 3 } else { 1 }),
            Some(2) => Some(1),
            Some(4) => Some(if self.hit(0.2) { 1 } else { 3 }),
            None if (16..=18).contains(&p.age) && self.rng.random_bool(0.6) => Some(1),
            _ => None,
        };
        if let Some(s) = status {
            let text = s.to_string();
            self.member_row(
                p,
                Register::Students,
                &[stage(p.age), &text],
                Record::Student(s),
            )?;
        }
        Ok(())
    }

    /// A card for the disabled; planted: none, or a card for someone not disabled.
    fn disability(&mut self, p: &Person) -> Result<(), GenerateError> {
        let grade = if p.health == Some(4) {
            if self.hit(0.03) {
                return self.absent(p, "match.disability");
            }
            p.disability_grade.unwrap_or(4)
        } else if self.hit(0.004) {
            self.rng.random_range(1..=3)
        } else {
            return Ok(());
        };
        self.disability_row(p, grade).map(|_| ())
    }

    fn disability_row(&mut self, p: &Person, grade: u8) -> Result<At, GenerateError> {
        let category = self.rng.random_range(1..=7u8).to_string();
        let card = self.date(ymd(2008, 1, 1), ymd(2020, 6, 30)).to_string();
        let g = grade.to_string();
        self.member_row(
            p,
            Register::Disability,
            &[&category, &g, &card],
            Record::Disability(grade),
        )
    }

    /// 低保 members and the members of 特困 households: ongoing civil-affairs records.
    fn assistance(&mut self, p: &Person) -> Result<(), GenerateError> {
        let h = &self.county.households[p.household];
        let types = [(p.dibao, "1"), (h.poverty_attribute == Some(3), "2")];
        for (on, t) in types {
            if on {
                let start = self.date(ymd(2014, 1, 1), ymd(2020, 6, 30)).to_string();
                let rec = Record::Assistance;
                self.member_row(p, Register::CivilAffairs, &[t, &start, ""], rec)?;
            }
        }
        Ok(())
    }

    /// Planted identification discrepancies (and rows just past a rule's edge): deaths,
    /// cars, companies, public posts and urban houses of members.
    fn identification(&mut self, p: &Person) -> Result<(), GenerateError> {
        for after in [false, true] {
            if self.hit(if after { 0.001 } else { 0.003 }) {
                let d = if after {
                    self.after()
                } else {
                    self.before(2020)
                };
                self.death(p, d)?;
            }
            if self.hit(0.01) {
                let t = if after {
                    self.rng.random_range(3..=4u8)
                } else {
                    self.rng.random_range(1..=2u8)
                };
                let d = self.before(2012);
                self.vehicle(p, t, d)?;
            }
            if self.hit(if after { 0.002 } else { 0.003 }) {
                let cap = if after {
                    self.rng.random_range(50..1000)
                } else {
                    self.rng.random_range(1000..50_000)
                };
                let status = if after && self.rng.random_bool(0.5) {
                    2
                } else {
                    1
                };
                self.business(p, f64::from(cap) / 100.0, status)?;
            }
            if self.hit(if after { 0.0005 } else { 0.002 }) {
                let d = if after {
                    self.after()
                } else {
                    self.before(2000)
                };
                let t = self.rng.random_range(1..=2u8).to_string();
                self.member_row(
                    p,
                    Register::PublicEmployees,
                    &[&t, &d.to_string()],
                    Record::PublicEmployee(d),
                )?;
            }
            if self.hit(if after { 0.001 } else { 0.004 }) {
                let d = if after {
                    self.after()
                } else {
                    self.before(2010)
                };
                let area = format!("{:.1}", self.rng.random_range(40.0..160.0));
                self.member_row(
                    p,
                    Register::UrbanProperty,
                    &[&d.to_string(), &area],
                    Record::UrbanProperty(d),
                )?;
            }
        }
        Ok(())
    }

    fn death(&mut self, p: &Person, d: NaiveDate) -> Result<At, GenerateError> {
        self.member_row(p, Register::Deaths, &[&d.to_string()], Record::Death(d))
    }

    fn vehicle(&mut self, p: &Person, t: u8, d: NaiveDate) -> Result<At, GenerateError> {
        let text = t.to_string();
        self.member_row(
            p,
            Register::Vehicles,
            &[&text, &d.to_string()],
            Record::Vehicle(t, d),
        )
    }

    fn business(&mut self, p: &Person, capital: f64, status: u8) -> Result<At, GenerateError> {
        let role = self.rng.random_range(1..=2u8).to_string();
        let established = self.before(2005).to_string();
        let (cap, st) = (format!("{capital}"), status.to_string());
        let rec = Record::Business { capital, status };
        self.member_row(
            p,
            Register::Businesses,
            &[&role, &cap, &st, &established],
            rec,
        )
    }

    /// A rebuilt house's appraisal on the head (no finding: rebuilt); planted: a C or D
    /// appraisal of a house recorded safe.
    fn housing(&mut self, h: &Household) -> Result<(), GenerateError> {
        let (grade, d) = match h.housing_route {
            Some(2) if self.rng.random_bool(0.5) => {
                ("D", self.date(ymd(2014, 1, 1), ymd(2019, 12, 31)))
            }
            Some(1) if self.hit(0.01) => ("C", self.before(2016)),
            Some(1) if self.hit(0.002) => ("D", self.after()),
            _ => return Ok(()),
        };
        let at = self.w.row(
            Register::DangerousHousing,
            &[&h.head_id, &self.county.code, grade, &d.to_string()],
        )?;
        // The rule of match.housing: a house recorded safe with a C or D appraisal on or
        // before the reference date (the grades drawn are C or D).
        if h.housing_route == Some(1) && d <= self.reference {
            self.w
                .finding("match.housing", &self.county.code, &h.id, "", at)?;
        }
        Ok(())
    }

    /// A person of the county on no census roster, with the records of such a person.
    fn off_roster(&mut self) -> Result<(), GenerateError> {
        let age = self.rng.random_range(0..=90);
        let born = ymd(2020 - age, 1, 1);
        let birth = self.date(born, ymd(2020 - age, 12, 31));
        let address = self.county.code.parse::<u32>().unwrap_or(0);
        let id = id_number::build(address, birth, self.rng.random_range(800..900));
        let cc = self.county.code.clone();
        let normal = self.rng.random_bool(0.97);
        self.w.row(
            Register::MedicalInsurance,
            &[&id, &cc, "1", "2020", if normal { "1" } else { "2" }],
        )?;
        let age = crate::contract::schema::age_on(birth, self.reference);
        if (6..=18).contains(&age) && self.rng.random_bool(0.95) {
            let status = if self.rng.random_bool(0.97) { "1" } else { "3" };
            self.w
                .row(Register::Students, &[&id, &cc, stage(age), status])?;
        }
        if self.rng.random_bool(0.05) {
            let grade = self.rng.random_range(1..=4u8).to_string();
            let cat = self.rng.random_range(1..=7u8).to_string();
            let d = self.before(2008).to_string();
            self.w
                .row(Register::Disability, &[&id, &cc, &cat, &grade, &d])?;
        }
        for (p, t) in [(0.05, "1"), (0.005, "2")] {
            if self.rng.random_bool(p) {
                self.civil_affairs(&id, t)?;
            }
        }
        if self.rng.random_bool(0.008) {
            let d = self.before(2020).to_string();
            self.w.row(Register::Deaths, &[&id, &cc, &d])?;
        }
        if self.rng.random_bool(0.12) {
            let t = self.rng.random_range(1..=4u8).to_string();
            let d = self.before(2008).to_string();
            self.w.row(Register::Vehicles, &[&id, &cc, &t, &d])?;
        }
        if self.rng.random_bool(0.03) {
            let cap = format!("{}", f64::from(self.rng.random_range(100..100_000)) / 100.0);
            let d = self.before(2000).to_string();
            self.w
                .row(Register::Businesses, &[&id, &cc, "1", &cap, "1", &d])?;
        }
        if self.rng.random_bool(0.04) {
            let d = self.before(1990).to_string();
            self.w
                .row(Register::PublicEmployees, &[&id, &cc, "1", &d])?;
        }
        if self.rng.random_bool(0.05) {
            let d = self.before(2005).to_string();
            self.w
                .row(Register::UrbanProperty, &[&id, &cc, &d, "89.5"])?;
        }
        if self.rng.random_bool(0.01) {
            let d = self.before(2012).to_string();
            self.w
                .row(Register::DangerousHousing, &[&id, &cc, "C", &d])?;
        }
        Ok(())
    }

    /// A civil-affairs record of a person on no roster: ongoing on the reference date (most),
    /// or ended before it. An ongoing one in a national poverty county is a missed-assistance
    /// finding.
    fn civil_affairs(&mut self, id: &str, t: &str) -> Result<(), GenerateError> {
        let ended = self.rng.random_bool(0.2);
        let (start, end) = if ended {
            let s = self.date(ymd(2014, 1, 1), ymd(2017, 12, 31));
            (s, Some(self.date(ymd(2018, 1, 1), ymd(2020, 6, 30))))
        } else {
            let s = self.date(ymd(2014, 1, 1), ymd(2020, 12, 31));
            // An end planned after the reference date (still ongoing; a flagged date): only
            // with faults, so that clean registers load without a flag.
            let e = self.hit(0.2).then(|| self.after());
            (s, e)
        };
        let end_text = end.map(|e| e.to_string()).unwrap_or_default();
        let cc = self.county.code.clone();
        let at = self.w.row(
            Register::CivilAffairs,
            &[id, &cc, t, &start.to_string(), &end_text],
        )?;
        let ongoing = start <= self.reference && end.is_none_or(|e| e > self.reference);
        if ongoing && self.poverty {
            self.w.finding("match.missed_assistance", &cc, "", id, at)?;
        }
        Ok(())
    }

    /// Plant the boundary cases of the rules still missing in this province on the first
    /// members that fit.
    pub(super) fn boundaries(&mut self, b: &mut Boundaries) -> Result<(), GenerateError> {
        let county = self.county;
        if b.dates_and_amounts && county.persons.len() >= 3 {
            b.dates_and_amounts = false;
            let [p0, p1, p2, ..] = &county.persons[..] else {
                return Ok(());
            };
            self.death(p0, self.reference)?;
            self.business(p1, 10.0, 1)?;
            self.business(p1, 9.99, 1)?;
            self.vehicle(p2, 3, ymd(2019, 5, 1))?;
        }
        for slot in &mut b.ages {
            let Some(age) = *slot else { continue };
            let Some(p) = county.persons.iter().find(|p| p.age == age) else {
                continue;
            };
            *slot = None;
            // A record that disagrees with the census: a finding only for ages 6-15.
            let status: u8 = if p.schooling == Some(4) { 1 } else { 3 };
            let text = status.to_string();
            self.member_row(
                p,
                Register::Students,
                &[stage(age), &text],
                Record::Student(status),
            )?;
        }
        Ok(())
    }
}
