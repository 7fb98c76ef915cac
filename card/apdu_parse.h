/* C-APDU parsing for the card dispatcher (fuzzed through fuzz_apdu.c). */
#ifndef SIMTRUST_CARD_APDU_PARSE_H
#define SIMTRUST_CARD_APDU_PARSE_H

#include "card_internal.h"

/*
 * Parses a short C-APDU of n bytes. Returns SW_OK and fills *a (a->data
 * points into c), or SW_WRONG_LENGTH. Lc is strict; of any bytes after the
 * data, one is Le ("00 Le" counts as Le) and the rest are ignored.
 */
uint16_t st_apdu_parse(const uint8_t *c, size_t n, struct st_apdu *a);

/*
 * Channel number of a CLA byte: 0x00-0x03 and 0x80-0x83 (b8 ignored, both
 * classes accepted: compatibility rule 2). Returns SW_OK, 6881 for the
 * further-interindustry channels 4-19, 6882/6884 for secure messaging or
 * chaining, 6E00 for other classes.
 */
uint16_t st_apdu_channel(uint8_t cla, uint8_t *channel);

#endif
