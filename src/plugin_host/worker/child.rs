//! `kpid plugin-worker`: the worker process. It caps its address space (`RLIMIT_AS`), notes
//! fatal signals on the shared page, loads the plugin from the checked bytes the daemon passed
//! (the same load path as in-process, output bounds included), makes one parser, says hello,
//! then parses requests until its request pipe closes.

use super::area::Area;
use super::encode::Encoder;
use super::proto::IN_AREA;
use super::shm::{Progress, FD_PLUGIN, FD_PROGRESS, FD_REPLIES, FD_REQUESTS};
use crate::plugin_host::load;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::path::Path;
use std::sync::OnceLock;

static PAGE: OnceLock<&'static Progress> = OnceLock::new();

/// Fatal-signal handler: stores the signal and the address-space size (read from
/// /proc/self/statm with async-signal-safe calls only), then dies of the signal.
extern "C" fn fatal(sig: libc::c_int) {
    let mut vm = 0u64;
    let mut buf = [0u8; 64];
    // SAFETY: open/read/close on a NUL-terminated path into a stack buffer.
    unsafe {
        let fd = libc::open(c"/proc/self/statm".as_ptr(), libc::O_RDONLY);
        if fd >= 0 {
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            libc::close(fd);
            for &b in buf.iter().take(n.max(0) as usize) {
                if !b.is_ascii_digit() {
                    break;
                }
                vm = vm * 10 + u64::from(b - b'0');
            }
        }
    }
    if let Some(p) = PAGE.get() {
        p.fatal_store(sig as u64, vm * 4096);
    }
    // SAFETY: back to the default action, then the same signal again: the process dies of it.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

fn install_handlers() {
    for sig in [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGABRT,
        libc::SIGILL,
        libc::SIGFPE,
    ] {
        // SAFETY: a zeroed sigaction with a handler of the right type, on the alternate stack
        // std set up for the main thread (so a stack overflow is caught too).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = fatal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_ONSTACK;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

fn hello(out: &mut File, status: u32, msg: &str) -> std::io::Result<()> {
    let mut b = status.to_le_bytes().to_vec();
    b.extend_from_slice(&(msg.len() as u32).to_le_bytes());
    b.extend_from_slice(msg.as_bytes());
    out.write_all(&b)
}

/// Runs the worker; returns the process exit status.
pub fn run(name: &str, options: &str, memory_limit: u64) -> i32 {
    // SAFETY: the daemon put these descriptors in place for this process.
    let (mut rx, mut tx) = unsafe {
        (
            File::from_raw_fd(FD_REQUESTS),
            File::from_raw_fd(FD_REPLIES),
        )
    };
    let page = match Progress::inherited(FD_PROGRESS) {
        Ok(p) => p.leak(),
        Err(e) => {
            let _ = hello(&mut tx, 1, &format!("plugin worker: shared page: {e}"));
            return 2;
        }
    };
    let _ = PAGE.set(page);
    let mut area = match Area::map(page.fd()) {
        Ok(a) => a,
        Err(e) => {
            let _ = hello(&mut tx, 1, &format!("plugin worker: shared area: {e}"));
            return 2;
        }
    };
    install_handlers();
    if memory_limit > 0 {
        let lim = libc::rlimit {
            rlim_cur: memory_limit,
            rlim_max: memory_limit,
        };
        // SAFETY: a valid rlimit for this process.
        unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
        page.set_limit(memory_limit);
    }
    // SAFETY: the daemon put the plugin's memfd on this descriptor.
    let file = unsafe { File::from_raw_fd(FD_PLUGIN) };
    // Read at offsets: the descriptor's position is shared with the daemon's copy.
    let mut bytes = Vec::new();
    let read = file.metadata().and_then(|m| {
        bytes.resize(m.len() as usize, 0);
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut bytes, 0)
    });
    drop(file);
    let made = read
        .map_err(|e| format!("plugin worker: reading the plugin: {e}"))
        .and_then(|_| load::load_bytes(Path::new(name), &bytes).map_err(|e| e.to_string()))
        .and_then(|p| {
            if p.name() != name {
                return Err(format!(
                    "plugin worker: expected plugin `{name}`, found `{}`",
                    p.name()
                ));
            }
            std::sync::Arc::new(p)
                .make(options)
                .map_err(|e| e.to_string())
        });
    drop(bytes);
    let mut parser = match made {
        Ok(p) => Encoder::new(p),
        Err(e) => {
            let _ = hello(&mut tx, 1, &e);
            return 2;
        }
    };
    if hello(&mut tx, 0, "").is_err() {
        return 0;
    }
    serve(&mut parser, page, &mut area, &mut rx, &mut tx);
    0
}

fn serve(parser: &mut Encoder, page: &Progress, area: &mut Area, rx: &mut File, tx: &mut File) {
    let (mut req, mut out) = (Vec::new(), Vec::new());
    let mut seq = 0u64;
    loop {
        let mut head = [0u8; 8];
        if rx.read_exact(&mut head).is_err() {
            return;
        }
        let n = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let total = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let in_area = total & IN_AREA != 0;
        let size = n * 4 + (total & !IN_AREA) as usize;
        let request: &[u8] = if in_area {
            area.request(size)
        } else {
            req.resize(size, 0);
            if rx.read_exact(&mut req).is_err() {
                return;
            }
            &req
        };
        seq += 1;
        page.start(seq);
        let (lens, data) = request.split_at(request.len().min(n * 4));
        let mut lines = Vec::with_capacity(n);
        let mut at = 0;
        for l in lens.chunks_exact(4) {
            let len = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
            let end = (at + len).min(data.len());
            lines.push(&data[at..end]);
            at = end;
        }
        let around = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
        out.clear();
        for (i, line) in lines.iter().enumerate() {
            page.line(i);
            let mark = out.len();
            out.extend_from_slice(&[0; 4]);
            parser.line(line, around.clone(), &mut out);
            let len = (out.len() - mark - 4) as u32;
            out[mark..mark + 4].copy_from_slice(&len.to_le_bytes());
        }
        parser.finish(&mut out);
        drop(lines);
        let sent = if area.put_reply(&out) {
            tx.write_all(&(out.len() as u32 | IN_AREA).to_le_bytes())
        } else {
            tx.write_all(&(out.len() as u32).to_le_bytes())
                .and_then(|_| tx.write_all(&out))
        };
        if sent.is_err() {
            return;
        }
    }
}
