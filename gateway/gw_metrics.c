/*
 * Gateway metrics (gw_metrics.h): relaxed atomics written by every worker,
 * rendered in the Prometheus text exposition format 0.0.4 (issue 5 item 7).
 * Handshake results use the reason names of psk_resolve.h, so every refusal
 * of M1/M2 authentication is visible per reason and method.
 */
#include "gw_metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psk_resolve.h"

/* Upper bounds (seconds) of the handshake histogram; +Inf is implicit. */
static const double k_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                   0.5,   1.0,    2.5,   5.0,  10.0,  30.0, 60.0};
#define NBUCKETS (sizeof(k_buckets) / sizeof(k_buckets[0]))

#define API_CLASSES 4 /* 2xx 3xx 4xx 5xx */

struct st_gw_metrics {
    atomic_uint_fast64_t handshakes[ST_GW_METHODS][ST_GW_AUTH_REASONS];
    /* Per-bucket (not cumulative) counts; the last slot is > 60 s. */
    atomic_uint_fast64_t hist[ST_GW_METHODS][NBUCKETS + 1];
    atomic_uint_fast64_t hist_sum_ns[ST_GW_METHODS];
    atomic_long active[ST_GW_TRANSPORTS];
    atomic_uint_fast64_t conns[ST_GW_TRANSPORTS];
    atomic_uint_fast64_t refused[ST_GW_REFUSALS];
    atomic_uint_fast64_t bytes[2];
    atomic_uint_fast64_t api[API_CLASSES];
    atomic_uint_fast64_t reloads[2];
};

#define INC(a, n) atomic_fetch_add_explicit(&(a), (n), memory_order_relaxed)
#define GET(a) atomic_load_explicit(&(a), memory_order_relaxed)

struct st_gw_metrics *st_gw_metrics_new(void)
{
    /* calloc gives all-zero atomics: valid initial values for lock-free types. */
    return calloc(1, sizeof(struct st_gw_metrics));
}

void st_gw_metrics_free(struct st_gw_metrics *m)
{
    free(m);
}

const char *st_gw_method_name(int method)
{
    static const char *const names[ST_GW_METHODS] = {"none", "x509", "psk", "batch-psk"};
    return method >= 0 && method < ST_GW_METHODS ? names[method] : "none";
}

static int clamp_method(int method)
{
    return method >= 0 && method < ST_GW_METHODS ? method : ST_GW_METHOD_NONE;
}

void st_gw_metrics_handshake(struct st_gw_metrics *m, int method, int reason, double seconds)
{
    if (m == NULL)
        return;
    method = clamp_method(method);
    if (reason < 0 || reason >= ST_GW_AUTH_REASONS)
        reason = ST_GW_AUTH_HANDSHAKE;
    INC(m->handshakes[method][reason], 1);
    if (reason != ST_GW_AUTH_OK)
        return;
    if (!(seconds >= 0)) /* also NaN */
        seconds = 0;
    size_t b = 0;
    while (b < NBUCKETS && seconds > k_buckets[b])
        b++;
    INC(m->hist[method][b], 1);
    double ns = seconds * 1e9;
    INC(m->hist_sum_ns[method], ns < 1.8e19 ? (uint_fast64_t)ns : UINT64_C(18000000000000000000));
}

void st_gw_metrics_conn_open(struct st_gw_metrics *m, int transport)
{
    if (m == NULL || transport < 0 || transport >= ST_GW_TRANSPORTS)
        return;
    INC(m->active[transport], 1);
    INC(m->conns[transport], 1);
}

void st_gw_metrics_conn_close(struct st_gw_metrics *m, int transport)
{
    if (m == NULL || transport < 0 || transport >= ST_GW_TRANSPORTS)
        return;
    atomic_fetch_sub_explicit(&m->active[transport], 1, memory_order_relaxed);
}

void st_gw_metrics_refused(struct st_gw_metrics *m, int refusal)
{
    if (m != NULL && refusal >= 0 && refusal < ST_GW_REFUSALS)
        INC(m->refused[refusal], 1);
}

void st_gw_metrics_bytes(struct st_gw_metrics *m, int to_app, size_t n)
{
    if (m != NULL)
        INC(m->bytes[to_app ? 0 : 1], n);
}

void st_gw_metrics_api(struct st_gw_metrics *m, unsigned http_status)
{
    if (m != NULL && http_status >= 200 && http_status < 600)
        INC(m->api[http_status / 100 - 2], 1);
}

void st_gw_metrics_reload(struct st_gw_metrics *m, int ok)
{
    if (m != NULL)
        INC(m->reloads[ok ? 0 : 1], 1);
}

long st_gw_metrics_active(const struct st_gw_metrics *m, int transport)
{
    if (m == NULL || transport < 0 || transport >= ST_GW_TRANSPORTS)
        return 0;
    return atomic_load_explicit(&((struct st_gw_metrics *)m)->active[transport],
                                memory_order_relaxed);
}

/* ---- rendering ---- */

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap * 2 + (size_t)n;
        char *np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

/* Label value escaping of the text format: backslash, double quote, newline. */
static void put_label(struct buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            put(b, "\\\\");
        else if (*v == '"')
            put(b, "\\\"");
        else if (*v == '\n')
            put(b, "\\n");
        else
            put(b, "%c", *v);
    }
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP simtrust_gw_%s %s\n# TYPE simtrust_gw_%s %s\n", name, help, name, type);
}

/* name{key="value"} count */
static void sample(struct buf *b, const char *name, const char *key, const char *value,
                   unsigned long long v)
{
    put(b, "simtrust_gw_%s{%s=\"", name, key);
    put_label(b, value);
    put(b, "\"} %llu\n", v);
}

static void render(struct st_gw_metrics *m, struct buf *b)
{
    static const char *const transports[ST_GW_TRANSPORTS] = {"tls", "dtls"};
    static const char *const refusals[ST_GW_REFUSALS] = {"limit", "backend", "timeout",
                                                         "protocol"};
    static const char *const dirs[2] = {"device_to_app", "app_to_device"};
    static const char *const classes[API_CLASSES] = {"2xx", "3xx", "4xx", "5xx"};

    family(b, "handshakes_total", "counter",
           "Finished (D)TLS handshakes by authentication method and result.");
    for (int me = 0; me < ST_GW_METHODS; me++)
        for (int r = 0; r < ST_GW_AUTH_REASONS; r++) {
            unsigned long long v = GET(m->handshakes[me][r]);
            /* Always show the ok series; others once they happened. */
            if (v == 0 && r != ST_GW_AUTH_OK)
                continue;
            put(b, "simtrust_gw_handshakes_total{method=\"");
            put_label(b, st_gw_method_name(me));
            put(b, "\",result=\"");
            put_label(b, st_gw_auth_reason_name(r));
            put(b, "\"} %llu\n", v);
        }

    family(b, "handshake_seconds", "histogram", "Duration of successful handshakes.");
    for (int me = 0; me < ST_GW_METHODS; me++) {
        unsigned long long cum = 0;
        for (size_t i = 0; i <= NBUCKETS; i++) {
            cum += GET(m->hist[me][i]);
            put(b, "simtrust_gw_handshake_seconds_bucket{method=\"");
            put_label(b, st_gw_method_name(me));
            if (i < NBUCKETS)
                put(b, "\",le=\"%g\"} %llu\n", k_buckets[i], cum);
            else
                put(b, "\",le=\"+Inf\"} %llu\n", cum);
        }
        put(b, "simtrust_gw_handshake_seconds_sum{method=\"");
        put_label(b, st_gw_method_name(me));
        put(b, "\"} %.9f\n", (double)GET(m->hist_sum_ns[me]) / 1e9);
        put(b, "simtrust_gw_handshake_seconds_count{method=\"");
        put_label(b, st_gw_method_name(me));
        put(b, "\"} %llu\n", cum);
    }

    family(b, "active_connections", "gauge", "Open device connections (DTLS: peers).");
    for (int t = 0; t < ST_GW_TRANSPORTS; t++) {
        long v = atomic_load_explicit(&m->active[t], memory_order_relaxed);
        put(b, "simtrust_gw_active_connections{transport=\"%s\"} %ld\n", transports[t], v);
    }
    family(b, "connections_total", "counter", "Accepted device connections (DTLS: peers).");
    for (int t = 0; t < ST_GW_TRANSPORTS; t++)
        sample(b, "connections_total", "transport", transports[t], GET(m->conns[t]));
    family(b, "connections_refused_total", "counter",
           "Connections refused or dropped outside authentication.");
    for (int i = 0; i < ST_GW_REFUSALS; i++)
        sample(b, "connections_refused_total", "reason", refusals[i], GET(m->refused[i]));
    family(b, "bytes_total", "counter", "Relayed plaintext bytes.");
    for (int i = 0; i < 2; i++)
        sample(b, "bytes_total", "direction", dirs[i], GET(m->bytes[i]));
    family(b, "api_requests_total", "counter", "REST API requests by HTTP status class.");
    for (int i = 0; i < API_CLASSES; i++)
        sample(b, "api_requests_total", "code", classes[i], GET(m->api[i]));
    family(b, "reloads_total", "counter", "Configuration reloads.");
    sample(b, "reloads_total", "result", "ok", GET(m->reloads[0]));
    sample(b, "reloads_total", "result", "error", GET(m->reloads[1]));
}

int st_gw_metrics_render(const struct st_gw_metrics *m, char **out, size_t *len)
{
    struct buf b = {malloc(8192), 0, 8192, 0};
    *out = NULL;
    *len = 0;
    if (b.p == NULL)
        return -1;
    b.p[0] = '\0';
    if (m != NULL)
        render((struct st_gw_metrics *)m, &b);
    if (b.oom) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
