//! Builds the application (shared by `main` and the tests), binds, serves, shuts down.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Compress, DefaultHeaders, Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::keys::KeyStore;
use crate::auth::password::Passwords;
use crate::config::{Config, DatabaseUrl};
use crate::db::{self, Pool};
use crate::error::{self, ApiError};
use crate::fallback::MethodTable;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::notifications::push::Push;
use crate::photos::Photos;
use crate::{conditional, idempotency, json_body, openapi, ratelimit, telemetry};

/// The largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 1024 * 1024;
/// How long in-flight requests may take to finish after SIGTERM, in seconds.
const SHUTDOWN_GRACE_SECS: u64 = 30;

/// What every handler can reach.
pub struct AppState {
    pub config: Config,
    pub pool: Pool,
    pub keys: KeyStore,
    pub passwords: Passwords,
    pub mailer: Mailer,
    pub photos: Photos,
    /// Push delivery: the log provider, or the HTTP relay when `push_relay_url` is set.
    pub push: Push,
    pub metrics: Metrics,
    /// Rate-limit counters of this node.
    pub limiter: crate::ratelimit::Limiter,
    /// Idempotency keys whose first request is running on this node.
    pub in_flight: crate::idempotency::InFlight,
}

/// CORS for browser clients: only the configured origins (none by default), any method
/// the API uses, the headers clients send, and the headers they may read.
fn cors(config: &Config) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::LOCATION,
            header::ETAG,
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("ratelimit-limit"),
            header::HeaderName::from_static("ratelimit-remaining"),
            header::HeaderName::from_static("ratelimit-reset"),
            header::HeaderName::from_static("ratelimit-policy"),
        ])
        .max_age(3600);
    for origin in &config.cors_origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

/// Headers every answer carries: no MIME sniffing, no referrer leaks, and HSTS when the
/// public URL is https.
fn security_headers(config: &Config) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"));
    if config.public_url.starts_with("https://") {
        headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
    } else {
        headers
    }
}

/// The Content-Security-Policy of the Swagger UI under `/docs`: its scripts, styles,
/// fonts and images come from this server only (the icons are `data:` URIs), it fetches
/// `/openapi.json` and the API it tries out from the same origin, and nothing may frame
/// it. The page has no inline script: its initialiser is the served
/// `/docs/swagger-initializer.js`. The one inline style allowed, by its hash, is the
/// `<style>` inside the bundled Swagger logo
/// (`.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}`); a new
/// Swagger UI version may need a new hash (Chromium's console names it).
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// The Content-Security-Policy of every other answer (JSON, problem+json, metrics): a
/// browser that ever renders one loads nothing and frames nothing.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Sets the Content-Security-Policy: the Swagger UI's own under `/docs`, the closed
/// one everywhere else.
async fn content_security_policy(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path();
    let policy = if path == "/docs" || path.starts_with("/docs/") {
        DOCS_CSP
    } else {
        API_CSP
    };
    let mut response = next.call(req).await?;
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    Ok(response)
}

/// A bound, not yet running server.
pub struct Application {
    server: Server,
    port: u16,
    state: web::Data<AppState>,
}

/// Opens the database, applies migrations and loads the signing keys.
pub async fn prepare_state(config: Config) -> anyhow::Result<AppState> {
    let pool = db::build_pool(&config)?;
    let keys = prepare_database(&pool)
        .await
        .map_err(StartError::into_error)?;
    finish_state(config, pool, keys)
}

/// Why the database could not be prepared at start-up.
enum StartError {
    /// No connection: the server may be down or restarting (worth waiting for).
    Unreachable(db::PoolError),
    /// Connected, but migrating or loading the keys failed (not worth waiting for).
    Failed(anyhow::Error),
}

impl StartError {
    fn into_error(self) -> anyhow::Error {
        match self {
            Self::Unreachable(error) => anyhow::anyhow!("cannot reach the database: {error}"),
            Self::Failed(error) => error,
        }
    }
}

/// Applies pending migrations and loads the signing keys, on one connection of `pool`.
async fn prepare_database(pool: &Pool) -> Result<KeyStore, StartError> {
    let pool = pool.clone();
    web::block(move || {
        let mut conn = pool.get().map_err(StartError::Unreachable)?;
        let applied = db::run_migrations(&mut conn).map_err(StartError::Failed)?;
        for version in applied {
            tracing::info!(%version, "migration applied");
        }
        KeyStore::load(&mut conn).map_err(StartError::Failed)
    })
    .await
    .map_err(|error| StartError::Failed(error.into()))?
}

/// Start-up was asked to stop (SIGTERM, SIGINT) while it waited for the database: not a
/// failure, the process exits cleanly.
#[derive(Debug, thiserror::Error)]
#[error("stopped while waiting for the database")]
pub struct StoppedWhileWaiting;

/// How long start-up waits for an unreachable PostgreSQL before giving up (and leaving
/// the restart to the orchestrator).
const DATABASE_WAIT: Duration = Duration::from_secs(300);
/// The longest pause between two attempts to reach it.
const DATABASE_RETRY_MAX: Duration = Duration::from_secs(5);

/// Waits for PostgreSQL when it is unreachable at start-up (a node often starts before,
/// or while, its database restarts). Meanwhile a holding server on the same listener
/// answers `/health/live` with 200 and everything else, `/health/ready` included, with
/// 503 and `Retry-After`, so a load balancer keeps the node out of rotation instead of
/// seeing a crash loop. Gives up after [`DATABASE_WAIT`]; stops on SIGTERM or SIGINT
/// ([`StoppedWhileWaiting`]).
async fn wait_for_database(
    config: &Config,
    listener: &TcpListener,
    pool: &Pool,
    first: db::PoolError,
) -> anyhow::Result<KeyStore> {
    tracing::warn!(
        error = %first,
        wait_secs = DATABASE_WAIT.as_secs(),
        "the database is unreachable; answering 503 and retrying"
    );
    let headers = config.clone();
    let holding = HttpServer::new(move || {
        App::new()
            .service(crate::health::get_liveness)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::unavailable(
                    "Civitas is starting and cannot reach its database yet.",
                    1,
                ))
            }))
            .wrap(security_headers(&headers))
            .wrap(from_fn(content_security_policy))
    })
    .workers(1)
    .disable_signals()
    // Its answers take no time; idle keep-alive connections must not hold up the start.
    .shutdown_timeout(1)
    .listen(listener.try_clone()?)?
    .run();
    let handle = holding.handle();
    actix_web::rt::spawn(holding);

    let deadline = Instant::now() + DATABASE_WAIT;
    let mut pause = Duration::from_millis(250);
    let mut terminate = signal(SignalKind::terminate())?;
    let outcome = loop {
        tokio::select! {
            _ = terminate.recv() => break Err(StoppedWhileWaiting.into()),
            _ = tokio::signal::ctrl_c() => break Err(StoppedWhileWaiting.into()),
            () = actix_web::rt::time::sleep(pause) => {}
        }
        match prepare_database(pool).await {
            Ok(keys) => {
                tracing::info!("the database is reachable; starting");
                break Ok(keys);
            }
            Err(StartError::Unreachable(error)) if Instant::now() < deadline => {
                tracing::warn!(%error, "the database is still unreachable; retrying");
                pause = (pause * 2).min(DATABASE_RETRY_MAX);
            }
            Err(StartError::Unreachable(error)) => {
                break Err(anyhow::anyhow!(
                    "the database stayed unreachable for {} s: {error}",
                    DATABASE_WAIT.as_secs()
                ));
            }
            Err(StartError::Failed(error)) => break Err(error),
        }
    };
    // The requests the holding server is answering finish; new ones wait in the
    // listener's backlog for the real server.
    handle.stop(true).await;
    outcome
}

fn finish_state(config: Config, pool: Pool, keys: KeyStore) -> anyhow::Result<AppState> {
    let passwords = Passwords::new()?;
    let mailer = Mailer::from_config(&config)?;
    let photos = Photos::from_config(&config)?;
    let push = Push::from_config(&config)?;
    let metrics = Metrics::new()?;
    let limiter = crate::ratelimit::Limiter::new(&config.rate_limits);
    Ok(AppState {
        config,
        pool,
        keys,
        passwords,
        mailer,
        photos,
        push,
        metrics,
        limiter,
        in_flight: crate::idempotency::InFlight::default(),
    })
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind)
            .map_err(|e| anyhow::anyhow!("CIVITAS_BIND: cannot listen on {}: {e}", config.bind))?;
        let address = listener.local_addr()?;
        let port = address.port();
        let pool = db::build_pool(&config)?;
        let keys = match prepare_database(&pool).await {
            Ok(keys) => keys,
            Err(StartError::Unreachable(error))
                if matches!(config.database, DatabaseUrl::Postgres(_)) =>
            {
                wait_for_database(&config, &listener, &pool, error).await?
            }
            Err(error) => return Err(error.into_error()),
        };
        let state = web::Data::new(finish_state(config, pool, keys)?);
        let spec = openapi::spec();
        let methods = web::Data::new(MethodTable::from_spec(&spec));
        let app_state = state.clone();
        // One worker per core, as actix's default; between them as many blocking threads
        // as there are database connections (see `worker_max_blocking_threads` below).
        let workers = crate::config::cores();
        let blocking_threads = usize::try_from(state.config.db_pool_size)
            .unwrap_or(usize::MAX)
            .div_ceil(workers)
            .max(2);
        let server = HttpServer::new(move || {
            App::new()
                .into_utoipa_app()
                .configure(openapi::routes)
                .into_app()
                .app_data(app_state.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(MAX_JSON_BODY)
                        .error_handler(error::json_error_handler),
                )
                .app_data(web::QueryConfig::default().error_handler(error::query_error_handler))
                .app_data(web::PathConfig::default().error_handler(error::path_error_handler))
                .app_data(
                    web::FormConfig::default()
                        .limit(MAX_JSON_BODY)
                        .error_handler(error::form_error_handler),
                )
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .url("/openapi.json", spec.clone())
                        // No badge fetched from the public validator: the page is offline,
                        // and its CSP would block it anyway.
                        .config(utoipa_swagger_ui::Config::default().validator_url("none")),
                )
                .route(
                    "/docs",
                    web::get().to(|| async {
                        HttpResponse::PermanentRedirect()
                            .insert_header(("Location", "/docs/"))
                            .finish()
                    }),
                )
                .app_data(methods.clone())
                .default_service(web::to(
                    |req: HttpRequest, methods: web::Data<MethodTable>| async move {
                        methods.answer(&req)
                    },
                ))
                .wrap(from_fn(json_body::require_object))
                .wrap(from_fn(idempotency::middleware))
                .wrap(from_fn(conditional::conditional_get))
                .wrap(Compress::default())
                // Inside CORS and the security headers, so a 429 carries them too.
                .wrap(from_fn(ratelimit::limit))
                .wrap(cors(&app_state.config))
                .wrap(security_headers(&app_state.config))
                .wrap(from_fn(content_security_policy))
                .wrap(app_state.metrics.http.clone())
                .wrap(from_fn(telemetry::request_context))
        })
        .listen(listener)?
        // Nearly every blocking task holds a database connection, so more blocking
        // threads than connections only wait in the pool; unbounded (512 a worker), a
        // burst of requests leaves a hundred idle threads and their memory behind. Each
        // thread that ran a request keeps a malloc arena's worth of freed memory too.
        .workers(workers)
        .worker_max_blocking_threads(blocking_threads)
        .shutdown_timeout(SHUTDOWN_GRACE_SECS)
        .run();
        actix_web::rt::spawn(crate::events::dispatcher::run(state.clone()));
        actix_web::rt::spawn(crate::webhooks::sender::run(state.clone()));
        actix_web::rt::spawn(idempotency::housekeeping(state.clone()));
        actix_web::rt::spawn(ratelimit::housekeeping(state.clone()));
        tracing::info!(%address, "listening");
        Ok(Self {
            server,
            port,
            state,
        })
    }

    /// The port actually bound (tests bind port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state, for tests that need to look behind the API (pool, settings).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT or SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
