//! A partner keeps its own shop's declaration up to date (`PUT /v1/partner/shop/capabilities`):
//! search (`capability=`, nearest and `bbox`), the point's page and a second instance follow;
//! another partner's token reaches only its own shop; bad bodies are 400 naming the field; a
//! later import sets the declaration from the operator's file again.

use crate::on_both_backends;
use crate::support::{Answer, Backend, TestApp};
use actix_web::test::TestRequest;
use pudo::network::capabilities::{Capabilities, Capability};
use pudo::network::service::Network;
use pudo::network::SearchFilter;
use serde_json::{json, Value};

/// `sol` declares parking and a photo, `bare` nothing; both keep weekday hours (no
/// `open_24_7`).
const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity,timezone,opening_hours,capabilities,photo_url
sol,Kiosko Sol,40.4169,-3.7035,5,Europe/Madrid,Mo-Fr 09:00-20:00,parking,https://img.example.com/shops/sol.jpg
bare,Kiosko Latina,40.4100,-3.7100,5,Europe/Madrid,Mo-Fr 09:00-20:00,,
";

async fn put(app: &TestApp, token: &str, body: Value) -> Answer {
    app.call(
        TestRequest::put()
            .uri("/v1/partner/shop/capabilities")
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(body),
    )
    .await
}

/// The external ids a search finds, in order.
async fn found(app: &TestApp, query: &str) -> Vec<String> {
    app.get(&format!("/v1/pickup-points?{query}"))
        .await
        .external_ids()
}

const NEAR: &str = "lat=40.4169&lon=-3.7035&limit=10";

async fn a_partner_changes_its_capabilities(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    // A second instance on the same database, loaded before the change.
    let other = Network::new(app.state.pool.clone());
    other.refresh().expect("other loads");
    let with = |c: Capability| {
        let mut wanted = Capabilities::none();
        wanted.insert(c);
        let mut filter = SearchFilter::nearest(10);
        filter.capabilities = wanted;
        filter
    };
    let ids_on = |n: &Network, c: Capability| -> Vec<String> {
        n.index()
            .search(40.4169, -3.7035, &with(c))
            .iter()
            .map(|h| h.shop.external_id.to_string())
            .collect()
    };
    assert_eq!(
        found(&app, &format!("{NEAR}&capability=step_free")).await,
        Vec::<String>::new()
    );

    // `bare` gets a ramp and a photo; `sol` loses its parking and its photo.
    let bare = app.partner_token("bare");
    let answer = put(
        &app,
        &bare,
        json!({"capabilities": ["step_free", "cash_on_delivery"],
               "photo_url": "https://img.example.com/shops/latina.jpg"}),
    )
    .await;
    assert_eq!(
        answer.ok()["external_id"],
        "bare",
        "the shop as its partner sees it"
    );
    assert_eq!(
        answer.body["capabilities"],
        json!(["step_free", "cash_on_delivery"])
    );
    assert_eq!(
        answer.body["photo_url"],
        "https://img.example.com/shops/latina.jpg"
    );
    let sol = app.partner_token("sol");
    let answer = put(&app, &sol, json!({"capabilities": []})).await;
    assert_eq!(
        (&answer.ok()["capabilities"], &answer.body["photo_url"]),
        (&json!([]), &Value::Null),
        "a photo left out is no photo"
    );

    // This instance's search at once: nearest, text and map area alike.
    assert_eq!(
        found(&app, &format!("{NEAR}&capability=step_free")).await,
        ["bare"]
    );
    assert_eq!(
        found(&app, &format!("{NEAR}&capability=parking")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(&app, "q=kiosko&capability=cash_on_delivery").await,
        ["bare"]
    );
    let area = app
        .get("/v1/pickup-points?bbox=-3.8,40.3,-3.6,40.5&capability=step_free")
        .await;
    assert_eq!(area.ok()["total"], 1, "{}", area.text);
    let page = app
        .get(&format!("/v1/pickup-points/{}", app.shop_id("bare")))
        .await;
    assert_eq!(
        page.ok()["capabilities"],
        json!(["step_free", "cash_on_delivery"])
    );
    assert_eq!(
        page.body["photo_url"],
        "https://img.example.com/shops/latina.jpg"
    );
    let shop = app.get_as("/v1/partner/shop", &sol).await;
    assert_eq!(shop.ok()["capabilities"], json!([]));

    // The other instance follows on its next poll, as it follows pauses and imports.
    assert_eq!(
        ids_on(&other, Capability::Parking),
        ["sol"],
        "not polled yet"
    );
    assert_eq!(other.refresh().expect("other polls"), 2);
    assert_eq!(ids_on(&other, Capability::StepFree), ["bare"]);
    assert!(ids_on(&other, Capability::Parking).is_empty());

    // A re-import: the operator's file sets the declaration again (here: parking for sol,
    // nothing for bare).
    let app = app.with_csv(SHOPS);
    assert!(found(&app, &format!("{NEAR}&capability=step_free"))
        .await
        .is_empty());
    assert_eq!(
        found(&app, &format!("{NEAR}&capability=parking")).await,
        ["sol"]
    );
}
on_both_backends!(a_partner_changes_its_capabilities);

async fn only_its_own_shop_and_clear_errors(backend: Backend) {
    let app = TestApp::new(backend).with_csv(SHOPS);
    let sol = app.partner_token("sol");
    // A partner token names its shop: the body cannot name another, and the other shop's
    // declaration stays as it was.
    let answer = put(
        &app,
        &sol,
        json!({"capabilities": ["id_check"], "shop": app.shop_id("bare")}),
    )
    .await;
    assert_eq!(answer.problem(400)["parameter"], "shop");
    put(&app, &sol, json!({"capabilities": ["id_check"]}))
        .await
        .ok();
    let page = app
        .get(&format!("/v1/pickup-points/{}", app.shop_id("bare")))
        .await;
    assert_eq!(page.ok()["capabilities"], json!([]));
    assert_eq!(
        found(&app, &format!("{NEAR}&capability=id_check")).await,
        ["sol"]
    );

    // Other roles and no token.
    let merchant = app.token(pudo::auth::Role::Merchant, "acme");
    put(&app, &merchant, json!({"capabilities": []}))
        .await
        .problem(403);
    let anonymous = app
        .call(
            TestRequest::put()
                .uri("/v1/partner/shop/capabilities")
                .set_json(json!({"capabilities": []})),
        )
        .await;
    anonymous.problem(401);

    // Bad bodies: 400 naming the field, nothing changed.
    for (body, parameter, words) in [
        (
            json!({"capabilities": ["parking", "open_24_7"]}),
            "capabilities[1]",
            "follows from the opening hours",
        ),
        (
            json!({"capabilities": ["lift"]}),
            "capabilities[0]",
            "\"lift\"",
        ),
        (
            json!({"capabilities": ["Parking"]}),
            "capabilities[0]",
            "unknown capability",
        ),
        (
            json!({"capabilities": ["parking", "parking"]}),
            "capabilities[1]",
            "listed twice",
        ),
        (json!({"capabilities": [3]}), "capabilities[0]", ""),
        (json!({"capabilities": "parking"}), "capabilities", ""),
        (json!({}), "capabilities", ""),
        (
            json!({"capabilities": [], "photo_url": "http://img.example.com/a.jpg"}),
            "photo_url",
            "https://",
        ),
        (
            json!({"capabilities": [], "photo_url": "javascript:alert(1)"}),
            "photo_url",
            "https://",
        ),
        (
            json!({"capabilities": [], "photo_url": " https://img.example.com/a.jpg"}),
            "photo_url",
            "spaces",
        ),
        (
            json!({"capabilities": [],
                   "photo_url": format!("https://a.example/{}", "x".repeat(500))}),
            "photo_url",
            "longer than 500",
        ),
        (json!({"capabilities": [], "photo_url": 7}), "photo_url", ""),
    ] {
        let answer = put(&app, &sol, body.clone()).await;
        let problem = answer.problem(400);
        assert_eq!(problem["parameter"], parameter, "{body}");
        let detail = problem["detail"].as_str().unwrap_or("");
        assert!(detail.contains(words), "{body}: {detail}");
    }
    let shop = app.get_as("/v1/partner/shop", &sol).await;
    assert_eq!(shop.ok()["capabilities"], json!(["id_check"]));
    assert_eq!(shop.body["photo_url"], Value::Null);
}
on_both_backends!(only_its_own_shop_and_clear_errors);
