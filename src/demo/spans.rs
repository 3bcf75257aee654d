//! An instrumented multi-stage pipeline (capture → preprocess → infer → postprocess) that
//! reports through `kpid-layer`, so the demo shows span-derived KPIs (`span_total`,
//! `span_duration_seconds`, `span_errors_total`, `events_total`, and `infer_queue_depth`,
//! `detections` from the field convention) and trace waterfalls beside the log-derived ones.
//! Frames are counted once, by `span_total{span="frame"}`: the log's `frames_out_per_second`
//! is the same figure seen from the log, so the app adds no counter of its own for it.
//! `kpid demo` runs [`run`] in a thread; `cargo run --example pipeline` runs [`pipeline`]
//! standalone.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing_subscriber::prelude::*;

/// App name of the demo pipeline (its `app` label).
pub const APP: &str = "demo-pipeline";
/// Frames per second.
pub const FPS: f64 = 30.0;

/// Reports the pipeline to the kpid socket at `socket` until `stop` is set. The layer is this
/// thread's subscriber only: the daemon's own logging is untouched.
pub fn run(socket: PathBuf, stop: Arc<AtomicBool>) {
    let (layer, guard) = kpid_layer::Builder::default()
        .socket(socket)
        .app(APP)
        .build();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || pipeline(&stop, None));
    drop(guard);
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal (sum of uniforms), clamped at 0.
    fn around(&mut self, mean_ms: f64, spread_ms: f64) -> Duration {
        let u = (0..4).map(|_| self.next()).sum::<f64>() / 2.0 - 1.0;
        Duration::from_secs_f64((mean_ms + spread_ms * u).max(0.1) / 1000.0)
    }
}

/// Runs the instrumented stages at [`FPS`] through the current subscriber until `stop` is
/// set or `frames` frames are done. Every minute, 10 s of slower inference; about 1 % of
/// inferences fail (an ERROR event inside the span) and 0.5 % of postprocessing steps close
/// with an `error` field.
pub fn pipeline(stop: &AtomicBool, frames: Option<u64>) {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let period = Duration::from_secs_f64(1.0 / FPS);
    let started = Instant::now();
    let mut next = Instant::now();
    let mut queue = 0i64;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) && frames.is_none_or(|f| n < f) {
        let slow = started.elapsed().as_secs() % 60 >= 50;
        let frame = tracing::info_span!("frame", n).entered();
        {
            let _s = tracing::info_span!("capture", camera = "cam0").entered();
            std::thread::sleep(rng.around(2.0, 1.0));
        }
        {
            let _s = tracing::info_span!("preprocess", width = 1280u64, height = 720u64).entered();
            std::thread::sleep(rng.around(4.0, 1.5));
        }
        let detections = {
            let _s = tracing::info_span!("infer", model = "yolov8n", batch = 1u64).entered();
            std::thread::sleep(rng.around(if slow { 30.0 } else { 12.0 }, 4.0));
            if rng.next() < 0.01 {
                tracing::error!(frame = n, "inference failed: CUDA timeout");
                0
            } else {
                (rng.next() * 8.0) as u64
            }
        };
        {
            let s = tracing::info_span!("postprocess", detections, error = tracing::field::Empty)
                .entered();
            std::thread::sleep(rng.around(3.0, 1.0));
            if rng.next() < 0.005 {
                s.record("error", "nms produced no boxes");
            }
        }
        queue = (queue + if slow { 1 } else { -1 }).clamp(0, 32);
        if queue == 32 {
            tracing::warn!(frame = n, "queue full: frame dropped");
        }
        tracing::info!(
            gauge.infer_queue_depth = queue,
            histogram.detections = detections,
            "frame done"
        );
        drop(frame);
        n += 1;
        next += period;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now; // behind (slow episode): no catch-up burst
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_stops_on_request_and_after_n_frames() {
        let stop = AtomicBool::new(false);
        let t = Instant::now();
        pipeline(&stop, Some(3));
        assert!(t.elapsed() >= Duration::from_millis(40), "stages sleep");
        stop.store(true, Ordering::Relaxed);
        let t = Instant::now();
        pipeline(&stop, None);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
