//! The query log: one JSON line when a statement arrives (`started`) and one with its outcome
//! (`planned`, `ok`, `refused`, `failed`, `cancelled`), and one per refused token. A statement
//! whose call goes away before its outcome (a client that disconnects) is logged `cancelled`
//! when its [`Pending`] is dropped. Statements beyond the size limit are logged cut to it.

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use super::ServerError;

/// One line of the query log.
#[derive(Debug, Serialize)]
struct LogEntry<'a> {
    time: String,
    researcher: &'a str,
    /// `plan` (the schema, asked first by Flight SQL clients) or `run`.
    #[serde(skip_serializing_if = "str::is_empty")]
    step: &'a str,
    statement: &'a str,
    /// Bytes of the statement, which is cut in the log beyond the size limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    statement_bytes: Option<usize>,
    outcome: &'a str,
    rows: Option<usize>,
    ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Where query log lines go.
enum LogSink {
    File(std::fs::File),
    Stderr,
}

pub struct QueryLog {
    sink: Mutex<LogSink>,
    max_statement_bytes: usize,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl QueryLog {
    /// Append to `path`, or standard error without it.
    pub fn open(path: Option<&Path>, max_statement_bytes: usize) -> Result<QueryLog, ServerError> {
        let sink = match path {
            Some(p) => LogSink::File(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|source| ServerError::Log {
                        path: p.display().to_string(),
                        source,
                    })?,
            ),
            None => LogSink::Stderr,
        };
        Ok(QueryLog {
            sink: Mutex::new(sink),
            max_statement_bytes,
        })
    }

    fn write(&self, entry: &LogEntry<'_>) {
        // reason: strings and integers always serialize.
        let line = serde_json::to_string(entry).expect("log entry serializes") + "\n";
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let _ = match &mut *sink {
            LogSink::File(f) => f.write_all(line.as_bytes()).and_then(|_| f.flush()),
            LogSink::Stderr => std::io::stderr().write_all(line.as_bytes()),
        };
    }

    /// A call with no valid token.
    pub fn unauthenticated(&self) {
        self.write(&LogEntry {
            time: now(),
            researcher: "",
            step: "",
            statement: "",
            statement_bytes: None,
            outcome: "unauthenticated",
            rows: None,
            ms: 0,
            error: None,
        });
    }

    /// Log a statement before any work on it; its outcome goes through the returned
    /// [`Pending`].
    pub fn start<'a>(
        &'a self,
        researcher: &'a str,
        statement: &'a str,
        step: &'a str,
    ) -> Pending<'a> {
        let pending = Pending {
            log: self,
            researcher,
            statement,
            step,
            start: Instant::now(),
            done: false,
        };
        pending.write("started", None, None);
        pending
    }
}

/// A logged statement waiting for its outcome.
pub struct Pending<'a> {
    log: &'a QueryLog,
    researcher: &'a str,
    statement: &'a str,
    step: &'a str,
    start: Instant,
    done: bool,
}

impl Pending<'_> {
    fn write(&self, outcome: &str, rows: Option<usize>, error: Option<String>) {
        let limit = self.log.max_statement_bytes;
        let (statement, statement_bytes) = if self.statement.len() > limit {
            let mut cut = limit;
            while !self.statement.is_char_boundary(cut) {
                cut -= 1;
            }
            (&self.statement[..cut], Some(self.statement.len()))
        } else {
            (self.statement, None)
        };
        self.log.write(&LogEntry {
            time: now(),
            researcher: self.researcher,
            step: self.step,
            statement,
            statement_bytes,
            outcome,
            rows,
            ms: self.start.elapsed().as_millis(),
            error,
        });
    }

    /// Log the outcome.
    pub fn finish(mut self, outcome: &str, rows: Option<usize>, error: Option<String>) {
        self.write(outcome, rows, error);
        self.done = true;
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.write(
                "cancelled",
                None,
                Some("the call ended before the statement did (the client went away)".into()),
            );
        }
    }
}
