//! Start-up and the HTTP server: migrate, seed an empty database, load the geo index, follow
//! changes made by other instances, serve until SIGINT/SIGTERM, then drain.

use crate::api::{self, metrics::Metrics, AppState};
use crate::auth::Keys;
use crate::config::Settings;
use crate::db;
use crate::db::checkpoint::Checkpointer;
use crate::network::{seed, service::Network, store};
use crate::pickup;
use actix_web::HttpServer;
use anyhow::Context;
use std::sync::Arc;

/// Opens the pool and applies pending migrations.
pub fn open_database(settings: &Settings) -> anyhow::Result<db::Pool> {
    opened(settings, db::pool)
}

/// [`open_database`] for `pudo serve` ([`db::serving_pool`]).
fn open_serving_database(settings: &Settings) -> anyhow::Result<db::Pool> {
    opened(settings, db::serving_pool)
}

fn opened(
    settings: &Settings,
    build: fn(&db::DatabaseUrl, u32) -> Result<db::Pool, db::DbError>,
) -> anyhow::Result<db::Pool> {
    let pool = build(&settings.database, settings.pool_size)
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

/// What `serve` opens before it listens: the pool, the network, the keys and, on SQLite, the
/// checkpoint thread.
type Opened = (db::Pool, Network, Keys, Option<Checkpointer>);

/// Runs the service until it is asked to stop.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let s = settings.clone();
    // `_checkpoints` is held until the server stops (SQLite only), and started before the
    // seed so that a large one is checkpointed as it goes.
    let (pool, network, keys, _checkpoints) =
        actix_web::rt::task::spawn_blocking(move || -> anyhow::Result<Opened> {
            let pool = open_serving_database(&s)?;
            let checkpoints = Checkpointer::start(&s.database, db::checkpoint::EVERY)
                .context("starting the WAL checkpoint thread")?;
            let network = Network::new(pool.clone());
            let keys = load_keys(&pool, &s)?;
            seal_clear_names(&pool, &keys)?;
            seed_if_empty(&pool, &network, s.seed)?;
            network.refresh()?;
            Ok((pool, network, keys, checkpoints))
        })
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
    let mut tasks = vec![
        tokio::spawn(follow_changes(network.clone(), settings.index_refresh)),
        tokio::spawn(sweep_expired(
            pool.clone(),
            settings.sweep_every,
            settings.mail.erase_after_days,
        )),
        tokio::spawn(deliver_webhooks(
            pool.clone(),
            keys.clone(),
            network.clone(),
            settings.webhook_poll,
        )),
    ];
    match settings.mail.mailer.clone() {
        Some(mailer) => {
            tracing::info!(
                server = mailer.server(),
                "customer e-mails go through this SMTP server"
            );
            tasks.push(tokio::spawn(deliver_mails(
                pool.clone(),
                keys.clone(),
                network.clone(),
                mailer,
                metrics.clone(),
                settings.mail.poll,
            )));
        }
        None => tracing::info!(
            "PUDO_SMTP_URL is not set: no customer e-mails are sent (merchants' webhooks are)"
        ),
    }
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

/// Seals the people's names a database of before sealing holds in clear (migration
/// `2026-12-08-000130_sealed_names`; the database never sees the data key, so it cannot).
/// Run at start, before anything is answered; costs one empty index scan once done.
pub fn seal_clear_names(pool: &db::Pool, keys: &Keys) -> anyhow::Result<()> {
    let (sealed, left_out) = pickup::names::seal_clear(keys.data_key(), &mut *pool.get()?)?;
    if sealed > 0 {
        tracing::info!(parcels = sealed, "names held in clear now sealed");
    }
    if !left_out.is_empty() {
        tracing::warn!(
            regions = left_out.len(),
            "names in clear left in regions whose worker is down: sealed at the next start"
        );
    }
    Ok(())
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

/// Moves parcels past their holding period to expired, and erases the customers (e-mail
/// addresses, people's names) of parcels whose life ended more than `erase_after_days` ago.
async fn sweep_expired(pool: db::Pool, every: std::time::Duration, erase_after_days: i64) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let p = pool.clone();
        let result = tokio::task::spawn_blocking(move || -> anyhow::Result<(usize, usize)> {
            let now = chrono::Utc::now().naive_utc();
            let mut conn = p.get()?;
            let expired = pickup::sweep(&mut conn, now)?;
            let erased = pickup::contacts::erase_ended(&mut conn, now, erase_after_days)?;
            let names = pickup::names::erase_ended(&mut conn, now, erase_after_days)?;
            if names > 0 {
                tracing::info!(parcels = names, "names erased");
            }
            Ok((expired, erased))
        })
        .await;
        match result {
            Ok(Ok((expired, erased))) => {
                if expired > 0 {
                    tracing::info!(expired, "holding period over: parcels to return");
                }
                if erased > 0 {
                    tracing::info!(erased, "customer addresses erased");
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "sweep failed; retrying"),
            Err(e) => tracing::error!(error = %e, "sweep panicked"),
        }
    }
}

/// Sends the customer e-mails that are due (src/pickup/mails.rs).
async fn deliver_mails(
    pool: db::Pool,
    keys: Arc<Keys>,
    network: Arc<Network>,
    mailer: pickup::smtp::Mailer,
    metrics: Arc<Metrics>,
    every: std::time::Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (p, k, n, m) = (pool.clone(), keys.clone(), network.clone(), mailer.clone());
        let now = chrono::Utc::now().naive_utc();
        match tokio::task::spawn_blocking(move || {
            pickup::mails::dispatch_due(&p, k.data_key(), &m, &n, now)
        })
        .await
        {
            Ok(Ok(round)) => {
                let mails = &metrics.customer_mails;
                mails.with_label_values(&["sent"]).inc_by(round.sent as u64);
                mails
                    .with_label_values(&["failed"])
                    .inc_by(round.failed as u64);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "customer mail delivery failed; retrying"),
            Err(e) => tracing::error!(error = %e, "customer mail delivery panicked"),
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
