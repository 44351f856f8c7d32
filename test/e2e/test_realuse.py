"""Real use with real clients against the release build: a wget mirror of
/usr/share/doc, a 1 GiB file by aria2c and by a curl that is killed and
resumed, and the listing in headless Chromium."""

import filecmp
import hashlib
import html.parser
import os
import pathlib
import random
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import make_dir, release_bin
from ferrylib import run, write_file

GIB = 1024 ** 3
MIB = 1024 ** 2
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


# --- the tree as ferry should show it ----------------------------------------

def resolve_in_root(root, rel):
    """Resolve REL below ROOT the way openat2(RESOLVE_IN_ROOT) does: '..'
    stops at ROOT and absolute symlinks start again at ROOT.  Returns the
    real path, or None when missing or looping."""
    queue = [p for p in rel.split("/") if p]
    stack = []
    links = 0
    while queue:
        c = queue.pop(0)
        if c == ".":
            continue
        if c == "..":
            if stack:
                stack.pop()
            continue
        p = os.path.join(root, *stack, c)
        if os.path.islink(p):
            links += 1
            if links > 40:
                return None
            target = os.readlink(p)
            if target.startswith("/"):
                stack = []
            queue = [x for x in target.split("/") if x] + queue
            continue
        if not os.path.lexists(p):
            return None
        if queue and not os.path.isdir(p):
            return None
        stack.append(c)
    return os.path.join(root, *stack)


def expected_files(root):
    """{url path: real file} of every regular file a crawler can reach."""
    out = {}
    skipped_cycles = []

    def walk(rel, real, chain):
        for name in sorted(os.listdir(real)):
            if name.startswith("."):
                continue
            child = rel + "/" + name if rel else name
            r = resolve_in_root(root, child)
            if r is None:
                continue
            if os.path.isdir(r):
                if r in chain:
                    skipped_cycles.append(child)
                    continue
                walk(child, r, chain | {r})
            elif os.path.isfile(r):
                out[child] = r

    walk("", root, {root})
    return out, skipped_cycles


# --- wget -r -----------------------------------------------------------------

@pytest.mark.limit(900)
def test_wget_mirror_of_usr_share_doc(ferry, tmp):
    src = tmp / "doc"
    r = run(["cp", "-a", "/usr/share/doc", str(src)], timeout=300)
    assert r.returncode == 0, r.stderr
    src.chmod(0o755)
    expected, cycles = expected_files(str(src))
    assert len(expected) > 1000
    f = ferry("-q", dir=src, binary=release_bin(), as_root=True)
    out = make_dir(tmp, "mirror")
    t0 = time.monotonic()
    w = run(["wget", "-r", "-l", "inf", "-np", "-nH", "-e", "robots=off",
             "-q", "--restrict-file-names=nocontrol",
             "--ca-certificate", str(f.cert), "-P", str(out),
             "https://127.0.0.1:%d/" % f.port], timeout=800)
    took = time.monotonic() - t0
    # 8: some server answered an error (links inside the docs that lead
    # to files outside the copy); anything else is a failure.
    assert w.returncode in (0, 8), (w.returncode, w.stderr[-2000:])
    same, differ, missing, ambiguous = 0, [], [], []
    for rel, real in expected.items():
        local = out / rel
        if rel == "index.html" or rel.endswith("/index.html"):
            # The listing page of the folder lands on the same name, and
            # wget keeps whichever came last.
            if not (local.is_file() and
                    filecmp.cmp(real, local, shallow=False)):
                ambiguous.append(rel)
                continue
        if not local.is_file():
            missing.append(rel)
        elif filecmp.cmp(real, local, shallow=False):
            same += 1
        else:
            differ.append(rel)
    got = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    extra = sorted(g for g in got - set(expected)
                   if not g.endswith("index.html"))
    links = [p for p in src.rglob("*") if p.is_symlink()]
    dangling = [p for p in links
                if resolve_in_root(str(src), str(p.relative_to(src))) is None]
    # Those that lead out of the copy must not have been served.
    for p in dangling:
        assert not (out / p.relative_to(src)).exists(), p
    print("wget mirror: %d files expected (%d symlinks in the copy, %d "
          "leading out, %d cycles skipped), %d identical, %d differ, %d "
          "missing, %d index.html replaced by the listing, %d extra, %d "
          "files downloaded, %.1f s"
          % (len(expected), len(links), len(dangling), len(cycles), same,
             len(differ), len(missing), len(ambiguous), len(extra),
             len(got), took))
    assert not differ, differ[:20]
    assert not missing, missing[:20]
    # Nothing outside the copy: no file we did not expect but listings.
    outside = [e for e in extra if "?" not in e]
    assert not outside, outside[:20]


# --- a 1 GiB file ------------------------------------------------------------

@pytest.fixture(scope="module")
def gig():
    """A folder with a 1 GiB file of seeded pseudo-random bytes."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="ferry-e2e-gig-"))
    d.chmod(0o755)
    share = make_dir(d, "share")
    path = share / "big.bin"
    rng = random.Random(2026)
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(16):
            chunk = rng.randbytes(64 * MIB)
            h.update(chunk)
            f.write(chunk)
    yield share, h.hexdigest()
    shutil.rmtree(d, ignore_errors=True)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(8 * MIB)
            if not b:
                return h.hexdigest()
            h.update(b)


@pytest.mark.limit(400)
def test_aria2c_parallel_download(ferry, tmp, gig):
    share, digest = gig
    f = ferry(dir=share, binary=release_bin(), as_root=True)
    out = make_dir(tmp, "aria")
    t0 = time.monotonic()
    r = run(["aria2c", "-x4", "-s4", "-k1M", "--check-certificate=false",
             "--file-allocation=none", "--allow-overwrite=true",
             "--auto-file-renaming=false", "--summary-interval=0",
             "--console-log-level=warn", "--download-result=hide",
             "-d", str(out), "-o", "big.bin", f.url + "/big.bin"],
            timeout=300)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (out / "big.bin").stat().st_size == GIB
    assert sha256_of(out / "big.bin") == digest
    lines = [l for l in f.access_lines(count=2) if "/big.bin" in l]
    partial = [l for l in lines if '" 206 ' in l]
    print("aria2c: 1 GiB in %.1f s, %d requests, %d partial"
          % (took, len(lines), len(partial)))
    assert len(partial) >= 2, lines


@pytest.mark.limit(400)
def test_curl_killed_and_resumed(ferry, tmp, gig):
    share, digest = gig
    f = ferry(dir=share, binary=release_bin(), as_root=True)
    out = tmp / "big.bin"
    p = subprocess.Popen(["curl", "-sS", "-k", "--max-time", "120",
                          "--limit-rate", "150M", "-o", str(out),
                          f.url + "/big.bin"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None:
            if out.exists() and out.stat().st_size > 200 * MIB:
                break
            time.sleep(0.02)
        assert p.poll() is None, "curl ended before it could be killed"
        p.send_signal(signal.SIGKILL)
    finally:
        p.wait(10)
    partial = out.stat().st_size
    assert 200 * MIB < partial < GIB, partial
    r = run(["curl", "-sS", "-k", "--max-time", "200", "-C", "-", "-o",
             str(out), "-w", "%{http_code}", f.url + "/big.bin"], timeout=220)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"206"
    assert out.stat().st_size == GIB
    assert sha256_of(out) == digest
    lines = f.access_lines(count=2)
    resumed = [l for l in lines if '" 206 %d ' % (GIB - partial) in l]
    print("curl: killed at %d MiB, resumed with %d bytes"
          % (partial // MIB, GIB - partial))
    assert resumed, lines


# --- Chromium ----------------------------------------------------------------

class Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = []

    def handle_data(self, data):
        self.text.append(data)


def chromium(args, profile, timeout=120):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage",
           "--user-data-dir=%s" % profile, "--ignore-certificate-errors",
           "--enable-logging=stderr", "--v=0", *args]
    return run(cmd, timeout=timeout)


@pytest.mark.limit(300)
def test_chromium_listing(ferry, tmp, artifacts):
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed (make deps)")
    f = ferry(binary=release_bin(), as_root=True)
    names = ["readme.txt", "photo.png", "a<b>&c.txt", "日本語.txt",
             "quote'\"s.txt", "space name.pdf"]
    for i, n in enumerate(names):
        write_file(f.path(n), "x" * (i * 700 + 1))
    os.makedirs(f.path("sub folder"))
    os.makedirs(f.path("docs"))
    profile = make_dir(tmp, "chrome")
    r = chromium(["--dump-dom", f.url + "/"], profile)
    assert r.returncode == 0, r.stderr[-3000:]
    dom = r.stdout.decode("utf-8", "replace")
    t = Text()
    t.feed(dom)
    text = "".join(t.text)
    for n in names + ["sub folder", "docs"]:
        assert n in text, "%r not shown; page text: %r" % (n, text[:2000])
    log = r.stderr.decode("utf-8", "replace")
    assert "Content Security Policy" not in log, \
        [l for l in log.splitlines() if "Content Security" in l]
    shot = artifacts / "listing.png"
    phone = artifacts / "listing-phone.png"
    for path, size in [(shot, "1280,800"), (phone, "390,844")]:
        if path.exists():
            path.unlink()
        r = chromium(["--screenshot=%s" % path, "--window-size=%s" % size,
                      "--hide-scrollbars", f.url + "/"], profile)
        assert r.returncode == 0, r.stderr[-3000:]
        assert path.is_file() and path.stat().st_size > 2000
