//! Bounds-checked reading of opcode arguments: every length is checked against the bytes left
//! before anything is sliced.

use super::PickleError;
use crate::pickle::opcodes as op;
use crate::pynum;

pub(super) struct Reader<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Skips `n` argument bytes, returning where they start; checks the length first.
    pub(super) fn skip(
        &mut self,
        n: u64,
        opcode: &'static str,
        at: usize,
    ) -> Result<usize, PickleError> {
        let available = self.remaining();
        match usize::try_from(n) {
            Ok(len) if len <= available => {
                let start = self.pos;
                self.pos += len;
                Ok(start)
            }
            _ => Err(PickleError::Truncated {
                opcode,
                offset: at,
                needed: n,
                available,
            }),
        }
    }

    pub(super) fn bytes(
        &mut self,
        n: u64,
        opcode: &'static str,
        at: usize,
    ) -> Result<&'a [u8], PickleError> {
        let start = self.skip(n, opcode, at)?;
        Ok(self.buf.get(start..self.pos).unwrap_or_default())
    }

    pub(super) fn array<const N: usize>(
        &mut self,
        opcode: &'static str,
        at: usize,
    ) -> Result<[u8; N], PickleError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N as u64, opcode, at)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self, opcode: &'static str, at: usize) -> Result<u8, PickleError> {
        Ok(self.array::<1>(opcode, at)?[0])
    }

    /// The memo key after memo opcode `code` (called `opcode`): one byte after BINPUT and
    /// BINGET, four little-endian bytes after LONG_BINPUT and LONG_BINGET, a decimal line
    /// after PUT and GET.
    #[inline]
    pub(super) fn memo_key(
        &mut self,
        code: u8,
        opcode: &'static str,
        at: usize,
    ) -> Result<u64, PickleError> {
        match code {
            op::BINPUT | op::BINGET => Ok(u64::from(self.u8(opcode, at)?)),
            op::LONG_BINPUT | op::LONG_BINGET => {
                Ok(u64::from(u32::from_le_bytes(self.array(opcode, at)?)))
            }
            _ => {
                let line = self.line(opcode, at)?;
                pynum::parse_index(line).ok_or(bad(opcode, at, "bad memo key"))
            }
        }
    }

    /// A protocol-0 text argument: up to the next newline, which is consumed.
    pub(super) fn line(
        &mut self,
        opcode: &'static str,
        at: usize,
    ) -> Result<&'a [u8], PickleError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(PickleError::UnterminatedLine { opcode, offset: at })?;
        self.pos += n + 1;
        Ok(rest.get(..n).unwrap_or_default())
    }
}

pub(super) fn bad(opcode: &'static str, offset: usize, detail: &'static str) -> PickleError {
    PickleError::BadArgument {
        opcode,
        offset,
        detail,
    }
}
