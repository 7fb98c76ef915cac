/*
 * Sessions of COMPUTE SIGNATURE, VERIFY SIGNATURE and PUT PUBLIC KEY
 * (card->sess[kind][P2]). Sessions live in RAM only: every power event and
 * st_card_free() closes them (reference §2.8, compatibility rule 8.7).
 */
#include <string.h>

#include "card_crypto.h"
#include "iotsafe_session.h"
#include "iotsafe_tlv.h"
#include "st_secret.h"

void st_session_close(struct st_session *s)
{
    EVP_MD_CTX_free(s->md);
    st_wipe(s, sizeof(*s));
    s->md = NULL;
    s->open = false;
}

void st_sessions_close_all(st_card *card)
{
    for (int k = 0; k < ST_SESS_KINDS; k++)
        for (int i = 0; i < ST_MAX_SESSIONS; i++)
            st_session_close(&card->sess[k][i]);
}

uint16_t st_session_open_close(st_card *card, enum st_session_kind kind, const struct st_apdu *a,
                               struct st_session **opened)
{
    *opened = NULL;
    if (a->p1 == 0x01) {
        /* Rule 8.7: ORA and THM close before every open and ignore the SW. */
        if (a->p2 < ST_MAX_SESSIONS)
            st_session_close(&card->sess[kind][a->p2]);
        return SW_OK;
    }
    if (a->p1 != 0x00 || a->p2 >= ST_MAX_SESSIONS)
        return SW_INCORRECT_P1P2;
    if (a->lc == 0)
        return SW_WRONG_LENGTH;
    /* Re-opening an open session replaces it. */
    st_session_close(&card->sess[kind][a->p2]);
    *opened = &card->sess[kind][a->p2];
    return SW_OK;
}

uint16_t st_session_get(st_card *card, enum st_session_kind kind, const struct st_apdu *a,
                        struct st_session **s, struct st_object **key)
{
    if (a->p1 != ST_BLOCK_LAST && a->p1 != ST_BLOCK_MORE)
        return SW_INCORRECT_P1P2;
    if (a->p2 >= ST_MAX_SESSIONS)
        return SW_INCORRECT_P1P2;
    struct st_session *sess = &card->sess[kind][a->p2];
    if (!sess->open)
        return SW_CONDITIONS;
    struct st_object *o = &st_objects_table(&card->state, sess->key_kind)[sess->key_index];
    /* The container itself may have gone since Init (a rolled-back update). */
    if (!o->in_use)
        return SW_CONDITIONS;
    *s = sess;
    *key = o;
    return SW_OK;
}

int st_session_key_index(st_card *card, enum st_obj_kind kind, const struct st_object *o)
{
    return (int)(o - st_objects_table(&card->state, kind));
}

/* Reads a 1-byte TLV value; false if the length is not 1. */
static bool tlv_u8(const struct st_tlv *t, uint8_t *v)
{
    if (t->len != 1)
        return false;
    *v = t->v[0];
    return true;
}

/* A1, 91 and 92 of a sign/verify Init; 6A80 for unknown or missing values. */
static uint16_t parse_algorithms(const struct st_tlv *t, size_t n, struct st_session *s)
{
    const struct st_tlv *mode = st_tlv_find(t, n, 0xA1);
    const struct st_tlv *hash = st_tlv_find(t, n, 0x91);
    const struct st_tlv *alg = st_tlv_find(t, n, 0x92);
    if (mode == NULL || alg == NULL || !tlv_u8(mode, &s->mode) || !tlv_u8(alg, &s->sig_alg))
        return SW_INCORRECT_DATA;
    if (s->mode < ST_MODE_FULL_TEXT || s->mode > ST_MODE_PAD_SIGN)
        return SW_INCORRECT_DATA;
    if (s->sig_alg != ST_SIG_RSA_PKCS1 && s->sig_alg != ST_SIG_RSA_PSS &&
        s->sig_alg != ST_SIG_ECDSA)
        return SW_INCORRECT_DATA;
    if (hash == NULL) {
        /* Pad & sign takes the hash from the 9E length: 91 is optional there. */
        if (s->mode != ST_MODE_PAD_SIGN)
            return SW_INCORRECT_DATA;
        s->hash = ST_HASH_SHA256;
    } else {
        if (hash->len != 2)
            return SW_INCORRECT_DATA;
        s->hash = (uint16_t)(hash->v[0] << 8 | hash->v[1]);
        if (st_crypto_md(s->hash) == NULL)
            return SW_INCORRECT_DATA;
    }
    /* Mode 02 resumes a SHA-256 state: the only midstate format we take. */
    if (s->mode == ST_MODE_LAST_BLOCK && s->hash != ST_HASH_SHA256)
        return SW_INCORRECT_DATA;
    return SW_OK;
}

uint16_t st_sig_session_init(st_card *card, enum st_session_kind kind, const struct st_apdu *a)
{
    enum st_obj_kind okind = kind == ST_SESS_SIGN ? ST_OBJ_PRIVATE_KEY : ST_OBJ_PUBLIC_KEY;
    uint8_t id_tag = kind == ST_SESS_SIGN ? 0x84 : 0x85;
    const struct st_tlv_rule rules[] = {
        {id_tag, 0}, {(uint8_t)(id_tag - 0x10), 0}, {0xA1, 0}, {0x91, 0}, {0x92, 0},
    };
    struct st_tlv t[ST_TLV_MAX];
    size_t n;
    struct st_session *s;
    struct st_session tmp = {0};
    struct st_object *key;

    uint16_t sw = st_session_open_close(card, kind, a, &s);
    if (sw != SW_OK || s == NULL)
        return sw;
    if (st_tlv_split(a->data, a->lc, rules, sizeof(rules) / sizeof(rules[0]), t, &n) != 0)
        return SW_INCORRECT_DATA;
    const struct st_tlv *ref;
    if (st_tlv_ref(t, n, id_tag, &ref) != 0 || ref == NULL)
        return SW_INCORRECT_DATA;
    sw = parse_algorithms(t, n, &tmp);
    if (sw != SW_OK)
        return sw;
    sw = st_find_ref(card, okind, ref->raw, ref->raw_len, &key, NULL);
    if (sw != SW_OK)
        return sw;
    if (!st_crypto_key_type_supported(key->key_type))
        return SW_CONDITIONS;
    if (!st_crypto_alg_fits(key->key_type, tmp.sig_alg))
        return SW_INCORRECT_DATA; /* e.g. ECDSA on an RSA key */
    if (!(key->functions & ST_FN_SIGN) || !(key->sig_algos & tmp.sig_alg) || key->value_len == 0)
        return SW_CONDITIONS;
    if (tmp.mode == ST_MODE_FULL_TEXT) {
        tmp.md = EVP_MD_CTX_new();
        if (tmp.md == NULL || EVP_DigestInit_ex(tmp.md, st_crypto_md(tmp.hash), NULL) != 1) {
            EVP_MD_CTX_free(tmp.md);
            return SW_UNKNOWN;
        }
    }
    tmp.key_kind = okind;
    tmp.key_index = st_session_key_index(card, okind, key);
    tmp.open = true;
    *s = tmp;
    return SW_OK;
}
