//! PostGIS reference for the nearest-10 search (issue 2), and a check of the HTTP answers.
//!
//! `cargo bench --bench postgis` (default mode `postgis`; `bench/search/run.sh` runs it with the
//! other steps of BENCHMARKS.md):
//! 1. writes the 10,000 query points of `benches/nearest.rs` to `$PUDO_BENCH_DIR/points.csv`
//!    (default `/tmp/bench`), for the wrk and pgbench load runs;
//! 2. loads the CN seed network (same ids as pudo's) into the database `pudo_bench_postgis`
//!    on `$PUDO_BENCH_PG` (default `postgres://postgres@127.0.0.1:5432`): a
//!    `geography(Point, 4326)` column with a GiST index over the active shops, plus the
//!    query points in `bench_points` (skipped when already loaded; `PUDO_BENCH_RELOAD=1`
//!    forces it);
//! 3. runs every query point through PostGIS (`ORDER BY geog <-> point LIMIT 10`, active
//!    shops only) and through pudo's in-process index, compares the two top-10 lists and
//!    explains every difference;
//! 4. reports the median per-query latency of both, one query at a time.
//!
//! `cargo bench --bench postgis -- http http://127.0.0.1:PORT [EVERY]` checks that a running
//! `pudo serve` on the CN network answers every EVERY-th query point (default 20) with the
//! same top 10 as the in-process index.

mod common;

use common::{cn_shops, median, query_points, QUERY_POINTS};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use pudo::network::geo::{haversine_m, Point};
use pudo::network::index::{GeoIndex, IndexedShop};
use pudo::network::{SearchFilter, ShopStatus};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

const DATABASE: &str = "pudo_bench_postgis";
/// The query the comparison is about: the 10 nearest active shops by geography distance.
const KNN: &str = "SELECT id FROM bench_shops WHERE active \
                   ORDER BY geog <-> ST_MakePoint($1, $2)::geography LIMIT 10";
/// The same query, also returning the KNN distance and the sphere distance of each row.
const KNN_WITH_DISTANCES: &str = "SELECT id, geog <-> ST_MakePoint($1, $2)::geography AS knn_m, \
       ST_Distance(geog, ST_MakePoint($1, $2)::geography, false) AS sphere_m \
     FROM bench_shops WHERE active \
     ORDER BY geog <-> ST_MakePoint($1, $2)::geography LIMIT 10";

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Ranked {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Double)]
    knn_m: f64,
    #[diesel(sql_type = Double)]
    sphere_m: f64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Plan {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    plan: String,
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let result = match args.first().map(String::as_str) {
        None | Some("postgis") => postgis(),
        Some("http") => http(
            args.get(1).map_or("http://127.0.0.1:8089", String::as_str),
            args.get(2).and_then(|e| e.parse().ok()).unwrap_or(20),
        ),
        Some(other) => Err(format!("unknown mode {other:?} (postgis or http)").into()),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn bench_dir() -> String {
    std::env::var("PUDO_BENCH_DIR").unwrap_or_else(|_| "/tmp/bench".into())
}

/// The query point as text, exactly as every tool (wrk, pgbench, this file) reads it.
fn point_text((lat, lon): (f64, f64)) -> (String, String) {
    (format!("{lat}"), format!("{lon}"))
}

fn postgis() -> Res<()> {
    let shops = cn_shops();
    let points = query_points(&shops, QUERY_POINTS);
    let dir = bench_dir();
    std::fs::create_dir_all(&dir)?;
    let mut csv = String::new();
    for &p in &points {
        let (lat, lon) = point_text(p);
        writeln!(csv, "{lat},{lon}")?;
    }
    std::fs::write(format!("{dir}/points.csv"), csv)?;
    println!("wrote {} query points to {dir}/points.csv", points.len());

    let server = std::env::var("PUDO_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let mut admin = PgConnection::establish(&format!("{server}/postgres"))?;
    let exists: Count = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM pg_database WHERE datname = '{DATABASE}'"
    ))
    .get_result(&mut admin)?;
    if exists.n == 0 {
        admin.batch_execute(&format!("CREATE DATABASE {DATABASE}"))?;
    }
    let mut pg = PgConnection::establish(&format!("{server}/{DATABASE}"))?;
    pg.batch_execute("CREATE EXTENSION IF NOT EXISTS postgis")?;
    let version: Setting =
        diesel::sql_query("SELECT postgis_full_version() AS value").get_result(&mut pg)?;
    println!("PostGIS: {}", version.value.unwrap_or_default());
    for name in ["server_version", "shared_buffers", "work_mem", "jit"] {
        let s: Setting = diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
            .get_result(&mut pg)?;
        println!("  {name} = {}", s.value.unwrap_or_default());
    }

    let table: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_tables WHERE tablename IN ('bench_shops', 'bench_points')",
    )
    .get_result(&mut pg)?;
    let loaded = if table.n == 2 {
        diesel::sql_query("SELECT count(*) AS n FROM bench_shops")
            .get_result::<Count>(&mut pg)?
            .n
    } else {
        -1
    };
    if loaded != shops.len() as i64 || std::env::var("PUDO_BENCH_RELOAD").is_ok() {
        load(&mut pg, &shops, &points)?;
    } else {
        println!("bench_shops already holds the {} CN shops", shops.len());
    }
    let plan: Vec<Plan> = diesel::sql_query(format!(
        "EXPLAIN (COSTS OFF) {}",
        KNN.replace("$1", "121.47").replace("$2", "31.23")
    ))
    .load(&mut pg)?;
    println!("PostGIS plan:");
    for line in plan {
        println!("    {}", line.plan);
    }

    let index = GeoIndex::build(shops.clone());
    let filter = SearchFilter::nearest(10);
    compare(&mut pg, &index, &shops, &points, &filter)?;

    // Latency, one query at a time, after a warm-up pass over every point.
    for &(lat, lon) in &points {
        run_knn(&mut pg, lat, lon)?;
    }
    let mut pg_us = Vec::with_capacity(points.len());
    for &(lat, lon) in &points {
        let t = Instant::now();
        black_box(run_knn(&mut pg, lat, lon)?);
        pg_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let mut exec_us = Vec::with_capacity(points.len());
    let mut plan_us = Vec::with_capacity(points.len());
    for &(lat, lon) in points.iter().step_by(5) {
        let (planning, execution) = explain_analyze(&mut pg, lat, lon)?;
        plan_us.push(planning * 1e3);
        exec_us.push(execution * 1e3);
    }
    let mut pudo_us = Vec::with_capacity(points.len() * 5);
    for _ in 0..5 {
        for &(lat, lon) in &points {
            let t = Instant::now();
            black_box(index.search(lat, lon, &filter).len());
            pudo_us.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let pg_med = median(&mut pg_us);
    let pudo_med = median(&mut pudo_us);
    println!(
        "PostGIS nearest-10, client round trip (diesel sql_query: parse, plan and execute each time, \
         localhost TCP): median {pg_med:.1} µs, p90 {:.1} µs over {} queries",
        pg_us[pg_us.len() * 9 / 10],
        pg_us.len()
    );
    println!(
        "PostGIS nearest-10, server side only (EXPLAIN ANALYZE, TIMING OFF, every 5th point): \
         median planning {:.1} µs + execution {:.1} µs",
        median(&mut plan_us),
        median(&mut exec_us)
    );
    println!(
        "pudo nearest-10 in process: median {pudo_med:.2} µs, p90 {:.2} µs over {} searches",
        pudo_us[pudo_us.len() * 9 / 10],
        pudo_us.len()
    );
    println!(
        "ratio (PostGIS client round trip / pudo in process): {:.0}x; \
         (PostGIS execution alone / pudo): {:.0}x",
        pg_med / pudo_med,
        median(&mut exec_us) / pudo_med
    );
    Ok(())
}

fn load(pg: &mut PgConnection, shops: &[IndexedShop], points: &[(f64, f64)]) -> Res<()> {
    let started = Instant::now();
    pg.batch_execute(
        "DROP TABLE IF EXISTS bench_shops; DROP TABLE IF EXISTS bench_points; \
         CREATE TABLE bench_shops (id BIGINT PRIMARY KEY, active BOOLEAN NOT NULL, \
           geog geography(Point, 4326) NOT NULL); \
         CREATE TABLE bench_points (i INTEGER PRIMARY KEY, lat DOUBLE PRECISION NOT NULL, \
           lon DOUBLE PRECISION NOT NULL, geog geography(Point, 4326) NOT NULL);",
    )?;
    // Only numbers go into the SQL text; Rust prints each f64 so that it reads back exactly.
    for chunk in shops.chunks(5000) {
        let mut sql = String::from("INSERT INTO bench_shops (id, active, geog) VALUES ");
        for (k, s) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push(',');
            }
            write!(
                sql,
                "({},{},ST_MakePoint({},{})::geography)",
                s.id,
                s.status == ShopStatus::Active,
                s.longitude,
                s.latitude
            )?;
        }
        pg.batch_execute(&sql)?;
    }
    let inserted = started.elapsed();
    pg.batch_execute(
        "CREATE INDEX bench_shops_geog ON bench_shops USING gist (geog) WHERE active",
    )?;
    let indexed = started.elapsed();
    let mut sql = String::from("INSERT INTO bench_points (i, lat, lon, geog) VALUES ");
    for (i, &p) in points.iter().enumerate() {
        let (lat, lon) = point_text(p);
        if i > 0 {
            sql.push(',');
        }
        write!(
            sql,
            "({},{lat},{lon},ST_MakePoint({lon},{lat})::geography)",
            i + 1
        )?;
    }
    pg.batch_execute(&sql)?;
    pg.batch_execute("VACUUM ANALYZE bench_shops")?;
    pg.batch_execute("VACUUM ANALYZE bench_points")?;
    println!(
        "loaded {} shops into PostGIS: rows {:.1} s, GiST index {:.1} s (pudo builds its index \
         in the time printed by the nearest bench)",
        shops.len(),
        inserted.as_secs_f64(),
        (indexed - inserted).as_secs_f64()
    );
    Ok(())
}

fn run_knn(pg: &mut PgConnection, lat: f64, lon: f64) -> QueryResult<Vec<i64>> {
    let rows: Vec<Id> = diesel::sql_query(KNN)
        .bind::<Double, _>(lon)
        .bind::<Double, _>(lat)
        .load(pg)?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Planning and execution time in ms as the server measures them.
fn explain_analyze(pg: &mut PgConnection, lat: f64, lon: f64) -> Res<(f64, f64)> {
    let rows: Vec<Plan> =
        diesel::sql_query(format!("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {KNN}"))
            .bind::<Double, _>(lon)
            .bind::<Double, _>(lat)
            .load(pg)?;
    let json: serde_json::Value = serde_json::from_str(&rows.first().ok_or("no plan")?.plan)?;
    let top = &json[0];
    Ok((
        top["Planning Time"].as_f64().unwrap_or(f64::NAN),
        top["Execution Time"].as_f64().unwrap_or(f64::NAN),
    ))
}

/// Compares PostGIS's and pudo's top 10 for every point and explains each difference.
fn compare(
    pg: &mut PgConnection,
    index: &GeoIndex,
    shops: &[IndexedShop],
    points: &[(f64, f64)],
    filter: &SearchFilter<'_>,
) -> Res<()> {
    let by_id: HashMap<i64, &IndexedShop> = shops.iter().map(|s| (s.id, s)).collect();
    let (mut identical, mut ties, mut rounding, mut other) = (0, 0, 0, 0);
    let (mut max_rel_sphere, mut max_rel_knn) = (0f64, 0f64);
    let mut shown = 0;
    for (i, &(lat, lon)) in points.iter().enumerate() {
        let q = Point::from_degrees(lat, lon);
        let ours: Vec<(i64, f64)> = index
            .search(lat, lon, filter)
            .iter()
            .map(|h| (h.shop.id, h.distance_m))
            .collect();
        let theirs: Vec<Ranked> = diesel::sql_query(KNN_WITH_DISTANCES)
            .bind::<Double, _>(lon)
            .bind::<Double, _>(lat)
            .load(pg)?;
        for r in &theirs {
            let s = by_id.get(&r.id).ok_or("PostGIS returned an unknown id")?;
            let ours_d = haversine_m(&q, &Point::from_degrees(s.latitude, s.longitude));
            if ours_d > 0.0 {
                max_rel_sphere = max_rel_sphere.max((r.sphere_m - ours_d).abs() / ours_d);
                max_rel_knn = max_rel_knn.max((r.knn_m - ours_d).abs() / ours_d);
            }
        }
        if ours.len() == theirs.len() && ours.iter().zip(&theirs).all(|(a, b)| a.0 == b.id) {
            identical += 1;
            continue;
        }
        // For each rank where the ids differ: pudo's own haversine distance of PostGIS's shop
        // against pudo's shop at that rank. Equal means an exact tie (the order among equal
        // distances is arbitrary in PostGIS, by id in pudo); a difference below a millimetre
        // means the two computations round differently; anything more would be a bug.
        let mut worst = 0f64;
        for (k, r) in theirs.iter().enumerate() {
            let s = by_id.get(&r.id).ok_or("PostGIS returned an unknown id")?;
            let d_theirs = haversine_m(&q, &Point::from_degrees(s.latitude, s.longitude));
            let d_ours = ours.get(k).map_or(f64::INFINITY, |o| o.1);
            worst = worst.max((d_theirs - d_ours).abs());
        }
        if worst == 0.0 {
            ties += 1;
        } else if worst < 1e-3 {
            rounding += 1;
        } else {
            other += 1;
        }
        if shown < 8 {
            shown += 1;
            println!(
                "  point {} ({lat}, {lon}): max distance gap at a differing rank {worst:e} m",
                i + 1
            );
            for (k, r) in theirs.iter().enumerate() {
                let o = ours.get(k).copied().unwrap_or((0, f64::NAN));
                let mark = if o.0 == r.id { ' ' } else { '*' };
                println!(
                    "   {mark} rank {:>2}: pudo {:>7} {:.9} m | PostGIS {:>7} knn {:.9} m sphere {:.9} m",
                    k + 1,
                    o.0,
                    o.1,
                    r.id,
                    r.knn_m,
                    r.sphere_m
                );
            }
        }
    }
    println!(
        "top-10 comparison over {} points: {identical} identical; {ties} differ only in the order \
         of exactly tied shops; {rounding} differ between shops whose distances differ by < 1 mm; \
         {other} other differences",
        points.len()
    );
    println!(
        "largest relative gap to pudo's haversine: ST_Distance(use_spheroid=false) {max_rel_sphere:.2e}, \
         <-> {max_rel_knn:.2e} (sphere radius: pudo 6371008.8 m, PostGIS WGS84 mean radius 6371008.7714 m)"
    );
    Ok(())
}

/// Checks a running `pudo serve` (CN network) against the in-process index.
fn http(base: &str, every: usize) -> Res<()> {
    let shops = cn_shops();
    let points = query_points(&shops, QUERY_POINTS);
    let index = GeoIndex::build(shops);
    let filter = SearchFilter::nearest(10);
    let agent = ureq::Agent::new_with_defaults();
    let (mut checked, mut identical, mut max_gap) = (0, 0, 0f64);
    for &p in points.iter().step_by(every.max(1)) {
        let (lat, lon) = point_text(p);
        let body: serde_json::Value = agent
            .get(&format!(
                "{base}/v1/pickup-points?lat={lat}&lon={lon}&limit=10"
            ))
            .call()?
            .body_mut()
            .read_json()?;
        let items = body["items"].as_array().ok_or("no items in the answer")?;
        let ours = index.search(p.0, p.1, &filter);
        checked += 1;
        let same = items.len() == ours.len()
            && items.iter().zip(&ours).all(|(item, hit)| {
                if let Some(d) = item["distance_m"].as_f64() {
                    max_gap = max_gap.max((d - hit.distance_m).abs());
                }
                item["external_id"].as_str() == Some(&*hit.shop.external_id)
            });
        if same {
            identical += 1;
        } else {
            println!("  differs at ({lat}, {lon})");
        }
    }
    println!(
        "HTTP check against {base}: {identical} of {checked} answers have the in-process top 10 \
         (same external ids in the same order); largest distance_m gap {max_gap:e} m"
    );
    if identical != checked {
        return Err("HTTP answers differ from the in-process index".into());
    }
    Ok(())
}
