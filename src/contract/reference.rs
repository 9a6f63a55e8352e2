//! Reference data shipped inside the binary: the 22 census provinces with their region, exit
//! threshold and number of national poverty counties (`census_provinces.csv`), and the
//! prefecture, county and township codes and names of those provinces (2022 division codes,
//! WTFPL, see `src/reference/DIVISIONS_LICENSE`).
//!
//! The files are embedded at compile time, so the product never reads `../shared` at run time.

use std::collections::BTreeMap;
use std::sync::OnceLock;

const PROVINCES_CSV: &str = include_str!("reference/census_provinces.csv");
const CITIES_CSV: &str = include_str!("reference/cities.csv");
const AREAS_CSV: &str = include_str!("reference/areas.csv");
const STREETS_CSV: &str = include_str!("reference/streets.csv");

/// Central or western province (the exit threshold differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Central,
    Western,
}

impl Region {
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Central => "central",
            Region::Western => "western",
        }
    }
}

/// A province in the census scope.
#[derive(Debug, Clone)]
pub struct Province {
    pub code: &'static str,
    pub name: &'static str,
    pub region: Region,
    /// Poverty-incidence threshold for exit, percent (2 central, 3 western).
    pub exit_threshold_pct: f64,
    /// Number of national poverty counties (国家贫困县); sums to 832.
    pub national_poverty_counties: usize,
}

/// A division (prefecture, county or township) code and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Division {
    pub code: &'static str,
    pub name: &'static str,
}

/// All reference data, parsed once.
#[derive(Debug)]
pub struct Reference {
    pub provinces: Vec<Province>,
    /// Prefecture (4-digit) code → name.
    pub prefectures: BTreeMap<&'static str, &'static str>,
    /// Province code → its counties (county-level divisions), in code order.
    pub counties: BTreeMap<&'static str, Vec<Division>>,
    /// County code → its townships, in code order.
    pub townships: BTreeMap<&'static str, Vec<Division>>,
}

fn rows(csv: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    csv.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').collect())
}

impl Reference {
    /// The shared, lazily parsed reference data.
    pub fn get() -> &'static Reference {
        static REF: OnceLock<Reference> = OnceLock::new();
        REF.get_or_init(Reference::parse)
    }

    fn parse() -> Reference {
        let provinces = rows(PROVINCES_CSV)
            .map(|r| Province {
                code: r[0],
                name: r[1],
                region: if r[2] == "western" {
                    Region::Western
                } else {
                    Region::Central
                },
                // Cannot fail: embedded reference data, checked by a unit test.
                exit_threshold_pct: r[3].parse().expect("embedded threshold"),
                national_poverty_counties: r[4].parse().expect("embedded county count"),
            })
            .collect();
        let prefectures = rows(CITIES_CSV).map(|r| (r[0], r[1])).collect();
        let mut counties: BTreeMap<&str, Vec<Division>> = BTreeMap::new();
        for r in rows(AREAS_CSV) {
            counties.entry(&r[0][..2]).or_default().push(Division {
                code: r[0],
                name: r[1],
            });
        }
        let mut townships: BTreeMap<&str, Vec<Division>> = BTreeMap::new();
        for r in rows(STREETS_CSV) {
            townships.entry(&r[0][..6]).or_default().push(Division {
                code: r[0],
                name: r[1],
            });
        }
        for v in counties.values_mut().chain(townships.values_mut()) {
            v.sort_by_key(|d| d.code);
        }
        Reference {
            provinces,
            prefectures,
            counties,
            townships,
        }
    }

    pub fn province(&self, code: &str) -> Option<&Province> {
        self.provinces.iter().find(|p| p.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_reference_is_complete() {
        let r = Reference::get();
        assert_eq!(r.provinces.len(), 22);
        let total: usize = r
            .provinces
            .iter()
            .map(|p| p.national_poverty_counties)
            .sum();
        assert_eq!(total, 832);
        for p in &r.provinces {
            let counties = &r.counties[p.code];
            assert!(
                counties.len() > p.national_poverty_counties,
                "{} has room for its poverty counties and a sample frame",
                p.code
            );
            assert!(
                counties
                    .iter()
                    .all(|c| c.code.len() == 6 && c.code.starts_with(p.code))
            );
            let expected = if p.region == Region::Western {
                3.0
            } else {
                2.0
            };
            assert_eq!(p.exit_threshold_pct, expected);
        }
        assert_eq!(r.province("52").unwrap().name, "贵州省");
        assert_eq!(r.prefectures["5201"], "贵阳市");
        assert!(r.townships["520102"].iter().all(|t| t.code.len() == 9));
    }
}
