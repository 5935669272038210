//! The scenarios of issue 9, each a group (or two) of closed-loop connections against the
//! running civitas, with the server's peak RSS, CPU and log errors read around it.

use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Options;
use crate::civitas::Server;
use crate::fixtures::{Fixtures, PASSWORD};
use crate::load::{self, Exchange, Group, Op, Tally, mix, pick};
use crate::report::{self, Ceiling, Row, SizeReport};

/// Statuses a pledge may answer besides 2xx: the citizen already pledged to it (only
/// once the distinct (citizen, opportunity) pairs run out).
const PLEDGE_EXPECTED: &[u16] = &[409];

/// Scenario names, in the order of the table.
pub const NEAR: &str = "near";
pub const DETAIL: &str = "detail";
pub const CREATE: &str = "create";
pub const SUPPORT: &str = "support";
pub const PLEDGE: &str = "pledge";
pub const LOGIN: &str = "login";
pub const JOURNEY: &str = "journey";
pub const STORM: &str = "storm";
pub const STORM_ALONE: &str = "storm: near alone";
pub const STORM_NEAR: &str = "storm: near";
pub const STORM_LOGIN: &str = "storm: login";

fn token(f: &Fixtures, n: u64) -> &str {
    &f.tokens[(n % f.tokens.len() as u64) as usize]
}

fn near(f: Arc<Fixtures>) -> Op {
    Arc::new(move |client, n| {
        let request = client.get(f.near_url(n)).bearer_auth(token(&f, n));
        Box::pin(async move { Exchange::one(request, &[]).await })
    })
}

fn detail(f: Arc<Fixtures>) -> Op {
    Arc::new(move |client, n| {
        let issue = &f.issues[pick(n, f.issues.len())];
        let request = client
            .get(format!("{}/issues/{}", f.api, issue.id))
            .bearer_auth(token(&f, n.wrapping_add(7)));
        Box::pin(async move { Exchange::one(request, &[]).await })
    })
}

fn report_body(f: &Fixtures, n: u64) -> serde_json::Value {
    let place = &f.issues[pick(n, f.issues.len())];
    // Within about 100 m of a seeded issue, so the duplicate check has work to do.
    let jitter = |salt: u64| ((mix(n ^ salt) % 2001) as f64 - 1000.0) / 1_000_000.0;
    json!({
        "category": "pothole",
        "title": format!("Pothole outside number {}", n % 200 + 1),
        "description": "A deep hole in the road surface; cyclists swerve around it.",
        "lat": place.lat + jitter(1),
        "lon": place.lon + jitter(2),
        "answers": {"size": "medium"},
    })
}

fn create(f: Arc<Fixtures>) -> Op {
    Arc::new(move |client, n| {
        let request = client
            .post(format!("{}/issues", f.api))
            .bearer_auth(token(&f, n))
            .json(&report_body(&f, n));
        Box::pin(async move { Exchange::one(request, &[]).await })
    })
}

/// A citizen supports a random issue: with a few hundred citizens and thousands of
/// issues, almost every call is a new support (a repeat is an idempotent `200`).
fn support_request(
    f: &Fixtures,
    client: &reqwest::Client,
    n: u64,
    salt: u64,
) -> reqwest::RequestBuilder {
    let issue = &f.issues[pick(n ^ salt, f.issues.len())];
    client
        .put(format!("{}/issues/{}/support", f.api, issue.id))
        .bearer_auth(token(f, n))
}

fn support(f: Arc<Fixtures>) -> Op {
    Arc::new(move |client, n| {
        let request = support_request(&f, &client, n, 0x5u64 << 40);
        Box::pin(async move { Exchange::one(request, &[]).await })
    })
}

/// Pledge `n` goes from citizen `n mod citizens` to opportunity `n div citizens`: every
/// pair is new until they run out, and the pledges of a moment share one opportunity
/// (and its capacity counter).
fn pledge(f: Arc<Fixtures>) -> Op {
    Arc::new(move |client, n| {
        let citizens = f.tokens.len() as u64;
        let opportunity =
            &f.opportunities[((n / citizens) % f.opportunities.len() as u64) as usize];
        let request = client
            .post(format!("{}/opportunities/{opportunity}/pledges", f.api))
            .bearer_auth(token(&f, n))
            .json(&json!({"kind": "time", "hours": 2}));
        Box::pin(async move { Exchange::one(request, PLEDGE_EXPECTED).await })
    })
}

fn login_request(f: &Fixtures, client: &reqwest::Client, account: u64) -> reqwest::RequestBuilder {
    client.post(format!("{}/auth/login", f.api)).json(
        &json!({"email": Fixtures::email(account), "password": PASSWORD,
                      "device_name": "bench phone"}),
    )
}

/// Logins cycle through the seeded citizens from `first` (1-based).
fn login(f: Arc<Fixtures>, first: u64) -> Op {
    Arc::new(move |client, n| {
        let account = (first - 1 + n) % f.accounts + 1;
        let request = login_request(&f, &client, account);
        Box::pin(async move { Exchange::one(request, &[]).await })
    })
}

/// A mobile session: sign in, look around, open two issues, support one, pledge once.
/// Journeys use citizens from the far end of the seeded accounts, so their pledges to
/// the journey opportunity are new.
fn journey(f: Arc<Fixtures>) -> Op {
    Arc::new(move |client, n| {
        let f = f.clone();
        Box::pin(async move {
            let mut exchange = Exchange::default();
            let account = f.accounts - (n % f.accounts);
            let Some(body) = exchange
                .send(login_request(&f, &client, account), &[])
                .await
            else {
                return exchange;
            };
            let token = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["access_token"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let near = client.get(f.near_url(n)).bearer_auth(&token);
            exchange.send(near, &[]).await;
            for k in 0..2 {
                let issue = &f.issues[pick(n.wrapping_mul(3).wrapping_add(k), f.issues.len())];
                let detail = client
                    .get(format!("{}/issues/{}", f.api, issue.id))
                    .bearer_auth(&token);
                exchange.send(detail, &[]).await;
            }
            let issue = &f.issues[pick(n ^ (0x7u64 << 40), f.issues.len())];
            let support = client
                .put(format!("{}/issues/{}/support", f.api, issue.id))
                .bearer_auth(&token);
            exchange.send(support, &[]).await;
            let pledge = client
                .post(format!(
                    "{}/opportunities/{}/pledges",
                    f.api, f.journey_opportunity
                ))
                .bearer_auth(&token)
                .json(&json!({"kind": "time", "hours": 1.5}));
            exchange.send(pledge, PLEDGE_EXPECTED).await;
            exchange
        })
    })
}

/// Readings of the server around one scenario.
struct Watch {
    log_from: u64,
    cpu_from: Option<std::time::Duration>,
    peak_reset: bool,
    sampled_peak_kb: Arc<AtomicU64>,
}

impl Watch {
    fn start(server: &Server) -> Self {
        Self {
            log_from: server.log_len(),
            cpu_from: server.cpu_time(),
            peak_reset: server.reset_peak_rss(),
            sampled_peak_kb: Arc::new(AtomicU64::new(0)),
        }
    }

    fn sampler(&self, server: &Server) -> Box<dyn Fn() + Send + Sync> {
        let pid = server.pid;
        let peak = self.sampled_peak_kb.clone();
        Box::new(move || {
            if let Some((_, rss)) = crate::civitas::memory_kb(pid) {
                peak.fetch_max(rss, Ordering::Relaxed);
            }
        })
    }

    /// Fills in the server-side columns of `row`.
    fn finish(self, server: &Server, row: &mut Row, seconds: f64) {
        let sampled = self.sampled_peak_kb.load(Ordering::Relaxed);
        let hwm = server.memory_kb().map_or(0, |(hwm, _)| hwm);
        // VmHWM since the reset is the true peak; without the reset it is the peak since
        // start, so the sampled maximum is used instead.
        let peak_kb = if self.peak_reset {
            hwm.max(sampled)
        } else {
            sampled
        };
        row.peak_rss_mb = Some(peak_kb as f64 / 1024.0);
        row.server_threads = server.threads();
        if let (Some(from), Some(to)) = (self.cpu_from, server.cpu_time()) {
            let cpu = to.saturating_sub(from).as_secs_f64();
            row.server_cpu_pct = Some(100.0 * cpu / seconds.max(1e-9));
            if row.requests > 0 {
                row.server_cpu_ms_per_request = Some(1000.0 * cpu / row.requests as f64);
            }
        }
        row.locked = server.log_count_since(self.log_from, "database is locked");
        row.pool_timeouts = server.log_count_since(self.log_from, "database pool exhausted");
    }
}

async fn measure(
    options: &Options,
    server: &Server,
    groups: Vec<Group>,
) -> anyhow::Result<(Vec<Tally>, Watch)> {
    let profile = match (&options.perf, groups.first()) {
        (Some(dir), Some(group)) => {
            Some(server.profile(dir, &group.name, options.warmup(), options.measured())?)
        }
        _ => None,
    };
    let watch = Watch::start(server);
    let sampler = watch.sampler(server);
    let tallies = load::run(groups, options.warmup(), options.measured(), Some(sampler)).await?;
    if let Some(mut profile) = profile {
        let _ = tokio::task::spawn_blocking(move || profile.wait()).await;
    }
    Ok((tallies, watch))
}

async fn single(
    options: &Options,
    server: &Server,
    size: &mut SizeReport,
    name: &str,
    connections: usize,
    op: Op,
    ceiling: Ceiling,
) -> anyhow::Result<()> {
    let group = Group {
        name: name.to_owned(),
        connections,
        op,
    };
    let (mut tallies, watch) = measure(options, server, vec![group]).await?;
    let tally = tallies
        .pop()
        .ok_or_else(|| anyhow::anyhow!("the load generator returned nothing"))?;
    let mut row = Row::from_tally(name, &tally);
    // Wall-clock span of the readings: warm-up and measured span.
    watch.finish(server, &mut row, (options.warmup + options.duration) as f64);
    row.ceiling = Some(ceiling);
    size.push(row);
    Ok(())
}

pub async fn run_all(
    options: &Options,
    server: &Server,
    fixtures: Arc<Fixtures>,
    size: &mut SizeReport,
) -> anyhow::Result<()> {
    let c = options.connections;
    let f = fixtures;
    report::print_header();
    if options.wants(NEAR) {
        single(
            options,
            server,
            size,
            NEAR,
            c,
            near(f.clone()),
            Ceiling::Read,
        )
        .await?;
    }
    if options.wants(DETAIL) {
        single(
            options,
            server,
            size,
            DETAIL,
            c,
            detail(f.clone()),
            Ceiling::Read,
        )
        .await?;
    }
    if options.wants(CREATE) {
        single(
            options,
            server,
            size,
            CREATE,
            c,
            create(f.clone()),
            Ceiling::Insert,
        )
        .await?;
    }
    if options.wants(SUPPORT) {
        single(
            options,
            server,
            size,
            SUPPORT,
            c,
            support(f.clone()),
            Ceiling::Insert,
        )
        .await?;
    }
    if options.wants(PLEDGE) {
        single(
            options,
            server,
            size,
            PLEDGE,
            c,
            pledge(f.clone()),
            Ceiling::Insert,
        )
        .await?;
    }
    if [LOGIN, JOURNEY, STORM].iter().any(|s| options.wants(s)) {
        // Measured again now, under the machine's current background load.
        let argon2 = tokio::task::spawn_blocking(crate::ceiling::argon2_bound).await??;
        eprintln!(
            "   argon2 now: {:.1} ms per hash, bound {:.1} logins/s (2 threads at once: {:.1}/s)",
            argon2.ms_per_hash, argon2.bound_per_s, argon2.parallel_per_s
        );
        size.argon2 = Some(argon2);
    }
    if options.wants(LOGIN) {
        let op = login(f.clone(), 1);
        single(options, server, size, LOGIN, c, op, Ceiling::Argon2).await?;
    }
    if options.wants(JOURNEY) {
        single(
            options,
            server,
            size,
            JOURNEY,
            c,
            journey(f.clone()),
            Ceiling::Journey,
        )
        .await?;
    }
    if options.wants(STORM) {
        storm(options, server, &f, size).await?;
    }
    Ok(())
}

/// Near reads on half the connections, alone and then while the other half hammers
/// login: how much the storm raises their p99.
async fn storm(
    options: &Options,
    server: &Server,
    f: &Arc<Fixtures>,
    size: &mut SizeReport,
) -> anyhow::Result<()> {
    let half = (options.connections / 2).max(1);
    single(
        options,
        server,
        size,
        STORM_ALONE,
        half,
        near(f.clone()),
        Ceiling::Read,
    )
    .await?;
    let groups = vec![
        Group {
            name: STORM_NEAR.into(),
            connections: half,
            op: near(f.clone()),
        },
        Group {
            name: STORM_LOGIN.into(),
            connections: half,
            // Past the citizens the login scenario used, so sessions pile up evenly.
            op: login(f.clone(), f.accounts / 2 + 1),
        },
    ];
    let (tallies, watch) = measure(options, server, groups).await?;
    let seconds = (options.warmup + options.duration) as f64;
    let mut rows: Vec<Row> = tallies
        .iter()
        .map(|t| Row::from_tally(&t.name, t))
        .collect();
    if let Some(near) = rows.first_mut() {
        watch.finish(server, near, seconds);
        near.ceiling = Some(Ceiling::Read);
    }
    if let Some(login) = rows.get_mut(1) {
        login.ceiling = Some(Ceiling::Argon2);
    }
    for row in rows {
        size.push(row);
    }
    Ok(())
}
