//! Blocking HTTP calls with their answers, for talking to real `pudo serve` processes.

use serde_json::Value;
use std::time::Duration;

/// An agent with room for many idle connections, answering 4xx/5xx as values, not errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_idle_connections(256)
        .max_idle_connections_per_host(64)
        .build()
        .into()
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// The body as JSON (`Null` when not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

/// Reads an answer; `Err` is a transport failure (refused, reset, timed out): the outcome of
/// the request is unknown.
pub fn reply(res: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Reply, String> {
    let mut res = res.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().map_err(|e| e.to_string())?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply { status, body, text })
}

/// POSTs JSON with a bearer token.
pub fn post(agent: &ureq::Agent, url: &str, token: &str, body: &Value) -> Result<Reply, String> {
    reply(
        agent
            .post(url)
            .header("authorization", &format!("Bearer {token}"))
            .send_json(body),
    )
}

/// GETs with a bearer token.
pub fn get(agent: &ureq::Agent, url: &str, token: &str) -> Result<Reply, String> {
    reply(
        agent
            .get(url)
            .header("authorization", &format!("Bearer {token}"))
            .call(),
    )
}
