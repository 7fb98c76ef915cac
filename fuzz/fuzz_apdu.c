/*
 * Fuzzes the card's APDU dispatcher: the input is a sequence of C-APDUs,
 * each prefixed by one length byte, sent to a RAM-only card holding one
 * object of every kind. Any input must produce a well-formed R-APDU.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "card.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static st_card *fuzz_card(void)
{
    static struct st_card_state s;
    struct st_card_config cfg = {0};
    char err[128];
    st_card_state_init(&s);
    struct st_object *o = st_objects_alloc(&s, ST_OBJ_FILE);
    o->id_len = 1;
    o->id[0] = 0x02;
    o->access = ST_ACCESS_READ;
    o->value_len = 700;
    o = st_objects_alloc(&s, ST_OBJ_SECRET_KEY);
    o->id_len = 1;
    o->id[0] = 0x10;
    o->key_type = ST_KEY_HMAC;
    o->functions = ST_FN_KEY_DERIVATION;
    o->value_len = 16;
    o = st_objects_alloc(&s, ST_OBJ_PUBLIC_KEY);
    o->id_len = 1;
    o->id[0] = 0x05;
    o->key_type = ST_KEY_P256_VOLATILE;
    o->access = ST_ACCESS_READ | ST_ACCESS_UPDATE;
    return st_card_new(&cfg, &s, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_card *card = fuzz_card();
    if (card == NULL)
        abort();
    uint8_t r[ST_RAPDU_MAX];
    /* The first byte picks direct or T=0 delivery. */
    if (size > 0)
        st_card_set_t0_style(card, data[0] & 1);
    size_t off = size > 0 ? 1 : 0;
    while (off < size) {
        size_t n = data[off++];
        if (n > size - off)
            n = size - off;
        size_t rl = st_card_transmit(card, data + off, n, r);
        if (rl < 2 || rl > ST_RAPDU_MAX)
            abort();
        off += n;
    }
    st_card_free(card);
    return 0;
}
