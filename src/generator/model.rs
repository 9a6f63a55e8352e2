//! The calibration model: published census shares (indicators.md §7) turned into sampling
//! probabilities, and the small samplers that use them.
//!
//! Marginal shares are hit directly; "any" shares of assistance groups are hit by drawing a
//! group membership first and then the items conditionally (see [`GroupModel`]).

use rand::Rng;

/// Draw index `i` with probability `p[i]` (the last entry absorbs rounding).
pub fn categorical<R: Rng + ?Sized>(rng: &mut R, p: &[f64]) -> usize {
    let mut u: f64 = rng.random();
    for (i, &pi) in p.iter().enumerate() {
        if u < pi {
            return i;
        }
        u -= pi;
    }
    p.len() - 1
}

/// `1` (yes) with probability `p`, else `2` (no).
pub fn yes_no<R: Rng + ?Sized>(rng: &mut R, p: f64) -> u8 {
    if rng.random_bool(p.clamp(0.0, 1.0)) {
        1
    } else {
        2
    }
}

/// Household and person shares that differ between the national poverty counties (`npc`) and
/// the sampled other counties (`sample`).
#[derive(Debug, Clone)]
pub struct ScopeModel {
    /// protein_frequency 1/2/3.
    pub protein: [f64; 3],
    /// medical_insurance 1/2/3/4.
    pub medical: [f64; 4],
    /// housing_route 1/2/3/4.
    pub housing: [f64; 4],
    /// Share of households with piped water overall (water_access = 1).
    pub water_piped: f64,
    /// water_access = 3 (inconvenient).
    pub water_inconvenient: f64,
    /// water_reliability 1/2/3.
    pub reliability: [f64; 3],
    /// Piped-water share among relocated households (易地扶贫搬迁 housing is new, with taps).
    pub relocated_piped: f64,
}

impl ScopeModel {
    /// National poverty counties: indicators.md §7, `npc`.
    pub fn npc() -> Self {
        ScopeModel {
            protein: [0.9894, 0.0100, 0.0006],
            medical: [0.99848, 0.00140, 0.00010, 0.00002],
            housing: [0.4374, 0.4225, 0.14008, 0.00002],
            water_piped: 0.9367,
            water_inconvenient: 0.00002,
            reliability: [0.99859, 0.00140, 0.00001],
            relocated_piped: 0.995,
        }
    }

    /// Sampled non-national-poverty counties: indicators.md §7, `sample`.
    pub fn sample() -> Self {
        ScopeModel {
            protein: [0.9903, 0.0093, 0.0004],
            medical: [0.99738, 0.00240, 0.00010, 0.00012],
            housing: [0.5826, 0.3470, 0.07038, 0.00002],
            water_piped: 0.8425,
            water_inconvenient: 0.00002,
            reliability: [0.99949, 0.00050, 0.00001],
            relocated_piped: 0.995,
        }
    }

    /// Piped-water share for households that were not relocated, chosen so that the overall
    /// share hits `water_piped`.
    pub fn piped_if_not_relocated(&self) -> f64 {
        let relocated = self.housing[2];
        ((self.water_piped - relocated * self.relocated_piped) / (1.0 - relocated)).clamp(0.0, 1.0)
    }
}

/// An assistance group (indicators.md §4): the share of households with any item of the group
/// and the marginal share of each item.
///
/// A household joins the group with probability `any` (scaled by eligibility for education);
/// members then draw every item independently with the conditional probabilities `q`,
/// redrawing while none is drawn. `q` solves `any · q_i / (1 − Π(1 − q_j)) = p_i`, so both the
/// "any" share and each item's marginal share are reproduced.
#[derive(Debug, Clone)]
pub struct GroupModel {
    pub any: f64,
    pub q: Vec<f64>,
}

impl GroupModel {
    pub fn new(any: f64, marginals: &[f64]) -> Self {
        let mut p0 = 0.0f64;
        let mut q = vec![0.0; marginals.len()];
        for _ in 0..200 {
            for (qi, &pi) in q.iter_mut().zip(marginals) {
                *qi = (pi / any * (1.0 - p0)).clamp(0.0, 1.0);
            }
            p0 = q.iter().map(|qi| 1.0 - qi).product();
        }
        GroupModel { any, q }
    }

    /// Draw the items (`true` = received) for a household that belongs to the group.
    pub fn draw_items<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [bool]) {
        for _ in 0..64 {
            let mut any = false;
            for (o, &qi) in out.iter_mut().zip(&self.q) {
                *o = rng.random_bool(qi);
                any |= *o;
            }
            if any {
                return;
            }
        }
        // Practically unreachable (every q is large): take the most common item.
        let best = (0..self.q.len())
            .max_by(|&a, &b| self.q[a].total_cmp(&self.q[b]))
            .unwrap_or(0);
        out[best] = true;
    }
}

/// The four assistance groups with the published national shares.
#[derive(Debug, Clone)]
pub struct AssistanceModel {
    pub industry: GroupModel,
    pub employment: GroupModel,
    pub health: GroupModel,
    pub education: GroupModel,
}

impl AssistanceModel {
    pub fn published() -> Self {
        AssistanceModel {
            industry: GroupModel::new(0.989, &[0.773, 0.726, 0.718, 0.370]),
            employment: GroupModel::new(0.938, &[0.627, 0.032, 0.810, 0.143, 0.276, 0.054, 0.223]),
            health: GroupModel::new(0.996, &[0.983, 0.633, 0.347]),
            education: GroupModel::new(0.545, &[0.185, 0.419, 0.129, 0.070, 0.186, 0.058]),
        }
    }
}

/// Village shares (bulletin No. 4).
pub struct VillageModel;

impl VillageModel {
    pub const ROAD: [f64; 3] = [0.996, 0.003, 0.001];
    pub const POWER: [f64; 3] = [0.993, 0.005, 0.002];
    pub const MOBILE: f64 = 0.999;
    pub const BROADBAND: f64 = 0.996;
    pub const RADIO_TV: f64 = 0.999;
    pub const SERVICE_CENTRE: f64 = 0.990;
    pub const ECOMMERCE: f64 = 0.627;
    pub const WATER: [f64; 3] = [0.655, 0.319, 0.026];
    pub const GARBAGE: [f64; 3] = [0.899, 0.090, 0.011];
    pub const CLINIC: [f64; 3] = [0.960, 0.038, 0.002];
    pub const DOCTOR: f64 = 0.990;
    pub const LIBRARY: f64 = 0.989;
    pub const URBAN_RURAL: [(u16, f64); 7] = [
        (220, 0.880),
        (210, 0.080),
        (122, 0.020),
        (121, 0.008),
        (123, 0.006),
        (112, 0.004),
        (111, 0.002),
    ];
}

/// Township shares (bulletin No. 4). Health centre: 1 yes, 2 no, 3 exempt.
pub struct TownshipModel;

impl TownshipModel {
    pub const HEALTH_CENTRE: [f64; 3] = [0.998, 0.0002, 0.0018];
    pub const PRIMARY: f64 = 0.985;
    pub const JUNIOR: f64 = 0.703;
    pub const BOARDING: f64 = 0.941;
    pub const CULTURE: f64 = 0.994;
}

/// County shares (bulletin No. 4).
pub struct CountyModel;

impl CountyModel {
    pub const HOSPITAL: f64 = 0.998;
    pub const GRADE2: f64 = 0.980;
    pub const STAFFED: f64 = 0.998;
    pub const JUNIOR: f64 = 1.0;
    pub const VOCATIONAL: f64 = 0.824;
    pub const TECHNICAL: f64 = 0.187;
    pub const SKILLS: f64 = 0.845;
    pub const LIBRARY: f64 = 0.981;
    /// Exit years of the 832 national poverty counties: 2016 28, 2017 125, 2018 283,
    /// 2019 344, 2020 52 (the last 52 only in seven western provinces).
    pub const EXIT_YEARS_BEFORE_2020: [(u16, f64); 4] = [
        (2016, 28.0 / 780.0),
        (2017, 125.0 / 780.0),
        (2018, 283.0 / 780.0),
        (2019, 344.0 / 780.0),
    ];
}

/// The 52 counties that left the list in 2020, per province.
pub fn counties_exiting_2020(province: &str) -> usize {
    match province {
        "45" => 8,
        "51" => 7,
        "52" => 9,
        "53" => 9,
        "62" => 8,
        "64" => 1,
        "65" => 10,
        _ => 0,
    }
}

/// Mean per-capita net income of registered households in 2020 (yuan).
pub const MEAN_INCOME_PER_CAPITA: f64 = 10_740.0;
/// Dispersion (log scale) of per-capita income: about 1 % of households fall below 4,000.
pub const INCOME_SIGMA: f64 = 0.40;

/// Household size distribution 1..=8 (mean ≈ 3.58).
pub const HOUSEHOLD_SIZE: [f64; 8] = [0.145, 0.180, 0.170, 0.190, 0.160, 0.095, 0.040, 0.020];

/// Schooling status of children aged 6–15: in school, taught at home, unable (health), dropout.
pub const SCHOOLING: [f64; 4] = [0.9883, 0.0024, 0.0092, 0.0001];

/// Year of registration (建档立卡年份) 2014..=2020.
pub const REGISTERED_YEAR: [f64; 7] = [0.55, 0.12, 0.10, 0.10, 0.07, 0.04, 0.02];

/// Main minority nationalities of a province (GB 3304 code, share of households).
pub fn ethnic_mix(province: &str) -> &'static [(u8, f64)] {
    match province {
        "15" => &[(2, 0.20), (3, 0.02)],
        "22" => &[(10, 0.04), (11, 0.03)],
        "23" => &[(11, 0.04)],
        "43" => &[(15, 0.10), (6, 0.08), (12, 0.03)],
        "42" => &[(15, 0.15), (6, 0.02)],
        "45" => &[(8, 0.40), (13, 0.06), (6, 0.03)],
        "46" => &[(19, 0.30), (6, 0.02)],
        "50" => &[(15, 0.15), (6, 0.05)],
        "51" => &[(7, 0.20), (4, 0.08), (36, 0.02)],
        "52" => &[(6, 0.20), (9, 0.12), (12, 0.06), (15, 0.05)],
        "53" => &[
            (7, 0.15),
            (16, 0.06),
            (14, 0.05),
            (18, 0.04),
            (6, 0.03),
            (20, 0.03),
        ],
        "54" => &[(4, 0.90)],
        "62" => &[(3, 0.10), (4, 0.06), (26, 0.03)],
        "63" => &[(4, 0.40), (3, 0.15), (30, 0.05)],
        "64" => &[(3, 0.45)],
        "65" => &[(5, 0.75), (17, 0.08), (29, 0.03)],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn group_model_reproduces_any_and_marginals() {
        let m = AssistanceModel::published().employment;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 200_000;
        let mut counts = vec![0usize; m.q.len()];
        let mut any = 0;
        let mut items = vec![false; m.q.len()];
        for _ in 0..n {
            if rng.random_bool(m.any) {
                any += 1;
                m.draw_items(&mut rng, &mut items);
                for (c, &i) in counts.iter_mut().zip(&items) {
                    *c += usize::from(i);
                }
            }
        }
        let share = |c: usize| c as f64 / n as f64;
        assert!((share(any) - 0.938).abs() < 0.003);
        let want = [0.627, 0.032, 0.810, 0.143, 0.276, 0.054, 0.223];
        for (c, w) in counts.iter().zip(want) {
            assert!((share(*c) - w).abs() < 0.004, "{} vs {w}", share(*c));
        }
    }

    #[test]
    fn shares_are_distributions() {
        for s in [ScopeModel::npc(), ScopeModel::sample()] {
            for d in [
                &s.protein[..],
                &s.medical[..],
                &s.housing[..],
                &s.reliability[..],
            ] {
                assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{d:?}");
            }
            let overall = s.housing[2] * s.relocated_piped
                + (1.0 - s.housing[2]) * s.piped_if_not_relocated();
            assert!((overall - s.water_piped).abs() < 1e-12);
        }
        assert!((HOUSEHOLD_SIZE.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!((SCHOOLING.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!((REGISTERED_YEAR.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let mean: f64 = HOUSEHOLD_SIZE
            .iter()
            .enumerate()
            .map(|(i, p)| (i + 1) as f64 * p)
            .sum();
        assert!((mean - 3.58).abs() < 0.03, "mean household size {mean}");
        let exit: f64 = CountyModel::EXIT_YEARS_BEFORE_2020
            .iter()
            .map(|(_, p)| p)
            .sum();
        assert!((exit - 1.0).abs() < 1e-9);
        let total_2020: usize = ["45", "51", "52", "53", "62", "64", "65"]
            .iter()
            .map(|p| counties_exiting_2020(p))
            .sum();
        assert_eq!(total_2020, 52);
    }
}
