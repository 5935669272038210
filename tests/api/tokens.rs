//! Access tokens: only an EdDSA `at+jwt` signed by one of our keys, for our issuer and
//! audience, inside its validity window and for a live session, opens the API. Key
//! rotation keeps earlier tokens working; the CLI bootstraps staff accounts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{Citizen, TestApp, problem};

/// The claims of a JWT, read without checking anything.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload"))
        .expect("JSON payload")
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("serialisable"))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims that the server itself would issue for this citizen's session, fresh now.
fn valid_claims(app: &TestApp, citizen: &Citizen) -> Value {
    let issued = claims_of(&citizen.access_token);
    let now = now();
    json!({
        "iss": app.state.config.public_url,
        "aud": "civitas-api",
        "sub": issued["sub"],
        "sid": citizen.session_id,
        "role": "citizen",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid::Uuid::now_v7().to_string(),
    })
}

fn access_header(kid: &str) -> Header {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    header.typ = Some("at+jwt".to_owned());
    header
}

/// The server's current signing key.
fn real_key(app: &TestApp) -> (String, EncodingKey) {
    let mut conn = app.state.pool.get().expect("a database connection");
    app.state
        .keys
        .signing_key(&mut conn)
        .expect("the signing key")
}

/// Signs `claims` with the server's real signing key, under `header` (its kid is set to
/// the real one unless the caller set another).
fn sign_with_real_key(app: &TestApp, mut header: Header, claims: &Value) -> String {
    let (kid, key) = real_key(app);
    header.kid.get_or_insert(kid);
    jsonwebtoken::encode(&header, claims, &key).expect("signed")
}

/// A real-key token for `citizen`'s session, issued and valid from `from` seconds from
/// now and expiring at `until` seconds from now (negative: in the past).
fn token_valid_between(app: &TestApp, citizen: &Citizen, from: i64, until: i64) -> String {
    let mut claims = valid_claims(app, citizen);
    let now = now();
    claims["iat"] = json!(now + from);
    claims["nbf"] = json!(now + from);
    claims["exp"] = json!(now + until);
    sign_with_real_key(app, access_header(&real_key(app).0), &claims)
}

async fn me(app: &TestApp, token: &str) -> Response {
    app.get_as("/me", token).await
}

async fn jwks(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

#[actix_web::test]
async fn a_token_forged_with_the_real_key_for_a_real_session_is_accepted() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let claims = valid_claims(&app, &ada);
    let token = sign_with_real_key(&app, access_header(&real_key(&app).0), &claims);

    let response = me(&app, &token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["id"], claims["sub"]);
    assert_eq!(body["email"], "ada@example.org");
}

#[actix_web::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let (kid, _) = real_key(&app);
    let claims = b64_json(&valid_claims(&app, &ada));
    for alg in ["none", "None", "NONE"] {
        let header = b64_json(&json!({"alg": alg, "typ": "at+jwt", "kid": kid}));
        let token = format!("{header}.{claims}.");
        problem(me(&app, &token).await, 401, "invalid_token").await;
    }
    // The very same claims, properly signed, do open the API.
    let signed = sign_with_real_key(&app, access_header(&kid), &valid_claims(&app, &ada));
    assert_eq!(me(&app, &signed).await.status(), 200);
}

#[actix_web::test]
async fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let (kid, _) = real_key(&app);
    let keys = jwks(&app).await;
    let jwk = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|jwk| jwk["kid"] == kid.as_str())
        .expect("the signing key is published");
    let x = jwk["x"].as_str().expect("x");
    let raw = URL_SAFE_NO_PAD.decode(x).expect("x is base64url");
    assert_eq!(raw.len(), 32, "an Ed25519 public key");

    for secret in [x.as_bytes(), raw.as_slice()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        header.typ = Some("at+jwt".to_owned());
        let token = jsonwebtoken::encode(
            &header,
            &valid_claims(&app, &ada),
            &EncodingKey::from_secret(secret),
        )
        .expect("signed");
        problem(me(&app, &token).await, 401, "invalid_token").await;
    }
}

#[actix_web::test]
async fn a_token_whose_payload_was_tampered_with_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bob = app.citizen("bob@example.org").await;
    assert_eq!(me(&app, &ada.access_token).await.status(), 200);

    let parts: Vec<&str> = ada.access_token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let original = claims_of(&ada.access_token);
    let bob_claims = claims_of(&bob.access_token);
    let tamperings: [(&str, Value); 4] = [
        ("role", json!("admin")),
        ("sub", bob_claims["sub"].clone()),
        ("sid", json!(bob.session_id)),
        (
            "exp",
            json!(original["exp"].as_i64().expect("exp") + 86_400),
        ),
    ];
    for (claim, value) in tamperings {
        let mut claims = original.clone();
        claims[claim] = value;
        let token = format!("{}.{}.{}", parts[0], b64_json(&claims), parts[2]);
        problem(me(&app, &token).await, 401, "invalid_token").await;
    }
    // The signature itself altered (last character flipped).
    let mut signature = parts[2].to_owned();
    let last = signature.pop().expect("a signature");
    signature.push(if last == 'A' { 'Q' } else { 'A' });
    let token = format!("{}.{}.{signature}", parts[0], parts[1]);
    problem(me(&app, &token).await, 401, "invalid_token").await;
}

#[actix_web::test]
async fn an_expired_token_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let token = token_valid_between(&app, &ada, -1500, -600);
    problem(me(&app, &token).await, 401, "invalid_token").await;
}

/// The server remembers tokens whose signature it checked; a remembered token still
/// stops working when it expires (here: inside the 30 s leeway at first, then past it).
#[actix_web::test]
async fn a_token_accepted_before_is_refused_once_it_expires() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let token = token_valid_between(&app, &ada, -900, -27);
    assert_eq!(me(&app, &token).await.status(), 200);
    assert_eq!(me(&app, &token).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    problem(me(&app, &token).await, 401, "invalid_token").await;
}

#[actix_web::test]
async fn a_token_not_valid_yet_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let token = token_valid_between(&app, &ada, 600, 1500);
    problem(me(&app, &token).await, 401, "invalid_token").await;
}

#[actix_web::test]
async fn a_token_from_another_issuer_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let kid = real_key(&app).0;
    let public_url = app.state.config.public_url.clone();
    for issuer in [
        json!("https://evil.example.org"),
        json!(format!("{public_url}/")),
        json!(public_url.to_uppercase()),
        json!([public_url]),
    ] {
        let mut claims = valid_claims(&app, &ada);
        claims["iss"] = issuer;
        let token = sign_with_real_key(&app, access_header(&kid), &claims);
        problem(me(&app, &token).await, 401, "invalid_token").await;
    }
    let mut claims = valid_claims(&app, &ada);
    claims.as_object_mut().expect("object").remove("iss");
    let token = sign_with_real_key(&app, access_header(&kid), &claims);
    problem(me(&app, &token).await, 401, "invalid_token").await;
}

#[actix_web::test]
async fn a_token_for_another_audience_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let kid = real_key(&app).0;
    for audience in [
        json!("partner-api"),
        json!("civitas-api-admin"),
        json!(["partner-api"]),
    ] {
        let mut claims = valid_claims(&app, &ada);
        claims["aud"] = audience;
        let token = sign_with_real_key(&app, access_header(&kid), &claims);
        problem(me(&app, &token).await, 401, "invalid_token").await;
    }
    let mut claims = valid_claims(&app, &ada);
    claims.as_object_mut().expect("object").remove("aud");
    let token = sign_with_real_key(&app, access_header(&kid), &claims);
    problem(me(&app, &token).await, 401, "invalid_token").await;
}

#[actix_web::test]
async fn a_token_without_the_access_token_typ_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let kid = real_key(&app).0;
    for typ in [Some("JWT"), Some("id+jwt"), Some("AT+JWT "), None] {
        let mut header = access_header(&kid);
        header.typ = typ.map(str::to_owned);
        let token = sign_with_real_key(&app, header, &valid_claims(&app, &ada));
        problem(me(&app, &token).await, 401, "invalid_token").await;
    }
}

#[actix_web::test]
async fn a_token_without_a_kid_or_with_an_unknown_one_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let (real_kid, _) = real_key(&app);
    let stranger = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let der = stranger.to_pkcs8_der().expect("pkcs8");
    let stranger_key = EncodingKey::from_ed_der(der.as_bytes());

    // A key we never issued, under a kid we do not know.
    let token = jsonwebtoken::encode(
        &access_header(&uuid::Uuid::new_v4().simple().to_string()),
        &valid_claims(&app, &ada),
        &stranger_key,
    )
    .expect("signed");
    problem(me(&app, &token).await, 401, "invalid_token").await;

    // The same foreign key, claiming to be our key.
    let token = jsonwebtoken::encode(
        &access_header(&real_kid),
        &valid_claims(&app, &ada),
        &stranger_key,
    )
    .expect("signed");
    problem(me(&app, &token).await, 401, "invalid_token").await;

    // Our key, but no kid at all.
    let (_, key) = real_key(&app);
    let mut header = access_header(&real_kid);
    header.kid = None;
    let token = jsonwebtoken::encode(&header, &valid_claims(&app, &ada), &key).expect("signed");
    problem(me(&app, &token).await, 401, "invalid_token").await;
}

#[actix_web::test]
async fn a_validly_signed_token_for_a_session_that_is_not_the_subjects_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    let bob = app.citizen("bob@example.org").await;
    let kid = real_key(&app).0;

    // Ada's sub with Bob's session.
    let mut claims = valid_claims(&app, &ada);
    claims["sid"] = json!(bob.session_id);
    let token = sign_with_real_key(&app, access_header(&kid), &claims);
    problem(me(&app, &token).await, 401, "session_ended").await;

    // A session that never existed.
    let mut claims = valid_claims(&app, &ada);
    claims["sid"] = json!(uuid::Uuid::now_v7().to_string());
    let token = sign_with_real_key(&app, access_header(&kid), &claims);
    problem(me(&app, &token).await, 401, "session_ended").await;
}

#[actix_web::test]
async fn a_refresh_token_is_not_an_access_token() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;
    problem(me(&app, &ada.refresh_token).await, 401, "invalid_token").await;
    assert_eq!(me(&app, &ada.access_token).await.status(), 200);
}

#[actix_web::test]
async fn a_missing_or_malformed_authorization_header_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.citizen("ada@example.org").await;

    let response = app.client.get(app.api("/me")).send().await.expect("sent");
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        www_authenticate.starts_with("Bearer"),
        "{www_authenticate:?}"
    );
    problem(response, 401, "missing_token").await;

    let garbage = [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer not-a-jwt".to_owned(),
        "Bearer a.b.c".to_owned(),
        format!("Basic {}", ada.access_token),
        format!("Token {}", ada.access_token),
        ada.access_token.clone(),
        format!("Bearer {}", "x".repeat(5000)),
    ];
    for value in garbage {
        let response = app
            .client
            .get(app.api("/me"))
            .header("Authorization", &value)
            .send()
            .await
            .expect("sent");
        problem(response, 401, "invalid_token").await;
    }
    // The scheme is case-insensitive: the real token still works when spelt `bearer`.
    let response = app
        .client
        .get(app.api("/me"))
        .header("Authorization", format!("bearer {}", ada.access_token))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
}

#[actix_web::test]
async fn rotating_the_signing_key_keeps_earlier_tokens_valid() {
    let app = TestApp::spawn().await;
    let before = app.citizen("ada@example.org").await;
    let old_kid = jsonwebtoken::decode_header(&before.access_token)
        .expect("header")
        .kid
        .expect("kid");
    assert_eq!(
        jwks(&app).await["keys"].as_array().expect("keys").len(),
        1,
        "a fresh database has one key"
    );

    let output = app.cli(&["keys", "rotate"], None);
    assert!(
        output.status.success(),
        "keys rotate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let new_kid = String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert!(!new_kid.is_empty());
    assert_ne!(new_kid, old_kid);

    let after = app
        .sign_in("ada@example.org", crate::helpers::PASSWORD)
        .await;
    let header = jsonwebtoken::decode_header(&after.access_token).expect("header");
    assert_eq!(
        header.kid.as_deref(),
        Some(new_kid.as_str()),
        "the newest key signs"
    );

    assert_eq!(me(&app, &before.access_token).await.status(), 200);
    assert_eq!(me(&app, &after.access_token).await.status(), 200);

    let keys = jwks(&app).await;
    let kids: Vec<&str> = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|jwk| jwk["kid"].as_str().expect("kid"))
        .collect();
    assert_eq!(kids.len(), 2, "{keys}");
    assert!(kids.contains(&old_kid.as_str()), "{keys}");
    assert!(kids.contains(&new_kid.as_str()), "{keys}");
    for jwk in keys["keys"].as_array().expect("keys") {
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["alg"], "EdDSA");
        assert_eq!(jwk["use"], "sig");
        assert!(
            jwk.get("d").is_none(),
            "no private key material is published"
        );
    }
}

#[actix_web::test]
async fn the_cli_creates_an_admin_whose_email_counts_as_verified() {
    let app = TestApp::spawn().await;
    let args = [
        "user",
        "create",
        "--email",
        "chief@example.org",
        "--password-stdin",
        "--role",
        "admin",
    ];
    let output = app.cli(&args, Some("a strong passphrase here\n"));
    assert!(
        output.status.success(),
        "user create failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let account_id = String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();

    let chief = app
        .sign_in("chief@example.org", "a strong passphrase here")
        .await;
    let response = me(&app, &chief.access_token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["id"], account_id.as_str());
    assert_eq!(body["role"], "admin");
    assert_eq!(body["email_verified"], true);
    assert_eq!(claims_of(&chief.access_token)["role"], "admin");

    let again = app.cli(&args, Some("another strong passphrase\n"));
    assert!(
        !again.status.success(),
        "a second account with the same email"
    );
    // Nor with the same email spelt differently.
    let again = app.cli(
        &[
            "user",
            "create",
            "--email",
            "Chief@Example.ORG",
            "--password-stdin",
            "--role",
            "admin",
        ],
        Some("another strong passphrase\n"),
    );
    assert!(
        !again.status.success(),
        "emails are compared case-insensitively"
    );
    // The first password still signs in: the failed runs changed nothing.
    app.sign_in("chief@example.org", "a strong passphrase here")
        .await;
    problem(
        app.login("chief@example.org", "another strong passphrase")
            .await,
        401,
        "invalid_credentials",
    )
    .await;
}
