#!/usr/bin/env bash
# TLS audit: testssl.sh and sslscan (Debian packages) against a running
# ferry, once with the ECDSA P-256 identity it makes itself and once with an
# RSA certificate given with --cert/--key.  Each claim is then checked from
# the tools' machine-readable output (testssl.sh JSON by id and severity,
# sslscan XML), never from their coloured text, and a table of
# claim -> PASS/FAIL with the evidence is printed.
#
#   FERRY=./ferry test/tls-audit.sh      (FERRY defaults to ./ferry)
#
# Exit status: 0 every claim holds, 1 a claim fails, 2 the audit cannot run.
# Everything stays on 127.0.0.1: no DNS, OCSP or CRL look-ups.  The script
# stops only the ferry processes it started, and removes its temp folder.
set -euo pipefail

FERRY=${FERRY:-./ferry}
TESTSSL=${TESTSSL:-$(command -v testssl.sh || command -v testssl || true)}
SSLSCAN=${SSLSCAN:-$(command -v sslscan || true)}
OPENSSL=${OPENSSL:-$(command -v openssl || true)}
PYTHON=${PYTHON:-$(command -v python3 || true)}
# testssl.sh takes about a minute per server here; both run side by side.
TESTSSL_LIMIT=${TESTSSL_LIMIT:-170}
# Protocols, each cipher of its 370 (sockets, so more than OpenSSL knows),
# forward secrecy and groups, and every vulnerability check (-U includes
# renegotiation, CRIME, BREACH, POODLE, ...).  Certificate trust, headers
# and client simulations are left out: they say nothing of the TLS set-up.
TESTSSL_CHECKS=(-p -e -f -U)

die() {
    echo "tls-audit: $*" >&2
    exit 2
}

[ -x "$FERRY" ] || die "no ferry binary at $FERRY (set FERRY)"
[ -n "$TESTSSL" ] || die "testssl.sh is not installed (apt-get install" \
    "testssl.sh)"
[ -n "$SSLSCAN" ] || die "sslscan is not installed (apt-get install sslscan)"
[ -n "$OPENSSL" ] || die "openssl is not installed"
[ -n "$PYTHON" ] || die "python3 is not installed"
FERRY=$(cd "$(dirname "$FERRY")" && pwd)/$(basename "$FERRY")

started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-tls-audit.XXXXXX")
ferry_pids=()
scan_pids=()

# Scans are started through timeout(1), which passes our TERM on to them.
# shellcheck disable=SC2317  # reached through the trap
cleanup() {
    local pid
    for pid in "${scan_pids[@]}" "${ferry_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${scan_pids[@]}" "${ferry_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

# The shared folder: as root, ferry chroots into it and serves as nobody.
mkdir -p "$work/share"
echo "tls audit" > "$work/share/index.txt"
chmod 755 "$work/share"
chmod 644 "$work/share/index.txt"

# start_ferry NAME [ARGS...]: start one ferry on 127.0.0.1, port picked by
# the kernel, its own $XDG_CONFIG_HOME; writes NAME/port and NAME/pid.
start_ferry() {
    local name=$1 dir=$work/$1 pid port=""
    shift
    mkdir -p "$dir/xdg"
    XDG_CONFIG_HOME=$dir/xdg "$FERRY" -b 127.0.0.1 -p 0 "$@" "$work/share" \
        </dev/null >"$dir/ferry.out" 2>"$dir/ferry.err" &
    pid=$!
    ferry_pids+=("$pid")
    echo "$pid" >"$dir/pid"
    for _ in $(seq 100); do
        port=$(sed -n 's|.*listening on https://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' \
            "$dir/ferry.err" 2>/dev/null | head -n 1) || true
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        cat "$dir/ferry.err" >&2
        die "$name: ferry did not start listening"
    fi
    echo "$port" >"$dir/port"
}

# probe_renegotiation NAME: ask for a renegotiation ('R' to s_client) on a
# live TLS 1.2 connection; ferry must refuse it.
probe_renegotiation() {
    local dir=$work/$1
    { printf 'R\n'; sleep 2; } |
        timeout 15 "$OPENSSL" s_client -connect "127.0.0.1:$(cat "$dir/port")" \
            -tls1_2 -servername localhost >"$dir/renego.out" 2>&1 || true
}

# scan_quick NAME: sslscan (under a second) and the renegotiation probe.
scan_quick() {
    local dir=$work/$1
    timeout 60 "$SSLSCAN" --no-colour --ipv4 --timeout=5 \
        --xml="$dir/sslscan.xml" "127.0.0.1:$(cat "$dir/port")" \
        >"$dir/sslscan.txt" 2>&1 || echo "sslscan exit $?" >>"$dir/sslscan.txt"
    probe_renegotiation "$1"
}

# scan_testssl NAME: testssl.sh in the background, JSON findings to a file.
scan_testssl() {
    local dir=$work/$1
    timeout "$TESTSSL_LIMIT" "$TESTSSL" --quiet --color 0 --warnings off \
        --nodns none --ip 127.0.0.1 --connect-timeout 10 \
        --openssl-timeout 10 "${TESTSSL_CHECKS[@]}" \
        --jsonfile "$dir/testssl.json" "127.0.0.1:$(cat "$dir/port")" \
        </dev/null >"$dir/testssl.txt" 2>&1 &
    scan_pids+=("$!")
}

# stop_ferry NAME: was it still running after the scans, and did SIGTERM
# end it with status 0?  Writes NAME/status for the checker.
stop_ferry() {
    local dir=$work/$1 pid alive=0 rc
    pid=$(cat "$dir/pid")
    kill -0 "$pid" 2>/dev/null && alive=1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    rc=0
    wait "$pid" || rc=$?
    printf 'alive=%s\nexit=%s\n' "$alive" "$rc" >"$dir/status"
}

# An RSA certificate for --cert/--key, as an operator would make it.
mkdir -p "$work/rsa-files"
"$OPENSSL" req -x509 -newkey rsa:2048 -sha256 -days 90 -nodes \
    -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$work/rsa-files/key.pem" -out "$work/rsa-files/cert.pem" \
    >/dev/null 2>&1 || die "openssl could not make an RSA certificate"

start_ferry ecdsa
start_ferry rsa --cert "$work/rsa-files/cert.pem" \
    --key "$work/rsa-files/key.pem"
echo "tls-audit: ferry $FERRY on 127.0.0.1 ports" \
    "$(cat "$work/ecdsa/port") (own ECDSA identity)," \
    "$(cat "$work/rsa/port") (RSA --cert)"

for name in ecdsa rsa; do
    scan_quick "$name"
done
echo "tls-audit: running testssl.sh ${TESTSSL_CHECKS[*]} on both" \
    "(limit ${TESTSSL_LIMIT} s)"
for name in ecdsa rsa; do
    scan_testssl "$name"
done
for pid in "${scan_pids[@]}"; do
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -ne 124 ] || echo "tls-audit: testssl.sh ran past its limit" >&2
done
scan_pids=()
for name in ecdsa rsa; do
    stop_ferry "$name"
done
ferry_pids=()

status=0
"$PYTHON" - "$work" <<'EOF' || status=$?
"""Check each claim from testssl.sh's JSON and sslscan's XML."""
import json
import pathlib
import re
import sys
import xml.etree.ElementTree as ET

WORK = pathlib.Path(sys.argv[1])
TARGETS = (("ecdsa", "own ECDSA P-256 identity"),
           ("rsa", "RSA 2048 via --cert/--key"))

STRONG_GROUPS = {"x25519", "x448", "secp256r1", "secp384r1", "secp521r1"}
GROUP_NAMES = {"prime256v1": "secp256r1", "p-256": "secp256r1",
               "p-384": "secp384r1", "p-521": "secp521r1",
               "25519": "x25519", "448": "x448"}
NOT_OFFERED = ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_3")
VULN_IDS = ("heartbleed", "CCS", "ticketbleed", "ROBOT", "CRIME_TLS",
            "POODLE_SSL", "fallback_SCSV", "SWEET32", "FREAK", "DROWN",
            "LOGJAM", "LOGJAM-common_primes", "BEAST", "LUCKY13", "RC4")
QUIET = ("OK", "INFO")
# Findings about the scanner's own machine, not the server: testssl.sh
# warns when its openssl has no engine (GOST) support, which depends on
# what else is installed where the audit runs.
ABOUT_THE_SCANNER = ("engine_problem",)
# ECDHE key exchange (forward secrecy) with an AEAD cipher, by IANA name.
FS_AEAD_IANA = re.compile(
    r"TLS_ECDHE_(ECDSA|RSA)_WITH_\w*(_GCM_|CHACHA20_POLY1305|_CCM)")
FS_AEAD_OPENSSL = re.compile(
    r"ECDHE-(ECDSA|RSA)-\S*(-GCM-|CHACHA20-POLY1305|-CCM)")


def group(name):
    name = (name.split() or ["?"])[0].lower()
    return GROUP_NAMES.get(name, name)


class Scan:
    """One target's outputs."""

    def __init__(self, name):
        d = WORK / name
        self.problems = []
        self.findings = {}
        self.all = []
        try:
            self.all = json.loads((d / "testssl.json").read_text())
        except (OSError, ValueError) as e:
            self.problems.append("testssl JSON unreadable: %s" % e)
        for f in self.all:
            self.findings.setdefault(f["id"], f)
        try:
            self.xml = ET.parse(d / "sslscan.xml").getroot().find("ssltest")
        except (OSError, ET.ParseError) as e:
            self.problems.append("sslscan XML unreadable: %s" % e)
            self.xml = None
        if self.xml is None:
            self.xml = ET.Element("ssltest")
        self.renego = (d / "renego.out").read_text("utf-8", "replace")
        self.status = dict(l.split("=", 1) for l in
                           (d / "status").read_text().split())

    def ts(self, fid):
        f = self.findings.get(fid)
        return (f["severity"], f["finding"]) if f else (None, "missing")

    def xs(self, tag):
        return self.xml.findall(tag)


def claim_protocols(s):
    offered = s.ts("TLS1_2")[1]
    bad = ["%s %s" % (fid, s.ts(fid)[1]) for fid in NOT_OFFERED
           if not s.ts(fid)[1].startswith("not offered")]
    on = ["%s%s" % (p.get("type"), p.get("version")) for p in
          s.xs("protocol") if p.get("enabled") == "1"]
    tried = len(s.xs("protocol"))
    ok = offered.startswith("offered") and not bad and on == ["tls1.2"]
    return ok and tried == 6, [
        "testssl: TLS1_2 %s; %s" % (offered, "; ".join(bad) or
                                    " ".join(NOT_OFFERED) + " not offered"),
        "sslscan: %d protocols tried, enabled: %s"
        % (tried, " ".join(on) or "none")]


def testssl_suites(s):
    """hex id -> (OpenSSL name, IANA name) of each suite testssl saw."""
    suites = {}
    for f in s.all:
        if f["id"].startswith("cipher_x"):
            words = f["finding"].split()
            suites[f["id"][len("cipher_x"):].lower()] = (words[1], words[-1])
    return suites


def claim_suites(s):
    ts = testssl_suites(s)
    ss = {c.get("id", "").lower()[2:]: c.get("cipher") for c in s.xs("cipher")}
    bad = ["testssl " + n for _, n in ts.values() if not FS_AEAD_IANA.match(n)]
    bad += ["sslscan " + n for n in ss.values() if not FS_AEAD_OPENSSL.match(n)]
    bad += ["sslscan %s over %s" % (c.get("cipher"), c.get("sslversion"))
            for c in s.xs("cipher") if c.get("sslversion") != "TLSv1.2"]
    pfs = s.ts("PFS")[1]
    same = set(ts) == set(ss)
    ok = not bad and bool(ts) and same and pfs == "offered"
    ev = ["testssl (each suite it knows, by sockets): %s; PFS %s"
          % (" ".join(o for o, _ in ts.values()) or "none", pfs),
          "sslscan: %s%s" % (" ".join(ss.values()) or "none",
                             "" if same else "  (DIFFERS from testssl)")]
    if bad:
        ev.append("not ECDHE+AEAD: " + ", ".join(bad))
    return ok, ev


def claim_groups(s):
    t_curves = s.ts("PFS_ECDHE_curves")[1]
    tg = set() if t_curves == "missing" else {group(c) for c in t_curves.split()}
    sg = {group(g.get("name", "")) for g in s.xs("group")}
    sg |= {group(c.get("curve")) for c in s.xs("cipher") if c.get("curve")}
    weak = sorted((tg | sg) - STRONG_GROUPS)
    ok = bool(tg) and bool(sg) and not weak and "x25519" in tg | sg
    ev = ["testssl: %s" % t_curves,
          "sslscan: %s" % " ".join(sorted(sg))]
    if weak:
        ev.append("weak or unknown: " + " ".join(weak))
    return ok, ev


def claim_renegotiation(s):
    """A real renegotiation asked for on a live TLS 1.2 connection, by
    testssl and by our own s_client, must be refused.  sslscan 2.0's probe
    speaks only TLS 1.0, so against ferry its answer is shown, not used."""
    r = s.xs("renegotiation")
    c_sev, c_text = s.ts("secure_client_renego")
    after = s.renego.split("RENEGOTIATING", 1)
    refused = len(after) == 2 and re.search(
        r"error:.*(no renegotiation|alert)", after[1]) is not None
    ok = c_sev == "OK" and c_text.startswith("not vulnerable") and refused
    return ok, [
        "testssl secure_client_renego ('R' to s_client): %s" % c_text,
        "openssl s_client -tls1_2 'R': %s" % (
            "refused (no_renegotiation alert)" if refused else "NOT refused"),
        "info: testssl secure_renego '%s' = RFC 5746 extension echoed; "
        "sslscan supported=%s (TLS 1.0-only probe)"
        % (s.ts("secure_renego")[1], r[0].get("supported") if r else "-")]


def claim_compression(s):
    sev, text = s.ts("CRIME_TLS")
    ok = sev == "OK" and text.startswith("not vulnerable")
    comp = s.xs("compression")
    ev = ["testssl CRIME_TLS (offers DEFLATE): %s" % text]
    if comp:
        ok &= comp[0].get("supported") == "0"
        ev.append("sslscan: compression supported=%s"
                  % comp[0].get("supported"))
    else:
        ev.append("sslscan: not tested (its OpenSSL lacks zlib)")
    return ok, ev


def claim_vulns(s):
    bad = ["%s=%s %s" % (v, s.ts(v)[0], s.ts(v)[1]) for v in VULN_IDS
           if s.ts(v)[0] not in QUIET]
    hb = [h.get("vulnerable") for h in s.xs("heartbleed")]
    hb_ok = bool(hb) and all(v == "0" for v in hb)
    return not bad and hb_ok, [
        "testssl: %d of %d OK; checked %s"
        % (len(VULN_IDS) - len(bad), len(VULN_IDS), " ".join(VULN_IDS)),
        "sslscan heartbleed: %s" % ("not vulnerable" if hb_ok
                                    else "vulnerable=%s" % hb)] + bad


def claim_breach(s):
    sev, text = s.ts("BREACH")
    return sev == "OK", ["testssl BREACH (HTTP-level, not TLS): %s" % text]


def claim_no_warnings(s):
    def line(f):
        return "%s=%s: %s" % (f["id"], f["severity"], f["finding"])
    loud = [line(f) for f in s.all if f["severity"] not in QUIET and
            f["id"] not in ABOUT_THE_SCANNER]
    aside = ["about the scanner, not ferry: " + line(f) for f in s.all
             if f["severity"] not in QUIET and f["id"] in ABOUT_THE_SCANNER]
    ok = bool(s.all) and not loud and not s.problems
    return ok, (loud + s.problems) or [
        "testssl: %d findings about ferry, all OK or INFO"
        % (len(s.all) - len(aside))] + aside


def claim_certificate(s, name):
    pk = s.xml.find("certificates/certificate/pk")
    pk = pk.attrib if pk is not None else {}
    if name == "ecdsa":
        ok = pk.get("type") == "EC" and pk.get("curve_name") == "prime256v1"
    else:
        ok = pk.get("type") == "RSA" and int(pk.get("bits", "0")) >= 2048
    return ok, ["sslscan certificate key: %s" % (
        " ".join("%s=%s" % kv for kv in sorted(pk.items())) or "missing")]


def claim_survived(s):
    ok = s.status.get("alive") == "1" and s.status.get("exit") == "0"
    return ok, ["running after the scans: %s; exit status on SIGTERM: %s"
                % ("yes" if s.status.get("alive") == "1" else "NO",
                   s.status.get("exit"))]


CLAIMS = (("tested the intended key", None),
          ("only TLS 1.2", claim_protocols),
          ("only ECDHE (FS) AEAD suites", claim_suites),
          ("only strong groups", claim_groups),
          ("no renegotiation", claim_renegotiation),
          ("no TLS compression", claim_compression),
          ("no known vulnerability", claim_vulns),
          ("BREACH (HTTP): no gzip", claim_breach),
          ("testssl: nothing above INFO", claim_no_warnings),
          ("ferry survived the scans", claim_survived))


def main():
    scans = {name: Scan(name) for name, _ in TARGETS}
    failed = 0
    print("\n%-30s %-6s %-6s" % ("claim", "ecdsa", "rsa"))
    print("-" * 44)
    for title, check in CLAIMS:
        results = {}
        for name, _ in TARGETS:
            s = scans[name]
            results[name] = (claim_certificate(s, name) if check is None
                             else check(s))
        marks = ["PASS" if results[n][0] else "FAIL" for n, _ in TARGETS]
        failed += marks.count("FAIL")
        print("%-30s %-6s %-6s" % (title, *marks))
        for name, _ in TARGETS:
            for line in results[name][1]:
                print("    %-5s %s" % (name, line))
    print("-" * 44)
    print("targets: " + "; ".join("%s = %s" % t for t in TARGETS))
    print("tls-audit: %s" % ("%d claim(s) FAILED" % failed if failed
                             else "all claims hold"))
    return 1 if failed else 0


sys.exit(main())
EOF

echo "tls-audit: took $(( $(date +%s) - started )) s"
if [ "$status" -ne 0 ]; then
    for name in ecdsa rsa; do
        echo "== $name: ferry stderr (tail)"
        tail -n 5 "$work/$name/ferry.err" || true
        echo "== $name: testssl.sh output (tail)"
        tail -n 15 "$work/$name/testssl.txt" || true
    done
    [ "$status" -eq 1 ] || status=2
fi
exit "$status"
