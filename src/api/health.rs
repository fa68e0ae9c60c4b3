//! Shop health for the network operator (admin): one shop's figures, and the network view of
//! shops that are often full, often late on scan-in, or silent while open.

use super::auth::Bearer;
use super::params::{instant, integer_in, QueryParams};
use super::{with_conn, AppState};
use crate::auth::Role;
use crate::error::{ApiError, Problem};
use crate::health::network::{self, NetworkHealth, Thresholds};
use crate::health::{self, store, ActivityKind, DayOccupancy, ScanInStats, Window};
use actix_web::{get, web};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// The window of a health query; the route accepts exactly these names (`QueryParams::of`), each parsed and checked by name.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "the fields document the query for OpenAPI; QueryParams::of accepts exactly their names and parses each"
)]
struct ShopHealthQuery {
    /// Start of the window (RFC 3339); default `to` minus 7 days.
    #[param(format = DateTime)]
    from: Option<String>,
    /// End of the window, exclusive (RFC 3339); default now. At most 92 days after `from`.
    #[param(format = DateTime)]
    to: Option<String>,
}

/// One shop's health over a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopHealth {
    /// pudo's shop id.
    pub shop_id: i64,
    /// The partner's reference.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// IANA time zone of the daily figures.
    pub timezone: String,
    /// Current capacity, parcel slots.
    pub capacity: i32,
    /// Window start (UTC).
    pub from: DateTime<Utc>,
    /// Window end, exclusive (UTC).
    pub to: DateTime<Utc>,
    /// Scan-in latency of the window's hand-ins.
    pub scan_in: ScanInStats,
    /// Counts of each kind of activity in the window: `reservations`, `arrivals`, `handins`,
    /// `handovers`, `failed_code_attempts`, `rate_limited_attempts`, `expiries`,
    /// `returns_sent`.
    #[schema(value_type = Object)]
    pub activity: BTreeMap<ActivityKind, i64>,
    /// Occupancy (parcels at the shop) per local day of the window.
    pub utilisation: Vec<DayOccupancy>,
}

fn window(q: &QueryParams) -> Result<Window, ApiError> {
    let to = q.optional("to", instant)?.unwrap_or_else(Utc::now);
    let from = q
        .optional("from", instant)?
        .unwrap_or(to - Duration::days(7));
    if from >= to {
        return Err(ApiError::bad_parameter("from", "from must be before to"));
    }
    if to - from > Duration::days(health::MAX_WINDOW_DAYS) {
        return Err(ApiError::bad_parameter(
            "to",
            format!("the window is longer than {} days", health::MAX_WINDOW_DAYS),
        ));
    }
    Ok(Window { from, to })
}

/// One shop's health: scan-in latency, handovers, failed code attempts, expiries, returns and
/// daily occupancy.
#[utoipa::path(tag = "operations", context_path = "/v1", params(("id" = i64, Path, description = "pudo's shop id", example = 1), ShopHealthQuery), security(("bearer" = [])), responses(
    (status = 200, body = ShopHealth),
    (status = 400, description = "A parameter is invalid; `parameter` names it", body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/ops/shops/{id}/health")]
pub async fn shop_health(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<web::Json<ShopHealth>, ApiError> {
    auth.require(&[Role::Admin])?;
    let q = QueryParams::of::<ShopHealthQuery>(query.into_inner())?;
    let w = window(&q)?;
    let id = id.into_inner();
    let answer = with_conn(&state, move |conn| {
        let shop = crate::network::store::find(conn, id)?
            .ok_or_else(|| ApiError::NotFound(format!("no shop with id {id}")))?;
        let tz: Tz = shop.timezone.parse().unwrap_or(chrono_tz::UTC);
        let steps = store::occupancy_steps(conn, &w, Some(id), false)?
            .remove(&id)
            .map(|s| s.steps)
            .unwrap_or_default();
        Ok(ShopHealth {
            shop_id: id,
            scan_in: store::scan_in_stats(conn, id, &w)?,
            activity: store::shop_activity(conn, id, &w)?,
            utilisation: health::daily_occupancy(tz, w, &steps, shop.capacity),
            external_id: shop.external_id,
            name: shop.name,
            timezone: shop.timezone,
            capacity: shop.capacity,
            from: w.from,
            to: w.to,
        })
    })
    .await?;
    Ok(web::Json(answer))
}

/// Thresholds of the network view; the route accepts exactly these names (`QueryParams::of`), each parsed and checked by name.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "the fields document the query for OpenAPI; QueryParams::of accepts exactly their names and parses each"
)]
struct NetworkHealthQuery {
    /// Start of the window (RFC 3339); default `to` minus 7 days.
    #[param(format = DateTime)]
    from: Option<String>,
    /// End of the window, exclusive (RFC 3339); default now. At most 92 days after `from`.
    #[param(format = DateTime)]
    to: Option<String>,
    /// Often full: full (parcels at the shop ≥ capacity) on at least this many local days
    /// (1 to 92, default 3).
    #[param(minimum = 1, maximum = 92)]
    full_days: Option<u32>,
    /// Often late: at least this many late or missing arrival scans (1 to 100000, default 3).
    #[param(minimum = 1, maximum = 100000)]
    late_scans: Option<u32>,
    /// Silent: an active shop open at least this many hours of the window (opening hours
    /// minus closures) with no reservation, arrival, hand-in or handover attempt (1 to 2208,
    /// default 24).
    #[param(minimum = 1, maximum = 2208)]
    silent_open_hours: Option<u32>,
    /// At most this many shops per list (1 to 1000, default 100); the `*_total` fields count
    /// them all.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The network view: shops often full, often late on scan-in, or silent while open, each
/// with the figures that put it there.
#[utoipa::path(tag = "operations", context_path = "/v1", params(NetworkHealthQuery), security(("bearer" = [])), responses(
    (status = 200, body = NetworkHealth),
    (status = 400, description = "A parameter is invalid; `parameter` names it", body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/ops/health")]
pub async fn network_health(
    state: web::Data<AppState>,
    auth: Bearer,
    query: web::Query<Vec<(String, String)>>,
) -> Result<web::Json<NetworkHealth>, ApiError> {
    auth.require(&[Role::Admin])?;
    let q = QueryParams::of::<NetworkHealthQuery>(query.into_inner())?;
    let w = window(&q)?;
    let full_min = q.optional("full_days", integer_in(1, 92))?.unwrap_or(3);
    let late_min = q
        .optional("late_scans", integer_in(1, 100_000))?
        .unwrap_or(3);
    let silent_hours = q
        .optional("silent_open_hours", integer_in(1, 24 * 92))?
        .unwrap_or(24);
    let limit = q.optional("limit", integer_in(1, 1000))?.unwrap_or(100) as usize;
    let (full, late, active) = with_conn(&state, move |conn| {
        Ok((
            store::occupancy_steps(conn, &w, None, true)?,
            store::late_shops(conn, &w, late_min)?,
            store::activity_counts(conn, &ActivityKind::SIGNS_OF_LIFE, &w, None)?,
        ))
    })
    .await?;
    let thresholds = Thresholds {
        full_days: full_min,
        late_scans: late_min,
        silent_open_hours: silent_hours,
        limit,
    };
    let view = network::assemble(&state.network.index(), w, &thresholds, full, late, &active);
    Ok(web::Json(view))
}
