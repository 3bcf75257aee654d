//! The worker's sink: the plugin's callbacks encode each field straight into the reply (no
//! `Record` is built in the worker), with the same bounds as in-process ([`bounds`]).

use super::keys::KeyIds;
use super::proto::{self, put_key, put_text, Key, Put};
use crate::plugin_host::bounds::{self, OutputLimits, Span, Violation};
use crate::plugin_host::parser::PluginParser;
use kpid_plugin::abi::{self, Sink};
use std::ffi::c_void;
use std::ops::Range;

/// A plugin parser whose output is encoded as reply entries.
#[derive(Debug)]
pub struct Encoder {
    parser: PluginParser,
    sink: Sink,
    limits: OutputLimits,
    target: Vec<u8>,
    message: Vec<u8>,
    ids: KeyIds,
}

struct Ctx<'r> {
    line: &'r [u8],
    around: Range<usize>,
    read_only: &'r [Range<usize>],
    limits: OutputLimits,
    out: &'r mut Vec<u8>,
    fields: usize,
    ts: f64,
    level: u8,
    target: &'r mut Vec<u8>,
    message: &'r mut Vec<u8>,
    ids: &'r mut KeyIds,
    error: Option<String>,
    refused: Option<Violation>,
}

impl Ctx<'_> {
    /// Where (p, n) lies, or `None` (and the line refused).
    #[inline(always)]
    fn locate(&mut self, p: *const u8, n: usize) -> Option<Put> {
        self.locate_span(p, n).map(|(put, _)| put)
    }

    /// Where (p, n) lies, and whether in the plugin's read-only data; `None` (and the line
    /// refused) when out of bounds.
    #[inline(always)]
    fn locate_span(&mut self, p: *const u8, n: usize) -> Option<(Put, bool)> {
        let (addr, line) = (p as usize, self.line.as_ptr() as usize);
        if addr >= line && addr - line <= self.line.len() && n <= self.line.len() - (addr - line) {
            return Some((Put::Line(addr - line, n), false));
        }
        let span = bounds::locate(
            addr,
            n,
            line..line + self.line.len(),
            self.around.clone(),
            self.read_only,
            self.limits.max_value_bytes,
        );
        match span {
            Ok(Span::Line(r)) => Some((Put::Line(r.start, r.len()), false)),
            Ok(Span::ReadOnly) => Some((Put::Bytes(p, n), true)),
            Ok(Span::Copy) => Some((Put::Bytes(p, n), false)),
            Err(v) => {
                self.refused.get_or_insert(v);
                None
            }
        }
    }

    /// A key not known by its address yet: a slice of the line, an id for read-only plugin
    /// data (sent once), else bytes copied.
    #[inline(never)]
    fn new_key(&mut self, k: *const u8, kl: usize) -> Option<Key> {
        match self.locate_span(k, kl)? {
            (Put::Bytes(p, n), true) => {
                // SAFETY: read-only plugin data the plugin passed for this call, checked by
                // `locate_span` (and by the caller: at most max_key_bytes).
                let bytes = unsafe { std::slice::from_raw_parts(p, n) };
                Some(match self.ids.define(p as usize, bytes, self.fields) {
                    Some(id) => Key::Id(id),
                    None => Key::Text(Put::Bytes(p, n)),
                })
            }
            (put, _) => Some(Key::Text(put)),
        }
    }

    #[inline(always)]
    fn key(&mut self, k: *const u8, kl: usize) -> Option<Key> {
        if kl > self.limits.max_key_bytes {
            let max = self.limits.max_key_bytes;
            self.refused
                .get_or_insert(Violation::KeyTooLong { len: kl, max });
            return None;
        }
        if self.fields >= self.limits.max_fields {
            let max = self.limits.max_fields;
            self.refused.get_or_insert(Violation::TooManyFields(max));
            return None;
        }
        // Only read-only data has an id: the same address is the same bytes.
        if let Some(id) = self.ids.find(k as usize, kl, self.fields) {
            return Some(Key::Id(id));
        }
        self.new_key(k, kl)
    }

    #[inline(always)]
    unsafe fn number(&mut self, kind: u8, k: *const u8, kl: usize, v: [u8; 8]) {
        if let Some(key) = self.key(k, kl) {
            self.fields += 1;
            self.out.push(kind);
            // SAFETY: a range the plugin passed for this call, checked by `key`.
            unsafe { put_key(self.out, key) };
            match kind {
                proto::KIND_BOOL => self.out.push(v[0]),
                _ => self.out.extend_from_slice(&v),
            }
        }
    }
}

#[inline(always)]
unsafe fn ctx<'r>(c: *mut c_void) -> &'r mut Ctx<'r> {
    // SAFETY: `c` is the Ctx `Encoder::line` put in the sink, alive for the whole call.
    unsafe { &mut *c.cast::<Ctx<'r>>() }
}

unsafe extern "C" fn int_field(c: *mut c_void, k: *const u8, kl: usize, v: i64) {
    unsafe { ctx(c).number(proto::KIND_INT, k, kl, v.to_le_bytes()) }
}
unsafe extern "C" fn float_field(c: *mut c_void, k: *const u8, kl: usize, v: f64) {
    unsafe { ctx(c).number(proto::KIND_FLOAT, k, kl, v.to_le_bytes()) }
}
unsafe extern "C" fn bool_field(c: *mut c_void, k: *const u8, kl: usize, v: i32) {
    unsafe {
        ctx(c).number(
            proto::KIND_BOOL,
            k,
            kl,
            [(v != 0) as u8, 0, 0, 0, 0, 0, 0, 0],
        )
    }
}
unsafe extern "C" fn duration_field(c: *mut c_void, k: *const u8, kl: usize, v: f64) {
    unsafe { ctx(c).number(proto::KIND_DURATION, k, kl, v.to_le_bytes()) }
}
unsafe extern "C" fn str_field(c: *mut c_void, k: *const u8, kl: usize, v: *const u8, vl: usize) {
    let c = unsafe { ctx(c) };
    let Some(key) = c.key(k, kl) else { return };
    let Some(value) = c.locate(v, vl) else { return };
    c.fields += 1;
    c.out.push(proto::KIND_STR);
    // SAFETY: ranges the plugin passed for this call, checked by `locate`.
    unsafe {
        put_key(c.out, key);
        put_text(c.out, value);
    }
}
unsafe extern "C" fn timestamp(c: *mut c_void, t: f64) {
    unsafe { ctx(c).ts = if t.is_finite() { t } else { f64::NAN } }
}
unsafe extern "C" fn level(c: *mut c_void, l: u32) {
    if (abi::LEVEL_ERROR..=abi::LEVEL_TRACE).contains(&l) {
        unsafe { ctx(c).level = l as u8 }
    }
}
unsafe extern "C" fn target(c: *mut c_void, p: *const u8, n: usize) {
    let c = unsafe { ctx(c) };
    if let Some(t) = c.locate(p, n) {
        c.target.clear();
        // SAFETY: a range the plugin passed for this call, checked by `locate`.
        unsafe { put_text(c.target, t) };
    }
}
unsafe extern "C" fn message(c: *mut c_void, p: *const u8, n: usize) {
    let c = unsafe { ctx(c) };
    if let Some(m) = c.locate(p, n) {
        c.message.clear();
        // SAFETY: as above.
        unsafe { put_text(c.message, m) };
    }
}
unsafe extern "C" fn error(c: *mut c_void, p: *const u8, n: usize) {
    let c = unsafe { ctx(c) };
    let n = n.min(c.limits.max_value_bytes);
    let msg = if p.is_null() {
        &[][..]
    } else {
        // SAFETY: the plugin passes (pointer, length) of readable bytes for this call.
        unsafe { std::slice::from_raw_parts(p, n) }
    };
    c.error = Some(String::from_utf8_lossy(msg).into_owned());
}

impl Encoder {
    /// Wraps a parser made in the worker.
    pub fn new(parser: PluginParser) -> Encoder {
        let sink = Sink {
            size: std::mem::size_of::<Sink>() as u32,
            reserved: 0,
            ctx: std::ptr::null_mut(),
            int_field,
            float_field,
            bool_field,
            str_field,
            duration_field,
            timestamp,
            level,
            target,
            message,
            error,
        };
        Encoder {
            parser,
            sink,
            limits: OutputLimits::default(),
            target: Vec::new(),
            message: Vec::new(),
            ids: KeyIds::default(),
        }
    }

    /// Ends a reply: appends the key ids it defined.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.ids.flush(out);
    }

    /// Parses `line` (inside `around`, the request's lines) and appends its entry to `out`.
    pub fn line(&mut self, line: &[u8], around: Range<usize>, out: &mut Vec<u8>) {
        let (plugin, state) = self.parser.parts();
        let mark = out.len();
        out.extend_from_slice(&[proto::OK, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let (mut target, mut message): (&[u8], &[u8]) = (NONE_TEXT, NONE_TEXT);
        self.target.clear();
        self.message.clear();
        let mut cx = Ctx {
            line,
            around,
            read_only: &plugin.read_only,
            limits: self.limits,
            out: &mut *out,
            fields: 0,
            ts: f64::NAN,
            level: 0,
            target: &mut self.target,
            message: &mut self.message,
            ids: &mut self.ids,
            error: None,
            refused: None,
        };
        self.sink.ctx = (&mut cx as *mut Ctx<'_>).cast();
        // SAFETY: a state from this plugin's create, the line's bytes, and a sink that
        // outlives the call.
        let status = unsafe { (plugin.parse)(state, line.as_ptr(), line.len(), &self.sink) };
        self.sink.ctx = std::ptr::null_mut();
        let (fields, ts, lvl) = (cx.fields, cx.ts, cx.level);
        let (refused, err) = (cx.refused.take(), cx.error.take());
        let name = plugin.name();
        let rejected = match (status, refused) {
            (_, Some(v)) => Some((
                proto::REFUSED,
                format!("plugin `{name}`: output refused: {v}"),
            )),
            (abi::STATUS_OK, None) => None,
            (abi::STATUS_NO_MATCH, _) => Some((proto::NO_MATCH, String::new())),
            (abi::STATUS_INVALID, _) => Some((
                proto::INVALID,
                err.unwrap_or_else(|| format!("rejected by plugin `{name}`")),
            )),
            (abi::STATUS_PANIC, _) => Some((
                proto::INVALID,
                format!(
                    "plugin `{name}` {}",
                    err.unwrap_or_else(|| "panicked".into())
                ),
            )),
            (s, _) => Some((
                proto::INVALID,
                format!("plugin `{name}` returned unknown status {s}"),
            )),
        };
        if let Some((tag, msg)) = rejected {
            out.truncate(mark);
            return proto::error(out, tag, &msg);
        }
        out[mark + 1..mark + 9].copy_from_slice(&ts.to_le_bytes());
        out[mark + 9] = lvl;
        out[mark + 10..mark + 12].copy_from_slice(&(fields as u16).to_le_bytes());
        if !self.target.is_empty() {
            target = &self.target;
        }
        if !self.message.is_empty() {
            message = &self.message;
        }
        out.extend_from_slice(target);
        out.extend_from_slice(message);
    }
}

/// An absent text.
const NONE_TEXT: &[u8] = &u32::MAX.to_le_bytes();
