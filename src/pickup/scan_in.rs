//! The scan-in rule: when a carrier hands a parcel in at its shop, the partner must scan its
//! arrival within a set time (`PUDO_SCAN_IN_MINUTES`). The hand-in records the deadline; the
//! arrival scan records its latency; the operator lists late and missing scans.
//!
//! A hand-in whose parcel was already scanned (the carrier recorded it afterwards) counts as
//! scanned at the parcel's arrival, with latency 0.

use super::{ParcelState, PickupError};
use crate::db::schema::{handins, parcels};
use crate::db::DbConn;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use std::str::FromStr;
use utoipa::ToSchema;

/// Where a hand-in stands with respect to the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanState {
    /// Not scanned yet; the deadline has not passed.
    Pending,
    /// Scanned by the deadline.
    OnTime,
    /// Scanned after the deadline.
    Late,
    /// Not scanned, and the deadline has passed.
    Missing,
}

impl FromStr for ScanState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(Self::Pending),
            "on_time" => Ok(Self::OnTime),
            "late" => Ok(Self::Late),
            "missing" => Ok(Self::Missing),
            other => Err(format!(
                "unknown state {other:?} (use pending, on_time, late or missing)"
            )),
        }
    }
}

/// A hand-in and the arrival scan that followed it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Handin {
    /// The parcel.
    pub parcel_id: i64,
    /// The shop it was handed in at.
    pub shop_id: i64,
    /// The carrier (token subject).
    pub carrier: String,
    /// When the carrier handed it in (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub handed_in_at: NaiveDateTime,
    /// The scan is late after this (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub deadline_at: NaiveDateTime,
    /// The partner's arrival scan (UTC), if made.
    #[serde(serialize_with = "crate::timestamps::utc_option")]
    pub scanned_at: Option<NaiveDateTime>,
    /// Seconds from hand-in to scan.
    pub latency_s: Option<i64>,
    /// Where it stands, as of the answer.
    pub state: ScanState,
}

type Row = (
    i64,
    i64,
    String,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<i64>,
);

fn columns() -> (
    handins::parcel_id,
    handins::shop_id,
    handins::carrier,
    handins::handed_in_at,
    handins::deadline_at,
    handins::scanned_at,
    handins::latency_s,
) {
    (
        handins::parcel_id,
        handins::shop_id,
        handins::carrier,
        handins::handed_in_at,
        handins::deadline_at,
        handins::scanned_at,
        handins::latency_s,
    )
}

fn view(row: Row, now: NaiveDateTime) -> Handin {
    let (parcel_id, shop_id, carrier, handed_in_at, deadline_at, scanned_at, latency_s) = row;
    let state = match scanned_at {
        Some(at) if at > deadline_at => ScanState::Late,
        Some(_) => ScanState::OnTime,
        None if now > deadline_at => ScanState::Missing,
        None => ScanState::Pending,
    };
    Handin {
        parcel_id,
        shop_id,
        carrier,
        handed_in_at,
        deadline_at,
        scanned_at,
        latency_s,
        state,
    }
}

/// Records a carrier's hand-in of a parcel at its shop; returns it and whether it is new (a
/// repeat answers the first hand-in). Only a parcel on its way or just arrived can be handed
/// in.
pub fn hand_in(
    conn: &mut DbConn,
    carrier: &str,
    parcel_id: i64,
    limit: Duration,
    now: NaiveDateTime,
) -> Result<(Handin, bool), PickupError> {
    // Read first, outside the transaction: the parcel's region (a lookup over every region,
    // which copes with an unreachable Citus worker only outside a transaction; not found in
    // the regions that answer: the worker's error, 503). Every statement of the transaction
    // names it: one shard on Citus.
    let region = super::parcels::find_by_id(conn, parcel_id, None)?.region;
    conn.transaction(|conn| {
        let this = parcels::id.eq(parcel_id).and(parcels::region.eq(region));
        // A no-op write first (see `db`); it also takes the parcel's row lock, so an arrival
        // scan cannot slip between the read and the insert.
        diesel::update(parcels::table.filter(this))
            .set(parcels::updated_at.eq(parcels::updated_at))
            .execute(conn)?;
        if let Some(existing) = find_in(conn, parcel_id, region, now)? {
            return Ok((existing, false));
        }
        let parcel: Option<(i64, String, Option<NaiveDateTime>)> = parcels::table
            .filter(this)
            .select((parcels::shop_id, parcels::state, parcels::arrived_at))
            .first(conn)
            .optional()?;
        // Gone from its region since the read: moved across a border meanwhile.
        let (shop_id, state, arrived_at) = parcel.ok_or(PickupError::Changed)?;
        let state: ParcelState = state
            .parse()
            .map_err(|_| PickupError::ParcelNotFound(parcel_id))?;
        let scanned_at = match state {
            ParcelState::Reserved => None,
            ParcelState::AtPoint => Some(arrived_at.unwrap_or(now)),
            state => {
                return Err(PickupError::WrongState {
                    state,
                    action: "handed in",
                })
            }
        };
        diesel::insert_into(handins::table)
            .values((
                handins::parcel_id.eq(parcel_id),
                handins::shop_id.eq(shop_id),
                handins::region.eq(region),
                handins::carrier.eq(carrier),
                handins::handed_in_at.eq(now),
                handins::deadline_at.eq(now + limit),
                handins::scanned_at.eq(scanned_at),
                handins::latency_s.eq(scanned_at.map(|_| 0_i64)),
            ))
            .execute(conn)?;
        Ok((
            find_in(conn, parcel_id, region, now)?.ok_or(PickupError::ParcelNotFound(parcel_id))?,
            true,
        ))
    })
}

/// Records the partner's arrival scan of a parcel against its hand-in, if one is waiting;
/// returns the updated hand-in. Called in the arrival's transaction.
pub fn record_arrival(
    conn: &mut DbConn,
    parcel_id: i64,
    region: i64,
    scanned_at: NaiveDateTime,
) -> QueryResult<Option<Handin>> {
    // Every statement names the parcel's region (one shard on Citus).
    let open = handins::table
        .filter(handins::parcel_id.eq(parcel_id))
        .filter(handins::region.eq(region))
        .filter(handins::scanned_at.is_null())
        .select(handins::handed_in_at)
        .first::<NaiveDateTime>(conn)
        .optional()?;
    let Some(handed_in_at) = open else {
        return Ok(None);
    };
    let latency = (scanned_at - handed_in_at).num_seconds().max(0);
    diesel::update(
        handins::table
            .filter(handins::parcel_id.eq(parcel_id))
            .filter(handins::region.eq(region))
            .filter(handins::scanned_at.is_null()),
    )
    .set((
        handins::scanned_at.eq(scanned_at),
        handins::latency_s.eq(latency),
    ))
    .execute(conn)?;
    Ok(handins::table
        .filter(handins::parcel_id.eq(parcel_id))
        .filter(handins::region.eq(region))
        .select(columns())
        .first::<Row>(conn)
        .optional()?
        .map(|r| view(r, scanned_at)))
}

/// The hand-in of a parcel in `region` (its shop's), if any: one shard on Citus.
pub fn find_in(
    conn: &mut DbConn,
    parcel_id: i64,
    region: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<Handin>> {
    Ok(handins::table
        .filter(handins::parcel_id.eq(parcel_id))
        .filter(handins::region.eq(region))
        .select(columns())
        .first::<Row>(conn)
        .optional()?
        .map(|r| view(r, now)))
}

/// Which hand-ins the operator lists.
#[derive(Debug, Clone, Default)]
pub struct ScanQuery {
    /// Only those in this state (as of `now`).
    pub state: Option<ScanState>,
    /// Handed in at or after (UTC).
    pub from: Option<NaiveDateTime>,
    /// Handed in before (UTC).
    pub to: Option<NaiveDateTime>,
    /// Only this shop.
    pub shop_id: Option<i64>,
}

/// Hand-ins matching `q`, most recent first, at most `limit`.
pub fn list(
    conn: &mut DbConn,
    q: &ScanQuery,
    limit: i64,
    now: NaiveDateTime,
) -> QueryResult<Vec<Handin>> {
    let mut query = handins::table.select(columns()).into_boxed();
    if let Some(from) = q.from {
        query = query.filter(handins::handed_in_at.ge(from));
    }
    if let Some(to) = q.to {
        query = query.filter(handins::handed_in_at.lt(to));
    }
    if let Some(shop) = q.shop_id {
        query = query.filter(handins::shop_id.eq(shop));
    }
    query = match q.state {
        None => query,
        Some(ScanState::Pending) => query
            .filter(handins::scanned_at.is_null())
            .filter(handins::deadline_at.ge(now)),
        Some(ScanState::Missing) => query
            .filter(handins::scanned_at.is_null())
            .filter(handins::deadline_at.lt(now)),
        Some(ScanState::Late) => query.filter(
            handins::scanned_at
                .nullable()
                .gt(handins::deadline_at.nullable()),
        ),
        Some(ScanState::OnTime) => query.filter(
            handins::scanned_at
                .nullable()
                .le(handins::deadline_at.nullable()),
        ),
    };
    Ok(query
        .order((handins::handed_in_at.desc(), handins::id.desc()))
        .limit(limit)
        .load::<Row>(conn)?
        .into_iter()
        .map(|r| view(r, now))
        .collect())
}
