/*
 * cli_json: the JSON checks of the simtrust CLI tests, with jansson (already
 * a dependency) instead of jq or python.
 *
 *   cli_json < FILE           exit 0 when standard input is one JSON value
 *   cli_json PATH < FILE      prints the value at PATH: a string as is, any
 *                             other value as compact JSON; exit 3 if absent
 *
 * PATH is dot-separated: object keys, array indexes, and NAME=VALUE to pick
 * the first array element whose string member NAME equals VALUE, e.g.
 * "public_keys.label=client.pem" or "objects.0.kind". Exit 1: not JSON,
 * 2: usage.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *step(json_t *v, const char *part)
{
    const char *eq = strchr(part, '=');
    if (json_is_object(v) && eq == NULL)
        return json_object_get(v, part);
    if (!json_is_array(v))
        return NULL;
    if (eq != NULL) {
        size_t i;
        json_t *e;
        char name[128];
        size_t n = (size_t)(eq - part);
        if (n >= sizeof(name))
            return NULL;
        memcpy(name, part, n);
        name[n] = '\0';
        json_array_foreach(v, i, e)
        {
            const char *s = json_string_value(json_object_get(e, name));
            if (s != NULL && strcmp(s, eq + 1) == 0)
                return e;
        }
        return NULL;
    }
    char *end;
    unsigned long idx = strtoul(part, &end, 10);
    if (*part == '\0' || *end != '\0')
        return NULL;
    return json_array_get(v, idx);
}

int main(int argc, char **argv)
{
    json_error_t err;
    if (argc > 2) {
        fprintf(stderr, "usage: cli_json [PATH] < FILE\n");
        return 2;
    }
    json_t *root = json_loadf(stdin, 0, &err);
    if (root == NULL) {
        fprintf(stderr, "cli_json: not JSON: line %d: %s\n", err.line, err.text);
        return 1;
    }
    if (argc == 1) {
        json_decref(root);
        return 0;
    }
    char *path = strdup(argv[1]);
    json_t *v = root;
    for (char *save = NULL, *part = strtok_r(path, ".", &save); part != NULL && v != NULL;
         part = strtok_r(NULL, ".", &save))
        v = step(v, part);
    free(path);
    if (v == NULL) {
        json_decref(root);
        return 3;
    }
    if (json_is_string(v)) {
        fputs(json_string_value(v), stdout);
        fputc('\n', stdout);
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s != NULL)
            puts(s);
        free(s);
    }
    json_decref(root);
    return 0;
}
