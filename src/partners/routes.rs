//! Partner routes: the OAuth 2 token endpoint (client credentials grant) and client
//! management for admins.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use utoipa_actix_web::service_config::ServiceConfig;

use super::Scope;
use super::models::{self, ClientChanges, ClientRow};
use super::views::{
    ClientView, ClientWithSecret, CreateClientRequest, OAuthError, TokenRequest, TokenResponse,
    UpdateClientRequest, checked_scopes, client_name,
};
use crate::audit::{Entry, Trail};
use crate::auth::tokens::{PARTNER_TOKEN_TTL_SECS, issue_partner_token};
use crate::auth::{AdminOnly, RoleGuard};
use crate::db;
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::pagination::{Page, PageQuery};
use crate::startup::AppState;

/// Registers the partner routes (under `/api/v1`).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_token)
        .service(list_clients)
        .service(create_client)
        .service(get_client)
        .service(update_client)
        .service(rotate_client_secret);
}

/// An OAuth 2 error answer (RFC 6749 §5.2): never cached.
fn oauth_error(error: &'static str, description: &str) -> HttpResponse {
    let mut response = if error == "invalid_client" {
        let mut response = HttpResponse::Unauthorized();
        response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"civitas\""));
        response
    } else {
        HttpResponse::BadRequest()
    };
    response
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(OAuthError {
            error,
            error_description: description.to_owned(),
        })
}

/// Decodes one `application/x-www-form-urlencoded` component (RFC 6749 §2.3.1 encodes
/// the Basic credentials this way).
fn form_decoded(raw: &str) -> String {
    url::form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// The `client_id` and `client_secret` of an `Authorization: Basic` header; `Err` when
/// the header is there but malformed.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, ()> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let (scheme, encoded) = value.split_once(' ').ok_or(())?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 1024 {
        return Err(());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| ())?;
    let decoded = String::from_utf8(decoded).map_err(|_| ())?;
    let (id, secret) = decoded.split_once(':').ok_or(())?;
    Ok(Some((form_decoded(id), form_decoded(secret))))
}

/// The token request from a form or JSON body; `None` when it cannot be read.
fn token_request(req: &HttpRequest, body: &[u8]) -> Option<TokenRequest> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        return serde_json::from_slice(body).ok();
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return None;
    }
    let mut request = TokenRequest::default();
    for (key, value) in url::form_urlencoded::parse(body) {
        let value = Some(value.into_owned()).filter(|v| !v.is_empty());
        match key.as_ref() {
            "grant_type" => request.grant_type = value,
            "client_id" => request.client_id = value,
            "client_secret" => request.client_secret = value,
            "scope" => request.scope = value,
            _ => {}
        }
    }
    Some(request)
}

/// Get an access token for a partner client (OAuth 2 client credentials, RFC 6749 §4.4).
///
/// Send `grant_type=client_credentials` as a form (or JSON) and authenticate with HTTP
/// Basic (`client_id:client_secret`) or with `client_id` and `client_secret` in the body.
/// `scope` (space-separated) narrows the grant; by default the token carries every scope
/// the client holds. The token is an EdDSA JWT (`typ` `partner+jwt`, 15 minutes) signed
/// with the keys of `/.well-known/jwks.json`. Errors use RFC 6749's JSON format:
/// `invalid_request`, `unsupported_grant_type`, `invalid_scope` (400) and
/// `invalid_client` (401). The body may be at most 256 KiB (262 144 bytes, a plain-text
/// `413` beyond), an `Authorization: Basic` value at most 1024 characters.
#[utoipa::path(
    tag = "Partners",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token", body = TokenResponse),
        (status = 400, description = "`invalid_request`, `unsupported_grant_type` or `invalid_scope`", body = OAuthError),
        (status = 401, description = "`invalid_client`: unknown, wrong or disabled credentials", body = OAuthError),
        (status = 413, description = "The body is larger than 256 KiB (a plain-text answer)"),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/oauth/token")]
pub async fn create_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let Some(request) = token_request(&req, &body) else {
        return Ok(oauth_error(
            "invalid_request",
            "Send the request as application/x-www-form-urlencoded (or JSON).",
        ));
    };
    let basic = match basic_credentials(&req) {
        Ok(basic) => basic,
        Err(()) => {
            return Ok(oauth_error(
                "invalid_client",
                "Malformed Authorization header.",
            ));
        }
    };
    match request.grant_type.as_deref() {
        None => return Ok(oauth_error("invalid_request", "`grant_type` is required.")),
        Some("client_credentials") => {}
        Some(_) => {
            return Ok(oauth_error(
                "unsupported_grant_type",
                "Only `client_credentials` is supported.",
            ));
        }
    }
    let body_credentials = request.client_id.is_some() || request.client_secret.is_some();
    let (client_id, secret) = match (basic, request.client_id, request.client_secret) {
        (Some(_), _, _) if body_credentials => {
            return Ok(oauth_error(
                "invalid_request",
                "Authenticate with HTTP Basic or with body fields, not both.",
            ));
        }
        (Some((id, secret)), _, _) | (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return Ok(oauth_error(
                "invalid_client",
                "Send the client id and secret (HTTP Basic or `client_id` and `client_secret`).",
            ));
        }
    };
    let wanted = match request.scope.as_deref().map(Scope::parse_list) {
        None => None,
        Some(Ok(scopes)) if !scopes.is_empty() => Some(scopes),
        Some(Ok(_)) => None,
        Some(Err(unknown)) => {
            return Ok(oauth_error(
                "invalid_scope",
                &format!("No scope {unknown:?}."),
            ));
        }
    };
    let app = state.clone();
    let answer = db::read(&state.pool, move |conn| {
        let client = models::find_by_secret(conn, &secret)?
            .filter(|client| client.id == client_id && client.is_active());
        let Some(client) = client else {
            return Ok(Err((
                "invalid_client",
                "Unknown client or wrong secret.".to_owned(),
            )));
        };
        let granted = client.scopes();
        let scopes = wanted.unwrap_or_else(|| granted.clone());
        if let Some(refused) = scopes.iter().find(|scope| !granted.contains(scope)) {
            return Ok(Err((
                "invalid_scope",
                format!("This client does not hold `{}`.", refused.as_str()),
            )));
        }
        let scope = Scope::join(&scopes);
        let token =
            issue_partner_token(&app.keys, conn, &app.config.public_url, &client.id, &scope)?;
        Ok(Ok(TokenResponse {
            access_token: token,
            token_type: "Bearer",
            expires_in: PARTNER_TOKEN_TTL_SECS,
            scope,
        }))
    })
    .await?;
    Ok(match answer {
        Ok(token) => HttpResponse::Ok()
            .insert_header(CacheControl(vec![CacheDirective::NoStore]))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(token),
        Err((error, description)) => oauth_error(error, &description),
    })
}

/// A client as the audit log keeps it: its public view (never the secret or its hash).
fn snapshot(row: ClientRow) -> serde_json::Value {
    serde_json::to_value(ClientView::from(row)).unwrap_or_default()
}

fn client_not_found(error: diesel::result::Error) -> ApiError {
    match error {
        diesel::result::Error::NotFound => ApiError::not_found("No such client."),
        other => other.into(),
    }
}

/// Partner clients, oldest first. Admins only.
#[utoipa::path(
    tag = "Partners",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of clients", body = Page<ClientView>),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/clients")]
pub async fn list_clients(
    state: web::Data<AppState>,
    _admin: RoleGuard<AdminOnly>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<ClientView>>> {
    let limit = page.limit()?;
    let after: Option<String> = page.after()?;
    let rows = db::read(&state.pool, move |conn| {
        Ok(models::list_clients(conn, after.as_deref(), limit + 1)?)
    })
    .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row: &ClientRow| row.id.clone(),
        ClientView::from,
    )))
}

/// Create a partner client. Admins only. The answer carries the secret, shown this once.
#[utoipa::path(
    tag = "Partners",
    security(("bearer" = [])),
    request_body = CreateClientRequest,
    responses(
        (status = 201, description = "Created; keep the secret now", body = ClientWithSecret,
            headers(("Location" = String, description = "The client"))),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/clients")]
pub async fn create_client(
    state: web::Data<AppState>,
    admin: RoleGuard<AdminOnly>,
    trail: Trail,
    body: web::Json<CreateClientRequest>,
) -> ApiResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    let name = errors.check(
        client_name(&body.name)
            .map_err(|message| FieldError::new("name", "invalid_length", message)),
    );
    let scopes = errors.check(checked_scopes("scopes", &body.scopes));
    let (Some(name), Some(scopes)) = (name, scopes) else {
        return Err(ApiError::validation(errors));
    };
    let (row, secret) = models::new_client(name, &scopes, db::now());
    let insert = row.clone();
    db::write(&state.pool, move |conn| {
        models::insert_client(conn, &insert)?;
        trail.record(
            conn,
            &admin.0,
            Entry {
                action: "client.created",
                target_type: "client",
                target_id: &insert.id,
                before: None,
                after: Some(snapshot(insert.clone())),
                reason: None,
            },
        )?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/clients/{}", row.id)))
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(ClientWithSecret {
            client: row.into(),
            client_secret: secret,
        }))
}

/// One partner client. Admins only.
#[utoipa::path(
    tag = "Partners",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The client id")),
    responses(
        (status = 200, description = "The client", body = ClientView),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[get("/clients/{id}")]
pub async fn get_client(
    state: web::Data<AppState>,
    _admin: RoleGuard<AdminOnly>,
    id: web::Path<String>,
) -> ApiResult<web::Json<ClientView>> {
    let id = id.into_inner();
    let row = db::read(&state.pool, move |conn| {
        models::find_client(conn, &id).map_err(client_not_found)
    })
    .await?;
    Ok(web::Json(row.into()))
}

/// Rename a partner client, change its scopes, or disable (and re-enable) it. Admins
/// only. Disabling stops its secret and its access tokens at once.
#[utoipa::path(
    tag = "Partners",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The client id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the client as last read; `412` if it changed since"),
    ),
    request_body = UpdateClientRequest,
    responses(
        (status = 200, description = "The client", body = ClientView),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 412, response = crate::error::PreconditionFailed),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[patch("/clients/{id}")]
pub async fn update_client(
    state: web::Data<AppState>,
    admin: RoleGuard<AdminOnly>,
    trail: Trail,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Json<UpdateClientRequest>,
) -> ApiResult<web::Json<ClientView>> {
    let (name, scopes) = body.checked().map_err(ApiError::validation)?;
    let id = id.into_inner();
    let disabled = body.disabled;
    let if_match = crate::conditional::if_match(&req);
    let row = db::write(&state.pool, move |conn| {
        let current = models::find_client(conn, &id).map_err(client_not_found)?;
        crate::conditional::check_if_match(
            if_match.as_deref(),
            &ClientView::from(current.clone()),
        )?;
        let disabled_at = match (disabled, current.disabled_at) {
            (Some(true), None) => Some(Some(db::now())),
            (Some(false), Some(_)) => Some(None),
            _ => None,
        };
        let changes = ClientChanges {
            name,
            scopes: scopes.map(|scopes| Scope::join(&scopes)),
            disabled_at,
        };
        models::update_client(conn, &id, &changes).map_err(client_not_found)?;
        let updated = models::find_client(conn, &id).map_err(client_not_found)?;
        trail.record(
            conn,
            &admin.0,
            Entry {
                action: "client.updated",
                target_type: "client",
                target_id: &id,
                before: Some(snapshot(current)),
                after: Some(snapshot(updated.clone())),
                reason: None,
            },
        )?;
        Ok(updated)
    })
    .await?;
    Ok(web::Json(row.into()))
}

/// Replace a partner client's secret. Admins only. The old secret stops working at once
/// (access tokens already issued run out within 15 minutes); the answer carries the new
/// secret, shown this once.
#[utoipa::path(
    tag = "Partners",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The client id")),
    responses(
        (status = 200, description = "The new secret", body = ClientWithSecret),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    )
)]
#[post("/clients/{id}/secret")]
pub async fn rotate_client_secret(
    state: web::Data<AppState>,
    admin: RoleGuard<AdminOnly>,
    trail: Trail,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (row, secret) = db::write(&state.pool, move |conn| {
        let secret = models::rotate_secret(conn, &id, db::now()).map_err(client_not_found)?;
        // The audit tells that the secret changed and when, never the secret.
        trail.record(
            conn,
            &admin.0,
            Entry {
                action: "client.secret_rotated",
                target_type: "client",
                target_id: &id,
                before: None,
                after: None,
                reason: None,
            },
        )?;
        Ok((models::find_client(conn, &id)?, secret))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(ClientWithSecret {
            client: row.into(),
            client_secret: secret,
        }))
}
