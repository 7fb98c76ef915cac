/*
 * Bearer tokens of the gateway REST API (docs/gateway-api.md, "Tokens file").
 *
 * One line per token:
 *
 *   <sha256-hex of the token> <tenant> <roles>
 *
 * roles is a comma list of read, write, psk-data, ca, import, admin (admin
 * implies every other role of its tenant). '#' starts a comment line; blank
 * lines are ignored. The file holds only hashes, never tokens. A presented
 * token is hashed and compared with every entry in constant time (the time
 * does not depend on which entry, if any, matches).
 */
#ifndef SIMTRUST_GW_TOKENS_H
#define SIMTRUST_GW_TOKENS_H

#include <stddef.h>

#include "registry.h"

#define ST_GW_ROLE_READ 0x01u
#define ST_GW_ROLE_WRITE 0x02u
#define ST_GW_ROLE_PSK_DATA 0x04u
#define ST_GW_ROLE_CA 0x08u
#define ST_GW_ROLE_IMPORT 0x10u
#define ST_GW_ROLE_ADMIN 0x20u
#define ST_GW_ROLE_ALL 0x3Fu

#define ST_GW_TOKEN_MAX 512 /* longest token accepted (bytes) */

struct st_gw_tokens;

/* Parses a tokens file's content; name is used in messages ("name:line: why").
 * NULL with err set on any bad line. An empty file is valid (no token works). */
struct st_gw_tokens *st_gw_tokens_parse(const char *name, const char *buf, size_t len, char *err,
                                        size_t errcap);

/* Reads and parses a file (at most 16 MiB). */
struct st_gw_tokens *st_gw_tokens_load(const char *path, char *err, size_t errcap);

void st_gw_tokens_free(struct st_gw_tokens *t);

size_t st_gw_tokens_count(const struct st_gw_tokens *t);

/*
 * Looks up a presented token (len bytes). 0 with its tenant copied into
 * tenant[ST_REG_ID_MAX + 1] and its role mask in *roles (admin expanded to
 * ST_GW_ROLE_ALL), or -1 when no entry matches.
 */
int st_gw_tokens_check(const struct st_gw_tokens *t, const char *token, size_t len,
                       char tenant[ST_REG_ID_MAX + 1], unsigned *roles);

/* Role bit of a name ("read", ..., "admin"), 0 if unknown. */
unsigned st_gw_role_parse(const char *name, size_t len);

/* Name of one role bit, NULL if not exactly one known bit. */
const char *st_gw_role_name(unsigned role);

#endif
