//! What the OpenAPI document says of every route without each annotation repeating it, and
//! what the route table derives from the document (the methods a path allows).
//!
//! The conventions (docs/contract.md): a route annotates its success answers and the problems
//! particular to it (404, 409, 410, 422, 429, with their meaning); [`CommonProblems`] adds the
//! problems every route of its kind can answer — 400 for a route with parameters or a body,
//! 401/403 for a route with a bearer token, 413 for a body, 503 for a route that reads the
//! database — as `application/problem+json` with the `Problem` schema.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{Content, OpenApi, Ref, Response};

/// Declares the bearer-token security scheme used by the protected routes.
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Adds the problem answers common to every route of a kind (see the module doc); a status a
/// route annotates itself keeps its own description.
pub struct CommonProblems;

/// A problem answer: `application/problem+json` with the `Problem` schema.
pub fn problem(description: &str) -> Response {
    let mut response = Response::new(description);
    response.content.insert(
        "application/problem+json".into(),
        Content::new(Some(Ref::from_schema_name("Problem"))),
    );
    response
}

impl utoipa::Modify for CommonProblems {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let uses_database = path.starts_with("/v1/") || path == "/readyz";
            for (_, op) in operations_mut(item) {
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let has_body = op.request_body.is_some();
                let has_token = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |status: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(description).into());
                };
                if has_params || has_body {
                    add(
                        "400",
                        "A parameter or body field is missing or invalid; `parameter` names it",
                    );
                }
                if has_token {
                    add("401", "No bearer token, or not a valid one");
                    add("403", "The token's role (or shop) may not do this");
                }
                if has_body {
                    add("413", "The body is larger than allowed");
                }
                if uses_database {
                    add(
                        "503",
                        "The database is unreachable; try again (Retry-After)",
                    );
                }
            }
        }
    }
}

/// The operations of a path with their HTTP method names.
fn operations_mut(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("GET", &mut item.get),
        ("PUT", &mut item.put),
        ("POST", &mut item.post),
        ("DELETE", &mut item.delete),
        ("OPTIONS", &mut item.options),
        ("HEAD", &mut item.head),
        ("PATCH", &mut item.patch),
        ("TRACE", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(name, op)| op.as_mut().map(|op| (name, op)))
    .collect()
}

/// Each documented path as segments (`None` for a `{parameter}`), with its methods.
type PathTable = Vec<(Vec<Option<String>>, Vec<&'static str>)>;

static PATHS: std::sync::LazyLock<PathTable> = std::sync::LazyLock::new(|| {
    use utoipa::OpenApi as _;
    let mut doc = super::ApiDoc::openapi();
    doc.paths
        .paths
        .iter_mut()
        .map(|(path, item)| {
            let segments = path
                .split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                .collect();
            let methods = operations_mut(item).into_iter().map(|(m, _)| m).collect();
            (segments, methods)
        })
        .collect()
});

/// The methods the document lists for the path of a request, or `None` when no documented
/// path matches it (a literal segment wins over a `{parameter}` only by being listed too).
pub fn allowed_methods(path: &str) -> Option<Vec<&'static str>> {
    let asked: Vec<&str> = path.split('/').collect();
    let mut found: Option<Vec<&'static str>> = None;
    for (segments, methods) in PATHS.iter() {
        let matches = segments.len() == asked.len()
            && segments.iter().zip(&asked).all(|(s, a)| match s {
                Some(literal) => literal == a,
                None => !a.is_empty(),
            });
        if matches {
            let all = found.get_or_insert_with(Vec::new);
            for method in methods {
                if !all.contains(method) {
                    all.push(method);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_paths_know_their_methods() {
        assert_eq!(allowed_methods("/v1/pickup-points"), Some(vec!["GET"]));
        assert_eq!(allowed_methods("/v1/pickup-points/12"), Some(vec!["GET"]));
        assert_eq!(
            allowed_methods("/v1/partner/shop").map(|mut m| {
                m.sort_unstable();
                m
            }),
            Some(vec!["GET", "PATCH"])
        );
        assert_eq!(allowed_methods("/v1/pickup-points/"), None);
        assert_eq!(allowed_methods("/v1/nothing"), None);
    }
}
