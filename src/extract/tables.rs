//! Published county tables with small-cell suppression (research-extracts.md §2).
//!
//! Each table is a grid of areas (counties, their provinces, the nation) by categories plus a
//! total. A cell is published, or suppressed:
//!
//! - **primary**: a count of 1 to `threshold − 1` (0 is published: it is not a small group);
//! - **secondary**: further cells, so that no line of the table has exactly one suppressed cell.
//!   The lines are the additive relations a reader could use: an area's categories add up to
//!   its total; a province's counties add up to the province, category by category and in
//!   total; the provinces add up to the nation. A line with one suppressed cell would give it
//!   away by subtraction. The partner chosen is the smallest other cell of the line (categories
//!   before totals; ties by area and category), and the rule is applied until it holds
//!   everywhere.
//!
//! Suppressed counts are written empty and marked `primary` or `secondary`; the same input
//! always gives the same pattern.

use std::collections::{BTreeMap, BTreeSet};

/// The published tables and their categories, in order.
pub const TABLES: &[(&str, &str, &[&str])] = &[
    ("persons_by_sex", "建档立卡人口（按性别）", &["男", "女"]),
    (
        "persons_by_age",
        "建档立卡人口（按年龄）",
        &["0-5岁", "6-15岁", "16-59岁", "60岁及以上"],
    ),
    (
        "persons_by_health",
        "建档立卡人口（按健康状况）",
        &["健康", "长期慢性病", "患有大病", "残疾"],
    ),
    (
        "households_by_size",
        "建档立卡户（按家庭人口数）",
        &["0人", "1人", "2人", "3人", "4人", "5人及以上"],
    ),
];

pub const TOTAL: &str = "total";
pub const NATIONAL: &str = "00";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Primary,
    Secondary,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Primary => "primary",
            Status::Secondary => "secondary",
        }
    }
}

/// One published table: cells by (area, category), category `total` included.
#[derive(Debug, Clone)]
pub struct Published {
    pub table: &'static str,
    pub title: &'static str,
    pub categories: Vec<String>,
    /// Areas in publication order: national, then each province followed by its counties.
    pub areas: Vec<String>,
    pub cells: BTreeMap<(String, String), (u64, Status)>,
}

pub fn level(area: &str) -> &'static str {
    match area.len() {
        2 if area == NATIONAL => "national",
        2 => "province",
        _ => "county",
    }
}

/// Build one table from county counts `(county, category) → n` and suppress it.
pub fn build(
    table: &'static str,
    title: &'static str,
    categories: &[&str],
    counts: &BTreeMap<(String, String), u64>,
    threshold: u64,
) -> Published {
    let mut cats: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
    for (_, c) in counts.keys() {
        if !cats.contains(c) {
            cats.push(c.clone());
        }
    }
    let counties: BTreeSet<String> = counts.keys().map(|(a, _)| a.clone()).collect();
    let province_of = |c: &str| c.get(..2).unwrap_or(c).to_string();
    let provinces: BTreeSet<String> = counties.iter().map(|c| province_of(c)).collect();
    let mut cells: BTreeMap<(String, String), (u64, Status)> = BTreeMap::new();
    let mut add = |area: &str, cat: &str, n: u64| {
        cells
            .entry((area.to_string(), cat.to_string()))
            .or_insert((0, Status::Ok))
            .0 += n;
    };
    for county in &counties {
        for cat in &cats {
            let n = counts
                .get(&(county.clone(), cat.clone()))
                .copied()
                .unwrap_or(0);
            for area in [county.as_str(), &province_of(county), NATIONAL] {
                add(area, cat, n);
                add(area, TOTAL, n);
            }
        }
    }
    let mut areas = vec![NATIONAL.to_string()];
    for p in &provinces {
        areas.push(p.clone());
        areas.extend(
            counties
                .iter()
                .filter(|c| c.starts_with(p.as_str()))
                .cloned(),
        );
    }
    // Every cell of the table exists, counted 0 where nothing was added (the national row of
    // an empty census).
    for a in &areas {
        for c in cats.iter().map(String::as_str).chain([TOTAL]) {
            cells
                .entry((a.clone(), c.to_string()))
                .or_insert((0, Status::Ok));
        }
    }
    for (n, status) in cells.values_mut() {
        if *n > 0 && *n < threshold {
            *status = Status::Primary;
        }
    }
    let lines = lines(&areas, &cats);
    secondary(&mut cells, &lines);
    Published {
        table,
        title,
        categories: cats,
        areas,
        cells,
    }
}

/// The additive lines of a table: each a set of cells whose values are tied by one equation.
pub fn lines(areas: &[String], cats: &[String]) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut all_cats: Vec<String> = cats.to_vec();
    all_cats.push(TOTAL.to_string());
    // An area's categories and its total.
    for a in areas {
        out.push(all_cats.iter().map(|c| (a.clone(), c.clone())).collect());
    }
    // A province's counties and the province; the provinces and the nation.
    let provinces: Vec<&String> = areas.iter().filter(|a| level(a) == "province").collect();
    for c in &all_cats {
        for p in &provinces {
            let mut line: Vec<(String, String)> = areas
                .iter()
                .filter(|a| level(a) == "county" && a.starts_with(p.as_str()))
                .map(|a| (a.clone(), c.clone()))
                .collect();
            line.push(((*p).clone(), c.clone()));
            out.push(line);
        }
        let mut line: Vec<(String, String)> = provinces
            .iter()
            .map(|p| ((*p).clone(), c.clone()))
            .collect();
        line.push((NATIONAL.to_string(), c.clone()));
        out.push(line);
    }
    out
}

fn secondary(
    cells: &mut BTreeMap<(String, String), (u64, Status)>,
    lines: &[Vec<(String, String)>],
) {
    loop {
        let mut changed = false;
        // reason for `cells[k]` below: `build` made a cell for every area and category, and
        // the lines are made of those.
        for line in lines {
            let suppressed = line.iter().filter(|k| cells[*k].1 != Status::Ok).count();
            if suppressed != 1 {
                continue;
            }
            // The partner: the smallest published cell, categories before totals, positive
            // counts before zeros.
            let partner = line
                .iter()
                .filter(|k| cells[*k].1 == Status::Ok)
                .min_by_key(|k| {
                    let n = cells[*k].0;
                    (k.1 == TOTAL, n == 0, n, level_rank(&k.0), (*k).clone())
                })
                .cloned();
            if let Some(k) = partner {
                // reason: `partner` is a key just taken from `cells`.
                cells.get_mut(&k).expect("cell").1 = Status::Secondary;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

fn level_rank(area: &str) -> u8 {
    match level(area) {
        "county" => 0,
        "province" => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_line_has_a_single_suppressed_cell() {
        let mut counts = BTreeMap::new();
        for (county, a, b) in [
            ("520101", 3u64, 40u64),
            ("520102", 25, 30),
            ("520103", 50, 60),
            ("530101", 12, 0),
        ] {
            counts.insert((county.to_string(), "男".to_string()), a);
            counts.insert((county.to_string(), "女".to_string()), b);
        }
        let t = build("persons_by_sex", "t", &["男", "女"], &counts, 10);
        assert_eq!(t.cells[&("520101".into(), "男".into())].1, Status::Primary);
        // 0 is published.
        assert_eq!(t.cells[&("530101".into(), "女".into())], (0, Status::Ok));
        for line in lines(&t.areas, &t.categories) {
            let n = line.iter().filter(|k| t.cells[*k].1 != Status::Ok).count();
            assert_ne!(n, 1, "{line:?}");
        }
        // Totals add up.
        assert_eq!(
            t.cells[&("00".into(), TOTAL.into())].0,
            3 + 40 + 25 + 30 + 50 + 60 + 12
        );
    }
}
