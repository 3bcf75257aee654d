//! The page the daemon and a worker share: which request and which line of it the worker is
//! parsing (so a crash or a timeout costs that line only), and what the worker's fatal-signal
//! handler saw (its address-space size, to tell a memory-limit death from another crash).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// The worker's request pipe.
pub const FD_REQUESTS: RawFd = 3;
/// The worker's reply pipe.
pub const FD_REPLIES: RawFd = 4;
/// The shared progress page.
pub const FD_PROGRESS: RawFd = 5;
/// The plugin's checked bytes (a memfd).
pub const FD_PLUGIN: RawFd = 6;

const SEQ: usize = 0;
const LINE: usize = 1;
const VM: usize = 2;
const SIGNAL: usize = 3;
const LIMIT: usize = 4;
const WORDS: usize = 8;

/// A mapping of the shared page.
#[derive(Debug)]
pub struct Progress {
    fd: OwnedFd,
    words: *const AtomicU64,
}

// SAFETY: the mapping is only accessed through atomics and lives as long as the value.
unsafe impl Send for Progress {}
// SAFETY: as above: shared access is atomic loads and stores only.
unsafe impl Sync for Progress {}

impl Progress {
    /// A new zeroed page (daemon side).
    pub fn new() -> std::io::Result<Progress> {
        // SAFETY: a NUL-terminated name and valid flags.
        let fd = unsafe { libc::memfd_create(c"kpid-worker".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sizing our own memfd: this page, then the data area (super::area).
        if unsafe { libc::ftruncate(fd.as_raw_fd(), (4096 + super::area::BYTES) as libc::off_t) }
            != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Progress::map(fd)
    }

    /// Maps the page the daemon passed on `fd` (worker side).
    pub fn inherited(fd: RawFd) -> std::io::Result<Progress> {
        // SAFETY: the daemon put the page's memfd on this descriptor for us.
        Progress::map(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn map(fd: OwnedFd) -> std::io::Result<Progress> {
        // SAFETY: mapping one page of a memfd of at least that size, shared.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Progress {
            fd,
            words: p.cast(),
        })
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i < WORDS);
        // SAFETY: the page holds WORDS aligned u64s, accessed only atomically.
        unsafe { &*self.words.add(i) }
    }

    /// The memfd (daemon side, to hand to the worker).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// (request, line) as last stored.
    pub fn read(&self) -> (u64, u64) {
        (
            self.word(SEQ).load(Ordering::Acquire),
            self.word(LINE).load(Ordering::Acquire),
        )
    }

    /// The line of request `seq` the worker was on, if it had started that request.
    pub fn line_of(&self, seq: u64) -> Option<usize> {
        let (s, line) = self.read();
        (s == seq).then_some(line as usize)
    }

    /// Worker: starting request `seq`.
    pub fn start(&self, seq: u64) {
        self.word(LINE).store(0, Ordering::Release);
        self.word(SEQ).store(seq, Ordering::Release);
    }

    /// Worker: starting line `i` of the current request.
    #[inline]
    pub fn line(&self, i: usize) {
        self.word(LINE).store(i as u64, Ordering::Release);
    }

    /// Worker: its memory limit, for the daemon's diagnosis.
    pub fn set_limit(&self, bytes: u64) {
        self.word(LIMIT).store(bytes, Ordering::Relaxed);
    }

    /// The worker's memory limit (0: none).
    pub fn limit(&self) -> u64 {
        match self.word(LIMIT).load(Ordering::Relaxed) {
            0 => u64::MAX,
            n => n,
        }
    }

    /// Worker's signal handler: the fatal signal and the address-space size then.
    pub fn fatal_store(&self, signal: u64, vm_bytes: u64) {
        self.word(VM).store(vm_bytes, Ordering::Release);
        self.word(SIGNAL).store(signal, Ordering::Release);
    }

    /// (address-space bytes, signal) the worker's handler stored (zeros when none ran).
    pub fn fatal(&self) -> (u64, u64) {
        (
            self.word(VM).load(Ordering::Acquire),
            self.word(SIGNAL).load(Ordering::Acquire),
        )
    }

    /// The page's address (for the worker's signal handler).
    pub fn leak(self) -> &'static Progress {
        Box::leak(Box::new(self))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // SAFETY: unmapping the page mapped in `map`, not used after this.
        unsafe { libc::munmap(self.words as *mut libc::c_void, 4096) };
    }
}
