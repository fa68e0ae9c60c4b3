//! Peak events (e.g. Singles Day): the window a forecast and its plans are for.

use super::StagingError;
use crate::db::schema::events;
use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

/// A peak event.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = events)]
pub struct Event {
    /// Id.
    pub id: i64,
    /// Name, e.g. "Singles Day 2026".
    pub name: String,
    /// Window start (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub starts_at: NaiveDateTime,
    /// Window end (UTC).
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub ends_at: NaiveDateTime,
    /// IANA zone the window was given in.
    pub timezone: String,
    /// Who created it.
    pub created_by: String,
    /// UTC.
    #[serde(serialize_with = "crate::timestamps::utc")]
    pub created_at: NaiveDateTime,
}

/// Creates an event.
pub fn create_event(
    conn: &mut DbConn,
    name: &str,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    timezone: &str,
    created_by: &str,
    now: NaiveDateTime,
) -> Result<Event, StagingError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(StagingError::Invalid {
            field: "name",
            message: "must be 1 to 200 characters".into(),
        });
    }
    if ends_at <= starts_at {
        return Err(StagingError::Invalid {
            field: "ends_at",
            message: "must be after starts_at".into(),
        });
    }
    conn.transaction(|conn| {
        let id = diesel::insert_into(events::table)
            .values((
                events::name.eq(name),
                events::starts_at.eq(starts_at),
                events::ends_at.eq(ends_at),
                events::timezone.eq(timezone),
                events::created_by.eq(created_by),
                events::created_at.eq(now),
            ))
            .returning(events::id)
            .get_result::<i64>(conn)?;
        // The id the insert itself returned: never another planner's event created meanwhile.
        event(conn, id)
    })
}

/// Every event, newest first.
pub fn list_events(conn: &mut DbConn) -> QueryResult<Vec<Event>> {
    events::table
        .select(Event::as_select())
        .order(events::id.desc())
        .load(conn)
}

/// One event, or [`StagingError::EventNotFound`].
pub(crate) fn event(conn: &mut DbConn, id: i64) -> Result<Event, StagingError> {
    events::table
        .find(id)
        .select(Event::as_select())
        .first(conn)
        .optional()?
        .ok_or(StagingError::EventNotFound(id))
}
