//! Open311 errors: an HTTP status (404 unknown resource, 405 a method the resource does
//! not serve, 403 bad key, 400 anything else)
//! and a list of `{code, description}`, one per problem, in the format the client asked
//! for. Never the REST API's problem+json.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use super::format::Format;
use super::views::ErrorItem;
use crate::error::ApiError;

/// What an internal failure tells the client; the cause goes to the log.
const INTERNAL_MESSAGE: &str = "Something went wrong on our side. It has been logged.";

/// An Open311 error answer.
pub struct Open311Error {
    status: StatusCode,
    format: Format,
    problems: Vec<String>,
    cause: Option<anyhow::Error>,
}

/// Shorthand for the results of the Open311 routes' inner steps.
pub type Open311Result<T> = Result<T, Open311Error>;

impl Open311Error {
    fn new(status: StatusCode, problems: Vec<String>) -> Self {
        Self {
            status,
            format: Format::Xml,
            problems,
            cause: None,
        }
    }

    /// 400, one entry per problem.
    pub fn bad_request(problems: Vec<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, problems)
    }

    /// 400 for one problem.
    pub fn invalid(problem: impl Into<String>) -> Self {
        Self::bad_request(vec![problem.into()])
    }

    /// 403: no usable `api_key`.
    pub fn forbidden(problem: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, vec![problem.into()])
    }

    /// 404: no such resource, service, request, token or jurisdiction.
    pub fn not_found(problem: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, vec![problem.into()])
    }

    /// 405: the path is an Open311 resource's, the method is not one it serves (the
    /// caller adds `Allow`).
    pub fn method_not_allowed(problem: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, vec![problem.into()])
    }

    /// 500: the cause is logged, never sent.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            vec![INTERNAL_MESSAGE.to_owned()],
        );
        error.cause = Some(cause.into());
        error
    }

    /// The same error, answered in `format`.
    pub fn in_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The descriptions of the problems.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    fn items(&self) -> Vec<ErrorItem> {
        self.problems
            .iter()
            .map(|problem| ErrorItem {
                code: self.status.as_u16(),
                description: problem.clone(),
            })
            .collect()
    }
}

impl From<ApiError> for Open311Error {
    /// The REST API's errors, as Open311 states them: 403 and 404 stay, 5xx keep their
    /// status (and their cause goes to the log), every other client error is a 400. Field
    /// errors become one problem each, `field: message`.
    fn from(error: ApiError) -> Self {
        let status = error.status();
        if status.is_server_error() {
            tracing::error!(error = ?error, "Open311 request failed");
            let problem = if status == StatusCode::SERVICE_UNAVAILABLE {
                error.problem().detail
            } else {
                INTERNAL_MESSAGE.to_owned()
            };
            return Self::new(status, vec![problem]);
        }
        let status = match status {
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => status,
            _ => StatusCode::BAD_REQUEST,
        };
        let problem = error.problem();
        let problems = if problem.errors.is_empty() {
            vec![problem.detail]
        } else {
            problem
                .errors
                .into_iter()
                .map(|field| format!("{}: {}", field.field, field.message))
                .collect()
        };
        Self::new(status, problems)
    }
}

impl From<diesel::result::Error> for Open311Error {
    fn from(error: diesel::result::Error) -> Self {
        ApiError::from(error).into()
    }
}

impl fmt::Debug for Open311Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Open311Error")
            .field("status", &self.status)
            .field("format", &self.format)
            .field("problems", &self.problems)
            .field("cause", &self.cause)
            .finish()
    }
}

impl fmt::Display for Open311Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.problems.join("; "))
    }
}

impl ResponseError for Open311Error {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            tracing::error!(error = ?cause, "Open311 request failed");
        }
        self.format.render(self.status, "errors", &self.items())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_errors_become_open311_statuses_with_one_problem_per_field() {
        let error = Open311Error::from(ApiError::validation(vec![
            crate::error::FieldError::new("answers.size", "required", "Answer it."),
            crate::error::FieldError::new("answers.depth", "invalid_number", "A number."),
        ]));
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            error.problems(),
            ["answers.size: Answer it.", "answers.depth: A number."]
        );
        let error = Open311Error::from(ApiError::not_found("No such issue."));
        assert_eq!(error.status(), StatusCode::NOT_FOUND);
        assert_eq!(error.problems(), ["No such issue."]);
        let error = Open311Error::from(ApiError::conflict("c", "Busy."));
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }
}
