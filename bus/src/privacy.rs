//! Personal data never reaches the logs unmasked.
//!
//! Citizen IDs (CCCD, 12 digits) and old ID card numbers (CMND, 9 digits) are masked wherever
//! free text (a peer's answer, an error) is logged or stored as a reason: `001203000001` becomes
//! `0012******01`, enough for an operator to tell two citizens apart, not enough to identify one.

/// Masks one citizen ID.
pub fn mask_cccd(id: &str) -> String {
    let digits: Vec<char> = id.chars().collect();
    if digits.len() < 6 {
        return "*".repeat(digits.len());
    }
    let keep_end = 2;
    let keep_start = digits.len().min(12) - 8;
    let mut masked: String = digits[..keep_start].iter().collect();
    masked.push_str(&"*".repeat(digits.len() - keep_start - keep_end));
    masked.extend(&digits[digits.len() - keep_end..]);
    masked
}

/// Masks every standalone run of 9 or 12 digits in free text.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() == 12 || run.len() == 9 {
            out.push_str(&mask_cccd(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citizen_ids_are_masked_in_free_text() {
        assert_eq!(mask_cccd("001203000001"), "0012******01");
        assert_eq!(mask_cccd("123456789"), "1******89");
        let text = "portal refused 000.00.01.H42-261120-0001: MaDoiTuong 001203000001 unknown (CMND 123456789)";
        assert_eq!(
            redact(text),
            "portal refused 000.00.01.H42-261120-0001: MaDoiTuong 0012******01 unknown (CMND 1******89)"
        );
        // Tax codes (10 digits), dates (14) and dossier codes are not personal data.
        assert_eq!(redact("MST 0101234567-001 at 20261120083000"), "MST 0101234567-001 at 20261120083000");
    }
}
