/*
 * Gateway metrics (issue 5 "Operations"): counters shared by every thread,
 * rendered in the Prometheus text exposition format (version 0.0.4).
 *
 * Families (all prefixed simtrust_gw_):
 *   handshakes_total{method,result}      counter; method = x509|psk|batch-psk|none,
 *                                         result = ok | st_gw_auth_reason_name()
 *   handshake_seconds{method}            histogram of successful handshakes
 *                                         (buckets 1ms .. 60s)
 *   active_connections{transport}        gauge; transport = tls|dtls
 *   connections_total{transport}         counter of accepted connections/peers
 *   connections_refused_total{reason}    counter: limit|backend|timeout|protocol
 *   bytes_total{direction}               counter: device_to_app|app_to_device
 *   api_requests_total{code}             counter per HTTP status class (2xx..5xx)
 *   reloads_total{result}                counter: ok|error
 * Lock-free: atomics only; render takes a consistent-enough snapshot.
 */
#ifndef SIMTRUST_GW_METRICS_H
#define SIMTRUST_GW_METRICS_H

#include <stddef.h>

/* Authentication method of a connection. Values index arrays: do not renumber. */
enum st_gw_method {
    ST_GW_METHOD_NONE = 0, /* not (yet) authenticated */
    ST_GW_METHOD_X509 = 1, /* scenarios 1, 2, 6 */
    ST_GW_METHOD_PSK = 2,  /* stored PSK, scenarios 3, 4 */
    ST_GW_METHOD_BATCH = 3,/* batch-derived PSK, scenario 5 */
    ST_GW_METHODS
};

enum st_gw_transport { ST_GW_TLS = 0, ST_GW_DTLS = 1, ST_GW_TRANSPORTS };

enum st_gw_refusal {
    ST_GW_REFUSED_LIMIT = 0,   /* max_connections reached */
    ST_GW_REFUSED_BACKEND,     /* backend unreachable */
    ST_GW_REFUSED_TIMEOUT,     /* handshake or idle timeout */
    ST_GW_REFUSED_PROTOCOL,    /* not TLS, malformed, oversized */
    ST_GW_REFUSALS
};

struct st_gw_metrics;

struct st_gw_metrics *st_gw_metrics_new(void);
void st_gw_metrics_free(struct st_gw_metrics *m);

/* "x509", "psk", "batch-psk", "none". */
const char *st_gw_method_name(int method);

/* One finished handshake: reason is enum st_gw_auth_reason (0 = ok);
 * seconds is counted in the histogram when reason is 0. m may be NULL. */
void st_gw_metrics_handshake(struct st_gw_metrics *m, int method, int reason, double seconds);
void st_gw_metrics_conn_open(struct st_gw_metrics *m, int transport);
void st_gw_metrics_conn_close(struct st_gw_metrics *m, int transport);
void st_gw_metrics_refused(struct st_gw_metrics *m, int refusal);
void st_gw_metrics_bytes(struct st_gw_metrics *m, int to_app, size_t n);
void st_gw_metrics_api(struct st_gw_metrics *m, unsigned http_status);
void st_gw_metrics_reload(struct st_gw_metrics *m, int ok);

/* Current gauge value (tests, the daemon's status line). */
long st_gw_metrics_active(const struct st_gw_metrics *m, int transport);

/* Renders the exposition text; *out is malloc'ed (caller frees), *len its
 * length. 0 or -1 (out of memory). */
int st_gw_metrics_render(const struct st_gw_metrics *m, char **out, size_t *len);

#endif
