/*
 * Names of the IoT SAFE attribute values (reference §3) for `list` and
 * `info`: key types (4B), usages (4E, 21), states (4A) and the bit fields
 * of functions (61/90), access (60), hashes (91), signatures (92), key
 * agreement (6F/93) and key derivation (94).
 */
#include "cli.h"

const char *st_cli_kind_name(enum st_iotsafe_kind kind)
{
    switch (kind) {
    case ST_IOTSAFE_PRIVATE_KEY:
        return "private key";
    case ST_IOTSAFE_PUBLIC_KEY:
        return "public key";
    case ST_IOTSAFE_FILE:
        return "file";
    case ST_IOTSAFE_SECRET_KEY:
        return "secret key";
    }
    return "object";
}

const char *st_cli_kind_word(enum st_iotsafe_kind kind)
{
    switch (kind) {
    case ST_IOTSAFE_PRIVATE_KEY:
        return "private";
    case ST_IOTSAFE_PUBLIC_KEY:
        return "public";
    case ST_IOTSAFE_FILE:
        return "file";
    case ST_IOTSAFE_SECRET_KEY:
        return "secret";
    }
    return "object";
}

const char *st_cli_key_type_name(uint8_t type)
{
    switch (type) {
    case 0x03:
        return "RSA-2048";
    case 0x13:
        return "P-256";
    case 0x14:
        return "P-256 volatile";
    case 0x23:
        return "brainpoolP256r1";
    case 0x24:
        return "brainpoolP256r1 volatile";
    case 0xA0:
        return "HMAC";
    default:
        return NULL;
    }
}

const char *st_cli_key_usage_name(uint8_t usage)
{
    switch (usage) {
    case 0x01:
        return "general";
    case 0x02:
        return "tls12";
    case 0x03:
        return "tls13";
    default:
        return NULL;
    }
}

const char *st_cli_file_usage_name(uint8_t usage)
{
    switch (usage) {
    case 0x01:
        return "general";
    case 0x02:
        return "certificate";
    default:
        return NULL;
    }
}

const char *st_cli_state_name(uint8_t state)
{
    return state == 0x01 ? "activated" : "empty";
}

const struct st_cli_bit st_cli_functions_bits[] = {
    {0x01, "sign"}, {0x02, "keygen"}, {0x04, "key-agreement"}, {0x08, "key-derivation"}, {0, NULL},
};
const struct st_cli_bit st_cli_access_bits[] = {
    {0x01, "read"},
    {0x02, "update"},
    {0, NULL},
};
const struct st_cli_bit st_cli_hash_bits[] = {
    {ST_IOTSAFE_HASH_SHA256, "sha256"},
    {ST_IOTSAFE_HASH_SHA384, "sha384"},
    {ST_IOTSAFE_HASH_SHA512, "sha512"},
    {0, NULL},
};
const struct st_cli_bit st_cli_sig_bits[] = {
    {ST_IOTSAFE_SIG_RSA_PKCS1, "rsa-pkcs1"},
    {ST_IOTSAFE_SIG_RSA_PSS, "rsa-pss"},
    {ST_IOTSAFE_SIG_ECDSA, "ecdsa"},
    {0, NULL},
};
const struct st_cli_bit st_cli_agreement_bits[] = {
    {0x01, "ecka"},
    {0, NULL},
};
const struct st_cli_bit st_cli_derivation_bits[] = {
    {0x01, "prf-sha256"},
    {0x02, "hkdf"},
    {0, NULL},
};

void st_cli_print_bits(FILE *f, const struct st_cli_bit *t, unsigned v)
{
    unsigned known = 0;
    bool first = true;
    for (size_t i = 0; t[i].name != NULL; i++) {
        known |= t[i].bit;
        if (v & t[i].bit) {
            fprintf(f, "%s%s", first ? "" : " ", t[i].name);
            first = false;
        }
    }
    if (v & ~known) {
        fprintf(f, "%s0x%02X", first ? "" : " ", v & ~known);
        first = false;
    }
    if (first)
        fputs("none", f);
}

json_t *st_cli_json_bits(const struct st_cli_bit *t, unsigned v)
{
    json_t *a = json_array();
    unsigned known = 0;
    for (size_t i = 0; t[i].name != NULL; i++) {
        known |= t[i].bit;
        if (v & t[i].bit)
            json_array_append_new(a, json_string(t[i].name));
    }
    if (v & ~known) {
        char b[16];
        snprintf(b, sizeof(b), "0x%02X", v & ~known);
        json_array_append_new(a, json_string(b));
    }
    return a;
}
