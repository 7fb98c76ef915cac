/*
 * Internals shared by the REST API sources (gw_api.c: daemon, routing, auth,
 * responses; gw_api_groups.c and gw_api_devices.c: the resources). Not a
 * public interface.
 */
#ifndef SIMTRUST_GW_API_INTERNAL_H
#define SIMTRUST_GW_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"

#define ST_API_MAX_SEGS 6
#define ST_API_PAGE_DEFAULT 100
#define ST_API_PAGE_MAX 1000
#define ST_API_BODY_MAX (1u << 20)     /* 1 MiB */
#define ST_API_IMPORT_MAX (64u << 20)  /* 64 MiB */

struct st_gw_api;

/* One HTTP request. */
struct st_api_req {
    struct st_gw_api *api;
    struct MHD_Connection *conn;
    const char *method;
    char path[512];                  /* raw path for the log (truncated) */
    char *seg[ST_API_MAX_SEGS];      /* percent-decoded path segments */
    size_t nseg;
    int route;
    char tenant[ST_REG_ID_MAX + 1];
    unsigned roles;
    char *body;
    size_t len, cap, limit;
    int too_large;
    int queued;
    unsigned status;
    struct timespec t0;
};

/* Registry handle of the API for the duration of one request. */
struct st_reg *st_api_reg(struct st_api_req *q);

/* Snapshot of the reloadable CA settings. */
void st_api_ca_settings(struct st_api_req *q, char *ca_dir, size_t cap, int *days);

/* ---- responses (each returns the MHD result of queueing) ---- */
/* body is stolen (may be NULL: no body); etag and the extra header may be NULL. */
enum MHD_Result st_api_json(struct st_api_req *q, unsigned status, json_t *body,
                            const char *etag, const char *hname, const char *hvalue);
/* The same for a body that holds a secret: Cache-Control: no-store, and the
 * serialised text is wiped when MHD frees it. */
enum MHD_Result st_api_json_secret(struct st_api_req *q, unsigned status, json_t *body,
                                   const char *etag);
enum MHD_Result st_api_error(struct st_api_req *q, unsigned status, const char *code,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Maps a registry result to an error response; what names the record. */
enum MHD_Result st_api_reg_error(struct st_api_req *q, struct st_reg *r, int rc,
                                 const char *what);
enum MHD_Result st_api_no_content(struct st_api_req *q, unsigned status);

/* ---- requests ---- */
/* Query argument percent-decoded into buf: 1 present, 0 absent, -1 too long
 * or holding %00. */
int st_api_arg(struct st_api_req *q, const char *name, char *buf, size_t cap);
/* offset/limit query arguments; -1 after queueing a 400. */
int st_api_paging(struct st_api_req *q, int64_t *offset, int64_t *limit, enum MHD_Result *res);
/* Builds the "next" link of a page, or JSON null. extra is "&group=..." or "". */
json_t *st_api_next(const char *base, int64_t offset, int64_t limit, int64_t total,
                    const char *extra_name, const char *extra_value);
/* Answers one page of a listing: {"items", "total", "offset", "limit",
 * "next"}; items is stolen. */
enum MHD_Result st_api_page(struct st_api_req *q, json_t *items, int64_t total, int64_t offset,
                            int64_t limit, const char *base, const char *extra_name,
                            const char *extra_value);
/* Answers a GET/HEAD of a record of this version: 304 or 412 by the
 * conditional headers, else 200 with body (stolen) and its ETag. what names
 * the record in the 412 message. */
enum MHD_Result st_api_record(struct st_api_req *q, int64_t version, json_t *body,
                              const char *what);
/* Parses the body as a JSON object; NULL after queueing a 400. */
json_t *st_api_body_object(struct st_api_req *q, enum MHD_Result *res);
/* Wipes the raw body (it may hold secrets). */
void st_api_wipe_body(struct st_api_req *q);

/*
 * Conditional request headers against the stored version (0 = absent).
 * Returns 0 to proceed, or the status to answer: 412 (If-Match /
 * If-None-Match on a write), 304 (If-None-Match on GET/HEAD).
 */
unsigned st_api_precondition(struct st_api_req *q, int64_t current);
/* 1 when the request carries If-None-Match: * (create only). */
int st_api_create_only(struct st_api_req *q);

/* Creates the tenant row on its first write. */
int st_api_tenant_ensure(struct st_reg *r, const char *tenant);

/* ETag text of a version. */
void st_api_etag(int64_t version, char buf[32]);

/* Resource handlers (gw_api_groups.c, gw_api_devices.c). */
enum MHD_Result st_api_groups_list(struct st_api_req *q);
enum MHD_Result st_api_group(struct st_api_req *q);             /* GET PUT DELETE */
enum MHD_Result st_api_allowlist_list(struct st_api_req *q);
enum MHD_Result st_api_allowlist_entry(struct st_api_req *q);   /* GET PUT DELETE */
enum MHD_Result st_api_certificates(struct st_api_req *q);      /* POST */
enum MHD_Result st_api_import(struct st_api_req *q);            /* POST */
enum MHD_Result st_api_devices_list(struct st_api_req *q);
enum MHD_Result st_api_device(struct st_api_req *q);            /* GET PUT PATCH DELETE */
enum MHD_Result st_api_device_psk(struct st_api_req *q);        /* POST */

/* The OpenAPI document (gw_api_openapi.c, generated from docs/openapi/gateway-api.yaml). */
extern const char st_gw_api_openapi_yaml[];
extern const size_t st_gw_api_openapi_yaml_len;

#endif
