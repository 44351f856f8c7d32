"""The drop page in headless Chromium, driven by playwright-core
(test/browser/drop.mjs): two files dragged onto the page, one dropped
again and replaced after the page asks, a new folder, a delete with its
confirmation.  The files stored must equal the originals byte for byte,
and the console must show no Content-Security-Policy violation."""

import json
import os
import random
import shutil

import pytest

from conftest import ROOT, give_to_server, make_dir
from ferrylib import run, write_file

BROWSER_DIR = ROOT / "test" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def driver():
    node = shutil.which("node")
    if not node:
        pytest.fail("node is not installed (make deps)")
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed (make deps)")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core missing: cd test/browser && npm ci")
    return node


@pytest.mark.limit(240)
def test_drop_two_files(wferry, tmp, artifacts):
    node = driver()
    f = wferry()
    write_file(f.path("delete me.txt"), b"doomed")
    write_file(f.path("keep.txt"), b"kept")
    give_to_server(f.dir)
    src = make_dir(tmp, "src")
    rng = random.Random(7)
    files = {
        "photo.bin": rng.randbytes(1536 * 1024 + 3),
        "héllo wörld #1 100%.txt": "Grüße, 日本\n".encode() * 5000,
    }
    for name, data in files.items():
        write_file(src / name, data)
    newer = write_file(src / "photo-v2.bin", rng.randbytes(70 * 1024))
    shot = artifacts / "drop.png"
    if shot.exists():
        shot.unlink()
    cfg = {
        "url": f.url + "/",
        "files": [{"name": n, "path": str(src / n)} for n in files],
        "replace": {"name": "photo.bin", "path": str(src / "photo-v2.bin")},
        "mkdir": "new folder é",
        "delete": "delete me.txt",
        "screenshot": str(shot),
        "chromium": CHROMIUM,
    }
    cfg_path = tmp / "drop.json"
    cfg_path.write_text(json.dumps(cfg))
    r = run([node, str(BROWSER_DIR / "drop.mjs"), str(cfg_path)],
            timeout=180, cwd=BROWSER_DIR)
    err = r.stderr.decode("utf-8", "replace")
    try:
        report = json.loads(r.stdout.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        pytest.fail("drop.mjs said nothing (rc %d):\n%s" % (r.returncode,
                                                            err[-3000:]))
    print("drop.mjs report:", json.dumps(report, ensure_ascii=False)[:3000])
    assert r.returncode == 0, err[-3000:]
    assert report["controls"]["dropZone"] and report["controls"]["picker"]
    assert report["drop"]["accepted"], "the page did not accept the drag"
    jobs = {j["name"]: j for j in report["jobs"]}
    assert set(jobs) == set(files), report["jobs"]
    for name, j in jobs.items():
        assert "done" in j["cls"].split(), (name, j)
        assert j["value"] == j["max"], (name, j)
    assert shot.is_file() and shot.stat().st_size > 2000
    # Stored byte for byte; the second drop of photo.bin replaced it
    # after the page asked.
    assert f.path("héllo wörld #1 100%.txt").read_bytes() == \
        files["héllo wörld #1 100%.txt"]
    assert report["replaced"] and "replaced" in report["replaced"]["cls"]
    assert f.path("photo.bin").read_bytes() == newer
    assert any(d["type"] == "confirm" and "photo.bin" in d["message"]
               for d in report["dialogs"]), report["dialogs"]
    # New folder, and the delete after its confirmation.
    assert f.path("new folder é").is_dir(), report["mkdir"]
    assert report["mkdir"].startswith("Created"), report["mkdir"]
    assert not f.path("delete me.txt").exists(), report["deleted"]
    assert any(d["type"] == "confirm" and "delete me.txt" in d["message"]
               for d in report["dialogs"]), report["dialogs"]
    assert f.path("keep.txt").read_bytes() == b"kept"
    listed = set(report["rows"])
    assert {"keep.txt", "photo.bin", "new folder é/"} <= listed, listed
    assert "delete me.txt" not in listed
    assert not [n for n in os.listdir(f.dir) if n.startswith(".")]
    assert not report["cspViolations"], report["cspViolations"]
    assert not report["pageErrors"], report["pageErrors"]
    errors = [c for c in report["console"] if c["type"] == "error"]
    assert not errors, errors
