/*
 * simtrust-registry: administration of the simtrust-gateway device registry
 * (tenants, groups, offline delivery import of IoT.04 Annex C.1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_psk.h"
#include "delivery_import.h"
#include "kek.h"
#include "registry.h"
#include "st_hex.h"
#include "st_secret.h"

static const char k_usage[] =
    "NAME\n"
    "    simtrust-registry - manage the simtrust-gateway device registry\n"
    "\n"
    "SYNOPSIS\n"
    "    simtrust-registry --db FILE [--kek FILE] tenant-add TENANT\n"
    "    simtrust-registry --db FILE [--kek FILE] group-add --tenant T --group G\n"
    "                      --auth x509|psk|batch[,...] [--anchors PEM-FILE]\n"
    "                      [--vendor V --batch B --kdf hmac-sha256|hkdf-sha256\n"
    "                       --bmk-file FILE [--allowlist]]\n"
    "    simtrust-registry --db FILE [--kek FILE] import --tenant T --group G PATH...\n"
    "    simtrust-registry --db FILE [--kek FILE] device-get --tenant T DEVICE-ID\n"
    "    simtrust-registry kek-init --pkcs11-module SO --pkcs11-pin-file FILE\n"
    "                      [--pkcs11-token LABEL] [--pkcs11-key LABEL] [--from-file KEK]\n"
    "    In every form, --kek FILE may be replaced by the PKCS#11 KEK options:\n"
    "      --pkcs11-module SO --pkcs11-pin-file FILE [--pkcs11-token L] [--pkcs11-key L]\n"
    "\n"
    "DESCRIPTION\n"
    "    The registry is a SQLite file (WAL mode). Secrets (stored PSKs, batch\n"
    "    master keys) are sealed with AES-256-GCM under the key-encryption key\n"
    "    (KEK); commands that write or read a secret need it. The KEK is either\n"
    "    a file (--kek: 32 raw bytes or 64 hex digits, mode 0600), or an AES-256\n"
    "    key inside a PKCS#11 token that never leaves it (SoftHSM2 by default):\n"
    "      --pkcs11-module SO     the module, e.g. /usr/lib/softhsm/libsofthsm2.so\n"
    "      --pkcs11-token LABEL   the token's label [simtrust]\n"
    "      --pkcs11-key LABEL     the key's CKA_LABEL [kek]\n"
    "      --pkcs11-pin-file FILE the user PIN, one line, mode 0600\n"
    "    (also spelt --kek-pkcs11-module etc., like simtrust-gateway's settings).\n"
    "    Both kinds write the same sealed format: the same key value opens the\n"
    "    same registry whichever way it is held.\n"
    "\n"
    "    kek-init creates the KEK on the token (no --db needed): generated inside\n"
    "    the token (C_GenerateKey), or, with --from-file KEK, the value of an\n"
    "    existing KEK file imported to move a registry into the HSM. The key is a\n"
    "    private token object, CKA_SENSITIVE, never extractable, encrypt/decrypt\n"
    "    only; an existing key with that label is never replaced. The token must\n"
    "    exist: for SoftHSM2, `softhsm2-util --init-token --free --label simtrust\n"
    "    --pin PIN --so-pin SOPIN` (SOFTHSM2_CONF chooses its token directory).\n"
    "\n"
    "    import reads the delivery records written by\n"
    "    `simtrust-card personalise --delivery` (docs/profile.md). Each PATH is a\n"
    "    JSON array of records, a sequence of records (JSON Lines or concatenated\n"
    "    files), or a directory whose *.json files are read in name order. All\n"
    "    records of all PATHs are imported in ONE transaction into the group:\n"
    "    device ID = ICCID; certificate/SPKI and PSK identity from the record. In a\n"
    "    batch group (scenario 5) the PSK identity must be VENDOR:BATCH:ICCID and\n"
    "    the ICCIDs form the group's allow-list. Re-importing the same records\n"
    "    changes nothing; a record that conflicts with a registered device aborts\n"
    "    the import and nothing is written. The summary gives records/s.\n"
    "    See docs/gateway-batch-psk.md.\n"
    "\n"
    "    group-add --bmk-file reads the batch master key: 16..64 raw bytes, or\n"
    "    hex digits.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success, 1 error (invalid input, conflict, storage), 2 usage error.\n";

static int usage_err(const char *m)
{
    fprintf(stderr, "simtrust-registry: %s (try --help)\n", m);
    return 2;
}

static int read_key_file(const char *path, uint8_t *out, size_t *out_len)
{
    uint8_t raw[200];
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(raw, 1, sizeof(raw), f);
    fclose(f);
    while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
        n--;
    int rc = -1;
    int hex = n % 2 == 0 && n >= 32;
    for (size_t i = 0; hex && i < n; i++)
        hex = strchr("0123456789abcdefABCDEF", raw[i]) != NULL;
    if (hex && n / 2 <= ST_REG_KEY_MAX && n / 2 >= 16) {
        for (size_t i = 0; i < n / 2; i++) {
            unsigned v;
            char b[3] = {(char)raw[2 * i], (char)raw[2 * i + 1], 0};
            sscanf(b, "%2x", &v);
            out[i] = (uint8_t)v;
        }
        *out_len = n / 2;
        rc = 0;
    } else if (!hex && n >= 16 && n <= ST_REG_KEY_MAX) {
        memcpy(out, raw, n);
        *out_len = n;
        rc = 0;
    }
    st_wipe(raw, sizeof(raw));
    return rc;
}

static unsigned parse_auth(const char *s)
{
    unsigned m = 0;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "x509") == 0)
            m |= ST_REG_AUTH_X509;
        else if (strcmp(t, "psk") == 0)
            m |= ST_REG_AUTH_PSK;
        else if (strcmp(t, "batch") == 0)
            m |= ST_REG_AUTH_BATCH;
        else
            return 0;
    }
    return m;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* kek-init: the KEK created on the token, then opened once to prove it. */
static int kek_init(const char *module, const char *token, const char *key,
                    const char *pin_file, const char *from_file)
{
    const char *why = NULL;
    uint8_t value[ST_REG_KEY_MAX];
    size_t vlen = 0;
    if (from_file != NULL) {
        /* The same checks as a KEK file the gateway would load. */
        struct st_gw_kek *probe = st_gw_kek_from_file(from_file, &why);
        if (probe == NULL) {
            fprintf(stderr, "simtrust-registry: %s: %s\n", from_file, why);
            return 1;
        }
        st_gw_kek_free(probe);
        if (read_key_file(from_file, value, &vlen) != 0 || vlen != 32) {
            st_wipe(value, sizeof(value));
            fprintf(stderr, "simtrust-registry: %s: not a 32-byte KEK\n", from_file);
            return 1;
        }
    }
    int rc = st_gw_kek_pkcs11_create(module, token, key, pin_file,
                                     from_file != NULL ? value : NULL, &why);
    st_wipe(value, sizeof(value));
    if (rc != 0) {
        fprintf(stderr, "simtrust-registry: kek-init: %s\n", why);
        return 1;
    }
    struct st_gw_kek *kek = st_gw_kek_from_pkcs11(module, token, key, pin_file, &why);
    if (kek == NULL) {
        fprintf(stderr, "simtrust-registry: kek-init: created, but: %s\n", why);
        return 1;
    }
    st_gw_kek_free(kek);
    printf("kek-init: AES-256 key '%s' %s token '%s' (sensitive, never extractable)\n", key,
           from_file != NULL ? "imported into" : "generated inside", token);
    return 0;
}

int main(int argc, char **argv)
{
    const char *db = NULL, *kek_path = NULL, *tenant = NULL, *group = NULL, *auth = NULL,
               *anchors = NULL, *vendor = NULL, *batch = NULL, *kdf = NULL, *bmk_file = NULL,
               *p11_module = NULL, *p11_token = "simtrust", *p11_key = "kek",
               *p11_pin_file = NULL, *from_file = NULL;
    int allowlist = 0, c;
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},       {"db", required_argument, NULL, 'd'},
        {"kek", required_argument, NULL, 'k'},  {"tenant", required_argument, NULL, 't'},
        {"group", required_argument, NULL, 'g'}, {"auth", required_argument, NULL, 'a'},
        {"anchors", required_argument, NULL, 'A'}, {"vendor", required_argument, NULL, 'V'},
        {"batch", required_argument, NULL, 'B'}, {"kdf", required_argument, NULL, 'K'},
        {"bmk-file", required_argument, NULL, 'M'}, {"allowlist", no_argument, NULL, 'L'},
        {"pkcs11-module", required_argument, NULL, 'P'},
        {"kek-pkcs11-module", required_argument, NULL, 'P'},
        {"pkcs11-token", required_argument, NULL, 'T'},
        {"kek-pkcs11-token", required_argument, NULL, 'T'},
        {"pkcs11-key", required_argument, NULL, 'Y'},
        {"kek-pkcs11-key", required_argument, NULL, 'Y'},
        {"pkcs11-pin-file", required_argument, NULL, 'N'},
        {"kek-pkcs11-pin-file", required_argument, NULL, 'N'},
        {"from-file", required_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(k_usage, stdout); return 0;
        case 'd': db = optarg; break;
        case 'k': kek_path = optarg; break;
        case 't': tenant = optarg; break;
        case 'g': group = optarg; break;
        case 'a': auth = optarg; break;
        case 'A': anchors = optarg; break;
        case 'V': vendor = optarg; break;
        case 'B': batch = optarg; break;
        case 'K': kdf = optarg; break;
        case 'M': bmk_file = optarg; break;
        case 'L': allowlist = 1; break;
        case 'P': p11_module = optarg; break;
        case 'T': p11_token = optarg; break;
        case 'Y': p11_key = optarg; break;
        case 'N': p11_pin_file = optarg; break;
        case 'F': from_file = optarg; break;
        default: return usage_err("unknown option");
        }
    }
    if (optind >= argc)
        return usage_err("missing command");
    if (kek_path != NULL && p11_module != NULL)
        return usage_err("--kek and --pkcs11-module exclude each other (one KEK)");
    if (p11_module != NULL && p11_pin_file == NULL)
        return usage_err("--pkcs11-module needs --pkcs11-pin-file");
    if (strcmp(argv[optind], "kek-init") == 0) {
        if (optind != argc - 1)
            return usage_err("kek-init takes no arguments");
        if (p11_module == NULL)
            return usage_err("kek-init needs --pkcs11-module and --pkcs11-pin-file");
        return kek_init(p11_module, p11_token, p11_key, p11_pin_file, from_file);
    }
    if (from_file != NULL)
        return usage_err("--from-file goes with kek-init");
    if (db == NULL)
        return usage_err("--db is required");
    const char *cmd = argv[optind++];

    struct st_gw_kek *kek = NULL;
    if (kek_path != NULL) {
        const char *why = NULL;
        kek = st_gw_kek_from_file(kek_path, &why);
        if (kek == NULL) {
            fprintf(stderr, "simtrust-registry: %s: %s\n", kek_path, why);
            return 1;
        }
    } else if (p11_module != NULL) {
        const char *why = NULL;
        kek = st_gw_kek_from_pkcs11(p11_module, p11_token, p11_key, p11_pin_file, &why);
        if (kek == NULL) {
            fprintf(stderr, "simtrust-registry: KEK (PKCS#11): %s\n", why);
            return 1;
        }
    }
    struct st_reg *r = NULL;
    if (st_reg_open_sqlite(db, kek, 10000, &r) != ST_REG_OK) {
        fprintf(stderr, "simtrust-registry: cannot open %s\n", db);
        st_gw_kek_free(kek);
        return 1;
    }
    int rc = 1;
    if (strcmp(cmd, "tenant-add") == 0) {
        if (optind != argc - 1) {
            rc = usage_err("tenant-add takes one TENANT");
        } else if (st_reg_tenant_put(r, argv[optind]) == ST_REG_OK) {
            rc = 0;
        } else {
            fprintf(stderr, "simtrust-registry: tenant-add: %s\n", r->errmsg);
        }
    } else if (strcmp(cmd, "group-add") == 0) {
        struct st_reg_group g;
        memset(&g, 0, sizeof(g));
        g.auth_methods = auth ? parse_auth(auth) : 0;
        if (tenant == NULL || group == NULL || g.auth_methods == 0) {
            rc = usage_err("group-add needs --tenant, --group and a valid --auth");
            goto out;
        }
        snprintf(g.tenant, sizeof(g.tenant), "%s", tenant);
        snprintf(g.id, sizeof(g.id), "%s", group);
        if (anchors && (g.trust_anchors_pem = slurp(anchors)) == NULL) {
            fprintf(stderr, "simtrust-registry: cannot read %s\n", anchors);
            goto out;
        }
        if (g.auth_methods & ST_REG_AUTH_BATCH) {
            g.kdf = st_gw_kdf_parse(kdf ? kdf : "hmac-sha256");
            if (!vendor || !batch || !bmk_file || g.kdf == 0) {
                st_reg_group_clear(&g);
                rc = usage_err("batch groups need --vendor, --batch, --bmk-file, valid --kdf");
                goto out;
            }
            snprintf(g.batch_vendor, sizeof(g.batch_vendor), "%s", vendor);
            snprintf(g.batch_id, sizeof(g.batch_id), "%s", batch);
            g.allowlist = allowlist;
            if (read_key_file(bmk_file, g.bmk, &g.bmk_len) != 0) {
                fprintf(stderr, "simtrust-registry: %s: not a 16..64-byte key\n", bmk_file);
                st_reg_group_clear(&g);
                goto out;
            }
        }
        int prc = st_reg_tenant_put(r, tenant);
        if (prc == ST_REG_OK)
            prc = st_reg_group_put(r, &g, ST_REG_ANY);
        if (prc == ST_REG_OK)
            rc = 0;
        else
            fprintf(stderr, "simtrust-registry: group-add: %s: %s\n", st_reg_strerror(prc),
                    r->errmsg);
        st_reg_group_clear(&g);
    } else if (strcmp(cmd, "import") == 0) {
        char err[512];
        if (tenant == NULL || group == NULL || optind >= argc) {
            rc = usage_err("import needs --tenant, --group and at least one PATH");
            goto out;
        }
        json_t *all = json_array();
        for (int i = optind; i < argc && all; i++) {
            json_t *part = st_gw_delivery_load_path(argv[i], err, sizeof(err));
            if (part == NULL) {
                fprintf(stderr, "simtrust-registry: %s: %s\n", argv[i], err);
                json_decref(all);
                all = NULL;
                break;
            }
            json_array_extend(all, part);
            json_decref(part);
        }
        if (all == NULL)
            goto out;
        struct st_gw_import_stats st;
        int irc = st_gw_import(r, tenant, group, all, &st, err, sizeof(err));
        json_decref(all);
        if (irc != ST_REG_OK) {
            fprintf(stderr, "simtrust-registry: import failed, nothing imported: %s\n", err);
            goto out;
        }
        printf("imported %zu records into %s/%s: %zu created, %zu unchanged, %.3f s, "
               "%.0f records/s\n",
               st.records, tenant, group, st.created, st.unchanged, st.seconds,
               st.seconds > 0 ? (double)st.records / st.seconds : 0.0);
        rc = 0;
    } else if (strcmp(cmd, "device-get") == 0) {
        struct st_reg_device d;
        if (tenant == NULL || optind != argc - 1) {
            rc = usage_err("device-get needs --tenant and one DEVICE-ID");
            goto out;
        }
        int grc = st_reg_device_get(r, tenant, argv[optind], &d);
        if (grc != ST_REG_OK) {
            fprintf(stderr, "simtrust-registry: device-get: %s %s\n", st_reg_strerror(grc),
                    grc == ST_REG_NOTFOUND ? "" : r->errmsg);
            goto out;
        }
        char spki[65] = "";
        if (d.has_spki)
            st_hex_encode(d.spki_sha256, 32, spki);
        static const char *const states[] = {"enabled", "disabled", "revoked"};
        printf("tenant: %s\nid: %s\ngroup: %s\nstate: %s\niccid: %s\nspki-sha256: %s\n"
               "psk-identity: %s\npsk: %s\nversion: %lld\n",
               d.tenant, d.id, d.group, states[d.state % 3], d.iccid, spki, d.psk_identity,
               d.psk_len ? "(set, sealed)" : "(none)", (long long)d.version);
        st_reg_device_clear(&d);
        rc = 0;
    } else {
        rc = usage_err("unknown command");
    }
out:
    st_reg_close(r);
    st_gw_kek_free(kek);
    return rc;
}
