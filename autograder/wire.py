"""The wire format between the trusted grader and the child that runs student code.

A message is a JSON header plus raw byte buffers (tensor and array contents), framed as
``<u32 header length><u64 buffers length><header><buffers>``. Nothing is ever pickled: the
receiving side rebuilds arrays from bytes with a dtype it looks up in a fixed table (``codec.py``:
which dtypes may cross, and how values become buffers).

This module is imported by both sides. The child loads it by path (it runs under ``python -I``
and never imports the ``autograder`` package), so it depends on the standard library only.
"""
from __future__ import annotations

import json
import os
import socket
import struct

_HEAD = struct.Struct("<IQ")

#: Largest header and largest buffer block the trusted side accepts from a child.
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_BUFFER_BYTES = 512 * 1024 * 1024


class WireError(Exception):
    """The peer sent something that is not a well-formed message (or hung up)."""


class PipeEnds:
    """A socket's ``sendall``/``recv`` over two pipe descriptors (the portable transport: a child's
    standard input and output, which every platform has, Windows included)."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd, self.write_fd = read_fd, write_fd
        if os.name == "nt":  # a pipe's descriptor may be in text mode there: bytes must cross untranslated
            import msvcrt
            for fd in (read_fd, write_fd):
                msvcrt.setmode(fd, os.O_BINARY)

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.write_fd, view):]

    def recv(self, n: int) -> bytes:
        return os.read(self.read_fd, n)

    def close(self) -> None:
        for fd in {self.read_fd, self.write_fd}:
            try:
                os.close(fd)
            except OSError:
                pass


def send_message(sock: socket.socket, header: dict, buffers: list[bytes] | None = None) -> None:
    buffers = buffers or []
    header = dict(header, buffers=[len(b) for b in buffers])
    data = json.dumps(header, allow_nan=True, separators=(",", ":")).encode()
    total = sum(len(b) for b in buffers)
    sock.sendall(_HEAD.pack(len(data), total) + data)
    for b in buffers:
        if b:
            sock.sendall(b)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise WireError("the peer closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv_message(sock: socket.socket) -> tuple[dict, list[bytes]]:
    raw = _recv_exact(sock, _HEAD.size)
    hlen, blen = _HEAD.unpack(raw)
    if hlen > MAX_HEADER_BYTES or blen > MAX_BUFFER_BYTES:
        raise WireError(f"message too large ({hlen} + {blen} bytes)")
    try:
        header = json.loads(_recv_exact(sock, hlen))
    except ValueError as exc:
        raise WireError(f"unreadable header: {exc}") from None
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    sizes = header.get("buffers", [])
    # type(s) is int: JSON's true and false are ints to isinstance, and would slice as 1 and 0.
    if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes) or sum(sizes) != blen:
        raise WireError("buffer sizes do not add up")
    block = _recv_exact(sock, blen) if blen else b""
    buffers, pos = [], 0
    for s in sizes:
        buffers.append(block[pos:pos + s])
        pos += s
    return header, buffers
