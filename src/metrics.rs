//! `/metrics` in the Prometheus text format: request counts and latency histograms by
//! route pattern and status (from `actix-web-prom`), plus gauges read at scrape time:
//! database pool usage, the outbox backlog, webhook deliveries waiting, active sessions.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use diesel::prelude::*;
use prometheus::{Encoder, IntGauge, Registry, TextEncoder};

use crate::db::{self, schema::sessions, schema::webhook_deliveries};
use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;

/// The metrics registry and the middleware that records requests into it.
pub struct Metrics {
    /// Wrap every app in this (it is cheap to clone).
    pub http: PrometheusMetrics,
    registry: Registry,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    outbox_backlog: IntGauge,
    webhook_pending: IntGauge,
    active_sessions: IntGauge,
}

fn gauge(registry: &Registry, name: &str, help: &str) -> anyhow::Result<IntGauge> {
    let gauge = IntGauge::new(format!("civitas_{name}"), help)?;
    registry.register(Box::new(gauge.clone()))?;
    Ok(gauge)
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let http = PrometheusMetricsBuilder::new("civitas")
            .registry(registry.clone())
            .mask_unmatched_patterns("unmatched")
            .exclude("/metrics")
            .build()
            .map_err(|error| anyhow::anyhow!("metrics: {error}"))?;
        Ok(Self {
            pool_connections: gauge(
                &registry,
                "db_pool_connections",
                "Open database connections",
            )?,
            pool_idle: gauge(
                &registry,
                "db_pool_idle_connections",
                "Idle database connections",
            )?,
            outbox_backlog: gauge(
                &registry,
                "outbox_backlog",
                "Domain events not yet dispatched",
            )?,
            webhook_pending: gauge(
                &registry,
                "webhook_deliveries_pending",
                "Webhook deliveries waiting for an attempt",
            )?,
            active_sessions: gauge(
                &registry,
                "active_sessions",
                "Sessions neither ended nor expired",
            )?,
            http,
            registry,
        })
    }
}

/// Metrics for Prometheus (text format 0.0.4). Open unless `CIVITAS_METRICS_TOKEN` is
/// set; then send `Authorization: Bearer <that token>`.
#[utoipa::path(
    tag = "Operations",
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String),
        (status = 401, response = crate::error::Unauthorized),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/metrics")]
pub async fn get_metrics(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    if let Some(expected) = &state.config.metrics_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let matches = given.is_some_and(|given| {
            use secrecy::ExposeSecret;
            constant_time_eq(given.as_bytes(), expected.expose_secret().as_bytes())
        });
        if !matches {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "Send `Authorization: Bearer <CIVITAS_METRICS_TOKEN>`.",
            ));
        }
    }
    let metrics = &state.metrics;
    let pool = state.pool.state();
    metrics.pool_connections.set(i64::from(pool.connections));
    metrics.pool_idle.set(i64::from(pool.idle_connections));
    let (backlog, pending, active) = db::read(&state.pool, |conn| {
        let backlog = crate::events::dispatcher::backlog(conn)?;
        let pending = webhook_deliveries::table
            .filter(webhook_deliveries::status.eq("pending"))
            .count()
            .get_result::<i64>(conn)?;
        let active = sessions::table
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(db::now()))
            .count()
            .get_result::<i64>(conn)?;
        Ok((backlog, pending, active))
    })
    .await?;
    metrics.outbox_backlog.set(backlog);
    metrics.webhook_pending.set(pending);
    metrics.active_sessions.set(active);
    let mut body = Vec::new();
    TextEncoder::new()
        .encode(&metrics.registry.gather(), &mut body)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
