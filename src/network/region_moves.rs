//! A shop re-imported at a position in another region takes every row keyed by it along:
//! the parcels, returns, staged stock and the rest carry their shop's region (the
//! distribution key on Citus), so an import that moves a shop moves those rows in its own
//! transaction.

use crate::db::DbConn;
use diesel::QueryResult;

/// Gives every row of the shops written at `revision` that moved to another region their new
/// region, in every table keyed by shop. Only a moved shop has rows to move: an ordinary
/// import touches no region (the distribution key on Citus).
pub(super) fn move_regions(conn: &mut DbConn, revision: i64) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    if super::load::moved_regions(conn, revision)? == 0 {
        return Ok(());
    }
    if crate::db::is_citus(conn)? {
        // Citus never updates a distribution key: copy the rows with the new region, then
        // delete the old ones (children of the `handins → parcels` key first).
        let mut copies = Vec::new();
        let mut deletes = Vec::new();
        for (table, only) in std::iter::once(("shop_load", "")).chain(REGION_KEYED) {
            let only = only.replace(&format!("{table}."), "t.");
            let (copy, delete) = crate::db::citus_move_sql(
                conn,
                table,
                "shops s",
                &format!(
                    "s.id = t.shop_id AND s.revision = {revision} AND t.region <> s.region{only}"
                ),
                "s.region",
            )?;
            copies.push(copy);
            deletes.push(delete);
        }
        deletes.reverse();
        for sql in copies.iter().chain(&deletes) {
            conn.batch_execute(sql)?;
        }
        return Ok(());
    }
    let mut sql = format!(
        "UPDATE shop_load SET region = s.region FROM shops s \
           WHERE s.id = shop_load.shop_id AND s.revision = {revision} \
           AND shop_load.region <> s.region;"
    );
    for (table, only) in REGION_KEYED {
        sql.push_str(&format!(
            " UPDATE {table} SET region = s.region FROM shops s \
               WHERE s.id = {table}.shop_id AND s.revision = {revision} \
               AND {table}.region <> s.region{only};"
        ));
    }
    conn.batch_execute(&sql)
}

/// The tables whose rows carry their shop's region, with the rows of a moved shop that move
/// with it (an extra condition, or all).
const REGION_KEYED: [(&str, &str); 7] = [
    ("parcels", ""),
    ("returns", ""),
    ("staged_stock", ""),
    ("shop_closures", ""),
    ("handover_attempts", ""),
    ("handins", ""),
    ("manifest_lines", " AND manifest_lines.received IS NULL"),
];
