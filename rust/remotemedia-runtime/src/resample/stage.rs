//! One polyphase stage with its per-channel history: the streaming core.
//!
//! The top of the resampler's arithmetic: a stage keeps the input its
//! outputs still need and runs the kernel its [`Plan`] chose.

use super::blocks;
use super::design::Shape;
use super::dot::{self, Dest, Sample, Window};
use super::lanes::Scratch;
#[cfg(target_arch = "x86_64")]
use super::next;
use super::plan::{Kernel, Plan, Precision};
use crate::cpu::Simd;

/// Streaming state of one stage for all channels. Indices count from an
/// origin that moves forward (by `M` inputs = `L` outputs) as output is
/// emitted, so they stay small however long the stream.
pub(crate) struct Stage<S> {
    hist: Vec<Vec<S>>,
    /// Index of the next output.
    next: i64,
    /// Input frames received.
    received: i64,
    /// Input index of `hist[0][0]` (negative before the first frames).
    start: i64,
    /// Work buffers of the output-parallel kernel.
    scratch: Scratch,
    /// Work buffers of the fast-convolution kernel.
    fft: blocks::Scratch,
}

impl<S: Precision> Stage<S> {
    pub fn new(plan: &Plan<S>, channels: usize) -> Stage<S> {
        let mut s = Stage {
            hist: vec![Vec::new(); channels],
            next: 0,
            received: 0,
            start: 0,
            scratch: Scratch::default(),
            fft: blocks::Scratch::default(),
        };
        s.reset(plan);
        s
    }

    pub fn channels(&self) -> usize {
        self.hist.len()
    }

    pub fn reset(&mut self, plan: &Plan<S>) {
        let behind = plan.shape.behind as usize;
        for c in &mut self.hist {
            c.clear();
            c.resize(behind, S::default());
        }
        self.next = 0;
        self.received = 0;
        self.start = -(behind as i64);
    }

    /// Outputs `k` (from 0) whose position `floor(k M / L)` is at most `a`.
    fn outputs_up_to(plan: &Plan<S>, a: i64) -> i64 {
        let (l, m) = (plan.shape.l as i64, plan.shape.m as i64);
        if a < 0 {
            return 0;
        }
        ((a + 1) * l - 1) / m + 1
    }

    /// Outputs the next `emit` may produce once `n` more frames arrive.
    pub fn output_frames(&self, plan: &Plan<S>, n: usize) -> usize {
        let ahead = plan.shape.ahead as i64;
        let mut ready = Self::outputs_up_to(plan, self.received + n as i64 - ahead - 1);
        if let Kernel::Blocks(b) = &plan.kernel {
            // Whole blocks only (the origin sits on a block boundary).
            let unit = (b.b * b.l) as i64;
            ready = ready / unit * unit;
        }
        (ready.max(self.next) - self.next) as usize
    }

    /// Outputs left until `ceil(received * L / M)`.
    pub fn flush_frames(&self, plan: &Plan<S>) -> usize {
        let (l, m) = (plan.shape.l as i64, plan.shape.m as i64);
        ((self.received * l + m - 1) / m - self.next).max(0) as usize
    }

    /// Appends `n` frames per channel; `row(c)` gives channel `c`.
    pub fn push<'a, T: Copy + 'a>(&mut self, n: usize, row: impl Fn(usize) -> &'a [T], conv: impl Fn(T) -> S) {
        for (c, h) in self.hist.iter_mut().enumerate() {
            h.extend(row(c).iter().map(|&v| conv(v)));
        }
        self.received += n as i64;
    }

    /// Appends the zeros `flush` needs to emit every remaining output (take
    /// `flush_frames` before: padding counts as received input).
    pub fn pad(&mut self, plan: &Plan<S>) {
        let n = self.flush_frames(plan) as i64;
        if n == 0 {
            return;
        }
        let s = plan.shape;
        let last = self.next + n - 1;
        let need = ((last * s.m as i64) / s.l as i64 + s.ahead as i64 + 1 - self.received).max(0) as usize;
        for h in &mut self.hist {
            h.resize(h.len() + need, S::default());
        }
        self.received += need as i64;
    }

    /// Counts `n` frames per channel as received without copying them: the
    /// next [`Stage::emit_rows`] reads them in place and keeps only the tail
    /// later outputs need.
    pub fn take(&mut self, n: usize) {
        self.received += n as i64;
    }

    /// Computes outputs `next .. next + dest.frames` (row `c` into
    /// `dest.buf[c * dest.stride..]`) from the history of channel `c`
    /// followed by `new(c)` (frames counted by [`Stage::take`]; empty after
    /// [`Stage::push`]), then trims the history and moves the origin.
    pub fn emit_rows<'a, O>(
        &mut self,
        plan: &Plan<S>,
        simd: Simd,
        new: impl Fn(usize) -> &'a [S],
        dest: Dest<'_, O>,
        put: impl Fn(S) -> O + Copy,
    ) where
        S: 'a,
    {
        let Dest {
            buf: out,
            stride,
            frames: n,
        } = dest;
        let shape = plan.shape;
        let (l, m) = (shape.l as i64, shape.m as i64);
        let in_place = plan.reads_in_place();
        let short = plan.short_path();
        // Keep the history from the first frame the next output needs.
        let keep_from = ((self.next + n as i64) * m) / l - shape.behind as i64;
        for (c, hist) in self.hist.iter_mut().enumerate() {
            let mut fresh = new(c);
            if !fresh.is_empty() && !in_place {
                // Only the output-parallel and block kernels read two pieces.
                hist.extend_from_slice(fresh);
                fresh = &[];
            }
            let o = &mut out[c * stride..][..n];
            let w = Window {
                hist,
                new: fresh,
                start: self.start,
                k0: self.next,
            };
            match &plan.kernel {
                Kernel::Blocks(b) => blocks::run(simd, b, &mut self.fft, w, o, put),
                Kernel::Lanes(t) => S::run_lanes(simd, t, &mut self.scratch, w, o, put),
                Kernel::Direct(coef) => run(simd, &shape, short, coef, w, o, put),
            }
            let held = (hist.len() + fresh.len()) as i64;
            let drop = (keep_from - self.start).clamp(0, held) as usize;
            if drop <= hist.len() {
                hist.drain(..drop);
                hist.extend_from_slice(fresh);
            } else {
                let skip = drop - hist.len();
                hist.clear();
                hist.extend_from_slice(&fresh[skip..]);
            }
        }
        let held = self.received - self.start;
        self.start += (keep_from - self.start).clamp(0, held);
        self.next += n as i64;
        // Move the origin by whole periods of the kernel (an output's
        // arithmetic depends on its index modulo that period).
        let (pl, pm) = plan.period();
        let (pl, pm) = (pl as i64, pm as i64);
        let periods = self.next / pl;
        self.next -= periods * pl;
        self.received -= periods * pm;
        self.start -= periods * pm;
    }
}

/// Outputs `k0 .. k0 + out.len()` of one channel on the tap-parallel
/// kernel (the window's history only). Outputs sharing a filter row are
/// computed [`dot::GROUP`] at a time (`short`: [`dot::SHORT_GROUP`] on the
/// short-filter path); the rest one by one, with identical per-output
/// arithmetic.
fn run<S: Sample, O>(
    simd: Simd,
    shape: &Shape,
    short: bool,
    coef: &[S],
    w: Window<'_, S>,
    out: &mut [O],
    put: impl Fn(S) -> O,
) {
    #[cfg(target_arch = "x86_64")]
    if let Some(cpu) = simd {
        if let (true, Some(c), Some(h)) = (next::fits(shape.l, shape.m), S::as_f64(coef), S::as_f64(w.hist)) {
            // Float64 up by 2 or 4: output-parallel (see `next`).
            let pos = w.k0 * shape.m as i64;
            let q = pos / shape.l as i64 - shape.behind as i64 - w.start;
            let r = pos % shape.l as i64;
            // SAFETY: the token proves AVX2+FMA, `next::run`'s only requirement.
            return unsafe {
                next::run(
                    cpu,
                    shape.l as usize,
                    shape.taps,
                    c,
                    h,
                    q as usize,
                    r as usize,
                    out,
                    |v| put(S::from_f64(v)),
                )
            };
        }
        // SAFETY: the token proves AVX2+FMA, `run_avx`'s only requirement.
        return unsafe { run_avx(cpu, shape, short, coef, w, out, put) };
    }
    run_loop(simd, shape, short, coef, w, out, put)
}

/// The loop compiled for AVX2+FMA, so the dot products inline into it.
///
/// # Safety
/// The CPU supports AVX2 and FMA (the token proves it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx<S: Sample, O>(
    cpu: crate::cpu::Avx2Fma,
    shape: &Shape,
    short: bool,
    coef: &[S],
    w: Window<'_, S>,
    out: &mut [O],
    put: impl Fn(S) -> O,
) {
    run_loop(Some(cpu), shape, short, coef, w, out, put)
}

#[inline(always)]
fn run_loop<S: Sample, O>(
    simd: Simd,
    shape: &Shape,
    short: bool,
    coef: &[S],
    w: Window<'_, S>,
    out: &mut [O],
    put: impl Fn(S) -> O,
) {
    if short {
        run_groups::<S, O, { dot::SHORT_GROUP }>(simd, true, shape, coef, w, out, put)
    } else {
        run_groups::<S, O, { dot::GROUP }>(simd, false, shape, coef, w, out, put)
    }
}

/// `N` dot products with one row, on the short-filter path or not.
#[inline(always)]
fn dot_row<S: Sample, const N: usize>(simd: Simd, short: bool, hist: &[S], starts: [usize; N], row: &[S]) -> [S; N] {
    if short {
        S::dot_short(simd, hist, starts, row)
    } else {
        S::dot(simd, hist, starts, row)
    }
}

/// Outputs in groups of `G` sharing a row (`short`: the short-filter
/// arithmetic for every output, grouped or not).
#[inline(always)]
fn run_groups<S: Sample, O, const G: usize>(
    simd: Simd,
    short: bool,
    shape: &Shape,
    coef: &[S],
    w: Window<'_, S>,
    out: &mut [O],
    put: impl Fn(S) -> O,
) {
    let Window { hist, start, k0, .. } = w;
    let s = shape;
    let (l, m, t) = (s.l as i64, s.m as i64, s.taps);
    // Position of output k0: input frame q (relative to the history) and
    // filter row r; stepping one output adds M / L with carry.
    let pos = k0 * m;
    let mut q = pos / l - s.behind as i64 - start;
    let mut r = pos % l;
    let (qstep, rstep) = (m / l, m % l);
    let advance = |q: &mut i64, r: &mut i64| {
        *q += qstep;
        *r += rstep;
        if *r >= l {
            *r -= l;
            *q += 1;
        }
    };
    let n = out.len();
    let lu = l as usize;
    let step = m as usize;
    let mut i = 0usize;
    // Blocks of G * L outputs: output j, j + L, j + 2L, ... share a row
    // and their windows are M frames apart.
    while i + G * lu <= n {
        for j in 0..lu {
            let (s0, ri) = (q as usize, r as usize);
            let starts: [usize; G] = std::array::from_fn(|e| s0 + e * step);
            let y = dot_row(simd, short, hist, starts, &coef[ri * t..(ri + 1) * t]);
            for (e, v) in y.into_iter().enumerate() {
                out[i + j + e * lu] = put(v);
            }
            advance(&mut q, &mut r);
        }
        // Skip the (G - 1) * L outputs just computed: (G - 1) * M frames.
        q += ((G - 1) * step) as i64;
        i += G * lu;
    }
    while i < n {
        let (s0, ri) = (q as usize, r as usize);
        out[i] = put(dot_row(simd, short, hist, [s0], &coef[ri * t..(ri + 1) * t])[0]);
        advance(&mut q, &mut r);
        i += 1;
    }
}
