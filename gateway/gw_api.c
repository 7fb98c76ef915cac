/*
 * REST API of simtrust-gateway (gw_api.h): libmicrohttpd daemon (HTTPS through
 * its GnuTLS support, or plain HTTP for tests and loopback), routing, bearer
 * token authentication with per-tenant isolation, JSON error responses, the
 * request log and the Prometheus metrics endpoint.
 */
#include "gw_api.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "gw_api_internal.h"
#include "gw_api_json.h"
#include "gw_tokens.h"
#include "st_log.h"
#include "st_secret.h"
#include "st_errbuf.h"

#define POOL_MAX 8
#define THREADS 4

struct st_gw_api {
    struct MHD_Daemon *d, *md;
    unsigned port, mport;
    struct st_gw_kek *kek;
    struct st_gw_metrics *metrics;
    char registry[ST_GW_PATH_MAX];

    pthread_rwlock_t lock; /* tokens, ca_dir, cert_days (reload) */
    struct st_gw_tokens *tokens;
    char ca_dir[ST_GW_PATH_MAX];
    int cert_days;

    pthread_mutex_t pool_lock; /* idle registry handles */
    struct st_reg *pool[POOL_MAX];
    size_t npool;

    char *tls_cert, *tls_key; /* PEM text, alive as long as the daemon */
};

/* Per-request registry handle, released in on_completed. */
struct req_ext {
    struct st_api_req q;
    struct st_reg *reg;
};

enum route {
    R_NONE, R_HEALTH, R_OPENAPI, R_GROUPS, R_GROUP, R_ALLOWLIST, R_ALLOW_ENTRY, R_CERTS, R_IMPORT,
    R_DEVICES, R_DEVICE, R_PSK,
};

/* ---- registry handles ---- */

struct st_reg *st_api_reg(struct st_api_req *q)
{
    struct req_ext *x = (struct req_ext *)q;
    struct st_gw_api *a = q->api;
    if (x->reg)
        return x->reg;
    pthread_mutex_lock(&a->pool_lock);
    if (a->npool > 0)
        x->reg = a->pool[--a->npool];
    pthread_mutex_unlock(&a->pool_lock);
    if (x->reg == NULL && st_reg_open_sqlite(a->registry, a->kek, 5000, &x->reg) != ST_REG_OK) {
        st_err("api: cannot open the registry %s", a->registry);
        x->reg = NULL;
    }
    return x->reg;
}

static void reg_release(struct st_gw_api *a, struct st_reg *r)
{
    if (r == NULL)
        return;
    st_reg_rollback(r); /* no transaction survives its request */
    pthread_mutex_lock(&a->pool_lock);
    if (a->npool < POOL_MAX) {
        a->pool[a->npool++] = r;
        r = NULL;
    }
    pthread_mutex_unlock(&a->pool_lock);
    st_reg_close(r);
}

void st_api_ca_settings(struct st_api_req *q, char *ca_dir, size_t cap, int *days)
{
    pthread_rwlock_rdlock(&q->api->lock);
    snprintf(ca_dir, cap, "%s", q->api->ca_dir);
    *days = q->api->cert_days;
    pthread_rwlock_unlock(&q->api->lock);
}

/* ---- responses ---- */

static enum MHD_Result queue(struct st_api_req *q, unsigned status, struct MHD_Response *resp)
{
    if (resp == NULL) {
        q->status = 500;
        return MHD_NO;
    }
    enum MHD_Result r = MHD_queue_response(q->conn, status, resp);
    MHD_destroy_response(resp);
    q->queued = 1;
    q->status = status;
    return r;
}

/* Response bodies carry their length in front, so the free callback can wipe them. */
static void wipe_free(void *p)
{
    if (p) {
        size_t *base = (size_t *)p - 1;
        st_wipe(base, *base + sizeof(size_t));
        free(base);
    }
}

static struct MHD_Response *text_response(const char *text, size_t n)
{
    size_t *base = malloc(sizeof(size_t) + n + 1);
    if (base == NULL)
        return NULL;
    *base = n;
    char *p = (char *)(base + 1);
    memcpy(p, text, n);
    p[n] = '\0';
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(n, p, wipe_free);
    if (r == NULL)
        wipe_free(p);
    return r;
}

static enum MHD_Result json_reply(struct st_api_req *q, unsigned status, json_t *body,
                                  const char *etag, const char *hname, const char *hvalue,
                                  int secret)
{
    struct MHD_Response *resp;
    if (body) {
        char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(body);
        if (text == NULL)
            return queue(q, 500, NULL);
        size_t n = strlen(text);
        resp = text_response(text, n);
        st_wipe(text, n);
        free(text);
        if (resp)
            MHD_add_response_header(resp, "Content-Type", "application/json");
    } else {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    if (resp == NULL)
        return queue(q, 500, NULL);
    if (etag)
        MHD_add_response_header(resp, "ETag", etag);
    if (hname)
        MHD_add_response_header(resp, hname, hvalue);
    MHD_add_response_header(resp, "Cache-Control", secret ? "no-store" : "no-cache");
    return queue(q, status, resp);
}

enum MHD_Result st_api_json(struct st_api_req *q, unsigned status, json_t *body,
                            const char *etag, const char *hname, const char *hvalue)
{
    return json_reply(q, status, body, etag, hname, hvalue, 0);
}

enum MHD_Result st_api_json_secret(struct st_api_req *q, unsigned status, json_t *body,
                                   const char *etag)
{
    return json_reply(q, status, body, etag, "Pragma", "no-cache", 1);
}

enum MHD_Result st_api_no_content(struct st_api_req *q, unsigned status)
{
    return json_reply(q, status, NULL, NULL, NULL, NULL, 0);
}

enum MHD_Result st_api_error(struct st_api_req *q, unsigned status, const char *code,
                             const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    if (status == 401)
        return json_reply(q, status, e, NULL, "WWW-Authenticate",
                          "Bearer realm=\"simtrust-gateway\"", 0);
    if (status == 503)
        return json_reply(q, status, e, NULL, "Retry-After", "1", 0);
    return json_reply(q, status, e, NULL, NULL, NULL, 0);
}

enum MHD_Result st_api_reg_error(struct st_api_req *q, struct st_reg *r, int rc, const char *what)
{
    switch (rc) {
    case ST_REG_NOTFOUND:
        return st_api_error(q, 404, "not-found", "%s not found", what);
    case ST_REG_EEXISTS:
        return st_api_error(q, 409, "conflict", "%s: a unique key is already taken", what);
    case ST_REG_ECONFLICT:
        return st_api_error(q, 412, "precondition-failed", "%s changed (ETag mismatch)", what);
    case ST_REG_EREF:
        return st_api_error(q, 409, "conflict", "%s: referenced record missing or still in use",
                            what);
    case ST_REG_EINVAL:
        return st_api_error(q, 400, "invalid", "%s: invalid record", what);
    case ST_REG_EBUSY:
        return st_api_error(q, 503, "busy", "registry busy, retry");
    default:
        st_err("api: %s %s: %s: %s", q->method, q->path, st_reg_strerror(rc),
               r ? r->errmsg : "no registry");
        return st_api_error(q, 500, "internal", "internal error");
    }
}

/* ---- request helpers ---- */

int st_api_arg(struct st_api_req *q, const char *name, char *buf, size_t cap)
{
    const char *v = MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v == NULL)
        return 0;
    if (strlen(v) >= cap)
        return -1;
    snprintf(buf, cap, "%s", v);
    size_t n = MHD_http_unescape(buf);
    return n == strlen(buf) ? 1 : -1; /* no %00 */
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int st_api_paging(struct st_api_req *q, int64_t *offset, int64_t *limit, enum MHD_Result *res)
{
    char o[32], l[32];
    int ho = st_api_arg(q, "offset", o, sizeof(o)), hl = st_api_arg(q, "limit", l, sizeof(l));
    *offset = 0;
    *limit = ST_API_PAGE_DEFAULT;
    if (ho && (ho < 0 || parse_i64(o, 0, INT64_MAX / 2, offset) != 0)) {
        *res = st_api_error(q, 400, "invalid", "offset: expected an integer >= 0");
        return -1;
    }
    if (hl && (hl < 0 || parse_i64(l, 1, ST_API_PAGE_MAX, limit) != 0)) {
        *res = st_api_error(q, 400, "invalid", "limit: expected an integer 1..%d",
                            ST_API_PAGE_MAX);
        return -1;
    }
    return 0;
}

static void url_escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
}

json_t *st_api_next(const char *base, int64_t offset, int64_t limit, int64_t total,
                    const char *extra_name, const char *extra_value)
{
    char link[512], esc[3 * ST_REG_ID_MAX + 4] = "";
    if (offset + limit >= total)
        return json_null();
    if (extra_name && extra_value)
        url_escape(extra_value, esc, sizeof(esc));
    snprintf(link, sizeof(link), "%s?offset=%lld&limit=%lld%s%s%s", base,
             (long long)(offset + limit), (long long)limit, esc[0] ? "&" : "",
             esc[0] ? extra_name : "", esc[0] ? "=" : "");
    size_t n = strlen(link);
    snprintf(link + n, sizeof(link) - n, "%s", esc);
    return json_string(link);
}

enum MHD_Result st_api_page(struct st_api_req *q, json_t *items, int64_t total, int64_t offset,
                            int64_t limit, const char *base, const char *extra_name,
                            const char *extra_value)
{
    json_t *o = json_pack("{s:o, s:I, s:I, s:I, s:o}", "items", items, "total", (json_int_t)total,
                          "offset", (json_int_t)offset, "limit", (json_int_t)limit, "next",
                          st_api_next(base, offset, limit, total, extra_name, extra_value));
    return st_api_json(q, 200, o, NULL, NULL, NULL);
}

enum MHD_Result st_api_record(struct st_api_req *q, int64_t version, json_t *body,
                              const char *what)
{
    char etag[32];
    st_api_etag(version, etag);
    unsigned pre = st_api_precondition(q, version);
    if (pre != 0)
        json_decref(body);
    if (pre == 304)
        return st_api_json(q, 304, NULL, etag, NULL, NULL);
    if (pre)
        return st_api_error(q, pre, "precondition-failed", "If-Match does not match the %s",
                            what);
    return st_api_json(q, 200, body, etag, NULL, NULL);
}

json_t *st_api_body_object(struct st_api_req *q, enum MHD_Result *res)
{
    char err[256];
    json_t *j = st_gw_json_object(q->body ? q->body : "", q->len, err, sizeof(err));
    if (j == NULL)
        *res = st_api_error(q, 400, "invalid", "%s", err);
    return j;
}

void st_api_wipe_body(struct st_api_req *q)
{
    if (q->body)
        st_wipe(q->body, q->cap);
}

void st_api_etag(int64_t version, char buf[32])
{
    if (st_reg_etag(version, buf, 32) < 0)
        buf[0] = '\0';
}

/* Entity tags of a header: versions of "vN" tags; any = '*'; weak marks W/. */
struct etags {
    int present, any, n;
    int64_t v[16];
    int weak[16];
};

static void parse_etags(const char *h, struct etags *e)
{
    memset(e, 0, sizeof(*e));
    if (h == NULL)
        return;
    e->present = 1;
    for (const char *p = h; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        if (*p == '*') {
            e->any = 1;
            p++;
            continue;
        }
        int weak = 0;
        if (p[0] == 'W' && p[1] == '/') {
            weak = 1;
            p += 2;
        }
        if (*p != '"') { /* malformed: skip to the next comma; it matches nothing */
            while (*p && *p != ',')
                p++;
            continue;
        }
        const char *end = strchr(p + 1, '"');
        if (end == NULL)
            break;
        char tag[32];
        size_t tl = (size_t)(end - p - 1);
        int64_t v;
        if (tl > 1 && tl < sizeof(tag) && p[1] == 'v') {
            memcpy(tag, p + 2, tl - 1);
            tag[tl - 1] = '\0';
            if (parse_i64(tag, 1, INT64_MAX, &v) == 0 && e->n < 16) {
                e->v[e->n] = v;
                e->weak[e->n++] = weak;
            }
        }
        p = end + 1;
    }
}

static int etags_match(const struct etags *e, int64_t cur, int strong)
{
    if (cur == 0)
        return 0;
    if (e->any)
        return 1;
    for (int i = 0; i < e->n; i++)
        if (e->v[i] == cur && !(strong && e->weak[i]))
            return 1;
    return 0;
}

unsigned st_api_precondition(struct st_api_req *q, int64_t current)
{
    struct etags im, inm;
    int read = strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
    parse_etags(MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "If-Match"), &im);
    parse_etags(MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "If-None-Match"), &inm);
    if (im.present && !etags_match(&im, current, 1))
        return 412;
    if (inm.present && etags_match(&inm, current, 0))
        return read ? 304 : 412;
    return 0;
}

int st_api_create_only(struct st_api_req *q)
{
    struct etags inm;
    parse_etags(MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "If-None-Match"), &inm);
    return inm.any;
}

int st_api_tenant_ensure(struct st_reg *r, const char *tenant)
{
    int rc = st_reg_tenant_exists(r, tenant);
    return rc == ST_REG_NOTFOUND ? st_reg_tenant_put(r, tenant) : rc;
}

/* ---- routing ---- */

struct route_def {
    int route;
    const char *allow;   /* methods */
    unsigned role_get;   /* role for GET, 0: no auth */
    unsigned role_other; /* role for other methods */
    int body;            /* 0 none, 1 JSON object, 2 import */
};

static const struct route_def k_routes[] = {
    [R_HEALTH] = {R_HEALTH, "GET, HEAD", 0, 0, 0},
    [R_OPENAPI] = {R_OPENAPI, "GET, HEAD", 0, 0, 0},
    [R_GROUPS] = {R_GROUPS, "GET, HEAD", ST_GW_ROLE_READ, 0, 0},
    [R_GROUP] = {R_GROUP, "GET, HEAD, PUT, DELETE", ST_GW_ROLE_READ, ST_GW_ROLE_WRITE, 1},
    [R_ALLOWLIST] = {R_ALLOWLIST, "GET, HEAD", ST_GW_ROLE_READ, 0, 0},
    [R_ALLOW_ENTRY] = {R_ALLOW_ENTRY, "GET, HEAD, PUT, DELETE", ST_GW_ROLE_READ, ST_GW_ROLE_WRITE,
                       0},
    [R_CERTS] = {R_CERTS, "POST", 0, ST_GW_ROLE_CA, 1},
    [R_IMPORT] = {R_IMPORT, "POST", 0, ST_GW_ROLE_IMPORT, 2},
    [R_DEVICES] = {R_DEVICES, "GET, HEAD", ST_GW_ROLE_READ, 0, 0},
    [R_DEVICE] = {R_DEVICE, "GET, HEAD, PUT, PATCH, DELETE", ST_GW_ROLE_READ, ST_GW_ROLE_WRITE, 1},
    [R_PSK] = {R_PSK, "POST", 0, ST_GW_ROLE_PSK_DATA, 0},
};

static int seg_is(const struct st_api_req *q, size_t i, const char *s)
{
    return i < q->nseg && strcmp(q->seg[i], s) == 0;
}

static int find_route(const struct st_api_req *q)
{
    if (q->nseg == 1 && seg_is(q, 0, "healthz"))
        return R_HEALTH;
    if (q->nseg < 2 || !seg_is(q, 0, "v1"))
        return R_NONE;
    if (q->nseg == 2 && seg_is(q, 1, "openapi.yaml"))
        return R_OPENAPI;
    if (seg_is(q, 1, "groups")) {
        if (q->nseg == 2)
            return R_GROUPS;
        if (q->nseg == 3)
            return R_GROUP;
        if (q->nseg == 4 && seg_is(q, 3, "allowlist"))
            return R_ALLOWLIST;
        if (q->nseg == 5 && seg_is(q, 3, "allowlist"))
            return R_ALLOW_ENTRY;
        if (q->nseg == 4 && seg_is(q, 3, "certificates"))
            return R_CERTS;
        if (q->nseg == 4 && seg_is(q, 3, "import"))
            return R_IMPORT;
    } else if (seg_is(q, 1, "devices")) {
        if (q->nseg == 2)
            return R_DEVICES;
        if (q->nseg == 3)
            return R_DEVICE;
        if (q->nseg == 4 && seg_is(q, 3, "psk"))
            return R_PSK;
    }
    return R_NONE;
}

static int method_allowed(const char *allow, const char *m)
{
    size_t ml = strlen(m);
    for (const char *p = allow; (p = strstr(p, m)) != NULL; p += ml)
        if ((p == allow || p[-1] == ' ') && (p[ml] == ',' || p[ml] == '\0'))
            return 1;
    return 0;
}

/* Splits the raw path into percent-decoded segments; -1 on a bad path. */
static int split_path(struct st_api_req *q, const char *url)
{
    const char *p = url;
    snprintf(q->path, sizeof(q->path), "%s", url);
    if (*p != '/')
        return -1;
    while (*p == '/' && q->nseg < ST_API_MAX_SEGS) {
        const char *s = ++p;
        while (*p && *p != '/')
            p++;
        if (p == s) {
            if (*p == '\0' && q->nseg > 0)
                break; /* one trailing slash */
            return -1;
        }
        char *seg = strndup(s, (size_t)(p - s));
        if (seg == NULL)
            return -1;
        size_t n = MHD_http_unescape(seg);
        q->seg[q->nseg++] = seg;
        if (n != strlen(seg) || n == 0)
            return -1; /* %00 or empty after decoding */
    }
    return *p == '\0' ? 0 : -1;
}

static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    /* Path: decoded per segment in split_path; query values: decoded here. */
    return strlen(s);
}

/* Content types accepted for a body kind. */
static int content_type_ok(const char *ct, int kind, int patch)
{
    char mt[64];
    size_t n = 0;
    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    while (ct[n] && ct[n] != ';' && ct[n] != ' ' && n < sizeof(mt) - 1) {
        mt[n] = ct[n];
        n++;
    }
    mt[n] = '\0';
    if (strcasecmp(mt, "application/json") == 0)
        return 1;
    if (patch && strcasecmp(mt, "application/merge-patch+json") == 0)
        return 1;
    if (kind == 2 && (strcasecmp(mt, "application/x-ndjson") == 0 ||
                      strcasecmp(mt, "application/jsonl") == 0))
        return 1;
    return 0;
}

/* Authorization: Bearer <token>. 0 ok; 401 / 403 status otherwise. */
static unsigned authenticate(struct st_api_req *q, unsigned role, const char **why)
{
    const char *h = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Authorization");
    *why = "missing bearer token";
    if (h == NULL)
        return 401;
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        *why = "Authorization must be: Bearer <token>";
        return 401;
    }
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n > 0 && h[n - 1] == ' ')
        n--;
    pthread_rwlock_rdlock(&q->api->lock);
    int rc = st_gw_tokens_check(q->api->tokens, h, n, q->tenant, &q->roles);
    pthread_rwlock_unlock(&q->api->lock);
    if (rc != 0) {
        q->tenant[0] = '\0';
        *why = "invalid token";
        return 401;
    }
    if ((q->roles & role) != role) {
        *why = st_gw_role_name(role);
        return 403;
    }
    return 0;
}

static enum MHD_Result dispatch(struct st_api_req *q)
{
    switch (q->route) {
    case R_HEALTH:
        return st_api_json(q, 200, json_pack("{s:s}", "status", "ok"), NULL, NULL, NULL);
    case R_OPENAPI: {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            st_gw_api_openapi_yaml_len, (void *)st_gw_api_openapi_yaml, MHD_RESPMEM_PERSISTENT);
        if (r)
            MHD_add_response_header(r, "Content-Type", "application/yaml");
        return queue(q, 200, r);
    }
    case R_GROUPS: return st_api_groups_list(q);
    case R_GROUP: return st_api_group(q);
    case R_ALLOWLIST: return st_api_allowlist_list(q);
    case R_ALLOW_ENTRY: return st_api_allowlist_entry(q);
    case R_CERTS: return st_api_certificates(q);
    case R_IMPORT: return st_api_import(q);
    case R_DEVICES: return st_api_devices_list(q);
    case R_DEVICE: return st_api_device(q);
    case R_PSK: return st_api_device_psk(q);
    default: return st_api_error(q, 404, "not-found", "no such resource");
    }
}

/* First call of a request: route, authenticate, check the body's type and size. */
static enum MHD_Result on_headers(struct st_api_req *q, const char *url)
{
    if (split_path(q, url) != 0 || (q->route = find_route(q)) == R_NONE)
        return st_api_error(q, 404, "not-found", "no such resource");
    const struct route_def *rd = &k_routes[q->route];
    const char *m = q->method;
    if (!method_allowed(rd->allow, m)) {
        q->status = 405;
        json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", "method-not-allowed", "message",
                              "method not allowed on this resource");
        return st_api_json(q, 405, e, NULL, "Allow", rd->allow);
    }
    int read = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    unsigned role = read ? rd->role_get : rd->role_other;
    if (q->route != R_HEALTH && q->route != R_OPENAPI) {
        const char *why;
        unsigned st = authenticate(q, role, &why);
        if (st == 401)
            return st_api_error(q, 401, "unauthorized", "%s", why);
        if (st == 403)
            return st_api_error(q, 403, "forbidden", "this token lacks the role '%s'",
                                why ? why : "?");
    }
    int body = read || strcmp(m, "DELETE") == 0 ? 0 : rd->body;
    q->limit = body == 2 ? ST_API_IMPORT_MAX : ST_API_BODY_MAX;
    const char *cl = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Content-Length");
    int64_t clen = 0;
    if (cl && parse_i64(cl, 0, INT64_MAX, &clen) == 0 && (uint64_t)clen > q->limit)
        return st_api_error(q, 413, "too-large", "body larger than %zu bytes", q->limit);
    if (body) {
        const char *ct = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Content-Type");
        if (!content_type_ok(ct, body, strcmp(m, "PATCH") == 0))
            return st_api_error(q, 415, "unsupported-media-type", "Content-Type must be %s",
                                body == 2 ? "application/json or application/x-ndjson"
                                          : "application/json");
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct req_ext *x = *con_cls;
    (void)version;
    if (x == NULL) {
        if ((x = calloc(1, sizeof(*x))) == NULL)
            return MHD_NO;
        *con_cls = x;
        x->q.api = cls;
        x->q.conn = c;
        x->q.method = method;
        clock_gettime(CLOCK_MONOTONIC, &x->q.t0);
        return on_headers(&x->q, url);
    }
    struct st_api_req *q = &x->q;
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (q->queued || q->too_large)
            return MHD_YES;
        if (n > q->limit - q->len) {
            q->too_large = 1;
            return MHD_YES;
        }
        if (q->len + n + 1 > q->cap) {
            size_t nc = q->cap ? q->cap : 4096;
            while (nc < q->len + n + 1)
                nc *= 2;
            char *nb = malloc(nc);
            if (nb == NULL)
                return MHD_NO;
            if (q->body) {
                memcpy(nb, q->body, q->len);
                st_wipe(q->body, q->cap);
                free(q->body);
            }
            q->body = nb;
            q->cap = nc;
        }
        memcpy(q->body + q->len, upload_data, n);
        q->len += n;
        q->body[q->len] = '\0';
        return MHD_YES;
    }
    if (q->queued)
        return MHD_YES;
    if (q->too_large)
        return st_api_error(q, 413, "too-large", "body larger than %zu bytes", q->limit);
    enum MHD_Result r = dispatch(q);
    st_api_wipe_body(q);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct st_gw_api *a = cls;
    struct req_ext *x = *con_cls;
    (void)c;
    (void)toe;
    if (x == NULL)
        return;
    struct st_api_req *q = &x->q;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - q->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - q->t0.tv_nsec) / 1e6;
    if (q->status)
        st_gw_metrics_api(a->metrics, q->status);
    st_info("api %s %s %u tenant=%s %.1fms", q->method, q->path, q->status,
            q->tenant[0] ? q->tenant : "-", ms);
    reg_release(a, x->reg);
    for (size_t i = 0; i < q->nseg; i++)
        free(q->seg[i]);
    if (q->body) {
        st_wipe(q->body, q->cap);
        free(q->body);
    }
    free(x);
    *con_cls = NULL;
}

/* ---- metrics endpoint ---- */

static enum MHD_Result on_metrics(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct st_gw_api *a = cls;
    static int first;
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = &first;
        return MHD_YES;
    }
    *upload_data_size = 0;
    struct MHD_Response *r;
    unsigned status = 200;
    char *text = NULL;
    size_t len = 0;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = 405;
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (r)
            MHD_add_response_header(r, "Allow", "GET, HEAD");
    } else if (strcmp(url, "/metrics") != 0 || a->metrics == NULL) {
        status = 404;
        r = MHD_create_response_from_buffer(10, (void *)"not found\n", MHD_RESPMEM_PERSISTENT);
    } else if (st_gw_metrics_render(a->metrics, &text, &len) != 0) {
        status = 500;
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (r == NULL)
            free(text);
        else
            MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    }
    if (r == NULL)
        return MHD_NO;
    enum MHD_Result res = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return res;
}

/* ---- daemon ---- */

/* fmt is microhttpd's own format string. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    st_debug("api: microhttpd: %s", line);
}

static char *read_file(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int bad = ferror(f) || n > max || n == 0;
    fclose(f);
    if (buf == NULL || bad) {
        if (buf)
            st_wipe(buf, max + 1);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static void wipe_free_str(char *s)
{
    if (s) {
        st_wipe(s, strlen(s));
        free(s);
    }
}

/* Resolves "host:port" for MHD_OPTION_SOCK_ADDR. */
static int listen_addr(const char *what, const char *addr, struct sockaddr_storage *ss,
                       int *v6, char *err, size_t errcap)
{
    char host[ST_GW_ADDR_MAX];
    unsigned port;
    struct addrinfo hints, *res = NULL;
    if (st_gw_addr_split(addr, host, sizeof(host), &port) != 0) {
        st_errf(err, errcap, "%s: bad address '%s' (host:port)", what, addr);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", port);
    int gai = getaddrinfo(host[0] ? host : NULL, ps, &hints, &res);
    if (gai != 0 || res == NULL) {
        st_errf(err, errcap, "%s: cannot resolve '%s': %s", what, host, gai_strerror(gai));
        return -1;
    }
    /* An empty host means any IPv4 address. */
    struct addrinfo *pick = res;
    for (struct addrinfo *ai = res; ai && !host[0]; ai = ai->ai_next)
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, pick->ai_addr, pick->ai_addrlen);
    *v6 = pick->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

static int apply_settings(struct st_gw_api *a, const struct st_gw_config *cfg, char *err,
                          size_t errcap)
{
    struct st_gw_tokens *t = NULL;
    if (cfg->api_tokens[0] && (t = st_gw_tokens_load(cfg->api_tokens, err, errcap)) == NULL)
        return -1;
    if (cfg->api_listen[0] && cfg->api_tokens[0] == '\0') {
        st_errf(err, errcap, "api_tokens is required with api_listen");
        return -1;
    }
    if (cfg->cert_days < 1 || cfg->cert_days > 36500) {
        st_gw_tokens_free(t);
        st_errf(err, errcap, "cert_days must be 1..36500");
        return -1;
    }
    pthread_rwlock_wrlock(&a->lock);
    struct st_gw_tokens *old = a->tokens;
    a->tokens = t;
    snprintf(a->ca_dir, sizeof(a->ca_dir), "%s", cfg->ca_dir);
    a->cert_days = cfg->cert_days;
    pthread_rwlock_unlock(&a->lock);
    st_gw_tokens_free(old);
    return 0;
}

int st_gw_api_reload(struct st_gw_api *api, const struct st_gw_config *cfg, char *err,
                     size_t errcap)
{
    int rc = apply_settings(api, cfg, err, errcap);
    if (rc == 0)
        st_info("api: reloaded (%zu tokens)", st_gw_tokens_count(api->tokens));
    return rc;
}

unsigned st_gw_api_port(const struct st_gw_api *api) { return api ? api->port : 0; }

unsigned st_gw_api_metrics_port(const struct st_gw_api *api) { return api ? api->mport : 0; }

static unsigned bound_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

static int start_api(struct st_gw_api *a, const struct st_gw_config *cfg, char *err,
                     size_t errcap)
{
    struct sockaddr_storage ss;
    int v6 = 0;
    if (listen_addr("api_listen", cfg->api_listen, &ss, &v6, err, errcap) != 0)
        return -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (!cfg->api_plain_http) {
        const char *cert = cfg->api_cert[0] ? cfg->api_cert : cfg->server_cert;
        const char *key = cfg->api_key[0] ? cfg->api_key : cfg->server_key;
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            st_errf(err, errcap, "api: libmicrohttpd was built without TLS");
            return -1;
        }
        if (!cert[0] || !key[0] || (a->tls_cert = read_file(cert, 1u << 20)) == NULL ||
            (a->tls_key = read_file(key, 1u << 20)) == NULL) {
            st_errf(err, errcap, "api: cannot read api_cert/api_key ('%s', '%s')", cert, key);
            return -1;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, a->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, a->tls_key},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem no_opts[] = {{MHD_OPTION_END, 0, NULL}};
    a->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS, MHD_OPTION_CONNECTION_LIMIT, 512u,
        MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_ARRAY, cfg->api_plain_http ? no_opts : tls_opts, MHD_OPTION_END);
    if (a->d == NULL) {
        st_errf(err, errcap, "api: cannot listen on %s%s", cfg->api_listen,
               cfg->api_plain_http ? "" : " (or the certificate/key is unusable)");
        return -1;
    }
    a->port = bound_port(a->d);
    return 0;
}

static int start_metrics(struct st_gw_api *a, const struct st_gw_config *cfg, char *err,
                         size_t errcap)
{
    struct sockaddr_storage ss;
    int v6 = 0;
    if (listen_addr("metrics_listen", cfg->metrics_listen, &ss, &v6, err, errcap) != 0)
        return -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;
    if (v6)
        flags |= MHD_USE_IPv6;
    a->md = MHD_start_daemon(flags, 0, NULL, NULL, on_metrics, a, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
                             MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_EXTERNAL_LOGGER,
                             mhd_log, NULL, MHD_OPTION_END);
    if (a->md == NULL) {
        st_errf(err, errcap, "metrics: cannot listen on %s", cfg->metrics_listen);
        return -1;
    }
    a->mport = bound_port(a->md);
    return 0;
}

struct st_gw_api *st_gw_api_start(const struct st_gw_config *cfg, struct st_gw_kek *kek,
                                  struct st_gw_metrics *metrics, char *err, size_t errcap)
{
    struct st_gw_api *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        st_errf(err, errcap, "out of memory");
        return NULL;
    }
    pthread_rwlock_init(&a->lock, NULL);
    pthread_mutex_init(&a->pool_lock, NULL);
    a->kek = kek;
    a->metrics = metrics;
    snprintf(a->registry, sizeof(a->registry), "%s", cfg->registry);
    if (apply_settings(a, cfg, err, errcap) != 0)
        goto fail;
    if (cfg->api_listen[0]) {
        /* Open (and create) the registry once now: a bad path fails the start. */
        struct st_reg *r = NULL;
        if (st_reg_open_sqlite(a->registry, kek, 5000, &r) != ST_REG_OK) {
            st_errf(err, errcap, "api: cannot open the registry %s", a->registry);
            goto fail;
        }
        a->pool[a->npool++] = r;
        if (start_api(a, cfg, err, errcap) != 0)
            goto fail;
    }
    if (cfg->metrics_listen[0] && start_metrics(a, cfg, err, errcap) != 0)
        goto fail;
    if (a->d)
        st_info("api: listening on port %u (%s)", a->port, cfg->api_plain_http ? "HTTP" : "HTTPS");
    if (a->md)
        st_info("metrics: listening on port %u", a->mport);
    return a;
fail:
    st_gw_api_stop(a);
    return NULL;
}

void st_gw_api_stop(struct st_gw_api *a)
{
    if (a == NULL)
        return;
    if (a->d)
        MHD_stop_daemon(a->d);
    if (a->md)
        MHD_stop_daemon(a->md);
    for (size_t i = 0; i < a->npool; i++)
        st_reg_close(a->pool[i]);
    st_gw_tokens_free(a->tokens);
    wipe_free_str(a->tls_key);
    free(a->tls_cert);
    pthread_rwlock_destroy(&a->lock);
    pthread_mutex_destroy(&a->pool_lock);
    free(a);
}
