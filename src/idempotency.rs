//! `Idempotency-Key` on every write (IETF draft "The Idempotency-Key HTTP Header Field",
//! with Stripe's semantics): a client that did not hear the answer to a `POST`, `PUT`,
//! `PATCH` or `DELETE` sends it again with the same key and gets the first answer back
//! instead of acting twice.
//!
//! A keyed request runs inside one database transaction ([`RequestTransaction`]): the
//! handler's changes and the answer stored under the key commit together or not at all,
//! so an acknowledged write always has its answer recorded, and a request that died
//! half-way left neither. While the first request runs, a retry gets `409` (an in-process
//! set, and on PostgreSQL a transaction-scoped advisory lock, which holds across nodes and
//! is released by PostgreSQL itself if a node dies). A retry with the same key and the
//! same request (method, path, query, body) gets the stored status and body with
//! `Idempotent-Replayed: true`; the same key on a different request is `422`. Keys are
//! scoped to the caller (citizen account, partner client, or the client address for
//! anonymous calls) and kept for 24 hours.
//!
//! Answers that say nothing happened yet are not stored, so a retry acts: `401`, `403`,
//! `408`, `429` and every `5xx` (which also roll back). The credential exchanges
//! (`/auth/login`, `/auth/refresh`, `/oauth/token`) ignore the header: repeating them is
//! harmless by design, and their answers are credentials Civitas does not keep. So does
//! `/auth/register`: repeating it is harmless too (it answers the same either way), and
//! it must not leave an email address under a client address, out of erasure's reach.

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::Mutex;

use crate::auth::tokens::{
    PARTNER_TOKEN_TYP, token_typ, verify_access_token, verify_partner_token,
};
use crate::db::schema::idempotency_keys;
use crate::db::{self, DbConnection, RequestTransaction};
use crate::error::ApiError;
use crate::photos::routes::MAX_UPLOAD_BYTES;
use crate::startup::AppState;

/// The request header carrying the key.
pub const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// The response header marking a replayed answer.
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// How long an answer is kept, in hours.
pub const RETENTION_HOURS: i64 = 24;
/// The largest keyed body read (the largest any route accepts, a photo upload, plus room
/// for the multipart framing).
const MAX_KEYED_BODY: usize = MAX_UPLOAD_BYTES + 64 * 1024;
/// Routes that ignore the header: credential exchanges, and registration (its answer
/// would be stored under the client address, with the email address, where erasing the
/// account could not find it).
const EXEMPT: [&str; 4] = [
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/oauth/token",
    "/api/v1/auth/register",
];
/// Headers of the first answer that a replay repeats.
const KEPT_HEADERS: [HeaderName; 2] = [header::CONTENT_TYPE, header::LOCATION];

/// Keys whose first request is running on this node.
#[derive(Debug, Default)]
pub struct InFlight(Mutex<HashSet<(String, String)>>);

/// Holds a key in [`InFlight`] until dropped (also when the client hangs up).
struct Claim<'a> {
    in_flight: &'a InFlight,
    entry: (String, String),
}

impl InFlight {
    fn claim(&self, scope: &str, key: &str) -> Option<Claim<'_>> {
        let entry = (scope.to_owned(), key.to_owned());
        let fresh = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(entry.clone());
        // (A `Claim` made for a taken key would free it when dropped: make none.)
        fresh.then(|| Claim {
            in_flight: self,
            entry,
        })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut set = self
            .in_flight
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        set.remove(&self.entry);
    }
}

/// What a keyed request finds under its key.
enum Found {
    Nothing,
    Answer(Stored),
    OtherRequest,
}

struct Stored {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

fn is_write(method: &Method) -> bool {
    [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
}

/// Whether an answer is kept for replay: only answers that settle the request.
fn kept(status: StatusCode) -> bool {
    !(status.is_server_error()
        || [
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::REQUEST_TIMEOUT,
            StatusCode::TOO_MANY_REQUESTS,
        ]
        .contains(&status))
}

/// What the request is, for telling a retry from a different request under one key.
fn fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(method.as_str());
    digest.update([0]);
    digest.update(path_and_query);
    digest.update([0]);
    digest.update(body);
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// Who the key belongs to: the account or partner client the bearer token proves, else
/// the client address.
fn scope_of(state: &AppState, conn: &mut DbConnection, token: Option<&str>, ip: &str) -> String {
    let issuer = &state.config.public_url;
    match token {
        Some(token) if token_typ(token).as_deref() == Some(PARTNER_TOKEN_TYP) => {
            verify_partner_token(&state.keys, conn, issuer, token)
                .map(|claims| format!("client:{}", claims.client_id))
        }
        Some(token) => verify_access_token(&state.keys, conn, issuer, token)
            .map(|claims| format!("account:{}", claims.sub)),
        None => Err(ApiError::unauthorized("missing_token", "anonymous")),
    }
    .unwrap_or_else(|_| format!("ip:{ip}"))
}

/// On PostgreSQL, takes the key's transaction-scoped advisory lock (released at commit or
/// rollback, or when the connection dies); `false` when another node's request holds it.
fn lock_across_nodes(conn: &mut DbConnection, scope: &str, key: &str) -> Result<bool, ApiError> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let DbConnection::Postgresql(pg) = conn else {
        return Ok(true);
    };
    let digest = Sha256::digest(format!("{scope}\0{key}"));
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    let locked: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
        .bind::<diesel::sql_types::BigInt, _>(i64::from_be_bytes(id))
        .get_result(pg)?;
    Ok(locked.locked)
}

fn find(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
    fingerprint: &str,
    now: NaiveDateTime,
) -> Result<Found, ApiError> {
    type Row = (String, i32, String, Vec<u8>);
    let row: Option<Row> = idempotency_keys::table
        .find((scope, key))
        .filter(idempotency_keys::expires_at.gt(now))
        .select((
            idempotency_keys::fingerprint,
            idempotency_keys::status,
            idempotency_keys::headers,
            idempotency_keys::body,
        ))
        .first(conn)
        .optional()?;
    Ok(match row {
        None => Found::Nothing,
        Some((stored, ..)) if stored != fingerprint => Found::OtherRequest,
        Some((_, status, headers, body)) => Found::Answer(Stored {
            status: u16::try_from(status).unwrap_or(200),
            headers: serde_json::from_str(&headers).unwrap_or_default(),
            body,
        }),
    })
}

fn store(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
    fingerprint: &str,
    answer: &Stored,
) -> Result<(), ApiError> {
    let now = db::now();
    // An expired record under the same key may still be there: the key is free again.
    diesel::delete(idempotency_keys::table.find((scope, key))).execute(conn)?;
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::scope.eq(scope),
            idempotency_keys::idempotency_key.eq(key),
            idempotency_keys::fingerprint.eq(fingerprint),
            idempotency_keys::status.eq(i32::from(answer.status)),
            idempotency_keys::headers
                .eq(serde_json::to_string(&answer.headers).map_err(ApiError::internal)?),
            idempotency_keys::body.eq(&answer.body),
            idempotency_keys::created_at.eq(now),
            idempotency_keys::expires_at.eq(now + chrono::Duration::hours(RETENTION_HOURS)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes expired records; run now and then by every node.
pub fn purge_expired(conn: &mut DbConnection) -> Result<usize, ApiError> {
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.le(db::now())))
            .execute(conn)?,
    )
}

/// Every node purges expired records now and then (lookups ignore them meanwhile).
pub async fn housekeeping(state: web::Data<AppState>) {
    let mut interval = actix_web::rt::time::interval(std::time::Duration::from_secs(600));
    loop {
        interval.tick().await;
        match db::write(&state.pool, purge_expired).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "expired idempotency keys purged"),
            Err(error) => tracing::warn!(%error, "could not purge expired idempotency keys"),
        }
    }
}

fn replay(answer: Stored) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.insert_header((name, value));
        }
    }
    response.insert_header((REPLAYED_HEADER, HeaderValue::from_static("true")));
    response.body(answer.body)
}

fn in_use() -> ApiError {
    ApiError::conflict(
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still being processed; retry shortly.",
    )
    .with_retry_after(1)
}

fn reused() -> ApiError {
    ApiError::unprocessable(
        "idempotency_key_reused",
        "This Idempotency-Key was used for a different request (method, path or body); \
         use a new key for a new request.",
    )
}

async fn read_body(req: &mut ServiceRequest) -> Result<web::Bytes, ApiError> {
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::bad_request("invalid_body", format!("Could not read the body: {error}"))
        })?;
        if body.len() + chunk.len() > MAX_KEYED_BODY {
            return Err(ApiError::payload_too_large(
                "The body is larger than any route accepts.",
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    req.set_payload(actix_web::dev::Payload::from(body.clone()));
    Ok(body)
}

fn error_response(req: ServiceRequest, error: &ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(error.error_response())
}

/// Middleware: makes keyed writes idempotent.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .headers()
        .get(&KEY_HEADER)
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    let (Some(key), true) = (key, is_write(req.method())) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if EXEMPT.contains(&req.path()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    if !valid_key(&key) {
        let error = ApiError::bad_request(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters."),
        );
        return Ok(error_response(req, &error));
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let body = match read_body(&mut req).await {
        Ok(body) => body,
        Err(error) => return Ok(error_response(req, &error)),
    };
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |pq| pq.as_str().to_owned());
    let fingerprint = fingerprint(req.method(), &path_and_query, &body);
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let ip = crate::ratelimit::client_ip(req.request(), state.config.trusted_proxy_hops)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());

    let scope_state = state.clone();
    let scope = match db::read(&state.pool, move |conn| {
        Ok(scope_of(&scope_state, conn, token.as_deref(), &ip))
    })
    .await
    {
        Ok(scope) => scope,
        Err(error) => return Ok(error_response(req, &error)),
    };
    let Some(_claim) = state.in_flight.claim(&scope, &key) else {
        return Ok(error_response(req, &in_use()));
    };

    let turn = match state.pool.writer_turn().await {
        Ok(turn) => turn,
        Err(error) => return Ok(error_response(req, &error)),
    };
    let (pool, lookup) = (
        state.pool.clone(),
        (scope.clone(), key.clone(), fingerprint.clone()),
    );
    let begun = web::block(move || -> Result<_, ApiError> {
        let transaction = RequestTransaction::begin(&pool, turn)?;
        let (scope, key, fingerprint) = lookup;
        let found = transaction.run(|conn| {
            if !lock_across_nodes(conn, &scope, &key)? {
                return Ok(None);
            }
            find(conn, &scope, &key, &fingerprint, db::now()).map(Some)
        });
        Ok((transaction, found))
    })
    .await
    .map_err(ApiError::from)
    .and_then(|result| result);
    let (transaction, found) = match begun {
        Ok((transaction, Ok(found))) => (transaction, found),
        Ok((_, Err(error))) | Err(error) => return Ok(error_response(req, &error)),
    };
    if !matches!(found, Some(Found::Nothing)) {
        let done = transaction.clone();
        if let Err(error) = web::block(move || done.rollback()).await {
            tracing::error!(%error, "could not end a keyed request's transaction");
        }
    }
    match found {
        None => return Ok(error_response(req, &in_use())),
        Some(Found::OtherRequest) => return Ok(error_response(req, &reused())),
        Some(Found::Answer(answer)) => {
            let (request, _) = req.into_parts();
            return Ok(ServiceResponse::new(request, replay(answer)));
        }
        Some(Found::Nothing) => {}
    }

    let response = transaction.clone().scope(next.call(req)).await?;
    let status = response.status();
    if !kept(status) {
        let finish = transaction.clone();
        let outcome = web::block(move || {
            if status.is_server_error() {
                finish.rollback()
            } else {
                finish.commit()
            }
        })
        .await;
        if let Err(error) = outcome.map_err(ApiError::from).and_then(|result| result) {
            tracing::error!(%error, "could not end a keyed request's transaction");
        }
        return Ok(response.map_into_boxed_body());
    }

    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = body::to_bytes(body)
        .await
        .map_err(|error| actix_web::error::ErrorInternalServerError(error.into().to_string()))?;
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = head.headers().get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect();
    let answer = Stored {
        status: status.as_u16(),
        headers,
        body: bytes.to_vec(),
    };
    let committed = web::block(move || {
        transaction.run(|conn| store(conn, &scope, &key, &fingerprint, &answer))?;
        transaction.commit()
    })
    .await
    .map_err(ApiError::from)
    .and_then(|result| result);
    if let Err(error) = committed {
        // Nothing was acknowledged: the change rolled back with the record.
        return Ok(ServiceResponse::new(request, error.error_response()));
    }
    let response = head.set_body(BoxBody::new(bytes));
    Ok(ServiceResponse::new(request, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(valid_key("3f1c2a9e-5b7d-4c1e-9a8b-0f6e2d4c7b19"));
        assert!(valid_key(&"k".repeat(MAX_KEY_LEN)));
        assert!(!valid_key(""));
        assert!(!valid_key(&"k".repeat(MAX_KEY_LEN + 1)));
        assert!(!valid_key("has space"));
        assert!(!valid_key("caf\u{e9}"));
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let a = fingerprint(&Method::POST, "/api/v1/issues", b"{}");
        assert_eq!(a, fingerprint(&Method::POST, "/api/v1/issues", b"{}"));
        assert_ne!(a, fingerprint(&Method::PATCH, "/api/v1/issues", b"{}"));
        assert_ne!(a, fingerprint(&Method::POST, "/api/v1/issues?x=1", b"{}"));
        assert_ne!(a, fingerprint(&Method::POST, "/api/v1/issues", b"{ }"));
    }

    #[test]
    fn a_taken_key_stays_taken_until_its_claim_ends() {
        let in_flight = InFlight::default();
        let first = in_flight.claim("account:a", "k");
        assert!(first.is_some());
        assert!(in_flight.claim("account:a", "k").is_none());
        assert!(
            in_flight.claim("account:a", "k").is_none(),
            "a refusal frees nothing"
        );
        assert!(
            in_flight.claim("account:b", "k").is_some(),
            "keys are per caller"
        );
        drop(first);
        assert!(in_flight.claim("account:a", "k").is_some());
    }

    #[test]
    fn only_settling_answers_are_kept() {
        assert!(kept(StatusCode::CREATED));
        assert!(kept(StatusCode::NO_CONTENT));
        assert!(kept(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(kept(StatusCode::CONFLICT));
        assert!(!kept(StatusCode::UNAUTHORIZED));
        assert!(!kept(StatusCode::TOO_MANY_REQUESTS));
        assert!(!kept(StatusCode::SERVICE_UNAVAILABLE));
    }
}

/// Property tests of the key check and the request fingerprint (issue 10, "Bad input, at
/// scale"). Bounded here; run them longer with `PROPTEST_CASES=100000 cargo test --lib proptest`.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn key_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[!-~]{0,300}",
            "[!-~]{250,260}",
            "[!-~]{0,10}[ \t\u{7f}\u{0}\u{e9}][!-~]{0,10}",
            Just(String::new()),
        ]
    }

    fn method() -> impl Strategy<Value = Method> {
        prop::sample::select(vec![
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
    }

    /// A path and query as a request line carries them (no NUL, no blanks).
    fn path_and_query() -> impl Strategy<Value = String> {
        "/[!-~]{0,60}"
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// A key is accepted exactly when it is 1 to 255 visible ASCII characters.
        #[test]
        fn proptest_keys_are_exactly_short_visible_ascii(key in key_text()) {
            let visible = key.chars().all(|c| c.is_ascii_graphic());
            let short = (1..=MAX_KEY_LEN).contains(&key.chars().count());
            prop_assert_eq!(valid_key(&key), visible && short, "{:?}", key);
            // Whatever is accepted can be sent back in a header as it is.
            if valid_key(&key) {
                prop_assert!(HeaderValue::from_str(&key).is_ok());
            }
        }

        /// Two requests share a fingerprint only when method, path and query, and body are
        /// all the same; a fingerprint is the same every time.
        #[test]
        fn proptest_fingerprints_tell_requests_apart(
            (method_a, path_a, body_a) in (method(), path_and_query(), proptest::collection::vec(any::<u8>(), 0..200)),
            (method_b, path_b, body_b) in (method(), path_and_query(), proptest::collection::vec(any::<u8>(), 0..200)),
            flip in any::<prop::sample::Index>(),
            bit in 0_u8..8,
        ) {
            let a = fingerprint(&method_a, &path_a, &body_a);
            prop_assert_eq!(&a, &fingerprint(&method_a, &path_a, &body_a));
            let same = method_a == method_b && path_a == path_b && body_a == body_b;
            prop_assert_eq!(a == fingerprint(&method_b, &path_b, &body_b), same);
            // One bit of the body changed, or a byte moved from the path to the body.
            if !body_a.is_empty() {
                let mut changed = body_a.clone();
                changed[flip.index(body_a.len())] ^= 1 << bit;
                prop_assert_ne!(&a, &fingerprint(&method_a, &path_a, &changed));
            }
            if path_a.len() > 1 {
                let (head, tail) = path_a.split_at(path_a.len() - 1);
                let mut moved = tail.as_bytes().to_vec();
                moved.extend_from_slice(&body_a);
                prop_assert_ne!(&a, &fingerprint(&method_a, head, &moved));
            }
            // A body that grew by trailing bytes is a different request.
            let mut longer = body_a.clone();
            longer.push(0);
            prop_assert_ne!(&a, &fingerprint(&method_a, &path_a, &longer));
        }
    }
}
