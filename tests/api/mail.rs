//! Customer e-mails (issue 20, "The customer is told"), received by a real SMTP server on the
//! loopback (tests/api/smtp_sink.rs): the arrival mail in English, Chinese and Spanish with
//! the code, its QR code inline, the point's address, hours and hold end; the reminder; the
//! moved and redirected notices; retries while the server is down; nothing without the
//! merchant's opt-in; the address sealed, in no webhook payload, and erased after the parcel's
//! pickup plus the set days.

use crate::on_both_backends;
use crate::smtp_sink::{free_port, SmtpSink};
use crate::support::{Backend, TestApp};
use actix_web::test::TestRequest;
use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use pudo::auth::Role;
use pudo::db::schema::{customer_contacts, outbox};
use pudo::pickup::mails::{dispatch_due, Round};
use pudo::pickup::smtp::Mailer;
use serde_json::{json, Value};

/// Three Madrid points within a redirect's reach, with addresses, hours and localised texts,
/// and one in Barcelona (another region).
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,timezone,opening_hours,street,postcode,city,region,country,phone,name_zh,address_zh,name_es,address_es
sol,Kiosko Sol,40.41690,-3.70350,5,Europe/Madrid,Mo-Sa 09:00-21:00,Calle Mayor 1,28013,Madrid,Comunidad de Madrid,ES,+34 915 00 00 01,太阳报亭,马德里马约尔街1号,Quiosco Sol,\"Calle Mayor 1, Madrid\"
luna,Papelería Luna,40.41800,-3.70500,5,Europe/Madrid,Mo-Fr 10:00-14:00,Calle del Arenal 7,28013,Madrid,Comunidad de Madrid,ES,,,,,
rio,Bazar Río,40.41750,-3.70420,5,Europe/Madrid,24/7,Calle de Postas 3,28012,Madrid,Comunidad de Madrid,ES,,,,,
bcn,Estanc Pelai,41.38790,2.16992,5,Europe/Madrid,Mo-Sa 09:00-21:00,Carrer de Pelai 1,08001,Barcelona,Catalunya,ES,,,,,
";

const FROM: &str = "Tienda Ejemplo <avisos@example.com>";

fn mailer(url: &str) -> Mailer {
    Mailer::new(url, FROM).expect("mailer")
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn send(app: &TestApp, mailer: &Mailer, at: NaiveDateTime) -> Round {
    dispatch_due(
        &app.state.pool,
        app.state.keys.data_key(),
        mailer,
        &app.state.network,
        at,
    )
    .expect("dispatch")
}

async fn opt_in(app: &TestApp, token: &str, on: bool) {
    let answer = app
        .call(
            TestRequest::put()
                .uri("/v1/merchant/notifications")
                .insert_header(("authorization", format!("Bearer {token}")))
                .set_json(json!({ "customer_emails": on })),
        )
        .await;
    assert_eq!(answer.ok()["customer_emails"], on);
    let read = app.get_as("/v1/merchant/notifications", token).await;
    assert_eq!(read.ok()["customer_emails"], on);
}

async fn reserve(app: &TestApp, token: &str, shop: &str, order: &str, body: Value) -> i64 {
    let mut request = json!({ "pickup_point_id": app.shop_id(shop), "order_ref": order });
    if let (Some(r), Some(extra)) = (request.as_object_mut(), body.as_object()) {
        r.extend(extra.clone());
    }
    let answer = app.post("/v1/reservations", token, request).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert!(!answer.text.contains('@'), "the answer repeats no address");
    answer.body["id"].as_i64().expect("id")
}

async fn arrive(app: &TestApp, shop: &str, id: i64) {
    let partner = app.partner_token(shop);
    let answer = app
        .post(
            &format!("/v1/partner/parcels/{id}/arrival"),
            &partner,
            json!({}),
        )
        .await;
    assert_eq!(answer.ok()["state"], "at_point");
}

/// The pickup code, as the merchant reads it once.
async fn code(app: &TestApp, token: &str, id: i64) -> String {
    let answer = app.get_as(&format!("/v1/reservations/{id}"), token).await;
    answer.ok()["pickup_code"]
        .as_str()
        .expect("pickup code")
        .to_owned()
}

fn contacts(app: &TestApp) -> Vec<(i64, String)> {
    customer_contacts::table
        .select((
            customer_contacts::parcel_id,
            customer_contacts::email_sealed,
        ))
        .order(customer_contacts::parcel_id)
        .load(&mut *app.state.pool.get().expect("conn"))
        .expect("contacts")
}

fn text(mail: &Value) -> &str {
    mail["text"].as_str().expect("text part")
}

fn html(mail: &Value) -> &str {
    mail["html"].as_str().expect("html part")
}

async fn arrival_mail_in_each_language(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let sink = SmtpSink::start();
    let mailer = mailer(&sink.url());
    let merchant = app.token(Role::Merchant, "acme");
    opt_in(&app, &merchant, true).await;
    let customers = [
        ("A-en", "ana.garcia@example.es", Some("en")),
        ("A-zh", "li.wei@example.cn", Some("zh")),
        ("A-es", "pablo+pedidos@example.es", Some("es")),
        ("A-default", "jo@example.com", None),
    ];
    let mut ids = Vec::new();
    for (order, email, language) in customers {
        let mut body = json!({ "customer_email": email });
        if let Some(l) = language {
            body["customer_language"] = json!(l);
        }
        ids.push(reserve(&app, &merchant, "sol", order, body).await);
    }
    // A reservation without a customer takes the usual path and stores nothing.
    let plain = reserve(&app, &merchant, "sol", "A-none", json!({})).await;

    // Stored sealed: the rows exist, the address is not in them, nor in any webhook event.
    let stored = contacts(&app);
    assert_eq!(stored.iter().map(|r| r.0).collect::<Vec<_>>(), ids);
    for ((_, sealed), (_, email, _)) in stored.iter().zip(customers) {
        assert!(!sealed.contains(email) && !sealed.contains('@'), "{sealed}");
        assert_eq!(
            pudo::pickup::codes::unseal(app.state.keys.data_key(), sealed).as_deref(),
            Some(email)
        );
    }

    // Nothing is due before the parcels arrive.
    assert_eq!(send(&app, &mailer, now()), Round::default());
    for &id in ids.iter().chain([&plain]) {
        arrive(&app, "sol", id).await;
    }
    let round = send(&app, &mailer, now());
    assert_eq!(round, Round { sent: 4, failed: 0 });
    let mails = sink.wait_for(4);
    assert_eq!(mails.len(), 4);

    let subjects = [
        "Your parcel A-en is ready for pickup",
        "您的包裹 A-zh 已到达，可以取件",
        "Tu paquete A-es está listo para recoger",
        "Your parcel A-default is ready for pickup",
    ];
    let words = [
        [
            "Pickup code",
            "Opening hours",
            "Kiosko Sol, Calle Mayor 1, 28013 Madrid",
        ],
        ["取件码", "营业时间", "太阳报亭, 马德里马约尔街1号"],
        [
            "Código de recogida",
            "Horario",
            "Quiosco Sol, Calle Mayor 1, Madrid",
        ],
        [
            "Pickup code",
            "Opening hours",
            "Kiosko Sol, Calle Mayor 1, 28013 Madrid",
        ],
    ];
    for (i, mail) in mails.iter().enumerate() {
        let (_, email, _) = customers[i];
        let code = code(&app, &merchant, ids[i]).await;
        assert_eq!(mail["rcpt_tos"], json!([email]));
        assert_eq!(mail["to"], email);
        assert_eq!(mail["from"], FROM);
        assert_eq!(mail["subject"], subjects[i]);
        assert_eq!(
            mail["structure"],
            "multipart/alternative(text/plain, multipart/related(text/html, image/png))"
        );
        for part in [text(mail), html(mail)] {
            assert!(part.contains(&code), "the code in {part}");
            assert!(part.contains("Mo-Sa 09:00-21:00"), "hours in {part}");
            // The hold ends 7 days after arrival, shown in Madrid's time.
            assert!(part.contains("(Europe/Madrid)"), "hold end in {part}");
            for w in words[i] {
                assert!(part.contains(w), "{w:?} in {part}");
            }
        }
        assert!(html(mail).contains("src=\"cid:pickup-code-qr\""));
        let image = &mail["images"][0];
        assert_eq!(image["content_type"], "image/png");
        assert_eq!(image["png"], true);
        assert_eq!(image["disposition"], "inline");
        assert_eq!(image["content_id"], "<pickup-code-qr>");
        assert!(mail["message_id"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("<pudo.{}.arrival.", ids[i]))));
    }

    // Sent once: nothing is due any more.
    assert_eq!(send(&app, &mailer, now()), Round::default());
    assert_eq!(sink.received().len(), 4);

    // No webhook event carries an address.
    let payloads: Vec<String> = outbox::table
        .select(outbox::payload)
        .load(&mut *app.state.pool.get().expect("conn"))
        .expect("outbox");
    assert!(payloads.len() >= 10);
    for (_, email, _) in customers {
        assert!(payloads.iter().all(|p| !p.contains(email)));
    }
}
on_both_backends!(arrival_mail_in_each_language);

async fn reminder_and_move_notices(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let sink = SmtpSink::start();
    let mailer = mailer(&sink.url());
    let merchant = app.token(Role::Merchant, "acme");
    opt_in(&app, &merchant, true).await;
    let body = json!({ "customer_email": "marta@example.es", "customer_language": "es" });
    let id = reserve(&app, &merchant, "sol", "M-1", body).await;

    // Moved before arrival: the customer learns the new point and its address.
    let moved = app
        .post(
            &format!("/v1/reservations/{id}/move"),
            &merchant,
            json!({ "pickup_point_id": app.shop_id("luna") }),
        )
        .await;
    assert_eq!(moved.ok()["pickup_point_id"], app.shop_id("luna"));
    assert_eq!(send(&app, &mailer, now()), Round { sent: 1, failed: 0 });
    let notice = &sink.wait_for(1)[0];
    assert_eq!(
        notice["subject"],
        "Tu paquete M-1 va a un nuevo punto de recogida"
    );
    assert_eq!(
        notice["structure"],
        "multipart/alternative(text/plain, multipart/related(text/html))"
    );
    for part in [text(notice), html(notice)] {
        assert!(
            part.contains("Papelería Luna, Calle del Arenal 7, 28013 Madrid"),
            "{part}"
        );
        assert!(part.contains("Mo-Fr 10:00-14:00"));
    }
    assert!(text(notice).contains("Te avisaremos por correo cuando llegue"));

    // Arrival at the new point.
    arrive(&app, "luna", id).await;
    let arrived_at = now();
    assert_eq!(
        send(&app, &mailer, arrived_at),
        Round { sent: 1, failed: 0 }
    );
    let arrival = &sink.wait_for(2)[1];
    assert_eq!(arrival["subject"], "Tu paquete M-1 está listo para recoger");
    assert!(text(arrival).contains("Papelería Luna"));
    let code = code(&app, &merchant, id).await;

    // Redirected on the day by the partner to a point nearby: the new address, the same code.
    let partner = app.partner_token("luna");
    let redirected = app
        .post(
            &format!("/v1/partner/parcels/{id}/redirect"),
            &partner,
            json!({ "pickup_point_id": app.shop_id("rio") }),
        )
        .await;
    assert_eq!(redirected.status, 200, "{}", redirected.text);
    assert_eq!(send(&app, &mailer, now()), Round { sent: 1, failed: 0 });
    let notice = &sink.wait_for(3)[2];
    assert_eq!(
        notice["subject"],
        "Tu paquete M-1 va a un nuevo punto de recogida"
    );
    assert!(text(notice).contains("Bazar Río, Calle de Postas 3, 28012 Madrid"));
    assert!(text(notice).contains("Tu código de recogida no cambia"));
    assert!(text(notice).contains("Abierto las 24 horas"));
    assert!(!text(notice).contains(&code), "a notice carries no code");

    // Nothing until a day before the hold ends (7 days); then the reminder, once.
    let day_six = arrived_at + Duration::days(5);
    assert_eq!(send(&app, &mailer, day_six), Round::default());
    let last_day = arrived_at + Duration::days(6) + Duration::hours(1);
    assert_eq!(send(&app, &mailer, last_day), Round { sent: 1, failed: 0 });
    let reminder = &sink.wait_for(4)[3];
    assert!(
        reminder["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("Recordatorio: recoge tu paquete M-1 antes del ")),
        "{}",
        reminder["subject"]
    );
    assert!(text(reminder).contains(&code));
    assert!(text(reminder).contains("Bazar Río"));
    assert_eq!(reminder["images"][0]["png"], true);
    assert_eq!(
        send(&app, &mailer, last_day + Duration::minutes(5)),
        Round::default()
    );
    assert_eq!(sink.received().len(), 4);
}
on_both_backends!(reminder_and_move_notices);

async fn a_move_across_regions_keeps_the_customer(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let sink = SmtpSink::start();
    let mailer = mailer(&sink.url());
    let merchant = app.token(Role::Merchant, "acme");
    opt_in(&app, &merchant, true).await;
    let body = json!({ "customer_email": "jordi@example.cat" });
    let id = reserve(&app, &merchant, "sol", "X-1", body).await;
    let region_of = |shop: i64| -> i64 {
        pudo::network::load::region_of(&mut app.state.pool.get().expect("conn"), shop)
            .expect("region")
            .expect("shop")
    };
    let (sol, bcn) = (app.shop_id("sol"), app.shop_id("bcn"));
    assert_ne!(
        region_of(sol),
        region_of(bcn),
        "the fixture's points are in two regions"
    );
    let moved = app
        .post(
            &format!("/v1/reservations/{id}/move"),
            &merchant,
            json!({ "pickup_point_id": bcn }),
        )
        .await;
    assert_eq!(moved.ok()["pickup_point_id"], bcn);
    let regions: Vec<i64> = customer_contacts::table
        .select(customer_contacts::region)
        .load(&mut *app.state.pool.get().expect("conn"))
        .expect("contacts");
    assert_eq!(regions, [region_of(bcn)]);
    assert_eq!(send(&app, &mailer, now()), Round { sent: 1, failed: 0 });
    arrive(&app, "bcn", id).await;
    assert_eq!(send(&app, &mailer, now()), Round { sent: 1, failed: 0 });
    let mails = sink.wait_for(2);
    assert!(text(&mails[0]).contains("Estanc Pelai, Carrer de Pelai 1, 08001 Barcelona"));
    assert_eq!(mails[1]["subject"], "Your parcel X-1 is ready for pickup");
    assert!(text(&mails[1]).contains("Estanc Pelai"));
}
on_both_backends!(a_move_across_regions_keeps_the_customer);

async fn retried_while_the_smtp_server_is_down(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let port = free_port();
    let mailer = mailer(&format!("smtp://127.0.0.1:{port}"));
    let merchant = app.token(Role::Merchant, "acme");
    opt_in(&app, &merchant, true).await;
    let body = json!({ "customer_email": "li.wei@example.cn", "customer_language": "zh" });
    let id = reserve(&app, &merchant, "sol", "R-1", body).await;
    arrive(&app, "sol", id).await;

    // Nobody listens: the attempt fails, is recorded without the address, and waits.
    let t0 = now();
    assert_eq!(send(&app, &mailer, t0), Round { sent: 0, failed: 1 });
    let (attempts, error): (i32, Option<String>) = customer_contacts::table
        .select((customer_contacts::attempts, customer_contacts::last_error))
        .first(&mut *app.state.pool.get().expect("conn"))
        .expect("row");
    assert_eq!(attempts, 1);
    let error = error.expect("last error");
    assert!(error.contains("could not be reached"), "{error}");
    assert!(!error.contains("li.wei"));
    // Backoff: not again at once.
    assert_eq!(
        send(&app, &mailer, t0 + Duration::seconds(1)),
        Round::default()
    );

    // The server comes up; the next attempt after the backoff delivers.
    let sink = SmtpSink::start_on(port);
    assert_eq!(
        send(&app, &mailer, t0 + Duration::seconds(15)),
        Round { sent: 1, failed: 0 }
    );
    let mails = sink.wait_for(1);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["subject"], "您的包裹 R-1 已到达，可以取件");
    assert!(text(&mails[0]).contains(&code(&app, &merchant, id).await));
    assert_eq!(
        send(&app, &mailer, t0 + Duration::minutes(5)),
        Round::default()
    );
}
on_both_backends!(retried_while_the_smtp_server_is_down);

async fn nothing_without_the_merchants_opt_in(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let sink = SmtpSink::start();
    let mailer = mailer(&sink.url());
    let merchant = app.token(Role::Merchant, "acme");

    // Off by default: the address is accepted and not kept.
    let read = app.get_as("/v1/merchant/notifications", &merchant).await;
    assert_eq!(read.ok()["customer_emails"], false);
    let body = json!({ "customer_email": "ana@example.es", "customer_language": "es" });
    let id = reserve(&app, &merchant, "sol", "N-1", body).await;
    assert!(contacts(&app).is_empty());
    arrive(&app, "sol", id).await;
    assert_eq!(send(&app, &mailer, now()), Round::default());

    // On, then off again before the parcel arrives: nothing goes out.
    opt_in(&app, &merchant, true).await;
    let body = json!({ "customer_email": "ana@example.es" });
    let second = reserve(&app, &merchant, "sol", "N-2", body).await;
    assert_eq!(contacts(&app).len(), 1);
    opt_in(&app, &merchant, false).await;
    arrive(&app, "sol", second).await;
    assert_eq!(send(&app, &mailer, now()), Round::default());
    assert!(sink.received().is_empty());

    // Another merchant's setting is its own; its webhook is kept when it turns mails on.
    let other = app.token(Role::Merchant, "other");
    let hook = app
        .call(
            TestRequest::put()
                .uri("/v1/merchant/webhook")
                .insert_header(("authorization", format!("Bearer {other}")))
                .set_json(json!({ "url": "http://127.0.0.1:9/hooks" })),
        )
        .await;
    hook.ok();
    opt_in(&app, &other, true).await;
    let read = app.get_as("/v1/merchant/notifications", &merchant).await;
    assert_eq!(read.ok()["customer_emails"], false);
    let webhook = pudo::pickup::outbox::webhook(
        &mut app.state.pool.get().expect("conn"),
        app.state.keys.data_key(),
        "other",
    )
    .expect("webhook");
    assert_eq!(
        webhook.map(|w| w.0).as_deref(),
        Some("http://127.0.0.1:9/hooks")
    );
}
on_both_backends!(nothing_without_the_merchants_opt_in);

async fn address_erased_after_pickup_plus_the_set_days(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let sink = SmtpSink::start();
    let mailer = mailer(&sink.url());
    let merchant = app.token(Role::Merchant, "acme");
    opt_in(&app, &merchant, true).await;
    let picked = reserve(
        &app,
        &merchant,
        "sol",
        "E-1",
        json!({ "customer_email": "a@example.es" }),
    )
    .await;
    let cancelled = reserve(
        &app,
        &merchant,
        "sol",
        "E-2",
        json!({ "customer_email": "b@example.es" }),
    )
    .await;
    let waiting = reserve(
        &app,
        &merchant,
        "sol",
        "E-3",
        json!({ "customer_email": "c@example.es" }),
    )
    .await;
    arrive(&app, "sol", picked).await;
    arrive(&app, "sol", waiting).await;
    assert_eq!(send(&app, &mailer, now()).sent, 2);
    let code = code(&app, &merchant, picked).await;
    let partner = app.partner_token("sol");
    let handed = app
        .post("/v1/partner/handovers", &partner, json!({ "code": code }))
        .await;
    handed.ok();
    let cancel = app
        .post(
            &format!("/v1/reservations/{cancelled}/cancel"),
            &merchant,
            json!({}),
        )
        .await;
    cancel.ok();
    let ended = now();

    let erase = |at: NaiveDateTime| {
        pudo::pickup::contacts::erase_ended(&mut app.state.pool.get().expect("conn"), at, 14)
            .expect("erase")
    };
    assert_eq!(erase(ended + Duration::days(13)), 0);
    assert_eq!(contacts(&app).len(), 3);
    assert_eq!(erase(ended + Duration::days(14) + Duration::minutes(1)), 2);
    // The parcel still waiting keeps its customer.
    assert_eq!(
        contacts(&app).iter().map(|r| r.0).collect::<Vec<_>>(),
        [waiting]
    );
    assert_eq!(erase(ended + Duration::days(30)), 0);
}
on_both_backends!(address_erased_after_pickup_plus_the_set_days);

async fn customer_fields_are_checked(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let merchant = app.token(Role::Merchant, "acme");
    opt_in(&app, &merchant, true).await;
    let sol = app.shop_id("sol");
    for (extra, parameter) in [
        (
            json!({ "customer_email": "not an address" }),
            "customer_email",
        ),
        (
            json!({ "customer_email": "Ana <ana@example.es>" }),
            "customer_email",
        ),
        (
            json!({ "customer_email": "ana@localhost" }),
            "customer_email",
        ),
        (json!({ "customer_email": 7 }), "customer_email"),
        (
            json!({ "customer_email": "ana@example.es", "customer_language": "fr" }),
            "customer_language",
        ),
        (json!({ "customer_language": "zh" }), "customer_language"),
    ] {
        let mut body = json!({ "pickup_point_id": sol, "order_ref": "V-1" });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let answer = app.post("/v1/reservations", &merchant, body).await;
        let problem = answer.problem(400);
        assert_eq!(problem["parameter"], parameter, "{extra}");
        assert!(
            !answer.text.contains("ana@"),
            "the address is not repeated: {}",
            answer.text
        );
    }
    assert!(contacts(&app).is_empty());
    // Nothing was reserved by the refused requests.
    let read = app
        .get_as("/v1/partner/parcels", &app.partner_token("sol"))
        .await;
    assert_eq!(read.ok()["items"].as_array().map(Vec::len), Some(0));
}
on_both_backends!(customer_fields_are_checked);

/// A real `pudo serve`: without `PUDO_SMTP_URL` it says once that it sends nothing; with one
/// holding a password it names the server without it; and its own loop delivers the arrival
/// mail of a reservation made over HTTP (`PUDO_MAIL_POLL_MS`).
fn serve_sends_from_its_own_loop(backend: Backend) {
    use crate::load::http::{agent, post};
    use crate::processes::{merchant_token, partner_token, setup, Server};
    let db = crate::support::TestDb::new(backend);
    let pool = db.pool();
    let (keys, shops) = setup(&pool, SHOPS);
    let info = [("RUST_LOG", "info")];

    let quiet = crate::processes::start(&db.url, 1, &info).remove(0);
    let log = quiet.log();
    assert_eq!(
        log.matches("PUDO_SMTP_URL is not set: no customer e-mails are sent")
            .count(),
        1,
        "{log}"
    );
    drop(quiet);

    let secret_url = [
        ("RUST_LOG", "info"),
        ("PUDO_SMTP_URL", "smtps://mailer:s3cret-pw@127.0.0.1:1"),
    ];
    let named = crate::processes::start(&db.url, 1, &secret_url).remove(0);
    let log = named.log();
    assert!(
        log.contains("customer e-mails go through this SMTP server"),
        "{log}"
    );
    assert!(log.contains("smtps://127.0.0.1:1"), "{log}");
    assert!(
        !log.contains("s3cret-pw") && !log.contains("mailer:"),
        "{log}"
    );
    drop(named);

    let sink = SmtpSink::start();
    let url = sink.url();
    let env = [
        ("PUDO_SMTP_URL", url.as_str()),
        ("PUDO_SMTP_FROM", FROM),
        ("PUDO_MAIL_POLL_MS", "100"),
    ];
    let server: Server = crate::processes::start(&db.url, 1, &env).remove(0);
    pudo::pickup::outbox::set_customer_emails(&mut pool.get().expect("conn"), "acme", true, now())
        .expect("opt in");
    let agent = agent();
    let merchant = merchant_token(&keys, "acme");
    let (sol_external, sol) = shops[0].clone();
    let reserved = post(
        &agent,
        &server.url("/v1/reservations"),
        &merchant,
        &json!({ "pickup_point_id": sol, "order_ref": "S-1", "customer_email": "ana@example.es", "customer_language": "es" }),
    )
    .expect("reserve");
    assert_eq!(reserved.status, 201, "{}", reserved.text);
    let id = reserved.body["id"].as_i64().expect("id");
    let partner = partner_token(&keys, &sol_external, sol);
    let arrived = post(
        &agent,
        &server.url(&format!("/v1/partner/parcels/{id}/arrival")),
        &partner,
        &json!({}),
    )
    .expect("arrival");
    assert_eq!(arrived.status, 200, "{}", arrived.text);
    let mails = sink.wait_for(1);
    assert_eq!(
        mails.len(),
        1,
        "no mail arrived; server log:\n{}",
        server.log()
    );
    assert_eq!(
        mails[0]["subject"],
        "Tu paquete S-1 está listo para recoger"
    );
    assert_eq!(mails[0]["rcpt_tos"], json!(["ana@example.es"]));
    // Counted once the round that sent it has recorded it (just after the server's 250).
    let counted = "pudo_customer_mails_total{outcome=\"sent\"} 1";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let metrics = loop {
        let m = crate::load::http::get(&agent, &server.url("/metrics"), "none").expect("metrics");
        if m.text.contains(counted) || std::time::Instant::now() > deadline {
            break m.text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(metrics.contains(counted), "{metrics}");
    assert!(!server.log().contains("ana@example.es"));
}

#[test]
fn serve_sends_from_its_own_loop_sqlite() {
    serve_sends_from_its_own_loop(Backend::Sqlite);
}

#[test]
fn serve_sends_from_its_own_loop_postgres() {
    serve_sends_from_its_own_loop(Backend::Postgres);
}
