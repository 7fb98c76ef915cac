/*
 * Factory personalisation (IoT.04 G1, K1; Annex C.1): a profile file (JSON)
 * describes one card; st_profile_build() turns it into a card state, with
 * keys generated inside the card or imported, and st_profile_delivery()
 * prints the public parts as a machine-readable delivery record.
 *
 * The profile format is documented in docs/profile.md.
 */
#ifndef SIMTRUST_CARD_PROFILE_H
#define SIMTRUST_CARD_PROFILE_H

#include <stddef.h>
#include <stdio.h>

#include "objects.h"

/*
 * Parses the JSON profile text (len bytes, need not be NUL-terminated) and
 * builds a fresh card state in *s. base_dir resolves relative "pem_file" /
 * "der_file" paths (NULL = current directory). Returns 0, or -1 with a
 * one-line reason naming the offending field in err. Never crashes on any
 * input (fuzz/fuzz_profile.c).
 */
int st_profile_build(const char *json, size_t len, const char *base_dir, struct st_card_state *s,
                     char *err, size_t err_len);

/*
 * Writes the delivery record of a card as one JSON object: ICCID, EID,
 * every public key (PEM), every certificate file (PEM), and for each PSK its
 * label, ID and identity (never the key). Returns 0 or -1.
 */
int st_profile_delivery(const struct st_card_state *s, FILE *out);

#endif
