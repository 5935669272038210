//! Every JSON request body of the API is an object. serde's derived `Deserialize` also
//! reads a struct from an array of its fields in order (`[null, null]` as
//! `{"display_name": null, "notification_preferences": null}`), so without this check a
//! body the schema forbids would be acted on. This middleware answers `422 invalid_body`
//! to a well-formed JSON body that is not an object, before any handler sees it.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use futures_util::StreamExt;

use crate::error::ApiError;
use crate::startup::MAX_JSON_BODY;

/// `/oauth/token` reads its body itself (RFC 6749 form, or JSON) and answers errors in
/// RFC 6749's format, not problem+json.
const OWN_BODY_PARSING: [&str; 1] = ["/api/v1/oauth/token"];

fn takes_json(req: &ServiceRequest) -> bool {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            let media = media.trim().to_ascii_lowercase();
            media == "application/json" || media.ends_with("+json")
        });
    json && req.path().starts_with("/api/v1/") && !OWN_BODY_PARSING.contains(&req.path())
}

/// Whether `body` is well-formed JSON whose top-level value is not an object. Malformed
/// bodies are left to the JSON extractor, which answers `400 malformed_json`.
pub fn is_json_but_not_an_object(body: &[u8]) -> bool {
    match body.iter().find(|byte| !byte.is_ascii_whitespace()) {
        None | Some(b'{') => false,
        Some(_) => serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok(),
    }
}

/// Middleware: `422` for a JSON body that is not an object.
pub async fn require_object(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !takes_json(&req) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            let error =
                ApiError::bad_request("malformed_body", "The request body could not be read.");
            return Ok(req.into_response(error.error_response()));
        };
        if body.len() + chunk.len() > MAX_JSON_BODY {
            let error = ApiError::payload_too_large(format!(
                "The JSON body is larger than {MAX_JSON_BODY} bytes."
            ));
            return Ok(req.into_response(error.error_response()));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    if is_json_but_not_an_object(&body) {
        let error = ApiError::unprocessable(
            "invalid_body",
            "The JSON body must be an object, as the route's schema describes.",
        );
        return Ok(req.into_response(error.error_response()));
    }
    req.set_payload(actix_web::dev::Payload::from(body));
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::is_json_but_not_an_object;

    #[test]
    fn only_well_formed_non_objects_are_refused() {
        for refused in [
            &b"[null, null]"[..],
            b" []",
            b"null",
            b"1",
            b"\"x\"",
            b"true",
        ] {
            assert!(is_json_but_not_an_object(refused), "{refused:?}");
        }
        for passed in [
            &b"{}"[..],
            b" {\"a\": 1}",
            b"",
            b"   ",
            b"[1,",
            b"nul",
            b"{broken",
        ] {
            assert!(!is_json_but_not_an_object(passed), "{passed:?}");
        }
    }
}
