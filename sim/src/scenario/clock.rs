//! Clock times in scenario files: "HH:MM" or "HH:MM:SS" after midnight of
//! the run's first day, hours up to 47 for the next day.

/// Clock time in seconds after midnight of the run's first day.
pub fn parse_clock(text: &str) -> Result<u32, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let parse = |s: &str, max: u32, what: &str| -> Result<u32, String> {
        let value: u32 =
            s.parse().map_err(|_| format!("`{text}` is not a clock time: {what} `{s}` is not a whole number"))?;
        if value > max {
            return Err(format!("`{text}` is not a clock time: {what} {value} is above {max}"));
        }
        Ok(value)
    };
    match parts.as_slice() {
        [h, m] | [h, m, _] if h.len() <= 2 && m.len() == 2 => {
            let seconds = if let [_, _, s] = parts.as_slice() { parse(s, 59, "seconds")? } else { 0 };
            Ok(parse(h, 47, "hours")? * 3_600 + parse(m, 59, "minutes")? * 60 + seconds)
        }
        _ => Err(format!("`{text}` is not a clock time: write HH:MM or HH:MM:SS (hours up to 47 for the next day)")),
    }
}

/// Formats seconds after midnight as `HH:MM`.
pub fn format_clock(seconds: u32) -> String {
    format!("{:02}:{:02}", seconds / 3_600, seconds / 60 % 60)
}
