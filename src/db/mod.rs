//! Storage: one diesel connection type over SQLite and PostgreSQL, its pool, the embedded
//! migrations, and the two ways handlers reach the database (`read` and `write`).

pub mod outbox;
pub mod schema;
mod writer;

use diesel::connection::{
    AnsiTransactionManager, SimpleConnection, TransactionManager, TransactionManagerStatus,
};
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use secrecy::ExposeSecret;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{Config, DatabaseUrl};
use crate::error::ApiError;

/// One connection to whichever backend the database URL chose.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;
pub type PoolError = r2d2::PoolError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a SQLite writer waits for the lock before giving up, in milliseconds.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;

/// Opens connections for the pool, choosing the backend from the URL (the derive's own
/// `establish` guesses by trial and reports every mistake the same way) and preparing
/// each SQLite connection.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    database: DatabaseUrl,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("could not connect to the database: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("could not prepare the connection: {0}")]
    Query(#[from] diesel::result::Error),
}

impl ConnectionManager {
    pub fn new(database: DatabaseUrl) -> Self {
        Self { database }
    }

    fn sqlite_path(path: &std::path::Path) -> String {
        path.to_string_lossy().into_owned()
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        match &self.database {
            DatabaseUrl::Postgres(url) => Ok(DbConnection::Postgresql(PgConnection::establish(
                url.expose_secret(),
            )?)),
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&Self::sqlite_path(path))?;
                // One statement per call: a multi-statement string would silently run
                // only its first statement through some APIs.
                for pragma in [
                    format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"),
                    "PRAGMA journal_mode = WAL".to_owned(),
                    "PRAGMA synchronous = NORMAL".to_owned(),
                    "PRAGMA foreign_keys = ON".to_owned(),
                ] {
                    conn.batch_execute(&pragma)?;
                }
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        conn.batch_execute("SELECT 1").map_err(ConnectError::Query)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}

/// The connection pool, and on SQLite the writer thread and the turns writers take.
///
/// SQLite has one writer at a time. Left to themselves, writers that find the lock taken
/// sleep in SQLite's busy handler and poll, holding a pooled connection all the while:
/// under load most of a write's time is that sleeping, and the waiting writers starve
/// readers of connections. Instead [`write`] hands each write to one thread with a
/// connection of its own ([`writer`]), and a request that needs a transaction of its own
/// waits its turn ([`Pool::writer_turn`]), asleep on an async queue and holding no
/// connection. (Other processes on the same file still meet the busy handler.)
#[derive(Clone)]
pub struct Pool {
    connections: r2d2::Pool<ConnectionManager>,
    sqlite: Option<SqliteWrites>,
}

/// How this process writes to SQLite: a writer thread, and the turns it shares with
/// requests that hold a transaction of their own.
#[derive(Clone)]
struct SqliteWrites {
    writer: Arc<writer::Writer>,
    turns: Arc<Semaphore>,
}

impl std::ops::Deref for Pool {
    type Target = r2d2::Pool<ConnectionManager>;

    fn deref(&self) -> &Self::Target {
        &self.connections
    }
}

/// A writer's turn on SQLite (nothing on PostgreSQL): held until its transaction ends.
pub type WriterTurn = Option<OwnedSemaphorePermit>;

impl Pool {
    /// Waits for this writer's turn (at once on PostgreSQL, whose writers lock rows, not
    /// the database). A turn that does not come within SQLite's own busy timeout is a
    /// `503`, as a busy database would be.
    pub async fn writer_turn(&self) -> Result<WriterTurn, ApiError> {
        let Some(sqlite) = &self.sqlite else {
            return Ok(None);
        };
        let turn = Arc::clone(&sqlite.turns).acquire_owned();
        match tokio::time::timeout(LONGEST_WRITE_WAIT, turn).await {
            Ok(Ok(turn)) => Ok(Some(turn)),
            Ok(Err(closed)) => Err(ApiError::internal(closed)),
            Err(_) => Err(waited_too_long()),
        }
    }
}

/// How long a SQLite write waits for its turn: as long as SQLite's own busy timeout.
const LONGEST_WRITE_WAIT: Duration = Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS as u64);

/// A write that waited its turn longer than [`LONGEST_WRITE_WAIT`]: `503`, as a busy
/// database would be, and nothing of it is written.
fn waited_too_long() -> ApiError {
    tracing::warn!("a write waited its turn longer than the busy timeout");
    ApiError::unavailable("The service is busy; try again shortly.", 1)
}

/// Builds the pool without opening a connection yet, so start-up does not depend on the
/// database being reachable at that instant; `/health/ready` reports when it is not.
pub fn build_pool(config: &Config) -> anyhow::Result<Pool> {
    create_sqlite_dir(&config.database)?;
    let sqlite = match config.database {
        DatabaseUrl::Sqlite(_) => {
            let turns = Arc::new(Semaphore::new(1));
            let manager = ConnectionManager::new(config.database.clone());
            Some(SqliteWrites {
                writer: Arc::new(writer::Writer::start(manager, Arc::clone(&turns))?),
                turns,
            })
        }
        DatabaseUrl::Postgres(_) => None,
    };
    Ok(Pool {
        connections: r2d2::Pool::builder()
            .max_size(config.db_pool_size)
            .min_idle(Some(1))
            .connection_timeout(config.db_pool_timeout)
            .test_on_check_out(false)
            .build_unchecked(ConnectionManager::new(config.database.clone())),
        sqlite,
    })
}

/// One connection outside any pool, for command-line tools. (A pool keeps threads that
/// may still be opening connections when a short-lived process exits, and libpq does not
/// survive being torn down under them.)
pub fn connect(config: &Config) -> anyhow::Result<DbConnection> {
    create_sqlite_dir(&config.database)?;
    ConnectionManager::new(config.database.clone())
        .connect()
        .map_err(|e| anyhow::anyhow!("cannot reach the database: {e}"))
}

fn create_sqlite_dir(database: &DatabaseUrl) -> anyhow::Result<()> {
    if let DatabaseUrl::Sqlite(path) = database {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|error| {
                anyhow::anyhow!("cannot create the database directory {parent:?}: {error}")
            })?;
        }
    }
    Ok(())
}

/// Applies pending migrations. On PostgreSQL an advisory lock keeps two nodes starting
/// together from migrating at once.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let applied = match conn {
        DbConnection::Sqlite(conn) => conn
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?
            .iter()
            .map(ToString::to_string)
            .collect(),
        DbConnection::Postgresql(conn) => {
            conn.batch_execute("SELECT pg_advisory_lock(7412031145)")?;
            let result = conn
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|versions| versions.iter().map(ToString::to_string).collect());
            conn.batch_execute("SELECT pg_advisory_unlock(7412031145)")?;
            result.map_err(|e| anyhow::anyhow!("migration failed: {e}"))?
        }
    };
    Ok(applied)
}

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite, so a writer takes the
/// lock up front instead of failing to upgrade a read lock half-way; a plain transaction
/// on PostgreSQL. Inside a transaction already (a request's, see [`RequestTransaction`]),
/// `f` runs in a savepoint instead, so its failure undoes only its own changes.
pub fn transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if in_transaction(conn)? {
        <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?;
    } else {
        begin_outer(conn)?;
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // A rollback that fails too (the connection is gone) leaves the transaction
            // manager broken, so the pool discards the connection; what the caller needs
            // to hear is why `f` failed, not that the rollback could not be sent.
            if let Err(rollback) =
                <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)
            {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(error)
        }
    }
}

/// Runs `$body` on the backend's own connection, bound to `$c`, instead of through the
/// `MultiConnection`: the same statement, typed once for each backend.
///
/// - For the statements outside the two backends' shared subset (upserts), and for a
///   query whose columns come from `as_select()`, whose type names its backend.
/// - For the statements every request makes (the session check, an issue and its views,
///   the support and report writes). The derive's wrapper writes a query's whole SQL
///   text out again on every run, even for a statement it has prepared already, and
///   walks the query twice more to see whether it may be cached and to collect its
///   binds: 18% of the server's samples under issue detail reads. The backend's own
///   connection finds a prepared statement by the query's type and only collects the
///   binds.
///
/// A query boxed for the `MultiBackend` does not compile here: box it inside `$body`.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgresql($c) => $body,
        }
    };
}
pub(crate) use on_backend;

fn begin_outer(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgresql(inner) => AnsiTransactionManager::begin_transaction(inner),
    }
}

fn in_transaction(conn: &mut DbConnection) -> diesel::QueryResult<bool> {
    let depth = on_backend!(conn, |c| manager_status(c).transaction_depth())?;
    Ok(depth.is_some())
}

/// What diesel's transaction manager knows of `conn`'s transactions.
fn manager_status<C>(conn: &mut C) -> &mut TransactionManagerStatus
where
    C: Connection<TransactionManager = AnsiTransactionManager>,
{
    <AnsiTransactionManager as TransactionManager<C>>::transaction_manager_status_mut(conn)
}

tokio::task_local! {
    static REQUEST_TRANSACTION: RequestTransaction;
}

/// One transaction around a whole request, for keyed writes (see `idempotency`): every
/// [`read`] and [`write`] the request makes runs on its connection, each write in a
/// savepoint, and the stored answer commits together with the change. Dropped without
/// [`commit`](Self::commit), the connection goes back broken and the pool discards it,
/// which rolls everything back.
#[derive(Clone)]
pub struct RequestTransaction(Arc<OpenTransaction>);

struct OpenTransaction {
    conn: Mutex<PooledConnection>,
    /// The writer's turn ([`Pool::writer_turn`]), given back when the request is done.
    _turn: WriterTurn,
}

impl RequestTransaction {
    /// Takes a connection and begins the transaction (on SQLite, takes the write lock),
    /// in the writer's turn the caller waited for.
    pub fn begin(pool: &Pool, turn: WriterTurn) -> Result<Self, ApiError> {
        let mut conn = pool.get()?;
        begin_outer(&mut conn)?;
        Ok(Self(Arc::new(OpenTransaction {
            conn: Mutex::new(conn),
            _turn: turn,
        })))
    }

    /// Runs `f` on the transaction's connection (blocking: call from the blocking pool).
    pub fn run<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut conn =
            self.0.conn.lock().map_err(|_| {
                ApiError::internal(anyhow::anyhow!("a request transaction panicked"))
            })?;
        f(&mut conn)
    }

    /// Commits everything the request did.
    pub fn commit(&self) -> Result<(), ApiError> {
        self.run(|conn| {
            Ok(<DbConnection as Connection>::TransactionManager::commit_transaction(conn)?)
        })
    }

    /// Rolls everything back.
    pub fn rollback(&self) -> Result<(), ApiError> {
        self.run(|conn| {
            Ok(<DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?)
        })
    }

    /// Runs `future` with every [`read`] and [`write`] inside it going through this
    /// transaction.
    pub async fn scope<F: std::future::Future>(self, future: F) -> F::Output {
        REQUEST_TRANSACTION.scope(self, future).await
    }

    fn current() -> Option<Self> {
        REQUEST_TRANSACTION.try_with(Clone::clone).ok()
    }
}

/// Spawns `future` as a task of its own that still belongs to the current request's
/// transaction, if it has one (a task spawned plainly would wait on that transaction's
/// lock, or not see its rows).
pub fn spawn<F>(future: F) -> actix_web::rt::task::JoinHandle<F::Output>
where
    F: std::future::Future + 'static,
    F::Output: 'static,
{
    let transaction = RequestTransaction::current();
    actix_web::rt::spawn(async move {
        match transaction {
            Some(transaction) => transaction.scope(future).await,
            None => future.await,
        }
    })
}

/// Runs a read on the blocking pool (inside the request's transaction when it has one).
/// `f` only reads: writes go through [`write`]. On SQLite its statements share one read
/// transaction (see [`snapshot`]).
pub async fn read<T, F>(pool: &Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    read_on_pool(pool, f, true).await
}

/// [`read`] for an `f` that runs one statement (the session check of every signed-in
/// request): without the read transaction, whose `BEGIN` and `COMMIT` would cost more
/// than they save.
pub async fn read_one_statement<T, F>(pool: &Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    read_on_pool(pool, f, false).await
}

async fn read_on_pool<T, F>(pool: &Pool, f: F, in_snapshot: bool) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    if let Some(request) = RequestTransaction::current() {
        return actix_web::web::block(move || request.run(|conn| transaction(conn, f))).await?;
    }
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        if in_snapshot {
            snapshot(&mut conn, f)
        } else {
            f(&mut conn)
        }
    })
    .await?
}

/// Runs the reads of `f` on SQLite in one read transaction, so they see one state of the
/// database and lock the log's index once: outside a transaction each statement takes
/// and releases that lock itself, two `fcntl` calls that were 11% of the server's
/// samples under issue detail reads (seven statements). On PostgreSQL each statement
/// still runs on its own: a transaction would add two round trips.
///
/// `BEGIN` and `COMMIT` are kept prepared ([`run_prepared`]): through diesel's
/// transaction manager they were parsed anew each time, 5.6% of those samples. The
/// manager does not know of this transaction, and nothing in `f` asks it (reads open
/// none); [`OpenRead`] ends the transaction however `f` ends.
fn snapshot<T, F>(conn: &mut DbConnection, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError>,
{
    if !matches!(conn, DbConnection::Sqlite(_)) {
        return f(conn);
    }
    let open = OpenRead::begin(conn)?;
    let outcome = f(open.conn);
    open.end()?;
    outcome
}

/// A transaction [`snapshot`] began. Dropped before [`end`](Self::end) (`f` panicked,
/// or the `COMMIT` failed), it rolls back; should that fail too, it marks the connection
/// broken so that the pool discards it rather than lend it out inside a transaction.
struct OpenRead<'c> {
    conn: &'c mut DbConnection,
    open: bool,
}

impl<'c> OpenRead<'c> {
    fn begin(conn: &'c mut DbConnection) -> diesel::QueryResult<Self> {
        run_prepared(conn, "BEGIN")?;
        Ok(Self { conn, open: true })
    }

    fn end(mut self) -> diesel::QueryResult<()> {
        run_prepared(self.conn, "COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for OpenRead<'_> {
    fn drop(&mut self) {
        if self.open
            && let Err(error) = run_prepared(self.conn, "ROLLBACK")
        {
            tracing::warn!(%error, "a read transaction did not end; closing its connection");
            mark_broken(self.conn);
        }
    }
}

/// Runs a statement of fixed text (a transaction's `BEGIN`, a savepoint) from the
/// connection's statement cache ([`KeepPrepared`]), where diesel's transaction manager
/// would parse it anew each time.
fn run_prepared(conn: &mut DbConnection, sql: &'static str) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    on_backend!(conn, |c| KeepPrepared(diesel::sql_query(sql)).execute(c))?;
    Ok(())
}

/// Puts the connection's transaction manager in error, so that the pool discards the
/// connection and the writer reconnects: for a transaction left in a state nothing
/// can vouch for.
fn mark_broken(conn: &mut DbConnection) {
    on_backend!(conn, |c| manager_status(c).set_in_error());
}

/// Runs `f` in a write transaction and answers once it has committed: on SQLite on the
/// writer thread, in a savepoint of a transaction it may share with other writes (see
/// [`writer`]); on PostgreSQL on the blocking pool. In a request that holds a transaction
/// of its own, `f` runs in a savepoint of that one instead.
pub async fn write<T, F>(pool: &Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    if let Some(request) = RequestTransaction::current() {
        return actix_web::web::block(move || request.run(|conn| transaction(conn, f))).await?;
    }
    if let Some(sqlite) = &pool.sqlite {
        return sqlite.writer.write(f).await;
    }
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        transaction(&mut conn, f)
    })
    .await?
}

/// The `(id, name)` pairs of the rows of `$table` whose `$id` is among `$ids` (a
/// `&[String]`), as a map. Each backend binds a list of any length as one value, so the
/// statement's text is the same for every list and stays prepared: PostgreSQL as an
/// array (`= ANY($1)`, diesel's own), SQLite as a JSON array ([`AmongJson`]). One id is
/// looked up with `=`.
macro_rules! names_by_id {
    ($conn:expr, $table:path, $id:path, $name:path, $ids:expr) => {{
        let ids: &[String] = $ids;
        let rows: Vec<(String, String)> = match (&mut *$conn, ids) {
            (_, []) => Vec::new(),
            (conn, [one]) => $crate::db::on_backend!(conn, |c| $table
                .filter($id.eq(one))
                .select(($id, $name))
                .load(c)?),
            ($crate::db::DbConnection::Sqlite(c), many) => $crate::db::KeepPrepared(
                $table
                    .filter($crate::db::AmongJson::new($id, many))
                    .select(($id, $name)),
            )
            .load(c)?,
            ($crate::db::DbConnection::Postgresql(c), many) => $table
                .filter($id.eq_any(many))
                .select(($id, $name))
                .load(c)?,
        };
        rows.into_iter()
            .collect::<std::collections::HashMap<String, String>>()
    }};
}
pub(crate) use names_by_id;

/// `column IN (SELECT value FROM json_each(?))` on SQLite: membership in a list bound
/// as one JSON array of text. diesel's `IN (?, ?, …)` has as many binds as the list, so
/// its text changes with the length and SQLite prepares it anew each time; this text
/// never changes, and [`KeepPrepared`] keeps it. SQLite reads the array into a
/// temporary index and looks each value up through the column's index, as for a list.
#[derive(Debug, Clone)]
pub struct AmongJson<C> {
    column: C,
    values: String,
}

impl<C> AmongJson<C> {
    /// `values` are text or integers, matching the column's kind: `json_each` yields
    /// each as its JSON type, and SQLite compares them as they come.
    pub fn new<V: Clone + Into<serde_json::Value>>(column: C, values: &[V]) -> Self {
        Self {
            column,
            values: serde_json::Value::from(values.to_vec()).to_string(),
        }
    }
}

impl<C> diesel::expression::Expression for AmongJson<C> {
    type SqlType = diesel::sql_types::Bool;
}

impl<C, QS> diesel::expression::AppearsOnTable<QS> for AmongJson<C> where
    C: diesel::expression::AppearsOnTable<QS>
{
}

impl<C, QS> diesel::expression::SelectableExpression<QS> for AmongJson<C> where
    C: diesel::expression::SelectableExpression<QS>
{
}

impl<C, GB> diesel::expression::ValidGrouping<GB> for AmongJson<C>
where
    C: diesel::expression::ValidGrouping<GB>,
{
    type IsAggregate = C::IsAggregate;
}

impl<C> diesel::query_builder::QueryId for AmongJson<C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C> diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for AmongJson<C>
where
    C: diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> diesel::QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<diesel::sql_types::Text, _>(&self.values)?;
        out.push_sql("))");
        Ok(())
    }
}

diesel::define_sql_function! {
    /// SQL `lower`, the same on both backends (for case-insensitive search).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A statement whose SQL is the same on every run, kept in the connection's statement
/// cache where diesel would prepare it anew each time. diesel never keeps an `UPDATE`
/// (nor anything else that calls `unsafe_to_cache_prepared`), because a changeset with
/// optional fields can write any of many SQL texts. An update whose `SET` is fixed
/// writes one. On the support path that preparing was 7% of the SQLite writer's time.
///
/// Only for such statements: one whose text varies from run to run (an `IN` list, an
/// optional field) would fill the cache. The override is of diesel's own hook, which it
/// hides from its documentation for backend authors.
#[derive(Debug, Clone, Copy)]
pub struct KeepPrepared<Q>(pub Q);

impl<Q> diesel::query_builder::QueryId for KeepPrepared<Q> {
    // Cached by its SQL text, as diesel caches any statement without a static id.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// What [`KeepPrepared`] and [`PreparedAs`] share: the query's own SQL and type, marked
/// safe to keep prepared whatever diesel would say of its parts.
macro_rules! kept_prepared {
    ($wrapper:ident [$($key:ident),*], $query:tt) => {
        impl<$($key,)* Q: diesel::query_builder::Query> diesel::query_builder::Query
            for $wrapper<$($key,)* Q>
        {
            type SqlType = Q::SqlType;
        }

        impl<DB, $($key,)* Q> diesel::query_builder::QueryFragment<DB> for $wrapper<$($key,)* Q>
        where
            DB: diesel::backend::Backend,
            Q: diesel::query_builder::QueryFragment<DB>,
        {
            fn walk_ast<'b>(
                &'b self,
                pass: diesel::query_builder::AstPass<'_, 'b, DB>,
            ) -> diesel::QueryResult<()> {
                self.$query.walk_ast(pass)
            }

            fn is_safe_to_cache_prepared(&self, _backend: &DB) -> diesel::QueryResult<bool> {
                Ok(true)
            }
        }

        impl<$($key,)* Q, C> diesel::RunQueryDsl<C> for $wrapper<$($key,)* Q> {}
    };
}

kept_prepared!(KeepPrepared[], 0);

/// A statement diesel keeps prepared under the type `K` instead of under its SQL text.
/// diesel finds a statement without a type of its own (any boxed query, [`KeepPrepared`])
/// by writing its whole SQL out and hashing it, on every run; under a type it only binds
/// the parameters. For the duplicate search of a new report, a boxed query of two
/// `SELECT`s and 25 columns, writing its text out was 8% of the report's CPU.
///
/// `K` must name one SQL text per backend: every statement run as `PreparedAs<K, _>`
/// must write the very same text (binds included) on a backend, or one would run another's
/// statement. So `K` is a type of its own for each statement, declared beside it, and only
/// a statement of a fixed shape qualifies: no optional term, no list of varying length.
pub struct PreparedAs<K, Q> {
    query: Q,
    key: std::marker::PhantomData<K>,
}

impl<K, Q> PreparedAs<K, Q> {
    pub fn new(query: Q) -> Self {
        Self {
            query,
            key: std::marker::PhantomData,
        }
    }
}

impl<K: 'static, Q> diesel::query_builder::QueryId for PreparedAs<K, Q> {
    type QueryId = K;
    const HAS_STATIC_QUERY_ID: bool = true;
}

kept_prepared!(PreparedAs[K], query);

/// The current time as stored: UTC, truncated to microseconds (PostgreSQL's precision),
/// so what a write answers is exactly what a later read returns.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Utc::now().naive_utc().trunc_subsecs(6)
}

/// A stored time as the API shows it: RFC 3339, UTC, with `Z`.
pub fn utc(time: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_naive_utc_and_offset(time, chrono::Utc)
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    /// Whether the bundled SQLite was compiled with `SQLITE_<option>`.
    fn sqlite_compile_option(option: &str) -> bool {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        diesel::select(
            diesel::dsl::sql::<diesel::sql_types::Bool>("sqlite_compileoption_used(")
                .bind::<diesel::sql_types::Text, _>(option)
                .sql(")"),
        )
        .get_result(&mut conn)
        .unwrap()
    }

    /// `.cargo/config.toml` builds the bundled SQLite with the query planner stability
    /// guarantee; without it every cached statement with `LIMIT ?` is re-prepared on
    /// each run (see the comment there).
    #[test]
    fn sqlite_is_built_with_the_query_planner_stability_guarantee() {
        assert!(
            sqlite_compile_option("ENABLE_QPSG"),
            "build with LIBSQLITE3_FLAGS=-DSQLITE_ENABLE_QPSG"
        );
    }

    diesel::table! {
        counters (id) {
            id -> Integer,
            n -> Integer,
        }
    }

    /// How many statements `bump` puts into the statement cache over three runs.
    fn statements_cached(bump: impl Fn(&mut SqliteConnection) -> QueryResult<i32>) -> usize {
        use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
        let cached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        conn.batch_execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counters VALUES (1, 0)")
            .unwrap();
        let count = cached.clone();
        let instrumentation = move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { .. } = event {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        };
        conn.set_instrumentation(Box::new(instrumentation) as Box<dyn Instrumentation>);
        for expected in 1..=3 {
            assert_eq!(bump(&mut conn).unwrap(), expected);
        }
        cached.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// diesel prepares a bare `UPDATE` anew on every run; wrapped, it is prepared once and
    /// kept (the count updates of supports and pledges rely on it).
    #[test]
    fn keep_prepared_caches_an_update_that_diesel_would_not() {
        let update = || {
            diesel::update(counters::table.find(1))
                .set(counters::n.eq(counters::n + 1))
                .returning(counters::n)
        };
        assert_eq!(statements_cached(|c| update().get_result(c)), 0);
        assert_eq!(
            statements_cached(|c| super::KeepPrepared(update()).get_result(c)),
            1
        );
    }

    /// A statement run as `PreparedAs<K, _>` is found by `K` alone: its text is written
    /// once, for the first run, which is why a key must name one text.
    #[test]
    fn prepared_as_finds_its_statement_by_its_key_and_never_writes_it_again() {
        struct Key;
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let n = |sql: &'static str| diesel::dsl::sql::<diesel::sql_types::Integer>(sql);
        let run = |conn: &mut SqliteConnection, query| {
            super::PreparedAs::<Key, _>::new(diesel::select(query))
                .get_result::<i32>(conn)
                .unwrap()
        };
        assert_eq!(run(&mut conn, n("1")), 1);
        assert_eq!(
            run(&mut conn, n("2")),
            1,
            "the statement kept under the key"
        );
        assert_eq!(
            diesel::select(n("2")).get_result::<i32>(&mut conn).unwrap(),
            2
        );
    }

    /// `.cargo/config.toml` builds the bundled SQLite without memory management, which
    /// would put every connection's page cache behind one process-wide mutex (see there).
    #[test]
    fn sqlite_keeps_an_unlocked_page_cache_per_connection() {
        assert!(
            !sqlite_compile_option("ENABLE_MEMORY_MANAGEMENT"),
            "build with LIBSQLITE3_FLAGS=-USQLITE_ENABLE_MEMORY_MANAGEMENT"
        );
    }
}
