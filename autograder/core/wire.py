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
import sys
import time

_HEAD = struct.Struct("<IQ")

#: Largest header and largest buffer block the trusted side accepts from a child (a request may
#: lower the buffer bound to what it can return: ``recv_message(max_buffers=...)``).
MAX_HEADER_BYTES = 4 * 1024 * 1024
MAX_BUFFER_BYTES = 512 * 1024 * 1024


class WireError(Exception):
    """The peer sent something that is not a well-formed message (or hung up)."""


class TooLarge(WireError):
    """The peer announced more than the receiver accepts (nothing of it was read)."""


class PipeEnds:
    """A socket's ``sendall``/``recv`` over two pipe descriptors (the portable transport: a child's
    standard input and output, which every platform has, Windows included)."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd, self.write_fd = read_fd, write_fd
        if sys.platform == "win32":  # a pipe's descriptor may be in text mode there: bytes must cross untranslated
            import msvcrt

            for fd in (read_fd, write_fd):
                msvcrt.setmode(fd, os.O_BINARY)

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.write_fd, view) :]

    def recv(self, n: int) -> bytes:
        return os.read(self.read_fd, n)

    def recv_into(self, view: memoryview, n: int) -> int:
        data = os.read(self.read_fd, n)
        view[: len(data)] = data
        return len(data)

    def settimeout(self, seconds: float | None) -> None:
        """Nothing: a pipe's read cannot time out everywhere (Windows). The whole-message deadline
        of the portable transport is kept by its reader (sandbox.PipeChannel), which waits on a
        thread and ends the child's process tree when the deadline passes."""

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


def _recv_into(sock: socket.socket, view: memoryview, deadline: float | None) -> None:
    """Fill view from the socket; with a deadline (``time.monotonic()``), the whole fill must end by
    it (a peer sending a byte a second is cut off, however many reads that takes)."""
    got = 0
    while got < len(view):
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the message did not arrive in time")
            sock.settimeout(left)
        n = sock.recv_into(view[got:], min(len(view) - got, 1 << 20))
        if not n:
            raise WireError("the peer closed the connection")
        got += n


def recv_message(
    sock: socket.socket, deadline: float | None = None, max_buffers: int = MAX_BUFFER_BYTES
) -> tuple[dict, list[memoryview]]:
    """One message. ``deadline``: when the whole message must have arrived (``socket.timeout``
    after it). ``max_buffers``: the most buffer bytes accepted (``TooLarge`` before any is read).
    The buffers are views into one block received in place (no copy)."""
    raw = bytearray(_HEAD.size)
    _recv_into(sock, memoryview(raw), deadline)
    hlen, blen = _HEAD.unpack(raw)
    if hlen > MAX_HEADER_BYTES or blen > min(max_buffers, MAX_BUFFER_BYTES):
        raise TooLarge(
            f"message too large ({hlen} + {blen} bytes; at most {MAX_HEADER_BYTES} + "
            f"{min(max_buffers, MAX_BUFFER_BYTES)} accepted)"
        )
    head = bytearray(hlen)
    _recv_into(sock, memoryview(head), deadline)
    try:
        header = json.loads(head)
    except ValueError as exc:
        raise WireError(f"unreadable header: {exc}") from None
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    sizes = header.get("buffers", [])
    # type(s) is int: JSON's true and false are ints to isinstance, and would slice as 1 and 0.
    if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes) or sum(sizes) != blen:
        raise WireError("buffer sizes do not add up")
    block = memoryview(bytearray(blen))
    if blen:
        _recv_into(sock, block, deadline)
    buffers, pos = [], 0
    for s in sizes:
        buffers.append(block[pos : pos + s])
        pos += s
    return header, buffers
