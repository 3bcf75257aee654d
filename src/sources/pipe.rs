//! A pipe as a source: `kpid run`'s child's stdout and stderr. What the child writes is
//! copied on to kpid's own stdout or stderr as it comes (the terminal still shows it), and
//! its complete lines are sent to the engine like a file's, with the source name `stdout` or
//! `stderr`. A pipe has no offset to resume from, so nothing of it is checkpointed.

use super::{Batch, FileHealth, FileIdentity, Input, SourcesHealth};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::Sender;

/// Reads `from` until it ends, copying it to `to` and sending its lines as source `name`
/// (labelled `path` in health). Lines longer than `max_line` are discarded and counted.
pub async fn follow(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    name: &str,
    path: String,
    max_line: usize,
    tx: Sender<Input>,
    health: Arc<SourcesHealth>,
) {
    let file = {
        let mut files = health.files.lock();
        files.push(FileHealth {
            source: name.to_owned(),
            path: path.clone(),
            state: "following".into(),
            ..FileHealth::default()
        });
        files.len() - 1
    };
    let source: Arc<str> = Arc::from(name);
    let path = Arc::new(PathBuf::from(path));
    let mut buf = vec![0u8; 64 << 10];
    let mut pending: Vec<u8> = Vec::new();
    let mut skipping = false;
    let mut offset = 0u64;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        if n > 0 {
            // The terminal first: what the pipeline says is shown as it says it.
            let _ = to.write_all(&buf[..n]).await;
            let _ = to.flush().await;
            offset += n as u64;
        }
        let mut data = Vec::new();
        let (mut lines, mut long) = (0u64, 0u64);
        for chunk in buf[..n].split_inclusive(|&b| b == b'\n') {
            let complete = chunk.ends_with(b"\n");
            if !skipping {
                pending.extend_from_slice(chunk);
            }
            if pending.len() > max_line {
                pending.clear();
                skipping = true;
                long += 1;
            }
            if complete {
                if !skipping {
                    data.extend_from_slice(&pending);
                    lines += 1;
                }
                pending.clear();
                skipping = false;
            }
        }
        if n == 0 && !pending.is_empty() {
            // The last line, without its newline.
            data.extend_from_slice(&pending);
            data.push(b'\n');
            lines += 1;
            pending.clear();
        }
        {
            let mut files = health.files.lock();
            let h = &mut files[file];
            h.lines += lines;
            h.bytes += n as u64;
            h.offset = offset;
            h.discarded_long_lines += long;
            if n == 0 {
                h.state = "closed".into();
            }
        }
        if !data.is_empty() {
            let batch = Batch {
                file,
                source: source.clone(),
                identity: FileIdentity {
                    dev: 0,
                    ino: 0,
                    fingerprint: 0,
                    fp_len: 0,
                },
                path: path.clone(),
                data,
                end_offset: offset,
                checkpoint: false,
            };
            if tx.send(Input::Lines(batch)).await.is_err() {
                return;
            }
        }
        if n == 0 {
            return;
        }
    }
}
