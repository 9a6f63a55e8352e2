//! The discover phase: the submission directories the command line names (a province
//! directory holding manifest.json, or a root of directories named by province codes), each
//! named by its province, and the checks of a submission's manifest.

use std::path::PathBuf;

use crate::contract::manifest::{Encoding, Manifest};
use crate::contract::registers::Department;
use crate::contract::schema::Table;
use crate::warehouse::{Location, WarehouseError};

use super::IngestError;

/// The submissions the command-line arguments locate: the province submissions, named by
/// province and sorted by it (one per province), and the register submissions of departments
/// (a manifest naming a `department`), sorted by department (one per department).
pub(super) async fn submissions(
    args: &[String],
) -> Result<(Vec<Submission>, Vec<Submission>), IngestError> {
    let mut locations = Vec::new();
    for arg in args {
        locations.extend(discover(arg).await?);
    }
    let mut submissions = resolve(locations).await?;
    submissions.sort_by(|a, b| a.province.cmp(&b.province));
    Ok(submissions
        .into_iter()
        .partition(|s| s.department.is_none()))
}

/// One province submission found on the command line.
pub(super) struct Submission {
    /// The province it is for: the manifest's `province_code` when it names one of the
    /// census provinces, else the directory's name (whatever the directory is called, one
    /// province is one submission).
    pub(super) province: String,
    /// The name of its directory (a 2-digit code when found under a root directory).
    pub(super) dir_name: String,
    pub(super) location: Location,
    /// Where it really is (a canonical local path, or the store URL and prefix): the same
    /// directory given twice is refused.
    pub(super) identity: String,
    /// The bytes of manifest.json (None when absent).
    pub(super) manifest: Option<bytes::Bytes>,
    /// A register submission: the manifest's `department` (as written).
    pub(super) department: Option<String>,
}

async fn discover(arg: &str) -> Result<Vec<Location>, IngestError> {
    let loc = Location::parse(arg, false)?;
    if loc.exists("manifest.json").await? {
        return Ok(vec![loc]);
    }
    let mut out = Vec::new();
    for d in loc.list_dirs("").await? {
        let sub = loc.sub(&d);
        if d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit())
            || Department::from_id(&d).is_some()
        {
            out.push(sub);
        } else if d == "registers" {
            // The generator's layout: the departments' registers under registers/.
            for r in sub.list_dirs("").await? {
                if Department::from_id(&r).is_some() {
                    out.push(sub.sub(&r));
                }
            }
        }
    }
    if out.is_empty() {
        return Err(IngestError::NoSubmission(arg.to_string()));
    }
    Ok(out)
}

/// The canonical local directory of a location on the local file system.
pub(super) fn local_dir(loc: &Location) -> Option<PathBuf> {
    (loc.store_url.scheme() == "file").then(|| {
        let p = PathBuf::from(format!("/{}", loc.prefix));
        std::fs::canonicalize(&p).unwrap_or(p)
    })
}

/// Read the manifests of the located submissions and name each by its province; refuse the
/// same directory twice and two submissions of one province, before any file is read.
async fn resolve(locations: Vec<Location>) -> Result<Vec<Submission>, IngestError> {
    let mut out: Vec<Submission> = Vec::new();
    for location in locations {
        let identity = match local_dir(&location) {
            Some(p) => p.display().to_string(),
            None => location.url_of(&location.prefix),
        };
        if let Some(prev) = out.iter().find(|p| p.identity == identity) {
            return Err(IngestError::SameSubmission {
                first: prev.location.display.clone(),
                second: location.display.clone(),
            });
        }
        let manifest = match location.get_bytes("manifest.json").await {
            Ok(b) => Some(b),
            Err(WarehouseError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            }) => None,
            Err(e) => return Err(e.into()),
        };
        let dir_name = location.prefix.filename().unwrap_or_default().to_string();
        let is_code = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        let named = manifest
            .as_deref()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| v.get("province_code")?.as_str().map(str::to_string))
            .filter(|p| {
                is_code(p)
                    && crate::contract::reference::Reference::get()
                        .province(p)
                        .is_some()
            });
        let department = manifest
            .as_deref()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| {
                v.get("department")
                    .map(|d| d.as_str().unwrap_or("").to_string())
            });
        // A department submission is named by its department (one per department).
        let named = match &department {
            Some(d) => Some(format!("department {d}")),
            None => named,
        };
        let province = named.unwrap_or_else(|| {
            if is_code(&dir_name) {
                dir_name.clone()
            } else {
                location.display.clone()
            }
        });
        if let Some(prev) = out.iter().find(|p| p.province == province) {
            if let Some(department) = department {
                return Err(IngestError::DuplicateDepartment {
                    department,
                    first: prev.location.display.clone(),
                    second: location.display.clone(),
                });
            }
            return Err(IngestError::DuplicateProvince {
                province,
                first: prev.location.display.clone(),
                second: location.display.clone(),
            });
        }
        out.push(Submission {
            province,
            dir_name,
            location,
            identity,
            manifest,
            department,
        });
    }
    Ok(out)
}

/// Parse and check a manifest; the error text explains what is wrong.
pub(super) fn check_manifest(
    bytes: &[u8],
    dir_name: &str,
) -> Result<(Manifest, Option<Encoding>), String> {
    let value = serde_json::from_slice::<serde_json::Value>(bytes).ok();
    if value
        .as_ref()
        .is_some_and(|v| v.is_object() && v.get("province_code").is_none())
    {
        return Err(
            "manifest.json names neither a `province_code` (a province submission) \
                    nor a `department` (a register submission of a department)"
                .to_string(),
        );
    }
    let m: Manifest = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "manifest.json is not valid: {}",
            crate::ingest::validation::escape_text(&e.to_string(), 300)
        )
    })?;
    let mut problems = Vec::new();
    let is_code = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !is_code(&m.province_code) {
        problems.push(format!(
            "province_code `{}` is not a 2-digit code",
            crate::ingest::validation::escape_text(&m.province_code, 40)
        ));
    } else if crate::contract::reference::Reference::get()
        .province(&m.province_code)
        .is_none()
    {
        problems.push(format!(
            "province {} is not one of the 22 census provinces",
            m.province_code
        ));
    }
    if is_code(dir_name) && dir_name != m.province_code {
        problems.push(format!(
            "manifest.json names province {} but the submission directory is {dir_name}",
            m.province_code
        ));
    }
    if m.submission_id.trim().is_empty() {
        problems.push("submission_id is empty".to_string());
    }
    let encoding = declared_encoding(m.encoding.as_ref(), &mut problems);
    for name in m.files.keys() {
        if Table::from_file_name(name).is_none() {
            problems.push(format!(
                "manifest lists `{}`, which is not a file of the submission format",
                crate::ingest::validation::escape_text(name, 100)
            ));
        }
    }
    if problems.is_empty() {
        Ok((m, encoding))
    } else {
        Err(problems.join("; "))
    }
}

/// The encoding the manifest declares, if any; one it does not know is a problem.
pub(super) fn declared_encoding(
    encoding: Option<&String>,
    problems: &mut Vec<String>,
) -> Option<Encoding> {
    match encoding.map(|e| e.to_ascii_lowercase()).as_deref() {
        None => None,
        Some("utf-8" | "utf8") => Some(Encoding::Utf8),
        Some("gb18030" | "gbk" | "gb2312") => Some(Encoding::Gb18030),
        Some(other) => {
            problems.push(format!(
                "encoding `{}` is not utf-8 or gb18030",
                crate::ingest::validation::escape_text(other, 40)
            ));
            None
        }
    }
}
