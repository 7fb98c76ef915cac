/*
 * libsimtrust error codes, grouped by layer so that "the modem timed out"
 * and "the card said 6985" are different things (issue 3).
 *
 * Every libsimtrust function returns ST_OK (0) or a negative st_status.
 * The layer is the code's hundreds: -1xx usage, -2xx transport, -3xx card
 * (a status word other than 9000), -4xx parse (the card's or the modem's
 * answer is malformed). For card errors the raw SW is kept by the session
 * (st_sim_last_sw) so nothing is lost by the mapping.
 *
 * Conventions for the whole API (BearSSL-style contract):
 *  - Output parameters are written only on success, unless documented.
 *  - Buffers are owned by the caller; the core never allocates.
 *  - Lengths are in/out where marked "in: capacity, out: length".
 */
#ifndef SIMTRUST_ERROR_H
#define SIMTRUST_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum st_status {
    ST_OK = 0,

    /* Usage: the caller's mistake; nothing was sent to the card. */
    ST_E_ARG = -100,          /* NULL pointer, bad length, bad value */
    ST_E_BUFFER = -101,       /* output buffer too small */
    ST_E_STATE = -102,        /* call not valid now (session closed, ...) */
    ST_E_UNSUPPORTED = -103,  /* the transport or card lacks this feature */
    ST_E_NOT_FOUND = -104,    /* no object with that label/ID on the card */

    /* Transport: the link between the host and the SIM. */
    ST_E_IO = -200,           /* read/write failed (errno kept by the transport) */
    ST_E_TIMEOUT = -201,      /* no answer in time (modem silent, reader stuck) */
    ST_E_NO_READER = -202,    /* reader or device absent */
    ST_E_NO_CARD = -203,      /* card absent or removed mid-sequence */
    ST_E_MODEM = -204,        /* the modem answered ERROR or +CME ERROR */
    ST_E_LINK_CLOSED = -205,  /* peer closed the connection */

    /* Card: a status word other than 9000 (raw SW: st_sim_last_sw). */
    ST_E_CARD = -300,                /* any other SW */
    ST_E_CARD_WRONG_LENGTH = -301,   /* 6700 */
    ST_E_CARD_SECURITY = -302,       /* 6982 */
    ST_E_CARD_CONDITIONS = -303,     /* 6985 */
    ST_E_CARD_INCORRECT_DATA = -304, /* 6A80 */
    ST_E_CARD_NOT_FOUND = -305,      /* 6A82 */
    ST_E_CARD_P1P2 = -306,           /* 6A86 */
    ST_E_CARD_INS = -307,            /* 6D00 */
    ST_E_CARD_CLA = -308,            /* 6E00 */
    ST_E_CARD_SIGNATURE = -309,      /* 6D01: signature does not verify */
    ST_E_CARD_MEMORY = -310,         /* 6581, 6A84, 6400 */
    ST_E_CARD_CHANNEL = -311,        /* 6881 and other logical-channel errors */
    ST_E_CARD_FILE_RANGE = -312,     /* 6981: offset past the end of a file */
    ST_E_CARD_REMOTE_ADMIN = -313,   /* 6984, 6989: object locked by the operator */

    /* Parse: an answer that does not have the expected shape. */
    ST_E_PARSE = -400,
} st_status;

/* A short English description of a status ("card: conditions of use not satisfied (6985)"
 * without the SW; the SW is the caller's to print). Never NULL. */
const char *st_strerror(int status);

/* The layer name of a status: "ok", "usage", "transport", "card", "parse". */
const char *st_error_layer(int status);

/* Maps a status word to a status (9000 and 61xx/6Cxx handled by the APDU layer). */
st_status st_status_from_sw(unsigned sw);

#ifdef __cplusplus
}
#endif
#endif
