//! A shop's declaration in the database (capabilities and photo): replaced by the partner
//! itself; an import writes it with the rest of the row (`store::upsert_shops`).

use super::capabilities::Profile;
use super::store::bump_revision;
use crate::db::schema::shops;
use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::QueryResult;

/// Replaces one shop's declared capabilities and photo (the partner's own declaration) and
/// bumps the shop's revision, so that every instance's geo index reloads it as it reloads an
/// import or a pause. `profile` must be valid (`open_24_7` is never declared: the hours say
/// it; the photo passed [`super::capabilities::photo_url`]). Returns `false` for an unknown
/// shop, having changed nothing.
pub fn replace(
    conn: &mut DbConn,
    shop_id: i64,
    profile: &Profile,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let revision = bump_revision(conn)?;
        let changed = diesel::update(shops::table.find(shop_id))
            .set((
                shops::capabilities.eq(profile.capabilities.to_string()),
                shops::photo_url.eq(profile.photo_url.as_deref()),
                shops::revision.eq(revision),
                shops::updated_at.eq(now),
            ))
            .execute(conn)?;
        // An unknown shop rolls the revision back too: nothing was written.
        if changed == 0 {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        Ok(true)
    })
    .or_else(|e| match e {
        diesel::result::Error::RollbackTransaction => Ok(false),
        e => Err(e),
    })
}
