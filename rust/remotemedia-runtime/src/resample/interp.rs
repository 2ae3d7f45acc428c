//! Interpolated-phase resampler: any ratio, and a ratio that may change on
//! a running stream.
//!
//! The exact polyphase kernel stores one filter row per phase (`L` rows for
//! `L / M = out / in` in lowest terms; 48000 -> 48001 Hz would need 48001).
//! This kernel stores a fixed number `q` of phase segments per input frame
//! and, for each segment and tap, the cubic through four points of the
//! prototype in that segment (both ends included, so the pieces join), as
//! soxr and libsamplerate interpolate between stored phases. Its table
//! depends only on the preset and on `min(1, ratio)`, never on the
//! ratio's terms (`q * taps * 4` values).
//!
//! Precision follows the design's attenuation: up to [`WIDE_DB`] the table
//! is float32 and so are the cubics and the dot products (eight lanes per
//! AVX2 vector; float32 rounding sits near -150 dB, under every such
//! design), above it ("very_high") all of it is float64.
//!
//! Output `k` sits at input position `P_k / den`, `P_k` an integer: frame
//! `i = P_k / den`, segment `j = (P_k mod den) * q / den`, and `alpha` the
//! position inside the segment. Each tap's coefficient is the segment's
//! cubic at `alpha` (Horner's rule), and the output is the dot product of
//! those coefficients with the input window around `i`. Positions advance
//! by an integer step: for integer rates `den = L << 32` and the step is
//! `M << 32` (exact: the stream has `ceil(n * out / in)` frames); for a
//! non-integer ratio `den = 2^52` and the step is `round(2^52 / ratio)`.
//! [`Interp::set_ratio`] sets a new step, reached linearly over a ramp of
//! outputs. An output's arithmetic depends only on its position and the
//! input, so any chunking gives the same bits.
//!
//! This module holds the table's design, the arithmetic and one stage's
//! streaming state; which conversions use it, and the cache of tables, are
//! the plan's (`super::plan`).
//!
//! The numpy twin is `remotemedia/kernels/python/resample_interp.py` (sizes
//! in `remotemedia/kernels/resample_interp.py`).

use super::design::{self, bessel_i0, Quality};
use super::dot::{Dest, Sample};
use crate::cpu::{Avx2Fma, Simd};
use crate::error::{Error, Result};
use std::sync::Arc;

/// Taps per output are padded to a multiple of this (two float32 SIMD
/// blocks), or of [`WIDE_TAP_BLOCK`] for a float64 design.
pub const TAP_BLOCK: usize = 8;
/// The tap block of a float64 design (one 4-lane vector).
pub const WIDE_TAP_BLOCK: usize = 4;
/// Fixed-point shift of positions for integer rates (`den = L << 32`).
pub const RATE_SHIFT: u32 = 32;
/// Position units of a non-integer ratio.
pub const RATIO_DEN: u128 = 1 << 52;
/// Largest ratio either way.
pub const MAX_RATIO: f64 = 256.0;
/// `set_ratio` stays within this factor of the ratio the filter was designed for.
pub const VARIABLE_RANGE: f64 = 1.05;
/// Designs attenuating more than this (dB) run in float64, the rest in float32.
pub const WIDE_DB: f64 = 150.0;
/// Mono outputs computed together (their final sums share one transposed
/// tree of horizontal adds on the float32 path).
const BATCH: usize = 8;

/// Where a batch of mono outputs reads: each window's first frame, each
/// row's first value in the table, each in-segment position.
struct Batch {
    first: [usize; BATCH],
    row: [usize; BATCH],
    alpha: [f64; BATCH],
}

impl Batch {
    /// Whether every window (`taps` frames from `first`) lies within
    /// `x_len` and every row (`row_len` values from `row`) within
    /// `table_len`: one pass without branches (it vectorises).
    #[inline(always)]
    fn inside(&self, x_len: usize, taps: usize, table_len: usize, row_len: usize) -> bool {
        if taps > x_len || row_len > table_len {
            return false;
        }
        let (xl, tl) = (x_len - taps, table_len - row_len);
        let ok_x = self.first.iter().fold(true, |ok, &f| ok & (f <= xl));
        let ok_t = self.row.iter().fold(true, |ok, &r| ok & (r <= tl));
        ok_x & ok_t
    }
}

/// Stored phase segments per input frame at ratio >= 1: the cubic's error
/// stays 25 dB or more under the preset's stopband.
///
/// The float32 stage after an exact 2x stage uses quadratic pieces on
/// [`QUADRATIC_PHASES`] segments instead: its input holds nothing above
/// 0.23 cycles per frame, where the error of quadratic pieces on 144
/// segments (at its stopband edge of about 1.5 Nyquist) is 160 dB or more
/// under the signal, and each tap costs three fused multiply-adds
/// instead of four.
pub fn phases(quality: Quality) -> usize {
    match quality {
        Quality::Low => 32,
        Quality::Medium | Quality::High => 64,
        Quality::VeryHigh => 128,
    }
}

/// Phase segments per frame (at `fs = 1`) of quadratic pieces.
pub const QUADRATIC_PHASES: usize = 96;
/// The same for the float64 ("very_high") stage after an exact 2x stage:
/// on 384 segments its quadratic pieces stay about 198 dB under a tone at
/// the passband edge in a float64 model (the cubic pieces on 128: 187 dB,
/// both near the floor the window's end sets), for three fused
/// multiply-adds per tap instead of four.
pub const WIDE_QUADRATIC_PHASES: usize = 384;

/// Sizes of an interpolated-phase filter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InterpShape {
    /// `min(1, ratio)`: the cutoff scale relative to the input Nyquist.
    pub low: f64,
    /// Phase segments per input frame.
    pub q: usize,
    /// Half-length of the window in segments.
    pub half_q: u64,
    /// Input frames per output, a multiple of [`TAP_BLOCK`] (float32) or
    /// [`WIDE_TAP_BLOCK`] (float64).
    pub taps: usize,
    /// Frames the window reaches before / after the output's frame.
    pub behind: u64,
    pub ahead: u64,
    /// Cutoff (middle of the transition band), fraction of the input Nyquist.
    pub fc: f64,
    /// Kaiser window parameter.
    pub beta: f64,
    /// Float64 table and arithmetic (the design attenuates more than [`WIDE_DB`]).
    pub wide: bool,
    /// Degree of the polynomial per segment and tap: 3 (cubic) or 2
    /// (quadratic; see [`QUADRATIC_PHASES`], [`WIDE_QUADRATIC_PHASES`]).
    pub order: usize,
}

impl InterpShape {
    /// Sizes for cutoff scale `low` at a preset (same arithmetic as numpy).
    pub fn new(low: f64, quality: Quality) -> InterpShape {
        let (pb, sb, atten) = quality.spec();
        Self::band(low, pb * low, sb * low, atten, phases(quality), 3)
    }

    /// Sizes for a passband to `fp` and a stopband from `fs` (fractions of
    /// the input Nyquist; `fs` may exceed 1 when the input is oversampled)
    /// with `per_unit` phase segments per frame at `fs = 1`, each a
    /// polynomial of degree `order` (3, or 2 for a float32 design).
    pub fn band(low: f64, fp: f64, fs: f64, atten: f64, per_unit: usize, order: usize) -> InterpShape {
        let width = std::f64::consts::PI * (fs - fp);
        let length = (atten - 7.95) / (2.285 * width);
        let q = ((per_unit as f64 * fs).ceil() as usize).max(1);
        let half_q = (length / 2.0 * q as f64).ceil() as u64;
        // Tap `u` of segment `j` reads the prototype at `behind - u + (j +
        // alpha) / q` frames, nonzero within `half_q / q` either way (its
        // pieces reach one frame further ahead): taps from `behind =
        // floor(half_q / q)` back to `behind + 1` ahead hold every nonzero
        // piece, and no tap is all zeros (a window of 2 h frames needs
        // `floor(2 h) + 2` taps, not `2 ceil(h) + 1`).
        let behind = half_q / q as u64;
        let wide = atten > WIDE_DB;
        let block = if wide { WIDE_TAP_BLOCK } else { TAP_BLOCK };
        let taps = (2 * behind as usize + 2).div_ceil(block) * block;
        InterpShape {
            low,
            q,
            half_q,
            taps,
            behind,
            ahead: taps as u64 - 1 - behind,
            fc: (fp + fs) / 2.0,
            beta: 0.1102 * (atten - 8.7),
            wide,
            order,
        }
    }

    /// Coefficients in the table.
    pub fn coefficients(&self) -> usize {
        self.q * self.taps * self.width()
    }

    /// Values per tap and segment: the polynomial's `order + 1` coefficients.
    pub fn width(&self) -> usize {
        self.order + 1
    }
}

/// A designed table: `coef` for a wide shape, `coef32` otherwise (the
/// other one empty). Layout of `coef`: segment `j`, then blocks of 4 taps,
/// each block holding the 4 taps' coefficients of `alpha^0`, then
/// `alpha^1`, ... (`4 (order + 1)` values).
/// `coef32` likewise with blocks of 8 taps (`8 * (order + 1)` values),
/// each the float64 design rounded. Both start on a 64-byte boundary
/// (`off` values into their vector), so that every row (a multiple of
/// 32 bytes) does too and no block's load straddles a cache line (the
/// allocator aligns to 16 bytes only).
pub struct Table {
    pub shape: InterpShape,
    coef: Vec<f64>,
    coef32: Vec<f32>,
    off: usize,
}

impl Table {
    /// Heap bytes of the coefficients.
    pub fn heap_bytes(&self) -> usize {
        self.coef.len() * 8 + self.coef32.len() * 4
    }

    /// The float64 table (wide shapes; empty otherwise).
    pub fn coef(&self) -> &[f64] {
        self.coef.get(self.off..).unwrap_or(&[])
    }

    /// The float32 table (narrow shapes; empty otherwise).
    pub fn coef32(&self) -> &[f32] {
        self.coef32.get(self.off..).unwrap_or(&[])
    }
}

/// `n` zeros in a vector of a few more, and the index of the first value
/// on a 64-byte boundary (the vector is never grown, so it stays there).
fn aligned<T: Copy + Default>(n: usize) -> Result<(Vec<T>, usize)> {
    let size = std::mem::size_of::<T>();
    let extra = 64 / size;
    let mut v = Vec::new();
    v.try_reserve_exact(n + extra).map_err(|_| Error::Allocation {
        bytes: (n + extra) * size,
    })?;
    v.resize(n + extra, T::default());
    let off = (64 - v.as_ptr() as usize % 64) % 64 / size;
    Ok((v, off))
}

/// Designs the table of a shape (float64 polynomial pieces of a
/// Kaiser-windowed sinc; the plan caches the result).
pub fn design(s: &InterpShape) -> Result<Table> {
    assert!(s.order == 3 || s.order == 2, "unsupported interpolation order");
    let n = s.coefficients();
    let (mut coef, off64) = aligned::<f64>(n)?;
    // The prototype at `order + 1` equally spaced points per segment.
    let (q, w, d) = (s.q as i64, s.width(), s.order as i64);
    let half3 = d * s.half_q as i64;
    let i0_beta = bessel_i0(s.beta);
    let proto = |num: i64| -> f64 {
        // t = num / (d q) input frames from the output's position.
        if num.abs() > half3 {
            return 0.0;
        }
        let t = num as f64 / (d * q) as f64;
        let a = s.fc * t;
        let sinc = if num == 0 {
            1.0
        } else {
            (std::f64::consts::PI * a).sin() / (std::f64::consts::PI * a)
        };
        let r = num.abs() as f64 / half3 as f64;
        let w = bessel_i0(s.beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
        s.fc * sinc * w
    };
    let body = &mut coef[off64..off64 + n];
    for j in 0..q {
        let row = &mut body[j as usize * s.taps * w..][..s.taps * w];
        for u in 0..s.taps as i64 {
            let num = d * q * (s.behind as i64 - u) + d * j;
            // Powers of alpha from Newton's forward differences.
            let c = if s.order == 3 {
                let (f0, f1, f2, f3) = (proto(num), proto(num + 1), proto(num + 2), proto(num + 3));
                let d1 = f1 - f0;
                let d2 = (f2 - f1) - d1;
                let d3 = ((f3 - f2) - (f2 - f1)) - d2;
                [
                    f0,
                    (d1 - d2 / 2.0 + d3 / 3.0) * 3.0,
                    (d2 / 2.0 - d3 / 2.0) * 9.0,
                    d3 * 4.5,
                ]
            } else {
                let (f0, f1, f2) = (proto(num), proto(num + 1), proto(num + 2));
                let d1 = f1 - f0;
                let d2 = (f2 - f1) - d1;
                [f0, 2.0 * d1 - d2, 2.0 * d2, 0.0]
            };
            let (b, lane) = (u as usize / 4, u as usize % 4);
            for (p, &v) in c[..w].iter().enumerate() {
                row[b * 4 * w + p * 4 + lane] = v;
            }
        }
    }
    if s.wide {
        return Ok(Table {
            shape: *s,
            coef,
            coef32: Vec::new(),
            off: off64,
        });
    }
    let (mut coef32, off) = aligned::<f32>(n)?;
    // From blocks of 4 taps (4 w values) to blocks of 8 (8 w values).
    for (j, v) in coef[off64..off64 + n].iter().enumerate() {
        let (b4, p, lane) = (j / (4 * w), j / 4 % w, j % 4);
        let tap = b4 * 4 + lane;
        coef32[off + tap / 8 * 8 * w + p * 8 + tap % 8] = *v as f32;
    }
    Ok(Table {
        shape: *s,
        coef: Vec::new(),
        coef32,
        off,
    })
}

/// `floor(x + 0.5)` (the rounding the numpy body uses too).
fn round_half_up(x: f64) -> u128 {
    (x + 0.5).floor() as u128
}

/// Checks a ratio `out / in` against the supported range.
pub fn check_ratio(ratio: f64) -> Result<()> {
    if !ratio.is_finite() || !(1.0 / MAX_RATIO..=MAX_RATIO).contains(&ratio) {
        return Err(Error::InvalidArgument(format!(
            "ratio {ratio} (output rate / input rate) is outside the supported range 1/{MAX_RATIO}..{MAX_RATIO}"
        )));
    }
    Ok(())
}

/// Positions of successive outputs, in units of `1 / den`, and the step
/// schedule (a ramp moves the step linearly: step `j` of a ramp of `len`
/// is `from + floor((target - from) * j / len)`). The next position is held
/// as a frame and a remainder below `den` (`den < 2^53`), so advancing by a
/// constant step needs no wide division.
#[derive(Clone, Debug)]
struct Clock {
    den: u128,
    initial: u128,
    frame: u64,
    rem: u64,
    step: u128,
    /// `step` split as `(step / den, step % den)`.
    split: (u64, u64),
    target: u128,
    ramp_from: u128,
    ramp_len: u64,
    ramp_done: u64,
}

impl Clock {
    fn new(den: u128, step: u128) -> Clock {
        // Remainders below 2^52 convert to float64 exactly (`place_avx`).
        assert!(den <= RATIO_DEN, "position units {den} above 2^52");
        Clock {
            den,
            initial: step,
            frame: 0,
            rem: 0,
            step,
            split: ((step / den) as u64, (step % den) as u64),
            target: step,
            ramp_from: step,
            ramp_len: 0,
            ramp_done: 0,
        }
    }

    fn reset(&mut self) {
        *self = Clock::new(self.den, self.initial);
    }

    /// Position of the next output.
    fn pos(&self) -> u128 {
        self.frame as u128 * self.den + self.rem as u128
    }

    fn ramp_step(&self, done: u64) -> u128 {
        let delta = self.target as i128 - self.ramp_from as i128;
        (self.ramp_from as i128 + (delta * done as i128).div_euclid(self.ramp_len as i128)) as u128
    }

    fn current_step(&self) -> u128 {
        if self.ramp_done < self.ramp_len {
            self.ramp_step(self.ramp_done)
        } else {
            self.step
        }
    }

    fn set_step(&mut self, target: u128, ramp: u64) {
        let start = self.current_step();
        self.step = target;
        self.split = ((target / self.den) as u64, (target % self.den) as u64);
        self.target = target;
        if ramp == 0 || target == start {
            self.ramp_from = target;
            self.ramp_len = 0;
        } else {
            self.ramp_from = start;
            self.ramp_len = ramp;
        }
        self.ramp_done = 0;
    }

    /// No ramp under way: every output advances by `split`.
    #[inline]
    fn steady(&self) -> bool {
        self.ramp_done >= self.ramp_len
    }

    /// Moves to the next output's position.
    #[inline]
    fn advance(&mut self) {
        let (q, r) = if self.ramp_done < self.ramp_len {
            self.ramp_done += 1;
            let s = self.ramp_step(self.ramp_done);
            if self.ramp_done == self.ramp_len {
                self.ramp_len = 0;
                self.ramp_done = 0;
            }
            ((s / self.den) as u64, (s % self.den) as u64)
        } else {
            self.split
        };
        self.frame += q;
        self.rem += r;
        if self.rem as u128 >= self.den {
            self.rem -= self.den as u64;
            self.frame += 1;
        }
    }

    /// Outputs from the next one whose position is below `limit`.
    fn count_below(&self, limit: u128) -> usize {
        let (mut pos, mut done, mut n) = (self.pos(), self.ramp_done, 0u128);
        while done < self.ramp_len && pos < limit {
            n += 1;
            done += 1;
            pos += self.ramp_step(done);
        }
        if pos < limit {
            n += (limit - pos).div_ceil(self.step);
        }
        n as usize
    }

    /// Position of the `n`-th next output (`n >= 1`).
    fn position_of(&self, n: usize) -> u128 {
        let (mut pos, mut done, mut left) = (self.pos(), self.ramp_done, n as u128 - 1);
        while left > 0 && done < self.ramp_len {
            done += 1;
            pos += self.ramp_step(done);
            left -= 1;
        }
        pos + left * self.step
    }
}

/// Positions `(den, step)` for integer rates (`den = L << 32`, exact: the
/// stream has `ceil(n * out / in)` frames).
pub fn rate_clock(in_rate: u32, out_rate: u32) -> (u128, u128) {
    let (l, m) = design::ratio(in_rate, out_rate);
    ((l as u128) << RATE_SHIFT, (m as u128) << RATE_SHIFT)
}

/// Positions `(den, step)` for a non-integer ratio `out / in` (`den = 2^52`).
pub fn ratio_clock(ratio: f64) -> (u128, u128) {
    (RATIO_DEN, round_half_up(RATIO_DEN as f64 / ratio))
}

/// The kernel's input in its precision, per channel from input index
/// `start` on, and one output's coefficients, shared by every channel (2+
/// channels).
struct Rows<S> {
    hist: Vec<Vec<S>>,
    coef: Vec<S>,
}

impl<S: Kernel> Rows<S> {
    fn new(channels: usize) -> Rows<S> {
        Rows {
            hist: vec![Vec::new(); channels],
            coef: Vec::new(),
        }
    }

    /// `behind` zeros per channel.
    fn reset(&mut self, behind: usize) {
        for h in &mut self.hist {
            h.clear();
            h.resize(behind, S::default());
        }
    }

    fn extend(&mut self, input: &[f32], in_stride: usize, frames: usize) {
        for (c, h) in self.hist.iter_mut().enumerate() {
            h.extend(input[c * in_stride..][..frames].iter().map(|&v| S::from_f32(v)));
        }
    }

    fn pad(&mut self, zeros: usize) {
        for h in &mut self.hist {
            h.resize(h.len() + zeros, S::default());
        }
    }

    fn drop_front(&mut self, n: usize) {
        for h in &mut self.hist {
            h.drain(..n);
        }
    }

    /// `dest.frames` outputs from the clock's position on (`start`: input
    /// index of the histories' first frame); advances the clock.
    fn emit(&mut self, t: &Table, clock: &mut Clock, simd: Simd, start: i64, dest: Dest<'_, f32>) {
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: the token proves AVX2+FMA, all `emit_avx` needs.
            return unsafe { emit_avx(cpu, self, t, clock, start, dest) };
        }
        emit_rows(self, t, clock, simd, start, dest);
    }
}

/// [`Rows::emit`] compiled for AVX2+FMA as a whole, so that the kernels
/// inline into the loop over outputs (same operations, same bits).
///
/// # Safety
/// Runs AVX2+FMA instructions (the `Avx2Fma` token is the proof).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn emit_avx<S: Kernel>(
    cpu: Avx2Fma,
    rows: &mut Rows<S>,
    t: &Table,
    clock: &mut Clock,
    start: i64,
    dest: Dest<'_, f32>,
) {
    emit_rows(rows, t, clock, Some(cpu), start, dest);
}

/// The loop of [`Rows::emit`].
#[inline(always)]
fn emit_rows<S: Kernel>(rows: &mut Rows<S>, t: &Table, clock: &mut Clock, simd: Simd, start: i64, dest: Dest<'_, f32>) {
    let Dest {
        buf: out,
        stride,
        frames: n,
    } = dest;
    let s = t.shape;
    let table = S::table(t);
    // Segment and in-segment position from the remainder by one float64
    // product (no 64-bit division per output): `rem < den < 2^53` is
    // exact in float64, and `u = rem * q / den` is off by at most a few
    // units of 2^-52 relative, far under the tolerances (the pieces join
    // at segment ends, so a `u` rounded across one changes nothing).
    let scale = s.q as f64 / clock.den as f64;
    let last = (s.q - 1) as f64;
    let base = s.behind as i64 + start;
    // Where an output at `(frame, rem)` reads: its window's first frame in
    // the history, its row of the table and its in-segment position.
    // `rem < 2^53` and `0 <= u <= last` convert exactly, with one
    // instruction each (the checked conversions branch).
    let place = |frame: u64, rem: u64| {
        let u = rem as i64 as f64 * scale;
        // SAFETY: `0 <= u.min(last) <= last < 2^53` is finite and fits an i64.
        let seg = unsafe { u.min(last).to_int_unchecked::<i64>() };
        let first = (frame as i64 - base) as usize;
        (first, seg as usize * s.taps * s.width(), u - seg as f64)
    };
    if rows.hist.len() == 1 {
        let x = &rows.hist[0];
        let mut k = 0;
        // Mono: outputs in batches of BATCH (the same bits as one by one).
        while k + BATCH <= n {
            let mut at = Batch {
                first: [0; BATCH],
                row: [0; BATCH],
                alpha: [0.0; BATCH],
            };
            if clock.steady() {
                // A constant step: the position in registers.
                let (den, (sq, sr)) = (clock.den as u64, clock.split);
                let (mut frame, mut rem) = (clock.frame, clock.rem);
                let (mut frames, mut rems) = ([0u64; BATCH], [0u64; BATCH]);
                for j in 0..BATCH {
                    (frames[j], rems[j]) = (frame, rem);
                    frame += sq;
                    rem += sr;
                    if rem >= den {
                        rem -= den;
                        frame += 1;
                    }
                }
                #[cfg(target_arch = "x86_64")]
                if let Some(cpu) = simd {
                    // SAFETY: the token proves AVX2+FMA; every remainder is
                    // below `den <= 2^52` (`Clock::new`).
                    unsafe { place_avx(cpu, &frames, &rems, scale, last, base, s.taps * s.width(), &mut at) };
                } else {
                    for j in 0..BATCH {
                        (at.first[j], at.row[j], at.alpha[j]) = place(frames[j], rems[j]);
                    }
                }
                #[cfg(not(target_arch = "x86_64"))]
                for j in 0..BATCH {
                    (at.first[j], at.row[j], at.alpha[j]) = place(frames[j], rems[j]);
                }
                (clock.frame, clock.rem) = (frame, rem);
            } else {
                for j in 0..BATCH {
                    (at.first[j], at.row[j], at.alpha[j]) = place(clock.frame, clock.rem);
                    clock.advance();
                }
            }
            out[k..k + BATCH].copy_from_slice(&S::outputs(simd, x, table, s.taps, s.width(), &at));
            k += BATCH;
        }
        for o in &mut out[k..n] {
            let (first, row, a) = place(clock.frame, clock.rem);
            *o = S::output(
                simd,
                &x[first..first + s.taps],
                &table[row..row + s.taps * s.width()],
                a,
            );
            clock.advance();
        }
        return;
    }
    for k in 0..n {
        // Several channels: the coefficients once, then a dot product per
        // channel (the same operations as `output`, so the same bits).
        let (first, row, a) = place(clock.frame, clock.rem);
        rows.coef.resize(s.taps, S::default());
        S::coefficients(simd, &table[row..row + s.taps * s.width()], a, &mut rows.coef);
        for (c, h) in rows.hist.iter().enumerate() {
            out[c * stride + k] = <S as Kernel>::dot(simd, &h[first..first + s.taps], &rows.coef);
        }
        clock.advance();
    }
}

/// The placement of [`emit_rows`] for a batch of outputs at `(frames[j],
/// rems[j])`, four lanes at a time, with the same values: the remainder
/// to float64 exactly (`rem < 2^52`: its bits under those of `2^52`), the
/// same product, minimum and truncation, the row by one 32 x 32-bit
/// product (`seg < 2^32`, `row_len < 2^32`).
///
/// # Safety
/// The CPU runs AVX2+FMA; every `rems[j] < 2^52`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
#[allow(clippy::too_many_arguments)]
unsafe fn place_avx(
    _cpu: Avx2Fma,
    frames: &[u64; BATCH],
    rems: &[u64; BATCH],
    scale: f64,
    last: f64,
    base: i64,
    row_len: usize,
    at: &mut Batch,
) {
    use std::arch::x86_64::*;
    // SAFETY: loads and stores of 4 lanes inside arrays of BATCH (a multiple
    // of 4); the rest is register arithmetic.
    unsafe {
        const TWO52: u64 = 0x4330_0000_0000_0000;
        let magic_i = _mm256_set1_epi64x(TWO52 as i64);
        let magic = _mm256_castsi256_pd(magic_i);
        let (sv, lv) = (_mm256_set1_pd(scale), _mm256_set1_pd(last));
        let (bv, rl) = (_mm256_set1_epi64x(base), _mm256_set1_epi64x(row_len as i64));
        for g in 0..BATCH / 4 {
            let r = _mm256_loadu_si256(rems.as_ptr().add(4 * g) as *const __m256i);
            let rf = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(r, magic_i)), magic);
            let u = _mm256_mul_pd(rf, sv);
            let t = _mm256_round_pd::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(_mm256_min_pd(u, lv));
            let seg = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(t, magic)), magic_i);
            let f = _mm256_loadu_si256(frames.as_ptr().add(4 * g) as *const __m256i);
            _mm256_storeu_si256(
                at.first.as_mut_ptr().add(4 * g) as *mut __m256i,
                _mm256_sub_epi64(f, bv),
            );
            _mm256_storeu_si256(
                at.row.as_mut_ptr().add(4 * g) as *mut __m256i,
                _mm256_mul_epu32(seg, rl),
            );
            _mm256_storeu_pd(at.alpha.as_mut_ptr().add(4 * g), _mm256_sub_pd(u, t));
        }
    }
}

/// The history in the table's precision.
enum Hist {
    Wide(Rows<f64>),
    Narrow(Rows<f32>),
}

/// Runs `$body` with `$r` bound to the rows, whichever their precision.
macro_rules! with_rows {
    ($hist:expr, $r:ident => $body:expr) => {
        match $hist {
            Hist::Wide($r) => $body,
            Hist::Narrow($r) => $body,
        }
    };
}

/// A streaming interpolated-phase resampler for planar channels.
pub struct Interp {
    table: Arc<Table>,
    rows: Hist,
    channels: usize,
    /// Input index of the histories' first frame.
    start: i64,
    received: i64,
    clock: Clock,
    /// The ratio the filter was designed for (`set_ratio` stays near it).
    ratio: f64,
    simd: Simd,
}

impl Interp {
    /// A stage of ratio `ratio` (`out / in`) with positions `den` / `step`
    /// ([`rate_clock`], [`ratio_clock`]) running `table`.
    pub fn new(ratio: f64, (den, step): (u128, u128), channels: usize, table: Arc<Table>) -> Result<Interp> {
        check_ratio(ratio)?;
        let rows = if table.shape.wide {
            Hist::Wide(Rows::new(channels))
        } else {
            Hist::Narrow(Rows::new(channels))
        };
        let mut r = Interp {
            table,
            rows,
            channels,
            start: 0,
            received: 0,
            clock: Clock::new(den, step),
            ratio,
            simd: Avx2Fma::detect(),
        };
        r.reset();
        Ok(r)
    }

    #[cfg(test)]
    pub fn shape(&self) -> InterpShape {
        self.table.shape
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Forces the portable scalar loop (tests compare it with SIMD).
    #[cfg(test)]
    pub(crate) fn force_scalar(&mut self) {
        self.simd = None;
    }

    /// Back to the state of a new resampler (history zeroed, first ratio).
    pub fn reset(&mut self) {
        let behind = self.table.shape.behind as usize;
        with_rows!(&mut self.rows, r => r.reset(behind));
        self.start = -(behind as i64);
        self.received = 0;
        self.clock.reset();
    }

    /// A new ratio `out / in` from the next output on, reached linearly
    /// over `ramp` outputs (0: at once). It must stay within
    /// [`VARIABLE_RANGE`] of the ratio the resampler was made for.
    pub fn set_ratio(&mut self, ratio: f64, ramp: u64) -> Result<()> {
        check_ratio(ratio)?;
        let (lo, hi) = (self.ratio / VARIABLE_RANGE, self.ratio * VARIABLE_RANGE);
        if !(lo..=hi).contains(&ratio) {
            return Err(Error::InvalidArgument(format!(
                "ratio {ratio} is more than 5% away from {} (the ratio this resampler's filter was made for); \
                 make a new resampler for that conversion",
                self.ratio
            )));
        }
        let target = round_half_up(self.clock.den as f64 / ratio);
        self.clock.set_step(target, ramp);
        Ok(())
    }

    /// Frames per channel that `process` of `n` more input frames returns.
    pub fn output_frames(&self, n: usize) -> usize {
        let a = self.received + n as i64 - self.table.shape.ahead as i64;
        if a <= 0 {
            return 0;
        }
        self.clock.count_below(a as u128 * self.clock.den)
    }

    /// Frames per channel that `flush` returns now.
    pub fn flush_frames(&self) -> usize {
        self.flush_frames_after(0)
    }

    /// What `flush` would return after `n` more input frames.
    pub fn flush_frames_after(&self, n: usize) -> usize {
        self.clock
            .count_below((self.received as u128 + n as u128) * self.clock.den)
    }

    /// Input frames up to the next output's position (rounded up), in
    /// units of `per` of this stage's frames.
    pub(crate) fn covered(&self, per: u128) -> u64 {
        self.clock.pos().div_ceil(self.clock.den * per) as u64
    }

    /// Input frames taken in whose output is still pending.
    pub fn delay(&self) -> usize {
        let covered = self.clock.pos().div_ceil(self.clock.den) as i64;
        (self.received - covered).max(0) as usize
    }

    /// Resamples `frames` frames per channel (rows `in_stride` apart) into
    /// `out` (rows `stride` apart); returns `output_frames(frames)`.
    pub fn process_rows(
        &mut self,
        input: &[f32],
        in_stride: usize,
        frames: usize,
        out: &mut [f32],
        stride: usize,
    ) -> Result<usize> {
        let channels = self.channels();
        let needed = if frames == 0 {
            0
        } else {
            (channels - 1) * in_stride + frames
        };
        if in_stride < frames || input.len() < needed {
            return Err(Error::InvalidArgument(format!(
                "input rows of {frames} frames, {in_stride} apart, exceed {} samples",
                input.len()
            )));
        }
        let n_out = self.output_frames(frames);
        check_out(out, stride, n_out, channels)?;
        if frames > 0 {
            with_rows!(&mut self.rows, r => r.extend(input, in_stride, frames));
        }
        self.received += frames as i64;
        self.emit(n_out, out, stride);
        Ok(n_out)
    }

    /// Emits the rest (zero input after the end), then resets.
    pub fn flush(&mut self, out: &mut [f32], stride: usize) -> Result<usize> {
        let n = self.flush_frames();
        check_out(out, stride, n, self.channels())?;
        if n > 0 {
            let last = (self.clock.position_of(n) / self.clock.den) as i64;
            let need = (last + self.table.shape.ahead as i64 + 1 - self.received).max(0) as usize;
            with_rows!(&mut self.rows, r => r.pad(need));
            self.received += need as i64;
            self.emit(n, out, stride);
        }
        self.reset();
        Ok(n)
    }

    fn emit(&mut self, n: usize, out: &mut [f32], stride: usize) {
        let (t, simd, start) = (&*self.table, self.simd, self.start);
        with_rows!(&mut self.rows, r => r.emit(t, &mut self.clock, simd, start, Dest { buf: out, stride, frames: n }));
        // Keep the history from the first frame the next output needs.
        let keep_from = self.clock.frame as i64 - t.shape.behind as i64;
        let drop = (keep_from - self.start).clamp(0, self.received - self.start) as usize;
        if drop > 0 {
            with_rows!(&mut self.rows, r => r.drop_front(drop));
            self.start += drop as i64;
        }
    }
}

pub(crate) fn check_out(out: &[f32], stride: usize, n_out: usize, channels: usize) -> Result<()> {
    if stride < n_out {
        return Err(Error::BufferTooSmall {
            needed: n_out,
            given: stride,
        });
    }
    let needed = if n_out == 0 { 0 } else { (channels - 1) * stride + n_out };
    if out.len() < needed {
        return Err(Error::BufferTooSmall {
            needed,
            given: out.len(),
        });
    }
    Ok(())
}

/// The arithmetic of one precision: the table it reads and the operations
/// of an output (the same fused operations on the SIMD and scalar paths,
/// so the same bits).
trait Kernel: Sample {
    /// The table's coefficients in this precision.
    fn table(t: &Table) -> &[Self];
    /// One output: each tap's coefficient at `alpha`, dotted with `x` (`row`
    /// holds `w` values per tap: `row.len() / x.len()`).
    fn output(simd: Simd, x: &[Self], row: &[Self], alpha: f64) -> f32;
    /// [`BATCH`] outputs, each with the bits of `output` (windows of `taps`
    /// frames of `x`, rows of `w * taps` values of `table`, at `at`).
    // Inlined into the AVX2 loop of `emit_rows` (an outlined call cost
    // 5-10% of the stage: arguments and the batch through the stack, and
    // the AVX state cleared around it).
    #[inline(always)]
    fn outputs(simd: Simd, x: &[Self], table: &[Self], taps: usize, w: usize, at: &Batch) -> [f32; BATCH] {
        std::array::from_fn(|j| {
            let (f, r) = (at.first[j], at.row[j]);
            Self::output(simd, &x[f..f + taps], &table[r..r + w * taps], at.alpha[j])
        })
    }
    /// Each tap's coefficient at `alpha` (the first half of `output`; `w =
    /// row.len() / out.len()` values per tap).
    fn coefficients(simd: Simd, row: &[Self], alpha: f64, out: &mut [Self]);
    /// The second half of `output`, with precomputed coefficients.
    fn dot(simd: Simd, x: &[Self], coef: &[Self]) -> f32;
}

/// Runs `$f::<W>($args)` for the number of values per tap `$w` (3 or 4).
macro_rules! by_width {
    ($w:expr, $f:ident($($arg:expr),*)) => {
        match $w {
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            w => unreachable!("{w} values per tap"),
        }
    };
}

/// The coefficient of lane `lane` of a block of 8 taps at `c` (`W` values
/// per tap, 8 per power of `alpha`): Horner's rule, fused.
#[inline(always)]
fn horner_lane<const W: usize>(c: &[f32], lane: usize, a: f32) -> f32 {
    let mut k = c[(W - 1) * 8 + lane];
    for p in (0..W - 1).rev() {
        k = k.mul_add(a, c[p * 8 + lane]);
    }
    k
}

/// The portable float32 output (the fused operations of [`output32_avx`]).
fn output32<const W: usize>(x: &[f32], row: &[f32], a: f32) -> f32 {
    let mut acc = [[0.0f32; 8]; 2];
    for (b, (xb, cb)) in x.chunks_exact(8).zip(row.chunks_exact(8 * W)).enumerate() {
        let acc = &mut acc[b % 2];
        for lane in 0..8 {
            acc[lane] = xb[lane].mul_add(horner_lane::<W>(cb, lane, a), acc[lane]);
        }
    }
    reduce8(acc)
}

/// The portable float32 coefficients (those of [`coefficients32_avx`]).
fn coefficients32<const W: usize>(row: &[f32], a: f32, out: &mut [f32]) {
    for (cb, ob) in row.chunks_exact(8 * W).zip(out.chunks_exact_mut(8)) {
        for (lane, o) in ob.iter_mut().enumerate() {
            *o = horner_lane::<W>(cb, lane, a);
        }
    }
}

/// Float32: blocks of 8 taps (`8 w` coefficients: 8 per power of `alpha`,
/// `w` = 4 for cubic pieces, 3 for quadratic); block `b` goes to
/// accumulator `b mod 2`, the two are added lane-wise, then the lanes as
/// `((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7))`.
impl Kernel for f32 {
    fn table(t: &Table) -> &[f32] {
        t.coef32()
    }
    #[inline]
    fn output(simd: Simd, x: &[f32], row: &[f32], alpha: f64) -> f32 {
        let a = alpha as f32;
        let w = row.len() / x.len().max(1);
        assert!(x.len() % 8 == 0 && row.len() == x.len() * w);
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: the token proves AVX2+FMA; `x` is whole blocks of 8 taps
            // and `row` holds their `8 w` coefficients each (asserted above).
            return unsafe { by_width!(w, output32_avx(cpu, x, row, a)) };
        }
        let _ = simd;
        by_width!(w, output32(x, row, a))
    }
    // Inlined into the AVX2 loop of `emit_rows` (an outlined call cost
    // 5-10% of the stage: arguments and the batch through the stack, and
    // the AVX state cleared around it).
    #[inline(always)]
    fn outputs(simd: Simd, x: &[f32], table: &[f32], taps: usize, w: usize, at: &Batch) -> [f32; BATCH] {
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            assert!(taps % 8 == 0 && at.inside(x.len(), taps, table.len(), w * taps));
            // SAFETY: the token proves AVX2+FMA; every window is whole blocks
            // of 8 taps inside `x` and every row its `8 w` coefficients per
            // block inside `table` (asserted above).
            return unsafe { by_width!(w, outputs32_avx(cpu, x.as_ptr(), table.as_ptr(), taps / 8, at)) };
        }
        std::array::from_fn(|j| {
            let (f, r) = (at.first[j], at.row[j]);
            Self::output(simd, &x[f..f + taps], &table[r..r + w * taps], at.alpha[j])
        })
    }
    #[inline]
    fn coefficients(simd: Simd, row: &[f32], alpha: f64, out: &mut [f32]) {
        let a = alpha as f32;
        let w = row.len() / out.len().max(1);
        assert!(out.len() % 8 == 0 && row.len() == out.len() * w);
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: the token proves AVX2+FMA; `row` holds `8 w` values per
            // block of 8 outputs (asserted above).
            return unsafe { by_width!(w, coefficients32_avx(cpu, row, a, out)) };
        }
        let _ = simd;
        by_width!(w, coefficients32(row, a, out))
    }
    #[inline]
    fn dot(simd: Simd, x: &[f32], coef: &[f32]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            assert!(x.len() % 8 == 0 && coef.len() >= x.len());
            // SAFETY: the token proves AVX2+FMA; whole blocks of 8 in both
            // slices (asserted above).
            return unsafe { dot32_avx(cpu, x, coef) };
        }
        let _ = simd;
        let mut acc = [[0.0f32; 8]; 2];
        for (b, (xb, cb)) in x.chunks_exact(8).zip(coef.chunks_exact(8)).enumerate() {
            let acc = &mut acc[b % 2];
            for lane in 0..8 {
                acc[lane] = xb[lane].mul_add(cb[lane], acc[lane]);
            }
        }
        reduce8(acc)
    }
}

/// The float32 kernels' final sum (see `impl Kernel for f32`).
#[inline]
fn reduce8(acc: [[f32; 8]; 2]) -> f32 {
    let v: [f32; 8] = std::array::from_fn(|lane| acc[0][lane] + acc[1][lane]);
    ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
}

/// One block's coefficients at `a`: Horner's rule over the `8 W` values
/// at `c` (8 per power of `a`).
///
/// # Safety
/// `c` is valid for `8 W` reads; the CPU runs AVX2+FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn horner8<const W: usize>(c: *const f32, a: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    // SAFETY: reads c[0..8 W], valid by this function's contract.
    unsafe {
        let mut k = _mm256_loadu_ps(c.add((W - 1) * 8));
        for p in (0..W - 1).rev() {
            k = _mm256_fmadd_ps(k, a, _mm256_loadu_ps(c.add(p * 8)));
        }
        k
    }
}

/// The two accumulators' sum in [`reduce8`]'s order.
///
/// # Safety
/// The CPU runs AVX2+FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn sum8(s0: std::arch::x86_64::__m256, s1: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let mut v = [[0.0f32; 8]; 2];
    // SAFETY: stores 8 values into each 8-element row of `v`.
    unsafe {
        _mm256_storeu_ps(v[0].as_mut_ptr(), s0);
        _mm256_storeu_ps(v[1].as_mut_ptr(), s1);
    }
    reduce8(v)
}

/// The lanes of a float32 output before their final sum: one 8-lane
/// vector per block, blocks alternating between two accumulators, which
/// are then added.
///
/// # Safety
/// Runs AVX2+FMA instructions (the `Avx2Fma` token is the proof); reads
/// whole blocks of 8 of `x` and 32 of `row` per block (checked here too).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn lanes32_avx<const W: usize>(cpu: Avx2Fma, x: &[f32], row: &[f32], alpha: f32) -> std::arch::x86_64::__m256 {
    let n = x.len() / 8;
    assert!(row.len() >= n * 8 * W);
    // SAFETY: `n` blocks of `x` and of `row`, in bounds by the assertion
    // above; AVX2+FMA per the token.
    unsafe {
        lanes32_at::<W>(
            cpu,
            x.as_ptr(),
            row.as_ptr(),
            std::arch::x86_64::_mm256_set1_ps(alpha),
            n,
        )
    }
}

/// [`lanes32_avx`] on pointers: `n` blocks from `xp` (8 values each) and
/// `cp` (`8 W` each), `a` the in-segment position in every lane.
///
/// # Safety
/// `xp` is valid for `8 n` reads and `cp` for `8 W n`; the CPU runs AVX2+FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn lanes32_at<const W: usize>(
    _cpu: Avx2Fma,
    xp: *const f32,
    cp: *const f32,
    a: std::arch::x86_64::__m256,
    n: usize,
) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    // SAFETY: block b reads xp[8b..8b + 8] and cp[8Wb..8W(b + 1)], valid
    // by this function's contract.
    unsafe {
        // The loop over `$n` blocks, written once for a constant count.
        macro_rules! blocks {
            ($n:expr) => {{
                let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
                let mut b = 0;
                while b + 2 <= $n {
                    s0 = _mm256_fmadd_ps(
                        _mm256_loadu_ps(xp.add(b * 8)),
                        horner8::<W>(cp.add(b * 8 * W), a),
                        s0,
                    );
                    s1 = _mm256_fmadd_ps(
                        _mm256_loadu_ps(xp.add(b * 8 + 8)),
                        horner8::<W>(cp.add(b * 8 * W + 8 * W), a),
                        s1,
                    );
                    b += 2;
                }
                if b < $n {
                    s0 = _mm256_fmadd_ps(
                        _mm256_loadu_ps(xp.add(b * 8)),
                        horner8::<W>(cp.add(b * 8 * W), a),
                        s0,
                    );
                }
                _mm256_add_ps(s0, s1)
            }};
        }
        // Every float32 second stage of the 2x route has 2 or 3 blocks (16
        // or 24 taps): unrolled (the same operations in the same order).
        match n {
            2 => blocks!(2),
            3 => blocks!(3),
            _ => blocks!(n),
        }
    }
}

/// Float32 [`Kernel::output`] on AVX2+FMA.
///
/// # Safety
/// As [`lanes32_avx`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn output32_avx<const W: usize>(cpu: Avx2Fma, x: &[f32], row: &[f32], alpha: f32) -> f32 {
    use std::arch::x86_64::*;
    let mut v = [0.0f32; 8];
    // SAFETY: the caller's contract is `lanes32_avx`'s; the store writes the
    // 8 values of `v`.
    unsafe { _mm256_storeu_ps(v.as_mut_ptr(), lanes32_avx::<W>(cpu, x, row, alpha)) };
    ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
}

/// Eight float32 outputs on AVX2+FMA: the lane sums of [`lanes32_at`]
/// (`n` blocks of taps each, windows from `xp`, rows from `cp` at `at`),
/// then one transposed tree of horizontal adds that adds each output's
/// lanes as `((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7))`, as
/// [`output32_avx`] does.
///
/// # Safety
/// `xp.add(at.first[j])` is valid for `8 n` reads and `cp.add(at.row[j])`
/// for `8 W n`, for every `j`; the CPU runs AVX2+FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn outputs32_avx<const W: usize>(
    cpu: Avx2Fma,
    xp: *const f32,
    cp: *const f32,
    n: usize,
    at: &Batch,
) -> [f32; 8] {
    use std::arch::x86_64::*;
    let mut out = [0.0f32; 8];
    // SAFETY: the caller's contract covers every `lanes32_at` call; the
    // store writes the 8 values of `out`; the rest is register arithmetic.
    unsafe {
        // A loop, not a closure: the calls inline into this AVX2 function.
        let mut v = [_mm256_setzero_ps(); 8];
        for (j, vj) in v.iter_mut().enumerate() {
            let a = _mm256_set1_ps(at.alpha[j] as f32);
            *vj = lanes32_at::<W>(cpu, xp.add(at.first[j]), cp.add(at.row[j]), a, n);
        }
        // [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7], ...
        let t0 = _mm256_hadd_ps(v[0], v[1]);
        let t1 = _mm256_hadd_ps(v[2], v[3]);
        let t2 = _mm256_hadd_ps(v[4], v[5]);
        let t3 = _mm256_hadd_ps(v[6], v[7]);
        // [a_lo, b_lo, c_lo, d_lo | a_hi, b_hi, c_hi, d_hi], likewise e..h.
        let u0 = _mm256_hadd_ps(t0, t1);
        let u1 = _mm256_hadd_ps(t2, t3);
        let lo = _mm256_permute2f128_ps(u0, u1, 0x20);
        let hi = _mm256_permute2f128_ps(u0, u1, 0x31);
        _mm256_storeu_ps(out.as_mut_ptr(), _mm256_add_ps(lo, hi));
    }
    out
}

/// # Safety
/// Runs AVX2+FMA instructions (the `Avx2Fma` token is the proof); reads
/// `8 W` values of `row` per 8 values written to `out` (checked here too).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn coefficients32_avx<const W: usize>(_cpu: Avx2Fma, row: &[f32], alpha: f32, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = out.len() / 8;
    assert!(row.len() >= n * 8 * W);
    let (cp, op) = (row.as_ptr(), out.as_mut_ptr());
    // SAFETY: block b reads row[8Wb..8W(b + 1)] and writes out[8b..8b + 8], in
    // bounds by the assertion above; AVX2+FMA per the token.
    unsafe {
        let a = _mm256_set1_ps(alpha);
        for b in 0..n {
            _mm256_storeu_ps(op.add(b * 8), horner8::<W>(cp.add(b * 8 * W), a));
        }
    }
}

/// # Safety
/// Runs AVX2+FMA instructions (the `Avx2Fma` token is the proof); reads
/// whole blocks of 8 of `x` and `coef` (checked here too).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn dot32_avx(_cpu: Avx2Fma, x: &[f32], coef: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = x.len() / 8;
    assert!(coef.len() >= n * 8);
    let (xp, cp) = (x.as_ptr(), coef.as_ptr());
    // SAFETY: block b reads x[8b..8b + 8] and coef[8b..8b + 8], in bounds by
    // the assertion above; AVX2+FMA per the token.
    unsafe {
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut b = 0;
        while b + 2 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(xp.add(b * 8)), _mm256_loadu_ps(cp.add(b * 8)), s0);
            s1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(xp.add(b * 8 + 8)),
                _mm256_loadu_ps(cp.add(b * 8 + 8)),
                s1,
            );
            b += 2;
        }
        if b < n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(xp.add(b * 8)), _mm256_loadu_ps(cp.add(b * 8)), s0);
        }
        sum8(s0, s1)
    }
}

/// Float64: blocks of 4 taps (`4 w` coefficients: 4 per power of `alpha`,
/// `w` = 4 for cubic pieces, 3 for quadratic); block `b` goes to
/// accumulator `b mod 2`, the two are added lane-wise, then the lanes as
/// `(0 + 1) + (2 + 3)`.
impl Kernel for f64 {
    fn table(t: &Table) -> &[f64] {
        t.coef()
    }
    #[inline]
    fn output(simd: Simd, x: &[f64], row: &[f64], alpha: f64) -> f32 {
        let w = row.len() / x.len().max(1);
        assert!(x.len() % 4 == 0 && row.len() == x.len() * w);
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: the token proves AVX2+FMA; `x` is whole blocks of 4 taps
            // and `row` holds their `4 w` coefficients each (asserted above).
            return unsafe { by_width!(w, output64_avx(cpu, x, row, alpha)) } as f32;
        }
        let _ = simd;
        by_width!(w, output64(x, row, alpha)) as f32
    }
    // Inlined into the AVX2 loop of `emit_rows` (an outlined call cost
    // 5-10% of the stage: arguments and the batch through the stack, and
    // the AVX state cleared around it).
    #[inline(always)]
    fn outputs(simd: Simd, x: &[f64], table: &[f64], taps: usize, w: usize, at: &Batch) -> [f32; BATCH] {
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            assert!(taps % 4 == 0 && at.inside(x.len(), taps, table.len(), w * taps));
            // SAFETY: the token proves AVX2+FMA; every window is whole blocks
            // of 4 taps inside `x` and every row its `4 w` coefficients per
            // block inside `table` (asserted above).
            return unsafe { by_width!(w, outputs64_avx(cpu, x.as_ptr(), table.as_ptr(), taps / 4, at)) };
        }
        std::array::from_fn(|j| {
            let (f, r) = (at.first[j], at.row[j]);
            Self::output(simd, &x[f..f + taps], &table[r..r + w * taps], at.alpha[j])
        })
    }
    #[inline]
    fn coefficients(simd: Simd, row: &[f64], alpha: f64, out: &mut [f64]) {
        let w = row.len() / out.len().max(1);
        assert!(out.len() % 4 == 0 && row.len() == out.len() * w);
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: the token proves AVX2+FMA; `row` holds `4 w` values per
            // block of 4 outputs (asserted above).
            return unsafe { by_width!(w, coefficients64_avx(cpu, row, alpha, out)) };
        }
        let _ = simd;
        for (cb, ob) in row.chunks_exact(4 * w).zip(out.chunks_exact_mut(4)) {
            for (lane, o) in ob.iter_mut().enumerate() {
                *o = by_width!(w, horner64_lane(cb, lane, alpha));
            }
        }
    }
    #[inline]
    fn dot(simd: Simd, x: &[f64], coef: &[f64]) -> f32 {
        assert!(x.len() % 4 == 0 && coef.len() >= x.len());
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = simd {
            // SAFETY: the token proves AVX2+FMA; whole blocks of 4 in both
            // slices (asserted above).
            return unsafe { dot64_avx(cpu, x, coef) } as f32;
        }
        let _ = simd;
        let mut acc = [[0.0f64; 4]; 2];
        for (b, (xb, cb)) in x.chunks_exact(4).zip(coef.chunks_exact(4)).enumerate() {
            let acc = &mut acc[b % 2];
            for lane in 0..4 {
                acc[lane] = xb[lane].mul_add(cb[lane], acc[lane]);
            }
        }
        reduce4(acc) as f32
    }
}

/// The float64 kernels' final sum (see `impl Kernel for f64`).
#[inline]
fn reduce4(acc: [[f64; 4]; 2]) -> f64 {
    let v: [f64; 4] = std::array::from_fn(|lane| acc[0][lane] + acc[1][lane]);
    (v[0] + v[1]) + (v[2] + v[3])
}

/// The coefficient of lane `lane` of a block of 4 taps at `c` (`W` values
/// per tap, 4 per power of `alpha`): Horner's rule, fused.
#[inline(always)]
fn horner64_lane<const W: usize>(c: &[f64], lane: usize, a: f64) -> f64 {
    let mut k = c[(W - 1) * 4 + lane];
    for p in (0..W - 1).rev() {
        k = k.mul_add(a, c[p * 4 + lane]);
    }
    k
}

/// The portable float64 output (the fused operations of [`output64_avx`]).
fn output64<const W: usize>(x: &[f64], row: &[f64], a: f64) -> f64 {
    let mut acc = [[0.0f64; 4]; 2];
    for (b, (xb, cb)) in x.chunks_exact(4).zip(row.chunks_exact(4 * W)).enumerate() {
        let acc = &mut acc[b % 2];
        for lane in 0..4 {
            acc[lane] = xb[lane].mul_add(horner64_lane::<W>(cb, lane, a), acc[lane]);
        }
    }
    reduce4(acc)
}

/// One block's coefficients at `a`: Horner's rule over the `4 W` values
/// at `c` (4 per power of `a`).
///
/// # Safety
/// `c` is valid for `4 W` reads; the CPU runs AVX2+FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn horner4<const W: usize>(c: *const f64, a: std::arch::x86_64::__m256d) -> std::arch::x86_64::__m256d {
    use std::arch::x86_64::*;
    // SAFETY: reads c[0..4 W], valid by this function's contract.
    unsafe {
        let mut k = _mm256_loadu_pd(c.add((W - 1) * 4));
        for p in (0..W - 1).rev() {
            k = _mm256_fmadd_pd(k, a, _mm256_loadu_pd(c.add(p * 4)));
        }
        k
    }
}

/// The lanes of a float64 output before their final sum: `n` blocks of 4
/// taps from `xp` (4 values each) and `cp` (`4 W` each), block `b` into
/// accumulator `b mod 2`, the two added.
///
/// # Safety
/// `xp` is valid for `4 n` reads and `cp` for `4 W n`; the CPU runs AVX2+FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn lanes64_at<const W: usize>(
    _cpu: Avx2Fma,
    xp: *const f64,
    cp: *const f64,
    a: std::arch::x86_64::__m256d,
    n: usize,
) -> std::arch::x86_64::__m256d {
    use std::arch::x86_64::*;
    // SAFETY: block b reads xp[4b..4b + 4] and cp[4Wb..4W(b + 1)], valid by
    // this function's contract.
    unsafe {
        // The loop over `$n` blocks, written once for a constant count.
        macro_rules! blocks {
            ($n:expr) => {{
                let (mut s0, mut s1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
                let mut b = 0;
                while b + 2 <= $n {
                    s0 = _mm256_fmadd_pd(
                        _mm256_loadu_pd(xp.add(b * 4)),
                        horner4::<W>(cp.add(b * 4 * W), a),
                        s0,
                    );
                    s1 = _mm256_fmadd_pd(
                        _mm256_loadu_pd(xp.add(b * 4 + 4)),
                        horner4::<W>(cp.add(b * 4 * W + 4 * W), a),
                        s1,
                    );
                    b += 2;
                }
                if b < $n {
                    s0 = _mm256_fmadd_pd(
                        _mm256_loadu_pd(xp.add(b * 4)),
                        horner4::<W>(cp.add(b * 4 * W), a),
                        s0,
                    );
                }
                _mm256_add_pd(s0, s1)
            }};
        }
        // The "very_high" second stage of the 2x route has 6 blocks (24
        // taps) near a ratio of 1: unrolled (the same operations in the same
        // order).
        match n {
            6 => blocks!(6),
            _ => blocks!(n),
        }
    }
}

/// Float64 [`Kernel::output`] on AVX2+FMA.
///
/// # Safety
/// Runs AVX2+FMA instructions (the `Avx2Fma` token is the proof); reads
/// whole blocks of 4 of `x` and `4 W` of `row` per block (checked here too).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn output64_avx<const W: usize>(cpu: Avx2Fma, x: &[f64], row: &[f64], alpha: f64) -> f64 {
    use std::arch::x86_64::*;
    let n = x.len() / 4;
    assert!(row.len() >= n * 4 * W);
    let mut v = [0.0f64; 4];
    // SAFETY: `n` blocks of `x` and of `row`, in bounds by the assertion
    // above; the store writes the 4 values of `v`; AVX2+FMA per the token.
    unsafe {
        let s = lanes64_at::<W>(cpu, x.as_ptr(), row.as_ptr(), _mm256_set1_pd(alpha), n);
        _mm256_storeu_pd(v.as_mut_ptr(), s);
    }
    (v[0] + v[1]) + (v[2] + v[3])
}

/// Eight float64 outputs on AVX2+FMA: the lane sums of [`lanes64_at`],
/// then, per group of four outputs, one transposed tree of horizontal adds
/// that adds each output's lanes as `(0 + 1) + (2 + 3)`, as
/// [`output64_avx`] does (the same bits).
///
/// # Safety
/// `xp.add(at.first[j])` is valid for `4 n` reads and `cp.add(at.row[j])`
/// for `4 W n`, for every `j`; the CPU runs AVX2+FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn outputs64_avx<const W: usize>(
    cpu: Avx2Fma,
    xp: *const f64,
    cp: *const f64,
    n: usize,
    at: &Batch,
) -> [f32; BATCH] {
    use std::arch::x86_64::*;
    let mut out = [0.0f32; BATCH];
    // SAFETY: the caller's contract covers every `lanes64_at` call; each
    // store writes 4 values of `out`; the rest is register arithmetic.
    unsafe {
        for g in 0..BATCH / 4 {
            let mut v = [_mm256_setzero_pd(); 4];
            for (i, vi) in v.iter_mut().enumerate() {
                let j = 4 * g + i;
                let a = _mm256_set1_pd(at.alpha[j]);
                *vi = lanes64_at::<W>(cpu, xp.add(at.first[j]), cp.add(at.row[j]), a, n);
            }
            // [a0+a1, b0+b1, a2+a3, b2+b3], likewise c, d.
            let t0 = _mm256_hadd_pd(v[0], v[1]);
            let t1 = _mm256_hadd_pd(v[2], v[3]);
            let lo = _mm256_permute2f128_pd(t0, t1, 0x20);
            let hi = _mm256_permute2f128_pd(t0, t1, 0x31);
            _mm_storeu_ps(out.as_mut_ptr().add(4 * g), _mm256_cvtpd_ps(_mm256_add_pd(lo, hi)));
        }
    }
    out
}

/// # Safety
/// Runs AVX2+FMA instructions (the `Avx2Fma` token is the proof); reads
/// `4 W` values of `row` per 4 values written to `out` (checked here too).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn coefficients64_avx<const W: usize>(_cpu: Avx2Fma, row: &[f64], alpha: f64, out: &mut [f64]) {
    use std::arch::x86_64::*;
    let n = out.len() / 4;
    assert!(row.len() >= n * 4 * W);
    let (cp, op) = (row.as_ptr(), out.as_mut_ptr());
    // SAFETY: block b reads row[4Wb..4W(b + 1)] and writes out[4b..4b + 4],
    // in bounds by the assertion above; AVX2+FMA per the token.
    unsafe {
        let a = _mm256_set1_pd(alpha);
        for b in 0..n {
            _mm256_storeu_pd(op.add(b * 4), horner4::<W>(cp.add(b * 4 * W), a));
        }
    }
}

/// # Safety
/// Runs AVX2+FMA instructions (the `Avx2Fma` token is the proof); reads
/// whole blocks of 4 of `x` and `coef` (checked here too).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unused_unsafe)]
unsafe fn dot64_avx(_cpu: Avx2Fma, x: &[f64], coef: &[f64]) -> f64 {
    use std::arch::x86_64::*;
    let n = x.len() / 4;
    assert!(coef.len() >= n * 4);
    let (xp, cp) = (x.as_ptr(), coef.as_ptr());
    let mut v = [0.0f64; 4];
    // SAFETY: block b reads x[4b..4b + 4] and coef[4b..4b + 4], in bounds by
    // the assertion above; the store writes the 4 values of `v`; AVX2+FMA
    // per the token.
    unsafe {
        let (mut s0, mut s1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        let mut b = 0;
        while b + 2 <= n {
            s0 = _mm256_fmadd_pd(_mm256_loadu_pd(xp.add(b * 4)), _mm256_loadu_pd(cp.add(b * 4)), s0);
            s1 = _mm256_fmadd_pd(
                _mm256_loadu_pd(xp.add(b * 4 + 4)),
                _mm256_loadu_pd(cp.add(b * 4 + 4)),
                s1,
            );
            b += 2;
        }
        if b < n {
            s0 = _mm256_fmadd_pd(_mm256_loadu_pd(xp.add(b * 4)), _mm256_loadu_pd(cp.add(b * 4)), s0);
        }
        _mm256_storeu_pd(v.as_mut_ptr(), _mm256_add_pd(s0, s1));
    }
    (v[0] + v[1]) + (v[2] + v[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_rates(i: u32, o: u32, channels: usize, q: Quality) -> Result<Interp> {
        let ratio = o as f64 / i as f64;
        let table = Arc::new(design(&InterpShape::new(ratio.min(1.0), q))?);
        Interp::new(ratio, rate_clock(i, o), channels, table)
    }

    fn from_ratio(ratio: f64, channels: usize, q: Quality) -> Result<Interp> {
        let table = Arc::new(design(&InterpShape::new(ratio.min(1.0), q))?);
        Interp::new(ratio, ratio_clock(ratio), channels, table)
    }

    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn run(r: &mut Interp, x: &[f32], sizes: &[usize]) -> Vec<f32> {
        let mut y = Vec::new();
        let (mut pos, mut i) = (0, 0);
        while pos < x.len() {
            let n = sizes[i % sizes.len()].min(x.len() - pos);
            let mut o = vec![0.0; r.output_frames(n)];
            let k = o.len();
            r.process_rows(&x[pos..pos + n], n, n, &mut o, k).unwrap();
            y.extend_from_slice(&o);
            pos += n;
            i += 1;
        }
        let mut o = vec![0.0; r.flush_frames()];
        let k = o.len();
        r.flush(&mut o, k).unwrap();
        y.extend_from_slice(&o);
        y
    }

    #[test]
    fn length_rule_and_chunk_invariance() {
        let x = noise(20_000, 3);
        for &(i, o) in &[
            (48_000u32, 48_001u32),
            (44_100, 44_056),
            (100_000, 78_901),
            (8_000, 11_025),
        ] {
            for q in [Quality::High, Quality::VeryHigh] {
                let mut r = from_rates(i, o, 1, q).unwrap();
                let whole = run(&mut r, &x, &[x.len()]);
                assert_eq!(whole.len() as u64, (x.len() as u64 * o as u64).div_ceil(i as u64));
                let parts = run(&mut r, &x, &[1, 7, 333, 4096]);
                assert_eq!(whole, parts, "{i}->{o} {q:?}");
                r.force_scalar();
                assert_eq!(whole, run(&mut r, &x, &[999]), "scalar {i}->{o} {q:?}");
            }
        }
    }

    #[test]
    fn channels_share_coefficients_with_the_same_bits() {
        let (a, b) = (noise(5_000, 1), noise(5_000, 2));
        let both: Vec<f32> = a.iter().chain(&b).copied().collect();
        for (simd, q) in [true, false]
            .into_iter()
            .flat_map(|s| [(s, Quality::High), (s, Quality::VeryHigh)])
        {
            let mut st = from_rates(44_100, 44_056, 2, q).unwrap();
            let mut mono = from_rates(44_100, 44_056, 1, q).unwrap();
            if !simd {
                st.force_scalar();
                mono.force_scalar();
            }
            let n = st.output_frames(5_000);
            let mut y = vec![0.0; 2 * n];
            st.process_rows(&both, 5_000, 5_000, &mut y, n).unwrap();
            for (c, x) in [&a, &b].into_iter().enumerate() {
                let mut m = vec![0.0; n];
                mono.reset();
                mono.process_rows(x, 5_000, 5_000, &mut m, n).unwrap();
                assert_eq!(&y[c * n..(c + 1) * n], &m[..], "channel {c}, simd {simd}, {q:?}");
            }
        }
    }

    #[test]
    fn float32_follows_the_float64_design() {
        // The same filter in both precisions: "high" designs are float32,
        // "very_high" ones float64; forcing the precision of one shape
        // shows the float32 arithmetic within 1e-6 of the float64.
        let x = noise(20_000, 5);
        for low in [1.0, 0.3] {
            let narrow = InterpShape::new(low, Quality::High);
            assert!(!narrow.wide && InterpShape::new(low, Quality::VeryHigh).wide);
            let wide = InterpShape { wide: true, ..narrow };
            let ys: Vec<Vec<f32>> = [narrow, wide]
                .iter()
                .map(|s| {
                    let table = Arc::new(design(s).unwrap());
                    let mut r = Interp::new(low * 0.999, ratio_clock(low * 0.999), 1, table).unwrap();
                    run(&mut r, &x, &[4096])
                })
                .collect();
            assert_eq!(ys[0].len(), ys[1].len());
            let err = ys[0].iter().zip(&ys[1]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(err < 1e-6 && err > 0.0, "{low}: {err}");
        }
    }

    #[test]
    fn dc_passes_at_unit_gain() {
        let x = vec![0.5f32; 30_000];
        let mut r = from_ratio(0.7317, 1, Quality::Medium).unwrap();
        let y = run(&mut r, &x, &[1000]);
        for &v in &y[2000..y.len() - 2000] {
            assert!((v - 0.5).abs() < 1e-5, "{v}");
        }
    }

    #[test]
    fn ramp_reaches_its_target_and_counts_match() {
        let mut r = from_rates(48_000, 48_000, 1, Quality::Low).unwrap();
        r.set_ratio(48_000.0 / 48_004.8, 500).unwrap();
        let x = noise(10_000, 1);
        let y = run(&mut r, &x, &[480]);
        // 500 outputs of ramp at on average half the change, then the new step.
        let ideal = 10_000.0 * 48_000.0 / 48_004.8 + 250.0 * (1.0 - 48_000.0 / 48_004.8);
        assert!((y.len() as f64 - ideal).abs() <= 1.0, "{} vs {ideal}", y.len());
        assert!(r.set_ratio(0.9, 0).is_err());
    }

    #[test]
    fn table_size_does_not_follow_the_ratio() {
        // 48000 -> 48001 (terms 48000:48001) uses the same table as 1:1, and
        // the largest table (256:1 down, very_high) stays under 3 MiB.
        let a = from_rates(48_000, 48_001, 1, Quality::High).unwrap();
        assert_eq!(a.shape(), InterpShape::new(1.0, Quality::High));
        let b = InterpShape::new(1.0 / 256.0, Quality::VeryHigh);
        assert!(b.coefficients() * 8 < 3 << 20, "{}", b.coefficients());
    }
}
