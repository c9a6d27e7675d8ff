//! Phone numbers in E.164, the only form carekit stores.

use crate::SmsError;

/// Parses `raw` (with `default_region` for national formats, e.g. `"US"`)
/// and returns it in E.164 (`+14155550100`).
pub fn normalize(raw: &str, default_region: Option<&str>) -> Result<String, SmsError> {
    let region = default_region.and_then(|r| r.parse::<phonenumber::country::Id>().ok());
    let number = phonenumber::parse(region, raw.trim())
        .map_err(|_| SmsError::InvalidNumber(raw.to_owned()))?;
    if !phonenumber::is_valid(&number) {
        return Err(SmsError::InvalidNumber(raw.to_owned()));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
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
}
