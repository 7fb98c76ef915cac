/* The ISO 7816-4 commands of the card: MANAGE CHANNEL, SELECT, GET RESPONSE. */
#ifndef SIMTRUST_CARD_ISO_H
#define SIMTRUST_CARD_ISO_H

#include "card_internal.h"

uint16_t st_iso_manage_channel(st_card *card, const struct st_apdu *a, struct st_resp *out);
uint16_t st_iso_select(st_card *card, const struct st_apdu *a, struct st_resp *out);

/* Serves pending data; writes the whole R-APDU to r and returns its length. */
size_t st_iso_get_response(st_card *card, const struct st_apdu *a, uint8_t *r);

#endif
