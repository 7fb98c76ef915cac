/*
 * AT modem transport of libsimtrust: APDUs to the SIM through a cellular
 * module's serial command interface, IoT.04 Annex B.2.1 case A (the device
 * middleware uses the modem only as a proxy to the applet; B5, B6, D7).
 *
 *   AT+CSIM=<len>,"<hex>"            one APDU on any channel (27.007 §8.17)
 *   AT+CCHO="<aid>" / AT+CGLA / CCHC channels the module manages itself
 *                                    (27.007 §8.45 / §8.46 / §8.43)
 *
 * Which of the two carries logical channels is an option. In the default
 * (automatic) mode MANAGE CHANNEL goes through AT+CSIM, and the transport
 * falls back to AT+CCHO/AT+CGLA for the rest of the connection when the
 * module refuses it (many modules reserve the channels for themselves).
 * Either way the APDU layer sees ordinary channel numbers in the CLA: the
 * transport maps them to the module's session ids. docs/transports.md has
 * the modem quirks this transport tolerates.
 *
 * The serial line is set to raw 8N1 without flow control. The command line
 * length the module accepts bounds the APDU size (Annex B.2.1: 255
 * characters on u-blox modules); st_at_open() sets t->max_apdu from it so
 * that the client chunks, and transmit() refuses longer APDUs (ST_E_ARG)
 * rather than send a line the module would cut.
 */
#ifndef SIMTRUST_AT_H
#define SIMTRUST_AT_H

#include <stddef.h>

#include "simtrust/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ST_AT_DEFAULT_BAUD 115200u
#define ST_AT_DEFAULT_MAX_LINE 255u /* u-blox +CSIM/+CGLA limit (IoT.04 B.2.1) */
#define ST_AT_MIN_MAX_LINE 64u      /* shortest accepted: room for a SELECT by AID */
#define ST_AT_MAX_MAX_LINE 4096u
#define ST_AT_DEFAULT_TIMEOUT_MS 10000u      /* one command: key generation can be slow */
#define ST_AT_DEFAULT_PROBE_TIMEOUT_MS 1000u /* one "AT" probe */
#define ST_AT_DEFAULT_PROBE_RETRIES 5u

enum st_at_channel_mode {
    ST_AT_CHANNELS_AUTO = 0, /* MANAGE CHANNEL in AT+CSIM; AT+CCHO/CGLA if the module refuses */
    ST_AT_CHANNELS_CSIM,     /* AT+CSIM only (no fallback) */
    ST_AT_CHANNELS_CGLA,     /* logical channels through AT+CCHO/AT+CGLA/AT+CCHC only */
};

/* All-zero (or a NULL pointer) gives every default. */
struct st_at_options {
    unsigned baud;             /* when the spec has no "@BAUD"; 0: ST_AT_DEFAULT_BAUD */
    unsigned max_line;         /* longest command line in characters, CR excluded; 0: 255 */
    unsigned timeout_ms;       /* reply timeout of one command; 0: ST_AT_DEFAULT_TIMEOUT_MS */
    unsigned probe_timeout_ms; /* per "AT" probe at open; 0: ST_AT_DEFAULT_PROBE_TIMEOUT_MS */
    unsigned probe_retries;    /* "AT" probes before giving up; 0: ST_AT_DEFAULT_PROBE_RETRIES */
    enum st_at_channel_mode channels;
};

/*
 * Opens the serial device of spec ("/dev/ttyUSB2", "/dev/ttyUSB2@115200"),
 * probes the module with "AT" (with retries), turns echo off (ATE0) and
 * numeric error codes on (AT+CMEE=1, failure ignored), and fills *t.
 *
 * Returns ST_OK, or: ST_E_ARG (bad spec, baud rate or option),
 * ST_E_NO_READER (no such device), ST_E_IO (open or termios failed),
 * ST_E_TIMEOUT (the module never answered the probe), ST_E_PARSE (it only
 * answered garbage). err (may be NULL) receives a one-line reason.
 */
int st_at_open(struct st_transport *t, const char *spec, const struct st_at_options *opt, char *err,
               size_t err_len);

/*
 * Details of the last error of an AT transport (t opened by st_at_open;
 * other transports give -1 / ""):
 *  - st_at_last_cme: the code of the last "+CME ERROR: <n>" (also for the
 *    verbose texts 27.007 §9.2 defines), -1 for a plain "ERROR" or none;
 *  - st_at_last_error: a one-line description, "" when there was none.
 */
int st_at_last_cme(const struct st_transport *t);
const char *st_at_last_error(const struct st_transport *t);

/* Whether logical channels currently go through AT+CCHO/AT+CGLA (after a fallback too). */
int st_at_uses_cgla(const struct st_transport *t);

#ifdef __cplusplus
}
#endif
#endif
