//! What a rule compares ([`compared`]): a gauge's last value, a counter's total or rate, a
//! ratio, an average over a window, a quantile over the summary window or over any window.
//!
//! A quantile over an arbitrary window (`value = "p95"`, `over = "5m"`) comes from the published
//! chart points: each distribution bucket carries its count and its p50, p95 and p99, not its
//! sketch, so the window's quantile is that of the mixture of the buckets, each modelled by the
//! piecewise-linear distribution through its three quantiles (tails extended with the density
//! of the nearest segment). When every bucket has the same distribution the result is exact at
//! p50, p95 and p99; when they differ it lies within the buckets' own quantiles, as the pooled
//! quantile does (the unit tests measure the error on mixtures: a few percent).

use super::rules::{AlertRule, ValueKind};
use crate::kpi::{Kind, KpiView, Point};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// The value `rule` compares for the series `k` at `now` (`by_name`: every series by KPI
/// name, for `ratio_of`); none when there is none (no data, 0/0).
pub(super) fn compared(
    rule: &AlertRule,
    k: &KpiView,
    by_name: &FxHashMap<&str, Vec<&KpiView>>,
    now: f64,
) -> Option<f64> {
    match rule.value {
        ValueKind::Avg => avg(k, rule.over.map_or(60.0, |d| d.0.as_secs_f64()), now),
        q @ (ValueKind::P50 | ValueKind::P95 | ValueKind::P99) if rule.over.is_some() => {
            let over = rule.over.map_or(60.0, |d| d.0.as_secs_f64());
            let pts = k.points.range((now - over) as i64, now as i64, usize::MAX);
            let q = match q {
                ValueKind::P50 => 0.50,
                ValueKind::P95 => 0.95,
                _ => 0.99,
            };
            quantile(&pts, q)
        }
        ValueKind::Ratio => {
            let den_name = rule.ratio_of.as_deref().unwrap_or_default();
            let dens = by_name.get(den_name).map(Vec::as_slice).unwrap_or(&[]);
            let den = match dens.iter().find(|d| d.desc.labels == k.desc.labels) {
                Some(d) => value_of(d, ValueKind::Ratio),
                None => dens
                    .iter()
                    .filter(|d| matches(d, &rule.selector))
                    .filter_map(|d| value_of(d, ValueKind::Ratio))
                    .reduce(|a, b| a + b),
            };
            match (value_of(k, ValueKind::Ratio), den) {
                (Some(n), Some(d)) if d != 0.0 => Some(n / d),
                _ => None,
            }
        }
        other => value_of(k, other),
    }
}

fn value_of(k: &KpiView, v: ValueKind) -> Option<f64> {
    let l = &k.latest;
    match v {
        ValueKind::Last => match k.desc.kind {
            Kind::Gauge => l.value,
            _ => Some(k.total),
        },
        ValueKind::Rate | ValueKind::Ratio => match k.desc.kind {
            Kind::Gauge => l.value,
            _ => l.rate,
        },
        ValueKind::P50 => l.p50,
        ValueKind::P95 => l.p95,
        ValueKind::P99 => l.p99,
        ValueKind::Avg => None,
    }
}

fn avg(k: &KpiView, over: f64, now: f64) -> Option<f64> {
    let pts = k.points.range((now - over) as i64, now as i64, usize::MAX);
    let (mut s, mut n) = (0.0, 0u32);
    for p in &pts {
        if let Point::Value { value, .. } = p {
            if value.is_finite() {
                s += value;
                n += 1;
            }
        }
    }
    (n > 0).then(|| s / n as f64)
}

pub(super) fn matches(k: &KpiView, sel: &BTreeMap<String, String>) -> bool {
    sel.iter()
        .all(|(n, v)| k.desc.labels.iter().any(|(a, b)| a == n && b == v))
}

/// One bucket's model: its count and the knots `(x, F(x))` of its piecewise-linear CDF.
struct Bucket {
    n: f64,
    knots: [(f64, f64); 5],
}

impl Bucket {
    fn of(p: &Point) -> Option<Bucket> {
        let Point::Dist {
            count,
            p50,
            p95,
            p99,
            ..
        } = *p
        else {
            return None;
        };
        if count == 0 || !(p50.is_finite() && p95.is_finite() && p99.is_finite()) {
            return None;
        }
        let (p95, p99) = (p95.max(p50), p99.max(p95.max(p50)));
        let lo = p50 - (p95 - p50) * (0.50 / 0.45);
        let hi = p99 + (p99 - p95) * (0.01 / 0.04);
        Some(Bucket {
            n: count as f64,
            knots: [(lo, 0.0), (p50, 0.5), (p95, 0.95), (p99, 0.99), (hi, 1.0)],
        })
    }

    /// The share of the bucket's observations at or below `x`.
    fn cdf(&self, x: f64) -> f64 {
        let k = &self.knots;
        if x < k[0].0 {
            return 0.0;
        }
        for w in k.windows(2) {
            let ((x0, f0), (x1, f1)) = (w[0], w[1]);
            if x < x1 {
                return if x1 > x0 {
                    f0 + (f1 - f0) * (x - x0) / (x1 - x0)
                } else {
                    f1
                };
            }
        }
        1.0
    }
}

/// The `q` quantile (0 < q < 1) of the observations of the distribution points `points`
/// (other points are ignored); none without observations.
pub fn quantile(points: &[Point], q: f64) -> Option<f64> {
    let buckets: Vec<Bucket> = points.iter().filter_map(Bucket::of).collect();
    let total: f64 = buckets.iter().map(|b| b.n).sum();
    if total == 0.0 {
        return None;
    }
    let (mut lo, mut hi) = buckets.iter().fold((f64::MAX, f64::MIN), |(a, b), k| {
        (a.min(k.knots[0].0), b.max(k.knots[4].0))
    });
    let share = |x: f64| buckets.iter().map(|b| b.n * b.cdf(x)).sum::<f64>() / total;
    // The mixture's CDF is continuous and non-decreasing: bisect for the first x where it
    // reaches q.
    for _ in 0..64 {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        if share(mid) >= q {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bucket of `xs` with its exact quantiles.
    fn bucket(t: i64, xs: &mut [f64]) -> Point {
        xs.sort_by(f64::total_cmp);
        let q = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
        Point::Dist {
            t,
            count: xs.len() as u64,
            p50: q(0.5),
            p95: q(0.95),
            p99: q(0.99),
        }
    }

    fn pooled(all: &mut [f64], q: f64) -> f64 {
        all.sort_by(f64::total_cmp);
        all[((all.len() - 1) as f64 * q).round() as usize]
    }

    /// Deterministic pseudo-normal samples.
    fn normal(seed: u64, n: usize, mean: f64, sd: f64) -> Vec<f64> {
        let mut s = seed;
        let mut u = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| mean + sd * (-2.0 * u().ln()).sqrt() * (std::f64::consts::TAU * u()).cos())
            .collect()
    }

    #[test]
    fn identical_buckets_give_their_own_quantiles() {
        let p = Point::Dist {
            t: 0,
            count: 30,
            p50: 10.0,
            p95: 20.0,
            p99: 30.0,
        };
        let pts = vec![p; 5];
        for (q, want) in [(0.5, 10.0), (0.95, 20.0), (0.99, 30.0)] {
            let got = quantile(&pts, q).unwrap();
            assert!((got - want).abs() < 1e-6, "q{q}: {got}");
        }
        assert_eq!(quantile(&[Point::Value { t: 0, value: 1.0 }], 0.5), None);
        let flat = Point::Dist {
            t: 0,
            count: 3,
            p50: 4.0,
            p95: 4.0,
            p99: 4.0,
        };
        assert_eq!(quantile(&[flat], 0.95), Some(4.0));
    }

    /// The demo's shape: 50 fast buckets, then 10 slow ones (a slow-down).
    #[test]
    fn a_mixture_is_close_to_the_pooled_quantile() {
        let mut all = Vec::new();
        let mut pts = Vec::new();
        for t in 0..60 {
            let (mean, sd) = if t >= 50 { (26.0, 1.2) } else { (8.5, 1.2) };
            let mut xs = normal(t as u64 + 1, 30, mean, sd);
            all.extend_from_slice(&xs);
            pts.push(bucket(t, &mut xs));
        }
        for q in [0.5, 0.95, 0.99] {
            let (got, want) = (quantile(&pts, q).unwrap(), pooled(&mut all, q));
            assert!(
                (got - want).abs() / want < 0.05,
                "q{q}: estimated {got}, pooled {want}"
            );
        }
    }
}
