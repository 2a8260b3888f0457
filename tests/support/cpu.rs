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

/// Voluntary + involuntary context switches in the text of a
/// `/proc/<pid>/task/<tid>/status` file.
pub fn status_switches(status: &str) -> u64 {
    status
        .lines()
        .filter_map(|l| {
            l.strip_prefix("voluntary_ctxt_switches:").or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
        })
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .sum()
}

/// Context switches of every thread of process `pid` so far (threads that
/// have exited are not counted: the server's threads live as long as it).
pub fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    tasks
        .filter_map(Result::ok)
        .map(|t| status_switches(&std::fs::read_to_string(t.path().join("status")).unwrap_or_default()))
        .sum()
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
    fn switches_are_voluntary_plus_involuntary() {
        let status = "Name:\tfedi-oidc\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n";
        assert_eq!(status_switches(status), 127);
        assert_eq!(status_switches("Name: x\n"), 0);
    }

    #[test]
    fn this_process_has_switched_context() {
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(context_switches(std::process::id()) > 0);
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
