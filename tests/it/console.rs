//! The SQL prompt on a real terminal (a pseudo-terminal driven from Python): long results cut
//! to their first and last rows, wide ones to the columns that fit, and a private history
//! file that keeps statements across sessions but never one holding an ID number.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::support::python;

/// Run the prompt on a pseudo-terminal `cols` wide, typing `lines`; returns what it showed.
fn prompt(wh: &Path, history: &Path, cols: u16, lines: &[&str]) -> String {
    let script = r#"
import fcntl, os, pty, select, struct, sys, termios, time, signal
exe, wh, history, cols = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lines = sys.argv[5:]
env = dict(os.environ, POVCENSUS_SQL_HISTORY=history, RUST_LOG='warn', TERM='xterm')
env.pop('POVCENSUS_WAREHOUSE', None)
pid, fd = pty.fork()
if pid == 0:
    os.execve(exe, [exe, 'sql', '--warehouse', wh], env)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 50, cols, 0, 0))
out = b''
seen = 0
def read_until(marker, timeout=30):
    global out, seen
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            out += chunk
            if out.count(marker) > seen:
                seen = out.count(marker)
                return True
    return False
read_until(b'povcensus> ')
for l in lines:
    os.write(fd, (l + '\r').encode())
    read_until(b'povcensus> ')
os.write(fd, b'\\q\r')
read_until(b'\x00', timeout=5)
try:
    os.kill(pid, signal.SIGTERM)
except ProcessLookupError:
    pass
os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf-8', 'replace'))
"#;
    let mut args = vec![
        env!("CARGO_BIN_EXE_povcensus").to_string(),
        wh.display().to_string(),
        history.display().to_string(),
        cols.to_string(),
    ];
    args.extend(lines.iter().map(|l| l.to_string()));
    let o = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).replace("\r\n", "\n")
}

#[test]
fn the_prompt_fits_results_to_the_terminal_and_keeps_a_private_history() {
    let dir = tempfile::tempdir().unwrap();
    let sub = crate::ingest::fixture_copy(dir.path());
    let wh = dir.path().join("wh");
    let o = crate::ingest::povcensus(&[
        "ingest",
        sub.to_str().unwrap(),
        "--warehouse",
        wh.to_str().unwrap(),
    ]);
    assert!(o.status.code().is_some_and(|c| c <= 1));
    let history = dir.path().join("state/povcensus/sql_history");
    let shown = prompt(
        &wh,
        &history,
        60,
        &[
            "SELECT value AS n FROM generate_series(1, 1000);",
            "SELECT * FROM counties;",
            "SELECT COUNT(*) FROM persons WHERE person_id = '522726197003059014';",
        ],
    );
    assert!(shown.contains("1000 rows, 40 shown (960 elided"), "{shown}");
    assert!(
        shown.contains("| 1000 |") && !shown.contains("| 500 |"),
        "{shown}"
    );
    assert!(shown.contains("hidden to fit the terminal: "), "{shown}");
    assert!(
        shown
            .lines()
            .filter(|l| l.starts_with('+') || l.starts_with('|'))
            .all(|l| unicode_width(l) <= 60),
        "{shown}"
    );
    // The history: private, the statements kept, never the one with an ID number.
    let kept = std::fs::read_to_string(&history).unwrap();
    assert!(kept.contains("generate_series(1, 1000)"), "{kept}");
    assert!(!kept.contains("5227261970"), "{kept}");
    let mode = std::fs::metadata(&history).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The next session reads it back (the up arrow recalls the last statement).
    let again = prompt(&wh, &history, 60, &["\x1b[A"]);
    assert!(again.contains("SELECT * FROM counties;"), "{again}");
}

/// The display width of a line (CJK characters take two columns), as the terminal shows it.
fn unicode_width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if (c as u32) >= 0x1100 && c != '…' {
                2
            } else {
                1
            }
        })
        .sum()
}

/// CSV written to a file starts with a byte order mark (Excel reads Chinese right); on
/// standard output only when asked, so that pipes and scripts get what they got before.
#[test]
fn csv_to_a_file_has_a_byte_order_mark_and_stdout_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let sub = crate::ingest::fixture_copy(dir.path());
    let wh = dir.path().join("wh");
    let wh = wh.to_str().unwrap();
    let o = crate::ingest::povcensus(&["ingest", sub.to_str().unwrap(), "--warehouse", wh]);
    assert!(o.status.code().is_some_and(|c| c <= 1));
    let q = "SELECT county_code, county_name FROM counties";
    let file = dir.path().join("out.csv");
    let o = crate::ingest::povcensus(&[
        "sql",
        "--warehouse",
        wh,
        "-c",
        q,
        "--format",
        "csv",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", crate::ingest::text(&o));
    assert!(o.stdout.is_empty());
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written, "\u{feff}county_code,county_name\n522726,独山县\n");
    let piped = crate::ingest::sql(wh, q, &[], &[]);
    assert_eq!(piped, "county_code,county_name\n522726,独山县\n");
    let asked = crate::ingest::sql(wh, q, &["--bom"], &[]);
    assert_eq!(asked, written);
    // A failing statement leaves no file behind.
    let bad = dir.path().join("bad.csv");
    let o = crate::ingest::povcensus(&[
        "sql",
        "--warehouse",
        wh,
        "-c",
        "SELECT 1; SELECT nope FROM counties",
        "-o",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!bad.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
