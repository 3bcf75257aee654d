//! The demo's instrumented pipeline (capture → preprocess → infer → postprocess) as a
//! standalone app: its spans and events go to kpid through `kpid-layer`, and to stderr
//! through `tracing_subscriber::fmt`.
//!
//! ```text
//! kpid --socket run/kpid.sock &                     # the daemon (dashboard on :8050)
//! KPID_SOCKET=run/kpid.sock cargo run --example pipeline [-- FRAMES]
//! ```

use std::sync::atomic::AtomicBool;
use tracing_subscriber::prelude::*;

fn main() {
    let frames = std::env::args().nth(1).and_then(|a| a.parse().ok());
    // The one line next to the app's subscriber: socket from $KPID_SOCKET or the default.
    let (kpid, _guard) = kpid_layer::Builder::default().app("pipeline").build();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::filter::LevelFilter::WARN),
        )
        .with(kpid)
        .init();
    eprintln!(
        "pipeline: reporting to {} ({} frames; Ctrl-C to stop)",
        kpid_layer::default_socket_path().display(),
        frames.map_or("unlimited".to_string(), |f: u64| f.to_string())
    );
    kpid::demo::spans::pipeline(&AtomicBool::new(false), frames);
}
