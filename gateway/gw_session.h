/*
 * Private to the data plane (gw_server.c, gw_tcp.c, gw_dtls.c, gw_relay.c):
 * configuration generations, workers and the session every device
 * connection (TLS) or peer (DTLS) is.
 */
#ifndef SIMTRUST_GW_SESSION_H
#define SIMTRUST_GW_SESSION_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gw_auth.h"
#include "gw_config.h"
#include "gw_loop.h"
#include "gw_metrics.h"
#include "gw_server.h"
#include "registry.h"

/* Relay buffer per direction (backend mode): bounded, so a slow side stops
 * the other side's reads (backpressure). Allocated only while data is in
 * flight. */
#define ST_GW_RELAY_BUF 16384
/* Embedded mode: st_gw_session_send may queue up to this much (gw_server.h). */
#define ST_GW_APP_PENDING_MAX (1024 * 1024)

/* One configuration with the contexts built from it. Reload makes a new one;
 * a session keeps a reference to the generation it was accepted under, so
 * its SSL_CTX and auth context stay valid until it ends. */
struct st_gw_gen {
    atomic_int refs;
    struct st_gw_config cfg;
    struct st_gw_auth_ctx *auth;
    SSL_CTX *tls, *dtls;
    struct sockaddr_storage backend; /* resolved once per generation */
    socklen_t backend_len;
};

void st_gw_gen_ref(struct st_gw_gen *g);
void st_gw_gen_unref(struct st_gw_gen *g);

struct st_gw_buf {
    uint8_t *p;
    size_t off, len, cap;
};

struct st_gw_dtls;
struct st_gw_session;

struct st_gw_worker {
    struct st_gw_server *srv;
    int index;
    struct st_gw_loop *loop;
    pthread_t thread;
    int running;
    struct st_reg *reg;
    struct st_gw_gen *gen;         /* current generation (one reference) */
    struct st_gw_metrics *metrics; /* may be NULL */
    const struct st_gw_app_ops *app;
    void *app_arg;
    int tls_fd;                    /* -1 when TLS is off */
    struct st_gw_watch tls_w;
    struct st_gw_timer tls_pause;  /* accept paused after EMFILE */
    int udp_fd;                    /* -1 when DTLS is off */
    struct st_gw_dtls *dtls;
    long nsessions;
    struct st_gw_session *sessions; /* every live session, for stop */
    uint64_t next_id;
    int stopping;
};

/* The device side of a session: TLS over TCP or DTLS over the shared UDP
 * socket. The relay calls pump when it has data for the device or freed room
 * for more device data. */
struct st_gw_dev_ops {
    void (*pump)(struct st_gw_session *s);
    /* Ends the session now (reason for the log line). */
    void (*close)(struct st_gw_session *s, const char *reason);
};

enum st_gw_phase {
    ST_GW_HANDSHAKE = 0,
    ST_GW_BACKEND,   /* authenticated, connecting to the backend */
    ST_GW_RELAY,
    ST_GW_CLOSED
};

struct st_gw_session {
    const struct st_gw_dev_ops *dev;
    struct st_gw_worker *w;
    struct st_gw_gen *gen;
    struct st_gw_session *prev, *next;
    struct st_gw_defer defer;
    SSL *ssl;
    int transport;                 /* enum st_gw_transport */
    int phase;                     /* enum st_gw_phase */
    uint64_t id;
    uint64_t t0, phase_t0, last_io; /* loop clock, ms */
    struct sockaddr_storage peer_sa, local_sa;
    socklen_t peer_len, local_len;
    char peer[64];                 /* "addr:port" for logs */
    struct st_gw_timer timer;      /* handshake / backend / idle deadline */
    /* application side (gw_relay.c) */
    int bfd;
    struct st_gw_watch bw;
    void *app_sess;
    struct st_gw_buf to_app, to_dev;
    int dev_eof, app_eof;
    int in_pump, repump;
    int finished;                  /* st_gw_auth_finish called */
    uint64_t n_to_app, n_to_dev;
};

/* gw_tcp.c */
void st_gw_tcp_on_accept(struct st_gw_loop *l, struct st_gw_watch *w, uint32_t revents);

/* gw_dtls.c */
int st_gw_dtls_init(struct st_gw_worker *w);
void st_gw_dtls_fini(struct st_gw_worker *w);
/* The worker switched generation: new peers use the new DTLS context. */
void st_gw_dtls_gen_changed(struct st_gw_worker *w);

#endif
