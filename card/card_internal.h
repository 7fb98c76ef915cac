/*
 * Internals shared by the card's dispatcher and the IoT SAFE command files.
 * Not installed; only the card sources and the card tests include it.
 */
#ifndef SIMTRUST_CARD_INTERNAL_H
#define SIMTRUST_CARD_INTERNAL_H

#include <openssl/evp.h>

#include "card.h"
#include "sw.h"

#define ST_MAX_CHANNELS 4
#define ST_MAX_SESSIONS 4 /* per session kind; advertised in GET DATA tag B7 */

/* A parsed short C-APDU. */
struct st_apdu {
    uint8_t cla, ins, p1, p2;
    uint8_t channel;     /* from the CLA's low bits */
    const uint8_t *data; /* Lc bytes, NULL when Lc absent */
    size_t lc;
    bool has_le;
    size_t le;           /* 1..256 when has_le (Le byte 00 = 256) */
};

/* Response data being built by a handler (SW is the handler's return value). */
struct st_resp {
    uint8_t buf[ST_FILE_MAX + 512]; /* larger than one R-APDU: served by GET RESPONSE */
    size_t len;
};

/* Appends bytes; returns false (and appends nothing) when they do not fit. */
bool st_resp_put(struct st_resp *r, const void *p, size_t n);
bool st_resp_put_u8(struct st_resp *r, uint8_t b);
/* Appends tag, 1-byte length and value (n <= 255). */
bool st_resp_put_tlv(struct st_resp *r, uint8_t tag, const void *p, size_t n);

enum st_session_kind { ST_SESS_SIGN, ST_SESS_VERIFY, ST_SESS_PUTKEY, ST_SESS_KINDS };

/* One COMPUTE SIGNATURE / VERIFY SIGNATURE / PUT PUBLIC KEY session. */
struct st_session {
    bool open;
    enum st_obj_kind key_kind;  /* which table key_index points into */
    int key_index;
    uint8_t mode;               /* A1: 01 full text, 02 last block, 03 pad & sign */
    uint16_t hash;              /* 91 */
    uint8_t sig_alg;            /* 92 */
    EVP_MD_CTX *md;             /* full-text mode: running hash over all blocks */
    uint8_t buf[ST_PUB_MAX + 16]; /* PUT PUBLIC KEY: blocks collected so far */
    size_t buf_len;
};

struct st_channel {
    bool open;
    bool selected; /* the IoT SAFE applet is selected on this channel */
};

struct st_card {
    struct st_card_config cfg;
    char *image_path;              /* owned copy of cfg.image_path */
    struct st_card_state state;    /* live state, volatile values included */
    struct st_card_state *saved;   /* last committed state (for rollback) */
    struct st_channel ch[ST_MAX_CHANNELS];
    struct st_session sess[ST_SESS_KINDS][ST_MAX_SESSIONS];
    /* Pending response for GET RESPONSE (61xx): one per card, like T=0. */
    uint8_t pending[sizeof(((struct st_resp *)0)->buf)];
    size_t pending_len, pending_off;
    uint16_t pending_sw;           /* SW to send after the last chunk */
    size_t list_offset;            /* GET DATA object list: next entry (P2=01) */
    struct st_card_stats stats;
    uint64_t trace_seq;
    uint64_t op_us;                /* latency accrued by the current APDU */
    struct st_resp resp;           /* scratch, reused per APDU (too big for the stack) */
};

/*
 * Makes the state changes of the current command durable. On failure the
 * live state is rolled back to the last committed one and the returned SW is
 * the one to answer (6581); on success returns SW_OK. RAM-only cards always
 * succeed. Volatile key values are not written.
 */
uint16_t st_card_commit(st_card *card);

/* Accounts one card operation in the stats and the latency model. */
void st_card_account(st_card *card, enum st_card_op op);

/*
 * Parses a reference TLV (tag id_tag = ID or id_tag - 0x10 = label) at the
 * start of data and finds that object. Returns SW_OK and sets *obj, or an SW
 * (6A80 malformed, 6A82 not found). *used receives the TLV's length.
 */
uint16_t st_find_ref(st_card *card, enum st_obj_kind kind, const uint8_t *data, size_t len,
                     struct st_object **obj, size_t *used);

/* Command handlers. Each returns the SW; response data goes to *out. */
typedef uint16_t (*st_cmd_handler)(st_card *card, const struct st_apdu *a, struct st_resp *out);

uint16_t st_cmd_get_data(st_card *, const struct st_apdu *, struct st_resp *);        /* CB */
uint16_t st_cmd_read_file(st_card *, const struct st_apdu *, struct st_resp *);       /* B0 */
uint16_t st_cmd_get_random(st_card *, const struct st_apdu *, struct st_resp *);      /* 84 */
uint16_t st_cmd_sign_init(st_card *, const struct st_apdu *, struct st_resp *);       /* 2A */
uint16_t st_cmd_sign_update(st_card *, const struct st_apdu *, struct st_resp *);     /* 2B */
uint16_t st_cmd_verify_init(st_card *, const struct st_apdu *, struct st_resp *);     /* 2C */
uint16_t st_cmd_verify_update(st_card *, const struct st_apdu *, struct st_resp *);   /* 2D */
uint16_t st_cmd_compute_dh(st_card *, const struct st_apdu *, struct st_resp *);      /* 46 */
uint16_t st_cmd_compute_prf(st_card *, const struct st_apdu *, struct st_resp *);     /* 48 */
uint16_t st_cmd_compute_hkdf(st_card *, const struct st_apdu *, struct st_resp *);    /* 4A */
uint16_t st_cmd_generate_key(st_card *, const struct st_apdu *, struct st_resp *);    /* B9 */
uint16_t st_cmd_read_public_key(st_card *, const struct st_apdu *, struct st_resp *); /* CD */
uint16_t st_cmd_put_key_init(st_card *, const struct st_apdu *, struct st_resp *);    /* 24 */
uint16_t st_cmd_put_key_update(st_card *, const struct st_apdu *, struct st_resp *);  /* D8 */

/* Closes every session and frees their hash contexts (reset, free). */
void st_sessions_close_all(st_card *card);
void st_session_close(struct st_session *s);

#endif
