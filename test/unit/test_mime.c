/*
 * test_mime.c: Content-Type by extension, built-in and from mime.types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime.h"

#define OCTET "application/octet-stream"
#define UTF8  "; charset=utf-8"

static const struct {
    const char *name;
    const char *type;
} builtin_cases[] = {
    { "index.html", "text/html" UTF8 }, { "a.htm", "text/html" UTF8 },
    { "s.css", "text/css" UTF8 }, { "app.js", "text/javascript" UTF8 },
    { "m.mjs", "text/javascript" UTF8 },
    { "d.json", "application/json" UTF8 }, { "r.txt", "text/plain" UTF8 },
    { "README.md", "text/markdown" UTF8 }, { "t.csv", "text/csv" UTF8 },
    { "x.xml", "application/xml" UTF8 }, { "i.svg", "image/svg+xml" UTF8 },
    { "p.png", "image/png" }, { "p.jpg", "image/jpeg" },
    { "p.jpeg", "image/jpeg" }, { "g.gif", "image/gif" },
    { "w.webp", "image/webp" }, { "favicon.ico", "image/vnd.microsoft.icon" },
    { "a.avif", "image/avif" }, { "doc.pdf", "application/pdf" },
    { "a.zip", "application/zip" }, { "archive.tar.gz", "application/gzip" },
    { "a.tgz", "application/gzip" }, { "a.xz", "application/x-xz" },
    { "a.bz2", "application/x-bzip2" }, { "a.zst", "application/zstd" },
    { "a.tar", "application/x-tar" }, { "a.7z", "application/x-7z-compressed" },
    { "s.mp3", "audio/mpeg" }, { "s.ogg", "audio/ogg" },
    { "s.opus", "audio/ogg" }, { "s.flac", "audio/flac" },
    { "s.wav", "audio/wav" }, { "v.mp4", "video/mp4" },
    { "v.webm", "video/webm" }, { "v.mkv", "video/x-matroska" },
    { "v.mov", "video/quicktime" }, { "v.avi", "video/x-msvideo" },
    { "f.woff", "font/woff" }, { "f.woff2", "font/woff2" },
    { "f.ttf", "font/ttf" }, { "f.otf", "font/otf" },
    { "m.wasm", "application/wasm" },
    { "d.iso", "application/x-iso9660-image" },
    { "p.deb", "application/vnd.debian.binary-package" },
    { "p.rpm", "application/x-rpm" }, { "run.sh", "text/x-sh" UTF8 },
    { "x.py", "text/x-python" UTF8 }, { "x.c", "text/x-csrc" UTF8 },
    { "x.h", "text/x-chdr" UTF8 }, { "x.go", "text/x-go" UTF8 },
    { "x.rs", "text/rust" UTF8 }, { "x.log", "text/plain" UTF8 },
    { "x.conf", "text/plain" UTF8 }, { "x.ini", "text/plain" UTF8 },
    { "x.yaml", "application/yaml" }, { "x.yml", "application/yaml" },
    { "x.toml", "application/toml" }, { "b.epub", "application/epub+zip" },
    { "x.doc", "application/msword" },
    { "x.docx", "application/vnd.openxmlformats-officedocument"
                ".wordprocessingml.document" },
    { "x.xls", "application/vnd.ms-excel" },
    { "x.xlsx", "application/vnd.openxmlformats-officedocument"
                ".spreadsheetml.sheet" },
    { "x.ppt", "application/vnd.ms-powerpoint" },
    { "x.pptx", "application/vnd.openxmlformats-officedocument"
                ".presentationml.presentation" },
    { "x.odt", "application/vnd.oasis.opendocument.text" },
    { "x.ods", "application/vnd.oasis.opendocument.spreadsheet" },
    /* Case, paths and names without an extension. */
    { "PHOTO.JPG", "image/jpeg" }, { "Notes.TxT", "text/plain" UTF8 },
    { "dir/sub/page.html", "text/html" UTF8 },
    { "dir.d/README", OCTET }, { ".bashrc", OCTET }, { "a/.bashrc", OCTET },
    { "README", OCTET }, { "file.", OCTET }, { "", OCTET }, { ".", OCTET },
    { "..", OCTET }, { "x.unknownext", OCTET }, { ".config.json",
      "application/json" UTF8 },
    { "x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", OCTET },
    { "x.t\xc3\xa9xt", OCTET },
};

static void
check_table(void)
{
    size_t i;

    for (i = 0; i < sizeof builtin_cases / sizeof builtin_cases[0]; i++) {
        if (strcmp(mime_type_for(builtin_cases[i].name),
                   builtin_cases[i].type) != 0)
            fail_msg("\"%s\": got %s, want %s", builtin_cases[i].name,
                     mime_type_for(builtin_cases[i].name),
                     builtin_cases[i].type);
    }
}

static void
test_builtin(void **state)
{
    (void)state;
    check_table();
}

static void
test_missing_file(void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal(mime_load("/nonexistent/mime.types"), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(mime_load("/tmp"), -1);
    assert_int_equal(errno, EISDIR);
    check_table();
    mime_free();
    mime_free();
}

static void
test_system_file(void **state)
{
    (void)state;
    if (access("/etc/mime.types", R_OK) != 0)
        skip();
    assert_int_equal(mime_load("/etc/mime.types"), 0);
    assert_string_equal(mime_type_for("a.md"), "text/markdown" UTF8);
    assert_string_equal(mime_type_for("a.wav"), "audio/x-wav");
    assert_string_equal(mime_type_for("a.chm"),
                        "application/vnd.ms-htmlhelp");
    assert_string_equal(mime_type_for("a.svg"), "image/svg+xml" UTF8);
    assert_string_equal(mime_type_for("a.XML"), "application/xml" UTF8);
    assert_string_equal(mime_type_for("a.png"), "image/png");
    assert_string_equal(mime_type_for("a.teicorpus"),
                        "application/tei+xml");
    assert_string_equal(mime_type_for(".bashrc"), OCTET);
    assert_int_equal(mime_load("/etc/mime.types"), 0);   /* reload frees */
    mime_free();
    assert_string_equal(mime_type_for("a.wav"), "audio/wav");
}

static void
test_parse(void **state)
{
    char path[] = "/tmp/test_mime.XXXXXX", long_line[3000];
    FILE *f;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd != -1);
    f = fdopen(fd, "w");
    assert_non_null(f);
    memset(long_line, 'a', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = '\0';
    fprintf(f, "# comment foo/bar cmt\n\n   \n"
            "text/x-foo foo FOO2 # trailing comment xfoo\n"
            "bad line here\n"
            "text/ nope1\n/x nope2\na/b/c nope3\nte<t/x nope4\n"
            "application/x-long %s long\n", long_line);
    fputs("application/x-nul nul", f);
    fputc('\0', f);
    fputs("x\n", f);
    fputs("application/x-crlf\tcrlf\r\n"
          "image/x-first dup\nimage/x-second dup\n"
          "application/x-dots tar.gz dotted\n"
          "application/json jsn\n"
          "application/X-Thing Thing\n"
          "image/png png\n"
          "application/x-last last", f);
    assert_int_equal(fclose(f), 0);

    assert_int_equal(mime_load(path), 0);
    assert_string_equal(mime_type_for("a.foo"), "text/x-foo" UTF8);
    assert_string_equal(mime_type_for("a.foo2"), "text/x-foo" UTF8);
    assert_string_equal(mime_type_for("a.xfoo"), OCTET);
    assert_string_equal(mime_type_for("a.here"), OCTET);
    assert_string_equal(mime_type_for("a.nope1"), OCTET);
    assert_string_equal(mime_type_for("a.nope2"), OCTET);
    assert_string_equal(mime_type_for("a.nope3"), OCTET);
    assert_string_equal(mime_type_for("a.nope4"), OCTET);
    assert_string_equal(mime_type_for("a.long"), OCTET);
    assert_string_equal(mime_type_for("a.nul"), OCTET);
    assert_string_equal(mime_type_for("a.crlf"), "application/x-crlf");
    assert_string_equal(mime_type_for("a.dup"), "image/x-first");
    assert_string_equal(mime_type_for("a.dotted"), "application/x-dots");
    assert_string_equal(mime_type_for("a.tar.gz"), "application/gzip");
    assert_string_equal(mime_type_for("a.jsn"), "application/json" UTF8);
    assert_string_equal(mime_type_for("a.THING"), "application/X-Thing");
    assert_string_equal(mime_type_for("a.last"), "application/x-last");
    assert_string_equal(mime_type_for("a.png"), "image/png");
    assert_string_equal(mime_type_for("a.txt"), "text/plain" UTF8);
    mime_free();
    unlink(path);
}

/* Many entries: the table grows and keeps them all. */
static void
test_many(void **state)
{
    char path[] = "/tmp/test_mime.XXXXXX", name[32];
    FILE *f;
    int fd, i;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd != -1);
    f = fdopen(fd, "w");
    assert_non_null(f);
    for (i = 0; i < 20000; i++)
        fprintf(f, "application/x-n%d e%d\n", i, i);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(mime_load(path), 0);
    for (i = 0; i < 20000; i += 997) {
        char want[64];

        snprintf(name, sizeof name, "f.E%d", i);
        snprintf(want, sizeof want, "application/x-n%d", i);
        assert_string_equal(mime_type_for(name), want);
    }
    mime_free();
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_system_file),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_many),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
