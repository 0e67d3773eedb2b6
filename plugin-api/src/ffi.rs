//! Helpers on the ABI's [`Str`] view, for both sides of the boundary.

use std::marker::PhantomData;
use std::str::Utf8Error;

use crate::abi::{Point, Str};

impl<'a> Str<'a> {
    /// The empty string.
    pub const EMPTY: Str<'static> = Str::new("");

    /// A view of a Rust string.
    pub const fn new(s: &'a str) -> Self {
        Self::from_bytes(s.as_bytes())
    }

    /// A view of bytes (state values need not be UTF-8).
    pub const fn from_bytes(bytes: &'a [u8]) -> Self {
        Self {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            _life: PhantomData,
        }
    }

    /// The viewed bytes. A null `ptr` is accepted when `len` is 0.
    ///
    /// # Safety
    ///
    /// Unless `len` is 0, `ptr` must point to `len` initialized bytes that stay valid and
    /// unchanged for `'a` (for a view received across the boundary: until the call that
    /// carried it returns).
    pub unsafe fn as_bytes(&self) -> &'a [u8] {
        if self.len == 0 || self.ptr.is_null() {
            return &[];
        }
        // SAFETY: non-null, and the caller guarantees `len` valid bytes for `'a`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The viewed string, if it is UTF-8.
    ///
    /// # Safety
    ///
    /// As for [`Str::as_bytes`].
    pub unsafe fn to_str(&self) -> Result<&'a str, Utf8Error> {
        // SAFETY: forwarded to the caller.
        std::str::from_utf8(unsafe { self.as_bytes() })
    }

    /// The viewed string, copied; invalid UTF-8 sequences become `U+FFFD`.
    ///
    /// # Safety
    ///
    /// As for [`Str::as_bytes`].
    pub unsafe fn to_string_lossy(&self) -> String {
        // SAFETY: forwarded to the caller.
        String::from_utf8_lossy(unsafe { self.as_bytes() }).into_owned()
    }
}

/// Views from a `(ptr, len)` array received across the boundary (a list of names); null is
/// accepted when `len` is 0.
///
/// # Safety
///
/// Unless `len` is 0, `ptr` must point to `len` valid views that, with the bytes they view,
/// stay valid for `'a`.
pub unsafe fn strs<'a>(ptr: *const Str<'a>, len: usize) -> &'a [Str<'a>] {
    if len == 0 || ptr.is_null() {
        return &[];
    }
    // SAFETY: non-null, and the caller guarantees `len` valid views for `'a`.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

impl<'a> From<&'a str> for Str<'a> {
    fn from(s: &'a str) -> Self {
        Str::new(s)
    }
}

/// Points from a `(ptr, len)` pair received across the boundary; null is accepted when `len`
/// is 0.
///
/// # Safety
///
/// Unless `len` is 0, `ptr` must point to `len` valid, aligned points that stay valid for
/// `'a`.
pub(crate) unsafe fn points<'a>(ptr: *const Point, len: usize) -> &'a [Point] {
    if len == 0 || ptr.is_null() {
        return &[];
    }
    // SAFETY: non-null, and the caller guarantees `len` valid points for `'a`.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = Str::new("héllo");
        // SAFETY: `s` views a live string literal.
        assert_eq!(unsafe { s.to_str() }, Ok("héllo"));
        let b = Str::from_bytes(&[0xff, b'a']);
        // SAFETY: `b` views a live array.
        assert_eq!(unsafe { b.to_string_lossy() }, "\u{fffd}a");
        let null = Str {
            ptr: std::ptr::null(),
            len: 0,
            _life: PhantomData,
        };
        // SAFETY: len 0 with a null pointer is explicitly accepted.
        assert_eq!(unsafe { null.as_bytes() }, b"");
        // SAFETY: as above.
        assert!(unsafe { points(std::ptr::null(), 0) }.is_empty());
    }
}
