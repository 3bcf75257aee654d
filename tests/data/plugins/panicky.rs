//! A Rust plugin that panics on lines starting with `panic`, built by the tests with rustc
//! against the kpid-plugin SDK.

use kpid_plugin::{declare_parser, Out, Parser, Reject};

struct Panicky;

impl Parser for Panicky {
    fn new(_options: &str) -> Result<Self, String> {
        Ok(Panicky)
    }

    fn parse(&mut self, line: &[u8], out: &mut Out<'_>) -> Result<(), Reject> {
        if line.starts_with(b"panic") {
            panic!("asked to panic by {:?}", String::from_utf8_lossy(line));
        }
        out.int("len", line.len() as i64);
        Ok(())
    }
}

declare_parser!(Panicky, name = "panicky", version = "0.0.1");
