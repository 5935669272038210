//! Rate limits: GCRA counters (the `governor` crate) kept in this node's memory. Every
//! request counts against a general class, `anonymous` per client address when it has no
//! valid bearer token, else `account` per citizen account or partner client; requests to
//! the routes open to abuse count in addition against a stricter class: `auth` (sign-up,
//! sign-in, password reset, token exchanges; per address), `report` (new issues and
//! Open311 requests), `comment` (comments and flags) and `pledge` (per caller). Over a
//! limit the answer is `429` problem+json with `Retry-After`; counted answers carry the
//! `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy`
//! headers (IETF httpapi draft) of the class closest to its limit. Counters are per node: behind a load
//! balancer spreading N nodes, a caller gets up to N times the limit.

use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;
use utoipa::Modify;
use utoipa::openapi::header::Header;
use utoipa::openapi::{Object, RefOr, Type};

use crate::auth::extractors::bearer_token;
use crate::auth::tokens::{
    PARTNER_TOKEN_TYP, VerifiedAccess, token_typ, verify_access_token_cached,
    verify_partner_token_cached,
};
use crate::error::ApiError;
use crate::startup::AppState;

/// The limits when `CIVITAS_RATE_LIMITS` is not set, chosen so that people never meet
/// them and scripts soon do:
/// - `anonymous=300/m` per address: browsing the map and lists without signing in is a
///   few requests a second at most, but many people can share one address (mobile
///   carriers' NAT, an office), so it is generous.
/// - `account=600/m` per account or partner client: ten a second sustained, far beyond
///   an app in use, enough for a partner's batch jobs.
/// - `auth=20/m` per address: sign-in, sign-up and reset mail are where guessing and
///   mail-bombing start; a household or office behind one address still fits (wrong
///   passwords for one email are slowed further by the sign-in throttle).
/// - `report=60/h`, `comment=60/h`, `pledge=30/h` per caller: a keen citizen walking a
///   street and reporting each pothole stays under them; spam does not.
pub const DEFAULT_LIMITS: &str =
    "anonymous=300/m,account=600/m,auth=20/m,report=60/h,comment=60/h,pledge=30/h";

/// The largest number of requests one limit may allow per period.
const MAX_REQUESTS: u32 = 1_000_000;
/// How often counters that are back to a full quota are forgotten.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(60);
/// Operational routes never limited: probes and scrapes must not fail because of load.
const EXEMPT_PATHS: [&str; 3] = ["/health/live", "/health/ready", "/metrics"];
/// The route patterns (all `POST`) that count against a stricter class.
const STRICT_ROUTES: [(&str, Class); 15] = [
    ("/api/v1/auth/register", Class::Auth),
    ("/api/v1/auth/login", Class::Auth),
    ("/api/v1/auth/password-reset", Class::Auth),
    ("/api/v1/auth/password-reset/confirm", Class::Auth),
    ("/api/v1/auth/refresh", Class::Auth),
    ("/api/v1/auth/verify-email", Class::Auth),
    ("/api/v1/oauth/token", Class::Auth),
    ("/api/v1/me/password", Class::Auth),
    ("/api/v1/me/email-verification", Class::Auth),
    ("/api/v1/issues", Class::Report),
    ("/open311/v2/requests.{format}", Class::Report),
    ("/api/v1/issues/{id}/comments", Class::Comment),
    ("/api/v1/flags", Class::Comment),
    ("/api/v1/issues/{id}/pledges", Class::Pledge),
    ("/api/v1/opportunities/{id}/pledges", Class::Pledge),
];

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Every request without a valid bearer token, per client address.
    Anonymous,
    /// Every request with a valid bearer token, per account or partner client.
    Account,
    /// Sign-up, sign-in, password reset and token exchanges, per client address.
    Auth,
    /// New issues and Open311 service requests, per caller.
    Report,
    /// Comments on issues, per caller.
    Comment,
    /// Pledges to opportunities and issues, per caller.
    Pledge,
}

impl Class {
    pub const ALL: [Class; 6] = [
        Class::Anonymous,
        Class::Account,
        Class::Auth,
        Class::Report,
        Class::Comment,
        Class::Pledge,
    ];

    /// The name in `CIVITAS_RATE_LIMITS`.
    pub fn name(self) -> &'static str {
        match self {
            Class::Anonymous => "anonymous",
            Class::Account => "account",
            Class::Auth => "auth",
            Class::Report => "report",
            Class::Comment => "comment",
            Class::Pledge => "pledge",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|class| class.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// What the 429 says was done too often.
    fn refusal(self) -> &'static str {
        match self {
            Class::Anonymous => "Too many requests from this address",
            Class::Account => "Too many requests with these credentials",
            Class::Auth => "Too many sign-in, sign-up or password requests from this address",
            Class::Report => "Too many reports",
            Class::Comment => "Too many comments",
            Class::Pledge => "Too many pledges",
        }
    }
}

/// `requests` per `period`: a burst of up to `requests`, refilled evenly over `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub requests: NonZeroU32,
    pub period: Duration,
}

impl Limit {
    /// Parses `N/period`: `10/m`, `100/h`, `5/30s`.
    fn parse(raw: &str) -> Result<Self, String> {
        let (requests, period) = raw
            .split_once('/')
            .ok_or_else(|| format!("`{raw}` is not `N/period`"))?;
        let requests = requests
            .trim()
            .parse::<NonZeroU32>()
            .ok()
            .filter(|n| n.get() <= MAX_REQUESTS)
            .ok_or_else(|| {
                format!("`{requests}` is not a number of requests from 1 to {MAX_REQUESTS}")
            })?;
        let period = period.trim();
        let bad_period = || format!("`{period}` is not a period (`s`, `m`, `h`, or e.g. `30s`)");
        let (count, unit_secs) = [('s', 1), ('m', 60), ('h', 3600)]
            .into_iter()
            .find_map(|(unit, secs)| Some((period.strip_suffix(unit)?, secs)))
            .ok_or_else(bad_period)?;
        let count = match count {
            "" => 1,
            digits if digits.bytes().all(|b| b.is_ascii_digit()) => digits
                .parse::<u64>()
                .ok()
                .filter(|count| (1..=24 * 3600).contains(count))
                .ok_or_else(bad_period)?,
            _ => return Err(bad_period()),
        };
        Ok(Self {
            requests,
            period: Duration::from_secs(count * unit_secs),
        })
    }

    /// How long one spent request takes to come back.
    fn interval(self) -> Duration {
        self.period / self.requests.get()
    }

    fn quota(self) -> Option<Quota> {
        Quota::with_period(self.interval()).map(|quota| quota.allow_burst(self.requests))
    }

    /// The `RateLimit-Policy` value: `10;w=60`.
    fn policy(self) -> String {
        format!("{};w={}", self.requests, self.period.as_secs())
    }
}

/// Parsed `CIVITAS_RATE_LIMITS`: a limit per class, `None` where the class is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    limits: [Option<Limit>; Class::ALL.len()],
}

impl RateLimits {
    /// Parses `class=N/period,…` (a class may also be `off`), or `off` for no limits at
    /// all. Classes not named keep their limits from [`DEFAULT_LIMITS`].
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw == "off" {
            return Ok(Self::off());
        }
        Self::off().with(DEFAULT_LIMITS)?.with(raw)
    }

    /// No limits: for tests and benchmarks.
    pub fn off() -> Self {
        Self {
            limits: [None; Class::ALL.len()],
        }
    }

    /// The limit of `class`, `None` when it is off.
    pub fn get(&self, class: Class) -> Option<Limit> {
        self.limits[class.index()]
    }

    /// Whether every class is off.
    pub fn is_off(&self) -> bool {
        self.limits.iter().all(Option::is_none)
    }

    fn with(mut self, raw: &str) -> Result<Self, String> {
        let mut named = [false; Class::ALL.len()];
        for part in raw
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not `class=N/period`"))?;
            let name = name.trim();
            let class = Class::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Class::ALL.iter().map(|class| class.name()).collect();
                format!(
                    "`{part}`: unknown class `{name}` (known: {})",
                    known.join(", ")
                )
            })?;
            if std::mem::replace(&mut named[class.index()], true) {
                return Err(format!("`{part}`: `{name}` is given twice"));
            }
            let value = value.trim();
            self.limits[class.index()] = if value == "off" {
                None
            } else {
                Some(Limit::parse(value).map_err(|e| format!("`{part}`: {e}"))?)
            };
        }
        Ok(self)
    }
}

/// Who a counter belongs to. Only a verified token names an account or a client; any
/// other request is its address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Caller {
    /// The client address (an IPv6 address's /64 network); `None` when it is unknown.
    Address(Option<IpAddr>),
    Account(String),
    Client(String),
}

type Keyed =
    RateLimiter<Caller, DefaultKeyedStateStore<Caller>, DefaultClock, StateInformationMiddleware>;

/// Where a class stands for one caller after a request.
#[derive(Debug, Clone, Copy)]
struct Standing {
    class: Class,
    limit: Limit,
    remaining: u32,
    /// Until the quota is whole again.
    reset: Duration,
}

enum Outcome {
    /// Within every limit; the standing closest to its limit, if any class counted.
    Allowed(Option<Standing>),
    Refused {
        standing: Standing,
        retry_after: Duration,
    },
}

/// The counters of one node (limits are per node).
pub struct Limiter {
    classes: [Option<(Limit, Keyed)>; Class::ALL.len()],
}

impl Limiter {
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            classes: Class::ALL.map(|class| {
                let limit = limits.get(class)?;
                Some((
                    limit,
                    RateLimiter::dashmap(limit.quota()?)
                        .with_middleware::<StateInformationMiddleware>(),
                ))
            }),
        }
    }

    fn is_off(&self) -> bool {
        self.classes.iter().all(Option::is_none)
    }

    /// Counts one request against each `(class, caller)` in turn, stopping at the first
    /// class that refuses it (so list the strictest first: a request it refuses then
    /// spends nothing of the others).
    fn check(&self, counts: &[(Class, &Caller)]) -> Outcome {
        let mut closest: Option<Standing> = None;
        for &(class, caller) in counts {
            let Some((limit, counters)) = &self.classes[class.index()] else {
                continue;
            };
            let limit = *limit;
            match counters.check_key(caller) {
                Ok(snapshot) => {
                    let remaining = snapshot.remaining_burst_capacity();
                    let standing = Standing {
                        class,
                        limit,
                        remaining,
                        reset: limit.interval() * (limit.requests.get() - remaining),
                    };
                    if closest.is_none_or(|closest| {
                        (remaining, limit.requests) < (closest.remaining, closest.limit.requests)
                    }) {
                        closest = Some(standing);
                    }
                }
                Err(not_until) => {
                    let retry_after = not_until.wait_time_from(counters.clock().now());
                    let standing = Standing {
                        class,
                        limit,
                        remaining: 0,
                        reset: retry_after + limit.interval() * (limit.requests.get() - 1),
                    };
                    return Outcome::Refused {
                        standing,
                        retry_after,
                    };
                }
            }
        }
        Outcome::Allowed(closest)
    }

    /// Forgets the counters that are back to a full quota (they are the same as none).
    pub fn forget_idle(&self) {
        for (_, counters) in self.classes.iter().flatten() {
            counters.retain_recent();
            counters.shrink_to_fit();
        }
    }

    /// How many counters are kept, over all classes.
    pub fn counters(&self) -> usize {
        self.classes
            .iter()
            .flatten()
            .map(|(_, counters)| counters.len())
            .sum()
    }
}

/// Runs for the life of the server: every minute, forgets idle counters so that memory
/// follows the callers of the last minutes, not every address ever seen.
pub async fn housekeeping(state: web::Data<AppState>) {
    if state.limiter.is_off() {
        return;
    }
    loop {
        actix_web::rt::time::sleep(HOUSEKEEPING_INTERVAL).await;
        let state = state.clone();
        if let Err(error) = web::block(move || state.limiter.forget_idle()).await {
            tracing::warn!(%error, "could not forget idle rate-limit counters");
        }
    }
}

/// The client's address: the peer's, or with `hops` trusted proxies in front (which each
/// append the address they were reached from to `X-Forwarded-For`), the entry `hops`
/// places from the right. `None` when it cannot be told (tests without a socket).
pub fn client_ip(req: &actix_web::HttpRequest, hops: u8) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr().map(|addr| addr.ip());
    if hops == 0 {
        return peer;
    }
    let forwarded: Vec<std::net::IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    forwarded
        .len()
        .checked_sub(usize::from(hops))
        .and_then(|at| forwarded.get(at).copied())
        .or(peer)
}

/// The address a per-address counter is kept for: IPv4 as is, IPv6 by its /64 network
/// (one subscriber's share, which an abuser could otherwise walk through address by
/// address).
fn counted_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
    }
}

/// The account or partner client the request's bearer token proves, if it proves one.
/// The signature, expiry, issuer and audience are checked as the handlers check them, so
/// a forged token cannot escape the per-address limit; whether the session has ended is
/// not (that needs the database), and its requests fail in the handler anyway.
fn verified_caller(state: &AppState, req: &ServiceRequest) -> Option<Caller> {
    let token = bearer_token(req.request()).ok()?;
    let issuer = &state.config.public_url;
    if token_typ(&token).as_deref() == Some(PARTNER_TOKEN_TYP) {
        verify_partner_token_cached(&state.keys, issuer, &token)
            .ok()
            .map(|claims| Caller::Client(claims.client_id))
    } else {
        let claims = verify_access_token_cached(&state.keys, issuer, &token).ok()?;
        let caller = Caller::Account(claims.sub.clone());
        req.extensions_mut()
            .insert(VerifiedAccess { token, claims });
        Some(caller)
    }
}

/// The stricter class a route counts against, from its method and pattern.
fn strict_class(method: &Method, pattern: &str) -> Option<Class> {
    if method != Method::POST {
        return None;
    }
    STRICT_ROUTES
        .iter()
        .find(|(route, _)| *route == pattern)
        .map(|&(_, class)| class)
}

/// Whole seconds, rounded up.
fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

fn set_headers(headers: &mut HeaderMap, standing: &Standing) {
    headers.insert(LIMIT, HeaderValue::from(standing.limit.requests.get()));
    headers.insert(REMAINING, HeaderValue::from(standing.remaining));
    headers.insert(RESET, HeaderValue::from(ceil_secs(standing.reset)));
    if let Ok(policy) = HeaderValue::from_str(&standing.limit.policy()) {
        headers.insert(POLICY, policy);
    }
}

/// Middleware: counts the request against its limits; 429 when one is spent.
pub async fn limit<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let state = match req.app_data::<web::Data<AppState>>() {
        Some(state) if !state.limiter.is_off() => state.clone(),
        _ => return Ok(next.call(req).await?.map_into_left_body()),
    };
    // Preflights carry no credentials and precede a request that is counted itself.
    if req.method() == Method::OPTIONS || EXEMPT_PATHS.contains(&req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let address = Caller::Address(
        client_ip(req.request(), state.config.trusted_proxy_hops).map(counted_address),
    );
    let caller = verified_caller(&state, &req);
    let general = match &caller {
        Some(caller) => (Class::Account, caller),
        None => (Class::Anonymous, &address),
    };
    let strict = req
        .match_pattern()
        .and_then(|pattern| strict_class(req.method(), &pattern))
        .map(|class| match class {
            // Guessing and sign-up spam come from addresses, whatever token is attached.
            Class::Auth => (class, &address),
            _ => (class, caller.as_ref().unwrap_or(&address)),
        });
    let counts: Vec<(Class, &Caller)> = strict.into_iter().chain([general]).collect();
    match state.limiter.check(&counts) {
        Outcome::Allowed(standing) => {
            let mut response = next.call(req).await?;
            if let Some(standing) = standing {
                set_headers(response.headers_mut(), &standing);
            }
            Ok(response.map_into_left_body())
        }
        Outcome::Refused {
            standing,
            retry_after,
        } => {
            let retry_after = ceil_secs(retry_after).max(1);
            tracing::debug!(class = standing.class.name(), "rate limit reached");
            let error = ApiError::too_many_requests(
                format!(
                    "{}: try again in {retry_after} s.",
                    standing.class.refusal()
                ),
                retry_after,
            );
            let mut response = req.into_response(error.error_response());
            set_headers(response.headers_mut(), &standing);
            Ok(response.map_into_right_body())
        }
    }
}

/// Documents the limits in the OpenAPI document: the `TooManyRequests` response gets
/// its headers, and every limited operation a `429`.
pub struct RateLimitDocs;

impl Modify for RateLimitDocs {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(RefOr::T(response)) = openapi
            .components
            .as_mut()
            .and_then(|components| components.responses.get_mut("TooManyRequests"))
        {
            let headers = [
                ("Retry-After", "Seconds to wait before trying again."),
                (
                    "RateLimit-Limit",
                    "Requests allowed per window by the limit that was reached.",
                ),
                (
                    "RateLimit-Remaining",
                    "Requests left under that limit: 0 when it is the one reached.",
                ),
                ("RateLimit-Reset", "Seconds until the whole quota is back."),
                (
                    "RateLimit-Policy",
                    "The limit as `requests;w=window seconds`, e.g. `20;w=60`.",
                ),
            ];
            for (name, description) in headers {
                let kind = if name == "RateLimit-Policy" {
                    Type::String
                } else {
                    Type::Integer
                };
                let mut header = Header::new(Object::with_type(kind));
                header.description = Some(description.to_owned());
                response.headers.insert(name.to_owned(), header);
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            if EXEMPT_PATHS.contains(&path.as_str()) {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .entry("429".to_owned())
                    .or_insert_with(|| {
                        RefOr::Ref(utoipa::openapi::Ref::from_response_name("TooManyRequests"))
                    });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(requests: u32, period_secs: u64) -> Option<Limit> {
        Some(Limit {
            requests: NonZeroU32::new(requests).unwrap(),
            period: Duration::from_secs(period_secs),
        })
    }

    #[test]
    fn the_defaults_parse_and_limit_every_class() {
        let limits = RateLimits::parse(DEFAULT_LIMITS).unwrap();
        assert_eq!(limits.get(Class::Anonymous), limit(300, 60));
        assert_eq!(limits.get(Class::Account), limit(600, 60));
        assert_eq!(limits.get(Class::Auth), limit(20, 60));
        assert_eq!(limits.get(Class::Report), limit(60, 3600));
        assert_eq!(limits.get(Class::Comment), limit(60, 3600));
        assert_eq!(limits.get(Class::Pledge), limit(30, 3600));
        assert_eq!(RateLimits::parse("").unwrap(), limits);
    }

    #[test]
    fn named_classes_replace_their_defaults_and_the_others_keep_theirs() {
        let limits =
            RateLimits::parse(" auth = 3/m , comment=5/30s,pledge=off,report=2/2h").unwrap();
        assert_eq!(limits.get(Class::Auth), limit(3, 60));
        assert_eq!(limits.get(Class::Comment), limit(5, 30));
        assert_eq!(limits.get(Class::Pledge), None);
        assert_eq!(limits.get(Class::Report), limit(2, 7200));
        assert_eq!(limits.get(Class::Anonymous), limit(300, 60));
        assert_eq!(limits.get(Class::Account), limit(600, 60));
        assert!(!limits.is_off());
        assert_eq!(
            RateLimits::parse("anonymous=1/s")
                .unwrap()
                .get(Class::Anonymous),
            limit(1, 1)
        );
    }

    #[test]
    fn off_turns_every_class_off() {
        for raw in ["off", " off "] {
            let limits = RateLimits::parse(raw).unwrap();
            assert!(limits.is_off());
            assert_eq!(limits, RateLimits::off());
        }
        let all_off = Class::ALL
            .map(|class| format!("{}=off", class.name()))
            .join(",");
        assert!(RateLimits::parse(&all_off).unwrap().is_off());
        assert!(Limiter::new(&RateLimits::off()).is_off());
    }

    #[test]
    fn mistakes_are_refused_naming_the_part() {
        for (raw, named) in [
            ("auth=3", "`auth=3`"),
            ("auth", "`auth`"),
            ("logins=3/m", "unknown class `logins`"),
            ("auth=0/m", "`0`"),
            ("auth=-1/m", "`-1`"),
            ("auth=ten/m", "`ten`"),
            ("auth=2000000/m", "`2000000`"),
            ("auth=3/d", "`d`"),
            ("auth=3/", "``"),
            ("auth=3/0m", "`0m`"),
            ("auth=3/-5s", "`-5s`"),
            ("auth=3/5é", "`5é`"),
            ("auth=3/100000h", "`100000h`"),
            ("auth=3/m,auth=4/m", "given twice"),
            ("off,auth=3/m", "`off`"),
            ("anonymous=3/m,,comment=x", "`comment=x`"),
        ] {
            let error = RateLimits::parse(raw).unwrap_err();
            assert!(error.contains(named), "{raw}: {error}");
        }
    }

    #[test]
    fn the_policy_and_interval_follow_the_limit() {
        let limit = Limit::parse("10/m").unwrap();
        assert_eq!(limit.policy(), "10;w=60");
        assert_eq!(limit.interval(), Duration::from_secs(6));
        assert_eq!(ceil_secs(Duration::from_millis(5001)), 6);
        assert_eq!(ceil_secs(Duration::from_secs(5)), 5);
    }

    #[test]
    fn ipv6_addresses_count_by_their_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(counted_address(a), counted_address(b));
        assert_ne!(counted_address(a), counted_address(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            counted_address(mapped),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(counted_address(v4), v4);
    }

    #[test]
    fn the_strictest_class_refuses_first_and_spends_nothing_of_the_general_one() {
        let limits = RateLimits::parse("anonymous=3/m,comment=1/m").unwrap();
        let limiter = Limiter::new(&limits);
        let caller = Caller::Address(None);
        let counts = [(Class::Comment, &caller), (Class::Anonymous, &caller)];
        let Outcome::Allowed(Some(standing)) = limiter.check(&counts) else {
            panic!("the first comment is refused");
        };
        assert_eq!((standing.class, standing.remaining), (Class::Comment, 0));
        assert_eq!(standing.reset, Duration::from_secs(60));
        let Outcome::Refused {
            standing,
            retry_after,
        } = limiter.check(&counts)
        else {
            panic!("the second comment is allowed");
        };
        assert_eq!((standing.class, standing.remaining), (Class::Comment, 0));
        assert!(retry_after > Duration::from_secs(55) && retry_after <= Duration::from_secs(60));
        // The refused comment spent nothing: after this read, one of three is left.
        let Outcome::Allowed(Some(standing)) = limiter.check(&[(Class::Anonymous, &caller)]) else {
            panic!("a read is refused");
        };
        assert_eq!((standing.class, standing.remaining), (Class::Anonymous, 1));
    }

    #[test]
    fn idle_counters_are_forgotten() {
        let limits = RateLimits::parse("anonymous=1000/s").unwrap();
        let limiter = Limiter::new(&limits);
        for last in 0..5u8 {
            let caller = Caller::Address(Some(IpAddr::from([192, 0, 2, last])));
            assert!(matches!(
                limiter.check(&[(Class::Anonymous, &caller)]),
                Outcome::Allowed(Some(_))
            ));
        }
        assert_eq!(limiter.counters(), 5);
        std::thread::sleep(Duration::from_millis(20));
        limiter.forget_idle();
        assert_eq!(limiter.counters(), 0);
    }

    #[test]
    fn only_posts_to_the_listed_routes_are_strict() {
        assert_eq!(
            strict_class(&Method::POST, "/api/v1/auth/login"),
            Some(Class::Auth)
        );
        assert_eq!(
            strict_class(&Method::POST, "/api/v1/issues/{id}/comments"),
            Some(Class::Comment)
        );
        assert_eq!(strict_class(&Method::GET, "/api/v1/issues"), None);
        assert_eq!(
            strict_class(&Method::POST, "/api/v1/issues"),
            Some(Class::Report)
        );
        assert_eq!(strict_class(&Method::POST, "/api/v1/groups"), None);
    }

    #[test]
    fn the_document_lists_429_on_every_limited_operation() {
        let mut api = crate::openapi::spec();
        RateLimitDocs.modify(&mut api);
        let json = serde_json::to_value(&api).unwrap();
        let mut operations = 0;
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                    continue;
                }
                let has_429 = operation["responses"].get("429").is_some();
                assert_eq!(
                    has_429,
                    !EXEMPT_PATHS.contains(&path.as_str()),
                    "{method} {path}"
                );
                operations += 1;
            }
        }
        assert!(operations > 50, "{operations} operations");
        let headers = &json["components"]["responses"]["TooManyRequests"]["headers"];
        for name in [
            "Retry-After",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
            "RateLimit-Policy",
        ] {
            assert!(headers.get(name).is_some(), "{name} in {headers}");
        }
    }

    #[test]
    fn every_strict_route_is_served() {
        let json = serde_json::to_value(crate::openapi::spec()).unwrap();
        for (pattern, _) in STRICT_ROUTES {
            assert!(
                json["paths"][pattern].get("post").is_some(),
                "POST {pattern} is not a route"
            );
        }
    }
}
