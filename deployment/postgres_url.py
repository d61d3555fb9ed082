"""``[database.identity_db] url`` for PostgreSQL: libpq's connection URI, the parts we take.

``postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]`` (PostgreSQL
documentation, "Connection URIs"). The host is a name, an address (IPv6 in brackets), or the
directory of a Unix-domain socket, written percent-encoded (``postgresql://%2Frun%2Fpostgresql/ids``)
or as the ``host`` parameter (``postgresql:///ids?host=/run/postgresql``), as libpq reads them.
The parameters taken are ``host`` and the TLS ones (``sslmode`` and its files); any other is an
error, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

SCHEMES = ("postgresql", "postgres")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
PARAMETERS = ("host", "sslmode", "sslrootcert", "sslcert", "sslkey")


@dataclass(frozen=True)
class PostgresUrl:
    host: str = "127.0.0.1"  # a name, an address, or a socket's directory (starts with "/")
    port: int = 5432  # on a socket too: the socket's file is .s.PGSQL.<port>
    dbname: str = "identity"
    user: str = ""
    password: str = ""
    tls: dict[str, str] = field(default_factory=dict)  # sslmode and its files, as libpq names them

    @property
    def socket(self) -> bool:
        return self.host.startswith("/")


def parse_postgres_url(url: str) -> PostgresUrl:
    """The parts of ``url``; ValueError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError("must look like postgresql://host:port/dbname")
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    host, port = _host_and_port(hostport)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        taken = ", ".join(PARAMETERS)
        raise ValueError(f"has the parameter {unknown[0]!r}; the parameters taken are {taken}")
    host = params.pop("host", host)
    if params.get("sslmode", "prefer") not in SSL_MODES:
        raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}")
    return PostgresUrl(
        host=host or "127.0.0.1",
        port=port,
        dbname=unquote(parts.path.lstrip("/")) or "identity",
        user=unquote(user),
        password=unquote(password),
        tls=params,
    )


def _host_and_port(hostport: str) -> tuple[str, int]:
    if hostport.startswith("["):  # an IPv6 address
        address, _, rest = hostport[1:].partition("]")
        host, port = address, rest.removeprefix(":")
    else:
        host, _, port = hostport.partition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"has the port {port!r}; a port is 1 to 65535")
    return unquote(host), int(port or 5432)
