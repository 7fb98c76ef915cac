/* Bearer tokens file of the gateway REST API (gw_tokens.h). */
#include "gw_tokens.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_hex.h"
#include "st_secret.h"
#include "st_errbuf.h"

struct tok {
    uint8_t hash[32];
    char tenant[ST_REG_ID_MAX + 1];
    unsigned roles;
};

struct st_gw_tokens {
    struct tok *v;
    size_t n;
};

static const char *const k_roles[] = {"read", "write", "psk-data", "ca", "import", "admin"};

unsigned st_gw_role_parse(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(k_roles) / sizeof(k_roles[0]); i++)
        if (strlen(k_roles[i]) == len && memcmp(k_roles[i], name, len) == 0)
            return 1u << i;
    return 0;
}

const char *st_gw_role_name(unsigned role)
{
    for (size_t i = 0; i < sizeof(k_roles) / sizeof(k_roles[0]); i++)
        if (role == 1u << i)
            return k_roles[i];
    return NULL;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Splits the next whitespace-separated field of [*p, end). */
static int field(const char **p, const char *end, const char **f, size_t *flen)
{
    const char *s = *p;
    while (s < end && is_blank(*s))
        s++;
    const char *e = s;
    while (e < end && !is_blank(*e))
        e++;
    *f = s;
    *flen = (size_t)(e - s);
    *p = e;
    return e > s;
}

static int parse_line(const char *s, const char *end, struct tok *t, const char **why)
{
    const char *f;
    size_t fl;
    if (!field(&s, end, &f, &fl) || fl != 64 || st_hex_decode(f, fl, t->hash, 32) != 32 ||
        memchr(f, ':', fl) || memchr(f, ' ', fl)) {
        *why = "first field must be the 64 hex digits of the token's SHA-256";
        return -1;
    }
    if (!field(&s, end, &f, &fl) || fl > ST_REG_ID_MAX) {
        *why = "second field must be a tenant ID (1..64 bytes)";
        return -1;
    }
    memcpy(t->tenant, f, fl);
    t->tenant[fl] = '\0';
    if (!st_reg_id_ok(t->tenant)) {
        *why = "invalid tenant ID";
        return -1;
    }
    if (!field(&s, end, &f, &fl)) {
        *why = "third field must list roles (read,write,psk-data,ca,import,admin)";
        return -1;
    }
    t->roles = 0;
    for (const char *r = f, *fe = f + fl; r < fe;) {
        const char *c = memchr(r, ',', (size_t)(fe - r));
        size_t rl = (size_t)((c ? c : fe) - r);
        unsigned bit = st_gw_role_parse(r, rl);
        if (bit == 0) {
            *why = "unknown role (read,write,psk-data,ca,import,admin)";
            return -1;
        }
        t->roles |= bit;
        r += rl + (c ? 1 : 0);
        if (c && r == fe) {
            *why = "empty role";
            return -1;
        }
    }
    if (field(&s, end, &f, &fl)) {
        *why = "extra field after the roles";
        return -1;
    }
    if (t->roles & ST_GW_ROLE_ADMIN)
        t->roles = ST_GW_ROLE_ALL;
    return 0;
}

struct st_gw_tokens *st_gw_tokens_parse(const char *name, const char *buf, size_t len, char *err,
                                        size_t errcap)
{
    struct st_gw_tokens *t = calloc(1, sizeof(*t));
    size_t cap = 0, line = 0;
    if (t == NULL) {
        st_errf(err, errcap, "%s: out of memory", name);
        return NULL;
    }
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p;
        line++;
        p = nl ? nl + 1 : end;
        while (s < le && is_blank(*s))
            s++;
        if (s == le || *s == '#')
            continue;
        if (memchr(s, '\0', (size_t)(le - s))) {
            st_errf(err, errcap, "%s:%zu: NUL byte", name, line);
            goto fail;
        }
        if (t->n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct tok *nv = realloc(t->v, nc * sizeof(*nv));
            if (nv == NULL) {
                st_errf(err, errcap, "%s: out of memory", name);
                goto fail;
            }
            t->v = nv;
            cap = nc;
        }
        const char *why = NULL;
        if (parse_line(s, le, &t->v[t->n], &why) != 0) {
            st_errf(err, errcap, "%s:%zu: %s", name, line, why);
            goto fail;
        }
        for (size_t i = 0; i < t->n; i++)
            if (memcmp(t->v[i].hash, t->v[t->n].hash, 32) == 0) {
                st_errf(err, errcap, "%s:%zu: duplicated token hash", name, line);
                goto fail;
            }
        t->n++;
    }
    return t;
fail:
    st_gw_tokens_free(t);
    return NULL;
}

struct st_gw_tokens *st_gw_tokens_load(const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        st_errf(err, errcap, "%s: cannot open", path);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *nb = cap < (16u << 20) ? realloc(buf, cap * 2) : NULL;
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (buf == NULL || bad) {
        free(buf);
        st_errf(err, errcap, "%s: %s", path, bad ? "read error" : "too large or out of memory");
        return NULL;
    }
    struct st_gw_tokens *t = st_gw_tokens_parse(path, buf, n, err, errcap);
    free(buf);
    return t;
}

void st_gw_tokens_free(struct st_gw_tokens *t)
{
    if (t == NULL)
        return;
    st_wipe(t->v, t->n * sizeof(*t->v));
    free(t->v);
    free(t);
}

size_t st_gw_tokens_count(const struct st_gw_tokens *t) { return t ? t->n : 0; }

int st_gw_tokens_check(const struct st_gw_tokens *t, const char *token, size_t len,
                       char tenant[ST_REG_ID_MAX + 1], unsigned *roles)
{
    uint8_t h[32];
    unsigned int hl = 0;
    size_t found = (size_t)-1;
    if (t == NULL || token == NULL || len == 0 || len > ST_GW_TOKEN_MAX ||
        EVP_Digest(token, len, h, &hl, EVP_sha256(), NULL) != 1)
        return -1;
    /* Every entry is compared; the index is chosen without a data-dependent branch. */
    for (size_t i = 0; i < t->n; i++) {
        size_t eq = (size_t)(st_ct_memcmp(h, t->v[i].hash, 32) == 0);
        size_t mask = (size_t)0 - eq;
        found = (found & ~mask) | (i & mask);
    }
    st_wipe(h, sizeof(h));
    if (found == (size_t)-1)
        return -1;
    memcpy(tenant, t->v[found].tenant, sizeof(t->v[found].tenant));
    *roles = t->v[found].roles;
    return 0;
}
