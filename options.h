/*
 * options.h: the command line, read once at start-up.
 *
 * What the user asked for, checked for form (numbers in range, --cert
 * with --key) but not against the world: whether DIR exists, the user is
 * known or the port is free is for main to find out.
 */
#ifndef FERRY_OPTIONS_H
#define FERRY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

#define OPTIONS_MAX_LISTENERS 16    /* -b addresses, and sockets in all */
#define OPTIONS_MAX_WORKERS   64    /* --workers, and the default's cap */

struct options {
    const char *dir;
    const char *binds[OPTIONS_MAX_LISTENERS];
    size_t nbinds;
    uint16_t port;
    bool port_set;
    const char *cert, *key;
    const char *user;
    bool hidden, quiet, verbose, writable;
    const char *auth_path;      /* --auth FILE, or NULL */
    const char *client_ca;      /* --client-ca FILE, or NULL */
    char *writers;              /* --writers list (cut in place), or NULL */
    bool public_read, drop_box;
    unsigned workers;
    uint64_t max_conns;
    struct conn_settings settings;
};

/*
 * Fill *O from ARGC and ARGV, with the defaults for what is not given
 * (port 443 as root, else 8443; one worker per CPU).  The strings point
 * into ARGV.  --help and --version print and exit 0; a usage error
 * prints and exits 2.  settings.tls and settings.root are left for main.
 */
void options_parse(int argc, char **argv, struct options *o);

#endif /* FERRY_OPTIONS_H */
