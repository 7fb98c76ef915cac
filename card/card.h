/*
 * simtrust-card: a virtual UICC carrying the IoT SAFE applet.
 *
 * This is the in-process interface (front end "d" of the issue): the vpcd,
 * modem and TCP front ends, the tests and the fuzzers all drive the card
 * through st_card_transmit(). The card is single-threaded: a front end that
 * serves several clients serialises them itself.
 *
 * Ownership: st_card_open()/st_card_new() return a card the caller frees with
 * st_card_free(), which wipes every key value from memory.
 */
#ifndef SIMTRUST_CARD_CARD_H
#define SIMTRUST_CARD_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "objects.h"

struct st_image_io;

typedef struct st_card st_card;

/* Largest R-APDU: 256 data bytes + SW1 SW2. */
#define ST_RAPDU_MAX 258
/* Largest short C-APDU plus the trailing junk some clients add. */
#define ST_CAPDU_MAX 270

enum st_card_power {
    ST_POWER_OFF,
    ST_POWER_ON,   /* cold reset: channels closed, volatile keys wiped */
    ST_POWER_RESET /* warm reset: same effect on the applet */
};

/*
 * Latency model (issue 2 §9): the time a real SIM would take. All values are
 * microseconds; 0 disables a term. With sleep == false the card only counts
 * the estimated time (st_card_stats), with sleep == true it also waits.
 */
struct st_latency {
    bool sleep;
    uint32_t per_apdu_us;      /* transfer + dispatch of any APDU */
    uint32_t per_byte_us;      /* per byte over the link, both directions */
    uint32_t sign_us;          /* ECDSA / RSA signature */
    uint32_t verify_us;
    uint32_t ecdh_us;
    uint32_t keygen_us;
    uint32_t prf_us;           /* one COMPUTE PRF */
    uint32_t hkdf_us;          /* one COMPUTE HKDF */
    uint32_t random_us;
    uint32_t write_us;         /* one commit to persistent memory */
};

/* Operations counted by the card (for benchmarks and handshake reports). */
enum st_card_op {
    ST_OP_SIGN,
    ST_OP_VERIFY,
    ST_OP_ECDH,
    ST_OP_KEYGEN,
    ST_OP_PRF,
    ST_OP_HKDF,
    ST_OP_RANDOM,
    ST_OP_WRITE,
    ST_OP_COUNT
};

struct st_card_stats {
    uint64_t apdus;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t ops[ST_OP_COUNT];
    uint64_t estimated_us; /* per the latency model */
};

struct st_card_config {
    const char *image_path;  /* NULL: a RAM-only card (tests, fuzzing) */
    bool t0_style;           /* modem mode: answer case-4 commands with 61xx */
    FILE *trace;             /* APDU trace log, NULL for none */
    struct st_latency latency;
    /* File operations for commits; NULL = POSIX (tests inject faults). */
    const struct st_image_io *io;
};

/*
 * Opens the card image at cfg->image_path (it must exist: create one with
 * `simtrust-card personalise`). Returns NULL and fills err (if not NULL) with
 * a one-line reason when the image is missing, corrupt or of another version.
 */
st_card *st_card_open(const struct st_card_config *cfg, char *err, size_t err_len);

/*
 * Creates a card from a state (copied). When cfg->image_path is set the state
 * is written there first; NULL is returned if that write fails.
 */
st_card *st_card_new(const struct st_card_config *cfg, const struct st_card_state *state,
                     char *err, size_t err_len);

void st_card_free(st_card *card);

/* Power events from the reader. Returns the ATR length for ON/RESET. */
size_t st_card_power(st_card *card, enum st_card_power ev, uint8_t *atr, size_t atr_cap);

/*
 * Processes one C-APDU and writes the R-APDU (data || SW1 SW2) to rapdu,
 * which must hold ST_RAPDU_MAX bytes. Always produces at least a status word:
 * malformed input gets 6700 / 6D00 / 6E00 / 6A86, never a crash.
 * Returns the R-APDU length.
 */
size_t st_card_transmit(st_card *card, const uint8_t *capdu, size_t clen, uint8_t *rapdu);

/* Switches between T=0 style (modem) and direct responses at run time. */
void st_card_set_t0_style(st_card *card, bool on);

const struct st_card_stats *st_card_stats(const st_card *card);
void st_card_reset_stats(st_card *card);

/* Read-only view of the persistent state (tests, delivery records). */
const struct st_card_state *st_card_state(const st_card *card);

#endif
