/* Response builder and object-reference parsing shared by the commands. */
#include <string.h>

#include "card_internal.h"

bool st_resp_put(struct st_resp *r, const void *p, size_t n)
{
    if (n > sizeof(r->buf) - r->len)
        return false;
    if (n > 0)
        memcpy(r->buf + r->len, p, n);
    r->len += n;
    return true;
}

bool st_resp_put_u8(struct st_resp *r, uint8_t b)
{
    return st_resp_put(r, &b, 1);
}

bool st_resp_put_tlv(struct st_resp *r, uint8_t tag, const void *p, size_t n)
{
    if (n > 255 || 2 + n > sizeof(r->buf) - r->len)
        return false;
    uint8_t hdr[2] = {tag, (uint8_t)n};
    return st_resp_put(r, hdr, 2) && st_resp_put(r, p, n);
}

/* ID tags 83..86 map to kinds file, private, public, secret; labels are -0x10. */
static uint8_t id_tag_of(enum st_obj_kind kind)
{
    switch (kind) {
    case ST_OBJ_FILE:
        return 0x83;
    case ST_OBJ_PRIVATE_KEY:
        return 0x84;
    case ST_OBJ_PUBLIC_KEY:
        return 0x85;
    default:
        return 0x86;
    }
}

uint16_t st_find_ref(st_card *card, enum st_obj_kind kind, const uint8_t *data, size_t len,
                     struct st_object **obj, size_t *used)
{
    uint8_t id_tag = id_tag_of(kind);
    if (len < 2)
        return SW_INCORRECT_DATA;
    uint8_t tag = data[0];
    size_t n = data[1];
    if (tag != id_tag && tag != id_tag - 0x10)
        return SW_INCORRECT_DATA;
    bool by_label = tag != id_tag;
    size_t max = by_label ? ST_LABEL_MAX : ST_ID_MAX;
    if (n == 0 || n > max || n > len - 2)
        return SW_INCORRECT_DATA;
    struct st_object *o = st_objects_find(&card->state, kind, by_label, data + 2, n);
    if (o == NULL)
        return SW_NOT_FOUND;
    *obj = o;
    if (used != NULL)
        *used = 2 + n;
    return SW_OK;
}
