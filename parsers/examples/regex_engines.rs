//! Compares regex-family engines on the Apache benchmark pattern (8 named captures), to pick
//! the one the `regex` parser uses. Parse-only cost of matching and reading capture offsets.
//!
//! `cargo run --release -p kpid-parsers --example regex_engines`

use regex_automata::dfa::onepass;
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::{meta, Input};
use std::time::Instant;

const APACHE: &str = r#"^(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<duration_us>\d+)$"#;

fn lines(n: usize) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x5EED;
    let mut r = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    (0..n)
        .map(|i| {
            format!(
                "10.0.{}.{} - - [23/Nov/2026:10:00:{:02} +0000] \"GET /api/v1/items/{} HTTP/1.1\" {} {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" {}",
                r(256), r(256), i % 60, r(1000), [200, 304, 404, 500][r(4) as usize], r(50_000), r(500_000)
            )
            .into_bytes()
        })
        .collect()
}

fn time(label: &str, lines: &[Vec<u8>], mut f: impl FnMut(&[u8]) -> usize) {
    let mut best = f64::MAX;
    let mut sum = 0;
    for _ in 0..3 {
        sum = 0;
        let t = Instant::now();
        for l in lines {
            sum += f(l);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{label:<48} {:>12.0} lines/s  (check {sum})",
        lines.len() as f64 / best
    );
}

#[allow(clippy::regex_creation_in_loops)] // one build per variant measured
fn main() {
    let lines = lines(300_000);
    for unicode in [true, false] {
        let re = regex::bytes::RegexBuilder::new(APACHE)
            .unicode(unicode)
            .build()
            .unwrap();
        let mut locs = re.capture_locations();
        time(
            &format!("regex::bytes captures_read unicode={unicode}"),
            &lines,
            |l| {
                re.captures_read(&mut locs, l)
                    .map_or(0, |_| locs.get(8).map_or(0, |(s, _)| s))
            },
        );
        time(
            &format!("regex::bytes is_match unicode={unicode}"),
            &lines,
            |l| usize::from(re.is_match(l)),
        );
    }
    let cfg = syntax::Config::new().unicode(false).utf8(false);
    let meta_re = meta::Regex::builder()
        .syntax(cfg)
        .configure(meta::Config::new().utf8_empty(false))
        .build(APACHE)
        .unwrap();
    let mut caps = meta_re.create_captures();
    time("regex_automata::meta captures", &lines, |l| {
        meta_re.captures(Input::new(l), &mut caps);
        caps.get_group(8).map_or(0, |s| s.start)
    });
    let nfa = thompson::Compiler::new()
        .syntax(cfg)
        .configure(thompson::Config::new().utf8(false))
        .build(APACHE)
        .unwrap();
    let dfa = onepass::DFA::new_from_nfa(nfa.clone()).unwrap();
    let mut cache = dfa.create_cache();
    let mut caps = dfa.create_captures();
    time("regex_automata::dfa::onepass captures", &lines, |l| {
        dfa.captures(&mut cache, l, &mut caps);
        caps.get_group(8).map_or(0, |s| s.start)
    });
    let mut slots = vec![None; dfa.get_nfa().group_info().slot_len()];
    time("regex_automata::dfa::onepass search_slots", &lines, |l| {
        let input = Input::new(l).anchored(regex_automata::Anchored::Yes);
        dfa.try_search_slots(&mut cache, &input, &mut slots)
            .unwrap();
        slots[16].map_or(0, |s| s.get())
    });
    let bt =
        regex_automata::nfa::thompson::backtrack::BoundedBacktracker::new_from_nfa(nfa.clone())
            .unwrap();
    let mut bcache = bt.create_cache();
    let mut bcaps = bt.create_captures();
    time("regex_automata backtrack captures", &lines, |l| {
        bt.try_captures(&mut bcache, l, &mut bcaps).unwrap();
        bcaps.get_group(8).map_or(0, |s| s.start)
    });
    let pike = regex_automata::nfa::thompson::pikevm::PikeVM::new_from_nfa(nfa).unwrap();
    let mut pcache = pike.create_cache();
    let mut pcaps = pike.create_captures();
    time("regex_automata pikevm captures", &lines, |l| {
        pike.captures(&mut pcache, l, &mut pcaps);
        pcaps.get_group(8).map_or(0, |s| s.start)
    });
}
