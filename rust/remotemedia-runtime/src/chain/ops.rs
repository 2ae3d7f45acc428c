//! Planar views and the per-stage operations of a chain.
//!
//! A view is `channels` rows of `frames` samples, row `c` starting at
//! `c * stride`. Each operation reads one view and writes another, so a
//! stage can write into a chain buffer or straight into the caller's
//! output. The arithmetic is the one of the per-node path, operation for
//! operation, so a chain gives the same bits.

use crate::convert::{convert, Dst, Src};
use crate::error::{Error, Result};
use crate::resample::Resampler;
use crate::vad::{Samples, Vad};

/// Sample formats (the `RM_FORMAT_*` codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fmt {
    I16 = 1,
    I32 = 2,
    F32 = 3,
    F64 = 4,
}

impl Fmt {
    pub fn from_code(code: i32) -> Result<Fmt> {
        match code {
            1 => Ok(Fmt::I16),
            2 => Ok(Fmt::I32),
            3 => Ok(Fmt::F32),
            4 => Ok(Fmt::F64),
            other => Err(Error::InvalidArgument(format!("unknown sample format code {other}"))),
        }
    }
}

/// Samples of one format, read-only.
#[derive(Clone, Copy)]
pub enum Plane<'a> {
    I16(&'a [i16]),
    I32(&'a [i32]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// Samples of one format, writable.
pub enum PlaneMut<'a> {
    I16(&'a mut [i16]),
    I32(&'a mut [i32]),
    F32(&'a mut [f32]),
    F64(&'a mut [f64]),
}

/// `channels` rows of `frames` samples, `stride` apart.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: Plane<'a>,
    pub channels: usize,
    pub frames: usize,
    pub stride: usize,
}

/// The writable counterpart of [`View`].
pub struct ViewMut<'a> {
    pub data: PlaneMut<'a>,
    pub channels: usize,
    pub frames: usize,
    pub stride: usize,
}

fn span(channels: usize, frames: usize, stride: usize) -> usize {
    if frames == 0 || channels == 0 {
        0
    } else {
        (channels - 1) * stride + frames
    }
}

macro_rules! plane_slice {
    ($p:expr, $lo:expr, $hi:expr, $ty:ident) => {
        match $p {
            $ty::I16(s) => $ty::I16(&s[$lo..$hi]),
            $ty::I32(s) => $ty::I32(&s[$lo..$hi]),
            $ty::F32(s) => $ty::F32(&s[$lo..$hi]),
            $ty::F64(s) => $ty::F64(&s[$lo..$hi]),
        }
    };
}

impl<'a> View<'a> {
    /// Checks that `data` holds the rows it claims.
    pub fn new(data: Plane<'a>, channels: usize, frames: usize, stride: usize) -> Result<View<'a>> {
        let len = plane_len(&data);
        if stride < frames || len < span(channels, frames, stride) {
            return Err(Error::InvalidArgument(format!(
                "input of {len} samples cannot hold {channels} rows of {frames} frames {stride} apart"
            )));
        }
        Ok(View {
            data,
            channels,
            frames,
            stride,
        })
    }

    pub fn fmt(&self) -> Fmt {
        match self.data {
            Plane::I16(_) => Fmt::I16,
            Plane::I32(_) => Fmt::I32,
            Plane::F32(_) => Fmt::F32,
            Plane::F64(_) => Fmt::F64,
        }
    }

    /// Frames `pos .. pos + n` of every row.
    pub fn sub(&self, pos: usize, n: usize) -> View<'a> {
        let lo = pos.min(plane_len(&self.data));
        let hi = lo + span(self.channels, n, self.stride);
        View {
            data: plane_slice!(self.data, lo, hi, Plane),
            channels: self.channels,
            frames: n,
            stride: self.stride,
        }
    }

    /// Row `c` alone, as a one-channel view.
    pub fn row_view(&self, c: usize) -> View<'a> {
        View {
            data: self.row(c),
            channels: 1,
            frames: self.frames,
            stride: self.frames,
        }
    }

    fn row(&self, c: usize) -> Plane<'a> {
        let lo = if self.frames == 0 { 0 } else { c * self.stride };
        plane_slice!(self.data, lo, lo + self.frames, Plane)
    }
}

fn plane_len(p: &Plane<'_>) -> usize {
    match p {
        Plane::I16(s) => s.len(),
        Plane::I32(s) => s.len(),
        Plane::F32(s) => s.len(),
        Plane::F64(s) => s.len(),
    }
}

impl<'a> ViewMut<'a> {
    /// Checks that `data` has room for the rows it claims.
    pub fn new(data: PlaneMut<'a>, channels: usize, frames: usize, stride: usize) -> Result<ViewMut<'a>> {
        let len = match &data {
            PlaneMut::I16(s) => s.len(),
            PlaneMut::I32(s) => s.len(),
            PlaneMut::F32(s) => s.len(),
            PlaneMut::F64(s) => s.len(),
        };
        let needed = span(channels, frames, stride);
        if stride < frames || len < needed {
            return Err(Error::BufferTooSmall { needed, given: len });
        }
        Ok(ViewMut {
            data,
            channels,
            frames,
            stride,
        })
    }

    pub fn fmt(&self) -> Fmt {
        match self.data {
            PlaneMut::I16(_) => Fmt::I16,
            PlaneMut::I32(_) => Fmt::I32,
            PlaneMut::F32(_) => Fmt::F32,
            PlaneMut::F64(_) => Fmt::F64,
        }
    }

    /// Frames `pos .. pos + n` of every row (same stride).
    pub fn sub(&mut self, pos: usize, n: usize) -> ViewMut<'_> {
        let hi = pos + span(self.channels, n, self.stride);
        let data = match &mut self.data {
            PlaneMut::I16(s) => PlaneMut::I16(&mut s[pos..hi]),
            PlaneMut::I32(s) => PlaneMut::I32(&mut s[pos..hi]),
            PlaneMut::F32(s) => PlaneMut::F32(&mut s[pos..hi]),
            PlaneMut::F64(s) => PlaneMut::F64(&mut s[pos..hi]),
        };
        ViewMut {
            data,
            channels: self.channels,
            frames: n,
            stride: self.stride,
        }
    }

    /// Splits into one-channel views, one per row (disjoint borrows; empty
    /// rows when there are no frames).
    pub fn rows_mut(&mut self) -> Vec<ViewMut<'_>> {
        let (stride, frames, ch) = (self.stride, self.frames, self.channels);
        macro_rules! split {
            ($d:expr, $v:ident) => {
                $d.chunks_mut(stride.max(1))
                    .take(ch)
                    .map(|r| ViewMut {
                        data: PlaneMut::$v(&mut r[..frames]),
                        channels: 1,
                        frames,
                        stride: frames,
                    })
                    .collect()
            };
        }
        if frames == 0 {
            let empty = |_| ViewMut {
                data: match self.data {
                    PlaneMut::I16(_) => PlaneMut::I16(&mut []),
                    PlaneMut::I32(_) => PlaneMut::I32(&mut []),
                    PlaneMut::F32(_) => PlaneMut::F32(&mut []),
                    PlaneMut::F64(_) => PlaneMut::F64(&mut []),
                },
                channels: 1,
                frames: 0,
                stride: 0,
            };
            return (0..ch).map(empty).collect();
        }
        match &mut self.data {
            PlaneMut::I16(d) => split!(d, I16),
            PlaneMut::I32(d) => split!(d, I32),
            PlaneMut::F32(d) => split!(d, F32),
            PlaneMut::F64(d) => split!(d, F64),
        }
    }

    /// Splits a one-row view at frame `k` (at most its frames): frames
    /// `..k` and `k..`, both borrowing for the view's whole lifetime.
    pub fn split_row(self, k: usize) -> (ViewMut<'a>, ViewMut<'a>) {
        let k = k.min(self.frames);
        let rest = self.frames - k;
        macro_rules! split {
            ($d:expr, $v:ident) => {{
                let (a, b) = $d.split_at_mut(k);
                (PlaneMut::$v(a), PlaneMut::$v(&mut b[..rest]))
            }};
        }
        let (a, b) = match self.data {
            PlaneMut::I16(d) => split!(d, I16),
            PlaneMut::I32(d) => split!(d, I32),
            PlaneMut::F32(d) => split!(d, F32),
            PlaneMut::F64(d) => split!(d, F64),
        };
        let one = |data, frames| ViewMut {
            data,
            channels: 1,
            frames,
            stride: frames,
        };
        (one(a, k), one(b, rest))
    }

    /// The same rows, read-only, for the view's whole lifetime.
    pub fn into_view(self) -> View<'a> {
        let data = match self.data {
            PlaneMut::I16(s) => Plane::I16(s),
            PlaneMut::I32(s) => Plane::I32(s),
            PlaneMut::F32(s) => Plane::F32(s),
            PlaneMut::F64(s) => Plane::F64(s),
        };
        View {
            data,
            channels: self.channels,
            frames: self.frames,
            stride: self.stride,
        }
    }

    /// A read-only view of the same rows.
    pub fn as_view(&self) -> View<'_> {
        let data = match &self.data {
            PlaneMut::I16(s) => Plane::I16(s),
            PlaneMut::I32(s) => Plane::I32(s),
            PlaneMut::F32(s) => Plane::F32(s),
            PlaneMut::F64(s) => Plane::F64(s),
        };
        View {
            data,
            channels: self.channels,
            frames: self.frames,
            stride: self.stride,
        }
    }
}

/// Reusable storage for one intermediate view, in any format.
#[derive(Default)]
pub struct Store {
    i16: Vec<i16>,
    i32: Vec<i32>,
    f32: Vec<f32>,
    f64: Vec<f64>,
}

impl Store {
    /// A contiguous `channels x frames` view of format `fmt` (grown as needed).
    pub fn view_mut(&mut self, fmt: Fmt, channels: usize, frames: usize) -> ViewMut<'_> {
        let n = channels * frames;
        let data = match fmt {
            Fmt::I16 => PlaneMut::I16(grow(&mut self.i16, n)),
            Fmt::I32 => PlaneMut::I32(grow(&mut self.i32, n)),
            Fmt::F32 => PlaneMut::F32(grow(&mut self.f32, n)),
            Fmt::F64 => PlaneMut::F64(grow(&mut self.f64, n)),
        };
        ViewMut {
            data,
            channels,
            frames,
            stride: frames,
        }
    }

    /// The view last written by [`Store::view_mut`] with the same arguments.
    pub fn view(&self, fmt: Fmt, channels: usize, frames: usize) -> View<'_> {
        let n = channels * frames;
        let data = match fmt {
            Fmt::I16 => Plane::I16(&self.i16[..n]),
            Fmt::I32 => Plane::I32(&self.i32[..n]),
            Fmt::F32 => Plane::F32(&self.f32[..n]),
            Fmt::F64 => Plane::F64(&self.f64[..n]),
        };
        View {
            data,
            channels,
            frames,
            stride: frames,
        }
    }
}

fn grow<T: Default + Clone>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        v.resize(n, T::default());
    }
    &mut v[..n]
}

fn src_of(p: Plane<'_>) -> Src<'_> {
    match p {
        Plane::I16(s) => Src::I16(s),
        Plane::I32(s) => Src::I32(s),
        Plane::F32(s) => Src::F32(s),
        Plane::F64(s) => Src::F64(s),
    }
}

/// PCM conversion row by row (the rules of `convert`).
pub fn convert_rows(src: &View<'_>, dst: &mut ViewMut<'_>) -> Result<()> {
    let (n, ss, ds) = (src.frames, src.stride, dst.stride);
    for c in 0..src.channels {
        let s = src_of(src.row(c));
        let lo = c * ds;
        let d = match &mut dst.data {
            PlaneMut::I16(d) => Dst::I16(&mut d[lo..lo + n]),
            PlaneMut::I32(d) => Dst::I32(&mut d[lo..lo + n]),
            PlaneMut::F32(d) => Dst::F32(&mut d[lo..lo + n]),
            PlaneMut::F64(_) => return Err(Error::InvalidArgument("cannot convert to float64".into())),
        };
        convert(s, d)?;
        let _ = ss;
    }
    Ok(())
}

/// The float32 value `convert` gives for one sample.
trait ToF32: Copy {
    fn to_f32(self) -> f32;
}
impl ToF32 for i16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32 * (1.0 / 32768.0)
    }
}
impl ToF32 for i32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32 * (1.0 / 2_147_483_648.0f64) as f32
    }
}
impl ToF32 for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}
impl ToF32 for f64 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
}

fn mix_f32<T: ToF32>(s: &[T], channels: usize, stride: usize, n: usize, out: &mut [f32]) {
    let inv = channels as f64;
    for (i, o) in out[..n].iter_mut().enumerate() {
        let mut acc = s[i].to_f32() as f64 + s[stride + i].to_f32() as f64;
        for c in 2..channels {
            acc += s[c * stride + i].to_f32() as f64;
        }
        *o = (acc / inv) as f32;
    }
}

/// int16 stereo to float32 mono in one pass. `(a + b) * 2^-16` is exact
/// in float32 and equals `f64(a / 2^15) + f64(b / 2^15)` halved: the bits
/// of convert-then-downmix.
fn mix_i16_stereo(a: &[i16], b: &[i16], out: &mut [f32]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = (x as i32 + y as i32) as f32 * (1.0 / 65536.0);
    }
}

/// Convert to float32 and average the channels in one pass (the fused
/// `FormatConverterNode("f32")` + `DownmixNode`): per sample, the float32
/// values summed in float64 in channel order, divided by the count.
pub fn convert_mix_f32(src: &View<'_>, dst: &mut ViewMut<'_>) -> Result<()> {
    let (n, st, ch) = (src.frames, src.stride, src.channels);
    let out = match &mut dst.data {
        PlaneMut::F32(d) => &mut d[..n],
        _ => return Err(Error::State("fused downmix writes float32".into())),
    };
    if ch < 2 {
        return Err(Error::State("fused downmix needs two channels or more".into()));
    }
    match src.data {
        Plane::I16(s) if ch == 2 => {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn wide(a: &[i16], b: &[i16], out: &mut [f32]) {
                    mix_i16_stereo(a, b, out)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    unsafe { wide(&s[..n], &s[st..st + n], out) };
                    return Ok(());
                }
            }
            mix_i16_stereo(&s[..n], &s[st..st + n], out)
        }
        Plane::I16(s) => mix_f32(s, ch, st, n, out),
        Plane::I32(s) => mix_f32(s, ch, st, n, out),
        Plane::F32(s) => mix_f32(s, ch, st, n, out),
        Plane::F64(s) => mix_f32(s, ch, st, n, out),
    }
    Ok(())
}

fn mean_f64<T: Copy + Into<f64>>(s: &[T], channels: usize, stride: usize, n: usize, mut put: impl FnMut(usize, f64)) {
    let inv = channels as f64;
    for i in 0..n {
        let mut acc = s[i].into() + s[stride + i].into();
        for c in 2..channels {
            acc += s[c * stride + i].into();
        }
        put(i, acc / inv);
    }
}

/// `DownmixNode`: the channel mean in float64, summed in channel order;
/// integers rounded to nearest (ties to even), floats keep their format.
pub fn downmix(src: &View<'_>, dst: &mut ViewMut<'_>) -> Result<()> {
    let (n, st, ch) = (src.frames, src.stride, src.channels);
    if ch < 2 {
        return Err(Error::State("downmix needs two channels or more".into()));
    }
    match (src.data, &mut dst.data) {
        (Plane::I16(s), PlaneMut::I16(d)) => mean_f64(s, ch, st, n, |i, v| d[i] = v.round_ties_even() as i16),
        (Plane::I32(s), PlaneMut::I32(d)) => mean_f64(s, ch, st, n, |i, v| d[i] = v.round_ties_even() as i32),
        (Plane::F32(s), PlaneMut::F32(d)) => mean_f64(s, ch, st, n, |i, v| d[i] = v as f32),
        (Plane::F64(s), PlaneMut::F64(d)) => mean_f64(s, ch, st, n, |i, v| d[i] = v),
        _ => return Err(Error::State("downmix keeps the sample format".into())),
    }
    Ok(())
}

/// Resample float32 rows into `dst` (float32). Returns frames written.
pub fn resample(r: &mut Resampler, src: &View<'_>, dst: &mut ViewMut<'_>) -> Result<usize> {
    let s = match src.data {
        Plane::F32(s) => s,
        _ => return Err(Error::State("the resampler takes float32".into())),
    };
    if r.output_frames(src.frames) == 0 {
        // No output yet (a block not complete): nothing to write, no stride.
        return r.process_rows(s, src.stride, src.frames, &mut [], 0);
    }
    let stride = dst.stride;
    let d = match &mut dst.data {
        PlaneMut::F32(d) => &mut **d,
        _ => return Err(Error::State("the resampler writes float32".into())),
    };
    r.process_rows(s, src.stride, src.frames, d, stride)
}

/// The mean of two float32 rows in float64: `(a + b) / 2`, computed as
/// `(a + b) * 0.5` (the same bits: halving is exact, so both round the
/// same sum) in one pass the compiler vectorises.
#[inline(always)]
fn mean2_body(a: &[f32], b: &[f32], out: &mut [f64]) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = (f64::from(x) + f64::from(y)) * 0.5;
    }
}

/// [`mean2_body`], with AVX2 when the CPU has it.
pub(super) fn mean2_f32(a: &[f32], b: &[f32], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn wide(a: &[f32], b: &[f32], out: &mut [f64]) {
            mean2_body(a, b, out)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { wide(a, b, out) };
            return;
        }
    }
    mean2_body(a, b, out)
}

/// The samples the VAD sees: mono rows as they are, several channels
/// averaged like the VAD's own front end (each scaled to full scale 1.0 in
/// float64, summed in channel order, divided by the count) into `mix`.
pub fn vad_process(v: &mut Vad, src: &View<'_>, mix: &mut Vec<f64>, flags: &mut [u8]) -> Result<usize> {
    let (n, st, ch) = (src.frames, src.stride, src.channels);
    if ch == 1 {
        let s = match src.row(0) {
            Plane::I16(s) => Samples::I16(s),
            Plane::F32(s) => Samples::F32(s),
            Plane::F64(s) => Samples::F64(s),
            Plane::I32(_) => return Err(Error::InvalidArgument("the VAD takes int16, float32 or float64".into())),
        };
        return v.process(s, flags);
    }
    let m = grow(mix, n);
    match src.data {
        Plane::I16(s) => {
            let scale = 1.0 / 32768.0;
            for (i, o) in m.iter_mut().enumerate() {
                let mut acc = s[i] as f64 * scale;
                for c in 1..ch {
                    acc += s[c * st + i] as f64 * scale;
                }
                *o = acc / ch as f64;
            }
        }
        Plane::F32(s) if ch == 2 => mean2_f32(&s[..n], &s[st..st + n], m),
        Plane::F32(s) => mean_f64(s, ch, st, n, |i, x| m[i] = x),
        Plane::F64(s) => mean_f64(s, ch, st, n, |i, x| m[i] = x),
        Plane::I32(_) => return Err(Error::InvalidArgument("the VAD takes int16, float32 or float64".into())),
    }
    v.process(Samples::F64(m), flags)
}

/// [`vad_process`] of float32 rows held as separate slices of one length
/// (two or more): the same channel mean, operation for operation, as a
/// planar view of those rows would get.
pub fn vad_rows(v: &mut Vad, rows: &[&[f32]], mix: &mut Vec<f64>, flags: &mut [u8]) -> Result<usize> {
    let n = rows.first().map_or(0, |r| r.len());
    if rows.len() < 2 || rows.iter().any(|r| r.len() != n) {
        return Err(Error::State("the VAD's rows must be two or more of one length".into()));
    }
    let inv = rows.len() as f64;
    let m = grow(mix, n);
    if let [a, b] = rows {
        mean2_f32(a, b, m);
        return v.process(Samples::F64(m), flags);
    }
    for (i, o) in m.iter_mut().enumerate() {
        let mut acc = f64::from(rows[0][i]) + f64::from(rows[1][i]);
        for r in &rows[2..] {
            acc += f64::from(r[i]);
        }
        *o = acc / inv;
    }
    v.process(Samples::F64(m), flags)
}
