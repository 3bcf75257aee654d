//! A byte scanner for the Common / Combined Log Format that nginx and Apache write:
//!
//! ```text
//! 203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08" 0.042
//! ```
//!
//! Referer and user agent (combined format) are optional, as is a trailing request time
//! (nginx `$request_time`, Apache `%D` / `%T`). Nothing is allocated: every text field is a
//! slice of the line.

/// One access-log line.
#[derive(Debug, Clone, PartialEq)]
pub struct Access<'a> {
    /// Client address.
    pub remote_addr: &'a [u8],
    /// Authenticated user, `None` for `-`.
    pub user: Option<&'a [u8]>,
    /// Unix seconds.
    pub time: Option<f64>,
    /// The raw request line.
    pub request: &'a [u8],
    /// Request method, when the request line has three parts.
    pub method: Option<&'a [u8]>,
    /// Path without its query string.
    pub path: Option<&'a [u8]>,
    /// Query string without its `?`.
    pub query: Option<&'a [u8]>,
    /// `HTTP/1.1`...
    pub protocol: Option<&'a [u8]>,
    /// Response status.
    pub status: u16,
    /// Response body bytes (`-` counts as 0).
    pub bytes: u64,
    /// Referer, `None` when absent or `-`.
    pub referer: Option<&'a [u8]>,
    /// User agent, `None` when absent or `-`.
    pub user_agent: Option<&'a [u8]>,
    /// The trailing number as written, in the unit the log format uses.
    pub request_time: Option<f64>,
}

/// Why a line is not an access-log line, or a broken one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    /// The line does not have the shape of an access-log line.
    NoMatch,
    /// The shape is right but this part is wrong.
    Bad(&'static str),
}

struct Cursor<'a> {
    line: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn word(&mut self) -> Option<&'a [u8]> {
        let rest = &self.line[self.pos..];
        let n = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        self.pos += n;
        self.skip_spaces();
        Some(&rest[..n])
    }

    fn skip_spaces(&mut self) {
        while self.line.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    /// Text between `open` and `close`; a quoted string may hold `\"`.
    fn delimited(&mut self, open: u8, close: u8) -> Option<&'a [u8]> {
        if self.line.get(self.pos) != Some(&open) {
            return None;
        }
        let start = self.pos + 1;
        let mut i = start;
        while let Some(n) = memchr::memchr2(close, b'\\', self.line.get(i..)?) {
            i += n;
            if self.line[i] == b'\\' {
                i += 2;
                continue;
            }
            self.pos = i + 1;
            self.skip_spaces();
            return Some(&self.line[start..i]);
        }
        None
    }

    fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }
}

fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(d - b'0');
    }
    Some(n)
}

fn dash(s: &[u8]) -> Option<&[u8]> {
    (s != b"-" && !s.is_empty()).then_some(s)
}

/// Scans one line.
pub fn scan(line: &[u8]) -> Result<Access<'_>, ScanError> {
    let mut c = Cursor { line, pos: 0 };
    let remote_addr = c.word().ok_or(ScanError::NoMatch)?;
    let _ident = c.word().ok_or(ScanError::NoMatch)?;
    let user = c.word().ok_or(ScanError::NoMatch)?;
    let time = c.delimited(b'[', b']').ok_or(ScanError::NoMatch)?;
    let request = c.delimited(b'"', b'"').ok_or(ScanError::NoMatch)?;
    let status = c.word().ok_or(ScanError::NoMatch)?;
    let status = number(status)
        .filter(|s| (100..=999).contains(s))
        .ok_or(ScanError::Bad("status is not a 3-digit number"))? as u16;
    let bytes = c.word().ok_or(ScanError::Bad("missing response size"))?;
    let bytes = match bytes {
        b"-" => 0,
        b => number(b).ok_or(ScanError::Bad("response size is not a number"))?,
    };
    let mut a = Access {
        remote_addr,
        user: dash(user),
        time: parse_time(time),
        request,
        method: None,
        path: None,
        query: None,
        protocol: None,
        status,
        bytes,
        referer: None,
        user_agent: None,
        request_time: None,
    };
    if a.time.is_none() {
        return Err(ScanError::Bad("time is not dd/Mon/yyyy:hh:mm:ss +zzzz"));
    }
    let mut parts = request.splitn(3, |&b| b == b' ');
    if let (Some(m), Some(target), Some(p)) = (parts.next(), parts.next(), parts.next()) {
        a.method = Some(m);
        a.protocol = Some(p);
        match target.iter().position(|&b| b == b'?') {
            Some(q) => (a.path, a.query) = (Some(&target[..q]), Some(&target[q + 1..])),
            None => a.path = Some(target),
        }
    }
    if let Some(referer) = c.delimited(b'"', b'"') {
        a.referer = dash(referer);
        a.user_agent = c.delimited(b'"', b'"').and_then(dash);
    }
    if !c.at_end() {
        let last = line[c.pos..]
            .rsplit(|&b| b == b' ')
            .next()
            .unwrap_or_default();
        a.request_time = std::str::from_utf8(last).ok().and_then(|s| s.parse().ok());
    }
    Ok(a)
}

/// `10/Oct/2000:13:55:36 -0700` to Unix seconds.
pub fn parse_time(t: &[u8]) -> Option<f64> {
    if t.len() != 26 || t[2] != b'/' || t[6] != b'/' || t[11] != b':' || t[20] != b' ' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| number(&t[r]).map(|v| v as i64);
    let day = n(0..2)?;
    let month = match &t[3..6] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let year = n(7..11)?;
    let (h, m, s) = (n(12..14)?, n(15..17)?, n(18..20)?);
    let sign = match t[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let offset = sign * (n(22..24)? * 3600 + n(24..26)? * 60);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + h * 3600 + m * 60 + s - offset) as f64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_line_with_request_time() {
        let line = br#"203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08 (x)" 0.042"#;
        let a = scan(line).unwrap();
        assert_eq!(a.remote_addr, b"203.0.113.9");
        assert_eq!(a.user, Some(&b"frank"[..]));
        assert_eq!(a.time, Some(971_211_336.0));
        assert_eq!(a.method, Some(&b"GET"[..]));
        assert_eq!(a.path, Some(&b"/a.gif"[..]));
        assert_eq!(a.query, Some(&b"x=1"[..]));
        assert_eq!(a.protocol, Some(&b"HTTP/1.0"[..]));
        assert_eq!((a.status, a.bytes), (200, 2326));
        assert_eq!(a.referer, Some(&b"http://ref/"[..]));
        assert_eq!(a.user_agent, Some(&b"Mozilla/4.08 (x)"[..]));
        assert_eq!(a.request_time, Some(0.042));
    }

    #[test]
    fn common_format_and_odd_requests() {
        let a = scan(br#"::1 - - [01/Jan/1970:00:00:00 +0000] "-" 400 - "#).unwrap();
        assert_eq!(
            (a.user, a.time, a.method, a.status, a.bytes),
            (None, Some(0.0), None, 400, 0)
        );
        let a = scan(br#"h - - [29/Feb/2024:23:59:59 +0100] "GET /q\"x HTTP/1.1" 304 0 "-" "-""#);
        let a = a.unwrap();
        assert_eq!(a.time, Some(1_709_247_599.0));
        assert_eq!(a.path, Some(&br#"/q\"x"#[..]));
        assert_eq!(
            (a.referer, a.user_agent, a.request_time),
            (None, None, None)
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(scan(b"hello world"), Err(ScanError::NoMatch));
        assert_eq!(scan(b""), Err(ScanError::NoMatch));
        let bad = br#"h - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 2x0 1"#;
        assert_eq!(
            scan(bad),
            Err(ScanError::Bad("status is not a 3-digit number"))
        );
        let bad = br#"h - - [10/Foo/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1"#;
        assert!(matches!(scan(bad), Err(ScanError::Bad(_))));
    }
}
