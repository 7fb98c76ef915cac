/*
 * Internals shared by the profile reader (card/profile.c), its value
 * sources (card/profile_values.c) and the delivery record
 * (card/profile_delivery.c). Not part of the card's interface.
 */
#ifndef SIMTRUST_CARD_PROFILE_INTERNAL_H
#define SIMTRUST_CARD_PROFILE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest file a profile may reference (PEM or DER; far above ST_FILE_MAX). */
#define ST_PROFILE_FILE_MAX (64 * 1024)

/* The profile's name of a key type ("p256", "rsa2048", "hmac", ...), or NULL. */
const char *st_profile_type_name(uint8_t key_type);

/*
 * Reads path, relative to base_dir unless absolute or base_dir is NULL, into
 * a malloc'd buffer (the caller wipes and frees it). 0, or -1 with a reason.
 */
int st_profile_read_file(const char *base_dir, const char *path, uint8_t **buf, size_t *len,
                         char *why, size_t why_len);

/*
 * Decodes every PEM block of text into DER, back to back, into out (cap
 * bytes). With want != NULL every block must be of that type (e.g.
 * "CERTIFICATE"). 0, or -1 with a reason.
 */
int st_profile_pem_to_der(const uint8_t *text, size_t len, const char *want, uint8_t *out,
                          size_t cap, size_t *out_len, char *why, size_t why_len);

/* True when der is one or more DER X.509 certificates back to back, nothing else. */
bool st_profile_der_is_certs(const uint8_t *der, size_t len);

/*
 * "issue" of a certificate file: certifies the public half of private key
 * key_id (already built, e.g. generated in the card) with the CA in
 * ca_cert/ca_key (PEM files, relative to base_dir), subject CN=subject_cn,
 * valid for days, as a client certificate. DER into out[cap]. 0, or -1 with
 * a reason.
 */
struct st_card_state;
int st_profile_issue_cert(struct st_card_state *s, const uint8_t *key_id, size_t key_id_len,
                          const char *base_dir, const char *ca_cert_path, const char *ca_key_path,
                          const char *subject_cn, int days, uint8_t *out, size_t cap,
                          size_t *out_len, char *why, size_t why_len);

#endif
