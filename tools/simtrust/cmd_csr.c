/*
 * `csr`: a PKCS#10 certificate signing request for a key that never leaves
 * the card (IoT.04 H1: on-board key generation, the public key returned to
 * the device for a CSR; H4: a CSR optionally countersigned by another card
 * key as an attestation).
 *
 * OpenSSL builds the CertificationRequestInfo with the card's public key
 * (READ PUBLIC KEY, or GENERATE KEY PAIR with --generate); the card signs
 * its digest (COMPUTE SIGNATURE pad & sign); the raw r || s becomes the DER
 * ECDSA-Sig-Value of the request. The result is checked with OpenSSL before
 * it is printed.
 */
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SIG_MAX 512

static const char csr_help[] =
    "Usage: simtrust [--sim LINK] csr (--key LABEL | --key-id HEX) --subject DN\n"
    "                [--generate] [--hash sha256|sha384|sha512] [--out FILE] [--der]\n"
    "                [--attest-key LABEL | --attest-key-id HEX] [--attest-out FILE]\n"
    "\n"
    "Makes a PKCS#10 certificate signing request (RFC 2986) for a card key and has\n"
    "the CARD sign it: the private key never leaves the card. The public key is\n"
    "read from the public key object with the same label or ID as the private key\n"
    "(READ PUBLIC KEY), or, with --generate, comes from a new key pair generated\n"
    "inside the card (GENERATE KEY PAIR: on-board key generation, GSMA IoT.04 H1).\n"
    "The request is signed with ECDSA (ecdsa-with-SHA256 by default) for EC keys\n"
    "and RSA PKCS#1 v1.5 (sha256WithRSAEncryption) for RSA keys, and verified with\n"
    "OpenSSL before it is printed.\n"
    "\n"
    "Options:\n"
    "  --key LABEL          the private key's label (its public half: the public\n"
    "                       key object of the same label)\n"
    "  --key-id HEX         the private key's ID (public half: the same ID)\n"
    "  --subject DN         the subject: 'CN=meter-0001,O=Example' (RFC 4514 order:\n"
    "                       the most specific RDN first; '\\,' escapes a comma) or\n"
    "                       '/O=Example/CN=meter-0001' (OpenSSL order). Attribute\n"
    "                       names are OpenSSL's (CN, O, OU, C, L, ST,\n"
    "                       serialNumber, emailAddress...); values are UTF-8\n"
    "  --generate           generate a new key pair in the card first (the old key\n"
    "                       of that object is lost for good)\n"
    "  --hash ALG           sha256 (default), sha384 or sha512\n"
    "  --out FILE           write the CSR to FILE instead of standard output\n"
    "  --der                write DER instead of PEM (needs --out)\n"
    "  --attest-key LABEL   also have this card key sign the DER CSR (SHA-256), as\n"
    "                       the attestation of IoT.04 H4 (use a key provisioned for\n"
    "                       that purpose); needs --attest-out or --json\n"
    "  --attest-key-id HEX  the same by ID\n"
    "  --attest-out FILE    write the attestation signature there (DER for ECDSA)\n"
    "\n"
    "Output: the CSR in PEM; with --json {\"key\", \"generated\", \"subject\",\n"
    "\"public_key\" (PEM), \"csr\" (PEM), and \"attestation\": {\"key\", \"alg\",\n"
    "\"signature\" (hex)} with --attest-key}.\n"
    "\n"
    "Exit status: 0 success; 1 the card refused (no such key, the key cannot sign\n"
    "or generate, empty public key object); 2 usage error (bad subject...);\n"
    "3 link error; 4 malformed answer, the card's signature does not match the\n"
    "public key, FILE cannot be written.\n"
    "\n"
    "Examples:\n"
    "  simtrust --sim pcsc csr --key client --subject 'CN=meter-0001' > meter.csr\n"
    "  openssl req -in meter.csr -verify -noout\n"
    "  simtrust csr --key-id 06 --generate --subject 'CN=meter-0002,O=Example' \\\n"
    "      --out meter2.csr\n";

enum {
    O_KEY = ST_CLI_OPT_BASE,
    O_KEY_ID,
    O_SUBJECT,
    O_GENERATE,
    O_HASH,
    O_OUT,
    O_DER,
    O_ATTEST_KEY,
    O_ATTEST_KEY_ID,
    O_ATTEST_OUT,
};

static const struct st_cli_opt csr_opts[] = {
    {"key", 1, O_KEY},
    {"key-id", 1, O_KEY_ID},
    {"subject", 1, O_SUBJECT},
    {"generate", 0, O_GENERATE},
    {"hash", 1, O_HASH},
    {"out", 1, O_OUT},
    {"der", 0, O_DER},
    {"attest-key", 1, O_ATTEST_KEY},
    {"attest-key-id", 1, O_ATTEST_KEY_ID},
    {"attest-out", 1, O_ATTEST_OUT},
    {NULL, 0, 0},
};

struct csr_args {
    struct st_cli_ref key, attest;
    const char *subject, *out, *attest_out;
    bool generate, der;
    uint16_t hash;
};

static int csr_opt(struct st_cli *cli, void *arg, int id, const char *val)
{
    struct csr_args *a = arg;
    switch (id) {
    case O_KEY:
        a->key.label = val;
        break;
    case O_KEY_ID:
        a->key.id_hex = val;
        break;
    case O_SUBJECT:
        a->subject = val;
        break;
    case O_GENERATE:
        a->generate = true;
        break;
    case O_HASH:
        return st_cli_hash_arg(cli, "--hash", val, &a->hash);
    case O_OUT:
        a->out = val;
        break;
    case O_DER:
        a->der = true;
        break;
    case O_ATTEST_KEY:
        a->attest.label = val;
        break;
    case O_ATTEST_KEY_ID:
        a->attest.id_hex = val;
        break;
    case O_ATTEST_OUT:
        a->attest_out = val;
        break;
    }
    return 0;
}

/* ---- subject ---- */

/* Adds one "KEY=VALUE" (unescaped, in place) to name. */
static int add_rdn(struct st_cli *cli, X509_NAME *name, char *rdn, int pos)
{
    char *eq = strchr(rdn, '=');
    if (eq == NULL || eq == rdn)
        return st_cli_usage(cli, "--subject: '%s' is not NAME=VALUE", rdn);
    *eq = '\0';
    char *key = rdn, *val = eq + 1;
    while (*key == ' ')
        key++;
    for (char *e = key + strlen(key); e > key && e[-1] == ' ';)
        *--e = '\0';
    while (*val == ' ')
        val++;
    if (OBJ_txt2nid(key) == NID_undef)
        return st_cli_usage(cli, "--subject: unknown attribute '%s'", key);
    if (*val == '\0')
        return st_cli_usage(cli, "--subject: %s has an empty value", key);
    if (!X509_NAME_add_entry_by_txt(name, key, MBSTRING_UTF8, (const unsigned char *)val, -1, pos,
                                    0)) {
        ERR_clear_error();
        return st_cli_usage(cli, "--subject: OpenSSL refused %s=%s", key, val);
    }
    return 0;
}

/*
 * Parses 'CN=a,O=b' (RFC 4514: the last RDN of the string is the first of
 * the sequence) or '/O=b/CN=a' (sequence order). A backslash escapes the
 * next character.
 */
static int parse_subject(struct st_cli *cli, const char *s, X509_NAME **out)
{
    bool slash = s[0] == '/';
    char sep = slash ? '/' : ',';
    size_t n = strlen(s);
    char *buf = malloc(n + 1), *rdn;
    X509_NAME *name = X509_NAME_new();
    int rc = 0, count = 0;
    if (buf == NULL || name == NULL) {
        free(buf);
        X509_NAME_free(name);
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "out of memory");
    }
    size_t i = slash ? 1 : 0, k = 0;
    rdn = buf;
    for (;; i++) {
        if (s[i] == '\\' && s[i + 1] != '\0') {
            buf[k++] = s[++i];
            continue;
        }
        if (s[i] != sep && s[i] != '\0') {
            buf[k++] = s[i];
            continue;
        }
        buf[k++] = '\0';
        /* RFC 4514 lists the RDNs in reverse: insert each at the front. */
        rc = add_rdn(cli, name, rdn, slash ? -1 : 0);
        if (rc != 0)
            break;
        count++;
        rdn = buf + k;
        if (s[i] == '\0')
            break;
    }
    free(buf);
    if (rc == 0 && count == 0)
        rc = st_cli_usage(cli, "--subject is empty");
    if (rc != 0) {
        X509_NAME_free(name);
        return rc;
    }
    *out = name;
    return 0;
}

/* The subject as RFC 2253 text (for JSON); free(). */
static char *name_text(X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *data;
    if (b != NULL && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
        long n = BIO_get_mem_data(b, &data);
        out = malloc((size_t)n + 1);
        if (out != NULL) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
    return out;
}

/* ---- signing ---- */

static int sig_nid(bool rsa, uint16_t hash)
{
    switch (hash) {
    case ST_IOTSAFE_HASH_SHA384:
        return rsa ? NID_sha384WithRSAEncryption : NID_ecdsa_with_SHA384;
    case ST_IOTSAFE_HASH_SHA512:
        return rsa ? NID_sha512WithRSAEncryption : NID_ecdsa_with_SHA512;
    default:
        return rsa ? NID_sha256WithRSAEncryption : NID_ecdsa_with_SHA256;
    }
}

/*
 * The card signs data (hashed here with hash) with key; the result goes to
 * out as X.509 wants it: DER for ECDSA, as is for RSA.
 */
static int card_sign(struct st_cli *cli, const struct st_iotsafe_ref *key, bool rsa, uint16_t hash,
                     const uint8_t *data, size_t len, uint8_t *out, size_t *out_len)
{
    struct st_iotsafe_sig_input in;
    uint8_t digest[EVP_MAX_MD_SIZE], sig[SIG_MAX];
    size_t sig_len = sizeof(sig);
    unsigned int dlen = 0;
    char what[ST_CLI_REF_TEXT];
    if (!EVP_Digest(data, len, digest, &dlen, st_cli_hash_md(hash), NULL))
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot hash the request");
    memset(&in, 0, sizeof(in));
    in.mode = ST_IOTSAFE_MODE_PAD_SIGN;
    in.hash = hash;
    in.alg = rsa ? ST_IOTSAFE_SIG_RSA_PKCS1 : ST_IOTSAFE_SIG_ECDSA;
    in.data = digest;
    in.len = dlen;
    int r = st_iotsafe_sign(&cli->ios, key, &in, sig, &sig_len);
    st_cli_ref_text(key, what, sizeof(what));
    if (r == ST_E_CARD_CONDITIONS)
        return st_cli_fail(cli, r, "key %s cannot sign", what);
    if (r == ST_E_CARD_NOT_FOUND)
        return st_cli_fail(cli, r, "no private key %s on the card", what);
    if (r != ST_OK)
        return st_cli_fail(cli, r, "COMPUTE SIGNATURE with key %s", what);
    if (rsa) {
        if (sig_len > *out_len)
            return st_cli_error(cli, ST_CLI_EXIT_OTHER, "signature too long");
        memcpy(out, sig, sig_len);
        *out_len = sig_len;
        return 0;
    }
    r = st_ecdsa_raw_to_der(sig, sig_len, out, out_len);
    if (r != ST_OK)
        return st_cli_fail(cli, r, "the card's ECDSA signature");
    return 0;
}

/* Puts the card's signature into the request (algorithm and BIT STRING). */
static int set_signature(X509_REQ *req, int nid, bool rsa, uint8_t *sig, size_t len)
{
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_BIT_STRING *bits = ASN1_BIT_STRING_new();
    int ok = alg != NULL && bits != NULL &&
             /* RSA algorithm identifiers carry a NULL parameter, ECDSA ones none (RFC 5758). */
             X509_ALGOR_set0(alg, OBJ_nid2obj(nid), rsa ? V_ASN1_NULL : V_ASN1_UNDEF, NULL) &&
             X509_REQ_set1_signature_algo(req, alg) && ASN1_BIT_STRING_set(bits, sig, (int)len);
    X509_ALGOR_free(alg);
    if (!ok) {
        ASN1_BIT_STRING_free(bits);
        return -1;
    }
    /* A signature is whole bytes: no unused bits (else verifiers reject it). */
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    X509_REQ_set0_signature(req, bits);
    return 0;
}

/* The card's public key for the CSR: generated now, or read from the public key object. */
static int card_pubkey(struct st_cli *cli, const struct csr_args *a, struct st_iotsafe_ref *priv,
                       EVP_PKEY **pkey)
{
    struct st_iotsafe_pubkey pk;
    struct st_iotsafe_keygen kg;
    char what[ST_CLI_REF_TEXT];
    const char *why;
    uint8_t type;
    int r;
    st_cli_ref_text(priv, what, sizeof(what));
    if (a->generate) {
        r = st_iotsafe_generate_key(&cli->ios, priv, &kg);
        if (r == ST_E_CARD_CONDITIONS)
            return st_cli_fail(cli, r, "private key %s cannot generate a key pair", what);
        if (r == ST_E_CARD_NOT_FOUND)
            return st_cli_fail(cli, r, "no private key %s on the card", what);
        if (r != ST_OK)
            return st_cli_fail(cli, r, "GENERATE KEY PAIR %s", what);
        /* The card may have renamed the key: sign with the reference it reported. */
        *priv = kg.priv;
        pk = kg.key;
        type = st_cli_object_key_type(cli, ST_IOTSAFE_PRIVATE_KEY, priv);
    } else {
        r = st_iotsafe_read_public_key(&cli->ios, priv, &pk);
        if (r == ST_E_CARD_NOT_FOUND)
            return st_cli_fail(cli, r,
                               "no public key %s on the card (the private key's public "
                               "half has the same label or ID; or use --generate)",
                               what);
        if (r == ST_E_CARD_CONDITIONS)
            return st_cli_fail(cli, r, "public key %s is empty (use --generate)", what);
        if (r != ST_OK)
            return st_cli_fail(cli, r, "READ PUBLIC KEY %s", what);
        type = st_cli_object_key_type(cli, ST_IOTSAFE_PUBLIC_KEY, priv);
    }
    *pkey = st_cli_pkey_from_card(&pk, type, &why);
    if (*pkey == NULL)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "the card's public key: %s", why);
    return 0;
}

static char *req_pem(X509_REQ *req)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *data;
    if (b != NULL && PEM_write_bio_X509_REQ(b, req)) {
        long n = BIO_get_mem_data(b, &data);
        out = malloc((size_t)n + 1);
        if (out != NULL) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
    return out;
}

/* H4: a second card key signs the DER request. */
static int attest(struct st_cli *cli, const struct csr_args *a, const uint8_t *der, size_t len)
{
    struct st_iotsafe_ref ref;
    struct st_iotsafe_object obj;
    uint8_t sig[SIG_MAX + 16];
    size_t sig_len = sizeof(sig);
    int rc = st_cli_make_ref(cli, "attest-key", &a->attest, true, &ref);
    if (rc != 0)
        return rc;
    bool rsa = st_iotsafe_find_object(&cli->ios, ST_IOTSAFE_PRIVATE_KEY, &ref, &obj) == ST_OK &&
               (obj.present & ST_IOTSAFE_OBJ_KEY_TYPE) && obj.key_type == 0x03;
    rc = card_sign(cli, &ref, rsa, ST_IOTSAFE_HASH_SHA256, der, len, sig, &sig_len);
    if (rc != 0)
        return rc;
    if (a->attest_out != NULL)
        rc = st_cli_write_file(cli, a->attest_out, sig, sig_len);
    if (rc == 0 && cli->g.json) {
        json_t *o = json_object();
        json_object_set_new(o, "key", st_cli_json_ref(&ref));
        json_object_set_new(o, "alg",
                            json_string(OBJ_nid2sn(sig_nid(rsa, ST_IOTSAFE_HASH_SHA256))));
        st_cli_json_hex(o, "signature", sig, sig_len);
        json_object_set_new(st_cli_json(cli), "attestation", o);
    }
    return rc;
}

static int output(struct st_cli *cli, const struct csr_args *a, X509_REQ *req,
                  const struct st_iotsafe_ref *priv, EVP_PKEY *pkey, X509_NAME *name)
{
    unsigned char *der = NULL;
    int der_len = i2d_X509_REQ(req, &der);
    char *pem = req_pem(req);
    int rc = 0;
    if (der_len <= 0 || pem == NULL) {
        rc = st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot encode the request");
        goto out;
    }
    if (a->attest.label != NULL || a->attest.id_hex != NULL) {
        rc = attest(cli, a, der, (size_t)der_len);
        if (rc != 0)
            goto out;
    }
    if (a->out != NULL)
        rc = a->der ? st_cli_write_file(cli, a->out, der, (size_t)der_len)
                    : st_cli_write_file(cli, a->out, pem, strlen(pem));
    if (rc == 0 && cli->g.json) {
        json_t *o = st_cli_json(cli);
        char *subject = name_text(name);
        char *pub = st_cli_pkey_pem(pkey);
        json_object_set_new(o, "key", st_cli_json_ref(priv));
        json_object_set_new(o, "generated", json_boolean(a->generate));
        json_object_set_new(o, "subject", json_string(subject != NULL ? subject : ""));
        json_object_set_new(o, "public_key", json_string(pub != NULL ? pub : ""));
        json_object_set_new(o, "csr", json_string(pem));
        free(subject);
        free(pub);
    } else if (rc == 0 && a->out == NULL) {
        fputs(pem, stdout);
    }
out:
    OPENSSL_free(der);
    free(pem);
    return rc;
}

int st_cli_cmd_csr(struct st_cli *cli, int argc, char **argv)
{
    struct csr_args a;
    struct st_iotsafe_ref priv;
    X509_NAME *name = NULL;
    X509_REQ *req = NULL;
    EVP_PKEY *pkey = NULL;
    unsigned char *tbs = NULL;
    uint8_t sig[SIG_MAX + 16];
    size_t sig_len = sizeof(sig);
    int first;
    memset(&a, 0, sizeof(a));
    int rc = st_cli_parse(cli, argc, argv, csr_opts, csr_opt, &a, csr_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
    if (a.subject == NULL)
        return st_cli_usage(cli, "--subject DN is required");
    if (a.der && a.out == NULL)
        return st_cli_usage(cli, "--der needs --out FILE");
    bool attest_wanted = a.attest.label != NULL || a.attest.id_hex != NULL;
    if (attest_wanted && a.attest_out == NULL && !cli->g.json)
        return st_cli_usage(cli, "--attest-key needs --attest-out FILE or --json");
    if (!attest_wanted && a.attest_out != NULL)
        return st_cli_usage(cli, "--attest-out goes with --attest-key");
    if (a.hash == 0)
        a.hash = ST_IOTSAFE_HASH_SHA256;
    rc = st_cli_make_ref(cli, "key", &a.key, true, &priv);
    if (rc == 0)
        rc = parse_subject(cli, a.subject, &name);
    if (rc == 0)
        rc = st_cli_open(cli);
    if (rc == 0)
        rc = card_pubkey(cli, &a, &priv, &pkey);
    if (rc != 0)
        goto out;

    bool rsa = EVP_PKEY_is_a(pkey, "RSA");
    int nid = sig_nid(rsa, a.hash);
    req = X509_REQ_new();
    if (req == NULL || !X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, name) ||
        !X509_REQ_set_pubkey(req, pkey)) {
        rc = st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot build the request");
        goto out;
    }
    /* What is signed: the DER CertificationRequestInfo. */
    int tbs_len = i2d_re_X509_REQ_tbs(req, &tbs);
    if (tbs_len <= 0) {
        rc = st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot encode the request");
        goto out;
    }
    rc = card_sign(cli, &priv, rsa, a.hash, tbs, (size_t)tbs_len, sig, &sig_len);
    if (rc != 0)
        goto out;
    if (set_signature(req, nid, rsa, sig, sig_len) != 0) {
        rc = st_cli_error(cli, ST_CLI_EXIT_OTHER, "cannot set the request's signature");
        goto out;
    }
    /* The card must have signed with the key the request names. */
    if (X509_REQ_verify(req, pkey) != 1) {
        char what[ST_CLI_REF_TEXT];
        rc = st_cli_error(cli, ST_CLI_EXIT_OTHER,
                          "the card's signature does not verify with the public key of %s",
                          st_cli_ref_text(&priv, what, sizeof(what)));
        goto out;
    }
    rc = output(cli, &a, req, &priv, pkey, name);
out:
    ERR_clear_error();
    OPENSSL_free(tbs);
    X509_REQ_free(req);
    EVP_PKEY_free(pkey);
    X509_NAME_free(name);
    return rc;
}
