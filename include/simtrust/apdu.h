/*
 * The APDU layer of libsimtrust (IoT.04 B5, B6: the device middleware sends
 * the applet's APDU-based commands; D6/I6: the applet may sit on a logical
 * channel of its own).
 *
 * A struct st_sim is one session with one SIM over one transport. It
 * encodes short APDUs (ISO 7816-4 cases 1 to 4), puts the logical channel
 * into the CLA, follows 61xx with GET RESPONSE (looping and concatenating)
 * and answers 6Cxx by re-sending with the right Le, so that the layers above
 * never see a T=0 artefact. It keeps the raw status word of the last
 * exchange (st_sim_last_sw) next to the mapped st_status, traces every APDU
 * through an optional callback and serialises threads through optional
 * lock callbacks.
 *
 * Conventions (see also error.h):
 *  - struct st_sim is allocated by the caller (static, stack or heap) and
 *    initialised with st_sim_init(); the library never allocates and there
 *    is nothing to release. Its fields are visible for sizeof only: callers
 *    SHALL NOT access them directly.
 *  - Pointers documented as "may be NULL" are the only ones that may be.
 *  - Threads: one st_sim may be shared by threads once lock callbacks are
 *    installed (st_sim_set_lock, or st_sim_use_pthread_lock in
 *    simtrust/pthread_lock.h). Every multi-APDU sequence of the library
 *    (GET RESPONSE loops here, whole IoT SAFE commands in iotsafe.h) runs
 *    under that lock, taken once per public call, so concurrent sequences
 *    never interleave. The library never takes the lock twice itself; a
 *    caller that holds it (st_sim_lock) across library calls, e.g. to read
 *    st_sim_last_sw() of its own call, needs a recursive lock (the pthread
 *    one is).
 *  - Without lock callbacks an st_sim is for one thread at a time.
 */
#ifndef SIMTRUST_APDU_H
#define SIMTRUST_APDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simtrust/error.h"
#include "simtrust/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CLA classes (the channel bits are added by the APDU layer). */
#define ST_CLA_ISO 0x00         /* first interindustry class */
#define ST_CLA_PROPRIETARY 0x80 /* proprietary class (IoT SAFE commands) */

#define ST_CHANNEL_MAX 19 /* ISO 7816-4: channels 0..3 and 4..19 */

/* Flags of struct st_apdu. */
#define ST_APDU_BASIC 0x01 /* send on the basic channel, whatever .channel says */

/*
 * One command. The case follows from lc and le:
 *   case 1: lc == 0, le == 0     case 3: lc > 0, le == 0
 *   case 2: lc == 0, le > 0      case 4: lc > 0, le > 0
 * le is the number of bytes expected, 1..256 (256 is encoded as 00); 0
 * means "no Le field". lc is at most 255 (short APDUs only: no client or
 * applet in the field uses extended length).
 */
struct st_apdu {
    uint8_t cla; /* class, channel bits zero: ST_CLA_ISO or ST_CLA_PROPRIETARY */
    uint8_t ins;
    uint8_t p1, p2;
    uint8_t channel;     /* logical channel 0..19 */
    uint8_t flags;       /* ST_APDU_* */
    const uint8_t *data; /* lc bytes; may be NULL when lc == 0 */
    size_t lc;
    size_t le;
};

/* Direction of a traced APDU. */
enum st_trace_dir {
    ST_TRACE_COMMAND = 0,  /* C-APDU about to be sent */
    ST_TRACE_RESPONSE = 1, /* R-APDU received (data || SW1 SW2) */
};

/*
 * Trace hook: called for every APDU on the wire, GET RESPONSE and 6Cxx
 * re-sends included, with the lock held. The bytes are only valid during the
 * call. Traces contain whatever the APDUs carry, secrets of COMPUTE PRF and
 * HKDF included: never enable tracing in production logs.
 */
typedef void (*st_trace_fn)(void *arg, enum st_trace_dir dir, const uint8_t *buf, size_t len);

/* Lock hooks: both non-NULL or both NULL. The lock MUST be recursive. */
typedef void (*st_lock_fn)(void *arg);

struct st_sim {
    /* Private: use the functions below. */
    struct st_transport tr;
    uint16_t last_sw;
    const char *detail;
    st_trace_fn trace;
    void *trace_arg;
    st_lock_fn lock;
    st_lock_fn unlock;
    void *lock_arg;
    uint8_t rbuf[ST_RESPONSE_MAX]; /* one R-APDU; used under the lock */
};

/*
 * Initialises a session over a transport (copied; the transport context must
 * outlive the session). Never fails. The session starts with no trace and no
 * lock, last SW 0000.
 */
void st_sim_init(struct st_sim *sim, const struct st_transport *tr);

/* Installs (fn != NULL) or removes (fn == NULL) the trace hook. */
void st_sim_set_trace(struct st_sim *sim, st_trace_fn fn, void *arg);

/*
 * Installs lock callbacks (both non-NULL) or removes them (both NULL).
 * Returns ST_E_ARG for a half pair. Call it before the session is shared.
 */
int st_sim_set_lock(struct st_sim *sim, st_lock_fn lock, st_lock_fn unlock, void *arg);

/* Takes / releases the session lock (no-ops without lock callbacks). */
void st_sim_lock(struct st_sim *sim);
void st_sim_unlock(struct st_sim *sim);

/*
 * The status word of the last R-APDU that decided the outcome of the last
 * exchange (after GET RESPONSE, the final SW), 0 if nothing was received.
 * 91xx and 63CF are reported here while the call itself returns ST_OK. With a
 * shared session read it under st_sim_lock() held around the call.
 */
uint16_t st_sim_last_sw(const struct st_sim *sim);

/*
 * A static English sentence that explains the last ST_E_UNSUPPORTED,
 * ST_E_PARSE or ST_E_BUFFER of the library in more detail ("VERIFY SIGNATURE
 * update does not fit the link's max_apdu"), or "" if none. Never NULL; the
 * string is a constant, never freed. Same thread rule as st_sim_last_sw().
 */
const char *st_sim_detail(const struct st_sim *sim);

/* Sets the detail string (for layers above; s must be a static string). */
void st_sim_set_detail(struct st_sim *sim, const char *s);

/* The largest C-APDU the transport carries (ST_SHORT_APDU_MAX when 0). */
size_t st_sim_max_apdu(const struct st_sim *sim);

/* The transport (for its optional operations). Never NULL. */
const struct st_transport *st_sim_transport(const struct st_sim *sim);

/*
 * The CLA byte for a class and a channel: 0x0X / 0x8X for channels 0-3,
 * 0x4X / 0xCX for channels 4-19 (ISO 7816-4 §5.4.1). Returns 0xFF (never a
 * valid CLA) for a channel above 19 or a class other than 00 / 80.
 */
uint8_t st_apdu_cla(uint8_t cls, uint8_t channel);

/*
 * Encodes a command (cases 1-4, short). *out_len: in, the capacity of out;
 * out, the encoded length. Errors: ST_E_ARG (lc > 255, le > 256, bad class or
 * channel, data NULL with lc > 0), ST_E_BUFFER (out too small).
 */
int st_apdu_encode(const struct st_apdu *cmd, uint8_t *out, size_t *out_len);

/*
 * Sends a command and returns the card's answer with every 61xx / 6Cxx
 * resolved:
 *  - 61xx: GET RESPONSE (same CLA, Le = SW2, 00 = 256) until another SW,
 *    concatenating the data;
 *  - 6Cxx: the command once more with Le = SW2.
 * The data of the final answer goes to resp (*resp_len: in, capacity; out,
 * length), the final SW to *sw and to st_sim_last_sw(). Any SW is a success
 * of this function: mapping it is the caller's choice (st_sim_command).
 * Errors: ST_E_ARG, ST_E_UNSUPPORTED (the encoded command exceeds the
 * transport's max_apdu), transport codes, ST_E_PARSE (an R-APDU shorter
 * than 2 bytes or longer than announced), ST_E_BUFFER (the data exceeds
 * *resp_len). On error *resp_len and *sw are unchanged and the content of
 * resp is unspecified. resp may be NULL when *resp_len is 0; resp_len may
 * be NULL when no data is expected (then any data is ST_E_BUFFER).
 * Thread rule: holds the lock for the whole exchange.
 */
int st_sim_exchange(struct st_sim *sim, const struct st_apdu *cmd, uint8_t *resp, size_t *resp_len,
                    uint16_t *sw);

/*
 * The same as st_sim_exchange / st_sim_command for layers built on this one
 * (iotsafe.c, a USIM client...) that already hold the lock for a longer
 * sequence: they take no lock themselves.
 */
int st_sim_exchange_held(struct st_sim *sim, const struct st_apdu *cmd, uint8_t *resp,
                         size_t *resp_len, uint16_t *sw);
int st_sim_command_held(struct st_sim *sim, const struct st_apdu *cmd, uint8_t *resp,
                        size_t *resp_len);

/*
 * st_sim_exchange plus the status-word mapping: 9000, 91xx (proactive
 * command pending, treated as success like THM/THP) and 63CF (success, a
 * remote administration session has completed; IoT.04 K3) give ST_OK, any
 * other SW its st_status_from_sw() code (the raw SW stays in
 * st_sim_last_sw). *resp_len is written only on ST_OK; on error the content
 * of resp is unspecified.
 */
int st_sim_command(struct st_sim *sim, const struct st_apdu *cmd, uint8_t *resp, size_t *resp_len);

/*
 * MANAGE CHANNEL open on the basic channel (00 70 00 00 01): the card picks
 * the channel, written to *channel. Errors: card codes (6881 and 6A81 "no
 * channel left" become ST_E_CARD_CHANNEL), ST_E_PARSE if the answer is not
 * one byte in 1..19.
 */
int st_sim_open_channel(struct st_sim *sim, uint8_t *channel);

/* MANAGE CHANNEL close (00 70 80 <channel>, case 1). Channel 0 is ST_E_ARG. */
int st_sim_close_channel(struct st_sim *sim, uint8_t channel);

/*
 * SELECT by AID (00|ch A4 04 00 Lc AID, case 3) on a channel. The FCI, if
 * any, is read and dropped (no client uses it). Errors: card codes (6A82:
 * ST_E_CARD_NOT_FOUND, the applet is absent), ST_E_ARG for an AID of 0 or
 * more than 16 bytes.
 */
int st_sim_select(struct st_sim *sim, uint8_t channel, const uint8_t *aid, size_t aid_len);

/* The three above for callers that hold the lock (see st_sim_exchange_held). */
int st_sim_open_channel_held(struct st_sim *sim, uint8_t *channel);
int st_sim_close_channel_held(struct st_sim *sim, uint8_t channel);
int st_sim_select_held(struct st_sim *sim, uint8_t channel, const uint8_t *aid, size_t aid_len);

#ifdef __cplusplus
}
#endif
#endif
