//! Keys that fill a [`Record`]'s dedicated slots instead of becoming fields.
//!
//! | slot | keys |
//! | --- | --- |
//! | level | `level`, `lvl`, `severity`, `log.level` |
//! | message | `msg`, `message` |
//! | timestamp | `ts`, `time`, `timestamp`, `@timestamp` |
//! | target | `target`, `logger`, `module`, `log.logger` |
//!
//! A slot key fills its slot and is *not* repeated as a field (so a `ts` epoch number never
//! becomes a gauge). It stays a field when its value cannot be understood (an unknown level
//! word, a time that does not parse, a numeric message) or when the slot is already filled.

use crate::value::typed;
use crate::{timestamp, Level, Record, Value};
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Level,
    Message,
    Time,
    Target,
}

pub(crate) fn slot_of(key: &[u8]) -> Option<Slot> {
    Some(match key {
        b"level" | b"lvl" | b"severity" | b"log.level" => Slot::Level,
        b"msg" | b"message" => Slot::Message,
        b"ts" | b"time" | b"timestamp" | b"@timestamp" => Slot::Time,
        b"target" | b"logger" | b"module" | b"log.logger" => Slot::Target,
        _ => return None,
    })
}

/// Numeric levels as written by pino / bunyan (10 trace … 60 fatal).
fn numeric_level(n: f64) -> Option<Level> {
    Some(match n as i64 {
        10 => Level::Trace,
        20 => Level::Debug,
        30 => Level::Info,
        40 => Level::Warn,
        50 | 60 => Level::Error,
        _ => return None,
    })
}

/// Stores a typed value: in its slot when `slot` applies and the value fits, else as a field.
/// `raw` is the token the value was typed from (empty for text values): a field keeps it for
/// its label text, the time slot keeps it as [`Record::time_text`].
pub(crate) fn assign<'a>(
    out: &mut Record<'a>,
    slot: Option<Slot>,
    key: Cow<'a, [u8]>,
    value: Value<'a>,
    raw: &'a [u8],
) {
    match (slot, value) {
        (Some(Slot::Level), v) if out.level.is_none() => {
            let level = match &v {
                Value::Str(s) => Level::from_bytes(s),
                Value::Int(_) | Value::Float(_) => v.as_f64().and_then(numeric_level),
                _ => None,
            };
            match level {
                Some(l) => out.level = Some(l),
                None => out.push_raw(key, v, raw),
            }
        }
        (Some(Slot::Message), Value::Str(s)) if out.message.is_none() => out.message = Some(s),
        (Some(Slot::Target), Value::Str(s)) if out.target.is_none() => out.target = Some(s),
        (Some(Slot::Time), v) if out.timestamp.is_none() => {
            let t = match &v {
                Value::Str(s) => timestamp::parse_full(s),
                Value::Int(_) | Value::Float(_) => v.as_f64().and_then(timestamp::epoch),
                _ => None,
            };
            match (t, v) {
                (Some(t), Value::Str(s)) => {
                    out.timestamp = Some(t);
                    out.time_text = Some(s);
                }
                (Some(t), _) => {
                    out.timestamp = Some(t);
                    out.time_text = Some(Cow::Borrowed(raw));
                }
                (None, v) => out.push_raw(key, v, raw),
            }
        }
        (_, v) => out.push_raw(key, v, raw),
    }
}

/// Stores bare text: slot keys take the raw text (a message stays text even if it looks like
/// a number), other keys get a [`typed`] value.
pub(crate) fn assign_raw<'a>(
    out: &mut Record<'a>,
    slot: Option<Slot>,
    key: Cow<'a, [u8]>,
    raw: &'a [u8],
) {
    let value = match slot {
        Some(Slot::Message | Slot::Target) => Value::Str(Cow::Borrowed(raw)),
        Some(Slot::Level) if Level::from_bytes(raw).is_some() => Value::Str(Cow::Borrowed(raw)),
        _ => typed(raw),
    };
    assign(out, slot, key, value, raw);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Cow<'_, [u8]> {
        Cow::Borrowed(s.as_bytes())
    }

    #[test]
    fn slot_keys_fill_slots_once() {
        let mut r = Record::new();
        assign_raw(&mut r, slot_of(b"level"), b("level"), b"warn");
        assign_raw(&mut r, slot_of(b"lvl"), b("lvl"), b"error");
        assign_raw(&mut r, slot_of(b"msg"), b("msg"), b"42");
        assign_raw(&mut r, slot_of(b"ts"), b("ts"), b"1795428000");
        assign_raw(&mut r, slot_of(b"logger"), b("logger"), b"app::db");
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(r.message.as_deref(), Some(&b"42"[..]));
        assert_eq!(r.timestamp, Some(1_795_428_000.0));
        assert_eq!(r.target.as_deref(), Some(&b"app::db"[..]));
        assert_eq!(r.get(b"lvl"), Some(&Value::Str(b("error"))));
        assert_eq!(r.fields.len(), 1);
    }

    #[test]
    fn values_that_do_not_fit_stay_fields() {
        let mut r = Record::new();
        assign_raw(&mut r, slot_of(b"level"), b("level"), b"verbose");
        assign_raw(&mut r, slot_of(b"time"), b("time"), b"yesterday");
        assign(
            &mut r,
            slot_of(b"severity"),
            b("severity"),
            Value::Int(40),
            b"40",
        );
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(r.timestamp, None);
        assert_eq!(r.get(b"level"), Some(&Value::Str(b("verbose"))));
        assert_eq!(r.get(b"time"), Some(&Value::Str(b("yesterday"))));
    }
}
