//! The one error type of the API and its RFC 9457 `application/problem+json` rendering.
//!
//! Handlers return `Result<_, ApiError>`. Each error carries a stable machine `code`;
//! internal causes are logged (with the request id, through the request span) and never
//! sent to the client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The request field, as named in the request body or query (`email`, `password`…).
    pub field: String,
    /// A stable machine code (`too_short`, `invalid_format`, `common_password`…).
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// Collects the invalid fields of a request while it is parsed, so one 422 names every
/// one of them instead of only the first.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// The parsed value, or `None` with its error recorded.
    pub fn check<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        parsed.map_err(|error| self.0.push(error)).ok()
    }

    /// Parses a field that may be absent: `None` when absent or invalid (recorded).
    pub fn optional<R, T>(
        &mut self,
        raw: Option<R>,
        parse: impl FnOnce(R) -> Result<T, FieldError>,
    ) -> Option<T> {
        raw.and_then(|raw| self.check(parse(raw)))
    }
}

impl std::ops::Deref for FieldErrors {
    type Target = Vec<FieldError>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for FieldErrors {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl From<FieldErrors> for Vec<FieldError> {
    fn from(errors: FieldErrors) -> Self {
        errors.0
    }
}

/// An RFC 9457 problem details body, as every error response carries it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDetails {
    /// A URI naming the problem type: `urn:civitas:problem:<code>`.
    #[serde(rename = "type")]
    #[schema(example = "urn:civitas:problem:validation_failed")]
    pub problem_type: String,
    /// A short summary of the problem type.
    #[schema(example = "Validation failed")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// A stable machine code clients can branch on.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// Per-field errors, present for validation failures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

macro_rules! problem_responses {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(utoipa::ToResponse)]
        #[response(content_type = "application/problem+json")]
        pub struct $name(
            #[expect(dead_code, reason = "only its schema is used, by the OpenAPI document")]
            ProblemDetails,
        );
    )*};
}

problem_responses! {
    /// The request is malformed: unreadable JSON, a bad query or header.
    BadRequest;
    /// No credentials, or credentials that are not valid (see `WWW-Authenticate`).
    Unauthorized;
    /// Authenticated, but not allowed to do this.
    Forbidden;
    /// No such resource, or not the caller's to see.
    NotFound;
    /// The request conflicts with the resource's current state.
    Conflict;
    /// `If-Match` names a version that is no longer current: read it again, then retry.
    PreconditionFailed;
    /// The body is too large.
    PayloadTooLarge;
    /// The body is not of a media type this route accepts.
    UnsupportedMediaType;
    /// The body is well-formed, but some fields are invalid: see `errors`.
    ValidationFailed;
    /// Too many requests: wait the number of seconds in `Retry-After`.
    TooManyRequests;
    /// Overloaded, or the database is unreachable: retry after `Retry-After` seconds.
    ServiceUnavailable;
}

/// An error answered to the client as problem+json.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
    allowed_next: Option<Vec<String>>,
    cause: Option<anyhow::Error>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            allowed_next: None,
            cause: None,
        }
    }

    /// 400: the request could not be understood.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401: no credentials, or credentials that are not valid.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    /// 404: missing, or not the caller's to see.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 405: the path is a route's, the method is not one it serves (the caller adds
    /// `Allow`).
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", detail)
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 412: `If-Match` names a version that is no longer current.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            detail,
        )
    }

    /// 413: the body is larger than the route accepts.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", detail)
    }

    /// 415: the body is not of a media type the route accepts.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        )
    }

    /// 422 for a request that is well-formed but cannot be processed as sent (not a
    /// field's fault).
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// Asks the client to wait `seconds` before retrying (`Retry-After`).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 422: well-formed, but some fields are invalid.
    pub fn validation(errors: impl Into<Vec<FieldError>>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "One or more fields are invalid; see `errors`.",
        );
        error.errors = errors.into();
        error
    }

    /// 422 for a single field.
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, code, message)])
    }

    /// 429: slow down; try again after `retry_after` seconds.
    pub fn too_many_requests(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", detail);
        error.retry_after = Some(retry_after.max(1));
        error
    }

    /// 503: overloaded or a dependency is down; try again after `retry_after` seconds.
    pub fn unavailable(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail);
        error.retry_after = Some(retry_after.max(1));
        error
    }

    /// 500: something failed on our side. The cause is logged, never sent. A cause that
    /// is a momentary database failure (see [`is_transient`]), however deep in the chain,
    /// is a 503 instead: the same request can succeed moments later.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let cause = cause.into();
        let transient = cause.chain().find_map(|inner| {
            inner
                .downcast_ref::<diesel::result::Error>()
                .filter(|error| is_transient(error))
        });
        if let Some(error) = transient {
            return Self::database_unavailable(error);
        }
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. It has been logged.",
        );
        error.cause = Some(cause);
        error
    }

    /// Adds the states a refused transition could have gone to (409 on the lifecycle).
    pub fn with_allowed(mut self, allowed: Vec<String>) -> Self {
        self.allowed_next = Some(allowed);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    pub fn problem(&self) -> ProblemDetails {
        ProblemDetails {
            problem_type: format!("urn:civitas:problem:{}", self.code),
            title: self.title().to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            errors: self.errors.clone(),
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("detail", &self.detail)
            .field("cause", &self.cause)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            tracing::error!(error = ?cause, code = self.code, "request failed");
        }
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"civitas\""),
            ));
        }
        let mut body = match serde_json::to_value(self.problem()) {
            Ok(body) => body,
            Err(_) => serde_json::Value::Null,
        };
        if let (Some(allowed), Some(object)) = (&self.allowed_next, body.as_object_mut()) {
            object.insert("allowed".into(), serde_json::json!(allowed));
        }
        response.body(body.to_string())
    }
}

/// Whether a database error is momentary, so that the same request can succeed moments
/// later: SQLite's write lock still held by another writer (or process) when the busy
/// timeout ran out (`SQLITE_BUSY`, `SQLITE_LOCKED`, which diesel reports as `Unknown`
/// with SQLite's message), or a PostgreSQL connection lost under the query (server
/// restarting, network cut). The pool discards the broken connection.
pub fn is_transient(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let message = info.message();
            message.starts_with("database is locked")
                || message.starts_with("database table is locked")
        }
        _ => false,
    }
}

impl ApiError {
    /// 503 for a momentary database failure: logged with its cause, retried by the client.
    fn database_unavailable(error: &diesel::result::Error) -> Self {
        tracing::warn!(%error, "database busy or connection lost");
        Self::database_busy()
    }

    /// 503 for a database that is busy or was briefly unreachable (the cause is logged
    /// where it is known).
    pub(crate) fn database_busy() -> Self {
        Self::unavailable(
            "The database is busy or was briefly unreachable; try again shortly.",
            1,
        )
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            ref transient if is_transient(transient) => Self::database_unavailable(transient),
            Error::NotFound => Self::not_found("No such resource."),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                Self::conflict("conflict", "That already exists.")
            }
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_reference",
                "The request refers to something that does not exist.",
            ),
            other => Self::internal(other),
        }
    }
}

impl From<crate::db::PoolError> for ApiError {
    fn from(error: crate::db::PoolError) -> Self {
        tracing::warn!(%error, "database pool exhausted or unreachable");
        Self::unavailable(
            "The service is busy or its database is unreachable; try again shortly.",
            1,
        )
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        Self::internal(anyhow::anyhow!("blocking task failed: {error}"))
    }
}

impl From<actix_web::error::JsonPayloadError> for ApiError {
    fn from(error: actix_web::error::JsonPayloadError) -> Self {
        use actix_web::error::JsonPayloadError as E;
        match &error {
            E::OverflowKnownLength { limit, .. } | E::Overflow { limit } => {
                Self::payload_too_large(format!("The JSON body is larger than {limit} bytes."))
            }
            E::ContentType => Self::unsupported_media_type(
                "This route takes a JSON body: send `Content-Type: application/json`.",
            ),
            E::Deserialize(inner) if inner.is_data() => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                inner.to_string(),
            ),
            E::Deserialize(inner) => Self::bad_request(
                "malformed_json",
                format!("The JSON body is malformed: {inner}"),
            ),
            _ => Self::bad_request("malformed_body", "The request body could not be read."),
        }
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

/// `JsonConfig::error_handler` and friends want `actix_web::Error`.
pub fn json_error_handler(
    error: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::from(error).into()
}

pub fn query_error_handler(
    error: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::bad_request("invalid_query", format!("Invalid query string: {error}")).into()
}

pub fn path_error_handler(
    error: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::not_found(format!("No such resource: {error}")).into()
}

pub fn form_error_handler(
    error: actix_web::error::UrlencodedError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::UrlencodedError as E;
    match error {
        E::Overflow { .. } => ApiError::payload_too_large("The form body is too large.").into(),
        E::ContentType => ApiError::unsupported_media_type(
            "This route takes `application/x-www-form-urlencoded`.",
        )
        .into(),
        other => {
            ApiError::bad_request("malformed_form", format!("Invalid form body: {other}")).into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::result::{DatabaseErrorKind, Error};
    use diesel::{Connection, SqliteConnection};

    fn assert_unavailable(error: ApiError) {
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE, "{error:?}");
        assert_eq!(error.code(), "unavailable");
        let response = error.error_response();
        let headers = response.headers();
        assert_eq!(headers.get(header::RETRY_AFTER).unwrap(), "1");
        assert_eq!(headers.get(header::CONTENT_TYPE).unwrap(), PROBLEM_JSON);
    }

    #[test]
    fn a_sqlite_writer_that_times_out_on_the_lock_is_a_503_not_a_500() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.db").display().to_string();
        let mut holder = SqliteConnection::establish(&path).unwrap();
        holder
            .batch_execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER)")
            .unwrap();
        holder.batch_execute("BEGIN IMMEDIATE").unwrap();
        let mut waiter = SqliteConnection::establish(&path).unwrap();
        waiter.batch_execute("PRAGMA busy_timeout = 50").unwrap();
        // Both ways a writer meets the lock: taking it up front, and writing outright.
        for statement in ["BEGIN IMMEDIATE", "INSERT INTO t VALUES (1)"] {
            let error = waiter.batch_execute(statement).unwrap_err();
            assert!(is_transient(&error), "{statement}: {error:?}");
            assert_unavailable(ApiError::from(error));
        }
        holder.batch_execute("COMMIT").unwrap();
        waiter.batch_execute("INSERT INTO t VALUES (1)").unwrap();
    }

    #[test]
    fn a_lost_connection_is_a_503_even_behind_anyhow() {
        for kind in [
            DatabaseErrorKind::ClosedConnection,
            DatabaseErrorKind::UnableToSendCommand,
        ] {
            let lost =
                || Error::DatabaseError(kind, Box::new("server closed the connection".to_owned()));
            assert_unavailable(ApiError::from(lost()));
            let wrapped = anyhow::Error::from(lost()).context("loading the signing keys");
            assert_unavailable(ApiError::internal(wrapped));
        }
    }

    #[test]
    fn other_database_errors_stay_500() {
        for message in ["no such table: t", "syntax error", "disk I/O error"] {
            let error =
                Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new(message.to_owned()));
            assert!(!is_transient(&error), "{message}");
            assert_eq!(
                ApiError::from(error).status(),
                StatusCode::INTERNAL_SERVER_ERROR
            );
        }
        assert_eq!(
            ApiError::internal(anyhow::anyhow!("database is locked")).status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "only a database error is judged by its message"
        );
    }
}
