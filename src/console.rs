//! The console of `povcensus sql`: statements split from a script, results written as a
//! table, CSV (with a byte order mark for files) or JSON, and the interactive prompt: results
//! fitted to the terminal (rows and columns elided like DuckDB's, [`format_table`]) and a
//! private, persistent history ([`history_path`]). What SQL may do (read-only) and the guards
//! every statement runs under (size, depth, memory, result bytes) are the engine's
//! ([`crate::engine::read_only`], [`crate::engine::guard`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};

use crate::engine::guard::QueryRunner;

/// Output format of `povcensus sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

/// Write query results to `out` in the chosen format, whole. `bom` starts CSV with a UTF-8 byte
/// order mark (for spreadsheets: Excel then reads Chinese text right).
pub fn write_batches(
    out: &mut dyn Write,
    batches: &[RecordBatch],
    format: OutputFormat,
    bom: bool,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => {
            writeln!(
                out,
                "{}",
                arrow::util::pretty::pretty_format_batches(batches)?
            )?;
        }
        OutputFormat::Csv => {
            if bom {
                out.write_all(crate::output::UTF8_BOM.as_bytes())?;
            }
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if batches.is_empty() {
                return Ok(());
            }
            for b in batches {
                w.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs)?;
            w.finish()?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// How the prompt shows a table: at most `max_rows` rows (0: all) and `max_width` terminal
/// columns, like DuckDB's `.maxrows` and `.maxwidth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Display {
    pub max_rows: usize,
    pub max_width: usize,
}

/// The widest a cell is shown at the prompt before it is cut with `…`.
const MAX_CELL_WIDTH: usize = 40;

/// A result as the prompt shows it: when it has more than `max_rows` rows, the first and the
/// last half of them with a row of `…` between; when its columns are wider than `max_width`,
/// the first and last columns that fit with a column of `…` between; long cells cut with `…`.
/// Lines under the table say how many rows there are and which columns were hidden.
pub fn format_table(batches: &[RecordBatch], d: Display) -> Result<String, ArrowError> {
    let Some(schema) = batches.first().map(RecordBatch::schema) else {
        return Ok("(no columns)\n".into());
    };
    let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let (top, bottom) = if d.max_rows > 0 && n > d.max_rows {
        (d.max_rows.div_ceil(2), d.max_rows / 2)
    } else {
        (n, 0)
    };
    let rows = cells(batches, 0, top)?
        .into_iter()
        .chain(cells(batches, n - bottom, bottom)?)
        .collect::<Vec<_>>();
    let headers: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let right: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().is_numeric())
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].width())
                .chain([headers[c].width()])
                .max()
                .unwrap_or(1)
                .max(1)
        })
        .collect();
    let shown = fitting_columns(&widths, d.max_width);
    let mut t = Grid {
        columns: &shown,
        widths: &widths,
        right: &right,
        out: String::new(),
    };
    t.rule();
    t.line(
        &headers
            .iter()
            .map(|h| Cell::from(h.as_str()))
            .collect::<Vec<_>>(),
        false,
    );
    t.rule();
    for (i, r) in rows.iter().enumerate() {
        if bottom > 0 && i == top {
            t.line(&vec![Cell::from("…"); headers.len()], true);
        }
        t.line(r, false);
    }
    t.rule();
    let mut out = t.out;
    if rows.len() < n {
        out.push_str(&format!(
            "{n} rows, {} shown ({} elided; .maxrows N shows more, .maxrows 0 all)\n",
            rows.len(),
            n - rows.len()
        ));
    }
    let hidden: Vec<&str> = (0..headers.len())
        .filter(|c| !shown.contains(c))
        .map(|c| headers[c].as_str())
        .collect();
    if !hidden.is_empty() {
        out.push_str(&format!(
            "{} columns, {} shown; hidden to fit the terminal: {} (.maxwidth N, or --format csv)\n",
            headers.len(),
            shown.len(),
            hidden.join(", ")
        ));
    }
    Ok(out)
}

/// One cell as shown: its text, cut to [`MAX_CELL_WIDTH`].
#[derive(Debug, Clone)]
struct Cell(String);

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        // A line break would break the grid: shown as a symbol.
        let s = s.replace('\n', "↵").replace('\r', "");
        if s.width() <= MAX_CELL_WIDTH {
            return Cell(s);
        }
        let mut cut = String::new();
        for c in s.chars() {
            if cut.width() + c.width().unwrap_or(0) > MAX_CELL_WIDTH - 1 {
                break;
            }
            cut.push(c);
        }
        cut.push('…');
        Cell(cut)
    }
}

impl Cell {
    fn width(&self) -> usize {
        self.0.width()
    }
}

/// `len` rows from row `start` of the result, as cells.
fn cells(batches: &[RecordBatch], start: usize, len: usize) -> Result<Vec<Vec<Cell>>, ArrowError> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::with_capacity(len);
    let mut offset = 0;
    for b in batches {
        let (lo, hi) = (offset, offset + b.num_rows());
        offset = hi;
        let (from, to) = (start.max(lo), (start + len).min(hi));
        if from >= to {
            continue;
        }
        let formatters = b
            .columns()
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in from - lo..to - lo {
            out.push(
                formatters
                    .iter()
                    .map(|f| Ok(Cell::from(f.value(row).try_to_string()?.as_str())))
                    .collect::<Result<Vec<_>, ArrowError>>()?,
            );
        }
    }
    Ok(out)
}

/// The columns shown within `max_width` (0: all): the first and last ones, alternately, while
/// they fit beside a `…` column; at least the first.
fn fitting_columns(widths: &[usize], max_width: usize) -> Vec<usize> {
    let total: usize = widths.iter().map(|w| w + 3).sum::<usize>() + 1;
    if max_width == 0 || total <= max_width {
        return (0..widths.len()).collect();
    }
    let (mut left, mut right) = (Vec::new(), Vec::new());
    // The frame, and the `…` column.
    let mut used = 1 + 4;
    let (mut lo, mut hi) = (0, widths.len());
    let mut from_left = true;
    while lo < hi {
        let c = if from_left { lo } else { hi - 1 };
        if used + widths[c] + 3 > max_width && !(left.is_empty() && from_left) {
            break;
        }
        used += widths[c] + 3;
        if from_left {
            left.push(c);
            lo += 1;
        } else {
            right.push(c);
            hi -= 1;
        }
        from_left = !from_left;
    }
    right.reverse();
    left.extend(right);
    left
}

/// A table being drawn: the columns shown (a `…` column where some are hidden).
struct Grid<'a> {
    columns: &'a [usize],
    widths: &'a [usize],
    right: &'a [bool],
    out: String,
}

impl Grid<'_> {
    /// The hidden columns' place: after the last shown column of an unbroken run from 0.
    fn gap(&self) -> Option<usize> {
        (self.columns.len() < self.widths.len()).then(|| {
            self.columns
                .iter()
                .enumerate()
                .take_while(|(i, c)| i == *c)
                .count()
        })
    }

    fn rule(&mut self) {
        let mut s = String::from("+");
        for (i, &c) in self.columns.iter().enumerate() {
            if self.gap() == Some(i) {
                s.push_str("---+");
            }
            s.push_str(&"-".repeat(self.widths[c] + 2));
            s.push('+');
        }
        if self.gap() == Some(self.columns.len()) {
            s.push_str("---+");
        }
        self.out.push_str(&s);
        self.out.push('\n');
    }

    fn line(&mut self, cells: &[Cell], centred: bool) {
        let mut s = String::from("|");
        for (i, &c) in self.columns.iter().enumerate() {
            if self.gap() == Some(i) {
                s.push_str(" … |");
            }
            let pad = self.widths[c] - cells[c].width();
            let text = &cells[c].0;
            if self.right[c] && !centred {
                s.push_str(&format!(" {}{text} |", " ".repeat(pad)));
            } else {
                s.push_str(&format!(" {text}{} |", " ".repeat(pad)));
            }
        }
        if self.gap() == Some(self.columns.len()) {
            s.push_str(" … |");
        }
        self.out.push_str(&s);
        self.out.push('\n');
    }
}

/// Split a script into statements at semicolons outside quotes.
pub fn split_statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    // A comment runs to the end of the line.
                    for c in chars.by_ref() {
                        if c == '\n' {
                            cur.push('\n');
                            break;
                        }
                    }
                }
                ';' => {
                    if !cur.trim().is_empty() {
                        out.push(cur.trim().to_string());
                    }
                    cur.clear();
                }
                _ => cur.push(c),
            },
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// The environment variable naming the prompt's history file; set and empty, no history is
/// kept.
pub const HISTORY_ENV: &str = "POVCENSUS_SQL_HISTORY";

/// Where the prompt keeps its history: `POVCENSUS_SQL_HISTORY` when set (empty: nowhere),
/// else `$XDG_STATE_HOME/povcensus/sql_history`, else `~/.local/state/povcensus/sql_history`.
pub fn history_path() -> Option<PathBuf> {
    history_path_in(|v| std::env::var_os(v))
}

/// [`history_path`] with the environment read through `var`.
fn history_path_in(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    if let Some(p) = var(HISTORY_ENV) {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    let set = |v: &str| var(v).filter(|x| !x.is_empty());
    let state = set("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("povcensus/sql_history"))
}

/// Make the history file private before anything is written to it: its directory is created
/// owner-only (0700), the file is created empty or, when it exists, made owner-only (0600).
pub fn prepare_history(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        b.mode(0o700);
        b.create(dir)?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    o.mode(0o600);
    let f = o.open(path)?;
    #[cfg(unix)]
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    drop(f);
    Ok(())
}

/// Whether a statement may be kept in the history file: not when it holds something that
/// looks like an ID number (15 or more digits in a row, as in GB 11643 IDs), which must never
/// be written to disk outside the warehouse.
pub fn may_keep(statement: &str) -> bool {
    let mut run = 0;
    for c in statement.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 15 {
            return false;
        }
    }
    true
}

/// What the prompt is set to.
#[derive(Debug, Clone)]
pub struct ReplOptions {
    pub format: OutputFormat,
    pub display: Display,
    /// The history file (None: no history kept beyond the session).
    pub history: Option<PathBuf>,
}

/// The history file of the prompt, made private and loaded; on failure, a warning and none.
fn open_history(rl: &mut rustyline::DefaultEditor, path: Option<&Path>) -> Option<PathBuf> {
    let path = path?;
    let opened = prepare_history(path)
        .map_err(|e| e.to_string())
        .and_then(|()| rl.load_history(path).map_err(|e| e.to_string()));
    match opened {
        Ok(()) => Some(path.to_path_buf()),
        Err(e) => {
            tracing::warn!(
                "no SQL history this session: {} ({e}); set {HISTORY_ENV}= to keep none",
                path.display()
            );
            None
        }
    }
}

/// A dot command of the prompt (`.maxrows N`, `.maxwidth N`), applied to `o`; false when the
/// line is not one.
fn dot_command(line: &str, o: &mut ReplOptions) -> bool {
    let mut words = line.split_whitespace();
    let (Some(cmd), arg) = (words.next(), words.next()) else {
        return false;
    };
    let target = match cmd {
        ".maxrows" => &mut o.display.max_rows,
        ".maxwidth" => &mut o.display.max_width,
        _ => return false,
    };
    match arg.map(str::parse::<usize>) {
        Some(Ok(n)) => *target = n,
        Some(Err(_)) => eprintln!("error: {cmd} takes a number (0: no limit)"),
        None => eprintln!("{cmd} {}", target),
    }
    true
}

/// Show one result at the prompt: a table fitted to the terminal, else the format chosen.
fn show(batches: &[RecordBatch], o: &ReplOptions) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if o.format == OutputFormat::Table {
        out.write_all(format_table(batches, o.display)?.as_bytes())?;
        return Ok(());
    }
    write_batches(&mut out, batches, o.format, false)
}

/// The interactive prompt: statements end with `;`, `\q` quits, `\d` lists tables,
/// `.maxrows N` and `.maxwidth N` set how much of a result is shown. Statements are kept in
/// the private history file (never one holding an ID number).
pub async fn repl(
    ctx: &SessionContext,
    runner: &QueryRunner,
    mut opts: ReplOptions,
) -> anyhow::Result<()> {
    let mut rl = rustyline::DefaultEditor::new()?;
    let history = open_history(&mut rl, opts.history.as_deref());
    let mut buffer = String::new();
    eprintln!(
        "povcensus sql: end statements with ;  \\d lists tables  .maxrows N  .maxwidth N  \\q quits"
    );
    loop {
        let prompt = if buffer.is_empty() {
            "povcensus> "
        } else {
            "       ...> "
        };
        let line = match rl.readline(prompt) {
            Ok(l) => l,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && (trimmed == "\\q" || trimmed == "quit" || trimmed == "exit") {
            break;
        }
        if buffer.is_empty() && trimmed == "\\d" {
            let answer = runner.run(ctx, "SHOW TABLES").await?;
            show(&answer.batches, &opts)?;
            continue;
        }
        if buffer.is_empty() && dot_command(trimmed, &mut opts) {
            let _ = rl.add_history_entry(trimmed);
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        remember(&mut rl, history.as_deref(), buffer.trim());
        run_statements(ctx, runner, &buffer, &opts).await?;
        buffer.clear();
    }
    Ok(())
}

/// Add a statement to the history, and to the history file when it may be kept there.
fn remember(rl: &mut rustyline::DefaultEditor, history: Option<&Path>, statement: &str) {
    if !may_keep(statement) {
        eprintln!("(not kept in the history: the statement holds what looks like an ID number)");
        return;
    }
    let _ = rl.add_history_entry(statement);
    if let Some(path) = history
        && let Err(e) = rl.append_history(path)
    {
        tracing::warn!("cannot write the SQL history {}: {e}", path.display());
    }
}

async fn run_statements(
    ctx: &SessionContext,
    runner: &QueryRunner,
    buffer: &str,
    opts: &ReplOptions,
) -> anyhow::Result<()> {
    for stmt in split_statements(buffer) {
        let start = std::time::Instant::now();
        match runner.run(ctx, &stmt).await {
            Ok(answer) => {
                show(&answer.batches, opts)?;
                eprintln!(
                    "{} rows in {:.3} s",
                    answer.rows,
                    start.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                eprintln!("error: {e}");
                if let Some(h) = e.hint() {
                    eprintln!("  hint: {h}");
                }
            }
        }
    }
    Ok(())
}

/// The width of the terminal on standard output, else `COLUMNS`, else 120.
pub fn terminal_width() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct passed, which lives on
        // this stack frame; a failure (not a terminal) leaves it zeroed and is checked.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
        if ok && ws.ws_col > 0 {
            return usize::from(ws.ws_col);
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|c| *c > 0)
        .unwrap_or(120)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;

    /// `n` rows of `cols` columns: c0 the row number, the others text.
    fn result(n: i64, cols: usize) -> Vec<RecordBatch> {
        let mut columns: Vec<(String, ArrayRef)> =
            vec![("c0".into(), Arc::new(Int64Array::from_iter_values(0..n)))];
        for c in 1..cols {
            columns.push((
                format!("c{c}"),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("贵州{i:04}")),
                )),
            ));
        }
        // Two batches, so that the rows shown come from both.
        let b = RecordBatch::try_from_iter(columns).unwrap();
        let half = b.num_rows() / 2;
        vec![b.slice(0, half), b.slice(half, b.num_rows() - half)]
    }

    /// [`result`] as the prompt shows it within these limits.
    fn shown(n: i64, cols: usize, max_rows: usize, max_width: usize) -> String {
        format_table(
            &result(n, cols),
            Display {
                max_rows,
                max_width,
            },
        )
        .unwrap()
    }

    #[test]
    fn a_long_result_shows_its_first_and_last_rows_and_says_how_many_were_elided() {
        let t = shown(66_000, 2, 10, 0);
        let lines: Vec<&str> = t.lines().collect();
        // Rule, header, rule, 5 rows, the elision row, 5 rows, rule, the note.
        assert_eq!(lines.len(), 3 + 5 + 1 + 5 + 1 + 1, "{t}");
        assert!(
            lines[3].contains("| 0 ") || lines[3].contains("|     0 |"),
            "{t}"
        );
        assert!(lines[8].starts_with("| … "), "{t}");
        assert!(
            lines[13].contains("| 65999 |") && lines[13].contains("贵州65999"),
            "{t}"
        );
        assert_eq!(
            lines[15],
            "66000 rows, 10 shown (65990 elided; .maxrows N shows more, .maxrows 0 all)"
        );
        // The grid lines up, Chinese counting two columns each.
        let width = lines[0].width();
        assert!(lines[..15].iter().all(|l| l.width() == width), "{t}");
        // No limit: every row, no note.
        let all = shown(30, 2, 0, 0);
        assert_eq!(all.lines().count(), 3 + 30 + 1);
    }

    #[test]
    fn a_wide_result_hides_middle_columns_to_fit_and_names_them() {
        let t = shown(3, 12, 40, 60);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[..7].iter().all(|l| l.width() <= 60), "{t}");
        let header = lines[1];
        assert!(header.contains(" c0 ") && header.contains(" c11 "), "{t}");
        assert!(header.contains(" … "), "{t}");
        let note = lines.last().unwrap();
        assert!(note.starts_with("12 columns, "), "{note}");
        let hidden: Vec<&str> = note
            .split("terminal: ")
            .nth(1)
            .unwrap()
            .split(" (")
            .next()
            .unwrap()
            .split(", ")
            .collect();
        for h in &hidden {
            assert!(
                !header.contains(&format!(" {h} ")),
                "{h} both shown and hidden"
            );
        }
        let visible = (0..12)
            .filter(|c| header.contains(&format!(" c{c} ")))
            .count();
        assert_eq!(visible + hidden.len(), 12);
        // Wide enough: nothing hidden.
        let t = shown(3, 12, 40, 0);
        assert!(!t.contains("hidden"));
    }

    #[test]
    fn the_history_file_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/povcensus/sql_history");
        prepare_history(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        // An existing file left readable by others is tightened.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare_history(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        // What the prompt writes into it stays private.
        let mut rl = rustyline::DefaultEditor::new().unwrap();
        remember(&mut rl, Some(&path), "SELECT 1;");
        remember(
            &mut rl,
            Some(&path),
            "SELECT * FROM persons WHERE person_id = '522726197003059014';",
        );
        let kept = std::fs::read_to_string(&path).unwrap();
        assert!(
            kept.contains("SELECT 1;") && !kept.contains("5227261970"),
            "{kept}"
        );
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn history_goes_to_the_state_directory_unless_switched_off() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |v: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == v)
                    .map(|(_, x)| std::ffi::OsString::from(x))
            }
        };
        let state = PathBuf::from("/state/povcensus/sql_history");
        let p = history_path_in(env(&[("XDG_STATE_HOME", "/state"), ("HOME", "/home/u")]));
        assert_eq!(p, Some(state));
        let p = history_path_in(env(&[("XDG_STATE_HOME", ""), ("HOME", "/home/u")]));
        assert_eq!(
            p,
            Some(PathBuf::from("/home/u/.local/state/povcensus/sql_history"))
        );
        let p = history_path_in(env(&[(HISTORY_ENV, ""), ("HOME", "/home/u")]));
        assert_eq!(p, None, "set empty: no history");
        let p = history_path_in(env(&[(HISTORY_ENV, "/tmp/h"), ("HOME", "/home/u")]));
        assert_eq!(p, Some(PathBuf::from("/tmp/h")));
        assert_eq!(history_path_in(env(&[])), None);
    }

    #[test]
    fn csv_has_a_byte_order_mark_only_when_asked() {
        let b = result(1, 2);
        let mut with = Vec::new();
        write_batches(&mut with, &b, OutputFormat::Csv, true).unwrap();
        assert!(with.starts_with("\u{feff}c0,c1\n".as_bytes()));
        let mut without = Vec::new();
        write_batches(&mut without, &b, OutputFormat::Csv, false).unwrap();
        assert!(without.starts_with(b"c0,c1\n"));
    }

    #[test]
    fn statements_split_outside_quotes_and_comments() {
        let s = split_statements("SELECT 'a;b'; -- note; here\nSELECT 2;;");
        assert_eq!(s, vec!["SELECT 'a;b'".to_string(), "SELECT 2".to_string()]);
    }
}
