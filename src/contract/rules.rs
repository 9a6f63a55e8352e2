//! The catalogue of validation rules: stable rule ids, their severity and what they mean.
//!
//! Rule ids are part of the product's contract: they appear in the `rejects` table, the ingest
//! report and the generator's ground-truth file, and a province office looks them up in the
//! README's rule table. Never rename one; add new ids instead.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What happens to a record that breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row (or, for file rules, the whole file) is rejected.
    Error,
    /// The row is loaded and flagged.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A whole submission or file.
    File,
    /// One row, on its own.
    Row,
    /// A row checked against other rows or tables.
    CrossRow,
}

macro_rules! rules {
    ($( $variant:ident => ($id:literal, $sev:ident, $scope:ident, $desc:literal), )*) => {
        /// A validation rule. `Rule::id()` is the stable identifier.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule { $( $variant, )* }

        impl Rule {
            pub const ALL: &'static [Rule] = &[ $( Rule::$variant, )* ];

            pub fn id(self) -> &'static str {
                match self { $( Rule::$variant => $id, )* }
            }

            pub fn severity(self) -> Severity {
                match self { $( Rule::$variant => Severity::$sev, )* }
            }

            pub fn scope(self) -> Scope {
                match self { $( Rule::$variant => Scope::$scope, )* }
            }

            pub fn description(self) -> &'static str {
                match self { $( Rule::$variant => $desc, )* }
            }
        }
    };
}

rules! {
    ManifestInvalid => ("manifest.invalid", Error, File,
        "manifest.json is missing, is not valid JSON of the documented shape, or names another province than its directory; the whole submission is rejected"),
    FileMissing => ("file.missing", Error, File,
        "a required table file (counties, townships, villages, households, persons) is absent from the submission"),
    FileEncoding => ("file.encoding", Error, File,
        "the file cannot be decoded without error as UTF-8 or GB18030; the message gives the byte offset"),
    FileHeader => ("file.header", Error, File,
        "the file is empty (no header row), or the header row is empty or names the same column twice"),
    FileMissingColumn => ("file.missing_column", Error, File,
        "a required column is missing from the header"),
    FileManifestRows => ("file.manifest_rows", Error, File,
        "the number of data rows differs from the manifest's `rows` (truncated or altered upload)"),
    FileManifestSha256 => ("file.manifest_sha256", Error, File,
        "the file's SHA-256 differs from the manifest's `sha256` (truncated or altered upload)"),
    FileOtherProvince => ("file.other_province", Error, File,
        "the file holds the records of another province than the submission's"),
    FileOutside => ("file.outside", Error, File,
        "the file does not resolve to a regular file inside the submission directory (a link leaving it, a link loop); it is not read"),
    FileLineEndings => ("file.line_endings", Error, File,
        "the lines end with a carriage return alone (CR, old Mac OS style); save the file with LF or CRLF line endings"),
    FileUnknownColumn => ("file.unknown_column", Warning, File,
        "the header has a column that is not part of the format; it is ignored"),
    CsvMalformed => ("csv.malformed", Error, Row,
        "the record does not parse as CSV or has a different number of fields than the header"),
    ValueRequired => ("value.required", Error, Row,
        "a required value is empty"),
    ValueFormat => ("value.format", Error, Row,
        "the value is not of the column's type (digits of the right length, integer, number or YYYY-MM-DD date)"),
    ValueCode => ("value.code", Error, Row,
        "the value is not one of the column's codes"),
    ValueRange => ("value.range", Error, Row,
        "the value is outside the column's allowed range"),
    ValueMoney => ("value.money", Error, Row,
        "a money amount is beyond what a census household or village can have: each 2020 household income component (wage, business, property, transfer) at most 10,000,000 yuan in absolute value, per-capita net income at most 1,000,000 yuan in absolute value (about 100 times the national mean), village collective income at most 100,000 (10,000 yuan, i.e. 1 billion yuan)"),
    ValueWeight => ("value.weight", Error, Row,
        "a sampling weight is beyond what the sample designs allow: a county's sampling_weight at most 3,000 (China has fewer than 3,000 county-level divisions, and a weight is an inverse inclusion probability), an assessment household's weight at most 1,000,000 (no county has more households)"),
    ValueCount => ("value.count", Error, Row,
        "a count of people is beyond the plausible: a county's rural_population at most 5,000,000, a village's population at most 100,000, an assessment household's persons and missed_persons at most 20 (as household_size)"),
    CodeProvince => ("code.province", Error, Row,
        "the record's code does not begin with the submitting province's code"),
    CodeStructure => ("code.structure", Error, Row,
        "the code is malformed for its level (village serial, digits 10-12, outside 001-599)"),
    IdFormat => ("id.format", Error, Row,
        "the ID number is not 18 characters (or 20 for a disability card) of the GB 11643 form with a valid birth date"),
    IdChecksum => ("id.checksum", Error, Row,
        "the ID number's ISO 7064 MOD 11-2 check character is wrong"),
    IdSex => ("id.sex", Error, Row,
        "sex disagrees with the parity of the ID number's sequence code (odd = male)"),
    IdBirthDate => ("id.birth_date", Error, Row,
        "birth_date disagrees with the birth date inside the ID number"),
    PersonSchooling => ("person.schooling", Error, Row,
        "schooling_status must be given for persons aged 6-15 on 2020-12-31 and be empty for everyone else"),
    PersonDisabilityGrade => ("person.disability_grade", Error, Row,
        "disability_grade must be given when health_status = 4 (disabled) and be empty otherwise"),
    HouseholdHousingGrade => ("household.housing_grade", Error, Row,
        "housing grade C or D is inconsistent with housing_route 1 (existing housing appraised safe)"),
    HouseholdExitYear => ("household.exit_year", Error, Row,
        "exit_year is before registered_year"),
    CountyExitYear => ("county.exit_year", Error, Row,
        "exit_year is required for county types 1-2 and must be empty for type 3"),
    CountySamplingWeight => ("county.sampling_weight", Error, Row,
        "sampling_weight must be 1 for county types 1-2"),
    AssessmentHouseholdId => ("assessment.household_id", Error, Row,
        "household_id is required for sample types 1-2 and must be empty for type 3"),
    AssessmentItem => ("assessment.item", Error, Row,
        "wrongly_exited is answered for type 1 only and missed_persons for type 3 only"),
    AssessmentMissedPersons => ("assessment.missed_persons", Error, Row,
        "missed_persons exceeds the household's persons"),
    AssessmentVillageCounty => ("assessment.village_county", Error, CrossRow,
        "the sampled village is not a village of the row's county (its code does not begin with the county code, or it is not in villages.csv)"),
    AssessmentHousehold => ("assessment.household", Error, CrossRow,
        "household_id does not name an enumerated household of the sampled village, or its type disagrees with the household's exit_year"),
    KeyDuplicate => ("key.duplicate", Error, CrossRow,
        "the primary key occurs more than once (in this file, another file or another province); the first occurrence is kept"),
    KeyOrphan => ("key.orphan", Error, CrossRow,
        "the parent record is missing, rejected or (for persons) not enumerated"),
    HouseholdSizeMismatch => ("household.size_mismatch", Warning, CrossRow,
        "household_size differs from the number of loaded person rows of the household"),
    HouseholdHeadCount => ("household.head_count", Warning, CrossRow,
        "the household does not have exactly one loaded member with relation 1 (head)"),
    HouseholdHeadId => ("household.head_id", Warning, CrossRow,
        "head_id_number differs from the person_id of the household's head"),
    RegisterCountyUnknown => ("register.county_unknown", Error, Row,
        "a register row's county_code is not a county-level division of the 22 census provinces (reference data)"),
    RegisterDateAfterReference => ("register.date_after_reference", Warning, Row,
        "a register date is after the standard reference date 2020-12-31; the row is loaded and flagged"),
    RegisterDateOrder => ("register.date_order", Error, Row,
        "a civil-affairs record's end_date is before its start_date"),
    RegisterGrade => ("register.grade", Error, Row,
        "a dangerous-housing record has grade A or B: only houses appraised C or D are registered as dangerous"),
}

impl Rule {
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Rule::from_id(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown rule id `{s}`")))
    }
}

/// The rule table as Markdown (the README embeds it; a test keeps the two in step).
pub fn markdown_table() -> String {
    let mut out =
        String::from("| rule id | severity | applies to | meaning |\n|---|---|---|---|\n");
    for r in Rule::ALL {
        let scope = match r.scope() {
            Scope::File => "file",
            Scope::Row => "row",
            Scope::CrossRow => "across rows",
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            r.id(),
            r.severity().as_str(),
            scope,
            r.description()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Rule::ALL {
            assert!(seen.insert(r.id()), "duplicate id {}", r.id());
            assert_eq!(Rule::from_id(r.id()), Some(*r));
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), *r);
        }
        assert!(serde_json::from_str::<Rule>("\"no.such\"").is_err());
    }
}
