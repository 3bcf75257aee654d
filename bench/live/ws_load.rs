//! Load on `/ws/metrics` through the real `kpid` binary (release build): issue 9, item 7.
//!
//! Three scenarios, each against a fresh `kpid --log FILE --interval 100ms --no-state
//! --no-socket` (open-file limit raised to 8192, `[server] max_connections_per_peer = 4096`):
//!
//! 1. **fanout**: a writer appends a stats line every 10 ms (4 numeric fields, so 5 KPIs
//!    change in every 100 ms update). kpid's CPU (utime + stime of the process, from
//!    `/proc/PID/stat`) and RSS (`VmRSS`) are read over `SECS` with 0 clients, then over
//!    `SECS` with `CLIENTS` clients connected. Also each client's frame rate and the frame
//!    delay (receive time minus the frame's `ts`, both wall clock on this machine).
//!    Floors: ≤ 15 % of a core and ≤ 15 MB RSS for the 1,000 clients.
//! 2. **slow**: `FAST` clients read and measure frame delay; then `SLOW` clients with a
//!    4 KiB receive buffer (set before connecting) connect and never read. The drop time of
//!    each is when `/api/health` `drops.ws_clients_dropped` (polled every 50 ms) counts it.
//!    Floors: each slow client dropped within 10 s, fast clients' p99 delay < 100 ms.
//! 3. **tail**: `CLIENTS` clients connected, then a writer appends `RATE` lines/s (~80 bytes,
//!    logfmt, pre-formatted chunks of 1,000 lines) for `TAIL_SECS`. Lines read
//!    (`/api/health` `sources[].lines`) must equal lines written, with no parse errors or
//!    discarded lines. Floor: zero lines lost.
//!
//! The clients run in this process on one thread (tokio, current-thread runtime, a minimal
//! RFC 6455 reader); their CPU is not counted against kpid.
//!
//! Run: `cargo bench --bench ws_load -- [fanout] [slow] [tail] [--clients=1000] [--secs=20]
//! [--slow=50] [--fast=20] [--rate=500000] [--tail-secs=10] [--kpid=PATH] [--no-config]`
//! (no scenario named: all three). `--kpid` runs another build; `--no-config` is for a build
//! older than the `[server]` connection caps.

use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader as StdBufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

const INTERVAL: &str = "100ms";

#[derive(Debug, Clone)]
struct Opts {
    scenarios: Vec<String>,
    clients: usize,
    secs: f64,
    slow: usize,
    fast: usize,
    rate: u64,
    tail_secs: f64,
    kpid: PathBuf,
    config: bool,
    out: PathBuf,
}

fn num<T: std::str::FromStr>(arg: &str, v: &str) -> T {
    v.parse().unwrap_or_else(|_| panic!("bad value in {arg}"))
}

fn opts() -> Opts {
    let mut o = Opts {
        scenarios: Vec::new(),
        clients: 1000,
        secs: 20.0,
        slow: 50,
        fast: 20,
        rate: 500_000,
        tail_secs: 10.0,
        kpid: PathBuf::from(env!("CARGO_BIN_EXE_kpid")),
        config: true,
        out: PathBuf::from("bench/out/ws_load"),
    };
    for a in std::env::args().skip(1) {
        if a == "--bench" {
            continue; // cargo bench passes it
        }
        if a == "--no-config" {
            o.config = false;
            continue;
        }
        if let Some((k, v)) = a.strip_prefix("--").and_then(|s| s.split_once('=')) {
            match k {
                "clients" => o.clients = num(&a, v),
                "secs" => o.secs = num(&a, v),
                "slow" => o.slow = num(&a, v),
                "fast" => o.fast = num(&a, v),
                "rate" => o.rate = num(&a, v),
                "tail-secs" => o.tail_secs = num(&a, v),
                "kpid" => o.kpid = PathBuf::from(v),
                _ => panic!("unknown option {a}"),
            }
        } else if ["fanout", "slow", "tail"].contains(&a.as_str()) {
            o.scenarios.push(a);
        } else {
            panic!("unknown argument {a} (scenarios: fanout, slow, tail)");
        }
    }
    if o.scenarios.is_empty() {
        o.scenarios = vec!["fanout".into(), "slow".into(), "tail".into()];
    }
    o
}

// ---------------------------------------------------------------------------------------
// kpid and /proc

struct Kpid {
    child: Child,
    port: u16,
}

impl Kpid {
    fn start(o: &Opts, log: &Path, name: &str) -> Kpid {
        let mut cmd = Command::new(&o.kpid);
        cmd.arg("--log")
            .arg(log)
            .args(["--interval", INTERVAL, "--port", "0", "--no-state"])
            .args(["--no-socket"]);
        if o.config {
            let cfg = o.out.join("kpid.toml");
            std::fs::write(&cfg, "[server]\nmax_connections_per_peer = 4096\n").unwrap();
            cmd.arg("--config").arg(cfg);
        }
        let err = File::create(o.out.join(format!("{name}.err"))).unwrap();
        let mut child = cmd
            .env("KPID_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("kpid binary");
        let mut line = String::new();
        StdBufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("kpid printed {line:?}"));
        Kpid { child, port }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// utime + stime, in seconds.
    fn cpu_s(&self) -> f64 {
        let (user, sys) = self.cpu_split();
        user + sys
    }

    /// (utime, stime) in seconds.
    fn cpu_split(&self) -> (f64, f64) {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let f: Vec<&str> = s.rsplit_once(')').unwrap().1.split_whitespace().collect();
        let t = |i: usize| f[i].parse::<u64>().unwrap() as f64 / clk_tck();
        (t(11), t(12))
    }

    /// A `/proc/PID/status` figure in MB (VmRSS, VmHWM).
    fn mem_mb(&self, key: &str) -> f64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    }

    fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Kpid {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// CPU % of one core used by kpid over `secs` (total, user, system), sleeping on the runtime
/// meanwhile.
async fn cpu_over(k: &Kpid, secs: f64) -> (f64, f64, f64) {
    let (t0, (u0, s0)) = (Instant::now(), k.cpu_split());
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let (u1, s1) = k.cpu_split();
    let pct = |d: f64| d / t0.elapsed().as_secs_f64() * 100.0;
    (pct(u1 - u0 + s1 - s0), pct(u1 - u0), pct(s1 - s0))
}

fn raise_nofile(n: u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct; children inherit the limit.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = n.min(r.rlim_max);
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
    }
}

async fn health(port: u16) -> Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!("GET /api/health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let i = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    serde_json::from_slice(&buf[i + 4..]).unwrap_or_else(|e| panic!("health: {e}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// Lines read, and lines lost or refused (parse errors, long lines, truncation...).
fn lines(h: &Value) -> (u64, u64) {
    let mut read = 0;
    let mut lost = 0;
    for s in h["sources"].as_array().into_iter().flatten() {
        read += u(&s["lines"]);
        for k in [
            "parse_errors",
            "discarded_long_lines",
            "truncated_bytes_lost",
            "missed_files",
            "event_overflows",
            "invalid_utf8_lines",
        ] {
            lost += u(&s[k]);
        }
    }
    (read, lost)
}

// ---------------------------------------------------------------------------------------
// log writers

struct Writer {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
    /// Returns the seconds it spent writing.
    thread: Option<std::thread::JoinHandle<f64>>,
    secs: f64,
}

impl Writer {
    /// A stats line every 10 ms: 4 numeric fields that change every line.
    fn steady(log: &Path) -> Writer {
        let (stop, written) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let mut f = OpenOptions::new().append(true).open(log).unwrap();
        let (s, w) = (stop.clone(), written.clone());
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut i = 0u64;
            while !s.load(Relaxed) {
                i += 1;
                let line = format!(
                    "level=info msg=stats fps_in={}.{} queue_rt={} gpu_util={} e2e_ms={}.{}\n",
                    28 + i % 5,
                    i % 10,
                    i % 7,
                    60 + i % 30,
                    40 + i % 13,
                    i % 10
                );
                f.write_all(line.as_bytes()).unwrap();
                w.fetch_add(1, Relaxed);
                let next = start + Duration::from_millis(10 * i);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            start.elapsed().as_secs_f64()
        });
        Writer {
            stop,
            written,
            thread: Some(thread),
            secs: 0.0,
        }
    }

    /// `rate` lines/s for `secs`, in chunks of 1,000 pre-formatted lines; returns at once.
    fn fast(log: &Path, rate: u64, secs: f64) -> Writer {
        const CHUNK: u64 = 1000;
        let (stop, written) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let mut f = OpenOptions::new().append(true).open(log).unwrap();
        let chunks: Vec<Vec<u8>> = (0..16u64)
            .map(|c| {
                let mut b = Vec::new();
                for n in 0..CHUNK {
                    let i = c * CHUNK + n;
                    writeln!(
                        b,
                        "level=info msg=request path=/api/items/{} status={} bytes={} dur_ms={}.{}",
                        i % 100,
                        [200, 200, 200, 404, 500][(i % 5) as usize],
                        512 + i % 4096,
                        i % 50,
                        i % 10
                    )
                    .unwrap();
                }
                b
            })
            .collect();
        let (s, w) = (stop.clone(), written.clone());
        let total = (rate as f64 * secs) as u64;
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut n = 0u64;
            let mut c = 0;
            while n < total && !s.load(Relaxed) {
                let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
                if n + CHUNK <= due.min(total) {
                    f.write_all(&chunks[c % chunks.len()]).unwrap();
                    c += 1;
                    n += CHUNK;
                    w.store(n, Relaxed);
                } else {
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
            start.elapsed().as_secs_f64()
        });
        Writer {
            stop,
            written,
            thread: Some(thread),
            secs: 0.0,
        }
    }

    fn written(&self) -> u64 {
        self.written.load(Relaxed)
    }

    fn finish(&mut self) -> u64 {
        self.stop.store(true, Relaxed);
        self.join()
    }

    fn join(&mut self) -> u64 {
        if let Some(t) = self.thread.take() {
            self.secs = t.join().unwrap();
        }
        self.written()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.finish();
    }
}

// ---------------------------------------------------------------------------------------
// WebSocket clients

/// What every reading client records.
#[derive(Debug, Default)]
struct Stats {
    /// Text messages received, per client.
    frames: Vec<AtomicU64>,
    /// Close code received (0: none yet), per client.
    closed: Vec<AtomicU64>,
    /// Update frame delays in ms, recorded while `record` is set.
    delays: Mutex<Vec<f32>>,
    record: AtomicBool,
}

impl Stats {
    fn new(n: usize) -> Arc<Stats> {
        Arc::new(Stats {
            frames: (0..n).map(|_| AtomicU64::new(0)).collect(),
            closed: (0..n).map(|_| AtomicU64::new(0)).collect(),
            ..Stats::default()
        })
    }

    fn frames(&self) -> Vec<u64> {
        self.frames.iter().map(|f| f.load(Relaxed)).collect()
    }

    fn take_delays(&self) -> Vec<f32> {
        self.record.store(false, Relaxed);
        let mut d = std::mem::take(&mut *self.delays.lock().unwrap());
        d.sort_by(f32::total_cmp);
        d
    }
}

type Ws = BufReader<TcpStream>;

async fn connect(port: u16, rcvbuf: Option<u32>) -> std::io::Result<Ws> {
    let sock = TcpSocket::new_v4()?;
    if let Some(n) = rcvbuf {
        sock.set_recv_buffer_size(n)?;
    }
    let s = sock.connect(([127, 0, 0, 1], port).into()).await?;
    s.set_nodelay(true)?;
    let mut s = BufReader::with_capacity(64 << 10, s);
    let req = format!(
        "GET /ws/metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    s.get_mut().write_all(req.as_bytes()).await?;
    let mut line = String::new();
    s.read_line(&mut line).await?;
    if !line.contains(" 101 ") {
        return Err(std::io::Error::other(format!("handshake: {line:?}")));
    }
    while line != "\r\n" {
        line.clear();
        if s.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::other("closed in the handshake"));
        }
    }
    Ok(s)
}

/// One frame: (fin, opcode), payload in `buf` (server frames are not masked).
async fn frame(s: &mut Ws, buf: &mut Vec<u8>) -> std::io::Result<(bool, u8)> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).await?;
    let n = match h[1] & 0x7f {
        126 => u64::from(s.read_u16().await?),
        127 => s.read_u64().await?,
        n => u64::from(n),
    };
    buf.resize(n as usize, 0);
    s.read_exact(buf).await?;
    Ok((h[0] & 0x80 != 0, h[0] & 0x0f))
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `ts` of an update frame: `{"type":"update","ts":1796019817.133099,...`.
fn update_ts(m: &[u8]) -> Option<f64> {
    let rest = m.strip_prefix(b"{\"type\":\"update\",\"ts\":")?;
    let end = rest.iter().position(|&b| b == b',')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

async fn reader(mut s: Ws, i: usize, st: Arc<Stats>) {
    let mut buf = Vec::with_capacity(16 << 10);
    let mut msg = Vec::new();
    loop {
        let Ok((fin, op)) = frame(&mut s, &mut buf).await else {
            st.closed[i].store(1, Relaxed); // closed without a close frame
            return;
        };
        match op {
            8 => {
                let code = buf
                    .get(..2)
                    .map_or(1005, |c| u16::from_be_bytes([c[0], c[1]]));
                st.closed[i].store(u64::from(code), Relaxed);
                return;
            }
            0 | 1 => {
                let m: &[u8] = if fin && msg.is_empty() {
                    &buf
                } else {
                    msg.extend_from_slice(&buf);
                    if !fin {
                        continue;
                    }
                    &msg
                };
                let now = now_s();
                st.frames[i].fetch_add(1, Relaxed);
                if st.record.load(Relaxed) {
                    if let Some(ts) = update_ts(m) {
                        st.delays.lock().unwrap().push(((now - ts) * 1000.0) as f32);
                    }
                }
                msg.clear();
            }
            9 => {
                // Pong, masked with a zero key (payloads here are at most 125 bytes).
                let mut f = vec![0x8a, 0x80 | buf.len() as u8, 0, 0, 0, 0];
                f.extend_from_slice(&buf);
                if s.get_mut().write_all(&f).await.is_err() {
                    st.closed[i].store(1, Relaxed);
                    return;
                }
            }
            _ => {}
        }
    }
}

/// Connects `n` reading clients (50 handshakes in flight at a time) and waits until each has
/// its snapshot.
async fn readers(port: u16, n: usize) -> (Arc<Stats>, Vec<JoinHandle<()>>) {
    let st = Stats::new(n);
    let mut tasks = Vec::with_capacity(n);
    for batch in (0..n).collect::<Vec<_>>().chunks(50) {
        let conns: Vec<_> = batch
            .iter()
            .map(|&i| tokio::spawn(async move { (i, connect(port, None).await) }))
            .collect();
        for c in conns {
            let (i, s) = c.await.unwrap();
            let s = s.unwrap_or_else(|e| panic!("client {i}: {e}"));
            tasks.push(tokio::spawn(reader(s, i, st.clone())));
        }
    }
    let t = Instant::now();
    while st.frames().contains(&0) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "clients without a snapshot after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (st, tasks)
}

fn pct(v: &[f32], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    f64::from(v[((p / 100.0 * v.len() as f64) as usize).min(v.len() - 1)])
}

fn rates(before: &[u64], after: &[u64], secs: f64) -> (f64, f64, f64) {
    let mut r: Vec<f64> = before
        .iter()
        .zip(after)
        .map(|(b, a)| (a - b) as f64 / secs)
        .collect();
    r.sort_by(f64::total_cmp);
    (r[0], r[r.len() / 2], r[r.len() - 1])
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

fn fresh_log(o: &Opts, name: &str) -> PathBuf {
    let log = o.out.join(format!("{name}.log"));
    File::create(&log).unwrap();
    log
}

// ---------------------------------------------------------------------------------------
// scenarios

async fn fanout(o: &Opts) -> bool {
    let log = fresh_log(o, "fanout");
    let k = Kpid::start(o, &log, "fanout");
    let mut w = Writer::steady(&log);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (cpu0, _, _) = cpu_over(&k, o.secs).await;
    let rss0 = k.mem_mb("VmRSS");
    let t = Instant::now();
    let (st, tasks) = readers(k.port, o.clients).await;
    let connect_s = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    st.record.store(true, Relaxed);
    let (f0, t0) = (st.frames(), Instant::now());
    let (cpu1, user1, sys1) = cpu_over(&k, o.secs).await;
    let (f1, secs) = (st.frames(), t0.elapsed().as_secs_f64());
    let delays = st.take_delays();
    let (rss1, hwm) = (k.mem_mb("VmRSS"), k.mem_mb("VmHWM"));
    let h = health(k.port).await;
    let threads = k.threads();
    w.finish();
    let (rmin, rmed, rmax) = rates(&f0, &f1, secs);
    let bytes_note = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    for t in tasks {
        t.abort();
    }
    drop(k);
    let (dcpu, drss) = (cpu1 - cpu0, rss1 - rss0);
    println!(
        "fanout: {} clients, interval {INTERVAL}, a stats line every 10 ms ({} lines, {} bytes), window {:.1} s each",
        o.clients,
        w.written(),
        bytes_note,
        o.secs
    );
    println!("  connect + snapshots: {connect_s:.2} s; kpid threads {threads}");
    println!("  kpid cpu: 0 clients {cpu0:.2} %, {} clients {cpu1:.2} % of one core (user {user1:.2}, system {sys1:.2}; clients' cost {dcpu:.2} %)", o.clients);
    println!("  kpid rss: 0 clients {rss0:.1} MB, {} clients {rss1:.1} MB (extra {drss:.1} MB), peak {hwm:.1} MB", o.clients);
    println!("  frames/s per client: min {rmin:.2} median {rmed:.2} max {rmax:.2}");
    println!(
        "  frame delay ms (n={}): p50 {:.1} p99 {:.1} max {:.1}",
        delays.len(),
        pct(&delays, 50.0),
        pct(&delays, 99.0),
        pct(&delays, 100.0)
    );
    println!(
        "  health: ws.clients {} ws_clients_dropped {}",
        h["ws"]["clients"], h["drops"]["ws_clients_dropped"]
    );
    let ok = dcpu <= 15.0 && drss <= 15.0 && rmin >= 9.0;
    println!(
        "  {}: clients' cpu <= 15 % of a core, extra rss <= 15 MB, every client >= 9 frames/s",
        verdict(ok)
    );
    ok
}

async fn slow(o: &Opts) -> bool {
    let log = fresh_log(o, "slow");
    let k = Kpid::start(o, &log, "slow");
    let mut w = Writer::steady(&log);
    let (st, tasks) = readers(k.port, o.fast).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    st.record.store(true, Relaxed);
    let t0 = Instant::now();
    let conns: Vec<_> = (0..o.slow)
        .map(|_| {
            let port = k.port;
            tokio::spawn(async move { connect(port, Some(4096)).await })
        })
        .collect();
    let mut slow = Vec::new();
    for c in conns {
        slow.push(c.await.unwrap().expect("slow client connects"));
    }
    let connected = t0.elapsed().as_secs_f64();
    // When each one was counted as dropped.
    let mut drop_s = Vec::new();
    let mut clients_after = Value::Null;
    let mut open_after = Value::Null;
    while t0.elapsed() < Duration::from_secs(30) && drop_s.len() < o.slow {
        let h = health(k.port).await;
        let n = u(&h["drops"]["ws_clients_dropped"]) as usize;
        let t = t0.elapsed().as_secs_f64();
        while drop_s.len() < n.min(o.slow) {
            drop_s.push(t);
        }
        if drop_s.len() >= o.slow {
            clients_after = h["ws"]["clients"].clone();
            open_after = h["http"]["connections_open"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let delays = st.take_delays();
    let h = health(k.port).await;
    let (clients_later, open_later) = (
        h["ws"]["clients"].clone(),
        h["http"]["connections_open"].clone(),
    );
    // Now read the slow ones to the end: each should get its close frame.
    let mut codes = std::collections::BTreeMap::<u64, usize>::new();
    let drained = slow.into_iter().map(|s| {
        let st = Stats::new(1);
        async move {
            let r = tokio::time::timeout(Duration::from_secs(10), reader(s, 0, st.clone())).await;
            if r.is_err() {
                0
            } else {
                st.closed[0].load(Relaxed)
            }
        }
    });
    for code in futures_util::future::join_all(drained).await {
        *codes.entry(code).or_default() += 1;
    }
    let fast_dropped = st.closed.iter().filter(|c| c.load(Relaxed) != 0).count();
    w.finish();
    for t in tasks {
        t.abort();
    }
    drop(k);
    let max_drop = drop_s.last().copied().unwrap_or(f64::INFINITY);
    println!(
        "slow: {} fast clients reading, {} slow clients (SO_RCVBUF 4096, never read), interval {INTERVAL}",
        o.fast, o.slow
    );
    println!("  slow clients connected in {connected:.2} s");
    if drop_s.len() < o.slow {
        println!("  only {} of {} dropped within 30 s", drop_s.len(), o.slow);
    }
    if !drop_s.is_empty() {
        println!(
            "  dropped after (s, from the first connect): first {:.2} median {:.2} last {:.2}",
            drop_s[0],
            drop_s[drop_s.len() / 2],
            max_drop
        );
    }
    println!(
        "  after the last drop: ws.clients {clients_after}, http connections_open {open_after}; 3 s later: {clients_later}, {open_later}"
    );
    println!("  close codes the slow clients then read (1: connection closed without a close frame, 0: open after 10 s): {codes:?}");
    println!(
        "  fast clients' frame delay ms (n={}): p50 {:.1} p99 {:.1} max {:.1}; fast clients closed: {fast_dropped}",
        delays.len(),
        pct(&delays, 50.0),
        pct(&delays, 99.0),
        pct(&delays, 100.0)
    );
    let ok = drop_s.len() == o.slow && max_drop <= 10.0 && pct(&delays, 99.0) < 100.0;
    println!(
        "  {}: every slow client dropped within 10 s, fast p99 < 100 ms",
        verdict(ok && fast_dropped == 0)
    );
    ok && fast_dropped == 0
}

async fn tail(o: &Opts) -> bool {
    let log = fresh_log(o, "tail");
    let k = Kpid::start(o, &log, "tail");
    let mut steady = Writer::steady(&log);
    let (st, tasks) = readers(k.port, o.clients).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = steady.finish();
    tokio::time::sleep(Duration::from_millis(300)).await;
    st.record.store(true, Relaxed);
    let (f0, c0, t0) = (st.frames(), k.cpu_s(), Instant::now());
    let mut fast = Writer::fast(&log, o.rate, o.tail_secs);
    let mut max_lag = 0u64;
    while !fast.thread.as_ref().unwrap().is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let w = fast.written();
        let (read, _) = lines(&health(k.port).await);
        max_lag = max_lag.max((before + w).saturating_sub(read));
    }
    let wrote = fast.join();
    let write_s = t0.elapsed().as_secs_f64();
    let (f1, c1) = (st.frames(), k.cpu_s());
    let cpu = (c1 - c0) / write_s * 100.0;
    let delays = st.take_delays();
    let total = before + wrote;
    let (mut read, mut lost) = (0, 0);
    let mut h = Value::Null;
    while t0.elapsed().as_secs_f64() < write_s + 60.0 {
        h = health(k.port).await;
        (read, lost) = lines(&h);
        if read >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caught_up = t0.elapsed().as_secs_f64() - write_s;
    let (rmin, rmed, rmax) = rates(&f0, &f1, write_s);
    let rss = k.mem_mb("VmHWM");
    let log_bytes = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    for t in tasks {
        t.abort();
    }
    drop(k);
    let _ = std::fs::remove_file(&log);
    println!(
        "tail: {} lines/s for {:.0} s while {} clients watch (interval {INTERVAL})",
        o.rate, o.tail_secs, o.clients
    );
    println!(
        "  written {wrote} lines in {:.2} s ({:.0} lines/s achieved, {:.0} MB) + {before} before; read {read}; lost {}; refused/errors {lost}",
        fast.secs,
        wrote as f64 / fast.secs,
        log_bytes as f64 / 1e6,
        total.saturating_sub(read)
    );
    println!(
        "  largest backlog sampled {max_lag} lines; all read {caught_up:.2} s after the writer stopped"
    );
    println!("  kpid cpu while writing {cpu:.1} % of one core; peak rss {rss:.1} MB");
    println!("  frames/s per client while writing: min {rmin:.2} median {rmed:.2} max {rmax:.2}");
    println!(
        "  frame delay ms (n={}): p50 {:.1} p99 {:.1} max {:.1}; ws_clients_dropped {}",
        delays.len(),
        pct(&delays, 50.0),
        pct(&delays, 99.0),
        pct(&delays, 100.0),
        h["drops"]["ws_clients_dropped"]
    );
    let ok = read == total && lost == 0 && u(&h["drops"]["ws_clients_dropped"]) == 0;
    println!(
        "  {}: zero lines lost (read == written, no parse errors or discards), no client dropped",
        verdict(ok)
    );
    ok
}

fn main() {
    let o = opts();
    std::fs::create_dir_all(&o.out).unwrap();
    raise_nofile(8192);
    println!(
        "kpid: {} (load average: {})",
        o.kpid.display(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut ok = true;
    for s in o.scenarios.clone() {
        ok &= rt.block_on(async {
            match s.as_str() {
                "fanout" => fanout(&o).await,
                "slow" => slow(&o).await,
                _ => tail(&o).await,
            }
        });
        println!(
            "  (load average after: {})",
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
        );
    }
    std::process::exit(if ok { 0 } else { 1 });
}
