//! The two checksums of a FLAC frame: CRC-8 over the header (polynomial
//! 0x07) and CRC-16 over the whole frame (polynomial 0x8005), both MSB first
//! with a zero start value. The CRC-16 runs slicing-by-16 (sixteen tables,
//! sixteen bytes a step): it covers every byte of the stream, so it must be cheap.

const fn crc8_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x80 != 0 { (c << 1) ^ 0x07 } else { c << 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

const fn crc16_tables() -> [[u16; 256]; 16] {
    let mut t = [[0u16; 256]; 16];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000 != 0 { (c << 1) ^ 0x8005 } else { c << 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    // t[s][i]: the CRC of byte i followed by s zero bytes.
    let mut s = 1;
    while s < 16 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

static CRC8: [u8; 256] = crc8_table();
static CRC16: [[u16; 256]; 16] = crc16_tables();

/// CRC-8 of `data` (a frame header).
pub fn crc8(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |c, &b| CRC8[(c ^ b) as usize])
}

/// CRC-16 of `data` (a whole frame up to its CRC field).
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    let mut chunks = data.chunks_exact(16);
    for c in &mut chunks {
        let hi = (crc >> 8) as u8 ^ c[0];
        let lo = (crc & 0xff) as u8 ^ c[1];
        let mut x = CRC16[15][hi as usize] ^ CRC16[14][lo as usize];
        for (t, &b) in CRC16[..14].iter().rev().zip(&c[2..]) {
            x ^= t[b as usize];
        }
        crc = x;
    }
    for &b in chunks.remainder() {
        crc = (crc << 8) ^ CRC16[0][((crc >> 8) as u8 ^ b) as usize];
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc16_bitwise(data: &[u8]) -> u16 {
        let mut c: u16 = 0;
        for &b in data {
            c ^= (b as u16) << 8;
            for _ in 0..8 {
                c = if c & 0x8000 != 0 { (c << 1) ^ 0x8005 } else { c << 1 };
            }
        }
        c
    }

    #[test]
    fn check_values() {
        // CRC-8/SMBUS and CRC-16/UMTS (BUYPASS) of "123456789".
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc16(b"123456789"), 0xFEE8);
    }

    #[test]
    fn sliced_equals_bitwise_for_every_length() {
        let data: Vec<u8> = (0..100u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        for n in 0..data.len() {
            assert_eq!(crc16(&data[..n]), crc16_bitwise(&data[..n]), "length {n}");
        }
    }
}
