//! One worker process seen from the daemon: started (kpid re-executed as `kpid plugin-worker`
//! with its pipes and shared page on fds 3-6), sent requests, waited for with a per-line
//! deadline read off the shared progress page, and killed by pid.

use super::area::Area;
use super::proto;
use super::shm::{Progress, FD_PLUGIN, FD_PROGRESS, FD_REPLIES, FD_REQUESTS};
use super::WorkerSettings;
use crate::plugin_host::guard::FailureKind;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a request ended badly.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// What happened.
    pub kind: FailureKind,
    /// Index (in the request) of the line being parsed, when the worker had started on it.
    pub line: Option<usize>,
    /// For people: `crashed (SIGSEGV)`, `timed out after 1s`...
    pub reason: String,
}

/// A running worker.
#[derive(Debug)]
pub struct Process {
    child: Child,
    tx: File,
    rx: File,
    progress: Progress,
    area: Area,
    seq: u64,
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: two fresh descriptors we own. A bigger pipe means fewer wake-ups per batch.
    unsafe {
        libc::fcntl(fds[1], libc::F_SETPIPE_SZ, 1 << 20);
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// A descriptor at 10 or above (so that moving it onto 3-6 in the child clobbers nothing).
fn high(fd: RawFd) -> std::io::Result<OwnedFd> {
    // SAFETY: duplicating a valid descriptor; the copy is ours.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGILL => "SIGILL".into(),
        libc::SIGFPE => "SIGFPE".into(),
        libc::SIGKILL => "SIGKILL".into(),
        s => format!("signal {s}"),
    }
}

impl Process {
    /// Starts a worker for the plugin whose checked bytes are in `plugin_fd`, and waits for
    /// its hello (the plugin loaded and made its parser) up to `settings.start_timeout`.
    pub fn start(
        settings: &WorkerSettings,
        plugin_fd: RawFd,
        name: &str,
        options: &str,
    ) -> Result<Process, String> {
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        let (req_r, req_w) = pipe().map_err(|e| io("pipe", e))?;
        let (rep_r, rep_w) = pipe().map_err(|e| io("pipe", e))?;
        let progress = Progress::new().map_err(|e| io("shared page", e))?;
        let area = Area::map(progress.fd()).map_err(|e| io("shared area", e))?;
        let fds = [
            (high(req_r.as_raw_fd()), FD_REQUESTS),
            (high(rep_w.as_raw_fd()), FD_REPLIES),
            (high(progress.fd()), FD_PROGRESS),
            (high(plugin_fd), FD_PLUGIN),
        ];
        let mut moves = Vec::new();
        for (fd, to) in fds {
            moves.push((fd.map_err(|e| io("dup", e))?, to));
        }
        let raw: Vec<(RawFd, RawFd)> = moves.iter().map(|(f, t)| (f.as_raw_fd(), *t)).collect();
        let mut cmd = Command::new(&settings.exe);
        cmd.arg("plugin-worker")
            .args(["--name", name, "--options", options])
            .arg("--memory-limit")
            .arg(settings.memory_limit.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec: dup2 (which clears
        // close-on-exec on the copy) and prctl.
        unsafe {
            cmd.pre_exec(move || {
                for (from, to) in &raw {
                    if libc::dup2(*from, *to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // The worker dies with the daemon, even one killed with SIGKILL.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| io("start the worker", e))?;
        drop(moves);
        drop((req_r, rep_w));
        let mut p = Process {
            child,
            tx: File::from(req_w),
            rx: File::from(rep_r),
            progress,
            area,
            seq: 0,
        };
        let mut head = [0u8; 8];
        let deadline = Instant::now() + settings.start_timeout;
        if let Err(f) = p.read_exact(&mut head, deadline, None) {
            p.kill();
            return Err(format!("the worker did not start: {}", f.reason));
        }
        let status = u32::from_le_bytes(head[..4].try_into().unwrap_or_default());
        let len = u32::from_le_bytes(head[4..].try_into().unwrap_or_default()) as usize;
        let mut msg = vec![0; len.min(4096)];
        let read = p.read_exact(&mut msg, deadline, None);
        if status != 0 || read.is_err() || len > 4096 {
            p.kill();
            return Err(String::from_utf8_lossy(&msg).into_owned());
        }
        Ok(p)
    }

    /// The worker's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the worker, in bytes (0 when unknown).
    pub fn rss(&self) -> u64 {
        let statm = std::fs::read_to_string(format!("/proc/{}/statm", self.pid()));
        let pages: u64 = statm
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0);
        pages * 4096
    }

    /// Sends `lines` and reads the reply into `reply` (the per-line entries, without the
    /// frame's length), killing the worker if one line takes longer than `line_timeout`.
    pub fn roundtrip(
        &mut self,
        lines: &[&[u8]],
        buf: &mut Vec<u8>,
        reply: &mut Vec<u8>,
        settings: &WorkerSettings,
    ) -> Result<(), Failure> {
        self.seq += 1;
        // The worker reads a whole request before parsing, so this cannot wait on it.
        let sent = match self.area.put_request(lines) {
            Some(total) => {
                let mut head = [0u8; 8];
                head[..4].copy_from_slice(&(lines.len() as u32).to_le_bytes());
                head[4..].copy_from_slice(&(total | proto::IN_AREA).to_le_bytes());
                self.tx.write_all(&head)
            }
            None => {
                proto::request(lines, buf);
                self.tx.write_all(buf)
            }
        };
        if sent.is_err() {
            return Err(self.died(None));
        }
        let watch = Some(settings.line_timeout);
        let far = Instant::now() + Duration::from_secs(86_400);
        let mut head = [0u8; 4];
        self.read_exact(&mut head, far, watch)?;
        let len = u32::from_le_bytes(head);
        if len & proto::IN_AREA != 0 {
            if self
                .area
                .take_reply((len & !proto::IN_AREA) as usize, reply)
            {
                return Ok(());
            }
            return Err(Failure {
                kind: FailureKind::Crash,
                line: None,
                reason: "sent a malformed reply".into(),
            });
        }
        reply.clear();
        reply.resize(len as usize, 0);
        self.read_exact(reply, far, watch)
    }

    /// Reads exactly `buf.len()` bytes, until `deadline`; with `line_timeout`, also kills the
    /// worker when its progress counter stays on one line that long.
    fn read_exact(
        &mut self,
        buf: &mut [u8],
        deadline: Instant,
        line_timeout: Option<Duration>,
    ) -> Result<(), Failure> {
        let mut got = 0;
        let mut at = (self.progress.read(), Instant::now());
        while got < buf.len() {
            let slice = line_timeout.map_or(Duration::from_millis(100), |t| t / 4);
            let mut pfd = libc::pollfd {
                fd: self.rx.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = slice.as_millis().clamp(1, 1000) as i32;
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
            if ready > 0 {
                match self.rx.read(&mut buf[got..]) {
                    Ok(0) | Err(_) => return Err(self.died(line_timeout.map(|_| self.seq))),
                    Ok(n) => got += n,
                }
                continue;
            }
            let now = Instant::now();
            let progress = self.progress.read();
            if progress != at.0 {
                at = (progress, now);
            }
            let stuck = line_timeout.filter(|t| now.duration_since(at.1) >= *t);
            if let Some(t) = stuck {
                let line = self.progress.line_of(self.seq);
                self.kill();
                return Err(Failure {
                    kind: FailureKind::Timeout,
                    line,
                    reason: format!("timed out (over {t:?})"),
                });
            }
            if now >= deadline {
                self.kill();
                return Err(Failure {
                    kind: FailureKind::Timeout,
                    line: None,
                    reason: "did not answer in time".into(),
                });
            }
        }
        Ok(())
    }

    /// Reaps a worker that closed its pipe, and says why it died.
    fn died(&mut self, seq: Option<u64>) -> Failure {
        let line = seq.and_then(|s| self.progress.line_of(s));
        // A worker that closed its pipe without exiting (a plugin closing descriptors) gets
        // a moment to exit, then is killed: the daemon never waits on it for good.
        let until = Instant::now() + Duration::from_secs(1);
        let mut status = None;
        while status.is_none() && Instant::now() < until {
            status = self.child.try_wait().ok().flatten();
            if status.is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if status.is_none() {
            let _ = self.child.kill();
            status = self.child.wait().ok();
        }
        let (vm, sig) = self.progress.fatal();
        let reason = match (
            status.and_then(|s| s.signal()),
            status.and_then(|s| s.code()),
        ) {
            (Some(s), _) => format!("crashed ({})", signal_name(s)),
            (None, Some(c)) => format!("exited with status {c}"),
            (None, None) => "closed its pipe".into(),
        };
        let memory = sig != 0 && vm > 0 && vm + (32 << 20) >= self.memory_limit_hint();
        match memory {
            true => Failure {
                kind: FailureKind::Memory,
                line,
                reason: format!("{reason} at its memory limit ({} MiB in use)", vm >> 20),
            },
            false => Failure {
                kind: FailureKind::Crash,
                line,
                reason,
            },
        }
    }

    fn memory_limit_hint(&self) -> u64 {
        self.progress.limit()
    }

    /// Kills the worker (by its pid) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
