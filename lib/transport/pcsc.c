/*
 * PC/SC transport (see simtrust/pcsc.h).
 *
 * One SCardConnect for the life of the transport: unlike a connect per
 * APDU (the Orange client's way, reference §5), keeping the handle also
 * keeps the card's view of this application stable, and costs one round
 * trip to pcscd per APDU instead of four.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <PCSC/winscard.h>

#include "simtrust/error.h"
#include "simtrust/pcsc.h"

#define READER_NAME_MAX 256
#define LIST_RETRIES 3
/* How long a failed transmit waits for pcscd to notice a card or reader that went away. */
#define GONE_WAIT_MS 2000

struct pcsc_ctx {
    SCARDCONTEXT sc;
    SCARDHANDLE card;
    DWORD proto;
    LONG last_rv;
    char reader[READER_NAME_MAX];
    char err[256];
};

static void say(char *err, size_t err_len, const char *what, LONG rv)
{
    if (err != NULL && err_len > 0)
        snprintf(err, err_len, "PC/SC %s: %s (0x%08lX)", what, pcsc_stringify_error(rv),
                 (unsigned long)(DWORD)rv);
}

/* Records rv and a message; returns the transport code. */
static int fail(struct pcsc_ctx *c, const char *what, LONG rv)
{
    c->last_rv = rv;
    say(c->err, sizeof(c->err), what, rv);
    return st_pcsc_map_error(rv);
}

static const SCARD_IO_REQUEST *pci_of(DWORD proto)
{
    return proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
}

/* The multi-string of reader names (malloc'd), retrying if the list changes meanwhile. */
static LONG list_readers(SCARDCONTEXT sc, char **out, DWORD *len)
{
    LONG rv = SCARD_E_INSUFFICIENT_BUFFER;
    for (int i = 0; i < LIST_RETRIES && rv == SCARD_E_INSUFFICIENT_BUFFER; i++) {
        DWORD n = 0;
        rv = SCardListReaders(sc, NULL, NULL, &n);
        if (rv != SCARD_S_SUCCESS)
            return rv;
        char *buf = malloc(n > 0 ? n : 1);
        if (buf == NULL)
            return SCARD_E_NO_MEMORY;
        rv = SCardListReaders(sc, NULL, buf, &n);
        if (rv == SCARD_S_SUCCESS) {
            if (n == 0)
                buf[0] = '\0';
            *out = buf;
            *len = n;
            return rv;
        }
        free(buf);
    }
    return rv;
}

static bool card_present(SCARDCONTEXT sc, const char *name)
{
    SCARD_READERSTATE st;
    memset(&st, 0, sizeof(st));
    st.szReader = name;
    st.dwCurrentState = SCARD_STATE_UNAWARE;
    /* Timeout 0 with UNAWARE: the current state, at once. */
    LONG rv = SCardGetStatusChange(sc, 0, &st, 1);
    return (rv == SCARD_S_SUCCESS || rv == SCARD_E_TIMEOUT) &&
           (st.dwEventState & SCARD_STATE_PRESENT) != 0 &&
           (st.dwEventState & SCARD_STATE_MUTE) == 0;
}

static int connect_reader(struct pcsc_ctx *c, const char *name)
{
    LONG rv = SCardConnect(c->sc, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                           &c->card, &c->proto);
    if (rv != SCARD_S_SUCCESS)
        return fail(c, "SCardConnect", rv);
    snprintf(c->reader, sizeof(c->reader), "%s", name);
    return ST_OK;
}

/* "#N" → N, or -1 when spec is not an index. */
static long reader_index(const char *spec)
{
    if (spec[0] != '#' || spec[1] == '\0')
        return -1;
    long v = 0;
    for (const char *p = spec + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > 100000)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

static int choose_and_connect(struct pcsc_ctx *c, const char *list, const char *spec)
{
    if (spec == NULL || spec[0] == '\0') {
        int st = ST_E_NO_CARD;
        for (const char *r = list; *r != '\0'; r += strlen(r) + 1) {
            if (!card_present(c->sc, r))
                continue;
            st = connect_reader(c, r);
            if (st == ST_OK)
                return ST_OK;
        }
        /* A card that was there but could not be connected says more than "none". */
        if (st == ST_E_NO_CARD)
            snprintf(c->err, sizeof(c->err), "PC/SC: no reader has a card");
        return st;
    }
    long want = reader_index(spec);
    if (want >= 0) {
        long i = 0;
        for (const char *r = list; *r != '\0'; r += strlen(r) + 1, i++)
            if (i == want)
                return connect_reader(c, r);
        snprintf(c->err, sizeof(c->err), "PC/SC: no reader %s (%ld readers)", spec, i);
        return ST_E_NO_READER;
    }
    for (const char *r = list; *r != '\0'; r += strlen(r) + 1)
        if (strcmp(r, spec) == 0)
            return connect_reader(c, r);
    size_t n = strlen(spec);
    for (const char *r = list; *r != '\0'; r += strlen(r) + 1)
        if (strncmp(r, spec, n) == 0)
            return connect_reader(c, r);
    snprintf(c->err, sizeof(c->err), "PC/SC: no reader named \"%.100s\"", spec);
    return ST_E_NO_READER;
}

/*
 * After a transmit that failed with only "transaction failed" or a
 * communication error, or that brought back no status word: whether the
 * card or the reader went away (vpcd's card process killed, a reader
 * unplugged). Returns the PC/SC code that says so, or SCARD_S_SUCCESS when
 * the card still looks present. pcscd polls the slots, so a removal may
 * show only a little later: waits for a state change, bounded by
 * GONE_WAIT_MS (this path is rare; a hang is not an option).
 */
static LONG gone_reason(struct pcsc_ctx *c)
{
    char name[READER_NAME_MAX];
    DWORD name_len = sizeof(name), state = 0, proto = 0;
    BYTE atr[MAX_ATR_SIZE];
    DWORD atr_len = sizeof(atr);
    LONG rv = SCardStatus(c->card, name, &name_len, &state, &proto, atr, &atr_len);
    if (rv != SCARD_S_SUCCESS && st_pcsc_map_error(rv) != ST_E_IO)
        return rv;
    if (rv == SCARD_S_SUCCESS && (state & SCARD_PRESENT) == 0)
        return SCARD_W_REMOVED_CARD;

    SCARD_READERSTATE rs;
    memset(&rs, 0, sizeof(rs));
    rs.szReader = c->reader;
    rs.dwCurrentState = SCARD_STATE_UNAWARE;
    rv = SCardGetStatusChange(c->sc, 0, &rs, 1);
    if (rv == SCARD_S_SUCCESS && (rs.dwEventState & SCARD_STATE_PRESENT) != 0) {
        rs.dwCurrentState = rs.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
        rv = SCardGetStatusChange(c->sc, GONE_WAIT_MS, &rs, 1);
    }
    if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT && st_pcsc_map_error(rv) != ST_E_IO)
        return rv;
    if (rv == SCARD_S_SUCCESS) {
        if ((rs.dwEventState & (SCARD_STATE_UNAVAILABLE | SCARD_STATE_UNKNOWN)) != 0)
            return SCARD_E_READER_UNAVAILABLE;
        if ((rs.dwEventState & SCARD_STATE_PRESENT) == 0)
            return SCARD_W_REMOVED_CARD;
    }
    return SCARD_S_SUCCESS;
}

static int pcsc_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t *rlen)
{
    struct pcsc_ctx *c = ctx;
    if (c == NULL || capdu == NULL || rapdu == NULL || rlen == NULL || clen < 4 ||
        clen > ST_SHORT_APDU_MAX || *rlen < 2)
        return ST_E_ARG;
    DWORD rl = *rlen > 0xFFFFu ? 0xFFFFu : (DWORD)*rlen;
    LONG rv = SCardTransmit(c->card, pci_of(c->proto), capdu, (DWORD)clen, NULL, rapdu, &rl);
    if (rv == SCARD_W_RESET_CARD) {
        /*
         * Reconnect once so the transport stays usable, and still report:
         * the SELECT and the logical channels of the session died with the
         * reset, the command was not executed.
         */
        LONG r2 = SCardReconnect(c->card, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                                 SCARD_LEAVE_CARD, &c->proto);
        if (r2 != SCARD_S_SUCCESS)
            return fail(c, "SCardReconnect after a reset", r2);
        return fail(c, "SCardTransmit (card reset by another application, reconnected)", rv);
    }
    if (rv == SCARD_E_NOT_TRANSACTED || rv == SCARD_F_COMM_ERROR || rv == SCARD_E_COMM_DATA_LOST ||
        rv == SCARD_F_UNKNOWN_ERROR) {
        LONG why = gone_reason(c);
        return fail(c, "SCardTransmit", why != SCARD_S_SUCCESS ? why : rv);
    }
    if (rv == SCARD_E_INSUFFICIENT_BUFFER) {
        fail(c, "SCardTransmit", rv);
        return ST_E_BUFFER; /* the caller's R-APDU buffer, not the link */
    }
    if (rv != SCARD_S_SUCCESS)
        return fail(c, "SCardTransmit", rv);
    if (rl < 2) {
        /* vpcd answers an empty frame when its card went away mid-command. */
        LONG why = gone_reason(c);
        if (why != SCARD_S_SUCCESS)
            return fail(c, "SCardTransmit (empty answer)", why);
        c->last_rv = rv;
        if (rl == 0) {
            /* A card always answers a status word: silence means it is gone,
             * even when pcscd has not noticed the removal yet. */
            snprintf(c->err, sizeof(c->err), "PC/SC: the card gave no answer (removed?)");
            return ST_E_NO_CARD;
        }
        snprintf(c->err, sizeof(c->err), "PC/SC: R-APDU of %lu bytes, no status word",
                 (unsigned long)rl);
        return ST_E_PARSE;
    }
    c->last_rv = rv;
    *rlen = rl;
    return ST_OK;
}

static int pcsc_reset(void *ctx, uint8_t *atr, size_t *atr_len)
{
    struct pcsc_ctx *c = ctx;
    if (c == NULL || (atr != NULL && atr_len == NULL))
        return ST_E_ARG;
    LONG rv = SCardReconnect(c->card, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                             SCARD_RESET_CARD, &c->proto);
    if (rv != SCARD_S_SUCCESS)
        return fail(c, "SCardReconnect", rv);
    if (atr == NULL)
        return ST_OK;
    char name[READER_NAME_MAX];
    DWORD name_len = sizeof(name), state = 0, proto = 0;
    BYTE buf[MAX_ATR_SIZE];
    DWORD len = sizeof(buf);
    rv = SCardStatus(c->card, name, &name_len, &state, &proto, buf, &len);
    if (rv != SCARD_S_SUCCESS)
        return fail(c, "SCardStatus", rv);
    if (len > *atr_len)
        return ST_E_BUFFER;
    memcpy(atr, buf, len);
    *atr_len = len;
    return ST_OK;
}

static void pcsc_close(void *ctx)
{
    struct pcsc_ctx *c = ctx;
    if (c == NULL)
        return;
    /* LEAVE_CARD: other applications sharing the card keep their state. */
    SCardDisconnect(c->card, SCARD_LEAVE_CARD);
    SCardReleaseContext(c->sc);
    free(c);
}

static const struct st_transport_ops pcsc_ops = {
    .name = "pcsc",
    .transmit = pcsc_transmit,
    .open_channel = NULL, /* MANAGE CHANNEL goes through transmit */
    .close_channel = NULL,
    .reset = pcsc_reset,
    .close = pcsc_close,
};

int st_pcsc_open(struct st_transport *t, const char *reader, char *err, size_t err_len)
{
    if (t == NULL) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "no transport");
        return ST_E_ARG;
    }
    struct pcsc_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "out of memory");
        return ST_E_IO;
    }
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->sc);
    if (rv != SCARD_S_SUCCESS) {
        int st = st_pcsc_map_error(rv);
        say(err, err_len, "SCardEstablishContext (is pcscd running?)", rv);
        free(c);
        return st;
    }
    char *list = NULL;
    DWORD len = 0;
    int st;
    rv = list_readers(c->sc, &list, &len);
    if (rv != SCARD_S_SUCCESS)
        st = fail(c, "SCardListReaders", rv);
    else
        st = choose_and_connect(c, list, reader);
    free(list);
    if (st != ST_OK) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "%s", c->err);
        SCardReleaseContext(c->sc);
        free(c);
        return st;
    }
    c->last_rv = SCARD_S_SUCCESS;
    c->err[0] = '\0';
    t->ops = &pcsc_ops;
    t->ctx = c;
    t->max_apdu = 0; /* short APDUs, no line limit */
    return ST_OK;
}

int st_pcsc_list_readers(st_pcsc_reader_fn fn, void *arg, char *err, size_t err_len)
{
    SCARDCONTEXT sc;
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &sc);
    if (rv != SCARD_S_SUCCESS) {
        say(err, err_len, "SCardEstablishContext (is pcscd running?)", rv);
        return st_pcsc_map_error(rv);
    }
    char *list = NULL;
    DWORD len = 0;
    rv = list_readers(sc, &list, &len);
    if (rv == SCARD_E_NO_READERS_AVAILABLE) {
        SCardReleaseContext(sc);
        return 0;
    }
    if (rv != SCARD_S_SUCCESS) {
        say(err, err_len, "SCardListReaders", rv);
        SCardReleaseContext(sc);
        return st_pcsc_map_error(rv);
    }
    unsigned i = 0;
    for (const char *r = list; *r != '\0'; r += strlen(r) + 1, i++)
        if (fn != NULL)
            fn(arg, i, r, card_present(sc, r));
    free(list);
    SCardReleaseContext(sc);
    return (int)i;
}

static struct pcsc_ctx *ctx_of(const struct st_transport *t)
{
    return (t != NULL && t->ops == &pcsc_ops) ? t->ctx : NULL;
}

const char *st_pcsc_reader_name(const struct st_transport *t)
{
    struct pcsc_ctx *c = ctx_of(t);
    return c != NULL ? c->reader : "";
}

long st_pcsc_last_error(const struct st_transport *t)
{
    struct pcsc_ctx *c = ctx_of(t);
    return c != NULL ? (long)c->last_rv : 0;
}

const char *st_pcsc_last_error_text(const struct st_transport *t)
{
    struct pcsc_ctx *c = ctx_of(t);
    return c != NULL ? c->err : "";
}
