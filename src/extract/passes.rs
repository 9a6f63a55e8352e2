//! The two passes over the extract's rows, both sorted by household and person: pass 1 keeps
//! only the packed quasi-identifiers and an income histogram ([`read_quasi_identifiers`]);
//! pass 2 reads the same rows again and writes each batch of `research_households` and
//! `research_persons` as it comes ([`write_households`], [`write_persons`]), with pseudonyms
//! for keys and the generalized values published as labels.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::HashMap;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::memory_pool::MemoryReservation;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use indicatif::ProgressBar;

use super::anonymize::{
    AGE, AREA, Anonymized, DIS, ETH, SEX, SIZE, pack_household, pack_person, value,
};
use super::key::pseudonyms;
use super::risk::{
    InferenceCheck, SENSITIVE, Sensitive, TopCode, published_column, total_order_key,
};
use super::{ExtractError, ExtractOptions, Queries, float64, int64, utf8};
use crate::engine::{EngineConfig, Started, sibling_session, start};
use crate::output::OutputWriter;
use crate::warehouse::{Snapshot, Warehouse};

/// Pass 1: the packed quasi-identifiers of households and persons, and incomes.
pub(super) async fn read_quasi_identifiers(
    rows: &Source<'_>,
    queries: &Queries,
    held: &mut MemoryReservation,
) -> Result<Frame, ExtractError> {
    let mut frame = Frame::default();
    let mut cursor = HouseholdCursor::new(
        rows.stream(&queries.households("_household, _county, _income_per_capita"))
            .await?,
    );
    let mut persons = rows
        .stream(&queries.persons("_household, sex, _age, _ethnicity, disabled, schooling_status"))
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
        let schooling = int64(&b, "schooling_status")?;
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
                age.is_valid(i)
                    .then(|| age_key(age.value(i), schooling.is_valid(i))),
                code(&eth, i),
                code(&dis, i),
            ]));
        }
        held.resize(frame.bytes());
    }
    drop(persons);
    while cursor.advance(&mut frame).await? {}
    // The household size is the number of persons sharing the household key, which is what
    // the extract's readers can count.
    let mut members = vec![0u32; frame.households.len()];
    for h in &frame.person_household {
        members[*h as usize] += 1;
    }
    for (t, n) in frame.households.iter_mut().zip(members) {
        *t |= pack_household(None, Some(n.min(8)));
    }
    held.resize(frame.bytes());
    Ok(frame)
}

/// Pass 2, households: written batch by batch with their anonymized tuples, each batch
/// counted by the attribute-inference `check`. Returns the schema written.
pub(super) async fn write_households(
    rows: &Source<'_>,
    queries: &Queries,
    opts: &ExtractOptions,
    anon: &Anonymized,
    income: &TopCode,
    bar: &ProgressBar,
    check: &mut InferenceCheck,
) -> Result<SchemaRef, ExtractError> {
    let mut households = rows.stream(&queries.households("*")).await?;
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
            Arc::new(labels(tuples, AREA, |a| a.to_string())),
            Arc::new(labels(tuples, SIZE, size_label)),
            Arc::new(Float64Array::from_iter(
                float64(&b, "_income_per_capita")?
                    .iter()
                    .map(|v| income.apply(v)),
            )),
        ];
        for c in HOUSEHOLD_COLUMNS {
            cols.push(published_column(&b, c, tuples)?);
        }
        let written = RecordBatch::try_new(schema.clone(), cols).map_err(DataFusionError::from)?;
        check.add(&written);
        out.write(&written)?;
        j = rows.end;
        bar.inc(b.num_rows() as u64);
    }
    if j != anon.households.len() {
        return Err(ExtractError::Inconsistent("households"));
    }
    out.close()?;
    Ok(schema)
}

/// Pass 2, persons: written batch by batch with their anonymized tuples, each batch counted
/// by the attribute-inference `check`. Returns the values of the sensitive attributes seen
/// (a bit set each) per class of identical tuples, for l-diversity, and the schema written.
pub(super) async fn write_persons(
    rows: &Source<'_>,
    queries: &Queries,
    opts: &ExtractOptions,
    anon: &Anonymized,
    income: &TopCode,
    bar: &ProgressBar,
    check: &mut InferenceCheck,
) -> Result<(HashMap<u64, Sensitive>, SchemaRef), ExtractError> {
    let n = anon.person_values.len();
    let mut persons = rows.stream(&queries.persons("*")).await?;
    let schema = persons_schema(&persons.schema());
    let mut out = OutputWriter::create(&opts.out, "research_persons", schema.clone())?;
    let mut seen_by_class: HashMap<u64, Sensitive> = HashMap::new();
    let mut i0 = 0;
    while let Some(b) = persons.next().await {
        let b = b?;
        let rows = i0..i0 + b.num_rows();
        if rows.end > n {
            return Err(ExtractError::Inconsistent("persons"));
        }
        let tuples: Vec<u64> = rows.clone().map(|i| anon.person(i)).collect();
        let values = SENSITIVE
            .iter()
            .map(|(c, _)| int64(&b, c))
            .collect::<Result<Vec<_>, _>>()?;
        for (r, t) in tuples.iter().enumerate() {
            let seen = seen_by_class.entry(*t).or_default();
            for (s, v) in seen.iter_mut().zip(&values) {
                if v.is_valid(r) {
                    *s |= 1 << v.value(r).clamp(0, 63);
                }
            }
        }
        let cols = person_columns(&b, &tuples, opts, income)?;
        let written = RecordBatch::try_new(schema.clone(), cols).map_err(DataFusionError::from)?;
        check.add(&written);
        out.write(&written)?;
        i0 = rows.end;
        bar.inc(b.num_rows() as u64);
    }
    if i0 != n {
        return Err(ExtractError::Inconsistent("persons"));
    }
    out.close()?;
    Ok((seen_by_class, schema))
}

/// The columns of `research_persons` for a batch of the query and its persons' tuples.
fn person_columns(
    b: &RecordBatch,
    tuples: &[u64],
    opts: &ExtractOptions,
    income: &TopCode,
) -> Result<Vec<ArrayRef>, ExtractError> {
    let int = |p: usize| Int64Array::from_iter(tuples.iter().map(|t| value(*t, p).map(i64::from)));
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(pseudonyms(&opts.key, "person", &utf8(b, "_person")?)),
        Arc::new(pseudonyms(&opts.key, "household", &utf8(b, "_household")?)),
        Arc::new(labels(tuples, AREA, |a| a.to_string())),
        Arc::new(int(SEX)),
        Arc::new(labels(tuples, AGE, age_band_label)),
        Arc::new(labels(tuples, ETH, ethnicity_name)),
        Arc::new(labels(tuples, SIZE, size_label)),
        Arc::new(int(DIS)),
    ];
    for c in PERSON_COLUMNS {
        cols.push(published_column(b, c, tuples)?);
    }
    cols.push(Arc::new(Float64Array::from_iter(
        float64(b, "_income_per_capita")?
            .iter()
            .map(|v| income.apply(v)),
    )));
    Ok(cols)
}

/// The published labels of the tuples' field `p` (NULL where suppressed), each distinct value
/// labelled once.
fn labels(tuples: &[u64], p: usize, label: impl Fn(u32) -> String) -> StringArray {
    let mut known: HashMap<u32, String> = HashMap::new();
    let mut out = StringBuilder::with_capacity(tuples.len(), tuples.len() * 8);
    for t in tuples {
        match value(*t, p) {
            Some(v) => out.append_value(known.entry(v).or_insert_with(|| label(v))),
            None => out.append_null(),
        }
    }
    out.finish()
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
pub(super) const OTHER_MINORITIES: u32 = 99;

pub(super) fn ethnicity_name(code: u32) -> String {
    if code == OTHER_MINORITIES {
        return "其他少数民族".into();
    }
    ETHNICITIES
        .get(code as usize - 1)
        .map_or_else(|| code.to_string(), |s| s.to_string())
}

/// The age quasi-identifier: the 5-year age band (80+ on top), times 2, plus 1 when a
/// schooling status is given. The schooling status is given exactly for ages 6-15, so a
/// researcher who sees it knows more than the band (5 or 6-9, 15 or 16-19): k-anonymity counts
/// what they can see. Published as the band alone ([`age_band_label`]).
pub(super) fn age_key(age: i64, schooling: bool) -> u32 {
    (age.max(0) / 5).min(16) as u32 * 2 + u32::from(schooling)
}

pub(super) fn age_band_label(key: u32) -> String {
    let band = key / 2;
    if band >= 16 {
        "80+".into()
    } else {
        format!("{}-{}", band * 5, band * 5 + 4)
    }
}

pub(super) fn size_label(size: u32) -> String {
    if size >= 8 {
        "8+".into()
    } else {
        size.to_string()
    }
}

/// What pass 1 keeps: packed household tuples (county, size), persons as their household's
/// index and packed own values, and households by rounded income per capita.
#[derive(Default)]
pub(super) struct Frame {
    pub households: Vec<u64>,
    pub person_household: Vec<u32>,
    pub person_values: Vec<u32>,
    pub income: BTreeMap<u64, u64>,
}

impl Frame {
    /// The memory it holds, about: its vectors' capacity and the histogram's entries (a
    /// B-tree entry of two `u64` with its share of a node).
    pub(super) fn bytes(&self) -> usize {
        self.households.capacity() * size_of::<u64>()
            + self.person_household.capacity() * size_of::<u32>()
            + self.person_values.capacity() * size_of::<u32>()
            + self.income.len() * 3 * size_of::<(u64, u64)>()
    }
}

/// The households of pass 1, advanced in step with the persons (both sorted by household).
struct HouseholdCursor {
    stream: SendableRecordBatchStream,
    ids: StringArray,
    county: StringArray,
    income: Float64Array,
    row: usize,
}

impl HouseholdCursor {
    fn new(stream: SendableRecordBatchStream) -> Self {
        HouseholdCursor {
            stream,
            ids: StringArray::from(Vec::<&str>::new()),
            county: StringArray::from(Vec::<&str>::new()),
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
            self.income = float64(&b, "_income_per_capita")?;
            self.row = 0;
        }
        let i = self.row;
        self.row += 1;
        let area = self
            .county
            .is_valid(i)
            .then(|| self.county.value(i).parse().ok())
            .flatten();
        // Its size is added when all persons are read.
        frame.households.push(pack_household(area, None));
        if self.income.is_valid(i) {
            let rounded = (self.income.value(i) / 100.0).round() * 100.0;
            *frame.income.entry(total_order_key(rounded)).or_default() += 1;
        }
        Ok(true)
    }
}

/// Columns passed through from the SQL, after the computed ones.
pub(super) const HOUSEHOLD_COLUMNS: [&str; 13] = [
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
pub(super) const PERSON_COLUMNS: [&str; 10] = [
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

/// Where the passes read their rows: the snapshot one province at a time, in code order, each
/// province's query over that province's files alone (in a session sharing the extract's memory
/// pool, with hash joins when the province fits in it). Every code of a loaded row begins with
/// its province's code (rule `code.province`), so the joins find the same rows as over the
/// whole snapshot, and the provinces' sorted rows one after another are the whole snapshot's
/// rows sorted by household: the same rows in the same order, with sorts a province large
/// rather than a nation large.
pub(super) struct Source<'a> {
    /// The whole snapshot's session: it plans the schema.
    pub ctx: &'a SessionContext,
    pub warehouse: &'a Warehouse,
    pub snapshot: &'a Snapshot,
    pub engine: &'a EngineConfig,
}

impl Source<'_> {
    /// The rows of `sql`, province after province. While a province's rows are read, the next
    /// province's query already runs (its scans, joins and sort on the engine's threads), so
    /// the threads are not idle between provinces.
    pub(super) async fn stream(
        &self,
        sql: &str,
    ) -> Result<SendableRecordBatchStream, ExtractError> {
        let schema = self
            .ctx
            .sql(sql)
            .await?
            .create_physical_plan()
            .await?
            .schema();
        let provinces: VecDeque<Snapshot> = self.snapshot.provinces_alone().into();
        let query = ProvinceQuery {
            ctx: self.ctx.clone(),
            warehouse: self.warehouse.clone(),
            engine: self.engine.local(),
            sql: sql.to_string(),
        };
        let state = Provinces {
            query,
            waiting: provinces,
            current: None,
            next: None,
        };
        let rows = futures::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            match state.next_batch().await {
                Ok(Some(batch)) => Some((Ok(batch), Some(state))),
                Ok(None) => None,
                // The stream ends after its error.
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rows)))
    }
}

/// One query of the extract, to run over one province at a time.
struct ProvinceQuery {
    ctx: SessionContext,
    warehouse: Warehouse,
    engine: EngineConfig,
    sql: String,
}

impl ProvinceQuery {
    /// Start the query over `province`: planned over its files alone (hash joins when the
    /// province fits in half the pool), and polled once, which sets its partitions running.
    async fn start(&self, province: Snapshot) -> Result<Started, DataFusionError> {
        let one = sibling_session(
            &self.ctx,
            &self.engine.clone().for_rows(province.rows("persons")),
        );
        self.warehouse
            .register(&one, Some(&province))
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(start(one.sql(&self.sql).await?.execute_stream().await?).await)
    }
}

/// The provinces of a [`Source::stream`]: the one being read, the one started after it, and
/// those waiting.
struct Provinces {
    query: ProvinceQuery,
    waiting: VecDeque<Snapshot>,
    current: Option<Started>,
    next: Option<Started>,
}

impl Provinces {
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, DataFusionError> {
        loop {
            if let Some(current) = &mut self.current {
                match current.next().await {
                    Some(batch) => return batch.map(Some),
                    None => self.current = None,
                }
            }
            self.current = match self.next.take() {
                Some(next) => Some(next),
                None => match self.waiting.pop_front() {
                    Some(province) => Some(self.query.start(province).await?),
                    None => return Ok(None),
                },
            };
            if let Some(province) = self.waiting.pop_front() {
                self.next = Some(self.query.start(province).await?);
            }
        }
    }
}
