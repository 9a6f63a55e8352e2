//! The draws behind one enumerated household's rows: each member's census items, the
//! household's living conditions, its income by source and its assistance items.
//!
//! Every function draws from the county's random stream, in the order the county drawer
//! calls them; the draws inside each function keep the order of the items in the row.
//! Reordering any draw changes every later value of the county.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Normal};

use super::county::{Ctx, POVERTY_LINE};
use super::model::{
    INCOME_SIGMA, MEAN_INCOME_PER_CAPITA, SCHOOLING, ScopeModel, categorical, yes_no,
};

/// A member's census items after identity, name and ethnicity.
pub struct PersonItems {
    pub schooling: Option<u8>,
    pub health: u8,
    pub grade: Option<u8>,
    pub education: u8,
    pub medical: u8,
    pub pension: u8,
    pub labour: u8,
    pub months: i32,
}

/// Draw a member's items from schooling to months of migrant work.
pub fn person_items(rng: &mut ChaCha8Rng, scope: &ScopeModel, age: u32) -> PersonItems {
    let schooling = (6..=15)
        .contains(&age)
        .then(|| categorical(rng, &SCHOOLING) as u8 + 1);
    let (health, grade) = health_and_grade(rng, schooling, age);
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
        16..=29 => 3 + categorical(rng, &[0.08, 0.50, 0.27, 0.15]) as u8,
        30..=59 => 2 + categorical(rng, &[0.08, 0.35, 0.45, 0.09, 0.03]) as u8,
        _ => 2 + categorical(rng, &[0.45, 0.40, 0.12, 0.03]) as u8,
    };
    let medical = categorical(rng, &scope.medical) as u8 + 1;
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
    PersonItems {
        schooling,
        health,
        grade,
        education,
        medical,
        pension,
        labour,
        months,
    }
}

/// Health status and disability grade: children out of school are ill or disabled; everyone
/// else by age group.
fn health_and_grade(rng: &mut ChaCha8Rng, schooling: Option<u8>, age: u32) -> (u8, Option<u8>) {
    match schooling {
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
            let h = categorical(rng, &[1.0 - dis - big - chronic, chronic, big, dis]) as u8 + 1;
            (h, (h == 4).then(|| rng.random_range(1..=4u8)))
        }
    }
}

/// The household's food, clothing, housing and water items.
pub struct Living {
    pub food: u8,
    pub protein: usize,
    pub clothing: u8,
    pub route: usize,
    pub grade: Option<&'static str>,
    pub quantity: u8,
    pub quality: u8,
    pub access: u8,
    pub reliability: usize,
}

/// Draw the household's living conditions.
pub fn living(rng: &mut ChaCha8Rng, scope: &ScopeModel) -> Living {
    let food = yes_no(rng, 0.99995);
    let protein = categorical(rng, &scope.protein) + 1;
    let clothing = yes_no(rng, 0.9999);
    let route = categorical(rng, &scope.housing) + 1;
    let grade: Option<&str> = match route {
        1 => [Some("A"), Some("B"), None][categorical(rng, &[0.60, 0.35, 0.05])],
        2 => [Some("A"), Some("B")][categorical(rng, &[0.7, 0.3])],
        3 => [None, Some("A")][categorical(rng, &[0.8, 0.2])],
        _ => [Some("C"), Some("D")][categorical(rng, &[0.6, 0.4])],
    };
    let quantity = yes_no(rng, 0.9999);
    let quality = yes_no(rng, 0.9998);
    let access = if route == 3 {
        if rng.random_bool(scope.relocated_piped) {
            1
        } else {
            2
        }
    } else if rng.random_bool(scope.piped_if_not_relocated()) {
        1
    } else if rng.random_bool(scope.water_inconvenient / (1.0 - scope.piped_if_not_relocated())) {
        3
    } else {
        2
    };
    let reliability = categorical(rng, &scope.reliability) + 1;
    Living {
        food,
        protein,
        clothing,
        route,
        grade,
        quantity,
        quality,
        access,
        reliability,
    }
}

/// The fixed distributions of household income: per-capita income and the shares of its
/// four sources.
pub struct IncomeModel {
    per_capita: Normal<f64>,
    shares: [Gamma<f64>; 4],
}

impl IncomeModel {
    /// The model calibrated to the published mean income per capita.
    pub fn published() -> Self {
        let mu = MEAN_INCOME_PER_CAPITA.ln() - INCOME_SIGMA * INCOME_SIGMA / 2.0;
        IncomeModel {
            // Cannot fail: constant, finite parameters (sigma > 0).
            per_capita: Normal::new(mu, INCOME_SIGMA).expect("valid normal"),
            // Cannot fail: constant shapes > 0 (the four Gamma below).
            shares: [
                Gamma::new(6.5, 1.0).expect("shape"),
                Gamma::new(1.5, 1.0).expect("shape"),
                Gamma::new(0.2, 1.0).expect("shape"),
                Gamma::new(1.8, 1.0).expect("shape"),
            ],
        }
    }
}

/// A household's income by source, yuan per year.
pub struct Income {
    pub wage: f64,
    pub business: f64,
    pub property: f64,
    pub transfer: f64,
}

impl Income {
    /// Whether the income per person reaches the poverty line.
    pub fn above_line(&self, size: usize) -> bool {
        let income = self.wage + self.business + self.property + self.transfer;
        income / size as f64 >= POVERTY_LINE
    }
}

/// Draw a household's income: a per-capita total split over the sources, rarely with a
/// business loss made up by wages.
pub fn income(rng: &mut ChaCha8Rng, model: &IncomeModel, size: usize) -> Income {
    let per_capita: f64 = model.per_capita.sample(rng).exp();
    let total = (per_capita * size as f64).round();
    let s: Vec<f64> = model.shares.iter().map(|g| g.sample(rng) + 1e-9).collect();
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
    Income {
        wage,
        business,
        property,
        transfer,
    }
}

/// Draw the 20 assistance items (industry, employment, health, education), each group joined
/// first; education is likelier for households with a member of school or student age.
pub fn assistance(rng: &mut ChaCha8Rng, ctx: &Ctx<'_>, eligible_edu: bool) -> [bool; 20] {
    let mut flags = [false; 20];
    let a = &ctx.assistance;
    if rng.random_bool(a.industry.any) {
        a.industry.draw_items(rng, &mut flags[0..4]);
    }
    if rng.random_bool(a.employment.any) {
        a.employment.draw_items(rng, &mut flags[4..11]);
    }
    if rng.random_bool(a.health.any) {
        a.health.draw_items(rng, &mut flags[11..14]);
    }
    if rng.random_bool(if eligible_edu {
        ctx.edu_join.0
    } else {
        ctx.edu_join.1
    }) {
        a.education.draw_items(rng, &mut flags[14..20]);
    }
    flags
}
