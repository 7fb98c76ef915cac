/*
 * PC/SC transport of libsimtrust (pcsc-lite on Linux): APDUs to a SIM in a
 * reader, or to simtrust-card behind pcscd's vpcd driver (IoT.04 B5, B6,
 * D7: the applet does not care about the physical interface).
 *
 * The card is connected once, shared (SCARD_SHARE_SHARED, T=0 or T=1), and
 * the handle is kept for the life of the transport so that logical channels
 * opened on the card stay valid between APDUs. PC/SC errors are mapped to
 * transport codes at this edge (docs/transports.md has the table); the
 * PC/SC code and its text stay available for messages.
 */
#ifndef SIMTRUST_PCSC_H
#define SIMTRUST_PCSC_H

#include <stddef.h>

#include "simtrust/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Connects to a card and fills *t. reader selects the reader:
 *  - NULL or "": the first reader (in SCardListReaders order) with a card;
 *  - "#N": the reader with index N (0-based, as st_pcsc_list_readers numbers them);
 *  - a name: that reader; if no name matches exactly, the first reader whose
 *    name starts with it.
 * Returns ST_OK, or ST_E_NO_READER (no PC/SC service, no reader, no such
 * reader), ST_E_NO_CARD (reader empty), ST_E_IO (sharing violation, other
 * PC/SC failures). err (may be NULL) receives a one-line reason.
 *
 * The transport's reset() (SCardReconnect with SCARD_RESET_CARD) writes the
 * ATR; *atr_len is in: capacity (>= 33), out: length.
 */
int st_pcsc_open(struct st_transport *t, const char *reader, char *err, size_t err_len);

/*
 * Calls fn once per reader, in SCardListReaders order (the "#N" index),
 * with whether a card is present. Returns the number of readers (0 when
 * pcscd runs without readers), or ST_E_NO_READER when the PC/SC service is
 * absent, ST_E_IO on another PC/SC failure.
 */
typedef void (*st_pcsc_reader_fn)(void *arg, unsigned index, const char *name, int card_present);
int st_pcsc_list_readers(st_pcsc_reader_fn fn, void *arg, char *err, size_t err_len);

/* The name of the connected reader ("" for another kind of transport). */
const char *st_pcsc_reader_name(const struct st_transport *t);

/*
 * The last PC/SC return code seen by a transport (0 = SCARD_S_SUCCESS), and
 * a one-line message with the failed call and pcsc-lite's text for the code
 * (pcsc_stringify_error); "" after a success.
 */
long st_pcsc_last_error(const struct st_transport *t);
const char *st_pcsc_last_error_text(const struct st_transport *t);

/* The transport code of a PC/SC return code (ST_OK for SCARD_S_SUCCESS). */
int st_pcsc_map_error(long rv);

#ifdef __cplusplus
}
#endif
#endif
