//! Units and number formatting exactly as pprof prints them
//! (`internal/measurement/measurement.go`): the same unit tables, the same
//! automatic choice of unit, `%.2f` with ".00" trimmed, and percentages
//! with `%5.2f%%` above 1% and `%5.2g%%` below.

struct Unit {
    name: &'static str,
    aliases: &'static [&'static str],
    factor: f64,
}

struct UnitType {
    default: (&'static str, f64),
    units: &'static [Unit],
}

const UNIT_TYPES: [UnitType; 3] = [
    UnitType {
        default: ("B", 1.0),
        units: &[
            Unit {
                name: "B",
                aliases: &["b", "byte"],
                factor: 1.0,
            },
            Unit {
                name: "kB",
                aliases: &["kb", "kbyte", "kilobyte"],
                factor: 1024.0,
            },
            Unit {
                name: "MB",
                aliases: &["mb", "mbyte", "megabyte"],
                factor: 1048576.0,
            },
            Unit {
                name: "GB",
                aliases: &["gb", "gbyte", "gigabyte"],
                factor: 1073741824.0,
            },
            Unit {
                name: "TB",
                aliases: &["tb", "tbyte", "terabyte"],
                factor: 1099511627776.0,
            },
            Unit {
                name: "PB",
                aliases: &["pb", "pbyte", "petabyte"],
                factor: 1125899906842624.0,
            },
        ],
    },
    UnitType {
        default: ("s", 1e9),
        units: &[
            Unit {
                name: "ns",
                aliases: &["ns", "nanosecond"],
                factor: 1.0,
            },
            Unit {
                name: "us",
                aliases: &["μs", "us", "microsecond"],
                factor: 1e3,
            },
            Unit {
                name: "ms",
                aliases: &["ms", "millisecond"],
                factor: 1e6,
            },
            Unit {
                name: "s",
                aliases: &["s", "sec", "second"],
                factor: 1e9,
            },
            Unit {
                name: "hrs",
                aliases: &["hour", "hr"],
                factor: 3.6e12,
            },
        ],
    },
    UnitType {
        default: ("GCU", 1.0),
        units: &[
            Unit {
                name: "n*GCU",
                aliases: &["nanogcu"],
                factor: 1e-9,
            },
            Unit {
                name: "u*GCU",
                aliases: &["microgcu"],
                factor: 1e-6,
            },
            Unit {
                name: "m*GCU",
                aliases: &["milligcu"],
                factor: 1e-3,
            },
            Unit {
                name: "GCU",
                aliases: &["gcu"],
                factor: 1.0,
            },
            Unit {
                name: "k*GCU",
                aliases: &["kilogcu"],
                factor: 1e3,
            },
            Unit {
                name: "M*GCU",
                aliases: &["megagcu"],
                factor: 1e6,
            },
            Unit {
                name: "G*GCU",
                aliases: &["gigagcu"],
                factor: 1e9,
            },
            Unit {
                name: "T*GCU",
                aliases: &["teragcu"],
                factor: 1e12,
            },
            Unit {
                name: "P*GCU",
                aliases: &["petagcu"],
                factor: 1e15,
            },
        ],
    },
];

impl UnitType {
    fn sniff(&self, unit: &str) -> Option<&Unit> {
        let mut u = unit.to_lowercase();
        if u.len() > 2
            && let Some(s) = u.strip_suffix('s')
        {
            u = s.to_string();
        }
        self.units.iter().find(|x| x.aliases.contains(&u.as_str()))
    }

    fn auto_scale(&self, v: f64) -> Option<(f64, &'static str)> {
        let mut f = 0.0;
        let mut name = "";
        for u in self.units {
            if u.factor >= f && v / u.factor >= 1.0 {
                f = u.factor;
                name = u.name;
            }
        }
        if f == 0.0 { None } else { Some((v / f, name)) }
    }

    fn convert(&self, value: i64, from: &str, to: &str) -> Option<(f64, &'static str)> {
        let fu = self.sniff(from)?;
        let v = value as f64 * fu.factor;
        if to == "minimum" || to == "auto" {
            if let Some(r) = self.auto_scale(v) {
                return Some(r);
            }
            return Some((v / self.default.1, self.default.0));
        }
        match self.sniff(to) {
            Some(tu) => Some((v / tu.factor, tu.name)),
            None => Some((v / self.default.1, self.default.0)),
        }
    }
}

/// pprof's `measurement.Scale`: converts `value` from `from` to `to`
/// (`minimum`/`auto` pick a unit), returning the number and the unit
/// name to print (empty for counts).
pub fn scale(value: i64, from: &str, to: &str) -> (f64, String) {
    if value < 0 && value.wrapping_neg() > 0 {
        let (v, u) = scale(-value, from, to);
        return (-v, u);
    }
    for ut in &UNIT_TYPES {
        if let Some((v, u)) = ut.convert(value, from, to) {
            return (v, u.to_string());
        }
    }
    match to {
        "count" | "sample" | "unit" | "minimum" | "auto" => (value as f64, String::new()),
        _ => (value as f64, to.to_string()),
    }
}

/// pprof's `ScaledLabel`: `%.2f` with a trailing ".00" removed, then the
/// unit; zero prints as "0".
pub fn scaled_label(value: i64, from: &str, to: &str) -> String {
    let (v, u) = scale(value, from, to);
    let mut s = format!("{v:.2}");
    if let Some(t) = s.strip_suffix(".00") {
        s = t.to_string();
    }
    if s == "0" || s == "-0" {
        return "0".into();
    }
    s + &u
}

/// pprof's `measurement.Label`: automatic unit.
pub fn label(value: i64, unit: &str) -> String {
    scaled_label(value, unit, "auto")
}

/// pprof's `Percentage`: `"  100%"` near 100, `%5.2f%%` from 1%, `%5.2g%%`
/// below.
pub fn percentage(value: i64, total: i64) -> String {
    let ratio = if total != 0 {
        (value as f64 / total as f64).abs() * 100.0
    } else {
        0.0
    };
    if (99.95..=100.05).contains(&ratio) {
        "  100%".into()
    } else if ratio >= 1.0 {
        format!("{ratio:5.2}%")
    } else {
        format!("{:>5}%", format_g(ratio, 2))
    }
}

/// Go's `%.{prec}g`: shortest of %e/%f at `prec` significant digits,
/// trailing zeros removed, exponent with at least two digits.
pub fn format_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let e = format!("{:.*e}", prec.saturating_sub(1), v);
    let (mant, exp) = e.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// The unit pprof's `selectOutputUnit` picks for a report whose smallest
/// non-zero node value is `min` and whose total is `max`.
pub fn select_output_unit(min: i64, max: i64, sample_unit: &str) -> String {
    let min = if min == 0 { max } else { min };
    let (_, min_unit) = scale(min, sample_unit, "minimum");
    let (_, max_unit) = scale(max, sample_unit, "minimum");
    let mut unit = min_unit.clone();
    if min_unit != max_unit && min.wrapping_mul(100) < max {
        unit = scale(min.wrapping_mul(100), sample_unit, "minimum").1;
    }
    if unit.is_empty() {
        sample_unit.to_string()
    } else {
        unit
    }
}

/// Whether `unit` is a unit pprof can convert (bytes, time, GCU).
pub fn is_known_unit(unit: &str) -> bool {
    UNIT_TYPES.iter().any(|t| t.sniff(unit).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_like_pprof() {
        assert_eq!(scaled_label(3_050_000_000, "nanoseconds", "s"), "3.05s");
        assert_eq!(scaled_label(70_000_000, "nanoseconds", "ms"), "70ms");
        assert_eq!(scaled_label(0, "nanoseconds", "ms"), "0");
        assert_eq!(scaled_label(9_968_700, "bytes", "kB"), "9735.06kB");
        assert_eq!(scaled_label(7, "count", "count"), "7");
        assert_eq!(scaled_label(7, "widgets", "widgets"), "7widgets");
        assert_eq!(scaled_label(-1_500_000, "nanoseconds", "ms"), "-1.50ms");
    }

    #[test]
    fn percentages_like_pprof() {
        assert_eq!(percentage(1, 1), "  100%");
        assert_eq!(percentage(2857, 10000), "28.57%");
        assert_eq!(percentage(0, 10), "    0%");
        assert_eq!(percentage(5, 1000), "  0.5%");
        assert_eq!(percentage(56, 100000), "0.056%");
        assert_eq!(percentage(19, 100_000_000_000), "1.9e-08%");
        assert_eq!(percentage(1, 3), "33.33%");
    }

    #[test]
    fn output_unit_selection() {
        assert_eq!(
            select_output_unit(10_000_000, 3_050_000_000, "nanoseconds"),
            "s"
        );
        assert_eq!(
            select_output_unit(10_000_000, 70_000_000, "nanoseconds"),
            "ms"
        );
        assert_eq!(select_output_unit(3, 7, "count"), "count");
    }
}
