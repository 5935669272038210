//! Push delivery through a provider: the log provider (the default: it only logs) or the
//! HTTP relay provider (`CIVITAS_PUSH_RELAY_URL`: each push is POSTed as JSON to a gateway
//! of the deployment's own, which talks to FCM, APNs or Web Push). A token the provider
//! rejects is dropped.
//!
//! Push is best effort: the feed already holds every notification. Delivery runs in the
//! background after the dispatcher's transaction commits, bounded per round (messages,
//! concurrent sends, rounds in flight), so a slow gateway never holds up the outbox.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::PushMessage;
use super::models::{self, DeviceRow};
use crate::config::Config;
use crate::db;
use crate::startup::AppState;

/// The most push messages sent in one round; the rest stay in the feed only.
pub const MAX_MESSAGES_PER_ROUND: usize = 500;
/// The most sends (a message to one device) in one round.
pub const MAX_SENDS_PER_ROUND: usize = 1000;
/// Sends in flight at once within a round.
const CONCURRENCY: usize = 16;
/// Rounds delivering at once; the dispatcher waits for a slot when all are busy.
const ROUNDS_IN_FLIGHT: usize = 4;
/// How long the relay may take to answer one push.
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(10);

/// A device to push to.
#[derive(Debug, Clone)]
pub struct Device {
    pub token: String,
    /// `fcm`, `apns` or `webpush`.
    pub platform: String,
}

/// What became of one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Delivered,
    /// The token is not valid (any more): the device is dropped.
    Rejected,
    /// It did not go through this time; the device is kept.
    Failed(String),
}

/// Sends one message to one device.
pub trait PushProvider: Send + Sync {
    /// A short name for the logs.
    fn name(&self) -> &'static str;

    fn send<'a>(
        &'a self,
        device: &'a Device,
        message: &'a PushMessage,
    ) -> BoxFuture<'a, PushOutcome>;
}

/// A short, stable fingerprint of a token for the logs (never the token itself).
pub fn token_fingerprint(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Logs each push instead of sending it: for development and deployments without push.
#[derive(Debug, Default)]
pub struct LogProvider;

impl PushProvider for LogProvider {
    fn name(&self) -> &'static str {
        "log"
    }

    fn send<'a>(
        &'a self,
        device: &'a Device,
        message: &'a PushMessage,
    ) -> BoxFuture<'a, PushOutcome> {
        Box::pin(async move {
            tracing::info!(
                platform = %device.platform,
                token = %token_fingerprint(&device.token),
                title = %message.title,
                "push (log provider)"
            );
            PushOutcome::Delivered
        })
    }
}

/// POSTs each push as JSON `{token, platform, title, body, data}` to a relay URL. A 2xx
/// answer is delivered; 404 or 410 means the token is invalid (dropped); anything else,
/// or no answer within 10 s, is a failure (kept).
#[derive(Debug)]
pub struct RelayProvider {
    client: reqwest::Client,
    url: String,
}

impl RelayProvider {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(RELAY_TIMEOUT)
            .connect_timeout(RELAY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("CIVITAS_PUSH_RELAY_URL: cannot build the client: {e}"))?;
        Ok(Self {
            client,
            url: url.to_owned(),
        })
    }
}

impl PushProvider for RelayProvider {
    fn name(&self) -> &'static str {
        "relay"
    }

    fn send<'a>(
        &'a self,
        device: &'a Device,
        message: &'a PushMessage,
    ) -> BoxFuture<'a, PushOutcome> {
        Box::pin(async move {
            let body = serde_json::json!({
                "token": device.token,
                "platform": device.platform,
                "title": message.title,
                "body": message.body,
                "data": message.data,
            });
            match self.client.post(&self.url).json(&body).send().await {
                Ok(response) if response.status().is_success() => PushOutcome::Delivered,
                Ok(response) if matches!(response.status().as_u16(), 404 | 410) => {
                    PushOutcome::Rejected
                }
                Ok(response) => {
                    PushOutcome::Failed(format!("the relay answered {}", response.status()))
                }
                Err(error) => PushOutcome::Failed(format!(
                    "the relay could not be reached: {}",
                    error.without_url()
                )),
            }
        })
    }
}

/// The push provider and the bounds on delivery, in the application state.
pub struct Push {
    provider: Arc<dyn PushProvider>,
    rounds: Arc<Semaphore>,
}

impl Push {
    pub fn new(provider: Arc<dyn PushProvider>) -> Self {
        Self {
            provider,
            rounds: Arc::new(Semaphore::new(ROUNDS_IN_FLIGHT)),
        }
    }

    /// The relay provider when `push_relay_url` is set, else the log provider.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let provider: Arc<dyn PushProvider> = match config.push_relay_url.as_deref() {
            Some(url) => Arc::new(RelayProvider::new(url)?),
            None => Arc::new(LogProvider),
        };
        Ok(Self::new(provider))
    }

    pub fn provider_name(&self) -> &'static str {
        self.provider.name()
    }
}

/// Sends push messages to the accounts' devices, in the background; drops the tokens the
/// provider rejects.
pub async fn deliver(state: &web::Data<AppState>, mut messages: Vec<PushMessage>) {
    if messages.len() > MAX_MESSAGES_PER_ROUND {
        tracing::warn!(
            dropped = messages.len() - MAX_MESSAGES_PER_ROUND,
            "too many push messages in one round; the rest are in the feed only"
        );
        messages.truncate(MAX_MESSAGES_PER_ROUND);
    }
    let mut accounts: Vec<String> = messages.iter().map(|m| m.account_id.clone()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let devices = match db::read(&state.pool, move |conn| {
        Ok(models::devices_for(conn, &accounts)?)
    })
    .await
    {
        Ok(devices) => devices,
        Err(error) => {
            tracing::warn!(%error, "push devices could not be read; pushes skipped");
            return;
        }
    };
    let sends = pair(messages, devices);
    if sends.is_empty() {
        return;
    }
    let Ok(permit) = state.push.rounds.clone().acquire_owned().await else {
        return;
    };
    let state = state.clone();
    actix_web::rt::spawn(async move {
        send_round(&state, sends).await;
        drop(permit);
    });
}

/// Each message with each device of its account, up to the round's bound.
fn pair(messages: Vec<PushMessage>, devices: Vec<DeviceRow>) -> Vec<(DeviceRow, PushMessage)> {
    let mut sends = Vec::new();
    for message in messages {
        for device in devices
            .iter()
            .filter(|d| d.account_id == message.account_id)
        {
            if sends.len() == MAX_SENDS_PER_ROUND {
                tracing::warn!("too many pushes in one round; the rest are in the feed only");
                return sends;
            }
            sends.push((device.clone(), message.clone()));
        }
    }
    sends
}

async fn send_round(state: &web::Data<AppState>, sends: Vec<(DeviceRow, PushMessage)>) {
    let provider = state.push.provider.clone();
    let outcomes: Vec<(DeviceRow, PushOutcome)> = futures_util::stream::iter(sends)
        .map(|(row, message)| {
            let provider = provider.clone();
            async move {
                let device = Device {
                    token: row.token.clone(),
                    platform: row.platform.clone(),
                };
                let outcome = provider.send(&device, &message).await;
                (row, outcome)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut rejected = Vec::new();
    for (row, outcome) in outcomes {
        let token = token_fingerprint(&row.token);
        match outcome {
            PushOutcome::Delivered => {
                tracing::debug!(provider = provider.name(), %token, "push delivered");
            }
            PushOutcome::Rejected => {
                tracing::info!(provider = provider.name(), %token, "push token rejected; device dropped");
                rejected.push((row.token, row.account_id));
            }
            PushOutcome::Failed(error) => {
                tracing::warn!(provider = provider.name(), %token, %error, "push failed");
            }
        }
    }
    if rejected.is_empty() {
        return;
    }
    if let Err(error) = db::write(&state.pool, move |conn| {
        Ok(models::drop_devices(conn, &rejected)?)
    })
    .await
    {
        tracing::warn!(%error, "rejected push tokens could not be dropped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_short_stable_and_do_not_contain_the_token() {
        let print = token_fingerprint("secret-token-123");
        assert_eq!(print.len(), 12);
        assert_eq!(print, token_fingerprint("secret-token-123"));
        assert_ne!(print, token_fingerprint("secret-token-124"));
        assert!(!print.contains("secret"));
    }

    fn message(account: &str) -> PushMessage {
        PushMessage {
            account_id: account.into(),
            notification_id: "n".into(),
            title: "t".into(),
            body: None,
            data: serde_json::json!({}),
        }
    }

    fn device(token: &str, account: &str) -> DeviceRow {
        DeviceRow {
            token: token.into(),
            account_id: account.into(),
            platform: "fcm".into(),
            created_at: chrono::NaiveDateTime::default(),
            updated_at: chrono::NaiveDateTime::default(),
        }
    }

    #[test]
    fn each_message_goes_to_every_device_of_its_account_only() {
        let sends = pair(
            vec![message("a"), message("b")],
            vec![device("1", "a"), device("2", "a"), device("3", "c")],
        );
        let tokens: Vec<&str> = sends.iter().map(|(d, _)| d.token.as_str()).collect();
        assert_eq!(tokens, ["1", "2"]);
    }
}
