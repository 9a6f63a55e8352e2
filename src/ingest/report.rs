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

/// What happened to one department's register submission (`registers.md` §1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepartmentReport {
    pub department: String,
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
}

impl DepartmentReport {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        department: String,
        source: String,
        submission_id: Option<String>,
        status: Status,
        version: Option<u32>,
        files: Vec<FileCount>,
        rules: BTreeMap<String, u64>,
        problems: Vec<String>,
    ) -> Self {
        DepartmentReport {
            rows_read: files.iter().map(|f| f.rows_read).sum(),
            rows_loaded: files.iter().map(|f| f.rows_loaded).sum(),
            rows_rejected: files.iter().map(|f| f.rows_rejected).sum(),
            department,
            source,
            submission_id,
            status,
            version,
            files,
            rules,
            problems,
        }
    }

    /// rows read = rows loaded + rows rejected, for every file.
    pub fn balanced(&self) -> bool {
        self.files
            .iter()
            .all(|f| f.rows_read == f.rows_loaded + f.rows_rejected)
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
    /// The register submissions of departments (`registers.md` §1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<DepartmentReport>,
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
            departments: Vec::new(),
            rows_read,
            rows_loaded,
            rows_rejected,
            balanced,
        }
    }

    /// The report with the departments' register submissions, counted into the totals.
    pub fn with_departments(mut self, departments: Vec<DepartmentReport>) -> Self {
        for d in &departments {
            self.rows_read += d.rows_read;
            self.rows_loaded += d.rows_loaded;
            self.rows_rejected += d.rows_rejected;
            self.balanced &= d.balanced();
        }
        self.departments = departments;
        self
    }

    /// Exit status of the command: 0 when everything loaded, 1 when rows or files were
    /// rejected.
    pub fn exit_code(&self) -> u8 {
        u8::from(
            self.provinces.iter().any(ProvinceReport::any_rejected)
                || self.departments.iter().any(DepartmentReport::any_rejected),
        )
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
            let status = status_text(&p.status, p.version);
            let _ = writeln!(
                s,
                "province {} ({}) submission {}: {}",
                escape_text(&p.province_code, 40),
                escape_text(&p.source, 400),
                escape_text(p.submission_id.as_deref().unwrap_or("?"), 200),
                status
            );
            write_files(&mut s, &p.files);
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
        for d in &self.departments {
            write_department(&mut s, d);
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
        if !self.departments.is_empty() {
            let _ = writeln!(
                s,
                "rejected register rows: povcensus sql --warehouse {} -c \"SELECT submission_id, file, line, rule_id, \\\"column\\\", message FROM register_rejects ORDER BY submission_id, file, line\"",
                self.warehouse
            );
        }
        s
    }
}

/// The status of a submission in words.
fn status_text(status: &Status, version: Option<u32>) -> String {
    match (status, version) {
        (Status::Loaded, Some(v)) => format!("loaded as version {v}"),
        (Status::Unchanged, Some(v)) => format!("unchanged (already version {v})"),
        (Status::Rejected, _) => "REJECTED, nothing loaded".to_string(),
        _ => String::new(),
    }
}

/// The table of a submission's files: rows read, loaded, rejected and flagged.
fn write_files(s: &mut String, files: &[FileCount]) {
    let _ = writeln!(
        s,
        "  {:<28} {:>10} {:>10} {:>10} {:>10}",
        "file", "read", "loaded", "rejected", "flagged"
    );
    for f in files {
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
}

/// The lines of one department's register submission.
fn write_department(s: &mut String, d: &DepartmentReport) {
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "department {} ({}) submission {}: {}",
        escape_text(&d.department, 40),
        escape_text(&d.source, 400),
        escape_text(d.submission_id.as_deref().unwrap_or("?"), 200),
        status_text(&d.status, d.version)
    );
    write_files(s, &d.files);
    let _ = writeln!(
        s,
        "  {:<28} {:>10} {:>10} {:>10}{}",
        "total",
        d.rows_read,
        d.rows_loaded,
        d.rows_rejected,
        if d.balanced() {
            ""
        } else {
            "   ROWS DO NOT BALANCE"
        }
    );
    for problem in &d.problems {
        let _ = writeln!(s, "  ! {}", escape_text(problem, 2000));
    }
    if !d.rules.is_empty() {
        let rules: Vec<String> = d.rules.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let _ = writeln!(s, "  findings by rule: {}", rules.join(", "));
    }
}
