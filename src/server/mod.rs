//! Research access over the network (research-extracts.md §3): an Arrow Flight SQL endpoint on
//! DataFusion that researchers reach from Python ADBC, JDBC tools such as DBeaver, or any
//! Flight SQL client.
//!
//! - Every call needs a researcher's bearer token ([`tokens`]: a file only its owner may read,
//!   one `name:token` per line); a Basic handshake with `name:token` returns the bearer header
//!   for clients that log in with user and password.
//! - Only the tables of one research extract exist in the session: the confidential warehouse
//!   is never opened.
//! - Statements are read-only (no DDL, DML, COPY or SET) and guarded
//!   ([`crate::engine::guard`]): size and nesting depth checked at parse time, a memory budget
//!   per query, results capped at `max_rows` rows and `max_result_bytes` bytes, a timeout that
//!   cancels the plan; each researcher runs at most `max_concurrent` statements at once.
//! - Every statement is logged ([`log`]) before any work on it and again with its outcome,
//!   refused, failed and cancelled ones included; so is every refused token.
//! - It listens on 127.0.0.1 unless told otherwise.

pub mod log;
pub mod tokens;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

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
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

use crate::engine::guard::{Limits, QueryError, QueryRunner};
use crate::engine::{EngineConfig, session};

use log::QueryLog;
use tokens::Tokens;

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
    #[error(
        "the tokens file {path} may be read by others than its owner (mode {mode:o}): the tokens in it are not secret"
    )]
    TokensReadable { path: String, mode: u32 },
    #[error("cannot start the query threads: {0}")]
    Threads(std::io::Error),
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

impl ServerError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            ServerError::TokensReadable { path, .. } => Some(format!(
                "make it readable by its owner only: chmod 600 {path} (and give new tokens if others may have read it)"
            )),
            _ => None,
        }
    }
}

/// What `povcensus serve` is asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub extract: PathBuf,
    pub tokens: PathBuf,
    pub addr: SocketAddr,
    pub query_log: Option<PathBuf>,
    /// Every statement's limits (rows and timeout included).
    pub limits: Limits,
    /// Statements one researcher may have running at once.
    pub max_concurrent: usize,
    pub engine: EngineConfig,
}

pub struct ResearchService {
    ctx: SessionContext,
    runner: QueryRunner,
    tokens: Tokens,
    log: QueryLog,
    /// Statements running, by researcher.
    running: Mutex<HashMap<String, usize>>,
    max_concurrent: usize,
    sql_info: SqlInfoData,
}

/// A researcher's place among the statements running; given back on drop.
struct Slot<'a> {
    running: &'a Mutex<HashMap<String, usize>>,
    who: &'a str,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = running.get_mut(self.who) {
            *n = n.saturating_sub(1);
        }
    }
}

/// The gRPC status of a guarded statement's error; the message ends with the hint.
fn status(e: &QueryError) -> Status {
    let message = match e.hint() {
        Some(h) => format!("{e}\nhint: {h}"),
        None => e.to_string(),
    };
    match e {
        QueryError::TooManyRows { .. }
        | QueryError::TooManyBytes { .. }
        | QueryError::Failed(datafusion::error::DataFusionError::ResourcesExhausted(_)) => {
            Status::resource_exhausted(message)
        }
        QueryError::Timeout { .. } => Status::deadline_exceeded(message),
        QueryError::Panicked(_) => Status::internal(message),
        _ => Status::invalid_argument(message),
    }
}

impl ResearchService {
    pub async fn new(opts: &ServeOptions) -> Result<ResearchService, ServerError> {
        let tokens = Tokens::read(&opts.tokens)?;
        let ctx = session(&opts.engine)?;
        crate::extract::register(&ctx, &opts.extract).await?;
        let runner = QueryRunner::new(opts.limits.clone(), opts.engine.threads)
            .map_err(ServerError::Threads)?;
        runner.guard(&ctx);
        let log = QueryLog::open(opts.query_log.as_deref(), opts.limits.max_statement_bytes)?;
        let mut info = SqlInfoDataBuilder::new();
        info.append(SqlInfo::FlightSqlServerName, "povcensus research access");
        info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        info.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
        info.append(SqlInfo::FlightSqlServerReadOnly, true);
        Ok(ResearchService {
            ctx,
            runner,
            tokens,
            log,
            running: Mutex::new(HashMap::new()),
            max_concurrent: opts.max_concurrent.max(1),
            sql_info: info.build().map_err(|e| {
                ServerError::Extract(datafusion::error::DataFusionError::Internal(e.to_string()))
            })?,
        })
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
            .and_then(|t| self.tokens.researcher(t.trim()));
        match found {
            Some(name) => Ok(name.to_string()),
            None => {
                self.log.unauthenticated();
                Err(Status::unauthenticated(
                    "a valid researcher token is required (authorization: Bearer <token>)",
                ))
            }
        }
    }

    /// A place for one more statement of `who`, unless they have `max_concurrent` running.
    fn slot<'a>(&'a self, who: &'a str) -> Result<Slot<'a>, String> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let n = running.entry(who.to_string()).or_insert(0);
        if *n >= self.max_concurrent {
            return Err(format!(
                "{} of your statements are running already, the most one researcher may run at once\nhint: wait for one to finish",
                self.max_concurrent
            ));
        }
        *n += 1;
        Ok(Slot {
            running: &self.running,
            who,
        })
    }

    /// One statement under the guards: logged before any work, a place among the researcher's
    /// running statements, then `work`, then its outcome logged (`done` the outcome of
    /// success, with the row count of the answer).
    async fn guarded<'a, T, F>(
        &'a self,
        who: &'a str,
        sql: &'a str,
        step: &'a str,
        done: &str,
        rows: impl FnOnce(&T) -> Option<usize>,
        work: F,
    ) -> Result<T, Status>
    where
        F: Future<Output = Result<T, QueryError>>,
    {
        let pending = self.log.start(who, sql, step);
        let _slot = match self.slot(who) {
            Ok(s) => s,
            Err(message) => {
                pending.finish("refused", None, Some(message.clone()));
                return Err(Status::resource_exhausted(message));
            }
        };
        match work.await {
            Ok(t) => {
                pending.finish(done, rows(&t), None);
                Ok(t)
            }
            Err(e) => {
                pending.finish(e.outcome(), None, Some(e.to_string()));
                Err(status(&e))
            }
        }
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
                .filter(|(name, token)| self.tokens.researcher(token) == Some(*name))
                .map(|(_, token)| token.to_string())
        } else {
            header
                .strip_prefix("Bearer ")
                .filter(|t| self.tokens.researcher(t.trim()).is_some())
                .map(|t| t.trim().to_string())
        };
        let Some(token) = token else {
            self.log.unauthenticated();
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
        let sql = &query.query;
        let work = self.runner.schema(&self.ctx, sql);
        let schema = self
            .guarded(&who, sql, "plan", "planned", |_| None, work)
            .await?;
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
        let work = self.runner.run(&self.ctx, &sql);
        let answer = self
            .guarded(&who, &sql, "run", "ok", |a| Some(a.rows), work)
            .await?;
        Ok(Response::new(Self::stream(answer.batches, answer.schema)))
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
