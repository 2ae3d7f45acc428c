//! Times the FLAC decoder over files given on the command line:
//! `cargo run --release --example flac_speed -- [reps] a.flac b.flac ...`.
//! Each file is read once; prints the median ns per sample over `reps`
//! passes and a checksum of the samples (equal before and after a change
//! that must not change any sample).
use remotemedia_runtime::flac;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let reps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let files: Vec<(Vec<u8>, flac::StreamInfo)> = args
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            let info = flac::stream_info(&data).unwrap();
            (data, info)
        })
        .collect();
    let samples: u64 = files.iter().map(|(_, i)| i.total_frames * i.channels as u64).sum();
    let mut outs: Vec<Vec<i16>> = files
        .iter()
        .map(|(_, i)| vec![0i16; (i.total_frames * i.channels as u64) as usize])
        .collect();
    let mut times = Vec::new();
    for _ in 0..reps {
        let start = Instant::now();
        for ((data, info), out) in files.iter().zip(outs.iter_mut()) {
            let block = 10 * info.sample_rate as usize;
            flac::decode::<i16>(data, info.channels as usize, info.total_frames, block, out).unwrap();
        }
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let sum: i64 = outs
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, &v)| (i as i64 % 7 + 1) * v as i64)
        .sum();
    println!(
        "{} files, {:.1} M samples: median {:.3} s, {:.2} ns/sample, checksum {sum}",
        files.len(),
        samples as f64 / 1e6,
        times[reps / 2],
        times[reps / 2] * 1e9 / samples as f64
    );
}
