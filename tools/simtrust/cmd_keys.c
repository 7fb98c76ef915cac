/*
 * Key commands: `keygen` (GENERATE KEY PAIR, on-board key generation:
 * IoT.04 H1, F7), `pubkey` (READ PUBLIC KEY) and `put-pubkey` (PUT PUBLIC
 * KEY: a server or CA key to verify with, or a peer's ECDHE share; E4, F3).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { O_KEY = ST_CLI_OPT_BASE, O_KEY_ID, O_PEM, O_OUT, O_IN };

struct key_args {
    struct st_cli_ref key;
    bool pem;
    const char *out, *in;
};

static int key_opt(struct st_cli *cli, void *arg, int id, const char *val)
{
    struct key_args *a = arg;
    (void)cli;
    switch (id) {
    case O_KEY:
        a->key.label = val;
        break;
    case O_KEY_ID:
        a->key.id_hex = val;
        break;
    case O_PEM:
        a->pem = true;
        break;
    case O_OUT:
        a->out = val;
        break;
    case O_IN:
        a->in = val;
        break;
    }
    return 0;
}

/* ------------------------------------------------------------- keygen */

static const char keygen_help[] =
    "Usage: simtrust [--sim LINK] keygen (--key LABEL | --key-id HEX) [--pem]\n"
    "                [--out FILE]\n"
    "\n"
    "Generates a new key pair inside the card in the private key object given\n"
    "(GENERATE KEY PAIR, INS B9; GSMA IoT.04 H1, on-board key generation, and F7,\n"
    "the ephemeral ECDHE key of a TLS handshake) and prints its public half. The\n"
    "private half never leaves the card. The previous key of that object is lost\n"
    "for good; a public key object with the same ID receives the new public key.\n"
    "The card may report other IDs than the ones asked for (IoT SAFE allows it):\n"
    "they are printed.\n"
    "\n"
    "Options:\n"
    "  --key LABEL        the private key object's label\n"
    "  --key-id HEX       the private key object's ID\n"
    "  --pem              print only the public key, as a PEM SubjectPublicKeyInfo\n"
    "                     (the curve comes from the object's key type)\n"
    "  --out FILE         also write the PEM public key to FILE\n"
    "\n"
    "Output: the private and public key references, the key type, the point (EC)\n"
    "or modulus and exponent (RSA) in hex, and the PEM; with --json {\"private\",\n"
    "\"public\", \"type\", \"point\" | \"modulus\" + \"exponent\", \"pem\"}.\n"
    "\n"
    "Exit status: 0 generated; 1 the card refused (SW 6985: the object has no key\n"
    "generation function; SW 6A82: no such key); 2 usage error; 3 link error;\n"
    "4 malformed answer, FILE cannot be written.\n"
    "\n"
    "Examples:\n"
    "  simtrust keygen --key ecdhe --pem\n"
    "  simtrust keygen --key-id 01 --out client.pub.pem\n";

static const struct st_cli_opt keygen_opts[] = {
    {"key", 1, O_KEY}, {"key-id", 1, O_KEY_ID}, {"pem", 0, O_PEM}, {"out", 1, O_OUT}, {NULL, 0, 0},
};

static void print_ref_line(const char *name, const struct st_iotsafe_ref *ref)
{
    char what[ST_CLI_REF_TEXT];
    printf("%-12s%s\n", name, st_cli_ref_text(ref, what, sizeof(what)));
}

int st_cli_cmd_keygen(struct st_cli *cli, int argc, char **argv)
{
    struct key_args a;
    struct st_iotsafe_ref ref;
    struct st_iotsafe_keygen kg;
    char what[ST_CLI_REF_TEXT];
    int first;
    memset(&a, 0, sizeof(a));
    int rc = st_cli_parse(cli, argc, argv, keygen_opts, key_opt, &a, keygen_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
    rc = st_cli_make_ref(cli, "key", &a.key, true, &ref);
    if (rc == 0)
        rc = st_cli_open(cli);
    if (rc != 0)
        return rc;
    int r = st_iotsafe_generate_key(&cli->ios, &ref, &kg);
    if (r == ST_E_CARD_CONDITIONS)
        return st_cli_fail(cli, r, "private key %s cannot generate a key pair",
                           st_cli_ref_text(&ref, what, sizeof(what)));
    if (r == ST_E_CARD_NOT_FOUND)
        return st_cli_fail(cli, r, "no private key %s on the card",
                           st_cli_ref_text(&ref, what, sizeof(what)));
    if (r != ST_OK)
        return st_cli_fail(cli, r, "GENERATE KEY PAIR %s",
                           st_cli_ref_text(&ref, what, sizeof(what)));
    uint8_t type = st_cli_object_key_type(cli, ST_IOTSAFE_PRIVATE_KEY, &kg.priv);
    json_t *o = cli->g.json ? st_cli_json(cli) : NULL;
    if (o != NULL) {
        json_object_set_new(o, "private", st_cli_json_ref(&kg.priv));
        if (kg.has_pub)
            json_object_set_new(o, "public", st_cli_json_ref(&kg.pub));
    } else if (!a.pem) {
        print_ref_line("private:", &kg.priv);
        if (kg.has_pub)
            print_ref_line("public:", &kg.pub);
    }
    return st_cli_show_pubkey(cli, &kg.key, type, a.pem, a.out, o);
}

/* ------------------------------------------------------------- pubkey */

static const char pubkey_help[] =
    "Usage: simtrust [--sim LINK] pubkey (--key LABEL | --key-id HEX) [--pem]\n"
    "                [--out FILE]\n"
    "\n"
    "Reads a public key object (READ PUBLIC KEY, INS CD): the public half of a\n"
    "card key pair (same label and ID as its private key in the usual layout), or\n"
    "a key stored with put-pubkey. The object needs the read access right.\n"
    "\n"
    "Options:\n"
    "  --key LABEL        the public key object's label\n"
    "  --key-id HEX       the public key object's ID\n"
    "  --pem              print only the key as a PEM SubjectPublicKeyInfo\n"
    "  --out FILE         also write the PEM to FILE\n"
    "\n"
    "Output: the key type, the point (EC) or modulus and exponent (RSA) in hex,\n"
    "and the PEM; with --json {\"key\", \"type\", \"point\" | \"modulus\" + \"exponent\",\n"
    "\"pem\"}.\n"
    "\n"
    "Exit status: 0 success; 1 the card refused (SW 6985: empty; SW 6982: not\n"
    "readable; SW 6A82: no such key); 2 usage error; 3 link error; 4 malformed\n"
    "answer, FILE cannot be written.\n"
    "\n"
    "Examples:\n"
    "  simtrust pubkey --key client --pem > client.pub.pem\n"
    "  simtrust --json pubkey --key-id 01\n";

static const struct st_cli_opt pubkey_opts[] = {
    {"key", 1, O_KEY}, {"key-id", 1, O_KEY_ID}, {"pem", 0, O_PEM}, {"out", 1, O_OUT}, {NULL, 0, 0},
};

int st_cli_cmd_pubkey(struct st_cli *cli, int argc, char **argv)
{
    struct key_args a;
    struct st_iotsafe_ref ref;
    struct st_iotsafe_pubkey pk;
    char what[ST_CLI_REF_TEXT];
    int first;
    memset(&a, 0, sizeof(a));
    int rc = st_cli_parse(cli, argc, argv, pubkey_opts, key_opt, &a, pubkey_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
    rc = st_cli_make_ref(cli, "key", &a.key, true, &ref);
    if (rc == 0)
        rc = st_cli_open(cli);
    if (rc != 0)
        return rc;
    int r = st_iotsafe_read_public_key(&cli->ios, &ref, &pk);
    st_cli_ref_text(&ref, what, sizeof(what));
    if (r == ST_E_CARD_CONDITIONS)
        return st_cli_fail(cli, r, "public key %s is empty", what);
    if (r == ST_E_CARD_NOT_FOUND)
        return st_cli_fail(cli, r, "no public key %s on the card", what);
    if (r == ST_E_CARD_SECURITY)
        return st_cli_fail(cli, r, "public key %s is not readable", what);
    if (r != ST_OK)
        return st_cli_fail(cli, r, "READ PUBLIC KEY %s", what);
    uint8_t type = st_cli_object_key_type(cli, ST_IOTSAFE_PUBLIC_KEY, &ref);
    json_t *o = cli->g.json ? st_cli_json(cli) : NULL;
    if (o != NULL)
        json_object_set_new(o, "key", st_cli_json_ref(&ref));
    return st_cli_show_pubkey(cli, &pk, type, a.pem, a.out, o);
}

/* --------------------------------------------------------- put-pubkey */

static const char put_pubkey_help[] =
    "Usage: simtrust [--sim LINK] put-pubkey (--key LABEL | --key-id HEX) --in FILE\n"
    "\n"
    "Writes a public key into a public key object of the card (PUT PUBLIC KEY,\n"
    "INS 24/D8, in as many blocks as the link needs): a server's or CA's key the\n"
    "card then verifies signatures with (IoT.04 F3, B9), or a TLS peer's ECDHE\n"
    "share for 'simtrust dh'. The object needs the update access right and a key\n"
    "type that fits: an EC point must lie on the object's curve.\n"
    "\n"
    "Options:\n"
    "  --key LABEL        the public key object's label\n"
    "  --key-id HEX       the public key object's ID\n"
    "  --in FILE          the key: PEM or DER SubjectPublicKeyInfo, or an X.509\n"
    "                     certificate (PEM or DER) whose key is taken; EC keys (any\n"
    "                     point form) or RSA keys up to 2048 bits ('-': stdin)\n"
    "\n"
    "Output: 'public key ... written'; with --json {\"key\", \"written\": true}.\n"
    "\n"
    "Exit status: 0 written; 1 the card refused (SW 6985: no update right or a key\n"
    "type that does not fit; SW 6A80: the point is not on the curve; SW 6A82: no\n"
    "such key); 2 usage error; 3 link error; 4 FILE unreadable or not a key.\n"
    "\n"
    "Examples:\n"
    "  simtrust put-pubkey --key ca-key --in ca.pem\n"
    "  simtrust put-pubkey --key-id 05 --in peer.pub.pem\n";

static const struct st_cli_opt put_pubkey_opts[] = {
    {"key", 1, O_KEY},
    {"key-id", 1, O_KEY_ID},
    {"in", 1, O_IN},
    {NULL, 0, 0},
};

int st_cli_cmd_put_pubkey(struct st_cli *cli, int argc, char **argv)
{
    struct key_args a;
    struct st_iotsafe_ref ref;
    struct st_iotsafe_pubkey pk;
    char what[ST_CLI_REF_TEXT];
    const char *why;
    uint8_t *buf;
    size_t len;
    int first;
    memset(&a, 0, sizeof(a));
    int rc = st_cli_parse(cli, argc, argv, put_pubkey_opts, key_opt, &a, put_pubkey_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
    if (a.in == NULL)
        return st_cli_usage(cli, "--in FILE is required");
    rc = st_cli_make_ref(cli, "key", &a.key, true, &ref);
    if (rc == 0)
        rc = st_cli_read_file(cli, a.in, ST_CLI_FILE_MAX, &buf, &len);
    if (rc != 0)
        return rc;
    EVP_PKEY *pkey = st_cli_pkey_load(buf, len);
    free(buf);
    if (pkey == NULL)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER,
                            "'%s' is neither a public key nor a certificate (PEM or DER)", a.in);
    rc = st_cli_pkey_to_card(pkey, &pk, &why);
    EVP_PKEY_free(pkey);
    if (rc != 0)
        return st_cli_error(cli, ST_CLI_EXIT_OTHER, "'%s': %s", a.in, why);
    rc = st_cli_open(cli);
    if (rc != 0)
        return rc;
    int r = st_iotsafe_put_public_key(&cli->ios, &ref, &pk);
    st_cli_ref_text(&ref, what, sizeof(what));
    if (r == ST_E_CARD_CONDITIONS)
        return st_cli_fail(cli, r, "public key %s cannot take this key (update right, key type)",
                           what);
    if (r == ST_E_CARD_NOT_FOUND)
        return st_cli_fail(cli, r, "no public key %s on the card", what);
    if (r == ST_E_CARD_INCORRECT_DATA)
        return st_cli_fail(cli, r, "public key %s refused the key (not on its curve?)", what);
    if (r != ST_OK)
        return st_cli_fail(cli, r, "PUT PUBLIC KEY %s", what);
    if (cli->g.json) {
        json_object_set_new(st_cli_json(cli), "key", st_cli_json_ref(&ref));
        json_object_set_new(st_cli_json(cli), "written", json_true());
    } else {
        printf("public key %s written\n", what);
    }
    return 0;
}
