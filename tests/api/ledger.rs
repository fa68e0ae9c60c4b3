//! Fees, the ledger and statements: paid once under concurrent replays, fees over time and by
//! region, statement totals reconciling with the paid events (property test), JSON and CSV.

use crate::on_both_backends;
use crate::support::{Backend, TestApp, TestDb};
use actix_web::test::TestRequest;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use pudo::auth::Role;
use pudo::db::schema::ledger;
use pudo::db::DbConn;
use pudo::ledger::book::{self, PaidEvent};
use pudo::ledger::fees::{self, NewFee};
use pudo::ledger::{FeeKind, Month};
use pudo::pickup as store;
use serde_json::json;

/// Madrid and Shanghai: two shops in different regions.
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,status
mad,Kiosko Sol,40.4169,-3.7035,50,active
mad2,Kiosko Prado,40.4138,-3.6921,50,active
sha,Bianlidian,31.2304,121.4737,50,active
";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn at(y: i32, m: u32, d: u32) -> NaiveDateTime {
    day(y, m, d).and_hms_opt(12, 0, 0).expect("time")
}

fn region_of(conn: &mut DbConn, shop: i64) -> i64 {
    use pudo::db::schema::shops;
    shops::table
        .find(shop)
        .select(shops::region)
        .first(conn)
        .expect("region")
}

fn fee(kind: FeeKind, region: Option<i64>, amount: i64, currency: &str) -> NewFee {
    NewFee {
        kind,
        region: region.map(pudo::network::geo::cell_hex),
        amount_minor: amount,
        currency: currency.into(),
    }
}

/// A parcel reserved, arrived and handed over at `when`, through the pickup store.
fn handed_over(app: &TestApp, shop: i64, order_ref: &str, when: NaiveDateTime) -> i64 {
    let key = *app.state.keys.data_key();
    let conn = &mut *app.state.pool.get().expect("conn");
    let issuer = store::CodeIssuer {
        data_key: &key,
        hold: chrono::Duration::days(7),
    };
    let r = store::NewReservation {
        merchant: "acme",
        shop_id: shop,
        order_ref,
        sku: None,
        arrive_at: None,
    };
    let id = store::reserve(conn, &r, &issuer, when)
        .expect("reserve")
        .0
        .id;
    store::arrive(conn, &issuer, shop, id, when).expect("arrive");
    let code = store::read_reservation(conn, &key, "acme", id)
        .expect("read")
        .1
        .expect("code");
    let h = store::handover(conn, &key, shop, "shop", &code, when)
        .expect("handover")
        .into_result(pudo::pickup::CodeKind::Handover)
        .expect("handed over");
    assert!(!h.replay);
    id
}

fn paid(conn: &mut DbConn, shop: i64) -> Vec<(String, i64, String)> {
    ledger::table
        .filter(ledger::shop_id.eq(shop))
        .select((ledger::kind, ledger::amount_minor, ledger::currency))
        .order(ledger::id)
        .load(conn)
        .expect("ledger")
}

/// Many concurrent confirmations of one code: one handover, one ledger row.
async fn concurrent_replays_are_paid_once(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let shop = app.shop_id("mad");
    let key = *app.state.keys.data_key();
    let now = chrono::Utc::now().naive_utc();
    let (id, code) = {
        let conn = &mut *app.state.pool.get().expect("conn");
        let issuer = store::CodeIssuer {
            data_key: &key,
            hold: chrono::Duration::days(7),
        };
        let r = store::NewReservation {
            merchant: "acme",
            shop_id: shop,
            order_ref: "RACE-1",
            sku: None,
            arrive_at: None,
        };
        let id = store::reserve(conn, &r, &issuer, now)
            .expect("reserve")
            .0
            .id;
        store::arrive(conn, &issuer, shop, id, now).expect("arrive");
        let code = store::read_reservation(conn, &key, "acme", id)
            .expect("read")
            .1
            .expect("code");
        (id, code)
    };
    let pool = app.state.pool.clone();
    let handles: Vec<_> = (0..12)
        .map(|_| {
            let (pool, code) = (pool.clone(), code.clone());
            std::thread::spawn(move || {
                store::handover(
                    &mut pool.get().expect("conn"),
                    &key,
                    shop,
                    "shop:mad",
                    &code,
                    chrono::Utc::now().naive_utc(),
                )
                .expect("handover")
                .into_result(pudo::pickup::CodeKind::Handover)
                .expect("handed over")
            })
        })
        .collect();
    let answers: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    assert!(answers.iter().all(|h| h.parcel_id == id));
    assert_eq!(answers.iter().filter(|h| !h.replay).count(), 1);
    let conn = &mut *app.state.pool.get().expect("conn");
    assert_eq!(
        paid(conn, shop),
        [("handover".to_owned(), 30, "EUR".to_owned())]
    );
    // Recording the same event again (as a replay slipping past the state check would) pays
    // nothing.
    let again = PaidEvent::one(
        FeeKind::Handover,
        "handover",
        shop,
        region_of(conn, shop),
        id,
        now,
    );
    assert!(!book::record(conn, &again).expect("record"));
    assert_eq!(paid(conn, shop).len(), 1);
}
on_both_backends!(concurrent_replays_are_paid_once);

/// Events are paid at the fee in force on their day, regional fees winning; the ledger
/// cannot be changed.
async fn fees_change_over_time(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (mad, mad2, sha) = (app.shop_id("mad"), app.shop_id("mad2"), app.shop_id("sha"));
    let (mad_region, sha_region) = {
        let conn = &mut *app.state.pool.get().expect("conn");
        (region_of(conn, mad), region_of(conn, sha))
    };
    {
        let conn = &mut *app.state.pool.get().expect("conn");
        let today = day(2026, 1, 10);
        let now = at(2026, 1, 10);
        fees::set(
            conn,
            day(2026, 2, 1),
            &[fee(FeeKind::Handover, None, 40, "EUR")],
            "ops",
            today,
            now,
        )
        .expect("network fee");
        fees::set(
            conn,
            day(2026, 3, 1),
            &[
                fee(FeeKind::Handover, Some(mad_region), 50, "EUR"),
                fee(FeeKind::Handover, Some(sha_region), 200, "CNY"),
            ],
            "ops",
            today,
            now,
        )
        .expect("regional fees");
        // A fee in force never changes: only later days can be set.
        let past = fees::set(
            conn,
            day(2026, 1, 10),
            &[fee(FeeKind::Handover, None, 1, "EUR")],
            "ops",
            today,
            now,
        );
        assert!(
            matches!(&past, Err(pudo::ledger::LedgerError::Invalid { field, .. }) if field == "effective_from"),
            "{past:?}"
        );
    }
    handed_over(&app, mad, "A", at(2026, 1, 31));
    handed_over(&app, mad, "B", at(2026, 2, 1));
    handed_over(&app, mad, "C", at(2026, 3, 1));
    handed_over(&app, sha, "D", at(2026, 2, 28));
    handed_over(&app, sha, "E", at(2026, 3, 2));
    let conn = &mut *app.state.pool.get().expect("conn");
    let amounts = |conn: &mut DbConn, shop| -> Vec<(i64, String)> {
        paid(conn, shop)
            .into_iter()
            .map(|(_, a, c)| (a, c))
            .collect()
    };
    assert_eq!(
        amounts(conn, mad),
        [(30, "EUR".into()), (40, "EUR".into()), (50, "EUR".into())]
    );
    assert_eq!(
        amounts(conn, sha),
        [(40, "EUR".into()), (200, "CNY".into())]
    );
    // mad2 is in mad's region (a few hundred metres away): the regional fee applies too.
    assert_eq!(region_of(conn, mad2), mad_region);
    // The statement of February uses February's fee, whatever came later.
    let feb = book::statement(conn, mad, "2026-02".parse().expect("month")).expect("statement");
    assert_eq!(feb.lines.len(), 1);
    assert_eq!(feb.grand_totals[0].amount_minor, 40);
    // Append-only: the database refuses changes and deletions.
    let update = diesel::update(ledger::table)
        .set(ledger::amount_minor.eq(0))
        .execute(conn);
    assert!(update.is_err(), "{update:?}");
    assert!(diesel::delete(ledger::table).execute(conn).is_err());
    assert_eq!(amounts(conn, mad).len(), 3);
}
on_both_backends!(fees_change_over_time);

/// The fee schedule over HTTP: admin only, validated field by field, all or none.
async fn fee_schedule_over_http(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let admin = app.token(Role::Admin, "ops");
    let put = |body: serde_json::Value, token: String| {
        app.call(
            TestRequest::put()
                .uri("/v1/ops/fees")
                .insert_header(("authorization", format!("Bearer {token}")))
                .set_json(body),
        )
    };
    let listed = app.get_as("/v1/ops/fees", &admin).await;
    assert_eq!(listed.ok()["items"].as_array().map(Vec::len), Some(4));
    assert_eq!(listed.body["items"][0]["kind"], "handover");
    assert_eq!(listed.body["items"][0]["amount_minor"], 30);
    assert!(listed.body["items"][0]["region"].is_null());
    app.get_as("/v1/ops/fees", &app.token(Role::Planner, "p"))
        .await
        .problem(403);
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Duration::days(1)).to_string();
    let today = chrono::Utc::now().date_naive().to_string();
    let region = pudo::network::geo::cell_hex(
        pudo::network::geo::cell_and_region(40.4169, -3.7035)
            .expect("cell")
            .1,
    );
    let region = region.as_str();
    let cases = [
        (
            json!({"effective_from": today, "fees": [{"kind": "handover", "amount_minor": 1, "currency": "EUR"}]}),
            "effective_from",
        ),
        (
            json!({"effective_from": "2026-02-30", "fees": [{"kind": "handover", "amount_minor": 1, "currency": "EUR"}]}),
            "effective_from",
        ),
        (json!({"effective_from": tomorrow, "fees": []}), "fees"),
        (
            json!({"effective_from": tomorrow, "fees": [{"kind": "handover", "amount_minor": 1, "currency": "EUR"}, {"kind": "dropoff", "amount_minor": 1, "currency": "eur"}]}),
            "fees[1].currency",
        ),
        (
            json!({"effective_from": tomorrow, "fees": [{"kind": "handover", "amount_minor": -1, "currency": "EUR"}]}),
            "fees[0].amount_minor",
        ),
        (
            json!({"effective_from": tomorrow, "fees": [{"kind": "handover", "amount_minor": 1, "currency": "EUR", "region": "8928308280fffff"}]}),
            "fees[0].region",
        ),
        (
            json!({"effective_from": tomorrow, "fees": [{"kind": "handover", "amount_minor": 1, "currency": "EUR"}, {"kind": "handover", "amount_minor": 2, "currency": "EUR"}]}),
            "fees[1]",
        ),
    ];
    for (body, field) in cases {
        let answer = put(body.clone(), admin.clone()).await;
        assert_eq!(answer.problem(400)["parameter"], field, "{body}");
    }
    // Amounts are whole numbers: a float is not read as one.
    put(
        json!({"effective_from": tomorrow, "fees": [{"kind": "handover", "amount_minor": 1.5, "currency": "EUR"}]}),
        admin.clone(),
    )
    .await
    .problem(400);
    let unchanged = app.get_as("/v1/ops/fees", &admin).await;
    assert_eq!(unchanged.ok()["items"].as_array().map(Vec::len), Some(4));
    let set = put(
        json!({"effective_from": tomorrow, "fees": [
            {"kind": "handover", "amount_minor": 45, "currency": "EUR"},
            {"kind": "handover", "amount_minor": 300, "currency": "CNY", "region": region}
        ]}),
        admin.clone(),
    )
    .await;
    let items = set.ok()["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 6);
    assert!(items.iter().any(|f| f["region"] == region
        && f["amount_minor"] == 300
        && f["effective_from"] == tomorrow.as_str()
        && f["created_by"] == "ops"));
    put(
        json!({"effective_from": tomorrow, "fees": [{"kind": "handover", "amount_minor": 1, "currency": "EUR"}]}),
        app.token(Role::Merchant, "m"),
    )
    .await
    .problem(403);
}
on_both_backends!(fee_schedule_over_http);

/// The statement over HTTP: JSON and CSV agree, totals sum the lines, months are checked.
async fn statement_json_and_csv_agree(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (mad, sha) = (app.shop_id("mad"), app.shop_id("sha"));
    let now = chrono::Utc::now().naive_utc();
    {
        let conn = &mut *app.state.pool.get().expect("conn");
        let region = region_of(conn, mad);
        for (n, kind) in [
            FeeKind::Handover,
            FeeKind::Handover,
            FeeKind::Dropoff,
            FeeKind::ReturnSentBack,
        ]
        .into_iter()
        .enumerate()
        {
            let e = PaidEvent::one(kind, "test", mad, region, n as i64, now);
            assert!(book::record(conn, &e).expect("record"));
        }
        let staged = PaidEvent {
            quantity: 7,
            ..PaidEvent::one(FeeKind::StagedUnitReceived, "staged", mad, region, 9, now)
        };
        assert!(book::record(conn, &staged).expect("record"));
    }
    handed_over(&app, sha, "S-1", now);
    let month = Month::of(now.date()).to_string();
    let partner = app.partner_token("mad");
    let json = app
        .get_as(&format!("/v1/partner/statement?month={month}"), &partner)
        .await;
    let body = json.ok().clone();
    assert!(json.content_type.starts_with("application/json"));
    assert_eq!(body["shop"]["external_id"], "mad");
    assert_eq!(body["month"], month.as_str());
    assert_eq!(body["lines"].as_array().map(Vec::len), Some(5));
    let totals: Vec<(String, i64, i64, i64)> = body["totals"]
        .as_array()
        .expect("totals")
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().expect("kind").to_owned(),
                t["events"].as_i64().expect("events"),
                t["quantity"].as_i64().expect("quantity"),
                t["amount_minor"].as_i64().expect("amount is an integer"),
            )
        })
        .collect();
    assert_eq!(
        totals,
        [
            ("handover".into(), 2, 2, 60),
            ("dropoff".into(), 1, 1, 35),
            ("staged_unit_received".into(), 1, 7, 35),
            ("return_sent_back".into(), 1, 1, 20),
        ]
    );
    assert_eq!(
        body["grand_totals"],
        json!([{"currency": "EUR", "events": 5, "amount_minor": 150}])
    );

    // CSV by parameter and by Accept header: the same document, agreeing with the JSON.
    let csv = app
        .get_as(
            &format!("/v1/partner/statement?month={month}&format=csv"),
            &partner,
        )
        .await;
    assert_eq!(csv.status.as_u16(), 200);
    assert!(csv.content_type.starts_with("text/csv"));
    let accepted = app
        .call(
            TestRequest::get()
                .uri(&format!("/v1/partner/statement?month={month}"))
                .insert_header(("authorization", format!("Bearer {partner}")))
                .insert_header(("accept", "text/csv")),
        )
        .await;
    assert_eq!(accepted.text, csv.text);
    let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, pudo::ledger::statement::CSV_COLUMNS);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    let lines: Vec<_> = records.iter().filter(|r| &r[0] == "line").collect();
    assert_eq!(lines.len(), 5);
    for (record, line) in lines.iter().zip(body["lines"].as_array().expect("lines")) {
        assert_eq!(&record[1], "mad");
        assert_eq!(&record[3], line["occurred_at"].as_str().expect("time"));
        assert_eq!(&record[4], line["kind"].as_str().expect("kind"));
        assert_eq!(&record[5], line["event_key"].as_str().expect("key"));
        assert_eq!(record[8].parse::<i64>().ok(), line["quantity"].as_i64());
        assert_eq!(
            record[10].parse::<i64>().ok(),
            line["amount_minor"].as_i64()
        );
    }
    let csv_totals: Vec<(String, i64, i64, i64)> = records
        .iter()
        .filter(|r| &r[0] == "total")
        .map(|r| {
            (
                r[4].to_owned(),
                r[7].parse().expect("events"),
                r[8].parse().expect("quantity"),
                r[10].parse().expect("amount"),
            )
        })
        .collect();
    assert_eq!(csv_totals, totals);
    let grand: Vec<_> = records.iter().filter(|r| &r[0] == "grand_total").collect();
    assert_eq!(grand.len(), 1);
    assert_eq!((&grand[0][10], &grand[0][11]), ("150", "EUR"));

    // Another month is empty; another shop sees only its own.
    let empty = app
        .get_as("/v1/partner/statement?month=2020-01", &partner)
        .await;
    assert_eq!(empty.ok()["lines"], json!([]));
    assert_eq!(empty.body["grand_totals"], json!([]));
    let other = app
        .get_as(
            &format!("/v1/partner/statement?month={month}"),
            &app.partner_token("sha"),
        )
        .await;
    assert_eq!(other.ok()["lines"].as_array().map(Vec::len), Some(1));

    // Bad input names the parameter.
    for (query, parameter) in [
        ("month=2026-13", "month"),
        ("month=2026-1", "month"),
        ("month=november", "month"),
        ("", "month"),
        ("month=2026-11&format=xml", "format"),
        ("month=2026-11&shop=sha", "shop"),
    ] {
        let answer = app
            .get_as(&format!("/v1/partner/statement?{query}"), &partner)
            .await;
        assert_eq!(answer.problem(400)["parameter"], parameter, "{query}");
    }
    app.get_as(
        &format!("/v1/partner/statement?month={month}"),
        &app.token(Role::Merchant, "acme"),
    )
    .await
    .problem(403);
}
on_both_backends!(statement_json_and_csv_agree);

/// The independent model of the schedule the property test uses.
struct ModelFee {
    kind: FeeKind,
    region: Option<i64>,
    from: NaiveDate,
    amount: i64,
}

fn model_fee(schedule: &[ModelFee], kind: FeeKind, region: i64, on: NaiveDate) -> i64 {
    let latest = |regional: bool| {
        schedule
            .iter()
            .filter(|f| f.kind == kind && f.from <= on)
            .filter(|f| {
                if regional {
                    f.region == Some(region)
                } else {
                    f.region.is_none()
                }
            })
            .max_by_key(|f| f.from)
            .map(|f| f.amount)
    };
    latest(true).or(latest(false)).unwrap_or(0)
}

/// Statement totals equal the sum of the paid events, for random streams of events (with
/// repeats, which pay nothing) over random days, kinds, shops and quantities, under a
/// schedule with network-wide and regional changes.
fn statements_reconcile(backend: Backend, cases: u32) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let db = TestDb::new(backend);
    let pool = db.pool();
    let network = pudo::network::service::Network::new(pool.clone());
    let mut conn = pool.get().expect("conn");
    let kinds = FeeKind::ALL;
    // The schedule: the migration's default (30, 35, 5, 20 EUR from 2026-01-01) plus changes.
    let mut schedule: Vec<ModelFee> = [30, 35, 5, 20]
        .into_iter()
        .zip(kinds)
        .map(|(amount, kind)| ModelFee {
            kind,
            region: None,
            from: day(2026, 1, 1),
            amount,
        })
        .collect();
    let madrid = pudo::network::geo::cell_and_region(40.4169, -3.7035)
        .expect("cell")
        .1;
    let changes = [
        (day(2026, 2, 10), None, [31, 36, 6, 21]),
        (day(2026, 3, 1), Some(madrid), [50, 0, 7, 22]),
        (day(2026, 4, 15), None, [33, 38, 8, 23]),
    ];
    for (from, region, amounts) in changes {
        let new: Vec<NewFee> = kinds
            .iter()
            .zip(amounts)
            .map(|(kind, amount)| fee(*kind, region, amount, "EUR"))
            .collect();
        fees::set(
            &mut conn,
            from,
            &new,
            "test",
            day(2026, 1, 1),
            at(2026, 1, 1),
        )
        .expect("schedule");
        for (kind, amount) in kinds.iter().zip(amounts) {
            schedule.push(ModelFee {
                kind: *kind,
                region,
                from,
                amount,
            });
        }
    }
    // (shop 0..3, kind, day 0..150 from 2026-01-01, quantity 1..6, repeat of an earlier event)
    let event = (0..3usize, 0..4usize, 0..150i64, 1..6i32, any::<bool>());
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let case = std::cell::Cell::new(0u32);
    let conn = std::cell::RefCell::new(conn);
    runner
        .run(&proptest::collection::vec(event, 0..40), |events| {
            case.set(case.get() + 1);
            let case = case.get();
            let mut conn = conn.borrow_mut();
            let conn: &mut DbConn = &mut conn;
            // Fresh shops per case: two in Madrid's region, one in Shanghai's.
            let csv = format!(
                "external_id,name,latitude,longitude,capacity\n\
                 c{case}a,A,40.4169,-3.7035,10\nc{case}b,B,40.4138,-3.6921,10\nc{case}c,C,31.2304,121.4737,10\n"
            );
            network
                .import_file(csv.as_bytes(), pudo::network::import::Format::Csv, &mut |_| {})
                .expect("shops");
            let shops: Vec<(i64, i64)> = ["a", "b", "c"]
                .iter()
                .map(|s| {
                    use pudo::db::schema::shops;
                    shops::table
                        .filter(shops::external_id.eq(format!("c{case}{s}")))
                        .select((shops::id, shops::region))
                        .first(conn)
                        .expect("shop")
                })
                .collect();
            // expected[(shop, month, kind)] = (events, quantity, amount)
            let mut expected = std::collections::BTreeMap::new();
            let mut recorded: Vec<PaidEvent> = Vec::new();
            for (n, (shop, kind, offset, quantity, repeat)) in events.into_iter().enumerate() {
                if repeat && !recorded.is_empty() {
                    let earlier = recorded[n % recorded.len()].clone();
                    prop_assert!(!book::record(conn, &earlier).expect("record"));
                    continue;
                }
                let (shop_id, region) = shops[shop];
                let when = at(2026, 1, 1) + chrono::Duration::days(offset)
                    + chrono::Duration::minutes(n as i64);
                let e = PaidEvent {
                    kind: kinds[kind],
                    shop_id,
                    region,
                    event_key: format!("case{case}:{n}"),
                    subject_id: n as i64,
                    quantity,
                    occurred_at: when,
                };
                prop_assert!(book::record(conn, &e).expect("record"));
                let unit = model_fee(&schedule, kinds[kind], region, when.date());
                let slot = expected
                    .entry((shop_id, Month::of(when.date()), kinds[kind]))
                    .or_insert((0i64, 0i64, 0i64));
                slot.0 += 1;
                slot.1 += i64::from(quantity);
                slot.2 += unit * i64::from(quantity);
                recorded.push(e);
            }
            for (shop_id, _) in &shops {
                for m in 1..=6 {
                    let month: Month = format!("2026-{m:02}").parse().expect("month");
                    let s = book::statement(conn, *shop_id, month).expect("statement");
                    let mut want_total = 0;
                    let mut want_events = 0;
                    for kind in kinds {
                        let want = expected
                            .get(&(*shop_id, month, kind))
                            .copied()
                            .unwrap_or((0, 0, 0));
                        let got = s
                            .totals
                            .iter()
                            .find(|t| t.kind == kind)
                            .map_or((0, 0, 0), |t| (t.events, t.quantity, t.amount_minor));
                        prop_assert_eq!(got, want, "shop {} {} {}", shop_id, month, kind);
                        want_total += want.2;
                        want_events += want.0;
                    }
                    let grand = s.grand_totals.first().map_or(0, |g| g.amount_minor);
                    prop_assert_eq!(grand, want_total);
                    prop_assert_eq!(s.lines.len() as i64, want_events);
                    prop_assert_eq!(
                        s.lines.iter().map(|l| l.amount_minor).sum::<i64>(),
                        want_total
                    );
                }
            }
            Ok(())
        })
        .expect("statements reconcile");
}

#[test]
fn statements_reconcile_sqlite() {
    statements_reconcile(Backend::Sqlite, 48);
}

#[test]
fn statements_reconcile_postgres() {
    statements_reconcile(Backend::Postgres, 8);
}

/// `pudo statements` and `pudo fees` from the command line.
fn statements_cli(backend: Backend) {
    statements_cli_on(TestDb::new(backend));
}

fn statements_cli_on(db: TestDb) {
    use std::process::Command;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pudo"))
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run pudo")
    };
    let pool = db.pool();
    let network = pudo::network::service::Network::new(pool.clone());
    network
        .import_file(
            SHOPS.as_bytes(),
            pudo::network::import::Format::Csv,
            &mut |_| {},
        )
        .expect("shops");
    let mut conn = pool.get().expect("conn");
    use pudo::db::schema::shops;
    let ids: Vec<(i64, i64)> = shops::table
        .select((shops::id, shops::region))
        .order(shops::id)
        .load(&mut conn)
        .expect("shops");
    for (n, (shop, region)) in ids.iter().enumerate().take(2) {
        let e = PaidEvent::one(
            FeeKind::Handover,
            "cli",
            *shop,
            *region,
            n as i64,
            at(2026, 11, 5),
        );
        assert!(book::record(&mut conn, &e).expect("record"));
    }
    let dir = tempfile::tempdir().expect("dir");
    let out = run(&[
        "statements",
        "--month",
        "2026-11",
        "--format",
        "csv",
        "--out",
        dir.path().to_str().expect("dir"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            format!("{}_mad-2026-11.csv", ids[0].0),
            format!("{}_mad2-2026-11.csv", ids[1].0),
            "summary-2026-11.csv".to_owned()
        ]
    );
    let summary = std::fs::read_to_string(dir.path().join("summary-2026-11.csv")).expect("summary");
    assert_eq!(
        summary,
        "shop_external_id,currency,events,amount_minor,cash_collected_minor,net_owed_minor\nmad,EUR,1,30,0,-30\nmad2,EUR,1,30,0,-30\n"
    );
    let one = run(&["statements", "--month", "2026-11", "--shop", "mad"]);
    assert!(one.status.success());
    let json: serde_json::Value = serde_json::from_slice(&one.stdout).expect("json");
    assert_eq!(json["grand_totals"][0]["amount_minor"], 30);
    let bad = run(&["statements", "--month", "2026-13"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--month"));
    let unknown = run(&["statements", "--month", "2026-11", "--shop", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no shop with external_id \"nope\""));
    let set = run(&[
        "fees",
        "set",
        "--kind",
        "dropoff",
        "--amount-minor",
        "40",
        "--currency",
        "EUR",
        "--from",
        "2099-01-01",
    ]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let past = run(&[
        "fees",
        "set",
        "--kind",
        "dropoff",
        "--amount-minor",
        "40",
        "--currency",
        "EUR",
        "--from",
        "2020-01-01",
    ]);
    assert_eq!(past.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&past.stderr).contains("effective_from"));
    let list = run(&["fees", "list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("dropoff,,40,EUR,2099-01-01,cli"), "{text}");
}

#[test]
fn statements_cli_sqlite() {
    statements_cli(Backend::Sqlite);
}

#[test]
fn statements_cli_postgres() {
    statements_cli(Backend::Postgres);
}

/// An uncollected parcel sent back is paid as a return, once.
async fn parcels_sent_back_are_paid(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let shop = app.shop_id("mad");
    let merchant = app.token(Role::Merchant, "acme");
    let partner = app.partner_token("mad");
    let id = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": shop, "order_ref": "LATE-1"}),
        )
        .await
        .body["id"]
        .as_i64()
        .expect("id");
    app.post(
        &format!("/v1/partner/parcels/{id}/arrival"),
        &partner,
        json!({}),
    )
    .await
    .ok();
    let later = chrono::Utc::now().naive_utc() + chrono::Duration::days(8);
    assert_eq!(
        store::sweep(&mut app.state.pool.get().expect("conn"), later).expect("sweep"),
        1
    );
    for _ in 0..2 {
        app.post(
            &format!("/v1/partner/parcels/{id}/return"),
            &partner,
            json!({}),
        )
        .await
        .ok();
    }
    let conn = &mut *app.state.pool.get().expect("conn");
    assert_eq!(
        paid(conn, shop),
        [("return_sent_back".to_owned(), 20, "EUR".to_owned())]
    );
    let key: String = ledger::table
        .select(ledger::event_key)
        .first(conn)
        .expect("key");
    assert_eq!(key, format!("parcel_returned:{id}"));
}
on_both_backends!(parcels_sent_back_are_paid);

/// A shop re-imported at a position in another region moves there whole: its live parcel
/// (and every other row of the shop) takes the new region in the import's transaction, so the
/// next handover is paid at the new region's fee; ledger lines already written keep theirs.
async fn a_moved_shop_is_paid_at_its_new_regions_fees(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let (mad, sha) = (app.shop_id("mad"), app.shop_id("sha"));
    let (mad_region, sha_region) = {
        let conn = &mut *app.state.pool.get().expect("conn");
        (region_of(conn, mad), region_of(conn, sha))
    };
    {
        let conn = &mut *app.state.pool.get().expect("conn");
        fees::set(
            conn,
            day(2026, 3, 1),
            &[
                fee(FeeKind::Handover, Some(mad_region), 50, "EUR"),
                fee(FeeKind::Handover, Some(sha_region), 200, "CNY"),
            ],
            "ops",
            day(2026, 1, 10),
            at(2026, 1, 10),
        )
        .expect("regional fees");
    }
    // Paid in Madrid once, then a parcel waits there when the shop moves to Shanghai.
    handed_over(&app, mad, "BEFORE", at(2026, 3, 2));
    let key = *app.state.keys.data_key();
    let issuer = store::CodeIssuer {
        data_key: &key,
        hold: chrono::Duration::days(7),
    };
    let waiting = {
        let conn = &mut *app.state.pool.get().expect("conn");
        let r = store::NewReservation {
            merchant: "acme",
            shop_id: mad,
            order_ref: "WAITING",
            sku: None,
            arrive_at: None,
        };
        let id = store::reserve(conn, &r, &issuer, at(2026, 3, 3))
            .expect("reserve")
            .0
            .id;
        store::arrive(conn, &issuer, mad, id, at(2026, 3, 3)).expect("arrive");
        id
    };
    let moved = "external_id,name,latitude,longitude,capacity,status\n\
                 mad,Kiosko Sol,31.2310,121.4740,50,active\n";
    let app = app.with_csv(moved);
    let conn = &mut *app.state.pool.get().expect("conn");
    assert_eq!(region_of(conn, mad), sha_region);
    {
        use pudo::db::schema::{parcels, shop_load};
        let parcel_region: i64 = parcels::table
            .find(waiting)
            .select(parcels::region)
            .first(conn)
            .expect("parcel");
        let load_region: i64 = shop_load::table
            .find(mad)
            .select(shop_load::region)
            .first(conn)
            .expect("load");
        assert_eq!((parcel_region, load_region), (sha_region, sha_region));
    }
    let code = store::read_reservation(conn, &key, "acme", waiting)
        .expect("read")
        .1
        .expect("code");
    store::handover(conn, &key, mad, "shop", &code, at(2026, 3, 4))
        .expect("handover")
        .into_result(pudo::pickup::CodeKind::Handover)
        .expect("handed over");
    let lines = paid(conn, mad);
    assert_eq!(
        lines,
        [
            ("handover".to_owned(), 50, "EUR".to_owned()),
            ("handover".to_owned(), 200, "CNY".to_owned())
        ],
        "the line earned in Madrid keeps Madrid's fee; the next is paid at Shanghai's"
    );
}
on_both_backends!(a_moved_shop_is_paid_at_its_new_regions_fees);
