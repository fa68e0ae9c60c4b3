//! The paths that once failed for every region while a worker was down (they read or wrote
//! across regions in their transaction), asserted for the regions of the running worker; and
//! a `pudo serve` started during the outage.

use super::client::{Answer, Client};
use super::{Booked, Ctx, Shop};
use chrono::Utc;
use pudo::auth::Role;
use serde_json::json;
use std::time::{Duration, Instant};

/// Two shops of one running region (the test network has two per city).
fn twins(up: &[Shop]) -> (&Shop, &Shop) {
    up.iter()
        .find_map(|a| {
            up.iter()
                .find(|b| b.id != a.id && b.region == a.region)
                .map(|b| (a, b))
        })
        .expect("two shops in one region of the running worker")
}

fn carrier(ctx: &Ctx<'_>) -> String {
    ctx.keys
        .issue("carrier-1", Role::Carrier, None, chrono::Duration::hours(1))
        .expect("token")
}

fn moved_to(ctx: &Ctx<'_>, what: &str, a: Answer, parcel: i64, to: &Shop) {
    assert_eq!(a.status, 200, "{what}: {a:?}");
    let read = ctx.read(parcel);
    assert_eq!(
        read.body["pickup_point_id"].as_i64(),
        Some(to.id),
        "{what}: {read:?}"
    );
}

/// Moves and redirects within a running region, a hold extension, a carrier's hand-in, a
/// partner's statement, searches with `sku` (kept to the running regions) all succeed; the
/// same for the stopped worker's regions, a move into them and `stock_sku` (which a missing
/// region would make wrong) answer 503. Returns the parcel left waiting at a running region's
/// shop (for the sweep).
pub(super) fn cross_region_paths_work_in_the_other_regions(
    ctx: &Ctx<'_>,
    up: &[Shop],
    in_down: &[&Booked],
) -> i64 {
    let (a, b) = twins(up);
    let http = ctx.http;
    let carrier = carrier(ctx);
    let to_b = json!({"pickup_point_id": b.id});

    let moving = ctx.reserved(a, "move-within");
    let a_move = http.post(
        &format!("/v1/reservations/{moving}/move"),
        &ctx.merchant,
        Some(to_b.clone()),
    );
    moved_to(ctx, "move within a region", a_move, moving, b);

    let waiting = ctx.reserved(a, "hold");
    assert_eq!(ctx.arrival(a, waiting).status, 200);
    let extended = http.post(
        &format!("/v1/reservations/{waiting}/extend"),
        &ctx.merchant,
        Some(json!({"days": 2})),
    );
    assert_eq!(extended.status, 200, "hold extension: {extended:?}");
    assert_eq!(extended.body["hold_extended_days"], 2);
    let redirect = http.post(
        &format!("/v1/partner/parcels/{waiting}/redirect"),
        &ctx.partner(a),
        Some(to_b.clone()),
    );
    moved_to(ctx, "partner's redirect", redirect, waiting, b);

    let handed = ctx.reserved(a, "handin");
    let handin = json!({"parcel_id": handed});
    let first = http.post("/v1/carrier/handins", &carrier, Some(handin.clone()));
    assert_eq!(first.status, 201, "hand-in: {first:?}");
    let repeat = http.post("/v1/carrier/handins", &carrier, Some(handin));
    assert_eq!(repeat.status, 200, "hand-in repeated: {repeat:?}");
    let options = http.get(
        &format!("/v1/carrier/parcels/{handed}/redirect-options"),
        &carrier,
    );
    assert_eq!(options.status, 200, "carrier's options: {options:?}");
    let redirect = http.post(
        &format!("/v1/carrier/parcels/{handed}/redirect"),
        &carrier,
        Some(to_b),
    );
    moved_to(ctx, "carrier's redirect", redirect, handed, b);

    let month = Utc::now().format("%Y-%m");
    let statement = http.get(
        &format!("/v1/partner/statement?month={month}"),
        &ctx.partner(a),
    );
    assert_eq!(statement.status, 200, "statement: {statement:?}");

    let near_a = format!("/v1/pickup-points?lat={}&lon={}", a.lat, a.lon);
    let sku = http.get(&format!("{near_a}&sku=SKU-1"), "");
    assert_eq!(sku.status, 200, "search with sku: {sku:?}");
    let marks = http.get(&format!("{near_a}&stock_sku=SKU-1"), "");
    marks.assert_unavailable("search with stock_sku");
    let down = &in_down[0].shop;
    let named = format!("{:x}", down.region);
    assert!(
        marks.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&named)),
        "the 503 names the unavailable region {named}: {marks:?}"
    );

    let crossing = ctx.reserved(a, "move-across");
    http.post(
        &format!("/v1/reservations/{crossing}/move"),
        &ctx.merchant,
        Some(json!({"pickup_point_id": down.id})),
    )
    .assert_unavailable("move into a stopped region");
    let theirs = in_down[0];
    http.post(
        &format!("/v1/reservations/{}/move", theirs.parcel),
        &ctx.merchant,
        Some(json!({"pickup_point_id": a.id})),
    )
    .assert_unavailable("move of a stopped region's reservation");
    http.post(
        &format!("/v1/reservations/{}/extend", theirs.second),
        &ctx.merchant,
        None,
    )
    .assert_unavailable("extension in a stopped region");
    http.post(
        "/v1/carrier/handins",
        &carrier,
        Some(json!({"parcel_id": theirs.parcel})),
    )
    .assert_unavailable("hand-in in a stopped region");
    waiting
}

/// Far enough ahead that every waiting parcel is past its holding period.
fn far_ahead() -> chrono::NaiveDateTime {
    Utc::now().naive_utc() + chrono::Duration::days(365)
}

/// The sweep (as `pudo serve` runs it) expires the running regions' waiting parcels; returns
/// how many it expired.
pub(super) fn the_sweep_skips_only_the_stopped_regions(
    pool: &pudo::db::Pool,
    ctx: &Ctx<'_>,
    waiting: i64,
) -> usize {
    let mut conn = pool.get().expect("conn");
    let expired = pudo::pickup::sweep(&mut conn, far_ahead())
        .expect("the sweep works while a worker is down");
    assert!(expired >= 1, "nothing swept");
    let read = ctx.read(waiting);
    assert_eq!(read.body["state"], "expired", "{read:?}");
    expired
}

/// After the restart the sweep reaches the parcels waiting in the stopped worker's regions.
pub(super) fn the_sweep_reaches_the_restarted_regions(
    pool: &pudo::db::Pool,
    ctx: &Ctx<'_>,
    in_down: &[&Booked],
) {
    let mut conn = pool.get().expect("conn");
    let expired = pudo::pickup::sweep(&mut conn, far_ahead()).expect("sweep");
    assert_eq!(expired, in_down.len(), "one waiting parcel per shop");
    for b in in_down {
        let read = ctx.read(b.second);
        assert_eq!(read.body["state"], "expired", "{read:?}");
    }
}

/// The ids of the points a search near `shop` answers (every shop of the test network).
fn searched(http: &Client, shop: &Shop) -> Vec<i64> {
    let a = http.get(
        &format!(
            "/v1/pickup-points?lat={}&lon={}&limit=50",
            shop.lat, shop.lon
        ),
        "",
    );
    assert_eq!(a.status, 200, "search: {a:?}");
    a.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect()
}

/// A `pudo serve` started while the worker is down: ready, searches answer the running
/// regions' shops (the others wait for their worker), a reservation there succeeds.
pub(super) fn a_server_started_now_serves_the_other_regions(
    late: &Client,
    ctx: &Ctx<'_>,
    up: &[Shop],
    down: &[Shop],
) {
    assert_eq!(late.get("/readyz", "").status, 200);
    let found = searched(late, &up[0]);
    for s in up {
        assert!(
            found.contains(&s.id),
            "{} not found: {found:?}",
            s.external_id
        );
    }
    for s in down {
        assert!(!found.contains(&s.id), "{} found: {found:?}", s.external_id);
    }
    let via_late = Ctx {
        http: late,
        keys: ctx.keys,
        merchant: ctx.merchant.clone(),
    };
    via_late.reserved(&up[0], "late-server");
    via_late
        .reserve(&down[0], "late-server-stopped")
        .assert_unavailable("reservation in a stopped region on the late server");
}

/// The server started during the outage finds the stopped worker's shops within 10 s of its
/// restart.
pub(super) fn the_late_server_gains_the_stopped_regions(
    late: &Client,
    down: &[Shop],
    restarted: Instant,
) {
    loop {
        let found = searched(late, &down[0]);
        if down.iter().all(|s| found.contains(&s.id)) {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "the late server's index lacks the restarted regions 10 s on: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "the late server's index had the restarted regions {:?} after the restart",
        restarted.elapsed()
    );
}
