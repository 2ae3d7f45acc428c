//! The exact polyphase path: a conversion's stages chained in the
//! precision of its preset, with the stream's counts (frames received and
//! emitted) from which the length rule follows.

use super::design::{self, Quality, Shape};
use super::dot::{self, Dest};
use super::plan::{self, Cascade, Precision};
use super::stage::Stage;
use crate::cpu::{Avx2Fma, Simd};
use crate::error::Result;
use std::cell::Cell;
use std::sync::Arc;

/// Input frames per block in one-shot resampling (about; see [`Exact::one_shot_block`]).
pub const ONE_SHOT_BLOCK: usize = 4096;

/// Input frames per piece of a long call on the exact route (outside the
/// short-filter rule of [`Exact::one_shot_block`]). Each piece pays a
/// fixed cost per stage (the history kept, the block straddling the
/// history and the new frames, the edges of the stream split), so a piece
/// of 16384 frames took 4% fewer instructions than 4096 at 48k -> 16k
/// "high" stereo (callgrind) and 0.955 of the CPU time (median of 8
/// alternated single-thread rounds) while its work buffers (64 KiB of
/// streams, 32 KiB between the stages) stay in the level-2 cache. The
/// output does not depend on it (chunk invariance).
pub const EXACT_PIECE: usize = 4 * ONE_SHOT_BLOCK;

/// The stages of a conversion in one precision, and their buffers.
pub struct Chain<S: Precision> {
    cascade: Arc<Cascade<S>>,
    stages: Vec<Stage<S>>,
    /// Output of the previous stage (planar), and a second buffer for the
    /// next stage's output (stages read their input in place), reused
    /// between calls.
    tmp: Vec<S>,
    spare: Vec<S>,
}

/// A chain in the precision of its preset.
pub enum Chains {
    Narrow(Chain<f32>),
    Wide(Chain<f64>),
}

/// Planar float32 input of one call: row `c` at `data[c * stride..][..frames]`.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub data: &'a [f32],
    pub stride: usize,
    pub frames: usize,
}

impl<S: Precision> Chain<S> {
    pub fn new(cascade: Arc<Cascade<S>>, channels: usize) -> Chain<S> {
        Chain {
            stages: cascade.stages.iter().map(|p| Stage::new(p, channels)).collect(),
            cascade,
            tmp: Vec::new(),
            spare: Vec::new(),
        }
    }

    pub fn output_frames(&self, n: usize) -> usize {
        self.stages
            .iter()
            .zip(&self.cascade.stages)
            .fold(n, |k, (st, p)| st.output_frames(p, k))
    }

    /// Runs the input through every stage; the last writes `dest.frames`
    /// frames per channel into `dest`. `flushing`: pad each stage with
    /// zeros and emit all it has (the caller resets afterwards).
    pub fn run(&mut self, simd: Simd, input: Input<'_>, dest: Dest<'_, f32>, flushing: bool) {
        let Input {
            data: input,
            stride: in_stride,
            frames: n,
        } = input;
        let Dest {
            buf: out,
            stride,
            frames: n_out,
        } = dest;
        let channels = self.stages[0].channels();
        let last = self.stages.len() - 1;
        let mut frames = n;
        for (idx, (st, p)) in self.stages.iter_mut().zip(&self.cascade.stages).enumerate() {
            // The output-parallel kernel reads new frames in place (from the
            // caller's input or the previous stage's output) and the stage
            // keeps only their tail; padding for a flush goes through the
            // history.
            let first = if idx == 0 { S::borrow_f32(input) } else { None };
            let direct = !flushing && p.reads_in_place() && (idx > 0 || first.is_some());
            let tmp = std::mem::take(&mut self.tmp);
            if direct {
                st.take(frames);
            } else if idx == 0 {
                st.push(frames, |ch| &input[ch * in_stride..][..n], S::from_f32);
            } else {
                st.push(frames, |ch| &tmp[ch * frames..(ch + 1) * frames], |v| v);
            }
            let rows = |ch: usize| -> &[S] {
                if !direct {
                    &[]
                } else if let Some(x) = first {
                    &x[ch * in_stride..][..n]
                } else {
                    &tmp[ch * frames..(ch + 1) * frames]
                }
            };
            let k = if flushing {
                st.flush_frames(p)
            } else {
                st.output_frames(p, 0)
            };
            if flushing {
                st.pad(p);
            }
            if idx == last {
                // The final stage may hold one frame past ceil(n L / M)
                // after padding; emit only what the conversion owes.
                let dest = Dest {
                    buf: &mut *out,
                    stride,
                    frames: k.min(n_out),
                };
                st.emit_rows(p, simd, rows, dest, S::to_f32);
                self.tmp = tmp;
            } else {
                let mut buf = std::mem::take(&mut self.spare);
                // Every element the next stage reads is written by emit.
                if buf.len() < k * channels {
                    buf.resize(k * channels, S::default());
                }
                let dest = Dest {
                    buf: &mut buf[..],
                    stride: k,
                    frames: k,
                };
                st.emit_rows(p, simd, rows, dest, |v| v);
                self.tmp = buf;
                self.spare = tmp;
                frames = k;
            }
        }
    }

    pub fn reset(&mut self) {
        for (st, p) in self.stages.iter_mut().zip(&self.cascade.stages) {
            st.reset(p);
        }
    }

    pub fn shapes(&self) -> Vec<Shape> {
        self.cascade.stages.iter().map(|p| p.shape).collect()
    }

    /// Whether the first stage runs the tap-parallel short-filter path.
    pub fn short_first(&self) -> bool {
        self.cascade.stages[0].short_path()
    }

    /// `M` of the first stage.
    pub fn first_m(&self) -> u64 {
        self.cascade.stages[0].shape.m
    }

    pub fn kernel_names(&self) -> Vec<&'static str> {
        self.cascade.stages.iter().map(|p| p.kernel_name()).collect()
    }
}

/// An exact conversion by `l / m`: its chain and the stream's counts.
/// Arguments are checked by the caller (`super::Resampler`).
pub struct Exact {
    /// Overall reduced ratio (output / input).
    l: u64,
    m: u64,
    simd: Simd,
    chains: Chains,
    /// Input frames received and output frames emitted since the start.
    received: u64,
    emitted: u64,
    /// The last `output_frames` query and its answer (`NO_MEMO`: none
    /// since the state changed). A stream's push asks the same question
    /// four times (the caller sizing its output, the chain, the
    /// resampler's checks), and each answer costs every stage two integer
    /// divisions.
    memo: Cell<(usize, usize)>,
}

const NO_MEMO: (usize, usize) = (usize::MAX, 0);

impl Exact {
    /// The conversion from `in_rate` to `out_rate` Hz at `quality`.
    pub fn new(in_rate: u32, out_rate: u32, channels: usize, quality: Quality) -> Result<Exact> {
        let (l, m) = design::ratio(in_rate, out_rate);
        let chains = if quality.wide() {
            Chains::Wide(Chain::new(plan::plan::<f64>(in_rate, out_rate, quality)?, channels))
        } else {
            Chains::Narrow(Chain::new(plan::plan::<f32>(in_rate, out_rate, quality)?, channels))
        };
        Ok(Exact::with(l, m, chains))
    }

    /// The sharp 2x front stage of an oversampled conversion by `ratio`
    /// ([`plan::front`]).
    pub fn front(ratio: f64, channels: usize, quality: Quality) -> Result<Exact> {
        let chains = if quality.wide() {
            Chains::Wide(Chain::new(plan::front::<f64>(ratio, quality)?, channels))
        } else {
            Chains::Narrow(Chain::new(plan::front::<f32>(ratio, quality)?, channels))
        };
        Ok(Exact::with(2, 1, chains))
    }

    /// The exact stage up by `k` after interpolated phases ([`plan::back`]).
    pub fn back(k: u64, edge: f64, channels: usize, quality: Quality) -> Result<Exact> {
        let chains = if quality.wide() {
            Chains::Wide(Chain::new(plan::back::<f64>(k, edge, quality)?, channels))
        } else {
            Chains::Narrow(Chain::new(plan::back::<f32>(k, edge, quality)?, channels))
        };
        Ok(Exact::with(k, 1, chains))
    }

    fn with(l: u64, m: u64, chains: Chains) -> Exact {
        Exact {
            l,
            m,
            simd: Avx2Fma::detect(),
            chains,
            received: 0,
            emitted: 0,
            memo: Cell::new(NO_MEMO),
        }
    }

    /// Forces the portable scalar kernel (tests compare it with SIMD).
    #[cfg(test)]
    pub(crate) fn force_scalar(&mut self) {
        self.simd = None;
    }

    /// The kernel that runs each stage ("direct", "lanes" or "blocks").
    pub fn kernels(&self) -> Vec<&'static str> {
        match &self.chains {
            Chains::Narrow(ch) => ch.kernel_names(),
            Chains::Wide(ch) => ch.kernel_names(),
        }
    }

    /// Sizes of each stage's filter.
    pub fn shapes(&self) -> Vec<Shape> {
        match &self.chains {
            Chains::Narrow(ch) => ch.shapes(),
            Chains::Wide(ch) => ch.shapes(),
        }
    }

    /// Back to the state of a new conversion (history zeroed).
    pub fn reset(&mut self) {
        match &mut self.chains {
            Chains::Narrow(ch) => ch.reset(),
            Chains::Wide(ch) => ch.reset(),
        }
        self.received = 0;
        self.emitted = 0;
        self.memo.set(NO_MEMO);
    }

    /// Frames per channel that `process` of `n` more input frames returns.
    pub fn output_frames(&self, n: usize) -> usize {
        let (at, k) = self.memo.get();
        if at == n {
            return k;
        }
        let k = match &self.chains {
            Chains::Narrow(ch) => ch.output_frames(n),
            Chains::Wide(ch) => ch.output_frames(n),
        };
        self.memo.set((n, k));
        k
    }

    /// Frames per channel that `flush` returns now: the rest of
    /// `ceil(received * out_rate / in_rate)`.
    pub fn flush_frames(&self) -> usize {
        self.flush_frames_after(0)
    }

    /// What `process` of `n` more frames then `flush` return together.
    pub fn flush_frames_after(&self, n: usize) -> usize {
        let (l, m) = (self.l as u128, self.m as u128);
        let total = ((self.received + n as u64) as u128 * l).div_ceil(m) as u64;
        (total - self.emitted) as usize
    }

    /// Input frames taken in whose output is still pending: those at or
    /// after the position of the first output not yet emitted.
    pub fn delay(&self) -> usize {
        let (l, m) = (self.l as u128, self.m as u128);
        let covered = (self.emitted as u128 * m).div_ceil(l) as u64;
        self.received.saturating_sub(covered) as usize
    }

    /// Runs `input` through the stages into `dest` (`dest.frames` must be
    /// `output_frames(input.frames)`, the buffers checked by the caller).
    ///
    /// A long input runs in pieces of [`Exact::one_shot_block`] frames, so
    /// that every stage's work buffers stay in cache (a 10 s buffer in one
    /// piece took up to twice as long); chunking never changes the output.
    pub fn process(&mut self, input: Input<'_>, dest: Dest<'_, f32>) {
        let (frames, n_out) = (input.frames, dest.frames);
        self.memo.set(NO_MEMO);
        let block = self.one_shot_block();
        if frames <= block {
            self.run(input, dest, false);
        } else {
            let Dest { buf, stride, .. } = dest;
            let (mut pos, mut done) = (0, 0);
            while pos < frames {
                let n = block.min(frames - pos);
                let k = self.output_frames(n);
                let piece = Input {
                    data: &input.data[pos..],
                    stride: input.stride,
                    frames: n,
                };
                let dest = Dest {
                    buf: &mut buf[done..],
                    stride,
                    frames: k,
                };
                self.run(piece, dest, false);
                pos += n;
                done += k;
            }
            debug_assert_eq!(done, n_out);
        }
        self.received += frames as u64;
        self.emitted += n_out as u64;
    }

    /// Emits the remaining `flush_frames()` frames into `dest` (zero input
    /// assumed after the end), then resets.
    pub fn flush(&mut self, dest: Dest<'_, f32>) {
        if dest.frames > 0 {
            let none = Input {
                data: &[],
                stride: 0,
                frames: 0,
            };
            self.run(none, dest, true);
        }
        self.reset();
    }

    fn run(&mut self, input: Input<'_>, dest: Dest<'_, f32>, flushing: bool) {
        self.memo.set(NO_MEMO);
        let simd = self.simd;
        match &mut self.chains {
            Chains::Narrow(ch) => ch.run(simd, input, dest, flushing),
            Chains::Wide(ch) => ch.run(simd, input, dest, flushing),
        }
    }

    /// Input frames per one-shot block: [`EXACT_PIECE`], or, when the
    /// first stage runs on the tap-parallel kernel with short filters, the
    /// nearest multiple of `M * SHORT_GROUP` frames, so that every call
    /// emits whole groups of outputs sharing a row (no outputs left to the
    /// one-by-one path between calls).
    pub fn one_shot_block(&self) -> usize {
        let (short, m) = match &self.chains {
            Chains::Narrow(ch) => (ch.short_first(), ch.first_m()),
            Chains::Wide(ch) => (ch.short_first(), ch.first_m()),
        };
        if !short {
            return EXACT_PIECE;
        }
        let unit = m as usize * dot::SHORT_GROUP;
        if unit > ONE_SHOT_BLOCK * 4 {
            return ONE_SHOT_BLOCK;
        }
        unit * ONE_SHOT_BLOCK.div_ceil(unit)
    }
}
