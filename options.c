/*
 * options.c: the command line: getopt_long, numbers and sizes checked,
 * defaults filled in, --help and --version answered.
 *
 * Errors here are the user's: each says which option takes what, and
 * the process exits 2 before anything is opened.
 */
#include "options.h"

#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"

#define FERRY_VERSION   "0.1.0"

/* Long options without a short form. */
enum {
    OPT_HANDSHAKE = 256,
    OPT_HEADER,
    OPT_IDLE,
    OPT_SEND,
    OPT_AUTH,
    OPT_PUBLIC_READ,
    OPT_WRITERS,
    OPT_DROP_BOX,
    OPT_CLIENT_CA,
};

static void set_defaults(struct options *o);
static void apply(struct options *o, int ch, char *arg);
static void check_access(struct options *o);
static uint32_t parse_ms(const char *opt, const char *s);
static uint64_t parse_number(const char *opt, const char *s, uint64_t min,
                             uint64_t max);
static uint64_t parse_size(const char *opt, const char *s);
static void usage(FILE *out, int code) __attribute__((noreturn));

static const struct option longopts[] = {
    { "port", required_argument, NULL, 'p' },
    { "bind", required_argument, NULL, 'b' },
    { "cert", required_argument, NULL, 'C' },
    { "key", required_argument, NULL, 'K' },
    { "hidden", no_argument, NULL, 'H' },
    { "write", no_argument, NULL, 'w' },
    { "max-upload", required_argument, NULL, 'U' },
    { "quiet", no_argument, NULL, 'q' },
    { "verbose", no_argument, NULL, 'v' },
    { "user", required_argument, NULL, 'u' },
    { "workers", required_argument, NULL, 'W' },
    { "max-conns", required_argument, NULL, 'M' },
    { "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE },
    { "header-timeout", required_argument, NULL, OPT_HEADER },
    { "idle-timeout", required_argument, NULL, OPT_IDLE },
    { "send-timeout", required_argument, NULL, OPT_SEND },
    { "auth", required_argument, NULL, OPT_AUTH },
    { "public-read", no_argument, NULL, OPT_PUBLIC_READ },
    { "writers", required_argument, NULL, OPT_WRITERS },
    { "drop-box", no_argument, NULL, OPT_DROP_BOX },
    { "client-ca", required_argument, NULL, OPT_CLIENT_CA },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

void
options_parse(int argc, char **argv, struct options *o)
{
    int ch;

    set_defaults(o);
    while ((ch = getopt_long(argc, argv, "p:b:qvhw", longopts, NULL)) != -1)
        apply(o, ch, optarg);
    if (argc - optind > 1)
        usage(stderr, 2);
    if (argc - optind == 1)
        o->dir = argv[optind];
    if ((o->cert == NULL) != (o->key == NULL)) {
        fprintf(stderr, "ferry: --cert and --key go together\n");
        exit(2);
    }
    if (!o->port_set)
        o->port = geteuid() == 0 ? 443 : 8443;
    check_access(o);
    o->settings.writable = o->writable;
}

/* The access options make sense only together in some ways. */
static void
check_access(struct options *o)
{
    const char *bad = NULL;

    bool users = o->auth_path != NULL || o->client_ca != NULL;

    if (o->public_read && !users)
        bad = "--public-read goes with --auth or --client-ca";
    else if (o->writers != NULL && !users)
        bad = "--writers goes with --auth or --client-ca";
    else if (o->writers != NULL && !o->writable && !o->drop_box)
        bad = "--writers goes with -w or --drop-box (without them "
              "nobody writes)";
    else if (o->drop_box && o->public_read)
        bad = "--drop-box and --public-read contradict each other";
    if (bad != NULL) {
        fprintf(stderr, "ferry: %s\n", bad);
        exit(2);
    }
    if (o->drop_box)
        o->writable = true;     /* a drop box takes files */
}

/*
 * The CPUs this process may run on: under taskset or a cgroup's cpuset,
 * more event loops than that only take turns on the same cores.
 */
static long
usable_cpus(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    return sysconf(_SC_NPROCESSORS_ONLN);
}

static void
set_defaults(struct options *o)
{
    long cpus = usable_cpus();

    memset(o, 0, sizeof *o);
    o->dir = ".";
    o->user = "nobody";
    o->workers = cpus < 1 ? 1 :
                 cpus > OPTIONS_MAX_WORKERS ? OPTIONS_MAX_WORKERS :
                 (unsigned)cpus;
    o->settings.handshake_timeout_ms = 15000;
    o->settings.header_timeout_ms = 30000;
    o->settings.idle_timeout_ms = 45000;
    o->settings.send_timeout_ms = 60000;
    o->settings.max_upload_bytes = UINT64_MAX;
}

/* Apply option CH with argument ARG (NULL for flags). */
static void
apply(struct options *o, int ch, char *arg)
{
    struct conn_settings *set = &o->settings;

    switch (ch) {
    case 'p':
        o->port = (uint16_t)parse_number("--port", arg, 0, 65535);
        o->port_set = true;
        break;
    case 'b':
        if (o->nbinds == OPTIONS_MAX_LISTENERS)
            usage(stderr, 2);
        o->binds[o->nbinds++] = arg;
        break;
    case 'C': o->cert = arg; break;
    case 'K': o->key = arg; break;
    case 'H': o->hidden = true; break;
    case 'w': o->writable = true; break;
    case 'U': set->max_upload_bytes = parse_size("--max-upload", arg); break;
    case 'q': o->quiet = true; break;
    case 'v': o->verbose = true; break;
    case 'u': o->user = arg; break;
    case 'W':
        o->workers = (unsigned)parse_number("--workers", arg, 1,
                                            OPTIONS_MAX_WORKERS);
        break;
    case 'M':
        o->max_conns = parse_number("--max-conns", arg, 1, 1000000);
        break;
    case OPT_HANDSHAKE:
        set->handshake_timeout_ms = parse_ms("--handshake-timeout", arg);
        break;
    case OPT_HEADER:
        set->header_timeout_ms = parse_ms("--header-timeout", arg);
        break;
    case OPT_IDLE:
        set->idle_timeout_ms = parse_ms("--idle-timeout", arg);
        break;
    case OPT_SEND:
        set->send_timeout_ms = parse_ms("--send-timeout", arg);
        break;
    case OPT_AUTH: o->auth_path = arg; break;
    case OPT_PUBLIC_READ: o->public_read = true; break;
    case OPT_WRITERS: o->writers = arg; break;
    case OPT_DROP_BOX: o->drop_box = true; break;
    case OPT_CLIENT_CA: o->client_ca = arg; break;
    case 'h':
        usage(stdout, 0);
    case 'V':
        printf("ferry %s\n", FERRY_VERSION);
        exit(0);
    default:
        usage(stderr, 2);
    }
}

/* A timeout option: whole seconds from 1 to an hour, as milliseconds. */
static uint32_t
parse_ms(const char *opt, const char *s)
{
    return (uint32_t)parse_number(opt, s, 1, 3600) * 1000;
}

/* A number option: digits only, within [MIN, MAX], or a usage error. */
static uint64_t
parse_number(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    uint64_t v;

    if (http_parse_uint(s, strlen(s), max, &v) == -1 || v < min) {
        fprintf(stderr, "ferry: %s takes a number from %llu to %llu\n", opt,
                (unsigned long long)min, (unsigned long long)max);
        exit(2);
    }
    return v;
}

/* A size option: digits with an optional K, M, G or T (powers of 1024). */
static uint64_t
parse_size(const char *opt, const char *s)
{
    static const char units[] = "KMGT";
    size_t len = strlen(s);
    const char *unit = len > 0 ? strchr(units, s[len - 1]) : NULL;
    unsigned shift = unit != NULL && *unit ? 10 * (unsigned)(unit - units + 1)
                                           : 0;
    uint64_t v;

    if (shift != 0)
        len--;
    if (len == 0 || http_parse_uint(s, len, UINT64_MAX >> shift, &v) == -1 ||
        v == 0) {
        fprintf(stderr, "ferry: %s takes a size such as 500M or 10G\n", opt);
        exit(2);
    }
    return v << shift;
}

static void
usage(FILE *out, int code)
{
    fprintf(out,
        "usage: ferry [OPTIONS] [DIR]\n"
        "Share DIR (default: the current directory) over HTTPS.\n\n"
        "  -p, --port PORT          port (443 as root, else 8443; 0: any)\n"
        "  -b, --bind ADDR          address to listen on (repeatable;\n"
        "                           default: all, IPv6 and IPv4)\n"
        "      --cert FILE          PEM certificate chain\n"
        "      --key FILE           PEM private key (with --cert); without\n"
        "                           both, a self-signed identity is kept in\n"
        "                           $XDG_CONFIG_HOME/ferry or ~/.config/ferry\n"
        "  -w, --write              allow uploads (PUT), DELETE and MKCOL\n"
        "      --max-upload SIZE    largest upload, e.g. 500M or 10G\n"
        "      --hidden             list and serve dotfiles\n"
        "      --auth FILE          users from an htpasswd file (bcrypt,\n"
        "                           SHA-512-crypt, yescrypt); logins needed\n"
        "      --public-read        with --auth: anyone may read\n"
        "      --writers A,B        with --auth -w: only these users write\n"
        "      --drop-box           outsiders may only add new files and\n"
        "                           see nothing (implies -w)\n"
        "      --client-ca FILE     require client certificates from this\n"
        "                           CA; the subject CN is the user name\n"
        "  -q, --quiet              no access log on stdout\n"
        "  -v, --verbose            debug diagnostics on stderr\n"
        "      --user NAME          user to become when started as root\n"
        "                           (default nobody; DIR becomes the root)\n"
        "      --workers N          worker threads (default: one per usable CPU)\n"
        "      --max-conns N        most clients at once\n"
        "      --handshake-timeout S  seconds to finish TLS (15)\n"
        "      --header-timeout S   seconds to send a request head (30)\n"
        "      --idle-timeout S     seconds between requests (45)\n"
        "      --send-timeout S     seconds a client may stop reading (60)\n"
        "  -h, --help               this text\n"
        "      --version            print the version\n");
    exit(code);
}
