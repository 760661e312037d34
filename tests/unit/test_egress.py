"""The egress policy of node HTTP (CONTRACT.md section 3): which addresses are refused, that the
check is made on what a name resolves to, that the connection goes to the checked address, and
that every redirect hop is checked.

No network: the fake server listens on 127.0.0.1; public names are made up by a fake resolver and
a fake route takes the vetted public address to the local server.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from flowlane.nodes.base import NodeError
from flowlane.runtime import egress
from flowlane.runtime.egress import check_address, egress_client
from tests.fakes.services_server import FakeServices

# A public address nothing here can reach: the fake route below sends it to the fake server.
PUBLIC_IP = "93.184.215.14"

REFUSED_ALWAYS = [
    ("169.254.169.254", "cloud metadata"),
    ("fd00:ec2::254", "cloud metadata"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("64:ff9b::a9fe:a9fe", "cloud metadata"),  # NAT64 form of 169.254.169.254
    ("169.254.170.2", "cloud metadata"),  # ECS task credentials
]
REFUSED_UNLESS_PRIVATE = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("100.64.0.1", "CGNAT"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", ""),  # reserved (future use); Python versions differ on the category
    ("192.0.2.1", ""),  # documentation range
]
ALLOWED = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("address", "reason"), REFUSED_ALWAYS)
def test_metadata_addresses_are_refused_even_with_private_network_allowed(
    address: str, reason: str
) -> None:
    for allow_private in (False, True):
        refusal = check_address(address, allow_private)
        assert refusal is not None
        assert reason in refusal


@pytest.mark.parametrize(("address", "reason"), REFUSED_UNLESS_PRIVATE)
def test_non_public_addresses_are_refused_unless_private_network_allowed(
    address: str, reason: str
) -> None:
    refusal = check_address(address, allow_private=False)
    assert refusal is not None
    assert reason in refusal
    assert check_address(address, allow_private=True) is None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert check_address(address, allow_private=False) is None


# -- through the client ------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeServices]:
    with FakeServices() as server:
        yield server


class FakeDns:
    """Made-up names: `names[NAME] = [addresses]`; other names resolve for real."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {}
        self.lookups: list[str] = []  # the made-up names looked up, in order

    def __setitem__(self, name: str, addresses: list[str]) -> None:
        self.names[name] = addresses

    def answers(self, host: str, port: Any) -> list[tuple[Any, ...]]:
        self.lookups.append(host)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in self.names[host]
        ]


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    dns = FakeDns()
    real: Callable[..., list[tuple[Any, ...]]] = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if isinstance(host, str) and host in dns.names:
            return dns.answers(host, port)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return dns


@pytest.fixture
def route(monkeypatch: pytest.MonkeyPatch, fake: FakeServices) -> list[tuple[str, int]]:
    """A fake network: connections to PUBLIC_IP reach the fake server. Returns the (host, port)
    of every TCP connection opened."""
    connections: list[tuple[str, int]] = []
    original = httpcore.SyncBackend.connect_tcp

    def connect_tcp(
        self: httpcore.SyncBackend, host: str, port: int, *args: Any, **kwargs: Any
    ) -> httpcore.NetworkStream:
        connections.append((host, port))
        if host == PUBLIC_IP:
            host = "127.0.0.1"
        return original(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    return connections


def denied(url: str, *, allow_private: bool) -> NodeError:
    with (
        egress_client(timeout=5, allow_private=allow_private) as client,
        pytest.raises(NodeError) as caught,
    ):
        client.get(url)
    assert caught.value.code == "EGRESS_DENIED", caught.value.message
    return caught.value


def test_a_loopback_server_is_refused_without_private_network(fake: FakeServices) -> None:
    error = denied(f"{fake.url}/echo", allow_private=False)

    assert error.details["host"] == "127.0.0.1"
    assert error.details["address"] == "127.0.0.1"
    assert "127.0.0.1" in error.message
    assert fake.requests == []  # nothing reached the server


def test_a_name_that_resolves_to_loopback_is_refused(fake: FakeServices) -> None:
    error = denied(f"http://localhost:{fake.port}/echo", allow_private=False)

    assert error.details["host"] == "localhost"
    assert error.details["address"] in ("127.0.0.1", "::1")
    assert "localhost" in error.message
    assert fake.requests == []


def test_private_network_allowed_reaches_the_local_server(fake: FakeServices) -> None:
    with egress_client(timeout=5, allow_private=True) as client:
        response = client.get(f"{fake.url}/echo", params={"a": "1"})

    assert response.status_code == 200
    assert response.json()["query"] == {"a": "1"}


def test_a_made_up_name_resolving_to_a_private_address_is_refused(
    names: FakeDns,
) -> None:
    names["intranet.example"] = ["10.1.2.3"]

    error = denied("http://intranet.example/admin", allow_private=False)

    assert error.details == {
        "host": "intranet.example",
        "address": "10.1.2.3",
        "reason": "private address",
    }


def test_a_name_with_one_private_answer_among_public_ones_is_refused(
    names: FakeDns,
) -> None:
    names["mixed.example"] = [PUBLIC_IP, "2606:4700:4700::1111", "192.168.0.10"]

    error = denied("http://mixed.example/", allow_private=False)

    assert error.details["address"] == "192.168.0.10"


def test_the_connection_goes_to_the_checked_address_with_the_original_host_header(
    fake: FakeServices, names: FakeDns, route: list[tuple[str, int]]
) -> None:
    names["public.example"] = [PUBLIC_IP]

    with egress_client(timeout=5, allow_private=False) as client:
        response = client.get(f"http://public.example:{fake.port}/echo")

    assert response.status_code == 200
    assert fake.last("/echo").headers["host"] == f"public.example:{fake.port}"
    # Resolved once, and the socket opened to the literal address that was checked: no second
    # lookup that DNS rebinding could answer with 127.0.0.1.
    assert names.lookups == ["public.example"]
    assert route == [(PUBLIC_IP, fake.port)]


def test_a_redirect_from_an_allowed_server_to_loopback_is_refused(
    fake: FakeServices, names: FakeDns, route: list[tuple[str, int]]
) -> None:
    names["public.example"] = [PUBLIC_IP]
    target = f"http://127.0.0.1:{fake.port}/echo"

    error = denied(f"http://public.example:{fake.port}/redirect?to={target}", allow_private=False)

    assert error.details["address"] == "127.0.0.1"
    assert [r.path for r in fake.requests] == ["/redirect"]  # the hop was never made


def test_a_redirect_to_a_name_resolving_to_a_private_address_is_refused(
    fake: FakeServices, names: FakeDns, route: list[tuple[str, int]]
) -> None:
    names["public.example"] = [PUBLIC_IP]
    names["rebound.example"] = ["172.17.0.1"]

    error = denied(
        f"http://public.example:{fake.port}/redirect?to=http://rebound.example:{fake.port}/echo",
        allow_private=False,
    )

    assert error.details["host"] == "rebound.example"
    assert error.details["address"] == "172.17.0.1"


def test_redirects_are_followed_up_to_five(fake: FakeServices) -> None:
    def chain(hops: int) -> str:
        url = f"{fake.url}/echo"
        for _ in range(hops):
            url = str(httpx.URL(f"{fake.url}/redirect", params={"to": url}))
        return url

    with egress_client(timeout=5, allow_private=True) as client:
        assert client.get(chain(5)).json()["path"] == "/echo"
        with pytest.raises(httpx.TooManyRedirects):
            client.get(chain(6))


def test_the_metadata_address_is_refused_even_with_private_network_allowed() -> None:
    error = denied("http://169.254.169.254/latest/meta-data/", allow_private=True)

    assert error.details["address"] == "169.254.169.254"
    assert "metadata" in error.message


def test_a_redirect_to_the_metadata_address_is_refused_with_private_network_allowed(
    fake: FakeServices,
) -> None:
    target = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"

    error = denied(f"{fake.url}/redirect?to={target}", allow_private=True)

    assert error.details["host"] == "169.254.169.254"


def test_a_name_for_the_metadata_service_is_refused_with_private_network_allowed(
    names: FakeDns,
) -> None:
    names["metadata.google.internal"] = ["169.254.169.254"]
    names["ec2-metadata.example"] = ["fd00:ec2::254"]

    assert denied("http://metadata.google.internal/", allow_private=True).details["address"] == (
        "169.254.169.254"
    )
    assert denied("http://ec2-metadata.example/", allow_private=True).details["address"] == (
        "fd00:ec2::254"
    )


def test_a_redirect_to_another_scheme_is_refused(fake: FakeServices) -> None:
    error = denied(f"{fake.url}/redirect?to=file:///etc/passwd", allow_private=True)

    assert error.details["scheme"] == "file"


def test_proxies_from_the_environment_are_ignored(
    fake: FakeServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would open the connection for us and so bypass the address check.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")

    with egress_client(timeout=5, allow_private=True) as client:
        assert client.get(f"{fake.url}/echo").status_code == 200


def test_an_unresolvable_name_is_a_connection_error(names: FakeDns) -> None:
    names["nowhere.example"] = []

    with (
        egress_client(timeout=5, allow_private=False) as client,
        pytest.raises(httpx.ConnectError, match=r"nowhere\.example"),
    ):
        client.get("http://nowhere.example/")


# -- TLS: the original name is the SNI and what the certificate is checked against ------------


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA, and a server certificate for secure.example signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Flowlane test CA"))
        .issuer_name(name("Flowlane test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("secure.example"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("secure.example")]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"host": self.headers["Host"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, list[str]]]:
    """An HTTPS server on 127.0.0.1 with a certificate for secure.example only; the egress client
    trusts its CA. Yields the port and the SNI names the server was sent."""
    ca_file, cert_file, key_file = _certificates(tmp_path)
    server_names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    def record_sni(_socket: Any, server_name: str | None, _context: Any) -> None:
        server_names.append(str(server_name))

    context.sni_callback = record_sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    monkeypatch.setattr(egress, "_ssl_context", lambda: ssl.create_default_context(cafile=ca_file))
    try:
        yield int(server.server_address[1]), server_names
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_https_keeps_the_name_for_sni_and_certificate_checks(
    tls_server: tuple[int, list[str]], names: FakeDns, route: list[tuple[str, int]]
) -> None:
    port, server_names = tls_server
    names["secure.example"] = [PUBLIC_IP]
    names["impostor.example"] = [PUBLIC_IP]

    with egress_client(timeout=5, allow_private=False) as client:
        response = client.get(f"https://secure.example:{port}/")
        assert response.json() == {"host": f"secure.example:{port}"}
        assert server_names == ["secure.example"]
        assert route == [(PUBLIC_IP, port)]

        # Same address, another name: the certificate is checked against that name, not the
        # IP the socket went to, so it fails.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(f"https://impostor.example:{port}/")
