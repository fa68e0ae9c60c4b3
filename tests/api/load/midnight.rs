//! The Singles-Day midnight (issue 18): a burst of reservations concentrated on the shops of
//! the largest cities, then the arrivals and handovers of a share of them, over HTTP against
//! real `pudo serve` processes. Shared by the midnight test (`tests/api/midnight.rs`) and the
//! benchmark (`benches/midnight.rs`, which includes this directory by path).
//!
//! Three timed phases, each run by the same clients:
//! 1. **reservations**: each client sends orders one after another, to a shop drawn from
//!    [`super::skew::Zipf`] over the ranked shops, with a fresh `order_ref`; 409 answers are
//!    refusals (counted per `reason`), not errors. One in `repeat_one_in` of the reservations
//!    answered 201 is sent again (a merchant's retry) and must be answered 200 with the same
//!    reservation.
//! 2. **arrivals**: a share of the reservations answered 201 arrive at their shop (partner
//!    API), and the merchant reads each one's pickup code.
//! 3. **handovers**: those parcels are handed over with their codes; one in `replay_one_in`
//!    is confirmed twice (the second answer a replay).
//!
//! Every request and answer goes into a [`Tally`] for [`super::invariants::check`]; any 5xx or
//! transport failure is an error, any other answer the API does not promise is unexpected,
//! and both are in `Tally::unexpected`.
//!
//! The clients are tasks on one thread, each with its own connections ([`super::wire`]), so
//! that on a small machine the load costs little of the CPU it measures.

use super::figures::Report;
use super::http::Reply;
use super::skew::Zipf;
use super::wire::{Method, Wire};
use super::workload::{Handed, Reserved, Tally, Until};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What the midnight sends.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Concurrent clients (each with its own keep-alive connection).
    pub clients: usize,
    /// How long each client sends reservations (or how many orders each sends).
    pub reserve: Until,
    /// Upper bound on each of the arrival and handover phases.
    pub phase_limit: Duration,
    /// One in this many reservations answered 201 is sent again (0: none).
    pub repeat_one_in: u32,
    /// Share of the reservations answered 201 that arrive and are handed over.
    pub handover_share: f64,
    /// One in this many handovers is confirmed twice (0: none).
    pub replay_one_in: u32,
    /// Order references start with it, so runs on one database never collide.
    pub prefix: String,
}

/// The network as the midnight sees it.
pub struct Network<'a> {
    /// The merchant's token.
    pub merchant: String,
    /// Active shops with free capacity at the start, the most popular first.
    pub ranked: Vec<i64>,
    /// How popular each rank is.
    pub skew: Zipf,
    /// A partner token bound to the shop (called between phases, never while timed).
    pub partner: &'a (dyn Fn(i64) -> String + Sync),
}

/// Runs the three phases against `bases` (`http://host:port`, round robin over all
/// requests). `Err` only for a base it cannot use or a runtime it cannot start; every failed
/// request is in the report.
pub fn run(bases: &[String], network: &Network<'_>, plan: &Plan) -> Result<Report, String> {
    let wire = Wire::new(bases)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("the load's runtime: {e}"))?;
    let mut report = Report::default();
    let top_tenth = network.ranked.len().div_ceil(10);

    // 1. Reservations.
    let started = Instant::now();
    let parts = runtime.block_on(on_clients(plan.clients, &wire, async |c, client| {
        let mut created = Vec::new();
        let mut n = 0;
        while match plan.reserve {
            Until::Orders(k) => n < k,
            Until::Elapsed(d) => started.elapsed() < d,
        } {
            let rank = network.skew.sample(&mut client.rng);
            if rank < top_tenth {
                client.to_top_tenth += 1;
            }
            let shop = network.ranked[rank];
            let order_ref = format!("{}-{c}-{n}", plan.prefix);
            n += 1;
            if let Some(id) = client
                .reserve(started, &network.merchant, &order_ref, shop, plan)
                .await
            {
                created.push((id, shop));
            }
        }
        created
    }));
    let (created, elapsed) = absorb(&mut report, 0, parts, started);
    report.phases[0].elapsed = elapsed;

    // The sample that arrives and is handed over: every k-th reservation created, spread
    // evenly over the run; partner tokens minted now, outside the timed phases.
    let mut jobs: Vec<Job> = Vec::new();
    let mut tokens: HashMap<i64, String> = HashMap::new();
    if plan.handover_share > 0.0 {
        let step = (1.0 / plan.handover_share.min(1.0)).round().max(1.0) as usize;
        for (id, shop) in created.into_iter().step_by(step) {
            let partner = tokens
                .entry(shop)
                .or_insert_with(|| (network.partner)(shop))
                .clone();
            jobs.push(Job {
                id,
                partner,
                code: None,
            });
        }
    }

    // 2. Arrivals and code reads.
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let parts = runtime.block_on(on_clients(plan.clients, &wire, async |_, client| {
        let mut mine = Vec::new();
        while started.elapsed() < plan.phase_limit {
            let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            if let Some(code) = client.arrive(started, &network.merchant, job).await {
                mine.push(Job {
                    code: Some(code),
                    ..job.clone()
                });
            }
        }
        mine
    }));
    let (arrived, elapsed) = absorb(&mut report, 1, parts, started);
    report.phases[1].elapsed = elapsed;

    // 3. Handovers.
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let parts = runtime.block_on(on_clients(plan.clients, &wire, async |_, client| {
        while started.elapsed() < plan.phase_limit {
            let Some(job) = arrived.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            client.hand_over(started, job, plan).await;
        }
        Vec::<()>::new()
    }));
    let (_, elapsed) = absorb(&mut report, 2, parts, started);
    report.phases[2].elapsed = elapsed;

    for xs in report.latencies.values_mut() {
        xs.sort_unstable();
    }
    report.tally.elapsed = report.phases.iter().map(|p| p.elapsed).sum();
    Ok(report)
}

/// A parcel of the sample: its partner's token and, once read, its pickup code.
#[derive(Debug, Clone)]
struct Job {
    id: i64,
    partner: String,
    code: Option<String>,
}

/// What one client did in one phase, and what it hands on to the next.
struct Client {
    wire: Wire,
    rng: ChaCha8Rng,
    /// The instance the next request goes to (each client starts at its own).
    turn: usize,
    tally: Tally,
    latencies: BTreeMap<&'static str, Vec<u32>>,
    per_second: Vec<u64>,
    done_per_second: Vec<u64>,
    refusals: BTreeMap<String, usize>,
    errors: usize,
    unexpected: usize,
    to_top_tenth: usize,
}

/// Runs `work` for `clients` clients at once, as tasks of the calling thread; each gets its
/// number and a fresh [`Client`] with fresh connections.
async fn on_clients<T>(
    clients: usize,
    wire: &Wire,
    work: impl AsyncFn(usize, &mut Client) -> Vec<T>,
) -> Vec<(Client, Vec<T>)> {
    let work = &work;
    futures_util::future::join_all((0..clients).map(|c| async move {
        let mut client = Client {
            wire: wire.fresh(),
            rng: ChaCha8Rng::seed_from_u64(0x5111_0000 + c as u64),
            turn: c,
            tally: Tally::default(),
            latencies: BTreeMap::new(),
            per_second: Vec::new(),
            done_per_second: Vec::new(),
            refusals: BTreeMap::new(),
            errors: 0,
            unexpected: 0,
            to_top_tenth: 0,
        };
        let out = work(c, &mut client).await;
        (client, out)
    }))
    .await
}

/// Adds the clients' records of phase `phase` to the report; returns what they handed on and
/// the phase's wall time.
fn absorb<T>(
    report: &mut Report,
    phase: usize,
    parts: Vec<(Client, Vec<T>)>,
    started: Instant,
) -> (Vec<T>, Duration) {
    let elapsed = started.elapsed();
    let mut handed_on = Vec::new();
    let figures = &mut report.phases[phase];
    for (client, out) in parts {
        handed_on.extend(out);
        add(&mut figures.per_second, &client.per_second);
        add(&mut figures.done_per_second, &client.done_per_second);
        for (kind, xs) in client.latencies {
            report.latencies.entry(kind).or_default().extend(xs);
        }
        for (reason, n) in client.refusals {
            *report.refusals.entry(reason).or_default() += n;
        }
        report.errors += client.errors;
        report.unexpected += client.unexpected;
        report.to_top_tenth += client.to_top_tenth;
        let t = client.tally;
        report.tally.reservations.extend(t.reservations);
        report.tally.arrivals.extend(t.arrivals);
        report.tally.handovers.extend(t.handovers);
        report.tally.unexpected.extend(t.unexpected);
        report.tally.requests += t.requests;
    }
    (handed_on, elapsed)
}

fn add(total: &mut Vec<u64>, part: &[u64]) {
    if total.len() < part.len() {
        total.resize(part.len(), 0);
    }
    for (t, p) in total.iter_mut().zip(part) {
        *t += p;
    }
}

/// At most this many unexpected answers are kept as text per client (all are counted).
const KEEP: usize = 50;

/// One request: its method, path, bearer token and JSON body.
struct Request<'r> {
    method: Method,
    path: &'r str,
    token: &'r str,
    body: Option<&'r serde_json::Value>,
}

impl Client {
    /// Times one request, sent to the next instance in turn, and files its answer: latency,
    /// the second it was answered in, transport failures and 5xx as errors. `None` for a
    /// transport failure.
    async fn timed(
        &mut self,
        phase_start: Instant,
        kind: &'static str,
        what: impl FnOnce() -> String,
        request: Request<'_>,
    ) -> Option<Reply> {
        let to = self.turn % self.wire.instances();
        self.turn += 1;
        let t = Instant::now();
        let Request {
            method,
            path,
            token,
            body,
        } = request;
        let reply = self.wire.send(to, method, path, token, body).await;
        let micros = t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        self.tally.requests += 1;
        let second = phase_start.elapsed().as_secs() as usize;
        match reply {
            Ok(r) => {
                self.latencies.entry(kind).or_default().push(micros);
                if self.per_second.len() <= second {
                    self.per_second.resize(second + 1, 0);
                    self.done_per_second.resize(second + 1, 0);
                }
                self.per_second[second] += 1;
                if r.status >= 500 {
                    self.errors += 1;
                    self.keep(format!("{}: {} {}", what(), r.status, r.text));
                }
                Some(r)
            }
            Err(e) => {
                self.errors += 1;
                self.keep(format!("{}: {e}", what()));
                None
            }
        }
    }

    fn keep(&mut self, line: String) {
        if self.tally.unexpected.len() < KEEP {
            self.tally.unexpected.push(line);
        } else if self.tally.unexpected.len() == KEEP {
            self.tally.unexpected.push("… (more not kept)".into());
        }
    }

    fn done(&mut self, phase_start: Instant) {
        let second = (phase_start.elapsed().as_secs() as usize).min(self.done_per_second.len() - 1);
        self.done_per_second[second] += 1;
    }

    /// An answer the API does not promise (a 5xx was filed as an error already).
    fn unexpected(&mut self, what: String, r: &Reply) {
        if r.status < 500 {
            self.unexpected += 1;
            self.keep(format!("{what}: {} {}", r.status, r.text));
        }
    }

    /// One order: its reservation, maybe sent twice. The reservation id when created.
    async fn reserve(
        &mut self,
        started: Instant,
        merchant: &str,
        order_ref: &str,
        shop: i64,
        plan: &Plan,
    ) -> Option<i64> {
        let body = json!({"pickup_point_id": shop, "order_ref": order_ref});
        let post = || Request {
            method: Method::Post,
            path: "/v1/reservations",
            token: merchant,
            body: Some(&body),
        };
        let r = self
            .timed(
                started,
                "reserve",
                || format!("reserve {order_ref}"),
                post(),
            )
            .await?;
        let id = r.body["id"].as_i64().filter(|_| r.status < 300);
        self.tally.reservations.push(Reserved {
            order_ref: order_ref.to_owned(),
            shop,
            status: r.status,
            id,
            repeat: false,
        });
        let id = match (r.status, id) {
            (201, Some(id)) => id,
            (409, _) => {
                let reason = r.body["reason"].as_str().unwrap_or("(none)").to_owned();
                *self.refusals.entry(reason).or_default() += 1;
                return None;
            }
            _ => {
                self.unexpected(format!("reserve {order_ref}"), &r);
                return None;
            }
        };
        self.done(started);
        if plan.repeat_one_in > 0 && self.rng.random_ratio(1, plan.repeat_one_in) {
            if let Some(again) = self
                .timed(started, "retry", || format!("retry of {order_ref}"), post())
                .await
            {
                self.tally.reservations.push(Reserved {
                    order_ref: order_ref.to_owned(),
                    shop,
                    status: again.status,
                    id: again.body["id"].as_i64().filter(|_| again.status < 300),
                    repeat: true,
                });
                if again.status != 200 || again.body["id"].as_i64() != Some(id) {
                    self.unexpected(format!("retry of {order_ref} (id {id})"), &again);
                }
            }
        }
        Some(id)
    }

    /// The parcel arrives at its shop; the merchant reads its pickup code.
    async fn arrive(&mut self, started: Instant, merchant: &str, job: &Job) -> Option<String> {
        let id = job.id;
        let path = format!("/v1/partner/parcels/{id}/arrival");
        let empty = json!({});
        let arrival = Request {
            method: Method::Post,
            path: &path,
            token: &job.partner,
            body: Some(&empty),
        };
        let r = self
            .timed(started, "arrival", || format!("arrival {id}"), arrival)
            .await?;
        self.tally.arrivals.push((id, r.status));
        if r.status != 200 {
            self.unexpected(format!("arrival {id}"), &r);
            return None;
        }
        self.done(started);
        let path = format!("/v1/reservations/{id}");
        let read = Request {
            method: Method::Get,
            path: &path,
            token: merchant,
            body: None,
        };
        let r = self
            .timed(started, "read", || format!("read {id}"), read)
            .await?;
        match r.body["pickup_code"].as_str() {
            Some(code) if r.status == 200 => Some(code.to_owned()),
            _ => {
                self.unexpected(format!("read {id} (no code)"), &r);
                None
            }
        }
    }

    /// The handover with the parcel's code, maybe confirmed twice.
    async fn hand_over(&mut self, started: Instant, job: &Job, plan: &Plan) {
        let (id, Some(code)) = (job.id, job.code.as_deref()) else {
            return;
        };
        let twice = plan.replay_one_in > 0 && self.rng.random_ratio(1, plan.replay_one_in);
        for k in 0..if twice { 2 } else { 1 } {
            let kind = if k == 0 { "handover" } else { "replay" };
            let body = json!({"code": code});
            let handover = Request {
                method: Method::Post,
                path: "/v1/partner/handovers",
                token: &job.partner,
                body: Some(&body),
            };
            let Some(r) = self
                .timed(started, kind, || format!("{kind} {id}"), handover)
                .await
            else {
                return;
            };
            let replay = r.body["replay"].as_bool().filter(|_| r.status == 200);
            self.tally.handovers.push(Handed {
                id,
                status: r.status,
                replay,
            });
            if r.status != 200 || replay != Some(k == 1) || r.body["parcel_id"].as_i64() != Some(id)
            {
                return self.unexpected(format!("{kind} {id}"), &r);
            }
            if k == 0 {
                self.done(started);
            }
        }
    }
}
