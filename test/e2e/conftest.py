"""Start and stop real ferry processes for the end-to-end tests.

FERRY_BIN names the binary under test (the ASan+UBSan build by default),
FERRY_RELEASE_BIN the optimised one used by the real-use tests.  Each
server gets its own folder and its own $XDG_CONFIG_HOME, listens on
127.0.0.1 (or ::1) on a port the kernel picks, and writes stdout and
stderr to files, so a chatty access log can never block it.  Teardown
stops it with SIGTERM and checks that it exited 0 without a sanitizer
report.
"""

import faulthandler
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = ROOT / "test" / "artifacts"

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:",
                     "LeakSanitizer", "ERROR: UndefinedBehaviorSanitizer",
                     "AddressSanitizer:DEADLYSIGNAL")

START_TIMEOUT = 10.0
STOP_TIMEOUT = 20.0
DEFAULT_TEST_TIMEOUT = 180

LISTEN_RE = re.compile(r"listening on https://(\[[^\]]+\]|[^/:\s]+):(\d+)/")
FPR_RE = re.compile(r"fingerprint\s+((?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2})")
PIN_RE = re.compile(r"(sha256//[A-Za-z0-9+/=]+)")

os.umask(0o022)


def _first_existing(*paths):
    for p in paths:
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return str(p)
    return None


def ferry_bin():
    return _first_existing(os.environ.get("FERRY_BIN"),
                           ROOT / "build-asan" / "ferry", ROOT / "ferry")


def release_bin():
    return _first_existing(os.environ.get("FERRY_RELEASE_BIN"),
                           ROOT / "ferry") or ferry_bin()


def server_env(xdg, extra=None):
    env = dict(os.environ)
    env.pop("ASAN_OPTIONS", None)
    env.pop("UBSAN_OPTIONS", None)
    env["XDG_CONFIG_HOME"] = str(xdg)
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


def sanitizer_report(text):
    return [m for m in SANITIZER_MARKERS if m in text]


class Ferry:
    """One running ferry."""

    def __init__(self, binary, args, folder, xdg, logdir, bind, env=None,
                 prefix=()):
        self.binary = binary
        self.dir = pathlib.Path(folder)
        self.xdg = pathlib.Path(xdg)
        self.bind = bind
        self.args = list(args)
        self.out_path = pathlib.Path(logdir) / ("ferry-%d.out" % id(self))
        self.err_path = pathlib.Path(logdir) / ("ferry-%d.err" % id(self))
        self.returncode = None
        self.killed = False     # by sigkill(), on purpose
        cmd = [*prefix, binary]
        for b in bind:
            cmd += ["-b", b]
        cmd += ["-p", "0", *self.args, str(self.dir)]
        self.cmd = cmd
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err,
                                     env=server_env(self.xdg, env))
        self.pid = self.proc.pid
        self.listen = self._wait_listening(len(bind))
        host, port = self.listen[0]
        self.port = port
        self.host = host
        self.url = "https://%s:%d" % (host, port)
        self.local_url = "https://localhost:%d" % port

    def _wait_listening(self, count):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = [(h, int(p)) for h, p in LISTEN_RE.findall(self.stderr())]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                self._close_files()
                raise RuntimeError("ferry exited %d before listening:\n%s"
                                   % (self.returncode, self.stderr()))
            time.sleep(0.02)
        self.kill()
        raise RuntimeError("ferry did not print its port in %.0f s:\n%s"
                           % (START_TIMEOUT, self.stderr()))

    def stderr(self):
        try:
            return self.err_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stdout(self):
        try:
            return self.out_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def _grep_stderr(self, rx, what, wait=3.0):
        deadline = time.monotonic() + wait
        while True:
            m = rx.search(self.stderr())
            if m or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert m, "no %s line in stderr:\n%s" % (what, self.stderr())
        return m.group(1)

    @property
    def fingerprint(self):
        return self._grep_stderr(FPR_RE, "fingerprint").upper()

    @property
    def pin(self):
        return self._grep_stderr(PIN_RE, "pinnedpubkey")

    @property
    def cert(self):
        if "--cert" in self.args:
            return pathlib.Path(self.args[self.args.index("--cert") + 1])
        return self.xdg / "ferry" / "cert.pem"

    @property
    def key(self):
        if "--key" in self.args:
            return pathlib.Path(self.args[self.args.index("--key") + 1])
        return self.xdg / "ferry" / "key.pem"

    def path(self, rel):
        return self.dir / rel

    def access_lines(self, wait=3.0, count=1):
        """Access-log lines on stdout, waiting until COUNT are there."""
        deadline = time.monotonic() + wait
        while True:
            lines = [l for l in self.stdout().splitlines() if l.strip()]
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def running(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.running():
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal this pid only, wait, and return the exit code."""
        if self.returncode is not None:
            return self.returncode
        self.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.returncode = "timeout"
        self._close_files()
        return self.returncode

    def wait(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._close_files()
        return self.returncode

    def kill(self):
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(10)

    def sigkill(self):
        """Kill it on purpose (a crash test): teardown then expects
        no clean exit."""
        self.killed = True
        self.kill()
        self.stop()

    def _close_files(self):
        for f in (self._out, self._err):
            if not f.closed:
                f.close()

    def check_clean_exit(self):
        rc = self.stop()
        err = self.stderr()
        bad = sanitizer_report(err)
        assert not bad, "sanitizer report (%s) from ferry:\n%s" % (bad, err)
        if self.killed:
            return
        assert rc == 0, "ferry exited %r after SIGTERM:\n%s" % (rc, err[-4000:])


NOBODY_UID = 65534
NOBODY_GID = 65534


def nobody_prefix():
    """Run as nobody when we are root; as ourselves otherwise."""
    if os.geteuid() != 0:
        return ()
    if not shutil.which("setpriv"):
        pytest.skip("setpriv missing")
    return ("setpriv", "--reuid=%d" % NOBODY_UID, "--regid=%d" % NOBODY_GID,
            "--clear-groups", "--")


def make_dir(base, name):
    p = pathlib.Path(base) / name
    p.mkdir(parents=True, exist_ok=True)
    p.chmod(0o755)    # started as root, ferry drops to nobody
    return p


def give_to_server(path):
    """When the tests run as root, ferry writes as nobody: hand PATH and
    everything below it (symlinks themselves, not their targets) over."""
    if os.geteuid() != 0:
        return
    os.lchown(path, NOBODY_UID, NOBODY_GID)
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), NOBODY_UID, NOBODY_GID)


@pytest.fixture
def tmp():
    """A scratch folder that another user (nobody) may enter: pytest's own
    tmp_path sits below a 0700 folder."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="ferry-e2e-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def ferry(tmp):
    """Factory: ferry(*args, dir=None, xdg=None, bind=("127.0.0.1",),
    binary=None, env=None, as_root=False).

    When the tests run as root, ferry runs as nobody unless as_root, so
    that no chroot happens, LeakSanitizer works and the openat2 resolver
    alone confines.  as_root=True runs it as started (bind, chroot into
    DIR, drop to nobody), without leak detection, which cannot work in
    the chroot.
    Every server it starts is stopped and checked."""
    started = []
    logdir = make_dir(tmp, "logs")

    def start(*args, dir=None, xdg=None, bind=("127.0.0.1",), binary=None,
              env=None, as_root=False):
        binary = binary or ferry_bin()
        if not binary:
            pytest.fail("no ferry binary: build it (make, make asan) "
                        "or set FERRY_BIN")
        if isinstance(bind, str):
            bind = (bind,)
        folder = dir or make_dir(tmp, "share%d" % len(started))
        xdg = xdg or make_dir(tmp, "xdg%d" % len(started))
        prefix = ()
        env = dict(env or {})
        if os.geteuid() == 0 and not as_root:
            prefix = nobody_prefix()
            os.chown(xdg, NOBODY_UID, NOBODY_GID)
        elif os.geteuid() == 0:
            # Started as root, ferry chroots into DIR, where LeakSanitizer
            # cannot read /proc at exit and dies with a "fatal error".
            env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0"
        f = Ferry(binary, args, folder, xdg, logdir, bind, env, prefix)
        started.append(f)
        return f

    yield start
    # Teardown is bounded by STOP_TIMEOUT per server, not by the test's
    # alarm, which must not cut a stop short and leave a server behind.
    signal.setitimer(signal.ITIMER_REAL, 0)
    errors = []
    for f in started:
        try:
            f.check_clean_exit()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def wferry(ferry, tmp):
    """Factory like ferry, for a writable server: ferry("-w", *args) on
    a folder it may write in (DIR, or a new one)."""
    count = [0]

    def start(*args, dir=None, **kw):
        if dir is None:
            dir = make_dir(tmp, "wshare%d" % count[0])
            count[0] += 1
        give_to_server(dir)
        return ferry("-w", *args, dir=dir, **kw)

    return start


@pytest.fixture
def srv(ferry):
    """A default server on an empty folder."""
    return ferry()


def run_ferry(args, xdg, timeout=15):
    """Run ferry to completion (for options that make it exit)."""
    binary = ferry_bin()
    if not binary:
        pytest.fail("no ferry binary")
    r = subprocess.run([binary, *args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=server_env(xdg))
    err = r.stderr.decode("utf-8", "replace")
    assert not sanitizer_report(err), err
    return r.returncode, r.stdout.decode("utf-8", "replace"), err


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "limit(seconds): hard time limit for one test")


class TestTimeout(Exception):
    pass


@pytest.fixture(autouse=True)
def _time_limit(request):
    """A bound on every test: at the limit SIGALRM fails it (so teardown
    still stops its servers); a minute later faulthandler dumps the stacks
    and exits, in case even that hangs."""
    m = request.node.get_closest_marker("limit")
    seconds = m.args[0] if m else DEFAULT_TEST_TIMEOUT

    def expired(signum, frame):
        raise TestTimeout("test ran past its %d s limit" % seconds)

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds + 60, exit=True,
                                      file=sys.stderr)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)
    faulthandler.cancel_dump_traceback_later()
