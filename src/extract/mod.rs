//! Research extracts (research-extracts.md §1): anonymized person and household microdata for
//! researchers, and the disclosure-risk report beside them.
//!
//! The flow: `queries/extract/persons.sql` and `households.sql` select the census population
//! from one warehouse snapshot without names, ID numbers or codes finer than the county. This
//! module streams them twice, sorted by household and person (DataFusion sorts, spilling to
//! disk beyond the memory limit), so memory stays bounded at national size:
//!
//! - pass 1 keeps only the quasi-identifiers, packed into 8 bytes per person and household
//!   (area, household size 8+, sex, 5-year age band, ethnicity group, disabled yes/no), and an
//!   income histogram;
//! - the quasi-identifiers are made k-anonymous (below);
//! - pass 2 reads the same rows again and writes each batch as it comes, replacing the person
//!   and household keys by keyed pseudonyms (HMAC-SHA-256 under the operator's key, which is
//!   never written or logged), with income rounded to 100 yuan and top-coded.
//!
//! k-anonymity:
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
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

pub mod tables;

use crate::engine::{EngineConfig, session};
use crate::output::{OutputError, OutputWriter};
use crate::warehouse::{Warehouse, WarehouseError};

/// The SQL of the extract (embedded, so the binary works from any directory).
const PERSONS_SQL: &str = include_str!("../../queries/extract/persons.sql");
const HOUSEHOLDS_SQL: &str = include_str!("../../queries/extract/households.sql");
const PUBLISHED_SQL: &str = include_str!("../../queries/extract/published_counts.sql");
/// Ages are completed years on the census reference date.
const REFERENCE_DATE: &str = crate::contract::schema::REFERENCE_DATE;

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
    #[error(
        "the {0} of the second pass differ from the first: was the snapshot changed while the extract ran?"
    )]
    Inconsistent(&'static str),
    #[error("the warehouse {0} has no committed snapshot: ingest submissions first")]
    NoSnapshot(String),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error("extract query: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Write(#[from] OutputError),
    #[error("the extract query has no column `{0}` (queries/extract changed?)")]
    MissingColumn(String),
    #[error("writing {path}: {source}")]
    WriteFile {
        path: String,
        source: std::io::Error,
    },
}

/// The pseudonymization key. Its bytes are never printed, not even by `Debug`.
#[derive(Clone)]
pub struct Key {
    len: usize,
    /// The HMAC state after absorbing the key, cloned for every pseudonym.
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key(<{} bytes, redacted>)", self.len)
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
        Ok(Key::from_bytes(&bytes))
    }

    pub fn from_bytes(bytes: &[u8]) -> Key {
        Key {
            len: bytes.len(),
            // reason: HMAC accepts a key of any length.
            mac: <Hmac<Sha256> as KeyInit>::new_from_slice(bytes).expect("any key size"),
        }
    }

    /// The pseudonym of `value` of a kind (`person`, `household`): hex HMAC-SHA-256 of
    /// `kind \x1f value`.
    pub fn pseudonym(&self, kind: &str, value: &str) -> String {
        let mut mac = self.mac.clone();
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
    /// Show a progress bar while writing.
    pub progress: bool,
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

/// Quasi-identifier tuples, packed one per record into a `u64`: a field per variable, 0 when
/// the value is missing or suppressed (a NULL, compatible with every value). The area is the
/// county or prefecture code itself; the other fields hold their value + 1.
const AREA: usize = 0;
const SIZE: usize = 1;
const SEX: usize = 2;
const AGE: usize = 3;
const ETH: usize = 4;
const DIS: usize = 5;
const SHIFT: [u32; 6] = [40, 32, 24, 16, 8, 0];
const WIDTH: [u64; 6] = [0xF_FFFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
/// Household-level quasi-identifiers (area, household size), and the person-level ones that
/// follow them in a person's tuple.
const HOUSEHOLD_QI: [usize; 2] = [AREA, SIZE];
const PERSON_QI: [usize; 4] = [SEX, AGE, ETH, DIS];
const ALL_QI: [usize; 6] = [AREA, SIZE, SEX, AGE, ETH, DIS];
const QI_NAMES: [&str; 6] = [
    "area_code",
    "household_size",
    "sex",
    "age_band",
    "ethnicity_group",
    "disabled",
];

fn field_mask(p: usize) -> u64 {
    WIDTH[p] << SHIFT[p]
}

/// The value at position `p`: 0 when missing, else the area code or the value + 1.
fn field(t: u64, p: usize) -> u32 {
    ((t >> SHIFT[p]) & WIDTH[p]) as u32
}

/// A household tuple from its area code and household size (`None`: missing).
pub fn pack_household(area: Option<u32>, size: Option<u32>) -> u64 {
    let mut t = 0;
    if let Some(a) = area {
        t |= (u64::from(a) & WIDTH[AREA]) << SHIFT[AREA];
    }
    if let Some(s) = size {
        t |= u64::from(s.min(254) + 1) << SHIFT[SIZE];
    }
    t
}

/// The person-level part of a person tuple: sex, age band, ethnicity group, disabled.
pub fn pack_person(values: [Option<u32>; 4]) -> u32 {
    values
        .iter()
        .zip(PERSON_QI)
        .filter_map(|(v, p)| v.map(|v| (v.min(254) + 1) << SHIFT[p]))
        .fold(0, |t, v| t | v)
}

/// The value at `p` as published: the area code itself, the other variables without the + 1.
fn value(t: u64, p: usize) -> Option<u32> {
    match field(t, p) {
        0 => None,
        v if p == AREA => Some(v),
        v => Some(v - 1),
    }
}

/// Records per distinct tuple.
fn tally(tuples: impl Iterator<Item = u64>) -> HashMap<u64, u64> {
    let mut m = HashMap::new();
    for t in tuples {
        *m.entry(t).or_default() += 1;
    }
    m
}

/// For every distinct tuple of `distinct` (tuple → records), the number of records compatible
/// with it, itself included: records that agree with it at every position of `positions` where
/// both have a value. Tuples are grouped by their pattern of missing values, so it costs a
/// hash pass per pair of patterns rather than a comparison per pair of records.
pub fn compatible_counts(distinct: &HashMap<u64, u64>, positions: &[usize]) -> HashMap<u64, u64> {
    let all = positions.iter().fold(0, |m, &p| m | field_mask(p));
    let nulls = |t: u64| {
        positions
            .iter()
            .filter(|&&p| field(t, p) == 0)
            .fold(0, |m, &p| m | field_mask(p))
    };
    let mut by_pattern: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for (&t, &c) in distinct {
        by_pattern.entry(nulls(t)).or_default().push((t, c));
    }
    let mut out = HashMap::with_capacity(distinct.len());
    for (&a, tuples) in &by_pattern {
        let mut totals = vec![0u64; tuples.len()];
        for (&b, others) in &by_pattern {
            // The positions where both patterns have values.
            let m = all & !(a | b);
            let mut projected: HashMap<u64, u64> = HashMap::new();
            for &(u, c) in others {
                *projected.entry(u & m).or_default() += c;
            }
            for (total, &(t, _)) in totals.iter_mut().zip(tuples) {
                *total += projected.get(&(t & m)).copied().unwrap_or(0);
            }
        }
        out.extend(tuples.iter().zip(totals).map(|(&(t, _), n)| (t, n)));
    }
    out
}

/// Records per value at each of `positions` (missing values not counted).
fn frequencies(distinct: &HashMap<u64, u64>, positions: &[usize]) -> [HashMap<u32, u64>; 6] {
    let mut f: [HashMap<u32, u64>; 6] = Default::default();
    for (&t, &c) in distinct {
        for &p in positions {
            let v = field(t, p);
            if v != 0 {
                *f[p].entry(v).or_default() += c;
            }
        }
    }
    f
}

/// Among `positions` with a value in `t`, the one whose value is rarest (ties: first position).
fn rarest(t: u64, positions: &[usize], freq: &[HashMap<u32, u64>; 6]) -> Option<usize> {
    positions
        .iter()
        .filter(|&&p| field(t, p) != 0)
        .map(|&p| (freq[p].get(&field(t, p)).copied().unwrap_or(0), p))
        .min()
        .map(|(_, p)| p)
}

/// The anonymized quasi-identifiers: household tuples, and persons as their household's index
/// and their own (person-level) part.
#[derive(Debug, Clone)]
pub struct Anonymized {
    pub households: Vec<u64>,
    pub person_household: Vec<u32>,
    pub person_values: Vec<u32>,
    pub generalized_households: usize,
    pub rounds: usize,
}

impl Anonymized {
    /// The full tuple of person `i`.
    pub fn person(&self, i: usize) -> u64 {
        self.households[self.person_household[i] as usize] | u64::from(self.person_values[i])
    }

    fn person_tally(&self) -> HashMap<u64, u64> {
        tally((0..self.person_values.len()).map(|i| self.person(i)))
    }
}

/// Make households and persons k-anonymous (see the module header). `households` are packed
/// household tuples with the county as area; person `i` belongs to household
/// `person_household[i]` and has the person-level values `person_values[i]`
/// ([`pack_person`]). Only the packed tuples are held: 8 bytes per household and per person.
pub fn anonymize(
    households: Vec<u64>,
    person_household: Vec<u32>,
    person_values: Vec<u32>,
    k: usize,
) -> Result<Anonymized, ExtractError> {
    // An empty census is trivially k-anonymous: its tables are written empty.
    if !households.is_empty() && households.len() < k {
        return Err(ExtractError::TooFew {
            table: "households",
            records: households.len(),
            k,
        });
    }
    if !person_values.is_empty() && person_values.len() < k {
        return Err(ExtractError::TooFew {
            table: "persons",
            records: person_values.len(),
            k,
        });
    }
    let k = k as u64;
    let mut a = Anonymized {
        households,
        person_household,
        person_values,
        generalized_households: 0,
        rounds: 0,
    };

    // 1. County → prefecture for households in small classes, or with a member in one.
    let hc = compatible_counts(&tally(a.households.iter().copied()), &HOUSEHOLD_QI);
    let mut generalize: Vec<bool> = a.households.iter().map(|t| hc[t] < k).collect();
    drop(hc);
    let pc = compatible_counts(&a.person_tally(), &ALL_QI);
    for i in 0..a.person_values.len() {
        if pc[&a.person(i)] < k {
            generalize[a.person_household[i] as usize] = true;
        }
    }
    drop(pc);
    for (t, g) in a.households.iter_mut().zip(&generalize) {
        if *g {
            let prefecture = field(*t, AREA) / 100;
            *t = (*t & !field_mask(AREA)) | (u64::from(prefecture) << SHIFT[AREA]);
            a.generalized_households += 1;
        }
    }
    drop(generalize);

    // 2–3. Local suppression until both tables are k-anonymous. Which value a record loses
    // depends only on its tuple and the frequencies, so records with one tuple fare alike.
    loop {
        a.rounds += 1;
        loop {
            let distinct = tally(a.households.iter().copied());
            let hc = compatible_counts(&distinct, &HOUSEHOLD_QI);
            let freq = frequencies(&distinct, &HOUSEHOLD_QI);
            let fix: HashMap<u64, u64> = hc
                .iter()
                .filter(|(_, c)| **c < k)
                .filter_map(|(&t, _)| {
                    rarest(t, &HOUSEHOLD_QI, &freq).map(|p| (t, t & !field_mask(p)))
                })
                .collect();
            if fix.is_empty() {
                break;
            }
            for t in a.households.iter_mut() {
                if let Some(n) = fix.get(t) {
                    *t = *n;
                }
            }
        }
        let distinct = a.person_tally();
        let pc = compatible_counts(&distinct, &ALL_QI);
        if pc.values().all(|c| *c >= k) {
            break;
        }
        let freq = frequencies(&distinct, &PERSON_QI);
        let hfreq = frequencies(&tally(a.households.iter().copied()), &HOUSEHOLD_QI);
        drop(distinct);
        for i in 0..a.person_values.len() {
            let t = a.person(i);
            if pc[&t] >= k {
                continue;
            }
            match rarest(t, &PERSON_QI, &freq) {
                Some(p) => a.person_values[i] &= !(field_mask(p) as u32),
                None => {
                    // Nothing personal left to suppress: the household's rarest value goes.
                    let h = &mut a.households[a.person_household[i] as usize];
                    if let Some(p) = rarest(*h, &HOUSEHOLD_QI, &hfreq) {
                        *h &= !field_mask(p);
                    }
                }
            }
        }
    }
    Ok(a)
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
///
/// Two passes over one snapshot, each streaming its rows sorted by household and person (the
/// sorts spill to disk beyond the memory limit): the first keeps only the packed
/// quasi-identifiers (8 bytes per person and per household) and an income histogram, which
/// [`anonymize`] makes k-anonymous; the second reads the same rows in the same order again and
/// writes each batch of both tables, Parquet and CSV, as it comes.
///
/// Everything is written into a private sibling of `OUT` and moved into place when complete:
/// a failure leaves the previous extract (or none), never a half-written folder.
pub async fn write(opts: &ExtractOptions) -> Result<RiskReport, ExtractError> {
    if opts.k < 2 {
        return Err(ExtractError::BadK(opts.k));
    }
    let wh = Warehouse::open(&opts.warehouse, false)?;
    let snapshot = wh
        .snapshot_as_of(opts.as_of)
        .await?
        .ok_or_else(|| ExtractError::NoSnapshot(opts.warehouse.clone()))?;
    let staged = crate::output::StagedDir::new(&opts.out, "risk_report.json")?;
    let inner = ExtractOptions {
        out: staged.path().to_path_buf(),
        ..opts.clone()
    };
    let report = write_into(&inner, &wh, snapshot).await?;
    staged.commit()?;
    Ok(report)
}

async fn write_into(
    opts: &ExtractOptions,
    wh: &Warehouse,
    snapshot: crate::warehouse::Snapshot,
) -> Result<RiskReport, ExtractError> {
    let ctx = session(&opts.engine.clone().for_rows(snapshot.rows("persons")))?;
    wh.register(&ctx, Some(&snapshot))?;
    let sql = |text: &str, columns: &str, order: &str| {
        let text = crate::engine::fill(text, [("reference_date", REFERENCE_DATE)]);
        format!("SELECT {columns} FROM (\n{text}\n) ORDER BY {order}")
    };
    let households_sql = |columns| sql(HOUSEHOLDS_SQL, columns, "_household");
    let persons_sql = |columns| sql(PERSONS_SQL, columns, "_household, _person");

    // Pass 1: the quasi-identifiers and incomes.
    tracing::info!("reading the quasi-identifiers (pass 1 of 2)");
    let mut frame = Frame::default();
    let mut cursor = HouseholdCursor::new(
        stream(
            &ctx,
            &households_sql("_household, _county, _size, _income_per_capita"),
        )
        .await?,
    );
    let mut persons = stream(
        &ctx,
        &persons_sql("_household, sex, _age, _ethnicity, disabled"),
    )
    .await?;
    while let Some(b) = persons.next().await {
        let b = b?;
        let (hid, sex, age, eth, dis) = (
            utf8(&b, "_household")?,
            int64(&b, "sex")?,
            int64(&b, "_age")?,
            int64(&b, "_ethnicity")?,
            int64(&b, "disabled")?,
        );
        let code =
            |a: &Int64Array, i: usize| a.is_valid(i).then(|| a.value(i).clamp(0, 254) as u32);
        for i in 0..b.num_rows() {
            while cursor.current() != Some(hid.value(i)) {
                if !cursor.advance(&mut frame).await? {
                    return Err(ExtractError::Inconsistent("persons"));
                }
            }
            frame
                .person_household
                .push((frame.households.len() - 1) as u32);
            frame.person_values.push(pack_person([
                code(&sex, i),
                age.is_valid(i).then(|| age_band(age.value(i))),
                code(&eth, i),
                code(&dis, i),
            ]));
        }
    }
    drop(persons);
    while cursor.advance(&mut frame).await? {}
    drop(cursor);
    let (n, nh) = (frame.person_values.len(), frame.households.len());
    tracing::info!(households = nh, persons = n, "anonymizing");

    // Ethnicity groups: minorities with fewer persons than the minimum become one group.
    let mut eth_counts: BTreeMap<u32, usize> = BTreeMap::new();
    for v in &frame.person_values {
        if let Some(e) = value(u64::from(*v), ETH) {
            *eth_counts.entry(e).or_default() += 1;
        }
    }
    let kept: BTreeSet<u32> = eth_counts
        .iter()
        .filter(|(c, n)| **c == 1 || **n >= opts.min_ethnicity_persons)
        .map(|(c, _)| *c)
        .collect();
    let eth_mask = field_mask(ETH) as u32;
    for v in frame.person_values.iter_mut() {
        if let Some(e) = value(u64::from(*v), ETH)
            && !kept.contains(&e)
        {
            *v = (*v & !eth_mask) | ((OTHER_MINORITIES + 1) << SHIFT[ETH]);
        }
    }

    // Income: per capita, rounded to 100 yuan, top-coded at the percentile.
    let top = percentile(&frame.income, opts.income_top_percentile);
    let top_coded: u64 = frame
        .income
        .range((Bound::Excluded(total_order_key(top)), Bound::Unbounded))
        .map(|(_, c)| c)
        .sum();

    let uniques_before = {
        let distinct = tally((0..n).map(|i| {
            frame.households[frame.person_household[i] as usize] | u64::from(frame.person_values[i])
        }));
        compatible_counts(&distinct, &ALL_QI)
            .values()
            .filter(|c| **c == 1)
            .count()
    };
    let anon = anonymize(
        frame.households,
        frame.person_household,
        frame.person_values,
        opts.k,
    )?;

    // Pass 2: the same rows in the same order, written as they stream.
    std::fs::create_dir_all(&opts.out).map_err(|source| ExtractError::WriteFile {
        path: opts.out.display().to_string(),
        source,
    })?;
    let bar = crate::engine::progress::bar(
        opts.progress,
        (n + nh) as u64,
        "{spinner} writing the extract [{bar:30}] {pos}/{len} records, {eta} left",
    );
    tracing::info!("writing research_households and research_persons (pass 2 of 2)");
    let round = |v: Option<f64>| v.map(|v| ((v / 100.0).round() * 100.0).min(top));
    let mut households = stream(&ctx, &households_sql("*")).await?;
    let schema = households_schema(&households.schema());
    let mut out = OutputWriter::create(&opts.out, "research_households", schema.clone())?;
    let mut j = 0;
    while let Some(b) = households.next().await {
        let b = b?;
        let rows = j..j + b.num_rows();
        let tuples = anon
            .households
            .get(rows.clone())
            .ok_or(ExtractError::Inconsistent("households"))?;
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(pseudonyms(&opts.key, "household", &utf8(&b, "_household")?)),
            Arc::new(StringArray::from_iter(
                tuples
                    .iter()
                    .map(|t| value(*t, AREA).map(|a| a.to_string())),
            )),
            Arc::new(StringArray::from_iter(
                tuples.iter().map(|t| value(*t, SIZE).map(size_label)),
            )),
            Arc::new(Float64Array::from_iter(
                float64(&b, "_income_per_capita")?.iter().map(round),
            )),
        ];
        for c in HOUSEHOLD_COLUMNS {
            cols.push(column(&b, c)?);
        }
        out.write(&RecordBatch::try_new(schema.clone(), cols).map_err(DataFusionError::from)?)?;
        j = rows.end;
        bar.inc(b.num_rows() as u64);
    }
    if j != nh {
        return Err(ExtractError::Inconsistent("households"));
    }
    out.finish()?;
    drop(households);

    let mut persons = stream(&ctx, &persons_sql("*")).await?;
    let schema = persons_schema(&persons.schema());
    let mut out = OutputWriter::create(&opts.out, "research_persons", schema.clone())?;
    // l-diversity of health_status: statuses seen (bit set) per class of identical tuples.
    let mut health_by_class: HashMap<u64, u64> = HashMap::new();
    let mut i0 = 0;
    while let Some(b) = persons.next().await {
        let b = b?;
        let rows = i0..i0 + b.num_rows();
        if rows.end > n {
            return Err(ExtractError::Inconsistent("persons"));
        }
        let tuples: Vec<u64> = rows.clone().map(|i| anon.person(i)).collect();
        let health = int64(&b, "health_status")?;
        for (r, t) in tuples.iter().enumerate() {
            let seen = health_by_class.entry(*t).or_default();
            if health.is_valid(r) {
                *seen |= 1 << health.value(r).clamp(0, 63);
            }
        }
        let int =
            |p: usize| Int64Array::from_iter(tuples.iter().map(|t| value(*t, p).map(i64::from)));
        let text = |p: usize, label: fn(u32) -> String| {
            StringArray::from_iter(tuples.iter().map(|t| value(*t, p).map(label)))
        };
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(pseudonyms(&opts.key, "person", &utf8(&b, "_person")?)),
            Arc::new(pseudonyms(&opts.key, "household", &utf8(&b, "_household")?)),
            Arc::new(text(AREA, |a| a.to_string())),
            Arc::new(int(SEX)),
            Arc::new(text(AGE, age_band_label)),
            Arc::new(text(ETH, ethnicity_name)),
            Arc::new(text(SIZE, size_label)),
            Arc::new(int(DIS)),
        ];
        for c in PERSON_COLUMNS {
            cols.push(column(&b, c)?);
        }
        cols.push(Arc::new(Float64Array::from_iter(
            float64(&b, "_income_per_capita")?.iter().map(round),
        )));
        out.write(&RecordBatch::try_new(schema.clone(), cols).map_err(DataFusionError::from)?)?;
        i0 = rows.end;
        bar.inc(b.num_rows() as u64);
    }
    if i0 != n {
        return Err(ExtractError::Inconsistent("persons"));
    }
    out.finish()?;
    drop(persons);
    bar.finish_and_clear();

    // The risk report.
    let share = |c: u64, of: usize| if of == 0 { 0.0 } else { c as f64 / of as f64 };
    let ptally = anon.person_tally();
    let pc = compatible_counts(&ptally, &ALL_QI);
    let htally = tally(anon.households.iter().copied());
    let hc = compatible_counts(&htally, &HOUSEHOLD_QI);
    let suppressed = |t: &HashMap<u64, u64>, positions: &[usize], of: usize| {
        positions
            .iter()
            .map(|&p| {
                let c: u64 = t
                    .iter()
                    .filter(|(t, _)| field(**t, p) == 0)
                    .map(|(_, c)| c)
                    .sum();
                (QI_NAMES[p].to_string(), (c as usize, share(c, of)))
            })
            .collect::<BTreeMap<_, _>>()
    };
    let mut class_sizes = BTreeMap::new();
    for (t, c) in &ptally {
        *class_sizes
            .entry(bin(pc[t] as usize).to_string())
            .or_default() += *c as usize;
    }
    let l = |t: &u64| health_by_class[t].count_ones() as usize;
    let l1: Vec<u64> = ptally.keys().filter(|t| l(t) <= 1).copied().collect();
    let report = RiskReport {
        k: opts.k,
        snapshot: snapshot.id,
        persons: n,
        households: nh,
        area_generalized_households: anon.generalized_households,
        area_generalized_share: share(anon.generalized_households as u64, nh),
        suppressed_persons: suppressed(&ptally, &ALL_QI, n),
        suppressed_households: suppressed(&htally, &HOUSEHOLD_QI, nh),
        class_sizes,
        min_class_size_persons: pc.values().copied().min().unwrap_or(0) as usize,
        min_class_size_households: hc.values().copied().min().unwrap_or(0) as usize,
        sample_uniques_before: uniques_before,
        sample_uniques_after: pc.values().filter(|c| **c == 1).count(),
        l_diversity_min: ptally.keys().map(l).min().unwrap_or(0),
        classes: ptally.len(),
        classes_with_l1: l1.len(),
        persons_in_l1_classes: l1.iter().map(|t| ptally[t] as usize).sum(),
        ethnicity_groups: kept
            .iter()
            .map(|c| ethnicity_name(*c))
            .chain((eth_counts.len() > kept.len()).then(|| ethnicity_name(OTHER_MINORITIES)))
            .collect(),
        income_top_code: top,
        income_top_coded_share: share(top_coded, nh),
    };
    // reason: a struct of numbers, strings and maps of string keys always serializes.
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

/// What pass 1 keeps: packed household tuples (county, size), persons as their household's
/// index and packed own values, and households by rounded income per capita.
#[derive(Default)]
struct Frame {
    households: Vec<u64>,
    person_household: Vec<u32>,
    person_values: Vec<u32>,
    income: BTreeMap<u64, u64>,
}

/// The households of pass 1, advanced in step with the persons (both sorted by household).
struct HouseholdCursor {
    stream: SendableRecordBatchStream,
    ids: StringArray,
    county: StringArray,
    size: Int64Array,
    income: Float64Array,
    row: usize,
}

impl HouseholdCursor {
    fn new(stream: SendableRecordBatchStream) -> Self {
        HouseholdCursor {
            stream,
            ids: StringArray::from(Vec::<&str>::new()),
            county: StringArray::from(Vec::<&str>::new()),
            size: Int64Array::from(Vec::<i64>::new()),
            income: Float64Array::from(Vec::<f64>::new()),
            row: 0,
        }
    }

    /// The household last advanced to.
    fn current(&self) -> Option<&str> {
        (self.row > 0).then(|| self.ids.value(self.row - 1))
    }

    /// Move to the next household and record it in `frame`; false at the end.
    async fn advance(&mut self, frame: &mut Frame) -> Result<bool, ExtractError> {
        while self.row >= self.ids.len() {
            let Some(b) = self.stream.next().await else {
                return Ok(false);
            };
            let b = b?;
            self.ids = utf8(&b, "_household")?;
            self.county = utf8(&b, "_county")?;
            self.size = int64(&b, "_size")?;
            self.income = float64(&b, "_income_per_capita")?;
            self.row = 0;
        }
        let i = self.row;
        self.row += 1;
        let county = self
            .county
            .is_valid(i)
            .then(|| self.county.value(i).parse().ok());
        let size = self
            .size
            .is_valid(i)
            .then(|| self.size.value(i).clamp(0, 8) as u32);
        frame
            .households
            .push(pack_household(county.flatten(), size));
        if self.income.is_valid(i) {
            let rounded = (self.income.value(i) / 100.0).round() * 100.0;
            *frame.income.entry(total_order_key(rounded)).or_default() += 1;
        }
        Ok(true)
    }
}

/// A key whose unsigned order is the total order of the floats (f64::total_cmp).
fn total_order_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

fn from_total_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// The `pct` percentile of a histogram (value key → count): the value at rank
/// ⌈pct/100 · n⌉ (at least the first), 0 when empty.
fn percentile(hist: &BTreeMap<u64, u64>, pct: f64) -> f64 {
    let n: u64 = hist.values().sum();
    if n == 0 {
        return 0.0;
    }
    let rank = (((pct / 100.0) * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0;
    for (k, c) in hist {
        seen += c;
        if seen >= rank {
            return from_total_order_key(*k);
        }
    }
    hist.keys()
        .next_back()
        .map_or(0.0, |k| from_total_order_key(*k))
}

/// Columns passed through from the SQL, after the computed ones.
const HOUSEHOLD_COLUMNS: [&str; 13] = [
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
];
const PERSON_COLUMNS: [&str; 10] = [
    "relation",
    "health_status",
    "schooling_status",
    "medical_insurance",
    "poverty_attribute",
    "registered_year",
    "exit_year",
    "poor_village",
    "county_type",
    "weight",
];

/// `fields`, then the pass-through `columns` with their types from the query, then `tail`.
fn output_schema(
    query: &Schema,
    fields: Vec<Field>,
    columns: &[&str],
    tail: Vec<Field>,
) -> SchemaRef {
    let passed = columns.iter().map(|c| {
        let t = query
            .field_with_name(c)
            .map_or(DataType::Null, |f| f.data_type().clone());
        Field::new(*c, t, true)
    });
    Arc::new(Schema::new(
        fields
            .into_iter()
            .chain(passed)
            .chain(tail)
            .collect::<Vec<_>>(),
    ))
}

fn households_schema(query: &Schema) -> SchemaRef {
    output_schema(
        query,
        vec![
            Field::new("household_key", DataType::Utf8, false),
            Field::new("area_code", DataType::Utf8, true),
            Field::new("household_size", DataType::Utf8, true),
            Field::new("income_per_capita", DataType::Float64, true),
        ],
        &HOUSEHOLD_COLUMNS,
        vec![],
    )
}

fn persons_schema(query: &Schema) -> SchemaRef {
    output_schema(
        query,
        vec![
            Field::new("person_key", DataType::Utf8, false),
            Field::new("household_key", DataType::Utf8, false),
            Field::new("area_code", DataType::Utf8, true),
            Field::new("sex", DataType::Int64, true),
            Field::new("age_band", DataType::Utf8, true),
            Field::new("ethnicity_group", DataType::Utf8, true),
            Field::new("household_size", DataType::Utf8, true),
            Field::new("disabled", DataType::Int64, true),
        ],
        &PERSON_COLUMNS,
        vec![Field::new("income_per_capita", DataType::Float64, true)],
    )
}

/// The pseudonyms of a column of keys (consecutive repeats computed once).
fn pseudonyms(key: &Key, kind: &str, values: &StringArray) -> StringArray {
    let mut last: Option<(&str, String)> = None;
    values
        .iter()
        .map(|v| {
            let v = v?;
            match &last {
                Some((l, p)) if *l == v => Some(p.clone()),
                _ => {
                    let p = key.pseudonym(kind, v);
                    last = Some((v, p.clone()));
                    Some(p)
                }
            }
        })
        .collect()
}

async fn stream(
    ctx: &SessionContext,
    sql: &str,
) -> Result<SendableRecordBatchStream, ExtractError> {
    Ok(ctx.sql(sql).await?.execute_stream().await?)
}

/// The published county tables: `published_county_counts.csv` (long) and
/// `published_tables.xlsx` (one sheet per table, suppressed cells marked ×).
async fn write_published(ctx: &SessionContext, opts: &ExtractOptions) -> Result<(), ExtractError> {
    use crate::render::xlsx::{X, sheet, workbook};
    let df = ctx
        .sql(&crate::engine::fill(
            PUBLISHED_SQL,
            [("reference_date", REFERENCE_DATE)],
        ))
        .await?;
    let planned: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let b = concat(&batches, planned)?;
    let (county, table, category, n) = (
        utf8(&b, "county_code")?,
        utf8(&b, "table_name")?,
        utf8(&b, "category")?,
        int64(&b, "n")?,
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
                let (count, status) = t
                    .cells
                    .get(&(area.clone(), c.clone()))
                    .copied()
                    .unwrap_or((0, tables::Status::Ok));
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
    use crate::render::html::{Td, esc, page, table};
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

/// The batches as one; `planned` (the query's schema) when there is none, so that an empty
/// result keeps its columns.
fn concat(batches: &[RecordBatch], planned: SchemaRef) -> Result<RecordBatch, ExtractError> {
    let schema = batches.first().map_or(planned, RecordBatch::schema);
    Ok(arrow::compute::concat_batches(&schema, batches)
        .map_err(datafusion::error::DataFusionError::from)?)
}

fn utf8(b: &RecordBatch, name: &str) -> Result<StringArray, ExtractError> {
    Ok(crate::engine::utf8(&column(b, name)?).map_err(DataFusionError::from)?)
}

fn int64(b: &RecordBatch, name: &str) -> Result<Int64Array, ExtractError> {
    Ok(crate::engine::int64(&column(b, name)?).map_err(DataFusionError::from)?)
}

fn float64(b: &RecordBatch, name: &str) -> Result<Float64Array, ExtractError> {
    Ok(crate::engine::float64(&column(b, name)?).map_err(DataFusionError::from)?)
}

/// A column of the query, passed through unchanged.
fn column(b: &RecordBatch, name: &str) -> Result<ArrayRef, ExtractError> {
    b.column_by_name(name)
        .cloned()
        .ok_or_else(|| ExtractError::MissingColumn(name.to_string()))
}

/// The tables of a research extract directory: `research_persons`, `research_households`.
/// Nothing else is registered, so nothing else can be queried.
pub async fn register(ctx: &SessionContext, dir: &std::path::Path) -> Result<(), DataFusionError> {
    for table in TABLES {
        let path = dir.join(format!("{table}.parquet"));
        if !path.is_file() {
            return Err(DataFusionError::Plan(format!(
                "{} is not a research extract: {} is missing",
                dir.display(),
                path.display()
            )));
        }
        let Some(shown) = path.to_str() else {
            return Err(DataFusionError::Plan(format!(
                "{} is not a UTF-8 path",
                path.display()
            )));
        };
        ctx.register_parquet(
            *table,
            shown,
            datafusion::prelude::ParquetReadOptions::default(),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per record, the number of compatible records (via the distinct tuples).
    fn per_record(rows: &[u64], positions: &[usize]) -> Vec<u64> {
        let c = compatible_counts(&tally(rows.iter().copied()), positions);
        rows.iter().map(|r| c[r]).collect()
    }

    #[test]
    fn compatible_counts_treat_null_as_any_value() {
        let rows: Vec<u64> = [
            (Some(1), Some(1)),
            (Some(1), Some(1)),
            (Some(1), Some(2)),
            (None, Some(2)),
            (Some(3), None),
            (None, None),
        ]
        .iter()
        .map(|(a, s)| pack_household(*a, *s))
        .collect();
        // Brute force.
        let brute: Vec<u64> = rows
            .iter()
            .map(|a| {
                rows.iter()
                    .filter(|b| {
                        HOUSEHOLD_QI.iter().all(|&p| {
                            field(*a, p) == 0 || field(**b, p) == 0 || field(*a, p) == field(**b, p)
                        })
                    })
                    .count() as u64
            })
            .collect();
        assert_eq!(per_record(&rows, &HOUSEHOLD_QI), brute);
        assert_eq!(brute, vec![3, 3, 3, 4, 3, 6]);
    }

    #[test]
    fn packing_round_trips_every_value() {
        let t = pack_household(Some(659_999), Some(0))
            | u64::from(pack_person([Some(2), Some(0), Some(99), None]));
        assert_eq!(value(t, AREA), Some(659_999));
        assert_eq!(value(t, SIZE), Some(0));
        assert_eq!(value(t, SEX), Some(2));
        assert_eq!(value(t, AGE), Some(0));
        assert_eq!(value(t, ETH), Some(99));
        assert_eq!(value(t, DIS), None);
        for v in [0.0, -0.0, 1.5, -250.0, 1e9, f64::INFINITY] {
            assert_eq!(
                from_total_order_key(total_order_key(v)).to_bits(),
                v.to_bits()
            );
        }
        let hist: BTreeMap<u64, u64> = [(-100.0, 1), (0.0, 2), (300.0, 96), (9e5, 1)]
            .iter()
            .map(|(v, c)| (total_order_key(*v), *c))
            .collect();
        assert_eq!(percentile(&hist, 99.0), 300.0);
        assert_eq!(percentile(&hist, 100.0), 9e5);
        assert_eq!(percentile(&hist, 0.0), -100.0);
        assert_eq!(percentile(&BTreeMap::new(), 99.0), 0.0);
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
        let mut mac = k.mac.clone();
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
        let households: Vec<u64> = county
            .iter()
            .map(|c| pack_household(Some(*c), Some(3)))
            .collect();
        let mut values = vec![pack_person([Some(1), Some(6), Some(1), Some(2)]); 7];
        values[0] = pack_person([Some(2), Some(16), Some(3), Some(1)]); // unique person
        let a = anonymize(households.clone(), (0..7).collect(), values.clone(), 3).unwrap();
        let persons: Vec<u64> = (0..7).map(|i| a.person(i)).collect();
        assert!(per_record(&persons, &ALL_QI).iter().all(|c| *c >= 3));
        assert!(
            per_record(&a.households, &HOUSEHOLD_QI)
                .iter()
                .all(|c| *c >= 3)
        );
        assert!(a.generalized_households >= 2);
        assert_eq!(
            value(a.households[6], AREA).filter(|a| *a > 9999),
            None,
            "520102 → 5201 or NULL"
        );
        assert!(PERSON_QI.iter().any(|p| value(persons[0], *p).is_none()));
        // Records are never dropped, and the others keep their values.
        assert_eq!(persons.len(), 7);
        assert_eq!(value(persons[3], AGE), Some(6));
        assert!(
            anonymize(
                households[..2].to_vec(),
                vec![0, 1],
                values[..2].to_vec(),
                3
            )
            .is_err()
        );
    }

    /// Brute-force check on a random population: every record of both tables is compatible
    /// with at least k records, and households with several members stay linked.
    #[test]
    fn anonymize_random_population_is_k_anonymous() {
        let mut seed = 42u64;
        let mut next = |m: u32| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % u64::from(m)) as u32
        };
        let households: Vec<u64> = (0..300)
            .map(|_| pack_household(Some(520100 + 1 + next(6)), Some(1 + next(8))))
            .collect();
        let mut person_household = Vec::new();
        let mut values = Vec::new();
        for h in 0..300u32 {
            for _ in 0..=next(4) {
                person_household.push(h);
                values.push(pack_person([
                    Some(1 + next(2)),
                    Some(next(17)),
                    Some(1 + next(5)),
                    Some(1 + next(2)),
                ]));
            }
        }
        for k in [2, 5, 11] {
            let a = anonymize(
                households.clone(),
                person_household.clone(),
                values.clone(),
                k,
            )
            .unwrap();
            let persons: Vec<u64> = (0..values.len()).map(|i| a.person(i)).collect();
            let brute = |rows: &[u64], positions: &[usize]| -> u64 {
                rows.iter()
                    .map(|x| {
                        rows.iter()
                            .filter(|y| {
                                positions.iter().all(|&p| {
                                    field(*x, p) == 0
                                        || field(**y, p) == 0
                                        || field(*x, p) == field(**y, p)
                                })
                            })
                            .count() as u64
                    })
                    .min()
                    .unwrap()
            };
            assert!(brute(&persons, &ALL_QI) >= k as u64, "persons, k = {k}");
            assert!(
                brute(&a.households, &HOUSEHOLD_QI) >= k as u64,
                "households, k = {k}"
            );
            assert_eq!(
                per_record(&persons, &ALL_QI).into_iter().min(),
                Some(brute(&persons, &ALL_QI))
            );
        }
    }
}
