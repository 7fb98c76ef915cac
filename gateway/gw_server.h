/*
 * The data plane of simtrust-gateway, usable as a C library (issue 5 item 3):
 * (D)TLS termination for every device and the relay of each authenticated
 * connection to the IoT server application (IoT.04 3.2.5, N1, N2).
 *
 * Model: `workers` threads, each an epoll loop with its own TCP listening
 * socket and UDP socket (SO_REUSEPORT spreads connections; a DTLS peer always
 * lands on the same worker), its own registry handle (registry.h is one
 * connection per thread) and its own connections. Everything is
 * non-blocking; memory per connection is bounded (fixed relay buffers,
 * released while idle).
 *
 * Relay: after the handshake the worker connects to cfg->backend and writes
 * a PROXY v2 header (proxy_v2.h: device ID, group, method, ICCID, tenant,
 * SNI, TLS version/cipher/CN) unless proxy_protocol is off, then copies bytes
 * both ways. DTLS: each application datagram's payload is written to the
 * backend stream in order. Or, embedded: st_gw_app_ops callbacks instead of a
 * backend.
 */
#ifndef SIMTRUST_GW_SERVER_H
#define SIMTRUST_GW_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "gw_auth.h"
#include "gw_config.h"
#include "gw_metrics.h"
#include "kek.h"

struct st_gw_server;
struct st_gw_session;

/* In-process application (embedding instead of a backend). Called on the
 * session's worker thread; must not block. */
struct st_gw_app_ops {
    /* A device authenticated. Return the application's session pointer, or
     * NULL to refuse (the connection is closed). */
    void *(*open)(void *app, struct st_gw_session *s, const struct st_gw_auth *who);
    /* Plaintext from the device. */
    void (*data)(void *app, void *session, const uint8_t *p, size_t n);
    /* The device side closed (or failed); the session pointer is dead after. */
    void (*close)(void *app, void *session);
};

/*
 * Creates the server: binds the listeners of cfg (port 0 picks a free port;
 * see st_gw_server_port), opens one registry handle per worker on
 * cfg->registry with kek (borrowed: outlives the server), builds the TLS and
 * DTLS contexts through st_gw_auth_ctx_new. app may be NULL (use the
 * backend). metrics may be NULL. Nothing runs until st_gw_server_start.
 * NULL with a message in err.
 */
struct st_gw_server *st_gw_server_new(const struct st_gw_config *cfg, struct st_gw_kek *kek,
                                      struct st_gw_metrics *metrics,
                                      const struct st_gw_app_ops *app, void *app_arg, char *err,
                                      size_t errcap);

/* Starts the worker threads. 0 or -1 (err). */
int st_gw_server_start(struct st_gw_server *s, char *err, size_t errcap);

/*
 * Applies a new configuration without dropping connections: new TLS/DTLS
 * contexts (certificate, versions, PSK policy), backend address, timeouts and
 * limits apply to connections accepted after the call; live connections keep
 * theirs. Listen addresses, registry and workers cannot change (error).
 * Thread-safe; returns when every worker has switched. 0 or -1 (err; the old
 * configuration stays in force).
 */
int st_gw_server_reload(struct st_gw_server *s, const struct st_gw_config *cfg, char *err,
                        size_t errcap);

/* The bound port of the TLS (dtls = 0) or DTLS (dtls = 1) listener; 0 if off. */
unsigned st_gw_server_port(const struct st_gw_server *s, int dtls);

/* Stops accepting, closes every connection (close_notify where possible),
 * joins the workers. Idempotent. */
void st_gw_server_stop(struct st_gw_server *s);
void st_gw_server_free(struct st_gw_server *s);

/* Embedded application: sends plaintext to the device of session s; only from
 * within an st_gw_app_ops callback or the same worker thread. Returns 0, or -1
 * when the session is closing. Data is buffered (bounded): beyond 1 MiB
 * pending the session is closed. */
int st_gw_session_send(struct st_gw_session *s, const uint8_t *p, size_t n);
/* Closes the session from the application side (close_notify to the device). */
void st_gw_session_close(struct st_gw_session *s);

#endif
