//! The mixed load of the fault test, from clients that behave as pudo asks them to while the
//! database fails over: a 503 (with `Retry-After`) or a lost connection is answered by sending
//! the same request again, which pudo's idempotent writes (`order_ref`, handover and drop-off
//! replays) make safe. Every attempt is recorded with its time and status, and every request's
//! final answer is kept for the invariant check ([`super::check`]).
//!
//! One order: a reservation (1 in 5 sent twice: the same reservation), 1 in 8 cancelled, else
//! its arrival, the merchant's one reading of the code, the handover (1 in 4 confirmed twice: a
//! replay). One order in four is a return instead: registration, the one reading of its drop-off
//! code, the drop-off at the counter (1 in 4 sent twice: a replay).

use crate::load::http::agent;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one request is retried before the client gives up on it (an unanswered request
/// fails the test).
const GIVE_UP: Duration = Duration::from_secs(90);
/// The longest pause between retries: `Retry-After` (5 s) is honoured up to this, so that the
/// load measures when writes succeed again to within a fraction of a second.
const MAX_PAUSE: Duration = Duration::from_millis(500);

/// What the load works with.
pub struct Fixture {
    /// The instances' base URLs; requests go round robin.
    pub bases: Vec<String>,
    /// The merchant's token.
    pub merchant: String,
    /// Shops `(id, partner token)`.
    pub shops: Vec<(i64, String)>,
}

/// One HTTP attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// When it was sent, from the start of the run.
    pub sent: Duration,
    /// How long until its answer (or its transport failure).
    pub took: Duration,
    /// A write (POST) or a read.
    pub write: bool,
    /// The status; `None` for a transport failure (refused, reset, timed out).
    pub status: Option<u16>,
    /// Whether a 503 carried `Retry-After`.
    pub retry_after: bool,
    /// The transport failure, if any.
    pub error: Option<String>,
}

/// A request's final answer, after any retries.
#[derive(Debug, Clone)]
pub struct Final {
    /// The status.
    pub status: u16,
    /// The JSON body (`Null` when not JSON).
    pub body: Value,
    /// Whether 503s or transport failures came first: the first attempts may have committed.
    pub retried: bool,
}

/// Every request of one order and its final answer.
#[derive(Debug, Default, Clone)]
pub struct Order {
    /// The order reference.
    pub order_ref: String,
    /// The shop asked for.
    pub shop: i64,
    /// A return (drop-off) rather than a parcel.
    pub is_return: bool,
    /// Reservation or return registration answers (the second is a deliberate repeat).
    pub created: Vec<Final>,
    /// The reservation's or return's id.
    pub id: Option<i64>,
    /// The cancellation's answer.
    pub cancel: Option<Final>,
    /// The arrival's answer.
    pub arrival: Option<Final>,
    /// Handover or drop-off answers, in order (the second is a deliberate replay).
    pub handed: Vec<Final>,
}

/// Everything the load sent.
#[derive(Debug, Default)]
pub struct Tally {
    /// Every order.
    pub orders: Vec<Order>,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// Answers the API does not promise, and requests never answered.
    pub unexpected: Vec<String>,
}

/// Runs `clients` clients until `stop`; `last_write_ok` holds the run time (ms) at which the
/// latest write later answered 2xx was sent, for the driver of the faults.
pub fn run(
    fixture: &Fixture,
    clients: usize,
    prefix: &str,
    started: Instant,
    stop: &AtomicBool,
    last_write_ok: &AtomicUsize,
) -> Tally {
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for c in 0..clients {
            let (next, tally) = (&next, &tally);
            s.spawn(move || {
                let mut client = Client {
                    agent: agent(),
                    rng: ChaCha8Rng::seed_from_u64(c as u64),
                    fixture,
                    next,
                    started,
                    last_write_ok,
                    tally: Tally::default(),
                };
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let order = client.order(&format!("{prefix}-{c}-{n}"));
                    client.tally.orders.push(order);
                    n += 1;
                }
                let mut all = tally.lock().expect("lock");
                all.orders.append(&mut client.tally.orders);
                all.attempts.append(&mut client.tally.attempts);
                all.unexpected.append(&mut client.tally.unexpected);
            });
        }
    });
    tally.into_inner().expect("lock")
}

struct Client<'a> {
    agent: ureq::Agent,
    rng: ChaCha8Rng,
    fixture: &'a Fixture,
    next: &'a AtomicUsize,
    started: Instant,
    last_write_ok: &'a AtomicUsize,
    tally: Tally,
}

impl Client<'_> {
    /// Sends a request until it is answered with something else than 503 (or `GIVE_UP`).
    fn call(&mut self, what: &str, path: &str, token: &str, body: Option<Value>) -> Option<Final> {
        let first = Instant::now();
        let mut retried = false;
        loop {
            let bases = &self.fixture.bases;
            let base = &bases[self.next.fetch_add(1, Ordering::Relaxed) % bases.len()];
            let url = format!("{base}{path}");
            let auth = format!("Bearer {token}");
            let sent = Instant::now();
            let res = match &body {
                Some(b) => self
                    .agent
                    .post(&url)
                    .header("authorization", &auth)
                    .send_json(b),
                None => self.agent.get(&url).header("authorization", &auth).call(),
            };
            let answer = res.map_err(|e| e.to_string()).and_then(|mut r| {
                let status = r.status().as_u16();
                let retry_after = r.headers().contains_key("retry-after");
                let text = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
                Ok((status, retry_after, text))
            });
            let took = sent.elapsed();
            self.tally.attempts.push(Attempt {
                sent: sent - self.started,
                took,
                write: body.is_some(),
                status: answer.as_ref().ok().map(|a| a.0),
                retry_after: answer.as_ref().is_ok_and(|a| a.1),
                error: answer.as_ref().err().map(|e| format!("{what}: {e}")),
            });
            match answer {
                Ok((503, retry_after, text)) => {
                    if !retry_after {
                        self.tally
                            .unexpected
                            .push(format!("{what}: 503 without Retry-After: {text}"));
                    }
                }
                Ok((status, _, text)) => {
                    if body.is_some() && (200..300).contains(&status) {
                        let ms = (sent - self.started).as_millis();
                        self.last_write_ok.fetch_max(
                            usize::try_from(ms).unwrap_or(usize::MAX),
                            Ordering::Relaxed,
                        );
                    }
                    return Some(Final {
                        status,
                        body: serde_json::from_str(&text).unwrap_or(Value::Null),
                        retried,
                    });
                }
                // The outcome is unknown: the request is sent again, as a client would.
                Err(_) => {}
            }
            retried = true;
            if first.elapsed() > GIVE_UP {
                self.tally
                    .unexpected
                    .push(format!("{what}: no answer but 503 within {GIVE_UP:?}"));
                return None;
            }
            std::thread::sleep(MAX_PAUSE.min(Duration::from_secs(5)));
        }
    }

    fn expect(&mut self, what: &str, answer: &Final, ok: bool) {
        if !ok {
            self.tally.unexpected.push(format!(
                "{what}: {} {} (retried: {})",
                answer.status, answer.body, answer.retried
            ));
        }
    }

    fn order(&mut self, order_ref: &str) -> Order {
        let (shop, partner) =
            self.fixture.shops[self.rng.random_range(0..self.fixture.shops.len())].clone();
        let mut order = Order {
            order_ref: order_ref.to_owned(),
            shop,
            is_return: self.rng.random_ratio(1, 4),
            ..Order::default()
        };
        if order.is_return {
            self.dropoff(&mut order, &partner);
        } else {
            self.pickup(&mut order, &partner);
        }
        order
    }

    fn create(&mut self, order: &mut Order, path: &str, what: &str) -> Option<i64> {
        let merchant = self.fixture.merchant.clone();
        let mut body = json!({"pickup_point_id": order.shop, "order_ref": order.order_ref});
        if order.is_return {
            body["sku"] = json!("SHOE-42");
        }
        let times = if self.rng.random_ratio(1, 5) { 2 } else { 1 };
        for k in 0..times {
            let r = self.call(what, path, &merchant, Some(body.clone()))?;
            let id = r.body["id"].as_i64().filter(|_| r.status < 300);
            let ok = match (k, r.status) {
                (0, 201) => true,
                // A repeat, or a retry whose first attempt committed: the same one.
                (_, 200) => k == 1 || r.retried,
                (0, 409) => r.body["reason"] == "full",
                _ => false,
            } && (k == 0 || id == order.id);
            self.expect(&format!("{what} {}", order.order_ref), &r, ok);
            order.created.push(r);
            if k == 0 {
                order.id = id;
            }
            order.id?;
        }
        order.id
    }

    /// The one reading of a code; `None` if a retried read came after the reading that showed
    /// it (the code is then lost to this client, as to a real one).
    fn read_code(&mut self, path: &str, field: &str) -> Option<String> {
        let merchant = self.fixture.merchant.clone();
        let r = self.call(&format!("read {path}"), path, &merchant, None)?;
        let code = r.body[field].as_str().map(str::to_owned);
        let ok = r.status == 200 && (code.is_some() || r.retried);
        self.expect(&format!("read {path}"), &r, ok);
        code
    }

    fn pickup(&mut self, order: &mut Order, partner: &str) {
        let Some(id) = self.create(order, "/v1/reservations", "reserve") else {
            return;
        };
        let merchant = self.fixture.merchant.clone();
        if self.rng.random_ratio(1, 8) {
            let path = format!("/v1/reservations/{id}/cancel");
            if let Some(r) = self.call(&path, &path, &merchant, Some(json!({}))) {
                let ok = r.status == 200 || r.retried && r.status == 409;
                self.expect(&path, &r, ok);
                order.cancel = Some(r);
            }
            return;
        }
        let path = format!("/v1/partner/parcels/{id}/arrival");
        let Some(r) = self.call(&path, &path, partner, Some(json!({}))) else {
            return;
        };
        let arrived = r.status == 200;
        self.expect(&path, &r, arrived);
        order.arrival = Some(r);
        if !arrived {
            return;
        }
        let Some(code) = self.read_code(&format!("/v1/reservations/{id}"), "pickup_code") else {
            return;
        };
        self.hand(order, "/v1/partner/handovers", partner, &code, "parcel_id");
    }

    fn dropoff(&mut self, order: &mut Order, partner: &str) {
        if self
            .create(order, "/v1/returns", "register return")
            .is_none()
        {
            return;
        }
        let id = order.id.unwrap_or_default();
        let Some(code) = self.read_code(&format!("/v1/returns/{id}"), "dropoff_code") else {
            return;
        };
        self.hand(order, "/v1/partner/dropoffs", partner, &code, "return_id");
    }

    /// A handover or drop-off, 1 in 4 sent twice.
    fn hand(&mut self, order: &mut Order, path: &str, partner: &str, code: &str, id_field: &str) {
        let times = if self.rng.random_ratio(1, 4) { 2 } else { 1 };
        for k in 0..times {
            let what = format!("{path} of {:?} #{k}", order.id);
            let Some(r) = self.call(&what, path, partner, Some(json!({ "code": code }))) else {
                return;
            };
            let replay = r.body["replay"].as_bool();
            let ok = match r.status {
                200 => {
                    r.body[id_field].as_i64() == order.id
                        && (replay == Some(k == 1) || r.retried && replay == Some(true))
                }
                // A drop-off at a full shop is refused; nothing else is.
                409 => order.is_return && k == 0 && r.body["reason"] == "full",
                _ => false,
            };
            self.expect(&what, &r, ok);
            let done = r.status == 200;
            order.handed.push(r);
            if !done {
                return;
            }
        }
    }
}
