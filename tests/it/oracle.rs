//! A small, in-memory checker of whole submissions for tests: reads every file with the
//! product's reader and row validator, then applies the cross-row rules of
//! submission-format.md §4 (orphans with their cascade, duplicate keys, household warnings,
//! assessment links) with hash maps. It is an independent statement of those rules, used to
//! prove that generated data breaks exactly the rules the generator says it does.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use povcensus::contract::rules::{Rule, Severity};
use povcensus::contract::schema::Table;
use povcensus::generator::{Encoding, Manifest};
use povcensus::ingest::source::read_table;

/// One finding, located.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Found {
    pub province: String,
    pub file: String,
    pub line: Option<u64>,
    pub rule: Rule,
    pub column: Option<String>,
    pub key: Option<String>,
}

/// A row that passed its row-level checks, with the fields the cross-row rules need.
#[derive(Debug, Clone)]
struct Row {
    province: String,
    line: u64,
    key: String,
    fields: HashMap<&'static str, String>,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub found: Vec<Found>,
    /// (province, file) → (rows read, rows loaded, rows rejected).
    pub counts: BTreeMap<(String, String), (u64, u64, u64)>,
    pub encodings: BTreeMap<String, Encoding>,
}

const KEEP: &[(Table, &[&str])] = &[
    (Table::Counties, &["county_code"]),
    (Table::Townships, &["township_code"]),
    (Table::Villages, &["village_code"]),
    (
        Table::Households,
        &[
            "household_id",
            "enumeration_status",
            "household_size",
            "head_id_number",
            "exit_year",
        ],
    ),
    (Table::Persons, &["person_id", "household_id", "relation"]),
    (
        Table::AssessmentHouseholds,
        &["county_code", "village_code", "household_id", "sample_type"],
    ),
];

/// Check the province directories under `root` (those named by two digits), in code order.
pub fn check(root: &Path, use_manifest_encoding: bool) -> Outcome {
    let mut provinces: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    provinces.sort();
    let mut out = Outcome::default();
    let mut rows: BTreeMap<Table, Vec<Row>> = BTreeMap::new();
    let mut rejected_rows: HashMap<(String, String, u64), ()> = HashMap::new();
    for p in &provinces {
        let dir = root.join(p);
        let manifest: Manifest =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(&manifest.province_code, p);
        let declared = if use_manifest_encoding {
            manifest.encoding.as_deref().map(|e| {
                if e == "gb18030" {
                    Encoding::Gb18030
                } else {
                    Encoding::Utf8
                }
            })
        } else {
            None
        };
        for &(table, keep) in KEEP {
            let path = dir.join(table.file_name());
            if !path.exists() {
                assert!(!table.required(), "{} missing", path.display());
                continue;
            }
            let mut file_rows = Vec::new();
            let mut row_found = Vec::new();
            let check = read_table(
                File::open(&path).unwrap(),
                table,
                p,
                declared,
                manifest.files.get(table.file_name()),
                |ev| {
                    for f in &ev.findings {
                        row_found.push(Found {
                            province: p.clone(),
                            file: table.file_name().into(),
                            line: Some(ev.line),
                            rule: f.rule,
                            column: f.column.map(str::to_string),
                            key: ev.key(),
                        });
                    }
                    if !ev.rejected() {
                        let mut fields = HashMap::new();
                        for &k in keep {
                            let i = table.column_index(k).unwrap();
                            fields.insert(
                                k,
                                ev.values[i]
                                    .as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| {
                                        ev.values[i]
                                            .as_int()
                                            .map(|v| v.to_string())
                                            .unwrap_or_default()
                                    }),
                            );
                        }
                        file_rows.push(Row {
                            province: p.clone(),
                            line: ev.line,
                            key: ev.key().unwrap_or_default(),
                            fields,
                        });
                    }
                },
            )
            .unwrap();
            out.encodings
                .insert(format!("{p}/{}", table.file_name()), check.encoding);
            for f in &check.findings {
                let line = (f.rule == Rule::FileUnknownColumn).then_some(1);
                out.found.push(Found {
                    province: p.clone(),
                    file: table.file_name().into(),
                    line,
                    rule: f.rule,
                    column: f.column.map(str::to_string),
                    key: None,
                });
            }
            let key = (p.clone(), table.file_name().to_string());
            if check.rejected() {
                out.counts
                    .insert(key, (check.rows_read, 0, check.rows_read));
                continue;
            }
            for f in &row_found {
                if f.rule.severity() == Severity::Error {
                    rejected_rows.insert((p.clone(), f.file.clone(), f.line.unwrap()), ());
                }
            }
            out.found.extend(row_found);
            out.counts.insert(key, (check.rows_read, 0, 0));
            rows.entry(table).or_default().extend(file_rows);
        }
    }

    // Cross-row rules, parents before children: orphans first, then duplicate keys.
    let mut loaded: BTreeMap<Table, Vec<Row>> = BTreeMap::new();
    let mut index: Index = HashMap::new();
    for &(table, _) in KEEP {
        let candidates = rows.remove(&table).unwrap_or_default();
        let mut kept = Vec::new();
        let mut seen: HashMap<String, (String, u64)> = HashMap::new();
        for r in candidates {
            let orphan = match table {
                Table::Counties => None,
                Table::Townships => {
                    (!has(&index, Table::Counties, &r.key[..6])).then_some(Rule::KeyOrphan)
                }
                Table::Villages => {
                    (!has(&index, Table::Townships, &r.key[..9])).then_some(Rule::KeyOrphan)
                }
                Table::Households => {
                    (!has(&index, Table::Villages, &r.key[..12])).then_some(Rule::KeyOrphan)
                }
                Table::Persons => {
                    let hid = &r.fields["household_id"];
                    let ok = get(&loaded, &index, Table::Households, hid)
                        .is_some_and(|h| h.fields["enumeration_status"] == "1");
                    (!ok).then_some(Rule::KeyOrphan)
                }
                Table::AssessmentHouseholds => assessment_link(&loaded, &index, &r),
            };
            let finding = |rule: Rule, column: &str| Found {
                province: r.province.clone(),
                file: table.file_name().into(),
                line: Some(r.line),
                rule,
                column: Some(column.to_string()),
                key: Some(r.key.clone()),
            };
            if let Some(rule) = orphan {
                let column = match (table, rule) {
                    (Table::Townships, _) => "township_code",
                    (Table::Villages, _) => "village_code",
                    (Table::AssessmentHouseholds, Rule::AssessmentVillageCounty) => "village_code",
                    (Table::AssessmentHouseholds, Rule::KeyOrphan) => "county_code",
                    _ => "household_id",
                };
                out.found.push(finding(rule, column));
                rejected_rows.insert((r.province.clone(), table.file_name().into(), r.line), ());
                continue;
            }
            if let Some(k) = table.key_column() {
                if seen.contains_key(&r.key) {
                    out.found.push(finding(Rule::KeyDuplicate, k));
                    rejected_rows
                        .insert((r.province.clone(), table.file_name().into(), r.line), ());
                    continue;
                }
                seen.insert(r.key.clone(), (r.province.clone(), r.line));
            }
            kept.push(r);
        }
        index.insert(
            table,
            kept.iter()
                .enumerate()
                .map(|(i, r)| (r.key.clone(), i))
                .collect(),
        );
        loaded.insert(table, kept);
    }

    // Household warnings over loaded rows.
    let mut members: HashMap<&str, Vec<&Row>> = HashMap::new();
    for p in &loaded[&Table::Persons] {
        members
            .entry(p.fields["household_id"].as_str())
            .or_default()
            .push(p);
    }
    for h in loaded[&Table::Households]
        .iter()
        .filter(|h| h.fields["enumeration_status"] == "1")
    {
        let m = members
            .get(h.key.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let warn = |rule: Rule, column: Option<&str>| Found {
            province: h.province.clone(),
            file: "households.csv".into(),
            line: Some(h.line),
            rule,
            column: column.map(str::to_string),
            key: Some(h.key.clone()),
        };
        if h.fields["household_size"] != m.len().to_string() {
            out.found
                .push(warn(Rule::HouseholdSizeMismatch, Some("household_size")));
        }
        let heads: Vec<&&Row> = m.iter().filter(|p| p.fields["relation"] == "1").collect();
        if heads.len() != 1 {
            out.found.push(warn(Rule::HouseholdHeadCount, None));
        } else if heads[0].fields["person_id"] != h.fields["head_id_number"] {
            out.found
                .push(warn(Rule::HouseholdHeadId, Some("head_id_number")));
        }
    }

    // Conservation: rows read = loaded + rejected, per file.
    for ((p, file), c) in out.counts.iter_mut() {
        if c.2 == c.0 && c.0 > 0 && c.1 == 0 {
            continue; // rejected file
        }
        let rejected = rejected_rows
            .keys()
            .filter(|(rp, rf, _)| rp == p && rf == file)
            .count() as u64;
        c.2 = rejected;
        c.1 = c.0 - rejected;
    }
    out.found.sort();
    out
}

type Index = HashMap<Table, HashMap<String, usize>>;

fn has(index: &Index, t: Table, key: &str) -> bool {
    index[&t].contains_key(key)
}

fn get<'l>(
    loaded: &'l BTreeMap<Table, Vec<Row>>,
    index: &Index,
    t: Table,
    key: &str,
) -> Option<&'l Row> {
    index[&t].get(key).map(|&i| &loaded[&t][i])
}

fn assessment_link(loaded: &BTreeMap<Table, Vec<Row>>, index: &Index, r: &Row) -> Option<Rule> {
    let county = &r.fields["county_code"];
    if !has(index, Table::Counties, county) {
        return Some(Rule::KeyOrphan);
    }
    let village = &r.fields["village_code"];
    if !has(index, Table::Villages, village) {
        return Some(Rule::AssessmentVillageCounty);
    }
    let ty = &r.fields["sample_type"];
    if ty == "1" || ty == "2" {
        let hid = &r.fields["household_id"];
        let ok = get(loaded, index, Table::Households, hid).is_some_and(|h| {
            h.fields["enumeration_status"] == "1"
                && hid.starts_with(village.as_str())
                && (h.fields["exit_year"].is_empty() == (ty == "2"))
        });
        if !ok {
            return Some(Rule::AssessmentHousehold);
        }
    }
    None
}
