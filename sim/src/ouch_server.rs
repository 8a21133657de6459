//! The order-entry port: SoupBinTCP 3.0 sessions carrying OUCH 4.2, on tokio.
//!
//! One task per connection. The session rules (login, requested sequence,
//! heartbeats, dead peer) are eti_core's `ServerSession` state machine; this file
//! only moves bytes and looks up users. A user's sequenced messages live in the
//! exchange for the whole day, so a client that reconnects asking for sequence N
//! gets everything from N on, then the live stream. A second login for a user
//! takes the session over (the older connection is closed): a client that lost
//! its connection can come back at once without waiting for the dead-peer timer.
//!
//! A venue's added latency (`[[venues]] latency_us`) holds every inbound OUCH
//! message that long after it was read before the matching engine sees it, as
//! distance to a farther venue would: acks and fills come that much later, and
//! the book may have moved in between. Messages keep their order; reading goes
//! on while earlier ones wait. Messages still waiting when the client goes away
//! are applied at once (they were on the wire); at end of day they are dropped.

use crate::exchange::{Exchange, InboundOutcome};
use eti_core::moldudp64::Session;
use eti_core::soupbintcp::{
    Framer, LoginRequest, Packet, RejectCode, ServerAction, ServerEvent, ServerSession, Timers,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What every connection task shares.
#[derive(Debug)]
pub struct OuchShared {
    pub exchange: Arc<Mutex<Exchange>>,
    pub session: Session,
    pub timers: Timers,
    pub cancel_on_disconnect: bool,
    pub epoch: Instant,
    /// Added to every inbound message before matching (zero: none).
    pub latency: Duration,
}

impl OuchShared {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

/// Accept connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<OuchShared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            r = listener.accept() => {
                let Ok((stream, peer)) = r else { continue };
                let _ = stream.set_nodelay(true);
                let sh = shared.clone();
                let sd = shutdown.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(stream, sh, sd).await {
                        tracing::debug!(%peer, error = %e, "ouch connection ended");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
}

fn lock(ex: &Mutex<Exchange>) -> std::sync::MutexGuard<'_, Exchange> {
    // A panic while holding the lock must not take the venue down with it.
    ex.lock().unwrap_or_else(|p| p.into_inner())
}

async fn send(w: &mut OwnedWriteHalf, bytes: &[u8], timeout: Duration) -> std::io::Result<()> {
    match tokio::time::timeout(timeout, w.write_all(bytes)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "client not reading",
        )),
    }
}

fn packet_bytes(p: &Packet<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + p.encoded_len(), 0);
    let _ = p.encode(&mut out[start..]);
}

/// Hand one inbound OUCH message to the exchange; a note goes back as a Debug
/// packet. `Err(reason)` closes the session.
async fn deliver(
    sh: &OuchShared,
    user: usize,
    msg: &[u8],
    session: &mut ServerSession,
    wr: &mut OwnedWriteHalf,
    out: &mut Vec<u8>,
    timeout: Duration,
) -> Result<(), String> {
    let r = lock(&sh.exchange).inbound(user, msg);
    match r {
        InboundOutcome::Done => Ok(()),
        InboundOutcome::Note(t) => {
            out.clear();
            packet_bytes(&Packet::Debug(t.as_bytes()), out);
            send(wr, out, timeout).await.map_err(|e| e.to_string())?;
            session.on_sent(sh.now());
            Ok(())
        }
        InboundOutcome::Fatal(t) => Err(t),
    }
}

async fn connection(
    stream: TcpStream,
    sh: Arc<OuchShared>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let (mut rd, mut wr) = stream.into_split();
    let mut framer = Framer::new(1024);
    let timeout = Duration::from_nanos(sh.timers.peer_timeout_ns);
    let mut out = Vec::with_capacity(4096);

    // ---- login: the first packet must be a Login Request
    let login: LoginRequest = loop {
        let n = match tokio::time::timeout(timeout, rd.read(framer.spare_mut())).await {
            Ok(r) => r?,
            Err(_) => return Ok(()), // silent before login: drop
        };
        if n == 0 {
            return Ok(());
        }
        framer.commit(n);
        match framer.next_packet() {
            Ok(None) => continue,
            Ok(Some(Packet::LoginRequest(l))) => break l,
            Ok(Some(_)) | Err(_) => {
                // anything else before login breaks the session
                out.clear();
                packet_bytes(&Packet::Debug(b"expected Login Request"), &mut out);
                let _ = send(&mut wr, &out, timeout).await;
                return Ok(());
            }
        }
    };
    let (user, stream_next) = {
        let ex = lock(&sh.exchange);
        match ex.user_index(login.username.as_str()) {
            Some(u) => (Some(u), ex.users[u].out.len() + 1),
            None => (None, 1),
        }
    };
    let mut session = ServerSession::new(sh.now(), sh.timers, sh.session, stream_next);
    let verdict = session.on_packet(sh.now(), &Packet::LoginRequest(login), |req| {
        let ex = lock(&sh.exchange);
        match user {
            Some(u) if ex.users[u].password == req.password.as_str() => Ok(()),
            _ => Err(RejectCode::NOT_AUTHORIZED),
        }
    });
    let (user, mut next_seq) = match (verdict, user) {
        (ServerEvent::LoginAccepted { accepted, .. }, Some(u)) => {
            out.clear();
            packet_bytes(&Packet::LoginAccepted(accepted), &mut out);
            send(&mut wr, &out, timeout).await?;
            session.on_sent(sh.now());
            (u, accepted.sequence)
        }
        (ServerEvent::LoginRejected(code), _) => {
            out.clear();
            packet_bytes(&Packet::LoginRejected(code), &mut out);
            let _ = send(&mut wr, &out, timeout).await;
            return Ok(());
        }
        _ => return Ok(()),
    };
    let (generation, notify) = {
        let mut ex = lock(&sh.exchange);
        let u = &mut ex.users[user];
        u.connection += 1;
        // wake a previous connection of this user so it sees it was taken over
        u.notify.notify_waiters();
        (u.connection, u.notify.clone())
    };

    // ---- logged in
    // inbound messages waiting out the venue's latency, with their due time
    let mut delayed: VecDeque<(tokio::time::Instant, Vec<u8>)> = VecDeque::new();
    let mut ended = false;
    let result: std::io::Result<()> = loop {
        // Send whatever is sequenced and not sent yet (replay, then live).
        out.clear();
        let taken_over = {
            let ex = lock(&sh.exchange);
            let u = &ex.users[user];
            if u.connection != generation {
                true
            } else {
                while let Some(m) = u.out.get(next_seq) {
                    packet_bytes(&Packet::SequencedData(m), &mut out);
                    next_seq += 1;
                    session.on_sequenced_sent(sh.now());
                    if out.len() > 64 * 1024 {
                        break;
                    }
                }
                false
            }
        };
        if taken_over {
            break Ok(());
        }
        if !out.is_empty() {
            if let Err(e) = send(&mut wr, &out, timeout).await {
                break Err(e);
            }
            // more may be waiting behind a 64 KiB batch
            let more = lock(&sh.exchange).users[user].out.len() >= next_seq;
            if more {
                continue;
            }
        }
        let deadline = session.next_deadline();
        let wait = Duration::from_nanos(deadline.saturating_sub(sh.now()));
        let next_due = delayed
            .front()
            .map_or_else(tokio::time::Instant::now, |d| d.0);
        tokio::select! {
            _ = tokio::time::sleep_until(next_due), if !delayed.is_empty() => {
                let now = tokio::time::Instant::now();
                let mut close = None;
                while delayed.front().is_some_and(|d| d.0 <= now) {
                    let Some((_, m)) = delayed.pop_front() else { break };
                    if let Err(reason) =
                        deliver(&sh, user, &m, &mut session, &mut wr, &mut out, timeout).await
                    {
                        close = Some(reason);
                        break;
                    }
                }
                if let Some(reason) = close {
                    out.clear();
                    packet_bytes(&Packet::Debug(reason.as_bytes()), &mut out);
                    let _ = send(&mut wr, &out, timeout).await;
                    break Ok(());
                }
            }
            r = rd.read(framer.spare_mut()) => {
                let n = match r { Ok(n) => n, Err(e) => break Err(e) };
                if n == 0 {
                    break Ok(());
                }
                framer.commit(n);
                let mut close = None;
                loop {
                    let pkt = match framer.next_packet() {
                        Ok(Some(p)) => p,
                        Ok(None) => break,
                        Err(e) => { close = Some(format!("bad SoupBinTCP packet: {e}")); break; }
                    };
                    let now = sh.now();
                    match session.on_packet(now, &pkt, |_| Err(RejectCode::NOT_AUTHORIZED)) {
                        ServerEvent::UnsequencedData(m) => {
                            if !sh.latency.is_zero() {
                                delayed.push_back((tokio::time::Instant::now() + sh.latency, m.to_vec()));
                            } else if let Err(reason) =
                                deliver(&sh, user, m, &mut session, &mut wr, &mut out, timeout).await
                            {
                                close = Some(reason);
                                break;
                            }
                        }
                        ServerEvent::Heartbeat | ServerEvent::Debug(_) => {}
                        ServerEvent::Logout => { close = Some(String::new()); break; }
                        ServerEvent::Unexpected { packet_type } => {
                            close = Some(format!("unexpected packet type {:?} while logged in", packet_type as char));
                            break;
                        }
                        ServerEvent::LoginAccepted { .. } | ServerEvent::LoginRejected(_) => {
                            close = Some("second Login Request".into());
                            break;
                        }
                    }
                }
                if let Some(reason) = close {
                    if !reason.is_empty() {
                        out.clear();
                        packet_bytes(&Packet::Debug(reason.as_bytes()), &mut out);
                        let _ = send(&mut wr, &out, timeout).await;
                    }
                    break Ok(());
                }
            }
            _ = notify.notified() => {}
            _ = tokio::time::sleep(wait) => {
                match session.poll(sh.now()) {
                    ServerAction::SendHeartbeat => {
                        out.clear();
                        packet_bytes(&Packet::ServerHeartbeat, &mut out);
                        if let Err(e) = send(&mut wr, &out, timeout).await { break Err(e); }
                    }
                    ServerAction::ClientDead => break Ok(()),
                    ServerAction::Idle => {}
                }
            }
            _ = shutdown.changed() => {
                ended = true;
                // flush the end-of-day messages, then End of Session
                out.clear();
                {
                    let ex = lock(&sh.exchange);
                    while let Some(m) = ex.users[user].out.get(next_seq) {
                        packet_bytes(&Packet::SequencedData(m), &mut out);
                        next_seq += 1;
                    }
                }
                packet_bytes(&session.end_session(sh.now()), &mut out);
                let _ = send(&mut wr, &out, timeout).await;
                break Ok(());
            }
        }
    };
    let _ = wr.shutdown().await;
    if !ended {
        // on the wire before the client went: they reach the engine
        let mut ex = lock(&sh.exchange);
        for (_, m) in delayed.drain(..) {
            let _ = ex.inbound(user, &m);
        }
    }
    if sh.cancel_on_disconnect {
        let mut ex = lock(&sh.exchange);
        if ex.users[user].connection == generation {
            ex.disconnect_cancel(user);
        }
    }
    result
}
