"""The drop page in headless Chromium, driven by playwright-core
(test/browser/drop.mjs): two files dragged onto the page, one dropped
again and replaced after the page asks, a new folder, a delete with its
confirmation.  The files stored must equal the originals byte for byte,
and the console must show no Content-Security-Policy violation.

Then a 5 GiB file chosen on the page (test/browser/stream.mjs), while
ferry's and the browser's memory are sampled: both must stay flat."""

import json
import os
import queue
import random
import shutil
import signal
import statistics
import subprocess
import threading
import time

import pytest

from conftest import ROOT, give_to_server, make_dir, release_bin
from ferrylib import (GIB, HUGE, HUGE_MARKS, KIB, MIB, run, sha256sum,
                      sparse_with_marks, upload_temps, write_file)

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


# --- 5 GiB through the page --------------------------------------------------

SAMPLE_EVERY = 0.5
# Growth over the baseline.  ferry holds fixed buffers per connection
# whatever the size (it stayed within 0.1 MiB); the browser's processes
# grew by 6-7 MiB (at most 17 MiB by their VmHWM) while streaming, where
# reading the File into memory would cost 5 GiB, and even a twentieth of
# it held would fail.
FERRY_GROWTH_MAX = 64 * MIB
BROWSER_GROWTH_MAX = 256 * MIB


def proc_status(pid, field):
    """A /proc/PID/status size field (VmRSS, VmHWM) in bytes; None once
    the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * KIB
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def proc_table():
    """{pid: (ppid, cmdline bytes)} of every process there is now."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as fh:
                stat = fh.read()
            with open("/proc/%s/cmdline" % entry, "rb") as fh:
                cmdline = fh.read()
            # The name in parentheses may hold anything; ppid follows
            # the state after it.
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue     # gone meanwhile
        table[int(entry)] = (ppid, cmdline)
    return table


def browser_pids(driver_pid, profile):
    """The browser's processes: those below the driver (node), and any
    whose command line names our profile folder, should one have been
    handed to init."""
    table = proc_table()
    marker = str(profile).encode()
    found = {pid for pid, (_, cmdline) in table.items() if marker in cmdline}
    frontier = [driver_pid]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    found.discard(driver_pid)
    return found


def rss_sum(pids, field="VmRSS"):
    return sum(proc_status(p, field) or 0 for p in pids)


class Driver:
    """node stream.mjs, its JSON lines read on a thread so that the
    caller can sample memory while it waits for them."""

    def __init__(self, node, cfg_path, logdir):
        self.err_path = logdir / "stream-mjs.err"
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [node, str(BROWSER_DIR / "stream.mjs"), str(cfg_path)],
            cwd=BROWSER_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._err)
        self.pid = self.proc.pid
        self.events = queue.Queue()
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            self.lines.append(line)
            try:
                self.events.put(json.loads(line))
            except ValueError:
                pass
        self.events.put({"event": "eof"})

    def next_event(self, timeout):
        try:
            return self.events.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None

    def wait_for(self, kind, timeout):
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(deadline - time.monotonic())
            if ev is None or ev["event"] in (kind, "eof"):
                return ev

    def tell(self):
        """One line on its stdin: go on to the next step."""
        try:
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def stderr(self):
        return self.err_path.read_text("utf-8", "replace")

    def close(self, profile):
        """Let it close the browser (stdin closed); past 20 s SIGTERM, which
        Playwright answers by closing its browsers; past 15 s more,
        SIGKILL for it and for what is left of its browser."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        for sig, wait in ((None, 20), (signal.SIGTERM, 15),
                          (signal.SIGKILL, 10)):
            if sig is not None and self.proc.poll() is None:
                left = browser_pids(self.pid, profile)
                self.proc.send_signal(sig)
                if sig == signal.SIGKILL:
                    for pid in left:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self._err.close()
        return self.proc.returncode


class Memory:
    """ferry's and the browser's resident memory, sampled: a baseline,
    then the peaks and a line every few seconds while the upload runs."""

    def __init__(self, ferry_pid, driver, profile, share):
        self.ferry_pid = ferry_pid
        self.driver = driver
        self.profile = profile
        self.share = share
        self.peak_ferry = self.peak_browser = 0
        self.peak_procs = 0
        self.temp_sizes = set()
        self.timeline = []
        self.pids = set()

    def sample(self):
        self.pids = browser_pids(self.driver.pid, self.profile)
        ferry_rss = proc_status(self.ferry_pid, "VmRSS") or 0
        browser_rss = rss_sum(self.pids)
        self.peak_ferry = max(self.peak_ferry, ferry_rss)
        self.peak_browser = max(self.peak_browser, browser_rss)
        self.peak_procs = max(self.peak_procs, len(self.pids))
        for p in upload_temps(self.share):
            try:
                self.temp_sizes.add(os.lstat(p).st_size)
            except FileNotFoundError:
                pass
        return ferry_rss, browser_rss

    def baseline(self, count=5):
        """Medians of COUNT samples half a second apart."""
        got = []
        for _ in range(count):
            got.append(self.sample())
            time.sleep(SAMPLE_EVERY)
        self.base_ferry = statistics.median(g[0] for g in got)
        self.base_browser = statistics.median(g[1] for g in got)
        self.base_procs = len(self.pids)
        self.peak_ferry = self.peak_browser = 0

    def during(self, t0, timeout):
        """Sample until the driver reports or TIMEOUT passes; returns
        the report (None if none came)."""
        deadline = t0 + timeout
        next_line = t0
        while time.monotonic() < deadline:
            ferry_rss, browser_rss = self.sample()
            now = time.monotonic()
            if now >= next_line:
                sent = max(self.temp_sizes | {0})
                self.timeline.append("%5.1f s  at ferry %5.2f GiB  ferry "
                                     "%5.1f MiB  browser %6.1f MiB (%d)"
                                     % (now - t0, sent / GIB, ferry_rss / MIB,
                                        browser_rss / MIB, len(self.pids)))
                next_line = now + 5
            ev = self.driver.next_event(SAMPLE_EVERY)
            while ev is not None:
                if ev["event"] in ("report", "eof"):
                    return ev
                ev = self.driver.next_event(0)
        return None


@pytest.mark.limit(600)
def test_drop_page_streams_5g(wferry, tmp):
    """A 5 GiB file chosen on the page goes up as a stream: neither the
    browser nor ferry holds it in memory, and it arrives byte for byte.
    The file is sparse with markers past 4 GiB, given to the file input
    by its path so that Chromium reads it from disk."""
    node = driver()
    src_dir = make_dir(tmp, "src")
    src = src_dir / "big 5G.bin"
    sparse_with_marks(src)
    f = wferry("-q", binary=release_bin())
    profile = make_dir(tmp, "chromium-profile")
    cfg = {
        "url": f.url + "/", "path": str(src), "chromium": CHROMIUM,
        "userDataDir": str(profile), "uploadTimeoutMs": 420 * 1000,
    }
    cfg_path = tmp / "stream.json"
    cfg_path.write_text(json.dumps(cfg))
    drv = Driver(node, cfg_path, f.out_path.parent)
    try:
        ready = drv.wait_for("ready", 60)
        assert ready and ready["event"] == "ready", \
            "the page did not load:\n%s" % drv.stderr()[-3000:]
        mem = Memory(f.pid, drv, profile, f.dir)
        mem.baseline()
        drv.tell()
        t0 = time.monotonic()
        report = mem.during(t0, 450)
        took = time.monotonic() - t0
        ferry_hwm = proc_status(f.pid, "VmHWM") or 0
        browser_hwm = rss_sum(mem.pids, "VmHWM")
        drv.tell()
    finally:
        rc = drv.close(profile)
    print("\n".join(mem.timeline))
    assert report and report["event"] == "report", \
        "no report from stream.mjs (rc %s):\n%s\n%s" % (
            rc, "\n".join(drv.lines[-5:]), drv.stderr()[-3000:])
    print("5 GiB from the page: %.1f s (%.0f MB/s; the page says %.1f s, "
          "%s)" % (took, HUGE / took / 1e6, report["secs"] or 0,
                   (report["job"] or {}).get("speed")))
    print("ferry:   baseline %.1f MiB, peak %.1f MiB (+%.1f), VmHWM %.1f MiB"
          % (mem.base_ferry / MIB, mem.peak_ferry / MIB,
             (mem.peak_ferry - mem.base_ferry) / MIB, ferry_hwm / MIB))
    print("browser: baseline %.1f MiB in %d processes, peak %.1f MiB (+%.1f) "
          "in up to %d, sum of VmHWM %.1f MiB"
          % (mem.base_browser / MIB, mem.base_procs, mem.peak_browser / MIB,
             (mem.peak_browser - mem.base_browser) / MIB, mem.peak_procs,
             browser_hwm / MIB))
    print("ferry's temporary file seen at %d sizes below 5 GiB"
          % len([s for s in mem.temp_sizes if 0 < s < HUGE]))
    assert rc == 0, drv.stderr()[-3000:]
    job = report["job"]
    assert job and "done" in job["cls"].split(), job
    assert job["value"] == job["max"] == HUGE, job
    assert not report["pageErrors"], report["pageErrors"]
    errors = [c for c in report["console"] if c["type"] == "error"]
    assert not errors, errors
    # Streamed: ferry wrote it as it came, and neither side grew with it.
    assert len([s for s in mem.temp_sizes if 0 < s < HUGE]) >= 5, \
        sorted(mem.temp_sizes)
    # VmHWM also catches most peaks between two samples (the kernel
    # updates it lazily); for the browser, the sum of its processes'
    # peaks bounds the peak of their sum.
    for what, grew, bound in (
            ("ferry", mem.peak_ferry - mem.base_ferry, FERRY_GROWTH_MAX),
            ("ferry's VmHWM", ferry_hwm - mem.base_ferry, FERRY_GROWTH_MAX),
            ("the browser", mem.peak_browser - mem.base_browser,
             BROWSER_GROWTH_MAX),
            ("the browser's VmHWM", browser_hwm - mem.base_browser,
             BROWSER_GROWTH_MAX)):
        assert grew < bound, "%s grew by %.1f MiB (bound %d MiB)" % (
            what, grew / MIB, bound // MIB)
    stored = f.path(src.name)
    assert stored.stat().st_size == HUGE
    with open(stored, "rb") as fh:
        for off, mark in HUGE_MARKS:
            fh.seek(off)
            assert fh.read(len(mark)) == mark, off
    t1 = time.monotonic()
    want, got = sha256sum([src, stored], timeout=300)
    print("sha256 of both: %.1f s" % (time.monotonic() - t1))
    assert got == want
    assert not upload_temps(f.dir)
