//! strftime-style time patterns (`%Y-%m-%d %H:%M:%S%.f`), compiled once and matched at the
//! start of a text, by hand (no allocation per match).
//!
//! Directives: `%Y` (year), `%y` (two digits: 1969-2068), `%m`, `%d`, `%e` (space-padded
//! day), `%j` (day of the year), `%H`, `%I` with `%p` (AM/PM), `%M`, `%S`, `%f` (fraction
//! digits), `%.f` (an optional `.` or `,` and fraction digits), `%3f`/`%6f`/`%9f` (that many
//! fraction digits), `%b`/`%h`/`%B` (month name, abbreviated or full, any case), `%a`/`%A`
//! (weekday name, skipped), `%z` (`Z`, `+hh:mm`, `+hhmm`, `+hh`), `%Z` (`UTC`, `GMT` or
//! `Z`), `%s` (Unix seconds), `%T` (`%H:%M:%S`), `%R` (`%H:%M`), `%F` (`%Y-%m-%d`), `%D`
//! (`%m/%d/%y`), `%%`, and `%n`/`%t` (any whitespace). A space matches one or more spaces or
//! tabs; any other character matches itself. Numeric fields take 1 to their usual width of
//! digits. A pattern without a year takes a recent one (as RFC 3164 syslog does).

use crate::timestamp::{days_from_civil, in_recent_year, month, zone, Zoned};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Item {
    Lit(u8),
    Space,
    Year,
    Year2,
    Month,
    MonthName,
    Day,
    DaySpace,
    YearDay,
    Hour,
    Hour12,
    AmPm,
    Minute,
    Second,
    /// Fraction digits: `Some(n)` exactly n, `None` one or more.
    Frac(Option<u8>),
    DotFrac,
    Weekday,
    Zone,
    ZoneName,
    Epoch,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Strftime {
    items: Vec<Item>,
}

impl Strftime {
    /// Compiles `pat`; the error names the directive that is not understood.
    pub(crate) fn new(pat: &str) -> Result<Self, String> {
        let mut items = Vec::new();
        let mut it = pat.bytes();
        while let Some(c) = it.next() {
            if c != b'%' {
                items.push(if c == b' ' { Item::Space } else { Item::Lit(c) });
                continue;
            }
            let d = it
                .next()
                .ok_or_else(|| format!("strftime pattern `{pat}` ends with a lone `%`"))?;
            if let Some(three) = triple(d) {
                items.extend_from_slice(&three);
                continue;
            }
            let expand: &[Item] = match d {
                b'Y' => &[Item::Year],
                b'y' => &[Item::Year2],
                b'm' => &[Item::Month],
                b'd' => &[Item::Day],
                b'e' => &[Item::DaySpace],
                b'j' => &[Item::YearDay],
                b'H' => &[Item::Hour],
                b'I' => &[Item::Hour12],
                b'p' => &[Item::AmPm],
                b'M' => &[Item::Minute],
                b'S' => &[Item::Second],
                b'f' => &[Item::Frac(None)],
                b'3' | b'6' | b'9' => {
                    if it.next() != Some(b'f') {
                        return Err(format!(
                            "strftime pattern `{pat}`: `%{}` must be followed by `f`",
                            d as char
                        ));
                    }
                    items.push(Item::Frac(Some(d - b'0')));
                    continue;
                }
                b'.' => {
                    if it.next() != Some(b'f') {
                        return Err(format!(
                            "strftime pattern `{pat}`: `%.` must be followed by `f`"
                        ));
                    }
                    &[Item::DotFrac]
                }
                b'b' | b'h' | b'B' => &[Item::MonthName],
                b'a' | b'A' => &[Item::Weekday],
                b'z' => &[Item::Zone],
                b'Z' => &[Item::ZoneName],
                b's' => &[Item::Epoch],
                b'R' => &[Item::Hour, Item::Lit(b':'), Item::Minute],
                b'%' => &[Item::Lit(b'%')],
                b'n' | b't' => &[Item::Space],
                other => {
                    return Err(format!(
                        "strftime pattern `{pat}`: unknown directive `%{}`",
                        other as char
                    ))
                }
            };
            items.extend_from_slice(expand);
        }
        let has = |f: &dyn Fn(&Item) -> bool| items.iter().any(f);
        let dated = has(&|i| *i == Item::Epoch)
            || has(&|i| *i == Item::YearDay)
            || (has(&|i| matches!(i, Item::Month | Item::MonthName))
                && has(&|i| matches!(i, Item::Day | Item::DaySpace)));
        if !dated {
            return Err(format!(
                "strftime pattern `{pat}` has no date: it needs a month and a day (%m or %b, %d), %j, %F, %D or %s"
            ));
        }
        Ok(Strftime { items })
    }

    /// Matches the pattern at the start of `s`: the time and whether a zone was written, and
    /// the bytes consumed.
    pub(crate) fn parse_prefix(&self, s: &[u8]) -> Option<(Zoned, usize)> {
        let mut f = Fields::default();
        let mut i = 0;
        for item in &self.items {
            i = f.read(*item, s, i)?;
        }
        f.time().map(|t| (t, i))
    }
}

/// `%T` (`%H:%M:%S`), `%F` (`%Y-%m-%d`) and `%D` (`%m/%d/%y`).
fn triple(d: u8) -> Option<[Item; 5]> {
    let (a, sep, b, c) = match d {
        b'T' => (Item::Hour, b':', Item::Minute, Item::Second),
        b'F' => (Item::Year, b'-', Item::Month, Item::Day),
        b'D' => (Item::Month, b'/', Item::Day, Item::Year2),
        _ => return None,
    };
    Some([a, Item::Lit(sep), b, Item::Lit(sep), c])
}

#[derive(Default)]
struct Fields {
    year: Option<i64>,
    month: u32,
    day: u32,
    yday: Option<u32>,
    hour: u32,
    pm: Option<bool>,
    minute: u32,
    second: u32,
    frac: f64,
    zone: Option<i64>,
    epoch: Option<f64>,
}

/// Up to `max` (at least one) digits at `s[i..]`: the value and the index after them.
fn digits(s: &[u8], i: usize, max: usize) -> Option<(u32, usize)> {
    let n = s[i.min(s.len())..]
        .iter()
        .take(max)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n == 0 {
        return None;
    }
    let v = s[i..i + n]
        .iter()
        .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    Some((v, i + n))
}

fn frac_of(d: &[u8]) -> f64 {
    let mut f = 0.0;
    let mut scale = 0.1;
    for &c in d.iter().take(9) {
        f += f64::from(c - b'0') * scale;
        scale /= 10.0;
    }
    f
}

impl Fields {
    fn read(&mut self, item: Item, s: &[u8], i: usize) -> Option<usize> {
        let rest = s.get(i..)?;
        let letters = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        Some(match item {
            Item::Lit(c) => (rest.first() == Some(&c)).then_some(i + 1)?,
            Item::Space => {
                let n = rest
                    .iter()
                    .take_while(|c| **c == b' ' || **c == b'\t')
                    .count();
                (n > 0).then_some(i + n)?
            }
            Item::Year => {
                let (v, j) = digits(s, i, 4)?;
                self.year = Some(i64::from(v));
                j
            }
            Item::Year2 => {
                let (v, j) = digits(s, i, 2)?;
                self.year = Some(i64::from(v) + if v < 69 { 2000 } else { 1900 });
                j
            }
            Item::Month => set(&mut self.month, digits(s, i, 2)?),
            Item::Day => set(&mut self.day, digits(s, i, 2)?),
            Item::DaySpace => {
                let j = if rest.first() == Some(&b' ') {
                    i + 1
                } else {
                    i
                };
                set(&mut self.day, digits(s, j, 2)?)
            }
            Item::YearDay => {
                let (v, j) = digits(s, i, 3)?;
                self.yday = Some(v);
                j
            }
            Item::Hour | Item::Hour12 => set(&mut self.hour, digits(s, i, 2)?),
            Item::AmPm => {
                let w = rest.get(..2)?;
                self.pm = Some(if w.eq_ignore_ascii_case(b"pm") {
                    true
                } else if w.eq_ignore_ascii_case(b"am") {
                    false
                } else {
                    return None;
                });
                i + 2
            }
            Item::Minute => set(&mut self.minute, digits(s, i, 2)?),
            Item::Second => set(&mut self.second, digits(s, i, 2)?),
            Item::Frac(n) => {
                let got = rest.iter().take_while(|c| c.is_ascii_digit()).count();
                let want = n.map_or(got, usize::from);
                if got == 0 || got < want {
                    return None;
                }
                self.frac = frac_of(&rest[..want]);
                i + want
            }
            Item::DotFrac => match rest.first() {
                Some(b'.' | b',') => {
                    let got = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                    self.frac = frac_of(&rest[1..1 + got]);
                    i + 1 + got
                }
                _ => i,
            },
            Item::MonthName => {
                let m = month(rest.get(..3)?)?;
                self.month = m;
                // The full name when it is written out (`%B`), else the abbreviation.
                const FULL: [&str; 12] = [
                    "january",
                    "february",
                    "march",
                    "april",
                    "may",
                    "june",
                    "july",
                    "august",
                    "september",
                    "october",
                    "november",
                    "december",
                ];
                let full = FULL[m as usize - 1].as_bytes();
                if letters >= full.len() && rest[..full.len()].eq_ignore_ascii_case(full) {
                    i + full.len()
                } else {
                    i + 3
                }
            }
            Item::Weekday => (letters >= 3).then_some(i + letters)?,
            Item::Zone => {
                let (r, off) = zone(rest).ok()?;
                self.zone = Some(off);
                s.len() - r.len()
            }
            Item::ZoneName => {
                let w = &rest[..letters];
                if !(w.eq_ignore_ascii_case(b"utc") || w.eq_ignore_ascii_case(b"gmt") || w == b"Z")
                {
                    return None;
                }
                self.zone = Some(0);
                i + letters
            }
            Item::Epoch => {
                let n = crate::value::number_len(rest, true);
                self.epoch = Some(crate::value::parse_f64(&rest[..n]).filter(|v| *v >= 0.0)?);
                i + n
            }
        })
    }

    fn time(&self) -> Option<Zoned> {
        if let Some(e) = self.epoch {
            return Some((e, true));
        }
        let mut hour = self.hour;
        if let Some(pm) = self.pm {
            if !(1..=12).contains(&hour) {
                return None;
            }
            hour = hour % 12 + if pm { 12 } else { 0 };
        }
        if hour > 23 || self.minute > 59 || self.second > 60 {
            return None;
        }
        let secs = f64::from(hour * 3600 + self.minute * 60 + self.second) + self.frac;
        let (year, month, day) = match self.yday {
            Some(yd) if self.month == 0 => (self.year?, 1, 1 + yd.checked_sub(1)?),
            _ => (self.year.unwrap_or(0), self.month, self.day),
        };
        if !(1..=12).contains(&month)
            || !(1..=366).contains(&day)
            || (self.yday.is_none() && day > 31)
        {
            return None;
        }
        let t = match self.year {
            Some(_) => {
                // Day of the year: days past the 1st of January.
                let (d, extra) = if self.yday.is_some() && self.month == 0 {
                    (1, day - 1)
                } else {
                    (day, 0)
                };
                ((days_from_civil(year, month, d) + i64::from(extra)) * 86400) as f64 + secs
            }
            None => in_recent_year(month, day, secs),
        };
        Some((t - self.zone.unwrap_or(0) as f64, self.zone.is_some()))
    }
}

fn set(slot: &mut u32, (v, j): (u32, usize)) -> usize {
    *slot = v;
    j
}

#[cfg(test)]
#[path = "strftime_tests.rs"]
mod tests;
