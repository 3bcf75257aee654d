//! Loading a checked plugin: a private in-memory copy of the checked bytes goes to the dynamic
//! loader, the entry function's table is validated field by field, and the library's read-only
//! segments are noted (strings there are kept without copying).

use super::check::{self, Entry};
use super::guard::Guard;
use super::parser::{PluginParser, Slot, Stats};
use super::PluginError;
use kpid_plugin::abi::{self, PluginTable, ABI_VERSION, ENTRY_SYMBOL};
use parking_lot::Mutex;
use std::ffi::{c_char, c_void, CStr};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// A loaded plugin version. It is never unloaded: its table and code live for the process.
#[derive(Debug)]
pub struct Plugin {
    name: String,
    version: String,
    description: String,
    pub(super) create: abi::CreateFn,
    pub(crate) parse: abi::ParseFn,
    pub(super) destroy: abi::DestroyFn,
    /// Address ranges of the library's non-writable segments.
    pub(crate) read_only: Vec<Range<usize>>,
    slots: Mutex<Vec<Arc<Slot>>>,
    /// The private copy of the checked bytes (a memfd), handed to worker processes.
    pub(super) copy_fd: Option<std::os::fd::RawFd>,
    /// Crashes, timeouts and quarantine of this version's workers.
    pub(super) guard: Guard,
    /// The version that replaced this one, once the file changed.
    next: Mutex<Option<Arc<Plugin>>>,
}

impl Plugin {
    /// Parser name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's own version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// What it parses, in one line.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Lines, errors and timing summed over every parser made from this version.
    pub fn stats(&self) -> Stats {
        let mut total = Stats::default();
        for slot in self.slots.lock().iter() {
            total.add(&slot.read());
        }
        total
    }

    /// A counter slot for one more parser of this version.
    pub(super) fn slot(&self) -> Arc<Slot> {
        let slot = Arc::new(Slot::default());
        self.slots.lock().push(slot.clone());
        slot
    }

    /// Notes the version that replaced this one.
    pub(super) fn superseded_by(&self, next: Arc<Plugin>) {
        *self.next.lock() = Some(next);
    }

    /// The newest version of this plugin's file, when it changed since this one loaded.
    pub(super) fn newest(&self) -> Option<Arc<Plugin>> {
        let mut at = self.next.lock().clone()?;
        loop {
            let next = at.next.lock().clone();
            match next {
                Some(n) => at = n,
                None => return Some(at),
            }
        }
    }

    /// Makes a parser with these options.
    pub fn make(self: &Arc<Self>, options: &str) -> Result<PluginParser, PluginError> {
        let mut state: *mut c_void = std::ptr::null_mut();
        let mut err = [0u8; 1024];
        // SAFETY: the table passed validation; options, out-pointer and buffer are valid.
        let status = unsafe {
            (self.create)(
                options.as_ptr(),
                options.len(),
                &mut state,
                err.as_mut_ptr().cast(),
                err.len() - 1,
            )
        };
        if status != abi::STATUS_OK {
            let message = CStr::from_bytes_until_nul(&err)
                .map(|m| m.to_string_lossy().into_owned())
                .unwrap_or_default();
            let message = match (status, message.is_empty()) {
                (_, false) => message,
                (abi::STATUS_PANIC, true) => "panicked".to_string(),
                (s, true) => format!("failed with status {s}"),
            };
            return Err(PluginError::Create {
                name: self.name.clone(),
                message,
            });
        }
        Ok(PluginParser::new(self.clone(), state, self.slot()))
    }
}

/// Checks and loads the plugin at `path`.
pub fn load(path: &Path) -> Result<Plugin, PluginError> {
    let bytes = check::read_checked(path)?;
    load_bytes(path, &bytes)
}

/// Loads a plugin from bytes already read and checked (by [`check::read_checked`], here or,
/// for a worker process, in the daemon that handed them over); `path` names it in errors.
pub fn load_bytes(path: &Path, bytes: &[u8]) -> Result<Plugin, PluginError> {
    let entry = check::inspect_elf(path, bytes, ENTRY_SYMBOL)?;
    let (lib, copy_fd) = open_copy(path, bytes)?;
    // SAFETY: the symbol is the ABI's entry function; its signature is fixed by the ABI.
    let entry_fn = match unsafe { lib.get::<abi::EntryFn>(ENTRY_SYMBOL.as_bytes()) } {
        Ok(f) => *f,
        Err(_) if entry == Entry::Unknown => {
            return Err(PluginError::MissingEntry(path.to_path_buf()))
        }
        Err(e) => {
            return Err(PluginError::Dlopen {
                path: path.to_path_buf(),
                why: e.to_string(),
            })
        }
    };
    // Never unloaded: parsers and strings from it may live as long as the process.
    std::mem::forget(lib);
    // SAFETY: calling the entry function is the ABI's first step; it takes no arguments.
    let table = unsafe { entry_fn() };
    // SAFETY: checked field by field, header first, against the size the table declares.
    let plugin = unsafe { validate(path, table) }?;
    Ok(Plugin {
        read_only: read_only_segments(entry_fn as usize),
        copy_fd,
        ..plugin
    })
}

/// A NUL-terminated string of at most `max` bytes, read byte by byte up to its terminator.
unsafe fn c_text(p: *const c_char, max: usize) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let mut bytes = Vec::new();
    loop {
        // SAFETY: a non-null table string is NUL-terminated static data of the library; no
        // byte past the terminator is read.
        let b = unsafe { p.add(bytes.len()).cast::<u8>().read() };
        if b == 0 {
            return Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        if bytes.len() == max {
            return None;
        }
        bytes.push(b);
    }
}

/// Reads the table: ABI version and size first, the rest only when they match.
unsafe fn validate(path: &Path, table: *const PluginTable) -> Result<Plugin, PluginError> {
    let bad = |why: &str| PluginError::BadTable {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    if table.is_null() {
        return Err(bad("the entry function returned null"));
    }
    // SAFETY: the header (two u32) is present in every version of the table.
    let (found, size) = unsafe {
        (
            std::ptr::read(table.cast::<u32>()),
            std::ptr::read(table.cast::<u32>().add(1)),
        )
    };
    if found != ABI_VERSION {
        return Err(PluginError::AbiVersion {
            path: path.to_path_buf(),
            found,
            expected: ABI_VERSION,
        });
    }
    let expected = std::mem::size_of::<PluginTable>() as u32;
    if size < expected {
        return Err(PluginError::TableSize {
            path: path.to_path_buf(),
            found: size,
            expected,
        });
    }
    // SAFETY: the plugin declares a table at least as large as ours.
    let t = unsafe { &*table };
    let name =
        unsafe { c_text(t.name, 64) }.ok_or_else(|| bad("name is null or longer than 64 bytes"))?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return Err(bad(&format!("name `{name}` is not [A-Za-z0-9_.-]{{1,64}}")));
    }
    let version = unsafe { c_text(t.version, 256) }.unwrap_or_default();
    let description = unsafe { c_text(t.description, 1024) }.unwrap_or_default();
    let (Some(create), Some(parse), Some(destroy)) = (t.create, t.parse, t.destroy) else {
        return Err(bad("create, parse or destroy is null"));
    };
    Ok(Plugin {
        name,
        version,
        description,
        create,
        parse,
        destroy,
        read_only: Vec::new(),
        slots: Mutex::new(Vec::new()),
        copy_fd: None,
        guard: Guard::default(),
        next: Mutex::new(None),
    })
}

/// Loads a private copy of `bytes`: a memfd on Linux, kept open for good so that its
/// `/proc/self/fd/N` name never names anything else, or else a file in a private directory.
fn open_copy(
    path: &Path,
    bytes: &[u8],
) -> Result<(libloading::os::unix::Library, Option<std::os::fd::RawFd>), PluginError> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    let io = |source| PluginError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (copy, fd) = match memfd_copy(bytes) {
        Ok((path, fd)) => (path, Some(fd)),
        Err(_) => (private_copy(bytes).map_err(io)?, None),
    };
    // SAFETY: loading runs the library's initialisers: accepted by whoever put the file in the
    // plugin directory, which passed the ownership and mode checks.
    let lib = unsafe { Library::open(Some(&copy), RTLD_NOW | RTLD_LOCAL) };
    if copy.starts_with(std::env::temp_dir()) {
        let _ = std::fs::remove_file(&copy);
    }
    let lib = lib.map_err(|e| PluginError::Dlopen {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    Ok((lib, fd))
}

#[cfg(target_os = "linux")]
fn memfd_copy(bytes: &[u8]) -> std::io::Result<(std::path::PathBuf, std::os::fd::RawFd)> {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    // SAFETY: a NUL-terminated name and valid flags.
    let fd = unsafe { libc::memfd_create(c"kpid-plugin".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(bytes)?;
    let path = std::path::PathBuf::from(format!("/proc/self/fd/{fd}"));
    if !path.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "/proc is not mounted",
        ));
    }
    // Kept open for the life of the process (see above).
    std::mem::forget(file);
    Ok((path, fd))
}

#[cfg(not(target_os = "linux"))]
fn memfd_copy(_: &[u8]) -> std::io::Result<(std::path::PathBuf, std::os::fd::RawFd)> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "no memfd",
    ))
}

fn private_copy(bytes: &[u8]) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("kpid-plugins-{}", std::process::id()));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let path = dir.join(format!("{}.so", N.fetch_add(1, Ordering::Relaxed)));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o500)
        .open(&path)?;
    std::io::Write::write_all(&mut f, bytes)?;
    Ok(path)
}

/// Non-writable PT_LOAD segments of the loaded object that holds `addr`.
fn read_only_segments(addr: usize) -> Vec<Range<usize>> {
    struct Search {
        addr: usize,
        found: Vec<Range<usize>>,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut c_void,
    ) -> libc::c_int {
        // SAFETY: the loader passes a valid info for each object; data is our Search.
        let (info, search) = unsafe { (&*info, &mut *data.cast::<Search>()) };
        let base = info.dlpi_addr as usize;
        // SAFETY: dlpi_phdr points to dlpi_phnum program headers.
        let headers =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        let loads = headers.iter().filter(|h| h.p_type == libc::PT_LOAD);
        let span = |h: &libc::Elf64_Phdr| {
            base + h.p_vaddr as usize..base + (h.p_vaddr + h.p_memsz) as usize
        };
        if !loads.clone().any(|h| span(h).contains(&search.addr)) {
            return 0;
        }
        search.found = loads
            .filter(|h| h.p_flags & libc::PF_W == 0)
            .map(span)
            .collect();
        1
    }
    let mut search = Search {
        addr,
        found: Vec::new(),
    };
    // SAFETY: the callback only reads what the loader hands it.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&mut search as *mut Search).cast()) };
    search.found
}
