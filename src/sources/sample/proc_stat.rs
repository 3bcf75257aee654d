//! Reading processes from `/proc`: one process's figures (`stat`, `io`, `fd`), its children,
//! and the whole table (pid, parent, name) for scans. Reads reuse one buffer.

use std::io::Read;

/// What `/proc/PID/stat` says of a process.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Stat {
    /// Name (`comm`, at most 15 bytes).
    pub comm: String,
    /// Parent pid.
    pub ppid: u32,
    /// User and system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Threads.
    pub threads: u64,
    /// Resident memory.
    pub rss_bytes: u64,
}

fn read_into(path: &str, buf: &mut String) -> bool {
    buf.clear();
    match std::fs::File::open(path) {
        Ok(mut f) => f.read_to_string(buf).is_ok(),
        Err(_) => false,
    }
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub(super) fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

impl Stat {
    /// Parses a `stat` line: `PID (COMM) STATE PPID ...`; the name may hold spaces and
    /// parentheses, so fields are counted from the last `)`.
    pub(super) fn parse(text: &str) -> Option<Stat> {
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let comm = text.get(open + 1..close)?.to_owned();
        let f: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        Some(Stat {
            comm,
            ppid: num(1)? as u32,
            cpu_ticks: num(11)? + num(12)?,
            threads: num(17)?,
            rss_bytes: num(21)? * page_size(),
        })
    }

    /// The process's figures now; `None` once it has exited.
    pub(super) fn read(pid: u32, buf: &mut String) -> Option<Stat> {
        if !read_into(&format!("/proc/{pid}/stat"), buf) {
            return None;
        }
        Stat::parse(buf)
    }
}

/// Bytes read from and written to storage (`/proc/PID/io`; needs the right to ptrace it).
pub(super) fn io(pid: u32, buf: &mut String) -> Option<(u64, u64)> {
    if !read_into(&format!("/proc/{pid}/io"), buf) {
        return None;
    }
    let field = |name: &str| {
        buf.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some((field("read_bytes:")?, field("write_bytes:")?))
}

/// Open file descriptors.
pub(super) fn open_fds(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count())
}

/// Children of the process's main thread, or of all its threads.
pub(super) fn children(pid: u32, all_threads: bool, buf: &mut String) -> Vec<u32> {
    let mut out = Vec::new();
    let mut read = |tid: &str, buf: &mut String| {
        if read_into(&format!("/proc/{pid}/task/{tid}/children"), buf) {
            out.extend(buf.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
    };
    if all_threads {
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in dir.flatten() {
                read(&t.file_name().to_string_lossy(), buf);
            }
        }
    } else {
        read(&pid.to_string(), buf);
    }
    out
}

/// CPU time this thread has used, in microseconds.
pub(super) fn thread_cpu_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the struct we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// The command line, arguments joined by spaces.
pub(super) fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        String::from_utf8_lossy(&raw)
            .trim_end_matches('\0')
            .replace('\0', " "),
    )
}

/// Every process: (pid, parent pid, name).
pub(super) fn table(buf: &mut String) -> Vec<(u32, u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(st) = Stat::read(pid, buf) {
            out.push((pid, st.ppid, st.comm));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 123 4096 300 18446744073709551615";
        let st = Stat::parse(line).unwrap();
        assert_eq!(st.comm, "my (odd) name");
        assert_eq!((st.ppid, st.cpu_ticks, st.threads), (1, 300, 7));
        assert_eq!(st.rss_bytes, 300 * page_size());
        assert!(Stat::parse("garbage").is_none());
    }

    #[test]
    fn this_process_is_read_back() {
        let mut buf = String::new();
        let me = std::process::id();
        let st = Stat::read(me, &mut buf).unwrap();
        assert!(st.threads >= 1 && st.rss_bytes > 0);
        assert!(table(&mut buf).iter().any(|(p, _, _)| *p == me));
        assert!(open_fds(me).unwrap() >= 3);
    }
}
