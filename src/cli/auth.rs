//! `pudo token` and `pudo partner-key`: credentials, printed once on standard output.

use anyhow::Context;
use pudo::auth::Role;
use pudo::config::Settings;
use pudo::server;

/// `pudo token`: a signed token for `role` (a partner token names its shop).
pub fn token(
    settings: &Settings,
    role: Role,
    sub: String,
    shop: Option<String>,
    ttl_hours: i64,
) -> anyhow::Result<()> {
    let pool = server::open_database(settings)?;
    let keys = server::load_keys(&pool, settings)?;
    let shop_id = match (&shop, role) {
        (Some(external_id), Role::Partner) => Some(
            pudo::network::store::id_of(&mut *pool.get()?, external_id)?
                .with_context(|| format!("no shop with external_id {external_id:?}"))?,
        ),
        (None, Role::Partner) => anyhow::bail!("a partner token needs --shop EXTERNAL_ID"),
        (Some(_), _) => anyhow::bail!("--shop is only for partner tokens"),
        (None, _) => None,
    };
    let sub = shop.map_or(sub, |s| format!("shop:{s}"));
    println!(
        "{}",
        keys.issue(&sub, role, shop_id, chrono::Duration::hours(ttl_hours))?
    );
    Ok(())
}

/// `pudo partner-key`: a new API key for the shop (any previous key stops working).
pub fn partner_key(settings: &Settings, shop: &str) -> anyhow::Result<()> {
    let pool = server::open_database(settings)?;
    let Some((_, key)) = pudo::auth::api_keys::rotate(&mut *pool.get()?, shop)? else {
        anyhow::bail!("no shop with external_id {shop:?}");
    };
    eprintln!("API key for shop {shop} (shown once; any previous key no longer works):");
    println!("{key}");
    Ok(())
}
