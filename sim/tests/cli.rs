//! The `eti-sim` command-line contract scripts rely on.

use std::process::Command;

fn eti_sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eti-sim"))
}

#[test]
fn gen_book_json_and_decode() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.itch");
    let out = eti_sim()
        .args([
            "gen-itch",
            "--out",
            file.to_str().unwrap(),
            "--messages",
            "4000",
            "--seed",
            "5",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = eti_sim()
        .args(["book", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let want = eti_sim::replay::rebuild_file(&file).unwrap().lines();
    let mut lines = 0;
    let mut total_messages = 0;
    for (line, w) in text.lines().zip(&want) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "best_ask_price",
                "best_ask_shares",
                "best_bid_price",
                "best_bid_shares",
                "messages",
                "resting_orders",
                "symbol"
            ]
        );
        assert_eq!(obj["symbol"], w.symbol.as_str());
        assert!(obj["best_bid_price"].is_u64(), "integer prices");
        assert_eq!(obj["best_bid_price"], w.best_bid_price);
        assert_eq!(obj["best_ask_shares"], w.best_ask_shares);
        assert_eq!(obj["resting_orders"], w.resting_orders);
        total_messages += obj["messages"].as_u64().unwrap();
        lines += 1;
    }
    assert_eq!(lines, want.len());
    assert!(lines >= 2, "several symbols");
    assert!(
        total_messages > 3_000 && total_messages <= 4_000,
        "{total_messages}"
    );

    let sym = &want[0].symbol;
    let out = eti_sim()
        .args(["book", file.to_str().unwrap(), "--symbol", sym, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
    let out = eti_sim()
        .args(["book", file.to_str().unwrap(), "--symbol", "NOSUCH"])
        .output()
        .unwrap();
    assert!(!out.status.success());

    let out = eti_sim()
        .args(["decode", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        4_000
    );
}

#[test]
fn corrupt_file_fails_with_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.itch");
    let mut bytes = eti_sim::itchgen::generate_vec(100, 1);
    let good_len = bytes.len();
    bytes.extend_from_slice(&[0, 36, b'Z', 1, 2, 3]); // unknown type 'Z'
    std::fs::write(&file, &bytes).unwrap();
    for cmd in [["decode", "--json"], ["book", "--json"]] {
        let out = eti_sim()
            .args([cmd[0], file.to_str().unwrap(), cmd[1]])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{cmd:?} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&good_len.to_string()) || err.contains(&(good_len + 2).to_string()),
            "{cmd:?}: error names the offset: {err}"
        );
    }
}

#[test]
fn bad_config_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sim.toml");
    std::fs::write(&cfg, "[feed]\nmtu = 5\n").unwrap();
    let out = eti_sim()
        .args(["serve", "--config", cfg.to_str().unwrap(), "--seconds", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("feed.mtu") && err.contains("128..=65507"),
        "{err}"
    );
    let out = eti_sim().arg("config").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("listen = \"127.0.0.1:30003\""));
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn gen_itch_writes_exactly_n_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.itch");
    for n in ["22", "5000"] {
        let out = eti_sim()
            .args(["gen-itch", "--out", file.to_str().unwrap(), "--messages", n])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let out = eti_sim()
            .args(["decode", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with(&format!("messages {n}\n")),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let out = eti_sim()
        .args([
            "gen-itch",
            "--out",
            file.to_str().unwrap(),
            "--messages",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("--messages 5") && err.contains("at least 22"),
        "{err}"
    );
}

/// `gen-itch --messages 200000 --seed 3` then `book` showed a crossed AAPL.
#[test]
fn generated_books_are_uncrossed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.itch");
    let out = eti_sim()
        .args(["gen-itch", "--out", file.to_str().unwrap()])
        .args(["--messages", "200000", "--seed", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = eti_sim()
        .args(["book", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let mut symbols = 0;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (bid, ask) = (
            v["best_bid_price"].as_u64().unwrap(),
            v["best_ask_price"].as_u64().unwrap(),
        );
        assert!(bid > 0 && ask > 0 && bid < ask, "{line}");
        symbols += 1;
    }
    assert_eq!(symbols, 8);
}

/// `eti-sim replay FILE --max --retransmit RETRANSMIT`.
fn replay_max(file: &std::path::Path, retransmit: &str) -> Command {
    let mut c = eti_sim();
    c.args([
        "replay",
        file.to_str().unwrap(),
        "--max",
        "--retransmit",
        retransmit,
    ]);
    c
}

#[test]
fn replay_rejects_what_serve_rejects_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.itch");
    std::fs::write(&file, eti_sim::itchgen::generate_vec(100, 1)).unwrap();
    for (args, flag, accepted) in [
        (vec!["--mtu", "20"], "--mtu", "128..=65507"),
        (vec!["--mtu", "60"], "--mtu", "128..=65507"),
        (vec!["--speed", "0"], "--speed", "above 0"),
        (vec!["--session", "MUCHTOOLONGNAME"], "--session", "1..=10"),
        (vec!["--retransmit", "here"], "--retransmit", "IP:port"),
    ] {
        let mut cmd = eti_sim();
        cmd.args(["replay", file.to_str().unwrap()]).args(&args);
        if flag != "--retransmit" {
            cmd.args(["--retransmit", "off"]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr_of(&out);
        assert!(
            err.contains(flag) && err.contains(args[1]) && err.contains(accepted),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    // the retransmission port in use: named with its flag and address
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = replay_max(&file, &addr).output().unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("--retransmit") && err.contains(&addr), "{err}");
}

#[test]
fn replay_says_its_pace_and_ctrl_c_stops_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.itch");
    std::fs::write(&file, eti_sim::itchgen::generate_vec(50_000, 1)).unwrap();
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dest = sink.local_addr().unwrap().to_string();
    let out = replay_max(&file, "off")
        .args(["--dest", &dest])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("pace: as fast as possible"), "{err}");
    assert!(err.contains("replayed 50000 messages"), "{err}");
    assert!(
        !err.contains('\x1b'),
        "no escape codes off a terminal: {err:?}"
    );

    // the default pace: recorded, silences cut to a second; a generated day
    // waits in its pre-market silences, where Ctrl-C finds it
    let child = eti_sim()
        .args(["replay", file.to_str().unwrap(), "--retransmit", "off"])
        .args(["--dest", &dest])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let t0 = std::time::Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert!(t0.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(out.status.code(), Some(130));
    let err = stderr_of(&out);
    assert!(
        err.contains("pace: recorded timestamps at 1x") && err.contains("cut to 1000 ms"),
        "{err}"
    );
    assert!(err.contains("interrupted: replayed "), "{err}");
    assert!(!err.contains("replayed 50000"), "{err}");
}

#[test]
fn version_and_no_colour_off_a_terminal() {
    let out = eti_sim().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("eti-sim {}", env!("CARGO_PKG_VERSION"))
    );
    // tracing output to a pipe carries no escape codes
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sim.toml"),
        "[ouch]\nlisten = \"127.0.0.1:0\"\n[feed]\ndestinations = []\nretransmit_listen = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let out = eti_sim()
        .args(["serve", "--seconds", "0", "--config"])
        .arg(dir.path().join("sim.toml"))
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("eti-sim serving"), "{err}");
    assert!(!err.contains('\x1b'), "{err:?}");
}
