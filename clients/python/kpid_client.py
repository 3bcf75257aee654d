"""kpid_client: report spans, events and metrics from a Python app to kpid (standard library only).

The same frames as the Rust ``kpid-layer`` (see docs/protocol.md), over kpid's Unix socket::

    import logging, kpid_client
    kpid = kpid_client.Client(app="ingest")            # socket: $KPID_SOCKET or the default path
    logging.getLogger().addHandler(kpid_client.KpidHandler(kpid))

    with kpid.span("decode", frame=3):                 # span_total / span_duration_seconds / span_errors_total
        ...
    @kpid.traced("infer")                              # decorator form
    def infer(x): ...
    kpid.counter("frames_total", 1, stage="decode")    # explicit metric samples
    kpid.gauge("queue_depth", 12)
    kpid.histogram("batch_size", 8)

Nothing blocks the app: records are encoded at once and queued in a queue bounded in records
and bytes; when it is full, or the daemon is absent, they are dropped and counted per level, and
the counts reach the daemon with the next batch. A daemon thread sends batches (about 64 KiB or
every 100 ms) and reconnects with capped backoff. ``close()`` (also run at exit) flushes, waiting
at most ``flush_timeout`` seconds.

Spans carry random 64-bit ids (their own, their parent's, their trace's: the root's) and go as
protocol version 2's traced spans to a daemon that speaks it, so kpid can draw their traces as
waterfalls; an older daemon gets version 1's plain spans.
"""

import atexit
import functools
import logging
import os
import random
import socket
import struct
import threading
import time

VERSION = 2       # newest protocol version spoken: 2 sends traced spans (with ids)
MIN_VERSION = 1   # offered to a daemon that refuses VERSION as too new
MAGIC = b"KPID"
MAX_STR_LEN = 4096
MAX_FIELDS = 64
MAX_LABELS = 16

HELLO, WELCOME, ERROR, SPAN, EVENT, METRIC, DROPS, TRACED_SPAN = 1, 2, 3, 16, 17, 18, 19, 20
VERSION_MISMATCH = 1
TRACE, DEBUG, INFO, WARN, ERROR_LEVEL = 0, 1, 2, 3, 4
COUNTER, GAUGE, HISTOGRAM = 0, 1, 2

DEFAULT_QUEUE_RECORDS = 65536
DEFAULT_QUEUE_BYTES = 8 << 20
DEFAULT_BATCH_BYTES = 64 << 10
DEFAULT_BATCH_INTERVAL = 0.1
DEFAULT_MAX_BACKOFF = 1.0
DEFAULT_FLUSH_TIMEOUT = 0.1

_CONNECTING, _CONNECTED, _ABSENT, _CLOSED = 0, 1, 2, 3


def default_socket_path():
    """$KPID_SOCKET, else $XDG_RUNTIME_DIR/kpid/kpid.sock, else ./run/kpid.sock."""
    p = os.environ.get("KPID_SOCKET")
    if p:
        return p
    rt = os.environ.get("XDG_RUNTIME_DIR")
    if rt:
        return os.path.join(rt, "kpid", "kpid.sock")
    return os.path.join("run", "kpid.sock")


def _varint(v, out):
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _str(s, out):
    b = s.encode("utf-8", "replace") if isinstance(s, str) else bytes(s)
    if len(b) > MAX_STR_LEN:
        b = b[:MAX_STR_LEN].decode("utf-8", "ignore").encode("utf-8")
    _varint(len(b), out)
    out += b


def _field(key, v, out):
    _str(key, out)
    if isinstance(v, bool):
        out.append(3)
        out.append(1 if v else 0)
    elif isinstance(v, int) and 0 <= v < 1 << 64:
        out.append(1)
        _varint(v, out)
    elif isinstance(v, int) and -(1 << 63) <= v < 0:
        out.append(0)
        _varint(((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF, out)
    elif isinstance(v, float):
        out.append(2)
        out += struct.pack("<d", v)
    else:
        out.append(4)
        _str(v if isinstance(v, str) else str(v), out)


def _fields(fields, out):
    items = list(fields.items())[:MAX_FIELDS]
    out.append(len(items))
    for k, v in items:
        _field(k, v, out)


def _frame(ftype, body):
    return struct.pack("<IB", len(body) + 1, ftype) + bytes(body)


class KpidRefused(Exception):
    """The daemon answered the hello with an error frame (version mismatch, uid...)."""

    def __init__(self, message, code=0):
        super().__init__(message)
        self.code = code


class Span:
    """An open span; use as a context manager (``Client.span``)."""

    __slots__ = ("client", "name", "target", "fields", "parent", "start_ns", "t0", "error", "level",
                 "span_id", "parent_id", "trace_id")

    def __init__(self, client, name, target, level, fields):
        self.client, self.name, self.target, self.level = client, name, target, level
        self.fields, self.error, self.parent = fields, False, ""
        self.span_id, self.parent_id, self.trace_id = 0, 0, 0

    def record(self, **fields):
        """Adds fields; an ``error`` field that is not False marks the span in error."""
        self.fields.update(fields)

    def set_error(self, flag=True):
        self.error = flag

    def __enter__(self):
        stack = self.client._stack()
        # Ids for traced spans: random, never 0; a child joins its parent's trace.
        self.span_id = random.getrandbits(64) or 1
        if stack:
            top = stack[-1]
            self.parent, self.parent_id, self.trace_id = top.name, top.span_id, top.trace_id
        else:
            self.parent, self.parent_id, self.trace_id = "", 0, self.span_id
        stack.append(self)
        self.start_ns = time.time_ns()
        self.t0 = time.perf_counter_ns()
        return self

    def __exit__(self, exc_type, exc, tb):
        dur = time.perf_counter_ns() - self.t0
        stack = self.client._stack()
        if stack and stack[-1] is self:
            stack.pop()
        elif self in stack:
            stack.remove(self)
        if exc_type is not None:
            self.error = True
            self.fields.setdefault("error", repr(exc))
        if self.fields.get("error", False) is not False:
            self.error = True
        self.client._span_closed(self, dur)
        return False


class Client:
    """Reports to kpid over its Unix socket (see the module doc)."""

    def __init__(self, app=None, socket_path=None, queue_records=DEFAULT_QUEUE_RECORDS,
                 queue_bytes=DEFAULT_QUEUE_BYTES, batch_bytes=DEFAULT_BATCH_BYTES,
                 interval=DEFAULT_BATCH_INTERVAL, max_backoff=DEFAULT_MAX_BACKOFF,
                 flush_timeout=DEFAULT_FLUSH_TIMEOUT, target="python"):
        import sys
        self.app = app or os.path.splitext(os.path.basename(sys.argv[0] or "python"))[0] or "python"
        self.socket_path = socket_path or default_socket_path()
        self.target = target
        self._limits = (queue_records, queue_bytes, min(batch_bytes, queue_bytes))
        self._interval, self._max_backoff, self._flush_timeout = interval, max_backoff, flush_timeout
        self._cv = threading.Condition()
        self._buf, self._records, self._levels = bytearray(), 0, [0] * 5
        self._unreported, self.dropped = [0] * 5, [0] * 5
        self.sent, self.connects, self.last_refusal = 0, 0, None
        self._flush_asked = self._flush_done = 0
        self._state = _CONNECTING
        self._traced = False  # the daemon takes traced spans (it answered version 2 or more)
        self._local = threading.local()
        self._thread = threading.Thread(target=self._run, name="kpid-client", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # ---- app side ---------------------------------------------------------------------

    def _stack(self):
        s = getattr(self._local, "stack", None)
        if s is None:
            s = self._local.stack = []
        return s

    def _accepting(self):
        return self._state <= _CONNECTED

    def _drop(self, level, n=1):
        with self._cv:
            self._unreported[level] += n
            self.dropped[level] += n

    def _push(self, frame, level):
        records, nbytes, batch = self._limits
        with self._cv:
            if self._records >= records or len(self._buf) + len(frame) > nbytes:
                self._unreported[level] += 1
                self.dropped[level] += 1
                return
            before = len(self._buf)
            self._buf += frame
            self._records += 1
            self._levels[level] += 1
            if before < batch <= len(self._buf):
                self._cv.notify_all()

    def span(self, name, level=INFO, target=None, **fields):
        """A span: ``with client.span("infer", model="m") as s: ...``."""
        return Span(self, name, target or self.target, level, fields)

    def traced(self, name=None, level=INFO, **fields):
        """Decorator: each call is a span named ``name`` (default: the function's name)."""
        def wrap(fn, span_name):
            @functools.wraps(fn)
            def inner(*a, **kw):
                with self.span(span_name, level, **fields):
                    return fn(*a, **kw)
            return inner
        if callable(name):  # @client.traced without arguments
            return wrap(name, name.__name__)
        return lambda fn: wrap(fn, name or fn.__name__)

    def _span_closed(self, s, dur_ns):
        if not self._accepting():
            self._drop(s.level)
            return
        traced = self._traced
        body = bytearray(struct.pack("<QQQ", s.trace_id, s.span_id, s.parent_id) if traced else b"")
        _str(s.name, body)
        _str(s.target, body)
        _str(s.parent, body)
        _varint(s.start_ns, body)
        _varint(max(dur_ns, 0), body)
        body.append(s.level)
        body.append(1 if s.error else 0)
        _fields(s.fields, body)
        self._push(_frame(TRACED_SPAN if traced else SPAN, body), s.level)

    def event(self, level, message, target=None, **fields):
        """An event (a log record); ERROR marks the current span in error."""
        stack = self._stack()
        if level == ERROR_LEVEL and stack:
            stack[-1].error = True
        if not self._accepting():
            self._drop(level)
            return
        body = bytearray()
        _varint(time.time_ns(), body)
        body.append(level)
        _str(target or self.target, body)
        _str(stack[-1].name if stack else "", body)
        f = {"message": message}
        f.update(fields)
        _fields(f, body)
        self._push(_frame(EVENT, body), level)

    def _metric(self, kind, name, value, labels):
        if not self._accepting():
            self._drop(INFO)
            return
        body = bytearray([kind])
        _str(name, body)
        items = list(labels.items())[:MAX_LABELS]
        body.append(len(items))
        for k, v in items:
            _str(k, body)
            _str(str(v), body)
        body += struct.pack("<d", float(value))
        self._push(_frame(METRIC, body), INFO)

    def counter(self, name, value=1, **labels):
        """Adds ``value`` to counter ``name{app, labels}``."""
        self._metric(COUNTER, name, value, labels)

    def gauge(self, name, value, **labels):
        """Sets gauge ``name{app, labels}``."""
        self._metric(GAUGE, name, value, labels)

    def histogram(self, name, value, **labels):
        """Observes ``value`` in distribution ``name{app, labels}``."""
        self._metric(HISTOGRAM, name, value, labels)

    def stats(self):
        """Counters: connected, connects, sent, dropped per level (trace..error)."""
        with self._cv:
            return {"connected": self._state == _CONNECTED, "connects": self.connects,
                    "sent": self.sent, "dropped": list(self.dropped),
                    "last_refusal": self.last_refusal}

    def flush(self, timeout=1.0):
        """Sends what is queued now; waits at most ``timeout`` s. True when done."""
        with self._cv:
            self._flush_asked += 1
            want = self._flush_asked
            self._cv.notify_all()
            return self._cv.wait_for(lambda: self._flush_done >= want, timeout)

    def close(self):
        """Flushes (at most ``flush_timeout`` s) and stops the sender."""
        if self._state == _CLOSED:
            return
        self.flush(self._flush_timeout)
        with self._cv:
            self._state = _CLOSED
            self._cv.notify_all()

    # ---- sender thread ----------------------------------------------------------------

    def _connect(self):
        """Offers VERSION, then MIN_VERSION to a daemon that refuses VERSION as too new."""
        try:
            return self._handshake(VERSION)
        except KpidRefused as e:
            if e.code != VERSION_MISMATCH or VERSION == MIN_VERSION:
                raise
        return self._handshake(MIN_VERSION)

    def _handshake(self, version):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(1.0)
            s.connect(self.socket_path)
            body = bytearray(MAGIC + struct.pack("<H", version))
            _str(self.app, body)
            _varint(os.getpid(), body)
            _str(socket.gethostname(), body)
            try:
                s.sendall(_frame(HELLO, body))
            except OSError:
                pass  # a refusing daemon may close first: read its reply anyway
            head = self._recv_exact(s, 5)
            (length, ftype) = struct.unpack("<IB", head)
            reply = self._recv_exact(s, length - 1)
            if ftype == WELCOME:
                self._traced = struct.unpack("<H", reply[:2])[0] >= 2
                return s
            if ftype == ERROR:
                code = struct.unpack("<H", reply[:2])[0]
                n, i, shift = 0, 2, 0
                while True:
                    b = reply[i]
                    n |= (b & 0x7F) << shift
                    i += 1
                    shift += 7
                    if b < 0x80:
                        break
                raise KpidRefused("kpid refused this app (code %d): %s"
                                  % (code, reply[i:i + n].decode("utf-8", "replace")), code)
            raise OSError("unexpected reply from kpid")
        except BaseException:
            s.close()
            raise

    @staticmethod
    def _recv_exact(s, n):
        b = bytearray()
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk:
                raise OSError("kpid closed the connection")
            b += chunk
        return bytes(b)

    def _run(self):
        conn, backoff, next_try = None, 0.02, 0.0
        _, _, batch = self._limits
        while True:
            with self._cv:
                closing = self._state == _CLOSED
            if conn is None and not closing and time.monotonic() >= next_try:
                try:
                    conn = self._connect()
                    with self._cv:
                        self.connects += 1
                        self.last_refusal = None
                        if self._state != _CLOSED:
                            self._state = _CONNECTED
                    backoff = 0.02
                except (OSError, KpidRefused) as e:
                    with self._cv:
                        if self._state != _CLOSED:
                            self._state = _ABSENT
                        if isinstance(e, KpidRefused):
                            self.last_refusal = str(e)
                            backoff = self._max_backoff
                    next_try = time.monotonic() + backoff
                    backoff = min(backoff * 2, self._max_backoff)
            wait = self._interval if conn else max(0.001, min(self._interval, next_try - time.monotonic()))
            with self._cv:
                asked = self._flush_done
                self._cv.wait_for(lambda: len(self._buf) >= batch or self._flush_asked != asked
                                  or self._state == _CLOSED, wait)
                data, records, levels = self._buf, self._records, self._levels
                self._buf, self._records, self._levels = bytearray(), 0, [0] * 5
                drops, self._unreported = self._unreported, [0] * 5
                gen = self._flush_asked
            conn = self._send(conn, data, records, levels, drops)
            with self._cv:
                if gen > self._flush_done:
                    self._flush_done = gen
                    self._cv.notify_all()
            if closing:
                if conn:
                    conn.close()
                return

    def _send(self, conn, data, records, levels, drops):
        if not records and not any(drops):
            return conn
        if conn is not None:
            head = bytearray()
            if any(drops):
                body = bytearray()
                for n in drops:
                    _varint(n, body)
                head = _frame(DROPS, body)
            try:
                conn.sendall(head + data)
                with self._cv:
                    self.sent += records
                return conn
            except OSError:
                conn.close()
                conn = None
                with self._cv:
                    if self._state != _CLOSED:
                        self._state = _ABSENT
        with self._cv:
            for i in range(5):
                self._unreported[i] += drops[i] + levels[i]
                self.dropped[i] += levels[i]
        return conn


_LEVELS = ((logging.ERROR, ERROR_LEVEL), (logging.WARNING, WARN), (logging.INFO, INFO),
           (logging.DEBUG, DEBUG))


class KpidHandler(logging.Handler):
    """A ``logging.Handler`` that sends each record to kpid as an event (``events_total``);
    extra fields named ``counter.X`` / ``gauge.X`` / ``histogram.X`` become KPIs."""

    def __init__(self, client, level=logging.NOTSET):
        super().__init__(level)
        self.client = client

    def emit(self, record):
        try:
            lvl = next((k for (py, k) in _LEVELS if record.levelno >= py), TRACE)
            fields = {k: v for k, v in record.__dict__.items()
                      if "." in k and k.split(".", 1)[0] in
                      ("counter", "monotonic_counter", "gauge", "histogram")}
            self.client.event(lvl, record.getMessage(), target=record.name, **fields)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)
