//! Query-string parsing that names the parameter at fault.

use crate::error::ApiError;
use std::collections::HashMap;

/// The parameters of one request, each allowed once (a parameter documented as an array may be
/// repeated, its values joined with `,`) and checked against the parameters its route
/// documents.
pub struct QueryParams {
    values: HashMap<String, String>,
    allowed: Vec<String>,
}

impl QueryParams {
    /// Reads pairs from the query string, accepting exactly the parameters that `P` documents
    /// in the OpenAPI document (so the documented and the accepted parameters cannot drift),
    /// each once; unknown and repeated parameters are refused by name. A parameter documented
    /// as an array (`capability=a&capability=b`) may repeat: its values are joined with `,`,
    /// so `capability=a,b` reads the same.
    pub fn of<P: utoipa::IntoParams>(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        use utoipa::openapi::{RefOr, Schema};
        let params = P::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query));
        let lists: Vec<&str> = params
            .iter()
            .filter(|p| matches!(p.schema, Some(RefOr::T(Schema::Array(_)))))
            .map(|p| p.name.as_str())
            .collect();
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        let values = Self::read(pairs, &names, &lists)?;
        let allowed = params.iter().map(|p| p.name.clone()).collect();
        Ok(Self { values, allowed })
    }

    fn read(
        pairs: Vec<(String, String)>,
        allowed: &[&str],
        lists: &[&str],
    ) -> Result<HashMap<String, String>, ApiError> {
        let mut values = HashMap::new();
        for (name, value) in pairs {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_parameter(
                    &name,
                    format!(
                        "unknown parameter {name:?} (allowed: {})",
                        allowed.join(", ")
                    ),
                ));
            }
            if value.contains('\0') {
                return Err(ApiError::bad_parameter(
                    &name,
                    format!("{name} contains a NUL character (U+0000)"),
                ));
            }
            if lists.contains(&name.as_str()) {
                if let Some(earlier) = values.get_mut(&name) {
                    // An empty item is refused by the parameter's own parser, which sees ",,".
                    let joined: &mut String = earlier;
                    joined.push(',');
                    joined.push_str(&value);
                    continue;
                }
            }
            if values.insert(name.clone(), value).is_some() {
                return Err(ApiError::bad_parameter(
                    &name,
                    format!("parameter {name:?} is given more than once"),
                ));
            }
        }
        Ok(values)
    }

    /// A parameter parsed with `parse`, or `None` when absent.
    pub fn optional<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        // A handler reading a parameter its route does not document is a bug: it could never
        // be given.
        debug_assert!(
            self.allowed.iter().any(|a| a == name),
            "parameter {name:?} is read but not documented"
        );
        match self.values.get(name).map(|v| v.trim()) {
            None => Ok(None),
            Some("") => Err(ApiError::bad_parameter(name, format!("{name} is empty"))),
            Some(v) => parse(v)
                .map(Some)
                .map_err(|m| ApiError::bad_parameter(name, format!("{name}: {m}"))),
        }
    }

    /// A parameter that must be present.
    pub fn required<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ApiError> {
        self.optional(name, parse)?
            .ok_or_else(|| ApiError::bad_parameter(name, format!("{name} is required")))
    }
}

/// A finite number within `min..=max`.
pub fn number_in(min: f64, max: f64) -> impl Fn(&str) -> Result<f64, String> {
    move |v| match v.parse::<f64>() {
        Ok(x) if x.is_finite() && (min..=max).contains(&x) => Ok(x),
        Ok(_) => Err(format!("{v} is out of range ({min} to {max})")),
        Err(_) => Err(format!("{v:?} is not a number")),
    }
}

/// A whole number within `min..=max`.
pub fn integer_in(min: i64, max: i64) -> impl Fn(&str) -> Result<i64, String> {
    move |v| match v.parse::<i64>() {
        Ok(x) if (min..=max).contains(&x) => Ok(x),
        Ok(_) => Err(format!("{v} is out of range ({min} to {max})")),
        Err(_) => Err(format!("{v:?} is not a whole number")),
    }
}

/// An RFC 3339 instant, e.g. `2026-11-11T09:30:00+08:00`.
pub fn instant(v: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            format!("{v:?} is not an RFC 3339 time such as 2026-11-11T09:30:00+08:00 ({e})")
        })
}
