/*
 * READ FILE (INS B0): certificates and other files as plain binary (IoT.04
 * E3). The chunk size honours Le when the client gives one, else 255 bytes
 * (reference §1 "APDU sizes", rule 8.4).
 */
#include "card_internal.h"

#define DEFAULT_CHUNK 255

uint16_t st_cmd_read_file(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    struct st_object *f;
    size_t used;
    if (a->lc == 0)
        return SW_WRONG_LENGTH;
    uint16_t sw = st_find_ref(card, ST_OBJ_FILE, a->data, a->lc, &f, &used);
    if (sw != SW_OK)
        return sw;
    if (used != a->lc)
        return SW_INCORRECT_DATA;
    if (!(f->access & ST_ACCESS_READ))
        return SW_SECURITY;
    size_t offset = (size_t)a->p1 << 8 | a->p2;
    /* At or past the end is an error, so clients that read until one stop. */
    if (offset >= f->value_len)
        return SW_FILE_INCOMPATIBLE;
    size_t chunk = (a->has_le && a->le < 256) ? a->le : DEFAULT_CHUNK;
    size_t left = f->value_len - offset;
    size_t n = left < chunk ? left : chunk;
    return st_resp_put(out, f->value + offset, n) ? SW_OK : SW_UNKNOWN;
}
