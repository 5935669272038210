//! The machine's ceiling, measured in the same run with the same load generator: a
//! minimal actix-web server in this process (as many workers as civitas) answering a small
//! JSON body, one indexed read and one bare insert through diesel + r2d2 on the seeded
//! database, and the argon2 bound (cores ÷ time per hash).

use actix_web::{App, HttpResponse, HttpServer, web};
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use civitas::config::{Config, DatabaseUrl};
use civitas::db::schema::issues;
use civitas::db::{self, DbConnection, Pool};

use crate::civitas::{Database, free_port};
use crate::load::{self, Exchange, Group, Op, Tally};
use crate::{Options, report};

diesel::table! {
    /// The ceiling's insert target: a bare table beside civitas's own.
    bench_scratch (id) {
        id -> Text,
        body -> Text,
        n -> BigInt,
    }
}

diesel::define_sql_function! {
    /// SQL `substr` (the same on both backends).
    fn substr(text: diesel::sql_types::Text, start: diesel::sql_types::Integer, len: diesel::sql_types::Integer) -> diesel::sql_types::Text;
}

/// A seeded issue: id and position.
#[derive(Debug, Clone)]
pub struct SampledIssue {
    pub id: String,
    pub lat: f64,
    pub lon: f64,
}

/// The database connections of a run on `database`: `--pool-size`, or else the server's
/// own default for the backend.
pub fn pool_size(options: &Options, database: &Database) -> anyhow::Result<u32> {
    match options.pool_size {
        Some(size) => Ok(size),
        None => Ok(DatabaseUrl::parse(&database.url)
            .map_err(anyhow::Error::msg)?
            .default_pool_size()),
    }
}

/// The pool the ceiling uses: civitas's own connection manager (same pragmas: WAL,
/// busy_timeout, synchronous=NORMAL, foreign keys) and the same size as the server's.
fn pool(database: &Database, size: u32) -> anyhow::Result<Pool> {
    let url = DatabaseUrl::parse(&database.url).map_err(anyhow::Error::msg)?;
    let mut config = Config::for_database(url, database.path().to_owned());
    config.db_pool_size = size;
    db::build_pool(&config)
}

/// Runs `sql` (one or more statements) on the database.
pub async fn execute(database: &Database, sql: &str) -> anyhow::Result<()> {
    let pool = pool(database, 1)?;
    let sql = sql.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        pool.get()?.batch_execute(&sql)?;
        Ok(())
    })
    .await?
}

/// Up to 2000 seeded issues in random order: the ids that reads ask for and the places
/// near searches look around. The order is that of the ids' last 48 bits, which `civitas
/// seed` draws from its seeded generator, so the same seed gives the same sample.
pub async fn sample_issues(
    database: &Database,
    pool_size: u32,
) -> anyhow::Result<Vec<SampledIssue>> {
    let pool = pool(database, pool_size.min(2))?;
    let rows = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<(String, f64, f64)>> {
        let mut conn = pool.get()?;
        Ok(issues::table
            .select((issues::id, issues::lat, issues::lon))
            .order((substr(issues::id, 25, 12), issues::id))
            .limit(2000)
            .load(&mut conn)?)
    })
    .await??;
    if rows.is_empty() {
        anyhow::bail!("the seeded database has no issues");
    }
    Ok(rows
        .into_iter()
        .map(|(id, lat, lon)| SampledIssue { id, lat, lon })
        .collect())
}

/// What the ceiling measured: once before the civitas scenarios and once after, so a
/// machine whose background load drifts during the run shows it; ratios use the mean.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ceilings {
    pub before: Vec<report::Row>,
    pub after: Vec<report::Row>,
}

impl Ceilings {
    fn mean(&self, kind: &str) -> Option<f64> {
        let rates: Vec<f64> = self
            .before
            .iter()
            .chain(&self.after)
            .filter(|r| r.scenario == kind)
            .map(|r| r.rps)
            .collect();
        (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
    }

    pub fn read_rps(&self) -> Option<f64> {
        self.mean(READ)
    }

    pub fn insert_rps(&self) -> Option<f64> {
        self.mean(INSERT)
    }

    pub fn json_rps(&self) -> Option<f64> {
        self.mean(JSON)
    }
}

pub const JSON: &str = "ceiling: json";
pub const READ: &str = "ceiling: 1 read";
pub const INSERT: &str = "ceiling: 1 insert";

struct State {
    pool: Pool,
}

#[derive(Serialize)]
struct Small {
    status: &'static str,
    service: &'static str,
    version: u32,
}

async fn small_json() -> HttpResponse {
    HttpResponse::Ok().json(Small {
        status: "ok",
        service: "ceiling",
        version: 1,
    })
}

#[derive(Serialize, Queryable)]
struct IssueBrief {
    id: String,
    title: String,
    status: String,
    lat: f64,
    lon: f64,
}

async fn one_read(state: web::Data<State>, id: web::Path<String>) -> HttpResponse {
    let pool = state.pool.clone();
    let id = id.into_inner();
    let found = web::block(move || -> anyhow::Result<IssueBrief> {
        let mut conn = pool.get()?;
        Ok(issues::table
            .find(id)
            .select((
                issues::id,
                issues::title,
                issues::status,
                issues::lat,
                issues::lon,
            ))
            .first(&mut conn)?)
    })
    .await;
    match found {
        Ok(Ok(issue)) => HttpResponse::Ok().json(issue),
        Ok(Err(error)) => HttpResponse::InternalServerError().body(format!("{error:#}")),
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}

#[derive(Deserialize)]
struct InsertBody {
    body: String,
    n: i64,
}

async fn one_insert(state: web::Data<State>, body: web::Json<InsertBody>) -> HttpResponse {
    let pool = state.pool.clone();
    let body = body.into_inner();
    let id = uuid::Uuid::now_v7().to_string();
    let answer = id.clone();
    let inserted = web::block(move || -> anyhow::Result<()> {
        let mut conn = pool.get()?;
        // `BEGIN IMMEDIATE` on SQLite, as civitas writes.
        db::transaction(&mut conn, |conn: &mut DbConnection| {
            diesel::insert_into(bench_scratch::table)
                .values((
                    bench_scratch::id.eq(id),
                    bench_scratch::body.eq(body.body),
                    bench_scratch::n.eq(body.n),
                ))
                .execute(conn)
                .map(|_| ())
        })?;
        Ok(())
    })
    .await;
    match inserted {
        Ok(Ok(())) => HttpResponse::Created().json(serde_json::json!({ "id": answer })),
        Ok(Err(error)) => HttpResponse::InternalServerError().body(format!("{error:#}")),
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}

/// The minimal server, running on its own port beside civitas.
pub struct CeilingServer {
    base: String,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
    ids: Arc<Vec<String>>,
}

impl CeilingServer {
    pub async fn start(
        database: &Database,
        pool_size: u32,
        sample: &[SampledIssue],
    ) -> anyhow::Result<Self> {
        let pool = pool(database, pool_size)?;
        {
            let pool = pool.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut conn = pool.get()?;
                conn.batch_execute(
                    "CREATE TABLE IF NOT EXISTS bench_scratch \
                     (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL, n BIGINT NOT NULL)",
                )?;
                Ok(())
            })
            .await??;
        }
        let port = free_port()?;
        let state = web::Data::new(State { pool });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/json", web::get().to(small_json))
                .route("/read/{id}", web::get().to(one_read))
                .route("/insert", web::post().to(one_insert))
        })
        // The same number of workers as civitas (actix-web's default: one per core).
        .workers(civitas::config::cores())
        .disable_signals()
        .bind(("127.0.0.1", port))?
        .run();
        let handle = server.handle();
        let thread = std::thread::spawn(move || actix_web::rt::System::new().block_on(server));
        Ok(Self {
            base: format!("http://127.0.0.1:{port}"),
            handle,
            thread,
            ids: Arc::new(sample.iter().map(|s| s.id.clone()).collect()),
        })
    }

    /// Runs the three ceiling scenarios.
    pub async fn measure(&self, options: &Options, when: &str) -> anyhow::Result<Vec<report::Row>> {
        let base = &self.base;
        let mut rows = Vec::new();
        let url = format!("{base}/json");
        let op: Op = Arc::new(move |client, _n| {
            let request = client.get(url.clone());
            Box::pin(async move { Exchange::one(request, &[]).await })
        });
        rows.push(ceiling_row(JSON, when, run_one(options, op).await?));

        let read_base = format!("{base}/read/");
        let read_ids = self.ids.clone();
        let op: Op = Arc::new(move |client, n| {
            let id = &read_ids[load::pick(n, read_ids.len())];
            let request = client.get(format!("{read_base}{id}"));
            Box::pin(async move { Exchange::one(request, &[]).await })
        });
        rows.push(ceiling_row(READ, when, run_one(options, op).await?));

        let url = format!("{base}/insert");
        let op: Op = Arc::new(move |client, n| {
            let request = client.post(url.clone()).json(&serde_json::json!({
                "body": format!("scratch row {n} with a little text in it"),
                "n": n,
            }));
            Box::pin(async move { Exchange::one(request, &[]).await })
        });
        rows.push(ceiling_row(INSERT, when, run_one(options, op).await?));
        Ok(rows)
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
        if self.thread.join().is_err() {
            eprintln!("   warning: the ceiling server's thread panicked");
        }
    }
}

async fn run_one(options: &Options, op: Op) -> anyhow::Result<Tally> {
    let group = Group {
        name: "ceiling".into(),
        connections: options.connections,
        op,
    };
    let mut tallies = load::run(vec![group], options.warmup(), options.measured(), None).await?;
    tallies
        .pop()
        .ok_or_else(|| anyhow::anyhow!("the load generator returned nothing"))
}

fn ceiling_row(name: &str, when: &str, tally: Tally) -> report::Row {
    let mut row = report::Row::from_tally(name, &tally);
    row.note = Some(when.to_owned());
    report::print_row(&row);
    row
}

/// The argon2 bound: how many logins per second the CPUs allow at most.
#[derive(Debug, Clone, Serialize)]
pub struct Argon2Bound {
    pub ms_per_hash: f64,
    pub cores: usize,
    /// cores ÷ time per hash.
    pub bound_per_s: f64,
    /// Measured with one hashing thread per core at once (memory bandwidth shows here).
    pub parallel_per_s: f64,
}

/// Times password verification the way civitas does it: a hash made by civitas's own
/// `hash_blocking` (its parameters), verified with the parameters stored in the hash.
pub fn argon2_bound() -> anyhow::Result<Argon2Bound> {
    let password = civitas::seed::PASSWORD;
    let hash = civitas::auth::password::hash_blocking(password)?;
    let verify = |hash: &str| -> anyhow::Result<()> {
        let parsed = PasswordHash::new(hash).map_err(|e| anyhow::anyhow!("{e}"))?;
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    verify(&hash)?;
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        verify(&hash)?;
    }
    let per_hash = started.elapsed() / rounds;
    let cores = civitas::config::cores();

    let started = Instant::now();
    let parallel = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    for _ in 0..rounds {
                        verify(&hash)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| anyhow::anyhow!("a hashing thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<()>>>()
    });
    parallel?;
    let parallel_elapsed = started.elapsed();
    let secs = per_hash.as_secs_f64().max(1e-9);
    Ok(Argon2Bound {
        ms_per_hash: secs * 1000.0,
        cores,
        bound_per_s: cores as f64 / secs,
        parallel_per_s: (cores as f64 * f64::from(rounds))
            / parallel_elapsed.max(Duration::from_micros(1)).as_secs_f64(),
    })
}
