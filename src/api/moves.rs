//! After the order: the merchant moves a reservation to another point or extends a waiting
//! parcel's hold; on the day, the point's partner or the carrier redirects a parcel the point
//! cannot take to the nearest point with room.

use super::auth::Bearer;
use super::body::Body;
use super::{with_conn, AppState};
use crate::auth::Role;
use crate::error::{ApiError, Problem};
use crate::pickup::moves::{
    self, Moved, PointRef, RedirectOption, Redirector, Target, REDIRECT_RADIUS_M,
};
use crate::pickup::{holds, Parcel, ParcelState};
use actix_web::{get, post, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of a move.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// The new pickup point.
    #[schema(example = 6)]
    pub pickup_point_id: i64,
}

/// Body of a redirect; `{}` (or no body) redirects to the nearest point with room.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectRequest {
    /// A point among the redirect options; default: the nearest with room.
    #[schema(example = 6)]
    pub pickup_point_id: Option<i64>,
}

/// Body of a hold extension; `{}` (or no body) extends by the maximum.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// Days to add, 1 to `PUDO_HOLD_EXTENSION_MAX_DAYS` (default: that maximum; the setting
    /// is at most 90).
    #[schema(minimum = 1, maximum = 90, example = 3)]
    pub days: Option<i64>,
}

/// Where a parcel could be redirected.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedirectOptions {
    /// The parcel's point now.
    pub from: PointRef,
    /// How far a redirect may go, metres.
    pub radius_m: f64,
    /// Active points with a free slot within `radius_m` of `from`, nearest first (at most 10).
    pub options: Vec<RedirectOption>,
}

/// A parcel after a redirect.
#[derive(Debug, Serialize, ToSchema)]
pub struct Redirected {
    /// The parcel, now at `to`.
    #[serde(flatten)]
    pub parcel: Parcel,
    /// The point it left.
    pub from: PointRef,
    /// The point it goes to.
    pub to: PointRef,
    /// Distance between the two, metres.
    pub distance_m: f64,
    /// `true` when the parcel already had a pickup code: the customer's code is unchanged and
    /// valid at `to` only. `false`: the code is issued when the parcel arrives at `to`.
    pub pickup_code_unchanged: bool,
}

fn apply_loads(state: &AppState, moved: &Moved) {
    for &(shop, live) in &moved.loads {
        state.network.set_live(shop, live);
    }
}

/// Moves a reservation whose parcel has not arrived to another pickup point.
///
/// One transaction frees the old slot and takes the new one: the order never holds two slots
/// nor none. Moving to the point it already has is a no-op 200. Writes a `parcel.moved`
/// webhook event. 409 with `reason` `full`, `paused` or `closed` when the new point cannot take
/// it (the reservation keeps its point), `already_arrived` when the parcel is at its point
/// (ask its partner or the carrier for a redirect), `wrong_state` when it was collected,
/// cancelled or returned.
#[utoipa::path(
    tag = "merchant",
    context_path = "/v1",
    params(("id" = i64, Path, description = "reservation id", example = 3)),
    request_body = MoveRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Moved (or already at that point)", body = Parcel),
        (status = 400, description = "A body field is missing or invalid; `parameter` names it", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such reservation of this merchant, or no such point", body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/reservations/{id}/move")]
pub async fn move_reservation(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
    body: Body<MoveRequest>,
) -> Result<web::Json<Parcel>, ApiError> {
    let merchant = auth.require(&[Role::Merchant, Role::Admin])?.sub.clone();
    let to = body.into_inner().pickup_point_id;
    let id = id.into_inner();
    let moved = with_conn(&state, move |conn| {
        Ok(moves::move_reservation(
            conn,
            &merchant,
            id,
            to,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    if !moved.loads.is_empty() {
        apply_loads(&state, &moved);
        state.metrics.moves.inc();
    }
    Ok(web::Json(moved.parcel))
}

/// Extends a waiting parcel's holding period, once, by `days` (default and maximum:
/// `PUDO_HOLD_EXTENSION_MAX_DAYS`). Writes a `parcel.hold_extended` webhook event.
///
/// 400 naming `days` when out of range; 409 with `reason` `not_waiting` (the parcel is not at
/// its point), `already_extended` or `hold_over` (the holding period has ended).
#[utoipa::path(
    tag = "merchant",
    context_path = "/v1",
    params(("id" = i64, Path, description = "reservation id", example = 4)),
    request_body = Option<ExtendRequest>,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The parcel with its new `expires_at`", body = Parcel),
        (status = 400, description = "`days` is out of range or not a whole number", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/reservations/{id}/extend")]
pub async fn extend(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
    body: Body<ExtendRequest>,
) -> Result<web::Json<Parcel>, ApiError> {
    let merchant = auth.require(&[Role::Merchant, Role::Admin])?.sub.clone();
    let days = holds::extension_days(body.into_inner().days, state.hold_extension_max_days)?;
    let id = id.into_inner();
    let parcel = with_conn(&state, move |conn| {
        Ok(holds::extend(
            conn,
            &merchant,
            id,
            days,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    state.metrics.hold_extensions.inc();
    Ok(web::Json(parcel))
}

async fn options(
    state: &AppState,
    by: Redirector,
    id: i64,
) -> Result<web::Json<RedirectOptions>, ApiError> {
    let (from, size) =
        with_conn(state, move |conn| Ok(moves::redirect_origin(conn, by, id)?)).await?;
    let options = moves::redirect_options(&state.network.index(), from.id, &size, Utc::now());
    Ok(web::Json(RedirectOptions {
        from,
        radius_m: REDIRECT_RADIUS_M,
        options,
    }))
}

async fn redirect(
    state: &AppState,
    by: Redirector,
    id: i64,
    chosen: Option<i64>,
) -> Result<web::Json<Redirected>, ApiError> {
    let nearest: Vec<i64> = match chosen {
        Some(_) => Vec::new(),
        None => {
            let (from, size) =
                with_conn(state, move |conn| Ok(moves::redirect_origin(conn, by, id)?)).await?;
            moves::redirect_options(&state.network.index(), from.id, &size, Utc::now())
                .into_iter()
                .map(|o| o.point.id)
                .collect()
        }
    };
    let keys = state.keys.clone();
    let moved = with_conn(state, move |conn| {
        let target = match chosen {
            Some(to) => Target::Chosen(to),
            None => Target::Nearest(&nearest),
        };
        Ok(moves::redirect(
            conn,
            keys.data_key(),
            by,
            id,
            target,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    apply_loads(state, &moved);
    state
        .metrics
        .redirects
        .with_label_values(&[by.label()])
        .inc();
    tracing::info!(
        parcel = id,
        from = moved.from.id,
        to = moved.to.id,
        by = by.label(),
        "parcel redirected"
    );
    let pickup_code_unchanged = moved.parcel.state == ParcelState::AtPoint;
    Ok(web::Json(Redirected {
        parcel: moved.parcel,
        from: moved.from,
        to: moved.to,
        distance_m: moved.distance_m,
        pickup_code_unchanged,
    }))
}

/// Where one of the shop's parcels could be redirected: the nearest active points with a free
/// slot within 2 km.
#[utoipa::path(tag = "partner", context_path = "/v1", params(("id" = i64, Path, description = "parcel id", example = 7)), security(("bearer" = [])), responses(
    (status = 200, body = RedirectOptions),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such parcel at this shop", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The parcel was collected, cancelled, expired or returned", body = Problem, content_type = "application/problem+json"),
))]
#[get("/partner/parcels/{id}/redirect-options")]
pub async fn partner_redirect_options(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
) -> Result<web::Json<RedirectOptions>, ApiError> {
    let shop = auth.0.partner_shop()?;
    options(&state, Redirector::Partner(shop), id.into_inner()).await
}

/// Redirects a parcel the shop cannot take (full, paused, no room on the counter) to another
/// point within 2 km: the chosen one, or the nearest with room. The slot moves in one
/// transaction; a parcel that already has a pickup code keeps it, valid at the new point only.
/// Writes a `parcel.redirected` webhook event with both points.
///
/// 409 with `reason` `no_room_nearby` (no point with room within 2 km), `full`, `paused` or
/// `closed` (the chosen point cannot take it), `code_not_transferable`, `wrong_state`.
#[utoipa::path(tag = "partner", context_path = "/v1", params(("id" = i64, Path, description = "parcel id", example = 8)), request_body = Option<RedirectRequest>, security(("bearer" = [])), responses(
    (status = 200, body = Redirected),
    (status = 400, description = "`pickup_point_id` is invalid, the current point, or beyond 2 km", body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[post("/partner/parcels/{id}/redirect")]
pub async fn partner_redirect(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
    body: Body<RedirectRequest>,
) -> Result<web::Json<Redirected>, ApiError> {
    let shop = auth.0.partner_shop()?;
    let chosen = body.into_inner().pickup_point_id;
    redirect(&state, Redirector::Partner(shop), id.into_inner(), chosen).await
}

/// Where a parcel could be redirected, for the carrier at the point's door.
#[utoipa::path(tag = "carrier", context_path = "/v1", params(("id" = i64, Path, description = "parcel id", example = 11)), security(("bearer" = [])), responses(
    (status = 200, body = RedirectOptions),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[get("/carrier/parcels/{id}/redirect-options")]
pub async fn carrier_redirect_options(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
) -> Result<web::Json<RedirectOptions>, ApiError> {
    auth.require(&[Role::Carrier, Role::Admin])?;
    options(&state, Redirector::Carrier, id.into_inner()).await
}

/// The carrier redirects a parcel its point cannot take; as the partner's redirect.
#[utoipa::path(tag = "carrier", context_path = "/v1", params(("id" = i64, Path, description = "parcel id", example = 12)), request_body = Option<RedirectRequest>, security(("bearer" = [])), responses(
    (status = 200, body = Redirected),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[post("/carrier/parcels/{id}/redirect")]
pub async fn carrier_redirect(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
    body: Body<RedirectRequest>,
) -> Result<web::Json<Redirected>, ApiError> {
    auth.require(&[Role::Carrier, Role::Admin])?;
    let chosen = body.into_inner().pickup_point_id;
    redirect(&state, Redirector::Carrier, id.into_inner(), chosen).await
}
