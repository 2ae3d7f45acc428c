//! Times the VAD on 20 s of amplitude-modulated noise, whole buffer in one
//! call, 30 ms frames: `cargo run --release --example vad_speed -- 16000 [reps] [silence]`.
//! `silence` 0 makes every fifth second quiet noise instead of digital
//! silence (every block then runs the model, as on real recordings).
//! Prints the median cost per frame and a checksum of the scores (equal
//! before and after a change that must not change any score).
use remotemedia_runtime::vad::{Samples, Vad};
use std::time::Instant;

fn main() {
    let a: Vec<u32> = std::env::args().skip(1).map(|s| s.parse().unwrap()).collect();
    let rate = a[0];
    let reps = a.get(1).copied().unwrap_or(50) as usize;
    let silence = a.get(2).copied().unwrap_or(1) != 0;
    let n = 20 * rate as usize;
    let mut s = 1u64;
    let x: Vec<i16> = (0..n)
        .map(|i| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (s >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
            // loud for 1 s, quiet for 1 s, digital silence every 5th second
            let sec = i / rate as usize;
            let amp = match sec % 5 {
                4 if silence => 0.0,
                4 => 3000.0,
                k if k % 2 == 0 => 20000.0,
                _ => 500.0,
            };
            (u * amp) as i16
        })
        .collect();
    let mut v = Vad::new(rate, 30, 2).unwrap();
    let frames = v.flags_for(n);
    let mut flags = vec![0u8; frames];
    let mut scores = vec![0.0f32; frames];
    let mut t = Vec::new();
    let mut check = 0u64;
    for _ in 0..reps {
        v.reset();
        let t0 = Instant::now();
        v.process_scores(Samples::I16(&x), &mut flags, Some(&mut scores))
            .unwrap();
        t.push(t0.elapsed().as_secs_f64());
        check = scores.iter().zip(&flags).fold(0u64, |c, (&s, &f)| {
            c.wrapping_mul(31).wrapping_add(s.to_bits() as u64 + f as u64)
        });
    }
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{rate} Hz: median {:.3} us per 30 ms frame, min {:.3}; checksum {check:016x}",
        t[reps / 2] * 1e6 / frames as f64,
        t[0] * 1e6 / frames as f64
    );
}
