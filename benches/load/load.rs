//! The closed-loop load generator: each connection is its own keep-alive HTTP/1.1 client
//! that sends its next request as soon as the previous answer is in, for a warm-up and
//! then a measured span; every latency goes into a histogram, every non-2xx is counted.

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many failing responses to keep per group, to show what went wrong.
const SAMPLES: usize = 5;
/// The slowest latency the histograms hold, in microseconds (one minute).
const MAX_LATENCY_US: u64 = 60_000_000;

/// One operation: usually one request, sometimes a journey of several. `n` counts the
/// group's operations from 0, so fixtures can be picked without repeats.
pub type Op = Arc<
    dyn Fn(reqwest::Client, u64) -> Pin<Box<dyn Future<Output = Exchange> + Send>> + Send + Sync,
>;

/// A set of connections running one operation.
pub struct Group {
    pub name: String,
    pub connections: usize,
    pub op: Op,
}

/// What one operation saw.
#[derive(Debug, Default)]
pub struct Exchange {
    pub requests: u32,
    /// Non-2xx answers the scenario expects (e.g. `409 already_pledged`).
    pub expected: u32,
    pub failures: Vec<Failure>,
}

/// An unexpected answer (status 0: no answer at all).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub status: u16,
    pub request: String,
    pub body: String,
}

impl Exchange {
    /// Sends one request; statuses in `expected` count as expected, other non-2xx as
    /// failures.
    pub async fn one(request: reqwest::RequestBuilder, expected: &[u16]) -> Self {
        let mut exchange = Self::default();
        exchange.send(request, expected).await;
        exchange
    }

    /// Sends one request as part of this operation; answers the body of a 2xx.
    pub async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
        expected: &[u16],
    ) -> Option<bytes::Bytes> {
        self.requests += 1;
        let described = request
            .try_clone()
            .and_then(|r| r.build().ok())
            .map(|r| format!("{} {}", r.method(), r.url().path()))
            .unwrap_or_default();
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let body = response.bytes().await;
                match body {
                    Ok(body) if status.is_success() => Some(body),
                    Ok(_) if expected.contains(&status.as_u16()) => {
                        self.expected += 1;
                        None
                    }
                    Ok(body) => {
                        self.failures.push(Failure {
                            status: status.as_u16(),
                            request: described,
                            body: String::from_utf8_lossy(&body).chars().take(300).collect(),
                        });
                        None
                    }
                    Err(error) => {
                        self.failures.push(Failure {
                            status: 0,
                            request: described,
                            body: error.to_string(),
                        });
                        None
                    }
                }
            }
            Err(error) => {
                self.failures.push(Failure {
                    status: 0,
                    request: described,
                    body: error.to_string(),
                });
                None
            }
        }
    }
}

/// What a group measured.
pub struct Tally {
    pub name: String,
    pub connections: usize,
    pub histogram: Histogram<u64>,
    pub operations: u64,
    pub requests: u64,
    pub expected: u64,
    /// Failures by status (0: no answer).
    pub failures: BTreeMap<u16, u64>,
    pub samples: Vec<Failure>,
    pub measured: Duration,
}

impl Tally {
    fn new(name: &str, connections: usize) -> anyhow::Result<Self> {
        Ok(Self {
            name: name.to_owned(),
            connections,
            histogram: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?,
            operations: 0,
            requests: 0,
            expected: 0,
            failures: BTreeMap::new(),
            samples: Vec::new(),
            measured: Duration::ZERO,
        })
    }

    fn record(&mut self, latency: Duration, exchange: Exchange) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram
            .saturating_record(micros.clamp(1, MAX_LATENCY_US));
        self.operations += 1;
        self.requests += u64::from(exchange.requests);
        self.expected += u64::from(exchange.expected);
        for failure in exchange.failures {
            *self.failures.entry(failure.status).or_default() += 1;
            if self.samples.len() < SAMPLES {
                self.samples.push(failure);
            }
        }
    }

    fn merge(&mut self, other: Self) -> anyhow::Result<()> {
        self.histogram.add(&other.histogram)?;
        self.operations += other.operations;
        self.requests += other.requests;
        self.expected += other.expected;
        for (status, count) in other.failures {
            *self.failures.entry(status).or_default() += count;
        }
        for sample in other.samples {
            if self.samples.len() < SAMPLES {
                self.samples.push(sample);
            }
        }
        Ok(())
    }

    pub fn errors(&self) -> u64 {
        self.failures.values().sum()
    }

    pub fn ops_per_s(&self) -> f64 {
        self.operations as f64 / self.measured.as_secs_f64().max(1e-9)
    }

    pub fn requests_per_s(&self) -> f64 {
        self.requests as f64 / self.measured.as_secs_f64().max(1e-9)
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.histogram.value_at_quantile(q) as f64 / 1000.0
    }
}

/// A small, fast hash of `n` (splitmix64): spreads operation numbers over fixtures.
pub fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A pseudo-random index below `len` for operation `n`.
pub fn pick(n: u64, len: usize) -> usize {
    (mix(n) % len.max(1) as u64) as usize
}

/// One keep-alive connection: a client that keeps at most one idle connection, HTTP/1.1.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Runs the groups side by side: `warmup`, then `measured`, all connections closed-loop.
/// While it runs, `sampler` (if any) is called every 50 ms (to sample the server's RSS).
pub async fn run(
    groups: Vec<Group>,
    warmup: Duration,
    measured: Duration,
    sampler: Option<Box<dyn Fn() + Send + Sync>>,
) -> anyhow::Result<Vec<Tally>> {
    let started = Instant::now();
    let measure_from = started + warmup;
    let until = measure_from + measured;
    let done = Arc::new(AtomicBool::new(false));
    let sampling = sampler.map(|sample| {
        let done = done.clone();
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                sample();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    });
    let mut running = Vec::new();
    for group in groups {
        let counter = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for _ in 0..group.connections {
            let client = client()?;
            let op = group.op.clone();
            let counter = counter.clone();
            let mut tally = Tally::new(&group.name, group.connections)?;
            workers.push(tokio::spawn(async move {
                loop {
                    let start = Instant::now();
                    if start >= until {
                        break;
                    }
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let exchange = op(client.clone(), n).await;
                    if start >= measure_from {
                        tally.record(start.elapsed(), exchange);
                    }
                }
                tally
            }));
        }
        running.push((group.name, group.connections, workers));
    }
    let mut tallies = Vec::new();
    for (name, connections, workers) in running {
        let mut total = Tally::new(&name, connections)?;
        for worker in workers {
            total.merge(worker.await?)?;
        }
        tallies.push(total);
    }
    // Operations that started in the measured span count: in a steady state, as many as
    // complete in a span of the same length.
    for tally in &mut tallies {
        tally.measured = measured;
    }
    done.store(true, Ordering::Relaxed);
    if let Some(sampling) = sampling {
        let _ = sampling.await;
    }
    Ok(tallies)
}
