/*
 * COMPUTE SIGNATURE (2A/2B) and VERIFY SIGNATURE (2C/2D): IoT.04 E1, E2,
 * F2 (the three modes), F3 (verification with a public key object).
 * Reference §2.8, §2.9, rules 8.6-8.8.
 *
 * One sequence, under the session lock:
 *   Init close  [ch] 2A|2C 01 <s>            (ORA/ATS; SW ignored, rule 8.7)
 *   Init open   [ch] 2A|2C 00 <s> Lc  84|85|74|75 ref, A1 mode, [91 hash], 92 alg
 *   Update      [ch] 2B|2D 00 <s> Lc  block   (as many as the link needs)
 *   Update      [ch] 2B|2D 80 <s> Lc  block [Le]
 *   Init close  [ch] 2A|2C 01 <s>            (WS closes after every signature)
 * Blocks carry the mode's input (9B data, or 9A 9C 9D, or 9E digest) and,
 * for VERIFY, the signature 33; 9B and 33 may be split over blocks, the
 * digest inputs of modes 02/03 travel in the last block.
 */
#include <string.h>

#include "iotsafe_int.h"

#define SIG_MAX 512 /* longest signature answer we accept (RSA-4096) */

/*
 * A piece of Update data: a TLV, possibly split over several blocks
 * (split), or one that must travel in the last block (last: the digest
 * input of modes 02/03; such segments come after all others).
 */
struct seg {
    uint8_t tag;
    const uint8_t *v;
    size_t len;
    unsigned form; /* ST_TLV_BER or ST_TLV_LEN2 */
    bool split;
    bool last;
};

/* Header bytes of a TLV of n bytes in a form. */
static size_t hdr_len(size_t n, unsigned form)
{
    return form == ST_TLV_LEN2 ? 3 : st_tlv_header_len(n);
}

/* Longest piece of a split segment (rem bytes left) that fits in space. */
static size_t piece_len(size_t rem, size_t space, unsigned form)
{
    size_t p;
    if (form == ST_TLV_LEN2) {
        p = space > 3 ? space - 3 : 0;
    } else if (space >= 3 + 128) {
        p = space - 3;
    } else {
        p = space > 2 ? space - 2 : 0;
        if (p > 127)
            p = 127;
    }
    if (p > 255)
        p = 255;
    return rem < p ? rem : p;
}

/*
 * Sends segs as Update blocks of at most `cap` data bytes. All but the last
 * go with P1 = 00 (case 3), the last with P1 = 80 and Le = last_le; its
 * answer's data lands in resp (*resp_len in/out).
 */
static int send_blocks(struct st_iotsafe *ios, uint8_t ins, uint8_t session, const struct seg *s,
                       size_t nseg, size_t cap, size_t last_le, uint8_t *resp, size_t *resp_len)
{
    uint8_t block[255];
    struct st_tlv_writer w;
    size_t last_total = 0;
    int rc;
    if (cap < 4)
        return st_ios_unsupported(ios, "the link's max_apdu leaves no room for Update data");
    for (size_t i = 0; i < nseg; i++)
        if (s[i].last)
            last_total += hdr_len(s[i].len, s[i].form) + s[i].len;
    if (last_total > cap)
        return st_ios_unsupported(ios, "the digest input of the signature mode does not fit one "
                                       "APDU of the link");
    st_tlv_writer_init(&w, block, cap);
    for (size_t i = 0; i < nseg; i++) {
        size_t off = 0;
        bool first = true;
        if (s[i].last && last_total > cap - w.len) {
            /* The last-block inputs start here and need a block of their own. */
            rc = st_ios_command(ios, ins, P1_BLOCK_MORE, session, block, w.len, 0, NULL, NULL);
            if (rc != ST_OK)
                return rc;
            st_tlv_writer_init(&w, block, cap);
        }
        if (s[i].last)
            last_total = 0; /* all of them fit from here on */
        while (first || off < s[i].len) {
            size_t rem = s[i].len - off, take;
            size_t space = cap - w.len;
            if (s[i].split) {
                take = piece_len(rem, space, s[i].form);
                if (take == 0 && rem > 0)
                    take = SIZE_MAX; /* no room: flush first */
                else if (take == 0 && space < hdr_len(0, s[i].form))
                    take = SIZE_MAX;
            } else {
                if (hdr_len(rem, s[i].form) + rem > cap)
                    return st_ios_unsupported(ios, "a signature input does not fit one APDU of "
                                                   "the link");
                take = hdr_len(rem, s[i].form) + rem <= space ? rem : SIZE_MAX;
            }
            if (take == SIZE_MAX) {
                if (w.len == 0)
                    return st_ios_unsupported(ios, "an Update TLV does not fit the link");
                /* The block is full and more data follows: not the last block. */
                rc = st_ios_command(ios, ins, P1_BLOCK_MORE, session, block, w.len, 0, NULL, NULL);
                if (rc != ST_OK)
                    return rc;
                st_tlv_writer_init(&w, block, cap);
                continue;
            }
            st_tlv_put_form(&w, s[i].tag, s[i].v + off, take, s[i].form);
            if (st_tlv_writer_status(&w) != ST_OK)
                return ST_E_ARG; /* cannot happen: sizes checked above */
            off += take;
            first = false;
        }
    }
    return st_ios_command(ios, ins, P1_BLOCK_LAST, session, block, w.len, last_le, resp, resp_len);
}

/* Total encoded size of segments sent in one block. */
static size_t total_len(const struct seg *s, size_t n)
{
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += hdr_len(s[i].len, s[i].form) + s[i].len;
    return t;
}

/* Checks and completes the input; fills the Init TLVs. */
static int init_data(struct st_iotsafe *ios, enum st_iotsafe_kind kind,
                     const struct st_iotsafe_ref *key, const struct st_iotsafe_sig_input *in,
                     struct st_tlv_writer *w, uint16_t *hash_out, uint8_t *alg_out)
{
    uint16_t hash = in->hash;
    uint8_t alg = in->alg ? in->alg : ST_IOTSAFE_SIG_ECDSA;
    switch (in->mode) {
    case ST_IOTSAFE_MODE_FULL_TEXT:
        if (hash == 0)
            hash = ST_IOTSAFE_HASH_SHA256;
        if (in->data == NULL && in->len > 0)
            return ST_E_ARG;
        break;
    case ST_IOTSAFE_MODE_LAST_BLOCK:
        if (hash == 0)
            hash = ST_IOTSAFE_HASH_SHA256;
        if (hash != ST_IOTSAFE_HASH_SHA256 || in->state == NULL || in->done % 64 != 0 ||
            (in->data == NULL && in->len > 0))
            return ST_E_ARG;
        break;
    case ST_IOTSAFE_MODE_PAD_SIGN:
        if (in->data == NULL || in->len == 0 || in->len > 64)
            return ST_E_ARG;
        /* The applets pick the hash from the 9E length: say the same (rule 8.8). */
        if (hash == 0)
            hash = in->len == 32   ? ST_IOTSAFE_HASH_SHA256
                   : in->len == 48 ? ST_IOTSAFE_HASH_SHA384
                   : in->len == 64 ? ST_IOTSAFE_HASH_SHA512
                                   : 0;
        break;
    default:
        return ST_E_ARG;
    }
    st_ios_put_ref(w, kind, key);
    st_tlv_put_u8(w, 0xA1, in->mode);
    if (hash != 0)
        st_tlv_put_u16(w, 0x91, hash);
    st_tlv_put_u8(w, 0x92, alg);
    if (st_tlv_writer_status(w) != ST_OK)
        return ST_E_ARG;
    if (w->len > st_ios_data_max(ios, false))
        return st_ios_unsupported(ios, "the signature session Init does not fit the link");
    *hash_out = hash;
    *alg_out = alg;
    return ST_OK;
}

/* The mode's digest input (the last-block segments of modes 02 and 03). */
static size_t digest_segs(const struct st_iotsafe_sig_input *in, uint8_t done_be[4], struct seg *s)
{
    if (in->mode == ST_IOTSAFE_MODE_PAD_SIGN) {
        s[0] = (struct seg){0x9E, in->data, in->len, ST_TLV_BER, false, true};
        return 1;
    }
    size_t n = 0;
    done_be[0] = (uint8_t)(in->done >> 24);
    done_be[1] = (uint8_t)(in->done >> 16);
    done_be[2] = (uint8_t)(in->done >> 8);
    done_be[3] = (uint8_t)in->done;
    if (in->len > 0)
        s[n++] = (struct seg){0x9A, in->data, in->len, ST_TLV_BER, false, true};
    s[n++] = (struct seg){0x9C, in->state, 32, ST_TLV_BER, false, true};
    s[n++] = (struct seg){0x9D, done_be, 4, ST_TLV_BER, false, true};
    return n;
}

/* Init (after the optional close), blocks, close. */
static int run_session(struct st_iotsafe *ios, uint8_t ins_init, uint8_t session,
                       const struct st_tlv_writer *init, const struct seg *segs, size_t nseg,
                       size_t last_le, uint8_t *resp, size_t *resp_len)
{
    int rc;
    if (!(ios->cfg.flags & ST_IOTSAFE_NO_PRECLOSE)) {
        rc = st_ios_close_session(ios, ins_init, session);
        if (rc != ST_OK)
            return rc;
    }
    rc = st_ios_command(ios, ins_init, P1_SESSION_OPEN, session, init->buf, init->len, 0, NULL,
                        NULL);
    if (rc != ST_OK)
        return rc;
    size_t cap = st_ios_data_max(ios, last_le > 0);
    rc = send_blocks(ios, (uint8_t)(ins_init + 1), session, segs, nseg, cap, last_le, resp,
                     resp_len);
    if (!(ios->cfg.flags & ST_IOTSAFE_KEEP_SESSION)) {
        int rc2 = st_ios_close_session(ios, ins_init, session);
        if (rc == ST_OK && rc2 != ST_OK)
            rc = rc2;
    }
    return rc;
}

static int sign_locked(struct st_iotsafe *ios, const struct st_iotsafe_ref *key,
                       const struct st_iotsafe_sig_input *in, uint8_t *sig, size_t *sig_len)
{
    uint8_t init_buf[128], done_be[4], resp[SIG_MAX + 8];
    struct st_tlv_writer w;
    struct seg segs[3];
    size_t nseg, n = sizeof(resp);
    uint16_t hash;
    uint8_t alg;
    st_tlv_writer_init(&w, init_buf, sizeof(init_buf));
    int rc = init_data(ios, ST_IOTSAFE_PRIVATE_KEY, key, in, &w, &hash, &alg);
    if (rc != ST_OK)
        return rc;
    if (in->mode == ST_IOTSAFE_MODE_FULL_TEXT) {
        segs[0] = (struct seg){0x9B, in->data, in->len, ST_TLV_BER, true, false};
        nseg = 1;
    } else {
        nseg = digest_segs(in, done_be, segs);
    }
    rc = run_session(ios, INS_SIGN_INIT, ios->cfg.session_sign, &w, segs, nseg, LE_ANY, resp, &n);
    if (rc == ST_E_BUFFER)
        st_sim_set_detail(ios->sim, "COMPUTE SIGNATURE: answer longer than any signature");
    if (rc != ST_OK)
        return rc;
    rc = st_iotsafe_parse_signature(resp, n, alg, sig, sig_len);
    if (rc == ST_E_PARSE)
        st_sim_set_detail(ios->sim, "COMPUTE SIGNATURE: no signature TLV 33 in the answer");
    return rc;
}

int st_iotsafe_sign(struct st_iotsafe *ios, const struct st_iotsafe_ref *key,
                    const struct st_iotsafe_sig_input *in, uint8_t *sig, size_t *sig_len)
{
    if (!st_ios_ref_ok(key) || in == NULL || sig == NULL || sig_len == NULL)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    return st_ios_end(ios, sign_locked(ios, key, in, sig, sig_len));
}

int st_iotsafe_sign_digest(struct st_iotsafe *ios, const struct st_iotsafe_ref *key,
                           const uint8_t *digest, size_t dlen, uint8_t *sig, size_t *sig_len)
{
    const struct st_iotsafe_sig_input in = {
        .mode = ST_IOTSAFE_MODE_PAD_SIGN, .alg = ST_IOTSAFE_SIG_ECDSA, .data = digest, .len = dlen};
    return st_iotsafe_sign(ios, key, &in, sig, sig_len);
}

static int verify_locked(struct st_iotsafe *ios, const struct st_iotsafe_ref *key,
                         const struct st_iotsafe_sig_input *in, const uint8_t *sig, size_t sig_len)
{
    uint8_t init_buf[128], done_be[4], resp[ST_RESPONSE_MAX];
    struct st_tlv_writer w;
    struct seg segs[5], dig[3];
    size_t nseg = 0, n = sizeof(resp);
    uint16_t hash;
    uint8_t alg;
    st_tlv_writer_init(&w, init_buf, sizeof(init_buf));
    int rc = init_data(ios, ST_IOTSAFE_PUBLIC_KEY, key, in, &w, &hash, &alg);
    if (rc != ST_OK)
        return rc;
    /* 33 00 40 (WS, ATS: the default) or 33 40 (ORA, NTT), BER above 127. */
    unsigned form = (ios->cfg.flags & ST_IOTSAFE_SIG_LEN1) ? ST_TLV_BER : ST_TLV_LEN2;
    const struct seg s33 = {0x33, sig, sig_len, form, true, false};
    if (in->mode == ST_IOTSAFE_MODE_FULL_TEXT) {
        segs[nseg++] = (struct seg){0x9B, in->data, in->len, ST_TLV_BER, true, false};
        segs[nseg++] = s33;
    } else {
        size_t nd = digest_segs(in, done_be, dig);
        size_t cap = st_ios_data_max(ios, false);
        /* One block: digest then signature, as WS and ATS send it. Several:
         * signature pieces first, the digest input in the last block. */
        bool one = total_len(dig, nd) + hdr_len(sig_len, form) + sig_len <= cap;
        if (!one)
            segs[nseg++] = s33;
        for (size_t i = 0; i < nd; i++)
            segs[nseg++] = dig[i];
        if (one)
            segs[nseg++] = s33;
    }
    return run_session(ios, INS_VERIFY_INIT, ios->cfg.session_verify, &w, segs, nseg, 0, resp, &n);
}

int st_iotsafe_verify(struct st_iotsafe *ios, const struct st_iotsafe_ref *key,
                      const struct st_iotsafe_sig_input *in, const uint8_t *sig, size_t sig_len)
{
    if (!st_ios_ref_ok(key) || in == NULL || sig == NULL || sig_len == 0 || sig_len > SIG_MAX)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    return st_ios_end(ios, verify_locked(ios, key, in, sig, sig_len));
}

int st_iotsafe_verify_digest(struct st_iotsafe *ios, const struct st_iotsafe_ref *key,
                             const uint8_t *digest, size_t dlen, const uint8_t *sig, size_t sig_len)
{
    const struct st_iotsafe_sig_input in = {
        .mode = ST_IOTSAFE_MODE_PAD_SIGN, .alg = ST_IOTSAFE_SIG_ECDSA, .data = digest, .len = dlen};
    return st_iotsafe_verify(ios, key, &in, sig, sig_len);
}
