//! The end of a fault test: wait for the outbox to drain, check every invariant and webhook,
//! print the figures (seconds without a writable primary, 503s, 500s, the longest answer), and
//! fail on any lost change, 500 or unexpected answer.

use super::client::{Attempt, Tally};
use super::cluster::Schema;
use crate::webhook_sink::Sink;
use diesel::prelude::*;
use pudo::db::schema::outbox;
use pudo::db::DatabaseUrl;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

fn done(a: &Attempt) -> Duration {
    a.sent + a.took
}

fn write_ok(a: &Attempt) -> bool {
    a.write && a.status.is_some_and(|s| (200..300).contains(&s))
}

/// Prints the figures of `tally` around each fault `(what, when)`, then checks everything.
pub fn finish(
    base_url: &str,
    schema: &Schema,
    logs: &str,
    sink: &Sink,
    tally: &Tally,
    faults: &[(&str, Duration)],
    name: &str,
) {
    let attempts = &tally.attempts;
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for a in attempts {
        let key = a.status.map_or("no answer".into(), |s| s.to_string());
        *by_status.entry(key).or_default() += 1;
    }
    let count = |f: &dyn Fn(&Attempt) -> bool| attempts.iter().filter(|a| f(a)).count();
    let n503 = count(&|a| a.status == Some(503));
    let n5xx = count(&|a| a.status.is_some_and(|s| s >= 500 && s != 503));
    let longest = attempts.iter().max_by_key(|a| a.took);
    let longest_write = attempts.iter().filter(|a| a.write).map(|a| a.took).max();
    let over_10s = count(&|a| a.took > Duration::from_secs(10));
    eprintln!(
        "== {name}: {} requests ({} orders) over {:.0} s from {} clients; answers {by_status:?}",
        attempts.len(),
        tally.orders.len(),
        attempts
            .iter()
            .map(done)
            .max()
            .unwrap_or_default()
            .as_secs_f64(),
        super::CLIENTS
    );
    eprintln!(
        "{name}: 503 answers {n503} (each with Retry-After: {}); 500 (or other 5xx) answers {n5xx}; \
         longest answer {:.2} s (a {} at t={:.1} s; longest write {:.2} s); answers over 10 s: {over_10s}",
        attempts.iter().filter(|a| a.status == Some(503)).all(|a| a.retry_after),
        longest.map_or(0.0, |a| a.took.as_secs_f64()),
        longest.map_or("-".into(), |a| a.status.map_or("transport failure".into(), |s| s.to_string())),
        longest.map_or(0.0, |a| a.sent.as_secs_f64()),
        longest_write.unwrap_or_default().as_secs_f64(),
    );
    for a in attempts.iter().filter(|a| a.error.is_some()).take(5) {
        eprintln!(
            "{name}: transport failure (retried) at t={:.2} s after {:.2} s: {}",
            a.sent.as_secs_f64(),
            a.took.as_secs_f64(),
            a.error.as_deref().unwrap_or_default()
        );
    }
    let mut ok_writes: Vec<Duration> = attempts.iter().filter(|a| write_ok(a)).map(done).collect();
    ok_writes.sort();
    for (i, (what, at)) in faults.iter().enumerate() {
        let until = faults.get(i + 1).map_or(Duration::MAX, |(_, t)| *t);
        // The longest stretch without a 2xx write that overlaps [at, until).
        let before = ok_writes
            .iter()
            .rev()
            .find(|t| **t <= *at)
            .copied()
            .unwrap_or(*at);
        // Up to the first 2xx write at or after the next fault: a stretch without any that
        // spans both belongs to this one too.
        let mut after: Vec<Duration> = ok_writes
            .iter()
            .copied()
            .filter(|t| *t > *at && *t < until)
            .collect();
        after.extend(ok_writes.iter().copied().find(|t| *t >= until && *t > *at));
        let mut gap = (Duration::ZERO, before, before);
        let mut prev = before;
        for t in &after {
            if *t - prev > gap.0 {
                gap = (*t - prev, prev, *t);
            }
            prev = *t;
        }
        let first_503 = attempts
            .iter()
            .filter(|a| a.status == Some(503) && done(a) >= *at && done(a) < until)
            .map(done)
            .min();
        let n503 = attempts
            .iter()
            .filter(|a| a.status == Some(503) && done(a) >= *at && done(a) < until)
            .count();
        eprintln!(
            "{name}: {what} at t={:.1} s: no 2xx write for {:.2} s (from t={:.2} to t={:.2} s; writes \
             again {:.2} s after it); first 503 {}; {n503} answers 503",
            at.as_secs_f64(),
            gap.0.as_secs_f64(),
            gap.1.as_secs_f64(),
            gap.2.as_secs_f64(),
            gap.2.saturating_sub(*at).as_secs_f64(),
            first_503.map_or("none".into(), |t| format!("{:.2} s after it", (t - *at).as_secs_f64())),
        );
    }

    // The database as the clients left it, once every webhook event is delivered.
    let url = DatabaseUrl::parse(&schema.on(base_url)).expect("url");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut conn = loop {
        match url.connect() {
            Ok(c) => break c,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "the cluster is not reachable after the test: {e}"
                );
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    };
    let drain = Instant::now();
    loop {
        let pending = pudo::pickup::outbox::pending(&mut conn).expect("pending");
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} webhook events still undelivered:\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let events: Vec<String> = outbox::table
        .select(outbox::event_id)
        .load(&mut conn)
        .expect("outbox");
    let received: HashSet<String> = sink
        .received
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|r| r.headers.get("pudo-event-id").cloned())
        .collect();
    let missing = events.iter().filter(|e| !received.contains(*e)).count();
    eprintln!(
        "{name}: outbox drained {:.1} s after the load; {} events, {} received by the webhook \
         receiver, {missing} never received",
        drain.elapsed().as_secs_f64(),
        events.len(),
        received.len()
    );
    let checked = super::check::check(&mut conn, &tally.orders);
    let answered_2xx = count(&|a| write_ok(a));
    match &checked {
        Ok((parcels, returns, events)) => eprintln!(
            "{name}: invariants hold: {parcels} parcels, {returns} returns, {events} events; \
             {answered_2xx} writes answered 2xx, 0 lost"
        ),
        Err(bad) => eprintln!("{name}: invariants violated:\n  {}", bad.join("\n  ")),
    }
    assert!(
        tally.unexpected.is_empty(),
        "{} unexpected answers:\n{}",
        tally.unexpected.len(),
        tally
            .unexpected
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(n5xx, 0, "answers 500 (or another 5xx than 503)");
    assert_eq!(missing, 0, "webhook events never delivered");
    if let Err(bad) = checked {
        panic!(
            "{} invariant violations after {name}:\n{}",
            bad.len(),
            bad.join("\n")
        );
    }
}
