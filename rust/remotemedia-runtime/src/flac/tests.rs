//! Streams built here bit by bit (a minimal encoder: VERBATIM, CONSTANT,
//! FIXED and LPC subframes, Rice and escaped partitions, stereo modes),
//! decoded back; and damaged streams, refused without a panic. Streams
//! from real encoders are checked against libsndfile in the Python suite
//! (tests/test_flac_decode.py).

use super::crc::{crc16, crc8};
use super::*;

#[derive(Default)]
struct Writer {
    bytes: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Writer {
    fn put(&mut self, bits: u32, v: u64) {
        for i in (0..bits).rev() {
            self.acc = (self.acc << 1) | ((v >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.bytes.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }
    }
    fn put_signed(&mut self, bits: u32, v: i32) {
        self.put(bits, (v as u32 & (u32::MAX >> (32 - bits))) as u64);
    }
    fn rice(&mut self, k: u32, v: i32) {
        let u = ((v << 1) ^ (v >> 31)) as u32;
        for _ in 0..(u >> k) {
            self.put(1, 0);
        }
        self.put(1, 1);
        self.put(k, (u & ((1 << k) - 1)) as u64);
    }
    fn align(&mut self) {
        while self.n != 0 {
            self.put(1, 0);
        }
    }
}

/// How one channel of a frame is coded.
#[derive(Clone, Copy)]
enum Coding {
    Verbatim,
    Constant,
    Fixed(usize),
    /// LPC order 2 with coefficients (2, -1), shift 0: the same prediction as FIXED 2.
    Lpc2,
    /// FIXED 1 with escaped (raw) partitions.
    Escaped,
}

fn subframe(w: &mut Writer, x: &[i32], bps: u32, coding: Coding, wasted: u32) {
    let x: Vec<i32> = x.iter().map(|v| v >> wasted).collect();
    let bps = bps - wasted;
    let kind = match coding {
        Coding::Verbatim => 1,
        Coding::Constant => 0,
        Coding::Fixed(o) => 8 + o as u64,
        Coding::Lpc2 => 32 + 1,
        Coding::Escaped => 9,
    };
    w.put(1, 0);
    w.put(6, kind);
    if wasted > 0 {
        w.put(1, 1);
        w.put(wasted - 1, 0);
        w.put(1, 1);
    } else {
        w.put(1, 0);
    }
    let order = match coding {
        Coding::Verbatim => {
            x.iter().for_each(|&v| w.put_signed(bps, v));
            return;
        }
        Coding::Constant => {
            w.put_signed(bps, x[0]);
            return;
        }
        Coding::Fixed(o) => o,
        Coding::Lpc2 | Coding::Escaped => {
            if matches!(coding, Coding::Lpc2) {
                2
            } else {
                1
            }
        }
    };
    for &v in &x[..order] {
        w.put_signed(bps, v);
    }
    if matches!(coding, Coding::Lpc2) {
        w.put(4, 4); // precision 5
        w.put_signed(5, 0); // shift
        w.put_signed(5, 2);
        w.put_signed(5, -1);
    }
    let mut res = x.clone();
    let diffs = if matches!(coding, Coding::Lpc2) { 2 } else { order };
    for _ in 0..diffs {
        for i in (1..res.len()).rev() {
            res[i] -= res[i - 1];
        }
    }
    // Two partitions (the block size is even in these tests), method 1 (5-bit parameters).
    w.put(2, 1);
    w.put(4, 1);
    let half = x.len() / 2;
    for (lo, hi) in [(order, half), (half, x.len())] {
        if matches!(coding, Coding::Escaped) {
            w.put(5, 31);
            w.put(5, bps as u64 + 2);
            res[lo..hi].iter().for_each(|&v| w.put_signed(bps + 2, v));
        } else {
            let k = 3;
            w.put(5, k as u64);
            res[lo..hi].iter().for_each(|&v| w.rice(k, v));
        }
    }
}

/// A stream of `chans` (planar) in frames of `block` frames, 16-bit.
fn encode(chans: &[Vec<i32>], rate: u32, block: usize, coding: Coding, assignment: u32, wasted: u32) -> Vec<u8> {
    encode_sizes(chans, rate, &[block], false, coding, assignment, wasted)
}

/// The frame or sample number as FLAC codes it (UTF-8's scheme, up to 36 bits).
fn put_number(w: &mut Writer, v: u64) {
    if v < 0x80 {
        return w.put(8, v);
    }
    let n = (2..=7u32).find(|&n| v < 1u64 << (5 * n + 1)).unwrap();
    let lead = (0xFF00u64 >> n) & 0xFF;
    w.put(8, lead | (v >> (6 * (n - 1))));
    for i in (0..n - 1).rev() {
        w.put(8, 0x80 | ((v >> (6 * i)) & 0x3f));
    }
}

/// As [`encode`], frame sizes taken from `sizes` in turn; `variable`: a
/// variable-blocksize stream (frames numbered by their first sample).
fn encode_sizes(
    chans: &[Vec<i32>],
    rate: u32,
    sizes: &[usize],
    variable: bool,
    coding: Coding,
    assignment: u32,
    wasted: u32,
) -> Vec<u8> {
    let block = *sizes.iter().max().unwrap();
    let bps = 16u32;
    let frames = chans[0].len();
    let mut out = b"fLaC".to_vec();
    let mut si = Writer::default();
    si.put(16, block as u64);
    si.put(16, block as u64);
    si.put(24, 0);
    si.put(24, 0);
    si.put(20, rate as u64);
    si.put(3, chans.len() as u64 - 1);
    si.put(5, bps as u64 - 1);
    si.put(36, frames as u64);
    si.put(64, 0);
    si.put(64, 0);
    out.extend_from_slice(&[0, 0, 0, 34]);
    out.extend_from_slice(&si.bytes);
    // A PADDING block, last.
    out.extend_from_slice(&[0x81, 0, 0, 5, 0, 0, 0, 0, 0]);
    let mut t = 0;
    let mut index = 0;
    while t < frames {
        let n = sizes[index % sizes.len()].min(frames - t);
        let start = out.len();
        let mut w = Writer::default();
        w.put(15, 0b111111111111100);
        w.put(1, variable as u64);
        w.put(4, 7); // 16-bit block size at the end
        w.put(4, 0); // rate from STREAMINFO
        w.put(4, assignment as u64);
        w.put(3, 4); // 16 bits
        w.put(1, 0);
        put_number(&mut w, if variable { t as u64 } else { index as u64 });
        w.put(16, n as u64 - 1);
        let crc = crc8(&w.bytes);
        w.put(8, crc as u64);
        let seg: Vec<Vec<i32>> = chans.iter().map(|c| c[t..t + n].to_vec()).collect();
        let coded: Vec<(Vec<i32>, u32)> = match assignment {
            8 => vec![(seg[0].clone(), bps), (side(&seg), bps + 1)],
            9 => vec![(side(&seg), bps + 1), (seg[1].clone(), bps)],
            10 => {
                let mid = seg[0].iter().zip(&seg[1]).map(|(l, r)| (l + r) >> 1).collect();
                vec![(mid, bps), (side(&seg), bps + 1)]
            }
            _ => seg.into_iter().map(|c| (c, bps)).collect(),
        };
        for (c, b) in &coded {
            subframe(&mut w, c, *b, coding, wasted);
        }
        w.align();
        out.extend_from_slice(&w.bytes);
        let crc = crc16(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
        t += n;
        index += 1;
    }
    out
}

fn side(seg: &[Vec<i32>]) -> Vec<i32> {
    seg[0].iter().zip(&seg[1]).map(|(l, r)| l - r).collect()
}

fn signal(frames: usize, channel: usize) -> Vec<i32> {
    (0..frames)
        .map(|i| {
            let x = i as f64 * (0.03 + 0.01 * channel as f64);
            ((x.sin() * 12000.0) as i32 + ((i * 7919 + channel) % 61) as i32 - 30) & !3
        })
        .collect()
}

/// `chans` in blocks of `block` frames, each planar: what `decode` must give.
fn blocked(chans: &[Vec<i32>], block: usize) -> Vec<i16> {
    let frames = chans[0].len();
    let mut out = Vec::new();
    for t in (0..frames).step_by(block) {
        for c in chans {
            out.extend(c[t..(t + block).min(frames)].iter().map(|&v| v as i16));
        }
    }
    out
}

#[test]
fn decodes_every_coding_and_channel_mode() {
    let codings = [
        Coding::Verbatim,
        Coding::Fixed(0),
        Coding::Fixed(1),
        Coding::Fixed(2),
        Coding::Fixed(3),
        Coding::Fixed(4),
        Coding::Lpc2,
        Coding::Escaped,
    ];
    for coding in codings {
        for (nch, assignment) in [(1, 0), (2, 1), (2, 8), (2, 9), (2, 10), (3, 2)] {
            for wasted in [0, 1] {
                let chans: Vec<Vec<i32>> = (0..nch).map(|c| signal(1000, c)).collect();
                let data = encode(&chans, 16000, 256, coding, assignment, wasted);
                for block in [1000, 300, 7] {
                    // Both copies of the Rice loop: portable, and BMI2 where this CPU has it.
                    for bmi2 in [None, crate::cpu::Bmi2Lzcnt::detect()] {
                        let mut out = vec![0i16; 1000 * nch];
                        let info = decode_on(&data, nch, 1000, block, &mut out, bmi2).unwrap();
                        assert_eq!(info.sample_rate, 16000);
                        assert!(out == blocked(&chans, block), "assignment {assignment}, block {block}");
                    }
                }
                let mut wide = vec![0i32; 1000 * nch];
                decode(&data, nch, 1000, 1000, &mut wide).unwrap();
                assert_eq!(wide, chans.concat());
            }
        }
    }
}

#[test]
fn constant_subframes() {
    let chans = vec![vec![-1234; 600], vec![0; 600]];
    let data = encode(&chans, 8000, 256, Coding::Constant, 1, 0);
    let mut out = vec![0i16; 1200];
    decode(&data, 2, 600, 600, &mut out).unwrap();
    assert_eq!(out, blocked(&chans, 600));
}

#[test]
fn refuses_what_differs_from_the_expectation() {
    let chans = vec![signal(500, 0)];
    let data = encode(&chans, 16000, 128, Coding::Fixed(2), 0, 0);
    let mut out = vec![0i16; 500];
    assert!(decode(&data, 2, 500, 500, &mut [0i16; 1000]).is_err());
    assert!(decode(&data, 1, 499, 500, &mut out[..499]).is_err());
    assert!(decode(&data, 1, 500, 500, &mut out[..499]).is_err());
    assert!(decode(&data, 1, 500, 0, &mut out).is_err());
    assert!(decode(&data[..data.len() - 1], 1, 500, 500, &mut out).is_err());
    assert!(decode(b"RIFF....WAVE", 1, 500, 500, &mut out).is_err());
    decode(&data, 1, 500, 500, &mut out).unwrap();
}

#[test]
fn damaged_streams_are_refused_never_panic() {
    let chans: Vec<Vec<i32>> = (0..2).map(|c| signal(700, c)).collect();
    let good = encode(&chans, 44100, 192, Coding::Fixed(2), 10, 0);
    let mut out = vec![0i16; 1400];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut data = good.clone();
        let at = 4 + (next() as usize) % (data.len() - 4);
        let bit = (next() % 8) as u32;
        data[at] ^= 1 << bit;
        if next() % 4 == 0 {
            data.truncate((next() as usize) % data.len());
        }
        // A frame's byte flipped must fail its CRC; any damage must be an error, not a panic.
        if at >= 51 || data.len() < good.len() {
            assert!(decode(&data, 2, 700, 333, &mut out).is_err(), "flip at {at}");
        } else {
            let _ = decode(&data, 2, 700, 333, &mut out);
        }
    }
}

#[test]
fn variable_block_sizes_and_long_frame_numbers() {
    let chans: Vec<Vec<i32>> = (0..2).map(|c| signal(40_000, c)).collect();
    for variable in [false, true] {
        let sizes: &[usize] = if variable { &[256, 100, 50, 300] } else { &[192] };
        let data = encode_sizes(&chans, 48000, sizes, variable, Coding::Fixed(2), 10, 0);
        let mut out = vec![0i16; 80_000];
        decode(&data, 2, 40_000, 4800, &mut out).unwrap();
        assert!(out == blocked(&chans, 4800), "variable {variable}");
    }
    // Frames of several sizes in a fixed-blocksize stream (numbered by frame) are refused.
    let data = encode_sizes(&chans, 48000, &[256, 100], false, Coding::Fixed(1), 1, 0);
    let mut out = vec![0i16; 80_000];
    let err = decode(&data, 2, 40_000, 4800, &mut out).unwrap_err();
    assert!(err.to_string().contains("block size changes"), "{err}");
}
