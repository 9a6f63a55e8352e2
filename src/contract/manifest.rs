//! The manifest of a province submission (submission-format.md §2) and the text encodings a
//! submission may use: what `generate` writes and `ingest` reads.

use serde::{Deserialize, Serialize};

/// Text encoding of a submission's CSV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Encoding {
    #[serde(rename = "utf-8")]
    #[value(name = "utf8", alias = "utf-8")]
    Utf8,
    #[serde(rename = "gb18030")]
    #[value(name = "gb18030")]
    Gb18030,
}

impl Encoding {
    pub fn label(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Gb18030 => "gb18030",
        }
    }
}

/// The manifest of a province submission (submission-format.md §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub province_code: String,
    pub submission_id: String,
    pub batch: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    pub files: std::collections::BTreeMap<String, ManifestFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// The manifest of a department's register submission (`registers.md` §1): like a province's,
/// with the `department` in place of the province.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterManifest {
    pub department: String,
    pub submission_id: String,
    /// The date the registers describe (the census reference date, 2020-12-31).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    pub files: std::collections::BTreeMap<String, ManifestFile>,
}
