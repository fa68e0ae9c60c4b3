//! Start-up and the HTTP server: migrate, seed an empty database, load the geo index, follow
//! changes made by other instances, serve until SIGINT/SIGTERM, then drain.

use crate::api::{self, metrics::Metrics, AppState};
use crate::config::Settings;
use crate::db;
use crate::network::{seed, service::Network, store};
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
pub fn seed_if_empty(network: &Network, country: Option<seed::Country>) -> anyhow::Result<()> {
    let Some(country) = country else {
        return Ok(());
    };
    if store::count(&mut *network.conn()?)? > 0 {
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
    let network = actix_web::rt::task::spawn_blocking(move || -> anyhow::Result<Network> {
        let network = Network::new(open_database(&s)?);
        seed_if_empty(&network, s.seed)?;
        network.refresh()?;
        Ok(network)
    })
    .await??;
    let network = Arc::new(network);
    let metrics = Arc::new(Metrics::new()?);
    tracing::info!(
        database = %settings.database.redacted(),
        shops = network.index().len(),
        ms = started.elapsed().as_millis() as u64,
        "ready"
    );
    let follower = tokio::spawn(follow_changes(network.clone(), settings.index_refresh));
    let state = AppState {
        network,
        metrics,
        max_upload_bytes: settings.max_upload_bytes,
    };
    let server = HttpServer::new(move || api::app(state.clone()))
        .workers(settings.workers)
        .shutdown_timeout(30)
        .bind(settings.bind)
        .with_context(|| format!("binding {}", settings.bind))?;
    tracing::info!(address = %settings.bind, "listening");
    server.run().await?;
    follower.abort();
    tracing::info!("stopped");
    Ok(())
}

/// Polls the network revision so this instance's index follows imports made by others.
async fn follow_changes(network: Arc<Network>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let n = network.clone();
        match tokio::task::spawn_blocking(move || n.refresh()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "geo index refresh failed; retrying"),
            Err(e) => tracing::error!(error = %e, "geo index refresh panicked"),
        }
    }
}
