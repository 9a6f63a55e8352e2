//! Research extracts (research-extracts.md §1): anonymized person and household microdata for
//! researchers, and the disclosure-risk report beside them.
//!
//! The flow: `queries/extract/persons.sql` and `households.sql` select the census population
//! from one warehouse snapshot without direct identifiers, replacing the person and household
//! keys by keyed pseudonyms (`pseudonym(kind, key)`, HMAC-SHA-256 under the operator's key,
//! which is never written or logged). This module then generalizes the quasi-identifiers (age
//! bands, ethnicity groups, household size 8+, disabled yes/no), rounds and top-codes income,
//! and makes both tables k-anonymous:
//!
//! 1. households with a member, or a household row, in a class smaller than k have their area
//!    generalized from county to prefecture (both tables, so the household key links nothing
//!    finer);
//! 2. households still in classes smaller than k lose their rarest value of area or household
//!    size (local suppression: NULL);
//! 3. persons still in classes smaller than k lose their rarest person-level value (sex, age
//!    band, ethnicity group, disabled), and when none is left, their household's rarest value;
//!
//! repeating 2–3 until every record of both tables is compatible with at least k records,
//! itself included, a NULL matching every value (sdcMicro's measure with alpha = 1). Records are
//! never dropped. Every step is deterministic: the same snapshot and key give the same bytes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

pub mod tables;

use crate::pipeline::PipelineError;
use crate::query::{EngineConfig, session};
use crate::warehouse::{Warehouse, WarehouseError};

/// The SQL of the extract (embedded, so the binary works from any directory).
const PERSONS_SQL: &str = include_str!("../../queries/extract/persons.sql");
const HOUSEHOLDS_SQL: &str = include_str!("../../queries/extract/households.sql");
const PUBLISHED_SQL: &str = include_str!("../../queries/extract/published_counts.sql");
/// Ages are completed years on the census reference date.
const REFERENCE_DATE: &str = "2020-12-31";

/// The tables of an extract.
pub const TABLES: &[&str] = &["research_persons", "research_households"];

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;
/// The environment variable that may hold the key instead of a file.
pub const KEY_ENV: &str = "POVCENSUS_EXTRACT_KEY";

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(
        "no pseudonymization key: pass --key-file FILE (or set {KEY_ENV}); an extract is never made without one"
    )]
    NoKey,
    #[error("cannot read the key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("the key is {0} bytes long; at least {MIN_KEY_BYTES} are required")]
    ShortKey(usize),
    #[error("k must be at least 2 (got {0})")]
    BadK(usize),
    #[error("the extract has {records} {table}, fewer than k = {k}: it cannot be made k-anonymous")]
    TooFew {
        table: &'static str,
        records: usize,
        k: usize,
    },
    #[error("the warehouse {0} has no committed snapshot: ingest submissions first")]
    NoSnapshot(String),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error("extract query: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Write(#[from] PipelineError),
    #[error("writing {path}: {source}")]
    WriteFile {
        path: String,
        source: std::io::Error,
    },
}

/// The pseudonymization key. Its bytes are never printed, not even by `Debug`.
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key(<{} bytes, redacted>)", self.0.len())
    }
}

impl Key {
    /// The key from a file (trailing line breaks ignored) or else from `POVCENSUS_EXTRACT_KEY`.
    pub fn load(file: Option<&Path>) -> Result<Key, ExtractError> {
        let bytes = match file {
            Some(p) => std::fs::read(p).map_err(|source| ExtractError::KeyFile {
                path: p.display().to_string(),
                source,
            })?,
            None => std::env::var_os(KEY_ENV)
                .map(|v| v.into_encoded_bytes())
                .ok_or(ExtractError::NoKey)?,
        };
        let mut bytes = bytes;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        if bytes.is_empty() {
            return Err(ExtractError::NoKey);
        }
        if bytes.len() < MIN_KEY_BYTES {
            return Err(ExtractError::ShortKey(bytes.len()));
        }
        Ok(Key(bytes))
    }

    pub fn from_bytes(bytes: &[u8]) -> Key {
        Key(bytes.to_vec())
    }

    /// The pseudonym of `value` of a kind (`person`, `household`): hex HMAC-SHA-256 of
    /// `kind \x1f value`.
    pub fn pseudonym(&self, kind: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("any key size");
        mac.update(kind.as_bytes());
        mac.update(&[0x1f]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// What `povcensus extract` is asked to do.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub warehouse: String,
    pub out: PathBuf,
    pub key: Key,
    pub k: usize,
    /// A minority keeps its own ethnicity group when it has at least this many persons in the
    /// extract; smaller ones become 其他少数民族.
    pub min_ethnicity_persons: usize,
    /// Income is top-coded at this percentile of the extract's households.
    pub income_top_percentile: f64,
    /// Published table cells with a count from 1 to this − 1 are suppressed.
    pub cell_threshold: u64,
    pub as_of: Option<u64>,
    pub engine: EngineConfig,
}

/// Ethnic groups by GB 3304 code.
const ETHNICITIES: [&str; 56] = [
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
];
/// The group code of small minorities.
const OTHER_MINORITIES: u32 = 99;

fn ethnicity_name(code: u32) -> String {
    if code == OTHER_MINORITIES {
        return "其他少数民族".into();
    }
    ETHNICITIES
        .get(code as usize - 1)
        .map_or_else(|| code.to_string(), |s| s.to_string())
}

/// 5-year age bands, 80+ on top: band index → label.
fn age_band(age: i64) -> u32 {
    (age.max(0) / 5).min(16) as u32
}

fn age_band_label(band: u32) -> String {
    if band >= 16 {
        "80+".into()
    } else {
        format!("{}-{}", band * 5, band * 5 + 4)
    }
}

fn size_label(size: u32) -> String {
    if size >= 8 {
        "8+".into()
    } else {
        size.to_string()
    }
}

/// For every row, the number of rows compatible with it (itself included): rows that agree on
/// every position where both have a value. Grouped by NULL pattern, so it costs a few hash
/// passes rather than a pairwise comparison.
pub fn compatible_counts<const N: usize>(rows: &[[Option<u32>; N]]) -> Vec<usize> {
    let mut distinct: HashMap<[Option<u32>; N], usize> = HashMap::new();
    for r in rows {
        *distinct.entry(*r).or_default() += 1;
    }
    let full: u32 = (1 << N) - 1;
    let mask = |t: &[Option<u32>; N]| -> u32 {
        t.iter()
            .enumerate()
            .filter(|(_, v)| v.is_none())
            .fold(0, |m, (i, _)| m | (1 << i))
    };
    let project = |t: &[Option<u32>; N], m: u32| -> Vec<u32> {
        (0..N)
            .filter(|i| m & (1 << i) != 0)
            .map(|i| t[i].expect("projected positions have values"))
            .collect()
    };
    let patterns: BTreeSet<u32> = distinct.keys().map(mask).collect();
    let mut maps: HashMap<(u32, u32), HashMap<Vec<u32>, usize>> = HashMap::new();
    let mut per_tuple: HashMap<[Option<u32>; N], usize> = HashMap::with_capacity(distinct.len());
    for t in distinct.keys() {
        let a = mask(t);
        let mut total = 0;
        for &b in &patterns {
            let m = !(a | b) & full;
            let map = maps.entry((b, m)).or_insert_with(|| {
                let mut map: HashMap<Vec<u32>, usize> = HashMap::new();
                for (u, c) in &distinct {
                    if mask(u) == b {
                        *map.entry(project(u, m)).or_default() += c;
                    }
                }
                map
            });
            total += map.get(&project(t, m)).copied().unwrap_or(0);
        }
        per_tuple.insert(*t, total);
    }
    rows.iter().map(|r| per_tuple[r]).collect()
}

/// Value frequencies per position (NULLs not counted).
fn frequencies<const N: usize>(rows: &[[Option<u32>; N]]) -> Vec<HashMap<u32, usize>> {
    let mut f = vec![HashMap::new(); N];
    for r in rows {
        for (i, v) in r.iter().enumerate() {
            if let Some(v) = v {
                *f[i].entry(*v).or_default() += 1;
            }
        }
    }
    f
}

/// Among `positions` with a value in `t`, the one whose value is rarest (ties: first position).
fn rarest<const N: usize>(
    t: &[Option<u32>; N],
    positions: &[usize],
    freq: &[HashMap<u32, usize>],
) -> Option<usize> {
    positions
        .iter()
        .filter_map(|&p| t[p].map(|v| (freq[p].get(&v).copied().unwrap_or(0), p)))
        .min()
        .map(|(_, p)| p)
}

/// Household-level quasi-identifiers: area, household size.
const H_AREA: usize = 0;
const H_SIZE: usize = 1;
/// Person-level quasi-identifiers follow the household's in a person's tuple.
const P_SEX: usize = 2;
const P_AGE: usize = 3;
const P_ETH: usize = 4;
const P_DIS: usize = 5;
const PERSON_QI: [usize; 4] = [P_SEX, P_AGE, P_ETH, P_DIS];
const HOUSEHOLD_QI: [usize; 2] = [H_AREA, H_SIZE];
const QI_NAMES: [&str; 6] = [
    "area_code",
    "household_size",
    "sex",
    "age_band",
    "ethnicity_group",
    "disabled",
];

/// The outcome of anonymization, for the risk report.
#[derive(Debug, Clone, Serialize)]
pub struct Anonymized {
    /// Household tuples [area, size] after generalization and suppression.
    #[serde(skip)]
    pub households: Vec<[Option<u32>; 2]>,
    /// Person tuples [area, size, sex, age band, ethnicity group, disabled].
    #[serde(skip)]
    pub persons: Vec<[Option<u32>; 6]>,
    pub generalized_households: usize,
    pub rounds: usize,
}

/// Make households and persons k-anonymous (see the module header). `person_household[i]` is
/// the household index of person `i`; `persons[i]` holds the person-level values at positions
/// 2..6 (positions 0..2 are filled from the household).
pub fn anonymize(
    county: &[u32],
    size: &[u32],
    person_household: &[usize],
    person_values: &[[Option<u32>; 4]],
    k: usize,
) -> Result<Anonymized, ExtractError> {
    if county.len() < k {
        return Err(ExtractError::TooFew {
            table: "households",
            records: county.len(),
            k,
        });
    }
    if person_values.len() < k {
        return Err(ExtractError::TooFew {
            table: "persons",
            records: person_values.len(),
            k,
        });
    }
    let mut hh: Vec<[Option<u32>; 2]> = county
        .iter()
        .zip(size)
        .map(|(c, s)| [Some(*c), Some(*s)])
        .collect();
    let person_tuple = |hh: &[[Option<u32>; 2]], i: usize| -> [Option<u32>; 6] {
        let h = hh[person_household[i]];
        let v = person_values[i];
        [h[0], h[1], v[0], v[1], v[2], v[3]]
    };
    let mut persons: Vec<[Option<u32>; 6]> = (0..person_values.len())
        .map(|i| person_tuple(&hh, i))
        .collect();

    // 1. County → prefecture for households in small classes, or with a member in one.
    let hc = compatible_counts(&hh);
    let pc = compatible_counts(&persons);
    let mut generalize = vec![false; hh.len()];
    for (h, c) in hc.iter().enumerate() {
        generalize[h] |= *c < k;
    }
    for (i, c) in pc.iter().enumerate() {
        if *c < k {
            generalize[person_household[i]] = true;
        }
    }
    let mut generalized_households = 0;
    for (h, g) in generalize.iter().enumerate() {
        if *g {
            hh[h][H_AREA] = Some(county[h] / 100);
            generalized_households += 1;
        }
    }

    // 2–3. Local suppression until both tables are k-anonymous.
    let mut rounds = 0;
    loop {
        rounds += 1;
        loop {
            let hc = compatible_counts(&hh);
            let failing: Vec<usize> = (0..hh.len()).filter(|&h| hc[h] < k).collect();
            if failing.is_empty() {
                break;
            }
            let freq = frequencies(&hh);
            for h in failing {
                if let Some(p) = rarest(&hh[h], &HOUSEHOLD_QI, &freq) {
                    hh[h][p] = None;
                }
            }
        }
        persons = (0..person_values.len())
            .map(|i| {
                let mut t = person_tuple(&hh, i);
                for p in PERSON_QI {
                    if persons[i][p].is_none() {
                        t[p] = None;
                    }
                }
                t
            })
            .collect();
        let pc = compatible_counts(&persons);
        let failing: Vec<usize> = (0..persons.len()).filter(|&i| pc[i] < k).collect();
        if failing.is_empty() {
            break;
        }
        let freq = frequencies(&persons);
        let mut household_changed = false;
        for i in failing {
            match rarest(&persons[i], &PERSON_QI, &freq) {
                Some(p) => persons[i][p] = None,
                None => {
                    let h = person_household[i];
                    let hfreq = frequencies(&hh);
                    if let Some(p) = rarest(&hh[h], &HOUSEHOLD_QI, &hfreq) {
                        hh[h][p] = None;
                        household_changed = true;
                    }
                }
            }
        }
        let _ = household_changed;
    }
    Ok(Anonymized {
        households: hh,
        persons,
        generalized_households,
        rounds,
    })
}

/// The disclosure-risk report: never a record, only counts and shares.
#[derive(Debug, Clone, Serialize)]
pub struct RiskReport {
    pub k: usize,
    pub snapshot: u64,
    pub persons: usize,
    pub households: usize,
    /// Households (and their persons) whose area was generalized to the prefecture.
    pub area_generalized_households: usize,
    pub area_generalized_share: f64,
    /// Per quasi-identifier: records with the value suppressed, and their share.
    pub suppressed_persons: BTreeMap<String, (usize, f64)>,
    pub suppressed_households: BTreeMap<String, (usize, f64)>,
    /// Persons by the number of records they are compatible with (binned).
    pub class_sizes: BTreeMap<String, usize>,
    /// The smallest number of compatible records of any person and any household (≥ k).
    pub min_class_size_persons: usize,
    pub min_class_size_households: usize,
    /// Persons unique on the quasi-identifiers (county level, nothing suppressed) before, and
    /// after anonymization.
    pub sample_uniques_before: usize,
    pub sample_uniques_after: usize,
    /// l-diversity of health_status within the equivalence classes (identical tuples).
    pub l_diversity_min: usize,
    pub classes: usize,
    pub classes_with_l1: usize,
    pub persons_in_l1_classes: usize,
    /// Ethnicity groups published separately (others are 其他少数民族).
    pub ethnicity_groups: Vec<String>,
    /// Income per capita top code (yuan) and the share of households top-coded.
    pub income_top_code: f64,
    pub income_top_coded_share: f64,
}

fn bin(n: usize) -> &'static str {
    match n {
        0..=1 => "01: 1",
        2 => "02: 2",
        3 => "03: 3",
        4 => "04: 4",
        5..=9 => "05: 5-9",
        10..=19 => "06: 10-19",
        20..=49 => "07: 20-49",
        50..=99 => "08: 50-99",
        _ => "09: 100+",
    }
}

/// Write the extract; returns the risk report.
pub async fn write(opts: &ExtractOptions) -> Result<RiskReport, ExtractError> {
    if opts.k < 2 {
        return Err(ExtractError::BadK(opts.k));
    }
    let wh = Warehouse::open(&opts.warehouse, false)?;
    let snapshot = wh
        .snapshot_as_of(opts.as_of)
        .await?
        .ok_or_else(|| ExtractError::NoSnapshot(opts.warehouse.clone()))?;
    let ctx = session(&opts.engine)?;
    wh.register(&ctx, Some(&snapshot))?;
    register_pseudonym(&ctx, opts.key.clone());
    let query = |text: &str| text.replace("${reference_date}", REFERENCE_DATE);
    tracing::info!("selecting households and persons");
    let hb = ctx.sql(&query(HOUSEHOLDS_SQL)).await?.collect().await?;
    let pb = ctx.sql(&query(PERSONS_SQL)).await?.collect().await?;
    let households = concat(&hb)?;
    let persons = concat(&pb)?;
    tracing::info!(
        households = households.num_rows(),
        persons = persons.num_rows(),
        "anonymizing"
    );

    // Household-level values.
    let h_id = utf8(&households, "_household");
    let county: Vec<u32> = utf8(&households, "_county")
        .iter()
        .map(|c| c.and_then(|c| c.parse().ok()).unwrap_or(0))
        .collect();
    let size: Vec<u32> = int64(&households, "_size")
        .iter()
        .map(|s| s.unwrap_or(0).clamp(0, 8) as u32)
        .collect();
    let index: HashMap<&str, usize> = (0..h_id.len()).map(|i| (h_id.value(i), i)).collect();

    // Income: per capita, rounded to 100 yuan, top-coded at the percentile.
    let income = households
        .column_by_name("_income_per_capita")
        .expect("income column")
        .as_primitive::<Float64Type>()
        .clone();
    let rounded: Vec<Option<f64>> = income
        .iter()
        .map(|v| v.map(|v| (v / 100.0).round() * 100.0))
        .collect();
    let mut sorted: Vec<f64> = rounded.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let top = if sorted.is_empty() {
        0.0
    } else {
        let i = ((opts.income_top_percentile / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[i.clamp(1, sorted.len()) - 1]
    };
    let top_coded = rounded.iter().flatten().filter(|v| **v > top).count();
    let income_out: Float64Array = rounded.iter().map(|v| v.map(|v| v.min(top))).collect();

    // Person-level values.
    let p_hh: Vec<usize> = utf8(&persons, "_household")
        .iter()
        .map(|h| index[h.expect("household id")])
        .collect();
    let sex = int64(&persons, "sex");
    let age = int64(&persons, "_age");
    let eth = int64(&persons, "_ethnicity");
    let disabled = int64(&persons, "disabled");
    let health = int64(&persons, "health_status");
    let mut eth_counts: BTreeMap<u32, usize> = BTreeMap::new();
    for e in eth.iter().flatten() {
        *eth_counts.entry(e as u32).or_default() += 1;
    }
    let kept: BTreeSet<u32> = eth_counts
        .iter()
        .filter(|(c, n)| **c == 1 || **n >= opts.min_ethnicity_persons)
        .map(|(c, _)| *c)
        .collect();
    let person_values: Vec<[Option<u32>; 4]> = (0..persons.num_rows())
        .map(|i| {
            [
                sex.is_valid(i).then(|| sex.value(i) as u32),
                age.is_valid(i).then(|| age_band(age.value(i))),
                eth.is_valid(i).then(|| {
                    let e = eth.value(i) as u32;
                    if kept.contains(&e) {
                        e
                    } else {
                        OTHER_MINORITIES
                    }
                }),
                disabled.is_valid(i).then(|| disabled.value(i) as u32),
            ]
        })
        .collect();
    let before: Vec<[Option<u32>; 6]> = (0..persons.num_rows())
        .map(|i| {
            let h = p_hh[i];
            let v = person_values[i];
            [Some(county[h]), Some(size[h]), v[0], v[1], v[2], v[3]]
        })
        .collect();
    let uniques_before = compatible_counts(&before)
        .iter()
        .filter(|c| **c == 1)
        .count();

    let anon = anonymize(&county, &size, &p_hh, &person_values, opts.k)?;
    let pc = compatible_counts(&anon.persons);
    let hc = compatible_counts(&anon.households);

    // Output tables.
    let area = |t: Option<u32>| t.map(|a| a.to_string());
    let h_out = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("household_key", DataType::Utf8, false),
            Field::new("area_code", DataType::Utf8, true),
            Field::new("household_size", DataType::Utf8, true),
            Field::new("income_per_capita", DataType::Float64, true),
        ])),
        vec![
            households
                .column_by_name("household_key")
                .expect("key")
                .clone(),
            Arc::new(StringArray::from_iter(
                anon.households.iter().map(|t| area(t[H_AREA])),
            )),
            Arc::new(StringArray::from_iter(
                anon.households.iter().map(|t| t[H_SIZE].map(size_label)),
            )),
            Arc::new(income_out.clone()),
        ],
    )
    .map_err(datafusion::error::DataFusionError::from)?;
    let h_rest: Vec<&str> = [
        "poverty_attribute",
        "registered_year",
        "exit_year",
        "food_enough",
        "clothing_ok",
        "housing_route",
        "water_quantity_ok",
        "water_quality_ok",
        "water_access",
        "water_reliability",
        "poor_village",
        "county_type",
        "weight",
    ]
    .to_vec();
    let research_households = append(&h_out, &households, &h_rest, None)?;

    let take_idx = UInt32Array::from_iter_values(p_hh.iter().map(|h| *h as u32));
    let p_out = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("person_key", DataType::Utf8, false),
            Field::new("household_key", DataType::Utf8, false),
            Field::new("area_code", DataType::Utf8, true),
            Field::new("sex", DataType::Int64, true),
            Field::new("age_band", DataType::Utf8, true),
            Field::new("ethnicity_group", DataType::Utf8, true),
            Field::new("household_size", DataType::Utf8, true),
            Field::new("disabled", DataType::Int64, true),
        ])),
        vec![
            persons.column_by_name("person_key").expect("key").clone(),
            persons
                .column_by_name("household_key")
                .expect("key")
                .clone(),
            Arc::new(StringArray::from_iter(
                anon.persons.iter().map(|t| area(t[H_AREA])),
            )),
            Arc::new(Int64Array::from_iter(
                anon.persons.iter().map(|t| t[P_SEX].map(i64::from)),
            )),
            Arc::new(StringArray::from_iter(
                anon.persons.iter().map(|t| t[P_AGE].map(age_band_label)),
            )),
            Arc::new(StringArray::from_iter(
                anon.persons.iter().map(|t| t[P_ETH].map(ethnicity_name)),
            )),
            Arc::new(StringArray::from_iter(
                anon.persons.iter().map(|t| t[H_SIZE].map(size_label)),
            )),
            Arc::new(Int64Array::from_iter(
                anon.persons.iter().map(|t| t[P_DIS].map(i64::from)),
            )),
        ],
    )
    .map_err(datafusion::error::DataFusionError::from)?;
    let p_out = append(
        &p_out,
        &persons,
        &[
            "relation",
            "health_status",
            "schooling_status",
            "medical_insurance",
        ],
        None,
    )?;
    let h_income = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "income_per_capita",
            DataType::Float64,
            true,
        )])),
        vec![Arc::new(income_out)],
    )
    .map_err(datafusion::error::DataFusionError::from)?;
    let with_household = append(
        &p_out,
        &households,
        &[
            "poverty_attribute",
            "registered_year",
            "exit_year",
            "poor_village",
            "county_type",
            "weight",
        ],
        Some(&take_idx),
    )?;
    let research_persons = append(
        &with_household,
        &h_income,
        &["income_per_capita"],
        Some(&take_idx),
    )?;

    std::fs::create_dir_all(&opts.out).map_err(|source| ExtractError::WriteFile {
        path: opts.out.display().to_string(),
        source,
    })?;
    crate::pipeline::write_output(&opts.out, "research_persons", &[research_persons])?;
    crate::pipeline::write_output(&opts.out, "research_households", &[research_households])?;

    // The risk report.
    let n = anon.persons.len();
    let nh = anon.households.len();
    let share = |c: usize, of: usize| if of == 0 { 0.0 } else { c as f64 / of as f64 };
    let mut suppressed_persons = BTreeMap::new();
    for (p, name) in QI_NAMES.iter().enumerate() {
        let c = anon.persons.iter().filter(|t| t[p].is_none()).count();
        suppressed_persons.insert(name.to_string(), (c, share(c, n)));
    }
    let mut suppressed_households = BTreeMap::new();
    for (p, name) in QI_NAMES[..2].iter().enumerate() {
        let c = anon.households.iter().filter(|t| t[p].is_none()).count();
        suppressed_households.insert(name.to_string(), (c, share(c, nh)));
    }
    let mut class_sizes = BTreeMap::new();
    for c in &pc {
        *class_sizes.entry(bin(*c).to_string()).or_default() += 1;
    }
    // l-diversity of health_status within classes of identical tuples.
    let mut classes: HashMap<[Option<u32>; 6], (BTreeSet<i64>, usize)> = HashMap::new();
    for (i, t) in anon.persons.iter().enumerate() {
        let e = classes.entry(*t).or_default();
        if health.is_valid(i) {
            e.0.insert(health.value(i));
        }
        e.1 += 1;
    }
    let l1: Vec<&(BTreeSet<i64>, usize)> = classes.values().filter(|(s, _)| s.len() <= 1).collect();
    let report = RiskReport {
        k: opts.k,
        snapshot: snapshot.id,
        persons: n,
        households: nh,
        area_generalized_households: anon.generalized_households,
        area_generalized_share: share(anon.generalized_households, nh),
        suppressed_persons,
        suppressed_households,
        class_sizes,
        min_class_size_persons: pc.iter().copied().min().unwrap_or(0),
        min_class_size_households: hc.iter().copied().min().unwrap_or(0),
        sample_uniques_before: uniques_before,
        sample_uniques_after: pc.iter().filter(|c| **c == 1).count(),
        l_diversity_min: classes.values().map(|(s, _)| s.len()).min().unwrap_or(0),
        classes: classes.len(),
        classes_with_l1: l1.len(),
        persons_in_l1_classes: l1.iter().map(|(_, c)| c).sum(),
        ethnicity_groups: kept
            .iter()
            .map(|c| ethnicity_name(*c))
            .chain((eth_counts.len() > kept.len()).then(|| ethnicity_name(OTHER_MINORITIES)))
            .collect(),
        income_top_code: top,
        income_top_coded_share: share(top_coded, nh),
    };
    let json = serde_json::to_string_pretty(&report).expect("report serializes") + "\n";
    let jpath = opts.out.join("risk_report.json");
    std::fs::write(&jpath, json).map_err(|source| ExtractError::WriteFile {
        path: jpath.display().to_string(),
        source,
    })?;
    write_published(&ctx, opts).await?;
    let hpath = opts.out.join("risk_report.html");
    std::fs::write(&hpath, risk_html(&report)).map_err(|source| ExtractError::WriteFile {
        path: hpath.display().to_string(),
        source,
    })?;
    Ok(report)
}

/// The published county tables: `published_county_counts.csv` (long) and
/// `published_tables.xlsx` (one sheet per table, suppressed cells marked ×).
async fn write_published(ctx: &SessionContext, opts: &ExtractOptions) -> Result<(), ExtractError> {
    use crate::report::xlsx::{X, sheet, workbook};
    let batches = ctx.sql(PUBLISHED_SQL).await?.collect().await?;
    let b = concat(&batches)?;
    let (county, table, category, n) = (
        utf8(&b, "county_code"),
        utf8(&b, "table_name"),
        utf8(&b, "category"),
        int64(&b, "n"),
    );
    let mut csv = String::from("\u{feff}area_code,level,table,category,count,status\n");
    let mut wb = workbook("公开发布县级汇总表", "");
    let xerr = |e: rust_xlsxwriter::XlsxError| ExtractError::WriteFile {
        path: opts.out.join("published_tables.xlsx").display().to_string(),
        source: std::io::Error::other(e),
    };
    for (name, title, cats) in tables::TABLES {
        let mut counts = BTreeMap::new();
        for i in 0..b.num_rows() {
            if table.value(i) == *name {
                counts.insert(
                    (county.value(i).to_string(), category.value(i).to_string()),
                    int64_value(&n, i),
                );
            }
        }
        let t = tables::build(name, title, cats, &counts, opts.cell_threshold);
        let mut all: Vec<String> = t.categories.clone();
        all.push(tables::TOTAL.to_string());
        let mut rows = Vec::new();
        for area in &t.areas {
            let mut row = vec![
                X::Str(area.clone()),
                X::Str(tables::level(area).to_string()),
            ];
            for c in &all {
                let (count, status) = t.cells[&(area.clone(), c.clone())];
                let shown = if status == tables::Status::Ok {
                    count.to_string()
                } else {
                    String::new()
                };
                csv.push_str(&format!(
                    "{area},{},{name},{c},{shown},{}\n",
                    tables::level(area),
                    status.as_str()
                ));
                row.push(if status == tables::Status::Ok {
                    X::Int(count as i64)
                } else {
                    X::Str("×".into())
                });
            }
            rows.push(row);
        }
        let mut headers: Vec<&str> = vec!["地区代码", "层级"];
        headers.extend(t.categories.iter().map(String::as_str));
        headers.push("合计");
        sheet(
            &mut wb,
            title.trim_end_matches('）').replace('（', " ").as_str(),
            &headers,
            &rows,
        )
        .map_err(xerr)?;
    }
    let path = opts.out.join("published_county_counts.csv");
    std::fs::write(&path, csv).map_err(|source| ExtractError::WriteFile {
        path: path.display().to_string(),
        source,
    })?;
    let path = opts.out.join("published_tables.xlsx");
    wb.save(&path).map_err(xerr)?;
    Ok(())
}

fn int64_value(a: &Int64Array, i: usize) -> u64 {
    if a.is_valid(i) {
        a.value(i).max(0) as u64
    } else {
        0
    }
}

fn risk_html(r: &RiskReport) -> String {
    use crate::report::html::{Td, esc, page, table};
    let mut b = String::from("<h1>研究用数据集披露风险报告</h1>\n");
    b.push_str(&format!(
        "<p class=\"sub\">快照 {} · k = {} · 人员 {} 条 · 住户 {} 条</p>\n",
        r.snapshot, r.k, r.persons, r.households
    ));
    b.push_str(&format!(
        "<h2>k-匿名</h2>\n<p>每条记录至少与 {} 条记录（含自身）在准标识变量上相容（缺失值与任何值相容）：人员最小为 {}，住户最小为 {}。\
         匿名化前在县级准标识组合上唯一的人员 {} 人，匿名化后 {} 人。</p>\n",
        r.k, r.min_class_size_persons, r.min_class_size_households, r.sample_uniques_before, r.sample_uniques_after
    ));
    let rows: Vec<_> = QI_NAMES
        .iter()
        .map(|q| {
            let (c, s) = r.suppressed_persons[*q];
            let h = r
                .suppressed_households
                .get(*q)
                .map_or("—".to_string(), |(c, s)| {
                    format!("{c} ({:.3}%)", 100.0 * s)
                });
            (
                None,
                vec![
                    Td::Text(q.to_string()),
                    Td::Num(format!("{c} ({:.3}%)", 100.0 * s)),
                    Td::Num(h),
                ],
            )
        })
        .collect();
    b.push_str(&format!(
        "<h2>泛化与局部抑制</h2>\n<p>地区由县泛化为地市的住户 {} 户（{:.3}%）。各变量被抑制（置为缺失）的记录：</p>\n",
        r.area_generalized_households,
        100.0 * r.area_generalized_share
    ));
    b.push_str(&table(&["变量", "人员", "住户"], &rows));
    let rows: Vec<_> = r
        .class_sizes
        .iter()
        .map(|(k, v)| {
            (
                None,
                vec![
                    Td::Text(k.split_once(": ").map_or(k.as_str(), |x| x.1).to_string()),
                    Td::Num(v.to_string()),
                ],
            )
        })
        .collect();
    b.push_str("<h2>等价类规模分布（人员）</h2>\n");
    b.push_str(&table(&["相容记录数", "人员数"], &rows));
    b.push_str(&format!(
        "<h2>健康状况的 l-多样性</h2>\n<p>等价类 {} 个，最小 l = {}；l = 1 的等价类 {} 个，涉及人员 {} 人。</p>\n",
        r.classes, r.l_diversity_min, r.classes_with_l1, r.persons_in_l1_classes
    ));
    b.push_str(&format!(
        "<h2>其他处理</h2>\n<ul><li>人均纯收入取整到100元，顶端编码为 {} 元（{:.2}% 的住户被顶端编码）。</li>\
         <li>单列的民族：{}。</li><li>年龄按5岁分组，80岁及以上合并；家庭人口数8人及以上合并；残疾等级仅保留是否残疾。</li>\
         <li>姓名、身份证号码、户编码、村级代码和村、乡镇名称已删除；人员和住户以密钥散列（HMAC-SHA-256）的假名标识。</li></ul>\n",
        r.income_top_code,
        100.0 * r.income_top_coded_share,
        esc(&r.ethnicity_groups.join("、"))
    ));
    page("研究用数据集披露风险报告", &b, "")
}

fn concat(batches: &[RecordBatch]) -> Result<RecordBatch, ExtractError> {
    let schema = batches
        .first()
        .map(RecordBatch::schema)
        .unwrap_or_else(|| Arc::new(Schema::empty()));
    Ok(arrow::compute::concat_batches(&schema, batches)
        .map_err(datafusion::error::DataFusionError::from)?)
}

fn utf8(b: &RecordBatch, name: &str) -> StringArray {
    let c = b.column_by_name(name).expect("column selected by the SQL");
    arrow::compute::cast(c, &DataType::Utf8)
        .expect("castable to text")
        .as_string::<i32>()
        .clone()
}

fn int64(b: &RecordBatch, name: &str) -> Int64Array {
    let c = b.column_by_name(name).expect("column selected by the SQL");
    arrow::compute::cast(c, &DataType::Int64)
        .expect("castable to integer")
        .as_primitive::<Int64Type>()
        .clone()
}

/// `base` with the named columns of `from` appended (taken by `take` when given).
fn append(
    base: &RecordBatch,
    from: &RecordBatch,
    names: &[&str],
    take: Option<&UInt32Array>,
) -> Result<RecordBatch, ExtractError> {
    let mut fields: Vec<Field> = base
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut cols: Vec<ArrayRef> = base.columns().to_vec();
    for n in names {
        let c = from.column_by_name(n).expect("column selected by the SQL");
        let c = match take {
            Some(idx) => arrow::compute::take(c.as_ref(), idx, None)
                .map_err(datafusion::error::DataFusionError::from)?,
            None => c.clone(),
        };
        fields.push(Field::new(*n, c.data_type().clone(), true));
        cols.push(c);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(datafusion::error::DataFusionError::from)?)
}

/// Register `pseudonym(kind, value)` with the key inside the closure (never in the plan).
fn register_pseudonym(ctx: &SessionContext, key: Key) {
    ctx.register_udf(create_udf(
        "pseudonym",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let kind = arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
            let value = arrow::compute::cast(&arrays[1], &DataType::Utf8)?;
            let (kind, value) = (kind.as_string::<i32>(), value.as_string::<i32>());
            let out: StringArray = kind
                .iter()
                .zip(value.iter())
                .map(|(k, v)| Some(key.pseudonym(k?, v?)))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatible_counts_treat_null_as_any_value() {
        let rows = [
            [Some(1), Some(1)],
            [Some(1), Some(1)],
            [Some(1), Some(2)],
            [None, Some(2)],
            [Some(3), None],
            [None, None],
        ];
        // Brute force.
        let brute: Vec<usize> = rows
            .iter()
            .map(|a| {
                rows.iter()
                    .filter(|b| {
                        a.iter()
                            .zip(b.iter())
                            .all(|(x, y)| x.is_none() || y.is_none() || x == y)
                    })
                    .count()
            })
            .collect();
        assert_eq!(compatible_counts(&rows), brute);
        assert_eq!(brute, vec![3, 3, 3, 4, 3, 6]);
    }

    #[test]
    fn pseudonyms_are_keyed() {
        let a = Key::from_bytes(b"0123456789abcdef");
        let b = Key::from_bytes(b"0123456789abcdeF");
        assert_eq!(a.pseudonym("person", "x"), a.pseudonym("person", "x"));
        assert_ne!(a.pseudonym("person", "x"), b.pseudonym("person", "x"));
        assert_ne!(a.pseudonym("person", "x"), a.pseudonym("household", "x"));
        // RFC 4231 test case 2 layout check of the HMAC itself.
        let k = Key::from_bytes(b"Jefe");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&k.0).unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(!format!("{a:?}").contains("0123"));
    }

    #[test]
    fn anonymize_reaches_k_and_generalizes_first() {
        // Two counties of one prefecture: 520101 with 6 households of size 3, 520102 with one
        // household of size 3 (unique at county level → prefecture).
        let county = [520101, 520101, 520101, 520101, 520101, 520101, 520102];
        let size = [3; 7];
        let person_household: Vec<usize> = (0..7).collect();
        let mut values = vec![[Some(1), Some(6), Some(1), Some(2)]; 7];
        values[0] = [Some(2), Some(16), Some(3), Some(1)]; // unique person
        let a = anonymize(&county, &size, &person_household, &values, 3).unwrap();
        assert!(compatible_counts(&a.persons).iter().all(|c| *c >= 3));
        assert!(compatible_counts(&a.households).iter().all(|c| *c >= 3));
        assert!(a.generalized_households >= 2);
        assert!(a.persons[0][P_SEX..].iter().any(Option::is_none));
        assert!(anonymize(&county[..2], &size[..2], &[0, 1], &values[..2], 3).is_err());
    }
}
