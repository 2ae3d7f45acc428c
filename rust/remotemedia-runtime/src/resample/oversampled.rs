//! Any ratio from 1/2 up: an exact sharp stage up by 2, then the
//! interpolated-phase kernel on the 2x-oversampled signal.
//!
//! The exact stage (the fast-convolution kernel at "medium" and up) does
//! the sharp filtering: passband to `pb * min(1, ratio)` of the input
//! Nyquist, stopband from `sb * min(1, ratio)`. Its output holds nothing
//! above that edge, so the interpolated-phase stage only has to reject the
//! images of the 2x-rate samples, from 2 - `sb * min(1, ratio) / 2` of its
//! own input Nyquist: a wide transition band, a short filter (about 24
//! taps instead of 200-260), which is where the time went. Upward by 4 or
//! more between integer rates, an exact stage up by `K` (2 or 4,
//! [`plan::back_factor`]) comes last: the interpolated phases then produce
//! only `out / K` frames a second. The numpy twin is `OversampledCore` in
//! `remotemedia/kernels/python/resample_interp.py`.

use super::design::{self, Quality};
use super::dot::Dest;
use super::exact::{Exact, Input};
use super::interp::{
    check_ratio, ratio_clock, Interp, InterpShape, QUADRATIC_PHASES, RATE_SHIFT, WIDE_DB, WIDE_QUADRATIC_PHASES,
};
use super::plan;
use crate::error::Result;

/// Attenuation added to the interpolated-phase stage.
pub const POST_EXTRA_DB: f64 = 10.0;
/// The interpolated-phase stage's attenuation at "medium" (instead of the
/// preset's 137 dB plus [`POST_EXTRA_DB`]).
pub const MEDIUM_POST_DB: f64 = 120.0;

/// The attenuation of the interpolated-phase stage after the 2x stage: 10
/// dB more than the preset (its ripple adds to the 2x stage's, and on this
/// wide transition band the extra decibels cost a few taps), except at
/// "medium", which takes [`MEDIUM_POST_DB`]: 16 taps instead of 24. That
/// stage sets the SNR of the route (its phases' gains differ by up to its
/// ripple, a noise at about its attenuation): 117-120 dB at "medium", 6-12
/// dB above soxr "MQ"'s 106-113 dB on the same pairs, the stopband still
/// 119-137 dB down (MQ: 105-110).
pub fn post_atten(quality: Quality) -> f64 {
    match quality {
        Quality::Medium => MEDIUM_POST_DB,
        q => q.spec().2 + POST_EXTRA_DB,
    }
}

/// The stages and the buffers between them.
pub struct Oversampled {
    pre: Exact,
    post: Interp,
    back: Option<Back>,
    buf: Vec<f32>,
    received: u64,
}

/// The exact stage up by `K` after the interpolated phases, and the counts
/// that keep the stream's length `ceil(n * out / in)` (the stage's own
/// flush may give up to `K - 1` frames more; they are dropped).
struct Back {
    stage: Exact,
    /// The interpolated stage's output; the flush's scratch.
    buf: Vec<f32>,
    tail: Vec<f32>,
    /// Reduced `out / in` of the whole conversion.
    l: u64,
    m: u64,
    emitted: u64,
}

/// The interpolated-phase stage's filter for an oversampled input.
pub fn post_shape(ratio: f64, quality: Quality) -> InterpShape {
    let (pb, sb, _) = quality.spec();
    let low = ratio.min(1.0);
    let atten = post_atten(quality);
    // Its input holds nothing above a quarter of its rate: quadratic pieces
    // on more segments are as exact as cubic ones, for three fused
    // multiply-adds per tap instead of four.
    let per_unit = if atten > WIDE_DB {
        WIDE_QUADRATIC_PHASES
    } else {
        QUADRATIC_PHASES
    };
    let order = 2;
    InterpShape::band(low, pb * low / 2.0, 2.0 - sb * low / 2.0, atten, per_unit, order)
}

impl Oversampled {
    /// Integer rates (exact positions: `den = L' << 32` for `L' / M' = out
    /// / (2 K in)`), with an exact stage up by `back` (1: none; see
    /// [`plan::back_factor`]) last.
    pub fn from_rates(
        in_rate: u32,
        out_rate: u32,
        channels: usize,
        quality: Quality,
        back: u64,
    ) -> Result<Oversampled> {
        let ratio = out_rate as f64 / in_rate as f64;
        // 2 K in <= 8 * 768000 fits a u32.
        let (l, m) = design::ratio((2 * back * in_rate as u64) as u32, out_rate);
        let clock = ((l as u128) << RATE_SHIFT, (m as u128) << RATE_SHIFT);
        let mut r = Self::build(ratio, back, clock, channels, quality)?;
        if back > 1 {
            let (pb, _, _) = quality.spec();
            let (l, m) = design::ratio(in_rate, out_rate);
            r.back = Some(Back {
                stage: Exact::back(back, pb * back as f64 / ratio, channels, quality)?,
                buf: Vec::new(),
                tail: Vec::new(),
                l,
                m,
                emitted: 0,
            });
        }
        Ok(r)
    }

    /// A non-integer ratio `out / in`.
    pub fn from_ratio(ratio: f64, channels: usize, quality: Quality) -> Result<Oversampled> {
        check_ratio(ratio)?;
        Self::build(ratio, 1, ratio_clock(ratio / 2.0), channels, quality)
    }

    fn build(ratio: f64, back: u64, clock: (u128, u128), channels: usize, quality: Quality) -> Result<Oversampled> {
        let table = plan::interp_table(&post_shape(ratio, quality))?;
        Ok(Oversampled {
            pre: Exact::front(ratio, channels, quality)?,
            post: Interp::new(ratio / (2 * back) as f64, clock, channels, table)?,
            back: None,
            buf: Vec::new(),
            received: 0,
        })
    }

    pub fn channels(&self) -> usize {
        self.post.channels()
    }

    /// Forces the portable scalar kernels (tests compare them with SIMD).
    #[cfg(test)]
    pub(crate) fn force_scalar(&mut self) {
        self.pre.force_scalar();
        self.post.force_scalar();
        if let Some(b) = &mut self.back {
            b.stage.force_scalar();
        }
    }

    /// Each stage's kernel, in order ("interp" for the interpolated phases).
    pub fn kernels(&self) -> Vec<&'static str> {
        let mut k = self.pre.kernels();
        k.push("interp");
        if let Some(b) = &self.back {
            k.extend(b.stage.kernels());
        }
        k
    }

    /// The exact stages' filter sizes.
    pub fn shapes(&self) -> Vec<super::design::Shape> {
        let mut s = self.pre.shapes();
        if let Some(b) = &self.back {
            s.extend(b.stage.shapes());
        }
        s
    }

    /// A new ratio `out / in` (the second stage's is half of it).
    pub fn set_ratio(&mut self, ratio: f64, ramp: u64) -> Result<()> {
        check_ratio(ratio)?;
        self.post.set_ratio(ratio / 2.0, ramp)
    }

    pub fn output_frames(&self, n: usize) -> usize {
        let j = self.post.output_frames(self.pre.output_frames(n));
        match &self.back {
            None => j,
            Some(b) => b.stage.output_frames(j),
        }
    }

    pub fn flush_frames(&self) -> usize {
        match &self.back {
            None => self.post.flush_frames_after(self.pre.flush_frames()),
            Some(b) => ((self.received as u128 * b.l as u128).div_ceil(b.m as u128) as u64 - b.emitted) as usize,
        }
    }

    /// Input frames whose output is pending: received minus those at or
    /// before the next output's position.
    pub fn delay(&self) -> usize {
        let covered = match &self.back {
            None => self.post.covered(2),
            Some(b) => (b.emitted as u128 * b.m as u128).div_ceil(b.l as u128) as u64,
        };
        self.received.saturating_sub(covered) as usize
    }

    pub fn reset(&mut self) {
        self.pre.reset();
        self.post.reset();
        if let Some(b) = &mut self.back {
            b.stage.reset();
            b.emitted = 0;
        }
        self.received = 0;
    }

    /// Input rows `in_stride` apart into `out` (rows `stride` apart, checked
    /// by the caller to hold `output_frames(frames)`).
    pub fn process_rows(
        &mut self,
        input: &[f32],
        in_stride: usize,
        frames: usize,
        out: &mut [f32],
        stride: usize,
    ) -> Result<usize> {
        let ch = self.channels();
        let k = self.pre.output_frames(frames);
        self.buf.resize(ch * k, 0.0);
        let input = Input {
            data: input,
            stride: in_stride,
            frames,
        };
        let dest = Dest {
            buf: &mut self.buf,
            stride: k,
            frames: k,
        };
        self.pre.process(input, dest);
        self.received += frames as u64;
        let Some(b) = &mut self.back else {
            return self.post.process_rows(&self.buf, k, k, out, stride);
        };
        let j = self.post.output_frames(k);
        b.buf.resize(ch * j, 0.0);
        self.post.process_rows(&self.buf, k, k, &mut b.buf, j)?;
        let n = b.stage.output_frames(j);
        let input = Input {
            data: &b.buf,
            stride: j,
            frames: j,
        };
        b.stage.process(
            input,
            Dest {
                buf: out,
                stride,
                frames: n,
            },
        );
        b.emitted += n as u64;
        Ok(n)
    }

    /// Emits the rest into `out` (checked by the caller), then resets.
    pub fn flush(&mut self, out: &mut [f32], stride: usize) -> Result<usize> {
        let ch = self.channels();
        let k = self.pre.flush_frames();
        self.buf.resize(ch * k, 0.0);
        let dest = Dest {
            buf: &mut self.buf,
            stride: k,
            frames: k,
        };
        self.pre.flush(dest);
        let want = self.flush_frames();
        let Some(b) = &mut self.back else {
            let first = self.post.process_rows(&self.buf, k, k, out, stride)?;
            let rest = self.post.flush(&mut out[first..], stride)?;
            self.reset();
            return Ok(first + rest);
        };
        // Everything through the exact stage, the first `want` frames out.
        let j = self.post.flush_frames_after(k);
        b.buf.resize(ch * j, 0.0);
        let first = self.post.process_rows(&self.buf, k, k, &mut b.buf, j)?;
        self.post.flush(&mut b.buf[first..], j)?;
        let n1 = b.stage.output_frames(j);
        let width = b.stage.flush_frames_after(j);
        b.tail.resize(ch * width, 0.0);
        let input = Input {
            data: &b.buf,
            stride: j,
            frames: j,
        };
        b.stage.process(
            input,
            Dest {
                buf: &mut b.tail,
                stride: width,
                frames: n1,
            },
        );
        b.stage.flush(Dest {
            buf: &mut b.tail[n1..],
            stride: width,
            frames: width - n1,
        });
        for c in 0..ch {
            out[c * stride..c * stride + want].copy_from_slice(&b.tail[c * width..c * width + want]);
        }
        self.reset();
        Ok(want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut Oversampled, x: &[f32], sizes: &[usize]) -> Vec<f32> {
        let mut y = Vec::new();
        let (mut pos, mut i) = (0, 0);
        while pos < x.len() {
            let n = sizes[i % sizes.len()].min(x.len() - pos);
            let mut o = vec![0.0; r.output_frames(n)];
            let k = o.len();
            assert_eq!(r.process_rows(&x[pos..pos + n], n, n, &mut o, k).unwrap(), k);
            y.extend_from_slice(&o);
            pos += n;
            i += 1;
        }
        let mut o = vec![0.0; r.flush_frames()];
        let k = o.len();
        assert_eq!(r.flush(&mut o, k).unwrap(), k);
        y.extend_from_slice(&o);
        y
    }

    #[test]
    fn length_rule_chunk_invariance_and_a_short_second_filter() {
        let x: Vec<f32> = (0..30_000).map(|i| ((i as f32) * 0.0123).sin() * 0.5).collect();
        for &(i, o) in &[
            (48_000u32, 48_001u32),
            (44_100, 44_056),
            (100_000, 78_901),
            (11_025, 96_001),
        ] {
            let mut r = Oversampled::from_rates(i, o, 1, Quality::High, plan::back_factor(i, o, false)).unwrap();
            let whole = run(&mut r, &x, &[x.len()]);
            assert_eq!(
                whole.len() as u64,
                (x.len() as u64 * o as u64).div_ceil(i as u64),
                "{i}->{o}"
            );
            assert_eq!(whole, run(&mut r, &x, &[1, 7, 480, 4_099]), "{i}->{o}");
            assert!(post_shape(o as f64 / i as f64, Quality::High).taps <= 48);
        }
    }

    #[test]
    fn quadratic_pieces_scalar_and_simd_agree_bit_for_bit() {
        // The second stage is quadratic (float32, and float64 at
        // "very_high"); mono outputs run in batches, several channels share
        // each output's coefficients.
        let a: Vec<f32> = (0..12_000).map(|i| ((i as f32) * 0.0517).sin() * 0.5).collect();
        let b: Vec<f32> = (0..12_000).map(|i| ((i as f32) * 0.0231).cos() * 0.3).collect();
        let both: Vec<f32> = a.iter().chain(&b).copied().collect();
        for q in [Quality::Low, Quality::Medium, Quality::High, Quality::VeryHigh] {
            assert_eq!(post_shape(1.0, q).order, 2);
            for &(i, o) in &[(48_000u32, 48_001u32), (11_025, 96_001)] {
                let mut y = Vec::new();
                for scalar in [false, true] {
                    let mut r = Oversampled::from_rates(i, o, 1, q, plan::back_factor(i, o, false)).unwrap();
                    let mut st = Oversampled::from_rates(i, o, 2, q, plan::back_factor(i, o, false)).unwrap();
                    if scalar {
                        r.force_scalar();
                        st.force_scalar();
                    }
                    let mono = run(&mut r, &a, &[5_000]);
                    let n = st.output_frames(a.len());
                    let mut pair = vec![0.0; 2 * n];
                    st.process_rows(&both, a.len(), a.len(), &mut pair, n).unwrap();
                    assert_eq!(&pair[..n], &mono[..n], "{i}->{o} {q:?} scalar {scalar}");
                    y.push(mono);
                }
                assert_eq!(y[0], y[1], "{i}->{o} {q:?}");
            }
        }
        assert!(post_shape(1.0, Quality::VeryHigh).wide);
    }

    #[test]
    fn quadratic_pieces_follow_the_cubic_design() {
        // On input below a quarter of its rate (all the 2x stage leaves),
        // the quadratic float32 stage stays within 1e-6 of the same
        // prototype as cubic pieces in float64.
        use super::super::interp::design;
        let x: Vec<f32> = (0..20_000)
            .map(|i| {
                let t = i as f32;
                0.3 * (t * 0.31).sin() + 0.3 * (t * 1.37).sin() + 0.2 * (t * 0.05).cos()
            })
            .collect();
        for q in [Quality::Low, Quality::High] {
            let quad = post_shape(1.0, q);
            // The same prototype and segments, cubic pieces in float64.
            let cubic = InterpShape {
                order: 3,
                wide: true,
                ..quad
            };
            let ys: Vec<Vec<f32>> = [quad, cubic]
                .iter()
                .map(|s| {
                    let table = std::sync::Arc::new(design(s).unwrap());
                    let mut r = Interp::new(0.5003, ratio_clock(0.5003), 1, table).unwrap();
                    let mut o = vec![0.0; r.output_frames(x.len())];
                    let k = o.len();
                    r.process_rows(&x, x.len(), x.len(), &mut o, k).unwrap();
                    o
                })
                .collect();
            assert_eq!(ys[0].len(), ys[1].len());
            let err = ys[0].iter().zip(&ys[1]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(err < 1e-6, "{q:?}: {err}");
        }
    }

    #[test]
    fn the_window_holds_every_nonzero_piece_and_no_zero_tap() {
        // A wider window (one tap more behind, a block more in all) holds the
        // same pieces, shifted by one tap, and zeros elsewhere; the shape's
        // first tap and the one `behind + 1` ahead are not all zeros.
        use super::super::interp::{design, Table, TAP_BLOCK, WIDE_TAP_BLOCK};
        for q in Quality::ALL {
            for s in [
                InterpShape::new(1.0, q),
                InterpShape::new(0.4, q),
                post_shape(1.0, q),
                post_shape(0.789, q),
            ] {
                let block = if s.wide { WIDE_TAP_BLOCK } else { TAP_BLOCK };
                let wider = InterpShape {
                    behind: s.behind + 1,
                    taps: s.taps + block,
                    ahead: s.ahead + block as u64 - 1,
                    ..s
                };
                let (t, w) = (design(&s).unwrap(), design(&wider).unwrap());
                // Rows start on 64-byte boundaries (a row is a multiple of 32 bytes).
                let (start, row) = if s.wide {
                    (t.coef().as_ptr() as usize, s.taps * s.width() * 8)
                } else {
                    (t.coef32().as_ptr() as usize, s.taps * s.width() * 4)
                };
                assert!(start % 64 == 0 && row % 32 == 0, "{q:?} {s:?}");
                let value = |t: &Table, j: usize, u: usize, p: usize| {
                    let (width, taps) = (t.shape.width(), t.shape.taps);
                    if t.shape.wide {
                        t.coef()[j * taps * width + u / 4 * 4 * width + p * 4 + u % 4]
                    } else {
                        t.coef32()[j * taps * width + u / 8 * 8 * width + p * 8 + u % 8] as f64
                    }
                };
                let nonzero = |t: &Table, u: usize| {
                    (0..t.shape.q).any(|j| (0..t.shape.width()).any(|p| value(t, j, u, p) != 0.0))
                };
                for j in 0..s.q {
                    for p in 0..s.width() {
                        assert_eq!(value(&w, j, 0, p), 0.0, "{q:?} {s:?}");
                        for u in 0..s.taps {
                            assert_eq!(value(&w, j, u + 1, p), value(&t, j, u, p), "{q:?} {s:?}");
                        }
                        for u in s.taps + 1..wider.taps {
                            assert_eq!(value(&w, j, u, p), 0.0, "{q:?} {s:?}");
                        }
                    }
                }
                assert!(nonzero(&t, 0) && nonzero(&t, 2 * s.behind as usize + 1), "{q:?} {s:?}");
            }
        }
    }
}
