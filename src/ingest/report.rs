//! The ingest report: per province and file, rows read, loaded and rejected (and the check
//! that they balance), findings per rule, file-level faults, and which provinces must
//! resubmit. Written as JSON for machines and as a readable summary for people.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::ingest::validation::escape_text;
use crate::warehouse::FileCount;

/// What happened to one province's submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Loaded as a new version.
    Loaded,
    /// The same bytes are already the current version: nothing changed.
    Unchanged,
    /// Nothing was loaded (the manifest is missing or invalid).
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvinceReport {
    pub province_code: String,
    pub source: String,
    pub submission_id: Option<String>,
    pub status: Status,
    pub version: Option<u32>,
    pub files: Vec<FileCount>,
    /// Findings per rule id (rows rejected or flagged, and file-level faults).
    pub rules: BTreeMap<String, u64>,
    /// File-level and submission-level problems, in words.
    pub problems: Vec<String>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    pub rejected_share: f64,
    pub resubmission_required: bool,
}

impl ProvinceReport {
    /// rows read = rows loaded + rows rejected, for every file.
    pub fn balanced(&self) -> bool {
        self.files
            .iter()
            .all(|f| f.rows_read == f.rows_loaded + f.rows_rejected)
            && self.rows_read == self.rows_loaded + self.rows_rejected
    }

    pub fn any_rejected(&self) -> bool {
        self.status == Status::Rejected
            || self.rows_rejected > 0
            || self.files.iter().any(|f| f.file_rejected)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    pub warehouse: String,
    /// The snapshot committed by this run (`None` when nothing changed).
    pub snapshot: Option<u64>,
    pub reject_threshold: f64,
    pub provinces: Vec<ProvinceReport>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    pub balanced: bool,
}

impl IngestReport {
    pub fn new(
        warehouse: String,
        snapshot: Option<u64>,
        reject_threshold: f64,
        provinces: Vec<ProvinceReport>,
    ) -> Self {
        let rows_read = provinces.iter().map(|p| p.rows_read).sum();
        let rows_loaded = provinces.iter().map(|p| p.rows_loaded).sum();
        let rows_rejected = provinces.iter().map(|p| p.rows_rejected).sum();
        let balanced = provinces.iter().all(ProvinceReport::balanced);
        IngestReport {
            warehouse,
            snapshot,
            reject_threshold,
            provinces,
            rows_read,
            rows_loaded,
            rows_rejected,
            balanced,
        }
    }

    /// Exit status of the command: 0 when everything loaded, 1 when rows or files were
    /// rejected.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.provinces.iter().any(ProvinceReport::any_rejected))
    }

    pub fn to_json(&self) -> String {
        // Plain structs of strings, numbers and maps with string keys: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The readable summary.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "povcensus ingest into {}",
            escape_text(&self.warehouse, 400)
        );
        match self.snapshot {
            Some(id) => {
                let _ = writeln!(s, "committed snapshot {id}");
            }
            None => {
                let _ = writeln!(s, "nothing changed: no new snapshot");
            }
        }
        for p in &self.provinces {
            let _ = writeln!(s);
            let status = match (&p.status, p.version) {
                (Status::Loaded, Some(v)) => format!("loaded as version {v}"),
                (Status::Unchanged, Some(v)) => format!("unchanged (already version {v})"),
                (Status::Rejected, _) => "REJECTED, nothing loaded".to_string(),
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "province {} ({}) submission {}: {}",
                escape_text(&p.province_code, 40),
                escape_text(&p.source, 400),
                escape_text(p.submission_id.as_deref().unwrap_or("?"), 200),
                status
            );
            let _ = writeln!(
                s,
                "  {:<28} {:>10} {:>10} {:>10} {:>10}",
                "file", "read", "loaded", "rejected", "flagged"
            );
            for f in &p.files {
                let note = if f.file_rejected {
                    "  whole file rejected"
                } else {
                    ""
                };
                let _ = writeln!(
                    s,
                    "  {:<28} {:>10} {:>10} {:>10} {:>10}{note}",
                    f.file, f.rows_read, f.rows_loaded, f.rows_rejected, f.rows_flagged
                );
            }
            let _ = writeln!(
                s,
                "  {:<28} {:>10} {:>10} {:>10}   rejected {:.2} %{}",
                "total",
                p.rows_read,
                p.rows_loaded,
                p.rows_rejected,
                100.0 * p.rejected_share,
                if p.balanced() {
                    ""
                } else {
                    "   ROWS DO NOT BALANCE"
                }
            );
            for problem in &p.problems {
                let _ = writeln!(s, "  ! {}", escape_text(problem, 2000));
            }
            if !p.rules.is_empty() {
                let rules: Vec<String> = p.rules.iter().map(|(r, n)| format!("{r} {n}")).collect();
                let _ = writeln!(s, "  findings by rule: {}", rules.join(", "));
            }
            if p.resubmission_required {
                let _ = writeln!(
                    s,
                    "  RESUBMISSION REQUIRED: {:.2} % of rows rejected (threshold {:.2} %)",
                    100.0 * p.rejected_share,
                    100.0 * self.reject_threshold
                );
            }
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "total: {} rows read = {} loaded + {} rejected{}",
            self.rows_read,
            self.rows_loaded,
            self.rows_rejected,
            if self.balanced {
                ""
            } else {
                "  (DOES NOT BALANCE)"
            }
        );
        let _ = writeln!(
            s,
            "rejected rows and their reasons: povcensus sql --warehouse {} -c \"SELECT file, line, rule_id, \\\"column\\\", message FROM rejects ORDER BY province_code, file, line\"",
            self.warehouse
        );
        s
    }
}
