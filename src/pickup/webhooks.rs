//! Delivering outbox events to merchants' webhooks.
//!
//! Each request is a JSON `POST` with `Pudo-Event-Id` (for de-duplication) and
//! `Pudo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`.
//! A 2xx answer marks the event delivered; anything else is retried with backoff. A pickup
//! code travels sealed in the outbox and is opened only here, into the request body.
//!
//! The point an event is about (`pickup_point_id` of its reservation or return) is added at
//! delivery as `pickup_point`: its name, position, address, phone and localised texts from the
//! index, as they are when the event is sent, so a label can be printed from the event alone.
//! The outbox row stays as the write path wrote it.

use super::{codes, outbox};
use crate::db::{DbError, Pool};
use crate::network::address::PointContact;
use crate::network::service::Network;
use chrono::Utc;
use serde_json::Value;
use std::time::Duration;

/// How long a claimed event waits before another attempt may take it over: a claim covers one
/// request (at most 10 s, the agent's timeout), so three times that is safe against a slow
/// answer and short for the events of an instance that died holding them.
const LEASE_SECONDS: i64 = 30;

/// Delivers every due event once; returns how many were delivered. Events name their point
/// by id only (see [`dispatch_due_with_points`]).
pub fn dispatch_due(
    pool: &Pool,
    data_key: &[u8; 32],
    agent: &ureq::Agent,
) -> Result<usize, DbError> {
    dispatch(pool, data_key, agent, None)
}

/// Delivers every due event once, each with its point's `pickup_point` from `network`;
/// returns how many were delivered.
pub fn dispatch_due_with_points(
    pool: &Pool,
    data_key: &[u8; 32],
    agent: &ureq::Agent,
    network: &Network,
) -> Result<usize, DbError> {
    dispatch(pool, data_key, agent, Some(network))
}

fn dispatch(
    pool: &Pool,
    data_key: &[u8; 32],
    agent: &ureq::Agent,
    network: Option<&Network>,
) -> Result<usize, DbError> {
    let mut conn = pool.get()?;
    let now = Utc::now().naive_utc();
    let mut delivered = 0;
    for row in outbox::due(&mut conn, now, 100)? {
        if !outbox::claim(
            &mut conn,
            &row,
            now,
            chrono::Duration::seconds(LEASE_SECONDS),
        )? {
            continue;
        }
        let Some((url, secret)) = outbox::webhook(&mut conn, data_key, &row.merchant)? else {
            continue;
        };
        let body = body(&row, data_key, network);
        let timestamp = Utc::now().timestamp();
        let signature = format!(
            "t={timestamp},v1={}",
            codes::sign(&secret, timestamp, body.as_bytes())
        );
        let result = agent
            .post(&url)
            .header("content-type", "application/json")
            .header("pudo-event-id", &row.event_id)
            .header("pudo-signature", &signature)
            .send(body.as_bytes());
        let now = Utc::now().naive_utc();
        match result {
            Ok(res) if res.status().is_success() => {
                outbox::delivered(&mut conn, row.id, row.region, now)?;
                delivered += 1;
            }
            Ok(res) => outbox::failed(
                &mut conn,
                row.id,
                row.region,
                row.attempts + 1,
                &format!("HTTP {}", res.status()),
                now,
            )?,
            Err(e) => outbox::failed(
                &mut conn,
                row.id,
                row.region,
                row.attempts + 1,
                &e.to_string(),
                now,
            )?,
        }
    }
    Ok(delivered)
}

/// An HTTP agent for webhooks: short timeouts, error statuses returned as answers.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn body(row: &outbox::OutboxRow, data_key: &[u8; 32], network: Option<&Network>) -> String {
    let mut data: Value = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
    if let Some(network) = network {
        add_point(&mut data, network);
    }
    if let Some(sealed) = data
        .get("pickup_code_sealed")
        .and_then(Value::as_str)
        .map(str::to_owned)
    {
        if let Some(obj) = data.as_object_mut() {
            obj.remove("pickup_code_sealed");
            obj.insert(
                "pickup_code".into(),
                codes::unseal(data_key, &sealed).map_or(Value::Null, Value::String),
            );
        }
    }
    serde_json::json!({
        "id": row.event_id,
        "type": row.kind,
        "created_at": row.created_at.and_utc().to_rfc3339(),
        "data": data,
    })
    .to_string()
}

/// Adds `pickup_point` beside the `pickup_point_id` of the event's reservation or return,
/// when the index holds that point.
fn add_point(data: &mut Value, network: &Network) {
    for key in ["reservation", "return"] {
        if let Some(Value::Object(inner)) = data.get_mut(key) {
            insert_point(inner, network);
        }
    }
}

fn insert_point(object: &mut serde_json::Map<String, Value>, network: &Network) {
    let Some(id) = object.get("pickup_point_id").and_then(Value::as_i64) else {
        return;
    };
    let contact = network.index().get(id).map(PointContact::of);
    if let Some(contact) = contact {
        if let Ok(value) = serde_json::to_value(contact) {
            object.insert("pickup_point".into(), value);
        }
    }
}
