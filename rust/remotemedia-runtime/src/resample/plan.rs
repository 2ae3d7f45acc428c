//! Plans: which kernel runs each stage, its tables, and the cache.
//!
//! A [`Cascade`] is every stage of one conversion (reduced ratio and
//! quality) in one precision, each stage with the single [`Kernel`] that
//! runs it. This module is the only place that chooses a kernel; stages
//! ([`super::stage`]) run whatever the plan holds. Choosing in one place,
//! as an enum, makes "one kernel per stage" a fact of the types and gives
//! a new kernel (e.g. interpolated phases for arbitrary ratios) one seam:
//! a variant here, its tables' constructor, and its arm in the stage.
//!
//! Designs are shared: a cascade lives as long as a resampler uses it
//! (the cache holds weak references to every live one) plus, after its
//! last user is gone, in a small cache of recently used cascades bounded
//! in bytes ([`RETAIN_BYTES`] per precision). A conversion at an odd ratio
//! (tens of MB of tables) is therefore freed with its last resampler
//! instead of staying for the life of the process.

use super::blocks::Blocks;
use super::design::{self, Quality, Shape};
use super::dot::{Sample, Window};
use super::lanes::{self, Lanes};
use crate::cpu::Simd;
use crate::error::Result;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Bytes of tables kept, per precision, for conversions no resampler uses
/// any more (the most recently used first). A cascade larger than this is
/// never kept past its last user.
pub const RETAIN_BYTES: usize = 16 << 20;

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
            Kernel::Lanes(t) => S::lanes_period(t),
            Kernel::Direct(_) => (self.shape.l, self.shape.m),
        }
    }

    /// The kernel's name: "direct", "lanes" or "blocks".
    pub fn kernel_name(&self) -> &'static str {
        match &self.kernel {
            Kernel::Direct(_) => "direct",
            Kernel::Lanes(_) => "lanes",
            Kernel::Blocks(_) => "blocks",
        }
    }

    fn bytes(&self) -> usize {
        match &self.kernel {
            Kernel::Direct(c) => c.len() * std::mem::size_of::<S>(),
            Kernel::Lanes(t) => S::lanes_bytes(t),
            Kernel::Blocks(b) => b.bytes(),
        }
    }
}

/// Every stage of a conversion in one precision.
pub struct Cascade<S: Precision> {
    pub stages: Vec<Plan<S>>,
    bytes: usize,
}

impl<S: Precision> Cascade<S> {
    /// Heap bytes of the stages' tables.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
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
    fn cache() -> &'static Cache<Self>;
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
    fn cache() -> &'static Cache<f32> {
        static CACHE: OnceLock<Cache<f32>> = OnceLock::new();
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
    fn cache() -> &'static Cache<f64> {
        static CACHE: OnceLock<Cache<f64>> = OnceLock::new();
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
        let coef64 = design::coefficients(&spec, &shape, atten)?;
        stages.push(Plan {
            shape,
            kernel: kernel::<S>(&shape, coef64),
        });
    }
    let bytes = stages.iter().map(Plan::bytes).sum();
    Ok(Cascade { stages, bytes })
}

type Key = (u64, u64, Quality);

/// Designed cascades of one precision: every live one (weak), and the
/// recently used ones kept within [`RETAIN_BYTES`] (strong).
pub struct Cache<S: Precision> {
    state: Mutex<CacheState<S>>,
    /// Most bytes kept for cascades no resampler uses.
    budget: usize,
}

struct CacheState<S: Precision> {
    live: HashMap<Key, Weak<Cascade<S>>>,
    /// Least recently used first.
    recent: VecDeque<(Key, Arc<Cascade<S>>)>,
    recent_bytes: usize,
}

impl<S: Precision> Default for Cache<S> {
    fn default() -> Self {
        Cache::with_budget(RETAIN_BYTES)
    }
}

impl<S: Precision> CacheState<S> {
    /// Marks `c` as the most recently used; drops the least recently used
    /// until the kept bytes fit the budget (a cascade over budget is not kept).
    fn touch(&mut self, key: Key, c: &Arc<Cascade<S>>, budget: usize) {
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

impl<S: Precision> Cache<S> {
    /// An empty cache that keeps at most `budget` bytes of unused cascades.
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

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState<S>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `(cascades alive, bytes kept for reuse)`: what the cache holds now.
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
fn plan_in<S: Precision>(cache: &Cache<S>, in_rate: u32, out_rate: u32, quality: Quality) -> Result<Arc<Cascade<S>>> {
    let (l, m) = design::ratio(in_rate, out_rate);
    let key = (l, m, quality);
    let budget = cache.budget;
    {
        let mut st = cache.lock();
        if let Some(c) = st.live.get(&key).and_then(Weak::upgrade) {
            st.touch(key, &c, budget);
            return Ok(c);
        }
    }
    // Design outside the lock: other ratios stay available meanwhile.
    let built = Arc::new(build::<S>(l, m, quality)?);
    let mut st = cache.lock();
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
        let cache = Cache::<f32>::with_budget(1 << 20);
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
        let cache = Cache::<f32>::with_budget(1 << 10);
        let c = plan_in(&cache, 44_100, 48_001, Quality::Low).unwrap();
        let weak = Arc::downgrade(&c);
        assert!(c.bytes() > 1 << 10);
        drop(c);
        assert!(weak.upgrade().is_none());
        assert_eq!(cache.stats(), (0, 0));
    }
}
