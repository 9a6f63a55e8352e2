//! The generated census read back, county by county, as `ingest` will load it: the rows the
//! province's ground truth rejects (errors; a person registered in two provinces only when
//! the other province is generated too) are skipped, and only enumerated households and their
//! members are kept. The registers are drawn from these, so they agree with the warehouse.
//!
//! Streams: one county's households and persons at a time (both files are written county by
//! county in the same order).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use chrono::NaiveDate;

use crate::contract::manifest::Encoding;
use crate::contract::rules::Severity;
use crate::contract::schema::{REFERENCE_DATE, Table, age_on};

use super::super::{GenerateError, read_truth};

/// A loaded, enumerated household.
pub(super) struct Household {
    pub(super) id: String,
    pub(super) head_id: String,
    pub(super) housing_route: Option<u8>,
    pub(super) poverty_attribute: Option<u8>,
}

/// A loaded member of an enumerated household.
pub(super) struct Person {
    pub(super) id: String,
    /// Index of the household in its county's households.
    pub(super) household: usize,
    pub(super) age: i32,
    pub(super) schooling: Option<u8>,
    pub(super) health: Option<u8>,
    pub(super) disability_grade: Option<u8>,
    pub(super) medical: Option<u8>,
    pub(super) dibao: bool,
}

/// One county of the census as it loads.
pub(super) struct County {
    pub(super) code: String,
    pub(super) households: Vec<Household>,
    pub(super) persons: Vec<Person>,
}

/// The reference date of the census.
pub(super) fn reference_date() -> NaiveDate {
    // Cannot fail: the schema's constant, parsed by the schema's own tests.
    NaiveDate::parse_from_str(REFERENCE_DATE, "%Y-%m-%d").expect("reference date")
}

/// The physical lines of a province's files that ingest rejects, by file name.
pub(super) fn rejected_lines(
    out: &Path,
    province: &str,
    generated: &HashSet<&str>,
) -> Result<HashMap<String, HashSet<u64>>, GenerateError> {
    let path = out.join("ground_truth").join(format!("{province}.jsonl"));
    let mut rejected: HashMap<String, HashSet<u64>> = HashMap::new();
    if !path.is_file() {
        return Ok(rejected);
    }
    let truth = read_truth(&path).map_err(|source| GenerateError::Io {
        path: path.clone(),
        source,
    })?;
    for e in truth {
        let applies = e
            .requires_province
            .as_deref()
            .is_none_or(|p| generated.contains(p));
        if let (Severity::Error, true, Some(line)) = (e.severity, applies, e.line) {
            rejected.entry(e.file).or_default().insert(line);
        }
    }
    Ok(rejected)
}

/// The records of one census file with their physical line, the rejected ones skipped.
pub(super) struct Records {
    reader: csv::Reader<Box<dyn std::io::Read>>,
    /// Record index of each canonical column of the table.
    columns: Vec<Option<usize>>,
    table: Table,
    rejected: HashSet<u64>,
    record: csv::StringRecord,
    fields: usize,
}

impl Records {
    pub(super) fn open(
        dir: &Path,
        table: Table,
        encoding: Encoding,
        rejected: HashSet<u64>,
    ) -> Result<Records, GenerateError> {
        let path = dir.join(table.file_name());
        let file = File::open(&path).map_err(|source| GenerateError::Io {
            path: path.clone(),
            source,
        })?;
        let input = BufReader::with_capacity(1 << 20, file);
        let decoded: Box<dyn std::io::Read> = match encoding {
            Encoding::Utf8 => Box::new(input),
            Encoding::Gb18030 => Box::new(Gb18030 {
                inner: input,
                decoder: encoding_rs::GB18030.new_decoder(),
                raw: vec![0; 1 << 16],
                raw_len: 0,
                eof: false,
                done: false,
            }),
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(decoded);
        let mut header = csv::StringRecord::new();
        let read = reader
            .read_record(&mut header)
            .map_err(|e| GenerateError::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
        let mut columns = vec![None; table.columns().len()];
        if read {
            for (i, h) in header.iter().enumerate() {
                if let Some(c) = table.resolve_header(h.trim_start_matches('\u{feff}')) {
                    columns[c].get_or_insert(i);
                }
            }
        }
        Ok(Records {
            reader,
            columns,
            table,
            rejected,
            record: csv::StringRecord::new(),
            fields: header.len(),
        })
    }

    /// The next loaded record, or None at the end.
    pub(super) fn next_loaded(&mut self) -> Option<Row<'_>> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) | Err(_) => return None,
            }
            let line = self.record.position().map_or(0, |p| p.line());
            if self.record.len() == self.fields && !self.rejected.contains(&line) {
                return Some(Row { records: self });
            }
        }
    }
}

/// A loaded record, read by canonical column name.
pub(super) struct Row<'r> {
    records: &'r Records,
}

impl Row<'_> {
    pub(super) fn get(&self, name: &str) -> &str {
        self.records
            .table
            .column_index(name)
            .and_then(|c| self.records.columns[c])
            .and_then(|i| self.records.record.get(i))
            .map_or("", str::trim)
    }

    fn code(&self, name: &str) -> Option<u8> {
        self.get(name).parse().ok()
    }
}

/// Reads a province's census county by county.
pub(super) struct ProvinceCensus {
    households: Records,
    persons: Records,
    /// A household read ahead (the first of the next county): (line fields).
    pending: Option<(Household, bool)>,
    /// A person read ahead (the first of the next county).
    pending_person: Option<(String, Person)>,
}

impl ProvinceCensus {
    pub(super) fn open(
        dir: &Path,
        encoding: Encoding,
        mut rejected: HashMap<String, HashSet<u64>>,
    ) -> Result<ProvinceCensus, GenerateError> {
        let mut take = |t: Table| rejected.remove(t.file_name()).unwrap_or_default();
        let (hh, pp) = (take(Table::Households), take(Table::Persons));
        Ok(ProvinceCensus {
            households: Records::open(dir, Table::Households, encoding, hh)?,
            persons: Records::open(dir, Table::Persons, encoding, pp)?,
            pending: None,
            pending_person: None,
        })
    }

    fn next_household(&mut self) -> Option<(Household, bool)> {
        if let Some(h) = self.pending.take() {
            return Some(h);
        }
        let r = self.households.next_loaded()?;
        Some((
            Household {
                id: r.get("household_id").to_string(),
                head_id: r.get("head_id_number").to_ascii_uppercase(),
                housing_route: r.code("housing_route"),
                poverty_attribute: r.code("poverty_attribute"),
            },
            r.get("enumeration_status") == "1",
        ))
    }

    /// The member read next, with its household id.
    fn next_person(&mut self, reference: NaiveDate) -> Option<(String, Person)> {
        if let Some(p) = self.pending_person.take() {
            return Some(p);
        }
        loop {
            let r = self.persons.next_loaded()?;
            let Ok(birth) = NaiveDate::parse_from_str(r.get("birth_date"), "%Y-%m-%d") else {
                continue;
            };
            let person = Person {
                id: r.get("person_id").to_ascii_uppercase(),
                household: 0,
                age: age_on(birth, reference),
                schooling: r.code("schooling_status"),
                health: r.code("health_status"),
                disability_grade: r.code("disability_grade"),
                medical: r.code("medical_insurance"),
                dibao: r.get("is_dibao") == "1",
            };
            return Some((r.get("household_id").to_string(), person));
        }
    }

    /// The next county with loaded households, or None at the end of the province.
    pub(super) fn next_county(&mut self, reference: NaiveDate) -> Option<County> {
        let (first, enumerated) = self.next_household()?;
        let code = first.id.get(..6).unwrap_or_default().to_string();
        let mut households = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut add = |h: Household, enumerated: bool, hs: &mut Vec<Household>| {
            if enumerated && !index.contains_key(&h.id) {
                index.insert(h.id.clone(), hs.len());
                hs.push(h);
            }
        };
        add(first, enumerated, &mut households);
        while let Some((h, e)) = self.next_household() {
            if !h.id.starts_with(&code) {
                self.pending = Some((h, e));
                break;
            }
            add(h, e, &mut households);
        }
        let mut persons = Vec::new();
        while let Some((hid, mut p)) = self.next_person(reference) {
            if !hid.starts_with(&code) {
                self.pending_person = Some((hid, p));
                break;
            }
            if let Some(&i) = index.get(&hid) {
                p.household = i;
                persons.push(p);
            }
        }
        Some(County {
            code,
            households,
            persons,
        })
    }
}

/// The loaded counties of a province and their county_type.
pub(super) fn county_types(
    dir: &Path,
    encoding: Encoding,
    rejected: HashSet<u64>,
) -> Result<HashMap<String, u8>, GenerateError> {
    let mut records = Records::open(dir, Table::Counties, encoding, rejected)?;
    let mut types = HashMap::new();
    while let Some(r) = records.next_loaded() {
        if let Some(t) = r.code("county_type") {
            types.entry(r.get("county_code").to_string()).or_insert(t);
        }
    }
    Ok(types)
}

/// Decodes the generator's own GB18030 output to UTF-8 as it is read (its bytes are valid).
struct Gb18030<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    raw: Vec<u8>,
    raw_len: usize,
    eof: bool,
    /// The decoder has seen the end of the input.
    done: bool,
}

impl<R: std::io::Read> std::io::Read for Gb18030<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if !self.eof && self.raw_len < self.raw.len() {
                let n = self.inner.read(&mut self.raw[self.raw_len..])?;
                self.eof = n == 0;
                self.raw_len += n;
            }
            if buf.len() < 4 || self.done {
                return Ok(0);
            }
            let (result, read, written, _) =
                self.decoder
                    .decode_to_utf8(&self.raw[..self.raw_len], buf, self.eof);
            self.raw.copy_within(read..self.raw_len, 0);
            self.raw_len -= read;
            self.done = self.eof && result == encoding_rs::CoderResult::InputEmpty;
            if written > 0 || self.done {
                return Ok(written);
            }
        }
    }
}
