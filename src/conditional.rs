//! Conditional requests (RFC 9110 §13): every successful `GET` of a JSON or XML resource
//! carries a strong `ETag` computed from the exact body, and `If-None-Match` with a
//! matching tag answers `304 Not Modified` without the body. `PATCH` routes check
//! `If-Match` against the same tag of the current representation with [`check_if_match`]
//! and answer `412` when it is stale, so two devices editing one thing cannot overwrite
//! each other's change unseen.

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The strong entity tag of a body: a quoted, truncated SHA-256.
pub fn entity_tag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..18]))
}

/// Whether a header listing entity tags (`If-None-Match`, `If-Match`) names `tag` or is
/// `*`. Weak tags (`W/"…"`) never match a strong comparison.
fn lists(value: &str, tag: &str) -> bool {
    value
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate == tag)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Whether a response is a representation worth tagging: a 200 answer to `GET` in JSON
/// or XML that carries no tag of its own (photos tag themselves).
fn taggable(method: &Method, response: &HttpResponse<impl MessageBody>) -> bool {
    let content_type = header_str(response.headers(), &header::CONTENT_TYPE).unwrap_or_default();
    *method == Method::GET
        && response.status() == StatusCode::OK
        && !response.headers().contains_key(header::ETAG)
        && (content_type.starts_with("application/json") || content_type.starts_with("text/xml"))
}

/// Middleware: tags reads and answers `If-None-Match` with `304`.
pub async fn conditional_get(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let method = req.method().clone();
    let if_none_match = header_str(req.headers(), &header::IF_NONE_MATCH).map(str::to_owned);
    let response = next.call(req).await?;
    if !taggable(&method, response.response()) {
        return Ok(response.map_into_boxed_body());
    }
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = body::to_bytes(body)
        .await
        .map_err(|error| actix_web::error::ErrorInternalServerError(error.into().to_string()))?;
    let tag = entity_tag(&bytes);
    let tag_value =
        HeaderValue::from_str(&tag).map_err(actix_web::error::ErrorInternalServerError)?;
    if if_none_match.is_some_and(|value| lists(&value, &tag)) {
        let mut not_modified = HttpResponse::NotModified();
        for name in [header::CACHE_CONTROL, header::VARY] {
            if let Some(value) = head.headers().get(&name) {
                not_modified.insert_header((name, value.clone()));
            }
        }
        not_modified.insert_header((header::ETAG, tag_value));
        return Ok(ServiceResponse::new(request, not_modified.finish()));
    }
    let mut response = head.set_body(BoxBody::new(bytes));
    response.headers_mut().insert(header::ETAG, tag_value);
    Ok(ServiceResponse::new(request, response))
}

/// `412 Precondition Failed` unless the request's `If-Match` (when it sends one) names
/// the tag of `current`, the representation a `GET` would answer now.
pub fn check_if_match<T: serde::Serialize>(
    if_match: Option<&str>,
    current: &T,
) -> Result<(), ApiError> {
    let Some(if_match) = if_match else {
        return Ok(());
    };
    let body = serde_json::to_vec(current).map_err(ApiError::internal)?;
    if lists(if_match, &entity_tag(&body)) {
        Ok(())
    } else {
        Err(ApiError::precondition_failed(
            "This changed since you read it: fetch it again, then retry your change.",
        ))
    }
}

/// The `If-Match` header of a request, if it has one.
pub fn if_match(req: &HttpRequest) -> Option<String> {
    header_str(req.headers(), &header::IF_MATCH).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_strong_stable_and_listed_or_starred() {
        let tag = entity_tag(b"{\"a\":1}");
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_eq!(tag, entity_tag(b"{\"a\":1}"));
        assert_ne!(tag, entity_tag(b"{\"a\":2}"));
        assert!(lists(&format!("\"x\", {tag}"), &tag));
        assert!(lists("*", &tag));
        assert!(!lists(&format!("W/{tag}"), &tag));
        assert!(check_if_match(Some("\"stale\""), &serde_json::json!({"a": 1})).is_err());
        let current = serde_json::json!({"a": 1});
        let fresh = entity_tag(&serde_json::to_vec(&current).unwrap_or_default());
        assert!(check_if_match(Some(&fresh), &current).is_ok());
        assert!(check_if_match(None, &current).is_ok());
    }
}
