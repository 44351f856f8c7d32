/*
 * mime.c: Content-Type by file name extension.
 *
 * A built-in table answers for common extensions; mime_load reads a
 * mime.types file at start-up into a hash table that is consulted first.
 * Both hold the complete header value, charset included, so a lookup
 * allocates nothing and needs no lock.
 */
#include "mime.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIME_LINE_MAX    1024   /* Debian's longest line is 99 bytes */
#define MIME_TYPE_MAX    127    /* RFC 6838 4.2: 127 for each half */
#define MIME_EXT_MAX     31     /* Debian's longest extension is 30 */
#define MIME_MAX_ENTRIES 65536  /* Debian has 1552; a huge file is cut */
#define MIME_MIN_SLOTS   1024

#define OCTET_STREAM "application/octet-stream"
#define CHARSET      "; charset=utf-8"

struct mime_builtin {
    const char *ext;
    const char *type;
};

struct mime_slot {
    char *ext;                  /* lower case; NULL while the slot is free */
    char *type;                 /* charset already appended */
};

struct mime_table {
    struct mime_slot *slots;
    size_t nslots;              /* a power of two */
    size_t used;
};

#define TXT(t) t CHARSET

/* Sorted by extension (strcmp order) for bsearch. */
static const struct mime_builtin builtin[] = {
    { "7z",    "application/x-7z-compressed" },
    { "aac",   "audio/aac" },
    { "apk",   "application/vnd.android.package-archive" },
    { "avi",   "video/x-msvideo" },
    { "avif",  "image/avif" },
    { "bmp",   "image/bmp" },
    { "bz2",   "application/x-bzip2" },
    { "c",     TXT("text/x-csrc") },
    { "cc",    TXT("text/x-c++src") },
    { "conf",  TXT("text/plain") },
    { "cpp",   TXT("text/x-c++src") },
    { "css",   TXT("text/css") },
    { "csv",   TXT("text/csv") },
    { "deb",   "application/vnd.debian.binary-package" },
    { "diff",  TXT("text/x-diff") },
    { "doc",   "application/msword" },
    { "docx",  "application/vnd.openxmlformats-officedocument"
               ".wordprocessingml.document" },
    { "epub",  "application/epub+zip" },
    { "flac",  "audio/flac" },
    { "gif",   "image/gif" },
    { "go",    TXT("text/x-go") },
    { "gz",    "application/gzip" },
    { "h",     TXT("text/x-chdr") },
    { "heic",  "image/heic" },
    { "hpp",   TXT("text/x-c++hdr") },
    { "htm",   TXT("text/html") },
    { "html",  TXT("text/html") },
    { "ico",   "image/vnd.microsoft.icon" },
    { "ics",   TXT("text/calendar") },
    { "ini",   TXT("text/plain") },
    { "iso",   "application/x-iso9660-image" },
    { "java",  TXT("text/x-java") },
    { "jpeg",  "image/jpeg" },
    { "jpg",   "image/jpeg" },
    { "js",    TXT("text/javascript") },
    { "json",  TXT("application/json") },
    { "jxl",   "image/jxl" },
    { "log",   TXT("text/plain") },
    { "m4a",   "audio/mp4" },
    { "md",    TXT("text/markdown") },
    { "mjs",   TXT("text/javascript") },
    { "mkv",   "video/x-matroska" },
    { "mov",   "video/quicktime" },
    { "mp3",   "audio/mpeg" },
    { "mp4",   "video/mp4" },
    { "mpeg",  "video/mpeg" },
    { "odp",   "application/vnd.oasis.opendocument.presentation" },
    { "ods",   "application/vnd.oasis.opendocument.spreadsheet" },
    { "odt",   "application/vnd.oasis.opendocument.text" },
    { "oga",   "audio/ogg" },
    { "ogg",   "audio/ogg" },
    { "ogv",   "video/ogg" },
    { "opus",  "audio/ogg" },
    { "otf",   "font/otf" },
    { "patch", TXT("text/x-diff") },
    { "pdf",   "application/pdf" },
    { "png",   "image/png" },
    { "ppt",   "application/vnd.ms-powerpoint" },
    { "pptx",  "application/vnd.openxmlformats-officedocument"
               ".presentationml.presentation" },
    { "py",    TXT("text/x-python") },
    { "rar",   "application/vnd.rar" },
    { "rpm",   "application/x-rpm" },
    { "rs",    TXT("text/rust") },
    { "rtf",   "application/rtf" },
    { "sh",    TXT("text/x-sh") },
    { "srt",   "application/x-subrip" },
    { "svg",   TXT("image/svg+xml") },
    { "tar",   "application/x-tar" },
    { "tgz",   "application/gzip" },
    { "tif",   "image/tiff" },
    { "tiff",  "image/tiff" },
    { "toml",  "application/toml" },
    { "ttf",   "font/ttf" },
    { "txt",   TXT("text/plain") },
    { "vtt",   TXT("text/vtt") },
    { "wasm",  "application/wasm" },
    { "wav",   "audio/wav" },
    { "webm",  "video/webm" },
    { "webp",  "image/webp" },
    { "woff",  "font/woff" },
    { "woff2", "font/woff2" },
    { "xhtml", "application/xhtml+xml" },
    { "xls",   "application/vnd.ms-excel" },
    { "xlsx",  "application/vnd.openxmlformats-officedocument"
               ".spreadsheetml.sheet" },
    { "xml",   TXT("application/xml") },
    { "xz",    "application/x-xz" },
    { "yaml",  "application/yaml" },
    { "yml",   "application/yaml" },
    { "zip",   "application/zip" },
    { "zst",   "application/zstd" },
};

/* Types that get a charset although they are not text/ ones. */
static const char *const utf8_types[] = {
    "application/json", "application/javascript", "application/xml",
    "image/svg+xml",
};

/* Set by mime_load at start-up, read-only while serving. */
static struct mime_table *loaded;

static int read_table(FILE *f, struct mime_table *t);
static int read_line(FILE *f, char *line, size_t cap, bool *ok);
static int add_line(struct mime_table *t, char *line);
static char *next_word(char **s);
static int make_type(const char *word, char *out, size_t cap);
static bool is_type_char(unsigned char ch);
static bool valid_ext(const char *ext);
static int table_add(struct mime_table *t, const char *ext,
                     const char *type);
static int table_grow(struct mime_table *t);
static struct mime_slot *table_slot(struct mime_slot *slots, size_t nslots,
                                    const char *ext);
static void table_free(struct mime_table *t);
static int get_ext(const char *name, char *ext, size_t cap);
static int builtin_cmp(const void *key, const void *elem);
static uint32_t hash_ext(const char *ext);
static char lower(char ch);

int
mime_load(const char *path)
{
    struct mime_table *t = NULL;
    FILE *f;
    int rv = -1, saved_errno;

    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    t = calloc(1, sizeof *t);
    if (t == NULL || read_table(f, t) == -1)
        goto out;
    mime_free();
    loaded = t;
    t = NULL;
    rv = 0;
out:
    saved_errno = errno;
    table_free(t);
    fclose(f);
    errno = saved_errno;
    return rv;
}

const char *
mime_type_for(const char *name)
{
    char ext[MIME_EXT_MAX + 1];
    const struct mime_builtin *b;
    const struct mime_slot *s;

    if (get_ext(name, ext, sizeof ext) == -1)
        return OCTET_STREAM;
    if (loaded != NULL) {
        s = table_slot(loaded->slots, loaded->nslots, ext);
        if (s != NULL && s->ext != NULL)
            return s->type;
    }
    b = bsearch(ext, builtin, sizeof builtin / sizeof builtin[0],
                sizeof builtin[0], builtin_cmp);
    return b != NULL ? b->type : OCTET_STREAM;
}

void
mime_free(void)
{
    table_free(loaded);
    loaded = NULL;
}

static int
read_table(FILE *f, struct mime_table *t)
{
    char line[MIME_LINE_MAX + 1];
    bool ok;

    while (read_line(f, line, sizeof line, &ok) == 1) {
        if (ok && add_line(t, line) == -1)
            return -1;
    }
    if (ferror(f)) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

/*
 * Read a line into LINE without its '\n'.  Returns 1, or 0 at the end of
 * the file.  *OK is false for a line that is too long or holds a NUL: the
 * rest of it is consumed and the caller ignores it.
 */
static int
read_line(FILE *f, char *line, size_t cap, bool *ok)
{
    size_t len = 0;
    int ch;

    *ok = true;
    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (ch == '\0' || len + 1 >= cap)
            *ok = false;
        else
            line[len++] = (char)ch;
    }
    line[len] = '\0';
    return ch != EOF || len > 0 ? 1 : 0;
}

/* "type ext1 ext2 ..." with '#' comments; malformed parts are ignored. */
static int
add_line(struct mime_table *t, char *line)
{
    char type[MIME_TYPE_MAX + sizeof CHARSET];
    char *word;

    line[strcspn(line, "#")] = '\0';
    word = next_word(&line);
    if (word == NULL || make_type(word, type, sizeof type) == -1)
        return 0;
    while ((word = next_word(&line)) != NULL) {
        if (valid_ext(word) && table_add(t, word, type) == -1)
            return -1;
    }
    return 0;
}

/* Cut the next blank-separated word out of *S; NULL when none is left. */
static char *
next_word(char **s)
{
    char *p = *s, *word;

    p += strspn(p, " \t\r\f\v");
    if (*p == '\0')
        return NULL;
    word = p;
    p += strcspn(p, " \t\r\f\v");
    if (*p != '\0')
        *p++ = '\0';
    *s = p;
    return word;
}

/* Check WORD is "type/subtype" and copy it to OUT with any charset. */
static int
make_type(const char *word, char *out, size_t cap)
{
    const char *slash = strchr(word, '/');
    size_t len = strlen(word), i;
    bool utf8;

    if (slash == NULL || slash == word || slash[1] == '\0' ||
        len > MIME_TYPE_MAX || len + sizeof CHARSET > cap)
        return -1;
    for (i = 0; i < len; i++)
        if (word + i != slash && !is_type_char((unsigned char)word[i]))
            return -1;

    utf8 = strncasecmp(word, "text/", 5) == 0;
    for (i = 0; i < sizeof utf8_types / sizeof utf8_types[0]; i++)
        if (strcasecmp(word, utf8_types[i]) == 0)
            utf8 = true;
    memcpy(out, word, len + 1);
    if (utf8)
        memcpy(out + len, CHARSET, sizeof CHARSET);
    return 0;
}

/* restricted-name characters, RFC 6838 4.2 */
static bool
is_type_char(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$&-^_.+", ch) != NULL;
}

/*
 * A name's extension is what follows its last '.', so an entry such as
 * "tar.gz" could never match; it is skipped like one with odd bytes.
 */
static bool
valid_ext(const char *ext)
{
    size_t len = strlen(ext), i;

    if (len == 0 || len > MIME_EXT_MAX)
        return false;
    for (i = 0; i < len; i++)
        if ((unsigned char)ext[i] <= ' ' || (unsigned char)ext[i] >= 0x7f ||
            ext[i] == '.' || ext[i] == '/')
            return false;
    return true;
}

/* Add EXT -> TYPE unless EXT is there already: the first line wins. */
static int
table_add(struct mime_table *t, const char *ext, const char *type)
{
    char key[MIME_EXT_MAX + 1];
    struct mime_slot *s;
    size_t i;

    for (i = 0; ext[i] != '\0'; i++)
        key[i] = lower(ext[i]);
    key[i] = '\0';
    if (t->used >= MIME_MAX_ENTRIES)
        return 0;
    if ((t->used + 1) * 2 > t->nslots && table_grow(t) == -1)
        return -1;

    s = table_slot(t->slots, t->nslots, key);
    if (s->ext != NULL)
        return 0;
    s->ext = strdup(key);
    s->type = strdup(type);
    if (s->ext == NULL || s->type == NULL) {
        free(s->ext);
        free(s->type);
        s->ext = s->type = NULL;
        return -1;
    }
    t->used++;
    return 0;
}

/* Double the slots (at most half used keeps probes short) and rehash. */
static int
table_grow(struct mime_table *t)
{
    size_t nslots = t->nslots > 0 ? t->nslots * 2 : MIME_MIN_SLOTS, i;
    struct mime_slot *slots, *s;

    slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (i = 0; i < t->nslots; i++) {
        if (t->slots[i].ext == NULL)
            continue;
        s = table_slot(slots, nslots, t->slots[i].ext);
        *s = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

/*
 * The slot holding EXT, or the free slot where it would go (linear
 * probing; the table is never full).  NULL for a table with no slots.
 */
static struct mime_slot *
table_slot(struct mime_slot *slots, size_t nslots, const char *ext)
{
    size_t i;

    if (nslots == 0)
        return NULL;
    i = hash_ext(ext) & (nslots - 1);
    while (slots[i].ext != NULL && strcmp(slots[i].ext, ext) != 0)
        i = (i + 1) & (nslots - 1);
    return &slots[i];
}

static void
table_free(struct mime_table *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->nslots; i++) {
        free(t->slots[i].ext);
        free(t->slots[i].type);
    }
    free(t->slots);
    free(t);
}

/*
 * The lower-case extension of NAME's last component: what follows its
 * last '.', unless that '.' starts the component (".bashrc") or ends it.
 */
static int
get_ext(const char *name, char *ext, size_t cap)
{
    const char *base = strrchr(name, '/'), *dot;
    size_t len, i;

    base = base != NULL ? base + 1 : name;
    dot = strrchr(base, '.');
    if (dot == NULL || dot == base)
        return -1;
    len = strlen(dot + 1);
    if (len == 0 || len >= cap)
        return -1;
    for (i = 0; i <= len; i++)
        ext[i] = lower(dot[1 + i]);
    return 0;
}

static int
builtin_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct mime_builtin *)elem)->ext);
}

/* FNV-1a: the keys come from a file the administrator chose. */
static uint32_t
hash_ext(const char *ext)
{
    uint32_t h = 2166136261u;

    for (; *ext != '\0'; ext++) {
        h ^= (unsigned char)*ext;
        h *= 16777619u;
    }
    return h;
}

/* ASCII only, whatever the locale. */
static char
lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}
