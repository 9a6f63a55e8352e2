//! The console of `povcensus sql`: statements split from a script, results written as a
//! table, CSV or JSON, and the interactive prompt. What SQL may do (read-only) and the guards
//! every statement runs under (size, depth, memory, result bytes) are the engine's
//! ([`crate::engine::read_only`], [`crate::engine::guard`]).

use std::io::Write;

use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

use crate::engine::guard::QueryRunner;

/// Output format of `povcensus sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

/// Write query results to `out` in the chosen format.
pub fn write_batches(
    out: &mut dyn Write,
    batches: &[RecordBatch],
    format: OutputFormat,
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

/// The interactive prompt: statements end with `;`, `\q` quits, `\d` lists tables.
pub async fn repl(
    ctx: &SessionContext,
    runner: &QueryRunner,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut rl = rustyline::DefaultEditor::new()?;
    let mut buffer = String::new();
    eprintln!("povcensus sql: end statements with ;  \\d lists tables  \\q quits");
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
            write_batches(&mut std::io::stdout(), &answer.batches, format)?;
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let _ = rl.add_history_entry(buffer.trim());
        for stmt in split_statements(&buffer) {
            let start = std::time::Instant::now();
            match runner.run(ctx, &stmt).await {
                Ok(answer) => {
                    write_batches(&mut std::io::stdout(), &answer.batches, format)?;
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
        buffer.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_outside_quotes_and_comments() {
        let s = split_statements("SELECT 'a;b'; -- note; here\nSELECT 2;;");
        assert_eq!(s, vec!["SELECT 'a;b'".to_string(), "SELECT 2".to_string()]);
    }
}
