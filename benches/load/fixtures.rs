//! What the scenarios need, prepared over HTTP like any client would: signed-in seeded
//! citizens, a group with large opportunities to pledge to, and a search radius that finds
//! about 50 issues at this size.

use anyhow::Context;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::Options;
use crate::ceiling::SampledIssue;
use crate::civitas::Server;

/// The password of every seeded citizen.
pub const PASSWORD: &str = civitas::seed::PASSWORD;
/// Opportunities for the pledge scenario: with `citizens` signed in, `citizens × this`
/// distinct (citizen, opportunity) pairs before pledges repeat (and get `409`).
const PLEDGE_OPPORTUNITIES: usize = 400;
/// The largest capacity an opportunity may have.
const CAPACITY: u32 = 10_000;
/// Points the radius is calibrated on.
const CALIBRATION_POINTS: usize = 40;

pub struct Fixtures {
    pub api: String,
    /// Access tokens of seeded citizens `seed-1` … `seed-N`.
    pub tokens: Vec<String>,
    /// Random seeded issues: ids for reads and supports, places for searches.
    pub issues: Vec<SampledIssue>,
    pub radius_m: f64,
    pub near_mean_items: f64,
    /// Large opportunities for the pledge scenario.
    pub opportunities: Vec<String>,
    /// A large opportunity for the journeys.
    pub journey_opportunity: String,
    /// Seeded accounts (`seed-1` … `seed-accounts`).
    pub accounts: u64,
}

impl Fixtures {
    pub fn email(n: u64) -> String {
        format!("seed-{n}@example.org")
    }

    pub fn near_url(&self, n: u64) -> String {
        let place = &self.issues[crate::load::pick(n, self.issues.len())];
        format!(
            "{}/issues?near={:.6},{:.6}&radius={:.0}&limit=50",
            self.api, place.lat, place.lon, self.radius_m
        )
    }
}

pub async fn prepare(
    options: &Options,
    server: &Server,
    issues: Vec<SampledIssue>,
    issue_count: u64,
) -> anyhow::Result<Arc<Fixtures>> {
    let client = reqwest::Client::new();
    let api = server.api("");
    let wanted = u64::try_from(options.citizens)?.min(options.accounts);
    eprintln!("   signing in {wanted} seeded citizens");
    let tokens: Vec<String> = futures_util::stream::iter(1..=wanted)
        .map(|n| login(&client, &api, n))
        .buffered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let organiser = tokens
        .first()
        .ok_or_else(|| anyhow::anyhow!("no citizen signed in (--citizens 0?)"))?
        .clone();

    eprintln!(
        "   creating a group and {} large opportunities",
        PLEDGE_OPPORTUNITIES + 1
    );
    let centre = &issues[0];
    let group = post(
        &client,
        &format!("{api}/groups"),
        &organiser,
        &json!({"name": "Bench volunteers", "description": "Everyone who helps",
                "lat": centre.lat, "lon": centre.lon, "radius_m": 5000, "join_policy": "open"}),
    )
    .await?;
    let group = id_of(&group)?;
    let starts = chrono::Utc::now() + chrono::TimeDelta::days(2);
    let ends = starts + chrono::TimeDelta::hours(3);
    let mut opportunities = Vec::new();
    for n in 0..=PLEDGE_OPPORTUNITIES {
        let created = post(
            &client,
            &format!("{api}/groups/{group}/opportunities"),
            &organiser,
            &json!({"title": format!("Clean-up day {n}"), "description": "Bring gloves",
                    "lat": centre.lat, "lon": centre.lon,
                    "starts_at": starts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "ends_at": ends.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "capacity": CAPACITY, "auto_confirm": true, "skills": ["litter-picking"]}),
        )
        .await?;
        opportunities.push(id_of(&created)?);
    }
    let journey_opportunity = opportunities
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no opportunity"))?;

    let mut fixtures = Fixtures {
        api,
        tokens,
        issues,
        radius_m: 0.0,
        near_mean_items: 0.0,
        opportunities,
        journey_opportunity,
        accounts: options.accounts,
    };
    calibrate_radius(&client, &mut fixtures, issue_count).await?;
    Ok(Arc::new(fixtures))
}

async fn login(client: &reqwest::Client, api: &str, n: u64) -> anyhow::Result<String> {
    let response = client
        .post(format!("{api}/auth/login"))
        .json(&json!({"email": Fixtures::email(n), "password": PASSWORD, "device_name": "bench"}))
        .send()
        .await?;
    let body = checked(response, 200).await?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("login answered no access_token: {body}"))
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await?;
    checked(response, 201)
        .await
        .with_context(|| format!("POST {url}"))
}

async fn checked(response: reqwest::Response, want: u16) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().await?;
    if status.as_u16() != want {
        anyhow::bail!("expected {want}, got {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

fn id_of(body: &Value) -> anyhow::Result<String> {
    body["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no id in {body}"))
}

/// Finds a radius whose median search (around random seeded issues) finds 60 to 100
/// issues, then measures the mean number a `limit=50` search returns.
async fn calibrate_radius(
    client: &reqwest::Client,
    fixtures: &mut Fixtures,
    issue_count: u64,
) -> anyhow::Result<()> {
    let token = fixtures.tokens.first().cloned().unwrap_or_default();
    // Density grows with the count, so the radius shrinks with its square root.
    let mut radius = (1200.0 * (10_000.0 / issue_count.max(1) as f64).sqrt()).clamp(20.0, 50_000.0);
    let points = CALIBRATION_POINTS.min(fixtures.issues.len());
    let count = |radius: f64, limit: u32| {
        let token = token.clone();
        let places: Vec<(f64, f64)> = fixtures.issues[..points]
            .iter()
            .map(|p| (p.lat, p.lon))
            .collect();
        let api = fixtures.api.clone();
        async move {
            let mut counts = Vec::new();
            for (lat, lon) in places {
                let url =
                    format!("{api}/issues?near={lat:.6},{lon:.6}&radius={radius:.0}&limit={limit}");
                let response = client.get(url).bearer_auth(&token).send().await?;
                let body = checked(response, 200).await?;
                counts.push(body["items"].as_array().map_or(0, Vec::len));
            }
            counts.sort_unstable();
            anyhow::Ok(counts)
        }
    };
    for _ in 0..12 {
        let counts = count(radius, 100).await?;
        let median = counts[counts.len() / 2];
        if median >= 100 {
            radius /= 1.4;
        } else if median < 60 {
            radius *= 1.3;
        } else {
            break;
        }
        radius = radius.clamp(5.0, 50_000.0);
    }
    let counts = count(radius, 50).await?;
    fixtures.radius_m = radius.round();
    fixtures.near_mean_items = counts.iter().sum::<usize>() as f64 / counts.len().max(1) as f64;
    Ok(())
}
