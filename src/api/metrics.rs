//! Prometheus metrics: request counts and latencies per route, handover failures, the
//! network's own gauges, and figures read from the database at scrape time (webhook backlog,
//! full shops), cached briefly so that a burst of scrapes queries the database once.

use crate::pickup::attempts::{CodeKind, Outcome, Subject};
use crate::pickup::gauges::Gauges;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long figures read from the database are served before they are read again.
pub const DEFAULT_DB_FIGURES_TTL: Duration = Duration::from_secs(5);

/// The refusals of a handover counted by `pudo_handover_failures_total`, by the label its
/// [`Outcome`] carries (the same word as the audit table's `result`).
const HANDOVER_FAILURES: [&str; 6] = [
    "wrong_code",
    "expired",
    "rate_limited",
    "not_collectable",
    "cash_not_confirmed",
    "id_check_required",
];

/// The reasons of a refused reservation present in `pudo_reservation_refusals_total` from the
/// start (the `reason` words of the 409 answers; `size_class` empty): a midnight dashboard
/// sees the series before the first refusal.
const RESERVATION_REFUSALS: [&str; 6] = [
    "full",
    "paused",
    "closed_at_arrival",
    "closed_for_period",
    "does_not_fit",
    "order_ref_in_use",
];

/// Every metric pudo exports, registered in its own registry.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Searches answered.
    pub searches: IntCounter,
    /// Shop rows stored by imports.
    pub imported_rows: IntCounter,
    /// Reservations created.
    pub reservations: IntCounter,
    /// Handover attempts by outcome (success, replay, refused, rate_limited).
    pub handovers: IntCounterVec,
    /// Reservations moved to another point by their merchant.
    pub moves: IntCounter,
    /// Parcels redirected on the day, by who redirected them (partner, carrier).
    pub redirects: IntCounterVec,
    /// Holding periods extended.
    pub hold_extensions: IntCounter,
    /// Returns at the counter by step: drop-off attempts (`dropped_off`, `replay`, `refused`,
    /// `rate_limited`) and returns `collected` by carriers.
    pub returns: IntCounterVec,
    /// Arrival scans made after the scan-in deadline of their hand-in.
    pub late_scans: IntCounter,
    /// Customer e-mails by outcome: `sent` (accepted by the SMTP server) or `failed` (an
    /// attempt that failed and is retried).
    pub customer_mails: IntCounterVec,
    /// Shops in this instance's geo index.
    pub index_shops: IntGauge,
    /// Network revision this instance's geo index reflects.
    pub index_revision: IntGauge,
    handover_failures: IntCounterVec,
    reservation_refusals: IntCounterVec,
    outbox_pending: IntGauge,
    outbox_oldest_age: Gauge,
    shops_full: IntGauge,
    db_figures_at: Gauge,
    citus_worker_up: IntGaugeVec,
    db_figures_ttl: Duration,
    /// When the database figures were last asked for (successfully or not).
    db_figures_asked: Mutex<Option<Instant>>,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("pudo".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0, 2.5, 10.0,
                ],
            ),
            &["route"],
        )?;
        let searches = IntCounter::new("searches_total", "Pickup-point searches answered")?;
        let imported_rows =
            IntCounter::new("imported_shop_rows_total", "Shop rows stored by imports")?;
        let reservations = IntCounter::new("reservations_total", "Reservations created")?;
        let handovers = IntCounterVec::new(
            Opts::new("handovers_total", "Handover attempts by outcome"),
            &["outcome"],
        )?;
        registry.register(Box::new(reservations.clone()))?;
        registry.register(Box::new(handovers.clone()))?;
        let moves = IntCounter::new(
            "reservations_moved_total",
            "Reservations moved by merchants",
        )?;
        let redirects = IntCounterVec::new(
            Opts::new(
                "parcels_redirected_total",
                "Parcels redirected on the day to a point with room",
            ),
            &["by"],
        )?;
        let hold_extensions = IntCounter::new("holds_extended_total", "Holding periods extended")?;
        registry.register(Box::new(moves.clone()))?;
        registry.register(Box::new(redirects.clone()))?;
        registry.register(Box::new(hold_extensions.clone()))?;
        let returns = IntCounterVec::new(
            Opts::new(
                "returns_total",
                "Drop-off attempts by outcome and returns collected",
            ),
            &["step"],
        )?;
        registry.register(Box::new(returns.clone()))?;
        let late_scans = IntCounter::new(
            "scan_ins_late_total",
            "Arrival scans made after the scan-in deadline of the carrier's hand-in",
        )?;
        registry.register(Box::new(late_scans.clone()))?;
        let customer_mails = IntCounterVec::new(
            Opts::new(
                "customer_mails_total",
                "Customer e-mails by outcome: sent (accepted by the SMTP server), failed (attempt retried)",
            ),
            &["outcome"],
        )?;
        for outcome in ["sent", "failed"] {
            customer_mails.with_label_values(&[outcome]);
        }
        registry.register(Box::new(customer_mails.clone()))?;
        let index_shops = IntGauge::new("index_shops", "Shops in the geo index")?;
        let index_revision = IntGauge::new("index_revision", "Network revision of the geo index")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(searches.clone()))?;
        registry.register(Box::new(imported_rows.clone()))?;
        registry.register(Box::new(index_shops.clone()))?;
        registry.register(Box::new(index_revision.clone()))?;
        let handover_failures = IntCounterVec::new(
            Opts::new(
                "handover_failures_total",
                "Handover attempts refused, by result: wrong_code, expired, rate_limited, not_collectable",
            ),
            &["result"],
        )?;
        let reservation_refusals = IntCounterVec::new(
            Opts::new(
                "reservation_refusals_total",
                "Reservations refused with 409, by reason and the size class it names (full, paused, closed_at_arrival, closed_for_period, does_not_fit, order_ref_in_use)",
            ),
            &["reason", "size_class"],
        )?;
        registry.register(Box::new(reservation_refusals.clone()))?;
        for reason in RESERVATION_REFUSALS {
            reservation_refusals.with_label_values(&[reason, ""]);
        }
        let outbox_pending = IntGauge::new(
            "outbox_pending_events",
            "Undelivered webhook events of merchants with a webhook URL (from the database)",
        )?;
        let outbox_oldest_age = Gauge::new(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered webhook event, 0 when none (from the database)",
        )?;
        let shops_full = IntGauge::new(
            "shops_full",
            "Active shops with no free slot (from the database)",
        )?;
        let db_figures_at = Gauge::new(
            "db_figures_timestamp_seconds",
            "Unix time the figures from the database were last read successfully",
        )?;
        for c in [&outbox_pending, &shops_full] {
            registry.register(Box::new(c.clone()))?;
        }
        for g in [&outbox_oldest_age, &db_figures_at] {
            registry.register(Box::new(g.clone()))?;
        }
        let citus_worker_up = IntGaugeVec::new(
            Opts::new(
                "citus_worker_up",
                "Citus only: 1 when the coordinator reaches the worker, 0 when it does not (its regions answer 503)",
            ),
            &["worker"],
        )?;
        registry.register(Box::new(citus_worker_up.clone()))?;
        registry.register(Box::new(handover_failures.clone()))?;
        for failure in HANDOVER_FAILURES {
            // Present from the start at 0, so rate() and alerts see every series.
            handover_failures.with_label_values(&[failure]);
        }
        Ok(Self {
            registry,
            requests,
            latency,
            searches,
            imported_rows,
            reservations,
            handovers,
            moves,
            redirects,
            hold_extensions,
            returns,
            late_scans,
            customer_mails,
            index_shops,
            index_revision,
            handover_failures,
            reservation_refusals,
            outbox_pending,
            outbox_oldest_age,
            shops_full,
            db_figures_at,
            citus_worker_up,
            db_figures_ttl: DEFAULT_DB_FIGURES_TTL,
            db_figures_asked: Mutex::new(None),
        })
    }

    /// The same metrics, reading the database figures at most once per `ttl` (0: at every
    /// scrape).
    pub fn with_db_figures_ttl(mut self, ttl: Duration) -> Self {
        self.db_figures_ttl = ttl;
        self
    }

    /// Counts a code typed at a counter by what came of it (`None`: the attempt failed
    /// before an outcome, e.g. the database): `pudo_handovers_total` and
    /// `pudo_handover_failures_total` for pickup codes, `pudo_returns_total` for drop-offs.
    pub fn code_attempt<T: Subject>(&self, kind: CodeKind, outcome: Option<&Outcome<T>>) {
        let summary = match outcome {
            Some(Outcome::Success(_)) => match kind {
                CodeKind::Handover => "success",
                CodeKind::Dropoff => "dropped_off",
            },
            Some(Outcome::Replay(_)) => "replay",
            Some(Outcome::RateLimited { .. }) => "rate_limited",
            _ => "refused",
        };
        match kind {
            CodeKind::Handover => {
                self.handovers.with_label_values(&[summary]).inc();
                if let Some(label) = outcome
                    .map(Outcome::label)
                    .filter(|l| HANDOVER_FAILURES.contains(l))
                {
                    self.handover_failures.with_label_values(&[label]).inc();
                }
            }
            CodeKind::Dropoff => self.returns.with_label_values(&[summary]).inc(),
        }
    }

    /// Counts a reservation refused with a 409 (`pudo_reservation_refusals_total`) by the
    /// answer's `reason` and the size class it names; other errors (bad input, a database
    /// that does not answer) are the request metrics' business, not a refusal.
    pub fn reservation_refused(&self, error: &crate::error::ApiError) {
        use crate::error::ApiError as E;
        let (reason, size_class) = match error {
            E::Conflict { reason, .. } => (*reason, ""),
            E::SizeConflict {
                reason, size_class, ..
            } => (*reason, size_class.unwrap_or("")),
            E::ConditionConflict(unmet) => (unmet.label(), ""),
            _ => return,
        };
        self.reservation_refusals
            .with_label_values(&[reason, size_class])
            .inc();
    }

    /// Whether the database figures should be read for this scrape. At most one scrape per
    /// TTL gets `true` (it is recorded at once, so concurrent scrapes do not all query).
    pub fn db_figures_due(&self) -> bool {
        let mut asked = self
            .db_figures_asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let due = asked.is_none_or(|t| now.duration_since(t) >= self.db_figures_ttl);
        if due {
            *asked = Some(now);
        }
        due
    }

    /// Stores figures read from the database.
    pub fn set_db_figures(&self, gauges: &Gauges, read_at: chrono::DateTime<chrono::Utc>) {
        self.outbox_pending.set(gauges.outbox_pending);
        self.outbox_oldest_age.set(gauges.outbox_oldest_age_secs);
        self.shops_full.set(gauges.shops_full);
        self.db_figures_at
            .set(read_at.timestamp_millis() as f64 / 1000.0);
    }

    /// Stores whether each Citus worker answers (`pudo_citus_worker_up`; none on plain
    /// PostgreSQL and SQLite). A worker no longer registered disappears from the series.
    pub fn set_citus_workers(&self, workers: &[crate::db::citus::Worker]) {
        self.citus_worker_up.reset();
        for w in workers {
            self.citus_worker_up
                .with_label_values(&[w.name.as_str()])
                .set(i64::from(w.reachable));
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    fn observe(&self, method: &str, route: &str, status: &str, started: Instant) {
        self.requests
            .with_label_values(&[method, route, status])
            .inc();
        self.latency
            .with_label_values(&[route])
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Middleware body for `App::wrap_fn`: counts and times every request by route pattern.
pub fn track<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let started = Instant::now();
    // No allocation per request: a standard method clones without one, and the status label
    // is the code's static string.
    let method = req.method().clone();
    // The pattern, not the path, so ids do not explode the label set.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let metrics = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map(|s| s.metrics.clone());
    let fut = srv.call(req);
    async move {
        let res = fut.await?;
        if let Some(m) = metrics {
            m.observe(method.as_str(), &route, res.status().as_str(), started);
        }
        Ok(res)
    }
}
