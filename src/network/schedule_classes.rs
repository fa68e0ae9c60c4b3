//! Schedule classes: the shops that open and close together, so that map areas can count the
//! shops open at an instant exactly without reading each shop's record (`area.rs`).
//!
//! Two shops are of one class when they have the same time zone, the same weekly hours (the
//! index shares one copy of equal hours) and the same closures: at any instant either both are
//! open or neither is. A network has few classes (a chain's shops share their hours, seeded
//! shops take one of a few schedules per kind), so the area index keeps, per node, a tally per
//! class and kind of its shops, and a query with `open_at` decides each class it meets once
//! ([`OpenClasses`]) and adds up the tallies of the open ones. The class is decided with the
//! very hours, zone and closures its shops have, so the count is the shop-by-shop check's.
//!
//! Classes are numbered in 16 bits; a shop whose class would be past [`MAX_CLASSES`] is
//! [`IRREGULAR`] and is checked on its own record, as are the nodes holding one. A class is
//! never forgotten before the index rebuilds (a shop changing its hours leaves its old class
//! unused, which costs a few bytes).

use super::IndexedShop;
use crate::network::closures::ClosedSpans;
use crate::network::hours::{local_weekday_minute, WeeklyHours};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::Arc;

/// The class of a shop that has none: its own record decides whether it is open.
pub(super) const IRREGULAR: u16 = u16::MAX;
/// Most classes an index numbers.
#[cfg(not(test))]
const MAX_CLASSES: usize = IRREGULAR as usize;
/// Few in tests, so that the property tests meet irregular shops and the nodes holding them.
#[cfg(test)]
const MAX_CLASSES: usize = 6;

#[derive(Debug, Clone)]
struct Schedule {
    tz: Tz,
    hours: Arc<WeeklyHours>,
    closures: ClosedSpans,
}

/// What makes two shops one class: zone, the address of their shared hours (kept alive by the
/// class's own copy, so it names those hours alone) and closures.
type Key = (Tz, usize, ClosedSpans);

/// The classes of an index's shops, numbered from 0 in order of first appearance.
#[derive(Debug, Default, Clone)]
pub(super) struct ScheduleClasses {
    classes: Vec<Schedule>,
    ids: HashMap<Key, u16>,
    /// The last class found, tried first: neighbouring shops often share one.
    last: Option<(Key, u16)>,
}

impl ScheduleClasses {
    /// The class of `shop`, numbering a new one when needed; [`IRREGULAR`] past the limit.
    pub(super) fn class_of(&mut self, shop: &IndexedShop) -> u16 {
        let ptr = Arc::as_ptr(&shop.hours) as usize;
        if let Some(((tz, p, c), id)) = &self.last {
            if *tz == shop.timezone && *p == ptr && *c == shop.closures {
                return *id;
            }
        }
        let key = (shop.timezone, ptr, shop.closures.clone());
        let id = match self.ids.get(&key) {
            Some(&id) => id,
            None if self.classes.len() >= MAX_CLASSES => return IRREGULAR,
            None => {
                let id = self.classes.len() as u16;
                self.classes.push(Schedule {
                    tz: shop.timezone,
                    hours: shop.hours.clone(),
                    closures: shop.closures.clone(),
                });
                self.ids.insert(key.clone(), id);
                id
            }
        };
        self.last = Some((key, id));
        id
    }

    /// Number of classes.
    pub(super) fn len(&self) -> usize {
        self.classes.len()
    }

    /// Approximate heap bytes held (the hours are the index's shared copies).
    pub(super) fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.classes.capacity() * size_of::<Schedule>()
            + self.ids.capacity() * (size_of::<(Key, u16)>() + 1)
    }
}

/// Which classes are open at one instant, each decided the first time a query meets it.
pub(super) struct OpenClasses<'c> {
    classes: &'c ScheduleClasses,
    at: DateTime<Utc>,
    /// Per class: 0 not decided yet, 1 closed, 2 open.
    state: Vec<u8>,
    /// Local weekday and minute at `at`, per zone met.
    local_times: Vec<(Tz, (usize, u16))>,
}

impl<'c> OpenClasses<'c> {
    /// Nothing decided yet.
    pub(super) fn new(classes: &'c ScheduleClasses, at: DateTime<Utc>) -> Self {
        Self {
            classes,
            at,
            state: vec![0; classes.len()],
            local_times: Vec::new(),
        }
    }

    /// Whether the shops of `class` (not [`IRREGULAR`]) are open.
    #[inline]
    pub(super) fn open(&mut self, class: u16) -> bool {
        match self.state.get(usize::from(class)) {
            Some(&2) => true,
            Some(&1) => false,
            _ => self.decide(class),
        }
    }

    #[cold]
    fn decide(&mut self, class: u16) -> bool {
        let classes = self.classes;
        let Some(s) = classes.classes.get(usize::from(class)) else {
            return false;
        };
        let open = self.open_as(s.tz, &s.hours, &s.closures);
        if let Some(state) = self.state.get_mut(usize::from(class)) {
            *state = if open { 2 } else { 1 };
        }
        open
    }

    /// Whether a shop of these hours, zone and closures is open (a shop without a class).
    pub(super) fn open_as(&mut self, tz: Tz, hours: &WeeklyHours, closures: &ClosedSpans) -> bool {
        let (weekday, minute) = self.local_time(tz);
        hours.is_open_local(weekday, minute) && !closures.contains(self.at)
    }

    fn local_time(&mut self, tz: Tz) -> (usize, u16) {
        if let Some(&(_, t)) = self.local_times.iter().find(|(z, _)| *z == tz) {
            return t;
        }
        let t = local_weekday_minute(tz, self.at);
        self.local_times.push((tz, t));
        t
    }
}
