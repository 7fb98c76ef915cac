/*
 * The application side of a data-plane session, shared by TLS and DTLS
 * sessions (IoT.04 N1, N2: the server application uses the middleware's
 * (D)TLS services): a backend TCP stream opened after the handshake and
 * prefixed with a PROXY v2 header naming the authenticated device, or the
 * embedded st_gw_app_ops callbacks. Plus the session bookkeeping every
 * device side needs (timers, release, logs).
 */
#ifndef SIMTRUST_GW_RELAY_H
#define SIMTRUST_GW_RELAY_H

#include "gw_session.h"

/* gw_relay.c: the application side, shared by TLS and DTLS sessions. */
void st_gw_session_init(struct st_gw_session *s, struct st_gw_worker *w,
                        const struct st_gw_dev_ops *dev, int transport);
/* Arms the session timer for the current phase. */
void st_gw_session_arm(struct st_gw_session *s);
/* The handshake succeeded: reports it (st_gw_auth_finish) and opens the
 * backend (or the embedded app). 0 or -1 (the caller closes; the reason was
 * logged and counted). */
int st_gw_session_established(struct st_gw_session *s);
/* Room for device plaintext now (0: stop reading the device). */
size_t st_gw_relay_room(const struct st_gw_session *s);
/* Device plaintext (n <= room for backend mode). 0 or -1 (closed). */
int st_gw_relay_push(struct st_gw_session *s, const uint8_t *p, size_t n);
/* Data queued for the device, and consumption of it. */
size_t st_gw_relay_peek(struct st_gw_session *s, const uint8_t **p);
void st_gw_relay_consume(struct st_gw_session *s, size_t n);
/* Recomputes the backend's epoll interest (after the device side moved). */
void st_gw_relay_update(struct st_gw_session *s);
/* Everything flushed both ways and one side ended: the session may close. */
int st_gw_relay_done(const struct st_gw_session *s);
/* Releases the application side, counts, logs and schedules the free.
 * Device-specific teardown happens before (ssl, fd). */
void st_gw_session_release(struct st_gw_session *s, const char *reason);

/* "1.2.3.4:56" / "[::1]:56" */
void st_gw_addr_str(const struct sockaddr *sa, char *buf, size_t cap);
/* OpenSSL's error queue as one short string (drained). */
const char *st_gw_ssl_errstr(char *buf, size_t cap);
/* 1 when the handshake failure reason is malformed input (PROTOCOL). */
int st_gw_ssl_err_is_protocol(unsigned long e);

#endif
