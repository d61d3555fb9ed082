"""The self-signed certificate of a first run (docs/quickstart.md)."""

from __future__ import annotations

import pytest
from cryptography import x509

from identity.tls import ensure_self_signed


def alt_names(cert_path) -> set[str]:
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(name) for name in names.get_values_for_type(x509.DNSName)} | {
        str(address) for address in names.get_values_for_type(x509.IPAddress)
    }


class TestSelfSigned:
    @pytest.mark.parametrize(
        ("hostname", "names"),
        [
            ("localhost", {"localhost", "127.0.0.1"}),
            ("id.example.test", {"localhost", "127.0.0.1", "id.example.test"}),
            ("192.0.2.7", {"localhost", "127.0.0.1", "192.0.2.7"}),
        ],
    )
    def test_names_localhost_127_0_0_1_and_the_hostname(self, tmp_path, hostname, names):
        cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
        assert ensure_self_signed(cert, key, hostname) is True
        assert alt_names(cert) == names
        assert key.stat().st_mode & 0o777 == 0o600

    def test_existing_pair_is_kept(self, tmp_path):
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        ensure_self_signed(cert, key)
        before = cert.read_bytes(), key.read_bytes()
        assert ensure_self_signed(cert, key) is False
        assert (cert.read_bytes(), key.read_bytes()) == before

    @pytest.mark.parametrize("present", ["cert", "key"])
    def test_half_a_pair_is_never_overwritten(self, tmp_path, present):
        """Regression: with only one of the two files there, both were overwritten by a new pair."""
        paths = {"cert": tmp_path / "cert.pem", "key": tmp_path / "key.pem"}
        paths[present].write_text("the operator's own file")
        with pytest.raises(FileNotFoundError, match="remove both files"):
            ensure_self_signed(paths["cert"], paths["key"])
        assert paths[present].read_text() == "the operator's own file"
        assert len(list(tmp_path.iterdir())) == 1
