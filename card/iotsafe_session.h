/*
 * Session helpers shared by the IoT SAFE sign, verify and put-key commands
 * (card/iotsafe_*.c only).
 */
#ifndef SIMTRUST_CARD_IOTSAFE_SESSION_H
#define SIMTRUST_CARD_IOTSAFE_SESSION_H

#include "card_internal.h"
#include "iotsafe_tlv.h"

/* Update P1: more blocks follow / last block (reference §2.8). */
#define ST_BLOCK_MORE 0x00
#define ST_BLOCK_LAST 0x80

/* A1: mode of operation (spec clause 2.5.14). */
#define ST_MODE_FULL_TEXT 0x01
#define ST_MODE_LAST_BLOCK 0x02
#define ST_MODE_PAD_SIGN 0x03

/*
 * Init P1 handling common to 24/2A/2C. P1=01 closes session P2 (always 9000,
 * rule 8.7); P1=00 closes and hands back session P2 to be filled in (*opened;
 * NULL after a close). Returns the SW (6A86 for another P1 or P2 >= max).
 */
uint16_t st_session_open_close(st_card *card, enum st_session_kind kind, const struct st_apdu *a,
                               struct st_session **opened);

/*
 * Update P1/P2 handling common to 2B/2D/D8: checks P1 (00/80 else 6A86), P2
 * (6A86) and that the session is open (6985); returns it and its key object.
 */
uint16_t st_session_get(st_card *card, enum st_session_kind kind, const struct st_apdu *a,
                        struct st_session **s, struct st_object **key);

/* Index of object o in the table of kind (for st_session.key_index). */
int st_session_key_index(st_card *card, enum st_obj_kind kind, const struct st_object *o);

/*
 * COMPUTE / VERIFY SIGNATURE Init (2A/2C): parses the key reference
 * (84/74 private for sign, 85/75 public for verify), A1, 91 and 92, checks
 * them against the key object and opens the session. See docs/card-crypto.md.
 */
uint16_t st_sig_session_init(st_card *card, enum st_session_kind kind, const struct st_apdu *a);

/* Largest 9E digest (SHA-512). */
#define ST_SIG_DIGEST_MAX 64

/* The digest-input tag rules of a mode (at most 3 entries written to rules). */
size_t st_sig_input_rules(uint8_t mode, struct st_tlv_rule *rules);

/*
 * Feeds the Update TLVs t[0..n) of session s to its digest (see
 * iotsafe_digest.c). On the last block writes the digest (<= 64 bytes) to
 * dig. Returns the SW (6A80 for missing or malformed digest input).
 */
uint16_t st_sig_digest(struct st_session *s, const struct st_object *key, const struct st_tlv *t,
                       size_t n, bool last, uint8_t *dig, size_t *dlen);

/* Drops what a session collected so far (buffer, running hash) for a new start. */
void st_sig_restart(struct st_session *s);

#endif
