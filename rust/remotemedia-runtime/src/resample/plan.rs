//! Plans: how a conversion runs, which kernel runs each stage, its
//! tables, and the caches.
//!
//! This module is the only place that chooses. [`route`] picks the
//! structure of a conversion (one [`Route`]): the exact polyphase cascade,
//! the interpolated-phase kernel ([`super::interp`]) for ratios the exact
//! tables cannot hold or that must change on a running stream, or, from a
//! ratio of 1/2 up, an exact sharp 2x stage ([`front`]) followed by
//! interpolated phases. Within a cascade, a [`Cascade`] is every stage of
//! one conversion (reduced ratio and quality) in one precision, each stage
//! with the single [`Kernel`] that runs it; stages ([`super::stage`]) run
//! whatever the plan holds. Choosing in one place, as enums, makes "one
//! kernel per stage" a fact of the types.
//!
//! Designs are shared: a cascade or an interpolated-phase table lives as
//! long as a resampler uses it (the caches hold weak references to every
//! live one) plus, after its last user is gone, in a small cache of
//! recently used designs bounded in bytes ([`RETAIN_BYTES`] per cache). A
//! conversion at an odd ratio (tens of MB of tables) is therefore freed
//! with its last resampler instead of staying for the life of the process.

use super::blocks::Blocks;
use super::design::{self, Quality, Shape, Spec};
use super::dot::{Sample, Window};
use super::front32::Front;
use super::interp::{self, InterpShape, Table};
use super::lanes::{self, Lanes};
use crate::cpu::Simd;
use crate::error::Result;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Bytes of tables kept, per precision, for conversions no resampler uses
/// any more (the most recently used first). A cascade larger than this is
/// never kept past its last user.
pub const RETAIN_BYTES: usize = 16 << 20;

/// Exact polyphase tables up to this many coefficients (all stages) are
/// used as they are; a conversion that needs more runs on interpolated
/// phases.
pub const EXACT_LIMIT: u64 = 1 << 18;

/// How a conversion runs (chosen by [`route`] / [`route_ratio`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The exact polyphase cascade ([`plan`]).
    Exact,
    /// One interpolated-phase stage (ratios under 1/2).
    Interp,
    /// An exact sharp 2x stage ([`front`]), then interpolated phases on
    /// the oversampled signal (ratios from 1/2 up).
    Oversampled,
}

/// The structure for integer rates: the exact cascade unless its tables
/// would exceed [`EXACT_LIMIT`] coefficients or the ratio must be able to
/// change (`variable`, equal rates included).
pub fn route(in_rate: u32, out_rate: u32, quality: Quality, variable: bool) -> Route {
    if !variable && !needs_interp(in_rate, out_rate, quality) {
        return Route::Exact;
    }
    route_ratio(out_rate as f64 / in_rate as f64)
}

/// The interpolated-phase structure for a ratio `out / in`: oversampled
/// from 1/2 up (a short second filter), else one stage.
pub fn route_ratio(ratio: f64) -> Route {
    if ratio >= 0.5 {
        Route::Oversampled
    } else {
        Route::Interp
    }
}

/// Largest factor of the exact stage after the interpolated phases.
pub const MAX_BACK: u64 = 4;

/// The factor `K` of an exact stage up by `K` after the interpolated
/// phases of an oversampled conversion between integer rates, 1 for none.
/// Upward by 4 or more, the interpolated stage then produces `out / K`
/// frames a second (a ratio of 1 to 2 on the 2x signal) and the exact
/// stage, a short filter with `K` phases on the output-parallel kernel,
/// the rest: the interpolated stage's polynomial per tap is the costly
/// part, and it runs on a quarter of the outputs. A variable resampler has
/// none (its ratio moves).
pub fn back_factor(in_rate: u32, out_rate: u32, variable: bool) -> u64 {
    let mut k = 1;
    while !variable && k < MAX_BACK && out_rate as u64 >= 4 * k * in_rate as u64 {
        k *= 2;
    }
    k
}

/// Whether integer rates need interpolated phases: the exact tables would
/// hold more than [`EXACT_LIMIT`] coefficients.
fn needs_interp(in_rate: u32, out_rate: u32, quality: Quality) -> bool {
    if in_rate == out_rate {
        return false;
    }
    let (l, m) = design::ratio(in_rate, out_rate);
    let (pb, sb, atten) = quality.spec();
    let total: u64 = design::specs(l, m, pb, sb)
        .iter()
        .map(|s| Shape::new(s, atten).coefficients())
        .sum();
    total > EXACT_LIMIT
}

/// The kernel of one stage, with its tables.
pub enum Kernel<S: Precision> {
    /// Tap-parallel dot products over the `(phases x taps)` table in the
    /// stage's precision ([`super::dot`]): any ratio.
    Direct(Vec<S>),
    /// Output-parallel kernel for few phases ([`super::lanes`]); exists in
    /// float32 only (the type is uninhabited for float64).
    Lanes(S::Lanes),
    /// Fast convolution through float64 FFTs for long filters with few
    /// phases ([`super::blocks`]), in either precision.
    Blocks(Blocks),
    /// The interpolated route's front stage ([`super::front32`]): blocks on
    /// float32 transforms ("medium")...
    Front32(Front<f32>),
    /// ... or float64 ones ("high", "very_high").
    Front64(Front<f64>),
}

/// One stage: its filter sizes and its kernel.
pub struct Plan<S: Precision> {
    pub shape: Shape,
    pub kernel: Kernel<S>,
}

impl<S: Precision> Plan<S> {
    /// Whether the kernel reads new frames where they lie (output-parallel
    /// and fast-convolution kernels) instead of from the stage's history.
    pub fn reads_in_place(&self) -> bool {
        !matches!(self.kernel, Kernel::Direct(_))
    }

    /// Whether the stage runs the tap-parallel kernel's short-filter path
    /// (one accumulator per output, [`super::dot::SHORT_GROUP`] outputs
    /// sharing a row reduced together).
    pub fn short_path(&self) -> bool {
        S::SHORT && matches!(self.kernel, Kernel::Direct(_)) && self.shape.taps <= super::dot::SHORT_TAPS
    }

    /// The period by which a stage may move its origin: an output's
    /// arithmetic depends on its index modulo this (whole blocks for the
    /// block kernel, the doubled period of a single-phase lanes stage).
    pub fn period(&self) -> (u64, u64) {
        match &self.kernel {
            Kernel::Blocks(b) => ((b.b * b.l) as u64, (b.b * b.m) as u64),
            Kernel::Front32(f) => ((f.b * 4) as u64, (f.b * 2) as u64),
            Kernel::Front64(f) => ((f.b * 4) as u64, (f.b * 2) as u64),
            Kernel::Lanes(t) => S::lanes_period(t),
            Kernel::Direct(_) => (self.shape.l, self.shape.m),
        }
    }

    /// The kernel's name: "direct", "lanes", "blocks", "front32" or "front64".
    pub fn kernel_name(&self) -> &'static str {
        match &self.kernel {
            Kernel::Direct(_) => "direct",
            Kernel::Lanes(_) => "lanes",
            Kernel::Blocks(_) => "blocks",
            Kernel::Front32(_) => "front32",
            Kernel::Front64(_) => "front64",
        }
    }

    fn bytes(&self) -> usize {
        match &self.kernel {
            Kernel::Direct(c) => c.len() * std::mem::size_of::<S>(),
            Kernel::Lanes(t) => S::lanes_bytes(t),
            Kernel::Blocks(b) => b.bytes(),
            Kernel::Front32(f) => f.bytes(),
            Kernel::Front64(f) => f.bytes(),
        }
    }
}

/// Every stage of a conversion in one precision.
pub struct Cascade<S: Precision> {
    pub stages: Vec<Plan<S>>,
    bytes: usize,
}

/// A precision the resampler computes in, and what the plan needs to know
/// of it: which kernels exist in it and how to build their tables.
pub trait Precision: Sample {
    /// Tables of the output-parallel kernel; uninhabited where it does not
    /// exist (float64), so a float64 plan cannot hold one.
    type Lanes: Send + Sync;
    /// The output-parallel tables for a stage, when this precision has the
    /// kernel and the stage suits it.
    fn lanes(shape: &Shape, coef64: &[f64]) -> Option<Self::Lanes>;
    /// Runs the output-parallel kernel on one channel.
    fn run_lanes<O>(
        simd: Simd,
        t: &Self::Lanes,
        scratch: &mut lanes::Scratch,
        w: Window<'_, Self>,
        out: &mut [O],
        put: impl Fn(Self) -> O,
    );
    /// `(L, M)` of the period the lanes kernel computes over.
    fn lanes_period(t: &Self::Lanes) -> (u64, u64);
    fn lanes_bytes(t: &Self::Lanes) -> usize;
    /// The direct kernel's table in this precision.
    fn table(coef64: Vec<f64>) -> Vec<Self>;
    /// This precision's cache.
    fn cache() -> &'static Cache<Key, Cascade<Self>>;
}

impl Precision for f32 {
    type Lanes = Lanes;
    fn lanes(shape: &Shape, coef64: &[f64]) -> Option<Lanes> {
        Lanes::new(shape, coef64)
    }
    #[inline(always)]
    fn run_lanes<O>(
        simd: Simd,
        t: &Lanes,
        scratch: &mut lanes::Scratch,
        w: Window<'_, f32>,
        out: &mut [O],
        put: impl Fn(f32) -> O,
    ) {
        lanes::run(simd, t, scratch, w, out, put)
    }
    fn lanes_period(t: &Lanes) -> (u64, u64) {
        (t.l as u64, t.m as u64)
    }
    fn lanes_bytes(t: &Lanes) -> usize {
        t.bytes()
    }
    fn table(coef64: Vec<f64>) -> Vec<f32> {
        coef64.iter().map(|&c| c as f32).collect()
    }
    fn cache() -> &'static Cache<Key, Cascade<f32>> {
        static CACHE: OnceLock<Cache<Key, Cascade<f32>>> = OnceLock::new();
        CACHE.get_or_init(Cache::default)
    }
}

impl Precision for f64 {
    type Lanes = Infallible;
    fn lanes(_: &Shape, _: &[f64]) -> Option<Infallible> {
        None
    }
    fn run_lanes<O>(
        _: Simd,
        t: &Infallible,
        _: &mut lanes::Scratch,
        _: Window<'_, f64>,
        _: &mut [O],
        _: impl Fn(f64) -> O,
    ) {
        match *t {}
    }
    fn lanes_period(t: &Infallible) -> (u64, u64) {
        match *t {}
    }
    fn lanes_bytes(t: &Infallible) -> usize {
        match *t {}
    }
    fn table(coef64: Vec<f64>) -> Vec<f64> {
        coef64
    }
    fn cache() -> &'static Cache<Key, Cascade<f64>> {
        static CACHE: OnceLock<Cache<Key, Cascade<f64>>> = OnceLock::new();
        CACHE.get_or_init(Cache::default)
    }
}

/// Chooses and builds the kernel of one stage: fast convolution for long
/// filters with few phases (`shape.block > 0`), else the output-parallel
/// kernel where the precision has it and the stage has few phases, else
/// the tap-parallel direct kernel.
fn kernel<S: Precision>(shape: &Shape, coef64: Vec<f64>) -> Kernel<S> {
    if let Some(b) = Blocks::new(shape, &coef64) {
        return Kernel::Blocks(b);
    }
    if let Some(t) = S::lanes(shape, &coef64) {
        return Kernel::Lanes(t);
    }
    Kernel::Direct(S::table(coef64))
}

fn build<S: Precision>(l: u64, m: u64, quality: Quality) -> Result<Cascade<S>> {
    let atten = quality.spec().2;
    let mut stages = Vec::new();
    for (spec, shape) in design::layout(l, m, quality)? {
        stages.push(stage_plan::<S>(&spec, shape, atten)?);
    }
    Ok(Cascade::of(stages))
}

fn stage_plan<S: Precision>(spec: &Spec, shape: Shape, atten: f64) -> Result<Plan<S>> {
    if (spec.l, spec.m) == (2, 1) && shape.block > 0 {
        // A sharp doubling stage (8k -> 16k): the front stage's doubled
        // period, on transforms of at least `DOUBLING_MIN_FFT` points.
        return doubled_plan::<S>(
            spec,
            atten,
            |taps| design::block_periods_from(4, 2, taps, design::DOUBLING_MIN_FFT),
            None,
        );
    }
    let coef64 = design::coefficients(spec, &shape, atten)?;
    Ok(Plan {
        shape,
        kernel: kernel::<S>(&shape, coef64),
    })
}

impl<S: Precision> Cascade<S> {
    fn of(stages: Vec<Plan<S>>) -> Cascade<S> {
        let bytes = stages.iter().map(Plan::bytes).sum();
        Cascade { stages, bytes }
    }
}

/// What a cascade cache is keyed by: a reduced ratio and a preset, or the
/// front stage of an oversampled conversion (cutoff scale `min(1, ratio)`
/// as bits, and a preset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Ratio(u64, u64, Quality),
    Front(u64, Quality),
    /// The exact stage after interpolated phases: factor, band edge as bits.
    Back(u64, u64, Quality),
}

/// A design a cache may hold: its heap size.
pub trait Cached: Send + Sync {
    fn bytes(&self) -> usize;
}

impl<S: Precision> Cached for Cascade<S> {
    /// Heap bytes of the stages' tables.
    fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Cached for Table {
    fn bytes(&self) -> usize {
        self.heap_bytes()
    }
}

/// Designs of one kind: every live one (weak), and the recently used ones
/// kept within a budget in bytes (strong).
pub struct Cache<K, V> {
    state: Mutex<CacheState<K, V>>,
    /// Most bytes kept for designs no resampler uses.
    budget: usize,
}

struct CacheState<K, V> {
    live: HashMap<K, Weak<V>>,
    /// Least recently used first.
    recent: VecDeque<(K, Arc<V>)>,
    recent_bytes: usize,
}

impl<K: Copy + Eq + Hash, V: Cached> Default for Cache<K, V> {
    fn default() -> Self {
        Cache::with_budget(RETAIN_BYTES)
    }
}

impl<K: Copy + Eq + Hash, V: Cached> CacheState<K, V> {
    /// Marks `c` as the most recently used; drops the least recently used
    /// until the kept bytes fit the budget (a design over budget is not kept).
    fn touch(&mut self, key: K, c: &Arc<V>, budget: usize) {
        if let Some(i) = self.recent.iter().position(|(k, _)| *k == key) {
            let entry = self.recent.remove(i).expect("index from position");
            self.recent.push_back(entry);
            return;
        }
        if c.bytes() > budget {
            return;
        }
        self.recent.push_back((key, Arc::clone(c)));
        self.recent_bytes += c.bytes();
        while self.recent_bytes > budget {
            let Some((_, old)) = self.recent.pop_front() else { break };
            self.recent_bytes -= old.bytes();
        }
    }
}

impl<K: Copy + Eq + Hash, V: Cached> Cache<K, V> {
    /// An empty cache that keeps at most `budget` bytes of unused designs.
    pub fn with_budget(budget: usize) -> Self {
        Cache {
            state: Mutex::new(CacheState {
                live: HashMap::new(),
                recent: VecDeque::new(),
                recent_bytes: 0,
            }),
            budget,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState<K, V>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The design for `key`, shared while in use, else made by `make`
    /// (outside the lock: other keys stay available meanwhile).
    fn get_or_build(&self, key: K, make: impl FnOnce() -> Result<V>) -> Result<Arc<V>> {
        let budget = self.budget;
        {
            let mut st = self.lock();
            if let Some(c) = st.live.get(&key).and_then(Weak::upgrade) {
                st.touch(key, &c, budget);
                return Ok(c);
            }
        }
        let built = Arc::new(make()?);
        let mut st = self.lock();
        if let Some(c) = st.live.get(&key).and_then(Weak::upgrade) {
            // Another thread designed it meanwhile: share theirs.
            st.touch(key, &c, budget);
            return Ok(c);
        }
        st.live.retain(|_, w| w.strong_count() > 0);
        st.live.insert(key, Arc::downgrade(&built));
        st.touch(key, &built, budget);
        Ok(built)
    }

    /// `(designs alive, bytes kept for reuse)`: what the cache holds now.
    #[cfg(test)]
    pub fn stats(&self) -> (usize, usize) {
        let st = self.lock();
        let alive = st.live.values().filter(|w| w.strong_count() > 0).count();
        (alive, st.recent_bytes)
    }
}

/// The plan for `out_rate / in_rate` at `quality` in precision `S`,
/// designed on first use and shared while in use (a design depends only on
/// the reduced ratio and the quality).
pub fn plan<S: Precision>(in_rate: u32, out_rate: u32, quality: Quality) -> Result<Arc<Cascade<S>>> {
    plan_in(S::cache(), in_rate, out_rate, quality)
}

/// [`plan`] through a given cache.
fn plan_in<S: Precision>(
    cache: &Cache<Key, Cascade<S>>,
    in_rate: u32,
    out_rate: u32,
    quality: Quality,
) -> Result<Arc<Cascade<S>>> {
    let (l, m) = design::ratio(in_rate, out_rate);
    cache.get_or_build(Key::Ratio(l, m, quality), || build::<S>(l, m, quality))
}

/// The exact 2x front stage of an oversampled conversion by `ratio`: the
/// sharp filter, passband to `pb * min(1, ratio)` of the input Nyquist
/// frequency and stopband from `sb * min(1, ratio)` (the preset's edges
/// for the lower Nyquist frequency), at the preset's attenuation.
pub fn front<S: Precision>(ratio: f64, quality: Quality) -> Result<Arc<Cascade<S>>> {
    let low = ratio.min(1.0);
    S::cache().get_or_build(Key::Front(low.to_bits(), quality), || {
        let (pb, sb, atten) = quality.spec();
        let spec = Spec {
            l: 2,
            m: 1,
            scale: 2,
            fp: pb * low,
            fs: sb * low,
            extra: 0.0,
        };
        Ok(Cascade::of(vec![front_plan::<S>(
            &spec,
            atten,
            quality == Quality::Medium,
        )?]))
    })
}

/// The front stage's plan. On the fast-convolution kernel it runs as 4
/// phases over a doubled period (`L / M = 4 / 2`: phases 2 and 3 are rows
/// 0 and 1 one input frame later), so that its single input stream
/// becomes two, packed into one complex forward FFT of half the length: a
/// third less transform work for the same outputs. Its blocks are longer
/// than an exact stage's ([`front_block`]). The numpy body follows the
/// same block grid (`_front` in `resample_interp.py`). `narrow` ("medium"):
/// on float32 transforms ([`super::front32`]), whose rounding (about -134
/// dB) stays well under that preset's interpolated stage (120 dB).
fn front_plan<S: Precision>(spec: &Spec, atten: f64, narrow: bool) -> Result<Plan<S>> {
    let float = if narrow { FrontFloat::F32 } else { FrontFloat::F64 };
    doubled_plan::<S>(spec, atten, front_block, Some(float))
}

/// The precision of the front stage's transforms.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FrontFloat {
    F32,
    F64,
}

/// A stage up by 2 as 4 phases over a doubled period (see [`front_plan`]),
/// on the fast-convolution kernel in blocks of `block(taps)` periods
/// (`front`: the interpolated route's own block kernel in that precision).
fn doubled_plan<S: Precision>(
    spec: &Spec,
    atten: f64,
    block: impl Fn(usize) -> usize,
    front: Option<FrontFloat>,
) -> Result<Plan<S>> {
    let shape = Shape::new(spec, atten);
    if shape.block == 0 {
        return stage_plan::<S>(spec, shape, atten);
    }
    let coef64 = design::coefficients(spec, &shape, atten)?;
    let taps = shape.taps;
    let mut doubled = vec![0.0; 4 * taps];
    doubled[..taps].copy_from_slice(&coef64[..taps]);
    doubled[2 * taps..3 * taps].copy_from_slice(&coef64[taps..2 * taps]);
    let shape = Shape {
        l: 4,
        m: 2,
        block: block(taps),
        ..shape
    };
    if let Some(front) = front {
        let kernel = if front == FrontFloat::F32 {
            Front::new(&shape, &doubled).map(Kernel::Front32)
        } else {
            Front::new(&shape, &doubled).map(Kernel::Front64)
        };
        if let Some(kernel) = kernel {
            return Ok(Plan { shape, kernel });
        }
    }
    let blocks = Blocks::new(&shape, &doubled).expect("a block stage stays one when doubled");
    Ok(Plan {
        shape,
        kernel: Kernel::Blocks(blocks),
    })
}

/// Periods per block of the front stage on the fast-convolution kernel (4
/// phases over a doubled period, `taps` per phase): the transform size is
/// the power of two from 4 times the correlation length `q` (twice what an
/// exact stage takes, [`design::block_periods`]), within 256..4096: at
/// "high" near a ratio of 1, 512 points and 408 periods per block instead
/// of 256 and 152, so a little over twice the work per block for 2.7
/// times the outputs. The price is latency: up to one block of input (17
/// ms at 48 kHz instead of 6). numpy: `front_block` in
/// `remotemedia/kernels/resample_interp.py`.
pub fn front_block(taps: usize) -> usize {
    let q = (1 + taps).div_ceil(2);
    let n = (4 * q).next_power_of_two().clamp(256, 4096);
    n - q + 1
}

/// The exact stage up by `k` after the interpolated phases ([`back_factor`]):
/// its input holds nothing above `edge` of its Nyquist frequency
/// (`pb * k * in / out`; stopband edge `sb / pb` times that), so its
/// stopband starts where the first image of that band does, `2 - edge *
/// sb / pb` (a short filter), 10 dB above the preset as every short stage.
pub fn back<S: Precision>(k: u64, edge: f64, quality: Quality) -> Result<Arc<Cascade<S>>> {
    S::cache().get_or_build(Key::Back(k, edge.to_bits(), quality), || {
        let (pb, sb, atten) = quality.spec();
        let spec = Spec {
            l: k,
            m: 1,
            scale: 2,
            fp: edge,
            fs: 2.0 - edge * sb / pb,
            extra: design::SHORT_EXTRA_DB,
        };
        Ok(Cascade::of(vec![stage_plan::<S>(
            &spec,
            Shape::new(&spec, atten),
            atten,
        )?]))
    })
}

/// The interpolated-phase table for a filter shape, designed on first use
/// and shared while in use (bounded like the cascades).
pub fn interp_table(shape: &InterpShape) -> Result<Arc<Table>> {
    /// Cutoff and Kaiser parameter as bits, half-length, segments, order.
    type TableKey = (u64, u64, u64, usize, usize);
    static CACHE: OnceLock<Cache<TableKey, Table>> = OnceLock::new();
    let key = (
        shape.fc.to_bits(),
        shape.half_q,
        shape.beta.to_bits(),
        shape.q,
        shape.order,
    );
    CACHE
        .get_or_init(Cache::default)
        .get_or_build(key, || interp::design(shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_shared_while_in_use() {
        let a = plan::<f32>(48_000, 16_000, Quality::Medium).unwrap();
        let b = plan::<f32>(96_000, 32_000, Quality::Medium).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn routes_are_chosen_here() {
        assert_eq!(route(48_000, 16_000, Quality::High, false), Route::Exact);
        assert_eq!(route(48_000, 48_000, Quality::High, false), Route::Exact);
        assert_eq!(route(48_000, 48_000, Quality::High, true), Route::Oversampled);
        assert_eq!(route(48_000, 48_001, Quality::Low, false), Route::Oversampled);
        assert_eq!(route(96_001, 11_025, Quality::Low, false), Route::Interp);
        assert_eq!(route(48_000, 16_000, Quality::Low, true), Route::Interp);
        assert_eq!(route_ratio(0.5), Route::Oversampled);
        assert_eq!(back_factor(11_025, 96_001, false), 4);
        assert_eq!(back_factor(8_000, 47_999, false), 2);
        assert_eq!(back_factor(8_000, 31_999, false), 1);
        assert_eq!(back_factor(11_025, 96_001, true), 1);
    }

    #[test]
    fn interp_tables_and_fronts_are_shared_while_in_use() {
        let s = InterpShape::new(1.0, Quality::High);
        let a = interp_table(&s).unwrap();
        assert!(Arc::ptr_eq(&a, &interp_table(&s).unwrap()));
        let f = front::<f32>(1.02, Quality::High).unwrap();
        assert!(Arc::ptr_eq(&f, &front::<f32>(1.5, Quality::High).unwrap()));
        assert_eq!(f.stages.len(), 1);
        assert_eq!(
            (f.stages[0].shape.l, f.stages[0].shape.m),
            (4, 2),
            "a doubled period on blocks"
        );
    }

    #[test]
    fn huge_ratio_is_refused() {
        assert!(plan::<f32>(191_999, 192_000, Quality::High).is_err());
    }

    #[test]
    fn one_kernel_per_stage_as_before() {
        // 48k -> 16k "high": a half-band stage on the lanes kernel, then the
        // sharp 2:3 stage on blocks; "very_high" (float64) never has lanes.
        let c = plan::<f32>(48_000, 16_000, Quality::High).unwrap();
        assert!(matches!(c.stages[0].kernel, Kernel::Lanes(_)));
        assert!(matches!(c.stages[1].kernel, Kernel::Blocks(_)));
        let w = plan::<f64>(44_100, 48_000, Quality::VeryHigh).unwrap();
        assert!(w.stages.iter().all(|p| matches!(p.kernel, Kernel::Direct(_))));
        let d = plan::<f32>(44_100, 48_000, Quality::Low).unwrap();
        assert!(matches!(d.stages[0].kernel, Kernel::Direct(_)));
    }

    #[test]
    fn cache_keeps_at_most_its_budget_after_users_are_gone() {
        // Ratios with hundreds of phases: 60-500 KB of float32 tables each.
        let rates = [44_100u32, 22_050, 11_025, 8_000, 32_000, 12_000, 24_000, 7_350];
        let mut sizes = Vec::new();
        let cache = Cache::<Key, Cascade<f32>>::with_budget(1 << 20);
        for r in rates {
            let c = plan_in(&cache, r, 48_001, Quality::Low).unwrap();
            sizes.push(c.bytes());
            assert_eq!(cache.stats().0, 1, "only the cascade in use is alive");
            drop(c);
            let (alive, kept) = cache.stats();
            assert!(kept <= 1 << 20, "kept {kept} bytes");
            assert!(alive <= rates.len());
        }
        let total: usize = sizes.iter().sum();
        assert!(total > 2 << 20, "the test needs more tables than the budget: {sizes:?}");
        // What is neither in use nor recent is gone.
        let (alive, kept) = cache.stats();
        assert!(
            alive < rates.len() && kept <= 1 << 20,
            "{alive} alive, {kept} bytes kept"
        );
        // A cascade in use is shared even after it left the recent list.
        let held = plan_in(&cache, 44_100, 48_001, Quality::Low).unwrap();
        for r in rates {
            drop(plan_in(&cache, r, 48_001, Quality::Low).unwrap());
        }
        let again = plan_in(&cache, 44_100, 48_001, Quality::Low).unwrap();
        assert!(Arc::ptr_eq(&held, &again));
    }

    #[test]
    fn a_cascade_over_budget_is_freed_with_its_last_user() {
        let cache = Cache::<Key, Cascade<f32>>::with_budget(1 << 10);
        let c = plan_in(&cache, 44_100, 48_001, Quality::Low).unwrap();
        let weak = Arc::downgrade(&c);
        assert!(c.bytes() > 1 << 10);
        drop(c);
        assert!(weak.upgrade().is_none());
        assert_eq!(cache.stats(), (0, 0));
    }
}
