//! Voice activity detection: a noise-adaptive, multi-band statistical
//! detector (after Sohn, Kim and Sung, 1999), built to cost well under a
//! microsecond per 30 ms frame.
//!
//! Per frame of 10, 20 or 30 ms:
//! 1. samples are quantised to int16 (the rules of `convert`), low-passed
//!    by a triangular kernel of length 2D-1 and decimated by D to about
//!    8 kHz, then first-differenced (pre-emphasis, removes any DC offset);
//! 2. the autocorrelation at lags 0..=16 gives, through a Bartlett lag
//!    window, the energy of 8 bands between 150 Hz and 4 kHz;
//! 3. each band's noise level is the larger of a running average over
//!    non-speech frames and a biased minimum of the smoothed energy over
//!    the last 2.4 s (minimum statistics: recovers from noise level rises);
//! 4. the mean over bands of Sohn's log-likelihood ratio with the
//!    maximum-likelihood SNR, `g - 1 - ln g` (g = energy / noise, g >= 1),
//!    is compared with a threshold that grows with the score's average
//!    over non-speech frames (fluctuating noise raises it);
//! 5. a hangover keeps the flag up for a while after speech: longer at low
//!    SNR (modes 0 and 2), shorter after short bursts; a frame of digital
//!    silence is never speech and ends it.
//!
//! Steps 1 and 2 run on integers held in f64 with every partial sum below
//! 2^53, so they are exact in any summation order; the rest uses only
//! IEEE-exact operations in a fixed order, and the logarithm is a
//! polynomial. The numpy body computes the same bits.

pub mod spec;

use crate::error::{Error, Result};
use spec::{LAGS, MAX_BANDS, SUBWINDOWS};

/// Input samples of one call, in any accepted format.
#[derive(Clone, Copy)]
pub enum Samples<'a> {
    I16(&'a [i16]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl Samples<'_> {
    pub fn len(&self) -> usize {
        match self {
            Samples::I16(s) => s.len(),
            Samples::F32(s) => s.len(),
            Samples::F64(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// The quantisation of `convert` (float to i16: scale, clip, round half to
// even; NaN to 0). Repeated here so the VAD stays independent of it.
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

/// Streaming detector: feed samples in chunks of any size, get one flag per
/// completed frame. Holds no allocation beyond what `new` reserves.
pub struct Vad {
    d: usize,
    frame: usize,
    n: usize,
    k: usize,
    taps: Vec<f64>,
    weights_t: [[f64; MAX_BANDS]; LAGS + 1], // band weights, transposed
    a: f64,
    b: f64,
    c: f64,
    c_rest: f64,
    c2: f64,
    c2_rest: f64,
    sub_len: u32,
    threshold: f64,
    low_threshold: f64,
    band_weight: [f64; MAX_BANDS],
    hang_frames: u32,
    hang_short: u32,
    hang_clear: u32,
    long_run: u32,
    wsum: f64,
    floor: f64,
    // streaming state
    qbuf: Vec<f64>, // 2D-2 samples of history, then the frame being filled
    fill: usize,
    y_prev: f64,
    primed: bool,   // history seeded from the stream's first sample
    ybuf: Vec<f64>, // scratch: the decimated frame, after the previous sample
    z: Vec<f64>,    // LAGS samples of history, then the frame's n samples
    started: bool,
    smooth: [f64; MAX_BANDS],
    cur_min: [f64; MAX_BANDS],
    ring: [[f64; MAX_BANDS]; SUBWINDOWS],
    sub_count: u32,
    ring_pos: usize,
    hang: u32,
    run: u32,
    peak: f64,
    noise_avg: [f64; MAX_BANDS],
    s_noise: f64,
}

impl Vad {
    /// A detector for `sample_rate` Hz (8000, 16000, 32000, 44100 or
    /// 48000), frames of `frame_ms` (10, 20 or 30) and `aggressiveness`
    /// 0 (misses least speech) to 3 (fewest false alarms).
    pub fn new(sample_rate: u32, frame_ms: u32, aggressiveness: u32) -> Result<Self> {
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
        if aggressiveness > 3 {
            return Err(Error::InvalidArgument(format!(
                "VAD aggressiveness {aggressiveness} is out of range; use 0 to 3"
            )));
        }
        let frame = sample_rate as usize * frame_ms as usize / 1000;
        let n = frame / d;
        let mut weights = [[0.0; LAGS + 1]; MAX_BANDS];
        let k = spec::band_weights(sample_rate as usize / d, &mut weights);
        let mut weights_t = [[0.0; MAX_BANDS]; LAGS + 1];
        for (b, row) in weights.iter().enumerate() {
            for (l, &w) in row.iter().enumerate() {
                weights_t[l][b] = w;
            }
        }
        let taps = (0..2 * d - 1).map(|i| (i + 1).min(2 * d - 1 - i) as f64).collect();
        let a = spec::per_frame(spec::SMOOTH_10MS, frame_ms);
        let c = spec::per_frame(spec::NOISE_10MS, frame_ms);
        let c2 = spec::per_frame(spec::SNOISE_10MS, frame_ms);
        let mut v = Vad {
            d,
            frame,
            n,
            k,
            taps,
            weights_t,
            a,
            b: 1.0 - a,
            c,
            c_rest: 1.0 - c,
            c2,
            c2_rest: 1.0 - c2,
            sub_len: spec::SUBWINDOW_MS / frame_ms,
            threshold: spec::THRESHOLD[aggressiveness as usize],
            low_threshold: spec::LOW_BAND_THRESHOLD[aggressiveness as usize],
            band_weight: spec::BAND_WEIGHT[aggressiveness as usize],
            hang_frames: spec::HANGOVER_MS[aggressiveness as usize] / frame_ms,
            hang_short: spec::HANGOVER_SHORT_MS[aggressiveness as usize] / frame_ms,
            hang_clear: spec::HANGOVER_CLEAR_MS[aggressiveness as usize] / frame_ms,
            long_run: spec::LONG_RUN_MS.div_ceil(frame_ms),
            wsum: spec::BAND_WEIGHT[aggressiveness as usize][..k]
                .iter()
                .fold(0.0, |a, &w| a + w),
            floor: (n * d * d * d * d) as f64,
            qbuf: vec![0.0; 2 * d - 2 + frame],
            fill: 0,
            y_prev: 0.0,
            primed: false,
            ybuf: vec![0.0; n + 1],
            z: vec![0.0; LAGS + n],
            started: false,
            smooth: [0.0; MAX_BANDS],
            cur_min: [0.0; MAX_BANDS],
            ring: [[0.0; MAX_BANDS]; SUBWINDOWS],
            sub_count: 0,
            ring_pos: 0,
            hang: 0,
            run: 0,
            peak: 0.0,
            noise_avg: [0.0; MAX_BANDS],
            s_noise: 0.0,
        };
        v.reset();
        Ok(v)
    }

    /// Input samples per frame.
    pub fn frame_len(&self) -> usize {
        self.frame
    }

    /// Samples held back, waiting for the rest of their frame.
    pub fn buffered(&self) -> usize {
        self.fill
    }

    /// Number of flags the next `process` of `n` samples writes.
    pub fn flags_for(&self, n: usize) -> usize {
        (self.fill + n) / self.frame
    }

    /// Forget the stream: the next sample starts a new one.
    pub fn reset(&mut self) {
        self.qbuf.iter_mut().for_each(|v| *v = 0.0);
        self.fill = 0;
        self.y_prev = 0.0;
        self.primed = false;
        self.z.iter_mut().for_each(|v| *v = 0.0);
        self.started = false;
        self.sub_count = 0;
        self.ring_pos = 0;
        self.hang = 0;
        self.run = 0;
        self.peak = 0.0;
        self.s_noise = 0.0;
    }

    /// Feed samples; write one flag (0 or 1) per completed frame into
    /// `flags` and return how many were written.
    pub fn process(&mut self, x: Samples<'_>, flags: &mut [u8]) -> Result<usize> {
        let need = self.flags_for(x.len());
        if flags.len() < need {
            return Err(Error::BufferTooSmall {
                needed: need,
                given: flags.len(),
            });
        }
        match x {
            Samples::I16(s) => self.run(s, |v| v as f64, flags),
            Samples::F32(s) => self.run(s, q_f32, flags),
            Samples::F64(s) => self.run(s, q_f64, flags),
        }
        Ok(need)
    }

    fn run<T: Copy>(&mut self, mut src: &[T], q: impl Fn(T) -> f64 + Copy, flags: &mut [u8]) {
        let hist = 2 * self.d - 2;
        let mut written = 0;
        if !self.primed && !src.is_empty() {
            // The stream's history is its first sample repeated: a DC offset
            // is then invisible from the very first frame.
            let v = q(src[0]);
            self.qbuf[..hist].iter_mut().for_each(|h| *h = v);
            self.y_prev = v * (self.d * self.d) as f64;
            self.primed = true;
        }
        while !src.is_empty() {
            let take = (self.frame - self.fill).min(src.len());
            features::quantise_into(
                &mut self.qbuf[hist + self.fill..hist + self.fill + take],
                &src[..take],
                q,
            );
            self.fill += take;
            src = &src[take..];
            if self.fill == self.frame {
                flags[written] = self.frame_done();
                written += 1;
                self.fill = 0;
                self.qbuf.copy_within(self.frame..self.frame + hist, 0);
            }
        }
    }

    /// Features and decision of the frame now complete in `qbuf`.
    fn frame_done(&mut self) -> u8 {
        let mut r = [0.0f64; LAGS + 1];
        features::frame_features(self, &mut r);
        // Lags outer, bands inner: each band still sums its lags in order
        // 0..=LAGS (the numpy body's order), and the bands vectorise.
        let mut e = [0.0f64; MAX_BANDS];
        for (ek, w) in e.iter_mut().zip(&self.weights_t[0]) {
            *ek = r[0] * w;
        }
        for (rl, wl) in r.iter().zip(&self.weights_t).skip(1) {
            for (ek, w) in e.iter_mut().zip(wl) {
                *ek += rl * w;
            }
        }
        self.decide(&e)
    }

    // Indexed loops: several per-band arrays advance together.
    #[allow(clippy::needless_range_loop)]
    fn decide(&mut self, e_raw: &[f64; MAX_BANDS]) -> u8 {
        let k = self.k;
        // Digital silence (every band at most the floor) is never speech.
        let silent = e_raw[..k].iter().all(|&v| v <= self.floor);
        let mut e = [0.0f64; MAX_BANDS];
        for (o, &v) in e[..k].iter_mut().zip(&e_raw[..k]) {
            *o = (if v > 0.0 { v } else { 0.0 }) + self.floor;
        }
        if !self.started {
            self.started = true;
            self.smooth = e;
            self.cur_min = e;
            self.ring = [e; SUBWINDOWS];
            self.noise_avg = e;
        } else {
            for i in 0..k {
                self.smooth[i] = self.a * self.smooth[i] + self.b * e[i];
                self.cur_min[i] = self.cur_min[i].min(self.smooth[i]);
            }
        }
        self.sub_count += 1;
        let mut s = 0.0f64;
        let mut llr0 = 0.0f64;
        for i in 0..k {
            let mut m = self.cur_min[i];
            for ring in &self.ring {
                m = m.min(ring[i]);
            }
            let fb = m * spec::FLOOR_BIAS;
            let noise = if fb > self.noise_avg[i] { fb } else { self.noise_avg[i] };
            let g = e[i] / noise;
            let g1 = if g > 1.0 { g } else { 1.0 };
            let llr = g1 - 1.0 - spec::ln_approx(g1);
            if i == 0 {
                llr0 = llr;
            }
            s += llr * self.band_weight[i];
        }
        if self.sub_count == self.sub_len {
            self.ring[self.ring_pos] = self.cur_min;
            self.ring_pos = (self.ring_pos + 1) % SUBWINDOWS;
            self.cur_min = self.smooth;
            self.sub_count = 0;
        }
        s /= self.wsum;
        let fluct = spec::KAPPA * self.s_noise;
        if silent {
            self.hang = 0;
        } else if s > self.threshold + fluct || llr0 > self.low_threshold + fluct {
            // Long speech runs earn the full hangover, or a shorter one when
            // the run rose well above the noise (its weak tail is heard
            // directly); short bursts (clicks, clatter) only a short one.
            if self.run == 0 || s > self.peak {
                self.peak = s;
            }
            self.run += 1;
            self.hang = if self.run < self.long_run {
                self.hang_short
            } else if self.peak >= spec::CLEAR_PEAK {
                self.hang_clear
            } else {
                self.hang_frames
            };
            return 1;
        }
        self.run = 0;
        self.s_noise = self.c2 * self.s_noise + self.c2_rest * s;
        if self.hang > 0 {
            self.hang -= 1;
            return 1;
        }
        for i in 0..k {
            self.noise_avg[i] = self.c * self.noise_avg[i] + self.c_rest * e[i];
        }
        0
    }
}

mod features;

#[cfg(test)]
mod tests;
