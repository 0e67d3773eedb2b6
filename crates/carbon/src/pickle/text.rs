//! The two escaped text encodings of protocol 0: `STRING` (a quoted Python bytes literal,
//! decoded like `codecs.escape_decode`) and `UNICODE` (`raw-unicode-escape`).

/// Appends the unescaped contents of a `STRING` argument (quotes already removed) to `out`.
pub(crate) fn unescape_string(s: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = s.get(i) else {
            return Err("trailing \\ in STRING argument");
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut value = u32::from(e - b'0');
                for _ in 0..2 {
                    match s.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                // Python keeps the low byte of "\777" (with a deprecation warning).
                out.push((value & 0xff) as u8);
            }
            b'x' => {
                let hex = s
                    .get(i..i + 2)
                    .ok_or("invalid \\x escape in STRING argument")?;
                let value = hex_value(hex).ok_or("invalid \\x escape in STRING argument")?;
                out.push((value & 0xff) as u8);
                i += 2;
            }
            // Unknown escapes stay as they are, backslash included.
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(())
}

/// Appends the `raw-unicode-escape` decoding of `s` to `out` as UTF-8. Plain bytes are
/// Latin-1 code points; `\uXXXX` and `\UXXXXXXXX` (after an odd number of backslashes) are
/// escapes. A lone surrogate is written in its 3-byte form, which is not valid UTF-8, so a name
/// holding one is later treated as undecodable, as Python would fail to encode it.
pub(crate) fn decode_raw_unicode_escape(s: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        i += 1;
        if c != b'\\' {
            push_code_point(u32::from(c), out);
            continue;
        }
        let Some(&e) = s.get(i) else {
            out.push(b'\\');
            continue;
        };
        i += 1;
        let count = match e {
            b'u' => 4,
            b'U' => 8,
            other => {
                out.push(b'\\');
                push_code_point(u32::from(other), out);
                continue;
            }
        };
        let hex = s
            .get(i..i + count)
            .ok_or("truncated \\uXXXX escape in UNICODE argument")?;
        let cp = hex_value(hex).ok_or("truncated \\uXXXX escape in UNICODE argument")?;
        if cp > 0x10_ffff {
            return Err("\\Uxxxxxxxx out of range in UNICODE argument");
        }
        push_code_point(cp, out);
        i += count;
    }
    Ok(())
}

fn hex_value(hex: &[u8]) -> Option<u32> {
    hex.iter()
        .try_fold(0u32, |acc, &h| Some(acc * 16 + char::from(h).to_digit(16)?))
}

/// UTF-8 encoding of any code point up to U+10FFFF, surrogates included (as WTF-8 does).
fn push_code_point(cp: u32, out: &mut Vec<u8>) {
    match cp {
        0..=0x7f => out.push(cp as u8),
        0x80..=0x7ff => out.extend_from_slice(&[0xc0 | (cp >> 6) as u8, 0x80 | (cp & 0x3f) as u8]),
        0x800..=0xffff => out.extend_from_slice(&[
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
        _ => out.extend_from_slice(&[
            0xf0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3f) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &[u8]) -> Result<Vec<u8>, &'static str> {
        let mut out = Vec::new();
        unescape_string(s, &mut out).map(|()| out)
    }

    fn unicode(s: &[u8]) -> Result<String, &'static str> {
        let mut out = Vec::new();
        decode_raw_unicode_escape(s, &mut out)?;
        String::from_utf8(out).map_err(|_| "not utf-8")
    }

    #[test]
    fn string_escapes() {
        assert_eq!(string(br"a\nb\\c\'d").unwrap(), b"a\nb\\c'd");
        assert_eq!(string(br"\x41\101\0\q").unwrap(), b"AA\0\\q");
        assert!(string(br"abc\").is_err());
        assert!(string(br"\x4").is_err());
        assert!(string(br"\xzz").is_err());
    }

    #[test]
    fn raw_unicode_escapes() {
        assert_eq!(unicode(b"syn.unicode.\xfc").unwrap(), "syn.unicode.ü");
        assert_eq!(unicode(br"a\u00fcb\U0001F600").unwrap(), "aüb😀");
        assert_eq!(unicode(br"a\\u0041").unwrap(), r"a\\u0041");
        assert_eq!(unicode(br"a\x").unwrap(), r"a\x");
        assert_eq!(unicode(br"end\").unwrap(), r"end\");
        assert!(unicode(br"\u12").is_err());
        assert!(unicode(br"\U00110000").is_err());
        assert!(unicode(br"\ud800").is_err()); // lone surrogate: not UTF-8
    }
}
