//! Prometheus metrics: request counts and latencies per route, plus the network's own gauges.

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::time::Instant;

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
    /// Shops in this instance's geo index.
    pub index_shops: IntGauge,
    /// Network revision this instance's geo index reflects.
    pub index_revision: IntGauge,
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
        let index_shops = IntGauge::new("index_shops", "Shops in the geo index")?;
        let index_revision = IntGauge::new("index_revision", "Network revision of the geo index")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(searches.clone()))?;
        registry.register(Box::new(imported_rows.clone()))?;
        registry.register(Box::new(index_shops.clone()))?;
        registry.register(Box::new(index_revision.clone()))?;
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
            index_shops,
            index_revision,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    fn observe(&self, method: &str, route: &str, status: u16, started: Instant) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
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
    let method = req.method().to_string();
    // The pattern, not the path, so ids do not explode the label set.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let metrics = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map(|s| s.metrics.clone());
    let fut = srv.call(req);
    async move {
        let res = fut.await?;
        if let Some(m) = metrics {
            m.observe(&method, &route, res.status().as_u16(), started);
        }
        Ok(res)
    }
}
