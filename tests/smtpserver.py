"""The SMTP side of the digest tests: a free loopback port and an aiosmtpd handler keeping what it accepts."""

from __future__ import annotations

import email
import email.policy
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every accepted message; ``refuse`` makes DATA answer 554."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.refuse = False
        self.tls = []

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "554 5.7.1 Message rejected by policy"
        self.envelopes.append(envelope)
        self.tls.append(session.ssl is not None)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"
