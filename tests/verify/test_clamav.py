"""clamd through zINSTREAM, against a real clamd with a local EICAR signature."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from reportlab.pdfgen import canvas

from mailbridge.errors import VerificationUnavailable
from mailbridge.sample.clamd import (
    EICAR,
    SIGNATURE,
    STREAM_MAX,
    Clamd,
    ClamdNotInstalled,
)
from mailbridge.sample.clamd import start_clamd as _start_clamd
from mailbridge.verify.clamav import ClamdScanner, ScanResult

pytestmark = [pytest.mark.clamav, pytest.mark.slow]


def start_clamd(folder: Path) -> Clamd:
    """Start clamd with the local EICAR signature; skip when it is not installed."""
    try:
        return _start_clamd(folder)
    except ClamdNotInstalled:
        pytest.skip("clamd is not installed")
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    """One clamd for the module, stopped at the end."""
    running = start_clamd(tmp_path_factory.mktemp("clamd"))
    yield running
    running.stop()


def pdf() -> bytes:
    """A small, clean PDF."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, "Van ban sach")
    page.save()
    return buffer.getvalue()


def test_eicar_is_found_with_our_signature(clamd: Clamd) -> None:
    """EICAR is infected, named by the local signature (clamd adds .UNOFFICIAL)."""
    result = asyncio.run(ClamdScanner(clamd.unix).scan(EICAR))
    name = f"{SIGNATURE}.UNOFFICIAL"
    expected = ScanResult(
        infected=True, signature=name, detail=f"clamd: stream: {name} FOUND"
    )
    assert (expected, False) == (result, result.ok)


def test_clean_pdf_over_tcp_in_many_chunks(clamd: Clamd) -> None:
    """A clean PDF padded past one chunk is not infected; TCP works like the socket."""
    data = pdf() + b"%" + bytes(700 * 1024)
    result = asyncio.run(ClamdScanner(clamd.tcp).scan(data))
    expected = (False, None, True)
    assert expected == (result.infected, result.signature, result.ok)


def test_ping(clamd: Clamd) -> None:
    """A running clamd answers PING on both addresses."""
    expected = (True, True)
    actual = (
        asyncio.run(ClamdScanner(clamd.unix).ping()),
        asyncio.run(ClamdScanner(clamd.tcp).ping()),
    )
    assert expected == actual


def test_over_the_stream_limit_is_unavailable(clamd: Clamd) -> None:
    """clamd's "INSTREAM size limit exceeded" is a temporary failure, not a verdict."""
    with pytest.raises(VerificationUnavailable) as caught:
        asyncio.run(ClamdScanner(clamd.unix).scan(bytes(2 * STREAM_MAX)))
    expected = f"clamd at {clamd.unix}: INSTREAM size limit exceeded. ERROR"
    assert expected == str(caught.value)


def test_over_the_stream_limit_over_tcp_is_unavailable(clamd: Clamd) -> None:
    """Over TCP clamd's early close may reset the connection: still unavailable."""
    with pytest.raises(VerificationUnavailable) as caught:
        asyncio.run(ClamdScanner(clamd.tcp).scan(bytes(2 * STREAM_MAX)))
    expected = f"clamd at {clamd.tcp}: "
    assert expected == str(caught.value)[: len(expected)]


def test_stopped_clamd_is_unavailable(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Once clamd is stopped, scanning raises VerificationUnavailable and ping is False."""
    own = start_clamd(tmp_path_factory.mktemp("stopped"))
    scanner = ClamdScanner(own.unix, timeout=5)
    before = asyncio.run(scanner.scan(EICAR)).infected
    own.stop()
    with pytest.raises(VerificationUnavailable) as caught:
        asyncio.run(scanner.scan(EICAR))
    expected = (True, False, True)
    actual = (
        before,
        asyncio.run(scanner.ping()),
        str(caught.value).startswith(f"clamd at {own.unix}: cannot connect"),
    )
    assert expected == actual


def test_silent_server_times_out() -> None:
    """A peer that accepts and never answers is a timeout, hence unavailable."""

    async def run() -> tuple[int, str]:
        async def silent(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            try:
                await asyncio.sleep(5)
            finally:
                writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = int(server.sockets[0].getsockname()[1])
        try:
            with pytest.raises(VerificationUnavailable) as caught:
                await ClamdScanner(f"127.0.0.1:{port}", timeout=0.5).scan(b"x")
        finally:
            server.close()
            await server.wait_closed()
        return port, str(caught.value)

    port, message = asyncio.run(run())
    expected = f"clamd at 127.0.0.1:{port}: no answer within 0.5 s"
    assert expected == message


@pytest.mark.parametrize("address", ["clamd", "unix:", "host:port", "127.0.0.1:0"])
def test_bad_addresses_are_refused(address: str) -> None:
    """An address that is neither ``unix:/path`` nor ``HOST:PORT`` is a ValueError."""
    with pytest.raises(ValueError, match="clamd address"):
        ClamdScanner(address)
