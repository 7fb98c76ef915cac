/*
 * Reply parser of the AT transport (private to lib/transport; fuzzed by
 * fuzz/fuzz_at_reply.c). Pure: bytes in, one classified reply out, no I/O,
 * no allocation, every write bounded.
 *
 * What a module sends back for one command (V.250 framing, 27.007 §8):
 *
 *   [echo of the command] [URCs] [info line] [URCs] final result code
 *
 * with "\r\n", "\n", "\r" or "\r\r\n" line ends in any mix. Lines are
 * classified as: empty (skipped), echo (starts with "AT"), final result
 * ("OK", "ERROR", "+CME ERROR: n", "+CMS ERROR: n"), the expected info line
 * ("+CSIM:", "+CGLA:", "+CCHO:" or a bare session id for +CCHO), an
 * unsolicited result code (any other "+..."/"^..."/"*..." line and the
 * V.250 call codes such as RING and NO CARRIER), or garbage. URCs are
 * skipped; garbage is skipped too, but more than ST_AT_REPLY_GARBAGE_MAX
 * garbage lines end the reply with ST_E_PARSE so that a babbling line
 * cannot keep the caller waiting for ever.
 */
#ifndef SIMTRUST_AT_REPLY_H
#define SIMTRUST_AT_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simtrust/transport.h"

/* Longest line kept: "+CGLA: 516,\"<516 hex digits>\"" with room for spaces. */
#define ST_AT_REPLY_LINE_MAX 600
#define ST_AT_REPLY_GARBAGE_MAX 32

enum st_at_expect {
    ST_AT_EXPECT_NONE, /* only a final result code (AT, ATE0, AT+CCHC) */
    ST_AT_EXPECT_CSIM, /* +CSIM: <len>,"<hex>" */
    ST_AT_EXPECT_CGLA, /* +CGLA: <len>,"<hex>" */
    ST_AT_EXPECT_CCHO, /* +CCHO: <id>, or <id> alone (27.007 shows it bare) */
};

struct st_at_reply {
    enum st_at_expect expect;

    /* Result, valid once done is true. */
    bool done;
    int status;            /* ST_OK, ST_E_MODEM or ST_E_PARSE */
    int cme;               /* +CME/+CMS ERROR code; -1: plain ERROR, unknown text, or none */
    bool have_info;        /* the expected info line was seen and parsed */
    bool bad_info;         /* an info line of the expected kind did not parse */
    unsigned long session; /* +CCHO */
    size_t data_len;       /* +CSIM / +CGLA: the R-APDU */
    uint8_t data[ST_RESPONSE_MAX];
    unsigned urcs;       /* unsolicited result codes skipped */
    unsigned echoes;     /* echoed command lines skipped */
    unsigned garbage;    /* unrecognised lines skipped */
    char final_line[48]; /* the final result line, cut and NUL-terminated (for messages) */

    /* Line assembly. */
    size_t line_len;
    bool overflow; /* the current line is longer than the buffer: discarded */
    char line[ST_AT_REPLY_LINE_MAX];
};

void st_at_reply_init(struct st_at_reply *r, enum st_at_expect expect);

/*
 * Consumes input up to the line that completes the reply (then done is
 * true) or up to n. Returns the number of bytes consumed; bytes after the
 * final line are left to the caller (they belong to whatever comes next).
 */
size_t st_at_reply_feed(struct st_at_reply *r, const uint8_t *in, size_t n);

/* Code of a verbose +CME ERROR text (27.007 §9.2.1), -1 if unknown. */
int st_at_cme_from_text(const char *s, size_t n);

#endif
