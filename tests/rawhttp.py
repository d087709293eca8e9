"""HTTP spoken byte by byte, for requests no well-behaved client library would send."""

import socket
import time

import pytest


class Reply:
    def __init__(self, raw: bytes):
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines[0] else 0
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()


def exchange(
    port: int, *parts: bytes, pause: float = 0.0, timeout: float = 20
) -> Reply:
    """Send the parts in order, `pause` seconds apart, then read until close."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        for position, part in enumerate(parts):
            if position and pause:
                time.sleep(pause)
            connection.sendall(part)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    if not received:
        pytest.fail("the server closed the connection without answering")
    return Reply(received)


def post(path: str, body: bytes, headers: dict, content_length: bool = True) -> bytes:
    """The bytes of a POST with exactly these headers, closing the connection."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*pieces: bytes) -> bytes:
    """A chunked transfer-encoded body made of these pieces."""
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    return encoded + b"0\r\n\r\n"
