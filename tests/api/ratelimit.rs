//! Rate limits: per address without a valid token, per account or partner client with
//! one, stricter classes on top for credentials, reports, comments and pledges; `429`
//! problem+json with `Retry-After`, and `RateLimit-*` headers on counted answers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use civitas::ratelimit::RateLimits;
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};

async fn with_limits(raw: &str) -> TestApp {
    let limits = RateLimits::parse(raw).unwrap();
    TestApp::spawn_with(|config| config.rate_limits = limits).await
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
}

fn number(response: &Response, name: &str) -> u64 {
    header(response, name)
        .unwrap_or_else(|| panic!("no {name}"))
        .parse()
        .unwrap()
}

/// `(RateLimit-Limit, RateLimit-Remaining)`.
fn standing(response: &Response) -> (u64, u64) {
    (
        number(response, "ratelimit-limit"),
        number(response, "ratelimit-remaining"),
    )
}

async fn categories(app: &TestApp) -> Response {
    app.client.get(app.api("/categories")).send().await.unwrap()
}

/// Asserts a rate-limit refusal and returns its `Retry-After`.
async fn refused(response: Response, limit: u64) -> u64 {
    assert_eq!(standing(&response), (limit, 0));
    let retry_after = number(&response, "retry-after");
    assert!(retry_after >= 1, "Retry-After: {retry_after}");
    assert!(number(&response, "ratelimit-reset") >= retry_after);
    problem(response, 429, "too_many_requests").await;
    retry_after
}

#[actix_web::test]
async fn an_anonymous_caller_is_limited_per_address_with_429_and_retry_after() {
    let app = with_limits("anonymous=3/m").await;
    for remaining in [2, 1, 0] {
        let response = categories(&app).await;
        assert_eq!(response.status(), 200);
        assert_eq!(standing(&response), (3, remaining));
        assert_eq!(header(&response, "ratelimit-policy").unwrap(), "3;w=60");
        let reset = number(&response, "ratelimit-reset");
        assert!((1..=60).contains(&reset), "RateLimit-Reset: {reset}");
    }

    let response = categories(&app).await;
    let retry_after = refused(response, 3).await;
    // One request comes back every 20 seconds.
    assert!(retry_after <= 20, "Retry-After: {retry_after}");
    let response = app.client.get(app.api("/issues")).send().await.unwrap();
    assert_eq!(response.status(), 429, "the limit covers every route");

    // Probes are never limited.
    let response = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "ratelimit-limit"), None);
}

#[actix_web::test]
async fn only_a_token_this_server_signed_escapes_the_address_limit() {
    let app = with_limits("anonymous=5/h,account=100/h,auth=off").await;
    // Signing up and in: three requests from the address.
    let token = app.citizen("ana@example.org").await.access_token;
    let response = app.get_as("/categories", &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        standing(&response),
        (100, 99),
        "counted against the account"
    );

    // The same token claiming another account: the signature no longer matches.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("someone-else");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = parts.join(".");
    // A well-formed token signed by another server's key.
    let foreign = TestApp::spawn()
        .await
        .citizen("elsewhere@example.org")
        .await
        .access_token;
    for (token, remaining) in [(forged.as_str(), 1), (foreign.as_str(), 0)] {
        let response = app.get_as("/categories", token).await;
        assert_eq!(
            standing(&response),
            (5, remaining),
            "counted against the address"
        );
    }
    refused(app.get_as("/categories", "not-a-token").await, 5).await;
}

#[actix_web::test]
async fn the_trusted_proxy_setting_decides_which_address_is_counted() {
    let behind_proxy = TestApp::spawn_with(|config| {
        config.rate_limits = RateLimits::parse("anonymous=2/m").unwrap();
        config.trusted_proxy_hops = 1;
    })
    .await;
    let from = |app: &TestApp, forwarded: &str| {
        app.client
            .get(app.api("/categories"))
            .header("x-forwarded-for", forwarded)
            .send()
    };
    for _ in 0..2 {
        assert_eq!(
            from(&behind_proxy, "198.51.100.1").await.unwrap().status(),
            200
        );
    }
    refused(from(&behind_proxy, "198.51.100.1").await.unwrap(), 2).await;
    // A client may prepend anything; the proxy's own entry is the one counted.
    let response = from(&behind_proxy, "198.51.100.1, 198.51.100.2")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(standing(&response), (2, 1));

    // Without a trusted proxy the header is the client's say, and is ignored.
    let direct = with_limits("anonymous=2/m").await;
    for forwarded in ["198.51.100.1", "198.51.100.2"] {
        assert_eq!(from(&direct, forwarded).await.unwrap().status(), 200);
    }
    refused(from(&direct, "198.51.100.3").await.unwrap(), 2).await;
}

#[actix_web::test]
async fn sign_in_and_sign_up_meet_the_auth_limit_before_the_general_one() {
    let app = with_limits("anonymous=1000/24h,auth=2/m").await;
    for _ in 0..2 {
        let response = app.login("nobody@example.org", "wrong password").await;
        assert_eq!(response.status(), 401);
        assert_eq!(standing(&response).0, 2, "the auth class is the closest");
    }
    refused(app.login("nobody@example.org", "wrong password").await, 2).await;
    let response = app
        .register("new@example.org", "correct horse battery", "New")
        .await;
    let body = problem(response, 429, "too_many_requests").await;
    assert!(
        body["detail"].as_str().unwrap().contains("sign-in"),
        "{body}"
    );

    // Other routes still answer, and the refused requests spent none of the general limit.
    let response = categories(&app).await;
    assert_eq!(response.status(), 200);
    assert_eq!(standing(&response), (1000, 997));
}

#[actix_web::test]
async fn one_citizens_comments_limit_neither_another_citizen_nor_their_own_reads() {
    let app = with_limits("comment=2/h,auth=off").await;
    let ana = app.citizen("ana@example.org").await;
    let ben = app.citizen("ben@example.org").await;
    let response = app
        .post_json_as(
            "/issues",
            &ana.access_token,
            &json!({"category": "litter", "title": "Bags by the bench", "description": "Bags",
                    "lat": 51.5072, "lon": -0.1276}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let issue: Value = response.json().await.unwrap();
    let comments = format!("/issues/{}/comments", issue["id"].as_str().unwrap());
    let comment = json!({"body": "I can bring bin bags."});

    for remaining in [1, 0] {
        let response = app
            .post_json_as(&comments, &ana.access_token, &comment)
            .await;
        assert_eq!(response.status(), 201);
        assert_eq!(standing(&response), (2, remaining));
    }
    let response = app
        .post_json_as(&comments, &ana.access_token, &comment)
        .await;
    assert_eq!(standing(&response), (2, 0));
    let body = problem(response, 429, "too_many_requests").await;
    assert!(
        body["detail"].as_str().unwrap().contains("comments"),
        "{body}"
    );

    // Ana still reads, counted against her account's general limit.
    let timeline = format!("/issues/{}/timeline", issue["id"].as_str().unwrap());
    let response = app.get_as(&timeline, &ana.access_token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(standing(&response).0, 600);

    // Ben, on the same address, has his own count.
    let response = app
        .post_json_as(&comments, &ben.access_token, &comment)
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(standing(&response), (2, 1));
}

#[actix_web::test]
async fn a_partner_client_is_limited_by_its_client_id() {
    let app = with_limits("report=2/h,auth=off").await;
    let first = app.partner("First Food Bank", &["issues:write"]);
    let second = app.partner("Second Food Bank", &["issues:write"]);
    let (first, second) = (
        app.partner_token(&first).await,
        app.partner_token(&second).await,
    );
    let report = |title: &str| {
        json!({"category": "litter", "title": title, "description": "Bags",
               "lat": 51.5072, "lon": -0.1276})
    };

    for remaining in [1, 0] {
        let response = app
            .post_json_as("/issues", &first, &report("Bags by the bridge"))
            .await;
        assert_eq!(response.status(), 201);
        assert_eq!(standing(&response), (2, remaining));
    }
    refused(
        app.post_json_as("/issues", &first, &report("Bags by the bridge"))
            .await,
        2,
    )
    .await;

    let response = app
        .post_json_as("/issues", &second, &report("Bags by the bridge"))
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(standing(&response), (2, 1));
}

#[actix_web::test]
async fn off_turns_every_limit_and_header_off() {
    let app = with_limits("off").await;
    // More requests than any default allows: 300 reads, 25 sign-ups a minute.
    for _ in 0..301 {
        let response = categories(&app).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "ratelimit-limit"), None);
    }
    for _ in 0..25 {
        let response = app.register("not an email", "x", "").await;
        assert_eq!(response.status(), 422);
        assert_eq!(header(&response, "ratelimit-limit"), None);
    }
}

#[actix_web::test]
async fn browsers_may_read_the_rate_limit_headers() {
    let limits = RateLimits::parse("anonymous=5/m").unwrap();
    let app = TestApp::spawn_with(|config| {
        config.rate_limits = limits;
        config.cors_origins = vec!["https://app.example".into()];
    })
    .await;
    let response = app
        .client
        .get(app.api("/categories"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let exposed = header(&response, "access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "ratelimit-policy",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
}
