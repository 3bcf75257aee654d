//! A simulated real-time inference pipeline (capture → preprocess → infer → postprocess):
//! ~30 frames/s as JSON lines (each with its end-to-end and per-stage latency), a logfmt
//! stats line every 500 ms with fps, queue depths and GPU figures, WARN lines when a queue
//! drops a frame, an occasional ERROR, and a slow-down episode during 10 s of every minute. The log is rotated (renamed) every 10 min.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        mean + sd * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn timestamp() -> String {
    crate::kpi::rfc3339(crate::kpi::now())
}

fn open(path: &Path) -> std::io::Result<BufWriter<File>> {
    Ok(BufWriter::new(
        OpenOptions::new().create(true).append(true).open(path)?,
    ))
}

/// Writes the simulated log at `path` until `stop` is set.
pub fn run(path: &Path, stop: &AtomicBool) {
    if let Err(e) = simulate(path, stop) {
        eprintln!(
            "kpid demo: simulator stopped: cannot write {}: {e}",
            path.display()
        );
    }
}

fn simulate(path: &Path, stop: &AtomicBool) -> std::io::Result<()> {
    let mut out = open(path)?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    let mut last_rotate = Instant::now();
    let mut next_stats = Instant::now() + Duration::from_millis(500);
    let (mut q_rt, mut q_gpu, mut q_out) = (1.0f64, 1.0f64, 0.0f64);
    let (mut frames_in, mut frames_out) = (0u64, 0u64);
    let mut window = Instant::now();
    let mut frame = 0u64;
    let tick = Duration::from_millis(33);
    while !stop.load(Ordering::Relaxed) {
        let t = start.elapsed().as_secs_f64();
        let slow = (t % 60.0) >= 40.0 && (t % 60.0) < 50.0;
        frame += 1;
        frames_in += 1;
        let infer = rng.normal(if slow { 26.0 } else { 8.5 }, 1.2).max(2.0);
        let pre = rng.normal(1.4, 0.2).max(0.3);
        let post = rng.normal(1.1, 0.15).max(0.2);
        q_gpu = (q_gpu + if slow { 0.35 } else { -0.4 } + rng.normal(0.0, 0.3)).clamp(0.0, 8.0);
        q_rt = (q_rt + rng.normal(0.0, 0.4)).clamp(0.0, 4.0);
        q_out = (q_out + rng.normal(0.0, 0.3)).clamp(0.0, 3.0);
        let e2e = pre + infer + post + q_gpu * 3.0 + rng.normal(1.5, 0.4).max(0.1);
        let ts = timestamp();
        if q_gpu >= 7.5 && rng.next() < 0.5 {
            writeln!(
                out,
                "{ts} WARN pipeline.queue frame dropped queue=gpu dropped=1 queue_depth={q_gpu:.0}"
            )?;
        } else if q_rt >= 3.9 && rng.next() < 0.05 {
            writeln!(
                out,
                "{ts} WARN pipeline.queue frame dropped queue=rt dropped=1 queue_depth={q_rt:.0}"
            )?;
        } else if rng.next() < 0.002 {
            writeln!(out, "{ts} ERROR pipeline.infer inference failed frame=f{frame:07} stage=infer error=\"CUDA launch timeout\"")?;
        } else {
            frames_out += 1;
            writeln!(
                out,
                "{{\"ts\":\"{ts}\",\"level\":\"debug\",\"target\":\"pipeline.frame\",\"frame\":\"f{frame:07}\",\"e2e_ms\":{e2e:.2},\"stage_ms\":{{\"pre\":{pre:.2},\"infer\":{infer:.2},\"post\":{post:.2}}}}}"
            )?;
        }
        if Instant::now() >= next_stats {
            let secs = window.elapsed().as_secs_f64().max(0.001);
            let (fin, fout) = (frames_in as f64 / secs, frames_out as f64 / secs);
            let util = (if slow { 98.0 } else { 72.0 } + rng.normal(0.0, 3.0)).clamp(0.0, 100.0);
            let mem = 2048.0 + if slow { 900.0 } else { 0.0 } + rng.normal(0.0, 20.0);
            let temp = 62.0 + if slow { 12.0 } else { 0.0 } + rng.normal(0.0, 0.5);
            writeln!(
                out,
                "{ts} INFO pipeline.stats fps_in={fin:.1} fps_out={fout:.1} queue_rt={q_rt:.0} queue_gpu={q_gpu:.0} queue_out={q_out:.0} gpu_util={util:.1} gpu_mem_mb={mem:.0} gpu_temp_c={temp:.1}"
            )?;
            (frames_in, frames_out, window) = (0, 0, Instant::now());
            next_stats += Duration::from_millis(500);
        }
        out.flush()?;
        if last_rotate.elapsed() >= Duration::from_secs(600) {
            let old = path.with_extension("log.1");
            std::fs::rename(path, &old)?;
            out = open(path)?;
            last_rotate = Instant::now();
        }
        std::thread::sleep(tick);
    }
    Ok(())
}
