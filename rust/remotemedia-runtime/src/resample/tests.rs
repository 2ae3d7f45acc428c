use super::*;

fn signal(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn one_shot(i: u32, o: u32, q: Quality, ch: usize, x: &[f32]) -> Vec<f32> {
    let frames = x.len() / ch;
    let mut out = vec![0.0; one_shot_frames(i, o, frames) * ch];
    resample(i, o, q, ch, x, frames, &mut out).unwrap();
    out
}

fn streamed(i: u32, o: u32, q: Quality, ch: usize, x: &[f32], sizes: &[usize]) -> Vec<Vec<f32>> {
    let frames = x.len() / ch;
    let mut r = Resampler::new(i, o, ch, q).unwrap();
    let mut rows = vec![Vec::new(); ch];
    let mut pos = 0;
    let mut si = 0;
    while pos < frames {
        let n = sizes[si % sizes.len()].min(frames - pos);
        si += 1;
        let chunk: Vec<f32> = (0..ch)
            .flat_map(|c| x[c * frames + pos..c * frames + pos + n].to_vec())
            .collect();
        let k = r.output_frames(n);
        let mut out = vec![0.0; k * ch];
        assert_eq!(r.process(&chunk, n, &mut out, k).unwrap(), k);
        for c in 0..ch {
            rows[c].extend_from_slice(&out[c * k..(c + 1) * k]);
        }
        pos += n;
    }
    let k = r.flush_frames();
    let mut out = vec![0.0; k * ch];
    r.flush(&mut out, k).unwrap();
    for c in 0..ch {
        rows[c].extend_from_slice(&out[c * k..(c + 1) * k]);
    }
    rows
}

#[test]
fn chunking_is_bit_identical() {
    let cases = [
        (48_000, 16_000),
        (44_100, 16_000),
        (16_000, 48_000),
        (8_000, 16_000),
        (44_100, 48_000),
        // A short many-phase stage, then the sharp 2:3 stage on blocks.
        (22_050, 16_000),
        // Interpolated phases, then an exact stage up by 4 / by 2.
        (11_025, 96_001),
        (8_000, 47_999),
    ];
    for q in [Quality::Low, Quality::High, Quality::VeryHigh] {
        for &(i, o) in &cases {
            let ch = 2;
            let x = signal(5_000 * ch, 7);
            let want = one_shot(i, o, q, ch, &x);
            let total = want.len() / ch;
            assert_eq!(total, one_shot_frames(i, o, 5_000));
            for sizes in [&[1usize][..], &[7, 1, 300], &[160], &[4999, 2]] {
                let got = streamed(i, o, q, ch, &x, sizes);
                for c in 0..ch {
                    assert_eq!(got[c].len(), total);
                    for (a, b) in got[c].iter().zip(&want[c * total..(c + 1) * total]) {
                        assert_eq!(a.to_bits(), b.to_bits(), "{i}->{o} {q:?} {sizes:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn click_lands_in_place() {
    for &(i, o) in &[(48_000u32, 16_000u32), (16_000, 48_000), (8_000, 16_000)] {
        let n = 12_000;
        let at = 1_200 * (i as usize / 8_000);
        let mut x = vec![0.0f32; n];
        // A band-limited click: a short raised cosine.
        for d in -40i64..=40 {
            let w = 0.5 + 0.5 * (std::f64::consts::PI * d as f64 / 41.0).cos();
            x[(at as i64 + d) as usize] = w as f32;
        }
        let y = one_shot(i, o, Quality::High, 1, &x);
        let peak = y.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        let expect = at as f64 * o as f64 / i as f64;
        assert!(
            (peak as f64 - expect).abs() <= 0.5,
            "{i}->{o}: peak {peak}, expected {expect}"
        );
    }
}

#[test]
fn delay_counts_pending_input() {
    let mut r = Resampler::new(48_000, 16_000, 1, Quality::High).unwrap();
    let x = signal(4_800, 3);
    let k = r.output_frames(x.len());
    let mut out = vec![0.0; k];
    r.process(&x, x.len(), &mut out, k).unwrap();
    let d = r.delay();
    // At most one block of the fast-convolution stage (152 periods of 3
    // frames at 24 kHz: 19 ms) plus the filters' reach: under 30 ms.
    assert!(d > 0 && d < 1_440, "delay {d}");
    let mut m = Resampler::new(48_000, 16_000, 1, Quality::Low).unwrap();
    let k = m.output_frames(x.len());
    let mut out = vec![0.0; k];
    m.process(&x, x.len(), &mut out, k).unwrap();
    // Direct kernels: an output as soon as its window has arrived (< 10 ms).
    assert!(m.delay() > 0 && m.delay() < 480, "delay {}", m.delay());
    assert_eq!(r.flush_frames(), (d * 16_000).div_ceil(48_000));
}

#[test]
fn bad_arguments() {
    assert!(Resampler::new(0, 16_000, 1, Quality::High).is_err());
    assert!(Resampler::new(48_000, 800_000, 1, Quality::High).is_err());
    assert!(Resampler::new(48_000, 16_000, 0, Quality::High).is_err());
    let mut r = Resampler::new(48_000, 16_000, 1, Quality::High).unwrap();
    let mut small = vec![0.0; 1];
    assert!(matches!(
        r.process(&[0.0; 3000], 3000, &mut small, 1),
        Err(Error::BufferTooSmall { .. })
    ));
}

#[test]
fn scalar_path_is_chunk_invariant_and_close_to_simd() {
    for q in [Quality::High, Quality::VeryHigh] {
        for &(i, o) in &[
            (48_000u32, 16_000u32),
            (44_100, 16_000),
            (16_000, 48_000),
            (44_100, 48_000),
        ] {
            let x = signal(3_000, 11);
            let run = |scalar: bool, sizes: &[usize]| -> Vec<f32> {
                let mut r = Resampler::new(i, o, 1, q).unwrap();
                if scalar {
                    r.force_scalar();
                }
                let mut y = Vec::new();
                let mut pos = 0;
                let mut si = 0;
                while pos < x.len() {
                    let n = sizes[si % sizes.len()].min(x.len() - pos);
                    si += 1;
                    let k = r.output_frames(n);
                    let mut out = vec![0.0; k];
                    r.process(&x[pos..pos + n], n, &mut out, k).unwrap();
                    y.extend_from_slice(&out);
                    pos += n;
                }
                let k = r.flush_frames();
                let mut out = vec![0.0; k];
                r.flush(&mut out, k).unwrap();
                y.extend_from_slice(&out);
                y
            };
            let a = run(true, &[3_000]);
            let b = run(true, &[1, 7, 250]);
            assert!(
                a.iter().zip(&b).all(|(u, v)| u.to_bits() == v.to_bits()),
                "{i}->{o} {q:?}"
            );
            let simd = run(false, &[3_000]);
            assert_eq!(a.len(), simd.len());
            let worst = a.iter().zip(&simd).map(|(u, v)| (u - v).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-6, "{i}->{o} {q:?}: scalar vs simd {worst}");
        }
    }
}

#[test]
fn non_finite_input_is_chunk_invariant() {
    for &(i, o) in &[
        (48_000u32, 16_000u32),
        (16_000, 48_000),
        (44_100, 16_000),
        (16_000, 8_000),
    ] {
        let mut x = signal(6_000, 5);
        x[1_000] = f32::NAN;
        x[3_001] = f32::INFINITY;
        let a = one_shot(i, o, Quality::High, 1, &x);
        for sizes in [&[1usize, 3, 997][..], &[64], &[2_999, 5]] {
            let b = &streamed(i, o, Quality::High, 1, &x, sizes)[0];
            assert_eq!(a.len(), b.len());
            for (k, (u, v)) in a.iter().zip(b).enumerate() {
                let same = u.to_bits() == v.to_bits() || (u.is_nan() && v.is_nan());
                assert!(same, "{i}->{o} {sizes:?}: output {k}: {u} vs {v}");
            }
        }
        // Outputs far from the bad samples stay finite.
        assert!(a[..a.len() / 10].iter().all(|v| v.is_finite()), "{i}->{o}");
        assert!(a.iter().any(|v| !v.is_finite()), "{i}->{o}");
    }
}

#[test]
fn few_phase_kernels_scalar_path_is_bit_identical_to_simd() {
    // Stages with at most 4 phases use the output-parallel kernel, whose
    // scalar path performs the same fused multiply-adds in the same order,
    // or (long filters) the block kernel, whose two builds run the same
    // additions and multiplications.
    for q in [Quality::Low, Quality::Medium, Quality::High, Quality::VeryHigh] {
        for &(i, o) in &[
            (48_000u32, 16_000u32),
            (16_000, 48_000),
            (32_000, 16_000),
            (16_000, 24_000),
        ] {
            let x = signal(5_000, 21);
            let run = |scalar: bool| -> Vec<f32> {
                let mut r = Resampler::new(i, o, 1, q).unwrap();
                let wide = q == Quality::VeryHigh;
                assert!(
                    r.kernels().iter().all(|k| *k != "direct" || wide),
                    "{i}->{o}: {:?}",
                    r.kernels()
                );
                if matches!(q, Quality::High | Quality::VeryHigh) && (i, o) == (48_000, 16_000) {
                    assert!(r.kernels().contains(&"blocks"), "{i}->{o} {q:?}");
                }
                if scalar {
                    r.force_scalar();
                }
                let k = r.output_frames(x.len());
                let mut y = vec![0.0; k];
                r.process(&x, x.len(), &mut y, k).unwrap();
                let f = r.flush_frames();
                let mut z = vec![0.0; f];
                r.flush(&mut z, f).unwrap();
                y.extend_from_slice(&z);
                y
            };
            let (a, b) = (run(true), run(false));
            assert_eq!(a.len(), b.len());
            assert!(
                a.iter().zip(&b).all(|(u, v)| u.to_bits() == v.to_bits()),
                "{i}->{o} {q:?}"
            );
        }
    }
}

#[test]
fn one_type_for_every_route() {
    // The plan chooses the route once; the resampler only dispatches on it.
    let exact = Resampler::new(48_000, 16_000, 1, Quality::High).unwrap();
    assert_eq!(exact.route(), Route::Exact);
    let odd = Resampler::new(48_000, 48_001, 1, Quality::High).unwrap();
    assert_eq!(odd.route(), Route::Oversampled);
    assert_eq!(*odd.kernels().last().unwrap(), "interp");
    // Upward by 8.7: the exact 2x stage, interpolated phases, an exact 4x stage.
    let up = Resampler::new(11_025, 96_001, 1, Quality::High).unwrap();
    assert_eq!(up.route(), Route::Oversampled);
    assert_eq!(up.kernels()[1..], ["interp", "lanes"]);
    let down = Resampler::new(96_001, 11_025, 1, Quality::High).unwrap();
    assert_eq!(down.route(), Route::Interp);
    assert_eq!(down.kernels(), ["interp"]);
    let var = Resampler::variable(48_000, 16_000, 1, Quality::High).unwrap();
    assert_eq!(var.route(), Route::Interp);
    assert_eq!(
        Resampler::from_ratio(1.01, 2, Quality::Low).unwrap().route(),
        Route::Oversampled
    );
    // Only a variable resampler changes its ratio.
    let mut fixed = exact;
    assert!(matches!(fixed.set_ratio(0.34, 0), Err(Error::State(_))));
    assert!(Resampler::new(1_000, 384_000, 1, Quality::Low).is_err());
    assert!(Resampler::new(0, 16_000, 1, Quality::Low).is_err());
    assert!(Resampler::from_ratio(1.0, 0, Quality::Low).is_err());
}

#[test]
fn one_shot_equals_streaming_on_the_interpolated_routes() {
    let x: Vec<f32> = (0..9_000).map(|i| ((i as f32) * 0.031).sin() * 0.4).collect();
    for &(i, o) in &[(48_000u32, 48_001u32), (96_001, 11_025)] {
        let total = one_shot_frames(i, o, x.len());
        let mut one = vec![0.0; total];
        resample(i, o, Quality::Medium, 1, &x, x.len(), &mut one).unwrap();
        let mut r = Resampler::new(i, o, 1, Quality::Medium).unwrap();
        let mut y = Vec::new();
        for part in x.chunks(701) {
            let mut out = vec![0.0; r.output_frames(part.len())];
            let k = out.len();
            r.process(part, part.len(), &mut out, k).unwrap();
            y.extend_from_slice(&out);
        }
        let mut out = vec![0.0; r.flush_frames()];
        let k = out.len();
        r.flush(&mut out, k).unwrap();
        y.extend_from_slice(&out);
        assert_eq!(y, one, "{i}->{o}");
    }
}
