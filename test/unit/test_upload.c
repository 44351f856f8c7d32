/*
 * test_upload.c: PUT, DELETE and MKCOL on real folders (upload.c).
 *
 * Each test gets a fresh tree made with mkdtemp: BASE/root is the shared
 * folder and BASE/outside a sibling holding one known file.  After every
 * test the outside file must be unchanged, nothing else may have appeared
 * next to it or in BASE, and no temporary file may be left in the root.
 * The disk-full and read-only cases mount a small tmpfs and need root;
 * without it they are skipped with a note, not passed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cond.h"
#include "upload.h"
#include "tidy.h"

#define OUTSIDE_DATA "outside: must never change\n"
#define MIB ((size_t)1 << 20)

struct fixture {
    char base[64];
    char root_dir[96];
    char outside[96];
    struct files_root root;
    bool mounted;           /* a tmpfs is mounted on root_dir */
};

/* One thing put in the tree before a case: a file, folder, link, FIFO. */
struct plant {
    char kind;              /* 'f', 'd', 'l', 'p'; 0 ends the list */
    const char *name;       /* below the root */
    const char *data;       /* file content or link target; "@" = outside */
};

/* Request fields; "@" as If-Match means the target's current ETag. */
struct conds {
    const char *if_match;
    const char *if_none_match;
    const char *if_unmodified_since;
};

struct req_buf {
    struct http_request req;
    char etag[COND_ETAG_MAX];
};

/* Tree helpers */

static void
path_in(const struct fixture *fx, const char *rel, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", fx->root_dir, rel);

    assert_true(n > 0 && (size_t)n < cap);
}

static void
write_at(const char *abs, const char *data, size_t len)
{
    int fd = open(abs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    assert_true(fd != -1);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void
plant_one(const struct fixture *fx, const struct plant *p)
{
    char abs[512], target[512];

    path_in(fx, p->name, abs, sizeof abs);
    switch (p->kind) {
    case 'f':
        write_at(abs, p->data, strlen(p->data));
        break;
    case 'd':
        assert_int_equal(mkdir(abs, 0755), 0);
        break;
    case 'p':
        assert_int_equal(mkfifo(abs, 0644), 0);
        break;
    case 'l':
        if (p->data[0] == '@')
            snprintf(target, sizeof target, "%s%s", fx->outside,
                     p->data + 1);
        else
            snprintf(target, sizeof target, "%s", p->data);
        assert_int_equal(symlink(target, abs), 0);
        break;
    default:
        fail_msg("bad plant kind %c", p->kind);
    }
}

static void
plant_all(const struct fixture *fx, const struct plant *p)
{
    for (; p->kind != 0; p++)
        plant_one(fx, p);
}

/* The content of regular file REL (never through a final symlink). */
static char *
slurp(const struct fixture *fx, const char *rel, size_t *len)
{
    char abs[512], *buf;
    struct stat st;
    int fd;

    path_in(fx, rel, abs, sizeof abs);
    fd = open(abs, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1)
        return NULL;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
    buf[st.st_size] = '\0';
    *len = (size_t)st.st_size;
    close(fd);
    return buf;
}

/* REL holds exactly WANT, or (WANT NULL) nothing is at REL. */
static void
assert_content(const struct fixture *fx, const char *rel, const char *want,
               const char *label)
{
    char abs[512], *got;
    struct stat st;
    size_t len;

    if (want == NULL) {
        path_in(fx, rel, abs, sizeof abs);
        if (lstat(abs, &st) == 0)
            fail_msg("%s: %s exists", label, rel);
        return;
    }
    if ((got = slurp(fx, rel, &len)) == NULL)
        fail_msg("%s: %s: %s", label, rel, strerror(errno));
    if (len != strlen(want) || memcmp(got, want, len) != 0)
        fail_msg("%s: %s holds \"%s\", want \"%s\"", label, rel, got, want);
    free(got);
}

/* Temporary files below folder fd DFD, counted without following links. */
static size_t
count_temps_at(int dfd)
{
    struct dirent *e;
    size_t n = 0;
    DIR *d;
    int fd;

    assert_non_null(d = fdopendir(dfd));
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strncmp(e->d_name, UPLOAD_TMP_PREFIX,
                    strlen(UPLOAD_TMP_PREFIX)) == 0)
            n++;
        if (e->d_type != DT_DIR)
            continue;
        fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY |
                    O_NOFOLLOW | O_CLOEXEC);
        if (fd != -1)
            n += count_temps_at(fd);
    }
    closedir(d);
    return n;
}

static size_t
count_temps(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    assert_true(fd != -1);
    return count_temps_at(fd);
}

/* The names in folder DIR, sorted and joined with spaces, into OUT. */
static void
list_names(const char *dir, char *out, size_t cap)
{
    struct dirent **names;
    size_t len = 0;
    int i, n;

    n = scandir(dir, &names, NULL, alphasort);
    assert_true(n >= 0);
    out[0] = '\0';
    for (i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 &&
            strcmp(names[i]->d_name, "..") != 0)
            len += (size_t)snprintf(out + len, cap - len, "%s%s",
                                    len > 0 ? " " : "", names[i]->d_name);
        assert_true(len < cap);
        free(names[i]);
    }
    free(names);
}

static int
remove_tree_at(int dfd, const char *name)
{
    struct dirent *e;
    DIR *d;
    int fd;

    if (unlinkat(dfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
        return 0;
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1 || (d = fdopendir(fd)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remove_tree_at(dirfd(d), e->d_name);
    }
    closedir(d);
    return unlinkat(dfd, name, AT_REMOVEDIR);
}

/* Fixture */

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char keep[160];

    assert_non_null(fx);
    snprintf(fx->base, sizeof fx->base, "/tmp/ferry-upload-test-XXXXXX");
    assert_non_null(mkdtemp(fx->base));
    snprintf(fx->root_dir, sizeof fx->root_dir, "%s/root", fx->base);
    snprintf(fx->outside, sizeof fx->outside, "%s/outside", fx->base);
    assert_int_equal(mkdir(fx->root_dir, 0755), 0);
    assert_int_equal(mkdir(fx->outside, 0755), 0);
    snprintf(keep, sizeof keep, "%s/keep.txt", fx->outside);
    write_at(keep, OUTSIDE_DATA, strlen(OUTSIDE_DATA));
    assert_int_equal(files_root_open(&fx->root, fx->root_dir, false), 0);
    *state = fx;
    return 0;
}

/* Whether the outside file still holds exactly OUTSIDE_DATA. */
static bool
outside_intact(const struct fixture *fx)
{
    char keep[160], data[64];
    ssize_t n;
    int fd;

    snprintf(keep, sizeof keep, "%s/keep.txt", fx->outside);
    if ((fd = open(keep, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
        return false;
    n = read(fd, data, sizeof data);
    close(fd);
    return n == (ssize_t)strlen(OUTSIDE_DATA) &&
           memcmp(data, OUTSIDE_DATA, (size_t)n) == 0;
}

/*
 * Nothing escaped: BASE and the outside folder are as setup left them,
 * and no temporary file is left.  The tree is removed before the verdict.
 */
static int
teardown(void **state)
{
    struct fixture *fx = *state;
    char base_names[1024], outside_names[1024];
    bool intact;
    size_t temps;

    files_root_close(&fx->root);
    /* A failed test may leave the tmpfs mounted, even busy. */
    if (fx->mounted)
        assert_int_equal(umount2(fx->root_dir, MNT_DETACH), 0);
    list_names(fx->base, base_names, sizeof base_names);
    list_names(fx->outside, outside_names, sizeof outside_names);
    intact = outside_intact(fx);
    temps = count_temps(fx->root_dir);

    assert_int_equal(remove_tree_at(AT_FDCWD, fx->base), 0);
    free(fx);
    assert_string_equal(base_names, "outside root");
    assert_string_equal(outside_names, "keep.txt");
    assert_true(intact);
    assert_int_equal(temps, 0);
    return 0;
}

/* Requests */

static void
set_field(struct http_slice *s, const char *v)
{
    s->ptr = v;
    s->len = v != NULL ? strlen(v) : 0;
}

/* A request with method M and the fields of C; "@" is REL's ETag now. */
static void
make_req(const struct fixture *fx, struct req_buf *rb, enum http_method m,
         const struct conds *c, const char *rel)
{
    char abs[512];
    struct stat st;

    memset(rb, 0, sizeof *rb);
    rb->req.method = m;
    if (c == NULL)
        return;
    if (c->if_match != NULL && strcmp(c->if_match, "@") == 0) {
        path_in(fx, rel, abs, sizeof abs);
        assert_int_equal(stat(abs, &st), 0);
        cond_etag(&st, rb->etag);
        set_field(&rb->req.if_match, rb->etag);
    } else {
        set_field(&rb->req.if_match, c->if_match);
    }
    set_field(&rb->req.if_none_match, c->if_none_match);
    set_field(&rb->req.if_unmodified_since, c->if_unmodified_since);
}

/*
 * PUT BODY at PATH in pieces of at most STEP bytes, declaring its length
 * unless CHUNKED.  Returns what upload_commit returned, or the first
 * -STATUS of another step.
 */
static int
put(const struct fixture *fx, const char *path, const struct http_request *req,
    const char *body, size_t len, bool chunked, uint64_t max, size_t step)
{
    struct upload up;
    size_t off, n;
    int rv;

    rv = upload_prepare(&fx->root, path, req,
                        chunked ? UPLOAD_SIZE_UNKNOWN : len, max, &up);
    if (rv < 0) {
        assert_int_equal(up.fd, -1);
        assert_int_equal(up.dirfd, -1);
        return rv;
    }
    for (off = 0; off < len; off += n) {
        n = len - off < step ? len - off : step;
        if ((rv = upload_write(&up, body + off, n)) < 0) {
            upload_abort(&up);
            upload_abort(&up);          /* idempotent */
            return rv;
        }
    }
    rv = upload_commit(&up, req);
    assert_int_equal(up.fd, -1);
    assert_int_equal(up.dirfd, -1);
    return rv;
}

/* PUT cases */

#define PAST "Sat, 01 Jan 2000 00:00:00 GMT"
#define FUTURE "Thu, 01 Jan 2099 00:00:00 GMT"

struct put_case {
    const char *label;
    struct plant plants[4];
    const char *path;
    struct conds conds;
    const char *body;
    bool chunked;
    uint64_t max;               /* 0: no limit */
    int want;
    const char *check;          /* this name below the root holds ... */
    const char *check_data;     /* ... this, or nothing at all (NULL) */
};

static const struct put_case put_cases[] = {
    { "new file", {{0}}, "x.txt", {0}, "hello\n", false, 0, 201,
      "x.txt", "hello\n" },
    { "new empty file", {{0}}, "e", {0}, "", false, 0, 201, "e", "" },
    { "new file, chunked", {{0}}, "c.txt", {0}, "chunky", true, 0, 201,
      "c.txt", "chunky" },
    { "replace", {{'f', "x.txt", "old"}}, "x.txt", {0}, "new", false, 0,
      204, "x.txt", "new" },
    { "odd name kept byte for byte", {{0}}, "a b#%\"\xc3\xa9.txt", {0},
      "odd", false, 0, 201, "a b#%\"\xc3\xa9.txt", "odd" },
    { "missing parents made", {{0}}, "a/b/c/x.txt", {0}, "deep", false, 0,
      201, "a/b/c/x.txt", "deep" },
    { "some parents missing", {{'d', "a", NULL}}, "a/b/x.txt", {0}, "d2",
      false, 0, 201, "a/b/x.txt", "d2" },
    { "doubled slash in a missing parent", {{0}}, "n//m//x", {0}, "s",
      false, 0, 201, "n/m/x", "s" },
    { "parent is a file", {{'f', "a", "file"}}, "a/x.txt", {0}, "no",
      false, 0, -409, "a", "file" },
    { "parent links to a file", {{'f', "a", "file"}, {'l', "l", "a"}},
      "l/x", {0}, "no", false, 0, -409, "a", "file" },
    { "grandparent is a file", {{'f', "a", "file"}}, "a/b/x.txt", {0},
      "no", false, 0, -409, "a", "file" },
    { "target is a folder", {{'d', "dir", NULL}}, "dir", {0}, "no", false,
      0, -409, "dir/x", NULL },
    { "target links to a folder", {{'d', "dir", NULL}, {'l', "ld", "dir"}},
      "ld", {0}, "no", false, 0, -409, "dir/x", NULL },
    { "target is a FIFO", {{'p', "fifo", NULL}}, "fifo", {0}, "no", false,
      0, -409, "x", NULL },
    { "root", {{0}}, ".", {0}, "no", false, 0, -409, "x", NULL },
    { "name ..", {{0}}, "a/..", {0}, "no", false, 0, -403, "a", NULL },
    { "name .", {{0}}, "a/.", {0}, "no", false, 0, -403, "a", NULL },
    { "temporary name", {{0}}, UPLOAD_TMP_PREFIX "0123456789abcdef", {0},
      "no", false, 0, -403, UPLOAD_TMP_PREFIX "0123456789abcdef", NULL },
    { "If-None-Match * on a file", {{'f', "x", "old"}}, "x",
      {NULL, "*", NULL}, "new", false, 0, -412, "x", "old" },
    { "If-None-Match * on nothing", {{0}}, "x", {NULL, "*", NULL}, "new",
      false, 0, 201, "x", "new" },
    { "If-None-Match * on a dangling link: never replaced",
      {{'l', "x", "nowhere"}}, "x", {NULL, "*", NULL}, "new", false, 0,
      -412, "nowhere", NULL },
    { "dangling link replaced", {{'l', "x", "nowhere"}}, "x", {0}, "new",
      false, 0, 204, "x", "new" },
    { "If-None-Match * on a link to a file",
      {{'f', "x", "old"}, {'l', "lx", "x"}}, "lx", {NULL, "*", NULL},
      "new", false, 0, -412, "x", "old" },
    { "If-Match right", {{'f', "x", "old"}}, "x", {"@", NULL, NULL},
      "new", false, 0, 204, "x", "new" },
    { "If-Match wrong", {{'f', "x", "old"}}, "x",
      {"\"1-2-3.4\"", NULL, NULL}, "new", false, 0, -412, "x", "old" },
    { "If-Match * on a file", {{'f', "x", "old"}}, "x", {"*", NULL, NULL},
      "new", false, 0, 204, "x", "new" },
    { "If-Match * on nothing: no folder made", {{0}}, "new/x",
      {"*", NULL, NULL}, "new", false, 0, -412, "new", NULL },
    { "If-Match right through a link",
      {{'f', "x", "old"}, {'l', "lx", "x"}}, "lx", {"@", NULL, NULL},
      "new", false, 0, 204, "lx", "new" },
    { "If-Unmodified-Since past", {{'f', "x", "old"}}, "x",
      {NULL, NULL, PAST}, "new", false, 0, -412, "x", "old" },
    { "If-Unmodified-Since future", {{'f', "x", "old"}}, "x",
      {NULL, NULL, FUTURE}, "new", false, 0, 204, "x", "new" },
    { "If-Unmodified-Since on nothing", {{0}}, "x", {NULL, NULL, PAST},
      "new", false, 0, 201, "x", "new" },
    { "declared over max", {{0}}, "x", {0}, "0123456789", false, 5, -413,
      "x", NULL },
    { "declared over max, no folder made", {{0}}, "d/x", {0}, "0123456789",
      false, 5, -413, "d", NULL },
    { "declared at max", {{0}}, "x", {0}, "01234", false, 5, 201, "x",
      "01234" },
    { "chunked passes max", {{'f', "x", "old"}}, "x", {0}, "0123456789",
      true, 5, -413, "x", "old" },
    { "chunked at max", {{0}}, "x", {0}, "01234", true, 5, 201, "x",
      "01234" },
    /* Confinement: the checks in teardown prove nothing landed outside. */
    { "target links outside: the link is replaced",
      {{'l', "link", "@/keep.txt"}}, "link", {0}, "in", false, 0, 204,
      "link", "in" },
    { "target links outside by ..",
      {{'l', "link", "../outside/keep.txt"}}, "link", {0}, "in", false, 0,
      204, "link", "in" },
    { "parent links outside (absolute)", {{'l', "out", "@"}}, "out/x",
      {0}, "no", false, 0, -409, "x", NULL },
    { "parent links outside (relative)", {{'l', "out", "../outside"}},
      "out/x", {0}, "no", false, 0, -409, "x", NULL },
    { "missing folder below a link outside", {{'l', "out", "@"}},
      "out/new/x", {0}, "no", false, 0, -409, "x", NULL },
    { "absolute link clamped to the root",
      {{'d', "sub", NULL}, {'l', "abs", "/sub"}}, "abs/x", {0}, "in",
      false, 0, 201, "sub/x", "in" },
    { "relative link clamped to the root",
      {{'d', "sub", NULL}, {'l', "rel", "../../../sub"}}, "rel/x", {0},
      "in", false, 0, 201, "sub/x", "in" },
    { "procfs link clamped", {{'l', "m", "/proc/self/cwd"}}, "m/x", {0},
      "no", false, 0, -409, "x", NULL },
    { "leading .. clamped", {{0}}, "../x", {0}, "in", false, 0, 201, "x",
      "in" },
    { ".. in a missing parent refused", {{0}}, "../../nope/x", {0}, "no",
      false, 0, -403, "nope", NULL },
};

/* Empty the root for the next case. */
static void
reset_root(struct fixture *fx)
{
    assert_int_equal(remove_tree_at(AT_FDCWD, fx->root_dir), 0);
    assert_int_equal(mkdir(fx->root_dir, 0755), 0);
    files_root_close(&fx->root);
    assert_int_equal(files_root_open(&fx->root, fx->root_dir, false), 0);
}

static void
test_put_table(void **state)
{
    struct fixture *fx = *state;
    size_t i;
    int rv;

    for (i = 0; i < sizeof put_cases / sizeof put_cases[0]; i++) {
        const struct put_case *c = &put_cases[i];
        struct req_buf rb;

        plant_all(fx, c->plants);
        make_req(fx, &rb, HTTP_METHOD_PUT, &c->conds, c->path);
        rv = put(fx, c->path, &rb.req, c->body, strlen(c->body), c->chunked,
                 c->max != 0 ? c->max : UINT64_MAX, 3);
        if (rv != c->want)
            fail_msg("%s: got %d, want %d", c->label, rv, c->want);
        assert_content(fx, c->check, c->check_data, c->label);
        if (count_temps(fx->root_dir) != 0)
            fail_msg("%s: temporary file left", c->label);

        reset_root(fx);
    }
}

/* Someone creates the name during an If-None-Match: * upload. */
static void
test_put_create_only_race(void **state)
{
    const struct fixture *fx = *state;
    struct conds c = { NULL, "*", NULL };
    struct plant racer = { 'f', "x", "racer" };
    struct req_buf rb;
    struct upload up;

    make_req(fx, &rb, HTTP_METHOD_PUT, &c, "x");
    assert_int_equal(upload_prepare(&fx->root, "x", &rb.req, 4, UINT64_MAX,
                                    &up), 0);
    assert_false(up.existed);
    assert_true(up.create_only);
    assert_int_equal(upload_write(&up, "mine", 4), 0);
    plant_one(fx, &racer);
    assert_int_equal(upload_commit(&up, &rb.req), -412);
    assert_content(fx, "x", "racer", "create-only race");
}

/* The file changes under an If-Match upload; a folder replaces it. */
static void
test_put_target_changes(void **state)
{
    const struct fixture *fx = *state;
    struct plant old = { 'f', "x", "old" }, dir = { 'd', "x", NULL };
    struct conds c = { "@", NULL, NULL };
    struct req_buf rb;
    struct upload up;
    char abs[512];

    plant_one(fx, &old);
    make_req(fx, &rb, HTTP_METHOD_PUT, &c, "x");
    assert_int_equal(upload_prepare(&fx->root, "x", &rb.req, 3, UINT64_MAX,
                                    &up), 0);
    assert_true(up.existed);
    assert_int_equal(upload_write(&up, "new", 3), 0);
    path_in(fx, "x", abs, sizeof abs);
    write_at(abs, "changed", 7);
    assert_int_equal(upload_commit(&up, &rb.req), -412);
    assert_content(fx, "x", "changed", "If-Match race");

    /* Without preconditions, a folder swapped in is not replaced. */
    make_req(fx, &rb, HTTP_METHOD_PUT, NULL, "x");
    assert_int_equal(upload_prepare(&fx->root, "x", &rb.req, 3, UINT64_MAX,
                                    &up), 0);
    assert_int_equal(unlink(abs), 0);
    plant_one(fx, &dir);
    assert_int_equal(upload_write(&up, "new", 3), 0);
    assert_int_equal(upload_commit(&up, &rb.req), -409);
    assert_content(fx, "x/x", NULL, "folder swapped in");
}

/*
 * The target's folder is moved away and replaced by a symlink leading
 * outside while the body arrives: the file lands in the folder that was
 * opened, wherever it is now, and never outside.
 */
static void
test_put_folder_swapped_for_link(void **state)
{
    const struct fixture *fx = *state;
    struct plant dir = { 'd', "d", NULL }, link = { 'l', "d", "@" };
    struct req_buf rb;
    struct upload up;
    char from[512], to[512];

    plant_one(fx, &dir);
    make_req(fx, &rb, HTTP_METHOD_PUT, NULL, "d/x");
    assert_int_equal(upload_prepare(&fx->root, "d/x", &rb.req, 4,
                                    UINT64_MAX, &up), 0);
    path_in(fx, "d", from, sizeof from);
    path_in(fx, "moved", to, sizeof to);
    assert_int_equal(rename(from, to), 0);
    plant_one(fx, &link);
    assert_int_equal(upload_write(&up, "data", 4), 0);
    assert_int_equal(upload_commit(&up, &rb.req), 201);
    assert_content(fx, "moved/x", "data", "swapped folder");
}

static void
test_put_abort(void **state)
{
    const struct fixture *fx = *state;
    struct plant old = { 'f', "x", "old" };
    struct req_buf rb;
    struct upload up;

    plant_one(fx, &old);
    make_req(fx, &rb, HTTP_METHOD_PUT, NULL, "x");
    assert_int_equal(upload_prepare(&fx->root, "x", &rb.req, 100,
                                    UINT64_MAX, &up), 0);
    assert_int_equal(upload_write(&up, "partial", 7), 0);
    assert_int_equal(count_temps(fx->root_dir), 1);
    upload_abort(&up);
    upload_abort(&up);
    assert_int_equal(up.fd, -1);
    assert_int_equal(up.dirfd, -1);
    assert_null(up.path);
    assert_content(fx, "x", "old", "abort");
    assert_int_equal(count_temps(fx->root_dir), 0);

    /* A write or commit after the end fails without touching anything. */
    assert_int_equal(upload_write(&up, "late", 4), -500);
    assert_int_equal(upload_commit(&up, &rb.req), -500);
    assert_content(fx, "x", "old", "commit after abort");
}

/* 20 MiB in 1 MiB writes: crosses the write-behind boundary twice. */
static void
test_put_large(void **state)
{
    const struct fixture *fx = *state;
    size_t i, len = 20 * MIB + 123;
    char *body = malloc(len), *got;
    struct req_buf rb;
    size_t got_len;

    assert_non_null(body);
    for (i = 0; i < len; i++)
        body[i] = (char)(i * 7 + i / 4096);
    make_req(fx, &rb, HTTP_METHOD_PUT, NULL, "big");
    assert_int_equal(put(fx, "big", &rb.req, body, len, false, UINT64_MAX,
                         MIB), 201);
    assert_non_null(got = slurp(fx, "big", &got_len));
    assert_int_equal(got_len, len);
    assert_memory_equal(got, body, len);
    free(got);
    free(body);
}

static void
test_put_umask(void **state)
{
    const struct fixture *fx = *state;
    struct req_buf rb;
    struct stat st;
    char abs[512];
    mode_t old = umask(027);

    make_req(fx, &rb, HTTP_METHOD_PUT, NULL, "m");
    assert_int_equal(put(fx, "m", &rb.req, "m", 1, false, UINT64_MAX, 1),
                     201);
    umask(old);
    path_in(fx, "m", abs, sizeof abs);
    assert_int_equal(stat(abs, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
}

/* DELETE */

struct delete_case {
    const char *label;
    struct plant plants[4];
    const char *path;
    struct conds conds;
    int want;
    const char *gone;           /* must not exist afterwards, or NULL */
    const char *kept;           /* must still hold "keep", or NULL */
};

static const struct delete_case delete_cases[] = {
    { "file", {{'f', "x", "keep"}}, "x", {0}, 204, "x", NULL },
    { "file in a folder", {{'d', "d", NULL}, {'f', "d/x", "keep"}}, "d/x",
      {0}, 204, "d/x", NULL },
    { "empty folder", {{'d', "d", NULL}}, "d", {0}, 204, "d", NULL },
    { "folder not empty", {{'d', "d", NULL}, {'f', "d/x", "keep"}}, "d",
      {0}, -409, NULL, "d/x" },
    { "missing", {{0}}, "x", {0}, -404, NULL, NULL },
    { "missing parent", {{0}}, "a/x", {0}, -404, NULL, NULL },
    { "parent is a file", {{'f', "a", "keep"}}, "a/x", {0}, -404, NULL,
      "a" },
    { "link to a file: link only", {{'f', "x", "keep"}, {'l', "l", "x"}},
      "l", {0}, 204, "l", "x" },
    { "link to a folder: link only",
      {{'d', "d", NULL}, {'f', "d/x", "keep"}, {'l', "l", "d"}}, "l", {0},
      204, "l", "d/x" },
    { "link leading outside", {{'l', "l", "@/keep.txt"}}, "l", {0}, 204,
      "l", NULL },
    { "link to an outside folder", {{'l', "l", "@"}}, "l", {0}, 204, "l",
      NULL },
    { "file through a link outside", {{'l', "l", "@"}}, "l/keep.txt", {0},
      -404, NULL, NULL },
    { "temporary file hidden",
      {{'f', UPLOAD_TMP_PREFIX "0123456789abcdef", "keep"}},
      UPLOAD_TMP_PREFIX "0123456789abcdef", {0}, -404, NULL, NULL },
    { "root", {{0}}, ".", {0}, -403, NULL, NULL },
    { "If-Match right", {{'f', "x", "keep"}}, "x", {"@", NULL, NULL}, 204,
      "x", NULL },
    { "If-Match wrong", {{'f', "x", "keep"}}, "x",
      {"\"1-2-3.4\"", NULL, NULL}, -412, NULL, "x" },
    { "If-Unmodified-Since past", {{'f', "x", "keep"}}, "x",
      {NULL, NULL, PAST}, -412, NULL, "x" },
    { "If-None-Match *", {{'f', "x", "keep"}}, "x", {NULL, "*", NULL},
      -412, NULL, "x" },
};

static void
test_delete_table(void **state)
{
    struct fixture *fx = *state;
    size_t i;
    int rv;

    for (i = 0; i < sizeof delete_cases / sizeof delete_cases[0]; i++) {
        const struct delete_case *c = &delete_cases[i];
        struct req_buf rb;

        plant_all(fx, c->plants);
        make_req(fx, &rb, HTTP_METHOD_DELETE, &c->conds, c->path);
        rv = upload_delete(&fx->root, c->path, &rb.req);
        if (rv != c->want)
            fail_msg("%s: got %d, want %d", c->label, rv, c->want);
        if (c->gone != NULL)
            assert_content(fx, c->gone, NULL, c->label);
        if (c->kept != NULL)
            assert_content(fx, c->kept, "keep", c->label);
        reset_root(fx);
    }
}

/* MKCOL */

static const struct {
    const char *label;
    struct plant plants[3];
    const char *path;
    int want;
} mkcol_cases[] = {
    { "new folder", {{0}}, "d", 201 },
    { "new folder in a folder", {{'d', "a", NULL}}, "a/d", 201 },
    { "folder exists", {{'d', "d", NULL}}, "d", -405 },
    { "file exists", {{'f', "d", "x"}}, "d", -405 },
    { "link exists", {{'l', "d", "@"}}, "d", -405 },
    { "parent missing", {{0}}, "a/d", -409 },
    { "parent is a file", {{'f', "a", "x"}}, "a/d", -409 },
    { "parent links outside", {{'l', "a", "@"}}, "a/d", -409 },
    { "root", {{0}}, ".", -405 },
    { "temporary name", {{0}}, UPLOAD_TMP_PREFIX "x", -403 },
    { "name ..", {{0}}, "a/..", -403 },
};

static void
test_mkcol_table(void **state)
{
    struct fixture *fx = *state;
    char abs[512];
    struct stat st;
    size_t i;
    int rv;

    for (i = 0; i < sizeof mkcol_cases / sizeof mkcol_cases[0]; i++) {
        plant_all(fx, mkcol_cases[i].plants);
        rv = upload_mkcol(&fx->root, mkcol_cases[i].path);
        if (rv != mkcol_cases[i].want)
            fail_msg("%s: got %d, want %d", mkcol_cases[i].label, rv,
                     mkcol_cases[i].want);
        if (rv == 201) {
            path_in(fx, mkcol_cases[i].path, abs, sizeof abs);
            assert_int_equal(lstat(abs, &st), 0);
            assert_true(S_ISDIR(st.st_mode));
        }
        reset_root(fx);
    }
}

/* Stale temporary files */

static void
test_clean_stale(void **state)
{
    struct fixture *fx = *state;
    static const struct plant tree[] = {
        { 'f', UPLOAD_TMP_PREFIX "0000000000000001", "stale" },
        { 'd', "a", NULL },
        { 'f', "a/" UPLOAD_TMP_PREFIX "0000000000000002", "stale" },
        { 'f', "a/keep", "keep" },
        { 'd', "a/b", NULL },
        { 'd', "a/b/c", NULL },
        { 'f', "a/b/c/" UPLOAD_TMP_PREFIX "3", "stale" },
        { 'd', ".hidden", NULL },
        { 'f', ".hidden/" UPLOAD_TMP_PREFIX "4", "stale" },
        { 'd', UPLOAD_TMP_PREFIX "dir", NULL },
        { 'f', UPLOAD_TMP_PREFIX "dir/keep", "keep" },
        { 'l', UPLOAD_TMP_PREFIX "link", "a/keep" },
        { 'f', ".ferry-upload", "keep" },
        { 'f', "x" UPLOAD_TMP_PREFIX, "keep" },
        { 'l', "out", "@" },
        { 0, NULL, NULL },
    };
    char outside_tmp[160];
    struct stat st;

    plant_all(fx, tree);
    snprintf(outside_tmp, sizeof outside_tmp, "%s/" UPLOAD_TMP_PREFIX "o",
             fx->outside);
    write_at(outside_tmp, "outside", 7);

    assert_int_equal(upload_clean_stale(&fx->root), 4);
    assert_int_equal(count_temps(fx->root_dir), 2);  /* the folder, link */
    assert_content(fx, "a/keep", "keep", "clean");
    assert_content(fx, UPLOAD_TMP_PREFIX "dir/keep", "keep", "clean");
    assert_content(fx, ".ferry-upload", "keep", "clean");
    assert_content(fx, "x" UPLOAD_TMP_PREFIX, "keep", "clean");
    assert_int_equal(stat(outside_tmp, &st), 0);   /* the link not taken */
    assert_int_equal(unlink(outside_tmp), 0);
    assert_int_equal(upload_clean_stale(&fx->root), 0);

    /* Leave nothing with the prefix for teardown's count. */
    reset_root(fx);
}

/* A full disk and a read-only one, on a tmpfs mounted for the test */

#define SMALL_FS_BYTES (2 * MIB)

/* Mount a 2 MiB tmpfs at BASE/root; false (and a note) if impossible. */
static bool
mount_small(struct fixture *fx, const char *opts)
{
    files_root_close(&fx->root);
    if (geteuid() != 0 ||
        mount("tmpfs", fx->root_dir, "tmpfs", 0, opts) == -1) {
        print_message("note: cannot mount a tmpfs (%s): disk-full and "
                      "read-only cases skipped\n", geteuid() != 0 ?
                      "not root" : strerror(errno));
        assert_int_equal(files_root_open(&fx->root, fx->root_dir, false), 0);
        return false;
    }
    fx->mounted = true;
    assert_int_equal(files_root_open(&fx->root, fx->root_dir, false), 0);
    return true;
}

static void
unmount_small(struct fixture *fx)
{
    files_root_close(&fx->root);
    assert_int_equal(umount(fx->root_dir), 0);
    fx->mounted = false;
    assert_int_equal(files_root_open(&fx->root, fx->root_dir, false), 0);
}

static void
test_disk_full(void **state)
{
    struct fixture *fx = *state;
    struct plant old = { 'f', "old", "old content" };
    size_t len = 3 * MIB;
    char *body = calloc(1, len);
    struct upload up, up2;
    struct req_buf rb;

    assert_non_null(body);
    if (!mount_small(fx, "size=2m")) {
        free(body);
        skip();
    }
    plant_one(fx, &old);
    make_req(fx, &rb, HTTP_METHOD_PUT, NULL, "old");

    /* Declared too big: 507 before the body, nothing made. */
    assert_int_equal(upload_prepare(&fx->root, "old", &rb.req, len,
                                    UINT64_MAX, &up), -507);
    assert_int_equal(upload_prepare(&fx->root, "new/x", &rb.req, len,
                                    UINT64_MAX, &up), -507);
    assert_content(fx, "new", NULL, "no folder for a refused upload");

    /* Unknown size: the disk fills mid-body. */
    assert_int_equal(put(fx, "old", &rb.req, body, len, true, UINT64_MAX,
                         64 * 1024), -507);
    assert_content(fx, "old", "old content", "disk full");
    assert_int_equal(count_temps(fx->root_dir), 0);

    /* Declared to fit: still 204 on the same file system afterwards. */
    assert_int_equal(put(fx, "old", &rb.req, body, MIB, false, UINT64_MAX,
                         64 * 1024), 204);

    /*
     * The first upload's reservation counts before any byte is written:
     * a second one that would not fit beside it is refused at once.
     */
    assert_int_equal(upload_prepare(&fx->root, "a", &rb.req, MIB / 2,
                                    UINT64_MAX, &up), 0);
    assert_int_equal(upload_prepare(&fx->root, "b", &rb.req, MIB / 2 + 1,
                                    UINT64_MAX, &up2), -507);
    upload_abort(&up);
    unmount_small(fx);
    free(body);
}

static void
test_read_only(void **state)
{
    struct fixture *fx = *state;
    struct plant file = { 'f', "x", "keep" };
    struct req_buf rb;

    if (!mount_small(fx, "size=2m"))
        skip();
    plant_one(fx, &file);
    assert_int_equal(mount("tmpfs", fx->root_dir, "tmpfs",
                           MS_REMOUNT | MS_RDONLY, "size=2m"), 0);
    make_req(fx, &rb, HTTP_METHOD_PUT, NULL, "x");
    assert_int_equal(put(fx, "x", &rb.req, "new", 3, false, UINT64_MAX, 3),
                     -403);
    assert_int_equal(put(fx, "d/x", &rb.req, "new", 3, false, UINT64_MAX,
                         3), -403);
    assert_int_equal(upload_mkcol(&fx->root, "d"), -403);
    make_req(fx, &rb, HTTP_METHOD_DELETE, NULL, "x");
    assert_int_equal(upload_delete(&fx->root, "x", &rb.req), -403);
    assert_content(fx, "x", "keep", "read-only");
    unmount_small(fx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_create_only_race, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_put_target_changes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_put_folder_swapped_for_link,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_umask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkcol_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
