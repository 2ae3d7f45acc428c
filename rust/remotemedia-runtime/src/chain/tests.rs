use super::*;
use crate::convert::{convert, Dst, Src};
use crate::vad::Samples;

fn stereo(n: usize, seed: u32) -> Vec<i16> {
    let mut s = seed;
    let mut out = vec![0i16; 2 * n];
    for i in 0..n {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = ((s >> 16) as i32 - 32768) / 64;
        let tone = (8000.0 * ((i as f64) * 0.05).sin() * (((i / 4000) % 2) as f64)) as i32;
        out[i] = (tone + noise).clamp(-32768, 32767) as i16;
        out[n + i] = ((tone * 4) / 5 - noise).clamp(-32768, 32767) as i16;
    }
    out
}

/// The per-node path: convert, downmix (float64 mean), one-shot resample, VAD.
fn by_nodes(x: &[i16], n: usize) -> (Vec<f32>, Vec<u8>) {
    let mut f = vec![0f32; 2 * n];
    convert(Src::I16(x), Dst::F32(&mut f)).unwrap();
    let mono: Vec<f32> = (0..n).map(|i| ((f[i] as f64 + f[n + i] as f64) / 2.0) as f32).collect();
    let m = crate::resample::one_shot_frames(48000, 16000, n);
    let mut y = vec![0f32; m];
    crate::resample::resample(48000, 16000, Quality::High, 1, &mono, n, &mut y).unwrap();
    let mut v = Vad::new(16000, 30, 2).unwrap();
    let mut flags = vec![0u8; m / v.frame_len()];
    let k = v.process(Samples::F32(&y), &mut flags).unwrap();
    flags.truncate(k);
    (y, flags)
}

fn speech_chain() -> Chain {
    let specs = [
        Spec::Convert(Fmt::F32),
        Spec::Downmix,
        Spec::Resample {
            rate: 16000,
            quality: Quality::High,
        },
        Spec::Vad {
            frame_ms: 30,
            aggressiveness: 2,
        },
    ];
    Chain::new(Fmt::I16, 2, 48000, &specs).unwrap()
}

#[test]
fn run_equals_per_node_path_bitwise() {
    let n = 48000 * 3 + 123;
    let x = stereo(n, 1);
    let (want, want_flags) = by_nodes(&x, n);
    let mut c = speech_chain();
    assert!(c.writes());
    let (m, k) = c.run_frames(n);
    assert_eq!((m, k), (want.len(), want_flags.len()));
    let mut y = vec![0f32; m];
    let mut flags = vec![0u8; k];
    let input = View::new(Plane::I16(&x), 2, n, n).unwrap();
    let out = ViewMut::new(PlaneMut::F32(&mut y), 1, m, m).unwrap();
    c.run(input, Some(out), &mut flags).unwrap();
    assert!(y.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(flags, want_flags);
    assert!(flags.contains(&1) && flags.contains(&0));
}

#[test]
fn any_chunking_plus_flush_equals_run() {
    let n = 48000 * 2 + 77;
    let x = stereo(n, 2);
    let (want, want_flags) = by_nodes(&x, n);
    let mut c = speech_chain();
    let mut y = Vec::new();
    let mut flags = Vec::new();
    let mut pos = 0;
    let mut step = 1;
    while pos < n {
        let k = step.min(n - pos);
        // One row per channel, contiguous, like a pushed frame.
        let mut chunk = x[pos..pos + k].to_vec();
        chunk.extend_from_slice(&x[n + pos..n + pos + k]);
        let (m, nf) = c.output_frames(k);
        let mut o = vec![0f32; m];
        let mut fl = vec![0u8; nf];
        let input = View::new(Plane::I16(&chunk), 2, k, k).unwrap();
        let (a, b) = c
            .process(
                input,
                Some(ViewMut::new(PlaneMut::F32(&mut o), 1, m, m).unwrap()),
                &mut fl,
            )
            .unwrap();
        assert_eq!((a, b), (m, nf));
        y.extend_from_slice(&o);
        flags.extend_from_slice(&fl);
        pos += k;
        step = (step * 7 + 13) % 9000 + 1;
    }
    let (m, nf) = c.flush().unwrap();
    let mut o = vec![0f32; m];
    let mut fl = vec![0u8; nf];
    c.take(Some(ViewMut::new(PlaneMut::F32(&mut o), 1, m, m).unwrap()), &mut fl)
        .unwrap();
    y.extend_from_slice(&o);
    flags.extend_from_slice(&fl);
    assert_eq!(y.len(), want.len());
    assert!(y.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(flags, want_flags);
}

#[test]
fn fused_stereo_mix_matches_generic_mix() {
    let n = 5000;
    let x = stereo(n, 3);
    let mut fast = vec![0f32; n];
    let mut generic = vec![0f32; n];
    let v = View::new(Plane::I16(&x), 2, n, n).unwrap();
    ops::convert_mix_f32(&v, &mut ViewMut::new(PlaneMut::F32(&mut fast), 1, n, n).unwrap()).unwrap();
    let wide: Vec<i32> = x.iter().map(|&s| (s as i32) << 16).collect();
    let w = View::new(Plane::I32(&wide), 2, n, n).unwrap();
    ops::convert_mix_f32(&w, &mut ViewMut::new(PlaneMut::F32(&mut generic), 1, n, n).unwrap()).unwrap();
    assert!(fast.iter().zip(&generic).all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn downmix_rounds_integers_half_to_even() {
    let x: Vec<i16> = vec![1, 2, -3, 4, 0, 3, 2, 5];
    let v = View::new(Plane::I16(&x), 2, 4, 4).unwrap();
    let mut y = vec![0i16; 4];
    ops::downmix(&v, &mut ViewMut::new(PlaneMut::I16(&mut y), 1, 4, 4).unwrap()).unwrap();
    assert_eq!(y, vec![0, 2, -0, 4]);
}

#[test]
fn bad_specs_are_errors() {
    let vad = Spec::Vad {
        frame_ms: 30,
        aggressiveness: 2,
    };
    assert!(Chain::new(Fmt::F32, 1, 16000, &[vad, Spec::Downmix]).is_err());
    assert!(Chain::new(Fmt::I32, 1, 16000, &[vad]).is_err());
    assert!(Chain::new(Fmt::F32, 1, 12345, &[vad]).is_err());
    assert!(Chain::new(Fmt::F32, 0, 16000, &[Spec::Downmix]).is_err());
}

#[test]
fn stage_times_are_reported_and_taken() {
    let n = 48000;
    let x = stereo(n, 4);
    let mut c = speech_chain();
    let (m, k) = c.run_frames(n);
    let mut y = vec![0f32; m];
    let mut flags = vec![0u8; k];
    let input = View::new(Plane::I16(&x), 2, n, n).unwrap();
    c.run(
        input,
        Some(ViewMut::new(PlaneMut::F32(&mut y), 1, m, m).unwrap()),
        &mut flags,
    )
    .unwrap();
    let mut t = vec![0u64; 4];
    c.take_times(&mut t);
    assert!(t[0] > 0 && t[2] > 0 && t[3] > 0);
    assert_eq!(t[1], 0); // fused into stage 0
    c.take_times(&mut t);
    assert_eq!(t, vec![0; 4]);
}

#[test]
fn stereo_resample_with_blocks_that_emit_nothing() {
    // Stereo 48000 -> 16000 without a downmix, pushes of a block and a
    // bit: the resampler's block kernel often emits nothing for the second
    // block of a call, while the output rows are strided.
    let specs = [
        Spec::Convert(Fmt::F32),
        Spec::Resample {
            rate: 16000,
            quality: Quality::High,
        },
    ];
    let n = 48000 * 2;
    let x = stereo(n, 5);
    let mut c = Chain::new(Fmt::I16, 2, 48000, &specs).unwrap();
    let mut total = 0;
    let step = BLOCK + 100;
    for pos in (0..n).step_by(step) {
        let k = step.min(n - pos);
        let mut chunk = x[pos..pos + k].to_vec();
        chunk.extend_from_slice(&x[n + pos..n + pos + k]);
        let (m, _) = c.output_frames(k);
        let mut o = vec![0f32; 2 * m];
        let input = View::new(Plane::I16(&chunk), 2, k, k).unwrap();
        let (a, _) = c
            .process(
                input,
                Some(ViewMut::new(PlaneMut::F32(&mut o), 2, m, m).unwrap()),
                &mut [],
            )
            .unwrap();
        total += a;
    }
    let (m, _) = c.flush().unwrap();
    assert_eq!(total + m, crate::resample::one_shot_frames(48000, 16000, n));
}

#[test]
fn two_row_mean_halves_like_a_division() {
    // (a + b) * 0.5 in the vectorised pass == (a + b) / 2, the per-node arithmetic, bit for bit.
    let mut s = 7u32;
    let special = vec![
        0.0f32,
        -0.0,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE / 4.0,
        f32::MAX,
        -f32::MAX,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-45,
        3.0,
    ];
    let mut a: Vec<f32> = Vec::new();
    let mut b: Vec<f32> = Vec::new();
    for i in 0..4099 {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let x = f32::from_bits(s);
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let y = if i % 3 == 0 {
            f32::from_bits(s)
        } else {
            (s as f32 / u32::MAX as f32) - 0.5
        };
        a.push(x);
        b.push(y);
    }
    for (i, &v) in special.iter().enumerate() {
        for &w in &special[i..] {
            a.push(v);
            b.push(w);
        }
    }
    let mut got = vec![0f64; a.len()];
    ops::mean2_f32(&a, &b, &mut got);
    for ((&g, &x), &y) in got.iter().zip(&a).zip(&b) {
        let want = (f64::from(x) + f64::from(y)) / 2.0;
        assert!(
            g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
            "{x} {y}: {g} vs {want}"
        );
    }
}
