use super::*;
use actix_web::test::TestRequest;

fn from(peer: &str, forwarded: &[&str]) -> HttpRequest {
    let mut req = TestRequest::default().peer_addr(peer.parse().expect("socket address"));
    for value in forwarded {
        req = req.append_header(("x-forwarded-for", *value));
    }
    req.to_http_request()
}

fn limit(trusted: &str) -> RateLimit {
    RateLimit::new(30, 10, parse_trusted_proxies(trusted).expect("valid"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn forwarded_for_is_ignored_unless_the_peer_is_trusted() {
    let none = limit("");
    assert_eq!(
        none.client_ip(&from("203.0.113.9:5000", &["198.51.100.1"])),
        ip("203.0.113.9")
    );
    // A trusted list that does not hold the peer changes nothing.
    let other = limit("10.0.0.0/8");
    assert_eq!(
        other.client_ip(&from("203.0.113.9:5000", &["198.51.100.1"])),
        ip("203.0.113.9")
    );
}

#[test]
fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
    let lb = limit("10.0.0.0/8, 192.0.2.7");
    // The client can prepend anything; only the entry added by the trusted proxy counts.
    let req = from("10.1.2.3:443", &["6.6.6.6, 198.51.100.1"]);
    assert_eq!(lb.client_ip(&req), ip("198.51.100.1"));
    // Several trusted hops (one outside 10/8, named by address), headers split over lines.
    let req = from(
        "10.1.2.3:443",
        &["6.6.6.6", "198.51.100.1, 192.0.2.7, 10.9.9.9"],
    );
    assert_eq!(lb.client_ip(&req), ip("198.51.100.1"));
    // Ports and IPv6 forms.
    let req = from("10.1.2.3:443", &["[2001:db8::1]:1234"]);
    assert_eq!(lb.client_ip(&req), ip("2001:db8::1"));
    let req = from("[::ffff:10.1.2.3]:443", &["198.51.100.1:80"]);
    assert_eq!(lb.client_ip(&req), ip("198.51.100.1"));
    // No header, or a garbled entry: the last address that can be believed.
    assert_eq!(lb.client_ip(&from("10.1.2.3:443", &[])), ip("10.1.2.3"));
    let req = from("10.1.2.3:443", &["198.51.100.1, not-an-ip, 10.9.9.9"]);
    assert_eq!(lb.client_ip(&req), ip("10.9.9.9"));
}

#[test]
fn trusted_proxies_are_parsed_with_clear_errors() {
    assert_eq!(parse_trusted_proxies("").expect("empty").len(), 0);
    assert_eq!(
        parse_trusted_proxies(" 10.0.0.0/8 ,::1, 192.0.2.7 ")
            .expect("valid")
            .len(),
        3
    );
    let err = parse_trusted_proxies("10.0.0.0/8, proxy.local").expect_err("invalid");
    assert!(err.contains("\"proxy.local\""), "{err}");
    assert!(parse_trusted_proxies("10.0.0.0/33").is_err());
}

#[test]
fn each_address_has_its_own_allowance() {
    let limit = RateLimit::new(1, 2, Vec::new());
    let a = from("198.51.100.1:1000", &[]);
    let b = from("198.51.100.2:1000", &[]);
    assert!(limit.check(&a).is_ok());
    assert!(limit.check(&a).is_ok());
    match limit.check(&a) {
        Err(ApiError::TooManyRequests {
            retry_after_secs, ..
        }) => assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}"),
        other => panic!("expected 429, got {other:?}"),
    }
    assert!(limit.check(&b).is_ok());
}
