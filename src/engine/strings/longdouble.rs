//! INCRBYFLOAT's arithmetic. Redis adds in C's `long double`, which on x86-64
//! is the x87 80-bit format (a 64-bit significand), parses with `strtold` and
//! prints with `%.17Lf`. Rust has no such type, so this module reproduces the
//! format in software: values are `significand * 2^exponent`, and every
//! operation computes the exact result with big integers before rounding it
//! once, to nearest with ties to even, as the hardware does.

use std::cmp::Ordering;

/// Exponent of the lowest significand bit of the smallest subnormal value.
const MIN_EXP: i32 = -16445;
/// Exponent of the lowest significand bit of the largest finite values.
const MAX_EXP: i32 = 16320;
/// Redis refuses numbers of this many characters or more.
const MAX_CHARS: usize = 5 * 1024;
/// Digits `%.17Lf` prints after the point.
const FRACTION_DIGITS: u32 = 17;

/// A finite or infinite extended-precision value (NaN is never produced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LongDouble {
    /// `(-1)^neg * significand * 2^exp`.
    Finite {
        /// Sign.
        neg: bool,
        /// Significand (zero for zero).
        significand: u64,
        /// Exponent of its lowest bit.
        exp: i32,
    },
    /// Infinity with a sign.
    Infinite(bool),
}

impl LongDouble {
    /// Zero.
    pub(super) const ZERO: LongDouble = LongDouble::Finite {
        neg: false,
        significand: 0,
        exp: 0,
    };

    /// Parses what `strtold` accepts in full, as Redis's `string2ld` does:
    /// no leading space, nothing left over, no NaN, nothing that overflows or
    /// underflows to zero.
    pub(super) fn parse(bytes: &[u8]) -> Option<LongDouble> {
        if bytes.is_empty() || bytes.len() >= MAX_CHARS {
            return None;
        }
        let (neg, rest) = match bytes[0] {
            b'-' => (true, &bytes[1..]),
            b'+' => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::Infinite(neg));
        }
        let value = match rest {
            [b'0', b'x' | b'X', hex @ ..] => parse_hex(neg, hex)?,
            _ => parse_decimal(neg, rest)?,
        };
        match value {
            LongDouble::Finite { .. } => Some(value),
            LongDouble::Infinite(_) => None,
        }
    }

    /// The correctly rounded sum; `None` when it is not a number (inf - inf).
    pub(super) fn add(self, other: LongDouble) -> Option<LongDouble> {
        let (
            LongDouble::Finite {
                neg: an,
                significand: a,
                exp: ae,
            },
            LongDouble::Finite {
                neg: bn,
                significand: b,
                exp: be,
            },
        ) = (self, other)
        else {
            return match (self, other) {
                (LongDouble::Infinite(x), LongDouble::Infinite(y)) if x != y => None,
                (LongDouble::Infinite(x), _) | (_, LongDouble::Infinite(x)) => {
                    Some(LongDouble::Infinite(x))
                }
                _ => None,
            };
        };
        if a == 0 && b == 0 {
            // Only -0 + -0 keeps the minus sign when rounding to nearest.
            return Some(LongDouble::Finite {
                neg: an && bn,
                significand: 0,
                exp: 0,
            });
        }
        let low = ae.min(be);
        let a = Big::from_u64(a).shl(shift_of(ae - low));
        let b = Big::from_u64(b).shl(shift_of(be - low));
        if an == bn {
            return Some(round(an, a.add(&b), low, false));
        }
        Some(match a.cmp(&b) {
            Ordering::Equal => LongDouble::ZERO,
            Ordering::Greater => round(an, a.sub(&b), low, false),
            Ordering::Less => round(bn, b.sub(&a), low, false),
        })
    }

    /// True for infinities.
    pub(super) fn is_infinite(self) -> bool {
        matches!(self, LongDouble::Infinite(_))
    }

    /// Redis's human-friendly text: `%.17Lf` without trailing zeros, and
    /// `-0` written as `0`.
    pub(super) fn to_redis_string(self) -> String {
        let LongDouble::Finite {
            neg,
            significand,
            exp,
        } = self
        else {
            return if self == LongDouble::Infinite(true) {
                "-inf".into()
            } else {
                "inf".into()
            };
        };
        let magnitude = Big::from_u64(significand);
        let mut digits = if exp >= 0 {
            magnitude.shl(shift_of(exp)).to_decimal()
        } else {
            let scaled = magnitude.mul_pow10(FRACTION_DIGITS);
            let shift = shift_of(-exp);
            let mut whole = scaled.shr(shift);
            let rest = scaled.sub(&whole.shl(shift));
            // Ties to even, as printf does in the default rounding mode.
            let twice = rest.shl(1);
            let half_unit = Big::from_u64(1).shl(shift);
            match twice.cmp(&half_unit) {
                Ordering::Greater => whole = whole.add(&Big::from_u64(1)),
                Ordering::Equal if whole.is_odd() => whole = whole.add(&Big::from_u64(1)),
                _ => {}
            }
            let mut text = whole.to_decimal();
            let fraction = FRACTION_DIGITS as usize;
            if text.len() <= fraction {
                text.insert_str(0, &"0".repeat(fraction + 1 - text.len()));
            }
            text.insert(text.len() - fraction, '.');
            let trimmed = text.trim_end_matches('0').trim_end_matches('.');
            trimmed.to_string()
        };
        if neg && digits != "0" {
            digits.insert(0, '-');
        }
        digits
    }
}

fn shift_of(bits: i32) -> usize {
    usize::try_from(bits).unwrap_or(0)
}

/// Rounds `(-1)^neg * n * 2^exp` to the format; `sticky` says that nonzero
/// bits were already dropped below `n`'s lowest bit (they must lie below the
/// rounding point, which callers ensure by passing enough bits).
fn round(neg: bool, n: Big, exp: i32, sticky: bool) -> LongDouble {
    if n.is_zero() {
        return LongDouble::Finite {
            neg,
            significand: 0,
            exp: 0,
        };
    }
    let len = i32::try_from(n.bit_len()).unwrap_or(i32::MAX);
    let lowest = exp.saturating_add(len).saturating_sub(64).max(MIN_EXP);
    let shift = lowest - exp;
    let (mut significand, mut lowest) = if shift <= 0 {
        (n.shl(shift_of(-shift)).to_u64(), lowest)
    } else {
        let shift = shift_of(shift);
        let kept = n.shr(shift).to_u64();
        let half = n.bit(shift - 1);
        let below = sticky || n.any_below(shift - 1);
        if half && (below || kept & 1 == 1) {
            match kept.checked_add(1) {
                Some(up) => (up, lowest),
                None => (1 << 63, lowest + 1),
            }
        } else {
            (kept, lowest)
        }
    };
    if significand == 0 {
        lowest = 0;
        significand = 0;
    }
    if lowest > MAX_EXP {
        return LongDouble::Infinite(neg);
    }
    LongDouble::Finite {
        neg,
        significand,
        exp: lowest,
    }
}

/// Splits `digits[.digits]` (radix `radix`) followed by an optional exponent
/// introduced by `marker`; answers the mantissa digits, how many came after
/// the point, and the exponent (saturated, so absurd exponents stay absurd).
fn split_number(text: &[u8], radix: u32, marker: u8) -> Option<(Vec<u8>, i64, i64)> {
    let mut digits = Vec::new();
    let mut after_point = 0i64;
    let mut seen_point = false;
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = char::from(c).to_digit(radix) {
            digits.push(d as u8);
            if seen_point {
                after_point += 1;
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits.is_empty() {
        return None;
    }
    let mut exponent = 0i64;
    if let Some(&c) = text.get(i) {
        if c.to_ascii_lowercase() != marker {
            return None;
        }
        let rest = &text[i + 1..];
        let (negative, rest) = match rest.first() {
            Some(b'-') => (true, &rest[1..]),
            Some(b'+') => (false, &rest[1..]),
            _ => (false, rest),
        };
        if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
            return None;
        }
        for &d in rest {
            exponent = (exponent * 10 + i64::from(d - b'0')).min(1 << 40);
        }
        if negative {
            exponent = -exponent;
        }
    }
    Some((digits, after_point, exponent))
}

fn parse_hex(neg: bool, text: &[u8]) -> Option<LongDouble> {
    let (digits, after_point, exponent) = split_number(text, 16, b'p')?;
    let mut n = Big::default();
    for d in digits {
        n = n.mul_small(16).add(&Big::from_u64(u64::from(d)));
    }
    let exp = exponent - 4 * after_point;
    finish(neg, n, exp)
}

fn parse_decimal(neg: bool, text: &[u8]) -> Option<LongDouble> {
    let (digits, after_point, exponent) = split_number(text, 10, b'e')?;
    let significant: Vec<u8> = digits.into_iter().skip_while(|&d| d == 0).collect();
    let exp10 = exponent - after_point;
    if significant.is_empty() {
        return Some(LongDouble::Finite {
            neg,
            significand: 0,
            exp: 0,
        });
    }
    // Out of reach either way: the largest value is about 1.19e4932, the
    // smallest about 3.6e-4951.
    let magnitude = significant.len() as i64 + exp10;
    if magnitude > 4934 {
        return None;
    }
    if magnitude < -4952 {
        return None;
    }
    let mut n = Big::default();
    for chunk in significant.chunks(9) {
        let mut part = 0u64;
        for &d in chunk {
            part = part * 10 + u64::from(d);
        }
        n = n
            .mul_small(10u32.pow(chunk.len() as u32))
            .add(&Big::from_u64(part));
    }
    let value = if exp10 >= 0 {
        round(neg, n.mul_pow10(u32::try_from(exp10).ok()?), 0, false)
    } else {
        let divisor = Big::from_u64(1).mul_pow10(u32::try_from(-exp10).ok()?);
        // Enough quotient bits that rounding sees the true half bit.
        let extra = (divisor.bit_len() + 66).saturating_sub(n.bit_len());
        let (quotient, remainder_nonzero) = n.shl(extra).div(&divisor);
        round(
            neg,
            quotient,
            -i32::try_from(extra).ok()?,
            remainder_nonzero,
        )
    };
    finish_rounded(value)
}

/// Rounds a hexadecimal number, `n * 2^exp`.
fn finish(neg: bool, n: Big, exp: i64) -> Option<LongDouble> {
    if n.is_zero() {
        return Some(LongDouble::Finite {
            neg,
            significand: 0,
            exp: 0,
        });
    }
    let top = exp.saturating_add(n.bit_len() as i64);
    if top > 16400 || top < i64::from(MIN_EXP) - 2 {
        return None;
    }
    finish_rounded(round(neg, n, i32::try_from(exp).ok()?, false))
}

/// Refuses what `strtold` reports as out of range: overflow, and underflow to zero.
fn finish_rounded(value: LongDouble) -> Option<LongDouble> {
    match value {
        LongDouble::Infinite(_) => None,
        LongDouble::Finite { significand: 0, .. } => None,
        finite => Some(finite),
    }
}

/// A minimal unsigned big integer: little-endian 32-bit limbs, no trailing zeros.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(n: u64) -> Big {
        let mut big = Big(vec![n as u32, (n >> 32) as u32]);
        big.trim();
        big
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn is_odd(&self) -> bool {
        self.0.first().is_some_and(|l| l & 1 == 1)
    }

    fn bit_len(&self) -> usize {
        self.0
            .last()
            .map_or(0, |top| self.0.len() * 32 - top.leading_zeros() as usize)
    }

    fn bit(&self, i: usize) -> bool {
        self.0.get(i / 32).is_some_and(|l| (l >> (i % 32)) & 1 == 1)
    }

    /// True when any bit below bit `i` is set.
    fn any_below(&self, i: usize) -> bool {
        let whole = i / 32;
        self.0[..whole.min(self.0.len())].iter().any(|&l| l != 0)
            || self
                .0
                .get(whole)
                .is_some_and(|l| l & ((1u32 << (i % 32)) - 1) != 0)
    }

    /// The low 64 bits (callers only ask when the value fits).
    fn to_u64(&self) -> u64 {
        let low = u64::from(self.0.first().copied().unwrap_or(0));
        let high = u64::from(self.0.get(1).copied().unwrap_or(0));
        low | high << 32
    }

    fn shl(&self, bits: usize) -> Big {
        if self.is_zero() {
            return Big::default();
        }
        let (limbs, rem) = (bits / 32, bits % 32);
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            if rem == 0 {
                out.push(l);
            } else {
                out.push(l << rem | carry);
                carry = l >> (32 - rem);
            }
        }
        out.push(carry);
        let mut big = Big(out);
        big.trim();
        big
    }

    fn shr(&self, bits: usize) -> Big {
        let (limbs, rem) = (bits / 32, bits % 32);
        if limbs >= self.0.len() {
            return Big::default();
        }
        let src = &self.0[limbs..];
        let mut out = Vec::with_capacity(src.len());
        for (i, &l) in src.iter().enumerate() {
            let next = src.get(i + 1).copied().unwrap_or(0);
            out.push(if rem == 0 {
                l
            } else {
                l >> rem | next << (32 - rem)
            });
        }
        let mut big = Big(out);
        big.trim();
        big
    }

    fn add(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            let sum = u64::from(self.0.get(i).copied().unwrap_or(0))
                + u64::from(other.0.get(i).copied().unwrap_or(0))
                + carry;
            out.push(sum as u32);
            carry = sum >> 32;
        }
        out.push(carry as u32);
        let mut big = Big(out);
        big.trim();
        big
    }

    /// `self - other`, for `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for (i, &l) in self.0.iter().enumerate() {
            let mut diff = i64::from(l) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = 0;
            if diff < 0 {
                diff += 1 << 32;
                borrow = 1;
            }
            out.push(diff as u32);
        }
        let mut big = Big(out);
        big.trim();
        big
    }

    fn mul_small(&self, m: u32) -> Big {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut carry = 0u64;
        for &l in &self.0 {
            let product = u64::from(l) * u64::from(m) + carry;
            out.push(product as u32);
            carry = product >> 32;
        }
        out.push(carry as u32);
        let mut big = Big(out);
        big.trim();
        big
    }

    fn mul_pow10(&self, mut power: u32) -> Big {
        let mut n = self.clone();
        while power > 0 {
            let step = power.min(9);
            n = n.mul_small(10u32.pow(step));
            power -= step;
        }
        n
    }

    /// The quotient of a division whose quotient is small (a few words), and
    /// whether the remainder is nonzero: schoolbook division bit by bit.
    fn div(&self, divisor: &Big) -> (Big, bool) {
        let top = self.bit_len().saturating_sub(divisor.bit_len());
        let mut rest = self.clone();
        let mut quotient = Big::default();
        for i in (0..=top).rev() {
            let shifted = divisor.shl(i);
            if rest.cmp(&shifted) != Ordering::Less {
                rest = rest.sub(&shifted);
                quotient = quotient.add(&Big::from_u64(1).shl(i));
            }
        }
        (quotient, !rest.is_zero())
    }

    fn divmod_small(&self, d: u32) -> (Big, u32) {
        let mut out = vec![0u32; self.0.len()];
        let mut rem = 0u64;
        for i in (0..self.0.len()).rev() {
            let cur = rem << 32 | u64::from(self.0[i]);
            out[i] = (cur / u64::from(d)) as u32;
            rem = cur % u64::from(d);
        }
        let mut big = Big(out);
        big.trim();
        (big, rem as u32)
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut chunks = Vec::new();
        let mut n = self.clone();
        while !n.is_zero() {
            let (q, r) = n.divmod_small(1_000_000_000);
            chunks.push(r);
            n = q;
        }
        let mut text = String::new();
        for (i, chunk) in chunks.iter().rev().enumerate() {
            if i == 0 {
                text.push_str(&chunk.to_string());
            } else {
                text.push_str(&format!("{chunk:09}"));
            }
        }
        text
    }
}

impl PartialOrd for Big {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Big {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> String {
        let a = LongDouble::parse(a.as_bytes()).expect("a parses");
        let b = LongDouble::parse(b.as_bytes()).expect("b parses");
        a.add(b).expect("a number").to_redis_string()
    }

    #[test]
    fn formats_like_redis() {
        // Each expectation was checked against redis-server 7.0.15.
        assert_eq!(sum("10", "0.5"), "10.5");
        assert_eq!(sum("10.5", "5.0e3"), "5010.5");
        assert_eq!(sum("5010.5", "-5010.5"), "0");
        assert_eq!(sum("3", "0.0000000000000001"), "3.0000000000000001");
        assert_eq!(sum("0", "1.23456789012345678"), "1.23456789012345678");
        assert_eq!(sum("1e20", "1e-20"), "100000000000000000000");
        assert_eq!(sum("0x10", "1"), "17");
        assert_eq!(sum("5", "+1.5"), "6.5");
        assert_eq!(sum("6.5", ".5"), "7");
        assert_eq!(sum("7", "5."), "12");
        assert_eq!(sum("100", "-0.0"), "100");
        assert_eq!(sum("0", "0.000003814697265625"), "0.00000381469726562");
        assert_eq!(sum("2.00000381469726562", "0x1p-3"), "2.12500381469726562");
        assert!(sum("1e308", "1e308").starts_with("199999999999999999993371759311691291"));
        assert_eq!(sum("-0", "-0"), "0");
    }

    #[test]
    fn refuses_what_string2ld_refuses() {
        for bad in [
            "", " 1", "1 ", "abc", "nan", "1e", "0x", "1e5000", "1e-5000", "--1", "1.2.3", "e5",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(LongDouble::parse(&vec![b'1'; MAX_CHARS]), None);
        assert!(LongDouble::parse(b"-Infinity").is_some_and(LongDouble::is_infinite));
        assert!(LongDouble::parse(b"1e4932").is_some());
    }

    #[test]
    fn infinities() {
        let inf = LongDouble::Infinite(false);
        assert_eq!(inf.add(LongDouble::Infinite(true)), None);
        assert_eq!(inf.add(LongDouble::ZERO), Some(inf));
        let big = LongDouble::parse(b"1e4932").unwrap();
        assert!(big.add(big).is_some_and(LongDouble::is_infinite));
    }
}
