//! What triggers a config reload: SIGHUP, and changes to the config file, watched through its
//! directory so that an editor's replace (write a temporary file, rename it over) is seen like
//! an in-place write. Events are debounced, and a file whose bytes did not change is not
//! reloaded; without inotify the file is polled.

use super::reload::Reloader;
use notify::{RecursiveMode, Watcher};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Quiet time after a file event before reading the file (an editor's save is several events).
const DEBOUNCE: Duration = Duration::from_millis(200);
/// Poll period when the directory cannot be watched.
const POLL: Duration = Duration::from_secs(2);

fn digest(path: &std::path::Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

/// Starts watching (inside a tokio runtime); runs as long as the process.
pub fn spawn(r: Arc<Reloader>) -> std::io::Result<()> {
    let path = r.path().to_path_buf();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_os_string());
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let ours = match &res {
            Ok(ev) => ev.paths.iter().any(|p| p.file_name() == name.as_deref()),
            Err(_) => true,
        };
        if ours {
            let _ = tx.try_send(());
        }
    })
    .and_then(|mut w| w.watch(&dir, RecursiveMode::NonRecursive).map(|()| w));
    let watcher = match watcher {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(
                "config {}: not watched ({e}); polled every {POLL:?}",
                path.display()
            );
            None
        }
    };
    let poll = watcher.is_none();
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::spawn(async move {
        let _watcher = watcher;
        let mut seen = digest(&path);
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    seen = digest(&path);
                    r.reload("SIGHUP").await;
                    continue;
                }
                ev = rx.recv(), if !poll => {
                    if ev.is_none() {
                        return;
                    }
                    tokio::time::sleep(DEBOUNCE).await;
                    while rx.try_recv().is_ok() {}
                }
                _ = tokio::time::sleep(POLL), if poll => {}
            }
            let now = digest(&path);
            if now.is_some() && now != seen {
                seen = now;
                r.reload("file changed").await;
            }
        }
    });
    Ok(())
}
