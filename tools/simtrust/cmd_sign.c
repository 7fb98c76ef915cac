/*
 * `sign` and `verify`: COMPUTE SIGNATURE with a private key and VERIFY
 * SIGNATURE with a public key object (IoT.04 E1, E2, F2, F3), in the two
 * modes a host uses: "digest" (the host hashes, the card pads and signs:
 * 9E) and "full" (the card hashes the whole message: 9B blocks).
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SIG_MAX 512

struct sig_args {
    struct st_cli_ref key;
    const char *in, *digest, *sig, *out;
    uint16_t hash; /* 0: not given */
    uint8_t alg;   /* 0: from the key type */
    uint8_t mode;  /* 0: digest */
    bool der;
};

enum {
    O_KEY = ST_CLI_OPT_BASE,
    O_KEY_ID,
    O_IN,
    O_DIGEST,
    O_HASH,
    O_ALG,
    O_MODE,
    O_DER,
    O_OUT,
    O_SIG,
};

static const struct st_cli_opt sign_opts[] = {
    {"key", 1, O_KEY},   {"key-id", 1, O_KEY_ID},
    {"in", 1, O_IN},     {"digest", 1, O_DIGEST},
    {"hash", 1, O_HASH}, {"alg", 1, O_ALG},
    {"mode", 1, O_MODE}, {"der", 0, O_DER},
    {"out", 1, O_OUT},   {NULL, 0, 0},
};

static const struct st_cli_opt verify_opts[] = {
    {"key", 1, O_KEY},       {"key-id", 1, O_KEY_ID}, {"in", 1, O_IN},
    {"digest", 1, O_DIGEST}, {"hash", 1, O_HASH},     {"alg", 1, O_ALG},
    {"mode", 1, O_MODE},     {"sig", 1, O_SIG},       {NULL, 0, 0},
};

static const char sign_help[] =
    "Usage: simtrust [--sim LINK] sign (--key LABEL | --key-id HEX)\n"
    "                (--in FILE | --digest HEX) [--hash sha256|sha384|sha512]\n"
    "                [--alg ecdsa|rsa-pkcs1|rsa-pss] [--mode digest|full] [--der]\n"
    "                [--out FILE]\n"
    "\n"
    "Signs with a private key held by the card (COMPUTE SIGNATURE, INS 2A/2B;\n"
    "GSMA IoT.04 E1, E2, F2). The key never leaves the card.\n"
    "\n"
    "Modes:\n"
    "  digest (default)   the host hashes FILE (or takes --digest) and the card\n"
    "                     pads and signs the digest (IoT SAFE mode 03, tag 9E)\n"
    "  full               the card hashes the whole of FILE itself, sent in as\n"
    "                     many Update blocks as the link needs (mode 01, tag 9B)\n"
    "\n"
    "Options:\n"
    "  --key LABEL        the private key's label\n"
    "  --key-id HEX       the private key's ID\n"
    "  --in FILE          the message ('-': standard input)\n"
    "  --digest HEX       the digest to sign (32, 48 or 64 bytes; mode digest only)\n"
    "  --hash ALG         sha256 (default), sha384 or sha512; with --digest it\n"
    "                     defaults to the digest's length\n"
    "  --alg ALG          ecdsa, rsa-pkcs1 (PKCS#1 v1.5) or rsa-pss (salt length =\n"
    "                     hash length, MGF1 with the same hash). Default: ecdsa,\n"
    "                     or rsa-pkcs1 when the card says the key is RSA\n"
    "  --mode MODE        digest (default) or full, see above\n"
    "  --der              ECDSA: give the signature as a DER ECDSA-Sig-Value (what\n"
    "                     OpenSSL and X.509 use) instead of the raw r || s the card\n"
    "                     returns. RSA signatures have one form only\n"
    "  --out FILE         write the signature (binary) to FILE instead of printing\n"
    "                     it in hex\n"
    "\n"
    "Output: the signature in hex; with --json {\"key\", \"alg\", \"hash\", \"mode\",\n"
    "\"format\" (raw|der), \"signature\" (hex)}.\n"
    "\n"
    "Exit status: 0 signed; 1 the card refused (e.g. SW 6985: the key may not sign,\n"
    "is empty, or does not allow the algorithm; SW 6A82 or 'no such object': no\n"
    "such key); 2 usage error; 3 link error; 4 malformed answer, unreadable FILE.\n"
    "\n"
    "Examples:\n"
    "  simtrust sign --key client --in msg.txt --der --out msg.sig\n"
    "  openssl dgst -sha256 -verify client.pub.pem -signature msg.sig msg.txt\n"
    "  simtrust sign --key-id 01 --digest "
    "B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9\n"
    "  simtrust sign --key rsa --alg rsa-pss --hash sha384 --mode full --in fw.bin\n";

static const char verify_help[] =
    "Usage: simtrust [--sim LINK] verify (--key LABEL | --key-id HEX)\n"
    "                (--in FILE | --digest HEX) --sig FILE|HEX\n"
    "                [--hash sha256|sha384|sha512] [--alg ecdsa|rsa-pkcs1|rsa-pss]\n"
    "                [--mode digest|full]\n"
    "\n"
    "Has the card verify a signature with one of its public key objects (VERIFY\n"
    "SIGNATURE, INS 2C/2D; GSMA IoT.04 F3), e.g. the public half of the card's\n"
    "own key pair, or a server or CA key stored with 'simtrust put-pubkey'.\n"
    "\n"
    "Options:\n"
    "  --key LABEL        the public key object's label\n"
    "  --key-id HEX       the public key object's ID\n"
    "  --in FILE          the signed message ('-': standard input)\n"
    "  --digest HEX       the digest that was signed (mode digest only)\n"
    "  --sig FILE|HEX     the signature: a file if one exists with that name, else\n"
    "                     hex. ECDSA signatures may be raw r || s or DER (as\n"
    "                     'simtrust sign --der' and OpenSSL write them)\n"
    "  --hash ALG         sha256 (default), sha384 or sha512\n"
    "  --alg ALG          ecdsa, rsa-pkcs1 or rsa-pss (any salt length). Default:\n"
    "                     from the key type, as for sign\n"
    "  --mode MODE        digest (default: the host hashes) or full (the card does)\n"
    "\n"
    "Output: 'signature verifies'; with --json {\"valid\": true}.\n"
    "\n"
    "Exit status: 0 the signature verifies; 1 it does not (SW 6D01: \"signature\n"
    "does not verify\"; with --json {\"valid\": false, \"error\": ...}), or the card\n"
    "refused (wrong key, malformed signature: SW 6A80); 2 usage error; 3 link\n"
    "error; 4 malformed answer, unreadable FILE.\n"
    "\n"
    "Examples:\n"
    "  simtrust verify --key client --in msg.txt --sig msg.sig\n"
    "  simtrust put-pubkey --key ca-key --in ca.pub.pem\n"
    "  simtrust verify --key ca-key --in data.bin --sig data.sig --hash sha384\n";

static int sig_opt(struct st_cli *cli, void *arg, int id, const char *val)
{
    struct sig_args *a = arg;
    switch (id) {
    case O_KEY:
        a->key.label = val;
        return 0;
    case O_KEY_ID:
        a->key.id_hex = val;
        return 0;
    case O_IN:
        a->in = val;
        return 0;
    case O_DIGEST:
        a->digest = val;
        return 0;
    case O_HASH:
        return st_cli_hash_arg(cli, "--hash", val, &a->hash);
    case O_ALG:
        if (strcmp(val, "ecdsa") == 0)
            a->alg = ST_IOTSAFE_SIG_ECDSA;
        else if (strcmp(val, "rsa-pkcs1") == 0)
            a->alg = ST_IOTSAFE_SIG_RSA_PKCS1;
        else if (strcmp(val, "rsa-pss") == 0)
            a->alg = ST_IOTSAFE_SIG_RSA_PSS;
        else
            return st_cli_usage(cli, "--alg: '%s' is not ecdsa, rsa-pkcs1 or rsa-pss", val);
        return 0;
    case O_MODE:
        if (strcmp(val, "digest") == 0)
            a->mode = ST_IOTSAFE_MODE_PAD_SIGN;
        else if (strcmp(val, "full") == 0)
            a->mode = ST_IOTSAFE_MODE_FULL_TEXT;
        else
            return st_cli_usage(cli, "--mode: '%s' is neither digest nor full", val);
        return 0;
    case O_DER:
        a->der = true;
        return 0;
    case O_OUT:
        a->out = val;
        return 0;
    case O_SIG:
        a->sig = val;
        return 0;
    }
    return 0;
}

static const char *alg_name(uint8_t alg)
{
    switch (alg) {
    case ST_IOTSAFE_SIG_RSA_PKCS1:
        return "rsa-pkcs1";
    case ST_IOTSAFE_SIG_RSA_PSS:
        return "rsa-pss";
    default:
        return "ecdsa";
    }
}

/* The prepared input of one signature or verification. */
struct sig_job {
    struct st_iotsafe_ref ref;
    struct st_iotsafe_sig_input in;
    uint8_t digest[64];
    uint8_t *msg; /* --in contents (freed by the caller) */
};

/* Checks the options and reads or hashes the input (nothing sent to the card yet). */
static int prepare(struct st_cli *cli, struct sig_args *a, struct sig_job *j)
{
    int rc = st_cli_make_ref(cli, "key", &a->key, true, &j->ref);
    if (rc != 0)
        return rc;
    if ((a->in == NULL) == (a->digest == NULL))
        return st_cli_usage(cli, "give exactly one of --in FILE and --digest HEX");
    if (a->mode == 0)
        a->mode = ST_IOTSAFE_MODE_PAD_SIGN;
    memset(&j->in, 0, sizeof(j->in));
    j->in.mode = a->mode;
    if (a->digest != NULL) {
        size_t n;
        if (a->mode != ST_IOTSAFE_MODE_PAD_SIGN)
            return st_cli_usage(cli, "--digest goes with --mode digest only");
        rc = st_cli_hex_arg(cli, "--digest", a->digest, j->digest, sizeof(j->digest), &n);
        if (rc != 0)
            return rc;
        if (a->hash == 0)
            a->hash = n == 32   ? ST_IOTSAFE_HASH_SHA256
                      : n == 48 ? ST_IOTSAFE_HASH_SHA384
                      : n == 64 ? ST_IOTSAFE_HASH_SHA512
                                : 0;
        if (a->hash == 0 || st_iotsafe_hash_len(a->hash) != n)
            return st_cli_usage(cli, "--digest: %zu bytes is not a %s digest", n,
                                a->hash ? st_cli_hash_name(a->hash) : "SHA-256/384/512");
        j->in.data = j->digest;
        j->in.len = n;
        j->in.hash = a->hash;
        return 0;
    }
    if (a->hash == 0)
        a->hash = ST_IOTSAFE_HASH_SHA256;
    size_t len;
    rc = st_cli_read_file(cli, a->in, ST_CLI_FILE_MAX, &j->msg, &len);
    if (rc != 0)
        return rc;
    j->in.hash = a->hash;
    if (a->mode == ST_IOTSAFE_MODE_FULL_TEXT) {
        j->in.data = j->msg;
        j->in.len = len;
        return 0;
    }
    unsigned int dlen = 0;
    if (!EVP_Digest(j->msg, len, j->digest, &dlen, st_cli_hash_md(a->hash), NULL))
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot hash '%s'", a->in);
    j->in.data = j->digest;
    j->in.len = dlen;
    return 0;
}

/* --alg by default: RSA keys sign PKCS#1 v1.5, everything else ECDSA. */
static int pick_alg(struct st_cli *cli, struct sig_args *a, enum st_iotsafe_kind kind,
                    const struct st_iotsafe_ref *ref)
{
    struct st_iotsafe_object obj;
    char what[ST_CLI_REF_TEXT];
    if (a->alg != 0)
        return 0;
    int r = st_iotsafe_find_object(&cli->ios, kind, ref, &obj);
    if (r == ST_E_NOT_FOUND || r == ST_E_CARD_NOT_FOUND)
        return st_cli_fail(cli, r, "no %s %s on the card", st_cli_kind_name(kind),
                           st_cli_ref_text(ref, what, sizeof(what)));
    /* Applets that cannot describe one object still sign: assume ECDSA. */
    a->alg = r == ST_OK && (obj.present & ST_IOTSAFE_OBJ_KEY_TYPE) && obj.key_type == 0x03
                 ? ST_IOTSAFE_SIG_RSA_PKCS1
                 : ST_IOTSAFE_SIG_ECDSA;
    return 0;
}

/* Explains the usual refusals of COMPUTE / VERIFY SIGNATURE. */
static int sig_fail(struct st_cli *cli, int r, enum st_iotsafe_kind kind,
                    const struct st_iotsafe_ref *ref, const char *verb)
{
    char what[ST_CLI_REF_TEXT];
    st_cli_ref_text(ref, what, sizeof(what));
    switch (r) {
    case ST_E_CARD_CONDITIONS:
        return st_cli_fail(cli, r, "key %s cannot %s (function, algorithm or empty key)", what,
                           verb);
    case ST_E_CARD_NOT_FOUND:
    case ST_E_NOT_FOUND:
        return st_cli_fail(cli, r, "no %s %s on the card", st_cli_kind_name(kind), what);
    case ST_E_CARD_INCORRECT_DATA:
        return st_cli_fail(cli, r, "key %s refused the input (algorithm, hash or signature size)",
                           what);
    default:
        return st_cli_fail(cli, r, "%s with key %s", verb, what);
    }
}

int st_cli_cmd_sign(struct st_cli *cli, int argc, char **argv)
{
    struct sig_args a;
    struct sig_job j;
    uint8_t sig[SIG_MAX], der[SIG_MAX + 16];
    size_t sig_len = sizeof(sig);
    int first;
    memset(&a, 0, sizeof(a));
    memset(&j, 0, sizeof(j));
    int rc = st_cli_parse(cli, argc, argv, sign_opts, sig_opt, &a, sign_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
    rc = prepare(cli, &a, &j);
    if (rc == 0)
        rc = st_cli_open(cli);
    if (rc == 0)
        rc = pick_alg(cli, &a, ST_IOTSAFE_PRIVATE_KEY, &j.ref);
    if (rc != 0)
        goto out;
    j.in.alg = a.alg;
    int r = st_iotsafe_sign(&cli->ios, &j.ref, &j.in, sig, &sig_len);
    if (r != ST_OK) {
        rc = sig_fail(cli, r, ST_IOTSAFE_PRIVATE_KEY, &j.ref, "sign");
        goto out;
    }
    const uint8_t *res = sig;
    size_t res_len = sig_len;
    bool der_out = a.der && a.alg == ST_IOTSAFE_SIG_ECDSA;
    if (der_out) {
        res_len = sizeof(der);
        r = st_ecdsa_raw_to_der(sig, sig_len, der, &res_len);
        if (r != ST_OK) {
            rc = st_cli_fail(cli, r, "cannot convert the card's signature to DER");
            goto out;
        }
        res = der;
    }
    if (a.out != NULL)
        rc = st_cli_write_file(cli, a.out, res, res_len);
    if (rc == 0 && cli->g.json) {
        json_t *o = st_cli_json(cli);
        json_object_set_new(o, "key", st_cli_json_ref(&j.ref));
        json_object_set_new(o, "alg", json_string(alg_name(a.alg)));
        json_object_set_new(o, "hash", json_string(st_cli_hash_name(a.hash)));
        json_object_set_new(o, "mode",
                            json_string(a.mode == ST_IOTSAFE_MODE_FULL_TEXT ? "full" : "digest"));
        json_object_set_new(o, "format", json_string(der_out ? "der" : "raw"));
        st_cli_json_hex(o, "signature", res, res_len);
        if (a.out != NULL)
            json_object_set_new(o, "out", json_string(a.out));
    } else if (rc == 0 && a.out == NULL) {
        st_cli_print_hex(stdout, res, res_len);
    }
out:
    free(j.msg);
    return rc;
}

/* --sig: a file when one exists, else hex; a DER ECDSA signature becomes raw r || s. */
static int load_sig(struct st_cli *cli, const struct sig_args *a, uint8_t *sig, size_t *len)
{
    FILE *f = fopen(a->sig, "rb");
    size_t n;
    if (f != NULL) {
        fclose(f);
        uint8_t *buf;
        int rc = st_cli_read_file(cli, a->sig, SIG_MAX + 16, &buf, &n);
        if (rc != 0)
            return rc;
        if (n > *len) {
            free(buf);
            return st_cli_error(cli, ST_CLI_EXIT_OTHER, "'%s': a signature has at most %zu bytes",
                                a->sig, *len);
        }
        memcpy(sig, buf, n);
        free(buf);
    } else {
        int rc = st_cli_hex_arg(cli, "--sig", a->sig, sig, *len, &n);
        if (rc != 0)
            return rc;
    }
    if (n == 0)
        return st_cli_usage(cli, "--sig: the signature is empty");
    if (a->alg == ST_IOTSAFE_SIG_ECDSA && sig[0] == 0x30) {
        uint8_t raw[132];
        size_t raw_len = sizeof(raw);
        /* Strict DER only: a raw r || s starting with 0x30 will not parse as one. */
        if (st_ecdsa_der_to_raw(sig, n, 0, raw, &raw_len) == ST_OK) {
            memcpy(sig, raw, raw_len);
            n = raw_len;
        }
    }
    *len = n;
    return 0;
}

int st_cli_cmd_verify(struct st_cli *cli, int argc, char **argv)
{
    struct sig_args a;
    struct sig_job j;
    uint8_t sig[SIG_MAX + 16];
    size_t sig_len = sizeof(sig);
    int first;
    memset(&a, 0, sizeof(a));
    memset(&j, 0, sizeof(j));
    int rc = st_cli_parse(cli, argc, argv, verify_opts, sig_opt, &a, verify_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
    if (a.sig == NULL)
        return st_cli_usage(cli, "--sig FILE|HEX is required");
    rc = prepare(cli, &a, &j);
    if (rc == 0)
        rc = st_cli_open(cli);
    if (rc == 0)
        rc = pick_alg(cli, &a, ST_IOTSAFE_PUBLIC_KEY, &j.ref);
    if (rc == 0)
        rc = load_sig(cli, &a, sig, &sig_len);
    if (rc != 0)
        goto out;
    j.in.alg = a.alg;
    int r = st_iotsafe_verify(&cli->ios, &j.ref, &j.in, sig, sig_len);
    if (r == ST_E_CARD_SIGNATURE) {
        char what[ST_CLI_REF_TEXT];
        rc = st_cli_fail(cli, r, "key %s", st_cli_ref_text(&j.ref, what, sizeof(what)));
        if (cli->g.json)
            json_object_set_new(st_cli_json(cli), "valid", json_false());
    } else if (r != ST_OK) {
        rc = sig_fail(cli, r, ST_IOTSAFE_PUBLIC_KEY, &j.ref, "verify");
    } else if (cli->g.json) {
        json_object_set_new(st_cli_json(cli), "valid", json_true());
    } else {
        printf("signature verifies\n");
    }
out:
    free(j.msg);
    return rc;
}
