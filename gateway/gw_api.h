/*
 * The REST API of simtrust-gateway: interface 4, server-middleware side
 * (IoT.04 3.3.2.2: Credential Establishment, CA Certificate Request, Get PSK
 * Data) and the Prometheus metrics endpoint. libmicrohttpd (HTTPS through
 * GnuTLS) + jansson; the contract is docs/openapi/gateway-api.yaml and
 * docs/gateway-api.md.
 *
 * Authentication: bearer tokens from cfg->api_tokens, each bound to one
 * tenant (isolation: a tenant never sees or touches another's records; a
 * foreign record answers 404 like a missing one) and to roles.
 * Registry access uses the API's own registry handles (never the workers').
 */
#ifndef SIMTRUST_GW_API_H
#define SIMTRUST_GW_API_H

#include <stddef.h>

#include "gw_config.h"
#include "gw_metrics.h"
#include "kek.h"

struct st_gw_api;

/*
 * Starts the API on cfg->api_listen (if set) and the metrics endpoint on
 * cfg->metrics_listen (if set); port 0 picks a free port. kek is borrowed and
 * must outlive the API; metrics may be NULL (then /metrics answers 404).
 * NULL with a message in err.
 */
struct st_gw_api *st_gw_api_start(const struct st_gw_config *cfg, struct st_gw_kek *kek,
                                  struct st_gw_metrics *metrics, char *err, size_t errcap);

/* Re-reads the tokens file, CA directory and cert_days (SIGHUP). 0 or -1 (err;
 * the old settings stay). */
int st_gw_api_reload(struct st_gw_api *api, const struct st_gw_config *cfg, char *err,
                     size_t errcap);

/* Bound ports (0 when off). */
unsigned st_gw_api_port(const struct st_gw_api *api);
unsigned st_gw_api_metrics_port(const struct st_gw_api *api);

void st_gw_api_stop(struct st_gw_api *api);

#endif
