//! The value syntax settings and token validities use: addresses and CIDR ranges,
//! durations (`15m`), validities (`6m`, `30d`, `YYYY-MM-DD`) and calendar arithmetic.

use ipnet::IpNet;
use std::net::IpAddr;
use time::{Date, Duration, OffsetDateTime, Time};

use super::SettingError;

/// Parses a comma- or space-separated list of addresses and CIDR ranges.
pub fn parse_networks(value: &str) -> Result<Vec<IpNet>, SettingError> {
    value
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(parse_network)
        .collect()
}

/// Parses one address (a host network) or CIDR range, normalised to its network address.
pub fn parse_network(s: &str) -> Result<IpNet, SettingError> {
    let bad = || {
        SettingError(format!(
            "{s:?} is not an IP address or CIDR range (e.g. 192.0.2.0/24, 2001:db8::/32)"
        ))
    };
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip.to_canonical()));
    }
    s.parse::<IpNet>().map(|n| n.trunc()).map_err(|_| bad())
}

/// Parses `0`, `30s`, `15m`, `2h`, `7d` into seconds.
pub fn parse_duration(s: &str) -> Result<u64, SettingError> {
    let bad = || {
        SettingError(format!(
            "{s:?} is not a duration; use e.g. 30s, 15m, 2h or 7d (0 for none)"
        ))
    };
    if s == "0" {
        return Ok(0);
    }
    // The unit is the last character, which need not be one byte (found by fuzzing the
    // REST API: `created_after=é` panicked here).
    let Some(last) = s.chars().next_back() else {
        return Err(bad());
    };
    let (num, unit) = s.split_at(s.len() - last.len_utf8());
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult)
        .filter(|&v| v <= 100 * 365 * 86400)
        .ok_or_else(bad)
}

/// Formats seconds in the largest unit that divides them.
pub fn format_duration(secs: u64) -> String {
    match secs {
        0 => "0".into(),
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Adds calendar months, clamping the day to the target month's length.
pub fn add_months(t: OffsetDateTime, months: u32) -> OffsetDateTime {
    let total = t.year() * 12 + i32::from(u8::from(t.month())) - 1 + months as i32;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let month = time::Month::try_from(month0 as u8 + 1).unwrap_or(time::Month::December);
    let day = t.day().min(month.length(year));
    match Date::from_calendar_date(year, month, day) {
        Ok(date) => t.replace_date(date),
        Err(_) => t + Duration::days(31 * i64::from(months)),
    }
}

/// Why `v` is not a validity, said for the near misses people type: other month or year
/// counts, and dates of the right shape that do not exist.
fn explain_bad_validity(v: &str) -> String {
    const CHOICES: &str = "use never, 6m, 1y, 2y, a number of days like 30d, or a date YYYY-MM-DD";
    let count = |unit: char| {
        v.strip_suffix(unit)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    if let Some(n) = count('m') {
        return format!(
            "{v:?} is not a validity: months come as 6m only (and years as 1y or 2y); for \
             {n} months use a number of days like {}d or a date YYYY-MM-DD",
            n.parse::<u32>().map_or(30, |n| n.saturating_mul(30).max(1))
        );
    }
    if count('y').is_some() {
        return format!("{v:?} is not a validity: years come as 1y or 2y; {CHOICES}");
    }
    let parts: Vec<&str> = v.split('-').collect();
    let numeric = |p: &str, len: usize| p.len() == len && p.bytes().all(|b| b.is_ascii_digit());
    if let [y, m, d] = parts[..] {
        if numeric(y, 4) && numeric(m, 2) && numeric(d, 2) {
            return match (y.parse::<i32>(), m.parse::<u8>().map(time::Month::try_from)) {
                (Ok(year), Ok(Ok(month))) => format!(
                    "{v} is not a date: there is no such day ({month} {year} has {} days)",
                    month.length(year)
                ),
                _ => format!("{v} is not a date: there is no month {m}"),
            };
        }
    }
    format!("{v:?} is not a validity; {CHOICES}")
}

/// Parses `never`, `6m`, `1y`, `2y`, `Nd` or `YYYY-MM-DD` into an expiry (`None` = never).
pub fn parse_validity(
    v: &str,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, SettingError> {
    let bad = || SettingError(explain_bad_validity(v));
    Ok(Some(match v {
        "never" => return Ok(None),
        "6m" => add_months(now, 6),
        "1y" => add_months(now, 12),
        "2y" => add_months(now, 24),
        d if d.ends_with('d') => {
            let days: i64 = d[..d.len() - 1].parse().map_err(|_| bad())?;
            if !(1..=36500).contains(&days) {
                return Err(bad());
            }
            now + Duration::days(days)
        }
        date => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let day = Date::parse(date, &format).map_err(|_| bad())?;
            // A date means "valid through that day" (UTC).
            day.with_time(Time::MIDNIGHT).assume_utc() + Duration::days(1)
        }
    }))
}
