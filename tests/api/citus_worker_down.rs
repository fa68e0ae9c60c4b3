//! A Citus worker down (issue 16, docs/operations.md "A worker down"): with one worker stopped,
//! requests for the regions on the other worker all succeed, requests for the stopped worker's
//! regions answer 503 `application/problem+json` with `Retry-After` (never 500, never held),
//! `/readyz` stays 200 and `/metrics` names the worker; once it is started again, its regions
//! answer within 10 s.
//!
//! Runs when `PUDO_TEST_CITUS_URL` is set, as the other Citus tests, but on a small cluster of
//! its own (`deploy/citus/cluster.sh` on ports 25437-25439 under target/citus-worker-down),
//! so that stopping a worker never disturbs the tests running on the shared one.

use crate::processes::{merchant_token, partner_token, setup, start};
use crate::support::citus_url;
use diesel::prelude::*;
use pudo::db::{self, DatabaseUrl};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The cluster's coordinator port; the workers take the next two (inside the range kept for
/// Citus tests, 25432-25440, above the shared cluster's 25432-25434).
const PORT: u16 = 25437;

/// Shops in eight H3 resolution-3 regions, so that each of the two workers holds some.
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
";

/// The cluster of this test; taken down when dropped.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn script(&self, args: &[&str]) -> String {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(root.join("deploy/citus/cluster.sh"))
            .args(args)
            .env("CITUS_DIR", &self.dir)
            .env("CITUS_PORT", PORT.to_string())
            .env("WORKERS", "2")
            .output()
            .expect("run deploy/citus/cluster.sh");
        assert!(
            out.status.success(),
            "cluster.sh {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn up() -> (Self, String) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/citus-worker-down");
        let cluster = Self { dir };
        // A cluster left by an interrupted run is removed first: the test starts from nothing.
        cluster.script(&["down"]);
        let url = cluster.script(&["up"]);
        let url = url.lines().last().expect("the URL").to_owned();
        (cluster, url)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let _ = Command::new(root.join("deploy/citus/cluster.sh"))
            .arg("down")
            .env("CITUS_DIR", &self.dir)
            .env("CITUS_PORT", PORT.to_string())
            .output();
    }
}

/// An answer with the headers this test looks at.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    retry_after: Option<String>,
    body: Value,
    took: Duration,
}

fn call(agent: &ureq::Agent, method: &str, url: &str, token: &str, body: Option<Value>) -> Answer {
    let started = Instant::now();
    let auth = format!("Bearer {token}");
    let res = match (method, body) {
        ("GET", _) => agent.get(url).header("authorization", &auth).call(),
        ("PUT", Some(b)) => agent.put(url).header("authorization", &auth).send_json(b),
        (_, b) => agent
            .post(url)
            .header("authorization", &auth)
            .send_json(b.unwrap_or(json!({}))),
    };
    let mut res = res.unwrap_or_else(|e| panic!("{method} {url}: no answer: {e}"));
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type").unwrap_or_default();
    let retry_after = header("retry-after");
    let text = res.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status: res.status().as_u16(),
        content_type,
        retry_after,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        took: started.elapsed(),
    }
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

    // Which worker (1 or 2) holds each shop's region.
    #[derive(QueryableByName)]
    struct Placed {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        port: i32,
    }
    let placed: Vec<Placed> = diesel::sql_query(
        "SELECT s.id, n.nodeport AS port FROM shops s \
         JOIN pg_dist_placement p \
           ON p.shardid = get_shard_id_for_distribution_column('shop_load', s.region) \
         JOIN pg_dist_node n ON n.groupid = p.groupid ORDER BY s.id",
    )
    .load(&mut admin)
    .expect("placements");
    let on = |worker: u16| -> Vec<(String, i64)> {
        shops
            .iter()
            .filter(|(_, id)| {
                placed
                    .iter()
                    .any(|p| p.id == *id && p.port == i32::from(PORT + worker))
            })
            .cloned()
            .collect()
    };
    let (up, down) = (on(1), on(2));
    assert!(
        !up.is_empty() && !down.is_empty(),
        "the regions must lie on both workers: {up:?} / {down:?}"
    );

    let servers = start(&url, 1, &[]);
    let server = &servers[0];
    let agent = crate::load::http::agent();
    let merchant = merchant_token(&keys, "acme");
    let at = |path: &str| server.url(path);
    let reserve = |shop: i64, order_ref: &str| {
        call(
            &agent,
            "POST",
            &at("/v1/reservations"),
            &merchant,
            Some(json!({"pickup_point_id": shop, "order_ref": order_ref})),
        )
    };
    // Before: one reservation at every shop (each region), and one more to cancel later.
    let mut before = Vec::new();
    for (external_id, id) in &shops {
        let r = reserve(*id, &format!("before-{external_id}"));
        assert_eq!(r.status, 201, "{r:?}");
        let c = reserve(*id, &format!("cancel-{external_id}"));
        assert_eq!(c.status, 201, "{c:?}");
        before.push((
            external_id.clone(),
            *id,
            r.body["id"].as_i64().expect("id"),
            c.body["id"].as_i64().expect("id"),
        ));
    }

    cluster.script(&["stop-worker", "2"]);

    // Every request for a region of the worker that answers succeeds.
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    for (external_id, shop, parcel, to_cancel) in
        before.iter().filter(|b| up.iter().any(|u| u.1 == b.1))
    {
        let partner = partner_token(&keys, external_id, *shop);
        let mut check = |what: &str, a: Answer, want: u16| {
            slowest = slowest.max(a.took);
            if a.status != want {
                failures.push(format!("{external_id}: {what}: {} {}", a.status, a.body));
            }
            a
        };
        let new = check(
            "reserve",
            reserve(*shop, &format!("during-{external_id}")),
            201,
        );
        let again = check(
            "repeat",
            reserve(*shop, &format!("during-{external_id}")),
            200,
        );
        assert_eq!(
            new.body["id"], again.body["id"],
            "the repeat answers the same reservation"
        );
        check(
            "read",
            call(
                &agent,
                "GET",
                &at(&format!("/v1/reservations/{parcel}")),
                &merchant,
                None,
            ),
            200,
        );
        check(
            "cancel",
            call(
                &agent,
                "POST",
                &at(&format!("/v1/reservations/{to_cancel}/cancel")),
                &merchant,
                None,
            ),
            200,
        );
        check(
            "arrival",
            call(
                &agent,
                "POST",
                &at(&format!("/v1/partner/parcels/{parcel}/arrival")),
                &partner,
                None,
            ),
            200,
        );
        let read = check(
            "read code",
            call(
                &agent,
                "GET",
                &at(&format!("/v1/reservations/{parcel}")),
                &merchant,
                None,
            ),
            200,
        );
        let code = read.body["pickup_code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        check(
            "handover",
            call(
                &agent,
                "POST",
                &at("/v1/partner/handovers"),
                &partner,
                Some(json!({"code": code})),
            ),
            200,
        );
        check(
            "list",
            call(&agent, "GET", &at("/v1/partner/parcels"), &partner, None),
            200,
        );
    }
    assert!(
        failures.is_empty(),
        "requests for the regions of the running worker failed:\n{}",
        failures.join("\n")
    );

    // Every request for a region of the stopped worker answers 503 with Retry-After.
    let unavailable = |what: &str, a: Answer| {
        assert_eq!(a.status, 503, "{what}: {a:?}");
        assert_eq!(a.content_type, "application/problem+json", "{what}");
        assert_eq!(
            a.body["type"], "https://pudo.dev/problems/unavailable",
            "{what}"
        );
        assert!(a.retry_after.is_some(), "{what}: no Retry-After");
        a.took
    };
    for (external_id, shop, parcel, _) in before.iter().filter(|b| down.iter().any(|d| d.1 == b.1))
    {
        let partner = partner_token(&keys, external_id, *shop);
        slowest = slowest.max(unavailable(
            "reserve",
            reserve(*shop, &format!("during-{external_id}")),
        ));
        slowest = slowest.max(unavailable(
            "read",
            call(
                &agent,
                "GET",
                &at(&format!("/v1/reservations/{parcel}")),
                &merchant,
                None,
            ),
        ));
        slowest = slowest.max(unavailable(
            "arrival",
            call(
                &agent,
                "POST",
                &at(&format!("/v1/partner/parcels/{parcel}/arrival")),
                &partner,
                None,
            ),
        ));
        slowest = slowest.max(unavailable(
            "handover",
            call(
                &agent,
                "POST",
                &at("/v1/partner/handovers"),
                &partner,
                Some(json!({"code": "00000000"})),
            ),
        ));
    }
    // A write of a reference table needs every node: 503 too, whatever the region.
    unavailable(
        "webhook (merchants, a reference table)",
        call(
            &agent,
            "PUT",
            &at("/v1/merchant/webhook"),
            &merchant,
            Some(json!({"url": "http://127.0.0.1:9/hook"})),
        ),
    );
    eprintln!("slowest answer while the worker was down: {slowest:?}");

    // The coordinator answers: ready; the metrics name the worker that does not.
    let ready = agent.get(&at("/readyz")).call().expect("readyz");
    assert_eq!(ready.status(), 200);
    let metrics = agent
        .get(&at("/metrics"))
        .call()
        .expect("metrics")
        .body_mut()
        .read_to_string()
        .expect("text");
    let series = |port: u16, value: u8| {
        format!("pudo_citus_worker_up{{worker=\"127.0.0.1:{port}\"}} {value}")
    };
    assert!(metrics.contains(&series(PORT + 2, 0)), "{metrics}");
    assert!(metrics.contains(&series(PORT + 1, 1)), "{metrics}");

    // Started again: its regions answer within 10 s (the bound), every request then.
    cluster.script(&["start-worker", "2"]);
    let restarted = Instant::now();
    let (_, _, first_parcel, _) = before
        .iter()
        .find(|b| down.iter().any(|d| d.1 == b.1))
        .expect("a shop");
    loop {
        let a = call(
            &agent,
            "GET",
            &at(&format!("/v1/reservations/{first_parcel}")),
            &merchant,
            None,
        );
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
    for (external_id, shop, _, _) in &before {
        let r = reserve(*shop, &format!("after-{external_id}"));
        assert_eq!(r.status, 201, "{external_id} after the restart: {r:?}");
    }
    drop(servers);
}
