//! A forgiving reader for plugin options.

/// Splits an options string into `(key, value)` pairs.
///
/// Accepts `key=value` pairs separated by commas, semicolons or newlines, `key = "value"`
/// lines (a TOML table as text), and a flat JSON object (`{"key": "value", "n": 3}`). Keys and
/// values are trimmed and lose their surrounding quotes; a bare `key` has an empty value.
/// Values cannot contain separators.
pub fn options(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let text = text.trim();
    let json = text.starts_with('{') && text.ends_with('}');
    let body = if json { &text[1..text.len() - 1] } else { text };
    body.split([',', ';', '\n']).filter_map(move |item| {
        let item = item.trim();
        if item.is_empty() || item.starts_with('#') {
            return None;
        }
        let (key, value) = match json {
            true => item.split_once(':').unwrap_or((item, "")),
            false => item.split_once('=').unwrap_or((item, "")),
        };
        Some((unquote(key), unquote(value)))
    })
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::options;

    fn all(s: &str) -> Vec<(&str, &str)> {
        options(s).collect()
    }

    #[test]
    fn pairs_toml_and_json_read_the_same() {
        let want = vec![("unit", "ms"), ("agent", "false")];
        assert_eq!(all("unit=ms,agent=false"), want);
        assert_eq!(all("unit = \"ms\"\nagent = false\n"), want);
        assert_eq!(all(r#"{"unit": "ms", "agent": false}"#), want);
        assert_eq!(all(""), vec![]);
        assert_eq!(all("flag"), vec![("flag", "")]);
    }
}
