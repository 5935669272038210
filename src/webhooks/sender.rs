//! The sender: a background task in every node that leases due deliveries, POSTs them
//! (outside any transaction, a few at a time) and records each attempt.
//!
//! Every attempt re-checks the URL with the SSRF guard and connects only to the addresses
//! it approved, never follows redirects and ignores proxy settings. A 2xx answer
//! delivers; 410 disables the subscription; anything else is retried after the configured
//! pauses (plus up to 10% jitter) until they run out, and then the delivery fails. Five
//! failed deliveries in a row disable the subscription. Secrets and payloads are never
//! logged.

use std::error::Error as _;
use std::time::{Duration, Instant};

use actix_web::web;
use chrono::{NaiveDateTime, TimeDelta};
use futures_util::StreamExt;
use rand::Rng;

use super::guard::{self, WebhookUrl};
use super::models::{self, Attempt, Leased, Outcome, Recorded};
use super::signature;
use crate::config::Config;
use crate::db;
use crate::error::ApiError;
use crate::startup::AppState;

/// Deliveries leased per round. With the concurrency below and the time limits, a round
/// ends well inside the 60-second lease.
const BATCH: i64 = 8;
/// Deliveries sent at once.
const CONCURRENCY: usize = 4;
/// How long an attempt may take, answer included.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait after a failed round before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(5);
/// The longest error text kept for the delivery log.
const MAX_ERROR_CHARS: usize = 200;

/// Sends until the process stops: a round, then a pause when there was nothing to do.
pub async fn run(state: web::Data<AppState>) {
    let idle = state.config.dispatch_interval;
    loop {
        match send_once(&state).await {
            Ok(0) => actix_web::rt::time::sleep(idle).await,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "webhook sending failed; retrying");
                actix_web::rt::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
}

/// One round: leases up to a batch of due deliveries, sends them and records the
/// attempts. Returns how many it leased.
pub async fn send_once(state: &web::Data<AppState>) -> Result<usize, ApiError> {
    // A cheap read first, so an idle node does not take SQLite's write lock every round.
    let due = db::read(&state.pool, |conn| Ok(models::any_due(conn, db::now())?)).await?;
    if !due {
        return Ok(0);
    }
    let leased = db::write(&state.pool, |conn| {
        Ok(models::lease_due(conn, db::now(), BATCH)?)
    })
    .await?;
    let count = leased.len();
    futures_util::stream::iter(leased)
        .map(|delivery| deliver(state, delivery))
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    Ok(count)
}

/// Makes one attempt at a leased delivery and records it.
async fn deliver(state: &web::Data<AppState>, delivery: Leased) {
    let started = Instant::now();
    let answer = send(&state.config, &delivery).await;
    let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let at = db::now();
    let number = delivery.attempts + 1;
    let (status_code, error, outcome) = match answer {
        Ok(code) if (200..300).contains(&code) => (Some(code), None, Outcome::Delivered),
        Ok(410) => (Some(410), Some("410 Gone".to_owned()), Outcome::Gone),
        Ok(code) => (
            Some(code),
            Some(format!("HTTP {code}")),
            next_step(&state.config, number, at),
        ),
        Err(error) => (None, Some(error), next_step(&state.config, number, at)),
    };
    tracing::info!(
        delivery = %delivery.id,
        subscription = %delivery.subscription_id,
        event_type = %delivery.event_type,
        attempt = number,
        status = status_code,
        latency_ms,
        error = error.as_deref(),
        outcome = ?outcome,
        "webhook attempt"
    );
    let attempt = Attempt {
        status_code: status_code.map(i32::from),
        latency_ms: Some(latency_ms),
        error,
        at,
    };
    let subscription = delivery.subscription_id.clone();
    let recorded = db::write(&state.pool, move |conn| {
        Ok(models::record_attempt(conn, &delivery, &attempt, outcome)?)
    })
    .await;
    match recorded {
        Ok(Recorded::Disabled(reason)) => {
            tracing::warn!(%subscription, %reason, "webhook subscription disabled");
        }
        Ok(Recorded::LeaseLost) => {
            tracing::warn!(%subscription, "webhook lease ran out before the attempt was recorded");
        }
        Ok(Recorded::Recorded) => {}
        Err(error) => tracing::warn!(%error, %subscription, "could not record a webhook attempt"),
    }
}

/// After failed attempt number `number`: the next attempt, or giving up.
fn next_step(config: &Config, number: i32, now: NaiveDateTime) -> Outcome {
    let delay = usize::try_from(number - 1)
        .ok()
        .and_then(|index| config.webhook_retry_delays.get(index));
    match delay {
        Some(delay) => Outcome::Retry(now + with_jitter(*delay)),
        None => Outcome::GaveUp,
    }
}

/// `delay` plus up to 10% more, so receivers that fail together are not retried together.
fn with_jitter(delay: Duration) -> TimeDelta {
    let millis = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
    let jitter = rand::thread_rng().gen_range(0..=millis / 10);
    TimeDelta::milliseconds(millis.saturating_add(jitter))
}

/// POSTs the delivery; the status of the answer, or why there was none.
async fn send(config: &Config, delivery: &Leased) -> Result<u16, String> {
    let url = WebhookUrl::parse(&delivery.url, config.webhook_allow_http)
        .map_err(|error| format!("URL no longer allowed: {}", error.message))?;
    let addresses = guard::resolve_checked(&url, config.webhook_allow_private)
        .await
        .map_err(|refusal| format!("refused: {refusal}"))?;
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("Civitas-Webhooks/", env!("CARGO_PKG_VERSION")));
    if let Some(domain) = url.domain() {
        // Connect only to the addresses the guard approved: a second DNS answer (DNS
        // rebinding) never gets a say.
        builder = builder.resolve_to_addrs(domain, &addresses);
    }
    let client = builder.build().map_err(|error| describe(&error))?;
    let timestamp = chrono::Utc::now().timestamp();
    let signature = signature::sign(
        &delivery.secret,
        &delivery.id,
        timestamp,
        delivery.payload.as_bytes(),
    );
    let response = client
        .post(url.as_url().clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone())
        .send()
        .await
        .map_err(|error| describe(&error))?;
    Ok(response.status().as_u16())
}

/// A short description of a failed request: what failed and the innermost cause
/// (connection refused, certificate not trusted…). reqwest's own message would carry the
/// URL, which may hold the partner's tokens.
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_builder() {
        "could not prepare the request"
    } else {
        "request failed"
    };
    let mut cause = error.source();
    let mut innermost = None;
    while let Some(inner) = cause {
        innermost = Some(inner);
        cause = inner.source();
    }
    let text = match innermost {
        Some(inner) => format!("{what}: {inner}"),
        None => what.to_owned(),
    };
    text.chars().take(MAX_ERROR_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DatabaseUrl};

    fn config(delays: &[u64]) -> Config {
        let mut config = Config::for_database(DatabaseUrl::Sqlite("x.db".into()), ".".into());
        config.webhook_retry_delays = delays.iter().copied().map(Duration::from_secs).collect();
        config
    }

    #[test]
    fn retries_follow_the_configured_pauses_with_at_most_ten_percent_jitter() {
        let config = config(&[10, 100]);
        let now = db::now();
        for _ in 0..50 {
            let Outcome::Retry(first) = next_step(&config, 1, now) else {
                panic!("a first failure is retried");
            };
            assert!(first >= now + TimeDelta::seconds(10));
            assert!(first <= now + TimeDelta::seconds(11));
            let Outcome::Retry(second) = next_step(&config, 2, now) else {
                panic!("a second failure is retried");
            };
            assert!(second >= now + TimeDelta::seconds(100));
            assert!(second <= now + TimeDelta::seconds(110));
        }
        assert_eq!(next_step(&config, 3, now), Outcome::GaveUp);
    }
}
