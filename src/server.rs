//! Start-up and the HTTP server: migrate, seed an empty database, load the geo index, follow
//! changes made by other instances, serve until SIGINT/SIGTERM, then drain.

use crate::api::{self, metrics::Metrics, AppState};
use crate::auth::Keys;
use crate::config::Settings;
use crate::db;
use crate::network::{seed, service::Network, store};
use crate::pickup;
use actix_web::HttpServer;
use anyhow::Context;
use std::sync::Arc;

/// Opens the pool and applies pending migrations.
pub fn open_database(settings: &Settings) -> anyhow::Result<db::Pool> {
    let pool = db::pool(&settings.database, settings.pool_size)
        .with_context(|| format!("opening {}", settings.database.redacted()))?;
    let applied = db::run_migrations(&mut *pool.get()?)?;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    Ok(pool)
}

/// Loads the seed network into an empty database (unless seeding is off).
pub fn seed_if_empty(
    pool: &db::Pool,
    network: &Network,
    country: Option<seed::Country>,
) -> anyhow::Result<()> {
    let Some(country) = country else {
        return Ok(());
    };
    if store::count(&mut *pool.get()?)? > 0 {
        return Ok(());
    }
    let shops = seed::generate(country);
    tracing::info!(
        country = country.code(),
        shops = shops.len(),
        "empty database: loading the seed network (PUDO_SEED=none to skip)"
    );
    network.import(&shops, &mut |_| {})?;
    Ok(())
}

/// Runs the service until it is asked to stop.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let s = settings.clone();
    let (pool, network, keys) = actix_web::rt::task::spawn_blocking(
        move || -> anyhow::Result<(db::Pool, Network, Keys)> {
            let pool = open_database(&s)?;
            let network = Network::new(pool.clone());
            let keys = load_keys(&pool, &s)?;
            seed_if_empty(&pool, &network, s.seed)?;
            network.refresh()?;
            Ok((pool, network, keys))
        },
    )
    .await??;
    let network = Arc::new(network);
    let keys = Arc::new(keys);
    let metrics = Arc::new(Metrics::new()?.with_db_figures_ttl(settings.metrics_db_cache));
    tracing::info!(
        database = %settings.database.redacted(),
        shops = network.index().len(),
        ms = started.elapsed().as_millis() as u64,
        "ready"
    );
    let tasks = [
        tokio::spawn(follow_changes(network.clone(), settings.index_refresh)),
        tokio::spawn(sweep_expired(pool.clone(), settings.sweep_every)),
        tokio::spawn(deliver_webhooks(
            pool.clone(),
            keys.clone(),
            network.clone(),
            settings.webhook_poll,
        )),
    ];
    let writes = start_writes(&pool, &settings, &keys)?;
    let state = AppState {
        writes,
        pool,
        network,
        metrics,
        max_upload_bytes: settings.max_upload_bytes,
        keys,
        partner_token_ttl: settings.auth.partner_token_ttl,
        hold: settings.hold,
        hold_extension_max_days: settings.hold_extension_max_days,
        token_rate_limit: Arc::new(api::rate_limit::RateLimit::new(
            settings.token_rate.per_minute,
            settings.token_rate.burst,
            settings.token_rate.trusted_proxies.clone(),
        )),
        scan_in_limit: settings.scan_in_limit,
    };
    let server = HttpServer::new(move || api::app(state.clone()))
        .workers(settings.workers)
        .shutdown_timeout(30)
        .bind(settings.bind)
        .with_context(|| format!("binding {}", settings.bind))?;
    tracing::info!(address = %settings.bind, "listening");
    server.run().await?;
    for task in tasks {
        task.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Starts the reservation and handover writers: the path this database takes (server-side
/// functions on plain PostgreSQL) and group commit, with the environment's overrides.
pub fn start_writes(
    pool: &db::Pool,
    settings: &Settings,
    keys: &Keys,
) -> anyhow::Result<Arc<pickup::Writes>> {
    let path = pickup::WritePath::for_database(&mut *pool.get()?)?;
    if settings.writes.path == Some(pickup::WritePath::Functions)
        && path != pickup::WritePath::Functions
    {
        tracing::warn!(
            "PUDO_WRITE_PATH=functions: only plain PostgreSQL has them; using statements"
        );
    }
    let is_sqlite = settings.database.backend() == db::Backend::Sqlite;
    let writes = settings.writes.apply(path, is_sqlite, settings.pool_size);
    tracing::info!(
        path = ?writes.path,
        window_us = writes.group_commit.window.as_micros() as u64,
        max_batch = writes.group_commit.max_batch,
        writers = writes.group_commit.writers,
        "writes"
    );
    Ok(Arc::new(pickup::Writes::start(
        pool.clone(),
        writes,
        *keys.data_key(),
        settings.hold,
    )?))
}

/// Loads the token keys and the data key (generating them on first start).
pub fn load_keys(pool: &db::Pool, settings: &Settings) -> anyhow::Result<Keys> {
    let a = &settings.auth;
    Ok(Keys::load(
        &mut *pool.get()?,
        &a.source,
        &a.issuer,
        &a.audience,
    )?)
}

/// Moves parcels past their holding period to expired.
async fn sweep_expired(pool: db::Pool, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let p = pool.clone();
        let result = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
            Ok(pickup::sweep(
                &mut *p.get()?,
                chrono::Utc::now().naive_utc(),
            )?)
        })
        .await;
        match result {
            Ok(Ok(0)) => {}
            Ok(Ok(expired)) => tracing::info!(expired, "holding period over: parcels to return"),
            Ok(Err(e)) => tracing::warn!(error = %e, "sweep failed; retrying"),
            Err(e) => tracing::error!(error = %e, "sweep panicked"),
        }
    }
}

/// Delivers due outbox events to merchants' webhooks.
async fn deliver_webhooks(
    pool: db::Pool,
    keys: Arc<Keys>,
    network: Arc<Network>,
    every: std::time::Duration,
) {
    let agent = pickup::webhooks::agent();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (p, k, a, n) = (pool.clone(), keys.clone(), agent.clone(), network.clone());
        match tokio::task::spawn_blocking(move || {
            pickup::webhooks::dispatch_due_with_points(&p, k.data_key(), &a, &n)
        })
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "webhook delivery failed; retrying"),
            Err(e) => tracing::error!(error = %e, "webhook delivery panicked"),
        }
    }
}

/// Polls the network revision so this instance's index follows imports made by others.
async fn follow_changes(network: Arc<Network>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let n = network.clone();
        match tokio::task::spawn_blocking(move || n.refresh().and_then(|_| n.refresh_loads())).await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "geo index refresh failed; retrying"),
            Err(e) => tracing::error!(error = %e, "geo index refresh panicked"),
        }
    }
}
