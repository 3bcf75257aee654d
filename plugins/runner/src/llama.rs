//! llama.cpp timing lines, as `llama-server` and the llama.cpp CLI print them after a request:
//!
//! ```text
//! prompt eval time =      35.63 ms /    11 tokens (    3.24 ms per token,   308.74 tokens per second)
//! llama_print_timings:        load time =     652.39 ms
//! ```

/// One timing line.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing<'a> {
    /// What is timed: index into [`PHASES`].
    pub phase: usize,
    /// The text before the first `:`, when there is one (`llama_print_timings`).
    pub target: Option<&'a [u8]>,
    /// Seconds.
    pub time: f64,
    /// Tokens (or runs) processed.
    pub tokens: Option<i64>,
    /// Tokens per second, as printed.
    pub tokens_per_second: Option<f64>,
}

/// Timed phases: the label in the line and the field names it gives
/// (time, tokens, tokens per second).
pub const PHASES: [(&str, [&str; 3]); 5] = [
    (
        "prompt eval",
        [
            "prompt_eval_time",
            "prompt_eval_tokens",
            "prompt_eval_tokens_per_second",
        ],
    ),
    (
        "eval",
        ["eval_time", "eval_tokens", "eval_tokens_per_second"],
    ),
    (
        "load",
        ["load_time", "load_tokens", "load_tokens_per_second"],
    ),
    (
        "sample",
        ["sample_time", "sample_tokens", "sample_tokens_per_second"],
    ),
    (
        "total",
        ["total_time", "total_tokens", "total_tokens_per_second"],
    ),
];

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

/// Scans a line; `None` when it is not a timing line.
pub fn scan(line: &[u8]) -> Option<Timing<'_>> {
    let text = std::str::from_utf8(line).ok()?;
    let at = text.find(" time = ")?;
    let (head, tail) = (&text[..at], &text[at + " time = ".len()..]);
    let (target, label) = match head.rfind(':') {
        Some(c) => (Some(head[..c].trim()), head[c + 1..].trim()),
        None => (None, head.trim()),
    };
    let phase = PHASES.iter().position(|(l, _)| *l == label)?;
    let (ms, after) = tail.split_once(" ms")?;
    let mut t = Timing {
        phase,
        target: target.filter(|t| !t.is_empty()).map(str::as_bytes),
        time: number::<f64>(ms)? / 1000.0,
        tokens: None,
        tokens_per_second: None,
    };
    if let Some(count) = after.trim_start().strip_prefix('/') {
        let count = count.trim_start();
        let end = count
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(count.len());
        t.tokens = number(&count[..end]);
    }
    if let Some((before, _)) = after.split_once(" tokens per second") {
        let start = before.rfind([',', '(']).map_or(0, |i| i + 1);
        t.tokens_per_second = number(&before[start..]);
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_and_cli_lines() {
        let t = scan(b"prompt eval time =      35.63 ms /    11 tokens (    3.24 ms per token,   308.74 tokens per second)").unwrap();
        assert_eq!(PHASES[t.phase].0, "prompt eval");
        assert_eq!(
            (t.target, t.tokens, t.tokens_per_second),
            (None, Some(11), Some(308.74))
        );
        assert!((t.time - 0.03563).abs() < 1e-12);
        let t = scan(b"llama_print_timings:        load time =     652.39 ms").unwrap();
        assert_eq!(
            (PHASES[t.phase].0, t.target),
            ("load", Some(&b"llama_print_timings"[..]))
        );
        assert_eq!((t.tokens, t.tokens_per_second), (None, None));
        let t = scan(b"       eval time =    1234.56 ms /   127 runs   (    9.72 ms per token,   102.87 tokens per second)").unwrap();
        assert_eq!((PHASES[t.phase].0, t.tokens), ("eval", Some(127)));
        assert!(scan(b"boot time = 3 ms").is_none());
        assert!(scan(b"hello").is_none());
    }
}
