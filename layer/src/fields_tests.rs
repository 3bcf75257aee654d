//! The fast field encoder against `kpid_wire::put_field`, in a `Vec` and in a fixed area.

use super::*;
use std::mem::MaybeUninit;

fn values(s: &str) -> Vec<Value<'_>> {
    vec![
        Value::I64(0),
        Value::I64(-1),
        Value::I64(i64::MIN),
        Value::I64(i64::MAX),
        Value::U64(127),
        Value::U64(128),
        Value::U64(u64::MAX),
        Value::F64(0.5),
        Value::Bool(true),
        Value::Bool(false),
        Value::Str(s),
    ]
}

#[test]
fn fast_fields_are_byte_for_byte_put_field() {
    let long = "é".repeat(wire::MAX_STR_LEN); // clipped at a character boundary
    let strs: Vec<String> = (0..40).map(|n| "x".repeat(n)).chain([long]).collect();
    for key in &strs {
        for s in &strs {
            for v in values(s) {
                let mut want = vec![9u8];
                wire::put_field(&mut want, key, v);
                let mut got = vec![9u8];
                let mut w = FieldWriter::new(&mut got, 0);
                w.put(key, v);
                assert_eq!(w.count, 1);
                assert_eq!(got, want, "key {} bytes, value {v:?}", key.len());
            }
        }
    }
}

#[test]
fn a_fixed_area_keeps_the_fields_that_fit() {
    let s = "y".repeat(30);
    let vals = values(&s);
    for cap in 0..80 {
        let mut area = [MaybeUninit::new(0u8); 80];
        let mut out = Fixed {
            buf: &mut area[..cap],
            len: 0,
        };
        let mut w = FieldWriter::new(&mut out, 0);
        let (mut want, mut n) = (Vec::new(), 0);
        for v in &vals {
            w.put("key", *v);
            let mut one = Vec::new();
            wire::put_field(&mut one, "key", *v);
            if want.len() + one.len() <= cap {
                want.extend_from_slice(&one);
                n += 1;
            }
        }
        // A formatted value that does not fit is left out whole.
        let before = w.out.len();
        w.put_fmt("msg", format_args!("{}", "z".repeat(cap + 1)));
        assert_eq!(w.out.len(), before);
        assert_eq!(w.count, n, "cap {cap}");
        let len = out.len;
        let got: Vec<u8> = area[..len]
            .iter()
            // SAFETY: the first `len` bytes were written.
            .map(|b| unsafe { b.assume_init() })
            .collect();
        assert_eq!(got, want, "cap {cap}");
    }
}

#[test]
fn a_formatted_value_in_a_fixed_area_matches_the_vec_encoding() {
    let mut want = Vec::new();
    let mut w = FieldWriter::new(&mut want, 0);
    w.put_fmt("msg", format_args!("{}-{}", "a".repeat(200), 7));
    let mut area = [MaybeUninit::new(0u8); 300];
    let mut out = Fixed {
        buf: &mut area,
        len: 0,
    };
    let mut w = FieldWriter::new(&mut out, 0);
    w.put_fmt("msg", format_args!("{}-{}", "a".repeat(200), 7));
    assert_eq!(w.count, 1);
    let n = out.len;
    // SAFETY: the first `n` bytes were written.
    let got: Vec<u8> = area[..n]
        .iter()
        .map(|b| unsafe { b.assume_init() })
        .collect();
    assert_eq!(got, want);
}
