//! The test environment guards itself: `.ci/python-env` checks, on every call and against a
//! warm venv too, that each requirement's pin is installed and each module it names imports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support;

/// Runs `.ci/python-env` against the test venv with another requirements file.
fn python_env_with(requirements: &str) -> Output {
    let python = support::python();
    let venv: PathBuf = python
        .parent()
        .and_then(Path::parent)
        .expect("the venv python lives in VENV/bin")
        .to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    let req = dir.path().join("requirements.txt");
    std::fs::write(&req, requirements).unwrap();
    Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/python-env"))
        .env("POVCENSUS_VENV", &venv)
        .env("POVCENSUS_REQUIREMENTS", &req)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn project_requirements() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/requirements.txt"))
        .unwrap()
}

#[test]
fn python_env_accepts_the_project_requirements() {
    let out = python_env_with(&project_requirements());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python-env failed:\n{stderr}");
    assert!(stderr.contains("modules import"), "{stderr}");
}

#[test]
fn python_env_fails_on_a_module_that_does_not_import_even_when_warm() {
    let wrong = project_requirements().replace("# import: svy", "# import: samplics");
    assert_ne!(
        wrong,
        project_requirements(),
        "the fixture must change an import"
    );
    let out = python_env_with(&wrong);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "python-env passed:\n{stderr}");
    assert!(
        stderr.contains("`import samplics` fails: ModuleNotFoundError"),
        "{stderr}"
    );
    assert!(!stderr.contains("installing"), "pip ran: {stderr}");
}

#[test]
fn python_env_refuses_a_requirement_that_names_no_module() {
    let bare = project_requirements().replace("# import: openpyxl", "");
    let out = python_env_with(&bare);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "python-env passed:\n{stderr}");
    assert!(
        stderr.contains("`openpyxl==3.1.5` names no module"),
        "{stderr}"
    );
}
