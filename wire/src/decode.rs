//! Decoders: borrow from the input, allocate nothing, and validate a whole body before
//! returning it, so a returned record's fields and labels iterate without errors.

use crate::{
    Level, MetricKind, Value, WireError, HEADER_LEN, MAGIC, MAX_FIELDS, MAX_LABELS, MAX_STR_LEN,
};

type Result<T> = std::result::Result<T, WireError>;

/// Cuts the first frame off `buf`: `Ok(None)` when it is not complete yet, else the type
/// byte, the body and the bytes consumed. A length of zero or above `max_len` is an error
/// (the stream cannot be trusted past it).
#[inline]
pub fn split_frame(buf: &[u8], max_len: usize) -> Result<Option<(u8, &[u8], usize)>> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len == 0 || len > max_len {
        return Err(WireError::BadLength { len, max: max_len });
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    Ok(Some((buf[4], &buf[HEADER_LEN..4 + len], 4 + len)))
}

/// A cursor over a body.
struct Rd<'a> {
    b: &'a [u8],
    at: &'static str,
}

impl<'a> Rd<'a> {
    #[inline]
    fn u8(&mut self) -> Result<u8> {
        let (&v, rest) = self.b.split_first().ok_or(WireError::Truncated(self.at))?;
        self.b = rest;
        Ok(v)
    }

    #[inline]
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() < n {
            return Err(WireError::Truncated(self.at));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }

    #[inline]
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(WireError::Invalid(self.at))
    }

    #[inline]
    fn f64(&mut self) -> Result<f64> {
        let b = self.bytes(8)?;
        Ok(f64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    #[inline]
    fn str(&mut self) -> Result<&'a str> {
        let n = self.varint()? as usize;
        if n > MAX_STR_LEN {
            return Err(WireError::BadString(self.at));
        }
        let b = self.bytes(n)?;
        std::str::from_utf8(b).map_err(|_| WireError::BadString(self.at))
    }

    #[inline]
    fn value(&mut self) -> Result<Value<'a>> {
        Ok(match self.u8()? {
            0 => {
                let z = self.varint()?;
                Value::I64(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            1 => Value::U64(self.varint()?),
            2 => Value::F64(self.f64()?),
            3 => Value::Bool(self.u8()? != 0),
            4 => Value::Str(self.str()?),
            _ => return Err(WireError::Invalid("field type")),
        })
    }

    fn level(&mut self) -> Result<Level> {
        Level::from_u8(self.u8()?).ok_or(WireError::Invalid("level"))
    }

    /// Count byte then `count` fields, validated; returns the view.
    fn fields(&mut self) -> Result<Fields<'a>> {
        let n = self.u8()?;
        if n as usize > MAX_FIELDS {
            return Err(WireError::Invalid("field count"));
        }
        let start = self.b;
        self.at = "fields";
        for _ in 0..n {
            self.str()?;
            self.value()?;
        }
        let used = start.len() - self.b.len();
        Ok(Fields::from_parts(n, &start[..used]))
    }

    fn end(&self) -> Result<()> {
        match self.b.len() {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }
}

/// The fields of a span or event: a count and their encoded bytes; iterate for
/// `(key, value)` pairs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields<'a> {
    count: u8,
    bytes: &'a [u8],
}

impl<'a> Fields<'a> {
    /// Views `count` fields encoded (by [`crate::put_field`]) in `bytes`.
    pub fn from_parts(count: u8, bytes: &'a [u8]) -> Self {
        Fields { count, bytes }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Their encoded bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.bytes
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, Value<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.count == 0 {
            return None;
        }
        let mut r = Rd {
            b: self.bytes,
            at: "fields",
        };
        let kv = (r.str().ok()?, r.value().ok()?);
        self.bytes = r.b;
        self.count -= 1;
        Some(kv)
    }
}

/// A span that closed.
#[derive(Debug, Clone, Copy)]
pub struct SpanClose<'a> {
    /// Span name.
    pub name: &'a str,
    /// Target (module path by default).
    pub target: &'a str,
    /// Name of the parent span, empty for a root span.
    pub parent: &'a str,
    /// When it opened, Unix nanoseconds.
    pub start_unix_ns: u64,
    /// How long it stayed open, nanoseconds.
    pub duration_ns: u64,
    /// Its level.
    pub level: Level,
    /// It closed in error (an `error` field, or an ERROR event inside it).
    pub error: bool,
    /// Its fields.
    pub fields: Fields<'a>,
}

/// Decodes a `Span` body.
pub fn decode_span(body: &[u8]) -> Result<SpanClose<'_>> {
    let mut r = Rd {
        b: body,
        at: "span",
    };
    let s = SpanClose {
        name: r.str()?,
        target: r.str()?,
        parent: r.str()?,
        start_unix_ns: r.varint()?,
        duration_ns: r.varint()?,
        level: r.level()?,
        error: r.u8()? != 0,
        fields: r.fields()?,
    };
    r.end()?;
    Ok(s)
}

/// The ids in front of a traced span: which trace it belongs to, its own id and its
/// parent's. Ids are the sender's, unique within one connection; 0 means none (a root span
/// has `parent == 0`, and its `trace` is its own `span` id by convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpanIds {
    /// The trace: the id of its root span.
    pub trace: u64,
    /// This span.
    pub span: u64,
    /// Its parent span, 0 for a root span.
    pub parent: u64,
}

/// Decodes a `TracedSpan` body: the ids, then a `Span` body. A span id or trace id of 0 is
/// invalid.
pub fn decode_traced_span(body: &[u8]) -> Result<(SpanIds, SpanClose<'_>)> {
    let mut r = Rd {
        b: body,
        at: "traced span ids",
    };
    let mut id = || -> Result<u64> {
        let b = r.bytes(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let ids = SpanIds {
        trace: id()?,
        span: id()?,
        parent: id()?,
    };
    if ids.trace == 0 || ids.span == 0 {
        return Err(WireError::Invalid("traced span ids"));
    }
    Ok((ids, decode_span(r.b)?))
}

/// An event (a log line, as a record). Its message is the field named `message`.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// When, Unix nanoseconds.
    pub time_unix_ns: u64,
    /// Level.
    pub level: Level,
    /// Target.
    pub target: &'a str,
    /// Name of the span it happened in, empty when none.
    pub span: &'a str,
    /// Fields, `message` included.
    pub fields: Fields<'a>,
}

/// Decodes an `Event` body.
pub fn decode_event(body: &[u8]) -> Result<Event<'_>> {
    let mut r = Rd {
        b: body,
        at: "event",
    };
    let e = Event {
        time_unix_ns: r.varint()?,
        level: r.level()?,
        target: r.str()?,
        span: r.str()?,
        fields: r.fields()?,
    };
    r.end()?;
    Ok(e)
}

/// An explicit metric sample.
#[derive(Debug, Clone, Copy)]
pub struct Metric<'a> {
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Metric name.
    pub name: &'a str,
    /// Label pairs, iterate with [`Metric::labels`].
    labels: (u8, &'a [u8]),
    /// The number.
    pub value: f64,
    /// The body without the value: identifies the series (kind, name, labels).
    pub key: &'a [u8],
}

impl<'a> Metric<'a> {
    /// Label pairs as sent.
    pub fn labels(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let mut r = Rd {
            b: self.labels.1,
            at: "labels",
        };
        (0..self.labels.0).map_while(move |_| Some((r.str().ok()?, r.str().ok()?)))
    }
}

/// Decodes a `Metric` body.
pub fn decode_metric(body: &[u8]) -> Result<Metric<'_>> {
    let mut r = Rd {
        b: body,
        at: "metric",
    };
    let kind = MetricKind::from_u8(r.u8()?).ok_or(WireError::Invalid("metric kind"))?;
    let name = r.str()?;
    let n = r.u8()?;
    if n as usize > MAX_LABELS {
        return Err(WireError::Invalid("label count"));
    }
    let lstart = r.b;
    r.at = "labels";
    for _ in 0..n {
        r.str()?;
        r.str()?;
    }
    let labels = (n, &lstart[..lstart.len() - r.b.len()]);
    let key = &body[..body.len() - r.b.len()];
    r.at = "metric value";
    let value = r.f64()?;
    r.end()?;
    Ok(Metric {
        kind,
        name,
        labels,
        value,
        key,
    })
}

/// Decodes a `Drops` body: records dropped per level since the previous report.
pub fn decode_drops(body: &[u8]) -> Result<[u64; 5]> {
    let mut r = Rd {
        b: body,
        at: "drops",
    };
    let mut out = [0u64; 5];
    for o in &mut out {
        *o = r.varint()?;
    }
    r.end()?;
    Ok(out)
}

/// The handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello<'a> {
    /// Protocol version the app speaks.
    pub version: u16,
    /// App name (the `app` label of its KPIs).
    pub app: &'a str,
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: &'a str,
}

/// Decodes a `Hello` body. The magic and version come first in every version; a decoder
/// that reads a version it does not speak returns it with empty identity, so the daemon can
/// refuse it clearly.
pub fn decode_hello(body: &[u8]) -> Result<Hello<'_>> {
    let mut r = Rd {
        b: body,
        at: "hello",
    };
    if r.bytes(4).map_err(|_| WireError::BadMagic)? != MAGIC {
        return Err(WireError::BadMagic);
    }
    let v = r.bytes(2)?;
    let version = u16::from_le_bytes([v[0], v[1]]);
    // Versions 1 and 2 share the hello's layout; of another version only the version is read.
    if !(crate::MIN_VERSION..=crate::VERSION).contains(&version) {
        return Ok(Hello {
            version,
            app: "",
            pid: 0,
            host: "",
        });
    }
    let app = r.str()?;
    let pid = u32::try_from(r.varint()?).map_err(|_| WireError::Invalid("pid"))?;
    let host = r.str()?;
    r.end()?;
    Ok(Hello {
        version,
        app,
        pid,
        host,
    })
}

/// Decodes a `Welcome` body: the daemon's version and frame limit.
pub fn decode_welcome(body: &[u8]) -> Result<(u16, u32)> {
    let mut r = Rd {
        b: body,
        at: "welcome",
    };
    let v = r.bytes(2)?;
    let m = r.bytes(4)?;
    Ok((
        u16::from_le_bytes([v[0], v[1]]),
        u32::from_le_bytes([m[0], m[1], m[2], m[3]]),
    ))
}

/// Decodes an `Error` body: code and message.
pub fn decode_error(body: &[u8]) -> Result<(u16, &str)> {
    let mut r = Rd {
        b: body,
        at: "error",
    };
    let c = r.bytes(2)?;
    Ok((u16::from_le_bytes([c[0], c[1]]), r.str()?))
}
