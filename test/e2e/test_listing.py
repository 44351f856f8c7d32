"""Directory listings: redirects, HTML escaping, JSON, text, dotfiles."""

import html
import html.parser
import json
import os
import urllib.parse

import pytest

from ferrylib import curl, fetch, write_file

ODD_NAMES = [
    "a<b>.txt", "x&y.txt", 'q"uote.txt', "s'quote.txt", "sp ace.txt",
    "ha#sh.txt", "pct%41.txt", "per%cent", "que?ry.txt", "semi;colon.txt",
    "plus+and=.txt", "ünïcødé-日本語.txt", "emoji-\U0001F600.txt",
    "back`tick.txt", "<script>alert(1)<", "&amp;.txt",
]


class Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []         # (href, text)
        self._href = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = ""

    def handle_data(self, data):
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text.strip()))
            self._href = None


def anchors(body):
    p = Anchors()
    p.feed(body.decode("utf-8"))
    return p.links


def listing_json(srv, path="/"):
    r = fetch(srv.port, path, headers={"Accept": "application/json"})
    assert r.status == 200, r
    assert "application/json" in r.header("Content-Type").lower()
    doc = json.loads(r.body.decode("utf-8"))
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        assert lists, "no list of entries in %r" % doc
        doc = lists[0]
    assert isinstance(doc, list)
    return doc


def is_dir_entry(e):
    t = str(e.get("type", "")).lower()
    return t in ("dir", "directory", "folder") or e.get("is_dir") is True


def names_text(srv, path="/"):
    r = fetch(srv.port, path, headers={"Accept": "text/plain"})
    assert r.status == 200, r
    assert r.header("Content-Type").lower().startswith("text/plain")
    return [l.rstrip("/") for l in r.body.decode("utf-8").splitlines() if l]


# --- redirects ---------------------------------------------------------------

@pytest.mark.parametrize("name,encoded", [
    ("sub", "/sub/"), ("sub dir", "/sub%20dir/"),
    ("a/b c", "/a/b%20c/"), ("d#1?x", "/d%231%3Fx/"),
    ("ü", "/%C3%BC/"),
])
def test_dir_without_slash_redirects(srv, name, encoded):
    os.makedirs(srv.path(name))
    write_file(srv.path(name + "/f.txt"), "f")
    target = "/" + urllib.parse.quote(name, safe="/")
    r = fetch(srv.port, target)
    assert r.status == 301, r
    loc = r.header("Location")
    base = "https://localhost:%d%s" % (srv.port, target)
    full = urllib.parse.urljoin(base, loc)
    parsed = urllib.parse.urlsplit(full)
    assert parsed.netloc == "localhost:%d" % srv.port, loc
    assert parsed.scheme == "https", loc
    assert parsed.path.upper() == encoded.upper(), loc
    r2 = fetch(srv.port, parsed.path)
    assert r2.status == 200


def test_curl_follows_redirect(srv):
    os.makedirs(srv.path("dir one"))
    write_file(srv.path("dir one/f.txt"), "x")
    r = curl(["-L", "-o", "-", "-w", "%{http_code} %{url_effective}",
              "--resolve", "localhost:%d:127.0.0.1" % srv.port,
              srv.local_url + "/dir%20one"], cacert=srv.cert)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(b"200 %s/dir%%20one/" % srv.local_url.encode())
    assert b"f.txt" in r.stdout


# --- HTML --------------------------------------------------------------------

@pytest.fixture
def odd(srv):
    contents = {}
    for i, name in enumerate(ODD_NAMES):
        contents[name] = ("content %d of %r\n" % (i, name)).encode()
        write_file(srv.path(name), contents[name])
    os.makedirs(srv.path("odd <dir> & #%?"))
    contents["odd <dir> & #%?/inner.txt"] = b"inner"
    write_file(srv.path("odd <dir> & #%?/inner.txt"), b"inner")
    return contents


def test_html_listing_escapes_and_links(srv, odd):
    r = fetch(srv.port, "/")
    assert r.status == 200
    assert r.header("Content-Type").lower().replace(" ", "") == \
        "text/html;charset=utf-8"
    body = r.body.decode("utf-8")
    assert "<script>alert(1)<" not in body, "name not escaped"
    assert "a<b>.txt" not in body
    links = anchors(r.body)
    by_text = {}
    for href, text in links:
        by_text.setdefault(text.rstrip("/"), href)
    for name in ODD_NAMES:
        assert name in by_text, "no link for %r in %r" % (name, links)
        href = by_text[name]
        # A percent-encoded relative or absolute path, nothing raw.
        assert all(c not in href for c in ' "<>#?\t'), href
        url = urllib.parse.urljoin(srv.url + "/", href)
        got = curl(["-o", "-", url])
        assert got.returncode == 0, got.stderr
        assert got.stdout == odd[name], (name, href)


def test_backslash_name(srv):
    """Not a separator on Linux: a name like any other (beyond the
    contract's list of odd names, so a refusal is reported, not hidden)."""
    write_file(srv.path("back\\slash.txt"), "bs")
    r = fetch(srv.port, "/back%5Cslash.txt")
    assert r.status == 200 and r.body == b"bs", r


def test_html_link_into_odd_dir(srv, odd):
    links = anchors(fetch(srv.port, "/").body)
    href = [h for h, t in links if t.rstrip("/") == "odd <dir> & #%?"][0]
    url = urllib.parse.urljoin(srv.url + "/", href)
    r = curl(["-o", "-", "-w", "\n%{http_code}", url])
    body, _, code = r.stdout.rpartition(b"\n")
    assert code == b"200", (href, r.stdout[-200:])
    inner = [h for h, t in anchors(body) if t == "inner.txt"]
    assert inner, body
    r = curl(["-o", "-", urllib.parse.urljoin(url, inner[0])])
    assert r.stdout == b"inner"


def test_folders_first(srv):
    for d in ("zeta-dir", "alpha-dir", "Mid-dir"):
        os.makedirs(srv.path(d))
    for f in ("aaa.txt", "zzz.txt", "Bbb.txt", "0first.txt"):
        write_file(srv.path(f), f)
    texts = [t.rstrip("/") for _, t in anchors(fetch(srv.port, "/").body)]
    dirs = {"zeta-dir", "alpha-dir", "Mid-dir"}
    files = {"aaa.txt", "zzz.txt", "Bbb.txt", "0first.txt"}
    pos = {t: i for i, t in enumerate(texts) if t in dirs | files}
    assert set(pos) == dirs | files, texts
    assert max(pos[d] for d in dirs) < min(pos[f] for f in files), texts
    json_names = [e["name"].rstrip("/") for e in listing_json(srv)]
    jd = [json_names.index(d) for d in dirs]
    jf = [json_names.index(f) for f in files]
    assert max(jd) < min(jf), json_names


def test_html_shows_size(srv):
    write_file(srv.path("sized.txt"), b"x" * 1234)
    body = fetch(srv.port, "/").body.decode()
    assert "1234" in body or "1.2" in body, body


def test_csp_on_html(srv):
    write_file(srv.path("a.txt"), "a")
    r = fetch(srv.port, "/")
    csp = r.header("Content-Security-Policy")
    assert csp, r.headers
    assert "default-src" in csp or "script-src" in csp, csp
    assert "unsafe-inline" not in csp, csp


def test_empty_dir_listing(srv):
    os.makedirs(srv.path("empty"))
    assert fetch(srv.port, "/empty/").status == 200
    assert listing_json(srv, "/empty/") == []
    assert names_text(srv, "/empty/") == []


# --- JSON and text -----------------------------------------------------------

def test_json_listing(srv, odd):
    os.makedirs(srv.path("sub"))
    entries = listing_json(srv)
    by_name = {e["name"].rstrip("/"): e for e in entries}
    assert set(by_name) == set(ODD_NAMES) | {"odd <dir> & #%?", "sub"}
    for name in ODD_NAMES:
        e = by_name[name]
        assert not is_dir_entry(e), e
        assert e["size"] == len(odd[name]), e
        assert "type" in e, e
    assert is_dir_entry(by_name["sub"])


def test_text_listing(srv, odd):
    names = names_text(srv)
    assert set(names) == set(ODD_NAMES) | {"odd <dir> & #%?"}


def test_accept_q_values(srv):
    write_file(srv.path("a.txt"), "a")
    r = fetch(srv.port, "/", headers={
        "Accept": "text/html;q=0.5, application/json;q=0.9"})
    assert "application/json" in r.header("Content-Type")
    r = fetch(srv.port, "/", headers={
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,"
                  "image/avif,image/webp,*/*;q=0.8"})
    assert r.header("Content-Type").startswith("text/html")
    r = fetch(srv.port, "/", headers={"Accept": "*/*"})
    assert r.header("Content-Type").startswith("text/html")


def test_big_dir(srv):
    os.makedirs(srv.path("big"))
    for i in range(2000):
        write_file(srv.path("big/file-%04d.txt" % i), str(i))
    entries = listing_json(srv, "/big/")
    assert len(entries) == 2000
    assert sorted(e["name"] for e in entries) == \
        ["file-%04d.txt" % i for i in range(2000)]
    assert len(names_text(srv, "/big/")) == 2000
    assert fetch(srv.port, "/big/").status == 200


# --- dotfiles ----------------------------------------------------------------

@pytest.fixture
def dotted(srv):
    write_file(srv.path(".secret"), "dot-secret")
    os.makedirs(srv.path(".git"))
    write_file(srv.path(".git/config"), "gitconfig")
    write_file(srv.path("visible.txt"), "visible")
    os.makedirs(srv.path("sub"))
    write_file(srv.path("sub/.env"), "env")
    return srv


@pytest.mark.parametrize("path", [
    "/.secret", "/.git/config", "/.git/", "/.git", "/sub/.env",
    "/%2esecret", "/%2Egit/config", "/sub/%2eenv",
])
def test_dotfiles_not_served(dotted, path):
    r = fetch(dotted.port, path)
    assert r.status in (404, 403, 400), (path, r)
    assert b"secret" not in r.body and b"gitconfig" not in r.body


def test_dotfiles_not_listed(dotted):
    body = fetch(dotted.port, "/").body.decode()
    assert ".secret" not in body and ".git" not in body
    assert "visible.txt" in body
    names = {e["name"].rstrip("/") for e in listing_json(dotted)}
    assert names == {"visible.txt", "sub"}
    assert set(names_text(dotted)) == {"visible.txt", "sub"}
    assert names_text(dotted, "/sub/") == []


def test_hidden_option(ferry):
    f = ferry("--hidden")
    write_file(f.path(".secret"), "dot-secret")
    os.makedirs(f.path(".conf"))
    write_file(f.path(".conf/x"), "x")
    r = fetch(f.port, "/.secret")
    assert r.status == 200 and r.body == b"dot-secret"
    assert fetch(f.port, "/.conf/x").body == b"x"
    names = {e["name"].rstrip("/") for e in listing_json(f)}
    assert names == {".secret", ".conf"}
    assert ".secret" in fetch(f.port, "/").body.decode()
