//! The generation plan: which real counties and townships are in scope, their type, size,
//! exit year and sampling weight, at a given scale and seed.
//!
//! The plan is made for all 22 provinces and only then filtered, so a province's data does not
//! depend on which other provinces were asked for.
//!
//! Scaling: with `c = min(1, √scale)`, each province keeps `max(1, round(n·c))` of its `n`
//! national poverty counties (and likewise of its sampled counties), and each county keeps
//! `scale / c` of its national-size households, villages and townships. Scale 1.0 is the full
//! census: 832 + 7 counties of types 1–2 and 100 sampled counties of type 3.

use super::model::{CountyModel, counties_exiting_2020};
use crate::contract::reference::{Division, Province, Reference};

/// Registered households per national poverty county at national size (14.822 M / 839).
pub const NPC_HOUSEHOLDS_PER_COUNTY: f64 = 14_822_000.0 / 839.0;
/// Registered households per sampled county at national size (807,826 / 100).
pub const SAMPLE_HOUSEHOLDS_PER_COUNTY: f64 = 807_826.0 / 100.0;
/// Villages per national poverty county at national size (≈170,000 / 839).
pub const NPC_VILLAGES_PER_COUNTY: f64 = 170_000.0 / 839.0;
/// Townships per county at national size (≈12,000 / 839).
pub const TOWNSHIPS_PER_COUNTY: f64 = 12_000.0 / 839.0;
/// Sampled counties of type 3 at national size.
pub const SAMPLED_COUNTIES: usize = 100;
/// Aksu prefecture counties with contiguous-area policy (type 2), all in Xinjiang.
pub const TYPE2_COUNTIES: usize = 7;
/// Highest village serial used for real villages; 590–599 are reserved for planted faults.
pub const MAX_VILLAGE_SERIAL: usize = 589;
/// Highest household serial used for real households; 9000–9999 are reserved for faults.
pub const MAX_HOUSEHOLD_SERIAL: usize = 8999;

/// Deterministic hash of (seed, tag, key) to a u64 (SplitMix64 over FNV-1a of the key).
pub fn hash64(seed: u64, tag: &str, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tag.bytes().chain([0u8]).chain(key.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) from [`hash64`].
pub fn unit(seed: u64, tag: &str, key: &str) -> f64 {
    (hash64(seed, tag, key) >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard-normal draw from two hashed uniforms (Box–Muller).
fn normal(seed: u64, tag: &str, key: &str) -> f64 {
    let u1 = unit(seed, tag, key).max(1e-12);
    let u2 = unit(seed, &format!("{tag}.2"), key);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// County type (县类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountyType {
    /// 1: national poverty county.
    National = 1,
    /// 2: contiguous-area policy county (Aksu), tabulated with type 1.
    AreaPolicy = 2,
    /// 3: sampled non-national-poverty county.
    Sampled = 3,
}

/// Everything decided about one county before its records are drawn.
#[derive(Debug, Clone)]
pub struct CountyPlan {
    pub code: &'static str,
    pub name: &'static str,
    pub county_type: CountyType,
    pub exit_year: Option<u16>,
    pub sampling_weight: f64,
    /// Target number of registered households.
    pub households: usize,
    pub villages: usize,
    pub townships: Vec<Division>,
    /// Whether the third-party exit-assessment survey covers this county.
    pub assessed: bool,
    /// Position of the county within its province's plan (0 = first).
    pub rank: usize,
}

/// One province's part of the plan.
#[derive(Debug, Clone)]
pub struct ProvincePlan {
    pub province: &'static Province,
    /// Index of the province in `census_provinces.csv` order.
    pub census_index: usize,
    pub counties: Vec<CountyPlan>,
    /// Real county codes of the province that are not in scope (used by planted faults).
    pub unused_counties: Vec<Division>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub scale: f64,
    pub seed: u64,
    pub provinces: Vec<ProvincePlan>,
    /// (province code, first county code) of all 22 provinces, kept when filtering.
    first_counties: Vec<(&'static str, &'static str)>,
}

impl Plan {
    /// Plan all 22 provinces.
    pub fn new(scale: f64, seed: u64, assess_all: bool) -> Plan {
        let r = Reference::get();
        let c = scale.sqrt().min(1.0);
        let sizing = Sizing {
            seed,
            c,
            per_county: scale / c,
            assess_all,
        };
        let selections: Vec<Selection> = r
            .provinces
            .iter()
            .map(|p| Selection::of(r, p, seed))
            .collect();
        let alloc = allocate_sampled(&selections);
        let provinces: Vec<ProvincePlan> = r
            .provinces
            .iter()
            .zip(selections)
            .enumerate()
            .map(|(pi, (p, s))| sizing.province(r, pi, p, s, alloc[pi]))
            .collect();
        let first_counties = provinces
            .iter()
            .map(|p| (p.province.code, p.counties[0].code))
            .collect();
        Plan {
            scale,
            seed,
            provinces,
            first_counties,
        }
    }

    /// Keep only the named provinces (all when `None`).
    pub fn retain(&mut self, codes: Option<&[String]>) {
        if let Some(codes) = codes {
            self.provinces
                .retain(|p| codes.iter().any(|c| c == p.province.code));
        }
    }

    /// The province before `census_index` in census order and the code of its first county:
    /// the donor of the planted cross-province duplicate person.
    pub fn donor_of(&self, census_index: usize) -> Option<(&'static str, &'static str)> {
        census_index.checked_sub(1).map(|i| self.first_counties[i])
    }
}

/// A province's counties by role, before scaling: contiguous-area policy counties (type 2),
/// national poverty counties (type 1) and the frame the sampled counties come from.
struct Selection {
    type2: Vec<Division>,
    npc: Vec<Division>,
    frame: Vec<Division>,
}

impl Selection {
    fn of(r: &Reference, p: &Province, seed: u64) -> Self {
        let all = &r.counties[p.code];
        let mut ranked: Vec<Division> = all.clone();
        // Poverty counties are mostly rural counties (县), not city districts (区).
        ranked.sort_by_key(|d| (d.name.ends_with('区'), hash64(seed, "county-rank", d.code)));
        let (type2, rest): (Vec<Division>, Vec<Division>) = if p.code == "65" {
            let (aksu, rest): (Vec<_>, Vec<_>) =
                ranked.into_iter().partition(|d| d.code.starts_with("6529"));
            let mut aksu = aksu;
            let others = aksu.split_off(TYPE2_COUNTIES.min(aksu.len()));
            (aksu, rest.into_iter().chain(others).collect())
        } else {
            (Vec::new(), ranked)
        };
        Selection {
            type2,
            npc: rest[..p.national_poverty_counties].to_vec(),
            frame: rest[p.national_poverty_counties..].to_vec(),
        }
    }
}

/// The allocation of the 100 sampled counties at national size: one per province, the rest
/// proportional to the frame (largest remainder).
fn allocate_sampled(selections: &[Selection]) -> Vec<usize> {
    let frame_total: usize = selections.iter().map(|s| s.frame.len()).sum();
    let spare = SAMPLED_COUNTIES - selections.len();
    let mut alloc: Vec<(usize, f64)> = selections
        .iter()
        .map(|s| {
            let exact = spare as f64 * s.frame.len() as f64 / frame_total as f64;
            (1 + exact.floor() as usize, exact.fract())
        })
        .collect();
    let mut left = SAMPLED_COUNTIES - alloc.iter().map(|a| a.0).sum::<usize>();
    let mut order: Vec<usize> = (0..alloc.len()).collect();
    order.sort_by(|&a, &b| alloc[b].1.total_cmp(&alloc[a].1).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        alloc[i].0 += 1;
        left -= 1;
    }
    alloc.into_iter().map(|a| a.0).collect()
}

/// The year a national poverty county left the list when that was before 2020, drawn from
/// the published shares.
fn exit_year_before_2020(seed: u64, code: &str) -> u16 {
    let u = unit(seed, "exit-year", code);
    let mut acc = 0.0;
    let mut year = 2019;
    for (y, share) in CountyModel::EXIT_YEARS_BEFORE_2020 {
        acc += share;
        if u < acc {
            year = y;
            break;
        }
    }
    year
}

/// How the plan scales counties and their contents.
struct Sizing {
    seed: u64,
    /// The share of counties kept, `min(1, √scale)`.
    c: f64,
    /// The share of a county's households, villages and townships kept.
    per_county: f64,
    assess_all: bool,
}

impl Sizing {
    /// `max(1, round(n·c))` of `n` (none of none).
    fn scaled(&self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            ((n as f64 * self.c).round() as usize).clamp(1, n)
        }
    }

    /// A province's plan: its national poverty counties (those exiting in 2020 first), its
    /// type-2 counties and its sampled counties, in that order.
    fn province(
        &self,
        r: &Reference,
        pi: usize,
        p: &'static Province,
        s: Selection,
        sampled_at_national_size: usize,
    ) -> ProvincePlan {
        let mut counties = Vec::new();
        let n_npc = self.scaled(s.npc.len());
        let n_2020 = self.scaled(counties_exiting_2020(p.code)).min(n_npc);
        for (i, d) in s.npc.iter().take(n_npc).enumerate() {
            let exit_year = if i < n_2020 {
                2020
            } else {
                exit_year_before_2020(self.seed, d.code)
            };
            counties.push((*d, CountyType::National, Some(exit_year), 1.0));
        }
        for d in s.type2.iter().take(self.scaled(s.type2.len())) {
            counties.push((*d, CountyType::AreaPolicy, Some(2019), 1.0));
        }
        let n_sampled = self.scaled(sampled_at_national_size).min(s.frame.len());
        for d in s.frame.iter().take(n_sampled) {
            // Inverse inclusion probability of a PPS draw: frame size over sample size,
            // varied by the county's relative size measure.
            let base = s.frame.len() as f64 / n_sampled as f64;
            let u = 0.75 + 0.5 * unit(self.seed, "pps", d.code);
            let w = ((base * u) * 10_000.0).round() / 10_000.0;
            counties.push((*d, CountyType::Sampled, None, w.max(1.0)));
        }
        let unused_counties: Vec<Division> = s.frame[n_sampled..].to_vec();
        let counties = counties
            .into_iter()
            .enumerate()
            .map(|(rank, (d, county_type, exit_year, sampling_weight))| {
                self.county(r, d, county_type, exit_year, sampling_weight, rank)
            })
            .collect();
        ProvincePlan {
            province: p,
            census_index: pi,
            counties,
            unused_counties,
        }
    }

    /// One county's plan: its size (households, villages), its townships and whether it
    /// is assessed.
    fn county(
        &self,
        r: &Reference,
        d: Division,
        county_type: CountyType,
        exit_year: Option<u16>,
        sampling_weight: f64,
        rank: usize,
    ) -> CountyPlan {
        let (seed, per_county) = (self.seed, self.per_county);
        let size = (0.5 * normal(seed, "size", d.code) - 0.125).exp();
        let (hh_base, vil_base) = match county_type {
            CountyType::Sampled => (SAMPLE_HOUSEHOLDS_PER_COUNTY, NPC_VILLAGES_PER_COUNTY),
            _ => (NPC_HOUSEHOLDS_PER_COUNTY, NPC_VILLAGES_PER_COUNTY),
        };
        let households = ((hh_base * per_county * size).round() as usize).max(8);
        let available = r.townships.get(d.code).cloned().unwrap_or_default();
        let mut twn = available;
        twn.sort_by_key(|t| hash64(seed, "township-rank", t.code));
        let want_twn = ((TOWNSHIPS_PER_COUNTY * per_county.min(1.0)).round() as usize).max(1);
        twn.truncate(want_twn.min(twn.len()));
        twn.sort_by_key(|t| t.code);
        let villages = ((vil_base * per_county * size).round() as usize)
            .max(twn.len())
            .min(twn.len() * MAX_VILLAGE_SERIAL)
            .max(1);
        let assessed =
            exit_year == Some(2020) || (self.assess_all && county_type != CountyType::Sampled);
        CountyPlan {
            code: d.code,
            name: d.name,
            county_type,
            exit_year,
            sampling_weight,
            households,
            villages,
            townships: twn,
            assessed,
            rank,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_scale_matches_the_census_frame() {
        let plan = Plan::new(1.0, 1, false);
        let count = |t: CountyType| -> usize {
            plan.provinces
                .iter()
                .flat_map(|p| &p.counties)
                .filter(|c| c.county_type == t)
                .count()
        };
        assert_eq!(count(CountyType::National), 832);
        assert_eq!(count(CountyType::AreaPolicy), 7);
        assert_eq!(count(CountyType::Sampled), 100);
        let exiting_2020 = plan
            .provinces
            .iter()
            .flat_map(|p| &p.counties)
            .filter(|c| c.exit_year == Some(2020))
            .count();
        assert_eq!(exiting_2020, 52);
        let hh: usize = plan
            .provinces
            .iter()
            .flat_map(|p| &p.counties)
            .filter(|c| c.county_type != CountyType::Sampled)
            .map(|c| c.households)
            .sum();
        assert!((hh as f64 / 14.822e6 - 1.0).abs() < 0.06, "households {hh}");
        let villages: usize = plan
            .provinces
            .iter()
            .flat_map(|p| &p.counties)
            .map(|c| c.villages)
            .sum();
        assert!(
            (150_000..200_000).contains(&villages),
            "villages {villages}"
        );
        let codes: std::collections::BTreeSet<_> = plan
            .provinces
            .iter()
            .flat_map(|p| &p.counties)
            .map(|c| c.code)
            .collect();
        assert_eq!(codes.len(), 939, "county codes are distinct");
    }

    #[test]
    fn small_scale_keeps_every_province_and_all_county_types() {
        let plan = Plan::new(0.001, 1, false);
        assert_eq!(plan.provinces.len(), 22);
        for p in &plan.provinces {
            assert!(
                p.counties
                    .iter()
                    .any(|c| c.county_type != CountyType::Sampled)
            );
            assert!(
                p.counties
                    .iter()
                    .any(|c| c.county_type == CountyType::Sampled)
            );
            let sampled = p
                .counties
                .iter()
                .filter(|c| c.county_type == CountyType::Sampled);
            assert!(
                sampled
                    .clone()
                    .all(|c| c.sampling_weight >= 1.0 && c.exit_year.is_none())
            );
            let assessed = p.counties.iter().any(|c| c.assessed);
            assert_eq!(
                assessed,
                counties_exiting_2020(p.province.code) > 0,
                "{}",
                p.province.code
            );
        }
        let hh: usize = plan
            .provinces
            .iter()
            .flat_map(|p| &p.counties)
            .map(|c| c.households)
            .sum();
        // Type 1-2 households shrink with the scale (to within the size noise).
        assert!((5_000..40_000).contains(&hh), "{hh}");
    }

    #[test]
    fn plan_does_not_depend_on_the_selection() {
        let full = Plan::new(0.01, 9, false);
        let mut one = Plan::new(0.01, 9, false);
        one.retain(Some(&["52".to_string()]));
        let a = full
            .provinces
            .iter()
            .find(|p| p.province.code == "52")
            .unwrap();
        let b = &one.provinces[0];
        let key = |p: &ProvincePlan| {
            p.counties
                .iter()
                .map(|c| (c.code, c.households, c.villages))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(a), key(b));
        assert_ne!(
            key(a),
            key(&Plan::new(0.01, 10, false).provinces[14]),
            "seed matters"
        );
        assert_eq!(one.donor_of(b.census_index).unwrap().0, "51");
    }
}
