//! Decoding a worker's reply entry into a [`Record`], without trusting the worker: every offset
//! is checked against the line, every length against what is left, every key id against the
//! ids defined. The usual field (a key id, then a number or a slice of the line) is read from
//! one bounds-checked window and pushed whole, built in place.

use super::proto::{Malformed, Reader, KEY_TEXT, OK, TOP};
use kpid_parsers::{Field, Level, Record, Value};
use std::borrow::Cow;

/// Bytes of the usual field: `u8 kind, u16 id`, and an 8-byte value.
const USUAL: usize = 11;

/// Decodes one entry into `out`; `Ok(Err((tag, message)))` for a rejected line. Key ids are
/// looked up in `ids`; `key` turns the key of field `i` sent as bytes into a `Cow` (interned
/// or copied).
pub fn decode<'a>(
    entry: &[u8],
    line: &'a [u8],
    out: &mut Record<'a>,
    ids: &[Cow<'static, [u8]>],
    key: &mut impl FnMut(usize, &[u8]) -> Cow<'a, [u8]>,
) -> Result<Result<(), (u8, String)>, Malformed> {
    let mut r = Reader { b: entry };
    let tag = r.u8()?;
    if tag != OK {
        let msg = match r.text(&[])? {
            Some(Err(m)) => String::from_utf8_lossy(m).into_owned(),
            _ => String::new(),
        };
        return Ok(Err((tag, msg)));
    }
    let ts = f64::from_le_bytes(r.u64()?);
    out.timestamp = ts.is_finite().then_some(ts);
    out.level = match r.u8()? {
        0 => None,
        1 => Some(Level::Error),
        2 => Some(Level::Warn),
        3 => Some(Level::Info),
        4 => Some(Level::Debug),
        5 => Some(Level::Trace),
        _ => return Err(Malformed),
    };
    let n = r.u16()? as usize;
    // At most one field per 4 bytes left: a bogus count reserves nothing unreasonable.
    out.fields.reserve(n.min(r.b.len() / 4));
    for i in 0..n {
        if !usual(&mut r, line, out, ids) {
            other(&mut r, line, out, ids, key, i)?;
        }
    }
    out.target = r.text(line)?.map(own);
    out.message = r.text(line)?.map(own);
    if !r.b.is_empty() {
        return Err(Malformed);
    }
    Ok(Ok(()))
}

fn own<'a>(t: Result<&'a [u8], &[u8]>) -> Cow<'a, [u8]> {
    match t {
        Ok(s) => Cow::Borrowed(s),
        Err(b) => Cow::Owned(b.to_vec()),
    }
}

/// The usual field (an interned key id; an integer, float, duration, or a slice of the line),
/// pushed into `out`; `false`, and nothing read, for any other.
#[inline(always)]
fn usual<'a>(
    r: &mut Reader<'_>,
    line: &'a [u8],
    out: &mut Record<'a>,
    ids: &[Cow<'static, [u8]>],
) -> bool {
    let Some(h) = r.b.get(..USUAL) else {
        return false;
    };
    let id = u16::from_le_bytes([h[1], h[2]]);
    let Some(Cow::Borrowed(k)) = ids.get(id as usize) else {
        return false;
    };
    let k: &'static [u8] = k;
    let v = u64::from_le_bytes([h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10]]);
    if out.fields.len() == out.fields.capacity() {
        return false;
    }
    let value = match h[0] {
        super::proto::KIND_INT => Value::Int(v as i64),
        super::proto::KIND_FLOAT => Value::Float(f64::from_bits(v)),
        super::proto::KIND_DURATION => Value::Duration(f64::from_bits(v)),
        super::proto::KIND_STR => {
            let (at, len) = ((v as u32) as usize, (v >> 32) as usize);
            match line.get(at..at + len) {
                Some(s) if at as u32 & TOP == 0 => Value::Str(Cow::Borrowed(s)),
                _ => return false,
            }
        }
        _ => return false,
    };
    let n = out.fields.len();
    // SAFETY: `n` is below the capacity (checked above), so the slot is allocated and unused;
    // it is written whole before the length covers it. Written in place rather than through
    // `push`, which built the field on the stack and copied it (store-forwarding stalls).
    unsafe {
        out.fields.as_mut_ptr().add(n).write(Field {
            key: Cow::Borrowed(k),
            value,
            raw: &[],
        });
        out.fields.set_len(n + 1);
    }
    r.b = &r.b[USUAL..];
    true
}

/// Any other field: a key sent as text, a boolean, a text copied inline.
#[inline(never)]
fn other<'a>(
    r: &mut Reader<'_>,
    line: &'a [u8],
    out: &mut Record<'a>,
    ids: &[Cow<'static, [u8]>],
    key: &mut impl FnMut(usize, &[u8]) -> Cow<'a, [u8]>,
    i: usize,
) -> Result<(), Malformed> {
    let kind = r.u8()?;
    let k = match r.u16()? {
        KEY_TEXT => match r.text(line)?.ok_or(Malformed)? {
            Ok(s) => Cow::Borrowed(s),
            Err(b) => key(i, b),
        },
        id => match ids.get(id as usize).ok_or(Malformed)? {
            Cow::Borrowed(s) => Cow::Borrowed(*s),
            Cow::Owned(v) => Cow::Owned(v.clone()),
        },
    };
    let value = match kind {
        0 => Value::Int(i64::from_le_bytes(r.u64()?)),
        1 => Value::Float(f64::from_le_bytes(r.u64()?)),
        2 => Value::Bool(r.u8()? != 0),
        3 => Value::Str(own(r.text(line)?.ok_or(Malformed)?)),
        4 => Value::Duration(f64::from_le_bytes(r.u64()?)),
        _ => return Err(Malformed),
    };
    out.push(k, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin_host::worker::proto::{
        put_key, put_text, Key, Put, KIND_BOOL, KIND_INT, KIND_STR,
    };

    fn entry(fields: &[(u8, Key, &[u8])]) -> Vec<u8> {
        let mut e = vec![OK];
        e.extend_from_slice(&f64::NAN.to_le_bytes());
        e.push(3);
        e.extend_from_slice(&(fields.len() as u16).to_le_bytes());
        for (kind, key, value) in fields {
            e.push(*kind);
            // SAFETY: keys and values here are line ranges or bytes of this test.
            unsafe { put_key(&mut e, *key) };
            e.extend_from_slice(value);
        }
        e.extend_from_slice(&u32::MAX.to_le_bytes());
        e.extend_from_slice(&u32::MAX.to_le_bytes());
        e
    }

    #[test]
    fn ids_line_slices_and_other_fields() {
        let line = b"GET /a 200";
        let ids = [Cow::Borrowed(&b"method"[..]), Cow::Borrowed(&b"status"[..])];
        let mut slice = 0u32.to_le_bytes().to_vec();
        slice.extend_from_slice(&3u32.to_le_bytes());
        let mut copied = Vec::new();
        // SAFETY: bytes of this test.
        unsafe { put_text(&mut copied, Put::Bytes(b"xy".as_ptr(), 2)) };
        let e = entry(&[
            (KIND_STR, Key::Id(0), &slice),
            (KIND_INT, Key::Id(1), &200i64.to_le_bytes()),
            (KIND_BOOL, Key::Text(Put::Line(4, 2)), &[1]),
            (KIND_STR, Key::Id(0), &copied),
        ]);
        let mut rec = Record::new();
        let mut key = |_: usize, b: &[u8]| Cow::Owned(b.to_vec());
        decode(&e, line, &mut rec, &ids, &mut key).unwrap().unwrap();
        assert_eq!(rec.get(b"method"), Some(&Value::Str(Cow::Borrowed(b"GET"))));
        assert_eq!(rec.get(b"status"), Some(&Value::Int(200)));
        assert_eq!(rec.get(b"/a"), Some(&Value::Bool(true)));
        assert_eq!(rec.fields[3].value, Value::Str(Cow::Borrowed(b"xy")));
        assert_eq!(rec.level, Some(Level::Info));
    }

    #[test]
    fn unknown_ids_and_ranges_past_the_line_are_malformed() {
        let line = b"GET";
        let ids = [Cow::Borrowed(&b"method"[..])];
        let mut key = |_: usize, b: &[u8]| Cow::Owned(b.to_vec());
        let mut past = 1u32.to_le_bytes().to_vec();
        past.extend_from_slice(&3u32.to_le_bytes());
        for e in [
            entry(&[(KIND_INT, Key::Id(1), &7i64.to_le_bytes())]),
            entry(&[(KIND_STR, Key::Id(0), &past)]),
            entry(&[(9, Key::Id(0), &7i64.to_le_bytes())]),
        ] {
            let mut rec = Record::new();
            assert_eq!(decode(&e, line, &mut rec, &ids, &mut key), Err(Malformed));
        }
    }
}
