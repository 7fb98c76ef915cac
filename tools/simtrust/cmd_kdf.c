/*
 * Key agreement and derivation on the card: `dh` (PUT PUBLIC KEY + COMPUTE
 * DH, IoT.04 E6, F4), `prf` (TLS 1.2 PRF, J4, F5) and `hkdf` (TLS 1.3 HKDF,
 * J5, F6; Expand and secret-object input are simtrust-card extensions,
 * docs/card-crypto.md). Their outputs are secrets the applet returns by
 * design: they are printed once and wiped from the tool's memory.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "st_secret.h"

#define SECRET_MAX 1024 /* longest HKDF output; PRF: 255 */
#define INPUT_MAX 255   /* one APDU's data at most */

/* Prints a derived secret (hex) or puts it into the JSON result, then wipes it. */
static void emit_secret(struct st_cli *cli, const char *key, uint8_t *p, size_t n)
{
    if (cli->g.json)
        st_cli_json_hex(st_cli_json(cli), key, p, n);
    else
        st_cli_print_hex(stdout, p, n);
    st_wipe(p, n);
}

/* ------------------------------------------------------------------ dh */

static const char dh_help[] =
    "Usage: simtrust [--sim LINK] dh (--key LABEL | --key-id HEX)\n"
    "                (--peer-slot LABEL | --peer-slot-id HEX) [--peer FILE]\n"
    "\n"
    "ECDH on the card (COMPUTE DH, INS 46; GSMA IoT.04 E6, F4): with --peer, the\n"
    "peer's public key is first written into the public key object --peer-slot\n"
    "(PUT PUBLIC KEY), then the card combines it with its private key --key and\n"
    "returns the shared secret, the x-coordinate, which is printed in hex. Without\n"
    "--peer the key already in the slot is used.\n"
    "\n"
    "WARNING: the output is secret key material (the TLS pre-master secret of an\n"
    "ECDHE handshake). The applet returns it to the device by design; keep it out\n"
    "of logs and terminals that are recorded. The tool wipes its own copy.\n"
    "\n"
    "Options:\n"
    "  --key LABEL          the private key's label (needs the key agreement\n"
    "                       function, e.g. the 'ecdhe' slot after keygen)\n"
    "  --key-id HEX         the private key's ID\n"
    "  --peer-slot LABEL    the public key object that takes the peer's key\n"
    "                       (needs the update right, e.g. a volatile 'peer' slot)\n"
    "  --peer-slot-id HEX   the same by ID\n"
    "  --peer FILE          the peer's public key, PEM or DER SubjectPublicKeyInfo\n"
    "                       or certificate, on the private key's curve\n"
    "\n"
    "Output: the shared secret in hex; with --json {\"secret\": HEX}.\n"
    "\n"
    "Exit status: 0 success; 1 the card refused (SW 6985: the private key cannot\n"
    "agree keys or a key is empty; SW 6A80: the keys' curves differ or the point is\n"
    "not on the curve; SW 6A82: no such key); 2 usage error; 3 link error;\n"
    "4 FILE unreadable or not a key, malformed answer.\n"
    "\n"
    "Examples:\n"
    "  simtrust keygen --key ecdhe --pem > card-share.pem\n"
    "  simtrust dh --key ecdhe --peer-slot peer --peer server-share.pem\n";

enum {
    O_KEY = ST_CLI_OPT_BASE,
    O_KEY_ID,
    O_PEER_SLOT,
    O_PEER_SLOT_ID,
    O_PEER,
    O_MODE,
    O_SECRET_KEY,
    O_SECRET_KEY_ID,
    O_SECRET,
    O_OTHER,
    O_LABEL,
    O_SEED,
    O_LENGTH,
    O_HASH,
    O_IKM,
    O_SALT,
    O_PRK,
    O_INFO,
};

static const struct st_cli_opt dh_opts[] = {
    {"key", 1, O_KEY},
    {"key-id", 1, O_KEY_ID},
    {"peer-slot", 1, O_PEER_SLOT},
    {"peer-slot-id", 1, O_PEER_SLOT_ID},
    {"peer", 1, O_PEER},
    {NULL, 0, 0},
};

struct dh_args {
    struct st_cli_ref key, slot;
    const char *peer;
};

static int dh_opt(struct st_cli *cli, void *arg, int id, const char *val)
{
    struct dh_args *a = arg;
    (void)cli;
    switch (id) {
    case O_KEY:
        a->key.label = val;
        break;
    case O_KEY_ID:
        a->key.id_hex = val;
        break;
    case O_PEER_SLOT:
        a->slot.label = val;
        break;
    case O_PEER_SLOT_ID:
        a->slot.id_hex = val;
        break;
    case O_PEER:
        a->peer = val;
        break;
    }
    return 0;
}

int st_cli_cmd_dh(struct st_cli *cli, int argc, char **argv)
{
    struct dh_args a;
    struct st_iotsafe_ref key, slot;
    struct st_iotsafe_pubkey pk;
    char what[ST_CLI_REF_TEXT], what2[ST_CLI_REF_TEXT];
    uint8_t z[132];
    size_t zlen = sizeof(z);
    int first;
    memset(&a, 0, sizeof(a));
    int rc = st_cli_parse(cli, argc, argv, dh_opts, dh_opt, &a, dh_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
    rc = st_cli_make_ref(cli, "key", &a.key, true, &key);
    if (rc == 0)
        rc = st_cli_make_ref(cli, "peer-slot", &a.slot, true, &slot);
    if (rc != 0)
        return rc;
    st_cli_ref_text(&key, what, sizeof(what));
    st_cli_ref_text(&slot, what2, sizeof(what2));
    if (a.peer != NULL) {
        uint8_t *buf;
        size_t len;
        const char *why;
        rc = st_cli_read_file(cli, a.peer, ST_CLI_FILE_MAX, &buf, &len);
        if (rc != 0)
            return rc;
        EVP_PKEY *pkey = st_cli_pkey_load(buf, len);
        free(buf);
        if (pkey == NULL)
            return st_cli_error(cli, ST_CLI_EXIT_OTHER,
                                "'%s' is neither a public key nor a certificate", a.peer);
        rc = st_cli_pkey_to_card(pkey, &pk, &why);
        EVP_PKEY_free(pkey);
        if (rc == 0 && pk.type != ST_IOTSAFE_PUBKEY_EC) {
            why = "ECDH needs an EC key";
            rc = -1;
        }
        if (rc != 0)
            return st_cli_error(cli, ST_CLI_EXIT_OTHER, "'%s': %s", a.peer, why);
    }
    rc = st_cli_open(cli);
    if (rc != 0)
        return rc;
    if (a.peer != NULL) {
        int r = st_iotsafe_put_public_key(&cli->ios, &slot, &pk);
        if (r != ST_OK)
            return st_cli_fail(cli, r, "PUT PUBLIC KEY of the peer's key into %s", what2);
    }
    int r = st_iotsafe_compute_dh(&cli->ios, &key, &slot, z, &zlen);
    if (r == ST_E_CARD_CONDITIONS)
        return st_cli_fail(cli, r, "private key %s cannot agree keys, or %s or %s is empty", what,
                           what, what2);
    if (r != ST_OK)
        return st_cli_fail(cli, r, "COMPUTE DH with private key %s and public key %s", what, what2);
    emit_secret(cli, "secret", z, zlen);
    st_wipe(z, sizeof(z));
    return 0;
}

/* ----------------------------------------------------------------- prf */

static const char prf_help[] =
    "Usage: simtrust [--sim LINK] prf --mode general|psk|psk-ecdhe\n"
    "                [--secret HEX] [--secret-key LABEL | --secret-key-id HEX]\n"
    "                [--other HEX] --label STRING --seed HEX --length N\n"
    "\n"
    "The TLS 1.2 PRF (P_SHA256 of RFC 5246 section 5) computed by the card\n"
    "(COMPUTE PRF, INS 48; GSMA IoT.04 J4, F5): N bytes of\n"
    "PRF(secret, label, seed). The secret depends on the mode:\n"
    "  general    --secret, given in the command (e.g. a master secret)\n"
    "  psk        the pre-master secret of RFC 4279 built by the card from the\n"
    "             PSK in the secret key object --secret-key: the PSK never\n"
    "             leaves the card\n"
    "  psk-ecdhe  the RFC 5489 pre-master secret from the PSK object and --other\n"
    "             (the ECDHE shared secret, e.g. from 'simtrust dh')\n"
    "\n"
    "WARNING: the output is key material (a master secret, key block...). It is\n"
    "printed because this is what the applet returns; --trace also shows --secret.\n"
    "\n"
    "Options:\n"
    "  --mode MODE           general, psk or psk-ecdhe (required)\n"
    "  --secret HEX          the PRF secret (mode general only)\n"
    "  --secret-key LABEL    the PSK's secret key object (modes psk, psk-ecdhe)\n"
    "  --secret-key-id HEX   the same by ID\n"
    "  --other HEX           the other secret of mode psk-ecdhe\n"
    "  --label STRING        the ASCII label, e.g. 'master secret' (may be empty\n"
    "                        when the seed is not)\n"
    "  --seed HEX            the seed (e.g. client random || server random)\n"
    "  --length N            output bytes, 1 to 255 (required)\n"
    "\n"
    "Output: the PRF output in hex; with --json {\"output\": HEX}.\n"
    "\n"
    "Exit status: 0 success; 1 the card refused (SW 6985: the object cannot\n"
    "derive keys or is empty; SW 6A82: no such object; SW 6A80: bad input);\n"
    "2 usage error; 3 link error; 4 malformed answer.\n"
    "\n"
    "Examples:\n"
    "  simtrust prf --mode general --secret $PMS --label 'master secret' \\\n"
    "      --seed $CLIENT_RANDOM$SERVER_RANDOM --length 48\n"
    "  simtrust prf --mode psk --secret-key psk1 --label 'master secret' \\\n"
    "      --seed $RANDOMS --length 48\n";

static const struct st_cli_opt prf_opts[] = {
    {"mode", 1, O_MODE},
    {"secret", 1, O_SECRET},
    {"secret-key", 1, O_SECRET_KEY},
    {"secret-key-id", 1, O_SECRET_KEY_ID},
    {"other", 1, O_OTHER},
    {"label", 1, O_LABEL},
    {"seed", 1, O_SEED},
    {"length", 1, O_LENGTH},
    {NULL, 0, 0},
};

/* Inputs of prf and hkdf; secret inputs are wiped before returning. */
struct kdf_args {
    int mode; /* prf: ST_IOTSAFE_PRF_*, -1 unset */
    struct st_cli_ref psk;
    const char *secret, *other, *label, *seed, *ikm, *salt, *prk, *info;
    unsigned long length;
    bool have_length;
    uint16_t hash;
};

static int kdf_opt(struct st_cli *cli, void *arg, int id, const char *val)
{
    struct kdf_args *a = arg;
    switch (id) {
    case O_MODE:
        if (strcmp(val, "general") == 0)
            a->mode = ST_IOTSAFE_PRF_GENERAL;
        else if (strcmp(val, "psk") == 0)
            a->mode = ST_IOTSAFE_PRF_PSK;
        else if (strcmp(val, "psk-ecdhe") == 0)
            a->mode = ST_IOTSAFE_PRF_PSK_ECDHE;
        else
            return st_cli_usage(cli, "--mode: '%s' is not general, psk or psk-ecdhe", val);
        return 0;
    case O_SECRET:
        a->secret = val;
        return 0;
    case O_SECRET_KEY:
        a->psk.label = val;
        return 0;
    case O_SECRET_KEY_ID:
        a->psk.id_hex = val;
        return 0;
    case O_OTHER:
        a->other = val;
        return 0;
    case O_LABEL:
        a->label = val;
        return 0;
    case O_SEED:
        a->seed = val;
        return 0;
    case O_LENGTH:
        a->have_length = true;
        return st_cli_uint_arg(cli, "--length", val, 1, SECRET_MAX, &a->length);
    case O_HASH:
        return st_cli_hash_arg(cli, "--hash", val, &a->hash);
    case O_IKM:
        a->ikm = val;
        return 0;
    case O_SALT:
        a->salt = val;
        return 0;
    case O_PRK:
        a->prk = val;
        return 0;
    case O_INFO:
        a->info = val;
        return 0;
    }
    return 0;
}

/* Explains the usual refusals of PRF and HKDF. */
static int kdf_fail(struct st_cli *cli, int r, const struct st_iotsafe_ref *psk, const char *cmd)
{
    char what[ST_CLI_REF_TEXT];
    if (psk != NULL)
        st_cli_ref_text(psk, what, sizeof(what));
    if (psk != NULL && r == ST_E_CARD_CONDITIONS)
        return st_cli_fail(cli, r, "secret key %s cannot derive keys, or is empty", what);
    if (psk != NULL && r == ST_E_CARD_NOT_FOUND)
        return st_cli_fail(cli, r, "no secret key %s on the card", what);
    return st_cli_fail(cli, r, "%s", cmd);
}

struct kdf_bufs {
    uint8_t secret[INPUT_MAX], other[INPUT_MAX], seed[INPUT_MAX], salt[INPUT_MAX], info[INPUT_MAX];
    size_t secret_len, other_len, seed_len, salt_len, info_len;
    uint8_t out[SECRET_MAX];
};

int st_cli_cmd_prf(struct st_cli *cli, int argc, char **argv)
{
    struct kdf_args a;
    struct kdf_bufs *b = calloc(1, sizeof(*b));
    struct st_iotsafe_ref psk;
    struct st_iotsafe_prf_params p;
    int first;
    if (b == NULL)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "out of memory");
    memset(&a, 0, sizeof(a));
    a.mode = -1;
    int rc = st_cli_parse(cli, argc, argv, prf_opts, kdf_opt, &a, prf_help, &first);
    if (rc != 0) {
        rc = rc == ST_CLI_DONE ? 0 : rc;
        goto out;
    }
    if (first < argc) {
        rc = st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
        goto out;
    }
    if (a.mode < 0 || a.label == NULL || a.seed == NULL || !a.have_length) {
        rc = st_cli_usage(cli, "--mode, --label, --seed and --length are required");
        goto out;
    }
    if (a.length > 255) {
        rc = st_cli_usage(cli, "--length: the PRF gives 1 to 255 bytes");
        goto out;
    }
    bool general = a.mode == ST_IOTSAFE_PRF_GENERAL;
    if (general != (a.secret != NULL) ||
        (a.mode == ST_IOTSAFE_PRF_PSK_ECDHE) != (a.other != NULL)) {
        rc = st_cli_usage(cli, "--secret goes with (and only with) mode general, --other with "
                               "mode psk-ecdhe");
        goto out;
    }
    memset(&p, 0, sizeof(p));
    p.mode = (uint8_t)a.mode;
    rc = st_cli_make_ref(cli, "secret-key", &a.psk, !general, &psk);
    if (rc == 1 && general)
        rc = 0;
    else if (rc == 0 && general)
        rc = st_cli_usage(cli, "--secret-key goes with modes psk and psk-ecdhe");
    else if (rc == 0)
        p.psk = &psk;
    if (rc == 0 && a.secret != NULL)
        rc =
            st_cli_hex_arg(cli, "--secret", a.secret, b->secret, sizeof(b->secret), &b->secret_len);
    if (rc == 0 && general && b->secret_len == 0)
        rc = st_cli_usage(cli, "--secret: the secret is empty");
    if (rc == 0 && a.other != NULL)
        rc = st_cli_hex_arg(cli, "--other", a.other, b->other, sizeof(b->other), &b->other_len);
    if (rc == 0 && a.other != NULL && b->other_len == 0)
        rc = st_cli_usage(cli, "--other: the secret is empty");
    if (rc == 0)
        rc = st_cli_hex_arg(cli, "--seed", a.seed, b->seed, sizeof(b->seed), &b->seed_len);
    if (rc == 0 && strlen(a.label) + b->seed_len == 0)
        rc = st_cli_usage(cli, "--label and --seed are both empty");
    if (rc != 0)
        goto out;
    p.secret = b->secret;
    p.secret_len = b->secret_len;
    p.other = b->other;
    p.other_len = b->other_len;
    p.label = (const uint8_t *)a.label;
    p.label_len = strlen(a.label);
    p.seed = b->seed;
    p.seed_len = b->seed_len;
    rc = st_cli_open(cli);
    if (rc != 0)
        goto out;
    int r = st_iotsafe_prf(&cli->ios, &p, b->out, a.length);
    if (r != ST_OK) {
        rc = kdf_fail(cli, r, p.psk, "COMPUTE PRF");
        goto out;
    }
    emit_secret(cli, "output", b->out, a.length);
out:
    st_wipe(b, sizeof(*b));
    free(b);
    return rc;
}

/* ---------------------------------------------------------------- hkdf */

static const char hkdf_help[] =
    "Usage: simtrust [--sim LINK] hkdf extract [--ikm HEX | --secret-key LABEL |\n"
    "                --secret-key-id HEX] [--salt HEX] [--hash ALG]\n"
    "       simtrust [--sim LINK] hkdf expand (--prk HEX | --secret-key LABEL |\n"
    "                --secret-key-id HEX) [--info HEX] --length N [--hash ALG]\n"
    "\n"
    "HKDF (RFC 5869) computed by the card (COMPUTE HKDF, INS 4A; GSMA IoT.04 J5,\n"
    "F6), the TLS 1.3 key schedule's primitive:\n"
    "  extract   PRK = HMAC-Hash(salt, IKM). The IKM is given (--ikm, may be\n"
    "            empty) or is the PSK of a secret key object (--secret-key: the\n"
    "            TLS 1.3 PSK early secret without the PSK leaving the card; a\n"
    "            simtrust-card extension). No --salt means HashLen zero bytes.\n"
    "  expand    OKM = HKDF-Expand(PRK, info, N) (P1 01: a simtrust-card\n"
    "            extension, docs/card-crypto.md); the PRK is given or is the\n"
    "            secret key object's value.\n"
    "\n"
    "WARNING: the output is key material; it is printed because this is what the\n"
    "applet returns. --trace also shows --ikm and --prk.\n"
    "\n"
    "Options:\n"
    "  --ikm HEX             input keying material (extract)\n"
    "  --salt HEX            salt (extract; default HashLen zero bytes)\n"
    "  --prk HEX             pseudorandom key, at least HashLen bytes (expand)\n"
    "  --info HEX            context and application info (expand; default empty)\n"
    "  --secret-key LABEL    a secret key object as IKM (extract) or PRK (expand)\n"
    "  --secret-key-id HEX   the same by ID\n"
    "  --length N            output bytes (expand), 1 to 1024 (and at most\n"
    "                        255 x HashLen)\n"
    "  --hash ALG            sha256 (default), sha384 or sha512\n"
    "\n"
    "Output: the PRK or OKM in hex; with --json {\"prk\": HEX} or {\"okm\": HEX}.\n"
    "\n"
    "Exit status: 0 success; 1 the card refused (SW 6985: the object cannot\n"
    "derive keys or is empty; SW 6A80: bad input; SW 6A86: no Expand on this\n"
    "applet); 2 usage error; 3 link error; 4 malformed answer.\n"
    "\n"
    "Examples:\n"
    "  simtrust hkdf extract --ikm "
    "0000000000000000000000000000000000000000000000000000000000000000\n"
    "  simtrust hkdf extract --secret-key psk1\n"
    "  simtrust hkdf expand --prk $PRK --info $HKDF_LABEL --length 32\n";

static const struct st_cli_opt hkdf_opts[] = {
    {"ikm", 1, O_IKM},
    {"salt", 1, O_SALT},
    {"prk", 1, O_PRK},
    {"info", 1, O_INFO},
    {"secret-key", 1, O_SECRET_KEY},
    {"secret-key-id", 1, O_SECRET_KEY_ID},
    {"length", 1, O_LENGTH},
    {"hash", 1, O_HASH},
    {NULL, 0, 0},
};

/* The key input of extract (--ikm) or expand (--prk), or a secret key object. */
static int key_input(struct st_cli *cli, struct kdf_args *a, const char *opt, const char *hex,
                     struct kdf_bufs *b, struct st_iotsafe_ref *psk, struct st_iotsafe_key_input *k)
{
    int rc = st_cli_make_ref(cli, "secret-key", &a->psk, false, psk);
    memset(k, 0, sizeof(*k));
    if (rc > 1)
        return rc;
    if (rc == 0 && hex != NULL)
        return st_cli_usage(cli, "give %s or --secret-key, not both", opt);
    if (rc == 0) {
        k->ref = psk;
        return 0;
    }
    if (hex == NULL)
        return st_cli_usage(cli, "%s HEX or --secret-key is required", opt);
    rc = st_cli_hex_arg(cli, opt, hex, b->secret, sizeof(b->secret), &b->secret_len);
    k->bytes = b->secret;
    k->len = b->secret_len;
    return rc;
}

int st_cli_cmd_hkdf(struct st_cli *cli, int argc, char **argv)
{
    struct kdf_args a;
    struct kdf_bufs *b = calloc(1, sizeof(*b));
    struct st_iotsafe_ref psk;
    struct st_iotsafe_key_input k;
    int first;
    if (b == NULL)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "out of memory");
    memset(&a, 0, sizeof(a));
    a.mode = -1;
    int rc = st_cli_parse(cli, argc, argv, hkdf_opts, kdf_opt, &a, hkdf_help, &first);
    if (rc != 0) {
        rc = rc == ST_CLI_DONE ? 0 : rc;
        goto out;
    }
    if (first >= argc) {
        rc = st_cli_usage(cli, "say 'extract' or 'expand'");
        goto out;
    }
    if (first + 1 < argc) {
        rc = st_cli_usage(cli, "unexpected operand '%s'", argv[first + 1]);
        goto out;
    }
    bool extract = strcmp(argv[first], "extract") == 0;
    if (!extract && strcmp(argv[first], "expand") != 0) {
        rc = st_cli_usage(cli, "'%s' is neither extract nor expand", argv[first]);
        goto out;
    }
    if (a.hash == 0)
        a.hash = ST_IOTSAFE_HASH_SHA256;
    if (extract && (a.prk != NULL || a.info != NULL || a.have_length)) {
        rc = st_cli_usage(cli, "extract takes --ikm or --secret-key, --salt and --hash");
        goto out;
    }
    if (!extract && (a.ikm != NULL || a.salt != NULL)) {
        rc = st_cli_usage(cli, "expand takes --prk or --secret-key, --info, --length and --hash");
        goto out;
    }
    if (!extract && !a.have_length) {
        rc = st_cli_usage(cli, "expand needs --length N");
        goto out;
    }
    rc = key_input(cli, &a, extract ? "--ikm" : "--prk", extract ? a.ikm : a.prk, b, &psk, &k);
    if (rc == 0 && a.salt != NULL)
        rc = st_cli_hex_arg(cli, "--salt", a.salt, b->salt, sizeof(b->salt), &b->salt_len);
    if (rc == 0 && a.info != NULL)
        rc = st_cli_hex_arg(cli, "--info", a.info, b->info, sizeof(b->info), &b->info_len);
    if (rc == 0)
        rc = st_cli_open(cli);
    if (rc != 0)
        goto out;
    int r;
    if (extract) {
        size_t n = sizeof(b->out);
        r = st_iotsafe_hkdf_extract(&cli->ios, a.hash, &k, b->salt, b->salt_len, b->out, &n);
        if (r == ST_OK)
            emit_secret(cli, "prk", b->out, n);
    } else {
        r = st_iotsafe_hkdf_expand(&cli->ios, a.hash, &k, b->info, b->info_len, b->out, a.length);
        if (r == ST_OK)
            emit_secret(cli, "okm", b->out, a.length);
    }
    if (r != ST_OK)
        rc = kdf_fail(cli, r, k.ref, extract ? "COMPUTE HKDF extract" : "COMPUTE HKDF expand");
out:
    st_wipe(b, sizeof(*b));
    free(b);
    return rc;
}
