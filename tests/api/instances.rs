//! Past one machine (issue 8): four `pudo serve` processes on one fresh PostgreSQL database
//! under a mixed concurrent load spread over all four — reservations (some repeated),
//! cancellations, moves, arrivals, wrong codes, handovers and their replays — after which every
//! invariant of issue 3 holds ([`crate::load::invariants`]) and the webhook dispatchers of the
//! four instances have delivered every event.
//!
//! Needs PostgreSQL (`PUDO_TEST_DATABASE_URL`); fails, never skips, without it.

use crate::load::workload::{self, Fixture, Shop, Until};
use crate::load::{http, invariants};
use crate::processes::{merchant_token, partner_token, setup, start};
use crate::support::{Backend, TestDb};
use crate::webhook_sink::Sink;
use diesel::prelude::*;
use pudo::db::schema::{outbox, shop_load};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// A decoy that never holds a parcel, and eight shops of one or two slots: twelve clients
/// keep them full much of the time.
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity
decoy,Mostrador de prueba,40.4100,-3.7100,10
m0,Kiosko Sol,40.4169,-3.7035,1
m1,Estanco Ópera,40.4180,-3.7097,2
m2,Librería Huertas,40.4143,-3.6993,1
m3,Ferretería Lavapiés,40.4088,-3.7010,2
m4,Papelería Chueca,40.4229,-3.6974,1
m5,Droguería Malasaña,40.4260,-3.7040,2
m6,Frutería La Latina,40.4110,-3.7090,1
m7,Mercería Embajadores,40.4060,-3.7030,2
";

#[test]
fn four_instances_on_one_postgres_keep_every_invariant_under_mixed_load() {
    four_instances_keep_every_invariant_under_mixed_load(Backend::Postgres);
}

/// The same on a Citus coordinator (`PUDO_TEST_CITUS_URL`; nothing without it).
#[test]
fn four_instances_on_citus_keep_every_invariant_under_mixed_load() {
    if crate::support::citus_url().is_some() {
        four_instances_keep_every_invariant_under_mixed_load(Backend::Citus);
    }
}

fn four_instances_keep_every_invariant_under_mixed_load(backend: Backend) {
    let db = TestDb::new(backend);
    let pool = db.pool();
    let (keys, shops) = setup(&pool, SHOPS);
    let sink = Sink::start();
    let servers = start(&db.url, 4, &[("PUDO_WEBHOOK_POLL_MS", "100")]);
    let merchant = merchant_token(&keys, "acme");
    let agent = http::agent();
    let hook = http::reply(
        agent
            .put(servers[0].url("/v1/merchant/webhook"))
            .header("authorization", &format!("Bearer {merchant}"))
            .send_json(json!({ "url": sink.url })),
    )
    .expect("webhook");
    assert_eq!(hook.status, 200, "{}", hook.text);
    let shop = |(external_id, id): &(String, i64)| Shop {
        id: *id,
        partner: partner_token(&keys, external_id, *id),
    };
    let fixture = Fixture {
        merchant,
        decoy: Some(shop(&shops[0])),
        shops: shops[1..].iter().map(shop).collect(),
    };
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();

    let tally = workload::run(&bases, &fixture, 12, Until::Orders(20), "T");

    let served: usize = tally.reservations.len();
    assert_eq!(
        tally.reservations.iter().filter(|r| !r.repeat).count(),
        240,
        "every order was sent"
    );
    let full = tally
        .reservations
        .iter()
        .filter(|r| r.status == 409)
        .count();
    let handed = tally.orders_done();
    // The load exercised what it is meant to: shops filled, repeats, moves, cancels, replays,
    // throttled guesses.
    assert!(full > 0, "no reservation met a full shop ({served} sent)");
    assert!(tally.reservations.iter().any(|r| r.repeat));
    assert!(tally.moves.iter().any(|m| m.2 == 200));
    assert!(!tally.cancels.is_empty());
    assert!(tally.handovers.iter().any(|h| h.replay == Some(true)));
    assert!(tally.wrong_codes.contains(&429), "the decoy was throttled");
    let checked = invariants::check(&mut pool.get().expect("conn"), &tally).unwrap_or_else(|bad| {
        let logs: Vec<String> = servers.iter().map(|s| s.log()).collect();
        panic!(
            "{} invariant(s) broken:\n{}\n\nlogs:\n{}",
            bad.len(),
            bad.join("\n"),
            logs.join("\n---\n")
        )
    });

    // The check is not vacuous: an overbooked shop or a lost event, made up inside a
    // transaction that is rolled back, is reported.
    let mut conn = pool.get().expect("conn");
    let _ = conn.transaction(|conn| -> Result<(), diesel::result::Error> {
        diesel::update(shop_load::table.filter(shop_load::shop_id.eq(shops[1].1)))
            .set(shop_load::live.eq(shop_load::live + 5))
            .execute(conn)?;
        diesel::delete(outbox::table.filter(outbox::kind.eq("parcel.picked_up"))).execute(conn)?;
        let bad = invariants::check(conn, &tally).expect_err("made-up violations are found");
        assert!(
            bad.iter().any(|b| b.contains("capacity 1")),
            "overbooking reported: {bad:?}"
        );
        assert!(
            bad.iter().any(|b| b.contains("parcel.picked_up")),
            "lost events reported: {bad:?}"
        );
        Err(diesel::result::Error::RollbackTransaction)
    });
    drop(conn);

    // Each instance's /metrics reads the full shops from the database: after four one-slot
    // shops are filled through different instances, all four report them.
    for (k, (_, id)) in shops.iter().skip(1).step_by(2).enumerate() {
        let r = http::post(
            &agent,
            &servers[k % 4].url("/v1/reservations"),
            &fixture.merchant,
            &json!({"pickup_point_id": id, "order_ref": format!("FILL-{k}")}),
        )
        .expect("reserve");
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let full_now = pudo::pickup::gauges::read(
        &mut pool.get().expect("conn"),
        chrono::Utc::now().naive_utc(),
    )
    .expect("gauges")
    .shops_full;
    assert_eq!(full_now, 4, "the four one-slot shops are full");
    for server in &servers {
        let text = http::reply(agent.get(server.url("/metrics")).call())
            .expect("metrics")
            .text;
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix("pudo_shops_full "))
            .unwrap_or_else(|| panic!("no pudo_shops_full in {text}"));
        assert_eq!(value.parse::<i64>().ok(), Some(full_now), "{}", server.base);
    }

    // The four dispatchers deliver every event (at least once; ids make repeats harmless).
    let mut conn = pool.get().expect("conn");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = pudo::pickup::outbox::pending(&mut conn).expect("pending");
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} events still undelivered after 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ids: HashSet<String> = outbox::table
        .select(outbox::event_id)
        .load::<String>(&mut conn)
        .expect("events")
        .into_iter()
        .collect();
    let received: HashSet<String> = sink
        .received
        .lock()
        .expect("lock")
        .iter()
        .map(|r| r.headers["pudo-event-id"].clone())
        .collect();
    assert_eq!(received, ids, "every event delivered, nothing else");
    eprintln!(
        "4 instances: {} requests, {full} reservations refused full, {handed} reservations + \
         first handovers; {} parcels, {} events, {} audited attempts",
        tally.requests, checked.parcels, checked.events, checked.attempts
    );
}

/// `PUDO_LOG_FORMAT=json`: one JSON object per line, and a request's lines carry its
/// `request_id` (never its bearer token).
#[test]
fn json_logs_carry_the_request_id() {
    let db = TestDb::new(Backend::Sqlite);
    let servers = start(&db.url, 1, &[("PUDO_LOG_FORMAT", "json")]);
    let agent = http::agent();
    let secret_token = "not-a-real-token-but-secret";
    let answer =
        http::get(&agent, &servers[0].url("/v1/partner/shop"), secret_token).expect("answer");
    assert_eq!(answer.status, 401, "{}", answer.text);
    let bad =
        http::reply(agent.get(servers[0].url("/v1/pickup-points?lat=x")).call()).expect("answer");
    assert_eq!(bad.status, 400);
    let log = servers[0].log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let mut ids = HashSet::new();
    for target in ["/v1/partner/shop", "/v1/pickup-points?lat=x"] {
        let line = lines
            .iter()
            .find(|l| l["span"]["http.target"] == target)
            .unwrap_or_else(|| panic!("no log line for {target} in:\n{log}"));
        let id = line["span"]["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no request_id: {line}"));
        assert!(uuid::Uuid::parse_str(id).is_ok(), "request_id {id}");
        ids.insert(id.to_owned());
    }
    assert_eq!(ids.len(), 2, "each request its own id");
    assert!(
        !log.contains(secret_token),
        "the bearer token is never logged"
    );
}
