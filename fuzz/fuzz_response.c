/*
 * Fuzz target: the card's answers as libsimtrust parses them (lib/core).
 *
 * Input layout:
 *   byte 0      operation (mod the table below)
 *   byte 1      link options: bit0 max_apdu 48 (chunking), bit1 CLA 00,
 *               bit2 33 40 signature form, bit3 no session closes
 *   then        R-APDUs, each as <len (1 byte)> <len bytes>, handed out one
 *               per C-APDU by a scripted transport; when they run out the
 *               card is "removed" (ST_E_NO_CARD)
 * Every IoT SAFE client command runs against those answers (GET RESPONSE
 * chains, 6Cxx, object lists with continuations, signatures in any form,
 * public keys, READ FILE loops...), and the pure parsers (application
 * info, entries, signature TLV, public key TLV, DER) run on the raw rest.
 * Nothing is checked but memory safety, undefined behaviour and
 * termination: every status is acceptable.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "simtrust/iotsafe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct script {
    const uint8_t *p, *end;
    unsigned calls;
};

static int script_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen)
{
    struct script *s = ctx;
    (void)c;
    (void)clen;
    if (++s->calls > 400 || s->p >= s->end)
        return ST_E_NO_CARD;
    size_t n = *s->p++;
    if (n > (size_t)(s->end - s->p))
        n = (size_t)(s->end - s->p);
    if (n > *rlen)
        n = *rlen;
    memcpy(r, s->p, n);
    s->p += n;
    *rlen = n;
    return ST_OK;
}

static const struct st_transport_ops script_ops = {.name = "fuzz", .transmit = script_transmit};

static int count_objects(void *arg, const struct st_iotsafe_object *o)
{
    (void)o;
    return ++*(unsigned *)arg > 1000 ? 1 : ST_OK;
}

static void run_op(struct st_iotsafe *ios, uint8_t op)
{
    static const uint8_t msg[300] = {1, 2, 3};
    static const uint8_t dig[64] = {9, 8, 7};
    static uint8_t big[5000];
    uint8_t out[600], id1 = 0x01, id5 = 0x05;
    size_t n = sizeof out;
    struct st_iotsafe_ref k, p, l;
    st_iotsafe_ref_id(&k, &id1, 1);
    st_iotsafe_ref_id(&p, &id5, 1);
    st_iotsafe_ref_label(&l, "client", 6);

    switch (op % 20) {
    case 0: {
        struct st_iotsafe_app_info a;
        st_iotsafe_get_app_info(ios, &a);
        break;
    }
    case 1: {
        struct st_iotsafe_object objs[8];
        size_t cnt = 8;
        st_iotsafe_list_objects(ios, objs, &cnt);
        break;
    }
    case 2: {
        unsigned seen = 0;
        st_iotsafe_foreach_object(ios, count_objects, &seen);
        break;
    }
    case 3: {
        struct st_iotsafe_object o;
        st_iotsafe_find_object(ios, ST_IOTSAFE_PUBLIC_KEY, &l, &o);
        break;
    }
    case 4:
        n = sizeof big;
        st_iotsafe_read_file(ios, &k, big, &n);
        break;
    case 5:
        st_iotsafe_read_file_at(ios, &k, 100, out, &n);
        break;
    case 6:
        st_iotsafe_get_random(ios, big, 700);
        break;
    case 7:
        st_iotsafe_sign_digest(ios, &k, dig, 32, out, &n);
        break;
    case 8: {
        const struct st_iotsafe_sig_input in = {
            .mode = ST_IOTSAFE_MODE_FULL_TEXT, .data = msg, .len = sizeof msg};
        st_iotsafe_sign(ios, &k, &in, out, &n);
        break;
    }
    case 9: {
        const struct st_iotsafe_sig_input in = {.mode = ST_IOTSAFE_MODE_PAD_SIGN,
                                                .alg = ST_IOTSAFE_SIG_RSA_PKCS1,
                                                .data = dig,
                                                .len = 48};
        st_iotsafe_sign(ios, &k, &in, out, &n);
        st_iotsafe_verify(ios, &p, &in, msg, 256);
        break;
    }
    case 10:
        st_iotsafe_verify_digest(ios, &p, dig, 32, msg, 64);
        break;
    case 11: {
        struct st_iotsafe_keygen kg;
        st_iotsafe_generate_key(ios, &k, &kg);
        break;
    }
    case 12: {
        struct st_iotsafe_pubkey pk;
        if (st_iotsafe_read_public_key(ios, &p, &pk) == ST_OK)
            st_iotsafe_put_public_key(ios, &p, &pk);
        break;
    }
    case 13: {
        struct st_iotsafe_pubkey pk;
        memset(&pk, 0, sizeof pk);
        pk.type = ST_IOTSAFE_PUBKEY_RSA;
        pk.n_len = 256;
        pk.e_len = 3;
        st_iotsafe_put_public_key(ios, &p, &pk);
        break;
    }
    case 14:
        st_iotsafe_compute_dh(ios, &k, &p, out, &n);
        break;
    case 15: {
        const struct st_iotsafe_prf_params pp = {.mode = ST_IOTSAFE_PRF_PSK,
                                                 .psk = &l,
                                                 .label = msg,
                                                 .label_len = 13,
                                                 .seed = dig,
                                                 .seed_len = 32};
        st_iotsafe_prf(ios, &pp, out, 48);
        break;
    }
    case 16: {
        const struct st_iotsafe_key_input ikm = {.bytes = dig, .len = 32};
        st_iotsafe_hkdf_extract(ios, 0, &ikm, NULL, 0, out, &n);
        break;
    }
    case 17: {
        const struct st_iotsafe_key_input prk = {.ref = &l};
        st_iotsafe_hkdf_expand(ios, ST_IOTSAFE_HASH_SHA384, &prk, msg, 10, big, 400);
        break;
    }
    case 18:
        st_iotsafe_close(ios);
        st_iotsafe_open(ios);
        break;
    default: {
        const struct st_iotsafe_sig_input in = {
            .mode = ST_IOTSAFE_MODE_LAST_BLOCK, .data = msg, .len = 20, .state = dig, .done = 64};
        st_iotsafe_sign(ios, &k, &in, out, &n);
        break;
    }
    }
}

/* The pure parsers on the raw bytes. */
static void parse_raw(const uint8_t *d, size_t len)
{
    struct st_iotsafe_app_info a;
    struct st_iotsafe_pubkey pk;
    uint8_t out[600];
    size_t n = sizeof out;
    unsigned seen = 0;
    st_iotsafe_parse_app_info(d, len, &a);
    for (int k = 0; k < 4; k++)
        st_iotsafe_parse_entry((enum st_iotsafe_kind)k, d, len, count_objects, &seen);
    st_iotsafe_parse_signature(d, len, ST_IOTSAFE_SIG_ECDSA, out, &n);
    st_iotsafe_parse_public_key(d, len, &pk);
    n = sizeof out;
    st_ecdsa_der_to_raw(d, len, 0, out, &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct script s = {data + 2, data + size, 0};
    struct st_transport tr = {&script_ops, &s, (data[1] & 1) ? 48 : 0};
    struct st_sim sim;
    struct st_iotsafe_config cfg;
    struct st_iotsafe ios;
    st_sim_init(&sim, &tr);
    st_iotsafe_config_default(&cfg);
    if (data[1] & 2)
        cfg.cla = ST_CLA_ISO;
    if (data[1] & 4)
        cfg.flags |= ST_IOTSAFE_SIG_LEN1;
    if (data[1] & 8)
        cfg.flags |= ST_IOTSAFE_NO_PRECLOSE | ST_IOTSAFE_KEEP_SESSION;
    st_iotsafe_init(&ios, &sim, &cfg);
    /* Start with the applet open on channel 1 (the harness skips the open). */
    ios.open = true;
    ios.channel = 1;
    run_op(&ios, data[0]);
    parse_raw(data + 2, size - 2);
    return 0;
}
