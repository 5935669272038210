//! The access matrix: every operation in the committed OpenAPI spec × nine callers
//! (anonymous, the citizen who owns the thing, another citizen, the organiser of the group
//! concerned, moderator, officer, admin, a partner client with the scope the route needs
//! and one without it), each cell the documented outcome. One row per operation, plus a
//! few variants where one operation answers differently for different things (a group's
//! or a partner's opportunity, a hidden issue). A tenth column sends the owner's (or the
//! organiser's) cell again while a moderator has suspended the account: it may read and
//! tidy up, but post nothing (`MAY_WHILE_SUSPENDED`).
//!
//! Default deny: `every_operation_in_the_spec_has_an_access_row` fails when an operation
//! has no row (or a row names an operation the spec does not have, `UNLISTED` routes
//! excepted), so a route cannot ship without deciding who may call it. The other tests
//! each build one world (accounts of every role, a group the owner is a plain member of,
//! issues, pledges, partners, webhooks, hidden and draft things, an anonymous report…) and
//! send every cell of their share of the rows; a destructive cell (delete, withdraw,
//! logout, status changes) gets a thing or an account of its own. Every `GET` answer to
//! a caller with no tie to the hidden and draft things, or to the anonymous report, is
//! also searched for their ids. On failure they print the whole matrix of their rows,
//! each cell with the status it got and, where it broke, what was expected.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::helpers::{Citizen, PASSWORD, Partner, TestApp, expect};

/// What a caller gets from a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Past authorisation: a success, or a business answer given only to those let in
    /// (`409` conflict, `422` invalid). Never 401, 403, 404 or 5xx.
    Allow,
    /// `401`: no credentials, or ones that do not count here.
    Deny401,
    /// `403`: known, but not allowed.
    Deny403,
    /// `404`: the thing is not this caller's to know about.
    Hidden404,
}
use Outcome::*;

const A: Outcome = Allow;
const N: Outcome = Deny401;
const F: Outcome = Deny403;
const H: Outcome = Hidden404;
/// Everyone may call it.
const PUBLIC: [Outcome; 9] = [A; 9];
/// Any signed-in account (staff included); partner clients act for their organisation,
/// never as a citizen, so they are refused.
const ACCOUNT: [Outcome; 9] = [N, A, A, A, A, A, A, F, F];
/// Admins only.
const ADMIN: [Outcome; 9] = [N, F, F, F, F, F, A, F, F];
/// Partner clients with the route's scope only.
const PARTNER: [Outcome; 9] = [N, F, F, F, F, F, F, A, F];
/// Something moderators hid: missing for everyone but staff (moderators, officers and
/// admins), the owner and organisers included.
const STAFF_ONLY: [Outcome; 9] = [H, H, H, H, A, A, A, H, H];
/// A partner's thing, to callers other than that partner (none of the columns).
const OTHER_PARTNERS: [Outcome; 9] = [N, F, F, F, F, F, F, H, F];
/// The organisers of the group concerned only.
const ORGANISER: [Outcome; 9] = [N, F, F, A, F, F, F, F, F];

impl Outcome {
    fn holds(self, status: u16) -> bool {
        match self {
            Allow => (200..400).contains(&status) || status == 409 || status == 422,
            Deny401 => status == 401,
            Deny403 => status == 403,
            Hidden404 => status == 404,
        }
    }

    fn short(self) -> &'static str {
        match self {
            Allow => "ok",
            Deny401 => "401",
            Deny403 => "403",
            Hidden404 => "404",
        }
    }
}

/// The callers, in the order of a row's cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    /// The citizen who owns the thing: the reporter, the pledger, the comment's author,
    /// the account itself.
    Owner,
    /// A citizen with no tie to the thing.
    Other,
    /// The owner of the group concerned (the group adopted the issue, runs the
    /// opportunity the pledge is for).
    Organiser,
    Moderator,
    Officer,
    Admin,
    /// A partner client with every scope (so with the one the route needs); it owns the
    /// partner's opportunity and the webhook.
    Partner,
    /// A partner client with `issues:read` only, which no route checks.
    PartnerNoScope,
}
use Who::*;

const CALLERS: [Who; 9] = [
    Anonymous,
    Owner,
    Other,
    Organiser,
    Moderator,
    Officer,
    Admin,
    Partner,
    PartnerNoScope,
];
/// The callers with no tie to what moderators hid in the world (the owner reported the
/// hidden issue and the organiser runs the hidden group and opportunity, so their exports
/// name them; staff see hidden things).
const UNTIED: [Who; 4] = [Anonymous, Other, Partner, PartnerNoScope];
const HEADERS: [&str; 9] = [
    "anon", "owner", "other", "organ", "mod", "officer", "admin", "p+scope", "p-scope",
];

/// One row of the matrix: an operation of the spec, which of its things it is sent to
/// (`variant`, empty for the usual one), and what each caller gets.
struct Row {
    method: &'static str,
    path: &'static str,
    variant: &'static str,
    expect: [Outcome; 9],
}

const fn row(method: &'static str, path: &'static str, expect: [Outcome; 9]) -> Row {
    Row {
        method,
        path,
        variant: "",
        expect,
    }
}

const fn variant(
    method: &'static str,
    path: &'static str,
    variant: &'static str,
    expect: [Outcome; 9],
) -> Row {
    Row {
        method,
        path,
        variant,
        expect,
    }
}

/// Public, unversioned and Open311 routes, accounts and sessions, `/me`, roles, audit.
const ACCOUNT_ROWS: &[Row] = &[
    row("GET", "/openapi.json", PUBLIC),
    row("GET", "/docs", PUBLIC),
    row("GET", "/docs/", PUBLIC),
    row("GET", "/health/live", PUBLIC),
    row("GET", "/health/ready", PUBLIC),
    row("GET", "/.well-known/jwks.json", PUBLIC),
    // With `CIVITAS_METRICS_TOKEN` set (as here), only that token opens it: no account's
    // or partner's token does.
    row("GET", "/metrics", [N; 9]),
    row("GET", "/open311/v2/discovery.{format}", PUBLIC),
    row("GET", "/open311/v2/services.{format}", PUBLIC),
    row(
        "GET",
        "/open311/v2/services/{service_code}.{format}",
        PUBLIC,
    ),
    row("GET", "/open311/v2/service/{service_code}.{format}", PUBLIC),
    row("GET", "/open311/v2/requests.{format}", PUBLIC),
    row(
        "GET",
        "/open311/v2/requests/{service_request_id}.{format}",
        PUBLIC,
    ),
    variant(
        "GET",
        "/open311/v2/requests/{service_request_id}.{format}",
        "anonymous",
        PUBLIC,
    ),
    // Open311 has no staff view: a hidden issue is missing for everyone.
    variant(
        "GET",
        "/open311/v2/requests/{service_request_id}.{format}",
        "hidden",
        [H; 9],
    ),
    row("GET", "/open311/v2/tokens/{token}.{format}", PUBLIC),
    // Open311 submissions need the `api_key` of a client with `open311:submit`; a bearer
    // token is no key.
    row(
        "POST",
        "/open311/v2/requests.{format}",
        [F, F, F, F, F, F, F, A, F],
    ),
    row("POST", "/api/v1/auth/register", PUBLIC),
    row("POST", "/api/v1/auth/verify-email", PUBLIC),
    row("POST", "/api/v1/auth/login", PUBLIC),
    row("POST", "/api/v1/auth/refresh", PUBLIC),
    row("POST", "/api/v1/auth/password-reset", PUBLIC),
    row("POST", "/api/v1/auth/password-reset/confirm", PUBLIC),
    row("POST", "/api/v1/oauth/token", PUBLIC),
    row("POST", "/api/v1/auth/logout", ACCOUNT),
    row("GET", "/api/v1/me", ACCOUNT),
    row("PATCH", "/api/v1/me", ACCOUNT),
    row("DELETE", "/api/v1/me", ACCOUNT),
    row("POST", "/api/v1/me/password", ACCOUNT),
    // Everyone here is verified already: 409, past authorisation.
    row("POST", "/api/v1/me/email-verification", ACCOUNT),
    row("GET", "/api/v1/me/sessions", ACCOUNT),
    // The owner's other session: nobody else's business, staff included.
    row(
        "DELETE",
        "/api/v1/me/sessions/{id}",
        [N, A, H, H, H, H, H, F, F],
    ),
    row("GET", "/api/v1/me/export", ACCOUNT),
    row("GET", "/api/v1/me/consents", ACCOUNT),
    row("PUT", "/api/v1/me/consents/{purpose}", ACCOUNT),
    row("GET", "/api/v1/me/devices", ACCOUNT),
    row("PUT", "/api/v1/me/devices/{token}", ACCOUNT),
    row("DELETE", "/api/v1/me/devices/{token}", ACCOUNT),
    row("GET", "/api/v1/me/notifications", ACCOUNT),
    row("POST", "/api/v1/me/notifications/read", ACCOUNT),
    row("GET", "/api/v1/me/participation", ACCOUNT),
    row("GET", "/api/v1/me/pledges", ACCOUNT),
    row("GET", "/api/v1/sync", ACCOUNT),
    row("GET", "/api/v1/accounts/{id}/participation", PUBLIC),
    row("PUT", "/api/v1/accounts/{id}/role", ADMIN),
    row("GET", "/api/v1/audit-log", ADMIN),
];

/// Categories, issues, photos, comments, statuses, trust and insight.
const ISSUE_ROWS: &[Row] = &[
    row("GET", "/api/v1/categories", PUBLIC),
    row("GET", "/api/v1/categories/{code}", PUBLIC),
    row("POST", "/api/v1/categories", [N, F, F, F, F, A, A, F, F]),
    row(
        "PATCH",
        "/api/v1/categories/{code}",
        [N, F, F, F, F, A, A, F, F],
    ),
    row("GET", "/api/v1/issues", PUBLIC),
    row("GET", "/api/v1/issues/duplicates", PUBLIC),
    // Verified citizens, or partners with `issues:write`.
    row("POST", "/api/v1/issues", [N, A, A, A, A, A, A, A, F]),
    row("GET", "/api/v1/issues/{id}", PUBLIC),
    // Reported anonymously: public, but the reporter is named to nobody but staff (the
    // leak check looks for the reporter's id).
    variant("GET", "/api/v1/issues/{id}", "anonymous", PUBLIC),
    // Hidden by a moderator: missing for everyone but staff.
    variant("GET", "/api/v1/issues/{id}", "hidden", STAFF_ONLY),
    // The reporter while it is `reported`, and staff.
    row("PATCH", "/api/v1/issues/{id}", [N, A, F, F, A, A, A, F, F]),
    variant(
        "PATCH",
        "/api/v1/issues/{id}",
        "hidden",
        [N, H, H, H, A, A, A, F, F],
    ),
    // community → escalated: the reporter, the adopting group's organisers, staff.
    row(
        "POST",
        "/api/v1/issues/{id}/status",
        [N, A, F, A, A, A, A, F, F],
    ),
    // escalated → acknowledged: the council (officers, admins) only.
    variant(
        "POST",
        "/api/v1/issues/{id}/status",
        "escalated",
        [N, F, F, F, F, A, A, F, F],
    ),
    row("GET", "/api/v1/issues/{id}/timeline", PUBLIC),
    variant("GET", "/api/v1/issues/{id}/timeline", "anonymous", PUBLIC),
    variant("GET", "/api/v1/issues/{id}/timeline", "hidden", STAFF_ONLY),
    row("POST", "/api/v1/issues/{id}/comments", ACCOUNT),
    variant(
        "POST",
        "/api/v1/issues/{id}/comments",
        "hidden",
        [N, H, H, H, A, A, A, F, F],
    ),
    // Its author only.
    row(
        "DELETE",
        "/api/v1/issues/{id}/comments/{comment_id}",
        [N, A, F, F, F, F, F, F, F],
    ),
    row("PUT", "/api/v1/issues/{id}/support", ACCOUNT),
    row("DELETE", "/api/v1/issues/{id}/support", ACCOUNT),
    row("PUT", "/api/v1/issues/{id}/follow", ACCOUNT),
    row("DELETE", "/api/v1/issues/{id}/follow", ACCOUNT),
    // The reporter, supporters and staff.
    row(
        "POST",
        "/api/v1/issues/{id}/photos",
        [N, A, F, F, A, A, A, F, F],
    ),
    row("GET", "/api/v1/photos/{id}", PUBLIC),
    variant("GET", "/api/v1/photos/{id}", "hidden issue's", STAFF_ONLY),
    row("POST", "/api/v1/issues/{id}/pledges", ACCOUNT),
    // On the owner's own issue: 422 `own_content`, past authorisation.
    row("POST", "/api/v1/flags", ACCOUNT),
    row(
        "GET",
        "/api/v1/moderation/flags",
        [N, F, F, F, A, F, A, F, F],
    ),
    row(
        "POST",
        "/api/v1/moderation/actions",
        [N, F, F, F, A, F, A, F, F],
    ),
    variant(
        "POST",
        "/api/v1/moderation/actions",
        "suspend a citizen",
        [N, F, F, F, A, F, A, F, F],
    ),
    // Only admins act on staff accounts.
    variant("POST", "/api/v1/moderation/actions", "suspend staff", ADMIN),
    row("GET", "/api/v1/stats", PUBLIC),
    row("GET", "/api/v1/open-data/issues.csv", PUBLIC),
    row("GET", "/api/v1/open-data/issues.geojson", PUBLIC),
];

/// Groups, opportunities, pledges.
const GROUP_ROWS: &[Row] = &[
    row("GET", "/api/v1/groups", PUBLIC),
    row("POST", "/api/v1/groups", ACCOUNT),
    row("GET", "/api/v1/groups/{id}", PUBLIC),
    // Hidden: not even its organisers see it.
    variant("GET", "/api/v1/groups/{id}", "hidden", STAFF_ONLY),
    // The profile: organisers only (staff too are refused).
    row("PATCH", "/api/v1/groups/{id}", ORGANISER),
    // `verified`: staff only.
    variant(
        "PATCH",
        "/api/v1/groups/{id}",
        "verified",
        [N, F, F, F, A, A, A, F, F],
    ),
    row("PUT", "/api/v1/groups/{id}/membership", ACCOUNT),
    // The organiser is the group's only owner: 409 `last_owner`, past authorisation.
    row("DELETE", "/api/v1/groups/{id}/membership", ACCOUNT),
    // Members (the owner column is a member) and organisers.
    row(
        "GET",
        "/api/v1/groups/{id}/members",
        [N, A, F, A, F, F, F, F, F],
    ),
    row(
        "PATCH",
        "/api/v1/groups/{id}/members/{account_id}",
        ORGANISER,
    ),
    row("POST", "/api/v1/groups/{id}/adoptions", ORGANISER),
    row(
        "DELETE",
        "/api/v1/groups/{id}/adoptions/{issue_id}",
        ORGANISER,
    ),
    row("POST", "/api/v1/groups/{id}/opportunities", ORGANISER),
    row("GET", "/api/v1/opportunities", PUBLIC),
    // As a partner with `opportunities:write`.
    row("POST", "/api/v1/opportunities", PARTNER),
    row("GET", "/api/v1/opportunities/{id}", PUBLIC),
    variant("GET", "/api/v1/opportunities/{id}", "hidden", STAFF_ONLY),
    // A draft: its organisers only, staff included in the refused.
    variant(
        "GET",
        "/api/v1/opportunities/{id}",
        "draft",
        [H, H, H, A, H, H, H, H, H],
    ),
    // A group's opportunity: its organisers.
    row("PATCH", "/api/v1/opportunities/{id}", ORGANISER),
    // A partner's opportunity: that partner, with `opportunities:write`.
    variant("PATCH", "/api/v1/opportunities/{id}", "partner's", PARTNER),
    // A group's: its organisers; a partner's: that partner with `pledges:read`. Anyone
    // else (the pledger too) is told it is not theirs to see.
    row(
        "GET",
        "/api/v1/opportunities/{id}/pledges",
        [N, H, H, A, H, H, H, H, F],
    ),
    variant(
        "GET",
        "/api/v1/opportunities/{id}/pledges",
        "partner's",
        [N, H, H, H, H, H, H, A, F],
    ),
    row("POST", "/api/v1/opportunities/{id}/pledges", ACCOUNT),
    // The pledger and the organisers who manage it; nobody else knows it exists.
    row("GET", "/api/v1/pledges/{id}", [N, A, H, A, H, H, H, F, F]),
    // What is pledged: the pledger only.
    row("PATCH", "/api/v1/pledges/{id}", [N, A, H, F, H, H, H, F, F]),
    row(
        "DELETE",
        "/api/v1/pledges/{id}",
        [N, A, H, F, H, H, H, F, F],
    ),
    row(
        "POST",
        "/api/v1/pledges/{id}/fulfilment",
        [N, A, H, F, H, H, H, F, F],
    ),
    row(
        "POST",
        "/api/v1/pledges/{id}/verification",
        [N, F, H, A, H, H, H, F, F],
    ),
];

/// Partner clients (admin) and webhooks (partners).
const PARTNER_ROWS: &[Row] = &[
    row("GET", "/api/v1/clients", ADMIN),
    row("POST", "/api/v1/clients", ADMIN),
    row("GET", "/api/v1/clients/{id}", ADMIN),
    row("PATCH", "/api/v1/clients/{id}", ADMIN),
    row("POST", "/api/v1/clients/{id}/secret", ADMIN),
    row("GET", "/api/v1/webhooks", PARTNER),
    row("POST", "/api/v1/webhooks", PARTNER),
    row("GET", "/api/v1/webhooks/{id}", PARTNER),
    row("DELETE", "/api/v1/webhooks/{id}", PARTNER),
    row("GET", "/api/v1/webhooks/{id}/deliveries", PARTNER),
    // Another partner's webhook: not the scoped partner's to know about.
    variant("GET", "/api/v1/webhooks/{id}", "another's", OTHER_PARTNERS),
    variant(
        "DELETE",
        "/api/v1/webhooks/{id}",
        "another's",
        OTHER_PARTNERS,
    ),
    variant(
        "GET",
        "/api/v1/webhooks/{id}/deliveries",
        "another's",
        OTHER_PARTNERS,
    ),
];

/// Routes served outside the spec: the spec itself and its human docs.
const UNLISTED: [&str; 3] = ["GET /openapi.json", "GET /docs", "GET /docs/"];

fn all_rows() -> impl Iterator<Item = &'static Row> {
    ACCOUNT_ROWS
        .iter()
        .chain(ISSUE_ROWS)
        .chain(GROUP_ROWS)
        .chain(PARTNER_ROWS)
}

/// The operations (`METHOD path`) of the committed spec.
fn spec_operations() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("the spec"))
        .expect("the spec is JSON");
    let mut operations = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                operations.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    operations
}

#[test]
fn every_operation_in_the_spec_has_an_access_row() {
    let operations = spec_operations();
    assert!(operations.len() > 90, "the spec lists {}", operations.len());
    let rows: BTreeSet<String> = all_rows()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let missing: Vec<&String> = operations.difference(&rows).collect();
    let stale: Vec<&String> = rows
        .difference(&operations)
        .filter(|r| !UNLISTED.contains(&r.as_str()))
        .collect();
    for route in UNLISTED {
        assert!(rows.contains(route), "no row for {route}");
    }
    assert!(
        missing.is_empty(),
        "operations with no row in the access matrix (decide who may call them and add \
         a row to tests/api/access_matrix.rs): {missing:#?}"
    );
    assert!(
        stale.is_empty(),
        "rows for operations the spec does not have: {stale:#?}"
    );
    let mut seen = BTreeSet::new();
    for r in all_rows() {
        assert!(
            seen.insert((r.method, r.path, r.variant)),
            "two rows for {} {} {:?}",
            r.method,
            r.path,
            r.variant
        );
    }
}

#[actix_web::test]
async fn public_account_and_admin_routes_admit_exactly_their_callers() {
    check(ACCOUNT_ROWS).await;
}

#[actix_web::test]
async fn issue_trust_and_insight_routes_admit_exactly_their_callers() {
    check(ISSUE_ROWS).await;
}

#[actix_web::test]
async fn group_opportunity_and_pledge_routes_admit_exactly_their_callers() {
    check(GROUP_ROWS).await;
}

#[actix_web::test]
async fn partner_client_and_webhook_routes_admit_exactly_their_callers() {
    check(PARTNER_ROWS).await;
}

/// What a suspended account may still change: its own account (but not its name, which
/// its public posts show: the `PATCH /me` cell renames, so it is 403), sessions, devices,
/// consents and notifications, and it may undo (withdraw a pledge, leave a group, delete
/// its comment, unsupport, unfollow) or follow, and organisers may still manage members
/// and verify claims. It reads everything; everything else is `403 account_suspended`:
/// it may read but not post.
const MAY_WHILE_SUSPENDED: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/logout"),
    ("DELETE", "/api/v1/me"),
    ("POST", "/api/v1/me/password"),
    ("POST", "/api/v1/me/email-verification"),
    ("DELETE", "/api/v1/me/sessions/{id}"),
    ("PUT", "/api/v1/me/consents/{purpose}"),
    ("PUT", "/api/v1/me/devices/{token}"),
    ("DELETE", "/api/v1/me/devices/{token}"),
    ("POST", "/api/v1/me/notifications/read"),
    ("DELETE", "/api/v1/issues/{id}/comments/{comment_id}"),
    ("DELETE", "/api/v1/issues/{id}/support"),
    ("PUT", "/api/v1/issues/{id}/follow"),
    ("DELETE", "/api/v1/issues/{id}/follow"),
    ("DELETE", "/api/v1/groups/{id}/membership"),
    ("PATCH", "/api/v1/groups/{id}/members/{account_id}"),
    ("DELETE", "/api/v1/groups/{id}/adoptions/{issue_id}"),
    ("DELETE", "/api/v1/pledges/{id}"),
    ("POST", "/api/v1/pledges/{id}/verification"),
];

/// What `who` gets for `row` while suspended: what it usually gets where it may, else
/// 403, told before anything about the target (so a hidden one is 403 too, which says
/// nothing about it).
fn while_suspended(row: &Row, who: Who) -> Outcome {
    let usual = row.expect[CALLERS.iter().position(|w| *w == who).unwrap_or(0)];
    let public = row.expect == PUBLIC;
    let may = row.method == "GET" || MAY_WHILE_SUSPENDED.contains(&(row.method, row.path));
    if public || may { usual } else { Deny403 }
}

/// Sends every cell of `rows` in a world of its own; prints the matrix and fails if any
/// cell broke.
async fn check(rows: &[Row]) {
    let world = World::build().await;
    let mut lines = Vec::new();
    let mut broken = 0;
    let mut leaks = Vec::new();
    let width = rows
        .iter()
        .map(|r| r.method.len() + r.path.len() + r.variant.len() + 4)
        .max()
        .unwrap_or(0);
    lines.push(format!(
        "{:width$} | {}",
        "",
        HEADERS.map(|h| format!("{h:>8}")).join(" ") + &format!(" {:>8}", "susp.")
    ));
    for r in rows {
        let mut cells = Vec::new();
        for (who, expected) in CALLERS.into_iter().zip(r.expect) {
            let (status, body) = world.call(r, who).await;
            // Those with no tie to what moderators hid (neither its author nor staff)
            // never read its id anywhere: lists, feeds, exports, open data; nor who
            // reported anonymously.
            let leak = (r.method == "GET" && UNTIED.contains(&who))
                .then(|| world.leaked(&body))
                .flatten();
            if let Some(what) = leak {
                broken += 1;
                leaks.push(format!("{who:?} {} {} shows {what}", r.method, r.path));
                cells.push(format!("{:>8}", format!("✗{status}leak")));
            } else if expected.holds(status) {
                cells.push(format!("{status:>8}"));
            } else {
                broken += 1;
                cells.push(format!("{:>8}", format!("✗{status}≠{}", expected.short())));
            }
        }
        // The tenth column: the owner (or, where only organisers may, the organiser),
        // suspended by a moderator.
        let who = if r.expect[1] != Allow && r.expect[3] == Allow {
            Organiser
        } else {
            Owner
        };
        let expected = while_suspended(r, who);
        let status = world.call_suspended(r, who).await;
        if expected.holds(status) {
            cells.push(format!("{status:>8}"));
        } else {
            broken += 1;
            cells.push(format!("{:>8}", format!("✗{status}≠{}", expected.short())));
        }
        let name = if r.variant.is_empty() {
            format!("{} {}", r.method, r.path)
        } else {
            format!("{} {} ({})", r.method, r.path, r.variant)
        };
        lines.push(format!("{name:width$} | {}", cells.join(" ")));
    }
    let matrix = lines.join("\n");
    assert_eq!(
        broken,
        0,
        "{broken} cells of the access matrix broke (✗got≠expected):\n{matrix}\n{}",
        leaks.join("\n")
    );
    println!("{matrix}");
}

/// What a cell sends.
enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
    Photo,
}

struct Request {
    path: String,
    body: Body,
    /// The bearer token sent (the caller's, unless the cell uses an account of its own).
    token: Option<String>,
}

/// Everything the rows act on, made once per test.
struct World {
    app: TestApp,
    owner: Citizen,
    owner_id: String,
    other: Citizen,
    organiser: Citizen,
    moderator: Citizen,
    officer: Citizen,
    admin: Citizen,
    partner: Partner,
    partner_token: String,
    bare: Partner,
    bare_token: String,
    /// A member of `group` (not an organiser), for `PATCH /groups/{id}/members/{id}`.
    member_id: String,
    /// A citizen whose role the admin sets (and moderators suspend).
    target_id: String,
    /// An officer no cell calls as, whom moderators try to suspend.
    colleague_id: String,
    /// A client no cell calls with, for the admin's client routes.
    spare_client: String,
    /// The organiser's group; the owner is a member.
    group: String,
    /// A second group, open, for joining and leaving.
    open_group: String,
    /// Reported by the owner, adopted by `group` (so `community`).
    issue: String,
    /// Hidden by a moderator, with a photo (`hidden_photo`).
    hidden_issue: String,
    hidden_photo: String,
    hidden_group: String,
    hidden_opportunity: String,
    /// A draft opportunity of `group`.
    draft_opportunity: String,
    photo: String,
    /// The group's opportunity; the owner pledged to it (`pledge`).
    opportunity: String,
    pledge: String,
    /// A group opportunity nobody pledged to yet.
    unpledged: String,
    /// The partner's own opportunity.
    partner_opportunity: String,
    /// The partner's webhook.
    webhook: String,
    /// Another partner's webhook.
    rival_webhook: String,
    /// A citizen who only ever reported anonymously (`anonymous_issue`).
    shy_id: String,
    anonymous_issue: String,
    open311_request: String,
    open311_token: String,
    counter: AtomicUsize,
}

const LAT: f64 = 51.5072;
const LON: f64 = -0.1276;

fn at(hours: i64) -> String {
    (chrono::Utc::now() + chrono::TimeDelta::hours(hours))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn id(body: &Value) -> String {
    body["id"].as_str().expect("an id").to_owned()
}

impl World {
    async fn build() -> Self {
        let app = TestApp::spawn_with(|config| {
            config.metrics_token = Some("metrics-secret".to_owned().into());
            config.webhook_allow_http = true;
            config.webhook_allow_private = true;
            // Each caller flags the same issue; that must not hide it.
            config.flag_threshold = 1000;
        })
        .await;
        let owner = app.citizen("owner@example.org").await;
        let other = app.citizen("other@example.org").await;
        let organiser = app.citizen("organiser@example.org").await;
        let member = app.citizen("member@example.org").await;
        let target = app.citizen("target@example.org").await;
        let moderator = app.staff("moderator@example.org", "moderator").await;
        let officer = app.staff("officer@example.org", "officer").await;
        let admin = app.staff("admin@example.org", "admin").await;
        let partner = app.partner(
            "Riverside Food Bank",
            &[
                "issues:read",
                "issues:write",
                "issues:contact",
                "opportunities:write",
                "pledges:read",
                "webhooks:manage",
                "open311:submit",
            ],
        );
        let partner_token = app.partner_token(&partner).await;
        let bare = app.partner("Reading Room", &["issues:read"]);
        let bare_token = app.partner_token(&bare).await;
        let spare_client = app.partner("Spare", &["issues:read"]).id;
        let account_id = |who: &Citizen| {
            let token = who.access_token.clone();
            let app = &app;
            async move { id(&expect(app.get_as("/me", &token).await, 200).await) }
        };
        let owner_id = account_id(&owner).await;
        let member_id = account_id(&member).await;
        let target_id = account_id(&target).await;
        let colleague = app.staff("colleague@example.org", "officer").await;
        let colleague_id = account_id(&colleague).await;

        let mut world = Self {
            owner_id,
            member_id,
            target_id,
            colleague_id,
            spare_client,
            partner_token,
            bare_token,
            partner,
            bare,
            group: String::new(),
            open_group: String::new(),
            issue: String::new(),
            hidden_issue: String::new(),
            hidden_photo: String::new(),
            hidden_group: String::new(),
            hidden_opportunity: String::new(),
            draft_opportunity: String::new(),
            photo: String::new(),
            opportunity: String::new(),
            pledge: String::new(),
            unpledged: String::new(),
            partner_opportunity: String::new(),
            webhook: String::new(),
            rival_webhook: String::new(),
            shy_id: String::new(),
            anonymous_issue: String::new(),
            open311_request: String::new(),
            open311_token: String::new(),
            counter: AtomicUsize::new(0),
            owner,
            other,
            organiser,
            moderator,
            officer,
            admin,
            app,
        };
        let w = &mut world;
        w.group = w.new_group(&w.organiser.clone(), "approval").await;
        w.open_group = w.new_group(&w.organiser.clone(), "open").await;
        let join = format!("/groups/{}/membership", w.group);
        let path = format!("/groups/{}/members", w.group);
        for (who, account) in [
            (w.owner.clone(), w.owner_id.clone()),
            (member, w.member_id.clone()),
        ] {
            w.send(
                Method::PUT,
                &join,
                Some(&who.access_token),
                None,
                &[200, 201, 202],
            )
            .await;
            let approve = format!("{path}/{account}");
            let token = w.organiser.access_token.clone();
            w.send(
                Method::PATCH,
                &approve,
                Some(&token),
                Some(json!({"status": "active"})),
                &[200],
            )
            .await;
        }
        w.issue = w.adopted_issue().await;
        w.hidden_issue = w.new_issue().await;
        w.hidden_photo = w.upload_photo(&w.hidden_issue.clone()).await;
        w.hide("issue", &w.hidden_issue).await;
        w.hidden_group = w.new_group(&w.organiser.clone(), "open").await;
        w.hide("group", &w.hidden_group).await;
        w.photo = w.upload_photo(&w.issue.clone()).await;
        w.opportunity = w.new_opportunity(24).await;
        w.hidden_opportunity = w.new_opportunity(24).await;
        w.hide("opportunity", &w.hidden_opportunity).await;
        let path = format!("/groups/{}/opportunities", w.group);
        let mut draft = w.opportunity_body(24);
        draft["status"] = json!("draft");
        let token = w.organiser.access_token.clone();
        w.draft_opportunity = id(&w
            .send(Method::POST, &path, Some(&token), Some(draft), &[201])
            .await);
        w.pledge = w.new_pledge(&w.opportunity.clone()).await;
        w.unpledged = w.new_opportunity(24).await;
        let body = w.opportunity_body(24);
        let token = w.partner_token.clone();
        w.partner_opportunity = id(&w
            .send(
                Method::POST,
                "/opportunities",
                Some(&token),
                Some(body),
                &[201],
            )
            .await);
        let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["issue.*"]});
        w.webhook = id(&w
            .send(
                Method::POST,
                "/webhooks",
                Some(&token),
                Some(hook.clone()),
                &[201],
            )
            .await);
        let rival = w.app.partner("Canal Trust", &["webhooks:manage"]);
        let token = w.app.partner_token(&rival).await;
        w.rival_webhook = id(&w
            .send(Method::POST, "/webhooks", Some(&token), Some(hook), &[201])
            .await);
        let shy = w.app.citizen("shy@example.org").await;
        w.shy_id = id(&w
            .send(Method::GET, "/me", Some(&shy.access_token), None, &[200])
            .await);
        let report = json!({"category": "litter", "title": "Needles by the swings",
            "description": "Please be careful", "lat": LAT, "lon": LON, "anonymous": true});
        w.anonymous_issue = id(&w
            .send(
                Method::POST,
                "/issues",
                Some(&shy.access_token),
                Some(report),
                &[201],
            )
            .await);
        let (request, token) = w.open311_submit(&w.partner.secret.clone()).await;
        w.open311_request = request;
        w.open311_token = token;
        world
    }

    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a setup request to `/api/v1{path}` and checks it got one of `statuses`.
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        statuses: &[u16],
    ) -> Value {
        let mut request = self.app.client.request(method.clone(), self.app.api(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        assert!(
            statuses.contains(&status),
            "setup {method} {path}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// A moderator hides `target`.
    async fn hide(&self, kind: &str, target: &str) {
        let body = json!({"action": "hide", "target_type": kind, "target_id": target,
            "reason": "Checked against the rules"});
        self.send(
            Method::POST,
            "/moderation/actions",
            Some(&self.moderator.access_token),
            Some(body),
            &[200],
        )
        .await;
    }

    async fn new_group(&self, organiser: &Citizen, policy: &str) -> String {
        let body = json!({"name": format!("Green Street Friends {}", self.next()),
            "description": "We tidy the park.", "lat": LAT, "lon": LON, "radius_m": 1500,
            "join_policy": policy});
        id(&self
            .send(
                Method::POST,
                "/groups",
                Some(&organiser.access_token),
                Some(body),
                &[201],
            )
            .await)
    }

    /// A new issue the owner reported.
    async fn new_issue(&self) -> String {
        let body = json!({"category": "litter", "title": format!("Bags by bench {}", self.next()),
            "description": "Bags and cans", "lat": LAT, "lon": LON});
        id(&self
            .send(
                Method::POST,
                "/issues",
                Some(&self.owner.access_token),
                Some(body),
                &[201],
            )
            .await)
    }

    async fn adopt(&self, issue: &str) {
        let path = format!("/groups/{}/adoptions", self.group);
        self.send(
            Method::POST,
            &path,
            Some(&self.organiser.access_token),
            Some(json!({"issue_id": issue})),
            &[200, 201],
        )
        .await;
    }

    /// A new issue the owner reported and the organiser's group adopted.
    async fn adopted_issue(&self) -> String {
        let issue = self.new_issue().await;
        self.adopt(&issue).await;
        issue
    }

    async fn upload_photo(&self, issue: &str) -> String {
        let response = self
            .app
            .client
            .post(self.app.api(&format!("/issues/{issue}/photos")))
            .bearer_auth(&self.owner.access_token)
            .multipart(photo_form())
            .send()
            .await
            .expect("upload sent");
        id(&expect(response, 201).await)
    }

    fn opportunity_body(&self, starts_in: i64) -> Value {
        json!({"title": format!("Litter pick {}", self.next()), "description": "Bring gloves",
            "lat": LAT, "lon": LON, "starts_at": at(starts_in), "ends_at": at(starts_in + 3)})
    }

    /// A new opportunity of the organiser's group, starting in `starts_in` hours.
    async fn new_opportunity(&self, starts_in: i64) -> String {
        let path = format!("/groups/{}/opportunities", self.group);
        let body = self.opportunity_body(starts_in);
        id(&self
            .send(
                Method::POST,
                &path,
                Some(&self.organiser.access_token),
                Some(body),
                &[201],
            )
            .await)
    }

    /// The owner's pledge of two hours to `opportunity`.
    async fn new_pledge(&self, opportunity: &str) -> String {
        let path = format!("/opportunities/{opportunity}/pledges");
        id(&self
            .send(
                Method::POST,
                &path,
                Some(&self.owner.access_token),
                Some(json!({"kind": "time", "hours": 2})),
                &[201],
            )
            .await)
    }

    /// An Open311 request sent with `api_key`; its id and token.
    async fn open311_submit(&self, api_key: &str) -> (String, String) {
        let response = self
            .app
            .client
            .post(self.app.url("/open311/v2/requests.json"))
            .form(&open311_form(api_key))
            .send()
            .await
            .expect("request sent");
        let body = expect(response, 201).await;
        let answer = body.get(0).unwrap_or(&body);
        let field = |name: &str| answer[name].as_str().unwrap_or_default().to_owned();
        (field("service_request_id"), field("token"))
    }

    fn citizen(&self, who: Who) -> Option<&Citizen> {
        match who {
            Owner => Some(&self.owner),
            Other => Some(&self.other),
            Organiser => Some(&self.organiser),
            Moderator => Some(&self.moderator),
            Officer => Some(&self.officer),
            Admin => Some(&self.admin),
            Anonymous | Partner | PartnerNoScope => None,
        }
    }

    fn token(&self, who: Who) -> Option<String> {
        match who {
            Anonymous => None,
            Partner => Some(self.partner_token.clone()),
            PartnerNoScope => Some(self.bare_token.clone()),
            _ => self.citizen(who).map(|c| c.access_token.clone()),
        }
    }

    /// A new account in `who`'s role, signed in (the caller's own token for the
    /// anonymous and partners): for cells that change or end the account.
    async fn throwaway(&self, who: Who) -> (Option<String>, String) {
        let email = format!("throwaway{}@example.org", self.next());
        let role = match who {
            Anonymous | Partner | PartnerNoScope => return (self.token(who), email),
            Owner | Other | Organiser => None,
            Moderator => Some("moderator"),
            Officer => Some("officer"),
            Admin => Some("admin"),
        };
        let citizen = match role {
            None => self.app.citizen(&email).await,
            Some(role) => self.app.staff(&email, role).await,
        };
        (Some(citizen.access_token), email)
    }

    /// A second session of `who`'s account (the caller's own token for the others).
    async fn second_session(&self, who: Who) -> Option<Citizen> {
        match self.citizen(who) {
            Some(citizen) => Some(self.app.sign_in(&citizen.email, PASSWORD).await),
            None => None,
        }
    }

    /// Sends one cell and returns its status and body.
    async fn call(&self, row: &Row, who: Who) -> (u16, String) {
        let request = self.request(row, who).await;
        self.send_request(row, request).await
    }

    /// Sends one cell as `who` while a moderator has suspended the account (from just
    /// after its request is prepared to just after it is answered).
    async fn call_suspended(&self, row: &Row, who: Who) -> u16 {
        let request = self.request(row, who).await;
        // The token endpoint takes no account's token.
        let Some(token) = request.token.clone() else {
            return self.send_request(row, request).await.0;
        };
        let account = id(&self
            .send(Method::GET, "/me", Some(&token), None, &[200])
            .await);
        let action = |action: &str| {
            json!({"action": action, "target_type": "account", "target_id": account,
                "reason": "Matrix", "until": at(24)})
        };
        let moderator = Some(self.moderator.access_token.as_str());
        let path = "/moderation/actions";
        self.send(
            Method::POST,
            path,
            moderator,
            Some(action("suspend")),
            &[200],
        )
        .await;
        let (status, _) = self.send_request(row, request).await;
        let mut reinstate = action("reinstate");
        reinstate["until"] = Value::Null;
        // A deleted account has nobody left to reinstate.
        self.send(Method::POST, path, moderator, Some(reinstate), &[200, 404])
            .await;
        status
    }

    async fn send_request(&self, row: &Row, request: Request) -> (u16, String) {
        let url = self.app.url(&request.path);
        let method = Method::from_bytes(row.method.as_bytes()).expect("a method");
        let mut builder = self.app.client.request(method, url);
        if let Some(token) = &request.token {
            builder = builder.bearer_auth(token);
        }
        builder = match request.body {
            Body::None => builder,
            Body::Json(body) => builder.json(&body),
            Body::Form(fields) => builder.form(&fields),
            Body::Photo => builder.multipart(photo_form()),
        };
        let response = builder.send().await.expect("request sent");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("a body");
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// What `body` names that moderators hid, or who reported anonymously.
    fn leaked(&self, body: &str) -> Option<&'static str> {
        [
            (&self.shy_id, "the anonymous reporter"),
            (&self.hidden_issue, "the hidden issue"),
            (&self.hidden_photo, "the hidden issue's photo"),
            (&self.hidden_group, "the hidden group"),
            (&self.hidden_opportunity, "the hidden opportunity"),
            (&self.draft_opportunity, "the draft opportunity"),
        ]
        .into_iter()
        .find(|(id, _)| body.contains(id.as_str()))
        .map(|(_, what)| what)
    }

    /// The request of one cell: the concrete path, body and token, with a thing or an
    /// account of its own where the cell would change what later cells need.
    async fn request(&self, row: &Row, who: Who) -> Request {
        let token = self.token(who);
        let mut request = Request {
            path: row.path.to_owned(),
            body: Body::None,
            token,
        };
        let n = self.next();
        let api = |path: String| format!("/api/v1{path}");
        let (issue, group, opportunity, pledge) =
            (&self.issue, &self.group, &self.opportunity, &self.pledge);
        match (row.method, row.path, row.variant) {
            (
                "GET",
                "/health/live" | "/health/ready" | "/.well-known/jwks.json" | "/metrics",
                _,
            )
            | ("GET", "/openapi.json" | "/docs" | "/docs/", _) => {}
            ("GET", "/open311/v2/discovery.{format}", _) => {
                request.path = "/open311/v2/discovery.json".into();
            }
            ("GET", "/open311/v2/services.{format}", _) => {
                request.path = "/open311/v2/services.json".into();
            }
            ("GET", "/open311/v2/services/{service_code}.{format}", _) => {
                request.path = "/open311/v2/services/litter.json".into();
            }
            ("GET", "/open311/v2/service/{service_code}.{format}", _) => {
                request.path = "/open311/v2/service/litter.json".into();
            }
            ("GET", "/open311/v2/requests.{format}", _) => {
                request.path = "/open311/v2/requests.json".into();
            }
            ("GET", "/open311/v2/requests/{service_request_id}.{format}", "") => {
                request.path = format!("/open311/v2/requests/{}.json", self.open311_request);
            }
            ("GET", "/open311/v2/requests/{service_request_id}.{format}", "hidden") => {
                request.path = format!("/open311/v2/requests/{}.json", self.hidden_issue);
            }
            ("GET", "/open311/v2/requests/{service_request_id}.{format}", "anonymous") => {
                request.path = format!("/open311/v2/requests/{}.json", self.anonymous_issue);
            }
            ("GET", "/open311/v2/tokens/{token}.{format}", _) => {
                request.path = format!("/open311/v2/tokens/{}.json", self.open311_token);
            }
            ("POST", "/open311/v2/requests.{format}", _) => {
                request.path = "/open311/v2/requests.json".into();
                let key = match who {
                    Partner => Some(self.partner.secret.clone()),
                    PartnerNoScope => Some(self.bare.secret.clone()),
                    _ => None,
                };
                let mut form = open311_form(key.as_deref().unwrap_or_default());
                if key.is_none() {
                    form.retain(|(name, _)| *name != "api_key");
                }
                request.body = Body::Form(form);
            }
            ("POST", "/api/v1/auth/register", _) => {
                request.body = Body::Json(json!({"email": format!("new{n}@example.org"),
                    "password": PASSWORD, "display_name": "New"}));
            }
            ("POST", "/api/v1/auth/verify-email", _) => {
                let email = format!("unverified{n}@example.org");
                let response = self.app.register(&email, PASSWORD, "New").await;
                assert_eq!(response.status(), 201);
                let token = self.app.mail_token(&email, "verification token").await;
                request.body = Body::Json(json!({"token": token}));
            }
            ("POST", "/api/v1/auth/login", _) => {
                request.body = Body::Json(json!({"email": self.owner.email, "password": PASSWORD}));
            }
            ("POST", "/api/v1/auth/refresh", _) => {
                let session = self.app.sign_in(&self.owner.email, PASSWORD).await;
                request.body = Body::Json(json!({"refresh_token": session.refresh_token}));
            }
            ("POST", "/api/v1/auth/password-reset", _) => {
                request.body = Body::Json(json!({"email": self.other.email}));
            }
            ("POST", "/api/v1/auth/password-reset/confirm", _) => {
                let (_, email) = self.throwaway(Owner).await;
                let response = self
                    .app
                    .post_json("/auth/password-reset", &json!({"email": email}))
                    .await;
                assert_eq!(response.status(), 202);
                let token = self.app.mail_token(&email, "reset token").await;
                request.body = Body::Json(json!({"token": token,
                    "new_password": "a new horse battery staple"}));
            }
            ("POST", "/api/v1/oauth/token", _) => {
                // A client authenticates with its own credentials, not a bearer token
                // (one sent alongside is refused, 401 `invalid_client`): partners send
                // theirs, everyone else the scoped partner's.
                let client = if who == PartnerNoScope {
                    &self.bare
                } else {
                    &self.partner
                };
                request.token = None;
                request.body = Body::Json(json!({"grant_type": "client_credentials",
                    "client_id": client.id, "client_secret": client.secret}));
            }
            ("POST", "/api/v1/auth/logout", _) => {
                if let Some(session) = self.second_session(who).await {
                    request.token = Some(session.access_token);
                }
            }
            ("GET", "/api/v1/me" | "/api/v1/me/sessions" | "/api/v1/me/export", _)
            | ("GET", "/api/v1/me/consents" | "/api/v1/me/devices", _)
            | ("GET", "/api/v1/me/notifications" | "/api/v1/me/participation", _)
            | ("GET", "/api/v1/me/pledges" | "/api/v1/sync" | "/api/v1/audit-log", _) => {}
            ("PATCH", "/api/v1/me", _) => {
                request.body = Body::Json(json!({"display_name": format!("Renamed {n}")}));
            }
            ("DELETE", "/api/v1/me", _) => {
                request.token = self.throwaway(who).await.0;
                request.body = Body::Json(json!({"password": PASSWORD}));
            }
            ("POST", "/api/v1/me/password", _) => {
                request.token = self.throwaway(who).await.0;
                request.body = Body::Json(json!({"current_password": PASSWORD,
                    "new_password": "a new horse battery staple"}));
            }
            ("POST", "/api/v1/me/email-verification", _) => {}
            ("DELETE", "/api/v1/me/sessions/{id}", _) => {
                let session = self.app.sign_in(&self.owner.email, PASSWORD).await;
                request.path = api(format!("/me/sessions/{}", session.session_id));
            }
            ("PUT", "/api/v1/me/consents/{purpose}", _) => {
                request.path = api("/me/consents/public_name".into());
                request.body = Body::Json(json!({"granted": true, "version": "1"}));
            }
            ("PUT", "/api/v1/me/devices/{token}", _) => {
                request.path = api(format!("/me/devices/device-token-{n}"));
                request.body = Body::Json(json!({"platform": "fcm"}));
            }
            ("DELETE", "/api/v1/me/devices/{token}", _) => {
                let path = format!("/me/devices/device-token-{n}");
                if let Some(token) = &request.token {
                    if self.citizen(who).is_some() {
                        self.send(
                            Method::PUT,
                            &path,
                            Some(token),
                            Some(json!({"platform": "fcm"})),
                            &[200, 201],
                        )
                        .await;
                    }
                }
                request.path = api(path);
            }
            ("POST", "/api/v1/me/notifications/read", _) => {
                request.body = Body::Json(json!({"all": true}));
            }
            ("GET", "/api/v1/accounts/{id}/participation", _) => {
                request.path = api(format!("/accounts/{}/participation", self.owner_id));
            }
            ("PUT", "/api/v1/accounts/{id}/role", _) => {
                request.path = api(format!("/accounts/{}/role", self.target_id));
                request.body = Body::Json(json!({"role": "citizen", "reason": "Matrix"}));
            }
            ("GET", "/api/v1/categories", _) => {}
            ("GET", "/api/v1/categories/{code}", _) => {
                request.path = api("/categories/litter".into());
            }
            ("POST", "/api/v1/categories", _) => {
                request.body = Body::Json(json!({"code": format!("noise_{n}"),
                    "name": format!("Noise {n}"), "handled_by": "council"}));
            }
            ("PATCH", "/api/v1/categories/{code}", _) => {
                request.path = api("/categories/litter".into());
                request.body = Body::Json(json!({"name": "Litter"}));
            }
            ("GET", "/api/v1/issues", _) => {
                request.path = api(format!("/issues?near={LAT},{LON}&radius=2000"));
            }
            ("GET", "/api/v1/issues/duplicates", _) => {
                request.path = api(format!(
                    "/issues/duplicates?lat={LAT}&lon={LON}&category=litter"
                ));
            }
            ("POST", "/api/v1/issues", _) => {
                request.body = Body::Json(json!({"category": "litter",
                    "title": format!("Glass on the path {n}"), "description": "Broken bottles",
                    "lat": LAT, "lon": LON}));
            }
            ("GET", "/api/v1/issues/{id}", "") => {
                request.path = api(format!("/issues/{issue}"));
            }
            ("GET", "/api/v1/issues/{id}", "hidden") => {
                request.path = api(format!("/issues/{}", self.hidden_issue));
            }
            ("GET", "/api/v1/issues/{id}", "anonymous") => {
                request.path = api(format!("/issues/{}", self.anonymous_issue));
            }
            ("PATCH", "/api/v1/issues/{id}", variant) => {
                let issue = if variant == "hidden" {
                    self.hidden_issue.clone()
                } else {
                    self.new_issue().await
                };
                request.path = api(format!("/issues/{issue}"));
                request.body = Body::Json(json!({"description": format!("Bags and cans {n}")}));
            }
            ("POST", "/api/v1/issues/{id}/status", "") => {
                let issue = self.adopted_issue().await;
                request.path = api(format!("/issues/{issue}/status"));
                request.body = Body::Json(json!({"status": "escalated",
                    "note": "Too big for us"}));
            }
            ("POST", "/api/v1/issues/{id}/status", "escalated") => {
                let issue = self.new_issue().await;
                let path = format!("/issues/{issue}/status");
                self.send(
                    Method::POST,
                    &path,
                    Some(&self.owner.access_token),
                    Some(json!({"status": "escalated", "note": "Council's job"})),
                    &[200],
                )
                .await;
                request.path = api(path);
                request.body = Body::Json(json!({"status": "acknowledged",
                    "note": "On our list"}));
            }
            ("GET", "/api/v1/issues/{id}/timeline", variant) => {
                let issue = match variant {
                    "hidden" => &self.hidden_issue,
                    "anonymous" => &self.anonymous_issue,
                    _ => issue,
                };
                request.path = api(format!("/issues/{issue}/timeline"));
            }
            ("POST", "/api/v1/issues/{id}/comments", variant) => {
                let issue = if variant == "hidden" {
                    &self.hidden_issue
                } else {
                    issue
                };
                request.path = api(format!("/issues/{issue}/comments"));
                request.body = Body::Json(json!({"body": "Still there this morning"}));
            }
            ("DELETE", "/api/v1/issues/{id}/comments/{comment_id}", _) => {
                let path = format!("/issues/{issue}/comments");
                let comment = id(&self
                    .send(
                        Method::POST,
                        &path,
                        Some(&self.owner.access_token),
                        Some(json!({"body": "Mine to delete"})),
                        &[201],
                    )
                    .await);
                request.path = api(format!("{path}/{comment}"));
            }
            (_, "/api/v1/issues/{id}/support" | "/api/v1/issues/{id}/follow", _) => {
                request.path = row.path.replace("{id}", issue);
            }
            ("POST", "/api/v1/issues/{id}/photos", _) => {
                request.path = api(format!("/issues/{issue}/photos"));
                request.body = Body::Photo;
            }
            ("GET", "/api/v1/photos/{id}", "") => {
                request.path = api(format!("/photos/{}", self.photo));
            }
            ("GET", "/api/v1/photos/{id}", _) => {
                request.path = api(format!("/photos/{}", self.hidden_photo));
            }
            ("POST", "/api/v1/issues/{id}/pledges", _) => {
                request.path = api(format!("/issues/{issue}/pledges"));
                request.body = Body::Json(json!({"kind": "time", "hours": 1}));
            }
            ("POST", "/api/v1/flags", _) => {
                request.body = Body::Json(json!({"target_type": "issue", "target_id": issue,
                    "reason": "personal_data"}));
            }
            ("GET", "/api/v1/moderation/flags", _) => {}
            ("POST", "/api/v1/moderation/actions", "suspend a citizen" | "suspend staff") => {
                let target = if row.variant == "suspend staff" {
                    &self.colleague_id
                } else {
                    &self.target_id
                };
                request.body = Body::Json(json!({"action": "suspend", "target_type": "account",
                    "target_id": target, "reason": "Checked against the rules",
                    "until": at(24)}));
            }
            ("POST", "/api/v1/moderation/actions", _) => {
                let target = self.new_issue().await;
                request.body = Body::Json(json!({"action": "hide", "target_type": "issue",
                    "target_id": target, "reason": "Checked against the rules"}));
            }
            ("GET", "/api/v1/stats" | "/api/v1/open-data/issues.csv", _)
            | ("GET", "/api/v1/open-data/issues.geojson", _) => {}
            ("GET", "/api/v1/groups", _) => {}
            ("POST", "/api/v1/groups", _) => {
                request.body = Body::Json(json!({"name": format!("Canal Crew {n}"),
                    "description": "We clear the towpath.", "lat": LAT, "lon": LON,
                    "radius_m": 1500}));
            }
            ("GET", "/api/v1/groups/{id}", "") => {
                request.path = api(format!("/groups/{group}"));
            }
            ("GET", "/api/v1/groups/{id}", "hidden") => {
                request.path = api(format!("/groups/{}", self.hidden_group));
            }
            ("PATCH", "/api/v1/groups/{id}", "") => {
                request.path = api(format!("/groups/{group}"));
                request.body = Body::Json(json!({"description": format!("We tidy the park {n}.")}));
            }
            ("PATCH", "/api/v1/groups/{id}", "verified") => {
                request.path = api(format!("/groups/{group}"));
                request.body = Body::Json(json!({"verified": true}));
            }
            ("PUT", "/api/v1/groups/{id}/membership", _) => {
                request.path = api(format!("/groups/{}/membership", self.open_group));
            }
            ("DELETE", "/api/v1/groups/{id}/membership", _) => {
                let path = format!("/groups/{}/membership", self.open_group);
                if self.citizen(who).is_some() {
                    self.send(
                        Method::PUT,
                        &path,
                        request.token.as_deref(),
                        None,
                        &[200, 201],
                    )
                    .await;
                }
                request.path = api(path);
            }
            ("GET", "/api/v1/groups/{id}/members", _) => {
                request.path = api(format!("/groups/{group}/members"));
            }
            ("PATCH", "/api/v1/groups/{id}/members/{account_id}", _) => {
                request.path = api(format!("/groups/{group}/members/{}", self.member_id));
                request.body = Body::Json(json!({"role": "member"}));
            }
            ("POST", "/api/v1/groups/{id}/adoptions", _) => {
                let issue = self.new_issue().await;
                request.path = api(format!("/groups/{group}/adoptions"));
                request.body = Body::Json(json!({"issue_id": issue}));
            }
            ("DELETE", "/api/v1/groups/{id}/adoptions/{issue_id}", _) => {
                let issue = self.adopted_issue().await;
                request.path = api(format!("/groups/{group}/adoptions/{issue}"));
            }
            ("POST", "/api/v1/groups/{id}/opportunities", _) => {
                request.path = api(format!("/groups/{group}/opportunities"));
                request.body = Body::Json(self.opportunity_body(24));
            }
            ("GET", "/api/v1/opportunities", _) => {}
            ("POST", "/api/v1/opportunities", _) => {
                request.body = Body::Json(self.opportunity_body(24));
            }
            ("GET", "/api/v1/opportunities/{id}", "") => {
                request.path = api(format!("/opportunities/{opportunity}"));
            }
            ("GET", "/api/v1/opportunities/{id}", "hidden") => {
                request.path = api(format!("/opportunities/{}", self.hidden_opportunity));
            }
            ("GET", "/api/v1/opportunities/{id}", "draft") => {
                request.path = api(format!("/opportunities/{}", self.draft_opportunity));
            }
            ("PATCH", "/api/v1/opportunities/{id}", variant) => {
                let opportunity = if variant.is_empty() {
                    opportunity
                } else {
                    &self.partner_opportunity
                };
                request.path = api(format!("/opportunities/{opportunity}"));
                request.body = Body::Json(json!({"description": format!("Bring gloves {n}")}));
            }
            ("GET", "/api/v1/opportunities/{id}/pledges", variant) => {
                let opportunity = if variant.is_empty() {
                    opportunity
                } else {
                    &self.partner_opportunity
                };
                request.path = api(format!("/opportunities/{opportunity}/pledges"));
            }
            ("POST", "/api/v1/opportunities/{id}/pledges", _) => {
                request.path = api(format!("/opportunities/{}/pledges", self.unpledged));
                request.body = Body::Json(json!({"kind": "time", "hours": 2}));
            }
            ("GET", "/api/v1/pledges/{id}", _) => {
                request.path = api(format!("/pledges/{pledge}"));
            }
            ("PATCH", "/api/v1/pledges/{id}", _) => {
                request.path = api(format!("/pledges/{pledge}"));
                request.body = Body::Json(json!({"note": format!("Bringing a rake {n}")}));
            }
            ("DELETE", "/api/v1/pledges/{id}", _) => {
                let opportunity = self.new_opportunity(24).await;
                let pledge = self.new_pledge(&opportunity).await;
                request.path = api(format!("/pledges/{pledge}"));
            }
            ("POST", "/api/v1/pledges/{id}/fulfilment", _) => {
                let opportunity = self.new_opportunity(-1).await;
                let pledge = self.new_pledge(&opportunity).await;
                request.path = api(format!("/pledges/{pledge}/fulfilment"));
                request.body = Body::Json(json!({"hours": 1.5}));
            }
            ("POST", "/api/v1/pledges/{id}/verification", _) => {
                let opportunity = self.new_opportunity(-1).await;
                let pledge = self.new_pledge(&opportunity).await;
                let path = format!("/pledges/{pledge}/fulfilment");
                self.send(
                    Method::POST,
                    &path,
                    Some(&self.owner.access_token),
                    Some(json!({"hours": 1.5})),
                    &[200],
                )
                .await;
                request.path = api(format!("/pledges/{pledge}/verification"));
                request.body = Body::Json(json!({"accepted": true}));
            }
            ("GET", "/api/v1/clients", _) => {}
            ("POST", "/api/v1/clients", _) => {
                request.body = Body::Json(json!({"name": format!("Charity {n}"),
                    "scopes": ["issues:read"]}));
            }
            ("GET", "/api/v1/clients/{id}", _) => {
                request.path = api(format!("/clients/{}", self.spare_client));
            }
            ("PATCH", "/api/v1/clients/{id}", _) => {
                request.path = api(format!("/clients/{}", self.spare_client));
                request.body = Body::Json(json!({"name": format!("Spare {n}")}));
            }
            ("POST", "/api/v1/clients/{id}/secret", _) => {
                request.path = api(format!("/clients/{}/secret", self.spare_client));
            }
            ("GET", "/api/v1/webhooks", _) => {}
            ("POST", "/api/v1/webhooks", _) => {
                request.body = Body::Json(json!({"url": format!("http://127.0.0.1:9/hook{n}"),
                    "events": ["issue.*"]}));
            }
            ("GET", "/api/v1/webhooks/{id}", "") => {
                request.path = api(format!("/webhooks/{}", self.webhook));
            }
            ("GET", "/api/v1/webhooks/{id}/deliveries", "") => {
                request.path = api(format!("/webhooks/{}/deliveries", self.webhook));
            }
            (_, "/api/v1/webhooks/{id}" | "/api/v1/webhooks/{id}/deliveries", "another's") => {
                request.path = row.path.replace("{id}", &self.rival_webhook);
            }
            ("DELETE", "/api/v1/webhooks/{id}", _) => {
                let hook = json!({"url": format!("http://127.0.0.1:9/gone{n}"),
                    "events": ["issue.*"]});
                let webhook = id(&self
                    .send(
                        Method::POST,
                        "/webhooks",
                        Some(&self.partner_token),
                        Some(hook),
                        &[201],
                    )
                    .await);
                request.path = api(format!("/webhooks/{webhook}"));
            }
            (method, path, variant) => {
                panic!("no request for the row {method} {path} {variant:?}")
            }
        }
        request
    }
}

fn photo_form() -> Form {
    let part = Part::bytes(crate::photos::jpeg(64, 48))
        .file_name("upload")
        .mime_str("image/jpeg")
        .expect("a mime type");
    Form::new().part("photo", part)
}

fn open311_form(api_key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("api_key", api_key.to_owned()),
        ("service_code", "litter".to_owned()),
        ("lat", LAT.to_string()),
        ("long", LON.to_string()),
        ("description", "Bags by the bench".to_owned()),
    ]
}
