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
