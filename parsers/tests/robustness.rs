//! Property-style robustness: random and mutated lines never panic any built-in parser, and
//! parsers that cannot reject (`plain`) always produce a record. Deterministic seeds.

use kpid_parsers::{builtin, ParserOptions, Record};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: &[&[u8]] = &[
    br#"{"ts":"2026-11-23T10:00:00Z","level":"info","msg":"a \"q\" \u00e9","a":{"b":[1,{"c":2}]},"n":-1.5e3,"t":true,"z":null}"#,
    b"2026-11-23T10:00:00.123Z INFO pipeline stats fps_in=95.2 queue_rt=2 lat=12ms k=\"x \\\" y\" f",
    b"10.0.0.1 - - [23/Nov/2026:10:00:00 +0000] \"GET /x HTTP/1.1\" 200 512 \"-\" \"curl\" 1234",
    b"[2026-11-23 10:00:00] [main] WARN: slow 1h2m3s \xff\xfe",
    b"W1123 10:00:00.123456 1 main.go:1] x",
];

const ALPHABET: &[u8] = b"{}[]\":,\\=. -+0123456789eEtrufalsn\r\n\t\xff\xc3\xa9[]TZ:/";

fn parsers() -> Vec<Box<dyn kpid_parsers::Parser>> {
    let none = ParserOptions::default();
    let mut v: Vec<_> = ["auto", "json", "logfmt", "plain"]
        .iter()
        .map(|n| builtin(n, &none).unwrap())
        .collect();
    let pattern = ParserOptions {
        pattern: Some(
            r#"^(?P<host>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<msg>[^"]*)" (?P<status>\d+) (?P<bytes>\S+)"#
                .into(),
        ),
    };
    v.push(builtin("regex", &pattern).unwrap());
    v
}

fn run_all(parsers: &mut [Box<dyn kpid_parsers::Parser>], line: &[u8]) {
    for p in parsers.iter_mut() {
        let mut r = Record::new();
        let res = p.parse(line, &mut r);
        if p.name() == "plain" {
            assert!(res.is_ok(), "plain rejected {line:?}");
        }
        if let Err(e) = res {
            assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ps = parsers();
    let mut line = Vec::new();
    for _ in 0..20_000 {
        line.clear();
        let len = rng.below(160);
        let from_alphabet = rng.below(2) == 0;
        for _ in 0..len {
            let b = if from_alphabet {
                ALPHABET[rng.below(ALPHABET.len())]
            } else {
                rng.next() as u8
            };
            line.push(b);
        }
        run_all(&mut ps, &line);
    }
}

#[test]
fn mutated_and_truncated_lines_never_panic() {
    let mut rng = Rng(42);
    let mut ps = parsers();
    for seed in SEEDS {
        for cut in 0..=seed.len() {
            run_all(&mut ps, &seed[..cut]);
            run_all(&mut ps, &seed[cut..]);
        }
        for _ in 0..3_000 {
            let mut line = seed.to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(line.len() + 1);
                match rng.below(3) {
                    0 if at < line.len() => line[at] = ALPHABET[rng.below(ALPHABET.len())],
                    1 if at < line.len() => {
                        line.remove(at);
                    }
                    _ => line.insert(at, rng.next() as u8),
                }
            }
            run_all(&mut ps, &line);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let mut ps = parsers();
    let deep = format!("{}{}", "{\"a\":[".repeat(10_000), "]");
    run_all(&mut ps, deep.as_bytes());
    let deep = "{\"a\":".repeat(100_000);
    run_all(&mut ps, deep.as_bytes());
}
