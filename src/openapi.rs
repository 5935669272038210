//! The OpenAPI document, built from the same route configuration the server mounts, so
//! it cannot list a route that is not served or miss one that is.

use actix_web::App;
use utoipa::openapi::security::{
    ClientCredentials, Flow, Http, HttpAuthScheme, OAuth2, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{
    BadRequest, Conflict, FieldError, Forbidden, NotFound, PayloadTooLarge, PreconditionFailed,
    ProblemDetails, ServiceUnavailable, TooManyRequests, Unauthorized, UnsupportedMediaType,
    ValidationFailed,
};
use crate::ratelimit::RateLimitDocs;
use crate::{
    accounts, auth, categories, groups, health, issues, metrics, notifications, open311,
    opportunities, partners, photos, pledges, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Civitas API",
        description = "The backend for citizen-participation apps: residents report local \
problems, rally neighbours and community groups to fix them, pledge help, and escalate to the \
council when the community cannot solve them.\n\n\
Conventions: JSON in and out, snake_case keys, RFC 3339 UTC times, opaque string ids. Errors \
are RFC 9457 `application/problem+json` with a stable `code`. Lists take `limit` (1–100, \
default 20) and an opaque `cursor`, and answer `{items, next_cursor}`. Every response carries \
`x-request-id` (echoed when the request sent one). Successful reads carry a strong \
`ETag`; send it back in `If-None-Match` to get `304 Not Modified`, or in `If-Match` on any \
`PATCH` to get `412` instead of overwriting a change made since you read. Every `POST`, \
`PUT`, `PATCH` and `DELETE` accepts an `Idempotency-Key` (1–255 visible ASCII characters, \
kept 24 hours per caller): a retry with the same key and request gets the first answer \
again with `Idempotent-Replayed: true`, the same key on a different request is `422`, and \
a retry while the first is still running is `409` with `Retry-After` (sign-in, refresh and \
token exchanges ignore the key: they are safe to repeat). Answers are compressed when \
`Accept-Encoding` asks (gzip, br).\n\n\
Rate limits: every request counts against a limit per client address (without a valid bearer \
token) or per account or partner client (with one); sign-up, sign-in, password reset and \
token requests (per address), new reports, comments and pledges (per caller) count against \
stricter limits as well. Counted answers carry `RateLimit-Limit`, `RateLimit-Remaining`, \
`RateLimit-Reset` (seconds until the whole quota is back) and `RateLimit-Policy` \
(`requests;w=window seconds`) for the limit closest to being reached; over a limit the \
answer is `429` `too_many_requests` with `Retry-After` in seconds. The limits are set by the \
operator (`CIVITAS_RATE_LIMITS`) and counted by each server node.",
        license(name = "AGPL-3.0-or-later"),
    ),
    modifiers(&BearerAuth),
    components(
        schemas(ProblemDetails, FieldError, open311::views::ErrorItem),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PreconditionFailed,
            PayloadTooLarge,
            UnsupportedMediaType,
            ValidationFailed,
            TooManyRequests,
            ServiceUnavailable,
            open311::routes::Open311Errors
        )
    ),
    tags(
        (name = "Accounts", description = "Sign up, verify, sign in, refresh, sign out, reset a password."),
        (name = "Me", description = "The caller's own profile, password and sessions."),
        (name = "Categories", description = "What can be reported (Open311 services), with the questions asked when reporting."),
        (name = "Issues", description = "Local problems: report, find, support, follow, comment, and the community-first lifecycle."),
        (name = "Groups", description = "Community groups: membership, roles, and adopting issues."),
        (name = "Opportunities", description = "Calls for volunteers by groups."),
        (name = "Pledges", description = "Time, skills, materials or money pledged to opportunities and issues; participation records."),
        (name = "Photos", description = "Photos of issues, re-encoded without metadata."),
        (name = "Partners", description = "Partner clients (charities, the council's systems): OAuth 2 client credentials with scopes, managed by admins."),
        (name = "Webhooks", description = "Partners' webhook subscriptions: signed deliveries (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`) of the events a partner may see, retried with back-off, and their delivery log. Needs the `webhooks:manage` scope."),
        (name = "Notifications", description = "The caller's in-app notification feed and push devices. What a citizen hears about is set by `notification_preferences` on `/me`."),
        (name = "Sync", description = "One ordered feed of what changed for the caller, for offline-first apps: their issues, groups, pledges, the opportunities pledged to, notifications and profile, as current states or tombstones, after an opaque cursor that never skips a change."),
        (name = "Insight", description = "Public figures and open data for anyone: aggregate statistics by area and period, and the public issues as CSV or GeoJSON under the deployment's open-data licence, without personal data."),
        (name = "Moderation", description = "Keeping public content safe: citizens flag content; enough flags from distinct citizens hide it pending review; moderators work a queue and hide, restore, dismiss, edit out personal data, suspend or ban; admins read the append-only audit log of every staff action."),
        (name = "Privacy", description = "The caller's data rights: a machine-readable export of everything Civitas holds about them, erasure of their account (public contributions stay, as a deleted user), and consents with their history."),
        (name = "Operations", description = "Health probes and Prometheus metrics."),
        (name = "Open311", description = "Open311 GeoReport v2 under `/open311/v2`, in XML or JSON: services are the active categories, service requests are issues. Submitting needs an `api_key`: a partner client secret with the `open311:submit` scope. Errors are lists of `{code, description}` in the requested format."),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        scheme.description = Some(
            "An access token from `POST /api/v1/auth/login` or `/auth/refresh` (EdDSA JWT, \
             15 minutes)."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        let scopes = Scopes::from_iter(
            crate::partners::Scope::ALL
                .into_iter()
                .map(|scope| (scope.as_str(), scope.description())),
        );
        let flow = ClientCredentials::new("/api/v1/oauth/token", scopes);
        let oauth = OAuth2::with_description(
            [Flow::ClientCredentials(flow)],
            "Partner clients (charities, the council's systems): an access token from \
             `POST /api/v1/oauth/token` with the client credentials an admin issued.",
        );
        components.add_security_scheme("partner", SecurityScheme::OAuth2(oauth));
    }
}

/// Every documented route: the API under `/api/v1`, Open311 under `/open311/v2`, plus
/// probes and the JWKS at the root.
///
/// The busiest routes come first. actix tries a scope's routes in the order they were
/// registered, matching each path with parameters by a regular expression, so a request
/// for the fiftieth route paid for forty-nine failed matches first: 6% of the server's
/// time on `GET /issues/{id}`. No two modules' paths overlap (the one fixed path that a
/// parameter could take, `/issues/duplicates`, is ordered within the issues module), so
/// the order changes nothing else.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(
        utoipa_actix_web::scope("/api/v1")
            .configure(issues::routes::configure)
            .configure(pledges::routes::configure)
            .configure(opportunities::routes::configure)
            .configure(photos::routes::configure)
            .configure(accounts::routes::configure)
            .configure(categories::routes::configure)
            .configure(groups::routes::configure)
            .configure(partners::routes::configure)
            .configure(notifications::routes::configure)
            .configure(webhooks::routes::configure)
            .configure(crate::sync::routes::configure)
            .configure(crate::insight::routes::configure)
            .configure(crate::moderation::routes::configure)
            .configure(crate::privacy::routes::configure)
            .configure(crate::audit::routes::configure),
    )
    .service(utoipa_actix_web::scope("/open311/v2").configure(open311::routes::configure))
    .service(auth::routes::get_jwks)
    .service(health::get_liveness)
    .service(health::get_readiness)
    .service(metrics::get_metrics);
}

/// The OpenAPI document.
pub fn spec() -> utoipa::openapi::OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    // After the routes are in: it adds `429` to every rate-limited operation.
    RateLimitDocs.modify(&mut api);
    api
}

/// The document as committed in `openapi/openapi.json`.
pub fn spec_json() -> anyhow::Result<String> {
    Ok(spec().to_pretty_json()? + "\n")
}

/// The bounds a schema documents, read back for the unit tests that hold them to the code.
#[cfg(test)]
pub(crate) mod bounds;
