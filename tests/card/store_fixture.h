/*
 * Card states for the image, tearing and profile tests, and a comparison of
 * their persistent content (what an image must reproduce exactly).
 */
#ifndef SIMTRUST_TESTS_STORE_FIXTURE_H
#define SIMTRUST_TESTS_STORE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "objects.h"

/*
 * The "old" state: client key pair 01/01, volatile ECDHE key 04 and peer key
 * 05 (both holding RAM values), certificate files 02 and 03, PSK 10.
 */
void fx_state_old(struct st_card_state *s);

/*
 * The "new" state: the old one after a multi-object update: private key 01
 * and its public key 01 regenerated, file 03 replaced by a longer one, PSK 12
 * and its identity file 12 added, generation bumped.
 */
void fx_state_new(struct st_card_state *s);

/* Every table full, every value at its maximum size. */
void fx_state_full(struct st_card_state *s);

/* Adds an object to s (values are a byte pattern seeded by seed). */
struct st_object *fx_add(struct st_card_state *s, enum st_obj_kind kind, const char *id_hex,
                         const char *label, uint8_t key_type, size_t value_len, uint8_t seed);

/*
 * True when a and b hold the same persistent content: card data, and per
 * slot the same objects with the same attributes and values (volatile key
 * values and unused slots are ignored). why receives the first difference.
 */
bool fx_state_equal(const struct st_card_state *a, const struct st_card_state *b, char *why,
                    size_t why_len);

/* A fresh directory under $TMPDIR (or /tmp); the caller removes it with fx_rmdir. */
char *fx_mkdtemp(void);
/*
 * The same in RAM (/dev/shm) when available, for tests that write thousands
 * of small files and do not test the file system itself.
 */
char *fx_mkdtemp_ram(void);
void fx_rmdir(char *dir);

/* Reads a whole file (malloc'd; NULL if missing). */
uint8_t *fx_read_file(const char *path, size_t *len);
int fx_write_file(const char *path, const void *buf, size_t len);

#endif
