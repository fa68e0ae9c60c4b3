//! Token attacks against a running app: algorithm confusion on an EdDSA service, header
//! tricks and oversized tokens over HTTP.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use actix_web::test;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey, EncodePublicKey};
use pudo::auth::keys::JwtSource;
use pudo::auth::{Keys, Role};
use serde_json::json;
use std::sync::Arc;

fn claims(role: &str) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": "pudo", "aud": "pudo-api", "sub": "eve", "role": role, "iat": now, "exp": now + 600})
}

fn hs256(secret: &[u8], header: &serde_json::Value, claims: &serde_json::Value) -> String {
    use hmac::{Hmac, Mac};
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).expect("key");
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

async fn status_with(app: &TestApp, token: &str) -> (u16, String) {
    let service = test::init_service(pudo::api::app(app.state.clone())).await;
    let req = test::TestRequest::get()
        .uri("/v1/events")
        .insert_header(("authorization", format!("Bearer {token}")))
        .to_request();
    let res = test::call_service(&service, req).await;
    let status = res.status().as_u16();
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    (status, www)
}

async fn eddsa_service_refuses_hs256_signed_with_its_public_key(backend: Backend) {
    let mut app = TestApp::new(backend);
    let signing = ed25519_dalek::SigningKey::from_bytes(&[11u8; 32]);
    let public_pem = signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("pem");
    let public_der = signing
        .verifying_key()
        .to_public_key_der()
        .expect("der")
        .as_bytes()
        .to_vec();
    let pair = JwtSource::Ed25519 {
        private_pem: signing
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pem")
            .as_bytes()
            .to_vec(),
        public_pem: public_pem.clone().into_bytes(),
    };
    let keys = Keys::load(
        &mut app.state.pool.get().expect("conn"),
        &pair,
        "pudo",
        "pudo-api",
    )
    .expect("ed25519 keys");
    app.state.keys = Arc::new(keys);
    // The genuine article works.
    let genuine = app.token(Role::Planner, "alice");
    assert_eq!(status_with(&app, &genuine).await.0, 200);
    // HS256 "signed" with every form of the public key an attacker can get.
    let raw = signing.verifying_key().to_bytes().to_vec();
    for (what, secret) in [
        ("raw key", raw),
        ("PEM", public_pem.into_bytes()),
        ("DER", public_der),
    ] {
        for header in [
            json!({"alg": "HS256", "typ": "JWT"}),
            json!({"alg": "EdDSA", "typ": "JWT"}),
        ] {
            let forged = hs256(&secret, &header, &claims("admin"));
            let refused = app.state.keys.verify(&forged);
            assert!(refused.is_err(), "{what} with {header}");
            let (status, www) = status_with(&app, &forged).await;
            assert_eq!(
                (status, www.as_str()),
                (401, "Bearer"),
                "{what} with {header}"
            );
        }
    }
}
on_both_backends!(eddsa_service_refuses_hs256_signed_with_its_public_key);

async fn header_tricks_are_401_over_http(backend: Backend) {
    let app = TestApp::new(backend);
    let genuine = app.token(Role::Planner, "alice");
    assert_eq!(status_with(&app, &genuine).await.0, 200);
    let parts: Vec<&str> = genuine.split('.').collect();
    // The genuine payload and signature under headers that point elsewhere for the key.
    for header in [
        json!({"alg": "HS256", "typ": "JWT", "kid": "0"}),
        json!({"alg": "HS256", "typ": "JWT", "jku": "http://127.0.0.1:1/jwks"}),
        json!({"alg": "HS256", "typ": "JWT", "x5u": "http://127.0.0.1:1/cert"}),
        json!({"alg": "none", "typ": "JWT"}),
        json!({"alg": "HS256", "typ": "JWE"}),
    ] {
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            parts[1],
            parts[2]
        );
        assert_eq!(status_with(&app, &token).await.0, 401, "{header}");
    }
    let huge = format!("{genuine}{}", "A".repeat(8 * 1024));
    assert_eq!(status_with(&app, &huge).await.0, 401);
}
on_both_backends!(header_tricks_are_401_over_http);
