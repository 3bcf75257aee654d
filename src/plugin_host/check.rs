//! Checks made before any of a plugin's code runs: who owns and who may write the file and its
//! directory, and whether the bytes are an ELF shared library for this machine that exports
//! the entry function (read from its dynamic symbol table, without loading it).

use super::PluginError;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Largest plugin file read.
const MAX_BYTES: u64 = 512 << 20;

/// Identity of one version of a file: a rewrite or a replacement changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileId {
    fn from_meta(m: &std::fs::Metadata) -> FileId {
        FileId {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        }
    }

    /// The identity of what `path` names now (following symlinks).
    pub fn of(path: &Path) -> std::io::Result<FileId> {
        std::fs::metadata(path).map(|m| FileId::from_meta(&m))
    }

    /// True when the file changed less than `age` before `now`.
    pub fn modified_within(&self, age: Duration, now: SystemTime) -> bool {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as i128;
        now - self.mtime_ns.max(self.ctime_ns) < age.as_nanos() as i128
    }
}

/// The plugin files of `dir`: names ending in `.so` or holding `.so.`, not hidden, sorted.
pub fn candidates(dir: &Path) -> Result<Vec<PathBuf>, PluginError> {
    let io = |source| PluginError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with('.') && (name.ends_with(".so") || name.contains(".so.")) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn owner_and_mode(
    path: &Path,
    what: &'static str,
    m: &std::fs::Metadata,
) -> Result<(), PluginError> {
    let uid = euid();
    if m.uid() != uid && m.uid() != 0 {
        return Err(PluginError::Owner {
            path: path.to_path_buf(),
            what,
            owner: m.uid(),
            uid,
        });
    }
    let mode = m.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(PluginError::Writable {
            path: path.to_path_buf(),
            what,
            mode,
        });
    }
    Ok(())
}

/// The plugin directory must be owned by kpid's user (or root) and writable by no one else.
pub fn directory(dir: &Path) -> Result<(), PluginError> {
    let m = std::fs::metadata(dir).map_err(|source| PluginError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    owner_and_mode(dir, "directory", &m)
}

/// Opens `path` once, checks owner, mode and kind on that descriptor, and reads the bytes
/// that will be loaded.
pub fn read_checked(path: &Path) -> Result<Vec<u8>, PluginError> {
    let io = |source| PluginError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let m = file.metadata().map_err(io)?;
    if !m.is_file() {
        return Err(PluginError::NotRegular(path.to_path_buf()));
    }
    owner_and_mode(path, "file", &m)?;
    if m.len() > MAX_BYTES {
        return Err(PluginError::NotLibrary {
            path: path.to_path_buf(),
            why: format!("larger than {MAX_BYTES} bytes"),
        });
    }
    let mut bytes = Vec::with_capacity(m.len() as usize);
    file.read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

const ET_DYN: u16 = 3;
const SHT_DYNSYM: u32 = 11;
const STT_FUNC: u8 = 2;

#[cfg(target_arch = "x86_64")]
const MACHINE: Option<u16> = Some(62);
#[cfg(target_arch = "aarch64")]
const MACHINE: Option<u16> = Some(183);
#[cfg(target_arch = "riscv64")]
const MACHINE: Option<u16> = Some(243);
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
const MACHINE: Option<u16> = None;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?)).ok()
}

/// What the ELF inspection found about the entry symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Exported as a defined function.
    Found,
    /// The library has no section headers to look in (the loader will be asked).
    Unknown,
}

/// Checks that `bytes` are a 64-bit little-endian ELF shared library for this machine that
/// exports `symbol` as a defined function.
pub fn inspect_elf(path: &Path, bytes: &[u8], symbol: &str) -> Result<Entry, PluginError> {
    let bad = |why: &str| PluginError::NotLibrary {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Err(bad("not an ELF shared library (bad magic)"));
    }
    if cfg!(not(all(
        target_pointer_width = "64",
        target_endian = "little"
    ))) {
        return Ok(Entry::Unknown);
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err(bad(
            "ELF file is not 64-bit little-endian, unlike this kpid",
        ));
    }
    let e_type = u16_at(bytes, 16).unwrap_or(0);
    if e_type != ET_DYN {
        return Err(bad(&format!(
            "ELF file of type {e_type} is not a shared library (type 3)"
        )));
    }
    let machine = u16_at(bytes, 18).unwrap_or(0);
    if MACHINE.is_some_and(|m| m != machine) {
        return Err(bad(&format!(
            "ELF library built for machine {machine}, not this one ({})",
            MACHINE.unwrap_or(0)
        )));
    }
    let malformed = || bad("malformed ELF section table");
    let shoff = u64_at(bytes, 40).ok_or_else(malformed)?;
    let (shentsize, shnum) = (
        u16_at(bytes, 58).unwrap_or(0) as usize,
        u16_at(bytes, 60).unwrap_or(0) as usize,
    );
    if shoff == 0 || shnum == 0 {
        return Ok(Entry::Unknown);
    }
    if shentsize < 64 {
        return Err(malformed());
    }
    let section = |i: usize| -> Option<(u32, usize, usize, usize, usize)> {
        let at = shoff.checked_add(i.checked_mul(shentsize)?)?;
        // (type, offset, size, link, entsize)
        Some((
            u32_at(bytes, at + 4)?,
            u64_at(bytes, at + 24)?,
            u64_at(bytes, at + 32)?,
            u32_at(bytes, at + 40)? as usize,
            u64_at(bytes, at + 56)?,
        ))
    };
    for i in 0..shnum {
        let (kind, off, size, link, entsize) = section(i).ok_or_else(malformed)?;
        if kind != SHT_DYNSYM {
            continue;
        }
        let (_, str_off, str_size, _, _) = section(link).ok_or_else(malformed)?;
        let strtab = bytes
            .get(str_off..str_off.saturating_add(str_size))
            .ok_or_else(malformed)?;
        let syms = bytes
            .get(off..off.saturating_add(size))
            .ok_or_else(malformed)?;
        if entsize < 24 {
            return Err(malformed());
        }
        for sym in syms.chunks_exact(entsize) {
            let name_at = u32_at(sym, 0).unwrap_or(0) as usize;
            let (info, shndx) = (sym[4], u16_at(sym, 6).unwrap_or(0));
            let name = strtab
                .get(name_at..)
                .and_then(|s| s.split(|&b| b == 0).next());
            if name == Some(symbol.as_bytes()) && shndx != 0 {
                if info & 0xf != STT_FUNC {
                    return Err(bad(&format!(
                        "`{symbol}` is exported but is not a function"
                    )));
                }
                return Ok(Entry::Found);
            }
        }
        return Err(PluginError::MissingEntry(path.to_path_buf()));
    }
    Err(PluginError::MissingEntry(path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn this_test_binary() -> Vec<u8> {
        std::fs::read(std::env::current_exe().unwrap()).unwrap()
    }

    #[test]
    fn refuses_non_elf_and_executables() {
        let p = Path::new("x.so");
        let err = inspect_elf(p, b"#!/bin/sh\necho hi\n", "f").unwrap_err();
        assert!(err.to_string().contains("bad magic"), "{err}");
        // The test binary is a PIE (ET_DYN) without the entry symbol, or an ET_EXEC.
        let err = inspect_elf(p, &this_test_binary(), "kpid_plugin_entry").unwrap_err();
        assert!(
            matches!(
                err,
                PluginError::MissingEntry(_) | PluginError::NotLibrary { .. }
            ),
            "{err}"
        );
    }

    #[test]
    fn refuses_truncated_elf_without_panicking() {
        let bin = this_test_binary();
        for cut in [64, 100, 4096, bin.len() / 2] {
            let _ = inspect_elf(Path::new("t.so"), &bin[..cut.min(bin.len())], "main");
        }
    }

    #[test]
    fn settle_window() {
        let now = SystemTime::now();
        let id = FileId::of(&std::env::current_exe().unwrap()).unwrap();
        assert!(!id.modified_within(Duration::from_millis(1), now + Duration::from_secs(5)));
        assert!(id.modified_within(Duration::from_secs(1_000_000_000), now));
    }
}
