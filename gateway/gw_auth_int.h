/*
 * Internals shared by gw_auth_ctx.c, gw_auth_psk.c, gw_auth_x509.c and
 * gw_auth_log.c (the implementation of gw_auth.h). Not a public header.
 */
#ifndef SIMTRUST_GW_AUTH_INT_H
#define SIMTRUST_GW_AUTH_INT_H

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>

#include "gw_auth.h"

/* One trust store per (tenant, group, group version): the group's anchors only. */
struct gw_anchor_entry {
    char tenant[ST_REG_ID_MAX + 1];
    char group[ST_REG_ID_MAX + 1];
    int64_t version;
    X509_STORE *store;  /* NULL: the group has no usable anchor */
    uint64_t last_used; /* for eviction */
};

#define GW_ANCHOR_CACHE_MAX 1024

/* Timing-balance state per KEK (psk_resolve.h), created on first use. */
struct gw_balance_node {
    struct st_gw_psk_balance b;
    struct gw_balance_node *next;
};

struct st_gw_auth_ctx {
    struct st_gw_metrics *metrics; /* may be NULL */
    int tls_min_version;
    int psk_dhe_only;
    X509 *cert;                    /* NULL: PSK only */
    STACK_OF(X509) *chain;
    EVP_PKEY *key;
    uint8_t decoy_secret[32];
    uint8_t cookie_secret[32];
    struct st_gw_auth_stats stats;

    pthread_mutex_t lock;          /* anchors cache and balance list insertion */
    struct gw_anchor_entry *anchors;
    size_t n_anchors;
    uint64_t anchor_clock;
    _Atomic(struct gw_balance_node *) balances;
};

/* Per-connection record (ex_data of the SSL). pub first: st_gw_auth_get. */
struct gw_conn {
    struct st_gw_auth pub;
    struct st_reg *reg;        /* borrowed worker handle */
    int attempt;               /* enum st_gw_method the peer tried (metrics, logs) */
    int reason;                /* refusal decided in a callback, ST_GW_AUTH_OK if none */
    int hello_seen;
    int psk_seen;              /* a PSK identity was resolved */
    int psk_ok;                /* ... to a real key */
    int cert_seen;
    int finished;
};

int gw_ctx_index(void);
int gw_conn_index(void);
struct gw_conn *gw_conn_of(const SSL *ssl);
struct st_gw_auth_ctx *gw_ctx_of(const SSL *ssl);

/* Installs the PSK callbacks (TLS 1.2/DTLS psk_server_callback, TLS 1.3
 * find_session). */
void gw_auth_psk_install(SSL_CTX *c);
/* Installs the certificate verification callback. */
void gw_auth_x509_install(SSL_CTX *c, struct st_gw_auth_ctx *a);
/* Frees the trust-store cache. */
void gw_auth_x509_cache_free(struct st_gw_auth_ctx *a);

/* Printable escaping for logs: bytes outside 0x21..0x7e, '\\', '"' and '='
 * become \xHH; truncated (with "...") to fit cap. Always NUL-terminates. */
void gw_escape(const uint8_t *in, size_t len, char *out, size_t cap);

#endif
