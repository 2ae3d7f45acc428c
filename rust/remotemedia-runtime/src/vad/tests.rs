use super::*;

fn noise(n: usize, seed: u64, amp: f64) -> Vec<f64> {
    // xorshift: deterministic, no dependency
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0 * amp
        })
        .collect()
}

/// Noise at about -50 dBFS with 1 s bursts of a syllable-like voiced sound
/// (harmonics of 140 Hz, amplitude-modulated at 4 Hz) every other second.
fn tone_bursts(sr: u32, secs: f64) -> Vec<f64> {
    let n = (sr as f64 * secs) as usize;
    let mut x = noise(n, 7, 0.005);
    let tau = 2.0 * std::f64::consts::PI;
    for (i, v) in x.iter_mut().enumerate() {
        let t = i as f64 / sr as f64;
        if (t % 2.0) >= 1.0 {
            let env = 0.6 - 0.4 * (tau * 4.0 * t).cos();
            let voiced: f64 = (1..12).map(|h| (tau * 140.0 * h as f64 * t).sin() / h as f64).sum();
            *v += 0.15 * env * voiced;
        }
    }
    x
}

#[test]
fn rejects_bad_settings() {
    assert!(matches!(Vad::new(22050, 30, 2), Err(Error::InvalidArgument(_))));
    assert!(matches!(Vad::new(16000, 25, 2), Err(Error::InvalidArgument(_))));
    assert!(matches!(Vad::new(16000, 30, 4), Err(Error::InvalidArgument(_))));
}

#[test]
fn detects_bursts_in_noise_at_every_rate() {
    for &(sr, _) in spec::DECIMATION.iter() {
        for &ms in spec::FRAME_MS.iter() {
            let x = tone_bursts(sr, 6.0);
            let mut v = Vad::new(sr, ms, 2).unwrap();
            let mut flags = vec![0u8; v.flags_for(x.len())];
            let nf = v.process(Samples::F64(&x), &mut flags).unwrap();
            assert_eq!(nf, x.len() / v.frame_len());
            let per_s = 1000 / ms as usize;
            // second 3..4 is a burst, 4.8..5 is noise (the score lingers a
            // few hundred ms after a loud burst, then the hold)
            let on = flags[3 * per_s + 10 * per_s / 100..4 * per_s]
                .iter()
                .filter(|&&f| f == 1)
                .count();
            let off = flags[4 * per_s + 8 * per_s / 10..5 * per_s]
                .iter()
                .filter(|&&f| f == 1)
                .count();
            assert!(on >= per_s * 9 / 10 * 9 / 10, "{sr} {ms}: {on}");
            assert_eq!(off, 0, "{sr} {ms}");
        }
    }
}

#[test]
fn chunking_does_not_change_flags() {
    let x = tone_bursts(16000, 4.0);
    let mut one = Vad::new(16000, 30, 1).unwrap();
    let mut all = vec![0u8; one.flags_for(x.len())];
    one.process(Samples::F64(&x), &mut all).unwrap();
    let mut v = Vad::new(16000, 30, 1).unwrap();
    let mut got = Vec::new();
    for chunk in x.chunks(333) {
        let mut f = vec![0u8; v.flags_for(chunk.len())];
        let k = v.process(Samples::F64(chunk), &mut f).unwrap();
        got.extend_from_slice(&f[..k]);
    }
    assert_eq!(got, all);
    v.reset();
    let mut again = vec![0u8; v.flags_for(x.len())];
    v.process(Samples::F64(&x), &mut again).unwrap();
    assert_eq!(again, all);
}

#[test]
fn chunks_across_block_groups_give_the_scores_of_one_call() {
    // Blocks go through the features in groups of GROUP: chunks that end
    // inside a block, on a block, on a group and past one must all give the
    // whole buffer's flags and scores, bit for bit, at every rate.
    for &(sr, _) in spec::DECIMATION.iter() {
        let mut x = tone_bursts(sr, 2.0);
        x.extend(noise(sr as usize, 7, 0.3));
        let mut one = Vad::new(sr, 10, 2).unwrap();
        let n = one.flags_for(x.len());
        let (mut all_f, mut all_s) = (vec![0u8; n], vec![0f32; n]);
        one.process_scores(Samples::F64(&x), &mut all_f, Some(&mut all_s))
            .unwrap();
        let block = sr as usize / 100;
        let sizes = [
            1,
            block - 1,
            block,
            block + 1,
            GROUP * block,
            GROUP * block + 1,
            3 * block + 7,
            9 * block,
        ];
        let mut v = Vad::new(sr, 10, 2).unwrap();
        let (mut got_f, mut got_s) = (Vec::new(), Vec::new());
        let (mut pos, mut i) = (0, 0);
        while pos < x.len() {
            let chunk = &x[pos..(pos + sizes[i % sizes.len()]).min(x.len())];
            let m = v.flags_for(chunk.len());
            let (mut f, mut s) = (vec![0u8; m], vec![0f32; m]);
            assert_eq!(v.process_scores(Samples::F64(chunk), &mut f, Some(&mut s)).unwrap(), m);
            got_f.extend_from_slice(&f);
            got_s.extend(s.iter().map(|v| v.to_bits()));
            pos += chunk.len();
            i += 1;
        }
        assert_eq!(got_f, all_f, "{sr}");
        assert_eq!(got_s, all_s.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "{sr}");
        assert!(all_f.contains(&1) && all_f.contains(&0), "{sr}");
    }
}

#[test]
fn small_output_buffer_is_an_error() {
    let mut v = Vad::new(8000, 10, 0).unwrap();
    let x = vec![0i16; 800];
    let mut f = [0u8; 3];
    assert!(matches!(
        v.process(Samples::I16(&x), &mut f),
        Err(Error::BufferTooSmall { needed: 10, given: 3 })
    ));
}

#[test]
fn digital_silence_ends_the_hangover_and_dc_is_invisible() {
    // A burst from 1 s to 2 s, then exact zeros: the first frame wholly in
    // the zeros is non-speech in every mode, with no hangover.
    let mut x = tone_bursts(16000, 3.0);
    for v in &mut x[32000..] {
        *v = 0.0;
    }
    for a in 0..4 {
        let mut v = Vad::new(16000, 30, a).unwrap();
        let mut flags = vec![0u8; v.flags_for(x.len())];
        v.process(Samples::F64(&x), &mut flags).unwrap();
        assert_eq!(flags[60], 1, "mode {a}");
        assert!(flags[67..].iter().all(|&f| f == 0), "mode {a}");
        // The same signal on a DC offset gives the same flags, first frame included.
        let y: Vec<f64> = x.iter().map(|v| v + 0.25).collect();
        let mut w = Vad::new(16000, 30, a).unwrap();
        let mut g = vec![0u8; flags.len()];
        w.process(Samples::F64(&y), &mut g).unwrap();
        assert_eq!(g, flags, "mode {a}");
    }
}

#[test]
fn scores_are_probabilities_and_presets_are_monotone() {
    let x = tone_bursts(16000, 6.0);
    let mut prev: Option<Vec<u8>> = None;
    for a in 0..4 {
        let mut v = Vad::new(16000, 10, a).unwrap();
        let n = v.flags_for(x.len());
        let mut flags = vec![0u8; n];
        let mut scores = vec![-1.0f32; n];
        v.process_scores(Samples::F64(&x), &mut flags, Some(&mut scores))
            .unwrap();
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
        assert!(scores.iter().any(|&s| s > 0.9) && scores.iter().any(|&s| s < 0.1));
        if let Some(p) = prev {
            assert!(
                flags.iter().zip(&p).all(|(&f, &q)| f <= q),
                "mode {a} flags a frame mode {} does not",
                a - 1
            );
        }
        prev = Some(flags);
    }
}

#[test]
fn threshold_one_flags_nothing_and_zero_everything_but_silence() {
    let x = tone_bursts(8000, 4.0);
    let mut v = Vad::with_decision(8000, 30, spec::SCORE_ONE + 1, spec::SCORE_ONE + 1, 0).unwrap();
    let mut f = vec![0u8; v.flags_for(x.len())];
    v.process(Samples::F64(&x), &mut f).unwrap();
    assert!(f.iter().all(|&b| b == 0));
    v.set_decision(0, 0, 0);
    v.reset();
    v.process(Samples::F64(&x), &mut f).unwrap();
    assert!(f.iter().all(|&b| b == 1));
}

#[test]
fn portable_and_simd_paths_give_the_same_scores() {
    // Loud and quiet stretches (large autocorrelation values, clipping)
    // as well as the bursts: every rate, the AVX2 path when this CPU has
    // it against the portable loops, bit for bit.
    for &(sr, _) in spec::DECIMATION.iter() {
        let mut x = tone_bursts(sr, 3.0);
        x.extend(noise(sr as usize, 3, 1.2));
        x.extend(noise(sr as usize / 2, 5, 0.0005));
        let mut fast = Vad::new(sr, 10, 0).unwrap();
        let mut slow = Vad::new(sr, 10, 0).unwrap();
        slow.simd = None;
        let n = fast.flags_for(x.len());
        let (mut ff, mut fs) = (vec![0u8; n], vec![0f32; n]);
        let (mut sf, mut ss) = (vec![0u8; n], vec![0f32; n]);
        fast.process_scores(Samples::F64(&x), &mut ff, Some(&mut fs)).unwrap();
        slow.process_scores(Samples::F64(&x), &mut sf, Some(&mut ss)).unwrap();
        assert_eq!(ff, sf, "{sr}");
        let bits = |s: &[f32]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fs), bits(&ss), "{sr}");
        // the scores move: the comparison is not between two constants
        assert!(fs.iter().any(|&s| s > 0.5) && fs.iter().any(|&s| s < 0.1), "{sr}");
    }
}

#[test]
fn int16_read_in_place_matches_every_other_input_path() {
    // At 8 and 16 kHz whole blocks of int16 input are read in place (not
    // copied), partial blocks and other formats go through the staging
    // buffer: a stream that switches between int16 and float chunks of
    // every size, on the AVX2 and on the portable path, must give the
    // flags and scores of one float call, bit for bit.
    for &sr in &[8000u32, 16000] {
        let mut x = tone_bursts(sr, 2.0);
        x.extend(noise(sr as usize, 9, 0.8));
        // int16 values, so the float and int16 forms are the same samples
        let q: Vec<i16> = x
            .iter()
            .map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        let xf: Vec<f32> = q.iter().map(|&v| v as f32 / 32768.0).collect();
        let mut one = Vad::new(sr, 20, 1).unwrap();
        let n = one.flags_for(q.len());
        let (mut all_f, mut all_s) = (vec![0u8; n], vec![0f32; n]);
        one.process_scores(Samples::F32(&xf), &mut all_f, Some(&mut all_s))
            .unwrap();
        let block = sr as usize / 100;
        let sizes = [
            GROUP * block,
            3,
            2 * block,
            block + 5,
            7 * block,
            block - 3,
            5 * block + 1,
        ];
        for portable in [false, true] {
            let mut v = Vad::new(sr, 20, 1).unwrap();
            if portable {
                v.simd = None;
            }
            let (mut got_f, mut got_s) = (Vec::new(), Vec::new());
            let (mut pos, mut i) = (0, 0);
            while pos < q.len() {
                let end = (pos + sizes[i % sizes.len()]).min(q.len());
                let m = v.flags_for(end - pos);
                let (mut f, mut s) = (vec![0u8; m], vec![0f32; m]);
                let input = if i % 3 == 2 {
                    Samples::F32(&xf[pos..end])
                } else {
                    Samples::I16(&q[pos..end])
                };
                assert_eq!(v.process_scores(input, &mut f, Some(&mut s)).unwrap(), m);
                got_f.extend_from_slice(&f);
                got_s.extend(s.iter().map(|v| v.to_bits()));
                pos = end;
                i += 1;
            }
            assert_eq!(got_f, all_f, "{sr} portable={portable}");
            assert_eq!(
                got_s,
                all_s.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{sr} portable={portable}"
            );
        }
        assert!(all_f.contains(&1) && all_f.contains(&0), "{sr}");
        let whole = {
            let mut v = Vad::new(sr, 20, 1).unwrap();
            let mut f = vec![0u8; n];
            v.process(Samples::I16(&q), &mut f).unwrap();
            f
        };
        assert_eq!(whole, all_f, "{sr}");
    }
}
