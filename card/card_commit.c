/*
 * Durability of card updates: a command changes the live state, then
 * st_card_commit() writes the whole persistent state atomically (image.h).
 * If the write fails the live state returns to the last committed one, so
 * the card and its image never disagree (Java Card transaction semantics).
 */
#include <stdlib.h>
#include <string.h>

#include "card_internal.h"
#include "image.h"
#include "st_log.h"
#include "st_secret.h"

/* Copies the committed values back, keeping the RAM-only key values live. */
static void rollback(st_card *card)
{
    struct st_card_state *keep = malloc(sizeof(*keep)); /* ~170 KiB: not on the stack */
    if (keep != NULL)
        memcpy(keep, &card->state, sizeof(*keep));
    memcpy(&card->state, card->saved, sizeof(card->state));
    if (keep == NULL)
        return; /* volatile keys fall back to their committed values */
    for (int k = ST_OBJ_PRIVATE_KEY; k <= ST_OBJ_PUBLIC_KEY; k++) {
        struct st_object *now = st_objects_table(&card->state, (enum st_obj_kind)k);
        struct st_object *old = st_objects_table(keep, (enum st_obj_kind)k);
        for (size_t i = 0; i < st_objects_capacity((enum st_obj_kind)k); i++)
            if (now[i].in_use && st_key_type_is_volatile(now[i].key_type))
                memcpy(&now[i], &old[i], sizeof(now[i]));
    }
    st_wipe(keep, sizeof(*keep));
    free(keep);
}

uint16_t st_card_commit(st_card *card)
{
    st_card_account(card, ST_OP_WRITE);
    card->state.generation++;
    if (card->image_path == NULL) {
        memcpy(card->saved, &card->state, sizeof(card->state));
        return SW_OK;
    }
    char err[256];
    if (st_image_save(card->image_path, &card->state, card->cfg.io, err, sizeof(err)) != 0) {
        st_err("card image %s: update not saved, card state rolled back: %s", card->image_path,
               err);
        rollback(card);
        return SW_MEMORY_FAILURE;
    }
    memcpy(card->saved, &card->state, sizeof(card->state));
    return SW_OK;
}

void st_card_account(st_card *card, enum st_card_op op)
{
    const struct st_latency *l = &card->cfg.latency;
    const uint32_t cost[ST_OP_COUNT] = {
        [ST_OP_SIGN] = l->sign_us,     [ST_OP_VERIFY] = l->verify_us,
        [ST_OP_ECDH] = l->ecdh_us,     [ST_OP_KEYGEN] = l->keygen_us,
        [ST_OP_PRF] = l->prf_us,       [ST_OP_HKDF] = l->hkdf_us,
        [ST_OP_RANDOM] = l->random_us, [ST_OP_WRITE] = l->write_us,
    };
    if ((unsigned)op >= ST_OP_COUNT)
        return;
    card->stats.ops[op]++;
    card->op_us += cost[op];
}
