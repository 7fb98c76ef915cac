/*
 * TCP transport of libsimtrust: APDUs to simtrust-card's TCP front end
 * (`simtrust-card serve --tcp HOST:PORT`) without pcscd, e.g. for tests,
 * CI and a device whose SIM is simulated on another machine.
 *
 * Framing (the vpcd one, docs/card-frontends.md), both directions:
 *   u16 big-endian length || payload
 * A 1-byte payload from us is a control code: 00 power off, 01 power on,
 * 02 reset (no answer), 04 get ATR (answer: the ATR). Any other payload is a
 * C-APDU, answered by the R-APDU. Answers come directly (no 61xx needed).
 *
 * Errors at this edge: ST_E_NO_READER (cannot resolve or connect: nobody
 * listens), ST_E_TIMEOUT (no answer within the timeout), ST_E_LINK_CLOSED
 * (the server closed the connection), ST_E_IO (other socket errors, a frame
 * longer than an R-APDU). The transport allocates its context; close()
 * (t->ops->close) releases it. One thread at a time (st_sim serialises).
 */
#ifndef SIMTRUST_TCP_H
#define SIMTRUST_TCP_H

#include <stddef.h>

#include "simtrust/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ST_TCP_TIMEOUT_DEFAULT_MS 10000

/*
 * Connects to "HOST:PORT" ("[v6addr]:PORT" for IPv6; a host name is
 * resolved) and fills *t. timeout_ms bounds the connection and every answer
 * (0 = ST_TCP_TIMEOUT_DEFAULT_MS, < 0 = wait forever). err (may be NULL)
 * receives a one-line reason on failure. reset() sends 02 then 04 and
 * returns the ATR (*atr_len in/out).
 */
int st_tcp_open(struct st_transport *t, const char *hostport, int timeout_ms, char *err,
                size_t err_len);

/* Changes the answer timeout of an open TCP transport (ST_E_ARG for another kind). */
int st_tcp_set_timeout(struct st_transport *t, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
