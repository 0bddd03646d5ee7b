"""TAXII 2.1 client against a real local TAXII server (medallion, started by the test)."""

from __future__ import annotations

import json

import pytest

from intel_helpers import indicator
from threatml.errors import InputError, ReadReport
from threatml.intel import load_feeds
from threatml.intel.taxii import PASSWORD_ENV, USER_ENV, load_taxii, split_taxii_url

medallion = pytest.importorskip("medallion", reason="medallion (the TAXII 2.1 test server) is not installed")

from taxii_server import PASSWORD, USER, taxii_server  # noqa: E402


def _objects(n: int) -> list[dict]:
    objs = [indicator(i, f"[ipv4-addr:value = '198.51.{i // 256}.{i % 256}']", confidence=70, labels=["c2"])
            for i in range(n)]
    objs.append(indicator(n, "[domain-name:value = 'served.example']"))
    objs.append(indicator(n + 1, "[ipv4-addr:value = ", ))  # malformed: reported, the rest loads
    return objs


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("taxii")
    with taxii_server(folder, _objects(230), page_size=50) as url:
        yield url, folder


@pytest.fixture()
def creds(monkeypatch):
    monkeypatch.setenv(USER_ENV, USER)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def test_collection_is_fetched_page_by_page(server, creds):
    url, folder = server
    report = ReadReport()
    s = load_taxii(url, report=report, per_request=40)
    assert s.counts() == {"ipv4": 230, "domain": 1}
    assert report.formats[url] == "taxii"
    assert set(s.frame["sources"]) == {f"taxii:{url.split('/')[2]}/91a7b528-80eb-42ed-a74d-c6fbd5a26116"}
    assert sum(c for (p, r), c in report.skipped.items() if r.startswith("malformed STIX pattern")) == 1
    log = (folder / "medallion.log").read_text()
    pages = log.count("GET /api1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/objects/")
    assert pages >= 6  # 232 objects at 40 per request


def test_object_cap_stops_the_download_and_is_counted(server, creds):
    url, _ = server
    report = ReadReport()
    s = load_taxii(url, report=report, per_request=40, max_objects=100)
    assert len(s) == 100
    assert report.skipped[(url, "objects beyond max_objects=100 not fetched")] == 1


def test_taxii_url_through_load_feeds_and_the_cli(server, creds, tmp_path):
    from typer.testing import CliRunner

    from threatml.cli import app

    url, _ = server
    other = tmp_path / "list.txt"
    other.write_text("198.51.0.5\nextra.example\n")
    s = load_feeds([url, str(other)])
    assert len(s) == 232 and "list.txt" in s.frame.loc[s.frame["value"] == "198.51.0.5", "sources"].iat[0]
    res = CliRunner().invoke(app, ["intel", "check", url, "--json"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["types"] == {"ipv4": 230, "domain": 1} and out["skipped"][0]["reason"].startswith("malformed STIX")


def test_wrong_password_unreachable_server_and_bad_urls_are_clear_errors(server, monkeypatch):
    url, _ = server
    monkeypatch.setenv(USER_ENV, USER)
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(InputError, match=r"HTTP 401 \(set THREATML_TAXII_USER"):
        load_taxii(url)
    port = int(url.split(":")[2].split("/")[0])
    with pytest.raises(InputError, match="cannot reach the TAXII server"):
        load_taxii(url.replace(f":{port}/", ":9/"), timeout=5)
    with pytest.raises(InputError, match="no collection in the URL"):
        split_taxii_url("taxii+https://intel.example/api1/")
    with pytest.raises(InputError, match="credentials in the URL are not accepted"):
        split_taxii_url("taxii+https://u:p@intel.example/api1/collections/x/")
    report = ReadReport()
    load_feeds([url.replace(f":{port}/", ":9/"), ], report=report)
    assert report.errors and "cannot reach" in report.errors[0][1]
