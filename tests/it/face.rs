//! What a person sees at the terminal, pinned by snapshots (insta, `tests/it/snapshots/`):
//! every `--help`, and the errors of common mistakes with their exit status, in the format
//! `error:` / `caused by:` / `hint:`. Re-pin on purpose with `INSTA_UPDATE=always cargo test
//! --test it face` and review the diff.

use std::path::Path;
use std::process::Command;

/// stderr and exit status of `povcensus ARGS`, run in `dir` with no AWS credentials and
/// `dir` written as `[TMP]`.
fn mistake(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_povcensus"))
        .current_dir(dir)
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).replace(dir.to_str().unwrap(), "[TMP]");
    format!("exit status: {:?}\n{stderr}", o.status.code())
}

#[test]
fn help_of_every_command() {
    for command in [
        "",
        "generate",
        "ingest",
        "validate",
        "sql",
        "versions",
        "diff",
        "run",
        "pipelines",
        "check",
        "report",
        "extract",
        "serve",
        "cluster",
    ] {
        let args: Vec<&str> = [command, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let o = Command::new(env!("CARGO_BIN_EXE_povcensus"))
            .args(&args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}");
        let name = if command.is_empty() {
            "povcensus"
        } else {
            command
        };
        insta::assert_snapshot!(format!("help_{name}"), String::from_utf8_lossy(&o.stdout));
    }
}

#[test]
fn common_mistakes_say_error_cause_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("empty-warehouse")).unwrap();
    let cases: [(&str, &[&str]); 7] = [
        (
            "report_on_an_empty_warehouse",
            &["report", "--warehouse", "empty-warehouse", "--out", "out"],
        ),
        (
            "ingest_of_a_missing_directory",
            &["ingest", "no/such/submission", "--warehouse", "wh"],
        ),
        ("check_of_a_misspelt_pipeline", &["check", "exit_assesment"]),
        (
            "sql_with_a_syntax_error",
            &["sql", "--warehouse", "empty-warehouse", "-c", "SELEC 1"],
        ),
        (
            "a_memory_limit_that_is_not_a_size",
            &[
                "run",
                "census",
                "--warehouse",
                "wh",
                "--out",
                "o",
                "--memory-limit",
                "lots",
            ],
        ),
        (
            "an_s3_warehouse_without_credentials",
            &["versions", "--warehouse", "s3://census/warehouse"],
        ),
        (
            "a_reject_threshold_that_is_not_a_share",
            &[
                "ingest",
                "no/such/submission",
                "--warehouse",
                "wh",
                "--reject-threshold",
                "NaN",
            ],
        ),
    ];
    for (name, args) in cases {
        insta::assert_snapshot!(name, mistake(d, args));
    }
}
