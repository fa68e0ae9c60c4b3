//! The opening-hours parser: generated schedules mean what the module documentation says,
//! their canonical text reads back to the same schedule (the database stores that text and
//! every instance re-reads it), and any other text is either a schedule or an error in words.

use crate::support::config;
use proptest::prelude::*;
use pudo::network::hours::WeeklyHours;

const DAYS: [&str; 7] = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"];
const DAY: u16 = 24 * 60;

/// One rule of a generated schedule: the days it names and its ranges (`None` = off).
#[derive(Debug, Clone)]
pub struct Rule {
    days: Vec<(usize, Option<usize>)>,
    ranges: Option<Vec<(u16, u16)>>,
}

/// A schedule written as text, with the rules it was written from.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The text a partner would type.
    pub text: String,
    rules: Vec<Rule>,
}

fn time(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn day_name(day: usize, upper: bool) -> String {
    if upper {
        DAYS[day].to_ascii_uppercase()
    } else {
        DAYS[day].to_owned()
    }
}

/// Ranges of one rule as written: starts before 24:00, sorted or not, the last one possibly
/// running past midnight (`20:00-02:00`) or to `24:00`.
fn ranges() -> impl Strategy<Value = Vec<(u16, u16)>> {
    (1usize..=3)
        .prop_flat_map(|n| {
            (
                prop::collection::btree_set(0..DAY, 2 * n),
                0u8..3,
                any::<prop::sample::Index>(),
            )
        })
        .prop_map(|(points, last_end, shift)| {
            let points: Vec<u16> = points.into_iter().collect();
            let mut ranges: Vec<(u16, u16)> = points.chunks(2).map(|p| (p[0], p[1])).collect();
            let first_start = ranges[0].0;
            if let Some(last) = ranges.last_mut() {
                match last_end {
                    // Past midnight, ending before the first range starts.
                    1 if first_start > 0 => last.1 = shift.index(first_start as usize) as u16,
                    2 => last.1 = DAY,
                    _ => {}
                }
            }
            ranges
        })
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        prop::collection::vec((0usize..7, prop::option::of(0usize..7)), 1..=3),
        prop::option::weighted(0.85, ranges()),
    )
        .prop_map(|(days, ranges)| Rule { days, ranges })
}

/// A valid schedule in the many ways people write one.
pub fn schedule() -> impl Strategy<Value = Schedule> {
    (
        prop::collection::vec(rule(), 1..=4),
        prop::sample::select(vec![";", "; ", " ; "]),
        any::<bool>(),
        any::<prop::sample::Index>(),
        prop::sample::select(vec!["off", "closed", "OFF"]),
    )
        .prop_map(|(rules, separator, upper, rotate, off)| {
            let text = rules
                .iter()
                .map(|r| {
                    let days: Vec<String> = r
                        .days
                        .iter()
                        .map(|&(a, b)| match b {
                            Some(b) => format!("{}-{}", day_name(a, upper), day_name(b, upper)),
                            None => day_name(a, upper),
                        })
                        .collect();
                    let times = match &r.ranges {
                        None => off.to_owned(),
                        Some(ranges) => {
                            // Written in any order: the parser sorts them.
                            let mut written: Vec<String> = ranges
                                .iter()
                                .map(|&(s, e)| format!("{}-{}", time(s), time(e)))
                                .collect();
                            let by = rotate.index(written.len());
                            written.rotate_left(by);
                            written.join(",")
                        }
                    };
                    format!("{} {times}", days.join(","))
                })
                .collect::<Vec<_>>()
                .join(separator);
            Schedule { text, rules }
        })
}

impl Schedule {
    /// Whether the schedule is open at `minute` of `weekday`, straight from the documented
    /// rules: a later rule replaces an earlier one for its days; days no rule names are closed;
    /// a range ending before it starts runs into the next day.
    fn open(&self, weekday: usize, minute: u16) -> bool {
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        for rule in &self.rules {
            let ranges: Vec<(u16, u16)> = rule
                .ranges
                .iter()
                .flatten()
                .map(|&(s, e)| if e > s { (s, e) } else { (s, e + DAY) })
                .collect();
            for &(a, b) in &rule.days {
                let mut d = a;
                loop {
                    days[d] = ranges.clone();
                    if Some(d) == b || b.is_none() {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
        }
        days[weekday]
            .iter()
            .any(|&(s, e)| s <= minute && minute < e)
            || days[(weekday + 6) % 7]
                .iter()
                .any(|&(_, e)| minute + DAY < e)
    }
}

/// Text built from the parser's own vocabulary, so that most inputs get past the first token.
fn hours_like_text() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "Mo", "Tu", "We", "Th", "Fr", "Sa", "Su", "mo", "SU", "PH", "-", ",", ";", " ", "  ", "\t",
        "09:00", "18:00", "24:00", "00:00", "23:59", "25:00", "12:60", "9:00", "+9:00", "09:0",
        "0900", ":", "off", "closed", "24/7", "é", "中", "\u{0}", "-1", "99999",
    ]);
    prop::collection::vec(token, 0..24).prop_map(|t| t.concat())
}

fn check_any_text(text: &str) -> Result<(), TestCaseError> {
    match WeeklyHours::parse(text) {
        Ok(hours) => {
            let canonical = hours.to_string();
            let again = WeeklyHours::parse(&canonical);
            prop_assert_eq!(
                again.as_ref(),
                Ok(&hours),
                "{:?} read as {:?}",
                text,
                canonical
            );
            for day in 0..7 {
                for minute in (0..DAY).step_by(7) {
                    let _ = hours.is_open_local(day, minute);
                }
            }
        }
        Err(e) => {
            prop_assert_eq!(e.text.as_str(), text);
            prop_assert!(!e.reason.trim().is_empty());
            prop_assert!(e.to_string().contains(e.reason.as_str()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(4))]

    #[test]
    fn a_written_schedule_means_what_the_rules_say(s in schedule()) {
        let hours = WeeklyHours::parse(&s.text)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (day, name) in DAYS.iter().enumerate() {
            for minute in 0..DAY {
                prop_assert_eq!(
                    hours.is_open_local(day, minute),
                    s.open(day, minute),
                    "{} on {} at {}", s.text, name, time(minute)
                );
            }
        }
        let canonical = hours.to_string();
        prop_assert_eq!(WeeklyHours::parse(&canonical), Ok(hours), "canonical {}", canonical);
    }

    #[test]
    fn hours_like_text_is_a_schedule_or_an_error(text in hours_like_text()) {
        check_any_text(&text)?;
    }

    #[test]
    fn any_text_is_a_schedule_or_an_error(text in any::<String>()) {
        check_any_text(&text)?;
    }

    #[test]
    fn one_broken_rule_rejects_the_text(
        s in schedule(),
        broken in prop::sample::select(BROKEN_RULES),
        at_end in any::<bool>(),
    ) {
        let text = if at_end { format!("{}; {broken}", s.text) } else { format!("{broken}; {}", s.text) };
        let err = WeeklyHours::parse(&text).expect_err("a broken rule");
        prop_assert!(!err.reason.is_empty());
    }
}

/// Rules that must be refused, each for a reason a partner can act on.
pub const BROKEN_RULES: &[&str] = &[
    "Mo-Fr 9:00-18:00",
    "Mo-Fr 09:00-25:00",
    "Mo 10:00-10:00",
    "Mo 09:00-12:00,11:00-13:00",
    "Xx 09:00-10:00",
    "Mo",
    "Mo-Fr 09:00",
    "Mo-Fr 09:60-10:00",
    "Mo 24:00-01:00",
    "Mo +9:00-18:00",
    "Mo 09:00-+1:00",
    "Mo-Fr 0900-1800",
    "Mo-Fr 09:00-18:00 PH",
    "Mo- 09:00-10:00",
    "Mo,,Tu 09:00-10:00",
    "Mo 09:00-10:00,",
    "Mo ０９:００-10:00",
];
