//! Secrets never reach the logs: every log line and span of the process, at every level, is
//! captured while a partner exchanges its API key, a merchant sets a webhook and reads a code,
//! the webhook is delivered, a customer's mail fails and is sent, a partner hands the parcel
//! over, and forged tokens are refused.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use pudo::auth::Role;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::fmt::format::FmtSpan;

/// The process-wide log capture. Spans are printed when they open and close, so every field
/// the request logger records (method, target, route, user agent, client address …) is seen.
#[derive(Clone)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> Captured {
    static CAPTURE: OnceLock<Captured> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let captured = Captured(Arc::new(Mutex::new(Vec::new())));
            let writer = captured.clone();
            // Like `telemetry::init`, this also routes the `log` records of dependencies
            // (actix-web, ureq, r2d2) into tracing, so they are checked too.
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .try_init()
                .expect("the log test owns the test binary's global subscriber");
            captured
        })
        .clone()
}

fn logs(captured: &Captured) -> String {
    String::from_utf8_lossy(&captured.0.lock().expect("log buffer")).into_owned()
}

async fn secrets_never_reach_the_logs(backend: Backend) {
    let captured = capture();
    let app = TestApp::new(backend)
        .with_csv("external_id,name,latitude,longitude,capacity\nlog-1,Log,40.4,-3.7,5\n");
    let shop = app.shop_id("log-1");
    let api_key = pudo::auth::api_keys::rotate(&mut app.state.pool.get().expect("conn"), "log-1")
        .expect("rotate")
        .expect("shop")
        .1;
    let partner = app
        .post(
            "/v1/auth/token",
            "none",
            json!({"shop": "log-1", "api_key": api_key}),
        )
        .await
        .ok()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let merchant = app.token(Role::Merchant, "log-merchant");
    let sink = crate::webhook_sink::Sink::start();
    let webhook = app
        .call(
            actix_web::test::TestRequest::put()
                .uri("/v1/merchant/webhook")
                .insert_header(("authorization", format!("Bearer {merchant}")))
                .set_json(json!({"url": sink.url})),
        )
        .await;
    let secret = webhook.ok()["secret"].as_str().expect("secret").to_owned();
    let reservation = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": shop, "order_ref": "ORD-LOG"}),
        )
        .await;
    let id = reservation.body["id"].as_i64().expect("reservation id");
    let arrival = app
        .post(
            &format!("/v1/partner/parcels/{id}/arrival"),
            &partner,
            json!({}),
        )
        .await;
    arrival.ok();
    pudo::pickup::webhooks::dispatch_due(
        &app.state.pool,
        app.state.keys.data_key(),
        &pudo::pickup::webhooks::agent(),
    )
    .expect("dispatch");
    let code = app
        .get_as(&format!("/v1/reservations/{id}"), &merchant)
        .await
        .ok()["pickup_code"]
        .as_str()
        .expect("code revealed once")
        .to_owned();
    let wrong = app
        .post(
            "/v1/partner/handovers",
            &partner,
            json!({"code": "0000-0000"}),
        )
        .await;
    assert_eq!(wrong.status.as_u16(), 404);
    app.post("/v1/partner/handovers", &partner, json!({"code": code}))
        .await
        .ok();
    // A customer's e-mail address: stored, its mail failing once (nobody listens), then sent.
    let customer = "log.customer@example.com";
    let on = app
        .call(
            actix_web::test::TestRequest::put()
                .uri("/v1/merchant/notifications")
                .insert_header(("authorization", format!("Bearer {merchant}")))
                .set_json(json!({"customer_emails": true})),
        )
        .await;
    on.ok();
    let mailed = app
        .post(
            "/v1/reservations",
            &merchant,
            json!({"pickup_point_id": shop, "order_ref": "ORD-LOG-MAIL", "customer_email": customer}),
        )
        .await;
    let mailed = mailed.body["id"].as_i64().expect("reservation id");
    app.post(
        &format!("/v1/partner/parcels/{mailed}/arrival"),
        &partner,
        json!({}),
    )
    .await
    .ok();
    let mail = |url: &str, at: chrono::NaiveDateTime| {
        let mailer =
            pudo::pickup::smtp::Mailer::new(url, "pudo <pudo@example.com>").expect("mailer");
        pudo::pickup::mails::dispatch_due(
            &app.state.pool,
            app.state.keys.data_key(),
            &mailer,
            &app.state.network,
            at,
        )
        .expect("mails")
    };
    let now = chrono::Utc::now().naive_utc();
    let down = format!("smtp://127.0.0.1:{}", crate::smtp_sink::free_port());
    assert_eq!(mail(&down, now).failed, 1);
    let smtp = crate::smtp_sink::SmtpSink::start();
    assert_eq!(
        mail(&smtp.url(), now + chrono::Duration::minutes(1)).sent,
        1
    );
    // Refused tokens: a forged signature (401) and a wrong role (403).
    let forged = format!("{}x", &merchant[..merchant.len() - 1]);
    assert_eq!(app.get_as("/v1/events", &forged).await.status.as_u16(), 401);
    assert_eq!(
        app.get_as("/v1/events", &partner).await.status.as_u16(),
        403
    );

    let text = logs(&captured);
    // The capture sees the requests, so the checks below can fail.
    assert!(
        text.contains("/v1/partner/handovers") && text.contains("/v1/auth/token"),
        "the request spans were not captured"
    );
    let signature = |t: &str| t.rsplit('.').next().unwrap_or_default().to_owned();
    for (what, secret) in [
        ("API key", api_key.clone()),
        ("pickup code", code.clone()),
        ("partner token", partner.clone()),
        ("partner token signature", signature(&partner)),
        ("merchant token", merchant.clone()),
        ("merchant token signature", signature(&merchant)),
        ("forged token", forged.clone()),
        ("webhook secret", secret.clone()),
        ("customer's e-mail address", customer.to_owned()),
    ] {
        assert!(!text.contains(&secret), "the {what} appears in the logs");
    }
}
on_both_backends!(secrets_never_reach_the_logs);
