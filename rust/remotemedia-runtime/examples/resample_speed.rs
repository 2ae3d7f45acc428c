//! Times one-shot resampling of noise (10 s, or `RS_SECONDS`; one channel,
//! or `RS_CHANNELS`): `cargo run --release --example resample_speed -- 48000 16000 2 [reps]`.
use remotemedia_runtime::resample::{one_shot_frames, resample, Quality};
use std::time::Instant;

fn main() {
    let a: Vec<u32> = std::env::args().skip(1).map(|s| s.parse().unwrap()).collect();
    let (i, o, q) = (a[0], a[1], Quality::from_code(a[2] as i32).unwrap());
    let reps = a.get(3).copied().unwrap_or(20) as usize;
    let secs: usize = std::env::var("RS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let channels: usize = std::env::var("RS_CHANNELS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let n = secs * i as usize;
    let mut s = 1u64;
    let x: Vec<f32> = (0..n * channels)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let mut out = vec![0.0; one_shot_frames(i, o, n) * channels];
    let mut t = Vec::new();
    for _ in 0..reps {
        let t0 = Instant::now();
        resample(i, o, q, channels, &x, n, &mut out).unwrap();
        t.push(t0.elapsed().as_secs_f64());
    }
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{i}->{o} q{}: median {:.4} ms per s, min {:.4}",
        a[2],
        t[reps / 2] * 1000.0 / secs as f64,
        t[0] * 1000.0 / secs as f64
    );
}
