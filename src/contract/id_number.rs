//! GB 11643-1999 citizen identity numbers (公民身份号码): the ISO 7064 MOD 11-2 check
//! character, parsing into address code, birth date and sex, and the 20-character
//! disability-card form (ID + category digit + grade digit).
//!
//! Never log or print an ID number: callers report the rule that failed, not the value.

use chrono::NaiveDate;

/// Weights of the 17 leading digits (2^(17-i) mod 11).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder of the weighted sum mod 11.
const CHECK: [u8; 11] = *b"10X98765432";

/// The check character for the first 17 digits, or `None` if they are not 17 ASCII digits.
pub fn check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(CHECK[(sum % 11) as usize])
}

/// Why an ID number is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// Wrong length or characters, or an impossible birth date.
    Format,
    /// The check character does not match.
    Checksum,
}

/// The facts an ID number carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdInfo {
    pub address_code: u32,
    pub birth_date: NaiveDate,
    /// 1 = male (odd sequence code), 2 = female.
    pub sex: u8,
    /// Disability category and grade digits of a 20-character disability-card number.
    pub disability: Option<(u8, u8)>,
}

/// Normalise an ID as the submission format allows: trims spaces and upper-cases a trailing
/// `x` check character. Borrows unless a change is needed.
pub fn normalise(id: &str) -> std::borrow::Cow<'_, str> {
    let t = id.trim();
    if t.len() >= 18 && t.as_bytes()[17] == b'x' {
        let mut s = t.to_string();
        s.replace_range(17..18, "X");
        std::borrow::Cow::Owned(s)
    } else {
        std::borrow::Cow::Borrowed(t)
    }
}

/// Validate an (already normalised) 18-character ID or 20-character disability-card number.
pub fn parse(id: &str) -> Result<IdInfo, IdError> {
    let b = id.as_bytes();
    if b.len() != 18 && b.len() != 20 {
        return Err(IdError::Format);
    }
    if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
        return Err(IdError::Format);
    }
    let disability = if b.len() == 20 {
        let (cat, grade) = (b[18], b[19]);
        if !(b'1'..=b'7').contains(&cat) || !(b'1'..=b'4').contains(&grade) {
            return Err(IdError::Format);
        }
        Some((cat - b'0', grade - b'0'))
    } else {
        None
    };
    let num = |r: std::ops::Range<usize>| -> u32 {
        b[r].iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let birth_date = NaiveDate::from_ymd_opt(num(6..10) as i32, num(10..12), num(12..14))
        .ok_or(IdError::Format)?;
    if check_char(&b[..17]) != Some(b[17]) {
        return Err(IdError::Checksum);
    }
    let sex = if num(14..17) % 2 == 1 { 1 } else { 2 };
    Ok(IdInfo {
        address_code: num(0..6),
        birth_date,
        sex,
        disability,
    })
}

/// A record key as one exact 64-bit code, so that keys are grouped and joined as integers
/// rather than strings (the national duplicate check groups 56.7 M ID numbers). Injective over
/// the keys the row rules admit, so two keys have the same code only when they are equal:
/// - a code of 1 to 17 ASCII digits (the area and household codes, fixed-length per column):
///   `value × 32 + length`, zero or more;
/// - a valid 18-character ID number or 20-character disability-card number: below zero, from
///   its 17 leading digits (the check character follows from them) and the card's category
///   and grade digits.
///
/// `None` for anything else (an ID whose check character is wrong, letters, an empty key):
/// such a key has no code, and callers must not treat it as equal to another.
pub fn key_code(key: &str) -> Option<i64> {
    let b = key.as_bytes();
    // One pass over the digits: their value and, for an ID number, the check's weighted sum
    // (this runs once per key of a national table, 56.7 M times for the persons).
    let digits = |d: &[u8]| -> Option<(i64, u32)> {
        let (mut value, mut weighted) = (0i64, 0u32);
        for (i, &c) in d.iter().enumerate() {
            let digit = c.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            value = value * 10 + i64::from(digit);
            weighted += u32::from(digit) * WEIGHTS.get(i).copied().unwrap_or(0);
        }
        Some((value, weighted))
    };
    match b.len() {
        // At most 10^17 - 1, so the code is below 3.2 × 10^18 < 2^63.
        1..=17 => Some(digits(b)?.0 * 32 + b.len() as i64),
        18 | 20 => {
            let (value, weighted) = digits(b.get(..17)?)?;
            if CHECK[(weighted % 11) as usize] != b[17] {
                return None;
            }
            let card = match b.get(18..) {
                Some([]) | None => 0,
                Some(&[category @ b'1'..=b'7', grade @ b'1'..=b'4']) => {
                    1 + i64::from(category - b'1') * 4 + i64::from(grade - b'1')
                }
                Some(_) => return None,
            };
            // 29 card forms (none, or 7 categories × 4 grades): below 2.9 × 10^18.
            Some(-1 - (value * 29 + card))
        }
        _ => None,
    }
}

/// The key a [`key_code`] stands for: its inverse over the codes it gives, so that the
/// cross-row checks carry a key as its code and spell it out only for the rows they report.
/// `None` for an integer no key has (a negative length, a length above 17, a card form
/// above 28).
pub fn key_text(code: i64) -> Option<String> {
    if code >= 0 {
        let (value, len) = (code / 32, (code % 32) as usize);
        let text = format!("{value:0len$}");
        return (1..=17)
            .contains(&len)
            .then_some(text)
            .filter(|t| t.len() == len);
    }
    // -1 - code cannot overflow for a negative code.
    let n = -1 - code;
    let (value, card) = (n / 29, n % 29);
    let digits = format!("{value:017}");
    if digits.len() != 17 {
        return None;
    }
    let check = check_char(digits.as_bytes())?;
    let mut text = digits;
    text.push(char::from(check));
    if card > 0 {
        let form = u8::try_from(card - 1).ok()?;
        text.push(char::from(b'1' + form / 4));
        text.push(char::from(b'1' + form % 4));
    }
    Some(text)
}

/// Build a valid 18-character ID from its parts. `seq` is the 3-digit sequence code
/// (its parity decides the sex).
pub fn build(address_code: u32, birth: NaiveDate, seq: u16) -> String {
    use chrono::Datelike;
    let mut s = format!(
        "{:06}{:04}{:02}{:02}{:03}",
        address_code,
        birth.year(),
        birth.month(),
        birth.day(),
        seq
    );
    // Cannot fail: the format above writes exactly 17 digits.
    let c = check_char(s.as_bytes()).expect("17 digits");
    s.push(c as char);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_codes_are_equal_only_for_equal_keys() {
        let id = build(450_102, NaiveDate::from_ymd_opt(1975, 3, 9).unwrap(), 17);
        let keys = [
            "450102".to_string(),
            "0450102".to_string(),
            "450102001".to_string(),
            "4501020010010001".to_string(),
            "4501020010010002".to_string(),
            "99999999999999999".to_string(),
            id.clone(),
            format!("{id}11"),
            format!("{id}12"),
            format!("{id}74"),
            build(450_102, NaiveDate::from_ymd_opt(1975, 3, 9).unwrap(), 18),
        ];
        let codes: Vec<i64> = keys.iter().map(|k| key_code(k).unwrap()).collect();
        let distinct: std::collections::HashSet<i64> = codes.iter().copied().collect();
        assert_eq!(distinct.len(), keys.len(), "{codes:?}");
        assert!(codes[..6].iter().all(|&c| c >= 0) && codes[6..].iter().all(|&c| c < 0));
        // The largest ID code does not overflow.
        assert!(key_code("99999999999999999X").is_none()); // wrong check character
        let top = format!(
            "{0}{1}74",
            "9".repeat(17),
            check_char(&[b'9'; 17]).unwrap() as char
        );
        assert!(key_code(&top).unwrap() < 0);
    }

    #[test]
    fn key_text_spells_out_the_key_of_a_code() {
        let id = build(450_102, NaiveDate::from_ymd_opt(1975, 3, 9).unwrap(), 17);
        let top = format!(
            "{0}{1}74",
            "9".repeat(17),
            check_char(&[b'9'; 17]).unwrap() as char
        );
        for key in [
            "0".to_string(),
            "450102".to_string(),
            "0450102".to_string(),
            "000000000".to_string(),
            "4501020010010001".to_string(),
            "99999999999999999".to_string(),
            "11010519491231002X".to_string(),
            "00000000000000000".to_string()
                + &(check_char(&[b'0'; 17]).unwrap() as char).to_string(),
            id.clone(),
            format!("{id}11"),
            format!("{id}34"),
            top,
        ] {
            let code = key_code(&key).unwrap();
            assert_eq!(key_text(code).as_deref(), Some(key.as_str()), "{code}");
        }
        // Integers that are no key's code.
        assert_eq!(key_text(0), None); // length 0
        assert_eq!(key_text(18), None); // length 18
        assert_eq!(key_text(32 * 1_000_000 + 3), None); // 7 digits in a length of 3
        assert_eq!(key_text(i64::MIN), None);
    }

    #[test]
    fn keys_the_rules_reject_have_no_code() {
        let id = build(450_102, NaiveDate::from_ymd_opt(1975, 3, 9).unwrap(), 17);
        let wrong_check = format!("{}{}", &id[..17], if id.ends_with('0') { '1' } else { '0' });
        for bad in [
            String::new(),
            "45010A".to_string(),
            "123456789012345678901".to_string(),
            wrong_check,
            format!("{id}81"),
            format!("{id}15"),
            format!("{id}1"),
            id.to_lowercase().replace('X', "x") + "x",
        ] {
            assert_eq!(key_code(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn check_char_matches_published_examples() {
        // The worked example of GB 11643-1999 Appendix A.
        assert_eq!(check_char(b"11010519491231002"), Some(b'X'));
        // Further examples whose check characters were computed by hand.
        assert_eq!(check_char(b"44052418800101001"), Some(b'4'));
        assert_eq!(check_char(b"1101051949123100"), None);
        assert_eq!(check_char(b"1101051949123100A"), None);
    }

    #[test]
    fn parse_accepts_valid_and_reports_faults() {
        let info = parse("11010519491231002X").unwrap();
        assert_eq!(info.address_code, 110105);
        assert_eq!(
            info.birth_date,
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(info.sex, 2, "sequence 002 is even: female");
        assert_eq!(info.disability, None);
        assert_eq!(parse("110105194912310021"), Err(IdError::Checksum));
        assert_eq!(
            parse("11010519491331002X"),
            Err(IdError::Format),
            "month 13"
        );
        assert_eq!(
            parse("11010519490230002X"),
            Err(IdError::Format),
            "30 February"
        );
        assert_eq!(parse("1101051949123100"), Err(IdError::Format));
        assert_eq!(
            parse("11010519491231002x"),
            Err(IdError::Format),
            "not normalised"
        );
        assert_eq!(parse(&normalise(" 11010519491231002x ")).unwrap().sex, 2);
    }

    #[test]
    fn disability_card_numbers() {
        let info = parse("11010519491231002X43").unwrap();
        assert_eq!(info.disability, Some((4, 3)));
        assert_eq!(
            parse("11010519491231002X83"),
            Err(IdError::Format),
            "category 8"
        );
        assert_eq!(
            parse("11010519491231002X45"),
            Err(IdError::Format),
            "grade 5"
        );
        assert_eq!(parse("11010519491231002143"), Err(IdError::Checksum));
    }

    #[test]
    fn build_round_trips() {
        let d = NaiveDate::from_ymd_opt(2012, 2, 29).unwrap();
        for seq in [900u16, 901, 999] {
            let id = build(522301, d, seq);
            let info = parse(&id).unwrap();
            assert_eq!(info.address_code, 522301);
            assert_eq!(info.birth_date, d);
            assert_eq!(info.sex, if seq % 2 == 1 { 1 } else { 2 });
        }
    }
}
