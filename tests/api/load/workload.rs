//! The mixed order load: each client runs orders one after another, and each request goes to
//! the next instance in turn (round robin over all requests), so every step of one order may
//! be answered by a different instance.
//!
//! One order: reserve (a full shop answers 409 and ends it; 1 in 5 are sent twice, the
//! second answer must be the same reservation), then 1 in 8 are cancelled; 1 in 8 of the
//! others move to another shop; arrival; the merchant reads the code; each client's first two
//! orders, then 1 in 10, first send a wrong code to a decoy shop that holds no parcel (404,
//! then 429 once throttled); the handover; 1 in 4 handovers are confirmed twice (the second a replay). Every request and
//! answer is recorded for [`super::invariants`].

use super::http::{agent, get, post, Reply};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A shop the load sends orders to, with its partner's token.
#[derive(Debug, Clone)]
pub struct Shop {
    /// pudo's id.
    pub id: i64,
    /// A partner token bound to this shop.
    pub partner: String,
}

/// What the load works with.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The merchant's token.
    pub merchant: String,
    /// The shops orders go to.
    pub shops: Vec<Shop>,
    /// A shop without parcels that receives the wrong codes (none: no wrong codes).
    pub decoy: Option<Shop>,
}

/// When each client stops.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// After this many orders.
    Orders(usize),
    /// Once this much time has passed (the order under way is finished).
    Elapsed(Duration),
}

/// A reservation request and its answer.
#[derive(Debug, Clone)]
pub struct Reserved {
    /// The order reference sent.
    pub order_ref: String,
    /// The shop asked for.
    pub shop: i64,
    /// The status answered.
    pub status: u16,
    /// The reservation answered (201 or 200).
    pub id: Option<i64>,
    /// Whether this was the repeat of an order already answered.
    pub repeat: bool,
}

/// A handover request and its answer.
#[derive(Debug, Clone)]
pub struct Handed {
    /// The parcel whose code was sent.
    pub id: i64,
    /// The status answered.
    pub status: u16,
    /// `replay` in a 200 answer.
    pub replay: Option<bool>,
}

/// Everything the load sent and what it was answered.
#[derive(Debug, Default)]
pub struct Tally {
    /// Reservation requests.
    pub reservations: Vec<Reserved>,
    /// Cancellations: reservation id, status.
    pub cancels: Vec<(i64, u16)>,
    /// Moves: reservation id, shop asked for, status.
    pub moves: Vec<(i64, i64, u16)>,
    /// Arrivals: parcel id, status.
    pub arrivals: Vec<(i64, u16)>,
    /// Handovers with the right code.
    pub handovers: Vec<Handed>,
    /// Statuses answered to wrong codes at the decoy shop.
    pub wrong_codes: Vec<u16>,
    /// Answers the API does not promise, and transport failures.
    pub unexpected: Vec<String>,
    /// Requests sent.
    pub requests: usize,
    /// Wall time of the whole load.
    pub elapsed: Duration,
}

impl Tally {
    /// Reservations answered 201 (new) plus first handovers answered 200: the work done.
    pub fn orders_done(&self) -> usize {
        self.reservations
            .iter()
            .filter(|r| !r.repeat && r.status == 201)
            .count()
            + self
                .handovers
                .iter()
                .filter(|h| h.status == 200 && h.replay == Some(false))
                .count()
    }

    fn absorb(&mut self, other: Tally) {
        self.reservations.extend(other.reservations);
        self.cancels.extend(other.cancels);
        self.moves.extend(other.moves);
        self.arrivals.extend(other.arrivals);
        self.handovers.extend(other.handovers);
        self.wrong_codes.extend(other.wrong_codes);
        self.unexpected.extend(other.unexpected);
        self.requests += other.requests;
    }
}

/// Runs `clients` clients against `bases` (the instances' base URLs) until `until`; order
/// references start with `prefix`, so runs on one database never collide.
pub fn run(
    bases: &[String],
    fixture: &Fixture,
    clients: usize,
    until: Until,
    prefix: &str,
) -> Tally {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let mut tally = Tally::default();
    let parts: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let next = &next;
                s.spawn(move || {
                    let mut client = Client {
                        agent: agent(),
                        rng: ChaCha8Rng::seed_from_u64(c as u64),
                        bases,
                        next,
                        fixture,
                        tally: Tally::default(),
                    };
                    let mut n = 0;
                    while match until {
                        Until::Orders(k) => n < k,
                        Until::Elapsed(d) => started.elapsed() < d,
                    } {
                        client.order(&format!("{prefix}-{c}-{n}"));
                        n += 1;
                    }
                    client.tally
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a load client panicked"))
            .collect()
    });
    for part in parts {
        tally.absorb(part);
    }
    tally.elapsed = started.elapsed();
    tally
}

/// GET searches around the shops' positions, round robin over the instances, for `duration`;
/// returns the searches answered 200 and the unexpected answers.
pub fn search(
    bases: &[String],
    points: &[(f64, f64)],
    clients: usize,
    duration: Duration,
) -> (usize, Vec<String>, Duration) {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let parts: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let next = &next;
                s.spawn(move || {
                    let agent = agent();
                    let mut rng = ChaCha8Rng::seed_from_u64(1000 + c as u64);
                    let (mut ok, mut bad) = (0, Vec::new());
                    while started.elapsed() < duration {
                        let (lat, lon) = points[rng.random_range(0..points.len())];
                        let (lat, lon) = (
                            lat + rng.random_range(-0.01..0.01),
                            lon + rng.random_range(-0.01..0.01),
                        );
                        let base = &bases[next.fetch_add(1, Ordering::Relaxed) % bases.len()];
                        let url =
                            format!("{base}/v1/pickup-points?lat={lat:.5}&lon={lon:.5}&limit=10");
                        match agent.get(&url).call() {
                            Ok(r) if r.status() == 200 => {
                                let _ = r.into_body().read_to_vec();
                                ok += 1;
                            }
                            Ok(r) => bad.push(format!("search {url}: {}", r.status())),
                            Err(e) => bad.push(format!("search {url}: {e}")),
                        }
                    }
                    (ok, bad)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a search client panicked"))
            .collect()
    });
    let elapsed = started.elapsed();
    let mut ok = 0;
    let mut bad = Vec::new();
    for (o, b) in parts {
        ok += o;
        bad.extend(b);
    }
    (ok, bad, elapsed)
}

struct Client<'a> {
    agent: ureq::Agent,
    rng: ChaCha8Rng,
    bases: &'a [String],
    next: &'a AtomicUsize,
    fixture: &'a Fixture,
    tally: Tally,
}

impl Client<'_> {
    fn url(&self, path: &str) -> String {
        let base = &self.bases[self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len()];
        format!("{base}{path}")
    }

    /// Sends one request; a transport failure is recorded and yields `None`.
    fn send(&mut self, what: &str, reply: Result<Reply, String>) -> Option<Reply> {
        self.tally.requests += 1;
        match reply {
            Ok(r) => Some(r),
            Err(e) => {
                self.tally.unexpected.push(format!("{what}: {e}"));
                None
            }
        }
    }

    fn unexpected(&mut self, what: &str, r: &Reply) {
        self.tally
            .unexpected
            .push(format!("{what}: {} {}", r.status, r.text));
    }

    fn reserve(&mut self, order_ref: &str, shop: i64, repeat: bool) -> Option<Reply> {
        let url = self.url("/v1/reservations");
        let body = json!({"pickup_point_id": shop, "order_ref": order_ref});
        let r = post(&self.agent, &url, &self.fixture.merchant, &body);
        let r = self.send(&format!("reserve {order_ref}"), r)?;
        self.tally.reservations.push(Reserved {
            order_ref: order_ref.to_owned(),
            shop,
            status: r.status,
            id: r.body["id"].as_i64().filter(|_| r.status < 300),
            repeat,
        });
        Some(r)
    }

    fn order(&mut self, order_ref: &str) {
        let shops = &self.fixture.shops;
        let mut at = shops[self.rng.random_range(0..shops.len())].clone();
        let Some(r) = self.reserve(order_ref, at.id, false) else {
            return;
        };
        let id = match (r.status, r.body["id"].as_i64()) {
            (201, Some(id)) => id,
            (409, _) if r.body["reason"] == "full" => return,
            _ => return self.unexpected(&format!("reserve {order_ref}"), &r),
        };
        if self.rng.random_ratio(1, 5) {
            let Some(again) = self.reserve(order_ref, at.id, true) else {
                return;
            };
            if again.status != 200 || again.body["id"].as_i64() != Some(id) {
                self.unexpected(&format!("repeated reserve {order_ref} (id {id})"), &again);
            }
        }
        let merchant = self.fixture.merchant.clone();
        if self.rng.random_ratio(1, 8) {
            let url = self.url(&format!("/v1/reservations/{id}/cancel"));
            let r = post(&self.agent, &url, &merchant, &json!({}));
            if let Some(r) = self.send(&format!("cancel {id}"), r) {
                self.tally.cancels.push((id, r.status));
                if r.status != 200 {
                    self.unexpected(&format!("cancel {id}"), &r);
                }
            }
            return;
        }
        if shops.len() > 1 && self.rng.random_ratio(1, 8) {
            let others: Vec<&Shop> = shops.iter().filter(|s| s.id != at.id).collect();
            let to = others[self.rng.random_range(0..others.len())].clone();
            let url = self.url(&format!("/v1/reservations/{id}/move"));
            let r = post(
                &self.agent,
                &url,
                &merchant,
                &json!({"pickup_point_id": to.id}),
            );
            let Some(r) = self.send(&format!("move {id}"), r) else {
                return;
            };
            self.tally.moves.push((id, to.id, r.status));
            match r.status {
                200 => at = to,
                409 if r.body["reason"] == "full" => {}
                _ => return self.unexpected(&format!("move {id} to {}", to.id), &r),
            }
        }
        let url = self.url(&format!("/v1/partner/parcels/{id}/arrival"));
        let r = post(&self.agent, &url, &at.partner, &json!({}));
        let Some(r) = self.send(&format!("arrival {id}"), r) else {
            return;
        };
        self.tally.arrivals.push((id, r.status));
        if r.status != 200 {
            return self.unexpected(&format!("arrival {id}"), &r);
        }
        let url = self.url(&format!("/v1/reservations/{id}"));
        let r = get(&self.agent, &url, &merchant);
        let Some(r) = self.send(&format!("read {id}"), r) else {
            return;
        };
        let Some(code) = r.body["pickup_code"].as_str().map(str::to_owned) else {
            return self.unexpected(&format!("read {id} (no code)"), &r);
        };
        if let Some(decoy) = self.fixture.decoy.clone() {
            // Each client's first two handovers always guess at the decoy, so that the load
            // reaches the shop's wrong-code bound (5) however the orders fall; then 1 in 10.
            if self.tally.wrong_codes.len() < 2 || self.rng.random_ratio(1, 10) {
                let wrong = format!("{:08}", self.rng.random_range(0..100_000_000u32));
                let url = self.url("/v1/partner/handovers");
                let r = post(&self.agent, &url, &decoy.partner, &json!({"code": wrong}));
                if let Some(r) = self.send("wrong code", r) {
                    self.tally.wrong_codes.push(r.status);
                    if r.status != 404 && r.status != 429 {
                        self.unexpected("wrong code", &r);
                    }
                }
            }
        }
        let confirmations = if self.rng.random_ratio(1, 4) { 2 } else { 1 };
        for k in 0..confirmations {
            let url = self.url("/v1/partner/handovers");
            let r = post(&self.agent, &url, &at.partner, &json!({"code": code}));
            let Some(r) = self.send(&format!("handover {id}"), r) else {
                return;
            };
            let replay = r.body["replay"].as_bool().filter(|_| r.status == 200);
            self.tally.handovers.push(Handed {
                id,
                status: r.status,
                replay,
            });
            let expected = Some(k == 1);
            if r.status != 200 || replay != expected || r.body["parcel_id"].as_i64() != Some(id) {
                return self.unexpected(&format!("handover {id} #{k}"), &r);
            }
        }
    }
}
