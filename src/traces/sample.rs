//! The engine's side: spans assembled by trace id until their root comes, then the trace
//! kept (slowest or failed of its root name) or let go.

use super::*;
use crate::sources::otlp::spans::{AnyRef, SpanRef, Traces};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// Most distinct span names kept interned; past it the table starts again.
const MAX_INTERNED: usize = 4096;

/// A trace whose root has not come yet.
#[derive(Debug)]
struct Pending {
    seq: u64,
    since: f64,
    spans: Vec<TraceSpan>,
    /// Spans as they came, each a [`Raw`] byte, a `u32` LE length, then a socket
    /// `TracedSpan` body or an OTLP `Span` message: decoded only if the trace is kept, which
    /// few are.
    frames: Vec<u8>,
    n_frames: usize,
    /// Some span among `frames` is in error.
    frames_error: bool,
    dropped: u32,
}

impl Pending {
    fn len(&self) -> usize {
        self.spans.len() + self.n_frames
    }
}

/// What a span kept as it came is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Raw {
    /// A socket `TracedSpan` frame's body.
    Socket = 0,
    /// An OTLP `Span` message.
    Otlp = 1,
}

/// The sample of one root name: the slowest, and the most recent failed.
#[derive(Debug, Default)]
struct Group {
    slow: Vec<Arc<Trace>>,
    failed: VecDeque<Arc<Trace>>,
}

/// Assembles OTLP spans into traces and keeps a bounded sample (see the module overview).
#[derive(Debug, Default)]
pub struct Sampler {
    pending: FxHashMap<u128, Pending>,
    /// Trace ids in assembly, oldest first (entries whose seq no longer matches are stale).
    order: VecDeque<(u128, u64)>,
    pending_spans: usize,
    /// Bytes of spans kept as they came, in assembly (capped at [`MAX_PENDING_BYTES`]).
    pending_bytes: usize,
    seq: u64,
    groups: FxHashMap<(Arc<str>, Arc<str>), Group>,
    names: FxHashMap<Box<str>, Arc<str>>,
    stats: TraceStats,
    published: TraceStats,
    changed: bool,
}

fn id64(b: &[u8]) -> u64 {
    b.iter().take(8).fold(0, |a, &x| (a << 8) | x as u64)
}

fn id128(b: &[u8]) -> u128 {
    b.iter().take(16).fold(0, |a, &x| (a << 8) | x as u128)
}

/// `s` cut at [`MAX_ATTR_LEN`] bytes (on a character boundary), with `…` when cut.
pub(super) fn cut(s: &str) -> Box<str> {
    if s.len() <= MAX_ATTR_LEN {
        return s.into();
    }
    let mut end = MAX_ATTR_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end]).into()
}

fn value(v: AnyRef<'_>) -> AttrValue {
    match v {
        AnyRef::Str(s) => AttrValue::Str(cut(s)),
        AnyRef::Bool(b) => AttrValue::Bool(b),
        AnyRef::Int(i) => AttrValue::Int(i),
        AnyRef::Double(d) => AttrValue::Float(d),
        AnyRef::Bytes(b) => AttrValue::Str(cut(&String::from_utf8_lossy(b))),
    }
}

impl Sampler {
    pub(super) fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.names.get(name) {
            return n.clone();
        }
        if self.names.len() >= MAX_INTERNED {
            self.names.clear();
        }
        let n: Arc<str> = Arc::from(name);
        self.names.insert(name.into(), n.clone());
        n
    }

    fn span_of(&mut self, s: &SpanRef<'_>) -> TraceSpan {
        let mut attrs = Vec::with_capacity(s.attribute_count().min(MAX_ATTRS));
        for (k, v) in s.attributes() {
            if attrs.len() == MAX_ATTRS {
                break;
            }
            if let Some(v) = v {
                attrs.push((self.intern(k), value(v)));
            }
        }
        TraceSpan {
            id: id64(s.span_id()),
            parent: id64(s.parent_span_id()),
            name: self.intern(s.name()),
            start_ns: s.start_ns(),
            end_ns: s.end_ns(),
            error: s.error(),
            attrs: attrs.into_boxed_slice(),
        }
    }

    /// A span with a parent: kept in assembly until its root comes, as its message came
    /// (decoded only if its trace is kept), or decoded now when the message is longer than
    /// [`MAX_FRAME_KEPT`].
    pub fn child(&mut self, s: &SpanRef<'_>, now: f64) {
        let id = id128(s.trace_id());
        if s.raw().len() <= MAX_FRAME_KEPT {
            self.child_frame(id, now, Raw::Otlp, s.raw(), s.error());
        } else {
            self.child_with(id, now, |me| me.span_of(s));
        }
    }

    /// A span of trace `id` with a parent, made by `make` only when there is room for it.
    pub(super) fn child_with(
        &mut self,
        id: u128,
        now: f64,
        make: impl FnOnce(&mut Self) -> TraceSpan,
    ) {
        if !self.room(id, now) {
            return;
        }
        let span = make(self);
        self.pending
            .get_mut(&id)
            .expect("inserted")
            .spans
            .push(span);
        self.added(0);
    }

    /// A span of trace `id` with a parent, kept as it came (`body`, of kind `raw`) until the
    /// trace's root says whether it is kept.
    pub(super) fn child_frame(&mut self, id: u128, now: f64, raw: Raw, body: &[u8], error: bool) {
        if !self.room(id, now) {
            return;
        }
        let p = self.pending.get_mut(&id).expect("inserted");
        p.frames.push(raw as u8);
        p.frames
            .extend_from_slice(&(body.len() as u32).to_le_bytes());
        p.frames.extend_from_slice(body);
        p.n_frames += 1;
        p.frames_error |= error;
        self.added(5 + body.len());
    }

    /// The spans kept as they came in `frames`, decoded.
    fn decode_frames(&mut self, frames: &[u8], into: &mut Vec<TraceSpan>) {
        let mut at = 0;
        while let Some(head) = frames.get(at..at + 5) {
            let n = u32::from_le_bytes(head[1..].try_into().expect("4 bytes")) as usize;
            let body = &frames[at + 5..at + 5 + n];
            at += 5 + n;
            if head[0] == Raw::Socket as u8 {
                if let Ok((ids, s)) = kpid_wire::decode_traced_span(body) {
                    let span = self.wire_span(ids, &s);
                    into.push(span);
                }
            } else if let Some(t) = Traces::decode_span(body) {
                if let Some(s) = t.spans().next() {
                    let span = self.span_of(&s);
                    into.push(span);
                }
            }
        }
    }

    /// Whether trace `id` has room for one more span (counted when not), its assembly
    /// started if it had none.
    fn room(&mut self, id: u128, now: f64) -> bool {
        if let Some(p) = self.pending.get_mut(&id) {
            if p.len() + 1 >= MAX_SPANS {
                p.dropped += 1;
                self.stats.spans_dropped += 1;
                return false;
            }
        } else {
            if self.pending.len() >= MAX_PENDING {
                self.evict_oldest();
            }
            self.seq += 1;
            self.order.push_back((id, self.seq));
            let p = Pending {
                seq: self.seq,
                since: now,
                spans: Vec::new(),
                frames: Vec::new(),
                n_frames: 0,
                frames_error: false,
                dropped: 0,
            };
            self.pending.insert(id, p);
        }
        true
    }

    /// Counts a span added to an assembly (and `bytes` of frames), evicting the oldest
    /// traces past the caps.
    fn added(&mut self, bytes: usize) {
        self.pending_spans += 1;
        self.pending_bytes += bytes;
        while (self.pending_spans > MAX_PENDING_SPANS || self.pending_bytes > MAX_PENDING_BYTES)
            && self.evict_oldest()
        {}
    }

    /// Bytes of spans kept as they came, in assembly.
    #[cfg(test)]
    pub(super) fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Forgets an assembly's counts.
    fn taken(&mut self, p: &Pending) {
        self.pending_spans -= p.len();
        self.pending_bytes -= p.frames.len();
    }

    /// Gives up the oldest trace in assembly; false when none is left.
    fn evict_oldest(&mut self) -> bool {
        while let Some((id, seq)) = self.order.pop_front() {
            if self.pending.get(&id).is_some_and(|p| p.seq == seq) {
                let p = self.pending.remove(&id).expect("present");
                self.taken(&p);
                self.stats.pending_evicted += 1;
                return true;
            }
        }
        false
    }

    /// A root span: its trace is complete, and kept or let go.
    pub fn root(&mut self, app: &Arc<str>, s: &SpanRef<'_>) {
        let times = (s.start_ns(), s.end_ns());
        let id = id128(s.trace_id());
        self.root_with(app, id, (s.name(), times, s.error()), |me| me.span_of(s));
    }

    /// The root span of trace `id` (its name, start and end, error): its trace is complete,
    /// and kept or let go. `make` builds the root's span only when the trace is kept.
    pub(super) fn root_with(
        &mut self,
        app: &Arc<str>,
        id: u128,
        (name, (start_ns, end_ns), root_error): (&str, (u64, u64), bool),
        make: impl FnOnce(&mut Self) -> TraceSpan,
    ) {
        let p = self.pending.remove(&id);
        if let Some(p) = &p {
            self.taken(p);
        }
        let (mut spans, frames, frames_error, dropped) = match p {
            Some(p) => (p.spans, p.frames, p.frames_error, p.dropped),
            None => (Vec::new(), Vec::new(), false, 0),
        };
        let error = root_error || frames_error || spans.iter().any(|s| s.error);
        let key = (app.clone(), self.intern(name));
        let dur = end_ns.saturating_sub(start_ns);
        // One lookup on the common path (a root that is let go); the group is made only for
        // a trace that is kept.
        let (slow, slowest) = match self.groups.get(&key) {
            Some(g) => {
                let slowest = g
                    .slow
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, t)| t.end_ns - t.start_ns)
                    .map(|(i, t)| (i, t.end_ns - t.start_ns));
                let slow = g.slow.len() < SLOWEST || slowest.is_some_and(|(_, d)| dur > d);
                (slow, slowest)
            }
            None if self.groups.len() >= MAX_NAMES => {
                self.stats.names_refused += 1;
                return;
            }
            None => (true, None),
        };
        if !slow && !error {
            self.stats.not_sampled += 1;
            return;
        }
        // Kept: the root's span is made and the spans kept as they came are decoded now.
        let root = make(self);
        self.decode_frames(&frames, &mut spans);
        spans.sort_unstable_by_key(|s| (s.start_ns, s.id));
        spans.insert(0, root.clone());
        let t = Arc::new(Trace {
            id,
            app: app.clone(),
            root: root.name,
            start_ns: root.start_ns,
            end_ns: root.end_ns,
            error,
            spans: spans.into_boxed_slice(),
            spans_dropped: dropped,
        });
        let g = self.groups.entry(key).or_default();
        if slow {
            if g.slow.len() >= SLOWEST {
                let i = slowest.expect("a full group has a slowest").0;
                g.slow.swap_remove(i);
            }
            g.slow.push(t.clone());
        }
        if error {
            if g.failed.len() >= FAILED {
                g.failed.pop_front();
            }
            g.failed.push_back(t);
        }
        self.stats.sampled += 1;
        self.changed = true;
    }

    /// Ages out what is due (traces waiting past [`PENDING_TTL_S`], sampled traces that
    /// ended more than [`KEEP_S`] ago) and returns the view to publish when it changed.
    pub fn publish(&mut self, now: f64) -> Option<Arc<TracesView>> {
        while let Some(&(id, seq)) = self.order.front() {
            match self.pending.get(&id) {
                Some(p) if p.seq == seq && p.since + PENDING_TTL_S > now => break,
                Some(p) if p.seq == seq => {
                    let p = self.pending.remove(&id).expect("present");
                    self.taken(&p);
                    self.stats.pending_expired += 1;
                }
                _ => {}
            }
            self.order.pop_front();
        }
        let old = ((now - KEEP_S) * 1e9).max(0.0) as u64;
        for g in self.groups.values_mut() {
            let (s, f) = (g.slow.len(), g.failed.len());
            g.slow.retain(|t| t.end_ns >= old);
            g.failed.retain(|t| t.end_ns >= old);
            self.changed |= s != g.slow.len() || f != g.failed.len();
        }
        self.groups
            .retain(|_, g| !g.slow.is_empty() || !g.failed.is_empty());
        (self.stats.pending_traces, self.stats.pending_spans) =
            (self.pending.len() as u64, self.pending_spans as u64);
        if !self.changed && self.stats == self.published {
            return None;
        }
        self.changed = false;
        let mut traces: Vec<Kept> = Vec::new();
        for g in self.groups.values() {
            let kept = |trace: &Arc<Trace>, slow| Kept {
                trace: trace.clone(),
                slow,
            };
            traces.extend(g.slow.iter().map(|t| kept(t, true)));
            // A trace both slow and failed is listed once.
            let dup = |t: &&Arc<Trace>| g.slow.iter().any(|x| Arc::ptr_eq(x, t));
            traces.extend(g.failed.iter().filter(|t| !dup(t)).map(|t| kept(t, false)));
        }
        let (a, b) = (|k: &Kept| k.trace.end_ns, |k: &Kept| k.trace.id);
        traces.sort_by(|x, y| a(y).cmp(&a(x)).then(b(x).cmp(&b(y))));
        self.stats.kept = traces.len() as u64;
        self.published = self.stats;
        Some(Arc::new(TracesView {
            traces,
            stats: self.stats,
        }))
    }
}
