/*
 * GET DATA (INS CB): capability discovery (IoT.04 D3, I4) and the list of
 * credentials with labels and references (D9, I8). Layouts follow reference
 * §2.3-§2.5 and the compatibility rules of §8.5.
 */
#include <string.h>

#include "card_internal.h"

#define APPLET_VERSION 0x01
#define APPLET_ID "simtrust-card IoT SAFE 0.1"

/* P1 = 00: capacities and algorithms, 68 bytes (tag 91 is 2 bytes). */
static uint16_t application_info(struct st_resp *out)
{
    uint8_t id[32] = {0};
    memcpy(id, APPLET_ID, sizeof(APPLET_ID) - 1);
    const uint8_t caps[] = {
        0xB1, 1, ST_MAX_FILES,
        0xB2, 1, ST_MAX_PRIVATE_KEYS,
        0xB3, 1, ST_MAX_PUBLIC_KEYS,
        0xB4, 1, ST_MAX_SECRET_KEYS,
        0x90, 1, ST_FN_SIGN | ST_FN_KEYGEN | ST_FN_KEY_AGREEMENT | ST_FN_KEY_DERIVATION,
        0x91, 2, 0x00, ST_HASH_SHA256 | ST_HASH_SHA384 | ST_HASH_SHA512,
        0x92, 1, ST_SIG_RSA_PKCS1 | ST_SIG_RSA_PSS | ST_SIG_ECDSA,
        0x93, 1, ST_KA_ECKA,
        0x94, 1, ST_KD_PRF_SHA256 | ST_KD_HKDF,
        0xB7, 1, ST_MAX_SESSIONS,
    };
    uint8_t version = APPLET_VERSION;
    if (!st_resp_put_tlv(out, 0x10, &version, 1) || !st_resp_put_tlv(out, 0x11, id, sizeof(id)) ||
        !st_resp_put(out, caps, sizeof(caps)))
        return SW_UNKNOWN;
    return SW_OK;
}

static void put_u8_tlv(struct st_resp *r, uint8_t tag, uint8_t v)
{
    st_resp_put_tlv(r, tag, &v, 1);
}

/*
 * One information structure wrapped in its Cx tag: label, ID, then the
 * attributes in the order the Orange client requires (reference §2.4).
 */
static bool put_object_info(struct st_resp *out, enum st_obj_kind kind, const struct st_object *o)
{
    static const uint8_t wrap[ST_OBJ_KINDS] = {0xC1, 0xC2, 0xC3, 0xC4};
    static const uint8_t id_tag[ST_OBJ_KINDS] = {0x84, 0x85, 0x83, 0x86};
    struct st_resp small; /* the body is < 128 bytes: label 62 + ID 22 + attributes */
    small.len = 0;
    if (o->label_len > 0)
        st_resp_put_tlv(&small, (uint8_t)(id_tag[kind] - 0x10), o->label, o->label_len);
    st_resp_put_tlv(&small, id_tag[kind], o->id, o->id_len);
    put_u8_tlv(&small, 0x60, o->access);
    put_u8_tlv(&small, 0x4A, o->value_len > 0 ? ST_STATE_ACTIVATED : ST_STATE_EMPTY);
    if (kind == ST_OBJ_FILE) {
        uint8_t size[2] = {(uint8_t)(o->value_len >> 8), (uint8_t)o->value_len}; /* big-endian */
        st_resp_put_tlv(&small, 0x20, size, 2);
        put_u8_tlv(&small, 0x21, o->usage);
    } else {
        put_u8_tlv(&small, 0x4B, o->key_type);
        if (kind != ST_OBJ_SECRET_KEY)
            put_u8_tlv(&small, 0x4E, o->usage);
        put_u8_tlv(&small, 0x61, o->functions);
        if (kind == ST_OBJ_SECRET_KEY) {
            if (o->key_derivation)
                put_u8_tlv(&small, 0x94, o->key_derivation);
        } else {
            uint8_t hash[2] = {(uint8_t)(o->hash_algos >> 8), (uint8_t)o->hash_algos};
            if (o->sig_algos)
                put_u8_tlv(&small, 0x92, o->sig_algos);
            if (o->hash_algos)
                st_resp_put_tlv(&small, 0x91, hash, 2);
            if (o->key_agreement)
                put_u8_tlv(&small, 0x6F, o->key_agreement);
        }
    }
    return st_resp_put_tlv(out, wrap[kind], small.buf, small.len);
}

/* List order C1 (private), C2 (public), C4 (secret), C3 (files): rule 8.5. */
static const enum st_obj_kind list_order[] = {ST_OBJ_PRIVATE_KEY, ST_OBJ_PUBLIC_KEY,
                                              ST_OBJ_SECRET_KEY, ST_OBJ_FILE};

/*
 * P1 = 01: every object, one Cx each. Entries that do not fit in one
 * response (Le, or 256) follow on P2 = 01 after an SW 6300.
 */
static uint16_t object_list(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    if (a->p2 == 0x00)
        card->list_offset = 0;
    else if (a->p2 != 0x01)
        return SW_INCORRECT_P1P2;
    size_t limit = a->has_le ? a->le : 256;
    size_t index = 0;
    for (size_t k = 0; k < sizeof(list_order) / sizeof(list_order[0]); k++) {
        enum st_obj_kind kind = list_order[k];
        struct st_object *t = st_objects_table(&card->state, kind);
        for (size_t i = 0; i < st_objects_capacity(kind); i++) {
            if (!t[i].in_use)
                continue;
            if (index++ < card->list_offset)
                continue;
            size_t before = out->len;
            if (!put_object_info(out, kind, &t[i]))
                return SW_UNKNOWN;
            if (out->len > limit) {
                out->len = before;
                if (before == 0)
                    return SW_WRONG_LENGTH; /* Le too small for a single entry */
                card->list_offset = index - 1;
                return SW_MORE_DATA;
            }
        }
    }
    card->list_offset = index;
    return SW_OK;
}

/* P1 = C1..C4: one object by ID or label, wrapped in its Cx tag (rule 8.5). */
static uint16_t one_object(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    static const enum st_obj_kind kinds[] = {ST_OBJ_PRIVATE_KEY, ST_OBJ_PUBLIC_KEY, ST_OBJ_FILE,
                                             ST_OBJ_SECRET_KEY};
    enum st_obj_kind kind = kinds[a->p1 - 0xC1];
    struct st_object *o;
    size_t used;
    if (a->lc == 0)
        return SW_WRONG_LENGTH;
    uint16_t sw = st_find_ref(card, kind, a->data, a->lc, &o, &used);
    if (sw != SW_OK)
        return sw;
    if (used != a->lc)
        return SW_INCORRECT_DATA;
    return put_object_info(out, kind, o) ? SW_OK : SW_UNKNOWN;
}

uint16_t st_cmd_get_data(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    if (a->p1 == 0x00 && a->p2 == 0x00)
        return application_info(out);
    if (a->p1 == 0x01)
        return object_list(card, a, out);
    if (a->p1 >= 0xC1 && a->p1 <= 0xC4 && a->p2 == 0x00)
        return one_object(card, a, out);
    return SW_INCORRECT_P1P2;
}
