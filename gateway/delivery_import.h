/*
 * Offline delivery import (IoT.04 Annex C.1, "file" form; M2, M5): the delivery
 * records that `simtrust-card personalise --delivery` writes (docs/profile.md)
 * for a whole batch go into one device group in ONE transaction.
 *
 * Batch formats (docs/gateway-batch-psk.md, "Delivery import"):
 *   - a JSON array of delivery records;
 *   - a sequence of delivery records: JSON Lines, or the card's pretty-printed
 *     files simply concatenated (cat out/DEV.delivery.json ...);
 *   - a directory: every regular file whose name ends in ".json", in name order,
 *     each holding one of the above.
 *
 * Mapping of one record to a device row: device ID = ICCID; SPKI SHA-256 and
 * certificate from certificates[0] (else public_keys[0]); PSK identity from
 * psk_identities[0].identity. In a batch group (scenario 5) the identity must be
 * <vendor>:<batch>:<ICCID> of that group, the ICCID must be Luhn-valid, the
 * ICCID joins the group's allow-list and no PSK identity is stored (the key is
 * derived at handshake time). Records never carry PSK values.
 *
 * Idempotent: a record identical to the stored device counts as "unchanged";
 * one that differs (or whose key/identity belongs to another device) aborts the
 * whole import with a message naming the record; nothing is written then.
 */
#ifndef SIMTRUST_GW_DELIVERY_IMPORT_H
#define SIMTRUST_GW_DELIVERY_IMPORT_H

#include <jansson.h>
#include <stddef.h>

#include "registry.h"

struct st_gw_import_stats {
    size_t records;     /* records read */
    size_t created;     /* new device rows */
    size_t unchanged;   /* already present with the same data */
    double seconds;     /* wall time of parse + transaction */
};

/* One delivery record mapped to registry fields (strings borrowed from json). */
struct st_gw_delivery {
    char iccid[21];
    int has_spki;
    unsigned char spki_sha256[32];
    const char *cert_pem;     /* NULL when no certificate */
    char psk_identity[ST_REG_PSK_ID_MAX + 1];
};

/* Parses a batch buffer into a JSON array of records (new reference), or NULL
 * with a message in err. */
json_t *st_gw_delivery_load(const char *buf, size_t len, char *err, size_t errcap);

/* Loads a file or a directory (see above). */
json_t *st_gw_delivery_load_path(const char *path, char *err, size_t errcap);

/* Validates one record and computes its fields. 0 or -1 (message in err). */
int st_gw_delivery_parse(json_t *rec, struct st_gw_delivery *out, char *err, size_t errcap);

/* Imports records into (tenant, group) in one transaction. 0 on success;
 * otherwise a negative st_reg_rc (or ST_REG_EINVAL for bad records) with a
 * message in err, the database unchanged and stats zero. */
int st_gw_import(struct st_reg *r, const char *tenant, const char *group, json_t *records,
                 struct st_gw_import_stats *stats, char *err, size_t errcap);

#endif
