//! The database file: opening it (owner-only, WAL), the schema, and recovery. A file that
//! cannot be opened, fails `PRAGMA quick_check` or has another schema version is moved aside
//! (`history.db.corrupt-<unix seconds>`, with its `-wal` and `-shm`) and a fresh one started;
//! the reason is kept for `/api/health`.

use super::HistoryError;
use crate::state::Checkpoint;
use crate::trust::{self, Sharing};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// Schema version (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;
/// The database file's name in the history directory.
pub const FILE: &str = "history.db";

const SCHEMA: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE series(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  labels TEXT NOT NULL, kind INTEGER NOT NULL, unit TEXT NOT NULL, help TEXT NOT NULL);
CREATE TABLE chunk(id INTEGER PRIMARY KEY, tier INTEGER NOT NULL, series INTEGER NOT NULL,
  t0 INTEGER NOT NULL, t1 INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX chunk_by_series ON chunk(tier, series, t1);
CREATE TABLE head(id INTEGER PRIMARY KEY, data BLOB NOT NULL);
";

/// The lock file: held (`flock`, exclusive) by the one process writing the directory.
pub const LOCK: &str = "history.lock";

/// Takes the directory's writer lock, or says that another process holds it.
fn lock(dir: &Path) -> Result<std::fs::File, HistoryError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(LOCK);
    let io = |source| HistoryError::Io {
        path: path.clone(),
        source,
    };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(io)?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor this function owns; released when `f` is closed.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(f);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Err(HistoryError::Busy(dir.to_owned())),
        _ => Err(io(e)),
    }
}

/// An opened database, and what recovery did, if anything.
#[derive(Debug)]
pub struct Opened {
    /// The directory's writer lock, held while this lives.
    pub lock: std::fs::File,
    /// The writer's connection.
    pub conn: Connection,
    /// The file.
    pub path: PathBuf,
    /// Set when a damaged file was moved aside: where to, and why.
    pub recovered: Option<String>,
}

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
    move |source| HistoryError::Sql {
        path: path.to_owned(),
        source,
    }
}

/// Opens (or creates) `dir/history.db` for writing, moving a damaged one aside. One process
/// at a time: a directory another kpid writes is refused ([`HistoryError::Busy`]).
pub fn open(dir: &Path) -> Result<Opened, HistoryError> {
    if let Some(w) = trust::dir(dir, "history directory", Sharing::Private)? {
        tracing::warn!("{w}");
    }
    let lock = lock(dir)?;
    let path = dir.join(FILE);
    let mut recovered = None;
    if path.exists() {
        match check(&path) {
            Ok(conn) => {
                conn.execute_batch(super::events::SCHEMA)
                    .map_err(sql(&path))?;
                return Ok(Opened {
                    lock,
                    conn,
                    path,
                    recovered,
                });
            }
            Err(why) => {
                let stamp = crate::kpi::now() as u64;
                let aside = dir.join(format!("{FILE}.corrupt-{stamp}"));
                for ext in ["", "-wal", "-shm"] {
                    let from = PathBuf::from(format!("{}{ext}", path.display()));
                    let to = PathBuf::from(format!("{}{ext}", aside.display()));
                    if from.exists() {
                        std::fs::rename(&from, &to).map_err(|source| HistoryError::Io {
                            path: from.clone(),
                            source,
                        })?;
                    }
                }
                let msg = format!(
                    "history database {} was unusable ({why}); moved aside to {} and started afresh",
                    path.display(),
                    aside.display()
                );
                tracing::warn!("{msg}");
                recovered = Some(msg);
            }
        }
    }
    trust::create_new(&path, b"").map_err(|source| HistoryError::Io {
        path: path.clone(),
        source,
    })?;
    let conn = Connection::open(&path).map_err(sql(&path))?;
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
        .map_err(sql(&path))?;
    pragmas(&conn).map_err(sql(&path))?;
    conn.execute_batch(&format!(
        "BEGIN; {SCHEMA} {} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;",
        super::events::SCHEMA
    ))
    .map_err(sql(&path))?;
    Ok(Opened {
        lock,
        conn,
        path,
        recovered,
    })
}

fn pragmas(conn: &Connection) -> rusqlite::Result<()> {
    // WAL with synchronous=NORMAL: a committed flush survives the process being killed (it
    // is in the WAL file); only a power loss may take the last commits.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
    )
}

/// Opens an existing file and checks it; the error says what is wrong.
fn check(path: &Path) -> Result<Connection, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| e.to_string())?;
    pragmas(&conn).map_err(|e| e.to_string())?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if version != SCHEMA_VERSION {
        return Err(format!(
            "schema version {version}, this kpid reads {SCHEMA_VERSION}"
        ));
    }
    let ok: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if ok != "ok" {
        return Err(format!("quick_check: {ok}"));
    }
    Ok(conn)
}

/// A second connection for readers (WAL: they never block the writer).
pub fn reader(path: &Path) -> Result<Connection, HistoryError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql(path))?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")
        .map_err(sql(path))?;
    Ok(conn)
}

/// A value of the `meta` table.
pub fn meta_get<T: rusqlite::types::FromSql>(
    conn: &Connection,
    key: &str,
) -> rusqlite::Result<Option<T>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

/// Sets a value of the `meta` table.
pub fn meta_set(conn: &Connection, key: &str, value: impl rusqlite::ToSql) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        rusqlite::params![key, value],
    )
    .map(|_| ())
}

/// The checkpoint committed with the last flush, if any.
pub fn checkpoint(conn: &Connection) -> Result<Option<Checkpoint>, String> {
    let text: Option<String> = meta_get(conn, "checkpoint").map_err(|e| e.to_string())?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| format!("history checkpoint: {e}")))
        .transpose()
}

/// Bytes the file holds in use: pages in use times the page size (free pages excluded).
pub fn used_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let q = |p: &str| conn.query_row(p, [], |r| r.get::<_, i64>(0));
    let (pages, free, size) = (
        q("PRAGMA page_count")?,
        q("PRAGMA freelist_count")?,
        q("PRAGMA page_size")?,
    );
    Ok(((pages - free).max(0) * size) as u64)
}
