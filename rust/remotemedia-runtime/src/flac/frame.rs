//! One frame: its header (sync code, block size, rate, channel assignment,
//! sample size, coded number, CRC-8), its subframes (CONSTANT, VERBATIM,
//! FIXED, LPC; wasted bits; Rice-coded residual with escapes) and its
//! CRC-16, then the inter-channel decorrelation.

use super::bits::{Bits, Truncated};
use super::crc::{crc16, crc8};
use super::meta::StreamInfo;
use super::predict::{restore_fixed, restore_lpc};
use super::FlacError;

/// What a frame header says.
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub block_size: usize,
    /// 0-7: independent channels; 8 left/side; 9 side/right; 10 mid/side.
    pub assignment: u32,
    pub bits_per_sample: u32,
    /// Variable-blocksize stream: `number` is the first sample's index,
    /// else the frame's index.
    pub variable: bool,
    pub number: u64,
}

const RATES: [u32; 12] = [
    0, 88_200, 176_400, 192_000, 8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000,
];

/// The header of the frame at `at`, and the offset of its first subframe.
pub fn read_header(data: &[u8], at: usize, info: &StreamInfo) -> Result<(Header, usize), FlacError> {
    let byte = |i: usize| {
        data.get(at + i)
            .copied()
            .ok_or(FlacError::new("frame header cut off", at))
    };
    let err = |what| Err(FlacError::new(what, at));
    let (b0, b1, b2, b3) = (byte(0)?, byte(1)?, byte(2)?, byte(3)?);
    if b0 != 0xFF || b1 & 0xFE != 0xF8 {
        return err("no frame sync code where a frame should start");
    }
    if b3 & 1 != 0 {
        return err("reserved bit set in a frame header");
    }
    let variable = b1 & 1 != 0;
    let mut p = 4;
    // The UTF-8-like coded frame or sample number.
    let first = byte(p)?;
    p += 1;
    let extra = match first.leading_ones() {
        0 => 0,
        n @ 2..=7 => n - 1,
        _ => return err("bad coded number in a frame header"),
    };
    let mut number = if extra == 0 {
        first as u64
    } else {
        (first & (0x7f >> (extra + 1))) as u64
    };
    for _ in 0..extra {
        let c = byte(p)?;
        p += 1;
        if c & 0xC0 != 0x80 {
            return err("bad coded number in a frame header");
        }
        number = (number << 6) | (c & 0x3f) as u64;
    }
    if extra == 6 && !variable {
        return err("frame number too large");
    }
    let block_size = match b2 >> 4 {
        0 => return err("reserved block size code"),
        1 => 192,
        c @ 2..=5 => 576 << (c - 2),
        6 => {
            p += 1;
            byte(p - 1)? as usize + 1
        }
        7 => {
            p += 2;
            ((byte(p - 2)? as usize) << 8 | byte(p - 1)? as usize) + 1
        }
        c => 256 << (c - 8),
    };
    let rate = match b2 & 15 {
        0 => info.sample_rate,
        c @ 1..=11 => RATES[c as usize],
        12 => {
            p += 1;
            byte(p - 1)? as u32 * 1000
        }
        13 | 14 => {
            p += 2;
            let v = (byte(p - 2)? as u32) << 8 | byte(p - 1)? as u32;
            if b2 & 15 == 14 {
                v * 10
            } else {
                v
            }
        }
        _ => return err("invalid sample rate code"),
    };
    if rate != info.sample_rate {
        return err("frame sample rate differs from STREAMINFO");
    }
    let bits_per_sample = match (b3 >> 1) & 7 {
        0 => info.bits_per_sample,
        1 => 8,
        2 => 12,
        4 => 16,
        5 => 20,
        6 => 24,
        _ => return err("unsupported sample size code"),
    };
    if bits_per_sample != info.bits_per_sample {
        return err("frame sample size differs from STREAMINFO");
    }
    let assignment = (b3 >> 4) as u32;
    let channels = match assignment {
        0..=7 => assignment + 1,
        8..=10 => 2,
        _ => return err("reserved channel assignment"),
    };
    if channels != info.channels {
        return err("frame channel count differs from STREAMINFO");
    }
    if crc8(&data[at..at + p]) != byte(p)? {
        return err("frame header CRC-8 mismatch");
    }
    let header = Header {
        block_size,
        assignment,
        bits_per_sample,
        variable,
        number,
    };
    Ok((header, at + p + 1))
}

/// Why a subframe could not be read (the frame's offset is added by the caller).
enum Bad {
    Cut,
    Invalid(&'static str),
}

impl From<Truncated> for Bad {
    fn from(_: Truncated) -> Self {
        Bad::Cut
    }
}

/// Decodes the frame at `at` into `chans[c][..block_size]` (decorrelated
/// samples, not range-checked) and returns its header and the offset of the
/// next frame. Checks the CRC-16.
pub fn decode_frame(
    data: &[u8],
    at: usize,
    info: &StreamInfo,
    chans: &mut [Vec<i32>],
    bmi2: Option<crate::cpu::Bmi2Lzcnt>,
) -> Result<(Header, usize), FlacError> {
    let (h, start) = read_header(data, at, info)?;
    if h.block_size > info.max_block as usize {
        return Err(FlacError::new("frame longer than STREAMINFO's largest block", at));
    }
    let mut bits = Bits::new(data, start, bmi2);
    let mut coefs = [0i32; 32];
    for (c, chan) in chans.iter_mut().enumerate() {
        let side = matches!((h.assignment, c), (8, 1) | (9, 0) | (10, 1));
        let sbps = h.bits_per_sample + side as u32;
        read_subframe(&mut bits, sbps, &mut chan[..h.block_size], &mut coefs).map_err(|e| match e {
            Bad::Cut => FlacError::new("stream cut off inside a frame", at),
            Bad::Invalid(what) => FlacError::new(what, at),
        })?;
    }
    bits.align();
    let end = bits.byte_pos();
    let stored = data
        .get(end..end + 2)
        .ok_or(FlacError::new("stream cut off before a frame's CRC-16", at))?;
    if crc16(&data[at..end]) != u16::from_be_bytes([stored[0], stored[1]]) {
        return Err(FlacError::new("frame CRC-16 mismatch", at));
    }
    decorrelate(h.assignment, h.block_size, chans);
    Ok((h, end + 2))
}

fn decorrelate(assignment: u32, n: usize, chans: &mut [Vec<i32>]) {
    if assignment < 8 {
        return;
    }
    let (a, b) = chans.split_at_mut(1);
    let (a, b) = (&mut a[0][..n], &mut b[0][..n]);
    match assignment {
        8 => {
            for (l, s) in a.iter().zip(b.iter_mut()) {
                *s = l.wrapping_sub(*s);
            }
        }
        9 => {
            for (s, r) in a.iter_mut().zip(b.iter()) {
                *s = s.wrapping_add(*r);
            }
        }
        _ => {
            for (m, s) in a.iter_mut().zip(b.iter_mut()) {
                let mid = (m.wrapping_shl(1)) | (*s & 1);
                let (l, r) = (mid.wrapping_add(*s) >> 1, mid.wrapping_sub(*s) >> 1);
                *m = l;
                *s = r;
            }
        }
    }
}

fn read_subframe(bits: &mut Bits, sbps: u32, buf: &mut [i32], coefs: &mut [i32; 32]) -> Result<(), Bad> {
    if bits.read(1)? != 0 {
        return Err(Bad::Invalid("subframe padding bit set"));
    }
    let kind = bits.read(6)?;
    let wasted = if bits.read(1)? != 0 { bits.read_unary()? + 1 } else { 0 };
    if wasted >= sbps {
        return Err(Bad::Invalid("wasted bits leave no sample bits"));
    }
    let bps = sbps - wasted;
    let n = buf.len();
    match kind {
        0 => {
            let v = bits.read_signed(bps)?;
            buf.fill(v);
        }
        1 => {
            for v in buf.iter_mut() {
                *v = bits.read_signed(bps)?;
            }
        }
        8..=12 => {
            let order = (kind - 8) as usize;
            if order > n {
                return Err(Bad::Invalid("predictor order above the block size"));
            }
            for v in buf[..order].iter_mut() {
                *v = bits.read_signed(bps)?;
            }
            read_residual(bits, order, buf)?;
            restore_fixed(order, buf);
        }
        32..=63 => {
            let order = (kind - 31) as usize;
            if order > n {
                return Err(Bad::Invalid("predictor order above the block size"));
            }
            for v in buf[..order].iter_mut() {
                *v = bits.read_signed(bps)?;
            }
            let precision = bits.read(4)? + 1;
            if precision == 16 {
                return Err(Bad::Invalid("invalid LPC coefficient precision"));
            }
            let shift = bits.read_signed(5)?;
            if shift < 0 {
                return Err(Bad::Invalid("negative LPC shift"));
            }
            for c in coefs[..order].iter_mut() {
                *c = bits.read_signed(precision)?;
            }
            read_residual(bits, order, buf)?;
            restore_lpc(&coefs[..order], shift as u32, bps, buf);
        }
        _ => return Err(Bad::Invalid("reserved subframe type")),
    }
    if wasted > 0 {
        for v in buf.iter_mut() {
            *v = v.wrapping_shl(wasted);
        }
    }
    Ok(())
}

fn read_residual(bits: &mut Bits, order: usize, buf: &mut [i32]) -> Result<(), Bad> {
    let param_bits = match bits.read(2)? {
        0 => 4,
        1 => 5,
        _ => return Err(Bad::Invalid("reserved residual coding method")),
    };
    let escape = (1u32 << param_bits) - 1;
    let porder = bits.read(4)?;
    let n = buf.len();
    let psize = n >> porder;
    if psize << porder != n || psize < order {
        return Err(Bad::Invalid("residual partitions do not fit the block"));
    }
    let mut i = order;
    for p in 0..(1usize << porder) {
        let end = (p + 1) * psize;
        let k = bits.read(param_bits)?;
        if k == escape {
            let width = bits.read(5)?;
            for v in buf[i..end].iter_mut() {
                *v = bits.read_signed(width)?;
            }
        } else {
            bits.read_rice_block(k, &mut buf[i..end])?;
        }
        i = end;
    }
    Ok(())
}
