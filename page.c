/*
 * page.c: the bytes of the listing page that are not its rows.
 *
 * The style (and, when writable, the drop page's rules, controls and
 * script) are fixed strings sent byte for byte, so the policy can carry
 * their SHA-256: the browser then runs no other script and applies no
 * other style, whatever a file name tries to inject.  The hashes and the
 * writable stylesheet are made once, on the first call.
 */
#include "page.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha256.h>

#define CSP_MAX_BYTES   384     /* the writable policy is about 240 bytes */
#define HASH_B64_BYTES  64      /* base64 of 32 bytes is 44, and a NUL */

/* Every listing page: readable on a phone, light and dark. */
static const char style_base[] =
    ":root{color-scheme:light dark}"
    "body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;"
    "max-width:60em;padding:0 1em;color:#222;background:#fff}"
    "h1{font-size:1.3em;font-weight:600;overflow-wrap:anywhere}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{padding:.45em .6em;text-align:left;vertical-align:top;"
    "border-bottom:1px solid #ddd}"
    "td:first-child{overflow-wrap:anywhere}"
    "td:first-child a{display:block}"
    "th:nth-child(2),td:nth-child(2){text-align:right;white-space:nowrap}"
    "td:nth-child(3){white-space:nowrap}"
    "a{color:#0645ad;text-decoration:none}a:hover{text-decoration:underline}"
    "@media (max-width:40em){body{padding:0 .5em}th,td{padding:.6em .3em}"
    "td:nth-child(3){white-space:normal;font-size:.85em}}"
    "@media (prefers-color-scheme:dark){body{color:#ddd;background:#121212}"
    "th,td{border-color:#333}a{color:#8ab4f8}}";

/*
 * The drop page adds these.  A file row is a grid: name, bar, bytes,
 * speed, result; on a phone the name and the bar get lines of their own.
 * The file input is hidden but focusable, its label is the button.
 */
static const char style_drop[] =
    ".drop{margin:1em 0;padding:.6em 1em;border:2px dashed #aaa;"
    "border-radius:.5em}"
    ".over .drop{border-color:#0645ad;background:#eef3fc}"
    ".drop p{margin:.4em 0}"
    ".btn{display:inline-block;margin:.2em .3em;padding:.35em .9em;"
    "font:inherit;color:inherit;background:#f2f2f2;border:1px solid #999;"
    "border-radius:.3em;cursor:pointer}"
    ".btn:hover{background:#e4e4e4}"
    "#pick{position:absolute;width:1px;height:1px;opacity:0}"
    "#pick:focus-visible+label{outline:2px solid #0645ad}"
    "#msg{font-weight:600;overflow-wrap:anywhere}#msg:empty{display:none}"
    ".note{color:#555}"
    ".job{display:grid;"
    "grid-template-columns:minmax(0,1fr) 7em 15.5em 6.5em 6.5em;"
    "gap:.2em .7em;align-items:center;padding:.35em 0;"
    "border-top:1px solid #ddd;font-size:.9em}"
    ".job .name{overflow-wrap:anywhere}.job progress{width:100%}"
    ".job .bytes,.job .speed{text-align:right;white-space:nowrap;"
    "font-variant-numeric:tabular-nums}"
    ".job .result{grid-column:-2/-1}.error .result{grid-column:1/-1}"
    ".done .result,.replaced .result{color:#1a7f37}"
    ".error .result{color:#c62828;overflow-wrap:anywhere}"
    ".skipped .result{color:#777}"
    "td:nth-child(4){width:1%;padding:.2em}"
    ".del{padding:0 .4em;font:inherit;font-size:1.2em;line-height:1.3;"
    "color:#c62828;background:none;border:1px solid transparent;"
    "border-radius:.3em;cursor:pointer}"
    ".del:hover{border-color:#c62828}.del:disabled{opacity:.4}"
    "@media (max-width:40em){.drop{padding:.5em}"
    ".job{grid-template-columns:1fr auto auto}"
    ".job .name,.job progress{grid-column:1/-1}}"
    "@media (prefers-color-scheme:dark){.drop{border-color:#555}"
    ".over .drop{background:#1b2636}"
    ".btn{background:#2a2a2a;border-color:#555}.btn:hover{background:#353535}"
    ".note{color:#aaa}"
    ".job{border-color:#333}.done .result,.replaced .result{color:#6ccf8a}"
    ".error .result,.del{color:#ff8a80}.del:hover{border-color:#ff8a80}}";

/* The ids are what the script looks for. */
static const char controls[] =
    "<div class=\"drop\">\n"
    "<p>Drop files here or <input type=\"file\" id=\"pick\" multiple>"
    "<label class=\"btn\" for=\"pick\">choose files</label>\n"
    "<button type=\"button\" class=\"btn\" id=\"mkdir\">New folder</button>"
    "</p>\n"
    "<p id=\"msg\" role=\"status\"></p>\n"
    "<div id=\"jobs\"></div>\n"
    "</div>\n";

/*
 * For those who may only deposit: no "new folder" (a drop box makes none
 * for them), and words on why nothing is listed.  data-deposit tells the
 * script to stay away from the listing.
 */
static const char deposit_controls[] =
    "<div class=\"drop\" data-deposit>\n"
    "<p class=\"note\">This drop box is upload-only: files sent here are "
    "delivered but not shown, your own included, and a name already taken "
    "cannot be replaced.</p>\n"
    "<p>Drop files here or <input type=\"file\" id=\"pick\" multiple>"
    "<label class=\"btn\" for=\"pick\">choose files</label></p>\n"
    "<p id=\"msg\" role=\"status\"></p>\n"
    "<div id=\"jobs\"></div>\n"
    "</div>\n";

/*
 * Uploads are PUTs of the File itself, so the browser streams it from
 * disk; at most MAX_SENDING at once, the rest wait in the queue.  A file
 * is only replaced once the user said yes: a name the listing shows is
 * asked about first, any other goes with "If-None-Match: *" and is asked
 * about on 412.  Nothing a server or a file name says is ever parsed as
 * HTML: names go in through textContent, hrefs through
 * encodeURIComponent.  No inline handlers: the policy forbids them.  On
 * a drop box's deposit page (data-deposit) nothing is listed, so there is
 * nothing to ask about, refresh, create or delete.
 */
static const char script[] =
    "'use strict';\n"
    "(function () {\n"
    "  var MAX_SENDING = 3;\n"
    "  var queue = [], sending = 0, refreshing = false, again = false;\n"
    "  var jobs = document.getElementById('jobs');\n"
    "  var msg = document.getElementById('msg');\n"
    "  var pick = document.getElementById('pick');\n"
    "  var empty = document.getElementById('empty');\n"
    "  var tbody = document.querySelector('tbody');\n"
    "  var deposit = document.querySelector('[data-deposit]') !== null;\n"
    "\n"
    "  function el(tag, cls, text) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (cls) e.className = cls;\n"
    "    if (text !== undefined) e.textContent = text;\n"
    "    return e;\n"
    "  }\n"
    "\n"
    "  function say(text) {\n"
    "    msg.textContent = text;\n"
    "  }\n"
    "\n"
    /* As the server writes sizes: 1023 B, 1.0 KiB, 4.2 MiB. */
    "  function human(n) {\n"
    "    var units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'], u = 0;\n"
    "    if (n < 1024) return n + ' B';\n"
    "    n /= 1024;\n"
    "    while (n >= 1023.95 && u < units.length - 1) {\n"
    "      n /= 1024;\n"
    "      u++;\n"
    "    }\n"
    "    return n.toFixed(1) + ' ' + units[u];\n"
    "  }\n"
    "\n"
    "  function speed(bytesPerSecond) {\n"
    "    if (bytesPerSecond >= 1e6)\n"
    "      return (bytesPerSecond / 1e6).toFixed(1) + ' MB/s';\n"
    "    return Math.round(bytesPerSecond / 1e3) + ' kB/s';\n"
    "  }\n"
    "\n"
    /* A relative URL for NAME in this folder; null for a lone surrogate. */
    "  function encode(name) {\n"
    "    try {\n"
    "      return encodeURIComponent(name);\n"
    "    } catch (e) {\n"
    "      return null;\n"
    "    }\n"
    "  }\n"
    "\n"
    "  function failure(status, text) {\n"
    "    text = (text || '').trim().slice(0, 200);\n"
    "    return 'error ' + status + (text ? ': ' + text : '');\n"
    "  }\n"
    "\n"
    /* One row per file; names only ever go in through textContent. */
    "  function add(file) {\n"
    "    var job = {\n"
    "      file: file, row: el('div', 'job'), bar: el('progress'),\n"
    "      bytes: el('span', 'bytes'), speed: el('span', 'speed'),\n"
    "      result: el('span', 'result', 'queued')\n"
    "    };\n"
    "    job.bar.max = file.size || 1;\n"
    "    job.bar.value = 0;\n"
    "    job.bytes.textContent = '0 B / ' + human(file.size);\n"
    "    job.row.append(el('span', 'name', file.name), job.bar, job.bytes,\n"
    "                   job.speed, job.result);\n"
    "    jobs.appendChild(job.row);\n"
    "    queue.push(job);\n"
    "    pump();\n"
    "  }\n"
    "\n"
    "  function refuse(name, why) {\n"
    "    var row = el('div', 'job error');\n"
    "    row.append(el('span', 'name', name), el('span', 'result', why));\n"
    "    jobs.appendChild(row);\n"
    "  }\n"
    "\n"
    "  function pump() {\n"
    "    while (sending < MAX_SENDING && queue.length > 0) {\n"
    "      sending++;\n"
    "      check(queue.shift());\n"
    "    }\n"
    "  }\n"
    "\n"
    /*
     * A name the listing shows is asked about before its bytes go up, not
     * after; If-None-Match still catches what the listing does not show.
     */
    "  function check(job) {\n"
    "    job.url = encode(job.file.name);\n"
    "    if (job.url === null)\n"
    "      return finish(job, 'error', 'error: not a valid Unicode name');\n"
    "    if (!deposit && listed(job.file.name))\n"
    "      ask(job);\n"
    "    else\n"
    "      send(job, true);\n"
    "  }\n"
    "\n"
    "  function listed(name) {\n"
    "    var links = tbody.querySelectorAll('a'), i;\n"
    "    for (i = 0; i < links.length; i++)\n"
    "      if (links[i].textContent === name) return true;\n"
    "    return false;\n"
    "  }\n"
    "\n"
    "  function ask(job) {\n"
    "    if (confirm(job.file.name + ' exists. Replace it?'))\n"
    "      send(job, false);\n"
    "    else\n"
    "      finish(job, 'skipped', 'skipped');\n"
    "  }\n"
    "\n"
    /* PUT streams the File from disk; CREATE_ONLY asks for 412 over replace. */
    "  function send(job, createOnly) {\n"
    "    var xhr = new XMLHttpRequest();\n"
    "    job.start = job.mark = performance.now();\n"
    "    job.marked = 0;\n"
    "    job.rate = 0;\n"
    "    job.result.textContent = 'sending';\n"
    "    xhr.open('PUT', job.url);\n"
    "    if (createOnly) xhr.setRequestHeader('If-None-Match', '*');\n"
    "    xhr.upload.onprogress = function (e) { progress(job, e.loaded); };\n"
    "    xhr.onload = function () { answered(job, xhr, createOnly); };\n"
    "    xhr.onerror = function () {\n"
    "      finish(job, 'error', 'error: connection failed');\n"
    "    };\n"
    "    xhr.send(job.file);\n"
    "  }\n"
    "\n"
    /* Speed is smoothed over half-second steps so it does not flicker. */
    "  function progress(job, loaded) {\n"
    "    var size = job.file.size, now = performance.now();\n"
    "    var dt = (now - job.mark) / 1000, rate;\n"
    "    var percent = size ? Math.floor(loaded * 100 / size) : 100;\n"
    "    job.bar.value = Math.min(loaded, job.bar.max);\n"
    "    job.bytes.textContent = human(loaded) + ' / ' + human(size) +\n"
    "      ' \\u00b7 ' + percent + '%';\n"
    "    if (dt >= 0.5) {\n"
    "      rate = (loaded - job.marked) / dt;\n"
    "      job.rate = job.rate ? 0.7 * job.rate + 0.3 * rate : rate;\n"
    "      job.mark = now;\n"
    "      job.marked = loaded;\n"
    "      job.speed.textContent = speed(job.rate);\n"
    "    }\n"
    "    if (size && loaded >= size) job.result.textContent = 'saving';\n"
    "  }\n"
    "\n"
    "  function answered(job, xhr, createOnly) {\n"
    "    var s = xhr.status;\n"
    "    if (s === 201)\n"
    "      return finish(job, 'done', deposit ? 'delivered' : 'done');\n"
    "    if (s === 204) return finish(job, 'replaced', 'replaced');\n"
    "    if (s === 412 && createOnly) return ask(job);\n"
    "    finish(job, 'error', failure(s, xhr.responseText));\n"
    "  }\n"
    "\n"
    "  function finish(job, cls, text) {\n"
    "    var secs = (performance.now() - job.start) / 1000;\n"
    "    if (cls === 'done' || cls === 'replaced') {\n"
    "      progress(job, job.file.size);\n"
    "      if (secs > 0) job.speed.textContent = speed(job.file.size / secs);\n"
    "      if (!deposit) refresh();\n"
    "    }\n"
    "    job.row.classList.add(cls);\n"
    "    job.result.textContent = text;\n"
    "    sending--;\n"
    "    pump();\n"
    "  }\n"
    "\n"
    /* The listing again, as JSON, with the rows rebuilt around the uploads. */
    "  function refresh() {\n"
    "    if (refreshing) {\n"
    "      again = true;\n"
    "      return;\n"
    "    }\n"
    "    refreshing = true;\n"
    "    fetch(location.pathname, {\n"
    "      headers: { Accept: 'application/json' }, cache: 'no-store'\n"
    "    }).then(function (r) {\n"
    "      if (!r.ok) throw new Error(failure(r.status, ''));\n"
    "      return r.json();\n"
    "    }).then(render).catch(function (e) {\n"
    "      say('The listing could not be refreshed: ' + e.message);\n"
    "    }).finally(function () {\n"
    "      refreshing = false;\n"
    "      if (again) {\n"
    "        again = false;\n"
    "        refresh();\n"
    "      }\n"
    "    });\n"
    "  }\n"
    "\n"
    /*
     * The server's hrefs carry a name's exact bytes, even bytes that are not
     * UTF-8 and show as U+FFFD in JSON; rows already shown keep their href.
     */
    "  function render(data) {\n"
    "    var known = new Map(), parent = null, i, a;\n"
    "    for (i = 0; i < tbody.rows.length; i++) {\n"
    "      a = tbody.rows[i].querySelector('a');\n"
    "      if (!a) continue;\n"
    "      if (a.getAttribute('href') === '../') parent = tbody.rows[i];\n"
    "      else if (known.has(a.textContent)) known.set(a.textContent, null);\n"
    "      else known.set(a.textContent, a.getAttribute('href'));\n"
    "    }\n"
    "    tbody.textContent = '';\n"
    "    if (parent) tbody.appendChild(parent);\n"
    "    data.entries.forEach(function (e) {\n"
    "      tbody.appendChild(row(e, known));\n"
    "    });\n"
    "    empty.hidden = data.entries.length > 0;\n"
    "  }\n"
    "\n"
    "  function row(e, known) {\n"
    "    var dir = e.type === 'dir', label = e.name + (dir ? '/' : '');\n"
    "    var tr = el('tr'), a = el('a', '', label), size = el('td');\n"
    "    var del = el('button', 'del', '\\u00d7'), cell = el('td');\n"
    "    a.setAttribute('href', known.get(label) ||\n"
    "                   encode(e.name) + (dir ? '/' : ''));\n"
    "    cell.appendChild(a);\n"
    "    tr.appendChild(cell);\n"
    "    size.textContent = dir ? '-' : human(e.size);\n"
    "    if (!dir) size.title = e.size + (e.size === 1 ? ' byte' : ' bytes');\n"
    "    tr.appendChild(size);\n"
    "    tr.appendChild(el('td', '', e.mtime ?\n"
    "                      e.mtime.slice(0, 16).replace('T', ' ') : '-'));\n"
    "    del.type = 'button';\n"
    "    del.title = 'Delete';\n"
    "    cell = el('td');\n"
    "    cell.appendChild(del);\n"
    "    tr.appendChild(cell);\n"
    "    return tr;\n"
    "  }\n"
    "\n"
    "  function remove(button) {\n"
    "    var tr = button.closest('tr'), a = tr.querySelector('a');\n"
    "    var name = a.textContent, href = a.getAttribute('href');\n"
    "    if (!confirm('Delete ' + name + '?')) return;\n"
    "    button.disabled = true;\n"
    "    fetch(href, { method: 'DELETE' }).then(function (r) {\n"
    "      if (r.ok) {\n"
    "        tr.remove();\n"
    "        say('Deleted ' + name);\n"
    "        refresh();\n"
    "        return;\n"
    "      }\n"
    "      button.disabled = false;\n"
    "      return r.text().then(function (t) {\n"
    "        say(name + ': ' + (r.status === 409 ? 'folder not empty' :\n"
    "                           failure(r.status, t)));\n"
    "      });\n"
    "    }, function () {\n"
    "      button.disabled = false;\n"
    "      say(name + ': error: connection failed');\n"
    "    });\n"
    "  }\n"
    "\n"
    "  function mkdir() {\n"
    "    var name = prompt('Name of the new folder:');\n"
    "    if (name === null || name === '') return;\n"
    "    if (name.indexOf('/') >= 0 || name === '.' || name === '..' ||\n"
    "        encode(name) === null) {\n"
    "      say(name + ': not a folder name');\n"
    "      return;\n"
    "    }\n"
    "    fetch(encode(name), { method: 'MKCOL' }).then(function (r) {\n"
    "      if (r.status === 201) {\n"
    "        say('Created ' + name + '/');\n"
    "        refresh();\n"
    "        return;\n"
    "      }\n"
    "      return r.text().then(function (t) {\n"
    "        say(name + ': ' + failure(r.status, t));\n"
    "      });\n"
    "    }, function () {\n"
    "      say(name + ': error: connection failed');\n"
    "    });\n"
    "  }\n"
    "\n"
    "  function hasFiles(e) {\n"
    "    var types = e.dataTransfer ? e.dataTransfer.types : null;\n"
    "    return types && Array.prototype.indexOf.call(types, 'Files') >= 0;\n"
    "  }\n"
    "\n"
    /* Folders arrive as empty Files that cannot be read: say so instead. */
    "  function dropped(dt) {\n"
    "    var items = dt.items, i, entry, file;\n"
    "    if (!items) {\n"
    "      Array.prototype.forEach.call(dt.files, add);\n"
    "      return;\n"
    "    }\n"
    "    for (i = 0; i < items.length; i++) {\n"
    "      if (items[i].kind !== 'file') continue;\n"
    "      entry = items[i].webkitGetAsEntry ?\n"
    "        items[i].webkitGetAsEntry() : null;\n"
    "      file = items[i].getAsFile();\n"
    "      if (entry && entry.isDirectory)\n"
    "        refuse(entry.name, 'folders are not uploaded');\n"
    "      else if (file)\n"
    "        add(file);\n"
    "    }\n"
    "  }\n"
    "\n"
    "  function over(e) {\n"
    "    if (!hasFiles(e)) return;\n"
    "    e.preventDefault();\n"
    "    e.dataTransfer.dropEffect = 'copy';\n"
    "    document.body.classList.add('over');\n"
    "  }\n"
    "\n"
    "  document.addEventListener('dragenter', over);\n"
    "  document.addEventListener('dragover', over);\n"
    "  document.addEventListener('dragleave', function (e) {\n"
    "    if (!e.relatedTarget) document.body.classList.remove('over');\n"
    "  });\n"
    "  document.addEventListener('drop', function (e) {\n"
    "    document.body.classList.remove('over');\n"
    "    if (!hasFiles(e)) return;\n"
    "    e.preventDefault();\n"
    "    dropped(e.dataTransfer);\n"
    "  });\n"
    "  pick.addEventListener('change', function () {\n"
    "    Array.prototype.forEach.call(pick.files, add);\n"
    "    pick.value = '';\n"
    "  });\n"
    "  if (deposit) return;\n"
    "  document.getElementById('mkdir').addEventListener('click', mkdir);\n"
    "  tbody.addEventListener('click', function (e) {\n"
    "    var button = e.target.closest('button.del');\n"
    "    if (button) remove(button);\n"
    "  });\n"
    "})();\n";

static pthread_once_t once = PTHREAD_ONCE_INIT;
/* Set once by make_assets; without hashes a page shows unstyled. */
static char style_write[sizeof style_base + sizeof style_drop - 1];
static char csp_read[CSP_MAX_BYTES] = "default-src 'none'";
static char csp_write[CSP_MAX_BYTES] = "default-src 'none'";

static void make_assets(void);
static int hash_b64(const char *s, char out[HASH_B64_BYTES]);

const char *
page_style(bool writable)
{
    pthread_once(&once, make_assets);
    return writable ? style_write : style_base;
}

const char *
page_controls(void)
{
    return controls;
}

const char *
page_deposit_controls(void)
{
    return deposit_controls;
}

const char *
page_script(void)
{
    return script;
}

const char *
page_csp(bool writable)
{
    pthread_once(&once, make_assets);
    return writable ? csp_write : csp_read;
}

/*
 * Only what the page uses: its style and script by hash, and requests
 * (PUT, DELETE, MKCOL, the JSON listing) to its own origin.
 */
static void
make_assets(void)
{
    char base[HASH_B64_BYTES], full[HASH_B64_BYTES], js[HASH_B64_BYTES];

    memcpy(style_write, style_base, sizeof style_base - 1);
    memcpy(style_write + sizeof style_base - 1, style_drop,
           sizeof style_drop);
    if (hash_b64(style_base, base) == -1 ||
        hash_b64(style_write, full) == -1 || hash_b64(script, js) == -1)
        return;
    snprintf(csp_read, sizeof csp_read, "default-src 'none'; "
             "style-src 'sha256-%s'; img-src data:; base-uri 'none'; "
             "form-action 'none'; frame-ancestors 'none'", base);
    snprintf(csp_write, sizeof csp_write, "default-src 'none'; "
             "style-src 'sha256-%s'; script-src 'sha256-%s'; "
             "connect-src 'self'; img-src data:; base-uri 'none'; "
             "form-action 'none'; frame-ancestors 'none'", full, js);
}

/* The SHA-256 of the string S in base64, as CSP hash sources take it. */
static int
hash_b64(const char *s, char out[HASH_B64_BYTES])
{
    unsigned char hash[32];
    size_t len;

    if (mbedtls_sha256_ret((const unsigned char *)s, strlen(s), hash, 0) != 0 ||
        mbedtls_base64_encode((unsigned char *)out, HASH_B64_BYTES, &len,
                              hash, sizeof hash) != 0)
        return -1;
    return 0;
}
