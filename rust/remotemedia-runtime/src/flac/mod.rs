//! FLAC decoding, whole streams held in memory, for the batch job's reader.
//!
//! libsndfile decodes FLAC through libFLAC and then copies sample by
//! sample out of libFLAC's buffers; this decoder writes each frame straight
//! into the caller's planar output. It reads what encoders produce
//! (STREAMINFO, other metadata skipped, an ID3v2 prefix skipped; fixed and
//! variable block sizes; CONSTANT, VERBATIM, FIXED and LPC subframes;
//! wasted bits; Rice partitions with escapes; independent, left/side,
//! right/side and mid/side channels) for 4 to 24 bits per sample.
//!
//! It never guesses: a CRC mismatch, a reserved code, a stream cut short,
//! a frame out of sequence, a sample outside its bit width, or a length or
//! layout that differs from the caller's expectation is an error, and the
//! caller reads the file another way (libsndfile), so broken files behave
//! as they always did.

mod bits;
mod crc;
mod frame;
mod meta;
mod predict;
#[cfg(test)]
mod tests;

use crate::error::Error;
use std::fmt;

pub use meta::StreamInfo;

/// Why a stream was refused, and the byte offset of the frame or block
/// where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlacError {
    pub what: &'static str,
    pub at: usize,
}

impl FlacError {
    fn new(what: &'static str, at: usize) -> Self {
        FlacError { what, at }
    }
}

impl fmt::Display for FlacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FLAC stream refused: {} (at byte {})", self.what, self.at)
    }
}

impl From<FlacError> for Error {
    fn from(e: FlacError) -> Self {
        Error::InvalidArgument(e.to_string())
    }
}

/// An output sample type: decoded values are stored as `from_i32(v, shift)`.
pub trait Sample: Copy {
    /// Widest samples this type takes.
    const MAX_BPS: u32;
    /// `shift`: what the value is moved left by (16 - bits for int16, as
    /// libsndfile scales narrower samples; 0 for int32: the raw value).
    fn from_i32(v: i32, shift: u32) -> Self;
    fn shift_for(bits_per_sample: u32) -> u32;
}

impl Sample for i16 {
    const MAX_BPS: u32 = 16;
    #[inline(always)]
    fn from_i32(v: i32, shift: u32) -> Self {
        (v << shift) as i16
    }
    fn shift_for(bits_per_sample: u32) -> u32 {
        16 - bits_per_sample
    }
}

impl Sample for i32 {
    const MAX_BPS: u32 = 24;
    #[inline(always)]
    fn from_i32(v: i32, _shift: u32) -> Self {
        v
    }
    fn shift_for(_bits_per_sample: u32) -> u32 {
        0
    }
}

/// STREAMINFO of a FLAC stream held in `data`.
pub fn stream_info(data: &[u8]) -> Result<StreamInfo, FlacError> {
    Ok(meta::read_metadata(data)?.0)
}

/// Where frame `t` of channel `c` goes in the output: blocks of
/// `block_frames` frames one after another, each planar (channel by
/// channel, the last block shorter), so each block is a C-contiguous
/// `(channels, frames)` array.
struct Layout {
    channels: usize,
    frames: usize,
    block: usize,
}

impl Layout {
    /// Stores `src` (frames `t0..t0 + src[c].len()`) and checks that every
    /// value fits `bps` bits.
    fn store<S: Sample>(&self, t0: usize, n: usize, src: &[Vec<i32>], bps: u32, out: &mut [S]) -> bool {
        let shift = S::shift_for(bps);
        let mut acc = 0i32;
        let mut t = t0;
        while t < t0 + n {
            let blk = t / self.block * self.block;
            let nb = self.block.min(self.frames - blk);
            let seg_end = (t0 + n).min(blk + nb);
            for (c, chan) in src.iter().enumerate().take(self.channels) {
                let o = blk * self.channels + c * nb + (t - blk);
                let dst = &mut out[o..o + (seg_end - t)];
                for (d, &v) in dst.iter_mut().zip(&chan[t - t0..seg_end - t0]) {
                    acc |= v ^ (v >> 31);
                    *d = S::from_i32(v, shift);
                }
            }
            t = seg_end;
        }
        acc >> (bps - 1) == 0
    }
}

/// Decodes the whole stream in `data`, which must hold `channels` channels
/// and `frames` frames, into `out` (`frames * channels` samples) laid out
/// in blocks of `block_frames` frames, each block planar (see the crate's
/// header: `rm_flac_decode`). Returns the stream's STREAMINFO.
///
/// Refuses (with the reason) anything it does not decode exactly: see the
/// module's documentation. Bytes after the last expected frame are ignored
/// (a trailing tag), as libsndfile stops at the stream's length.
pub fn decode<S: Sample>(
    data: &[u8],
    channels: usize,
    frames: u64,
    block_frames: usize,
    out: &mut [S],
) -> Result<StreamInfo, Error> {
    decode_on(
        data,
        channels,
        frames,
        block_frames,
        out,
        crate::cpu::Bmi2Lzcnt::detect(),
    )
}

/// [`decode`] with the Rice loop's copy chosen by the caller (tests run both).
fn decode_on<S: Sample>(
    data: &[u8],
    channels: usize,
    frames: u64,
    block_frames: usize,
    out: &mut [S],
    bmi2: Option<crate::cpu::Bmi2Lzcnt>,
) -> Result<StreamInfo, Error> {
    let (info, mut at) = meta::read_metadata(data)?;
    if info.channels as usize != channels {
        return Err(Error::InvalidArgument(format!(
            "FLAC stream has {} channels, the caller expects {channels}",
            info.channels
        )));
    }
    if info.total_frames != 0 && info.total_frames != frames {
        return Err(Error::InvalidArgument(format!(
            "FLAC STREAMINFO says {} frames, the caller expects {frames}",
            info.total_frames
        )));
    }
    let bps = info.bits_per_sample;
    if !(4..=S::MAX_BPS).contains(&bps) {
        return Err(Error::InvalidArgument(format!(
            "FLAC stream has {bps}-bit samples; this output takes 4 to {} bits",
            S::MAX_BPS
        )));
    }
    let frames = usize::try_from(frames).map_err(|_| Error::InvalidArgument("too many frames".into()))?;
    let needed = frames
        .checked_mul(channels)
        .ok_or_else(|| Error::InvalidArgument("too many samples".into()))?;
    if out.len() != needed {
        return Err(Error::InvalidArgument(format!(
            "output holds {} samples, the stream {frames} frames x {channels} channels = {needed}",
            out.len()
        )));
    }
    if block_frames == 0 {
        return Err(Error::InvalidArgument("block_frames must be at least 1".into()));
    }
    let layout = Layout {
        channels,
        frames,
        block: block_frames,
    };
    let mut chans = vec![vec![0i32; info.max_block as usize]; channels];
    let mut t = 0usize;
    let mut index = 0u64;
    let mut variable: Option<bool> = None;
    let mut fixed_size: Option<usize> = None;
    while t < frames {
        let (h, next) = frame::decode_frame(data, at, &info, &mut chans, bmi2)?;
        let expected_number = if h.variable { t as u64 } else { index };
        if *variable.get_or_insert(h.variable) != h.variable || h.number != expected_number {
            return Err(FlacError::new("frame out of sequence (a frame missing or repeated)", at).into());
        }
        let first_size = *fixed_size.get_or_insert(h.block_size);
        if !h.variable && h.block_size != first_size && t + h.block_size != frames {
            return Err(FlacError::new("block size changes inside a fixed-blocksize stream", at).into());
        }
        if t + h.block_size > frames {
            return Err(FlacError::new("the stream holds more frames than expected", at).into());
        }
        if !layout.store(t, h.block_size, &chans, bps, out) {
            return Err(FlacError::new("a sample exceeds the stream's bit width", at).into());
        }
        t += h.block_size;
        index += 1;
        at = next;
    }
    Ok(info)
}
