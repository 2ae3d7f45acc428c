//! Channels on threads: every thread setting, whole buffers and random
//! chunkings give the bits of the one-thread chain, for every stage mode.

use super::*;

/// `ch` rows of `n` int16 frames: speech-like bursts plus noise, each row different.
fn rows(ch: usize, n: usize, seed: u32) -> Vec<i16> {
    let mut s = seed;
    let mut out = vec![0i16; ch * n];
    for c in 0..ch {
        for i in 0..n {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = ((s >> 16) as i32 - 32768) / 64;
            let on = ((i / 4000) % 2) as f64;
            let tone = (8000.0 * ((i as f64) * (0.05 + 0.01 * c as f64)).sin() * on) as i32;
            out[c * n + i] = (tone / (c as i32 + 1) + noise).clamp(-32768, 32767) as i16;
        }
    }
    out
}

/// Output rows (float64: exact for every format) and flags.
type Got = (Vec<Vec<f64>>, Vec<u8>);

fn chain(specs: &[Spec], ch: usize, threads: usize) -> Chain {
    let mut c = Chain::new(Fmt::I16, ch, 48000, specs).unwrap();
    c.set_threads(threads);
    c
}

/// `x` pushed in blocks of `chunks` (cycled), then flushed.
fn pushed(specs: &[Spec], x: &[i16], ch: usize, threads: usize, chunks: &[usize]) -> Got {
    let n = x.len() / ch;
    let mut c = chain(specs, ch, threads);
    let (of, och, _) = c.output_format();
    let (mut got, mut flags) = (vec![Vec::new(); och], Vec::new());
    let mut store = Store::default();
    let mut pos = 0;
    for &size in chunks.iter().cycle() {
        if pos >= n {
            break;
        }
        let k = size.min(n - pos);
        let block: Vec<i16> = (0..ch).flat_map(|r| x[r * n + pos..r * n + pos + k].to_vec()).collect();
        let input = View::new(Plane::I16(&block), ch, k, k).unwrap();
        let (m, nf) = c.output_frames(k);
        let mut f = vec![0u8; nf];
        let out = c.writes().then(|| store.view_mut(of, och, m));
        let (a, b) = c.process(input, out, &mut f).unwrap();
        assert_eq!((a, b), (if c.writes() { m } else { 0 }, nf));
        if c.writes() {
            append_f64(&mut got, &store.view(of, och, a));
        }
        flags.extend_from_slice(&f[..b]);
        pos += k;
    }
    let (m, nf) = c.flush().unwrap();
    let mut f = vec![0u8; nf];
    let out = (m > 0).then(|| store.view_mut(of, och, m));
    let (a, b) = c.take(out, &mut f).unwrap();
    if a > 0 {
        append_f64(&mut got, &store.view(of, och, a));
    }
    flags.extend_from_slice(&f[..b]);
    (got, flags)
}

/// `x` as one whole buffer (`run`).
fn whole(specs: &[Spec], x: &[i16], ch: usize, threads: usize) -> Got {
    let n = x.len() / ch;
    let mut c = chain(specs, ch, threads);
    let (of, och, _) = c.output_format();
    let (m, nf) = c.run_frames(n);
    let mut store = Store::default();
    let mut f = vec![0u8; nf];
    let input = View::new(Plane::I16(x), ch, n, n).unwrap();
    let out = c.writes().then(|| store.view_mut(of, och, m));
    let (a, b) = c.run(input, out, &mut f).unwrap();
    let mut got = vec![Vec::new(); och];
    if c.writes() {
        assert_eq!(a, m);
        append_f64(&mut got, &store.view(of, och, a));
    }
    assert_eq!(b, nf);
    (got, f)
}

fn assert_same(a: &Got, b: &Got, what: &str) {
    assert_eq!(a.0.len(), b.0.len(), "{what}: rows");
    for (r, (x, y)) in a.0.iter().zip(&b.0).enumerate() {
        assert_eq!(x.len(), y.len(), "{what}: row {r} length");
        let same = x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(same, "{what}: row {r} differs");
    }
    assert_eq!(a.1, b.1, "{what}: flags");
}

/// Random block sizes: small ones (real-time frames) and big ones (over
/// [`PARALLEL_MIN`]), the first one big when `big_first`.
fn chunking(seed: u32, big_first: bool) -> Vec<usize> {
    let mut s = seed;
    let mut out = Vec::new();
    for i in 0..12 {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let r = (s >> 8) as usize;
        let big = if i == 0 { big_first } else { r % 3 == 0 };
        out.push(if big {
            PARALLEL_MIN + r % (2 * PARALLEL_MIN)
        } else {
            1 + r % 5000
        });
    }
    out
}

fn vad(frame_ms: u32, aggressiveness: u32) -> Spec {
    Spec::Vad {
        frame_ms,
        aggressiveness,
    }
}

fn resample(rate: u32, quality: Quality) -> Spec {
    Spec::Resample { rate, quality }
}

/// Chains of every stage mode: conversions to each format, every
/// resampler preset and route, VAD settings, on float32 (the overlapped
/// VAD) and int16 (the VAD after the lanes), a downmix (no lanes), two resamplers.
fn chains() -> Vec<Vec<Spec>> {
    vec![
        vec![Spec::Convert(Fmt::F32), resample(16000, Quality::High), vad(30, 2)],
        vec![Spec::Convert(Fmt::F32), resample(16000, Quality::Low)],
        vec![resample(16000, Quality::Medium), Spec::Convert(Fmt::I16), vad(20, 3)],
        vec![resample(44100, Quality::High), Spec::Convert(Fmt::I32)],
        vec![Spec::Convert(Fmt::F32), resample(8000, Quality::VeryHigh), vad(10, 0)],
        vec![
            Spec::Convert(Fmt::F32),
            Spec::Downmix,
            resample(16000, Quality::High),
            vad(30, 1),
        ],
        vec![
            resample(32000, Quality::High),
            resample(16000, Quality::Medium),
            vad(30, 2),
        ],
        vec![
            Spec::Convert(Fmt::I16),
            resample(24000, Quality::Low),
            Spec::Convert(Fmt::F32),
        ],
    ]
}

/// One stereo int16 block of `n` frames through `c` into float32 (the
/// whole-buffer call with `whole`, else the stream call): output, flags and
/// output frames.
fn stereo_block(c: &mut Chain, x: &[i16], n: usize, whole: bool) -> (Vec<f32>, Vec<u8>, usize) {
    let input = View::new(Plane::I16(x), 2, n, n).unwrap();
    let (m, nf) = if whole { c.run_frames(n) } else { c.output_frames(n) };
    let mut y = vec![0f32; 2 * m];
    let mut f = vec![0u8; nf];
    let out = Some(ViewMut::new(PlaneMut::F32(&mut y), 2, m, m).unwrap());
    if whole {
        c.run(input, out, &mut f).unwrap();
    } else {
        c.process(input, out, &mut f).unwrap();
    }
    (y, f, m)
}

#[test]
fn every_thread_setting_and_chunking_gives_the_one_thread_bits() {
    let n = 2 * PARALLEL_MIN + 4321;
    for (k, specs) in chains().iter().enumerate() {
        // Three channels (more than threads on two cores) for two of the chains.
        let channels: &[usize] = if k % 4 == 0 { &[2, 3] } else { &[2] };
        for &ch in channels {
            let x = rows(ch, n, 11 + k as u32);
            // The reference: one thread, the default blocks.
            let want = pushed(specs, &x, ch, 1, &[BLOCK]);
            assert!(want.1.is_empty() || want.1.contains(&1) && want.1.contains(&0));
            for threads in [0, 2, 3] {
                let what = format!("chain {k} ({specs:?}), {ch} channels, threads {threads}");
                assert_same(&whole(specs, &x, ch, threads), &want, &format!("{what}, whole"));
                for (seed, big_first) in [(1, true), (2, false)] {
                    let got = pushed(specs, &x, ch, threads, &chunking(seed + 7 * k as u32, big_first));
                    assert_same(&got, &want, &format!("{what}, chunking {seed}"));
                }
            }
        }
    }
}

#[test]
fn lane_blocks_of_every_fill_give_the_one_thread_bits() {
    // Lanes run LANE_BLOCK frames per block: buffers ending inside, at and
    // just past a lane block (and a SEGMENT piece) give the one-thread bits.
    let specs = [Spec::Convert(Fmt::F32), resample(16000, Quality::High), vad(30, 2)];
    for (k, n) in [PARALLEL_MIN, 2 * LANE_BLOCK + 1, 3 * LANE_BLOCK - 1, 5 * LANE_BLOCK]
        .into_iter()
        .enumerate()
    {
        let x = rows(2, n, 31 + k as u32);
        let want = pushed(&specs, &x, 2, 1, &[BLOCK]);
        for threads in [0, 1, 2] {
            let what = format!("{n} frames, threads {threads}");
            assert_same(&whole(&specs, &x, 2, threads), &want, &format!("{what}, whole"));
            let got = pushed(&specs, &x, 2, threads, &[PARALLEL_MIN + 7, 333]);
            assert_same(&got, &want, &format!("{what}, pushed"));
        }
    }
}

#[test]
fn a_stream_chooses_lanes_by_its_first_block_and_keeps_them_until_it_ends() {
    let specs = [Spec::Convert(Fmt::F32), resample(16000, Quality::High), vad(30, 2)];
    let n = PARALLEL_MIN + 100;
    let x = rows(2, n, 5);
    let mut c = chain(&specs, 2, 2);
    stereo_block(&mut c, &x, n, false);
    assert!(c.lane_stream.is_some());
    c.flush().unwrap();
    assert!(c.lane_stream.is_none() && c.fresh);
    // A small first block (one stereo 20 ms frame) keeps the stream on the chain's own stages.
    let frame: Vec<i16> = x[..960].iter().chain(&x[n..n + 960]).copied().collect();
    stereo_block(&mut c, &frame, 960, false);
    assert!(c.lane_stream.is_none() && !c.fresh);
    c.reset();
    assert!(c.fresh);
}

#[test]
fn thread_count_follows_the_setting_the_channels_and_the_cores() {
    let specs = [Spec::Convert(Fmt::F32), resample(16000, Quality::High)];
    let mut c = chain(&specs, 3, 0);
    assert_eq!(c.thread_count(), cores().min(3));
    c.set_threads(1);
    assert_eq!(c.thread_count(), 1);
    c.set_threads(8);
    assert_eq!(c.thread_count(), 3);
    assert_eq!(chain(&specs, 1, 8).thread_count(), 1);
}

/// A panic requested in `stage` during a big block comes back as a panic
/// of the call (the ABI guard turns it into `RM_ERR_PANIC`); after a
/// reset the chain gives the one-thread bits again.
fn panics_then_recovers(specs: &[Spec], stage: usize, stream: bool) {
    let n = 2 * SEGMENT + 5;
    let x = rows(2, n, 4);
    let want = pushed(specs, &x, 2, 1, &[BLOCK]);
    let mut c = chain(specs, 2, 2);
    let (m, nf) = if stream { c.output_frames(n) } else { c.run_frames(n) };
    c.debug_fail(stage).unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut y = vec![0f32; 2 * m];
        let mut f = vec![0u8; nf];
        let input = View::new(Plane::I16(&x), 2, n, n).unwrap();
        let out = Some(ViewMut::new(PlaneMut::F32(&mut y), 2, m, m).unwrap());
        let _ = if stream {
            c.process(input, out, &mut f)
        } else {
            c.run(input, out, &mut f)
        };
    }));
    assert!(caught.is_err(), "stage {stage}: no panic");
    c.reset();
    let (y, f, m) = stereo_block(&mut c, &x, n, true);
    let mut got = vec![Vec::new(); 2];
    append_f64(&mut got, &View::new(Plane::F32(&y), 2, m, m).unwrap());
    assert_same(&(got, f), &want, &format!("after a panic in stage {stage}"));
}

#[test]
fn a_panic_in_a_worker_or_the_vad_fails_the_call_and_the_chain_recovers() {
    let specs = [Spec::Convert(Fmt::F32), resample(16000, Quality::High), vad(30, 2)];
    for stream in [false, true] {
        panics_then_recovers(&specs, 1, stream); // in a channel thread
        panics_then_recovers(&specs, 2, stream); // in the VAD, on the calling thread
    }
    let no_vad = [Spec::Convert(Fmt::F32), resample(16000, Quality::Low)];
    panics_then_recovers(&no_vad, 0, true);
}
