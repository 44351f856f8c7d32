/*
 * accept.c: the Accept field parsed and matched against offered types.
 *
 * A hostile field is walked once with a cursor that never passes its end;
 * it is bounded in ranges, and anything that breaks the grammar counts as
 * no field at all.  What the chosen type means is the caller's business.
 */
#include "accept.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define ACCEPT_MAX_RANGES 64    /* browsers send about 10; more is abuse */
#define QVALUE_MAX      1000    /* q-values in thousandths: "q=1" */

/* One media-range of an Accept field: pointers into the caller's value. */
struct accept_range {
    const char *type, *subtype;
    size_t type_len, subtype_len;
    int q;                  /* thousandths, 0 to QVALUE_MAX */
};

struct cursor {
    const char *p, *end;
};

static int parse_list(struct cursor *c, const struct accept_type *types,
                      size_t ntypes, int q[], int spec[]);
static int parse_range(struct cursor *c, struct accept_range *r);
static int parse_params(struct cursor *c, struct accept_range *r);
static int parse_qvalue(struct cursor *c, int *q);
static int skip_param_value(struct cursor *c);
static int skip_quoted(struct cursor *c);
static size_t skip_token(struct cursor *c);
static void skip_ows(struct cursor *c);
static bool is_tchar(unsigned char ch);
static bool is_star(const char *s, size_t len);
static void score_range(const struct accept_range *r,
                        const struct accept_type *types, size_t ntypes,
                        int q[], int spec[]);
static int match_spec(const struct accept_range *r,
                      const struct accept_type *t);
static bool token_is(const char *s, size_t len, const char *word);

/*
 * RFC 9110 12.5.1: the most specific media-range that matches a type
 * gives it its q (the highest q among equally specific ones); a type no
 * range matches gets 0.  A malformed field counts as absent.
 */
size_t
accept_pick(const char *accept, size_t len, const struct accept_type *types,
            size_t ntypes)
{
    int q[ACCEPT_MAX_TYPES] = { 0 }, spec[ACCEPT_MAX_TYPES];
    struct cursor c;
    size_t i, best = 0;

    if (accept == NULL || len == 0 || ntypes == 0 ||
        ntypes > ACCEPT_MAX_TYPES)
        return 0;
    for (i = 0; i < ntypes; i++)
        spec[i] = -1;
    c.p = accept;
    c.end = accept + len;
    if (parse_list(&c, types, ntypes, q, spec) == -1)
        return 0;

    /* Only a strictly higher q moves the choice off an earlier type. */
    for (i = 1; i < ntypes; i++)
        if (q[i] > q[best])
            best = i;
    return best;
}

/* Accept = #( media-range [ weight ] ), scoring each range as it comes. */
static int
parse_list(struct cursor *c, const struct accept_type *types, size_t ntypes,
           int q[], int spec[])
{
    struct accept_range r;
    size_t nranges = 0;

    for (;;) {
        skip_ows(c);
        if (c->p == c->end)
            return 0;
        if (*c->p == ',') {     /* empty list elements are allowed (5.6.1) */
            c->p++;
            continue;
        }
        if (++nranges > ACCEPT_MAX_RANGES || parse_range(c, &r) == -1)
            return -1;
        score_range(&r, types, ntypes, q, spec);
        skip_ows(c);
        if (c->p != c->end && *c->p++ != ',')
            return -1;
    }
}

/* media-range = ( "*" "/" "*" / type "/" "*" / type "/" subtype ) params */
static int
parse_range(struct cursor *c, struct accept_range *r)
{
    r->type = c->p;
    r->type_len = skip_token(c);
    if (r->type_len == 0 || c->p == c->end || *c->p != '/')
        return -1;
    c->p++;
    r->subtype = c->p;
    r->subtype_len = skip_token(c);
    if (r->subtype_len == 0)
        return -1;
    if (is_star(r->type, r->type_len) && !is_star(r->subtype, r->subtype_len))
        return -1;              /* "*" "/" "html" is no media-range */
    r->q = QVALUE_MAX;
    return parse_params(c, r);
}

/* parameters = *( OWS ";" OWS [ name "=" ( token / quoted-string ) ] ) */
static int
parse_params(struct cursor *c, struct accept_range *r)
{
    const char *name;
    size_t name_len;

    for (;;) {
        skip_ows(c);
        if (c->p == c->end || *c->p != ';')
            return 0;
        c->p++;
        skip_ows(c);
        if (c->p == c->end || !is_tchar((unsigned char)*c->p))
            continue;           /* the parameter is optional */

        name = c->p;
        name_len = skip_token(c);
        if (c->p == c->end || *c->p != '=')
            return -1;
        c->p++;
        if (token_is(name, name_len, "q")) {
            if (parse_qvalue(c, &r->q) == -1)
                return -1;
        } else if (skip_param_value(c) == -1) {
            return -1;
        }
    }
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), 12.4.2 */
static int
parse_qvalue(struct cursor *c, int *q)
{
    int value, scale = QVALUE_MAX / 10, digits = 0;

    if (c->p == c->end || (*c->p != '0' && *c->p != '1'))
        return -1;
    value = (*c->p++ - '0') * QVALUE_MAX;
    if (c->p != c->end && *c->p == '.') {
        c->p++;
        while (c->p != c->end && *c->p >= '0' && *c->p <= '9') {
            if (++digits > 3)
                return -1;
            value += (*c->p++ - '0') * scale;
            scale /= 10;
        }
    }
    if (value > QVALUE_MAX)
        return -1;
    *q = value;
    return 0;
}

static int
skip_param_value(struct cursor *c)
{
    if (c->p != c->end && *c->p == '"')
        return skip_quoted(c);
    return skip_token(c) > 0 ? 0 : -1;
}

/* quoted-string = DQUOTE *( qdtext / "\" octet ) DQUOTE, RFC 9110 5.6.4 */
static int
skip_quoted(struct cursor *c)
{
    unsigned char ch;

    c->p++;
    while (c->p != c->end) {
        ch = (unsigned char)*c->p++;
        if (ch == '"')
            return 0;
        if (ch == '\\') {
            if (c->p == c->end)
                return -1;
            ch = (unsigned char)*c->p++;
        }
        if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
            return -1;
    }
    return -1;
}

static size_t
skip_token(struct cursor *c)
{
    const char *start = c->p;

    while (c->p != c->end && is_tchar((unsigned char)*c->p))
        c->p++;
    return (size_t)(c->p - start);
}

static void
skip_ows(struct cursor *c)
{
    while (c->p != c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static bool
is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool
is_star(const char *s, size_t len)
{
    return len == 1 && *s == '*';
}

/* Let R give its q to each type it matches more specifically than before. */
static void
score_range(const struct accept_range *r, const struct accept_type *types,
            size_t ntypes, int q[], int spec[])
{
    size_t i;
    int s;

    for (i = 0; i < ntypes; i++) {
        s = match_spec(r, &types[i]);
        if (s < 0 || s < spec[i] || (s == spec[i] && r->q <= q[i]))
            continue;
        spec[i] = s;
        q[i] = r->q;
    }
}

/* 2 for type/subtype, 1 for type/ *, 0 for * / *, -1 if R does not match. */
static int
match_spec(const struct accept_range *r, const struct accept_type *t)
{
    if (is_star(r->type, r->type_len))
        return 0;               /* parse_range saw that the subtype is "*" */
    if (!token_is(r->type, r->type_len, t->type))
        return -1;
    if (is_star(r->subtype, r->subtype_len))
        return 1;
    return token_is(r->subtype, r->subtype_len, t->subtype) ? 2 : -1;
}

/* Media types and parameter names are case-insensitive (8.3.1). */
static bool
token_is(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && strncasecmp(s, word, len) == 0;
}
