//! The `[dashboard]` config section (docs/dashboard.md): panels a user arranges
//! (`[[dashboard.panel]]`: title, KPIs by name or selector, chart kind, order, stacked or
//! overlaid, threshold lines) and the header strip's KPIs. Every table rejects unknown fields
//! and a panel without a title or KPIs is refused, so that an error names the file, the line
//! and the field like the rest of the config. [`Dashboard`] holds the section in force: a
//! config reload swaps it and bumps its revision, and the WebSocket then sends every KPI's
//! placement again.

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Most panels a config may declare.
pub const MAX_PANELS: usize = 200;

/// `[dashboard]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// KPI names of the header strip, in order (default: chosen from the catalogue: throughput
    /// in and out, end-to-end latency, errors).
    #[serde(default)]
    pub headline: Option<Vec<String>>,
    /// `[[dashboard.panel]]` tables.
    #[serde(default, rename = "panel", deserialize_with = "panels")]
    pub panels: Vec<PanelConfig>,
}

fn panels<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PanelConfig>, D::Error> {
    let v = Vec::<PanelConfig>::deserialize(d)?;
    if v.len() > MAX_PANELS {
        return Err(serde::de::Error::custom(format!(
            "too many dashboard panels: {} (at most {MAX_PANELS})",
            v.len()
        )));
    }
    Ok(v)
}

/// How a panel draws its KPIs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    /// Lines.
    #[default]
    Line,
    /// Filled areas.
    Area,
    /// Bars, one per bucket.
    Bars,
    /// No chart: cards only.
    None,
}

/// `[[dashboard.panel]]`: one chart (and its cards) with the KPIs its selectors pick.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawPanel")]
pub struct PanelConfig {
    /// Title shown over the chart.
    pub title: String,
    /// KPI names, series ids (`name{label="v"}`) or name prefixes ending in `*`.
    pub kpis: Vec<String>,
    /// Chart kind (default `line`).
    pub chart: ChartKind,
    /// Position among the panels (default: the order of the file).
    pub order: Option<i32>,
    /// Series stacked (summed) rather than overlaid.
    pub stacked: bool,
    /// Horizontal threshold lines, in the KPIs' unit.
    pub thresholds: Vec<f64>,
    /// Section the panel sits in (default `Panels`).
    pub section: Option<String>,
    /// Text under the title.
    pub help: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPanel {
    title: String,
    kpis: Vec<String>,
    #[serde(default)]
    chart: ChartKind,
    order: Option<i32>,
    #[serde(default)]
    stacked: bool,
    #[serde(default)]
    thresholds: Vec<f64>,
    section: Option<String>,
    help: Option<String>,
}

impl TryFrom<RawPanel> for PanelConfig {
    type Error = String;

    fn try_from(r: RawPanel) -> Result<Self, String> {
        if r.title.trim().is_empty() {
            return Err("dashboard panel: `title` is empty".into());
        }
        if r.kpis.is_empty() || r.kpis.iter().any(|k| k.trim().is_empty()) {
            return Err(format!(
                "dashboard panel `{}`: `kpis` must list at least one KPI name or selector, none empty",
                r.title
            ));
        }
        if let Some(t) = r.thresholds.iter().find(|t| !t.is_finite()) {
            return Err(format!(
                "dashboard panel `{}`: threshold {t} is not a finite number",
                r.title
            ));
        }
        Ok(PanelConfig {
            title: r.title,
            kpis: r.kpis,
            chart: r.chart,
            order: r.order,
            stacked: r.stacked,
            thresholds: r.thresholds,
            section: r.section.filter(|s| !s.trim().is_empty()),
            help: r.help,
        })
    }
}

/// The `[dashboard]` section in force, swapped by a config reload.
#[derive(Debug, Default)]
pub struct Dashboard {
    cfg: RwLock<Arc<DashboardConfig>>,
    rev: AtomicU64,
}

impl Dashboard {
    /// The section read at start.
    pub fn new(cfg: DashboardConfig) -> Arc<Dashboard> {
        Arc::new(Dashboard {
            cfg: RwLock::new(Arc::new(cfg)),
            rev: AtomicU64::new(0),
        })
    }

    /// The section in force.
    pub fn get(&self) -> Arc<DashboardConfig> {
        self.cfg.read().clone()
    }

    /// Puts `cfg` in force; true when it differs from the one before.
    pub fn set(&self, cfg: DashboardConfig) -> bool {
        let mut cur = self.cfg.write();
        if **cur == cfg {
            return false;
        }
        *cur = Arc::new(cfg);
        self.rev.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Bumped by every change.
    pub fn rev(&self) -> u64 {
        self.rev.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct File {
        dashboard: DashboardConfig,
    }

    fn parse(s: &str) -> Result<DashboardConfig, String> {
        toml::from_str::<File>(s)
            .map(|f| f.dashboard)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn reads_panels_with_defaults() {
        let d = parse(
            "[dashboard]\nheadline = [\"a\"]\n[[dashboard.panel]]\ntitle = \"GPU\"\nkpis = [\"gpu_*\"]\nchart = \"area\"\nstacked = true\nthresholds = [90]\n",
        )
        .unwrap();
        assert_eq!(d.headline.as_deref(), Some(&["a".to_owned()][..]));
        let p = &d.panels[0];
        assert_eq!(
            (p.title.as_str(), p.chart, p.stacked),
            ("GPU", ChartKind::Area, true)
        );
        assert_eq!(p.thresholds, vec![90.0]);
        assert_eq!((p.order, p.section.as_deref()), (None, None));
    }

    #[test]
    fn unknown_fields_and_empty_panels_are_refused_with_their_line() {
        let e =
            parse("[dashboard]\n[[dashboard.panel]]\ntitle = \"x\"\nkpis = [\"a\"]\ncolour = 1\n")
                .unwrap_err();
        assert!(e.contains("colour") && e.contains("line 5"), "{e}");
        let e = parse("[dashboard]\n[[dashboard.panel]]\ntitle = \"x\"\nkpis = []\n").unwrap_err();
        assert!(
            e.contains("`kpis` must list") && e.contains("line 2"),
            "{e}"
        );
        let e = parse(
            "[dashboard]\n[[dashboard.panel]]\ntitle = \"x\"\nkpis = [\"a\"]\nchart = \"pie\"\n",
        )
        .unwrap_err();
        assert!(e.contains("pie") && e.contains("line 5"), "{e}");
        let e = parse("[dashboard]\nlayout = 1\n").unwrap_err();
        assert!(e.contains("layout"), "{e}");
    }

    #[test]
    fn a_reload_bumps_the_revision_only_on_change() {
        let d = Dashboard::new(DashboardConfig::default());
        assert!(!d.set(DashboardConfig::default()));
        assert_eq!(d.rev(), 0);
        let c = DashboardConfig {
            headline: Some(vec!["x".into()]),
            ..Default::default()
        };
        assert!(d.set(c.clone()));
        assert_eq!((d.rev(), d.get().headline.clone()), (1, c.headline));
    }
}
