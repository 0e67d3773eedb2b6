//! Python's text-to-number rules, as carbon's Python receiver applies them.
//!
//! Carbon converts every timestamp and value with `float()` and the pickle `INT`/`LONG` opcodes
//! with `int(text, 0)`; senders rely on both (statsd sends numbers as strings), so these
//! functions follow CPython's grammar rather than Rust's.

/// Whitespace as Python's `str.strip()` sees it, limited to ASCII. (Python's `float()` also
/// accepts non-ASCII whitespace and digits such as `"١"`; no carbon sender emits those, and
/// they are refused here.)
pub(crate) fn is_py_space(b: u8) -> bool {
    matches!(b, b' ' | 0x09..=0x0d | 0x1c..=0x1f)
}

/// `bytes` without leading and trailing Python whitespace.
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_py_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_py_space(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// Removes PEP 515 underscores (only allowed between two digits of `is_digit`); `None` if one is
/// misplaced.
fn strip_underscores(s: &[u8], is_digit: impl Fn(u8) -> bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut prev: Option<u8> = None;
    for (i, &b) in s.iter().enumerate() {
        if b == b'_' {
            let next = s.get(i + 1).copied();
            if !prev.is_some_and(&is_digit) || !next.is_some_and(&is_digit) {
                return None;
            }
        } else {
            out.push(b);
        }
        prev = Some(b);
    }
    Some(out)
}

/// Python `float(text)`: surrounding whitespace, a sign, decimal or exponent notation, `inf`,
/// `infinity` and `nan` in any case, and underscores between digits. `None` where Python raises.
pub(crate) fn parse_float(text: &[u8]) -> Option<f64> {
    let s = trim(text);
    if s.is_empty() {
        return None;
    }
    if s.contains(&b'_') {
        let cleaned = strip_underscores(s, |b| b.is_ascii_digit())?;
        return std::str::from_utf8(&cleaned).ok()?.parse().ok();
    }
    // Rust's grammar equals Python's for what is left (checked for the cases that differ
    // elsewhere: "1.", ".5", "1.e3", "+nan", "Infinity").
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Exact powers of ten, `10^0` to `10^22` (the largest a double holds exactly).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Most significant digits [`parse_plain_decimal`] takes: below 2^53, so exact as a double.
const PLAIN_DIGITS: u32 = 15;

/// The common case of [`parse_float`], quickly: an optional sign, then digits with at most one
/// dot (`12`, `-0.5`, `3.`, `.25`), at most 15 significant digits and 22 after the dot. `None`
/// for anything else, including forms `parse_float` accepts.
///
/// The digits make an integer `m` below 2^53 and the dot a power of ten `10^k` with k ≤ 22,
/// both exact as doubles, so `m / 10^k` is one correctly rounded division: the double nearest
/// the decimal, which is what `float()` (and Rust's parser) return.
pub(crate) fn parse_plain_decimal(text: &[u8]) -> Option<f64> {
    let (negative, body) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0u32;
    let mut fraction: Option<u32> = None;
    let mut seen_digit = false;
    for &b in body {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                // Leading zeros are not significant.
                if mantissa > 0 {
                    digits += 1;
                    if digits > PLAIN_DIGITS {
                        return None;
                    }
                }
                seen_digit = true;
                if let Some(k) = fraction.as_mut() {
                    *k += 1;
                }
            }
            b'.' if fraction.is_none() => fraction = Some(0),
            _ => return None,
        }
    }
    if !seen_digit {
        return None;
    }
    let scale = POW10.get(fraction.unwrap_or(0) as usize)?;
    let magnitude = mantissa as f64 / scale;
    Some(if negative { -magnitude } else { magnitude })
}

/// A Python integer converted like `float(int)`: `Some(x)`, or `None` when it is too large for a
/// float (Python raises `OverflowError`).
pub(crate) type IntAsFloat = Option<f64>;

/// Python `int(text, 0)` (the pickle `INT` and `LONG` opcodes), converted to a float: whitespace,
/// sign, `0x`/`0o`/`0b` prefixes, underscores, no leading zeros on a non-zero decimal.
/// `Err(())` where Python raises `ValueError`.
pub(crate) fn parse_int_base0(text: &[u8]) -> Result<IntAsFloat, ()> {
    let s = trim(text);
    let (negative, s) = split_sign(s);
    let (base, digits) = match s {
        [b'0', b'x' | b'X', rest @ ..] => (16, rest),
        [b'0', b'o' | b'O', rest @ ..] => (8, rest),
        [b'0', b'b' | b'B', rest @ ..] => (2, rest),
        _ => (10, s),
    };
    // After a base prefix a single underscore may come first ("0x_ff").
    let digits = match (base, digits) {
        (10, d) => d,
        (_, [b'_', rest @ ..]) if rest.first().is_some_and(|&b| b != b'_') => rest,
        (_, d) => d,
    };
    let cleaned = clean_digits(digits, base).ok_or(())?;
    if base == 10 && cleaned.len() > 1 && cleaned.first() == Some(&b'0') {
        // Python refuses "012" in base 0, but accepts "000".
        if cleaned.iter().any(|&b| b != b'0') {
            return Err(());
        }
    }
    let magnitude = digits_to_f64(&cleaned, base);
    Ok(magnitude.map(|m| if negative { -m } else { m }))
}

/// Python `int(text)` in base 10, for memo indices: `None` if not an integer or outside `u64`
/// (negative indices are refused by pickle anyway).
pub(crate) fn parse_index(text: &[u8]) -> Option<u64> {
    let s = trim(text);
    let (negative, s) = split_sign(s);
    let cleaned = clean_digits(s, 10)?;
    let mut value: u64 = 0;
    for &d in cleaned.iter() {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative && value != 0 {
        return None;
    }
    Some(value)
}

fn split_sign(s: &[u8]) -> (bool, &[u8]) {
    match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    }
}

/// Digits of `base` with PEP 515 underscores removed; `None` if empty or malformed.
fn clean_digits(s: &[u8], base: u32) -> Option<std::borrow::Cow<'_, [u8]>> {
    let is_digit = |b: u8| char::from(b).is_digit(base);
    if s.is_empty() {
        return None;
    }
    if s.contains(&b'_') {
        let cleaned = strip_underscores(s, is_digit)?;
        if cleaned.is_empty() {
            return None;
        }
        return Some(cleaned.into());
    }
    s.iter().all(|&b| is_digit(b)).then_some(s.into())
}

/// Validated digits → float rounded like Python's `float(int)`; `None` on overflow.
fn digits_to_f64(digits: &[u8], base: u32) -> IntAsFloat {
    if base == 10 {
        if digits.len() <= 19 {
            let mut v: u64 = 0;
            for &d in digits {
                v = v * 10 + u64::from(d - b'0');
            }
            return Some(v as f64);
        }
        // The decimal parser rounds the exact integer correctly, as Python does.
        let parsed: f64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
        return parsed.is_finite().then_some(parsed);
    }
    // Bases 2, 8, 16: gather the bits into a little-endian magnitude.
    let bits_per_digit = base.trailing_zeros();
    let mut magnitude = Vec::with_capacity(digits.len() / 2 + 1);
    let (mut acc, mut nbits) = (0u32, 0u32);
    for &d in digits.iter().rev() {
        let value = char::from(d).to_digit(base)?;
        acc |= value << nbits;
        nbits += bits_per_digit;
        while nbits >= 8 {
            magnitude.push((acc & 0xff) as u8);
            acc >>= 8;
            nbits -= 8;
        }
    }
    if nbits > 0 {
        magnitude.push((acc & 0xff) as u8);
    }
    magnitude_le_to_f64(&magnitude)
}

/// An unsigned little-endian magnitude → nearest float (ties to even), `None` on overflow.
pub(crate) fn magnitude_le_to_f64(mag: &[u8]) -> IntAsFloat {
    let used = mag.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let mag = mag.get(..used).unwrap_or_default();
    if mag.len() <= 8 {
        let mut le = [0u8; 8];
        for (dst, src) in le.iter_mut().zip(mag) {
            *dst = *src;
        }
        return Some(u64::from_le_bytes(le) as f64);
    }
    let top = mag.last().copied().unwrap_or(0);
    let bits = (mag.len() - 1) * 8 + (8 - top.leading_zeros() as usize);
    let shift = bits - 64; // low bits that do not fit the 64-bit window
    let (byte_off, bit_off) = (shift / 8, shift % 8);
    let mut acc: u128 = 0;
    for i in 0..9 {
        let b = mag.get(byte_off + i).copied().unwrap_or(0);
        acc |= u128::from(b) << (8 * i);
    }
    let window = (acc >> bit_off) as u64;
    let low_mask = (1u16 << bit_off) as u8 - 1;
    let sticky = mag
        .get(..byte_off)
        .is_some_and(|low| low.iter().any(|&b| b != 0))
        || mag.get(byte_off).is_some_and(|&b| b & low_mask != 0);
    // The window has 11 bits beyond f64's 53; folding the sticky bit into its lowest bit makes
    // the single rounding of `as f64` a correct round-half-even of the whole number.
    let rounded = (window | u64::from(sticky)) as f64;
    if shift > 1023 {
        return None;
    }
    let scale = f64::from_bits((1023 + shift as u64) << 52);
    let value = rounded * scale;
    value.is_finite().then_some(value)
}

/// Little-endian two's-complement bytes (`LONG1`/`LONG4`) → float like Python's `float(int)`.
pub(crate) fn long_le_to_f64(bytes: &[u8]) -> IntAsFloat {
    let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
    if bytes.len() <= 8 {
        let mut le = if negative { [0xff; 8] } else { [0; 8] };
        for (dst, src) in le.iter_mut().zip(bytes) {
            *dst = *src;
        }
        return Some(i64::from_le_bytes(le) as f64);
    }
    if !negative {
        return magnitude_le_to_f64(bytes);
    }
    // |x| = !x + 1
    let mut magnitude: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for b in &mut magnitude {
        let (sum, carry) = b.overflowing_add(1);
        *b = sum;
        if !carry {
            break;
        }
    }
    magnitude_le_to_f64(&magnitude).map(|m| -m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_python() {
        assert_eq!(parse_float(b" 1.5\n"), Some(1.5));
        assert_eq!(parse_float(b"1e3"), Some(1000.0));
        assert_eq!(parse_float(b"1_000.5"), Some(1000.5));
        assert_eq!(parse_float(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_float(b"NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_float(b"1700000000"), Some(1_700_000_000.0));
        for bad in [
            &b""[..],
            b"  ",
            b"1_",
            b"_1",
            b"1__0",
            b"0x10",
            b"abc",
            b"1.5.",
            b"\xff",
        ] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn plain_decimals_are_exact() {
        for (text, want) in [
            (&b"0"[..], 0.0f64),
            (b"12", 12.0),
            (b"-0.5", -0.5),
            (b"+3.", 3.0),
            (b".25", 0.25),
            (b"1700000000", 1_700_000_000.0),
            (b"0.1", 0.1),
            (b"123456789012345", 123_456_789_012_345.0),
            (b"0.000000000000001", 1e-15),
            (b"0.0000000000000000000001", 1e-22),
            (b"000000000000000000000012", 12.0),
            (b"6250.0625", 6250.0625),
        ] {
            assert_eq!(
                parse_plain_decimal(text).map(f64::to_bits),
                Some(want.to_bits()),
                "{text:?}"
            );
        }
        assert_eq!(
            parse_plain_decimal(b"-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        // Left to the full parser: more digits, exponents, words, whitespace, underscores.
        for other in [
            &b""[..],
            b"-",
            b".",
            b"1234567890123456",
            b"0.00000000000000000000001",
            b"1e3",
            b"1.5.",
            b"inf",
            b"nan",
            b" 1",
            b"1 ",
            b"1_0",
            b"--1",
            b"0x10",
        ] {
            assert_eq!(parse_plain_decimal(other), None, "{other:?}");
        }
    }

    #[test]
    fn plain_decimals_agree_with_the_full_parser() {
        // Every digit count and dot position, with digits from a simple generator.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let len = 1 + (seed >> 60) as usize % 15;
            let mut text = Vec::new();
            if seed & 1 == 1 {
                text.push(b'-');
            }
            let mut d = seed >> 8;
            for _ in 0..len {
                text.push(b'0' + (d % 10) as u8);
                d /= 10;
                if d == 0 {
                    d = seed.rotate_left(17) >> 4;
                }
            }
            let dot = (seed >> 40) as usize % (len + 2);
            if dot <= len {
                text.insert(text.len() - len + dot, b'.');
            }
            assert_eq!(
                parse_plain_decimal(&text).map(f64::to_bits),
                parse_float(&text).map(f64::to_bits),
                "{}",
                String::from_utf8_lossy(&text)
            );
        }
    }

    #[test]
    fn ints_like_python_base0() {
        assert_eq!(parse_int_base0(b"1700000000"), Ok(Some(1_700_000_000.0)));
        assert_eq!(parse_int_base0(b" -3 "), Ok(Some(-3.0)));
        assert_eq!(parse_int_base0(b"000"), Ok(Some(0.0)));
        assert_eq!(parse_int_base0(b"0x_ff"), Ok(Some(255.0)));
        assert_eq!(parse_int_base0(b"0b101"), Ok(Some(5.0)));
        assert_eq!(parse_int_base0(b"0o17"), Ok(Some(15.0)));
        assert_eq!(parse_int_base0(b"1_000"), Ok(Some(1000.0)));
        assert_eq!(parse_int_base0(b"012"), Err(()));
        assert_eq!(parse_int_base0(b""), Err(()));
        assert_eq!(parse_int_base0(b"0x"), Err(()));
        assert_eq!(parse_int_base0(b"1.5"), Err(()));
        let big = format!("1{}", "0".repeat(400));
        assert_eq!(parse_int_base0(big.as_bytes()), Ok(None));
        // 2**64 + 1 rounds to 2**64
        assert_eq!(
            parse_int_base0(b"18446744073709551617"),
            Ok(Some(18_446_744_073_709_551_616.0))
        );
    }

    #[test]
    fn indices() {
        assert_eq!(parse_index(b"17"), Some(17));
        assert_eq!(parse_index(b"007"), Some(7));
        assert_eq!(parse_index(b"-1"), None);
        assert_eq!(parse_index(b"99999999999999999999999"), None);
    }

    #[test]
    fn longs_round_half_even() {
        assert_eq!(long_le_to_f64(&[]), Some(0.0));
        assert_eq!(long_le_to_f64(&[0xff]), Some(-1.0));
        assert_eq!(
            long_le_to_f64(&[0, 0, 0, 0, 0, 1]),
            Some(1_099_511_627_776.0)
        );
        // 2**80 + 1: 11 bytes
        let mut b = vec![0u8; 11];
        b[0] = 1;
        b[10] = 1;
        assert_eq!(long_le_to_f64(&b), Some(2f64.powi(80)));
        // 2**53 + 1 shifted to the top: exactly half way, ties to even (down)
        let x: u128 = ((1u128 << 53) + 1) << 40;
        let bytes = x.to_le_bytes();
        assert_eq!(long_le_to_f64(&bytes[..13]), Some((1u128 << 93) as f64));
        // (2**53 + 3) << 40 is half way between two floats; ties to even goes up
        let y: u128 = ((1u128 << 54) + 3) << 40;
        assert_eq!(magnitude_le_to_f64(&y.to_le_bytes()), Some(y as f64));
        // -(2**80)
        let neg = (-(1i128 << 80)).to_le_bytes();
        assert_eq!(long_le_to_f64(&neg[..11]), Some(-(2f64.powi(80))));
        // too big for a float
        let mut huge = vec![0u8; 130];
        huge[129] = 0x01;
        assert_eq!(long_le_to_f64(&huge), None);
    }
}
