/* Object tables of the card state: lookup, allocation, defaults. */
#include "objects.h"

#include <string.h>

#include "st_secret.h"

/* The IoT SAFE AID registered under the GSMA RID (reference §1). */
static const uint8_t default_aid[] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x00, 0x10};
/* T=1 ATR proven with pcscd's vpcd (reference §5): 3B 80 80 01 01. */
static const uint8_t default_atr[] = {0x3B, 0x80, 0x80, 0x01, 0x01};

size_t st_objects_capacity(enum st_obj_kind kind)
{
    switch (kind) {
    case ST_OBJ_PRIVATE_KEY:
        return ST_MAX_PRIVATE_KEYS;
    case ST_OBJ_PUBLIC_KEY:
        return ST_MAX_PUBLIC_KEYS;
    case ST_OBJ_FILE:
        return ST_MAX_FILES;
    case ST_OBJ_SECRET_KEY:
        return ST_MAX_SECRET_KEYS;
    default:
        return 0;
    }
}

struct st_object *st_objects_table(struct st_card_state *s, enum st_obj_kind kind)
{
    switch (kind) {
    case ST_OBJ_PRIVATE_KEY:
        return s->priv;
    case ST_OBJ_PUBLIC_KEY:
        return s->pub;
    case ST_OBJ_FILE:
        return s->file;
    case ST_OBJ_SECRET_KEY:
        return s->secret;
    default:
        return NULL;
    }
}

struct st_object *st_objects_find(struct st_card_state *s, enum st_obj_kind kind, bool by_label,
                                  const uint8_t *ref, size_t ref_len)
{
    struct st_object *t = st_objects_table(s, kind);
    size_t cap = st_objects_capacity(kind);
    if (t == NULL || ref_len == 0)
        return NULL;
    for (size_t i = 0; i < cap; i++) {
        const struct st_object *o = &t[i];
        if (!o->in_use)
            continue;
        const uint8_t *v = by_label ? o->label : o->id;
        size_t n = by_label ? o->label_len : o->id_len;
        if (n == ref_len && memcmp(v, ref, n) == 0)
            return &t[i];
    }
    return NULL;
}

struct st_object *st_objects_alloc(struct st_card_state *s, enum st_obj_kind kind)
{
    struct st_object *t = st_objects_table(s, kind);
    size_t cap = st_objects_capacity(kind);
    for (size_t i = 0; t != NULL && i < cap; i++) {
        if (!t[i].in_use) {
            memset(&t[i], 0, sizeof(t[i]));
            t[i].in_use = true;
            return &t[i];
        }
    }
    return NULL;
}

bool st_key_type_is_volatile(uint8_t key_type)
{
    return key_type == ST_KEY_P256_VOLATILE || key_type == ST_KEY_BP256_VOLATILE;
}

void st_card_state_init(struct st_card_state *s)
{
    memset(s, 0, sizeof(*s));
    s->atr_len = sizeof(default_atr);
    memcpy(s->atr, default_atr, sizeof(default_atr));
    s->aid_count = 1;
    s->aid_len[0] = sizeof(default_aid);
    memcpy(s->aid[0], default_aid, sizeof(default_aid));
    s->sig_form = ST_SIG_FORM_2BYTE;
}

void st_card_state_drop_volatile(struct st_card_state *s)
{
    for (int k = ST_OBJ_PRIVATE_KEY; k <= ST_OBJ_PUBLIC_KEY; k++) {
        struct st_object *t = st_objects_table(s, (enum st_obj_kind)k);
        size_t cap = st_objects_capacity((enum st_obj_kind)k);
        for (size_t i = 0; i < cap; i++) {
            if (t[i].in_use && st_key_type_is_volatile(t[i].key_type)) {
                st_wipe(t[i].value, sizeof(t[i].value));
                t[i].value_len = 0;
                t[i].state = ST_STATE_EMPTY;
            }
        }
    }
}
