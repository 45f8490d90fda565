"""Real local servers for alerts (an HTTP webhook and an SMTP server on 127.0.0.1) and a project
Dagster home (the repository's dagster.yaml) for runs that must share an instance."""

from __future__ import annotations

import json
import shutil
import socketserver
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

PROJECT_DAGSTER_YAML = Path(__file__).parents[2] / "data" / "dagster" / "dagster.yaml"


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
    """Just enough SMTP to accept mail: records each message's envelope and text."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.messages: list[dict] = []
        self.port = self.server_address[1]


class _SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        envelope: dict = {"to": []}
        self.wfile.write(b"220 localhost test SMTP\r\n")
        for raw in self.rfile:
            command = raw.decode().strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO", "RSET", "NOOP"):
                self.wfile.write(b"250 localhost\r\n")
            elif verb == "MAIL":
                envelope["from"] = command.split(":", 1)[1].strip(" <>")
                self.wfile.write(b"250 ok\r\n")
            elif verb == "RCPT":
                envelope["to"].append(command.split(":", 1)[1].strip(" <>"))
                self.wfile.write(b"250 ok\r\n")
            elif verb == "DATA":
                self.wfile.write(b"354 go ahead\r\n")
                lines = []
                for line in self.rfile:
                    if line in (b".\r\n", b".\n"):
                        break
                    lines.append(line.decode())
                self.server.messages.append({**envelope, "data": "".join(lines)})
                self.wfile.write(b"250 queued\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 not implemented\r\n")


@contextmanager
def _serving(server):
    """Serve on a thread for the test, then shut down and free the port."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with _serving(Webhook()) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    with _serving(Smtp()) as server:
        yield server


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    """A Dagster home configured like the project's (warehouse pool limited to one)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_DAGSTER_YAML, home)
    return home
