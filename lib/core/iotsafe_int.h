/*
 * Internals shared by the IoT SAFE client files (lib/core/iotsafe_*.c).
 * Not installed. Every st_ios_* helper expects the session lock held
 * (st_ios_begin .. st_ios_end).
 */
#ifndef SIMTRUST_CORE_IOTSAFE_INT_H
#define SIMTRUST_CORE_IOTSAFE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simtrust/apdu.h"
#include "simtrust/iotsafe.h"
#include "simtrust/tlv.h"

/* IoT SAFE instructions (reference §2.1). */
#define INS_PUT_KEY_INIT 0x24
#define INS_SIGN_INIT 0x2A
#define INS_SIGN_UPDATE 0x2B
#define INS_VERIFY_INIT 0x2C
#define INS_VERIFY_UPDATE 0x2D
#define INS_COMPUTE_DH 0x46
#define INS_COMPUTE_PRF 0x48
#define INS_COMPUTE_HKDF 0x4A
#define INS_GET_RANDOM 0x84
#define INS_READ_FILE 0xB0
#define INS_GENERATE_KEY 0xB9
#define INS_GET_DATA 0xCB
#define INS_READ_PUBLIC_KEY 0xCD
#define INS_PUT_KEY_UPDATE 0xD8

/* Session Init P1 and Update P1 (reference §2.8, §2.12). */
#define P1_SESSION_OPEN 0x00
#define P1_SESSION_CLOSE 0x01
#define P1_BLOCK_MORE 0x00
#define P1_BLOCK_LAST 0x80

/* Le = 00: up to 256 bytes. */
#define LE_ANY 256

/*
 * Takes the session lock, clears the detail string and checks that the
 * applet is open (need_open). On ST_OK the caller ends with st_ios_end; on
 * error the lock is already released.
 */
int st_ios_begin(struct st_iotsafe *ios, bool need_open);

/* Releases the lock; returns rc. */
int st_ios_end(struct st_iotsafe *ios, int rc);

/* One command on the applet's channel and class (see st_sim_exchange_held). */
int st_ios_exchange(struct st_iotsafe *ios, uint8_t ins, uint8_t p1, uint8_t p2,
                    const uint8_t *data, size_t lc, size_t le, uint8_t *resp, size_t *resp_len,
                    uint16_t *sw);

/* The same with the SW mapped (see st_sim_command_held). */
int st_ios_command(struct st_iotsafe *ios, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *data,
                   size_t lc, size_t le, uint8_t *resp, size_t *resp_len);

/* ID tag of a kind (84, 85, 83, 86); its label tag is 0x10 less. */
uint8_t st_ios_id_tag(enum st_iotsafe_kind kind);

/* True for a well-formed reference (ID 1..20, label 1..60 bytes). */
bool st_ios_ref_ok(const struct st_iotsafe_ref *ref);

/* Appends the reference TLV of kind (ID or label tag). */
void st_ios_put_ref(struct st_tlv_writer *w, enum st_iotsafe_kind kind,
                    const struct st_iotsafe_ref *ref);

/*
 * Most command data bytes one APDU carries on this link (Lc <= 255 and the
 * whole C-APDU <= max_apdu), with or without an Le byte. 0 if none.
 */
size_t st_ios_data_max(const struct st_iotsafe *ios, bool has_le);

/* Sets the detail (a static string) and returns ST_E_UNSUPPORTED. */
int st_ios_unsupported(struct st_iotsafe *ios, const char *why);

/* Sets the detail and returns code. */
int st_ios_fail(struct st_iotsafe *ios, int code, const char *why);

/*
 * Closes session `session` of an Init instruction (24/2A/2C, P1 = 01),
 * ignoring the card's answer (ORA, THM, WS do); the last SW seen by the
 * caller is kept. Returns only transport errors (a card that vanished).
 */
int st_ios_close_session(struct st_iotsafe *ios, uint8_t ins_init, uint8_t session);

/* Zeroises n bytes in a way the compiler does not remove. */
void st_ios_wipe(void *p, size_t n);

/* True when the TLV value lengths are acceptable as an ID / label of kind. */
int st_ios_ref_from_tlv(struct st_iotsafe_ref *ref, const struct st_tlv_item *t, bool by_label);

/* st_iotsafe_get_object / st_iotsafe_find_object with the lock held. */
int st_ios_get_object(struct st_iotsafe *ios, enum st_iotsafe_kind kind,
                      const struct st_iotsafe_ref *ref, struct st_iotsafe_object *obj);
int st_ios_find_object(struct st_iotsafe *ios, enum st_iotsafe_kind kind,
                       const struct st_iotsafe_ref *ref, struct st_iotsafe_object *obj);

#endif
