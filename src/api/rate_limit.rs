//! The per-IP rate limit of `POST /v1/auth/token`, and which address a request comes from.
//!
//! A GCRA limiter (`governor`) keyed by client IP, in this instance's memory: behind a load
//! balancer with N instances a client gets at most N times the rate, which still bounds API-key
//! guessing and database load. The client IP is the TCP peer; `X-Forwarded-For` is believed
//! only when the peer is one of `PUDO_TRUSTED_PROXIES`, and then read from the right, skipping
//! trusted hops, so a client cannot choose its own key by sending the header.

use crate::error::ApiError;
use actix_web::HttpRequest;
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Keys kept before the limiter forgets clients whose allowance is full again.
const FORGET_PAST_KEYS: usize = 10_000;

/// A per-client-IP limit on one route.
pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    trusted: Vec<IpNet>,
    checks: AtomicU64,
}

impl RateLimit {
    /// `per_minute` requests a minute per client IP, up to `burst` at once; `trusted` proxies
    /// may name the client in `X-Forwarded-For`. Zero rates are raised to 1.
    pub fn new(per_minute: u32, burst: u32, trusted: Vec<IpNet>) -> Self {
        let one = NonZeroU32::MIN;
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(one))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(one));
        Self {
            limiter: RateLimiter::dashmap(quota),
            trusted,
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request; a 429 with the seconds to wait when its client is over the limit.
    pub fn check(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let ip = self.client_ip(req);
        let verdict = self.limiter.check_key(&ip);
        // Keep memory bounded under many distinct clients: drop the ones back at full allowance.
        if self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(1024)
            && self.limiter.len() > FORGET_PAST_KEYS
        {
            self.limiter.retain_recent();
        }
        verdict.map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::TooManyRequests {
                retry_after_secs: secs.max(1) as i64,
                detail: format!(
                    "too many token requests from this address; try again in {} s \
                     (PUDO_TOKEN_RATE_PER_MIN)",
                    secs.max(1)
                ),
            }
        })
    }

    /// The client's address: the peer, or the nearest untrusted address in `X-Forwarded-For`
    /// when the peer is a trusted proxy. Unknown peers (not TCP) share one key.
    pub fn client_ip(&self, req: &HttpRequest) -> IpAddr {
        let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
            return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        };
        if !self.is_trusted(peer) {
            return peer;
        }
        let hops: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                // A garbled entry: nothing left of it can be believed.
                return client;
            };
            if !self.is_trusted(ip) {
                return ip;
            }
            client = ip;
        }
        client
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|net| net.contains(&ip))
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port or in brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| canonical(s.ip()))
}

/// Parses `PUDO_TRUSTED_PROXIES`: addresses or CIDR ranges separated by commas.
pub fn parse_trusted_proxies(value: &str) -> Result<Vec<IpNet>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{entry:?} is not an IP address or CIDR range"))
        })
        .collect()
}

#[cfg(test)]
#[path = "rate_limit_tests.rs"]
mod tests;
