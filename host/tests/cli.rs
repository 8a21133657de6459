//! The `eti` binary as an operator meets it: exit statuses, error lines that
//! name the key, connect failures reported per attempt, partial config files,
//! Ctrl-C that stops cleanly (summary printed, journal sealed, status 130).
//! Every test runs the real binary against loopback sockets it opens itself.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ETI: &str = env!("CARGO_BIN_EXE_eti");

mod support;
use support::{closed_tcp_port, free_udp_port};

/// A partial config: loopback feed on free ports, the venue at `venue`, no
/// metrics endpoint, plus `extra`.
fn write_config(dir: &Path, venue: &str, extra: &str) -> std::path::PathBuf {
    let p = dir.join("eti.toml");
    std::fs::write(
        &p,
        format!(
            "[feed]\nlisten = \"127.0.0.1:{}\"\nretransmit = \"127.0.0.1:{}\"\n\n[venue]\naddress = \"{venue}\"\nreconnect_ms = 200\nconnect_timeout_ms = 300\n\n[metrics]\nlisten = \"\"\n{extra}",
            free_udp_port(),
            free_udp_port()
        ),
    )
    .unwrap();
    p
}

fn eti(args: &[&str]) -> Output {
    Command::new(ETI)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("running eti")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn run_with_no_venue_says_why_per_attempt_and_exits_3() {
    let d = tempfile::tempdir().unwrap();
    let venue = format!("127.0.0.1:{}", closed_tcp_port());
    let cfg = write_config(d.path(), &venue, "");
    let out = eti(&["run", "--config", cfg.to_str().unwrap(), "--seconds", "2"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let attempts = stderr
        .lines()
        .filter(|l| l.contains(&format!("venue {venue}: connect failed")))
        .collect::<Vec<_>>();
    assert!(attempts.len() >= 3, "one line per attempt:\n{stderr}");
    assert!(
        attempts[0].contains("refused") && attempts[0].contains("next attempt in 200 ms"),
        "{}",
        attempts[0]
    );
    // the summary and the final line say the same thing
    assert!(
        stdout.contains(&format!("venue {venue}: never logged in")),
        "{stdout}"
    );
    assert!(stdout.contains("connect attempts failed"), "{stdout}");
    assert!(stdout.contains("tick-to-trade: no samples"), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "eti: venue.address = \"{venue}\": never logged in"
        )),
        "{stderr}"
    );
    // not a terminal: no colour codes
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escapes in piped output:\n{stderr}"
    );
}

#[test]
fn run_against_a_venue_that_never_answers_reports_it() {
    let d = tempfile::tempdir().unwrap();
    // accepts (the kernel completes the handshake) and never says a word
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let venue = silent.local_addr().unwrap().to_string();
    let cfg = write_config(d.path(), &venue, "");
    let out = eti(&["run", "--config", cfg.to_str().unwrap(), "--seconds", "2"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("accepted the connection but did not answer the login within 300 ms"),
        "{stderr}"
    );
    assert!(stdout.contains("unanswered"), "{stdout}");
    drop(silent);
}

#[test]
fn config_errors_are_one_line_naming_key_value_and_range() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("bad.toml");
    std::fs::write(&cfg, "[risk]\ncollar_bps = 70000\n").unwrap();
    let out = eti(&["run", "--config", cfg.to_str().unwrap(), "--seconds", "1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line:\n{stderr}");
    assert!(
        stderr.contains("risk.collar_bps")
            && stderr.contains("70000")
            && stderr.contains("0..=10000"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Caused by") && !stderr.contains("u16"),
        "{stderr}"
    );
}

#[test]
fn feed_port_in_use_names_the_key_and_address_once() {
    let d = tempfile::tempdir().unwrap();
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let cfg = d.path().join("eti.toml");
    std::fs::write(
        &cfg,
        format!("[feed]\nlisten = \"{addr}\"\n[metrics]\nlisten = \"\"\n"),
    )
    .unwrap();
    let out = eti(&["run", "--config", cfg.to_str().unwrap(), "--seconds", "1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("feed.listen = \"{addr}\"")),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("in use"), "{stderr}");
    assert_eq!(stderr.matches("in use").count(), 1, "said once:\n{stderr}");
    assert!(!stderr.contains("Caused by"), "{stderr}");
}

#[test]
fn metrics_port_in_use_names_the_key() {
    let d = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let cfg = write_config(d.path(), "127.0.0.1:1", "\n[hot]\nspin = false\n");
    let text_cfg = std::fs::read_to_string(&cfg).unwrap().replace(
        "[metrics]\nlisten = \"\"",
        &format!("[metrics]\nlisten = \"{addr}\""),
    );
    std::fs::write(&cfg, text_cfg).unwrap();
    let out = eti(&["run", "--config", cfg.to_str().unwrap(), "--seconds", "1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("metrics.listen = \"{addr}\"")),
        "{stderr}"
    );
}

#[test]
fn config_prints_defaults_and_merges_partial_files() {
    let out = eti(&["config"]);
    assert_eq!(out.status.code(), Some(0));
    let defaults = text(&out.stdout);
    assert_eq!(defaults.trim(), eti_host::app::config::DEFAULT_TOML.trim());
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("venue.toml");
    std::fs::write(&cfg, "[venue]\naddress = \"10.0.0.9:7001\"\n").unwrap();
    let out = eti(&["config", "--config", cfg.to_str().unwrap()]);
    let merged = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let c = eti_host::app::config::HostConfig::from_toml(&merged.replace("(hidden)", "eti"))
        .expect("the merged output is itself a valid config");
    assert_eq!(c.venue.address, "10.0.0.9:7001");
    assert_eq!(c.venue.username, "ETI001");
    assert!(
        !merged.contains("password = \"eti\""),
        "password printed:\n{merged}"
    );
    // the sample file in the repository is accepted as is
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/eti.toml");
    assert_eq!(eti(&["config", "--config", sample]).status.code(), Some(0));
}

/// A host config in `dir` towards `venue` whose `[journal]` section names a
/// signing key file (32 bytes of `byte`, in hex) with permissions `mode`;
/// returns the config file and the journal folder.
fn keyed_journal_config(dir: &Path, byte: &str, mode: u32, venue: &str) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let key = dir.join("journal.key");
    std::fs::write(&key, byte.repeat(32)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
    let jdir = dir.join("journal");
    let cfg = write_config(
        dir,
        venue,
        &format!(
            "\n[journal]\ndir = \"{}\"\nsigning_key = \"{}\"\n",
            jdir.display(),
            key.display()
        ),
    );
    (cfg, jdir)
}

#[test]
fn signing_key_readable_by_others_is_refused_naming_the_key() {
    let d = tempfile::tempdir().unwrap();
    let (cfg, jdir) = keyed_journal_config(d.path(), "11", 0o644, "127.0.0.1:1");
    let out = eti(&["run", "--config", cfg.to_str().unwrap(), "--seconds", "1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("journal.signing_key")
            && stderr.contains("0644")
            && stderr.contains("chmod 600"),
        "{stderr}"
    );
    assert!(!jdir.exists(), "nothing written before the key is accepted");
}

/// Start `eti`, wait for `ready` on stderr, send SIGINT; returns the output.
fn interrupt_after(args: &[&str], ready: &str, limit: Duration) -> (Option<i32>, String, String) {
    let mut child: Child = Command::new(ETI)
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let t0 = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) if l.contains(ready) => break,
            _ if t0.elapsed() > limit => {
                let _ = child.kill();
                panic!("`{ready}` not seen within {limit:?}");
            }
            _ => {}
        }
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let t1 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t1.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("eti did not stop within 30 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    (status.code(), stdout, reader.join().unwrap())
}

/// `eti audit verify` passes on the journal in `dir`.
fn assert_verified(dir: &Path) {
    let v = eti(&["audit", "verify", dir.to_str().unwrap()]);
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}{}",
        text(&v.stdout),
        text(&v.stderr)
    );
}

#[test]
fn ctrl_c_stops_run_cleanly_seals_the_journal_and_exits_130() {
    let d = tempfile::tempdir().unwrap();
    let jdir = d.path().join("journal");
    let venue = format!("127.0.0.1:{}", closed_tcp_port());
    let cfg = write_config(d.path(), &venue, "");
    let (code, stdout, stderr) = interrupt_after(
        &[
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--journal",
            jdir.to_str().unwrap(),
        ],
        "connect failed",
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(130), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("Ctrl-C: stopping the run cleanly"),
        "{stderr}"
    );
    assert!(
        stdout.contains("never logged in"),
        "summary printed:\n{stdout}"
    );
    assert!(stdout.contains("sealed"), "{stdout}");
    assert_verified(&jdir);
}

#[cfg(feature = "demo")]
#[test]
fn ctrl_c_stops_the_demo_cleanly_with_summary_and_sealed_journal() {
    let d = tempfile::tempdir().unwrap();
    let jdir = d.path().join("journal");
    let (code, stdout, stderr) = interrupt_after(
        &[
            "demo",
            "--seconds",
            "60",
            "--journal",
            jdir.to_str().unwrap(),
        ],
        "host ready",
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(130), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("ETI demo summary"), "{stdout}");
    assert!(stdout.contains("stopped early by Ctrl-C"), "{stdout}");
    assert!(stdout.contains("records journaled"), "{stdout}");
    assert_verified(&jdir);
}

#[test]
fn version_and_help_for_every_subcommand() {
    let out = eti(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("eti "),
        "{}",
        text(&out.stdout)
    );
    for sub in ["run", "config", "audit"] {
        let out = eti(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{sub}");
        assert!(
            !text(&out.stdout).contains('\u{1b}'),
            "colour in piped help"
        );
    }
}

#[test]
fn journal_section_opens_the_journal_with_the_configured_key() {
    let d = tempfile::tempdir().unwrap();
    let venue = format!("127.0.0.1:{}", closed_tcp_port());
    let (cfg, jdir) = keyed_journal_config(d.path(), "2a", 0o600, &venue);
    let out = eti(&["run", "--config", cfg.to_str().unwrap(), "--seconds", "1"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("sealed"), "{stdout}");
    // the configured key sealed it: none was generated beside the records,
    // and no advice to configure one was printed
    assert!(!jdir.join("journal.key").exists());
    assert!(
        !stderr.contains("no journal signing key configured"),
        "{stderr}"
    );
    assert_verified(&jdir);
}

/// Runs `eti ARGS` on a pseudo-terminal through util-linux `script`
/// (bsdutils, essential in Debian); `None` (with the reason printed) when
/// `script` is missing, a failure under CI.
fn on_a_terminal(args: &str, no_color: bool) -> Option<String> {
    let mut c = Command::new("script");
    c.args(["-qec", &format!("{ETI} {args}"), "/dev/null"])
        .env_remove("RUST_LOG");
    if no_color {
        c.env("NO_COLOR", "1");
    } else {
        c.env_remove("NO_COLOR");
    }
    match c.output() {
        Ok(o) => Some(text(&o.stdout)),
        Err(e) => {
            let why = format!("`script` (bsdutils) not runnable: {e}");
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("skipping the terminal half: {why}");
            None
        }
    }
}

#[test]
fn colour_on_a_terminal_only_and_never_with_no_color() {
    let Some(coloured) = on_a_terminal("run --help", false) else {
        return;
    };
    assert!(
        coloured.contains('\u{1b}'),
        "a terminal gets colour:\n{coloured}"
    );
    let plain = on_a_terminal("run --help", true).unwrap_or_default();
    assert!(plain.contains("Usage"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR honoured:\n{plain}");
    // the log lines of a run too
    let d = tempfile::tempdir().unwrap();
    let venue = format!("127.0.0.1:{}", closed_tcp_port());
    let cfg = write_config(d.path(), &venue, "");
    let args = format!("run --config {} --seconds 1", cfg.display());
    let coloured = on_a_terminal(&args, false).unwrap_or_default();
    assert!(coloured.contains("connect failed"), "{coloured}");
    assert!(coloured.contains('\u{1b}'), "{coloured}");
    let plain = on_a_terminal(&args, true).unwrap_or_default();
    assert!(plain.contains("connect failed"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR honoured:\n{plain}");
}
