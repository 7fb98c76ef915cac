/*
 * Configuration of simtrust-gateway (gw_config.h): defaults, the
 * "key = value" file parser, flags, cross-field checks. The gateway is the
 * IoT server middleware of IoT.04 section 3.2.5; these keys choose how it
 * terminates (D)TLS for devices (N1) and reaches the IoT server application
 * (N2).
 */
#include "gw_config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_log.h"

#define LINE_MAX_BYTES 4096
#define FILE_MAX_BYTES (1024 * 1024)

enum kind { K_ADDR, K_PATH, K_BOOL, K_INT, K_DURATION, K_TLSVER, K_LOGLEVEL, K_LOGFORMAT };

struct key {
    const char *name;
    enum kind kind;
    size_t off;
    size_t size; /* string capacity */
    long min, max; /* K_INT, K_DURATION (ms) */
};

#define STR(k, f) {#f, k, offsetof(struct st_gw_config, f), sizeof(((struct st_gw_config *)0)->f), 0, 0}
#define NUM(k, n, f, lo, hi) {n, k, offsetof(struct st_gw_config, f), 0, lo, hi}

static const struct key keys[] = {
    STR(K_ADDR, tls_listen),
    STR(K_ADDR, dtls_listen),
    STR(K_ADDR, backend),
    NUM(K_BOOL, "proxy_protocol", proxy_protocol, 0, 1),
    STR(K_ADDR, api_listen),
    STR(K_PATH, api_cert),
    STR(K_PATH, api_key),
    STR(K_PATH, api_tokens),
    NUM(K_BOOL, "api_plain_http", api_plain_http, 0, 1),
    STR(K_ADDR, metrics_listen),
    STR(K_PATH, registry),
    STR(K_PATH, kek_file),
    STR(K_PATH, kek_pkcs11_module),
    STR(K_PATH, kek_pkcs11_token),
    STR(K_PATH, kek_pkcs11_key),
    STR(K_PATH, kek_pkcs11_pin_file),
    STR(K_PATH, server_cert),
    STR(K_PATH, server_key),
    STR(K_PATH, ca_dir),
    NUM(K_INT, "cert_days", cert_days, 1, 36500),
    NUM(K_INT, "workers", workers, 0, 1024),
    NUM(K_INT, "max_connections", max_connections, 1, 10000000),
    NUM(K_DURATION, "handshake_timeout", handshake_timeout_ms, 1, 86400000L),
    NUM(K_DURATION, "idle_timeout", idle_timeout_ms, 1, 7L * 86400000L),
    NUM(K_DURATION, "backend_timeout", backend_timeout_ms, 1, 3600000L),
    NUM(K_INT, "dtls_mtu", dtls_mtu, 256, 65507),
    NUM(K_TLSVER, "tls_min_version", tls_min_version, 0, 0),
    NUM(K_BOOL, "psk_dhe_only", psk_dhe_only, 0, 1),
    NUM(K_LOGLEVEL, "log_level", log_level, 0, 0),
    NUM(K_LOGFORMAT, "log_format", log_json, 0, 0),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void seterr(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t cap, const char *fmt, ...)
{
    if (err == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

void st_gw_config_defaults(struct st_gw_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->tls_listen, sizeof(c->tls_listen), "%s", "0.0.0.0:8443");
    c->proxy_protocol = 1;
    snprintf(c->registry, sizeof(c->registry), "%s", "/var/lib/simtrust/registry.db");
    snprintf(c->kek_pkcs11_token, sizeof(c->kek_pkcs11_token), "%s", "simtrust");
    snprintf(c->kek_pkcs11_key, sizeof(c->kek_pkcs11_key), "%s", "kek");
    c->cert_days = 365;
    c->workers = 0;
    c->max_connections = 50000;
    c->handshake_timeout_ms = 60000;
    c->idle_timeout_ms = 300000;
    c->backend_timeout_ms = 5000;
    c->dtls_mtu = 1200;
    c->tls_min_version = 0x0303;
    c->psk_dhe_only = 1;
    c->log_level = ST_LOG_INFO;
    c->log_json = 0;
}

int st_gw_addr_split(const char *addr, char *host, size_t hostcap, unsigned *port)
{
    if (addr == NULL || host == NULL || hostcap == 0 || port == NULL)
        return -1;
    const char *colon, *hs;
    size_t hl;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        hs = addr + 1;
        hl = (size_t)(close - hs);
        if (hl == 0)
            return -1;
        for (size_t i = 0; i < hl; i++)
            if (!isxdigit((unsigned char)hs[i]) && hs[i] != ':' && hs[i] != '.' && hs[i] != '%')
                return -1;
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL)
            return -1;
        hs = addr;
        hl = (size_t)(colon - addr);
        for (size_t i = 0; i < hl; i++) {
            unsigned char ch = (unsigned char)hs[i];
            if (ch == ':' || ch == '[' || ch == ']' || ch <= ' ' || ch >= 0x7f)
                return -1; /* an IPv6 address needs brackets */
        }
    }
    const char *p = colon + 1;
    if (*p == '\0' || strlen(p) > 5)
        return -1;
    unsigned long v = 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535 || hl >= hostcap)
        return -1;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    *port = (unsigned)v;
    return 0;
}

/* "on"/"off" and the usual synonyms. */
static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"};
    static const char *const no[] = {"off", "false", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int parse_long(const char *v, const char **end, long *out)
{
    if (*v < '0' || *v > '9')
        return -1;
    long n = 0;
    for (; *v >= '0' && *v <= '9'; v++) {
        if (n > (LONG_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*v - '0');
    }
    *end = v;
    *out = n;
    return 0;
}

/* "250ms", "30s", "5m", "1h"; a bare number is seconds. Result in ms. */
static int parse_duration(const char *v, long *ms)
{
    const char *unit;
    long n;
    if (parse_long(v, &unit, &n) != 0)
        return -1;
    long mul;
    if (*unit == '\0' || strcmp(unit, "s") == 0)
        mul = 1000;
    else if (strcmp(unit, "ms") == 0)
        mul = 1;
    else if (strcmp(unit, "m") == 0)
        mul = 60000;
    else if (strcmp(unit, "h") == 0)
        mul = 3600000;
    else
        return -1;
    if (n > LONG_MAX / mul)
        return -1;
    *ms = n * mul;
    return 0;
}

static const struct key *find_key(const char *name, size_t len)
{
    char norm[64];
    if (len == 0 || len >= sizeof(norm))
        return NULL;
    for (size_t i = 0; i < len; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    norm[len] = '\0';
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, norm) == 0)
            return &keys[i];
    return NULL;
}

static int set_key(struct st_gw_config *c, const struct key *k, const char *value, char *err,
                   size_t errcap)
{
    char *base = (char *)c + k->off;
    int *ip = (int *)(void *)base;
    int b;
    long n;
    const char *end;
    size_t vl = strlen(value);
    switch (k->kind) {
    case K_ADDR:
    case K_PATH:
        if (vl >= k->size) {
            seterr(err, errcap, "%s: value too long (%zu bytes, at most %zu)", k->name, vl,
                   k->size - 1);
            return -1;
        }
        if (k->kind == K_ADDR && vl > 0) {
            char host[ST_GW_ADDR_MAX];
            unsigned port;
            if (st_gw_addr_split(value, host, sizeof(host), &port) != 0) {
                seterr(err, errcap,
                       "%s: bad address \"%s\" (want host:port, [v6]:port or :port)", k->name,
                       value);
                return -1;
            }
        }
        memcpy(base, value, vl + 1);
        return 0;
    case K_BOOL:
        if (parse_bool(value, &b) != 0) {
            seterr(err, errcap, "%s: want on or off, not \"%s\"", k->name, value);
            return -1;
        }
        *ip = b;
        return 0;
    case K_INT:
        if (parse_long(value, &end, &n) != 0 || *end != '\0' || n < k->min || n > k->max) {
            seterr(err, errcap, "%s: want an integer in %ld..%ld, not \"%s\"", k->name, k->min,
                   k->max, value);
            return -1;
        }
        *ip = (int)n;
        return 0;
    case K_DURATION:
        if (parse_duration(value, &n) != 0) {
            seterr(err, errcap, "%s: bad duration \"%s\" (e.g. 250ms, 30s, 5m)", k->name, value);
            return -1;
        }
        if (n < k->min || n > k->max) {
            seterr(err, errcap, "%s: %s is out of range (1ms..%lds)", k->name, value,
                   k->max / 1000);
            return -1;
        }
        *ip = (int)n;
        return 0;
    case K_TLSVER:
        if (strcmp(value, "1.2") == 0)
            *ip = 0x0303;
        else if (strcmp(value, "1.3") == 0)
            *ip = 0x0304;
        else {
            seterr(err, errcap, "%s: want 1.2 or 1.3, not \"%s\"", k->name, value);
            return -1;
        }
        return 0;
    case K_LOGLEVEL:
        b = st_log_parse_level(value);
        if (b < 0) {
            seterr(err, errcap, "%s: want error, warn, info or debug, not \"%s\"", k->name,
                   value);
            return -1;
        }
        *ip = b;
        return 0;
    case K_LOGFORMAT:
        if (strcmp(value, "text") == 0)
            *ip = 0;
        else if (strcmp(value, "json") == 0)
            *ip = 1;
        else {
            seterr(err, errcap, "%s: want text or json, not \"%s\"", k->name, value);
            return -1;
        }
        return 0;
    }
    return -1;
}

int st_gw_config_set(struct st_gw_config *c, const char *key, const char *value, char *err,
                     size_t errcap)
{
    if (c == NULL || key == NULL || value == NULL) {
        seterr(err, errcap, "missing key or value");
        return -1;
    }
    const struct key *k = find_key(key, strlen(key));
    if (k == NULL) {
        seterr(err, errcap, "unknown key \"%.64s\"", key);
        return -1;
    }
    return set_key(c, k, value, err, errcap);
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* One line (no newline, no NUL). 0 ok, -1 error in msg. */
static int parse_line(struct st_gw_config *c, char *line, size_t len, unsigned char *seen,
                      char *msg, size_t msgcap)
{
    size_t i = 0;
    while (i < len && is_space(line[i]))
        i++;
    if (i == len || line[i] == '#')
        return 0;
    size_t ks = i;
    while (i < len && (isalnum((unsigned char)line[i]) || line[i] == '_' || line[i] == '-'))
        i++;
    size_t kl = i - ks;
    while (i < len && is_space(line[i]))
        i++;
    if (kl == 0 || i == len || line[i] != '=') {
        seterr(msg, msgcap, "expected \"key = value\"");
        return -1;
    }
    const struct key *k = find_key(line + ks, kl);
    if (k == NULL) {
        seterr(msg, msgcap, "unknown key \"%.*s\"", (int)(kl > 64 ? 64 : kl), line + ks);
        return -1;
    }
    size_t idx = (size_t)(k - keys);
    if (seen[idx]) {
        seterr(msg, msgcap, "duplicate key \"%s\"", k->name);
        return -1;
    }
    seen[idx] = 1;
    i++; /* '=' */
    while (i < len && is_space(line[i]))
        i++;
    char *value = line + i;
    size_t vl;
    if (i < len && line[i] == '"') {
        /* Quoted: \" and \\ escapes; after the closing quote only a comment. */
        size_t o = 0;
        i++;
        for (;;) {
            if (i == len) {
                seterr(msg, msgcap, "%s: unterminated quoted value", k->name);
                return -1;
            }
            char ch = line[i++];
            if (ch == '"')
                break;
            if (ch == '\\') {
                if (i == len || (line[i] != '"' && line[i] != '\\')) {
                    seterr(msg, msgcap, "%s: bad escape in quoted value (only \\\" and \\\\)",
                           k->name);
                    return -1;
                }
                ch = line[i++];
            }
            value[o++] = ch; /* o < i always: in place is safe */
        }
        vl = o;
        while (i < len && is_space(line[i]))
            i++;
        if (i < len && line[i] != '#') {
            seterr(msg, msgcap, "%s: text after the closing quote", k->name);
            return -1;
        }
    } else {
        size_t e = i;
        while (e < len && !(line[e] == '#' && e > 0 && is_space(line[e - 1])))
            e++;
        while (e > i && is_space(line[e - 1]))
            e--;
        vl = e - i;
    }
    for (size_t j = 0; j < vl; j++)
        if ((unsigned char)value[j] < 0x20 && value[j] != '\t') {
            seterr(msg, msgcap, "%s: control character in value", k->name);
            return -1;
        }
    value[vl] = '\0';
    return set_key(c, k, value, msg, msgcap);
}

int st_gw_config_parse(const char *name, const char *buf, size_t len, struct st_gw_config *c,
                       char *err, size_t errcap)
{
    if (name == NULL)
        name = "config";
    if (c == NULL || (buf == NULL && len > 0)) {
        seterr(err, errcap, "%s: no input", name);
        return -1;
    }
    unsigned char seen[NKEYS];
    memset(seen, 0, sizeof(seen));
    char line[LINE_MAX_BYTES + 2];
    char msg[512];
    size_t pos = 0;
    unsigned lineno = 0;
    /* Skip a UTF-8 byte order mark. */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < len) {
        lineno++;
        const char *s = buf + pos;
        size_t avail = len - pos;
        const char *nl = memchr(s, '\n', avail);
        size_t ll = nl != NULL ? (size_t)(nl - s) : avail;
        pos += ll + (nl != NULL ? 1 : 0);
        if (ll > 0 && s[ll - 1] == '\r')
            ll--;
        if (ll > LINE_MAX_BYTES) {
            seterr(err, errcap, "%s:%u: line longer than %d bytes", name, lineno, LINE_MAX_BYTES);
            return -1;
        }
        if (memchr(s, '\0', ll) != NULL) {
            seterr(err, errcap, "%s:%u: NUL byte in line", name, lineno);
            return -1;
        }
        memcpy(line, s, ll);
        line[ll] = '\0';
        if (parse_line(c, line, ll, seen, msg, sizeof(msg)) != 0) {
            seterr(err, errcap, "%s:%u: %s", name, lineno, msg);
            return -1;
        }
    }
    return 0;
}

int st_gw_config_load(const char *path, struct st_gw_config *c, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        seterr(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(FILE_MAX_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        seterr(err, errcap, "%s: out of memory", path);
        return -1;
    }
    size_t n = fread(buf, 1, FILE_MAX_BYTES + 1, f);
    int rd_err = ferror(f);
    fclose(f);
    int rc = -1;
    if (rd_err)
        seterr(err, errcap, "%s: read error", path);
    else if (n > FILE_MAX_BYTES)
        seterr(err, errcap, "%s: file larger than %d bytes", path, FILE_MAX_BYTES);
    else
        rc = st_gw_config_parse(path, buf, n, c, err, errcap);
    free(buf);
    return rc;
}

static int addr_ok(const char *name, const char *addr, char *err, size_t errcap, char *host,
                   unsigned *port)
{
    if (st_gw_addr_split(addr, host, ST_GW_ADDR_MAX, port) != 0) {
        seterr(err, errcap, "%s: bad address \"%s\"", name, addr);
        return -1;
    }
    return 0;
}

static int is_loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

int st_gw_config_check(const struct st_gw_config *c, int embedded_app, char *err, size_t errcap)
{
    char host[ST_GW_ADDR_MAX];
    unsigned port;
    struct {
        const char *name;
        const char *v;
    } addrs[] = {{"tls_listen", c->tls_listen},
                 {"dtls_listen", c->dtls_listen},
                 {"backend", c->backend},
                 {"api_listen", c->api_listen},
                 {"metrics_listen", c->metrics_listen}};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
        if (addrs[i].v[0] != '\0' && addr_ok(addrs[i].name, addrs[i].v, err, errcap, host, &port))
            return -1;
    if (c->tls_listen[0] == '\0' && c->dtls_listen[0] == '\0') {
        seterr(err, errcap, "no device listener: set tls_listen and/or dtls_listen");
        return -1;
    }
    if (!embedded_app) {
        if (c->backend[0] == '\0') {
            seterr(err, errcap, "backend is required (host:port of the IoT server application)");
            return -1;
        }
        st_gw_addr_split(c->backend, host, sizeof(host), &port);
        if (host[0] == '\0' || port == 0) {
            seterr(err, errcap, "backend: needs a host and a non-zero port");
            return -1;
        }
    }
    if (c->kek_file[0] == '\0' && c->kek_pkcs11_module[0] == '\0') {
        seterr(err, errcap,
               "kek_file or kek_pkcs11_module is required (key-encryption key of the "
               "registry)");
        return -1;
    }
    if (c->kek_file[0] != '\0' && c->kek_pkcs11_module[0] != '\0') {
        seterr(err, errcap,
               "kek_file and kek_pkcs11_module exclude each other (one key-encryption key)");
        return -1;
    }
    if (c->kek_pkcs11_module[0] != '\0' &&
        (c->kek_pkcs11_token[0] == '\0' || c->kek_pkcs11_key[0] == '\0' ||
         c->kek_pkcs11_pin_file[0] == '\0')) {
        seterr(err, errcap,
               "kek_pkcs11_module needs kek_pkcs11_token, kek_pkcs11_key and "
               "kek_pkcs11_pin_file");
        return -1;
    }
    if (c->registry[0] == '\0') {
        seterr(err, errcap, "registry is required (SQLite path)");
        return -1;
    }
    if ((c->server_cert[0] == '\0') != (c->server_key[0] == '\0')) {
        seterr(err, errcap, "server_cert and server_key go together");
        return -1;
    }
    if ((c->api_cert[0] == '\0') != (c->api_key[0] == '\0')) {
        seterr(err, errcap, "api_cert and api_key go together");
        return -1;
    }
    if (c->tls_min_version != 0x0303 && c->tls_min_version != 0x0304) {
        seterr(err, errcap, "tls_min_version: want 1.2 or 1.3");
        return -1;
    }
    if (c->api_listen[0] != '\0') {
        if (c->api_tokens[0] == '\0') {
            seterr(err, errcap, "api_tokens is required with api_listen");
            return -1;
        }
        st_gw_addr_split(c->api_listen, host, sizeof(host), &port);
        if (c->api_plain_http) {
            if (!is_loopback(host)) {
                seterr(err, errcap,
                       "api_plain_http: only on a loopback api_listen (127.0.0.1, ::1, "
                       "localhost), not \"%s\"",
                       c->api_listen);
                return -1;
            }
        } else if (c->api_cert[0] == '\0' && c->server_cert[0] == '\0') {
            seterr(err, errcap,
                   "api_listen is HTTPS: set api_cert/api_key (or server_cert/server_key), or "
                   "api_plain_http = on on loopback");
            return -1;
        }
    }
    if (c->workers < 0 || c->max_connections < 1 || c->cert_days < 1 ||
        c->handshake_timeout_ms < 1 || c->idle_timeout_ms < 1 || c->backend_timeout_ms < 1 ||
        c->dtls_mtu < 256 || c->log_level < ST_LOG_ERROR || c->log_level > ST_LOG_DEBUG) {
        seterr(err, errcap, "a numeric setting is out of range");
        return -1;
    }
    /* Two listeners on the same fixed port of the same host cannot both bind. */
    const char *tcp[] = {c->tls_listen, c->api_listen, c->metrics_listen};
    const char *tcpn[] = {"tls_listen", "api_listen", "metrics_listen"};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = i + 1; j < 3; j++) {
            char h1[ST_GW_ADDR_MAX], h2[ST_GW_ADDR_MAX];
            unsigned p1, p2;
            if (tcp[i][0] == '\0' || tcp[j][0] == '\0' ||
                st_gw_addr_split(tcp[i], h1, sizeof(h1), &p1) != 0 ||
                st_gw_addr_split(tcp[j], h2, sizeof(h2), &p2) != 0)
                continue;
            if (p1 != 0 && p1 == p2 && (strcmp(h1, h2) == 0 || h1[0] == '\0' || h2[0] == '\0' ||
                                        strcmp(h1, "0.0.0.0") == 0 || strcmp(h2, "0.0.0.0") == 0)) {
                seterr(err, errcap, "%s and %s use the same port %u", tcpn[i], tcpn[j], p1);
                return -1;
            }
        }
    return 0;
}
