/*
 * The transport interface of libsimtrust: one small ops table that moves
 * APDUs between the host and the SIM (IoT.04 B.2, D7: the applet is agnostic
 * of the physical interface). Implementations: PC/SC (st_pcsc_*), an AT
 * modem over a serial line (st_at_*), TCP to simtrust-card (st_tcp_*), and
 * in-process for tests. A port to an RTOS or another bus implements this
 * table (docs/porting.md).
 *
 * Contract for implementers:
 *  - transmit() carries one whole C-APDU (at most max_apdu bytes) and
 *    returns the whole R-APDU the card gave (data || SW1 SW2). It does not
 *    interpret status words: 61xx/6Cxx handling is the APDU layer's job.
 *  - Errors are ST_E_* transport codes (error.h); a transport never returns
 *    card-layer codes.
 *  - The transport owns its context; close() releases it (and may be NULL).
 *  - A transport is used by one thread at a time: the APDU layer (st_sim)
 *    serialises access.
 */
#ifndef SIMTRUST_TRANSPORT_H
#define SIMTRUST_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ST_SHORT_APDU_MAX 261 /* CLA INS P1 P2 Lc 255-byte data Le */
#define ST_RESPONSE_MAX 258   /* 256 data bytes + SW1 SW2 */

struct st_transport_ops {
    const char *name; /* "pcsc", "at", "tcp", "inproc", ... */

    /*
     * Sends capdu (clen bytes) and receives the R-APDU into rapdu.
     * *rlen: in, the capacity of rapdu (>= ST_RESPONSE_MAX); out, the length.
     */
    int (*transmit)(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t *rlen);

    /*
     * Optional (NULL when the link passes MANAGE CHANNEL through transmit):
     * opens a logical channel with the application aid selected on it, for
     * modems that only allow AT+CCHO/AT+CGLA. *channel receives the channel
     * number the APDU layer then puts in the CLA; transmit() maps it back.
     */
    int (*open_channel)(void *ctx, const uint8_t *aid, size_t aid_len, uint8_t *channel);
    int (*close_channel)(void *ctx, uint8_t channel);

    /* Optional: cold or warm reset; writes the ATR when atr != NULL. */
    int (*reset)(void *ctx, uint8_t *atr, size_t *atr_len);

    /* Optional: releases the context. */
    void (*close)(void *ctx);
};

struct st_transport {
    const struct st_transport_ops *ops;
    void *ctx;
    /* Largest C-APDU the link carries (0 = ST_SHORT_APDU_MAX). A modem's
     * command line limit makes this smaller; the client then chunks. */
    size_t max_apdu;
};

#ifdef __cplusplus
}
#endif
#endif
