"""Real local servers for alerts (an HTTP webhook and an SMTP server on 127.0.0.1) and a project
Dagster home (the repository's dagster.yaml) for runs that must share an instance."""

from __future__ import annotations

import base64
import ipaddress
import json
import socketserver
import ssl
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from crm_quality.defs.lifecycle import prepare_home



class Webhook(ThreadingHTTPServer):
    """Records every JSON body posted to it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _WebhookHandler)
        self.posts: list[dict] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}/hooks/secret-token-123"


class _WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append({"path": self.path, "content_type": self.headers["Content-Type"],
                                  **json.loads(body)})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class Smtp(socketserver.ThreadingTCPServer):
    """Just enough SMTP to accept mail: records each message's envelope and text, and whether it
    came over TLS and from which login. With ``tls`` it offers STARTTLS, and AUTH only after it."""

    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None, logins: dict[str, str] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.tls, self.logins = tls, logins or {}
        self.messages: list[dict] = []
        self.port = self.server_address[1]


class _SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        session: dict = {"to": [], "tls": False, "user": None}
        self.reply("220 localhost test SMTP")
        while raw := self.rfile.readline():
            command = raw.decode().strip()
            verb = command[:4].upper()
            if verb == "EHLO":
                offers = ["localhost"]
                if self.server.tls and not session["tls"]:
                    offers.append("STARTTLS")
                if self.server.logins and (session["tls"] or not self.server.tls):
                    offers.append("AUTH PLAIN")
                self.reply(*(f"250{'-' if i < len(offers) - 1 else ' '}{o}" for i, o in enumerate(offers)))
            elif verb in ("HELO", "RSET", "NOOP"):
                self.reply("250 localhost")
            elif command.upper() == "STARTTLS" and self.server.tls:
                self.reply("220 ready for TLS")
                self.connection = self.server.tls.wrap_socket(self.connection, server_side=True)
                self.rfile, self.wfile = self.connection.makefile("rb"), self.connection.makefile("wb", 0)
                session["tls"] = True
            elif command.upper().startswith("AUTH PLAIN "):
                _, user, password = base64.b64decode(command.split()[2]).decode().split("\0")
                if self.server.logins.get(user) == password:
                    session["user"] = user
                    self.reply("235 authenticated")
                else:
                    self.reply("535 authentication failed")
            elif verb == "MAIL":
                session["from"] = command.split(":", 1)[1].strip(" <>")
                self.reply("250 ok")
            elif verb == "RCPT":
                session["to"].append(command.split(":", 1)[1].strip(" <>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    lines.append(line.decode())
                self.server.messages.append({**session, "data": "".join(lines)})
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def reply(self, *lines: str) -> None:
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())


@contextmanager
def serving(server):
    """Serve on a thread for the test, then shut down and free the port."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with serving(Webhook()) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    with serving(Smtp()) as server:
        yield server


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate, key) as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def smtp_with_tls(smtp_certificate) -> Iterator[Smtp]:
    """An SMTP server that offers STARTTLS and, over TLS only, a login: alerts / s3cret-pw."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*smtp_certificate)
    with serving(Smtp(tls=context, logins={"alerts": "s3cret-pw"})) as server:
        yield server


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    """A Dagster home configured like the project's (warehouse pool limited to one)."""
    return prepare_home(tmp_path / "dagster_home")
