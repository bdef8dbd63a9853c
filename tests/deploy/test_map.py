"""The public map host (site.yml's `map` play: sesim_base, sesim_map) on a Debian root:
applied, applied again without change, its units checked offline, then booted: nginx
serves the static site over HTTPS with the administrator's certificate and strict headers,
and answers no other name."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy import harness
from tests.deploy.conftest import MAP_NAME, AppliedRoot, Farm

UNITS = ["sesim-map.service"]


@pytest.fixture(scope="module")
def map_root(farm: Farm) -> Iterator[AppliedRoot]:
    result: AppliedRoot = farm.get("map_root")
    yield result
    farm.discard(result.root)


@pytest.fixture(scope="module")
def fs(map_root: AppliedRoot) -> harness.RootFS:
    map_root.check()
    return harness.RootFS(map_root.root)


def test_the_map_play_applies_and_a_second_run_changes_nothing(map_root: AppliedRoot) -> None:
    map_root.first.check()
    assert map_root.second is not None
    map_root.second.check(changed=0)


def test_the_tls_key_is_root_only_and_the_map_folder_belongs_to_sesim(fs: harness.RootFS) -> None:
    home = fs.stat("/var/lib/sesim-map")
    assert (home.kind, home.owner, home.mode & 0o077) == ("directory", "sesim", 0), home
    keys = [
        info
        for info in fs.walk("/etc")
        if info.kind == "file"
        and fs.path(info.path).read_bytes().startswith(b"-----BEGIN PRIVATE KEY")
    ]
    assert keys, "the TLS key is not on the map host"
    for info in keys:
        assert (info.owner, info.mode) == ("root", 0o600), info


def test_the_map_units_verify_and_score_two_or_lower(fs: harness.RootFS) -> None:
    units = fs.units("sesim*.service")
    assert "sesim-map.service" in units, units
    for unit in units:
        info = fs.stat(f"/etc/systemd/system/{unit}")
        assert (info.owner, info.group, info.mode) == ("root", "root", 0o644), info
        if "[Install]" in fs.read(info.path):  # the others are started by a .path unit
            assert fs.enabled(unit), unit
    verify = fs.verify(units)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    scores = {unit: fs.exposure(unit) for unit in units}
    print("exposure:", scores, "nginx.service:", fs.exposure("nginx.service"))
    assert all(score <= 2.0 for score in scores.values()), scores


@pytest.fixture(scope="module")
def box(map_root: AppliedRoot, workdir: Path) -> Iterator[harness.Container]:
    map_root.check()
    with harness.booted(map_root.root, workdir / "map-boot.log") as container:
        yield container


def curl(
    box: harness.Container, url: str, *extra: str, name: str = MAP_NAME
) -> subprocess.CompletedProcess[str]:
    """The host's curl in the container's network: the test's certificate is the only CA,
    and ``name`` (the map's, unless a test asks for another) resolves to its loopback."""
    cert = box.root.parent / "keys" / "tls" / f"{MAP_NAME}.crt"
    return box.net(
        [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "15",
            "--noproxy",
            "*",
            "--cacert",
            str(cert),
            "--resolve",
            f"{name}:443:127.0.0.1",
            "--resolve",
            f"{name}:80:127.0.0.1",
            "--dump-header",
            "-",
            *extra,
            url,
        ]
    )


def test_nginx_and_the_map_app_run(box: harness.Container) -> None:
    for unit in ("nginx.service", *UNITS):
        assert box.wait_active(unit) == "active", box.diagnose(unit)


def test_nginx_serves_the_site_over_https_with_strict_headers(box: harness.Container) -> None:
    page = curl(box, f"https://{MAP_NAME}/")
    assert page.returncode == 0, page.stderr
    head, _, body = page.stdout.replace("\r\n", "\n").partition("\n\n")
    headers = {
        line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip()
        for line in head.splitlines()[1:]
        if ":" in line
    }
    assert head.split()[:2] in (["HTTP/1.1", "200"], ["HTTP/2", "200"]), head
    assert "<html" in body.lower()
    assert headers["strict-transport-security"].startswith("max-age="), headers
    assert headers["x-content-type-options"] == "nosniff", headers
    assert "default-src" in headers["content-security-policy"], headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"], headers
    assert headers["referrer-policy"] == "no-referrer", headers
    assert "camera=()" in headers["permissions-policy"], headers
    assert "nginx/" not in headers.get("server", ""), headers  # no version


def test_plain_http_only_redirects_to_https(box: harness.Container) -> None:
    page = curl(box, f"http://{MAP_NAME}/")
    assert page.returncode == 0, page.stderr
    assert page.stdout.split()[1] in ("301", "308"), page.stdout[:2000]
    assert f"location: https://{MAP_NAME}/" in page.stdout.lower(), page.stdout


def test_another_name_gets_no_site(box: harness.Container) -> None:
    # Another name in the TLS handshake (SNI): no handshake at all.
    other = curl(box, "https://other.example/", name="other.example")
    assert other.returncode != 0 and "<html" not in other.stdout.lower(), other.stdout[:2000]
    # The map's name in the handshake, another in the request: no page either.
    page = curl(box, f"https://{MAP_NAME}/", "--header", "Host: other.example")
    assert "<html" not in page.stdout.lower(), page.stdout[:2000]


def test_the_map_app_listens_on_loopback_only(box: harness.Container) -> None:
    listening = harness.listening_tcp(box)
    public = {port for address, port in listening if not harness.is_loopback(address)}
    assert public <= {22, 80, 443}, listening
