"""The TLS audit against the release build: test/tls-audit.sh runs
testssl.sh and sslscan on ferry with its own ECDSA P-256 identity and with
an RSA certificate, and checks only TLS 1.2, only ECDHE AEAD suites, only
strong groups, no renegotiation, no compression and no known vulnerability
from their JSON and XML.  The script's table is printed (pytest -s shows
it, and a failure carries it)."""

import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import ROOT, release_bin

SCRIPT = ROOT / "test" / "tls-audit.sh"
RUN_LIMIT = 270         # the script bounds testssl.sh at 170 s of it
STOP_GRACE = 30         # for its trap to stop its ferries and scanners
TABLE_ROW = re.compile(r"^\S.*\s(PASS|FAIL)\s+(PASS|FAIL)\s*$")


def tool(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("%s is not installed (make deps)" % names[0])


def run_audit(env):
    """Run the script; if it overruns, SIGTERM lets it stop what it
    started, and only then is it killed."""
    proc = subprocess.Popen(["bash", str(SCRIPT)], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=RUN_LIMIT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        pytest.fail("tls-audit.sh ran past %d s:\n%s"
                    % (RUN_LIMIT, out.decode("utf-8", "replace")))
    finally:
        if proc.poll() is None:         # the test's own limit struck
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
    return proc.returncode, out.decode("utf-8", "replace")


@pytest.mark.limit(RUN_LIMIT + STOP_GRACE + 30)
def test_tls_audit():
    env = dict(os.environ,
               FERRY=release_bin(),
               TESTSSL=tool("testssl.sh", "testssl"),
               SSLSCAN=tool("sslscan"))
    code, out = run_audit(env)
    print(out)
    assert code == 0, "tls-audit.sh exited %d:\n%s" % (code, out)
    assert "tls-audit: all claims hold" in out, out
    rows = [l for l in out.splitlines() if TABLE_ROW.match(l)]
    assert len(rows) >= 10, out
    assert all(l.split()[-2:] == ["PASS", "PASS"] for l in rows), out
