//! The ingest report: per province and file, rows read, loaded and rejected (and the check
//! that they balance), findings per rule, file-level faults, and which provinces must
//! resubmit. Written as JSON for machines and as a readable summary for people.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::contract::rules::{Rule, Severity};
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
    /// Validated only (`povcensus validate`): nothing is written.
    Checked,
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
        balanced(
            &self.files,
            self.rows_read,
            self.rows_loaded,
            self.rows_rejected,
        )
    }

    pub fn any_rejected(&self) -> bool {
        any_rejected(&self.status, self.rows_rejected, &self.files)
    }
}

/// rows read = rows loaded + rows rejected, for every file and in total: one submission's
/// balance (a province's or a department's).
fn balanced(files: &[FileCount], read: u64, loaded: u64, rejected: u64) -> bool {
    files
        .iter()
        .all(|f| f.rows_read == f.rows_loaded + f.rows_rejected)
        && read == loaded + rejected
}

/// Whether a submission was rejected as a whole, or any of its rows or files was.
fn any_rejected(status: &Status, rows_rejected: u64, files: &[FileCount]) -> bool {
    *status == Status::Rejected || rows_rejected > 0 || files.iter().any(|f| f.file_rejected)
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
        balanced(
            &self.files,
            self.rows_read,
            self.rows_loaded,
            self.rows_rejected,
        )
    }

    pub fn any_rejected(&self) -> bool {
        any_rejected(&self.status, self.rows_rejected, &self.files)
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
    /// `povcensus validate`: the checks of an ingest, nothing written (absent from an
    /// ingest's JSON).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub validate_only: bool,
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
            validate_only: false,
        }
    }

    /// Exit status of the command: 0 when everything loaded, 1 when rows or files were
    /// rejected.
    pub fn exit_code(&self) -> u8 {
        u8::from(
            self.provinces.iter().any(ProvinceReport::any_rejected)
                || self.departments.iter().any(DepartmentReport::any_rejected),
        )
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

    pub fn to_json(&self) -> String {
        // Plain structs of strings, numbers and maps with string keys: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The readable summary: one table of provinces (code, name, status, rows, rates), the
    /// files with rejected or flagged rows, the problems found in words, the findings by rule
    /// (id, count, provinces, 中文 description), and where to look next.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let wh = escape_text(&self.warehouse, 400);
        if self.validate_only {
            let _ = writeln!(
                s,
                "povcensus validate{}: nothing is written",
                if self.warehouse.is_empty() {
                    String::new()
                } else {
                    format!(" against {wh}")
                }
            );
        } else {
            let _ = writeln!(s, "povcensus ingest into {wh}");
            match self.snapshot {
                Some(id) => {
                    let _ = writeln!(s, "committed snapshot {id}");
                }
                None => {
                    let _ = writeln!(s, "nothing changed: no new snapshot");
                }
            }
        }
        let _ = writeln!(s);
        self.province_table(&mut s);
        self.department_table(&mut s);
        self.file_table(&mut s);
        self.problem_lines(&mut s);
        self.rule_table(&mut s);
        self.next_steps(&mut s, &wh);
        s
    }

    fn province_table(&self, s: &mut String) {
        let mut rows: Vec<Vec<String>> = vec![
            [
                "code",
                "province",
                "submission",
                "status",
                "read",
                "loaded",
                "rejected",
                "flagged",
                "rejected %",
                "",
            ]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        ];
        for p in &self.provinces {
            rows.push(province_row(p));
        }
        let flagged: u64 = self
            .provinces
            .iter()
            .flat_map(|p| &p.files)
            .map(|f| f.rows_flagged)
            .sum();
        let share = if self.rows_read == 0 {
            0.0
        } else {
            self.rows_rejected as f64 / self.rows_read as f64
        };
        rows.push(vec![
            String::new(),
            format!(
                "total ({} province{})",
                self.provinces.len(),
                if self.provinces.len() == 1 { "" } else { "s" }
            ),
            String::new(),
            String::new(),
            self.rows_read.to_string(),
            self.rows_loaded.to_string(),
            self.rows_rejected.to_string(),
            flagged.to_string(),
            format!("{:.2}", 100.0 * share),
            if self.balanced {
                String::new()
            } else {
                "DOES NOT BALANCE".to_string()
            },
        ]);
        text_table(
            s,
            &rows,
            &[
                false, false, false, false, true, true, true, true, true, false,
            ],
        );
        let _ = writeln!(
            s,
            "total: {} rows read = {} loaded + {} rejected{}; flagged rows are loaded; a province must resubmit above {:.2} % rejected",
            self.rows_read,
            self.rows_loaded,
            self.rows_rejected,
            if self.balanced {
                ""
            } else {
                " (DOES NOT BALANCE)"
            },
            100.0 * self.reject_threshold
        );
    }

    /// The departments' register submissions (`registers.md` §1), when there are any.
    fn department_table(&self, s: &mut String) {
        if self.departments.is_empty() {
            return;
        }
        let header = [
            "department",
            "",
            "submission",
            "status",
            "read",
            "loaded",
            "rejected",
            "flagged",
            "",
        ];
        let mut rows = vec![header.iter().map(|h| h.to_string()).collect()];
        rows.extend(self.departments.iter().map(department_row));
        let _ = writeln!(s, "\nregisters:");
        text_table(
            s,
            &rows,
            &[false, false, false, false, true, true, true, true, false],
        );
    }

    /// The files with rejected or flagged rows (clean files are not listed).
    fn file_table(&self, s: &mut String) {
        let mut rows: Vec<Vec<String>> = vec![
            ["code", "file", "read", "loaded", "rejected", "flagged", ""]
                .iter()
                .map(|h| h.to_string())
                .collect(),
        ];
        for p in &self.provinces {
            for f in &p.files {
                if f.rows_rejected == 0 && f.rows_flagged == 0 && !f.file_rejected {
                    continue;
                }
                rows.push(vec![
                    escape_text(&p.province_code, 40),
                    f.file.clone(),
                    f.rows_read.to_string(),
                    f.rows_loaded.to_string(),
                    f.rows_rejected.to_string(),
                    f.rows_flagged.to_string(),
                    if f.file_rejected {
                        "whole file rejected".to_string()
                    } else {
                        String::new()
                    },
                ]);
            }
        }
        if rows.len() <= 1 {
            return;
        }
        if rows.len() - 1 <= FILE_TABLE_MAX {
            let _ = writeln!(s, "\nfiles with rejected or flagged rows:");
            text_table(s, &rows, &[false, false, true, true, true, true, false]);
            return;
        }
        // Many provinces with findings (a national run): one line per province.
        let _ = writeln!(
            s,
            "\nfiles with rejected or flagged rows (rows rejected, +flagged):"
        );
        for p in &self.provinces {
            let files: Vec<String> = p
                .files
                .iter()
                .filter(|f| f.rows_rejected > 0 || f.rows_flagged > 0 || f.file_rejected)
                .map(|f| {
                    let name = f.file.trim_end_matches(".csv");
                    let mut t = format!("{name} {}", f.rows_rejected);
                    if f.rows_flagged > 0 {
                        t.push_str(&format!(" +{}", f.rows_flagged));
                    }
                    if f.file_rejected {
                        t.push_str(" (whole file)");
                    }
                    t
                })
                .collect();
            if !files.is_empty() {
                let _ = writeln!(
                    s,
                    "  {}  {}",
                    escape_text(&p.province_code, 40),
                    files.join(", ")
                );
            }
        }
    }

    fn problem_lines(&self, s: &mut String) {
        let problems = self
            .provinces
            .iter()
            .map(|p| (&p.province_code, &p.problems))
            .chain(
                self.departments
                    .iter()
                    .map(|d| (&d.department, &d.problems)),
            );
        let mut first = true;
        for (who, list) in problems {
            for problem in list {
                if first {
                    let _ = writeln!(s, "\nproblems with whole submissions and files:");
                    first = false;
                }
                let _ = writeln!(
                    s,
                    "  {} {}",
                    escape_text(who, 40),
                    escape_text(problem, 2000)
                );
            }
        }
    }

    /// Findings by rule over all provinces: id, severity, count, provinces, 中文 description.
    fn rule_table(&self, s: &mut String) {
        let mut by_rule: BTreeMap<&str, (u64, Vec<&str>)> = BTreeMap::new();
        for p in &self.provinces {
            for (r, n) in &p.rules {
                let e = by_rule.entry(r.as_str()).or_default();
                e.0 += n;
                e.1.push(p.province_code.as_str());
            }
        }
        for d in &self.departments {
            for (r, n) in &d.rules {
                let e = by_rule.entry(r.as_str()).or_default();
                e.0 += n;
                e.1.push(d.department.as_str());
            }
        }
        if by_rule.is_empty() {
            let _ = writeln!(
                s,
                "\nno findings: every row of every file passes every rule"
            );
            return;
        }
        let mut rules: Vec<_> = by_rule.into_iter().collect();
        rules.sort_by_key(|(id, (n, _))| {
            let rule = Rule::from_id(id);
            (
                rule.map(Rule::severity) != Some(Severity::Error),
                std::cmp::Reverse(*n),
                *id,
            )
        });
        let mut rows: Vec<Vec<String>> = vec![
            ["rule", "severity", "findings", "provinces", "说明"]
                .iter()
                .map(|h| h.to_string())
                .collect(),
        ];
        for (id, (n, provinces)) in rules {
            let rule = Rule::from_id(id);
            let mut provinces = provinces.join(" ");
            if provinces.chars().count() > 20 {
                provinces = format!("{} provinces", provinces.split(' ').count());
            }
            rows.push(vec![
                escape_text(id, 60),
                rule.map_or("", |r| r.severity().as_str()).to_string(),
                n.to_string(),
                provinces,
                shorten(rule.map_or("", |r| r.description_zh()), 48),
            ]);
        }
        let _ = writeln!(s, "\nfindings by rule:");
        text_table(s, &rows, &[false, false, true, false, false]);
    }

    fn next_steps(&self, s: &mut String, wh: &str) {
        let any_findings = self.provinces.iter().any(|p| !p.rules.is_empty());
        if self.departments.iter().any(|d| !d.rules.is_empty()) && !self.validate_only {
            let _ = writeln!(
                s,
                "\nrejected and flagged register rows: povcensus sql --warehouse {wh} -c \"SELECT submission_id, file, line, rule_id, \\\"column\\\", message FROM register_rejects ORDER BY submission_id, file, line\""
            );
        }
        let _ = writeln!(s);
        if self.validate_only {
            if self.exit_code() != 0 {
                let _ = writeln!(
                    s,
                    "rows would be rejected: correct them and validate again before sending; \
                     `povcensus validate --rejects FILE` lists every rejected or flagged row \
                     (file, line, column, rule, 说明) in a CSV file"
                );
            } else {
                let _ = writeln!(
                    s,
                    "全部通过: every row would load; the submission can be sent"
                );
            }
            return;
        }
        if any_findings {
            let _ = writeln!(
                s,
                "rejected and flagged rows with their reasons: povcensus sql --warehouse {wh} -c \"SELECT province_code, file, line, rule_id, \\\"column\\\", message FROM rejects ORDER BY province_code, file, line\""
            );
        }
        if self.snapshot.is_some() {
            let _ = writeln!(
                s,
                "quality reports for the province offices (in Chinese, one per province): povcensus report --warehouse {wh} --out OUT writes OUT/quality/<province>.html and .xlsx"
            );
        }
    }
}

/// A department's row of the register table.
fn department_row(d: &DepartmentReport) -> Vec<String> {
    let flagged: u64 = d.files.iter().map(|f| f.rows_flagged).sum();
    let status = match (&d.status, d.version) {
        (Status::Loaded, Some(v)) => format!("loaded v{v}"),
        (Status::Unchanged, Some(v)) => format!("unchanged v{v}"),
        (Status::Rejected, _) => "REJECTED".to_string(),
        _ => String::new(),
    };
    let name =
        crate::contract::registers::Department::from_id(&d.department).map_or("", |d| d.name_zh());
    vec![
        escape_text(&d.department, 40),
        name.to_string(),
        escape_text(d.submission_id.as_deref().unwrap_or("?"), 40),
        status,
        d.rows_read.to_string(),
        d.rows_loaded.to_string(),
        d.rows_rejected.to_string(),
        flagged.to_string(),
        if d.balanced() {
            String::new()
        } else {
            "ROWS DO NOT BALANCE".to_string()
        },
    ]
}

/// A province's row of the province table.
fn province_row(p: &ProvinceReport) -> Vec<String> {
    let flagged: u64 = p.files.iter().map(|f| f.rows_flagged).sum();
    let status = match (&p.status, p.version) {
        (Status::Loaded, Some(v)) => format!("loaded v{v}"),
        (Status::Unchanged, Some(v)) => format!("unchanged v{v}"),
        (Status::Checked, _) if p.any_rejected() => "rejects".to_string(),
        (Status::Checked, _) if flagged > 0 => "passes, flags".to_string(),
        (Status::Checked, _) => "passes".to_string(),
        (Status::Rejected, _) => "REJECTED".to_string(),
        _ => String::new(),
    };
    let whole = p.files.iter().filter(|f| f.file_rejected).count();
    let mut notes = Vec::new();
    if p.resubmission_required {
        notes.push("RESUBMISSION REQUIRED".to_string());
    }
    if whole > 0 && p.status != Status::Rejected {
        notes.push(format!(
            "{whole} whole file{} rejected",
            if whole == 1 { "" } else { "s" }
        ));
    }
    if !p.balanced() {
        notes.push("ROWS DO NOT BALANCE".to_string());
    }
    vec![
        escape_text(&p.province_code, 40),
        province_name(&p.province_code),
        escape_text(p.submission_id.as_deref().unwrap_or("?"), 40),
        status,
        p.rows_read.to_string(),
        p.rows_loaded.to_string(),
        p.rows_rejected.to_string(),
        flagged.to_string(),
        format!("{:.2}", 100.0 * p.rejected_share),
        notes.join(", "),
    ]
}

/// Files with findings listed as a table up to this many; beyond, one line per province.
const FILE_TABLE_MAX: usize = 24;

/// The province's name from the reference data, or empty for a code outside the census scope.
fn province_name(code: &str) -> String {
    crate::contract::reference::Reference::get()
        .province(code)
        .map(|p| p.name.to_string())
        .unwrap_or_default()
}

/// `text` cut to `max` characters, with `…` where it was cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Columns on a terminal: East Asian wide characters take two.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

/// A plain table, columns separated by two spaces, `right` columns right-aligned, the last
/// column left unpadded; a dashed line under the header row.
fn text_table(s: &mut String, rows: &[Vec<String>], right: &[bool]) {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; n];
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            widths[i] = widths[i].max(display_width(cell));
        }
    }
    for (ri, r) in rows.iter().enumerate() {
        let mut line = String::from(" ");
        for (i, cell) in r.iter().enumerate() {
            let pad = widths[i] - display_width(cell);
            let last = i + 1 == r.len();
            line.push(' ');
            if right.get(i).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if !last {
                    line.push_str(&" ".repeat(pad));
                }
            }
            if !last {
                line.push(' ');
            }
        }
        let _ = writeln!(s, "{}", line.trim_end());
        if ri == 0 {
            // The last column is unpadded: the rule under the header reaches its title.
            let last = r.last().map_or(0, |h| display_width(h));
            let total: usize = widths.iter().take(n.saturating_sub(1)).sum::<usize>()
                + 2 * n.saturating_sub(1)
                + last;
            let _ = writeln!(s, "  {}", "-".repeat(total));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_chinese_names_by_terminal_columns() {
        assert_eq!(display_width("甘肃省"), 6);
        assert_eq!(display_width("62 ab"), 5);
        let mut s = String::new();
        text_table(
            &mut s,
            &[
                vec!["code".into(), "province".into(), "n".into()],
                vec!["62".into(), "甘肃省".into(), "7".into()],
                vec!["45".into(), "广西壮族自治区".into(), "12".into()],
            ],
            &[false, false, true],
        );
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "  code  province         n");
        assert_eq!(lines[2], "  62    甘肃省           7");
        assert_eq!(lines[3], "  45    广西壮族自治区  12");
        assert_eq!(shorten("一二三四五", 3), "一二…");
    }

    /// A national run with findings in every province: one line per province and rule, not
    /// one per file.
    #[test]
    fn a_national_run_stays_short() {
        let provinces: Vec<ProvinceReport> = crate::contract::reference::Reference::get()
            .provinces
            .iter()
            .map(|p| {
                let files: Vec<FileCount> = crate::contract::schema::Table::ALL
                    .iter()
                    .map(|t| FileCount {
                        file: t.file_name().to_string(),
                        encoding: Some("utf-8".into()),
                        rows_read: 1000,
                        rows_loaded: 990,
                        rows_rejected: 10,
                        rows_flagged: 2,
                        file_rejected: false,
                    })
                    .collect();
                let mut rules = BTreeMap::new();
                for r in Rule::ALL {
                    rules.insert(r.id().to_string(), 3);
                }
                ProvinceReport {
                    province_code: p.code.to_string(),
                    source: format!("subs/{}", p.code),
                    submission_id: Some(format!("{}-2021-01-15-01", p.code)),
                    status: Status::Loaded,
                    version: Some(1),
                    files,
                    rules,
                    problems: Vec::new(),
                    rows_read: 6000,
                    rows_loaded: 5940,
                    rows_rejected: 60,
                    rejected_share: 0.01,
                    resubmission_required: false,
                }
            })
            .collect();
        let n = provinces.len();
        assert_eq!(n, 22);
        let text = IngestReport::new("wh".into(), Some(2), 0.05, provinces).to_text();
        let lines = text.lines().count();
        assert!(
            lines <= 2 * n + Rule::ALL.len() + 20,
            "{lines} lines:\n{text}"
        );
        assert!(text.lines().all(|l| l.chars().count() < 220), "{text}");
        assert!(text.contains("甘肃省"));
        if std::env::var_os("SHOW").is_some() {
            println!("{text}");
        }
    }
}
