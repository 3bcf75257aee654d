//! ollama's request lines (the Gin web framework's logger):
//!
//! ```text
//! [GIN] 2024/12/03 - 10:30:00 | 200 |    1.234567s |       127.0.0.1 | POST     "/api/generate"
//! ```

/// One request line.
#[derive(Debug, Clone, PartialEq)]
pub struct Request<'a> {
    /// Unix seconds, reading the logged wall-clock time as UTC.
    pub time: Option<f64>,
    /// Response status.
    pub status: u16,
    /// Latency in seconds.
    pub latency: f64,
    /// Client address.
    pub client: &'a [u8],
    /// Request method.
    pub method: &'a [u8],
    /// Request path.
    pub path: &'a [u8],
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Scans a line; `None` when it is not a Gin request line, `Some(Err)` when a part is bad.
pub fn scan(line: &[u8]) -> Option<Result<Request<'_>, &'static str>> {
    let rest = line.strip_prefix(b"[GIN] ")?;
    let mut parts = rest.split(|&b| b == b'|').map(trim);
    let (when, status, latency, client, request) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    Some((|| {
        let status = std::str::from_utf8(status)
            .ok()
            .and_then(|s| s.parse().ok());
        let status = status.ok_or("gin: status is not a number")?;
        let latency = go_duration(latency).ok_or("gin: latency is not a Go duration")?;
        let sp = request
            .iter()
            .position(|&b| b == b' ')
            .ok_or("gin: no method")?;
        let (method, path) = (&request[..sp], trim(&request[sp..]));
        let path = path
            .strip_prefix(b"\"")
            .and_then(|p| p.strip_suffix(b"\""))
            .unwrap_or(path);
        Ok(Request {
            time: gin_time(when),
            status,
            latency,
            client,
            method,
            path,
        })
    })())
}

/// `2024/12/03 - 10:30:00` to Unix seconds.
fn gin_time(t: &[u8]) -> Option<f64> {
    if t.len() != 21 || &t[10..13] != b" - " {
        return None;
    }
    let n =
        |a: usize, b: usize| -> Option<i64> { std::str::from_utf8(&t[a..b]).ok()?.parse().ok() };
    let (y, mo, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (h, mi, s) = (n(13, 15)?, n(16, 18)?, n(19, 21)?);
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + s) as f64)
}

/// A Go `time.Duration` string (`1.5s`, `12.3ms`, `850µs`, `2m3.5s`, `1h0m0s`) in seconds.
pub fn go_duration(s: &[u8]) -> Option<f64> {
    let mut rest = s;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .iter()
            .position(|&b| !(b.is_ascii_digit() || b == b'.'))?;
        let value: f64 = std::str::from_utf8(&rest[..n]).ok()?.parse().ok()?;
        rest = &rest[n..];
        const UNITS: [(&[u8], f64); 8] = [
            (b"ns", 1e-9),
            ("\u{b5}s".as_bytes(), 1e-6),
            ("\u{3bc}s".as_bytes(), 1e-6),
            (b"us", 1e-6),
            (b"ms", 1e-3),
            (b"s", 1.0),
            (b"m", 60.0),
            (b"h", 3600.0),
        ];
        let (unit, scale) = UNITS.iter().find(|(u, _)| rest.starts_with(u))?;
        total += value * scale;
        rest = &rest[unit.len()..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line() {
        let l = br#"[GIN] 2024/12/03 - 10:30:00 | 200 |    1.234567s |       127.0.0.1 | POST     "/api/generate""#;
        let r = scan(l).unwrap().unwrap();
        assert_eq!(r.time, Some(1_733_221_800.0));
        assert_eq!((r.status, r.latency), (200, 1.234567));
        assert_eq!(
            (r.client, r.method, r.path),
            (&b"127.0.0.1"[..], &b"POST"[..], &b"/api/generate"[..])
        );
        assert!(scan(b"[GIN-debug] GET / --> handler").is_none());
        let bad = br#"[GIN] 2024/12/03 - 10:30:00 | 200 | fast | 127.0.0.1 | GET "/""#;
        assert_eq!(scan(bad), Some(Err("gin: latency is not a Go duration")));
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(b"12.5ms"), Some(0.0125));
        assert_eq!(go_duration("850\u{b5}s".as_bytes()), Some(0.00085));
        assert_eq!(go_duration(b"2m3.5s"), Some(123.5));
        assert_eq!(go_duration(b"1h0m0s"), Some(3600.0));
        assert_eq!(go_duration(b"3 s"), None);
        assert_eq!(go_duration(b""), None);
    }
}
