//! Phone numbers in E.164, the only form carekit stores.

use phonenumber::country;

use crate::SmsError;

/// Parses `raw` and returns it in E.164 (`+14155550100`).
///
/// `default_region` (an ISO 3166 code such as `"US"`) is used only for
/// numbers written without their country code (`(415) 555-2671`). A number
/// that carries its country code — a leading `+` (or a `tel:+…` URI), or
/// the default region's international prefix (`011 49 …` from the US) — is
/// read with the metadata of its own country: the default region's
/// national-prefix rules would otherwise be applied to another country's
/// digits (`+49 151 …` under `US` lost the `1` of `151`).
pub fn normalize(raw: &str, default_region: Option<&str>) -> Result<String, SmsError> {
    let invalid = || SmsError::InvalidNumber(raw.to_owned());
    let text = raw.trim();
    let region = default_region.and_then(|r| r.parse::<country::Id>().ok());
    let number = match region {
        Some(_) if !text.starts_with(['+', '\u{FF0B}']) => {
            let number = phonenumber::parse(region, text).map_err(|_| invalid())?;
            match number.code().source() {
                // `tel:+…`: the country code came with the number.
                country::Source::Plus => phonenumber::parse(None, text).map_err(|_| invalid())?,
                country::Source::Idd => after_international_prefix(text, default_region)
                    .and_then(|international| phonenumber::parse(None, international).ok())
                    .ok_or_else(invalid)?,
                _ => number,
            }
        }
        _ => phonenumber::parse(None, text).map_err(|_| invalid())?,
    };
    if !phonenumber::is_valid(&number) {
        return Err(invalid());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// `+` and the digits after the region's international prefix, for a
/// number dialled as from that region (`011 49 151…` from `US` →
/// `+49151…`).
fn after_international_prefix(text: &str, region: Option<&str>) -> Option<String> {
    let meta = phonenumber::metadata::DATABASE.by_id(region?)?;
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let prefix = meta.international_prefix()?.find(&digits)?;
    (prefix.start() == 0).then(|| format!("+{}", &digits[prefix.end()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_and_international_forms_agree() {
        assert_eq!(
            normalize("(415) 555-2671", Some("US")).unwrap(),
            "+14155552671"
        );
        assert_eq!(
            normalize("+44 20 7946 0958", None).unwrap(),
            "+442079460958"
        );
        assert!(normalize("12", Some("US")).is_err());
        assert!(normalize("not a number", None).is_err());
    }

    /// Trust issue, finding 3: German mobiles lost a digit when a default
    /// region was configured (`+4915123456789` became `+495123456789`).
    #[test]
    fn a_number_with_a_plus_keeps_every_digit_whatever_the_default_region() {
        for region in [
            None,
            Some("US"),
            Some("DE"),
            Some("GB"),
            Some("BR"),
            Some("AR"),
        ] {
            for (raw, e164) in [
                ("+4915123456789", "+4915123456789"),
                ("+4917612345678", "+4917612345678"),
                ("+49 176 1234 5678", "+4917612345678"),
                ("\u{FF0B}4915123456789", "+4915123456789"),
                ("tel:+49-151-23456789", "+4915123456789"),
                ("+14155552671", "+14155552671"),
            ] {
                assert_eq!(
                    normalize(raw, region).as_deref(),
                    Ok(e164),
                    "{raw} with default region {region:?}"
                );
            }
        }
    }

    #[test]
    fn national_formats_use_the_default_region() {
        for (raw, region, e164) in [
            ("015123456789", "DE", "+4915123456789"),
            ("0176 12345678", "DE", "+4917612345678"),
            ("(0151) 2345-6789", "DE", "+4915123456789"),
            ("(415) 555-2671", "US", "+14155552671"),
            ("1 415 555 2671", "US", "+14155552671"),
            ("020 7946 0958", "GB", "+442079460958"),
            ("07400 123456", "GB", "+447400123456"),
        ] {
            assert_eq!(
                normalize(raw, Some(region)).as_deref(),
                Ok(e164),
                "{raw} in {region}"
            );
        }
        assert!(
            normalize("015123456789", None).is_err(),
            "no region, no country"
        );
        assert!(normalize("0151", Some("DE")).is_err());
    }

    /// A number dialled with the region's international prefix carries its
    /// own country code too, and keeps every digit.
    #[test]
    fn an_international_prefix_is_read_as_the_country_code() {
        for (raw, region, e164) in [
            ("011 49 151 23456789", "US", "+4915123456789"),
            ("011 49 176 12345678", "US", "+4917612345678"),
            ("00 49 151 23456789", "GB", "+4915123456789"),
            ("00 1 415 555 2671", "DE", "+14155552671"),
        ] {
            assert_eq!(
                normalize(raw, Some(region)).as_deref(),
                Ok(e164),
                "{raw} dialled from {region}"
            );
        }
    }
}
