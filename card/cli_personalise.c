/*
 * `simtrust-card personalise`: the factory step (IoT.04 G1, K1). Reads a
 * profile (docs/profile.md), builds the card state with keys generated in
 * the card or imported, writes the image atomically and the delivery record.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "image.h"
#include "profile.h"
#include "profile_internal.h"
#include "st_log.h"
#include "st_secret.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char personalise_help[] =
    "Usage: simtrust-card personalise --profile FILE --image FILE [--delivery FILE|-]\n"
    "                                 [--force]\n"
    "\n"
    "Personalises a virtual IoT SAFE card, as a SIM factory does (GSMA IoT.04 G1,\n"
    "K1): reads a card profile, creates its keys, certificates, files and PSKs, and\n"
    "writes the card image that `simtrust-card serve --image FILE` then serves.\n"
    "\n"
    "The profile is JSON (format and defaults: docs/profile.md). Keys marked\n"
    "\"generate\": true are generated inside the card; their private half is only\n"
    "ever written to the image. Keys and certificates may also be imported from\n"
    "PEM or DER files, given relative to the profile's directory. Every field is\n"
    "checked, and an error names the field, e.g.\n"
    "  private_keys[1].type: unknown type \"p384\"\n"
    "\n"
    "The image is written atomically (a temporary file, fsync, rename) with mode\n"
    "0600: it holds private keys and PSKs. The delivery record is one JSON object\n"
    "with the public data the IoT security service needs: ICCID, EID, every public\n"
    "key (PEM), every certificate (PEM, subject, expiry) and every PSK identity.\n"
    "It never contains a private key or a PSK value.\n"
    "\n"
    "Options:\n"
    "  --profile FILE       the card profile (JSON, required)\n"
    "  --image FILE         the card image to write (required)\n"
    "  --delivery FILE|-    also write the delivery record to FILE, or to standard\n"
    "                       output for '-' (default: none)\n"
    "  --force              replace an existing image (its keys are lost for good);\n"
    "                       without it an existing image is left alone\n"
    "  -h, --help           show this help and exit\n"
    "\n"
    "Exit status:\n"
    "  0  the image (and delivery record) were written, or --help\n"
    "  1  the profile is invalid, a file could not be read or written, or the\n"
    "     image exists and --force was not given\n"
    "  2  usage error\n"
    "\n"
    "Example:\n"
    "  simtrust-card personalise --profile factory/device-0001.json \\\n"
    "      --image device-0001.img --delivery device-0001.delivery.json\n"
    "  simtrust-card serve --image device-0001.img --vpcd\n";

struct opts {
    const char *profile, *image, *delivery;
    int force;
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "simtrust-card personalise: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'simtrust-card personalise --help'.\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* Returns -1 to go on, or the exit code (help, usage error). */
static int parse_args(int argc, char **argv, struct opts *o)
{
    enum { OPT_PROFILE = 256, OPT_IMAGE, OPT_DELIVERY };
    static const struct option longopts[] = {
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"image", required_argument, NULL, OPT_IMAGE},
        {"delivery", required_argument, NULL, OPT_DELIVERY},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
#ifdef __GLIBC__
    optind = 0; /* full reset: the caller may have used getopt already */
#else
    optind = 1;
#endif
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_PROFILE:
            o->profile = optarg;
            break;
        case OPT_IMAGE:
            o->image = optarg;
            break;
        case OPT_DELIVERY:
            o->delivery = optarg;
            break;
        case 'f':
            o->force = 1;
            break;
        case 'h':
            fputs(personalise_help, stdout);
            return 0;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (o->profile == NULL)
        return usage_error("--profile FILE is required");
    if (o->image == NULL)
        return usage_error("--image FILE is required");
    if (o->image[0] == '\0' || o->profile[0] == '\0')
        return usage_error("empty file name");
    return -1;
}

/* The directory relative "pem_file" paths of a profile are resolved in. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* Renders the delivery record first, so no image is written if that fails. */
static int render_delivery(const struct st_card_state *s, char **text, size_t *len)
{
    FILE *mem = open_memstream(text, len);
    if (mem == NULL)
        return -1;
    int rc = st_profile_delivery(s, mem);
    if (fclose(mem) != 0)
        rc = -1;
    return rc;
}

static int write_delivery(const char *path, const char *text, size_t len)
{
    if (strcmp(path, "-") == 0)
        return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -1;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    size_t w = fwrite(text, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

static void count_objects(const struct st_card_state *s, size_t n[ST_OBJ_KINDS])
{
    const struct st_object *const tables[ST_OBJ_KINDS] = {s->priv, s->pub, s->file, s->secret};
    for (int k = 0; k < ST_OBJ_KINDS; k++) {
        n[k] = 0;
        for (size_t i = 0; i < st_objects_capacity((enum st_obj_kind)k); i++)
            n[k] += tables[k][i].in_use;
    }
}

static int personalise(const struct opts *o)
{
    struct stat st;
    if (!o->force && lstat(o->image, &st) == 0) {
        st_err("%s exists; give --force to replace it (its keys would be lost)", o->image);
        return EXIT_FAIL;
    }
    uint8_t *json = NULL;
    size_t json_len = 0;
    char why[512];
    if (st_profile_read_file(NULL, o->profile, &json, &json_len, why, sizeof(why)) != 0) {
        st_err("profile: %s", why);
        return EXIT_FAIL;
    }
    int rc = EXIT_FAIL;
    char *base = dir_of(o->profile);
    struct st_card_state *s = malloc(sizeof(*s)); /* ~170 KiB: not on the stack */
    char *text = NULL;
    size_t text_len = 0;
    if (base == NULL || s == NULL) {
        st_err("out of memory");
        goto out;
    }
    if (st_profile_build((const char *)json, json_len, base, s, why, sizeof(why)) != 0) {
        st_err("%s: %s", o->profile, why);
        goto out;
    }
    if (o->delivery != NULL && render_delivery(s, &text, &text_len) != 0) {
        st_err("cannot build the delivery record");
        goto out;
    }
    if (st_image_save(o->image, s, NULL, why, sizeof(why)) != 0) {
        st_err("%s", why);
        goto out;
    }
    if (o->delivery != NULL && write_delivery(o->delivery, text, text_len) != 0) {
        st_err("image %s written, but not the delivery record %s: %s", o->image, o->delivery,
               strerror(errno));
        goto out;
    }
    size_t n[ST_OBJ_KINDS];
    count_objects(s, n);
    st_info("personalised %s: %zu private keys, %zu public keys, %zu files, %zu secret keys",
            o->image, n[ST_OBJ_PRIVATE_KEY], n[ST_OBJ_PUBLIC_KEY], n[ST_OBJ_FILE],
            n[ST_OBJ_SECRET_KEY]);
    rc = 0;
out:
    if (s != NULL)
        st_wipe(s, sizeof(*s));
    free(s);
    free(text);
    free(base);
    st_wipe(json, json_len); /* the profile may hold PSKs and private keys */
    free(json);
    return rc;
}

int st_cli_personalise(int argc, char **argv)
{
    struct opts o;
    memset(&o, 0, sizeof(o));
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    return personalise(&o);
}
