/*
 * Fixture of the data-plane tests: a throw-away PKI (openssl CLI), a SQLite
 * registry with an X.509 device and a PSK device, a real backend (TCP
 * listener thread that parses the PROXY v2 header with st_pp2_parse and
 * echoes what follows), the gateway started in-process on port 0, and
 * blocking OpenSSL clients.
 */
#ifndef GW_DATA_FIXTURE_H
#define GW_DATA_FIXTURE_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>

#include "gw_server.h"

#define FX_TENANT "acme"
#define FX_GROUP "meters"
#define FX_X509_DEVICE "dev-x509" /* also the client certificate's CN */
#define FX_PSK_DEVICE "dev-psk"
#define FX_PSK_IDENTITY "dev-psk-id"
#define FX_PSK_ICCID "89882280000000000017"

/* What the backend saw in the PROXY v2 header of one connection. */
struct fx_seen {
    int family, transport;
    uint8_t src_addr[16];
    uint16_t src_port, dst_port;
    int ssl_client;
    uint32_t verify;
    char device[80], group[80], method[16], iccid[24], tenant[80], version[16], cn[80],
        authority[256], cipher[64];
};

struct gwfx {
    char dir[64];
    struct st_gw_kek *kek;
    struct st_gw_metrics *m;
    struct st_gw_config cfg;
    struct st_gw_server *srv;
    unsigned port, dport;
    /* backend */
    int bfd;
    unsigned bport;
    pthread_t bth;
    int bstop;
    pthread_mutex_t mu;
    struct fx_seen seen[8]; /* the last 8 connections, ring */
    int nseen, bad_header;
};

/* Makes the PKI and registry, fills cfg (TLS and DTLS on 127.0.0.1:0, two
 * workers, backend unset). 0 or -1. */
int gwfx_init(struct gwfx *f);
/* Starts the echo backend; cfg.backend points to it. */
void gwfx_backend(struct gwfx *f);
/* Creates and starts the server with f->cfg (app may be NULL). 0 or -1. */
int gwfx_start(struct gwfx *f, const struct st_gw_app_ops *app, void *arg);
void gwfx_fini(struct gwfx *f);

/* A client context: mode "cert" (device certificate), "psk", or "none".
 * maxver 0 = any. dtls: DTLS 1.2. */
SSL_CTX *gwfx_client_ctx(struct gwfx *f, const char *mode, int maxver, int dtls);
/* TCP connect to 127.0.0.1:port (blocking, 10 s receive timeout). */
int gwfx_tcp(unsigned port);
/* TLS handshake over a new TCP connection; NULL on failure. */
SSL *gwfx_tls(SSL_CTX *ctx, unsigned port, const char *sni);
/* DTLS handshake over a connected UDP socket; NULL on failure. */
SSL *gwfx_dtls(SSL_CTX *ctx, unsigned port);
/* Writes msg and reads back exactly strlen(msg) bytes: 0 if equal. */
int gwfx_echo(SSL *ssl, const char *msg);
void gwfx_ssl_close(SSL *ssl);

/* A metric's value from the Prometheus text (line prefix "name{labels}"),
 * -1 if absent. */
long gwfx_metric(struct gwfx *f, const char *series);
/* Waits (bounded, polling) until the metric reaches at least v; returns it. */
long gwfx_wait_metric(struct gwfx *f, const char *series, long v);
/* Last PROXY v2 header the backend parsed (copy); -1 if none yet. */
int gwfx_last_seen(struct gwfx *f, struct fx_seen *out);
/* Writes a PEM file path under the fixture dir into buf. */
void gwfx_path(struct gwfx *f, const char *name, char *buf, size_t cap);

#endif
