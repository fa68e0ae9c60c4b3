//! The per-IP rate limit of `POST /v1/auth/token` through the app: 429 problem+json with
//! `Retry-After`, per client address, `X-Forwarded-For` believed only from trusted proxies.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use actix_web::test;
use pudo::api::rate_limit::{parse_trusted_proxies, RateLimit};
use std::sync::Arc;

struct Reply {
    status: u16,
    retry_after: Option<u64>,
    content_type: String,
}

async fn exchange(app: &TestApp, peer: &str, forwarded: Option<&str>, key: &str) -> Reply {
    let service = test::init_service(pudo::api::app(app.state.clone())).await;
    let mut req = test::TestRequest::post()
        .uri("/v1/auth/token")
        .peer_addr(peer.parse().expect("peer"))
        .set_json(serde_json::json!({"shop": "rl-1", "api_key": key}));
    if let Some(value) = forwarded {
        req = req.insert_header(("x-forwarded-for", value));
    }
    let res = test::call_service(&service, req.to_request()).await;
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Reply {
        status: res.status().as_u16(),
        retry_after: header("retry-after").and_then(|v| v.parse().ok()),
        content_type: header("content-type").unwrap_or_default(),
    }
}

fn app_with_limit(backend: Backend, trusted: &str) -> (TestApp, String) {
    let mut app = TestApp::new(backend)
        .with_csv("external_id,name,latitude,longitude,capacity\nrl-1,Rl,40.4,-3.7,5\n");
    // One a minute after a burst of three: nothing refills while the test runs.
    let trusted = parse_trusted_proxies(trusted).expect("proxies");
    app.state.token_rate_limit = Arc::new(RateLimit::new(1, 3, trusted));
    let key = pudo::auth::api_keys::rotate(&mut app.state.pool.get().expect("conn"), "rl-1")
        .expect("rotate")
        .expect("shop")
        .1;
    (app, key)
}

async fn token_requests_are_limited_per_address(backend: Backend) {
    let (app, key) = app_with_limit(backend, "");
    let client = "198.51.100.1:40000";
    // Right and wrong keys count alike.
    assert_eq!(exchange(&app, client, None, &key).await.status, 200);
    assert_eq!(exchange(&app, client, None, "pk_wrong").await.status, 401);
    assert_eq!(exchange(&app, client, None, &key).await.status, 200);
    let limited = exchange(&app, client, None, &key).await;
    assert_eq!(limited.status, 429);
    assert!(limited.content_type.starts_with("application/problem+json"));
    assert!(
        limited.retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "Retry-After {:?}",
        limited.retry_after
    );
    // Another port of the same address is the same client; a forged header changes nothing.
    assert_eq!(
        exchange(&app, "198.51.100.1:40001", None, &key)
            .await
            .status,
        429
    );
    let spoofed = exchange(&app, client, Some("203.0.113.77"), &key).await;
    assert_eq!(spoofed.status, 429);
    // Another address has its own allowance.
    assert_eq!(
        exchange(&app, "198.51.100.2:40000", None, &key)
            .await
            .status,
        200
    );
}
on_both_backends!(token_requests_are_limited_per_address);

async fn behind_a_trusted_proxy_the_forwarded_client_is_limited(backend: Backend) {
    let (app, key) = app_with_limit(backend, "10.0.0.0/8");
    let proxy = "10.0.0.5:8443";
    for _ in 0..3 {
        let reply = exchange(&app, proxy, Some("198.51.100.1"), &key).await;
        assert_eq!(reply.status, 200);
    }
    assert_eq!(
        exchange(&app, proxy, Some("198.51.100.1"), &key)
            .await
            .status,
        429
    );
    // Other clients behind the same proxy are not affected ...
    assert_eq!(
        exchange(&app, proxy, Some("198.51.100.2"), &key)
            .await
            .status,
        200
    );
    // ... and a client cannot escape by prepending addresses: the proxy appends the real one.
    let prepended = exchange(&app, proxy, Some("192.0.2.1, 198.51.100.1"), &key).await;
    assert_eq!(prepended.status, 429);
}
on_both_backends!(behind_a_trusted_proxy_the_forwarded_client_is_limited);
