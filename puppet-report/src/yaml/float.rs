//! Floats as Ruby's `Float#to_s` writes them, which is what Psych emits.

/// Ruby's `Float#to_s` as Psych writes it (`0.0001`, `8.1565e-05`, `1.0e+16`, `.nan`).
pub(crate) fn ruby_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    // Ruby's dtoa (mode 0) gives the shortest digits that read back as the same float and,
    // among those, the nearest to its exact value, ties to even. Rust's shortest form has the
    // right length but may round a tie up; its exact formatting to that many digits is
    // correctly rounded, ties to even.
    let shortest = format!("{:e}", f.abs());
    let length = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.chars().filter(char::is_ascii_digit).count());
    let nearest = format!("{:.*e}", length.saturating_sub(1), f.abs());
    let sci = if nearest.parse::<f64>() == Ok(f.abs()) {
        nearest
    } else {
        shortest
    };
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let decpt = exponent + 1;
    let sign = if f < 0.0 { "-" } else { "" };
    let n = digits.len() as i32;
    // Ruby's flo_to_s: fixed notation when the point falls inside the digits, or after them
    // within 15 places, or up to 3 zeros after "0."; exponent notation otherwise.
    if decpt > 0 && decpt < n {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{sign}{int}.{frac}")
    } else if decpt > 0 && decpt <= 15 {
        format!("{sign}{digits}{}.0", "0".repeat((decpt - n) as usize))
    } else if decpt <= 0 && decpt > -4 {
        format!(
            "{sign}0.{}{digits}",
            "0".repeat(decpt.unsigned_abs() as usize)
        )
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        let esign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{first}.{rest}e{esign}{:02}", exponent.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::ruby_float;

    #[test]
    fn floats_are_written_as_ruby_does() {
        // [1.0e-05, 8.1565e-05, 0.0001, 1e15, 1e16, 123456789012345.6, 0.1+0.2, 2.0, -0.5,
        //  100.0, 1e100, 5e-324].map(&:to_s) and more, on Ruby 3.1.7.
        let cases: &[(f64, &str)] = &[
            (1.0e-05, "1.0e-05"),
            (8.1565e-05, "8.1565e-05"),
            (0.0001, "0.0001"),
            (1e15, "1.0e+15"),
            (1e16, "1.0e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.1 + 0.2, "0.30000000000000004"),
            (2.0, "2.0"),
            (-0.5, "-0.5"),
            (100.0, "100.0"),
            (1e100, "1.0e+100"),
            (5e-324, "5.0e-324"),
            (1e14, "100000000000000.0"),
            (1.5e15, "1.5e+15"),
            (1234567890123456.0, "1.234567890123456e+15"),
            (0.00012345, "0.00012345"),
            (0.00018227399999999998, "0.00018227399999999998"),
            (0.0, "0.0"),
            // Exactly 777187067870500.25: a tie, broken to even.
            (f64::from_bits(0x4306_16c7_b8d5_e922), "777187067870500.2"),
            (2627912520770068.5, "2627912520770068.5"),
            (9999999999999998.0, "9.999999999999998e+15"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (f64::NAN, ".nan"),
            (f64::NEG_INFINITY, "-.inf"),
        ];
        for (f, want) in cases {
            assert_eq!(ruby_float(*f), *want, "for {f:?}");
        }
    }
}
