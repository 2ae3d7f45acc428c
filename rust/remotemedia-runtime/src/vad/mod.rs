//! Voice activity detection: per 10 ms block, band log energies against a
//! tracked noise floor feed a small integer MLP (shipped weights, see
//! `model`); a frame's score is the mean of its blocks' scores, and a
//! threshold with a release threshold and a hangover decides.
//!
//! Per block of 10 ms:
//! 1. samples are quantised to int16 (the rules of `convert`), low-passed
//!    by a triangular kernel of length 2D-1 and decimated by D to about
//!    8 kHz, then first-differenced (pre-emphasis, removes any DC offset);
//! 2. the autocorrelation at lags 0..=16 gives, through a Bartlett lag
//!    window, the energy of 8 bands between 150 Hz and 4 kHz, and their
//!    logarithm in 1/16 nepers (an integer);
//! 3. per band, a noise floor by minimum statistics over the last 2 s
//!    (integer arithmetic); features: SNR per band, spectral shape, level,
//!    at 7 block delays, and a slow average of the SNR;
//! 4. the MLP (int16 weights, int32 sums, a sigmoid table) gives the
//!    block's score in 0..=32768.
//!
//! Steps 1 and 2 run on integers held in f64 with every partial sum below
//! 2^53, so they are exact in any summation order; the band sums and the
//! logarithm use IEEE-exact operations in a fixed order; the rest is
//! integer. The numpy body computes the same bits.

pub mod model;
pub mod spec;

use crate::error::{Error, Result};
use spec::{BLOCK_FEATURES, HIST, LAGS, MAX_BANDS, N_INPUTS, SUBWINDOWS};

/// Blocks processed together (see `Vad::run`).
const GROUP: usize = 4;

/// Slots of the ring of block features: a power of two above `HIST`, so a
/// delayed slot is one mask away.
const RING: usize = 16;
const _: () = assert!(RING.is_power_of_two() && RING > HIST);

/// Input samples of one call, in any accepted format.
#[derive(Clone, Copy)]
pub enum Samples<'a> {
    I16(&'a [i16]),
    I32(&'a [i32]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl Samples<'_> {
    pub fn len(&self) -> usize {
        match self {
            Samples::I16(s) => s.len(),
            Samples::I32(s) => s.len(),
            Samples::F32(s) => s.len(),
            Samples::F64(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// The quantisation of `convert` (float to i16: scale, clip, round half to
// even; NaN to 0; i32 to i16: divide by 2^16, round half to even). Repeated
// here so the VAD stays independent of it.
const ROUND_F32: f32 = 12_582_912.0;
const ROUND_F64: f64 = 6_755_399_441_055_744.0;

// Clip (NaN passes the comparisons), round half to even by the add/subtract
// trick, then NaN to 0: the int16 value, as a float, without an integer
// conversion (which would not vectorise).
#[inline(always)]
fn q_f32(x: f32) -> f64 {
    let v = x * 32768.0;
    let v = v.clamp(-32768.0, 32767.0); // NaN stays NaN
    let r = (v + ROUND_F32) - ROUND_F32;
    if !r.is_nan() {
        r as f64
    } else {
        0.0
    }
}

#[inline(always)]
fn q_f64(x: f64) -> f64 {
    let v = x * 32768.0;
    let v = v.clamp(-32768.0, 32767.0); // NaN stays NaN
    let r = (v + ROUND_F64) - ROUND_F64;
    if !r.is_nan() {
        r
    } else {
        0.0
    }
}

#[inline(always)]
fn q_i32(x: i32) -> f64 {
    // x / 2^16 is exact in f64; rounding half to even as for floats.
    let v = (x as f64 * (1.0 / 65536.0)).min(32767.0);
    (v + ROUND_F64) - ROUND_F64
}

/// Streaming detector: feed samples in chunks of any size, get one flag
/// (and optionally one score) per completed frame. Holds no allocation
/// beyond what `new` reserves.
pub struct Vad {
    d: usize,
    block: usize,
    per_frame: u32,
    frame: usize,
    n: usize,
    k: usize,
    taps: Vec<f64>,
    weights_t: [[f64; MAX_BANDS]; LAGS + 1], // band weights, transposed
    floor: f64,
    qfloor: i32,
    model: &'static model::Model,
    simd: crate::cpu::Simd,
    threshold: u32,
    release: u32,
    hang_frames: u32,
    frame_ms: u32,
    // streaming state: the group of blocks being filled, after the history
    // the decimator needs, in `q16` (D <= 2: int16 values, 2D-1 samples of
    // history, see `features::diff16`) or in `qbuf` (D > 2: as f64, 2D-2
    // samples of history, and the last decimated sample in `y_prev`)
    q16: Vec<i16>,
    qbuf: Vec<f64>,
    fill: usize, // samples of the group being filled (below one block between calls)
    y_prev: f64,
    primed: bool,                // history seeded from the stream's first sample
    ybuf: Vec<f64>,              // scratch (D > 2): the decimated group, after the previous sample
    z: Vec<f64>,                 // LAGS samples of history, then the group's n samples per block
    z16: Vec<i16>,               // D <= 2: `z` saturated to int16 (see `features::diff16`)
    r: [[f64; LAGS + 1]; GROUP], // scratch: the autocorrelation of the group's blocks
    started: bool,
    sm: [i32; MAX_BANDS],
    cur_min: [i32; MAX_BANDS],
    ring: [[i32; MAX_BANDS]; SUBWINDOWS],
    sub_count: u32,
    ring_pos: usize,
    ra: [i32; MAX_BANDS],
    /// Blocks in a row (up to `QUIET_BLOCKS`) in which every band's SNR was below `QUIET_SNR`.
    quiet_run: u32,
    /// Blocks after the first (up to `SETTLE_BLOCKS`): the floor follows `sm` until then.
    age: u32,
    fhist: [[i16; BLOCK_FEATURES]; RING], // features of the last blocks, ring
    fpos: usize,                          // slot of the newest block in fhist
    acc: u32,
    acc_blocks: u32,
    acc_sound: bool,
    active: bool,
    hang: u32,
}

impl Vad {
    /// A detector for `sample_rate` Hz (8000, 16000, 32000, 44100 or
    /// 48000), frames of `frame_ms` (10, 20 or 30) and `aggressiveness`
    /// 0 (misses least speech) to 3 (fewest false alarms): a preset of
    /// `set_decision`.
    pub fn new(sample_rate: u32, frame_ms: u32, aggressiveness: u32) -> Result<Self> {
        if aggressiveness > 3 {
            return Err(Error::InvalidArgument(format!(
                "VAD aggressiveness {aggressiveness} is out of range; use 0 to 3"
            )));
        }
        let (t, r, h) = spec::PRESETS[aggressiveness as usize];
        Self::with_decision(
            sample_rate,
            frame_ms,
            spec::threshold_units(t),
            spec::threshold_units(r),
            h,
        )
    }

    /// A detector with an explicit decision rule: see `set_decision`.
    pub fn with_decision(
        sample_rate: u32,
        frame_ms: u32,
        threshold: u32,
        release: u32,
        hangover_ms: u32,
    ) -> Result<Self> {
        let d = match spec::DECIMATION.iter().find(|(r, _)| *r == sample_rate) {
            Some(&(_, d)) => d,
            None => {
                return Err(Error::InvalidArgument(format!(
                    "VAD sample rate {sample_rate} Hz is not supported; use 8000, 16000, 32000, 44100 or 48000"
                )))
            }
        };
        if !spec::FRAME_MS.contains(&frame_ms) {
            return Err(Error::InvalidArgument(format!(
                "VAD frame duration {frame_ms} ms is not supported; use 10, 20 or 30"
            )));
        }
        let block = sample_rate as usize * spec::BLOCK_MS as usize / 1000;
        let per_frame = frame_ms / spec::BLOCK_MS;
        let n = block / d;
        let mut weights = [[0.0; LAGS + 1]; MAX_BANDS];
        let k = spec::band_weights(sample_rate as usize / d, &mut weights);
        let mut weights_t = [[0.0; MAX_BANDS]; LAGS + 1];
        for (b, row) in weights.iter().enumerate() {
            for (l, &w) in row.iter().enumerate() {
                weights_t[l][b] = w;
            }
        }
        let taps = (0..2 * d - 1).map(|i| (i + 1).min(2 * d - 1 - i) as f64).collect();
        let floor = (n * d * d * d * d) as f64;
        let mut v = Vad {
            d,
            block,
            per_frame,
            frame: block * per_frame as usize,
            n,
            k,
            taps,
            weights_t,
            floor,
            qfloor: (spec::ln_approx(floor) * spec::LOG_SCALE).floor() as i32,
            model: model::get(),
            simd: crate::cpu::Avx2Fma::detect(),
            threshold: 0,
            release: 0,
            hang_frames: 0,
            frame_ms,
            q16: if d <= 2 {
                vec![0; 2 * d - 1 + GROUP * block]
            } else {
                Vec::new()
            },
            qbuf: if d <= 2 {
                Vec::new()
            } else {
                vec![0.0; 2 * d - 2 + GROUP * block]
            },
            fill: 0,
            y_prev: 0.0,
            primed: false,
            ybuf: if d <= 2 { Vec::new() } else { vec![0.0; GROUP * n + 1] },
            z: vec![0.0; LAGS + GROUP * n],
            z16: if d <= 2 { vec![0; LAGS + GROUP * n] } else { Vec::new() },
            r: [[0.0; LAGS + 1]; GROUP],
            started: false,
            sm: [0; MAX_BANDS],
            cur_min: [0; MAX_BANDS],
            ring: [[0; MAX_BANDS]; SUBWINDOWS],
            sub_count: 0,
            ring_pos: 0,
            ra: [0; MAX_BANDS],
            quiet_run: 0,
            age: 0,
            fhist: [[0; BLOCK_FEATURES]; RING],
            fpos: 0,
            acc: 0,
            acc_blocks: 0,
            acc_sound: false,
            active: false,
            hang: 0,
        };
        v.set_decision(threshold, release, hangover_ms);
        v.reset();
        Ok(v)
    }

    /// The decision rule, in score units (a score S means probability
    /// S / 32768): a frame starts speech when its score >= `threshold`,
    /// speech goes on while it is >= `release`, then the flag is held for
    /// `hangover_ms` (whole frames). Takes effect from the next frame.
    pub fn set_decision(&mut self, threshold: u32, release: u32, hangover_ms: u32) {
        self.threshold = threshold;
        self.release = release;
        self.hang_frames = hangover_ms / self.frame_ms;
    }

    /// Input samples per frame.
    pub fn frame_len(&self) -> usize {
        self.frame
    }

    /// Samples held back, waiting for the rest of their frame.
    pub fn buffered(&self) -> usize {
        self.acc_blocks as usize * self.block + self.fill
    }

    /// Number of flags the next `process` of `n` samples writes.
    pub fn flags_for(&self, n: usize) -> usize {
        (self.buffered() + n) / self.frame
    }

    /// Forget the stream: the next sample starts a new one.
    pub fn reset(&mut self) {
        self.q16.iter_mut().for_each(|v| *v = 0);
        self.qbuf.iter_mut().for_each(|v| *v = 0.0);
        self.fill = 0;
        self.y_prev = 0.0;
        self.primed = false;
        self.z.iter_mut().for_each(|v| *v = 0.0);
        self.z16.iter_mut().for_each(|v| *v = 0);
        self.started = false;
        self.sub_count = 0;
        self.ring_pos = 0;
        self.ra = [0; MAX_BANDS];
        self.quiet_run = 0;
        self.age = 0;
        self.fhist = [[0; BLOCK_FEATURES]; RING];
        self.fpos = 0;
        self.acc = 0;
        self.acc_blocks = 0;
        self.acc_sound = false;
        self.active = false;
        self.hang = 0;
    }

    /// Feed samples; write one flag (0 or 1) per completed frame into
    /// `flags` and return how many were written.
    pub fn process(&mut self, x: Samples<'_>, flags: &mut [u8]) -> Result<usize> {
        self.process_scores(x, flags, None)
    }

    /// As `process`, and also write each frame's score (probability of
    /// speech, in [0, 1]) into `scores` when given.
    pub fn process_scores(&mut self, x: Samples<'_>, flags: &mut [u8], scores: Option<&mut [f32]>) -> Result<usize> {
        let need = self.flags_for(x.len());
        let cap = match &scores {
            Some(s) => flags.len().min(s.len()),
            None => flags.len(),
        };
        if cap < need {
            return Err(Error::BufferTooSmall {
                needed: need,
                given: cap,
            });
        }
        let out = Out { flags, scores };
        match x {
            Samples::I16(s) => {
                let simd = self.simd;
                let to16 = |d: &mut [i16], s: &[i16]| d.copy_from_slice(s);
                self.run(s, |v| v as f64, |d, s| features::i16_into(d, s, simd), to16, Some, out)
            }
            Samples::I32(s) => self.run(
                s,
                q_i32,
                |d, s| features::quantise_into(d, s, q_i32),
                |d, s| features::quantise16_into(d, s, q_i32),
                |_| None,
                out,
            ),
            Samples::F32(s) => self.run(
                s,
                q_f32,
                |d, s| features::quantise_into(d, s, q_f32),
                |d, s| features::quantise16_into(d, s, q_f32),
                |_| None,
                out,
            ),
            Samples::F64(s) => self.run(
                s,
                q_f64,
                |d, s| features::quantise_into(d, s, q_f64),
                |d, s| features::quantise16_into(d, s, q_f64),
                |_| None,
                out,
            ),
        }
        Ok(need)
    }

    /// The body of `process_scores`: `q` quantises one sample, `conv` a
    /// run of them as f64 and `conv16` as int16 (the same values; a vector
    /// loop where there is one); `as16` gives int16 input as it is (the
    /// blocks of a group are then read in place, not copied).
    fn run<'s, T: Copy>(
        &mut self,
        mut src: &'s [T],
        q: impl Fn(T) -> f64 + Copy,
        conv: impl Fn(&mut [f64], &[T]),
        conv16: impl Fn(&mut [i16], &[T]),
        as16: impl Fn(&'s [T]) -> Option<&'s [i16]>,
        mut out: Out<'_>,
    ) {
        let narrow = self.d <= 2;
        let hist = if narrow { 2 * self.d - 1 } else { 2 * self.d - 2 };
        let mut written = 0;
        if !self.primed && !src.is_empty() {
            // The stream's history is its first sample repeated: a DC offset
            // is then invisible from the very first block.
            let v = q(src[0]);
            if narrow {
                // an int16 value (the quantisers clip and round)
                self.q16[..hist].iter_mut().for_each(|h| *h = v as i16);
            } else {
                self.qbuf[..hist].iter_mut().for_each(|h| *h = v);
                self.y_prev = v * (self.d * self.d) as f64;
            }
            self.primed = true;
        }
        // Blocks go in groups of up to GROUP: conversion and decimation run
        // once per group, each block's autocorrelation reads the group's
        // signal in place, and the band sums and logarithms of the group's
        // blocks are computed side by side (independent chains of
        // dependent steps, which the processor then overlaps). The noise
        // floor, the model and the decisions still take the blocks in
        // order, so every flag and score is unchanged. A call's last
        // complete blocks form a shorter group: no block waits for the
        // next call.
        let mut scores = [0u32; GROUP];
        let mut silent = [false; GROUP];
        let cap = GROUP * self.block;
        while !src.is_empty() {
            if narrow && self.fill == 0 && src.len() >= self.block {
                if let Some(s16) = as16(src) {
                    // Whole blocks of int16 input: read in place (with the
                    // history in q16), then keep their last samples as history.
                    let nb = (src.len() / self.block).min(GROUP);
                    let used = nb * self.block;
                    self.group_done(nb, Some(&s16[..used]), &mut scores, &mut silent);
                    self.q16[..hist].copy_from_slice(&s16[used - hist..used]);
                    src = &src[used..];
                    for (&score, &was_silent) in scores[..nb].iter().zip(&silent) {
                        self.account(score, was_silent, &mut out, &mut written);
                    }
                    continue;
                }
            }
            let take = (cap - self.fill).min(src.len());
            let at = hist + self.fill..hist + self.fill + take;
            if narrow {
                conv16(&mut self.q16[at], &src[..take]);
            } else {
                conv(&mut self.qbuf[at], &src[..take]);
            }
            self.fill += take;
            src = &src[take..];
            let nb = self.fill / self.block;
            if self.fill == cap || (src.is_empty() && nb > 0) {
                self.group_done(nb, None, &mut scores, &mut silent);
                // keep the decimator's history and the partial block
                let used = nb * self.block;
                if narrow {
                    self.q16.copy_within(used..hist + self.fill, 0);
                } else {
                    self.qbuf.copy_within(used..hist + self.fill, 0);
                }
                self.fill -= used;
                for (&score, &was_silent) in scores[..nb].iter().zip(&silent) {
                    self.account(score, was_silent, &mut out, &mut written);
                }
            }
        }
    }

    /// Adds one block's score `s` (0 when `silent`) to its frame and, when
    /// the block completes the frame, decides the frame.
    #[inline(always)]
    fn account(&mut self, s: u32, silent: bool, out: &mut Out<'_>, written: &mut usize) {
        self.acc += s;
        self.acc_blocks += 1;
        self.acc_sound |= !silent;
        if self.acc_blocks == self.per_frame {
            let score = self.acc / self.per_frame;
            out.flags[*written] = self.decide(score, self.acc_sound);
            if let Some(sc) = out.scores.as_deref_mut() {
                sc[*written] = score as f32 * (1.0 / spec::SCORE_ONE as f32);
            }
            *written += 1;
            self.acc = 0;
            self.acc_blocks = 0;
            self.acc_sound = false;
        }
    }

    /// Features and model of the `nb` (1..=GROUP) blocks now complete in
    /// `q16` or `qbuf`: the score of block b into `scores[b]` and whether it
    /// is digital silence into `silent[b]` (then its score is 0). `direct`:
    /// the group's samples, int16, when they are not in `q16` (D <= 2 only).
    fn group_done(&mut self, nb: usize, direct: Option<&[i16]>, scores: &mut [u32; GROUP], silent: &mut [bool; GROUP]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(token) = self.simd {
            /// # Safety
            /// The CPU supports AVX2 and FMA (the token is the proof).
            #[target_feature(enable = "avx2,fma")]
            unsafe fn wide(
                v: &mut Vad,
                nb: usize,
                direct: Option<&[i16]>,
                scores: &mut [u32; GROUP],
                silent: &mut [bool; GROUP],
                token: crate::cpu::Avx2Fma,
            ) {
                v.group_body::<true>(nb, direct, scores, silent, Some(token))
            }
            // SAFETY: the token proves the CPU supports AVX2 and FMA.
            return unsafe { wide(self, nb, direct, scores, silent, token) };
        }
        self.group_body::<false>(nb, direct, scores, silent, None)
    }

    /// `group_done` on the path `simd` (`WIDE` when it is `Some`): inlined
    /// into the caller, so it is compiled for the caller's instruction set.
    /// Fused multiply-adds (`WIDE`) give the same bits: see `features`.
    #[inline(always)]
    fn group_body<const WIDE: bool>(
        &mut self,
        nb: usize,
        direct: Option<&[i16]>,
        scores: &mut [u32; GROUP],
        silent: &mut [bool; GROUP],
        simd: crate::cpu::Simd,
    ) {
        debug_assert!((1..=GROUP).contains(&nb));
        features::group_features::<WIDE>(self, nb, direct, simd);
        // A stream's push completes one or two 10 ms blocks: the steps from
        // the band sums on run on two slots then, not four.
        if nb <= 2 {
            self.group_scores::<2>(nb, scores, silent, simd)
        } else {
            self.group_scores::<GROUP>(nb, scores, silent, simd)
        }
    }

    /// The scores of the group's `nb` blocks from their autocorrelations
    /// (`self.r`). Every step up to the logarithm runs on the first `G`
    /// slots (`nb <= G <= GROUP`; those past `nb` hold values of earlier
    /// groups, finite, and are not used): fixed trip counts, so the
    /// blocks' chains interleave.
    #[inline(always)]
    fn group_scores<const G: usize>(
        &mut self,
        nb: usize,
        scores: &mut [u32; GROUP],
        silent: &mut [bool; GROUP],
        simd: crate::cpu::Simd,
    ) {
        debug_assert!((1..=G).contains(&nb) && G <= GROUP);
        let r: &[[f64; LAGS + 1]; G] = self.r[..G].try_into().expect("G <= GROUP");
        let mut e = [[0.0f64; MAX_BANDS]; G];
        features::band_sums(r, &self.weights_t, &mut e, simd);
        let k = self.k;
        let mut arg = [[0.0f64; MAX_BANDS]; G];
        for ((eb, ab), sb) in e.iter_mut().zip(&mut arg).zip(silent.iter_mut()) {
            *sb = eb[..k].iter().all(|&v| v <= self.floor);
            for i in k..MAX_BANDS {
                // 44.1 kHz: the top band lies above the analysis Nyquist
                eb[i] = eb[k - 1];
            }
            for (a, &v) in ab.iter_mut().zip(eb.iter()) {
                *a = (if v > 0.0 { v } else { 0.0 }) + self.floor;
            }
        }
        let mut lg = [[0.0f64; MAX_BANDS]; G];
        for (l, a) in lg.iter_mut().zip(&arg) {
            *l = spec::ln_approx8(a);
        }
        let mut row = [0i16; model::N_PAD];
        let mut pending = None; // the block whose model input is in `row`
        for b in 0..nb {
            let mut ql = [0i32; MAX_BANDS];
            for (o, &l) in ql.iter_mut().zip(&lg[b]) {
                // l >= ln(floor) > 0, so truncation is the floor
                let v = l * spec::LOG_SCALE;
                debug_assert!(v > 0.0 && v < 4096.0);
                // SAFETY: v is finite and in 0..4096 (the log of a finite sum
                // of integers below 2^53, times 16; l >= ln(floor) > 0), so the
                // truncation fits i32: what `as i32` gives, without its range checks.
                *o = unsafe { v.to_int_unchecked::<i32>() } - self.qfloor;
            }
            self.track(&ql);
            // The model of the previous block runs here, between this
            // block's noise floor (a chain of dependent steps, which the
            // processor overlaps with the model's multiply-adds) and this
            // block's model input: every row is read well after it was
            // written (no load waits on a store just made).
            if let Some(p) = pending.take() {
                scores[p] = model::score(self.model, &row, simd);
            }
            // Digital silence scores 0 whatever the model says.
            scores[b] = 0;
            if !silent[b] {
                self.model_input(&mut row);
                pending = Some(b);
            }
        }
        if let Some(p) = pending {
            scores[p] = model::score(self.model, &row, simd);
        }
    }

    /// The model input of the newest block (after `track`) into `x`.
    #[inline(always)]
    fn model_input(&self, x: &mut [i16; model::N_PAD]) {
        for (c, &delay) in spec::CONTEXT.iter().enumerate() {
            // (fpos - delay) mod RING, delay <= HIST < RING: the block
            // `delay` blocks back, or a zero row before the stream has as many
            let slot = (self.fpos + RING - delay) & (RING - 1);
            x[c * BLOCK_FEATURES..(c + 1) * BLOCK_FEATURES].copy_from_slice(&self.fhist[slot]);
        }
        let base = BLOCK_FEATURES * spec::CONTEXT.len();
        for (o, &a) in x[base..N_INPUTS].iter_mut().zip(&self.ra) {
            *o = (a >> spec::FIX) as i16;
        }
    }

    /// Noise floor per band and this block's features (into `fhist`).
    // Indexed loops: several per-band arrays advance together.
    #[allow(clippy::needless_range_loop)]
    #[inline(always)]
    fn track(&mut self, ql: &[i32; MAX_BANDS]) {
        let fix = spec::FIX;
        if !self.started {
            self.started = true;
            for i in 0..MAX_BANDS {
                self.sm[i] = ql[i] << fix;
            }
            self.cur_min = self.sm;
            self.ring = [self.sm; SUBWINDOWS];
        } else {
            for i in 0..MAX_BANDS {
                // a block pulls the smoothed energy at most SMOOTH_DROP below it
                let v = (ql[i] << fix).max(self.sm[i] - (spec::SMOOTH_DROP << fix));
                self.sm[i] += (v - self.sm[i]) >> spec::SMOOTH_SHIFT;
                self.cur_min[i] = self.cur_min[i].min(self.sm[i]);
            }
            if self.age < spec::SETTLE_BLOCKS {
                // the floor follows the smoothed energy until it has settled
                self.age += 1;
                self.cur_min = self.sm;
                self.ring = [self.sm; SUBWINDOWS];
            }
        }
        let mut floor = self.cur_min;
        for ring in &self.ring {
            for i in 0..MAX_BANDS {
                floor[i] = floor[i].min(ring[i]);
            }
        }
        self.sub_count += 1;
        if self.sub_count == spec::SUB_BLOCKS {
            self.ring[self.ring_pos] = self.cur_min;
            self.ring_pos = (self.ring_pos + 1) % SUBWINDOWS;
            self.cur_min = self.sm;
            self.sub_count = 0;
        }
        self.fpos = (self.fpos + 1) & (RING - 1);
        let f = &mut self.fhist[self.fpos];
        let mut total = 0i32;
        let mut rmax = spec::R_MIN;
        for i in 0..MAX_BANDS {
            let r = (ql[i] - (floor[i] >> fix)).clamp(spec::R_MIN, spec::R_MAX);
            rmax = rmax.max(r);
            f[i] = r as i16;
            total += ql[i];
        }
        // every band at its floor for QUIET_BLOCKS blocks in a row: a sound has
        // stopped (not a pause inside speech), the slow average forgets it fast
        self.quiet_run = if rmax < spec::QUIET_SNR {
            (self.quiet_run + 1).min(spec::QUIET_BLOCKS)
        } else {
            0
        };
        let fall = if self.quiet_run >= spec::QUIET_BLOCKS {
            spec::SLOW_FALL_SHIFT
        } else {
            spec::SLOW_SHIFT
        };
        for i in 0..MAX_BANDS {
            let d = ((f[i] as i32) << fix) - self.ra[i];
            self.ra[i] += d >> if d >= 0 { spec::SLOW_SHIFT } else { fall };
        }
        let level = total >> 3;
        for i in 0..MAX_BANDS {
            f[MAX_BANDS + i] = (ql[i] - level) as i16;
        }
        f[2 * MAX_BANDS] = level as i16;
    }

    /// Hysteresis and hangover on one frame's score.
    fn decide(&mut self, score: u32, sound: bool) -> u8 {
        if !sound {
            // digital silence ends speech at once
            self.active = false;
            self.hang = 0;
            return 0;
        }
        if score >= self.threshold || (self.active && score >= self.release) {
            self.active = true;
            self.hang = self.hang_frames;
            return 1;
        }
        if self.active && self.hang > 0 {
            self.hang -= 1;
            return 1;
        }
        self.active = false;
        0
    }
}

struct Out<'a> {
    flags: &'a mut [u8],
    scores: Option<&'a mut [f32]>,
}

mod features;

#[cfg(test)]
mod tests;
