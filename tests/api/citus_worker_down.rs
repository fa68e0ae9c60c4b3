//! A Citus worker down (issue 16, docs/operations.md "A worker down"): with one worker stopped,
//! requests for the regions on the other worker all succeed, requests for the stopped worker's
//! regions answer 503 `application/problem+json` with `Retry-After` (never 500, never held),
//! `/readyz` stays 200 and `/metrics` names the worker; once it is started again, its regions
//! answer within 10 s.
//!
//! Besides the order flow, the paths that look a parcel up across regions (moves, redirects,
//! hold extensions, carriers' hand-ins), the sweep of expired parcels, statements, searches
//! with `sku`, and a `pudo serve` started while the worker is down are asserted for the other
//! regions (`paths`).
//!
//! Runs when `PUDO_TEST_CITUS_URL` is set, as the other Citus tests, but on a small cluster of
//! its own (`deploy/citus/cluster.sh` on ports 25437-25439 under target/citus-worker-down),
//! so that stopping a worker never disturbs the tests running on the shared one.

mod client;
mod paths;

use crate::processes::{merchant_token, partner_token, setup, start};
use crate::support::citus_url;
use client::{Client, Cluster, Failures, PORT};
use diesel::prelude::*;
use pudo::auth::Keys;
use pudo::db::{self, DatabaseUrl};
use serde_json::json;
use std::time::{Duration, Instant};

/// Shops in eight H3 resolution-3 regions, so that each of the two workers holds some; each
/// city has a second shop 330 m away (in the same region: checked), for moves and redirects
/// within a region.
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity
mad,Madrid,40.4169,-3.7035,50
bcn,Barcelona,41.3809,2.1735,50
sev,Sevilla,37.3891,-5.9845,50
bil,Bilbao,43.2630,-2.9350,50
vlc,Valencia,39.4699,-0.3763,50
lis,Lisboa,38.7223,-9.1393,50
par,Paris,48.8566,2.3522,50
ber,Berlin,52.5200,13.4050,50
mad2,Madrid 2,40.4199,-3.7035,50
bcn2,Barcelona 2,41.3839,2.1735,50
sev2,Sevilla 2,37.3921,-5.9845,50
bil2,Bilbao 2,43.2660,-2.9350,50
vlc2,Valencia 2,39.4729,-0.3763,50
lis2,Lisboa 2,38.7253,-9.1393,50
par2,Paris 2,48.8596,2.3522,50
ber2,Berlin 2,52.5230,13.4050,50
";

/// A shop of the test network and where its region lives.
#[derive(Debug, Clone)]
struct Shop {
    external_id: String,
    id: i64,
    region: i64,
    lat: f64,
    lon: f64,
}

/// A shop with the two reservations made there before the worker stopped: `parcel` goes
/// through the order flow, `second` is cancelled (running regions) or arrives and waits
/// (the stopped worker's regions, for the sweep after its restart).
#[derive(Debug, Clone)]
struct Booked {
    shop: Shop,
    parcel: i64,
    second: i64,
}

/// What the checks of this test share.
struct Ctx<'a> {
    http: &'a Client,
    keys: &'a Keys,
    merchant: String,
}

impl Ctx<'_> {
    /// The partner token of `shop`.
    pub fn partner(&self, shop: &Shop) -> String {
        partner_token(self.keys, &shop.external_id, shop.id)
    }

    /// A reservation at `shop` (answer as is).
    pub fn reserve(&self, shop: &Shop, order_ref: &str) -> client::Answer {
        self.http.post(
            "/v1/reservations",
            &self.merchant,
            Some(json!({"pickup_point_id": shop.id, "order_ref": order_ref})),
        )
    }

    /// A reservation at `shop` that must succeed; its id.
    pub fn reserved(&self, shop: &Shop, order_ref: &str) -> i64 {
        let r = self.reserve(shop, order_ref);
        assert_eq!(
            r.status, 201,
            "{}: reserve {order_ref}: {r:?}",
            shop.external_id
        );
        r.body["id"].as_i64().expect("id")
    }

    /// The merchant's read of a reservation.
    pub fn read(&self, parcel: i64) -> client::Answer {
        self.http
            .get(&format!("/v1/reservations/{parcel}"), &self.merchant)
    }

    /// The partner's arrival scan of `parcel` at `shop`.
    pub fn arrival(&self, shop: &Shop, parcel: i64) -> client::Answer {
        self.http.post(
            &format!("/v1/partner/parcels/{parcel}/arrival"),
            &self.partner(shop),
            None,
        )
    }
}

/// Which shops lie on which worker (1 or 2), with their regions, read on the coordinator.
fn placements(admin: &mut db::DbConn, shops: &[(String, i64)]) -> Vec<(Shop, u16)> {
    #[derive(QueryableByName)]
    struct Placed {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        region: i64,
        #[diesel(sql_type = diesel::sql_types::Double)]
        lat: f64,
        #[diesel(sql_type = diesel::sql_types::Double)]
        lon: f64,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        port: i32,
    }
    let placed: Vec<Placed> = diesel::sql_query(
        "SELECT s.id, s.region, s.latitude AS lat, s.longitude AS lon, n.nodeport AS port \
         FROM shops s \
         JOIN pg_dist_placement p \
           ON p.shardid = get_shard_id_for_distribution_column('shop_load', s.region) \
         JOIN pg_dist_node n ON n.groupid = p.groupid ORDER BY s.id",
    )
    .load(admin)
    .expect("placements");
    shops
        .iter()
        .map(|(external_id, id)| {
            let p = placed.iter().find(|p| p.id == *id).expect("placed");
            let worker = u16::try_from(p.port).expect("port") - PORT;
            let shop = Shop {
                external_id: external_id.clone(),
                id: *id,
                region: p.region,
                lat: p.lat,
                lon: p.lon,
            };
            (shop, worker)
        })
        .collect()
}

#[test]
fn a_stopped_worker_fails_only_its_regions_with_503_citus() {
    if citus_url().is_none() {
        return;
    }
    let (cluster, url) = Cluster::up();
    let mut admin = DatabaseUrl::parse(&url)
        .expect("url")
        .connect()
        .expect("the test cluster's coordinator");
    diesel::connection::SimpleConnection::batch_execute(
        &mut admin,
        "ALTER DATABASE pudo SET citus.shard_count = 4",
    )
    .expect("shard count");
    let pool = db::pool(&DatabaseUrl::parse(&url).expect("url"), 4).expect("pool");
    db::run_migrations(&mut pool.get().expect("conn")).expect("migrations");
    let (keys, shops) = setup(&pool, SHOPS);
    let placed = placements(&mut admin, &shops);
    let on = |worker: u16| -> Vec<Shop> {
        placed
            .iter()
            .filter(|(_, w)| *w == worker)
            .map(|(s, _)| s.clone())
            .collect()
    };
    let (up, down) = (on(1), on(2));
    assert!(
        !up.is_empty() && !down.is_empty(),
        "the regions must lie on both workers: {up:?} / {down:?}"
    );

    let servers = start(&url, 1, &[]);
    let http = Client::new(servers[0].url(""));
    let ctx = Ctx {
        http: &http,
        keys: &keys,
        merchant: merchant_token(&keys, "acme"),
    };
    // Before: two reservations at every shop (each region); in the stopped worker's regions
    // the second arrives, to be swept after the restart.
    let booked: Vec<Booked> = [(&up, false), (&down, true)]
        .into_iter()
        .flat_map(|(shops, arrive)| shops.iter().map(move |s| (s, arrive)))
        .map(|(shop, arrive)| {
            let parcel = ctx.reserved(shop, &format!("before-{}", shop.external_id));
            let second = ctx.reserved(shop, &format!("second-{}", shop.external_id));
            if arrive {
                assert_eq!(ctx.arrival(shop, second).status, 200);
            }
            Booked {
                shop: shop.clone(),
                parcel,
                second,
            }
        })
        .collect();
    let in_up: Vec<&Booked> = booked.iter().take(up.len()).collect();
    let in_down: Vec<&Booked> = booked.iter().skip(up.len()).collect();

    cluster.script(&["stop-worker", "2"]);

    // Every request of the order flow for a region of the worker that answers succeeds.
    let mut failures = Failures::default();
    for b in &in_up {
        order_flow_works(&ctx, b, &mut failures);
    }
    failures.assert_none("requests for the regions of the running worker failed");

    // Every request for a region of the stopped worker answers 503 with Retry-After.
    for b in &in_down {
        let partner = ctx.partner(&b.shop);
        ctx.reserve(&b.shop, &format!("during-{}", b.shop.external_id))
            .assert_unavailable("reserve");
        ctx.read(b.parcel).assert_unavailable("read");
        ctx.arrival(&b.shop, b.parcel).assert_unavailable("arrival");
        http.post(
            "/v1/partner/handovers",
            &partner,
            Some(json!({"code": "00000000"})),
        )
        .assert_unavailable("handover");
    }
    // A write of a reference table needs every node: 503 too, whatever the region.
    http.put(
        "/v1/merchant/webhook",
        &ctx.merchant,
        json!({"url": "http://127.0.0.1:9/hook"}),
    )
    .assert_unavailable("webhook (merchants, a reference table)");

    // Moves, redirects, hold extensions, hand-ins, statements, searches with `sku`, then
    // the sweep, and a server started now.
    let waiting = paths::cross_region_paths_work_in_the_other_regions(&ctx, &up, &in_down);
    paths::the_sweep_skips_only_the_stopped_regions(&pool, &ctx, waiting);
    let late_servers = start(&url, 1, &[]);
    let late = Client::new(late_servers[0].url(""));
    paths::a_server_started_now_serves_the_other_regions(&late, &ctx, &up, &down);
    eprintln!(
        "slowest answer while the worker was down: {:?}",
        http.slowest.get().max(late.slowest.get())
    );

    // The coordinator answers: ready; the metrics name the worker that does not.
    assert_eq!(http.get("/readyz", "").status, 200);
    let metrics = http.metrics();
    let series = |port: u16, value: u8| {
        format!("pudo_citus_worker_up{{worker=\"127.0.0.1:{port}\"}} {value}")
    };
    assert!(metrics.contains(&series(PORT + 2, 0)), "{metrics}");
    assert!(metrics.contains(&series(PORT + 1, 1)), "{metrics}");

    // Started again: its regions answer within 10 s (the bound), every request then.
    cluster.script(&["start-worker", "2"]);
    let restarted = Instant::now();
    loop {
        let a = ctx.read(in_down[0].parcel);
        if a.status == 200 {
            break;
        }
        assert_eq!(a.status, 503, "{a:?}");
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "still 503 10 s after the restart: {a:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "the stopped worker's regions answered again {:?} after its restart",
        restarted.elapsed()
    );
    paths::the_late_server_gains_the_stopped_regions(&late, &down, restarted);
    paths::the_sweep_reaches_the_restarted_regions(&pool, &ctx, &in_down);
    for b in &booked {
        ctx.reserved(&b.shop, &format!("after-{}", b.shop.external_id));
    }
    drop(late_servers);
    drop(servers);
}

/// The order flow at one shop of a running region, failures collected: a reservation and its
/// repeat, the merchant's read, a cancellation, the arrival, the code read once, the
/// handover, the partner's list.
fn order_flow_works(ctx: &Ctx<'_>, b: &Booked, failures: &mut Failures) {
    let who = b.shop.external_id.as_str();
    let partner = ctx.partner(&b.shop);
    let order_ref = format!("during-{who}");
    let new = failures.expect(who, "reserve", ctx.reserve(&b.shop, &order_ref), 201);
    let again = failures.expect(who, "repeat", ctx.reserve(&b.shop, &order_ref), 200);
    assert_eq!(
        new.body["id"], again.body["id"],
        "the repeat answers the same reservation"
    );
    failures.expect(who, "read", ctx.read(b.parcel), 200);
    let cancel = ctx.http.post(
        &format!("/v1/reservations/{}/cancel", b.second),
        &ctx.merchant,
        None,
    );
    failures.expect(who, "cancel", cancel, 200);
    failures.expect(who, "arrival", ctx.arrival(&b.shop, b.parcel), 200);
    let read = failures.expect(who, "read code", ctx.read(b.parcel), 200);
    let code = read.body["pickup_code"].as_str().unwrap_or_default();
    let handover = ctx.http.post(
        "/v1/partner/handovers",
        &partner,
        Some(json!({"code": code})),
    );
    failures.expect(who, "handover", handover, 200);
    let list = ctx.http.get("/v1/partner/parcels", &partner);
    failures.expect(who, "list", list, 200);
}
