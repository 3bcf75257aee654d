//! HTTP requests: a record with a text `method` and a numeric `status` (100-599) counts in
//! `http_requests_total{source,method,status_class}` and `http_5xx_ratio{source}`.

use super::emit::{emit, text, Out, Owned};
use super::{Ctx, FieldState};
use crate::kpi::{Kind, Obs};
use kpid_parsers::{Record, Value};

/// The method and status of `rec` when it is an HTTP request.
pub(super) fn request_of<'r>(rec: &'r Record<'_>) -> Option<(&'r [u8], i64)> {
    match (rec.get(b"method"), rec.get(b"status")) {
        (Some(Value::Str(m)), Some(Value::Int(s))) if (100..600).contains(s) => {
            Some((m.as_ref(), *s))
        }
        _ => None,
    }
}

impl FieldState {
    /// Counts one request.
    pub(super) fn request(&mut self, out: &mut Out<'_>, ctx: &Ctx<'_>, method: &[u8], status: i64) {
        let class = [b'0' + (status / 100) as u8, b'x', b'x'];
        self.key.clear();
        self.key.extend_from_slice(method);
        self.key.push(0xff);
        self.key.extend_from_slice(&class);
        let method = if method.len() <= 16 && method.iter().all(u8::is_ascii_uppercase) {
            text(method)
        } else {
            "other".into()
        };
        emit(
            out,
            &mut self.requests,
            ctx.cap,
            &self.key,
            Obs::Add(1.0),
            ctx.now,
            || Owned {
                name: "http_requests_total".into(),
                labels: vec![
                    ("source".into(), ctx.source.into()),
                    ("method".into(), method),
                    ("status_class".into(), text(&class)),
                ],
                kind: Kind::Counter,
                unit: "",
                help: "HTTP requests, from access lines, by method and status class".into(),
            },
        );
        let ratio = self.window.push(ctx.now, status >= 500);
        self.single(out, ctx, &super::emit::RATIO_5XX, Obs::Set(ratio));
    }
}
