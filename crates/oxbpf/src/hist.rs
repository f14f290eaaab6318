//! Histograms as text, in the layout of BCC's `print_log2_hist` / `print_linear_hist`
//! (the layout every BCC tool prints) and of bpftrace's `hist()` / `lhist()`.
//!
//! A log2 histogram counts values by power of two: slot `i` (≥ 1) holds the values in
//! `[2^(i-1), 2^i - 1]`, and slot 1 also holds 0 (BCC's `bpf_log2l(v)` gives 1 for both
//! 0 and 1). Slot 0 is never printed. A linear histogram's slot `i` is the value `i`.
//!
//! The bars are 40 characters wide (20 for log2 histograms that reach past slot 32):
//! `floor(width * count / max)` stars, as BCC computes them.

/// Most slots a linear histogram is read with (BCC's `linear_index_max`).
pub const MAX_LINEAR_SLOTS: usize = 1025;

/// Width of BCC's bars.
const STARS_MAX: u64 = 40;

fn stars(val: u64, val_max: u64, width: u64) -> String {
    if val_max == 0 {
        return String::new();
    }
    let n = ((width as u128 * val as u128) / val_max as u128).min(width as u128) as usize;
    let mut s = "*".repeat(n);
    if val > val_max {
        s.pop();
        s.push('+');
    }
    s
}

/// The index of the last non-zero slot and the largest count.
fn extent(slots: &[u64]) -> (Option<usize>, u64) {
    let last = slots.iter().rposition(|&v| v > 0);
    let max = slots.iter().copied().max().unwrap_or(0);
    (last, max)
}

/// A log2 histogram in BCC's layout:
///
/// ```text
///      usecs               : count     distribution
///          0 -> 1          : 0        |                                        |
///          2 -> 3          : 4        |****************************************|
/// ```
///
/// Nothing (an empty string) when no slot above 0 has a count.
pub fn log2_hist(slots: &[u64], val_type: &str) -> String {
    log2_hist_opts(slots, val_type, false)
}

/// [`log2_hist`], optionally skipping the leading empty slots (BCC's
/// `strip_leading_zero`).
pub fn log2_hist_opts(slots: &[u64], val_type: &str, strip_leading_zero: bool) -> String {
    let (last, max) = extent(slots);
    let Some(idx_max) = last else {
        return String::new();
    };
    if idx_max == 0 {
        return String::new();
    }
    let wide = idx_max > 32;
    let width = if wide { STARS_MAX / 2 } else { STARS_MAX };
    let mut out = if wide {
        format!("               {val_type:<29} : count     distribution\n")
    } else {
        format!("     {val_type:<19} : count     distribution\n")
    };
    let mut strip = strip_leading_zero;
    for (i, &val) in slots.iter().enumerate().take(idx_max + 1).skip(1) {
        let high: u128 = (1u128 << i) - 1;
        let mut low: u128 = (1u128 << i) >> 1;
        if low == high {
            low -= 1;
        }
        if strip {
            if val == 0 {
                continue;
            }
            strip = false;
        }
        let bar = stars(val, max, width);
        let w = width as usize;
        if wide {
            out.push_str(&format!("{low:>20} -> {high:<20} : {val:<8} |{bar:<w$}|\n"));
        } else {
            out.push_str(&format!("{low:>10} -> {high:<10} : {val:<8} |{bar:<w$}|\n"));
        }
    }
    out
}

/// A linear histogram in BCC's layout:
///
/// ```text
///      msecs         : count     distribution
///         0          : 3        |****************************************|
///         1          : 1        |*************                           |
/// ```
pub fn linear_hist(slots: &[u64], val_type: &str) -> String {
    linear_hist_opts(slots, val_type, false)
}

/// [`linear_hist`], optionally skipping the leading empty slots.
pub fn linear_hist_opts(slots: &[u64], val_type: &str, strip_leading_zero: bool) -> String {
    let (last, max) = extent(slots);
    let Some(idx_max) = last else {
        return String::new();
    };
    let mut out = format!("     {val_type:<13} : count     distribution\n");
    let w = STARS_MAX as usize;
    let mut strip = strip_leading_zero;
    for (i, &val) in slots.iter().enumerate().take(idx_max + 1) {
        if strip {
            if val == 0 {
                continue;
            }
            strip = false;
        }
        let bar = stars(val, max, STARS_MAX);
        out.push_str(&format!("        {i:<10} : {val:<8} |{bar:<w$}|\n"));
    }
    out
}

/// The log2 slot of `v` as BCC's `bpf_log2l` computes it: 1 for 0 and 1, 2 for 2..=3,
/// 3 for 4..=7, ..., 64 for values with bit 63 set.
pub fn log2_slot(v: u64) -> usize {
    if v == 0 {
        1
    } else {
        64 - v.leading_zeros() as usize
    }
}

/// bpftrace's number suffixes: `1K` for 1024, `4M`, ...
fn bpftrace_num(v: u128) -> String {
    const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let mut n = v;
    let mut u = 0;
    while n >= 1024 && n.is_multiple_of(1024) && u < UNITS.len() - 1 {
        n /= 1024;
        u += 1;
    }
    format!("{n}{}", UNITS[u])
}

/// A log2 histogram in bpftrace's `hist()` layout, from slots in BCC's numbering (slot 1
/// holds 0 and 1 together, so bpftrace's separate `[0]` and `[1]` rows become `[0, 2)`).
///
/// ```text
/// [0, 2)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
/// [2, 4)                 1 |@@@@@@@@@@@@@@@@@                                   |
/// ```
pub fn bpftrace_hist(slots: &[u64]) -> String {
    let (last, max) = extent(slots);
    let Some(idx_max) = last else {
        return String::new();
    };
    let first = slots
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, &v)| v > 0)
        .map_or(1, |(i, _)| i);
    let mut out = String::new();
    for (i, &val) in slots
        .iter()
        .enumerate()
        .take(idx_max + 1)
        .skip(first.max(1))
    {
        let low: u128 = if i == 1 { 0 } else { 1u128 << (i - 1) };
        let high: u128 = 1u128 << i;
        let label = format!("[{}, {})", bpftrace_num(low), bpftrace_num(high));
        let n = if max == 0 {
            0
        } else {
            ((52u128 * val as u128) / max as u128) as usize
        };
        out.push_str(&format!("{label:<16}{val:>8} |{:<52}|\n", "@".repeat(n)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_layout_matches_bcc() {
        // vals[1] = 0..1, vals[2] = 2..3, vals[3] = 4..7.
        let slots = [0, 2, 8, 0, 1];
        let text = log2_hist(&slots, "usecs");
        let want = "     usecs               : count     distribution\n\
                    \x20        0 -> 1          : 2        |**********                              |\n\
                    \x20        2 -> 3          : 8        |****************************************|\n\
                    \x20        4 -> 7          : 0        |                                        |\n\
                    \x20        8 -> 15         : 1        |*****                                   |\n";
        assert_eq!(text, want);
        assert_eq!(log2_hist(&[5], "x"), "", "slot 0 alone prints nothing");
        assert_eq!(log2_hist(&[], "x"), "");
        let stripped = log2_hist_opts(&[0, 0, 8, 0, 1], "usecs", true);
        assert!(!stripped.contains("0 -> 1 "));
        assert!(stripped.contains("2 -> 3"));
    }

    #[test]
    fn wide_log2_histogram_halves_the_bars() {
        let mut slots = vec![0u64; 40];
        slots[34] = 4;
        slots[35] = 2;
        let text = log2_hist(&slots, "bytes");
        assert!(text.starts_with(
            "               bytes                         : count     distribution\n"
        ));
        assert!(text.contains(&format!(
            "{:>20} -> {:<20} : 4        |{}|\n",
            1u64 << 33,
            (1u64 << 34) - 1,
            "*".repeat(20)
        )));
        assert!(text.contains(&format!("|{:<20}|", "*".repeat(10))));
    }

    #[test]
    fn linear_layout_matches_bcc() {
        let text = linear_hist(&[3, 1, 0, 2], "msecs");
        let want = "     msecs         : count     distribution\n\
                    \x20       0          : 3        |****************************************|\n\
                    \x20       1          : 1        |*************                           |\n\
                    \x20       2          : 0        |                                        |\n\
                    \x20       3          : 2        |**************************              |\n";
        assert_eq!(text, want);
        assert_eq!(linear_hist(&[0, 0], "x"), "");
    }

    #[test]
    fn slots_follow_bpf_log2l() {
        assert_eq!(log2_slot(0), 1);
        assert_eq!(log2_slot(1), 1);
        assert_eq!(log2_slot(2), 2);
        assert_eq!(log2_slot(3), 2);
        assert_eq!(log2_slot(4), 3);
        assert_eq!(log2_slot(1023), 10);
        assert_eq!(log2_slot(1024), 11);
        assert_eq!(log2_slot(u64::MAX), 64);
    }

    #[test]
    fn bpftrace_layout() {
        let text = bpftrace_hist(&[0, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!("{:<16}{:>8} |{:<52}|", "[0, 2)", 3, "@".repeat(52))
        );
        assert_eq!(
            lines[2],
            format!("{:<16}{:>8} |{:<52}|", "[4, 8)", 1, "@".repeat(17))
        );
        assert_eq!(
            lines[10],
            format!("{:<16}{:>8} |{:<52}|", "[1K, 2K)", 1, "@".repeat(17))
        );
    }
}
