//! SoupBinTCP session rules with an injected clock: login, sequence tracking,
//! heartbeats after 1 s of send silence, peer dead after 15 s of receive silence,
//! and a client and a server talking to each other through the framer.

use eti_core::moldudp64::Session;
use eti_core::soupbintcp::*;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

fn creds() -> (Username, Password) {
    (Username::new("ETI").unwrap(), Password::new("pw").unwrap())
}

fn logged_in_client(now: u64, next: u64) -> ClientSession {
    let mut c = ClientSession::new(now, Timers::default());
    let (u, p) = creds();
    c.login(now, u, p, Session::BLANK, 0);
    let ev = c.on_packet(
        now,
        &Packet::LoginAccepted(LoginAccepted {
            session: Session::new("S1").unwrap(),
            sequence: next,
        }),
    );
    assert!(matches!(ev, ClientEvent::LoginAccepted(_)));
    c
}

#[test]
fn client_login_and_sequence_tracking() {
    let mut c = ClientSession::new(0, Timers::default());
    assert_eq!(c.state(), ClientState::Connected);
    // Data before login is a protocol error.
    assert_eq!(
        c.on_packet(0, &Packet::SequencedData(b"x")),
        ClientEvent::Unexpected { packet_type: b'S' }
    );
    let (u, p) = creds();
    let req = c.login(0, u, p, Session::BLANK, 7);
    assert_eq!(req.sequence, 7);
    assert_eq!(c.state(), ClientState::LoginSent);
    let acc = LoginAccepted {
        session: Session::new("S1").unwrap(),
        sequence: 7,
    };
    assert_eq!(
        c.on_packet(1, &Packet::LoginAccepted(acc)),
        ClientEvent::LoginAccepted(acc)
    );
    assert_eq!(c.state(), ClientState::LoggedIn);
    assert_eq!(c.session(), acc.session);
    for want in 7..10 {
        assert_eq!(
            c.on_packet(2, &Packet::SequencedData(b"m")),
            ClientEvent::SequencedData {
                sequence: want,
                message: b"m"
            }
        );
    }
    assert_eq!(c.next_sequence(), 10);
    // Heartbeats and debug do not consume sequence numbers.
    c.on_packet(3, &Packet::ServerHeartbeat);
    c.on_packet(3, &Packet::Debug(b"note"));
    assert_eq!(c.next_sequence(), 10);
    // Client-direction packets from the server are unexpected.
    assert_eq!(
        c.on_packet(3, &Packet::ClientHeartbeat),
        ClientEvent::Unexpected { packet_type: b'R' }
    );
    assert_eq!(
        c.on_packet(4, &Packet::EndOfSession),
        ClientEvent::EndOfSession
    );
    assert_eq!(c.state(), ClientState::Ended);
    assert!(c.state().is_terminal());
    assert_eq!(c.poll(100 * S), ClientAction::Idle);
}

#[test]
fn client_rejected() {
    let mut c = ClientSession::new(0, Timers::default());
    let (u, p) = creds();
    c.login(0, u, p, Session::BLANK, 0);
    assert_eq!(
        c.on_packet(1, &Packet::LoginRejected(RejectCode::NOT_AUTHORIZED)),
        ClientEvent::LoginRejected(RejectCode::NOT_AUTHORIZED)
    );
    assert_eq!(c.state(), ClientState::Rejected(RejectCode::NOT_AUTHORIZED));
}

#[test]
fn client_heartbeat_after_one_second_of_send_silence() {
    let mut c = logged_in_client(0, 1);
    assert_eq!(c.next_deadline(), S);
    assert_eq!(c.poll(S - 1), ClientAction::Idle);
    // Sending anything postpones the heartbeat.
    c.on_sent(500 * MS);
    assert_eq!(c.poll(S), ClientAction::Idle);
    assert_eq!(c.poll(1500 * MS - 1), ClientAction::Idle);
    c.on_packet(1500 * MS, &Packet::ServerHeartbeat);
    assert_eq!(c.poll(1500 * MS), ClientAction::SendHeartbeat);
    // poll counted it as sent: the next one is a second later.
    assert_eq!(c.poll(2000 * MS), ClientAction::Idle);
    assert_eq!(c.poll(2500 * MS), ClientAction::SendHeartbeat);
}

#[test]
fn client_declares_server_dead_after_15_seconds() {
    let mut c = logged_in_client(0, 1);
    let mut t = 0;
    // Keep sending heartbeats while the server is silent.
    while t < 15 * S - MS {
        t += 250 * MS;
        let a = c.poll(t.min(15 * S - 1));
        assert_ne!(a, ClientAction::PeerDead, "dead too early at {t}");
    }
    // Receiving resets the timer.
    c.on_packet(14 * S, &Packet::ServerHeartbeat);
    assert_ne!(c.poll(28 * S), ClientAction::PeerDead);
    assert_eq!(c.poll(29 * S), ClientAction::PeerDead);
    assert_eq!(c.state(), ClientState::PeerDead);
    // Also while waiting for the login answer.
    let mut c = ClientSession::new(0, Timers::default());
    let (u, p) = creds();
    c.login(0, u, p, Session::BLANK, 0);
    assert_eq!(
        c.poll(10 * S),
        ClientAction::Idle,
        "no heartbeat before login"
    );
    assert_eq!(c.poll(15 * S), ClientAction::PeerDead);
}

fn login(session: &str, sequence: u64) -> Packet<'static> {
    let (u, p) = creds();
    Packet::LoginRequest(LoginRequest {
        username: u,
        password: p,
        session: if session.is_empty() {
            Session::BLANK
        } else {
            Session::new(session).unwrap()
        },
        sequence,
    })
}

fn accept_all(_: &LoginRequest) -> Result<(), RejectCode> {
    Ok(())
}

#[test]
fn server_login_rules() {
    let s1 = Session::new("S1").unwrap();
    // Stream has 10 messages; next new one is 11.
    let mut srv = ServerSession::new(0, Timers::default(), s1, 11);
    assert_eq!(
        srv.on_packet(0, &Packet::UnsequencedData(b"early"), accept_all),
        ServerEvent::Unexpected { packet_type: b'U' }
    );
    let ev = srv.on_packet(0, &login("", 0), accept_all);
    let ServerEvent::LoginAccepted { accepted, .. } = ev else {
        panic!("{ev:?}")
    };
    assert_eq!((accepted.session, accepted.sequence), (s1, 11), "0 = live");

    let mut srv = ServerSession::new(0, Timers::default(), s1, 11);
    let ev = srv.on_packet(0, &login("S1", 4), accept_all);
    assert!(matches!(
        ev,
        ServerEvent::LoginAccepted {
            accepted: LoginAccepted { sequence: 4, .. },
            ..
        }
    ));
    assert_eq!(srv.next_to_send(), 4, "replay 4..=10 first");
    assert_eq!(srv.on_sequenced_sent(1), 4);
    assert_eq!(srv.on_sequenced_sent(1), 5);

    let mut srv = ServerSession::new(0, Timers::default(), s1, 11);
    let ev = srv.on_packet(0, &login("", 500), accept_all);
    assert!(
        matches!(
            ev,
            ServerEvent::LoginAccepted {
                accepted: LoginAccepted { sequence: 11, .. },
                ..
            }
        ),
        "beyond the stream: clipped to live"
    );

    let mut srv = ServerSession::new(0, Timers::default(), s1, 11);
    assert_eq!(
        srv.on_packet(0, &login("S0", 0), accept_all),
        ServerEvent::LoginRejected(RejectCode::SESSION_NOT_AVAILABLE)
    );
    assert!(srv.state().is_terminal());

    let mut srv = ServerSession::new(0, Timers::default(), s1, 11);
    let mut seen_user = String::new();
    let ev = srv.on_packet(0, &login("", 0), |r| {
        seen_user = r.username.as_str().to_string();
        Err(RejectCode::NOT_AUTHORIZED)
    });
    assert_eq!(ev, ServerEvent::LoginRejected(RejectCode::NOT_AUTHORIZED));
    assert_eq!(seen_user, "ETI");
}

#[test]
fn server_timers_and_logout() {
    let s1 = Session::new("S1").unwrap();
    let mut srv = ServerSession::new(0, Timers::default(), s1, 1);
    assert_eq!(
        srv.poll(5 * S),
        ServerAction::Idle,
        "no heartbeat before login"
    );
    srv.on_packet(5 * S, &login("", 0), accept_all);
    assert_eq!(srv.poll(5 * S), ServerAction::Idle);
    assert_eq!(srv.poll(6 * S), ServerAction::SendHeartbeat);
    srv.on_sequenced_sent(6500 * MS);
    assert_eq!(srv.poll(7 * S), ServerAction::Idle);
    assert_eq!(srv.poll(7500 * MS), ServerAction::SendHeartbeat);
    assert_eq!(
        srv.on_packet(8 * S, &Packet::UnsequencedData(b"order"), accept_all),
        ServerEvent::UnsequencedData(b"order")
    );
    assert_eq!(
        srv.on_packet(9 * S, &Packet::ClientHeartbeat, accept_all),
        ServerEvent::Heartbeat
    );
    assert_ne!(srv.poll(24 * S - 1), ServerAction::ClientDead);
    assert_eq!(srv.poll(24 * S), ServerAction::ClientDead);
    assert_eq!(srv.state(), ServerState::ClientDead);

    let mut srv = ServerSession::new(0, Timers::default(), s1, 1);
    srv.on_packet(0, &login("", 0), accept_all);
    assert_eq!(
        srv.on_packet(1, &Packet::LogoutRequest, accept_all),
        ServerEvent::Logout
    );
    assert_eq!(srv.state(), ServerState::LoggedOut);
    assert_eq!(srv.poll(100 * S), ServerAction::Idle);
}

/// Client and server exchange real bytes through framers, with a simulated
/// clock; the client resumes after a reconnect from its next sequence number.
#[test]
fn client_and_server_over_framed_bytes() {
    fn send(p: &Packet<'_>, wire: &mut Vec<u8>) {
        let mut b = vec![0u8; p.encoded_len()];
        p.encode(&mut b).unwrap();
        wire.extend(b);
    }
    let s1 = Session::new("S1").unwrap();
    let journal: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 3]).collect();
    let mut received = Vec::new();
    let mut resume_from = 0;
    for connection in 0..2 {
        let mut now = connection * 100 * S;
        let mut c = ClientSession::new(now, Timers::default());
        let mut srv = ServerSession::new(now, Timers::default(), s1, journal.len() as u64 + 1);
        let (mut to_srv, mut to_cli) = (Vec::new(), Vec::new());
        let (u, p) = creds();
        send(
            &Packet::LoginRequest(c.login(now, u, p, Session::BLANK, resume_from.max(1))),
            &mut to_srv,
        );
        let mut fs = Framer::new(100);
        let mut fc = Framer::new(100);
        fs.push(&to_srv);
        to_srv.clear();
        while let Some(pkt) = fs.next_packet().unwrap() {
            if let ServerEvent::LoginAccepted { accepted, .. } =
                srv.on_packet(now, &pkt, accept_all)
            {
                send(&Packet::LoginAccepted(accepted), &mut to_cli);
                // Replay what the client asked for, 10 messages per connection.
                let from = accepted.sequence;
                for m in journal.iter().skip(from as usize - 1).take(10) {
                    send(&Packet::SequencedData(m), &mut to_cli);
                    srv.on_sequenced_sent(now);
                }
            }
        }
        now += 2 * S;
        if srv.poll(now) == ServerAction::SendHeartbeat {
            send(&Packet::ServerHeartbeat, &mut to_cli);
        }
        // Deliver in 7-byte chunks.
        for chunk in to_cli.chunks(7) {
            fc.push(chunk);
            while let Some(pkt) = fc.next_packet().unwrap() {
                if let ClientEvent::SequencedData { sequence, message } = c.on_packet(now, &pkt) {
                    received.push((sequence, message.to_vec()));
                }
            }
        }
        assert_eq!(c.state(), ClientState::LoggedIn);
        resume_from = c.next_sequence();
    }
    assert_eq!(received.len(), 20);
    for (i, (seq, msg)) in received.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(msg, &journal[i]);
    }
}
