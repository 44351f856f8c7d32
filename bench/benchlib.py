"""What the benchmarks under bench/ share: where they ran, the three
servers they start side by side (ferry, nginx, lighttpd) and what /proc
tells about them."""

import hashlib
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "e2e"))

from ferrylib import get, tls  # noqa: E402

SERVERS = ("ferry", "nginx", "lighttpd")
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 15.0
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
NOBODY_UID = NOBODY_GID = 65534

# What all three offer: ferry's suites and groups (tls_config.c).
OPENSSL_CIPHERS = ":".join((
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"))
# mod_mbedtls reads a few OpenSSL keywords: CHACHA20 is its ECDHE and
# DHE ChaCha20 suites, ECDHE+AESGCM the four ECDHE AES-GCM ones.
MBEDTLS_CIPHERS = "CHACHA20:ECDHE+AESGCM"


def machine():
    """CPU count and model, and the time: the head of every report."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d CPUs (%s), %s" % (os.cpu_count(), model,
                                 time.strftime("%Y-%m-%d %H:%M %Z"))


def ferry_version(binary):
    """--version, and the start of the binary's SHA-256."""
    r = subprocess.run([binary, "--version"], capture_output=True,
                       check=False)
    with open(binary, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return "%s, sha256 %s" % ((r.stdout or r.stderr).decode().strip(),
                              digest[:12])


def package_version(name):
    """The installed version of a Debian package, or "?"."""
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name],
                       capture_output=True, check=False)
    return r.stdout.decode() or "?"


# ---- the processes of a server, from /proc ------------------------------

def proc_stat(pid):
    """The fields of /proc/PID/stat after the command, from field 3
    (state) on; None once the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def children_of(pid):
    """The processes whose parent is PID, as (pid, start time) pairs,
    so that a pid the kernel reuses later is not mistaken for them."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is not None and int(st[1]) == pid:
            out.append((int(name), st[19]))
    return out


def alive(pid, started):
    st = proc_stat(pid)
    return st is not None and st[19] == started and st[0] != "Z"


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def cpu_ticks(pid):
    return sum(cpu_split(pid))


def cpu_split(pid):
    """Clock ticks the process spent in user space and in the kernel."""
    st = proc_stat(pid)
    return (int(st[11]), int(st[12])) if st else (0, 0)  # fields 14, 15


class StartError(Exception):
    """A server would not start, or not serve the folder."""


class Server:
    """One server we started on 127.0.0.1:PORT: the process we started
    and those it forked (nginx's workers).  It is up once a GET of
    CHECK_PATH over TLS answers WANT.  stop() signals the one we
    started, by pid, and waits until every one of them is gone."""

    def __init__(self, name, cmd, port, log_path, check_path, want,
                 env=None, wait=True):
        self.name = name
        self.port = port
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=env)
        self.pid = self.proc.pid
        self.forked = []
        if wait:        # else the caller calls wait_serving when it likes
            self.wait_serving(check_path, want)

    def wait_serving(self, check_path, want):
        """Until a GET of CHECK_PATH answers WANT; then note the
        processes it forked, which are all there by then."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with tls(self.port, timeout=1.0) as sock:
                    if get(sock, check_path, self.port, False) == want:
                        self.forked = children_of(self.pid)
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.forked = children_of(self.pid)
        self.stop()
        raise StartError("%s did not serve on port %d:\n%s" % (
            self.name, self.port, self.log_tail()))

    def log_tail(self, lines=15):
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def pids(self):
        return [self.pid] + [pid for pid, _ in self.forked]

    def rss_kib(self):
        return sum(rss_kib(pid) for pid in self.pids())

    def cpu_ticks(self):
        return sum(self.cpu_split())

    def cpu_split(self):
        """(user, kernel) clock ticks of all its processes."""
        parts = [cpu_split(pid) for pid in self.pids()]
        return (sum(u for u, _ in parts), sum(k for _, k in parts))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.wait_forked_gone()

    def wait_forked_gone(self):
        """nginx's master waits for its workers; in case one outlives
        it, wait, then end that one (ours, by pid and start time)."""
        deadline = time.monotonic() + STOP_TIMEOUT_S
        left = self.forked
        while left and time.monotonic() < deadline:
            left = [(pid, t) for pid, t in left if alive(pid, t)]
            time.sleep(0.05)
        for pid, t in left:
            if alive(pid, t):
                os.kill(pid, signal.SIGKILL)


# ---- the three servers ---------------------------------------------------
#
# Each start_* takes a SITE, what every server is given alike:
#   site.share       the folder to serve
#   site.files       {path: bytes}; site.check_path, one of them, is
#                    fetched to tell that the server is up
#   site.cert, .key  the certificate and key (make_certificate)
#   site.ferry       the ferry binary
#   site.dir(name)   a folder of the server's own (config, logs)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def give_to_nobody(path):
    """Started as root, each server serves and writes as nobody."""
    if os.geteuid() == 0:
        os.chown(path, NOBODY_UID, NOBODY_GID)


def start_ferry(site, port, extra_args=(), wait=True):
    """ferry with default settings and -q (no access log), plus
    EXTRA_ARGS (hostile.py adds -w).  WAIT: until it serves."""
    d = site.dir("ferry")
    cmd = [str(site.ferry), "-q", *extra_args, "-b", "127.0.0.1",
           "-p", str(port), "--cert", str(site.cert), "--key",
           str(site.key), str(site.share)]
    env = dict(os.environ, XDG_CONFIG_HOME=str(d))
    return Server("ferry", cmd, port, d / "ferry.log", site.check_path,
                  site.files[site.check_path], env, wait)


NGINX_CONF = """\
# Written by bench/benchlib.py.  Debian's nginx.conf, without its logs
# and includes, and what the benchmark needs: the folder, the port, the
# certificate, TLS 1.2 with ferry's suites and groups{put_note}.
daemon off;
master_process on;
worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/nginx.log;
events {{
    worker_connections 768;
}}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ssl_prefer_server_ciphers on;
    access_log off;
    gzip on;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{extra}    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2;
        ssl_ciphers {ciphers};
        ssl_ecdh_curve X25519:prime256v1;
        root {share};
{put}    }}
}}
"""

NGINX_PUT = """\
        location / {
            dav_methods PUT;
        }
"""


def start_nginx(site, port, workers="auto", put=True, extra="", wait=True):
    """nginx with WORKERS worker processes, PUT if PUT, and the
    http-level directives EXTRA (lines ending in newlines)."""
    d = site.dir("nginx")
    conf = d / "nginx.conf"
    conf.write_text(NGINX_CONF.format(
        d=d, port=port, cert=site.cert, key=site.key, share=site.share,
        ciphers=OPENSSL_CIPHERS, workers=workers,
        put_note=", PUT" if put else "", put=NGINX_PUT if put else "",
        extra="".join("    %s\n" % line for line in extra.splitlines())))
    cmd = ["nginx", "-p", str(d), "-c", str(conf), "-e", str(d / "nginx.log")]
    return Server("nginx", cmd, port, d / "nginx.log", site.check_path,
                  site.files[site.check_path], wait=wait)


LIGHTTPD_CONF = """\
# Written by bench/benchlib.py: lighttpd's compiled-in defaults, and
# what the benchmark needs: the folder, the port, the certificate,
# TLS 1.2 with ferry's suites and groups{put_note}.
server.document-root = "{share}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{d}/lighttpd.log"
server.upload-dirs = ( "{d}/uploads" )
{user}
server.modules = ( {modules} )
{put}mimetype.assign = ( ".txt" => "text/plain",
                    ".bin" => "application/octet-stream" )
ssl.engine = "enable"
ssl.pemfile = "{cert}"
ssl.privkey = "{key}"
ssl.openssl.ssl-conf-cmd = ( "MinProtocol" => "TLSv1.2",
                             "MaxProtocol" => "TLSv1.2",
                             "Groups" => "x25519:secp256r1",
                             "CipherString" => "{ciphers}" )
"""


def start_lighttpd(site, port, put=True, wait=True):
    """lighttpd on mod_mbedtls; PUT (mod_webdav) if PUT."""
    d = site.dir("lighttpd")
    (d / "uploads").mkdir(exist_ok=True)
    (d / "lighttpd.log").touch()
    give_to_nobody(d / "uploads")
    give_to_nobody(d / "lighttpd.log")  # opened after it became nobody
    user = ""
    if os.geteuid() == 0:
        user = 'server.username = "nobody"\nserver.groupname = "nogroup"'
    modules = '"mod_webdav", "mod_mbedtls"' if put else '"mod_mbedtls"'
    conf = d / "lighttpd.conf"
    conf.write_text(LIGHTTPD_CONF.format(
        d=d, port=port, cert=site.cert, key=site.key, share=site.share,
        user=user, ciphers=MBEDTLS_CIPHERS, modules=modules,
        put_note=", PUT (mod_webdav)" if put else "",
        put='webdav.activate = "enable"\n' if put else ""))
    cmd = ["lighttpd", "-D", "-f", str(conf)]
    return Server("lighttpd", cmd, port, d / "lighttpd.log",
                  site.check_path, site.files[site.check_path], wait=wait)


STARTERS = {"ferry": start_ferry, "nginx": start_nginx,
            "lighttpd": start_lighttpd}


def make_certificate(tmp):
    """An ECDSA P-256 certificate for localhost and 127.0.0.1, and its
    key, made by openssl in TMP: (cert path, key path)."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
           "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
           "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    r = subprocess.run(cmd, capture_output=True, check=False)
    if r.returncode != 0:
        sys.exit("bench: openssl req failed: %s" % r.stderr.decode())
    return cert, key
