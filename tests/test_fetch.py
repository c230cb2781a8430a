"""Fetching the released BigGAN checkpoint, offline: a loopback HTTP server (a thread in the test, honouring Range
requests) serves a zip of the small BigGAN-PyTorch-format fixture checkpoint in the release's layout."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
import zipfile
from pathlib import Path

import pytest
import torch

from gan_lib.errors import UserError
from gan_lib.models import fetch
from gan_lib.models.pretrained import load_biggan_pytorch, models_from_biggan_config

FIXTURES = Path(__file__).parent / "fixtures"
CH8 = FIXTURES / "biggan_pytorch_128_ch8"


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves `server.payload` at any path; honours `Range: bytes=N-`; when `server.drop_after` is set, the first
    full answer stops after that many bytes and closes the connection (as a dropped download does)."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        srv = self.server
        srv.requests.append(self.headers.get("Range"))
        body, start = srv.payload, 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        chunk = body[start:]
        if srv.drop_after is not None:
            chunk, srv.drop_after = chunk[:srv.drop_after], None
            self.close_connection = True
        self.wfile.write(chunk)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.payload, srv.drop_after, srv.requests = b"", None, []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def release(tmp_path, monkeypatch, server):
    """The fixture checkpoint zipped as the release is (files in a `138k/` folder, with an optimizer file the
    study does not need), served by `server`; the cache is private to the test."""
    monkeypatch.setenv("GAN_LIB_CACHE", str(tmp_path / "cache"))
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("G_ema.pth", "D.pth"):
            z.write(CH8 / name, f"138k/{name}")
        z.writestr("138k/G_optim.pth", b"not needed")
    server.payload = archive.read_bytes()
    config = {k: v for k, v in json.loads((CH8 / "config.json").read_text()).items() if k != "how"}
    url = f"http://127.0.0.1:{server.server_address[1]}/release.zip"
    return fetch.Release(name="biggan-test", urls=(url,), archive="release.zip",
                         sha256=hashlib.sha256(server.payload).hexdigest(), config=config)


def test_fetch_installs_a_loadable_checkpoint(release, tmp_path, server):
    dest = fetch.fetch(release, tmp_path / "pretrained" / "biggan-test", progress=False)
    assert sorted(p.name for p in dest.iterdir()) == ["D.pth", "G_ema.pth", "SOURCE.json", "config.json"]
    g, d = load_biggan_pytorch(dest)
    expected = torch.load(CH8 / "expected.pt", weights_only=True)
    with torch.no_grad():
        torch.testing.assert_close(g(expected["z"], expected["y"]), expected["G_out"], atol=1e-4, rtol=0)
    source = json.loads((dest / "SOURCE.json").read_text())
    assert source["sha256"] == release.sha256 and source["sha256_checked"] is True
    assert not list((tmp_path / "cache" / "downloads").glob("release.zip*"))  # the archive is not kept
    assert [p.name for p in dest.parent.iterdir()] == ["biggan-test"]  # no temporary folder left
    requests = len(server.requests)
    assert fetch.fetch(release, dest, progress=False) == dest and len(server.requests) == requests  # no download


def test_fetch_digest_mismatch_leaves_nothing(release, tmp_path):
    dest = tmp_path / "pretrained" / "biggan-test"
    with pytest.raises(UserError, match=r"has sha256 [0-9a-f]{64}, not the expected 0{64}; deleted it") as err:
        fetch.fetch(release, dest, sha256="0" * 64, progress=False)
    assert "\n" not in str(err.value)
    assert not dest.exists() and not (tmp_path / "pretrained").exists()
    assert not list((tmp_path / "cache" / "downloads").glob("release.zip*"))


def test_fetch_digest_mismatch_keeps_an_older_install(release, tmp_path):
    dest = fetch.fetch(release, tmp_path / "biggan-test", progress=False)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    with pytest.raises(UserError, match="not the expected"):
        fetch.fetch(release, dest, sha256="f" * 64, force=True, progress=False)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_fetch_resumes_an_interrupted_download(release, tmp_path, server):
    server.drop_after = len(server.payload) // 3
    dest = tmp_path / "biggan-test"
    with pytest.raises(UserError, match="run the same command again to resume"):
        fetch.fetch(release, dest, progress=False)
    part = tmp_path / "cache" / "downloads" / "release.zip.part"
    assert part.stat().st_size == len(server.payload) // 3 and not dest.exists()
    fetch.fetch(release, dest, progress=False)
    assert server.requests == [None, f"bytes={len(server.payload) // 3}-"]
    assert json.loads((dest / "SOURCE.json").read_text())["sha256"] == release.sha256
    load_biggan_pytorch(dest)


def test_fetch_without_a_pinned_digest_records_the_one_it_got(release, tmp_path, caplog):
    unpinned = fetch.Release(**{**release.__dict__, "sha256": None})
    dest = fetch.fetch(unpinned, tmp_path / "biggan-test", progress=False)
    assert json.loads((dest / "SOURCE.json").read_text())["sha256_checked"] is False
    assert f"--sha256 {release.sha256}" in caplog.text


def test_fetch_refuses_an_archive_without_the_checkpoint(release, tmp_path, server):
    bad = tmp_path / "other.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("138k/G_ema.pth", (CH8 / "G_ema.pth").read_bytes())
    with pytest.raises(UserError, match="holds no D.pth"):
        fetch.fetch(release, tmp_path / "biggan-test", archive=bad, sha256=hashlib.sha256(bad.read_bytes()).hexdigest())
    assert not (tmp_path / "biggan-test").exists() and bad.exists()


def test_fetch_deletes_a_download_that_does_not_unpack(release, tmp_path, server):
    server.payload = b"an error page served as a file"
    unpinned = fetch.Release(**{**release.__dict__, "sha256": None})
    with pytest.raises(UserError, match="not a readable zip.*deleted the download"):
        fetch.fetch(unpinned, tmp_path / "biggan-test", progress=False)
    assert not (tmp_path / "biggan-test").exists()
    assert not list((tmp_path / "cache" / "downloads").glob("release.zip*"))


def test_release_config_builds_the_released_architecture():
    """config.json written for biggan-128 builds models with every tensor name and shape of the release."""
    shapes = json.loads((FIXTURES / "biggan_pytorch_128_state_dict_shapes.json").read_text())
    with torch.device("meta"):
        g, d = models_from_biggan_config(fetch.BIGGAN_128.config)
    assert {k: list(v.shape) for k, v in g.state_dict().items()} == shapes["G"]
    assert {k: list(v.shape) for k, v in d.state_dict().items()} == shapes["D"]
    assert fetch.default_dest(fetch.BIGGAN_128).relative_to(fetch.REPO_ROOT).as_posix() == "pretrained/biggan-128"


def test_study_without_the_paper_source_says_how_to_fetch_it(tmp_path, capsys):
    from gan_lib.study import grid as study

    with pytest.raises(SystemExit) as exit_info:
        study.main(["--preset", "paper", "--datasets", "obama-100", "--variants", "scratch", "tl",
                    "--pretrained", str(tmp_path / "biggan-128"), "--runs-root", str(tmp_path / "runs"),
                    "--results-root", str(tmp_path / "results"), "--no-report"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "python -m gan_lib.models.fetch biggan-128" in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_cli_one_line_error_then_install(release, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(fetch.RELEASES, release.name, release)
    args = [release.name, "--dest", str(tmp_path / "biggan-test"), "--quiet"]
    with pytest.raises(SystemExit) as exit_info:
        fetch.main(args + ["--sha256", "0" * 64])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and "not the expected" in err
    assert not (tmp_path / "biggan-test").exists()
    assert fetch.main(args) == 0 and "installed in" in capsys.readouterr().out
    load_biggan_pytorch(tmp_path / "biggan-test")
