//! SoupBinTCP session rules as pure state machines. The caller owns the socket
//! and the clock: it passes a monotonic `now` (nanoseconds), sends what these
//! machines return, and tells them when it sent something.

use super::{LoginAccepted, LoginRequest, Packet, Password, RejectCode, Username};
use crate::moldudp64::Session;

/// Session timers (SoupBinTCP 3.0: heartbeat after 1 s of send silence, peer
/// dead after 15 s of receive silence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    pub heartbeat_interval_ns: u64,
    pub peer_timeout_ns: u64,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            heartbeat_interval_ns: 1_000_000_000,
            peer_timeout_ns: 15_000_000_000,
        }
    }
}

/// Client session state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// Connected, login not sent yet.
    Connected,
    LoginSent,
    LoggedIn,
    Rejected(RejectCode),
    /// The server sent End of Session.
    Ended,
    /// The client sent Logout Request.
    LoggedOut,
    /// Nothing received for the peer timeout.
    PeerDead,
}

impl ClientState {
    /// No more traffic is expected: close the connection.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ClientState::Rejected(_)
                | ClientState::Ended
                | ClientState::LoggedOut
                | ClientState::PeerDead
        )
    }
}

/// What a received packet means to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEvent<'a> {
    LoginAccepted(LoginAccepted),
    LoginRejected(RejectCode),
    /// A sequenced message and its sequence number.
    SequencedData {
        sequence: u64,
        message: &'a [u8],
    },
    Heartbeat,
    EndOfSession,
    Debug(&'a [u8]),
    /// A packet that is not legal here (wrong direction or before login).
    Unexpected {
        packet_type: u8,
    },
}

/// What the client must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAction {
    Idle,
    /// Send a Client Heartbeat (already counted as sent).
    SendHeartbeat,
    /// The server has been silent for the peer timeout: disconnect.
    PeerDead,
}

/// Client side of a SoupBinTCP session.
#[derive(Debug, Clone)]
pub struct ClientSession {
    timers: Timers,
    state: ClientState,
    last_sent: u64,
    last_recv: u64,
    session: Session,
    next_sequence: u64,
}

impl ClientSession {
    /// A freshly connected client at `now`.
    pub fn new(now: u64, timers: Timers) -> Self {
        ClientSession {
            timers,
            state: ClientState::Connected,
            last_sent: now,
            last_recv: now,
            session: Session::BLANK,
            next_sequence: 0,
        }
    }

    /// Build the Login Request (send it now). `session` blank = current one;
    /// `sequence` 0 = from the next live message.
    pub fn login(
        &mut self,
        now: u64,
        username: Username,
        password: Password,
        session: Session,
        sequence: u64,
    ) -> LoginRequest {
        self.state = ClientState::LoginSent;
        self.last_sent = now;
        LoginRequest {
            username,
            password,
            session,
            sequence,
        }
    }

    /// Build a Logout Request (send it now).
    pub fn logout(&mut self, now: u64) -> Packet<'static> {
        self.state = ClientState::LoggedOut;
        self.last_sent = now;
        Packet::LogoutRequest
    }

    /// Record that the caller sent any packet at `now`.
    pub fn on_sent(&mut self, now: u64) {
        self.last_sent = self.last_sent.max(now);
    }

    /// Process a packet received at `now`.
    pub fn on_packet<'a>(&mut self, now: u64, p: &Packet<'a>) -> ClientEvent<'a> {
        self.last_recv = self.last_recv.max(now);
        let unexpected = ClientEvent::Unexpected {
            packet_type: p.packet_type(),
        };
        match (*p, self.state) {
            (Packet::Debug(t), _) => ClientEvent::Debug(t),
            (Packet::LoginAccepted(a), ClientState::LoginSent) => {
                self.state = ClientState::LoggedIn;
                self.session = a.session;
                self.next_sequence = a.sequence;
                ClientEvent::LoginAccepted(a)
            }
            (Packet::LoginRejected(c), ClientState::LoginSent) => {
                self.state = ClientState::Rejected(c);
                ClientEvent::LoginRejected(c)
            }
            (Packet::SequencedData(m), ClientState::LoggedIn) => {
                let sequence = self.next_sequence;
                self.next_sequence = self.next_sequence.saturating_add(1);
                ClientEvent::SequencedData {
                    sequence,
                    message: m,
                }
            }
            (Packet::ServerHeartbeat, ClientState::LoggedIn | ClientState::LoginSent) => {
                ClientEvent::Heartbeat
            }
            (Packet::EndOfSession, ClientState::LoggedIn) => {
                self.state = ClientState::Ended;
                ClientEvent::EndOfSession
            }
            _ => unexpected,
        }
    }

    /// Timers: call at least every heartbeat interval (see [`Self::next_deadline`]).
    pub fn poll(&mut self, now: u64) -> ClientAction {
        if self.state.is_terminal() {
            return ClientAction::Idle;
        }
        if now.saturating_sub(self.last_recv) >= self.timers.peer_timeout_ns {
            self.state = ClientState::PeerDead;
            return ClientAction::PeerDead;
        }
        if self.state == ClientState::LoggedIn
            && now.saturating_sub(self.last_sent) >= self.timers.heartbeat_interval_ns
        {
            self.last_sent = now;
            return ClientAction::SendHeartbeat;
        }
        ClientAction::Idle
    }

    /// The next time `poll` may have something to do.
    pub fn next_deadline(&self) -> u64 {
        let dead = self.last_recv.saturating_add(self.timers.peer_timeout_ns);
        if self.state == ClientState::LoggedIn {
            dead.min(
                self.last_sent
                    .saturating_add(self.timers.heartbeat_interval_ns),
            )
        } else {
            dead
        }
    }

    pub fn state(&self) -> ClientState {
        self.state
    }
    /// Session granted at login (blank before).
    pub fn session(&self) -> Session {
        self.session
    }
    /// Sequence number of the next Sequenced Data packet; reconnect with it
    /// as the requested sequence number to resume without loss.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }
}

/// Server session state (one per client connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    AwaitingLogin,
    LoggedIn,
    /// Login rejected: send the rejection and close.
    Rejected(RejectCode),
    /// The client logged out.
    LoggedOut,
    /// End of Session sent.
    Ended,
    /// Nothing received for the peer timeout.
    ClientDead,
}

impl ServerState {
    pub fn is_terminal(self) -> bool {
        !matches!(self, ServerState::AwaitingLogin | ServerState::LoggedIn)
    }
}

/// What a received packet means to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerEvent<'a> {
    /// Send this Login Accepted (already counted as sent), then replay the
    /// session's sequenced messages from `accepted.sequence` up to the live
    /// stream.
    LoginAccepted {
        accepted: LoginAccepted,
        request: LoginRequest,
    },
    /// Send a Login Rejected with this code (already counted as sent) and close.
    LoginRejected(RejectCode),
    /// An inbound message (e.g. OUCH) from a logged-in client.
    UnsequencedData(&'a [u8]),
    Heartbeat,
    /// The client logged out: close.
    Logout,
    Debug(&'a [u8]),
    Unexpected {
        packet_type: u8,
    },
}

/// What the server must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerAction {
    Idle,
    /// Send a Server Heartbeat (already counted as sent).
    SendHeartbeat,
    /// The client has been silent for the peer timeout: disconnect.
    ClientDead,
}

/// Server side of a SoupBinTCP session for one connection.
#[derive(Debug, Clone)]
pub struct ServerSession {
    timers: Timers,
    state: ServerState,
    last_sent: u64,
    last_recv: u64,
    session: Session,
    /// Sequence number the session's next new message will get.
    stream_next: u64,
    /// Sequence number of the next Sequenced Data packet to this client.
    next_to_send: u64,
}

impl ServerSession {
    /// A connection accepted at `now` for `session`, whose stream has
    /// `stream_next - 1` sequenced messages so far.
    pub fn new(now: u64, timers: Timers, session: Session, stream_next: u64) -> Self {
        ServerSession {
            timers,
            state: ServerState::AwaitingLogin,
            last_sent: now,
            last_recv: now,
            session,
            stream_next: stream_next.max(1),
            next_to_send: stream_next.max(1),
        }
    }

    /// Process a packet received at `now`. `authorize` checks the credentials
    /// (the hook returns the reject code to send); the session and sequence
    /// rules are applied here: a requested session that is neither blank nor
    /// this one is rejected with [`RejectCode::SESSION_NOT_AVAILABLE`]; a
    /// requested sequence of 0 means live, above the stream it is clipped to
    /// the live position.
    pub fn on_packet<'a>(
        &mut self,
        now: u64,
        p: &Packet<'a>,
        authorize: impl FnOnce(&LoginRequest) -> Result<(), RejectCode>,
    ) -> ServerEvent<'a> {
        self.last_recv = self.last_recv.max(now);
        match (*p, self.state) {
            (Packet::Debug(t), _) => ServerEvent::Debug(t),
            (Packet::LoginRequest(req), ServerState::AwaitingLogin) => {
                let verdict = authorize(&req).and_then(|()| {
                    if req.session.is_blank() || req.session == self.session {
                        Ok(())
                    } else {
                        Err(RejectCode::SESSION_NOT_AVAILABLE)
                    }
                });
                // The reply (accepted or rejected) goes out now: count it as sent.
                self.last_sent = self.last_sent.max(now);
                match verdict {
                    Err(code) => {
                        self.state = ServerState::Rejected(code);
                        ServerEvent::LoginRejected(code)
                    }
                    Ok(()) => {
                        let sequence = match req.sequence {
                            0 => self.stream_next,
                            s => s.min(self.stream_next),
                        };
                        self.state = ServerState::LoggedIn;
                        self.next_to_send = sequence;
                        ServerEvent::LoginAccepted {
                            accepted: LoginAccepted {
                                session: self.session,
                                sequence,
                            },
                            request: req,
                        }
                    }
                }
            }
            (Packet::UnsequencedData(m), ServerState::LoggedIn) => ServerEvent::UnsequencedData(m),
            (Packet::ClientHeartbeat, ServerState::LoggedIn) => ServerEvent::Heartbeat,
            (Packet::LogoutRequest, ServerState::LoggedIn | ServerState::AwaitingLogin) => {
                self.state = ServerState::LoggedOut;
                ServerEvent::Logout
            }
            _ => ServerEvent::Unexpected {
                packet_type: p.packet_type(),
            },
        }
    }

    /// A new message was appended to the session's stream (for any client).
    pub fn on_stream_append(&mut self) {
        self.stream_next = self.stream_next.saturating_add(1);
    }

    /// Record that a Sequenced Data packet was sent to this client at `now`;
    /// returns its sequence number.
    pub fn on_sequenced_sent(&mut self, now: u64) -> u64 {
        let s = self.next_to_send;
        self.next_to_send = self.next_to_send.saturating_add(1);
        self.stream_next = self.stream_next.max(self.next_to_send);
        self.last_sent = self.last_sent.max(now);
        s
    }

    /// Record that any other packet was sent at `now`.
    pub fn on_sent(&mut self, now: u64) {
        self.last_sent = self.last_sent.max(now);
    }

    /// Build End of Session (send it now, then close).
    pub fn end_session(&mut self, now: u64) -> Packet<'static> {
        self.state = ServerState::Ended;
        self.last_sent = now;
        Packet::EndOfSession
    }

    /// Timers: call at least every heartbeat interval.
    pub fn poll(&mut self, now: u64) -> ServerAction {
        if self.state.is_terminal() {
            return ServerAction::Idle;
        }
        if now.saturating_sub(self.last_recv) >= self.timers.peer_timeout_ns {
            self.state = ServerState::ClientDead;
            return ServerAction::ClientDead;
        }
        if self.state == ServerState::LoggedIn
            && now.saturating_sub(self.last_sent) >= self.timers.heartbeat_interval_ns
        {
            self.last_sent = now;
            return ServerAction::SendHeartbeat;
        }
        ServerAction::Idle
    }

    /// The next time `poll` may have something to do.
    pub fn next_deadline(&self) -> u64 {
        let dead = self.last_recv.saturating_add(self.timers.peer_timeout_ns);
        if self.state == ServerState::LoggedIn {
            dead.min(
                self.last_sent
                    .saturating_add(self.timers.heartbeat_interval_ns),
            )
        } else {
            dead
        }
    }

    pub fn state(&self) -> ServerState {
        self.state
    }
    pub fn session(&self) -> Session {
        self.session
    }
    /// Sequence number of the next Sequenced Data packet to this client.
    pub fn next_to_send(&self) -> u64 {
        self.next_to_send
    }
    /// Sequence number the stream's next new message will get.
    pub fn stream_next(&self) -> u64 {
        self.stream_next
    }
}
