//! The Singles-Day midnight load (issue 18) on a tiny network, against a real `pudo serve`:
//! orders concentrated on the shops of the largest city fill them, later orders for them are
//! refused (409 `full`, not errors), retried orders are answered their reservation, a share
//! arrive and are handed over (some confirmed twice), and afterwards every invariant of the
//! mixed-load test holds, the ledger included. The benchmark (`bench/midnight/run.sh`) runs
//! the same code on the CN seed network; this checks the tool itself, on both backends.

use crate::load::midnight::{self, Network, Plan};
use crate::load::skew::{rank_by_city, Zipf};
use crate::load::{invariants, workload::Until};
use crate::processes::{merchant_token, partner_token, setup, start};
use crate::support::{Backend, TestDb};
use diesel::prelude::*;
use pudo::db::schema::ledger;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::time::Duration;

/// Two places; Big's shops come first in the ranking whatever their ids.
const PLACES: &str = "\
geonameid,name,latitude,longitude,country,admin1,population,timezone
1,Small,31.0,121.0,CN,23,20000,Asia/Shanghai
2,Big,31.2,121.4,CN,23,900000,Asia/Shanghai
";

const SHOPS: &str = "\
external_id,name,latitude,longitude,capacity
CN-1-1,Corner shop Small #1,31.001,121.001,6
CN-1-2,Corner shop Small #2,31.002,121.002,6
CN-1-3,Corner shop Small #3,31.003,121.003,6
CN-2-1,24h Mart Big #1,31.201,121.401,2
CN-2-2,24h Mart Big #2,31.202,121.402,3
CN-2-3,24h Mart Big #3,31.203,121.403,2
CN-2-4,24h Mart Big #4,31.204,121.404,4
CN-2-5,24h Mart Big #5,31.205,121.405,3
";

#[test]
fn a_midnight_on_sqlite_keeps_every_invariant() {
    a_midnight_keeps_every_invariant(Backend::Sqlite);
}

#[test]
fn a_midnight_on_postgres_keeps_every_invariant() {
    a_midnight_keeps_every_invariant(Backend::Postgres);
}

fn a_midnight_keeps_every_invariant(backend: Backend) {
    let db = TestDb::new(backend);
    let pool = db.pool();
    let (keys, shops) = setup(&pool, SHOPS);
    let ranked = rank_by_city(
        &shops
            .iter()
            .map(|(e, i)| (*i, e.clone()))
            .collect::<Vec<_>>(),
        PLACES,
    );
    let external: HashMap<i64, String> = shops.iter().map(|(e, i)| (*i, e.clone())).collect();
    assert_eq!(
        external[&ranked[0]], "CN-2-1",
        "the largest city's first shop leads"
    );
    let servers = start(&db.url, 1, &[]);
    let partner = |id: i64| partner_token(&keys, &external[&id], id);
    let network = Network {
        merchant: merchant_token(&keys, "midnight-merchant"),
        skew: Zipf::new(ranked.len(), 0.9).expect("zipf"),
        ranked: ranked.clone(),
        partner: &partner,
    };
    let plan = Plan {
        clients: 6,
        reserve: Until::Orders(12),
        phase_limit: Duration::from_secs(60),
        repeat_one_in: 3,
        handover_share: 0.5,
        replay_one_in: 2,
        prefix: "M".into(),
    };
    let bases = vec![servers[0].base.clone()];

    let report = midnight::run(&bases, &network, &plan).expect("the midnight load runs");

    let log = || servers[0].log();
    assert_eq!(report.errors, 0, "{:?}\n{}", report.tally.unexpected, log());
    assert_eq!(report.unexpected, 0, "{:?}", report.tally.unexpected);
    let firsts = report.tally.reservations.iter().filter(|r| !r.repeat);
    assert_eq!(firsts.count(), 72, "every order was sent");
    // The load did what it is meant to: hot shops filled and refused, retries, handovers
    // and their replays.
    assert!(
        report.refusals.get("full").is_some_and(|n| *n > 0),
        "{:?}",
        report.refusals
    );
    assert_eq!(report.refusals.keys().collect::<Vec<_>>(), ["full"]);
    assert!(report
        .tally
        .reservations
        .iter()
        .any(|r| r.repeat && r.status == 200));
    let handed = report.phases[2].done_per_second.iter().sum::<u64>();
    assert!(
        handed > 0
            && report
                .tally
                .handovers
                .iter()
                .any(|h| h.replay == Some(true))
    );
    assert!(report.latency_ms("reserve", 0.5).is_some());

    let mut conn = pool.get().expect("conn");
    let checked = invariants::check(&mut conn, &report.tally)
        .unwrap_or_else(|bad| panic!("invariant(s) broken:\n{}\n{}", bad.join("\n"), log()));
    assert_eq!(
        checked.parcels,
        report.phases[0].done_per_second.iter().sum::<u64>() as usize
    );
    // The hottest shop filled up, and each handover was paid once.
    assert!(report
        .tally
        .reservations
        .iter()
        .any(|r| r.shop == ranked[0] && r.status == 409));
    let paid: i64 = ledger::table.count().get_result(&mut conn).expect("ledger");
    assert_eq!(paid as u64, handed);
}

#[test]
fn midnight_skew_gives_a_tenth_of_the_shops_most_of_the_orders() {
    let zipf = Zipf::new(10_000, 0.9).expect("zipf");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let draws = 100_000;
    let top = (0..draws).filter(|_| zipf.sample(&mut rng) < 1_000).count();
    let share = top as f64 / draws as f64;
    assert!(share > 0.5, "top tenth drew {share}");
    assert!((share - zipf.share_of_top(1_000)).abs() < 0.01);
    assert!(Zipf::new(0, 1.0).is_none() && Zipf::new(3, f64::NAN).is_none());
    // Exponent 0: every rank equally likely, the last one included.
    let flat = Zipf::new(4, 0.0).expect("flat");
    let mut seen = [0; 4];
    for _ in 0..4_000 {
        seen[flat.sample(&mut rng)] += 1;
    }
    assert!(seen.iter().all(|n| *n > 800), "{seen:?}");
}

#[test]
fn midnight_ranks_the_shops_of_the_largest_city_first() {
    let places = "geonameid,name,latitude,longitude,country,admin1,population,timezone\n\
                  1,Small,0,0,CN,1,2000,Asia/Shanghai\n\
                  2,Big,0,0,CN,1,90000,Asia/Shanghai\n";
    let shops = [
        (10, "CN-1-1".to_owned()),
        (11, "own-shop".to_owned()),
        (12, "CN-2-2".to_owned()),
        (13, "CN-2-1".to_owned()),
        (14, "CN-9-1".to_owned()),
    ];
    assert_eq!(rank_by_city(&shops, places), vec![13, 12, 10, 11, 14]);
}
