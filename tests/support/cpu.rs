//! CPU time of a process as Linux accounts it in `/proc/<pid>/stat`, for
//! the load driver: it reads the server's (and the fake instance's) user
//! plus system time before and after each measurement.

/// User + system CPU time in clock ticks from the text of a
/// `/proc/<pid>/stat` file; `None` if it is not one.
///
/// The second field (the command name) is in parentheses and may itself
/// hold spaces and parentheses, so fields are counted from the last `)`:
/// after it come field 3 (state) onwards, and `utime` and `stime` are
/// fields 14 and 15 (proc(5)).
pub fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`, asked once; 100 on every
/// Linux we know).
pub fn ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(ask_ticks_per_second)
}

fn ask_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// User + system CPU time of process `pid` in milliseconds so far.
pub fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ticks = stat_ticks(&stat).unwrap_or(0);
    ticks as f64 * 1000.0 / ticks_per_second() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real line from `cat /proc/self/stat` with a command name holding
    // spaces and a parenthesis, utime 4321 and stime 123.
    const STAT: &str = "12345 (fedi oidc (x)) S 1 12345 12345 0 -1 4194560 1234 0 0 0 4321 123 0 0 20 0 9 0 \
                        100 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 4096 17638 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn ticks_are_utime_plus_stime_counted_after_the_command_name() {
        assert_eq!(stat_ticks(STAT), Some(4321 + 123));
    }

    #[test]
    fn a_line_that_is_not_a_stat_file_gives_none() {
        assert_eq!(stat_ticks(""), None);
        assert_eq!(stat_ticks("1 (x) S 1 2"), None);
        assert_eq!(stat_ticks("1 (x) S 1 2 3 4 5 6 7 8 9 10 u s"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(cpu_ms(std::process::id()) > 0.0);
    }
}
