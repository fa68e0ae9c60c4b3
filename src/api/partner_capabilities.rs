//! The partner's own declaration to customers: its shop's capabilities and photo, replaced
//! whole (`PUT /v1/partner/shop/capabilities`). Until this route a changed shop (a new ramp,
//! parking lost, no more cash) waited for its network's operator to re-import the shop file.

use super::auth::Bearer;
use super::body::Body;
use super::{with_conn, AppState};
use crate::error::{ApiError, Problem};
use crate::network::capabilities::{self, Capabilities, Profile};
use crate::network::profile_store;
use crate::pickup::partner_shop::{self, PartnerShop};
use actix_web::{put, web};
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

/// What a photo URL must look like, for the OpenAPI document: the rules of
/// [`capabilities::photo_url`] as a pattern (`https://`, a host name, an optional port, then
/// printable ASCII without spaces, quotes, `<`, `>`, `\`, `` ` ``, `{`, `}`, `|` or `^`).
/// A unit test holds the two together.
pub const PHOTO_URL_PATTERN: &str =
    r"^[Hh][Tt][Tt][Pp][Ss]://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]*)?([/?#][!#-&(-;=?-\[\]_a-z~]*)?$";

/// A partner's declaration: the whole new set (`[]` declares none) and the photo.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesRequest {
    /// What the shop declares; `open_24_7` is not declared (it follows from the opening
    /// hours), and no name twice.
    #[schema(value_type = std::collections::BTreeSet<DeclaredCapability>, max_items = 4, example = json!(["step_free", "parking"]))]
    pub capabilities: Vec<String>,
    /// An https URL of a photo of the shop front or counter; null or absent: no photo.
    #[serde(default)]
    #[schema(
        max_length = 500,
        pattern = r"^[Hh][Tt][Tt][Pp][Ss]://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]*)?([/?#][!#-&(-;=?-\[\]_a-z~]*)?$",
        example = "https://img.example.com/shops/sol.jpg"
    )]
    pub photo_url: Option<String>,
}

/// The capabilities a partner may declare (documentation only: the names are checked one by
/// one by `Capabilities::from_names`, so that `open_24_7` gets its own explanation).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(
    dead_code,
    reason = "describes the body for OpenAPI; parsed by Capabilities::from_names"
)]
enum DeclaredCapability {
    StepFree,
    Parking,
    CashOnDelivery,
    IdCheck,
}

/// Replaces what the shop declares to customers: its capabilities and its photo. Search
/// (`capability=`), the point's page and the widget show them at once on this instance and
/// within `PUDO_INDEX_REFRESH_MS` on every other. A later shop-file import sets them again
/// from the file (the operator's file is the network's record).
#[utoipa::path(tag = "partner", context_path = "/v1", request_body = CapabilitiesRequest, security(("bearer" = [])), responses(
    (status = 200, body = PartnerShop),
    (status = 400, description = "A capability or the photo URL is invalid; `parameter` names it, e.g. `capabilities[0]` or `photo_url`", body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[put("/partner/shop/capabilities")]
pub async fn put_capabilities(
    state: web::Data<AppState>,
    auth: Bearer,
    body: Body<CapabilitiesRequest>,
) -> Result<web::Json<PartnerShop>, ApiError> {
    let shop_id = auth.0.partner_shop()?;
    let profile = checked(body.into_inner())?;
    let shop = with_conn(&state, move |conn| {
        if !profile_store::replace(conn, shop_id, &profile, Utc::now().naive_utc())? {
            return Err(ApiError::NotFound(format!("no shop with id {shop_id}")));
        }
        Ok(partner_shop::view(conn, shop_id)?)
    })
    .await?;
    let network = state.network.clone();
    // Reflect the change in this instance's search at once; others follow within a second.
    super::blocking(move || Ok(network.refresh()?)).await?;
    Ok(web::Json(shop))
}

/// The declaration of a request, each part checked, naming the field at fault.
fn checked(body: CapabilitiesRequest) -> Result<Profile, ApiError> {
    let capabilities = Capabilities::from_names(&body.capabilities).map_err(|(i, m)| {
        let field = format!("capabilities[{i}]");
        ApiError::bad_parameter(field.clone(), format!("{field}: {m}"))
    })?;
    let photo_url = match body.photo_url {
        None => None,
        Some(url) => {
            let bad = |m: String| ApiError::bad_parameter("photo_url", format!("photo_url: {m}"));
            // The document's pattern allows no space at either end: neither does the API.
            if url.trim() != url {
                return Err(bad(format!("{url:?} has spaces at its ends")));
            }
            Some(capabilities::photo_url(&url).map_err(bad)?.into_boxed_str())
        }
    };
    Ok(Profile {
        capabilities,
        photo_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_pattern_says_what_photo_url_accepts() {
        let pattern = regex::Regex::new(PHOTO_URL_PATTERN).expect("pattern");
        for url in [
            "https://img.example.com/a.jpg",
            "HTTPS://img.example.com:8443/a.jpg?w=200#x",
            "https://xn--caf-dma.example/%C3%A9.png",
            "https://a",
            "https://a:",
            "https://a.example/x@y(1);!$&*+,=~_[]",
            "http://img.example.com/a.jpg",
            "javascript:alert(1)",
            "https://",
            "https:///a.jpg",
            "https://.a/",
            "https://-a/",
            "https://:80/",
            "https://user:pw@img.example.com/a.jpg",
            "https://img.example.com/a b.jpg",
            "https://img.example.com/\"onerror=x",
            "https://img.example.com/<script>",
            "https://img.example.com/{x}",
            "https://img.example.com/a|b^c`d\\e'f",
            "https://café.example/a.jpg",
            "https://a:8x/",
        ] {
            assert_eq!(
                pattern.is_match(url),
                capabilities::photo_url(url).is_ok(),
                "{url}"
            );
        }
    }

    #[test]
    fn the_document_carries_the_pattern() {
        let schema = serde_json::to_value(<CapabilitiesRequest as utoipa::PartialSchema>::schema())
            .expect("schema");
        assert_eq!(
            schema["properties"]["photo_url"]["pattern"],
            PHOTO_URL_PATTERN
        );
        // No name twice, as `Capabilities::from_names` refuses it.
        let capabilities = &schema["properties"]["capabilities"];
        assert_eq!(capabilities["uniqueItems"], true, "{capabilities}");
        assert_eq!(capabilities["maxItems"], 4, "{capabilities}");
        assert_eq!(schema["required"], serde_json::json!(["capabilities"]));
    }
}
