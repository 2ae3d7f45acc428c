//! A big-endian bit reader over a byte slice with a 64-bit buffer.
//!
//! The buffer is left-aligned: its top `avail` bits are the next bits of
//! the stream. A refill loads eight bytes at once and keeps whole bytes
//! (so `avail` ends between 56 and 63); the bits below `avail` are then
//! either zero or the stream's following bits, never anything else, which
//! is what lets a unary code be read with one `leading_zeros`. Reading past
//! the end is an error ([`Truncated`]), never a panic.

/// The stream ended inside a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncated;

pub type Res<T> = Result<T, Truncated>;

/// Longest unary run accepted in a Rice code: far beyond any real
/// residual (2^24 zero bits), it only stops corrupt data early.
const MAX_UNARY: u32 = 1 << 24;

pub struct Bits<'a> {
    data: &'a [u8],
    /// Present when the CPU has BMI2 and LZCNT: the Rice loop then runs its copy built for them.
    bmi2: Option<crate::cpu::Bmi2Lzcnt>,
    /// Next byte to load into `buf`.
    pos: usize,
    buf: u64,
    avail: u32,
}

impl<'a> Bits<'a> {
    /// A reader starting at byte `pos` of `data`; `bmi2`: the CPU's BMI2 and LZCNT, if it has them.
    pub fn new(data: &'a [u8], pos: usize, bmi2: Option<crate::cpu::Bmi2Lzcnt>) -> Self {
        let mut b = Bits {
            data,
            bmi2,
            pos: pos.min(data.len()),
            buf: 0,
            avail: 0,
        };
        b.refill();
        b
    }

    #[inline(always)]
    fn refill(&mut self) {
        if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            // avail <= 63 here: every caller refills only below 56.
            self.buf |= u64::from_be_bytes(word) >> self.avail;
            let take = (63 - self.avail) >> 3;
            self.pos += take as usize;
            self.avail += take << 3;
        } else {
            self.refill_tail();
        }
    }

    #[cold]
    fn refill_tail(&mut self) {
        // Byte by byte near the end; the bits below `avail` stay zero.
        let extra = if self.avail == 0 { 0 } else { 64 - self.avail };
        self.buf &= !((1u64 << extra).wrapping_sub(1));
        while self.avail <= 56 && self.pos < self.data.len() {
            self.buf |= (self.data[self.pos] as u64) << (56 - self.avail);
            self.pos += 1;
            self.avail += 8;
        }
    }

    /// Byte offset of the next unread bit (meaningful when byte-aligned).
    pub fn byte_pos(&self) -> usize {
        self.pos - (self.avail as usize >> 3)
    }

    /// Drops the bits up to the next byte boundary.
    pub fn align(&mut self) {
        let r = self.avail & 7;
        self.buf <<= r;
        self.avail -= r;
    }

    /// Reads `n` bits (0 to 32) as an unsigned value.
    #[inline(always)]
    pub fn read(&mut self, n: u32) -> Res<u32> {
        debug_assert!(n <= 32);
        if n == 0 {
            return Ok(0);
        }
        if self.avail < n {
            self.refill();
            if self.avail < n {
                return Err(Truncated);
            }
        }
        let v = (self.buf >> (64 - n)) as u32;
        self.buf <<= n;
        self.avail -= n;
        Ok(v)
    }

    /// Reads `n` bits (0 to 32) as a two's complement value.
    #[inline(always)]
    pub fn read_signed(&mut self, n: u32) -> Res<i32> {
        if n == 0 {
            return Ok(0);
        }
        let v = self.read(n)?;
        Ok(((v << (32 - n)) as i32) >> (32 - n))
    }

    /// Reads a unary count: the number of 0 bits before the next 1 bit.
    pub fn read_unary(&mut self) -> Res<u32> {
        let mut q = 0u32;
        loop {
            let lz = self.buf.leading_zeros();
            if lz < self.avail {
                self.buf <<= lz + 1;
                self.avail -= lz + 1;
                return Ok(q + lz);
            }
            q += self.avail;
            self.buf = 0;
            self.avail = 0;
            if q > MAX_UNARY {
                return Err(Truncated);
            }
            self.refill();
            if self.avail == 0 {
                return Err(Truncated);
            }
        }
    }

    /// Reads one Rice-coded signed value with parameter `k` (0 to 30).
    #[inline(never)]
    fn read_rice_slow(&mut self, k: u32) -> Res<i32> {
        let q = self.read_unary()?;
        let low = self.read(k)?;
        let u = (q << k) | low;
        Ok((u >> 1) as i32 ^ -((u & 1) as i32))
    }

    /// Fills `out` with Rice-coded signed values of parameter `k` (0 to 30):
    /// the residual's hot loop. The reader's state lives in locals for the
    /// loop (written back only around the rare slow path); most values fit
    /// in the buffer after one refill and take one `leading_zeros`, a few
    /// shifts and a zigzag.
    pub fn read_rice_block(&mut self, k: u32, out: &mut [i32]) -> Res<()> {
        #[cfg(target_arch = "x86_64")]
        if let Some(proof) = self.bmi2 {
            return self.read_rice_block_bmi2(proof, k, out);
        }
        self.rice_loop(k, out)
    }

    /// [`Self::rice_loop`] built for BMI2 and LZCNT (shifts by a register without
    /// moves through CL, a leading-zero count without the zero test): the same results.
    #[cfg(target_arch = "x86_64")]
    fn read_rice_block_bmi2(&mut self, _proof: crate::cpu::Bmi2Lzcnt, k: u32, out: &mut [i32]) -> Res<()> {
        #[target_feature(enable = "bmi2,lzcnt")]
        unsafe fn run(bits: &mut Bits<'_>, k: u32, out: &mut [i32]) -> Res<()> {
            bits.rice_loop(k, out)
        }
        // SAFETY: the token proves this CPU runs BMI2 and LZCNT instructions.
        unsafe { run(self, k, out) }
    }

    #[inline(always)]
    fn rice_loop(&mut self, k: u32, out: &mut [i32]) -> Res<()> {
        let data = self.data;
        let stop = 1u64 << k;
        let (mut buf, mut avail, mut pos) = (self.buf, self.avail, self.pos);
        // Four values per refill: a refill leaves 56 to 63 bits, which holds four
        // codes of the usual lengths; a code that does not fit refills again, and
        // one longer than the buffer (or at the data's end) takes the slow path.
        let mut groups = out.chunks_exact_mut(4);
        for group in &mut groups {
            if pos + 8 <= data.len() {
                // Unconditional: with avail already 56 or more no byte is taken and
                // the OR writes the bits the buffer already holds (see the module doc).
                let mut word = [0u8; 8];
                word.copy_from_slice(&data[pos..pos + 8]);
                buf |= u64::from_be_bytes(word) >> avail;
                // Whole bytes up to 56 to 63 bits: 7 - avail / 8 bytes taken.
                pos += 7 - (avail >> 3) as usize;
                avail |= 56;
            }
            for slot in group.iter_mut() {
                // `| 1`: a zero buffer counts 63, not 64, and goes to the slow path below.
                let mut lz = (buf | 1).leading_zeros();
                let mut used = lz + 1 + k;
                if used > avail {
                    if pos + 8 <= data.len() {
                        let mut word = [0u8; 8];
                        word.copy_from_slice(&data[pos..pos + 8]);
                        buf |= u64::from_be_bytes(word) >> avail;
                        pos += 7 - (avail >> 3) as usize;
                        avail |= 56;
                        lz = (buf | 1).leading_zeros();
                        used = lz + 1 + k;
                    }
                    if used > avail {
                        (self.buf, self.avail, self.pos) = (buf, avail, pos);
                        *slot = self.read_rice_slow(k)?;
                        (buf, avail, pos) = (self.buf, self.avail, self.pos);
                        continue;
                    }
                }
                // used <= avail <= 63: one shift moves past the whole code. `stop_low`, the
                // code's top `used` bits, is the stop bit and the k low bits (2^k + low):
                // u = q * 2^k + low. (`& 63`: the shift by 64 - used, which is 1 to 63.)
                let stop_low = buf >> (used.wrapping_neg() & 63);
                buf <<= used;
                avail -= used;
                let u = ((lz as u64) << k).wrapping_add(stop_low).wrapping_sub(stop) as u32;
                *slot = (u >> 1) as i32 ^ -((u & 1) as i32);
            }
        }
        (self.buf, self.avail, self.pos) = (buf, avail, pos);
        for slot in groups.into_remainder() {
            *slot = self.read_rice_slow(k)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_across_refills_and_the_end() {
        let data: Vec<u8> = (0..21u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        let mut want = Vec::new();
        for &b in &data {
            for s in (0..8).rev() {
                want.push((b >> s) & 1);
            }
        }
        // Widths 1..=13 in turn, checked against the bits one by one.
        let mut r = Bits::new(&data, 0, None);
        let mut at = 0;
        let mut n = 1;
        while at + n <= want.len() {
            let v = r.read(n as u32).unwrap();
            let exp = want[at..at + n].iter().fold(0u32, |a, &b| (a << 1) | b as u32);
            assert_eq!(v, exp, "at bit {at}, width {n}");
            at += n;
            n = n % 13 + 1;
        }
        assert_eq!(r.read((want.len() - at + 1) as u32), Err(Truncated));
    }

    #[test]
    fn unary_and_rice() {
        // 0001 1 | 01 0 | 1 1  -> unary 3 then bit, ...
        let data = [0b0001_1010, 0b1100_0000, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut r = Bits::new(&data, 0, None);
        assert_eq!(r.read_unary().unwrap(), 3);
        assert_eq!(r.read(1).unwrap(), 1);
        // Rice k=1: unary 1 (01), low 0 -> u=2 -> +1; then "1 1": q=0, low 1 -> u=1 -> -1.
        let mut out = [0i32; 2];
        r.read_rice_block(1, &mut out).unwrap();
        assert_eq!(out, [1, -1]);
        r.align();
        assert_eq!(r.byte_pos(), 2);
        let mut r = Bits::new(&[0u8; 3], 0, None);
        assert_eq!(r.read_unary(), Err(Truncated));
    }

    #[test]
    fn rice_block_equals_one_code_at_a_time() {
        // Every parameter, group remainders of 0 to 3, codes longer than a refill
        // (the zero-heavy bytes) and data that ends inside the block: the block
        // read gives the values, the bit position and the error of the careful
        // one-code reader.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let data: Vec<u8> = (0..600)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 97 < 9 {
                    0
                } else {
                    (x >> 24) as u8
                }
            })
            .collect();
        for k in 0..=30 {
            for n in [1usize, 2, 3, 4, 5, 6, 7, 9, 63, 200, 201, 202, 203, 5000] {
                for bmi2 in [None, crate::cpu::Bmi2Lzcnt::detect()] {
                    let mut a = Bits::new(&data, 1, bmi2);
                    let mut b = Bits::new(&data, 1, None);
                    let mut va = vec![0i32; n];
                    let ra = a.read_rice_block(k, &mut va);
                    let mut vb = vec![0i32; n];
                    let mut rb = Ok(());
                    for v in vb.iter_mut() {
                        match b.read_rice_slow(k) {
                            Ok(u) => *v = u,
                            Err(e) => {
                                rb = Err(e);
                                break;
                            }
                        }
                    }
                    assert_eq!(ra, rb, "k {k} n {n}");
                    if ra.is_ok() {
                        assert_eq!(va, vb, "k {k} n {n}");
                        assert_eq!(a.pos * 8 - a.avail as usize, b.pos * 8 - b.avail as usize);
                        assert_eq!(a.read(13), b.read(13), "k {k} n {n}");
                    }
                }
            }
        }
    }

    #[test]
    fn rice_loop_copies_agree() {
        // Random bytes read as Rice codes of every parameter: the portable loop and
        // the BMI2 copy (where this CPU has it) give the same values and positions.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let data: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 7;
                x ^= x >> 9;
                (x >> 11) as u8 | 0x11
            })
            .collect();
        for k in 0..=30 {
            let mut a = Bits::new(&data, 3, None);
            let mut b = Bits::new(&data, 3, crate::cpu::Bmi2Lzcnt::detect());
            let (mut va, mut vb) = (vec![0i32; 200], vec![0i32; 200]);
            for _ in 0..3 {
                let ra = a.read_rice_block(k, &mut va);
                let rb = b.read_rice_block(k, &mut vb);
                assert_eq!((ra, &va), (rb, &vb), "k {k}");
                assert_eq!((a.pos, a.avail, a.buf), (b.pos, b.avail, b.buf));
            }
        }
    }
}
