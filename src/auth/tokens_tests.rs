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
