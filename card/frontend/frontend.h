/*
 * Front ends of simtrust-card: the ways a client reaches the virtual UICC.
 * IoT.04 D7 asks the applet to be agnostic of the physical interface, so all
 * of them end in st_card_transmit() and differ only in framing:
 *
 *   vpcd   the card is a TCP client of pcscd's vpcd driver (PC/SC readers
 *          "Virtual PCD 00 00" / "00 01"); direct responses (T=1 style)
 *   modem  a cellular module on a pseudo-terminal: AT+CSIM, AT+CCHO/CGLA/CCHC
 *          (3GPP TS 27.007); T=0 style (case 4 answered with 61xx)
 *   tcp    a TCP server speaking the vpcd framing (docs/card-frontends.md),
 *          for libsimtrust's TCP transport; direct responses
 *
 * All front ends run in one single-threaded poll() loop (the card is not
 * thread-safe): each one exposes its file descriptors with st_fe_pollfds()
 * and handles their events in st_fe_dispatch(). Several front ends may share
 * one card; each sets the card's response style before every APDU.
 */
#ifndef SIMTRUST_CARD_FRONTEND_H
#define SIMTRUST_CARD_FRONTEND_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "card.h"

/* Default endpoints. */
#define ST_FE_VPCD_DEFAULT_HOST "127.0.0.1"
#define ST_FE_VPCD_DEFAULT_PORT 35963 /* reader 0; 35964 is reader 1 */
#define ST_FE_TCP_DEFAULT_HOST "127.0.0.1"

/* Most descriptors one front end polls at a time. */
#define ST_FE_MAX_POLLFDS 2

typedef struct st_fe st_fe;

/*
 * vpcd client: connects to host:port and reconnects with backoff (100 ms
 * doubling to 2 s) whenever pcscd is absent or restarts. Never fails for a
 * missing pcscd; NULL only on a bad host name or out of memory.
 */
st_fe *st_fe_vpcd_new(st_card *card, const char *host, uint16_t port, char *err, size_t err_len);

/* TCP server on host:port (port 0 = any free port, see st_fe_ready_line). */
st_fe *st_fe_tcp_new(st_card *card, const char *host, uint16_t port, char *err, size_t err_len);

struct st_modem_config {
    size_t max_line;       /* longest command line, ST_MODEM_LINE_DEFAULT (2048) */
    unsigned urc_every;    /* emit an unsolicited "+CREG: 1" after every Nth reply; 0 = never */
    bool csim_no_channels; /* refuse MANAGE CHANNEL and channels 1-3 inside AT+CSIM */
    const char *link;      /* pty only: symlink to create to the slave, NULL = none */
};

/* Modem emulator on a new pseudo-terminal. */
st_fe *st_fe_modem_new(st_card *card, const struct st_modem_config *cfg, char *err, size_t err_len);

/*
 * The machine-readable line announcing a front end once it is set up:
 * "vpcd: HOST:PORT", "modem: /dev/pts/N", "tcp: HOST:PORT" (the bound port).
 */
const char *st_fe_ready_line(const st_fe *fe);

/*
 * Fills up to cap (>= ST_FE_MAX_POLLFDS) entries and returns how many. May
 * lower *timeout_ms (milliseconds, -1 = infinite) for its own timers.
 */
size_t st_fe_pollfds(st_fe *fe, struct pollfd *pfd, size_t cap, int *timeout_ms);

/*
 * Handles the events of the n descriptors it returned last (same order), and
 * its timers. Returns 0, or -1 on an unrecoverable error (logged).
 */
int st_fe_dispatch(st_fe *fe, const struct pollfd *pfd, size_t n);

void st_fe_free(st_fe *fe);

/*
 * The modem's AT engine without a terminal (the pty front end and
 * fuzz/fuzz_at.c use it): bytes in, replies out through a callback.
 */
typedef struct st_modem st_modem;
typedef void (*st_modem_write_fn)(void *ctx, const void *buf, size_t n);

st_modem *st_modem_new(st_card *card, const struct st_modem_config *cfg, st_modem_write_fn out,
                       void *out_ctx);
/* Processes every complete line in the input; keeps a partial one for later. */
void st_modem_input(st_modem *m, const uint8_t *in, size_t n);
/* Closes the logical channels of open CCHO sessions, then frees. */
void st_modem_free(st_modem *m);

/*
 * vpcd / TCP frame payload handling: a 1-byte payload is a control code
 * (00 power off, 01 power on, 02 reset: no reply; 04: reply the ATR), any
 * other payload a C-APDU (reply: the R-APDU, direct style). Returns the reply
 * length written to reply (ST_RAPDU_MAX bytes), or -1 when there is none.
 */
long st_fe_frame_reply(st_card *card, const uint8_t *payload, size_t len, uint8_t *reply);

/*
 * Parses "[HOST:]PORT" ("[v6addr]:PORT" for IPv6). host gets default_host
 * when absent. Returns 0 or -1 with a reason in err.
 */
int st_fe_parse_endpoint(const char *arg, const char *default_host, char *host, size_t host_cap,
                         uint16_t *port, char *err, size_t err_len);

/*
 * Latency model from the command line: "none", "sim", "modem-sim", or a SPEC
 * "[preset,]key=value,..." with keys per_apdu, per_byte, sign, verify, ecdh,
 * keygen, prf, hkdf, random, write (values with unit us, ms or s) and sleep
 * (yes/no). Returns 0 or -1 with a reason in err.
 */
int st_latency_parse(const char *spec, struct st_latency *out, char *err, size_t err_len);

#endif
