//! Research access over the network (research-extracts.md §3): an Arrow Flight SQL endpoint on
//! DataFusion that researchers reach from Python ADBC, JDBC tools such as DBeaver, or any
//! Flight SQL client.
//!
//! - Every call needs a researcher's bearer token (the tokens file has one `name:token` per
//!   line); a Basic handshake with `name:token` returns the bearer header for clients that
//!   log in with user and password.
//! - Only the tables of one research extract exist in the session: the confidential warehouse
//!   is never opened.
//! - Statements are read-only (no DDL, DML, COPY or SET); results are capped at `max_rows`
//!   rows and queries at `timeout`.
//! - Every statement (and every refused token) is logged as one JSON line with the researcher,
//!   the time, the statement, the outcome and the row count.
//! - It listens on 127.0.0.1 unless told otherwise.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::datatypes::Schema;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetSqlInfo, CommandGetTableTypes,
    CommandGetTables, CommandStatementQuery, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, Ticket,
};
use base64::Engine as _;
use datafusion::prelude::SessionContext;
use futures::{Stream, TryStreamExt};
use prost::Message;
use serde::Serialize;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use crate::engine::{EngineConfig, read_only, session};

const CATALOG: &str = "datafusion";
const SCHEMA: &str = "public";

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot read the tokens file {path}: {source}")]
    Tokens {
        path: String,
        source: std::io::Error,
    },
    #[error("the tokens file {path} has {} problem(s):\n  - {}", .problems.len(), .problems.join("\n  - "))]
    InvalidTokens { path: String, problems: Vec<String> },
    #[error("cannot open the query log {path}: {source}")]
    Log {
        path: String,
        source: std::io::Error,
    },
    #[error("opening the extract: {0}")]
    Extract(#[from] datafusion::error::DataFusionError),
    #[error(
        "cannot listen on {addr}: {source} (is another server using the port? choose another with --port)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving on {addr}: {source}")]
    Serve {
        addr: SocketAddr,
        source: tonic::transport::Error,
    },
}

/// What `povcensus serve` is asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub extract: PathBuf,
    pub tokens: PathBuf,
    pub addr: SocketAddr,
    pub query_log: Option<PathBuf>,
    pub max_rows: usize,
    pub timeout: Duration,
    pub engine: EngineConfig,
}

/// Researchers by token, read from `name:token` lines (blank lines and `#` comments ignored).
/// Every problem is reported at once; tokens are never echoed.
pub fn read_tokens(path: &Path) -> Result<BTreeMap<String, String>, ServerError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServerError::Tokens {
        path: path.display().to_string(),
        source,
    })?;
    let mut tokens = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((name, token)) if !name.trim().is_empty() && token.trim().len() >= 16 => {
                if tokens
                    .insert(token.trim().to_string(), name.trim().to_string())
                    .is_some()
                {
                    problems.push(format!("line {}: this token is given twice", i + 1));
                }
            }
            Some((name, _)) if !name.trim().is_empty() => problems.push(format!(
                "line {}: the token of `{}` is shorter than 16 characters",
                i + 1,
                name.trim()
            )),
            _ => problems.push(format!("line {}: expected `name:token`", i + 1)),
        }
    }
    if tokens.is_empty() && problems.is_empty() {
        problems.push("no researcher is listed".into());
    }
    if problems.is_empty() {
        Ok(tokens)
    } else {
        Err(ServerError::InvalidTokens {
            path: path.display().to_string(),
            problems,
        })
    }
}

/// One line of the query log.
#[derive(Debug, Serialize)]
struct LogEntry<'a> {
    time: String,
    researcher: &'a str,
    statement: &'a str,
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

pub struct ResearchService {
    ctx: SessionContext,
    tokens: BTreeMap<String, String>,
    log: Mutex<LogSink>,
    max_rows: usize,
    timeout: Duration,
    sql_info: SqlInfoData,
}

impl ResearchService {
    pub async fn new(opts: &ServeOptions) -> Result<ResearchService, ServerError> {
        let tokens = read_tokens(&opts.tokens)?;
        let ctx = session(&opts.engine)?;
        crate::extract::register(&ctx, &opts.extract).await?;
        let log = match &opts.query_log {
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
        let mut info = SqlInfoDataBuilder::new();
        info.append(SqlInfo::FlightSqlServerName, "povcensus research access");
        info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        info.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
        info.append(SqlInfo::FlightSqlServerReadOnly, true);
        Ok(ResearchService {
            ctx,
            tokens,
            log: Mutex::new(log),
            max_rows: opts.max_rows,
            timeout: opts.timeout,
            sql_info: info.build().map_err(|e| {
                ServerError::Extract(datafusion::error::DataFusionError::Internal(e.to_string()))
            })?,
        })
    }

    fn log(&self, entry: LogEntry<'_>) {
        // reason: strings and integers always serialize.
        let line = serde_json::to_string(&entry).expect("log entry serializes") + "\n";
        let mut sink = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let _ = match &mut *sink {
            LogSink::File(f) => f.write_all(line.as_bytes()).and_then(|_| f.flush()),
            LogSink::Stderr => std::io::stderr().write_all(line.as_bytes()),
        };
    }

    /// The researcher behind a request's bearer token.
    fn researcher<T>(&self, req: &Request<T>) -> Result<String, Status> {
        let header = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let found = header
            .strip_prefix("Bearer ")
            .and_then(|t| self.tokens.get(t.trim()));
        match found {
            Some(name) => Ok(name.clone()),
            None => {
                self.log(LogEntry {
                    time: now(),
                    researcher: "",
                    statement: "",
                    outcome: "unauthenticated",
                    rows: None,
                    ms: 0,
                    error: None,
                });
                Err(Status::unauthenticated(
                    "a valid researcher token is required (authorization: Bearer <token>)",
                ))
            }
        }
    }

    /// Plan a statement under the read-only rules.
    async fn plan(&self, sql: &str) -> Result<datafusion::prelude::DataFrame, Status> {
        self.ctx
            .sql_with_options(sql, read_only())
            .await
            .map_err(|e| Status::invalid_argument(e.to_string()))
    }

    fn stream(
        batches: Vec<arrow::record_batch::RecordBatch>,
        schema: Arc<Schema>,
    ) -> Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send>> {
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(futures::stream::iter(batches.into_iter().map(Ok)))
            .map_err(Status::from);
        Box::pin(stream)
    }

    /// A metadata answer of one batch.
    fn one_batch<E: std::fmt::Display>(
        batch: Result<arrow::record_batch::RecordBatch, E>,
        schema: Arc<Schema>,
    ) -> Result<Response<DoGetStream>, Status> {
        let batch = batch.map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(Self::stream(vec![batch], schema)))
    }

    fn info_for<M: ProstMessageExt>(
        cmd: M,
        schema: &Schema,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let ticket = Ticket::new(cmd.as_any().encode_to_vec());
        let info = FlightInfo::new()
            .try_with_schema(schema)
            .map_err(|e| Status::internal(e.to_string()))?
            .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
            .with_descriptor(descriptor);
        Ok(Response::new(info))
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

type DoGetStream = Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send>>;

#[tonic::async_trait]
impl FlightSqlService for ResearchService {
    type FlightService = ResearchService;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let token = if let Some(b) = header.strip_prefix("Basic ") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .unwrap_or_default();
            decoded
                .split_once(':')
                .filter(|(name, token)| self.tokens.get(*token) == Some(&name.to_string()))
                .map(|(_, token)| token.to_string())
        } else {
            header
                .strip_prefix("Bearer ")
                .filter(|t| self.tokens.contains_key(t.trim()))
                .map(|t| t.trim().to_string())
        };
        let Some(token) = token else {
            self.log(LogEntry {
                time: now(),
                researcher: "",
                statement: "",
                outcome: "unauthenticated",
                rows: None,
                ms: 0,
                error: None,
            });
            return Err(Status::unauthenticated("unknown researcher or token"));
        };
        let output = futures::stream::iter(vec![Ok(HandshakeResponse {
            protocol_version: 0,
            payload: token.clone().into(),
        })]);
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(output));
        let value = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|e| Status::internal(e.to_string()))?;
        response.metadata_mut().insert("authorization", value);
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let who = self.researcher(&request)?;
        let start = Instant::now();
        let df = match self.plan(&query.query).await {
            Ok(df) => df,
            Err(e) => {
                self.log(LogEntry {
                    time: now(),
                    researcher: &who,
                    statement: &query.query,
                    outcome: "refused",
                    rows: None,
                    ms: start.elapsed().as_millis(),
                    error: Some(e.message().to_string()),
                });
                return Err(e);
            }
        };
        let schema: Schema = df.schema().as_arrow().clone();
        let ticket = TicketStatementQuery {
            statement_handle: query.query.clone().into_bytes().into(),
        };
        let info = FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(|e| Status::internal(e.to_string()))?
            .with_endpoint(
                FlightEndpoint::new().with_ticket(Ticket::new(ticket.as_any().encode_to_vec())),
            )
            .with_descriptor(request.into_inner());
        Ok(Response::new(info))
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let who = self.researcher(&request)?;
        let sql = String::from_utf8(ticket.statement_handle.to_vec())
            .map_err(|_| Status::invalid_argument("the ticket is not a statement"))?;
        let start = Instant::now();
        let result: Result<(Vec<_>, Arc<Schema>), Status> = async {
            let df = self.plan(&sql).await?;
            let schema = Arc::new(df.schema().as_arrow().clone());
            let df = df
                .limit(0, Some(self.max_rows + 1))
                .map_err(|e| Status::internal(e.to_string()))?;
            let batches = tokio::time::timeout(self.timeout, df.collect())
                .await
                .map_err(|_| {
                    Status::deadline_exceeded(format!(
                        "the query ran longer than {} s",
                        self.timeout.as_secs()
                    ))
                })?
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            if rows > self.max_rows {
                return Err(Status::resource_exhausted(format!(
                    "the result has more than {} rows; aggregate, filter or add a LIMIT",
                    self.max_rows
                )));
            }
            Ok((batches, schema))
        }
        .await;
        match result {
            Ok((batches, schema)) => {
                let rows = batches.iter().map(|b| b.num_rows()).sum();
                self.log(LogEntry {
                    time: now(),
                    researcher: &who,
                    statement: &sql,
                    outcome: "ok",
                    rows: Some(rows),
                    ms: start.elapsed().as_millis(),
                    error: None,
                });
                Ok(Response::new(Self::stream(batches, schema)))
            }
            Err(e) => {
                self.log(LogEntry {
                    time: now(),
                    researcher: &who,
                    statement: &sql,
                    outcome: "refused",
                    rows: None,
                    ms: start.elapsed().as_millis(),
                    error: Some(e.message().to_string()),
                });
                Err(e)
            }
        }
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.researcher(&request)?;
        let schema = query.into_builder().schema();
        Self::info_for(query, &schema, request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.researcher(&request)?;
        let mut builder = query.into_builder();
        builder.append(CATALOG);
        let schema = builder.schema();
        Self::one_batch(builder.build(), schema)
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.researcher(&request)?;
        let schema = query.clone().into_builder().schema();
        Self::info_for(query, &schema, request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.researcher(&request)?;
        let mut builder = query.into_builder();
        builder.append(CATALOG, SCHEMA);
        let schema = builder.schema();
        Self::one_batch(builder.build(), schema)
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.researcher(&request)?;
        let schema = query.clone().into_builder().schema();
        Self::info_for(query, &schema, request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.researcher(&request)?;
        let mut builder = query.into_builder();
        for table in crate::extract::TABLES {
            let provider = self
                .ctx
                .table_provider(*table)
                .await
                .map_err(|e| Status::internal(e.to_string()))?;
            builder
                .append(CATALOG, SCHEMA, *table, "TABLE", provider.schema().as_ref())
                .map_err(Status::from)?;
        }
        let schema = builder.schema();
        Self::one_batch(builder.build(), schema)
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.researcher(&request)?;
        let schema = Schema::new(vec![arrow::datatypes::Field::new(
            "table_type",
            arrow::datatypes::DataType::Utf8,
            false,
        )]);
        Self::info_for(query, &schema, request.into_inner())
    }

    async fn do_get_table_types(
        &self,
        _query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.researcher(&request)?;
        let schema = Arc::new(Schema::new(vec![arrow::datatypes::Field::new(
            "table_type",
            arrow::datatypes::DataType::Utf8,
            false,
        )]));
        let batch = arrow::record_batch::RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(arrow::array::StringArray::from(vec!["TABLE"]))],
        )
        .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(Self::stream(vec![batch], schema)))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.researcher(&request)?;
        let schema = query.clone().into_builder(&self.sql_info).schema();
        Self::info_for(query, schema.as_ref(), request.into_inner())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.researcher(&request)?;
        let builder = query.into_builder(&self.sql_info);
        let schema = builder.schema();
        Self::one_batch(builder.build(), schema)
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// Serve until the process is stopped.
pub async fn serve(opts: &ServeOptions) -> Result<(), ServerError> {
    let service = ResearchService::new(opts).await?;
    // Bind first: "listening" is said only once the port is ours, and a taken port is an
    // error before anything else happens.
    let bind = |source| ServerError::Bind {
        addr: opts.addr,
        source,
    };
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    tracing::info!(
        addr = %addr,
        researchers = service.tokens.len(),
        extract = %opts.extract.display(),
        "Flight SQL research endpoint listening"
    );
    tonic::transport::Server::builder()
        .add_service(FlightServiceServer::new(service))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
        .await
        .map_err(|source| ServerError::Serve {
            addr: opts.addr,
            source,
        })
}

// The FlightService implementation comes from FlightSqlService's blanket impl.
#[allow(dead_code)]
fn _assert_service(s: ResearchService) -> impl FlightService {
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_file_problems_are_reported_together() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokens");
        std::fs::write(
            &p,
            "# researchers\nalice:0123456789abcdef0\nbob:short\nnocolon\ncarol:0123456789abcdef0\n",
        )
        .unwrap();
        let e = read_tokens(&p).unwrap_err().to_string();
        assert!(e.contains("3 problem(s)"), "{e}");
        assert!(
            e.contains("line 3") && e.contains("line 4") && e.contains("line 5"),
            "{e}"
        );
        assert!(
            !e.contains("0123456789abcdef0"),
            "tokens are not echoed: {e}"
        );
        std::fs::write(&p, "alice: 0123456789abcdef0\n\nbob:fedcba98765432100\n").unwrap();
        let t = read_tokens(&p).unwrap();
        assert_eq!(t["0123456789abcdef0"], "alice");
        assert_eq!(t.len(), 2);
    }
}
