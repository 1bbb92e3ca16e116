//! Ruby's number formatting, which facter's strings and JSON numbers are made of.
//!
//! - [`float_to_s`] gives `Float#to_s` (JSON and YAML floats, `load_averages`, `memoryfree_mb`).
//! - [`format_fixed`] gives `format('%.2f', x)` as Ruby 3.1's `BSD__dtoa` computes it, which is not
//!   correctly rounded near ties (`2.345` → `"2.34"`); every `capacity` string uses it.
//! - [`round_half_up`] gives `Float#round(n)`.
//!
//! - [`bytes_to_human_readable`], [`hertz_to_human_readable`] give facter's `UnitConverter`.

/// Ruby's `Float#to_s`: shortest round-trip digits, `.0` for integral values, exponent form
/// below `1e-4` and from `1e16`.
///
/// ```
/// use puppet_facts::collect::ruby::float_to_s;
/// assert_eq!(float_to_s(100.0), "100.0");
/// assert_eq!(float_to_s(0.84), "0.84");
/// assert_eq!(float_to_s(1e16), "1.0e+16");
/// assert_eq!(float_to_s(0.00009999), "9.999e-05");
/// ```
pub fn float_to_s(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // `{:e}` gives the shortest round-trip digits as d.ddde<exp>.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let decpt = exp + 1;
    let digs = digits.len() as i32;
    let body = if decpt > 0 {
        if decpt < digs {
            format!(
                "{}.{}",
                &digits[..decpt as usize],
                &digits[decpt as usize..]
            )
        } else if decpt <= 15 {
            format!("{digits}{}.0", "0".repeat((decpt - digs) as usize))
        } else {
            exp_form(&digits, decpt)
        }
    } else if decpt > -4 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else {
        exp_form(&digits, decpt)
    };
    format!("{sign}{body}")
}

fn exp_form(digits: &str, decpt: i32) -> String {
    let rest = if digits.len() > 1 { &digits[1..] } else { "0" };
    let e = decpt - 1;
    let esign = if e < 0 { '-' } else { '+' };
    format!("{}.{rest}e{esign}{:02}", &digits[..1], e.abs())
}

/// Ruby's `Float#round(ndigits)` for `ndigits > 0` (`round_half_up`): `2.605.round(2)` is
/// `2.61`, where `(x * 100).round() / 100` gives `2.6`.
///
/// ```
/// use puppet_facts::collect::ruby::round_half_up;
/// assert_eq!(round_half_up(2.605, 2), 2.61);
/// assert_eq!(round_half_up(1.005, 2), 1.01);
/// ```
pub fn round_half_up(x: f64, ndigits: i32) -> f64 {
    let s = 10f64.powi(ndigits);
    let mut f = (x * s).round();
    if x > 0.0 && (f + 0.5) / s <= x {
        f += 1.0;
    }
    if x < 0.0 && (f - 0.5) / s >= x {
        f -= 1.0;
    }
    f / s
}

const TENS: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];
const BIGTENS: [f64; 5] = [1e16, 1e32, 1e64, 1e128, 1e256];

/// Ruby 3.1's `format("%.<nd>f", x)`: its dtoa's quick path decides a near tie by the parity
/// of the last digit whatever the exact binary value is, so `2.345` gives `"2.34"` and
/// `30.625000000000004` gives `"30.62"`; otherwise correctly rounded. `NaN` gives `"NaN"`.
///
/// ```
/// use puppet_facts::collect::ruby::format_fixed;
/// assert_eq!(format_fixed(2.345, 2), "2.34");
/// assert_eq!(format_fixed(0.015, 2), "0.02");
/// assert_eq!(format_fixed(7.4537, 2), "7.45");
/// ```
pub fn format_fixed(x: f64, nd: usize) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() || x < 0.0 {
        return format!("{x:.nd$}");
    }
    if x == 0.0 {
        return format!("0.{}", "0".repeat(nd));
    }
    match quick_dtoa(x, nd as i32) {
        Some((digits, k)) => layout_fixed(&digits, k, nd),
        None => format!("{x:.nd$}"),
    }
}

/// dtoa mode 3's floating-point quick path: the digits and the decimal exponent `k`
/// (value = 0.DIGITS × 10^(k+1)), or `None` when it gives up (then the exact path, which
/// is correctly rounded, applies).
fn quick_dtoa(x: f64, nd: i32) -> Option<(Vec<u8>, i32)> {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        return None; // subnormal: leave to the exact path
    }
    let e2 = biased - 1023;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1023u64 << 52));
    // dtoa's own constants (not LOG10_2): the estimate must err exactly as Ruby's does.
    #[allow(clippy::approx_constant)]
    let ds = (m - 1.5) * 0.289529654602168 + 0.1760912590558 + f64::from(e2) * 0.301029995663981;
    let mut k = ds.floor() as i32;
    let mut k_check = true;
    if (0..=22).contains(&k) {
        if x < TENS[k as usize] {
            k -= 1;
        }
        k_check = false;
    }
    let mut ilim = nd + k + 1;
    if !(0..=14).contains(&ilim) {
        return None;
    }
    let mut ieps = 2.0;
    let mut y = x;
    if k > 0 {
        let mut d = TENS[(k & 0xf) as usize];
        let mut j = k >> 4;
        if j & 0x10 != 0 {
            j &= 0xf;
            y /= BIGTENS[4];
            ieps += 1.0;
        }
        let mut i = 0;
        while j != 0 {
            if j & 1 != 0 {
                ieps += 1.0;
                d *= BIGTENS[i];
            }
            j >>= 1;
            i += 1;
        }
        y /= d;
    } else if k < 0 {
        let j1 = -k;
        y *= TENS[(j1 & 0xf) as usize];
        let mut j = j1 >> 4;
        let mut i = 0;
        while j != 0 {
            if j & 1 != 0 {
                ieps += 1.0;
                y *= BIGTENS[i.min(4)];
            }
            j >>= 1;
            i += 1;
        }
    }
    if k_check && y < 1.0 && ilim > 0 {
        if ilim - 1 <= 0 {
            return None;
        }
        ilim -= 1;
        k -= 1;
        y *= 10.0;
        ieps += 1.0;
    }
    let mut eps = (ieps * y + 7.0) * 2f64.powi(-52);
    if ilim == 0 {
        y -= 5.0;
        if y > eps {
            return Some((vec![1], k + 1));
        }
        if y < -eps {
            return Some((Vec::new(), k));
        }
        return None;
    }
    eps *= TENS[(ilim - 1) as usize];
    let mut digits = Vec::new();
    let mut i = 1;
    loop {
        let l = y.trunc();
        y -= l;
        if y == 0.0 {
            ilim = i;
        }
        digits.push(l as u8);
        if i == ilim {
            if y > 0.5 + eps {
                return Some(bump_up(digits, k));
            }
            if y < 0.5 - eps {
                return Some((digits, k));
            }
            let odd = digits.last().is_some_and(|d| d % 2 == 1);
            return Some(if odd { bump_up(digits, k) } else { (digits, k) });
        }
        if i > 40 {
            return None;
        }
        y *= 10.0;
        i += 1;
    }
}

fn bump_up(mut digits: Vec<u8>, k: i32) -> (Vec<u8>, i32) {
    while let Some(last) = digits.last_mut() {
        if *last == 9 {
            digits.pop();
        } else {
            *last += 1;
            return (digits, k);
        }
    }
    (vec![1], k + 1)
}

fn layout_fixed(digits: &[u8], k: i32, nd: usize) -> String {
    let int_len = k + 1;
    let digit = |i: i32| -> char {
        if i >= 0 && (i as usize) < digits.len() {
            char::from(b'0' + digits[i as usize])
        } else {
            '0'
        }
    };
    let mut out = String::new();
    if int_len <= 0 {
        out.push('0');
    } else {
        for i in 0..int_len {
            out.push(digit(i));
        }
    }
    if nd > 0 {
        out.push('.');
        for j in 0..nd as i32 {
            out.push(digit(int_len + j));
        }
    }
    out
}

/// facter's `bytes_to_human_readable`: `"0 bytes"`, `"512 bytes"`, `"4.00 KiB"`, `"23.54 GiB"`.
///
/// ```
/// use puppet_facts::collect::ruby::bytes_to_human_readable;
/// assert_eq!(bytes_to_human_readable(0), "0 bytes");
/// assert_eq!(bytes_to_human_readable(4096), "4.00 KiB");
/// assert_eq!(bytes_to_human_readable(25275990016), "23.54 GiB");
/// ```
pub fn bytes_to_human_readable(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut exp = ((bytes as f64).log2() / 10.0).floor() as i32;
    let mut n = (100.0 * (bytes as f64 / 1024f64.powi(exp))).round() / 100.0;
    if (n - 1024.0).abs() < f64::EPSILON {
        exp += 1;
        n = 1.0;
    }
    let unit = match exp {
        1 => "KiB",
        2 => "MiB",
        3 => "GiB",
        4 => "TiB",
        5 => "PiB",
        6 => "EiB",
        _ => return format!("{bytes} bytes"),
    };
    let mut s = float_to_s(n);
    if s.rsplit('.').next().is_some_and(|frac| frac.len() == 1) {
        s.push('0');
    }
    format!("{s} {unit}")
}

/// facter's `bytes_to_mb`: the legacy `*_mb` facts, an unrounded float.
pub fn bytes_to_mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// facter's `hertz_to_human_readable`: `"2.60 GHz"`; `None` for 0.
///
/// ```
/// use puppet_facts::collect::ruby::hertz_to_human_readable;
/// assert_eq!(hertz_to_human_readable(2_596_000_000).as_deref(), Some("2.60 GHz"));
/// assert_eq!(hertz_to_human_readable(2_605_000_000).as_deref(), Some("2.61 GHz"));
/// ```
pub fn hertz_to_human_readable(hz: u64) -> Option<String> {
    if hz == 0 {
        return None;
    }
    let power = (hz as f64).log10().floor() as i32;
    let e = power - power % 3;
    let c = if power == 0 {
        hz as f64
    } else {
        hz as f64 / 10f64.powi(e)
    };
    let prefix = match e {
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        _ => return None,
    };
    Some(format!(
        "{} {prefix}Hz",
        format_fixed(round_half_up(c, 2), 2)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_to_s_matches_ruby() {
        for (x, s) in [
            (1234567890123456.8, "1234567890123456.8"),
            (999999999999999.0, "999999999999999.0"),
            (1e15, "1.0e+15"),
            (0.0001, "0.0001"),
            (1.1805916207174113e21, "1.1805916207174113e+21"),
            (24105.0625, "24105.0625"),
            (-0.0, "-0.0"),
            (1.1, "1.1"),
        ] {
            assert_eq!(float_to_s(x), s, "{x}");
        }
    }

    #[test]
    fn format_fixed_matches_ruby_near_ties() {
        for (x, s) in [
            (2.345, "2.34"),
            (14.374999999999998, "14.38"),
            (30.625000000000004, "30.62"),
            (0.015, "0.02"),
            (100.0, "100.00"),
            (22.08, "22.08"),
            (0.004, "0.00"),
            (99.999, "100.00"),
        ] {
            assert_eq!(format_fixed(x, 2), s, "{x}");
        }
    }

    #[test]
    fn human_readable_boundaries() {
        assert_eq!(bytes_to_human_readable(1023), "1023 bytes");
        assert_eq!(bytes_to_human_readable(1024 * 1024 - 1), "1.00 MiB");
        assert_eq!(bytes_to_human_readable(1536), "1.50 KiB");
        assert_eq!(hertz_to_human_readable(999).as_deref(), Some("999.00 Hz"));
    }
}
