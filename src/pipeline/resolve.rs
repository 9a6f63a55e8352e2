//! Finding and checking a pipeline: by name among the [`Definitions`] or by path, then the
//! validation pass that reports every problem at once (name, parameters, steps, dependencies,
//! outputs, order), each a named check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::PipelineError;
use super::spec::{
    Builtin, Definitions, Pipeline, PipelineFile, Step, StepDef, StepKind, embedded, steps_read,
};

impl Pipeline {
    /// A pipeline by name (`census`) from `defs`, or by path (`pipelines/census.toml`: any
    /// argument with a `/` or ending in `.toml`, its SQL in `queries/` beside its directory).
    pub fn resolve(
        arg: &str,
        defs: &Definitions,
        overrides: &[(String, String)],
    ) -> Result<Pipeline, PipelineError> {
        if arg.ends_with(".toml") || arg.contains('/') {
            return Pipeline::load(Path::new(arg), overrides);
        }
        match defs {
            Definitions::Dir(dir) => {
                let path = dir.join(format!("{arg}.toml"));
                if !path.is_file() {
                    return Err(PipelineError::Unknown {
                        name: arg.to_string(),
                        available: defs.names()?,
                    });
                }
                Pipeline::load(&path, overrides)
            }
            Definitions::Embedded => {
                let rel = format!("pipelines/{arg}.toml");
                let Some(text) = embedded(&rel) else {
                    return Err(PipelineError::Unknown {
                        name: arg.to_string(),
                        available: defs.names()?,
                    });
                };
                let invalid = |problems: Vec<String>| PipelineError::Invalid {
                    path: format!("{rel} (built in)"),
                    problems,
                };
                let file: PipelineFile =
                    toml::from_str(text).map_err(|e| invalid(vec![e.to_string()]))?;
                let read = |sql: &str| {
                    embedded(&format!("queries/{sql}"))
                        .map(str::to_string)
                        .ok_or_else(|| format!("no built-in SQL file queries/{sql}"))
                };
                Pipeline::check_with(Path::new(&rel), file, &read, overrides).map_err(invalid)
            }
        }
    }

    /// Read and check a pipeline file; SQL files are looked up in `queries/` beside the
    /// pipeline's directory. `overrides` replace declared parameters (`name=value`).
    pub fn load(path: &Path, overrides: &[(String, String)]) -> Result<Pipeline, PipelineError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
            path: shown.clone(),
            source,
        })?;
        let invalid = |problems: Vec<String>| PipelineError::Invalid {
            path: shown.clone(),
            problems,
        };
        let file: PipelineFile = toml::from_str(&text).map_err(|e| invalid(vec![e.to_string()]))?;
        let queries = path
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."))
            .join("queries");
        Pipeline::check(path, file, &queries, overrides).map_err(invalid)
    }

    /// The validation pass over a pipeline whose SQL files are in the directory `queries`.
    pub fn check(
        path: &Path,
        file: PipelineFile,
        queries: &Path,
        overrides: &[(String, String)],
    ) -> Result<Pipeline, Vec<String>> {
        let read = |sql: &str| {
            let p = queries.join(sql);
            std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        Pipeline::check_with(path, file, &read, overrides)
    }

    /// The validation pass: every problem, at once. `read_sql` gives the text of a SQL file
    /// named relative to `queries/`.
    pub fn check_with(
        path: &Path,
        file: PipelineFile,
        read_sql: &dyn Fn(&str) -> Result<String, String>,
        overrides: &[(String, String)],
    ) -> Result<Pipeline, Vec<String>> {
        let mut problems = Vec::new();
        if !is_identifier(&file.name) {
            problems.push(format!(
                "name: `{}` is not a lower-case identifier",
                file.name
            ));
        }
        let parameters = check_parameters(&file, overrides, &mut problems);
        if file.steps.is_empty() {
            problems.push("steps: the pipeline has no step".into());
        }
        let names: Vec<&str> = file.steps.iter().map(|s| s.name.as_str()).collect();
        let mut seen = BTreeSet::new();
        let mut used_parameters = BTreeSet::new();
        let mut steps = Vec::new();
        for (i, s) in file.steps.iter().enumerate() {
            let at = format!("steps[{i}] (`{}`)", s.name);
            check_step_name(&at, s, &names, &mut seen, &mut problems);
            let known = |ph: &str| parameters.contains_key(ph) || file.parameters.contains_key(ph);
            let kind = step_kind(&at, s, &names, read_sql, &known, &mut problems);
            if let Some((kind, placeholders)) = kind {
                used_parameters.extend(placeholders);
                steps.push(Step {
                    name: s.name.clone(),
                    kind,
                    depends_on: s.depends_on.clone(),
                    materialize: s.materialize,
                    output: s.output,
                    by_province: s.by_province,
                });
            }
        }
        if !file.steps.iter().any(|s| s.output) {
            problems.push("steps: no step has output = true".into());
        }
        for k in file.parameters.keys() {
            if !used_parameters.contains(k) {
                problems.push(format!("parameters.{k}: not used by any step"));
            }
        }
        let ordered = order_steps(steps, &names, &mut problems);
        if problems.is_empty() {
            check_by_province(&ordered, &mut problems);
        }
        if problems.is_empty() {
            Ok(Pipeline {
                path: path.to_path_buf(),
                name: file.name,
                parameters,
                steps: ordered,
                join_filters_in_scans: file.join_filters_in_scans,
            })
        } else {
            Err(problems)
        }
    }

    /// A SQL file the binary carries that is not one of the steps (`extract/persons.sql`,
    /// relative to `queries/`), with the pipeline's parameters filled in as for its steps.
    /// Every placeholder must be one of the parameters.
    pub fn embedded_sql(&self, file: &str) -> Result<String, PipelineError> {
        let rel = format!("queries/{file}");
        let invalid = |problem: String| PipelineError::Invalid {
            path: format!("{rel} (built in)"),
            problems: vec![problem],
        };
        let text = embedded(&rel).ok_or_else(|| invalid("no such built-in SQL file".into()))?;
        let unknown: Vec<String> = placeholders(text)
            .into_iter()
            .filter(|p| !self.parameters.contains_key(p))
            .map(|p| format!("${{{p}}}"))
            .collect();
        if !unknown.is_empty() {
            return Err(invalid(format!(
                "uses {}, not a parameter of the {} pipeline",
                unknown.join(", "),
                self.name
            )));
        }
        Ok(self.sql_of(text))
    }

    /// The SQL of a step with its parameters filled in.
    pub fn sql_of(&self, text: &str) -> String {
        crate::engine::fill(
            text,
            self.parameters
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }
}

/// The declared parameters rendered as SQL text, with `overrides` (`--param name=value`,
/// parsed as the declared type) in place of their declared values.
fn check_parameters(
    file: &PipelineFile,
    overrides: &[(String, String)],
    problems: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut parameters = BTreeMap::new();
    for (k, v) in &file.parameters {
        match render_parameter(v) {
            Ok(s) => {
                parameters.insert(k.clone(), s);
            }
            Err(e) => problems.push(format!("parameters.{k}: {e}")),
        }
    }
    for (k, v) in overrides {
        let Some(declared) = file.parameters.get(k) else {
            problems.push(format!("--param {k}: the pipeline has no parameter `{k}`"));
            continue;
        };
        let value = match declared {
            toml::Value::Integer(_) => v
                .parse::<i64>()
                .map(toml::Value::Integer)
                .map_err(|e| e.to_string()),
            toml::Value::Float(_) => v
                .parse::<f64>()
                .map(toml::Value::Float)
                .map_err(|e| e.to_string()),
            _ => Ok(toml::Value::String(v.clone())),
        };
        match value.and_then(|v| render_parameter(&v)) {
            Ok(s) => {
                parameters.insert(k.clone(), s);
            }
            Err(e) => problems.push(format!("--param {k}={v}: {e}")),
        }
    }
    parameters
}

/// A step's name (an identifier, unique, not a provided table) and its dependencies (other
/// steps that exist).
fn check_step_name<'a>(
    at: &str,
    s: &'a StepDef,
    names: &[&str],
    seen: &mut BTreeSet<&'a str>,
    problems: &mut Vec<String>,
) {
    if !is_identifier(&s.name) {
        problems.push(format!("{at}.name: not a lower-case identifier"));
    }
    if !seen.insert(s.name.as_str()) {
        problems.push(format!("{at}.name: another step has the same name"));
    }
    if provided(&s.name) {
        problems.push(format!(
            "{at}.name: `{}` is a warehouse or reference table",
            s.name
        ));
    }
    for d in &s.depends_on {
        if d == &s.name {
            problems.push(format!("{at}.depends_on: the step depends on itself"));
        } else if !names.contains(&d.as_str()) {
            problems.push(format!("{at}.depends_on: no step is named `{d}`"));
        }
    }
}

/// A step run by province is a table step of SQL that reads only views of SQL (directly or
/// through other views), which are defined again over each province's tables, and no
/// department register, which has no province. Checked on the ordered steps.
fn check_by_province(steps: &[Step], problems: &mut Vec<String>) {
    for s in steps.iter().filter(|s| s.by_province) {
        let at = format!("steps (`{}`).by_province", s.name);
        if matches!(s.kind, StepKind::Builtin(_)) {
            problems.push(format!("{at}: a built-in step does not run by province"));
            continue;
        }
        if s.is_view() {
            problems.push(format!(
                "{at}: a view is computed where it is read; only a step with materialize or \
                 output runs by province"
            ));
        }
        let read = steps_read(steps, s);
        for d in read.iter().filter(|d| !d.is_view()) {
            problems.push(format!(
                "{at}: it reads `{}`, a result of the whole snapshot kept by an earlier step; a \
                 step run by province reads only views (defined again for each province)",
                d.name
            ));
        }
        if s.reads_registers() || read.iter().any(|d| d.reads_registers()) {
            problems.push(format!(
                "{at}: it reads a department register, which has no province"
            ));
        }
    }
}

/// What a step computes, and the placeholders its SQL uses; `None` when it cannot be said.
fn step_kind(
    at: &str,
    s: &StepDef,
    names: &[&str],
    read_sql: &dyn Fn(&str) -> Result<String, String>,
    known: &dyn Fn(&str) -> bool,
    problems: &mut Vec<String>,
) -> Option<(StepKind, BTreeSet<String>)> {
    match (&s.sql, &s.builtin) {
        (Some(sql), None) => match read_sql(sql) {
            Ok(text) => {
                let used = check_sql(at, s, sql, &text, names, known, problems);
                Some((
                    StepKind::Sql {
                        file: sql.clone(),
                        text,
                    },
                    used,
                ))
            }
            Err(e) => {
                problems.push(format!("{at}.sql: {e}"));
                None
            }
        },
        (None, Some(b)) => match Builtin::parse(b) {
            Some(b) => {
                if s.depends_on.is_empty() {
                    problems.push(format!(
                        "{at}.depends_on: a built-in step needs its inputs in depends_on"
                    ));
                }
                Some((StepKind::Builtin(b), BTreeSet::new()))
            }
            None => {
                problems.push(format!(
                    "{at}.builtin: unknown built-in `{b}` (known: unpivot_indicators)"
                ));
                None
            }
        },
        (Some(_), Some(_)) => {
            problems.push(format!("{at}: give either sql or builtin, not both"));
            None
        }
        (None, None) => {
            problems.push(format!("{at}: give sql (a file in queries/) or builtin"));
            None
        }
    }
}

/// A step's SQL: every placeholder a parameter, every step it reads in its depends_on.
/// Returns the placeholders.
fn check_sql(
    at: &str,
    s: &StepDef,
    sql: &str,
    text: &str,
    names: &[&str],
    known: &dyn Fn(&str) -> bool,
    problems: &mut Vec<String>,
) -> BTreeSet<String> {
    let used = placeholders(text);
    for ph in &used {
        if !known(ph) {
            problems.push(format!(
                "{at}.sql: {sql} uses ${{{ph}}}, which is not a parameter"
            ));
        }
    }
    for other in names {
        if *other != s.name && mentions(text, other) && !s.depends_on.iter().any(|d| d == other) {
            problems.push(format!(
                "{at}.depends_on: {sql} reads step `{other}`, which is not in depends_on"
            ));
        }
    }
    used
}

/// The steps with dependencies first, otherwise as written; a cycle is a problem.
fn order_steps(steps: Vec<Step>, names: &[&str], problems: &mut Vec<String>) -> Vec<Step> {
    let mut ordered: Vec<Step> = Vec::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut pending = steps;
    while !pending.is_empty() {
        let ready = pending.iter().position(|s| {
            s.depends_on
                .iter()
                .all(|d| done.contains(d) || !names.contains(&d.as_str()))
        });
        match ready {
            Some(i) => {
                let s = pending.remove(i);
                done.insert(s.name.clone());
                ordered.push(s);
            }
            None => {
                let cycle: Vec<&str> = pending.iter().map(|s| s.name.as_str()).collect();
                problems.push(format!(
                    "depends_on: these steps depend on each other in a cycle: {}",
                    cycle.join(", ")
                ));
                break;
            }
        }
    }
    ordered
}

/// Whether a table name is provided to every pipeline: a warehouse table (census or register),
/// `rejects`, or a reference table.
fn provided(name: &str) -> bool {
    crate::contract::schema::Table::ALL
        .iter()
        .any(|t| t.name() == name)
        || crate::contract::registers::Register::ALL
            .iter()
            .any(|r| r.table_name() == name)
        || name == "rejects"
        || name == "ref_provinces"
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `${name}` placeholders of a text.
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    // reason for the slicing below: the indices are those of ASCII characters just found.
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) => {
                out.insert(after[..j].to_string());
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// Whether `sql` mentions `word` as a whole identifier (outside comments).
fn mentions(sql: &str, word: &str) -> bool {
    let code: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    code.match_indices(word).any(|(i, _)| {
        let before = i == 0 || !is_ident(bytes[i - 1]);
        let end = i + word.len();
        let after = end >= bytes.len() || !is_ident(bytes[end]);
        before && after
    })
}

/// Render a parameter value as SQL text. Strings must not contain quotes or semicolons.
fn render_parameter(v: &toml::Value) -> Result<String, String> {
    match v {
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) if f.is_finite() => Ok(format!("{f:?}")),
        toml::Value::String(s) if !s.contains(['\'', ';', '\\', '\n']) => Ok(s.clone()),
        toml::Value::String(_) => {
            Err("a string parameter may not contain quotes, semicolons or line breaks".into())
        }
        _ => Err("a parameter must be a number or a string".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(toml_text: &str) -> PipelineFile {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.sql"), "SELECT ${line} AS x FROM b_step").unwrap();
        let f = file(
            r#"
            name = "Bad Name"
            [parameters]
            unused = 1
            [[steps]]
            name = "a"
            sql = "a.sql"
            [[steps]]
            name = "b_step"
            sql = "missing.sql"
            depends_on = ["nope", "b_step"]
            [[steps]]
            name = "c"
            builtin = "magic"
            [[steps]]
            name = "c"
            "#,
        );
        let problems = Pipeline::check(
            Path::new("p.toml"),
            f,
            dir.path(),
            &[("x".into(), "1".into())],
        )
        .unwrap_err();
        let all = problems.join("\n");
        for want in [
            "name: `Bad Name` is not a lower-case identifier",
            "--param x: the pipeline has no parameter `x`",
            "a.sql uses ${line}, which is not a parameter",
            "a.sql reads step `b_step`, which is not in depends_on",
            "steps[1] (`b_step`).sql: cannot read",
            "depends_on: no step is named `nope`",
            "depends_on: the step depends on itself",
            "unknown built-in `magic`",
            "steps[3] (`c`).name: another step has the same name",
            "give sql (a file in queries/) or builtin",
            "no step has output = true",
            "parameters.unused: not used by any step",
        ] {
            assert!(all.contains(want), "missing problem `{want}` in:\n{all}");
        }
    }

    #[test]
    fn a_step_run_by_province_reads_only_views_and_no_register() {
        let dir = tempfile::tempdir().unwrap();
        for (n, sql) in [
            ("base", "SELECT * FROM persons"),
            ("kept", "SELECT * FROM households"),
            ("regs", "SELECT * FROM register_civil_affairs"),
            (
                "sums",
                "SELECT * FROM base JOIN kept ON true JOIN regs ON true",
            ),
        ] {
            std::fs::write(dir.path().join(format!("{n}.sql")), sql).unwrap();
        }
        let f = file(
            r#"
            name = "p"
            [[steps]]
            name = "base"
            sql = "base.sql"
            by_province = true
            [[steps]]
            name = "kept"
            sql = "kept.sql"
            materialize = true
            [[steps]]
            name = "regs"
            sql = "regs.sql"
            [[steps]]
            name = "sums"
            sql = "sums.sql"
            depends_on = ["base", "kept", "regs"]
            output = true
            by_province = true
            [[steps]]
            name = "rows"
            builtin = "unpivot_indicators"
            depends_on = ["kept"]
            by_province = true
            "#,
        );
        let problems = Pipeline::check(Path::new("p.toml"), f, dir.path(), &[]).unwrap_err();
        let all = problems.join("\n");
        for want in [
            "steps (`base`).by_province: a view is computed where it is read",
            "steps (`sums`).by_province: it reads `kept`, a result of the whole snapshot",
            "steps (`sums`).by_province: it reads a department register",
            "steps (`rows`).by_province: a built-in step does not run by province",
        ] {
            assert!(all.contains(want), "missing problem `{want}` in:\n{all}");
        }
        assert_eq!(problems.len(), 4, "{all}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<PipelineFile>(
            "name = \"x\"\n[[steps]]\nname = \"a\"\nsqll = \"a.sql\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `sqll`"), "{err}");
    }

    #[test]
    fn dependencies_run_first_and_cycles_are_found() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["x", "y", "z"] {
            std::fs::write(dir.path().join(format!("{n}.sql")), "SELECT 1").unwrap();
        }
        let f = file(
            r#"
            name = "ok"
            [[steps]]
            name = "z"
            sql = "z.sql"
            depends_on = ["y"]
            output = true
            [[steps]]
            name = "y"
            sql = "y.sql"
            depends_on = ["x"]
            [[steps]]
            name = "x"
            sql = "x.sql"
            "#,
        );
        let p = Pipeline::check(Path::new("p.toml"), f, dir.path(), &[]).unwrap();
        let order: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(order, ["x", "y", "z"]);
        let f = file(
            r#"
            name = "cyc"
            [[steps]]
            name = "x"
            sql = "x.sql"
            depends_on = ["y"]
            output = true
            [[steps]]
            name = "y"
            sql = "y.sql"
            depends_on = ["x"]
            "#,
        );
        let problems = Pipeline::check(Path::new("p.toml"), f, dir.path(), &[]).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("cycle: x, y")),
            "{problems:?}"
        );
    }

    #[test]
    fn parameters_are_rendered_safely() {
        assert_eq!(
            render_parameter(&toml::Value::Float(4000.0)).unwrap(),
            "4000.0"
        );
        assert_eq!(render_parameter(&toml::Value::Integer(3)).unwrap(), "3");
        assert!(render_parameter(&toml::Value::String("x'; DROP".into())).is_err());
        assert!(mentions("SELECT * FROM county_sums", "county_sums"));
        assert!(!mentions("SELECT * FROM county_sums_x", "county_sums"));
        assert!(!mentions("-- county_sums\nSELECT 1", "county_sums"));
    }

    #[test]
    fn the_shipped_pipelines_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(root.join("pipelines")).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                Pipeline::load(&p, &[]).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}
