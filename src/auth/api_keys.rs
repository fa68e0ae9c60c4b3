//! Per-shop partner API keys: shown once, stored only as a SHA-256 hash.
//!
//! Keys are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force
//! that a slow password hash would protect.
//!
//! The row is looked up by the shop's external id (public), never by the key or its hash, and
//! the hashes are compared in constant time (`subtle`), so response time tells nothing about
//! how much of a guessed key was right. The hash is computed whether or not the shop exists.

use super::AuthError;
use crate::db::schema::{shop_api_keys, shops};
use crate::db::DbConn;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Creates or replaces a shop's API key; returns the shop id and the key (shown once).
pub fn rotate(conn: &mut DbConn, external_id: &str) -> Result<Option<(i64, String)>, AuthError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = format!("pk_{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&key);
    let Some(shop_id) = shops::table
        .filter(shops::external_id.eq(external_id))
        .select(shops::id)
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    conn.transaction(|conn| -> QueryResult<()> {
        diesel::delete(shop_api_keys::table.find(shop_id)).execute(conn)?;
        diesel::insert_into(shop_api_keys::table)
            .values((
                shop_api_keys::shop_id.eq(shop_id),
                shop_api_keys::key_hash.eq(&hash),
                shop_api_keys::created_at.eq(chrono::Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        Ok(())
    })?;
    Ok(Some((shop_id, key)))
}

/// The shop id when `key` is the current key of the shop `external_id`.
pub fn verify(conn: &mut DbConn, external_id: &str, key: &str) -> Result<i64, AuthError> {
    let row: Option<(i64, String)> = shops::table
        .inner_join(shop_api_keys::table.on(shop_api_keys::shop_id.eq(shops::id)))
        .filter(shops::external_id.eq(external_id))
        .select((shops::id, shop_api_keys::key_hash))
        .first(conn)
        .optional()?;
    let given = hash(key);
    match row {
        Some((id, stored)) if bool::from(stored.as_bytes().ct_eq(given.as_bytes())) => Ok(id),
        _ => Err(AuthError::BadApiKey),
    }
}

fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
