//! Token keys: generated and persisted, a shared secret, or an Ed25519 key pair.

use crate::support::{Backend, TestDb};
use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey, EncodePublicKey};
use pudo::auth::keys::JwtSource;
use pudo::auth::{Keys, Role};

fn ttl() -> chrono::Duration {
    chrono::Duration::minutes(5)
}

fn generated_keys_survive_restarts(backend: Backend) {
    let db = TestDb::new(backend);
    let pool = db.pool();
    let first = Keys::load(
        &mut pool.get().expect("conn"),
        &JwtSource::Generated,
        "pudo",
        "pudo-api",
    )
    .expect("keys");
    let token = first
        .issue("acme", Role::Merchant, None, ttl())
        .expect("token");
    // A restart (or a second instance) loads the same key from the database.
    let second = Keys::load(
        &mut pool.get().expect("conn"),
        &JwtSource::Generated,
        "pudo",
        "pudo-api",
    )
    .expect("keys");
    assert_eq!(second.verify(&token).expect("still valid").sub, "acme");
    assert_eq!(first.data_key(), second.data_key());
    // Another database has other keys.
    let other_db = TestDb::new(backend);
    let other = Keys::load(
        &mut other_db.pool().get().expect("conn"),
        &JwtSource::Generated,
        "pudo",
        "pudo-api",
    )
    .expect("keys");
    assert!(other.verify(&token).is_err());
}

#[test]
fn generated_keys_survive_restarts_sqlite() {
    generated_keys_survive_restarts(Backend::Sqlite);
}

#[test]
fn generated_keys_survive_restarts_postgres() {
    generated_keys_survive_restarts(Backend::Postgres);
}

#[test]
fn shared_secret_and_ed25519_pairs() {
    let db = TestDb::new(Backend::Sqlite);
    let mut conn = db.pool().get().expect("conn");
    let short = JwtSource::Secret("too short".into());
    assert!(Keys::load(&mut conn, &short, "pudo", "pudo-api").is_err());
    let secret = JwtSource::Secret("s".repeat(40));
    let a = Keys::load(&mut conn, &secret, "pudo", "pudo-api").expect("keys");
    let b = Keys::load(&mut conn, &secret, "pudo", "pudo-api").expect("keys");
    let token = a.issue("ops", Role::Admin, None, ttl()).expect("token");
    assert_eq!(b.verify(&token).expect("valid").role, Role::Admin);

    let signing = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let pair = JwtSource::Ed25519 {
        private_pem: signing
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pem")
            .as_bytes()
            .to_vec(),
        public_pem: signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem")
            .into_bytes(),
    };
    let ed = Keys::load(&mut conn, &pair, "pudo", "pudo-api").expect("ed25519 keys");
    let token = ed.issue("ops", Role::Planner, None, ttl()).expect("token");
    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(ed.verify(&token).expect("valid").role, Role::Planner);
    assert!(
        a.verify(&token).is_err(),
        "an HS256 service refuses an EdDSA token"
    );
    assert!(
        ed.verify(&a.issue("ops", Role::Admin, None, ttl()).expect("token"))
            .is_err(),
        "and vice versa"
    );
    let broken = JwtSource::Ed25519 {
        private_pem: b"not a key".to_vec(),
        public_pem: b"nor this".to_vec(),
    };
    let err = Keys::load(&mut conn, &broken, "pudo", "pudo-api")
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("PUDO_JWT_PRIVATE_KEY_FILE"),
        "{err}"
    );
}
