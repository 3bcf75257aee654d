use super::*;
use crate::kpi::Kind;

fn rule(t: &str) -> AlertRule {
    toml::from_str(&format!("name='r'\nkpi='x'\n{t}")).unwrap()
}

fn inst() -> Instance {
    Instance {
        id: String::new(),
        rule: "r".into(),
        kpi: String::new(),
        labels: Labels::new(),
        annotations: Labels::new(),
        state: State::Inactive,
        severity: None,
        value: None,
        since: 0.0,
        fired_at: None,
        cleared_at: None,
        acked: false,
    }
}

/// Runs values one second apart; returns the states.
fn run(r: &AlertRule, vals: &[Option<f64>]) -> Vec<State> {
    let mut i = inst();
    vals.iter()
        .enumerate()
        .map(|(t, v)| {
            transition(r, &mut i, *v, false, t as f64);
            i.state
        })
        .collect()
}

#[test]
fn hysteresis_fires_once() {
    let r = rule("warn=10\nclear=5");
    let vals: Vec<_> = [9.0, 11.0, 9.0, 11.0, 9.5, 12.0, 4.0]
        .iter()
        .map(|v| Some(*v))
        .collect();
    use State::*;
    assert_eq!(
        run(&r, &vals),
        [Inactive, Firing, Firing, Firing, Firing, Firing, Resolved]
    );
}

#[test]
fn for_holds_a_spike_back() {
    let r = rule("warn=10\nfor='2s'");
    let vals: Vec<_> = [11.0, 1.0, 11.0, 11.0, 11.0]
        .iter()
        .map(|v| Some(*v))
        .collect();
    use State::*;
    assert_eq!(
        run(&r, &vals),
        [Pending, Inactive, Pending, Pending, Firing]
    );
}

#[test]
fn keep_firing_for_and_severity() {
    let r = rule("warn=10\ncrit=20\nkeep_firing_for='2s'");
    let mut i = inst();
    transition(&r, &mut i, Some(15.0), false, 0.0);
    assert_eq!(
        (i.state, i.severity),
        (State::Firing, Some(Severity::Warning))
    );
    transition(&r, &mut i, Some(25.0), false, 1.0);
    assert_eq!(i.severity, Some(Severity::Critical));
    transition(&r, &mut i, Some(1.0), false, 2.0);
    transition(&r, &mut i, Some(1.0), false, 3.0);
    assert_eq!(i.state, State::Firing);
    transition(&r, &mut i, Some(1.0), false, 4.0);
    assert_eq!(i.state, State::Resolved);
}

#[test]
fn below_and_no_data() {
    let r = rule("warn=5\nabove=false\nno_data='1s'");
    let mut i = inst();
    transition(&r, &mut i, Some(3.0), false, 0.0);
    assert_eq!(i.state, State::Firing);
    transition(&r, &mut i, None, true, 1.0);
    assert_eq!(i.state, State::Nodata);
    transition(&r, &mut i, Some(9.0), false, 2.0);
    assert_eq!(i.state, State::Resolved);
}

mod on_a_store {
    use super::*;
    use crate::kpi::{Limits, Obs, Publisher, SeriesSpec, Store};

    fn add(s: &mut Store, name: &str, route: &str, kind: Kind, obs: Obs, n: usize, now: f64) {
        let labels = [("route", route)];
        let r = s
            .resolve(&SeriesSpec {
                name,
                labels: &labels,
                kind,
                unit: "",
                help: "",
                buckets: None,
            })
            .unwrap();
        for _ in 0..n {
            s.apply(r, obs, now);
        }
    }

    #[test]
    fn ratio_per_label_set_quantile_and_cap() {
        let now = 1000.5;
        let mut s = Store::new(Limits::default());
        for (route, errs) in [("a", 5), ("b", 0)] {
            add(
                &mut s,
                "requests_total",
                route,
                Kind::Counter,
                Obs::Add(1.0),
                10,
                now,
            );
            add(
                &mut s,
                "errors_total",
                route,
                Kind::Counter,
                Obs::Add(1.0),
                errs,
                now,
            );
            add(
                &mut s,
                "lat",
                route,
                Kind::Distribution,
                Obs::Observe(if errs > 0 { 2.0 } else { 0.1 }),
                50,
                now,
            );
        }
        let snap = Publisher::default().publish(&mut s, now, true);
        let rules: Vec<AlertRule> = vec![
            rule("value='ratio'\nratio_of='requests_total'\nwarn=0.1\ncrit=0.4"),
            toml::from_str("name='slow'\nkpi='lat'\nvalue='p95'\nwarn=1\nselector={route='a'}")
                .unwrap(),
        ];
        let mut rules = rules;
        rules[0].kpi = "errors_total".into();
        let mut e = Evaluator::new(rules.clone(), 100, now);
        let changed = e.eval(&snap, now);
        let names: Vec<(String, Option<&str>, Option<Severity>)> = changed
            .iter()
            .map(|i| {
                (
                    i.rule.clone(),
                    i.labels.get("route").map(String::as_str),
                    i.severity,
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("r".to_owned(), Some("a"), Some(Severity::Critical)),
                ("slow".to_owned(), Some("a"), Some(Severity::Warning)),
            ]
        );
        assert!((changed[0].value.unwrap() - 0.5).abs() < 1e-9);
        // The cap refuses and counts.
        let mut e = Evaluator::new(rules, 1, now);
        e.eval(&snap, now);
        assert_eq!((e.instances.len(), e.refused), (1, 1));
    }
}
