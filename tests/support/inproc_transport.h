/*
 * In-process transport for tests: libsimtrust's struct st_transport over
 * simtrust-card's st_card_transmit() (card/card.h), with fault injection
 * for the error paths of the APDU layer and the IoT SAFE client.
 *
 * Faults fire on the (skip + 1)-th APDU whose INS is `ins` (-1: any APDU),
 * counted from when the fault is armed:
 *   ST_INPROC_REMOVE    the card is gone: that APDU and every later one
 *                       fail with ST_E_NO_CARD (until st_inproc_insert)
 *   ST_INPROC_SW        the APDU is not given to the card; the answer is
 *                       the status word `sw` alone
 *   ST_INPROC_GARBAGE   not given to the card; the answer is bytes[0..len)
 *   ST_INPROC_TRUNCATE  given to the card; its answer is cut to `len` bytes
 *   ST_INPROC_ERROR     not given to the card; transmit returns `error`
 * A fault fires once (REMOVE stays in force). Test-only; single-threaded
 * like the card (the st_sim lock serialises callers).
 */
#ifndef SIMTRUST_TESTS_INPROC_TRANSPORT_H
#define SIMTRUST_TESTS_INPROC_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "card.h"
#include "simtrust/transport.h"

enum st_inproc_fault {
    ST_INPROC_NONE = 0,
    ST_INPROC_REMOVE,
    ST_INPROC_SW,
    ST_INPROC_GARBAGE,
    ST_INPROC_TRUNCATE,
    ST_INPROC_ERROR,
};

/* Observer of every exchange that reached the card or a fault (thread test). */
typedef void (*st_inproc_observer)(void *arg, const uint8_t *c, size_t clen, const uint8_t *r,
                                   size_t rlen);

struct st_inproc {
    st_card *card;
    size_t count; /* APDUs seen */
    bool removed;
    struct {
        enum st_inproc_fault kind;
        int ins;       /* -1: any */
        unsigned skip; /* matching APDUs to let through first */
        uint16_t sw;
        uint8_t bytes[ST_RESPONSE_MAX];
        size_t len;
        int error;
    } fault;
    st_inproc_observer observe;
    void *observe_arg;
};

/*
 * Sets up ip over card and fills *tr (max_apdu 0 = ST_SHORT_APDU_MAX). No
 * ownership of card is taken; close() does nothing.
 */
void st_inproc_init(struct st_inproc *ip, st_card *card, struct st_transport *tr, size_t max_apdu);

/* Arms a fault (replacing any armed one). */
void st_inproc_fault(struct st_inproc *ip, enum st_inproc_fault kind, int ins, unsigned skip);
void st_inproc_fault_sw(struct st_inproc *ip, int ins, unsigned skip, uint16_t sw);
void st_inproc_fault_bytes(struct st_inproc *ip, int ins, unsigned skip, const uint8_t *bytes,
                           size_t len);

/* Disarms any fault and puts the card back (it was powered off: a cold reset). */
void st_inproc_insert(struct st_inproc *ip);

#endif
