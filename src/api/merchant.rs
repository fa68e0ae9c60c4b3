//! Merchants: reserving pickup slots for their orders, reading pickup codes, webhooks.

use super::auth::Bearer;
use super::body::Body;
use super::{with_conn, AppState};
use crate::auth::Role;
use crate::error::{ApiError, Problem};
use crate::network::address::PointContact;
use crate::pickup::{self, codes, outbox, Parcel};
use actix_web::{get, post, put, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A reservation request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationRequest {
    /// The pickup point chosen by the customer.
    #[schema(example = 1)]
    pub pickup_point_id: i64,
    /// The merchant's order reference; repeating it answers the same reservation.
    #[schema(
        example = "order-1001",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub order_ref: String,
    /// Optional SKU of the item.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub sku: Option<String>,
    /// When the parcel is expected at the point (RFC 3339), if known: a point closed for a
    /// period then refuses the reservation (409 `closed_for_period`).
    #[schema(value_type = Option<String>, format = DateTime, example = "2026-12-24T10:00:00+01:00")]
    pub arrive_at: Option<String>,
    /// The parcel's dimensions, `LxWxH` in centimetres (at most one decimal; any order): the
    /// point must take it, and it gets a slot of the smallest size class it fits (409
    /// `does_not_fit` or `full` otherwise). Without it the parcel takes the point's largest
    /// class.
    #[schema(
        example = "30x20x5",
        // The text of `network::sizes::DIMS_PATTERN` (an attribute takes a literal; a test
        // compares them).
        pattern = r"^\s*(?:[1-9][0-9]{0,2}(?:\.[0-9])?|0\.[1-9])[xX](?:[1-9][0-9]{0,2}(?:\.[0-9])?|0\.[1-9])[xX](?:[1-9][0-9]{0,2}(?:\.[0-9])?|0\.[1-9])\s*$"
    )]
    pub parcel: Option<String>,
    /// The parcel's weight in kilograms (to the gram): at most the point's maximum.
    #[schema(example = 1.2, minimum = 0.001, maximum = 1000.0)]
    pub weight_kg: Option<f64>,
    /// The customer's e-mail address, for pudo's e-mails about the parcel (arrival with the
    /// code, a reminder, a move). Kept, sealed, only when the merchant has customer e-mails
    /// on (`PUT /v1/merchant/notifications`), otherwise discarded; erased a set number of days
    /// after the parcel is picked up or returned. ASCII addresses of the pattern shown.
    #[schema(
        example = "ana.garcia@example.es",
        max_length = 215,
        pattern = r"^[A-Za-z0-9_%+-]{1,20}(\.[A-Za-z0-9_%+-]{1,20}){0,2}@([A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?\.){1,4}[A-Za-z]{2,20}$"
    )]
    pub customer_email: Option<String>,
    /// The language of the customer's e-mails (default `en`); only with `customer_email`.
    pub customer_language: Option<CustomerLanguage>,
    /// Cash the partner collects from the customer at the handover (cash on delivery). The
    /// partner confirms collecting it before the parcel is handed over; the shop's statement
    /// shows it apart from its fees.
    pub cash_on_delivery: Option<pickup::CashOnDelivery>,
    /// A check the partner makes before the handover: `age_18` (an ID showing 18 or older) or
    /// `named_recipient` (an ID showing `recipient_name`).
    pub id_check: Option<pickup::IdCheck>,
    /// The name the ID must show; required with, and only with, `id_check: named_recipient`
    /// (the document says so with [`ReservationConditionsSchema`]).
    #[schema(
        example = "Ana García",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub recipient_name: Option<String>,
    /// One person besides the customer who may collect the parcel; the partner sees the name
    /// at the handover (the pickup code is still needed).
    #[schema(
        example = "Luis García",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub collector_name: Option<String>,
}

/// Says in the OpenAPI document what the derived schema of [`ReservationRequest`] cannot: a
/// `recipient_name` goes with, and only with, `id_check: named_recipient`. The request's
/// schema becomes `oneOf` two objects, alike but for these two fields, so that a client
/// generated from the document, or the contract fuzzing's generator of valid requests, makes
/// only requests the API accepts (and the rule stays the API's: `Conditions::check`).
pub struct ReservationConditionsSchema;

impl utoipa::Modify for ReservationConditionsSchema {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
        use utoipa::openapi::RefOr;
        // Another shape than the derive's leaves the schema as it is, and
        // `the_contract_states_the_named_recipient_rule` (tests/api/counter.rs) fails.
        let Some(schemas) = openapi.components.as_mut().map(|c| &mut c.schemas) else {
            return;
        };
        let Some(RefOr::T(Schema::Object(request))) = schemas.get("ReservationRequest") else {
            return;
        };
        let request = request.clone();
        // The derived `recipient_name` (string or null), narrowed to a string.
        let Some(RefOr::T(Schema::Object(mut name))) =
            request.properties.get("recipient_name").cloned()
        else {
            return;
        };
        name.schema_type = SchemaType::new(Type::String);
        let variant = |title: &str, id_check: Schema, recipient_name: Schema, required: bool| {
            let mut variant = request.clone();
            variant.title = Some(title.to_owned());
            variant.description = None;
            variant
                .properties
                .insert("id_check".into(), id_check.into());
            variant
                .properties
                .insert("recipient_name".into(), recipient_name.into());
            if required {
                variant.required.push("id_check".into());
                variant.required.push("recipient_name".into());
            }
            Schema::Object(variant)
        };
        let named = variant(
            "With a named recipient",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["named_recipient"]))
                .description(Some(
                    "`named_recipient`: the collector's ID must show `recipient_name`.",
                ))
                .into(),
            Schema::Object(name),
            true,
        );
        let other = variant(
            "Without a named recipient",
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .enum_values(Some([serde_json::json!("age_18"), serde_json::Value::Null]))
                .description(Some("`age_18` (an ID showing 18 or older), or no check."))
                .into(),
            ObjectBuilder::new()
                .schema_type(Type::Null)
                .description(Some("Only with `id_check: named_recipient`."))
                .into(),
            false,
        );
        let one_of = OneOfBuilder::new()
            .description(request.description.clone())
            .item(named)
            .item(other);
        schemas.insert(
            "ReservationRequest".into(),
            Schema::OneOf(one_of.build()).into(),
        );
    }
}

/// The languages of customer e-mails.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CustomerLanguage {
    /// English.
    En,
    /// Chinese (simplified).
    Zh,
    /// Spanish.
    Es,
}

impl CustomerLanguage {
    fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh",
            Self::Es => "es",
        }
    }
}

/// A reservation as its merchant sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reservation {
    /// The reservation and its parcel.
    #[serde(flatten)]
    pub parcel: Parcel,
    /// The pickup code, in clear exactly once: the first read after the parcel arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup_code: Option<String>,
    /// The pickup code as an SVG QR code, alongside `pickup_code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup_code_qr_svg: Option<String>,
    /// The pickup point: name, position, address, phone (what a label needs); null only for
    /// a point this instance does not know yet.
    pub pickup_point: Option<PointContact>,
}

/// Reserves a slot at a pickup point for an order (idempotent on `order_ref`).
///
/// With `customer_email` (and `customer_language`), pudo e-mails the customer when the parcel
/// arrives, a day before its hold ends and when it is moved, if the merchant has customer
/// e-mails on. 400 naming `customer_email` or `customer_language` when one is not accepted.
///
/// With `cash_on_delivery`, `id_check` (and `recipient_name`) or `collector_name`, the
/// partner app shows the conditions at the counter and the handover needs the partner's
/// confirmation; the answer and the webhook events carry them. 400 naming the field
/// (`cash_on_delivery.amount_minor`, `cash_on_delivery.currency`, `id_check`,
/// `recipient_name`, `collector_name`) when one is not accepted.
///
/// 201 when created, 200 when `order_ref` already had this reservation. 409 with `reason`
/// `full`, `paused`, `closed`, `no_pickup_service` or `closed_for_period` (at `arrive_at`)
/// when the point cannot take it, `order_ref_in_use` when the order already has a
/// reservation elsewhere. With `parcel` or `weight_kg`: `does_not_fit` with the `limit`
/// exceeded (`max_weight`, `max_dimensions`, `size_class`), or `full` with the `size_class`
/// needed.
#[utoipa::path(
    tag = "merchant",
    context_path = "/v1",
    request_body = ReservationRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = Reservation),
        (status = 200, description = "The same order_ref was reserved before", body = Reservation),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/reservations")]
pub async fn reserve(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<ReservationRequest>,
) -> Result<HttpResponse, ApiError> {
    let merchant = auth.require(&[Role::Merchant, Role::Admin])?.sub.clone();
    let body = body.into_inner();
    let arrive_at = body
        .arrive_at
        .as_deref()
        .map(super::params::instant)
        .transpose()
        .map_err(|m| ApiError::bad_parameter("arrive_at", format!("arrive_at: {m}")))?;
    let customer = pickup::Customer::parse(
        body.customer_email.as_deref(),
        body.customer_language.map(CustomerLanguage::code),
    )?;
    let size = crate::network::sizes::ParcelSize {
        dims_mm: body
            .parcel
            .as_deref()
            .map(crate::network::sizes::parse_dims_cm)
            .transpose()
            .map_err(|m| ApiError::bad_parameter("parcel", format!("parcel: {m}")))?,
        weight_g: body
            .weight_kg
            .map(crate::network::sizes::weight_g_of_kg)
            .transpose()
            .map_err(|m| ApiError::bad_parameter("weight_kg", format!("weight_kg: {m}")))?,
    };
    let shop_id = body.pickup_point_id;
    let (parcel, created, live) = state
        .writes
        .reserve(pickup::ReservationRequest {
            merchant,
            shop_id,
            order_ref: body.order_ref,
            sku: body.sku,
            arrive_at,
            customer,
            size,
            conditions: pickup::Conditions {
                cash_on_delivery: body.cash_on_delivery,
                id_check: body.id_check,
                recipient_name: body.recipient_name,
                collector_name: body.collector_name,
            },
        })
        .await
        .map_err(ApiError::from)
        .inspect_err(|e| state.metrics.reservation_refused(e))?;
    if created {
        let class = parcel
            .size_class
            .unwrap_or(crate::network::sizes::SizeClass::L);
        state.network.note_taken(shop_id, live, class);
        state.metrics.reservations.inc();
    }
    let body = Reservation {
        pickup_point: contact(&state, parcel.pickup_point_id),
        parcel,
        pickup_code: None,
        pickup_code_qr_svg: None,
    };
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// A reservation; the first read after arrival carries the pickup code and its QR code.
#[utoipa::path(
    tag = "merchant",
    context_path = "/v1",
    params(("id" = i64, Path, description = "reservation id", example = 1)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Reservation),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reservations/{id}")]
pub async fn read(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
) -> Result<web::Json<Reservation>, ApiError> {
    let merchant = auth.require(&[Role::Merchant, Role::Admin])?.sub.clone();
    let id = id.into_inner();
    let keys = state.keys.clone();
    let (parcel, code) = with_conn(&state, move |conn| {
        Ok(pickup::read_reservation(
            conn,
            keys.data_key(),
            &merchant,
            id,
        )?)
    })
    .await?;
    let qr = code.as_deref().map(codes::qr_svg);
    Ok(web::Json(Reservation {
        pickup_point: contact(&state, parcel.pickup_point_id),
        parcel,
        pickup_code: code,
        pickup_code_qr_svg: qr,
    }))
}

/// The point as the index holds it, rendered into the answer (not stored with the parcel).
fn contact(state: &AppState, shop_id: i64) -> Option<PointContact> {
    state.network.index().get(shop_id).map(PointContact::of)
}

/// Cancels a reservation whose parcel has not reached the shop; frees the slot.
#[utoipa::path(
    tag = "merchant",
    context_path = "/v1",
    params(("id" = i64, Path, description = "reservation id", example = 2)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Parcel),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/reservations/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    auth: Bearer,
    id: web::Path<i64>,
) -> Result<web::Json<Parcel>, ApiError> {
    let merchant = auth.require(&[Role::Merchant, Role::Admin])?.sub.clone();
    let id = id.into_inner();
    let parcel = with_conn(&state, move |conn| {
        Ok(pickup::cancel(conn, &merchant, id, Utc::now().naive_utc())?)
    })
    .await?;
    Ok(web::Json(parcel))
}

/// A webhook endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// `http://` or `https://` URL that receives the events.
    #[schema(
        max_length = 2000,
        pattern = r"^https?://[A-Za-z0-9.-]+(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?(/[A-Za-z0-9._~/%-]*)?(\?[A-Za-z0-9._~/%=&+-]*)?$"
    )]
    pub url: String,
}

/// The configured webhook and its signing secret (shown only in this answer).
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    /// The URL.
    pub url: String,
    /// Secret for `Pudo-Signature` (HMAC-SHA256 of `"<t>.<body>"`); a new one each time.
    pub secret: String,
}

/// Sets the merchant's webhook URL and issues a new signing secret.
#[utoipa::path(
    tag = "merchant",
    context_path = "/v1",
    request_body = WebhookRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = Webhook),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/merchant/webhook")]
pub async fn set_webhook(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<WebhookRequest>,
) -> Result<web::Json<Webhook>, ApiError> {
    let merchant = auth.require(&[Role::Merchant])?.sub.clone();
    let url = body.into_inner().url;
    if !webhook_url_is_valid(&url) || url.parse::<ureq::http::Uri>().is_err() {
        return Err(ApiError::bad_parameter(
            "url",
            "url must be an http:// or https:// URL of at most 2000 characters: host, \
             optional port, path and query of letters, digits and ._~/%-=&+",
        ));
    }
    let keys = state.keys.clone();
    let stored = url.clone();
    let secret = with_conn(&state, move |conn| {
        Ok(outbox::set_webhook(
            conn,
            keys.data_key(),
            &merchant,
            &stored,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    Ok(web::Json(Webhook { url, secret }))
}

/// What pudo tells the merchant's customers itself.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// Whether pudo e-mails customers whose reservation carries `customer_email` (off until
    /// turned on). Turning it off stops every mail not yet sent.
    pub customer_emails: bool,
}

/// The merchant's customer notification settings.
#[utoipa::path(
    tag = "merchant",
    context_path = "/v1",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Notifications),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/merchant/notifications")]
pub async fn notifications(
    state: web::Data<AppState>,
    auth: Bearer,
) -> Result<web::Json<Notifications>, ApiError> {
    let merchant = auth.require(&[Role::Merchant])?.sub.clone();
    let on = with_conn(&state, move |conn| {
        Ok(outbox::customer_emails(conn, &merchant)?)
    })
    .await?;
    Ok(web::Json(Notifications {
        customer_emails: on,
    }))
}

/// Turns pudo's e-mails to the merchant's customers on or off (docs/merchants.md, "Customer
/// e-mails"); webhooks are unchanged either way.
#[utoipa::path(
    tag = "merchant",
    context_path = "/v1",
    request_body = Notifications,
    security(("bearer" = [])),
    responses(
        (status = 200, body = Notifications),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/merchant/notifications")]
pub async fn set_notifications(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<Notifications>,
) -> Result<web::Json<Notifications>, ApiError> {
    let merchant = auth.require(&[Role::Merchant])?.sub.clone();
    let on = body.into_inner().customer_emails;
    with_conn(&state, move |conn| {
        Ok(outbox::set_customer_emails(
            conn,
            &merchant,
            on,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    Ok(web::Json(Notifications {
        customer_emails: on,
    }))
}

/// The webhook URLs accepted: exactly the `pattern` of [`WebhookRequest::url`] (plain
/// `http(s)://host[:port][/path][?query]`, no user info, fragment or spaces), at most 2000
/// characters.
fn webhook_url_is_valid(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let path_chars = |c: char| c.is_ascii_alphanumeric() || "._~/%-".contains(c);
    let query_chars = |c: char| path_chars(c) || "=&+".contains(c);
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
    let port_ok = !authority.contains(':')
        || (!port.starts_with('0')
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p > 0));
    url.chars().count() <= 2000
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && port_ok
        && path.chars().all(path_chars)
        && query.chars().all(query_chars)
}

#[cfg(test)]
mod tests {
    use super::webhook_url_is_valid as ok;

    #[test]
    fn webhook_urls_follow_the_documented_pattern() {
        for good in [
            "http://127.0.0.1:8080/hooks",
            "https://shop.example/pudo?token=a1&x=y+z",
            "https://a",
            "http://a:65535/",
        ] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "ftp://example.invalid/x",
            "http://",
            "http://a:0/",
            "http://a:65536/",
            "http://a:/",
            "http://user@a/",
            "http://a/ b",
            "http://a/#frag",
            " http://a/",
            "http://a/\u{7}",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }
}
