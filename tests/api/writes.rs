//! The write path of reservations and handovers (issue 18): a batch (group commit) gives every
//! request the answer it would have had alone, in order of arrival; on PostgreSQL the
//! server-side functions write what the statements write, byte for byte in the events.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use diesel::prelude::*;
use pudo::auth::Role;
use pudo::pickup::handover::{handover_many, HandoverRequest};
use pudo::pickup::reservations::{arrive_with_codes, reserve_many, ReservationRequest};
use pudo::pickup::{CodeIssuer, Outcome, PickupError};
use serde_json::json;
use std::sync::Arc;

const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,status
small,Kiosko Pequeño,40.4169,-3.7035,3,active
big,Supermercado,40.4180,-3.7097,50,active
";

fn request(shop_id: i64, order_ref: &str) -> ReservationRequest {
    ReservationRequest {
        merchant: "acme".into(),
        shop_id,
        order_ref: order_ref.into(),
        sku: None,
        arrive_at: None,
        customer: None,
        size: Default::default(),
        conditions: Default::default(),
    }
}

/// A count (`SELECT count(*) AS n …`) read from the test's database.
pub fn count(app: &TestApp, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<N>(&mut *app.state.pool.get().expect("conn"))
        .expect("count")
        .n
}

/// A handover attempt by the test's partner, confirming nothing.
fn attempt(shop_id: i64, code: &str) -> HandoverRequest {
    HandoverRequest {
        shop_id,
        actor: "partner:test".into(),
        code: code.into(),
        confirmed: Default::default(),
    }
}

/// `batch` handed over as one batch, now, on the functions' path or the statements'.
fn hand_over(
    app: &TestApp,
    batch: &[HandoverRequest],
    functions: bool,
) -> Vec<pudo::pickup::handover::HandoverAnswer> {
    handover_many(
        &mut app.state.pool.get().expect("conn"),
        app.state.keys.data_key(),
        batch,
        chrono::Utc::now().naive_utc(),
        functions,
    )
}

/// A parcel reserved and arrived over HTTP; its pickup code.
async fn waiting_parcel(app: &TestApp, shop: &str, order_ref: &str) -> (i64, String) {
    let merchant = app.token(Role::Merchant, "acme");
    let partner = app.partner_token(shop);
    let reserved = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": app.shop_id(shop), "order_ref": order_ref}),
        )
        .await;
    let id = reserved.body["id"].as_i64().expect("id");
    app.post(
        &format!("/v1/partner/parcels/{id}/arrival"),
        &partner,
        json!({}),
    )
    .await
    .ok();
    let read = app
        .get_as(&format!("/v1/reservations/{id}"), &merchant)
        .await;
    let code = read.ok()["pickup_code"].as_str().expect("code").to_owned();
    (id, code)
}

/// One batch of reservations, on both write paths: each request answered as alone, a full
/// shop refusing exactly those beyond its free slots in the order given, a repeat in the batch
/// answered as a repeat, a bad request failing alone.
async fn a_batch_of_reservations_answers_each_as_alone(backend: Backend) {
    for functions in [true, false] {
        let app = TestApp::new(backend).with_csv(SHOPS);
        let (small, big) = (app.shop_id("small"), app.shop_id("big"));
        let batch = vec![
            request(small, "S-1"),
            request(small, "S-2"),
            request(small, ""),
            request(small, "S-1"),
            request(small, "S-3"),
            request(small, "S-4"),
            request(big, "B-1"),
            request(999_999, "X-1"),
            request(big, "S-2"),
        ];
        let key = [7u8; 32];
        let issuer = CodeIssuer {
            data_key: &key,
            hold: chrono::Duration::days(7),
        };
        let now = chrono::Utc::now().naive_utc();
        let answers = reserve_many(
            &mut app.state.pool.get().expect("conn"),
            &batch,
            &issuer,
            now,
            functions,
        );
        let shown: Vec<String> = answers
            .iter()
            .map(|a| match a {
                Ok((p, true, live)) => format!("created {} live {live}", p.order_ref),
                Ok((p, false, _)) => format!("repeat {}", p.order_ref),
                Err(PickupError::Invalid { field, .. }) => format!("invalid {field}"),
                Err(e) => format!("{e}"),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "created S-1 live 1",
                "created S-2 live 2",
                "invalid order_ref",
                "repeat S-1",
                "created S-3 live 3",
                "the pickup point cannot take a parcel: it is full",
                "created B-1 live 1",
                "no pickup point with id 999999",
                "order_ref \"S-2\" already has a reservation at another pickup point",
            ],
            "functions: {functions}"
        );
        let first = answers[0].as_ref().expect("created");
        let repeat = answers[3].as_ref().expect("repeat");
        assert_eq!(first.0, repeat.0, "a repeat answers the same parcel");
        assert_eq!(count(&app, "SELECT count(*) AS n FROM parcels"), 4);
        assert_eq!(
            count(
                &app,
                "SELECT count(*) AS n FROM outbox WHERE kind = 'reservation.created'"
            ),
            4
        );
        assert_eq!(
            count(&app, "SELECT sum(live) AS n FROM shop_load"),
            4,
            "one slot per parcel"
        );
    }
}
on_both_backends!(a_batch_of_reservations_answers_each_as_alone);

/// One batch of handover attempts: the first right code hands over, its repeat in the same
/// batch is a replay, wrong codes count towards the bound, an unknown shop fails alone; one
/// ledger line and one event per handover.
async fn a_batch_of_handovers_answers_each_as_alone(backend: Backend) {
    for functions in [true, false] {
        let app = TestApp::new(backend).with_csv(SHOPS);
        let (small, big) = (app.shop_id("small"), app.shop_id("big"));
        let (a, code_a) = waiting_parcel(&app, "small", "H-1").await;
        let (b, code_b) = waiting_parcel(&app, "big", "H-2").await;
        let batch = vec![
            attempt(small, &code_a),
            attempt(small, &code_a),
            attempt(small, "0000 0000"),
            attempt(small, "not a code"),
            attempt(small, &code_b),
            attempt(big, &code_b),
            attempt(999_999, &code_a),
        ];
        let answers = hand_over(&app, &batch, functions);
        let shown: Vec<String> = answers
            .iter()
            .map(|o| match o {
                Ok(Outcome::Success(h)) => format!("success {} {}", h.parcel_id, h.order_ref),
                Ok(Outcome::Replay(h)) => format!("replay {} {}", h.parcel_id, h.order_ref),
                Ok(other) => other.label().to_owned(),
                Err(e) => format!("{e}"),
            })
            .collect();
        assert_eq!(
            shown,
            [
                format!("success {a} H-1"),
                format!("replay {a} H-1"),
                "wrong_code".into(),
                "wrong_code".into(),
                "wrong_code".into(),
                format!("success {b} H-2"),
                "no pickup point with id 999999".into(),
            ],
            "functions: {functions}"
        );
        assert_eq!(
            count(
                &app,
                "SELECT count(*) AS n FROM ledger WHERE kind = 'handover'"
            ),
            2
        );
        assert_eq!(
            count(
                &app,
                "SELECT count(*) AS n FROM outbox WHERE kind = 'parcel.picked_up'"
            ),
            2
        );
        assert_eq!(
            count(&app, "SELECT count(*) AS n FROM handover_attempts"),
            6,
            "every attempt at a known shop audited"
        );
        assert_eq!(count(&app, "SELECT sum(live) AS n FROM shop_load"), 0);
    }
}
on_both_backends!(a_batch_of_handovers_answers_each_as_alone);

/// A batch that reaches a shop's wrong-code bound: the attempts after the fifth wrong code are
/// refused without looking (even the right code), with the wait the statements compute; the
/// other shop's attempts go on. Both paths answer the same, and the parcel stays waiting.
async fn a_batch_reaching_the_wrong_code_bound_answers_as_alone(backend: Backend) {
    for functions in [true, false] {
        let app = TestApp::new(backend).with_csv(SHOPS);
        let (small, big) = (app.shop_id("small"), app.shop_id("big"));
        let (a, code_a) = waiting_parcel(&app, "small", "B-1").await;
        let (b, code_b) = waiting_parcel(&app, "big", "B-2").await;
        let mut batch: Vec<HandoverRequest> = (0..5)
            .map(|k| attempt(small, &format!("1234 567{k}")))
            .collect();
        batch.push(attempt(small, &code_a));
        batch.push(attempt(big, &code_b));
        batch.push(attempt(small, "1234 5679"));
        batch.push(attempt(big, &code_b));
        let answers = hand_over(&app, &batch, functions);
        let shown: Vec<String> = answers
            .iter()
            .map(|o| match o {
                Ok(Outcome::Success(h)) => format!("success {}", h.parcel_id),
                Ok(Outcome::Replay(h)) => format!("replay {}", h.parcel_id),
                Ok(Outcome::RateLimited { retry_after_secs }) => {
                    assert!(
                        (590..=600).contains(retry_after_secs),
                        "the window of the oldest wrong code: {retry_after_secs}"
                    );
                    "rate_limited".into()
                }
                Ok(other) => other.label().to_owned(),
                Err(e) => format!("{e}"),
            })
            .collect();
        let mut expected = vec!["wrong_code".to_owned(); 5];
        expected.extend([
            "rate_limited".into(),
            format!("success {b}"),
            "rate_limited".into(),
            format!("replay {b}"),
        ]);
        assert_eq!(shown, expected, "functions: {functions}");
        assert_eq!(
            count(
                &app,
                &format!("SELECT count(*) AS n FROM parcels WHERE id = {a} AND state = 'at_point'")
            ),
            1,
            "the right code after the bound hands nothing over"
        );
        assert_eq!(
            count(
                &app,
                "SELECT count(*) AS n FROM handover_attempts WHERE result = 'rate_limited'"
            ),
            2
        );
        assert_eq!(
            count(&app, "SELECT count(*) AS n FROM handover_attempts"),
            9
        );
        assert_eq!(
            count(
                &app,
                "SELECT count(*) AS n FROM outbox WHERE kind = 'parcel.picked_up'"
            ),
            1
        );
    }
}
on_both_backends!(a_batch_reaching_the_wrong_code_bound_answers_as_alone);

/// The events the write path stores are the JSON serde writes for the parcel's view, byte
/// for byte, whichever path wrote them (the PostgreSQL functions build theirs in SQL): the
/// reservation, its arrival (with the code sealed) and its handover.
async fn events_are_the_views_serde_writes(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let order_ref = "Ünïcode \"quoted\" \\ 订单/1";
    let (id, code) = waiting_parcel(&app, "small", order_ref).await;
    let partner = app.partner_token("small");
    let handed = app
        .post("/v1/partner/handovers", &partner, json!({ "code": code }))
        .await;
    assert_eq!(handed.ok()["parcel_id"], id);
    let mut conn = app.state.pool.get().expect("conn");
    let row = pudo::pickup::parcels::find_for_merchant(&mut conn, "acme", id).expect("parcel");
    use pudo::db::schema::outbox;
    let payloads: Vec<(String, String)> = outbox::table
        .select((outbox::kind, outbox::payload))
        .order(outbox::id)
        .load(&mut *conn)
        .expect("outbox");
    let created = &payloads[0];
    assert_eq!(created.0, "reservation.created");
    let mut view = row.view();
    view.state = pudo::pickup::ParcelState::Reserved;
    view.arrived_at = None;
    view.expires_at = None;
    view.picked_up_at = None;
    assert_eq!(
        created.1,
        serde_json::to_string(&json!({ "reservation": view })).expect("json")
    );
    let arrived = payloads
        .iter()
        .find(|(kind, _)| kind == "parcel.arrived")
        .expect("arrived event");
    let sealed: serde_json::Value = serde_json::from_str(&arrived.1).expect("json");
    let mut at_point = row.view();
    at_point.state = pudo::pickup::ParcelState::AtPoint;
    at_point.picked_up_at = None;
    assert_eq!(
        arrived.1,
        serde_json::to_string(&json!({
            "reservation": at_point,
            "pickup_code_sealed": sealed["pickup_code_sealed"],
        }))
        .expect("json")
    );
    let picked = payloads
        .iter()
        .find(|(kind, _)| kind == "parcel.picked_up")
        .expect("picked up event");
    assert_eq!(
        picked.1,
        serde_json::to_string(&json!({ "reservation": row.view() })).expect("json")
    );
}
on_both_backends!(events_are_the_views_serde_writes);

/// Through the group committer, from many tasks at once: a shop of capacity 3 takes exactly 3
/// of 30 reservations, and 20 confirmations of one code hand it over exactly once.
async fn concurrent_requests_through_group_commit(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let small = app.shop_id("small");
    let writes = app.state.writes.clone();
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let writes: Arc<pudo::pickup::Writes> = writes.clone();
            tokio::spawn(async move { writes.reserve(request(small, &format!("C-{i}"))).await })
        })
        .collect();
    let mut created = 0;
    let mut full = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok((_, true, _)) => created += 1,
            Err(PickupError::ShopUnavailable(_)) => full += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((created, full), (3, 27));
    assert_eq!(count(&app, "SELECT count(*) AS n FROM parcels"), 3);

    let (id, code) = waiting_parcel(&app, "big", "C-code").await;
    let big = app.shop_id("big");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let writes = writes.clone();
            let code = code.clone();
            tokio::spawn(async move {
                writes
                    .handover(HandoverRequest {
                        shop_id: big,
                        actor: "partner:test".into(),
                        code,
                        confirmed: Default::default(),
                    })
                    .await
            })
        })
        .collect();
    let mut labels = Vec::new();
    for t in tasks {
        let outcome = t.await.expect("task").expect("answer");
        assert_eq!(outcome.subject(), Some(id));
        labels.push(outcome.label());
    }
    assert_eq!(labels.iter().filter(|l| **l == "success").count(), 1);
    assert_eq!(labels.iter().filter(|l| **l == "replay").count(), 19);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM ledger WHERE kind = 'handover'"
        ),
        1
    );
}
on_both_backends!(concurrent_requests_through_group_commit);

/// A drop-off on both write paths: the same outcomes (accepted, replayed, wrong, refused at a
/// full shop), and an event that is the return's view as serde writes it, with the return's
/// fields as the API reads them.
async fn dropoffs_agree_on_both_paths(backend: Backend) {
    for functions in [true, false] {
        let app = TestApp::new(backend).with_csv(
            "external_id,name,latitude,longitude,capacity,status\none,Kiosko Uno,40.4169,-3.7035,1,active\n",
        );
        let one = app.shop_id("one");
        let merchant = app.token(Role::Merchant, "acme");
        let mut codes = Vec::new();
        for order_ref in ["R-1", "R-2"] {
            let created = app
                .post(
                    "/v1/returns",
                    &merchant,
                    json!({"pickup_point_id": one, "order_ref": order_ref, "sku": "SHOE-42"}),
                )
                .await;
            let id = created.body["id"].as_i64().expect("id");
            let read = app.get_as(&format!("/v1/returns/{id}"), &merchant).await;
            codes.push((
                id,
                read.ok()["dropoff_code"].as_str().expect("code").to_owned(),
            ));
        }
        let data_key = *app.state.keys.data_key();
        let mut conn = app.state.pool.get().expect("conn");
        let mut at = |code: &str| {
            pudo::pickup::dropoffs::dropoff_on(
                &mut conn,
                &data_key,
                one,
                "partner:test",
                code,
                chrono::Utc::now().naive_utc(),
                functions,
            )
            .expect("attempt")
        };
        let shown: Vec<String> = [
            at(&codes[0].1),
            at(&codes[0].1),
            at("1234 5678"),
            at(&codes[1].1),
        ]
        .iter()
        .map(|o| match o {
            Outcome::Success(d) | Outcome::Replay(d) => {
                format!("{} {} {}", o.label(), d.order_ref, d.replay)
            }
            other => other.label().to_owned(),
        })
        .collect();
        assert_eq!(
            shown,
            [
                "success R-1 false",
                "replay R-1 true",
                "wrong_code",
                "shop_unavailable"
            ],
            "functions: {functions}"
        );
        drop(conn);
        use pudo::db::schema::outbox;
        let payload: String = outbox::table
            .filter(outbox::kind.eq("return.dropped_off"))
            .select(outbox::payload)
            .first(&mut *app.state.pool.get().expect("conn"))
            .expect("event");
        let event: serde_json::Value = serde_json::from_str(&payload).expect("json");
        assert_eq!(
            serde_json::to_string(&event).expect("json"),
            payload,
            "serde's form"
        );
        let read = app
            .get_as(&format!("/v1/returns/{}", codes[0].0), &merchant)
            .await;
        for field in [
            "id",
            "pickup_point_id",
            "order_ref",
            "sku",
            "state",
            "created_at",
            "code_expires_at",
            "dropped_off_at",
            "collected_at",
        ] {
            assert_eq!(event["return"][field], read.ok()[field], "{field}");
        }
        assert_eq!(
            count(
                &app,
                "SELECT count(*) AS n FROM ledger WHERE kind = 'dropoff'"
            ),
            1
        );
        assert_eq!(count(&app, "SELECT sum(live) AS n FROM shop_load"), 1);
    }
}
on_both_backends!(dropoffs_agree_on_both_paths);

/// On plain PostgreSQL every write function plans its statements once per session (a
/// generic plan from the first call, `plan_cache_mode`), whichever migration defined it last:
/// a redefinition that drops the option brings back the planning a profile found to cost a
/// fifth of the database's time. The formatting of times is inlined, not a separate SQL
/// function per call.
async fn write_functions_keep_their_plans(backend: Backend) {
    if backend != Backend::Postgres {
        // SQLite has no server-side functions; Citus takes the statement path and cannot plan
        // the functions' statements generically (the migration leaves them as they are there).
        return;
    }
    let app = TestApp::new(backend);
    #[derive(QueryableByName, Debug)]
    struct F {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        config: String,
    }
    let functions: Vec<F> = diesel::sql_query(
        "SELECT proname::text AS name, coalesce(array_to_string(proconfig, ','), '') AS config
           FROM pg_proc
          WHERE proname IN ('pudo_record_paid', 'pudo_reserve_one', 'pudo_reserve_batch',
                            'pudo_handover_one', 'pudo_handover_batch', 'pudo_arrive',
                            'pudo_dropoff')
            AND pronamespace = current_schema()::regnamespace
          ORDER BY 1",
    )
    .load(&mut *app.state.pool.get().expect("conn"))
    .expect("functions");
    let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "pudo_arrive",
            "pudo_dropoff",
            "pudo_handover_batch",
            "pudo_handover_one",
            "pudo_record_paid",
            "pudo_reserve_batch",
            "pudo_reserve_one"
        ]
    );
    for f in &functions {
        assert!(
            f.config.contains("plan_cache_mode=force_generic_plan"),
            "{} plans each call afresh: {f:?}",
            f.name
        );
        if f.name.ends_with("_batch") {
            assert!(
                f.config.contains("enable_seqscan=off")
                    && f.config.contains("enable_hashjoin=off")
                    && f.config.contains("enable_mergejoin=off"),
                "{} keeps plans that depend on the tables' size when first planned: {f:?}",
                f.name
            );
        }
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM pg_proc WHERE proname = 'pudo_rfc3339'
                AND provolatile = 's' AND pronamespace = current_schema()::regnamespace"
        ),
        1,
        "pudo_rfc3339 is STABLE, so that the planner inlines it"
    );
}
on_both_backends!(write_functions_keep_their_plans);

/// Sized reservations in one batch, on both write paths (the function takes the class slot in
/// the same round trip): the same answers, parcels, counters and events on either.
async fn sized_reservations_answer_alike_on_both_paths(backend: Backend) {
    use crate::sizes::sized;
    const SIZED: &str = "\
external_id,name,latitude,longitude,capacity,status,slots_s,slots_m,slots_l,max_weight_kg,max_dimensions_cm
lockers,Taquillas,40.4169,-3.7035,3,active,1,2,0,10,64x38x19
counter,Kiosko,40.4180,-3.7097,1,active,,,,,
";
    let mut seen: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for functions in [true, false] {
        let app = TestApp::new(backend).with_csv(SIZED);
        let (lockers, counter) = (app.shop_id("lockers"), app.shop_id("counter"));
        let mut heavy = sized(lockers, "L-heavy", "30x20x5");
        heavy.size.weight_g = Some(10_001);
        let batch = vec![
            sized(lockers, "L-1", "30x20x5"),
            sized(lockers, "L-2", "30x20x5"),
            sized(lockers, "L-3", "30x30x15"),
            sized(lockers, "L-4", "30x30x15"),
            sized(lockers, "L-5", "30x20x5"),
            heavy,
            sized(lockers, "L-big", "64x38x20"),
            request(lockers, "L-plain"),
            sized(counter, "C-1", "40x38x30"),
            sized(counter, "C-2", "10x10x10"),
            sized(counter, "C-3", "66x10x10"),
            sized(lockers, "L-1", "30x20x5"),
        ];
        let key = [7u8; 32];
        let issuer = CodeIssuer {
            data_key: &key,
            hold: chrono::Duration::days(7),
        };
        let now = chrono::Utc::now().naive_utc();
        let answers = reserve_many(
            &mut app.state.pool.get().expect("conn"),
            &batch,
            &issuer,
            now,
            functions,
        );
        let shown: Vec<String> = answers
            .iter()
            .map(|a| match a {
                Ok((p, true, live)) => {
                    format!("created {} {:?} live {live}", p.order_ref, p.size_class)
                }
                Ok((p, false, _)) => format!("repeat {}", p.order_ref),
                Err(e) => format!("{e}"),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "created L-1 Some(S) live 1",
                "created L-2 Some(M) live 2",
                "created L-3 Some(M) live 3",
                "the pickup point has no free slot of size M or larger for this parcel",
                "the pickup point has no free slot of size S or larger for this parcel",
                "the parcel does not fit this pickup point: the parcel is heavier than the point's maximum of 10 kg",
                "the parcel does not fit this pickup point: the parcel is larger than the point's maximum of 64 x 38 x 19 cm",
                "the pickup point cannot take a parcel: it is full",
                "created C-1 Some(L) live 1",
                "the pickup point has no free slot of size M or larger for this parcel",
                "the parcel does not fit this pickup point: the parcel is larger than the point's maximum of 64 x 41 x 38 cm",
                "repeat L-1",
            ],
            "functions: {functions}"
        );
        let rows = {
            use pudo::db::schema::parcels as p;
            type Row = (
                String,
                Option<String>,
                Option<i32>,
                Option<i32>,
                Option<i32>,
            );
            let rows: Vec<Row> = p::table
                .order(p::order_ref)
                .select((
                    p::order_ref,
                    p::size_class,
                    p::length_mm,
                    p::height_mm,
                    p::weight_g,
                ))
                .load(&mut *app.state.pool.get().expect("conn"))
                .expect("parcels");
            rows.into_iter()
                .map(|r| format!("{r:?}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            count(
                &app,
                "SELECT sum(live_s) * 100 + sum(live_m) * 10 + sum(live) AS n FROM shop_load"
            ),
            100 + 20 + 4
        );
        let events: Vec<String> = {
            #[derive(QueryableByName)]
            struct E {
                #[diesel(sql_type = diesel::sql_types::Text)]
                payload: String,
            }
            diesel::sql_query("SELECT payload FROM outbox ORDER BY payload")
                .load::<E>(&mut *app.state.pool.get().expect("conn"))
                .expect("events")
                .into_iter()
                .map(|e| {
                    // Ids and times differ between the two runs; the rest must not.
                    let mut v: serde_json::Value = serde_json::from_str(&e.payload).expect("json");
                    v["reservation"]["id"] = json!(0);
                    v["reservation"]["created_at"] = json!("");
                    v.to_string()
                })
                .collect()
        };
        assert!(
            events.iter().any(|e| e.contains("\"size_class\":\"M\"")),
            "{events:?}"
        );
        seen.push((rows, events));
    }
    assert_eq!(
        seen[0], seen[1],
        "the function path writes what the statements write"
    );
}
on_both_backends!(sized_reservations_answer_alike_on_both_paths);

/// An arrival whose first code is held by a parcel waiting at the shop takes the next code,
/// on the statement path (SQLite, Citus) as on the functions': the partial unique index on
/// waiting codes refused the update, and it was answered 500 (seen once in a 160,000-parcel
/// benchmark, as 8-digit codes make a clash rare, not impossible). Nothing of the refused
/// attempt is left: one arrival event per parcel.
async fn an_arrival_whose_code_is_taken_takes_another(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    let shop = app.shop_id("big");
    let mut ids = Vec::new();
    for order_ref in ["C-1", "C-2"] {
        let reserved = app
            .post(
                "/v1/reservations",
                &merchant,
                json!({"pickup_point_id": shop, "order_ref": order_ref}),
            )
            .await;
        ids.push(reserved.body["id"].as_i64().expect("id"));
    }
    let key = *app.state.keys.data_key();
    let issuer = CodeIssuer {
        data_key: &key,
        hold: chrono::Duration::days(7),
    };
    let mut conn = app.state.pool.get().expect("conn");
    let now = chrono::Utc::now().naive_utc();
    let first = arrive_with_codes(&mut conn, &issuer, shop, ids[0], now, || "12345678".into())
        .expect("the first arrival");
    let mut offered = ["12345678", "87654321"].into_iter();
    let second = arrive_with_codes(&mut conn, &issuer, shop, ids[1], now, || {
        offered.next().expect("at most two codes").into()
    })
    .expect("the second arrival takes the next code");
    drop(conn);
    assert_eq!(offered.next(), None, "both codes were offered");
    for (id, parcel, code) in [(ids[0], first, "12345678"), (ids[1], second, "87654321")] {
        assert_eq!(parcel.id, id);
        let read = app
            .get_as(&format!("/v1/reservations/{id}"), &merchant)
            .await;
        assert_eq!(read.ok()["state"], "at_point", "{id}");
        assert_eq!(read.ok()["pickup_code"], code, "{id}");
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM outbox WHERE kind = 'parcel.arrived'"
        ),
        2
    );
}

on_both_backends!(an_arrival_whose_code_is_taken_takes_another);
