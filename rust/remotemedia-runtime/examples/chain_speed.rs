//! Times whole-buffer chain runs of benchmarks/pipeline.py's pipeline:
//! 48 kHz stereo int16 -> float32 -> 16 kHz ("high") -> VAD (30 ms, mode 2),
//! `CS_MINUTES` of audio (10), `CS_THREADS` threads (0: auto), each run
//! into a fresh output (first-touch page faults included, as in Python):
//! `cargo run --release --example chain_speed -- [reps]`.
//!
//! With `CS_PUSH=k` it is a stream instead, as `benchmarks/stream.py`'s
//! session runs it: convert + downmix -> 16 kHz -> VAD with speech
//! segments, stage timing off, the signal pushed in frames of `k` input
//! frames (960: 20 ms) and flushed, `reps` times (per-push costs under
//! callgrind: the difference between two `reps`, divided by the pushes).
use remotemedia_runtime::chain::{
    Chain, ChainPlane, ChainPlaneMut, ChainView, ChainViewMut, Fmt, SegmentEvent, SegmentParams, Spec,
};
use remotemedia_runtime::resample::Quality;
use std::time::Instant;

fn env(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    let reps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let n = (env("CS_MINUTES", 10.0) * 60.0 * 48000.0) as usize;
    // Harmonic bursts and a little noise on both channels (the second 0.8x).
    // One period (400 samples at 120 Hz) of the harmonic tone, as a table.
    let tone: Vec<f64> = (0..400)
        .map(|i| {
            let t = i as f64 / 48000.0;
            (1..6)
                .map(|k| (2.0 * std::f64::consts::PI * 120.0 * k as f64 * t).sin() / k as f64)
                .sum()
        })
        .collect();
    let mut s = 1u64;
    let mut x = vec![0i16; 2 * n];
    for i in 0..n {
        let on = i % 96000 > 28800;
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let noise = (s >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
        let v = if on { tone[i % 400] } else { 0.0 };
        let m = (0.3 * v + 0.006 * noise) * 32767.0;
        x[i] = m as i16;
        x[n + i] = (0.8 * m) as i16;
    }
    if let Some(k) = std::env::var("CS_PUSH").ok().and_then(|s| s.parse().ok()) {
        return push(&x, n, k, reps);
    }
    let mut chain = speech_chain(false);
    chain.set_threads(env("CS_THREADS", 0.0) as usize);
    let (frames, nflags) = chain.run_frames(n);
    let mut t = Vec::new();
    let mut check = 0u64;
    for _ in 0..reps {
        let mut out = vec![0f32; 2 * frames];
        let mut flags = vec![0u8; nflags];
        let t0 = Instant::now();
        let input = ChainView::new(ChainPlane::I16(&x), 2, n, n).unwrap();
        let o = ChainViewMut::new(ChainPlaneMut::F32(&mut out), 2, frames, frames).unwrap();
        chain.run(input, Some(o), &mut flags).unwrap();
        t.push(t0.elapsed().as_secs_f64());
        check = out.iter().fold(check, |h, v| h.rotate_left(5) ^ v.to_bits() as u64);
        check = flags.iter().fold(check, |h, &f| h.rotate_left(1) ^ f as u64);
        if let Ok(path) = std::env::var("CS_DUMP") {
            let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(path, bytes).unwrap();
        }
        let mut times = [0u64; 3];
        chain.take_times(&mut times);
        eprintln!(
            "run {:.4} s; stages (ms) {:?}",
            t.last().unwrap(),
            times.map(|v| v / 1_000_000)
        );
    }
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "chain run: median {:.4} s, min {:.4} s over {reps}; checksum {check:016x}",
        t[reps / 2],
        t[0]
    );
}

/// 48 kHz stereo int16 -> float32 (`downmix`: and mono) -> 16 kHz "high"
/// -> VAD (30 ms, mode 2), as `benchmarks/pipeline.py` (no downmix) and
/// `benchmarks/stream.py` (downmix) run it.
fn speech_chain(downmix: bool) -> Chain {
    let mut specs = vec![Spec::Convert(Fmt::F32)];
    if downmix {
        specs.push(Spec::Downmix);
    }
    specs.push(Spec::Resample {
        rate: 16000,
        quality: Quality::High,
    });
    specs.push(Spec::Vad {
        frame_ms: 30,
        aggressiveness: 2,
    });
    Chain::new(Fmt::I16, 2, 48000, &specs).unwrap()
}

/// Pushes `x` (`n` frames of stereo int16) through the session's chain in
/// frames of `k`, then flushes, `reps` times; prints a checksum of every
/// output, flag and event.
fn push(x: &[i16], n: usize, k: usize, reps: usize) {
    let mut chain = speech_chain(true);
    chain.set_timing(false);
    // SegmentTracker(16000, 480).params(): VADNode's defaults.
    chain
        .set_segments(SegmentParams::from_array(&[480, 960, 960, 3, 10, 480000, -1]).unwrap())
        .unwrap();
    let mut frame = vec![0i16; 2 * k];
    let mut out = vec![0f32; k];
    let mut flags = vec![0u8; k];
    let mut events = [SegmentEvent {
        start: false,
        sample: 0,
    }; 8];
    let mut check = 0u64;
    let t0 = Instant::now();
    let mut pushes = 0;
    for _ in 0..reps {
        let mut pos = 0;
        while pos < n {
            let m = k.min(n - pos);
            frame[..m].copy_from_slice(&x[pos..pos + m]);
            frame[m..m + m].copy_from_slice(&x[n + pos..n + pos + m]);
            let input = ChainView::new(ChainPlane::I16(&frame[..2 * m]), 2, m, m).unwrap();
            let (want, _) = chain.output_frames(m);
            let o = ChainViewMut::new(ChainPlaneMut::F32(&mut out[..want]), 1, want, want).unwrap();
            let (got, nf) = chain.process(input, Some(o), &mut flags).unwrap();
            let ne = chain.take_events(&mut events);
            check = out[..got]
                .iter()
                .fold(check, |h, v| h.rotate_left(5) ^ v.to_bits() as u64);
            check = flags[..nf].iter().fold(check, |h, &f| h.rotate_left(1) ^ f as u64);
            check = events[..ne]
                .iter()
                .fold(check, |h, e| h.rotate_left(7) ^ e.sample as u64 ^ e.start as u64);
            pos += m;
            pushes += 1;
        }
        let (m, nf) = chain.flush().unwrap();
        let mut tail = vec![0f32; m];
        let o = ChainViewMut::new(ChainPlaneMut::F32(&mut tail), 1, m, m).unwrap();
        let mut tf = vec![0u8; nf];
        chain.take(Some(o), &mut tf).unwrap();
        check = tail.iter().fold(check, |h, v| h.rotate_left(5) ^ v.to_bits() as u64);
    }
    let t = t0.elapsed().as_secs_f64();
    println!(
        "{pushes} pushes of {k} frames: {:.3} us per push; checksum {check:016x}",
        t * 1e6 / pushes as f64
    );
}
