/*
 * cmocka helpers of the transport tests: raw APDUs as hex through an
 * st_transport's transmit(), and a check of the test card's content.
 * Include after <cmocka.h>.
 */
#ifndef SIMTRUST_TESTS_TR_APDU_H
#define SIMTRUST_TESTS_TR_APDU_H

#include <stdio.h>
#include <string.h>

#include "simtrust/error.h"
#include "simtrust/transport.h"
#include "tr_support.h"

#define TRS_SELECT_BASIC "00A4040007" TRS_AID_HEX
#define TRS_SELECT_CH1 "01A4040007" TRS_AID_HEX

static const uint8_t trs_gsma_aid[] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x00, 0x10};

/* transmit() of hex; the R-APDU in r/rlen. Returns the status. */
static inline int tx(struct st_transport *t, const char *hex, uint8_t *r, size_t *rlen)
{
    uint8_t c[ST_SHORT_APDU_MAX + 8];
    long n = trs_unhex(hex, c, sizeof(c));
    assert_true(n >= 4);
    *rlen = ST_RESPONSE_MAX;
    return t->ops->transmit(t->ctx, c, (size_t)n, r, rlen);
}

static inline unsigned sw_of(const uint8_t *r, size_t rlen)
{
    assert_true(rlen >= 2);
    return (unsigned)r[rlen - 2] << 8 | r[rlen - 1];
}

/* transmit() that must succeed with the given SW; returns the data length. */
static inline size_t tx_sw(struct st_transport *t, const char *hex, unsigned want, uint8_t *r)
{
    size_t rlen;
    int st = tx(t, hex, r, &rlen);
    if (st != ST_OK)
        fail_msg("%s: status %d", hex, st);
    if (sw_of(r, rlen) != want)
        fail_msg("%s: SW %04X, want %04X", hex, sw_of(r, rlen), want);
    return rlen - 2;
}

/* Follows 61xx with GET RESPONSE on the command's channel (T=0 style); wants 9000. */
static inline size_t tx_get(struct st_transport *t, const char *hex, uint8_t *r)
{
    size_t rlen;
    int st = tx(t, hex, r, &rlen);
    if (st != ST_OK)
        fail_msg("%s: status %d", hex, st);
    if (r[rlen - 2] == 0x61) {
        char gr[16];
        uint8_t cla;
        char cla_hex[3] = {hex[0], hex[1], 0};
        assert_int_equal(trs_unhex(cla_hex, &cla, 1), 1);
        snprintf(gr, sizeof(gr), "%02XC00000%02X", cla, r[rlen - 1]);
        st = tx(t, gr, r, &rlen);
        assert_int_equal(st, ST_OK);
    }
    if (sw_of(r, rlen) != 0x9000)
        fail_msg("%s: SW %04X", hex, sw_of(r, rlen));
    return rlen - 2;
}

/* The test card's answers on channel ch (0..3): GET DATA of file 02 (case 4), READ FILE. */
static inline void trs_check_card(struct st_transport *t, unsigned ch)
{
    uint8_t r[ST_RESPONSE_MAX];
    char cmd[64];
    /* GET DATA of file 02: C3 LL ... 20 02 <size big-endian> ... */
    snprintf(cmd, sizeof(cmd),
             "8%uCBC30003830102"
             "00",
             ch);
    size_t n = tx_get(t, cmd, r);
    assert_true(n > 4);
    assert_int_equal(r[0], 0xC3);
    bool found = false;
    for (size_t i = 2; i + 3 < n; i++)
        if (r[i] == 0x20 && r[i + 1] == 0x02 && r[i + 2] == (TRS_FILE_LEN >> 8) &&
            r[i + 3] == (TRS_FILE_LEN & 0xFF))
            found = true;
    assert_true(found);
    /* READ FILE of file 02 from offset 0, Le 50. */
    snprintf(cmd, sizeof(cmd),
             "8%uB0000003830102"
             "32",
             ch);
    n = tx_get(t, cmd, r);
    assert_int_equal(n, 50);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(r[i], trs_file_byte(i));
}

#endif
