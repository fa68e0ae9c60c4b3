use super::*;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

#[test]
fn issued_tokens_verify() {
    let keys = Keys::for_tests();
    let token = keys
        .issue(
            "shop:x",
            Role::Partner,
            Some(7),
            chrono::Duration::minutes(5),
        )
        .expect("issue");
    let claims = keys.verify(&token).expect("valid");
    assert_eq!(
        (claims.role, claims.shop, claims.sub.as_str()),
        (Role::Partner, Some(7), "shop:x")
    );
    assert_eq!(claims.partner_shop().expect("partner"), 7);
    assert!(claims.require(&[Role::Admin]).is_err());
}

#[test]
fn forgeries_are_refused() {
    let keys = Keys::for_tests();
    let token = keys
        .issue("acme", Role::Merchant, None, chrono::Duration::minutes(5))
        .expect("issue");
    let parts: Vec<&str> = token.split('.').collect();
    // Tampered payload: role changed to admin, old signature kept.
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("utf8");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.replace("merchant", "admin")),
        parts[2]
    );
    assert!(keys.verify(&forged).is_err());
    // alg: none with no signature.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    assert!(keys.verify(&none).is_err());
    // Expired long ago.
    let old = keys
        .issue("acme", Role::Merchant, None, chrono::Duration::minutes(-10))
        .expect("issue");
    assert!(matches!(keys.verify(&old), Err(AuthError::Invalid(m)) if m.contains("Expired")));
    // Wrong issuer or audience.
    let mut other = Keys::for_tests();
    other.audience = "someone-else".into();
    let foreign = other
        .issue("acme", Role::Merchant, None, chrono::Duration::minutes(5))
        .expect("issue");
    assert!(keys.verify(&foreign).is_err());
    let mut other = Keys::for_tests();
    other.issuer = "evil".into();
    let foreign = other
        .issue("acme", Role::Merchant, None, chrono::Duration::minutes(5))
        .expect("issue");
    assert!(keys.verify(&foreign).is_err());
    assert!(keys.verify("not.a.token").is_err());
}

#[test]
fn partner_tokens_need_exactly_one_shop() {
    let keys = Keys::for_tests();
    assert!(keys
        .issue("x", Role::Partner, None, chrono::Duration::minutes(5))
        .is_err());
    assert!(keys
        .issue("x", Role::Admin, Some(1), chrono::Duration::minutes(5))
        .is_err());
}

#[test]
fn carrier_tokens_carry_no_shop() {
    let keys = Keys::for_tests();
    let token = keys
        .issue(
            "swift-couriers",
            Role::Carrier,
            None,
            chrono::Duration::minutes(5),
        )
        .expect("issue");
    let claims = keys.verify(&token).expect("valid");
    assert_eq!((claims.role, claims.shop), (Role::Carrier, None));
    assert_eq!(claims.role.to_string(), "carrier");
    assert!(claims.require(&[Role::Carrier, Role::Admin]).is_ok());
    assert!(claims.partner_shop().is_err());
    assert!(keys
        .issue("x", Role::Carrier, Some(1), chrono::Duration::minutes(5))
        .is_err());
}

/// Signs `header.claims` with HMAC-SHA256 under the test secret, whatever they say.
fn sign_hs256(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    use hmac::{Hmac, Mac};
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&[7u8; 32]).expect("key");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn claims_at(iat: i64, exp: i64) -> serde_json::Value {
    serde_json::json!({
        "iss": "pudo", "aud": "pudo-api", "sub": "acme", "role": "admin", "iat": iat, "exp": exp
    })
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn refusal(keys: &Keys, token: &str) -> String {
    match keys.verify(token) {
        Err(AuthError::Invalid(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_hand_signed_baseline_verifies() {
    // The helper makes valid tokens: every refusal below is due to the one thing changed.
    let keys = Keys::for_tests();
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT"});
    let token = sign_hs256(&header, &claims_at(now(), now() + 300));
    assert_eq!(keys.verify(&token).expect("valid").role, Role::Admin);
}

#[test]
fn the_algorithm_is_pinned() {
    let keys = Keys::for_tests();
    let claims = claims_at(now(), now() + 300);
    // The same secret, a stronger HMAC: still refused, the algorithm is the service's.
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&[7u8; 32]),
    )
    .expect("sign");
    assert!(refusal(&keys, &hs512).contains("algorithm must be \"HS256\""));
    // A header claiming another algorithm over a valid HS256 signature.
    for alg in ["EdDSA", "RS256", "none", "NONE", "hs256"] {
        let token = sign_hs256(&serde_json::json!({"alg": alg, "typ": "JWT"}), &claims);
        assert!(
            refusal(&keys, &token).contains("algorithm must be"),
            "{alg}"
        );
    }
    // No alg at all.
    let token = sign_hs256(&serde_json::json!({"typ": "JWT"}), &claims);
    assert!(refusal(&keys, &token).contains("algorithm must be"));
}

#[test]
fn key_locating_headers_are_refused_not_followed() {
    let keys = Keys::for_tests();
    let claims = claims_at(now(), now() + 300);
    let extras = [
        ("kid", serde_json::json!("../../service_keys/jwt_hs256")),
        ("jku", serde_json::json!("https://evil.example/jwks.json")),
        ("x5u", serde_json::json!("https://evil.example/cert.pem")),
        ("jwk", serde_json::json!({"kty": "oct", "k": "AAAA"})),
        ("x5c", serde_json::json!(["MIIB"])),
        ("crit", serde_json::json!(["exp"])),
        ("cty", serde_json::json!("JWT")),
    ];
    for (field, value) in extras {
        let mut header = serde_json::json!({"alg": "HS256", "typ": "JWT"});
        header[field] = value;
        // Correctly signed with the service key: refused for the header alone.
        let token = sign_hs256(&header, &claims);
        let why = refusal(&keys, &token);
        assert!(
            why.contains(&format!("{field:?} is not accepted")),
            "{field}: {why}"
        );
    }
}

#[test]
fn the_type_must_be_jwt() {
    let keys = Keys::for_tests();
    let claims = claims_at(now(), now() + 300);
    for typ in [
        serde_json::json!("at+jwt"),
        serde_json::json!("JWE"),
        serde_json::json!(null),
        serde_json::json!(1),
    ] {
        let token = sign_hs256(&serde_json::json!({"alg": "HS256", "typ": typ}), &claims);
        assert!(refusal(&keys, &token).contains("typ"), "{typ}");
    }
    let untyped = sign_hs256(&serde_json::json!({"alg": "HS256"}), &claims);
    assert!(refusal(&keys, &untyped).contains("typ"));
}

#[test]
fn clock_skew_is_tolerated_up_to_the_leeway() {
    // Margins of 10 s either side of the 30 s leeway, so the test cannot flip on a slow run.
    let keys = Keys::for_tests();
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT"});
    let leeway = CLOCK_LEEWAY_SECS as i64;
    let just_expired = sign_hs256(&header, &claims_at(now() - 600, now() - leeway + 10));
    assert!(keys.verify(&just_expired).is_ok());
    let expired = sign_hs256(&header, &claims_at(now() - 600, now() - leeway - 10));
    assert!(refusal(&keys, &expired).contains("Expired"));

    let iat_soon = sign_hs256(&header, &claims_at(now() + leeway - 10, now() + 600));
    assert!(keys.verify(&iat_soon).is_ok());
    let iat_future = sign_hs256(&header, &claims_at(now() + leeway + 10, now() + 600));
    assert!(refusal(&keys, &iat_future).contains("future"));

    let mut nbf_soon = claims_at(now(), now() + 600);
    nbf_soon["nbf"] = (now() + leeway - 10).into();
    assert!(keys.verify(&sign_hs256(&header, &nbf_soon)).is_ok());
    let mut nbf_future = claims_at(now(), now() + 600);
    nbf_future["nbf"] = (now() + leeway + 10).into();
    assert!(refusal(&keys, &sign_hs256(&header, &nbf_future)).contains("Immature"));
}

#[test]
fn huge_and_malformed_tokens_are_refused_before_decoding() {
    let keys = Keys::for_tests();
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT"});
    let mut claims = claims_at(now(), now() + 300);
    claims["sub"] = "x".repeat(MAX_TOKEN_BYTES).into();
    let huge = sign_hs256(&header, &claims);
    assert!(refusal(&keys, &huge).contains("longer than 4096 bytes"));
    assert!(refusal(&keys, &"a".repeat(1 << 20)).contains("longer than"));
    for garbage in ["", ".", "..", "!!!.x.y", "e30.e30.", "bnVsbA.e30.x"] {
        assert!(keys.verify(garbage).is_err(), "{garbage:?}");
    }
}
