//! The alerts of a report's window, from the state changes history keeps
//! (`crate::history::events`, kind `alert`): each firing (or no-data) interval of an alert
//! instance that overlaps the window, with its worst severity and the value that fired it.

use super::ReportAlert;
use crate::history::{HistoryError, Reader};
use std::collections::BTreeMap;

/// How far before the window state changes are read, to find an alert already firing when
/// the window starts.
pub const LOOKBACK_S: f64 = 30.0 * 86_400.0;
/// Most intervals one report lists (the newest).
pub const MAX_ALERTS: usize = 1000;

/// One stored state change (the fields the report needs of
/// `crate::alerts::recent::Transition`).
#[derive(Debug, serde::Deserialize)]
struct Change {
    at: f64,
    id: String,
    rule: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    to: String,
    severity: Option<String>,
    value: Option<f64>,
}

/// Firing intervals overlapping `[from, to]`, by start time.
pub fn of_window(reader: &Reader, from: f64, to: f64) -> Result<Vec<ReportAlert>, HistoryError> {
    let (rows, _) = reader.events(
        crate::alerts::recent::EVENT_KIND,
        from - LOOKBACK_S,
        to,
        crate::history::events::MAX_ANSWER,
    )?;
    let changes = rows
        .iter()
        .filter_map(|(_, body)| serde_json::from_str::<Change>(body).ok());
    Ok(intervals(changes, from, to))
}

fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 2,
        "warning" => 1,
        _ => 0,
    }
}

fn intervals(changes: impl Iterator<Item = Change>, from: f64, to: f64) -> Vec<ReportAlert> {
    let mut open: BTreeMap<String, ReportAlert> = BTreeMap::new();
    let mut done = Vec::new();
    for c in changes {
        let firing = c.to == "firing" || c.to == "nodata";
        match (open.get_mut(&c.id), firing) {
            (Some(a), true) => {
                let sev = severity(&c);
                if rank(&sev) > rank(&a.severity) {
                    a.severity = sev;
                    a.value = c.value.or(a.value);
                }
            }
            (Some(_), false) => {
                let mut a = open.remove(&c.id).expect("present");
                a.to = Some(c.at);
                done.push(a);
            }
            (None, true) => {
                open.insert(
                    c.id.clone(),
                    ReportAlert {
                        severity: severity(&c),
                        name: c.rule,
                        labels: c.labels,
                        from: c.at,
                        to: None,
                        value: c.value,
                    },
                );
            }
            (None, false) => {}
        }
    }
    done.extend(open.into_values());
    let mut out: Vec<ReportAlert> = done
        .into_iter()
        .filter(|a| a.from <= to && a.to.is_none_or(|t| t >= from))
        .collect();
    out.sort_by(|a, b| a.from.total_cmp(&b.from));
    out.drain(..out.len().saturating_sub(MAX_ALERTS));
    out
}

fn severity(c: &Change) -> String {
    if c.to == "nodata" {
        return "nodata".into();
    }
    c.severity.clone().unwrap_or_else(|| "warning".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(at: f64, id: &str, to: &str, sev: Option<&str>) -> Change {
        Change {
            at,
            id: id.into(),
            rule: format!("R{id}"),
            labels: BTreeMap::new(),
            to: to.into(),
            severity: sev.map(Into::into),
            value: Some(at),
        }
    }

    #[test]
    fn firing_intervals_overlapping_the_window_with_their_worst_severity() {
        let changes = vec![
            ch(10.0, "a", "pending", None),
            ch(20.0, "a", "firing", Some("warning")),
            ch(30.0, "a", "firing", Some("critical")),
            ch(40.0, "a", "resolved", None),
            ch(50.0, "b", "firing", Some("warning")),
            ch(60.0, "c", "nodata", None),
            ch(70.0, "c", "resolved", None),
            ch(1.0, "d", "firing", Some("critical")),
            ch(2.0, "d", "resolved", None),
        ];
        let got = intervals(changes.into_iter(), 15.0, 100.0);
        let view: Vec<(&str, &str, f64, Option<f64>)> = got
            .iter()
            .map(|a| (a.name.as_str(), a.severity.as_str(), a.from, a.to))
            .collect();
        assert_eq!(
            view,
            [
                ("Ra", "critical", 20.0, Some(40.0)),
                ("Rb", "warning", 50.0, None),
                ("Rc", "nodata", 60.0, Some(70.0)),
            ]
        );
        assert_eq!(got[0].value, Some(30.0), "the value that escalated it");
    }
}
